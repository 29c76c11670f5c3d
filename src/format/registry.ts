/**
 * Every format, once: its definition (definition.ts) from its file. The
 * `format` key's values and doc, the formats' keys in the schema (after
 * `format`, in this order) and each output's formatter are made from this
 * list.
 */
import type { Items } from '../config/rules.js';
import { conntrackFormat } from './conntrack.js';
import type { FormatDefinition } from './definition.js';
import { ecsFormat } from './ecs.js';
import { jsonFormat } from './json.js';
import { vyosFormat } from './vyos.js';

export const FORMAT_DEFINITIONS = [vyosFormat, conntrackFormat, jsonFormat, ecsFormat] as const;

type Definition = (typeof FORMAT_DEFINITIONS)[number];

/** The `format` key's values. */
export const FORMAT_NAMES = FORMAT_DEFINITIONS.map((d) => d.name) as Array<Definition['name']>;

type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;

/** Every format's keys, for the schema. */
export const FORMAT_KEYS = Object.assign({}, ...FORMAT_DEFINITIONS.map((d) => d.keys)) as UnionToIntersection<Definition['keys']>;

/** The definition of format `name` (a value the `format` key allows). */
export function formatDefinition(name: string): FormatDefinition<string, Items> {
  const d = FORMAT_DEFINITIONS.find((f) => f.name === name);
  if (!d) throw new Error(`no format ${name}`);
  return d as unknown as FormatDefinition<string, Items>;
}
