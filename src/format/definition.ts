/**
 * What a format is to the rest of ctlogd: one definition, in its own file,
 * listed once in registry.ts. The config's `format` key takes its name and
 * doc, the schema its keys (each output takes them), the outputs its
 * formatter.
 */
import type { Items, Values } from '../config/rules.js';
import type { ConntrackEvent } from '../event.js';
import type { LineWriter } from './line.js';

/** Appends the line of one event, without its newline. */
export type Formatter = (ev: ConntrackEvent, w: LineWriter) => void;

export interface FormatDefinition<N extends string = string, K extends Items = Items> {
  /** The `format` value that picks it. */
  readonly name: N;
  /** What its lines are, as the `format` key's doc says it. */
  readonly doc: string;
  /** Its keys: names, defaults, checks, docs, variables and flags (config/rules.ts option). */
  readonly keys: K;
  /** Its formatter for these values of its keys. */
  make(c: Values<K>): Formatter;
}

/** A format's definition, its name and keys' types kept. */
export function defineFormat<const N extends string, K extends Items>(d: FormatDefinition<N, K>): FormatDefinition<N, K> {
  return d;
}
