/**
 * Every format, once: its definition (definition.ts) from its file. The
 * `format` key's values and doc, the formats' keys in the schema (after
 * `format`, in this order) and each output's formatter are made from this
 * list.
 */
import { registry, type Items } from '../config/rules.js';
import { conntrackFormat } from './conntrack.js';
import type { FormatDefinition } from './definition.js';
import { ecsFormat } from './ecs.js';
import { jsonFormat } from './json.js';
import { vyosFormat } from './vyos.js';

export const FORMAT_DEFINITIONS = [vyosFormat, conntrackFormat, jsonFormat, ecsFormat] as const;

const FORMATS = registry(FORMAT_DEFINITIONS);

/** The `format` key's values. */
export const FORMAT_NAMES = FORMATS.names;

/** Every format's keys, for the schema. */
export const FORMAT_KEYS = FORMATS.keys;

/** The definition of format `name` (a value the `format` key allows). */
export function formatDefinition(name: string): FormatDefinition<string, Items> {
  return FORMATS.byName(name) as unknown as FormatDefinition<string, Items>;
}
