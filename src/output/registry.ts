/**
 * Every output, once: its definition (definition.ts) from its folder. The
 * `output` key's values, the schema's output keys in this order, the
 * checks across keys and the daemon's outputs are all made from this list.
 */
import type { Items } from '../config/rules.js';
import type { OutputDefinition } from './definition.js';
import { fileOutput } from './file/index.js';
import { ipfixOutput } from './ipfix/index.js';
import { stdoutOutput } from './stdout/index.js';
import { syslogOutput } from './syslog/index.js';

export const OUTPUT_DEFINITIONS = [stdoutOutput, fileOutput, syslogOutput, ipfixOutput] as const;

type Definition = (typeof OUTPUT_DEFINITIONS)[number];

/** The `output` key's values. */
export const OUTPUT_NAMES = OUTPUT_DEFINITIONS.map((d) => d.name) as Array<Definition['name']>;

type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;

/** Every output's keys, for the schema. */
export const OUTPUT_KEYS = Object.assign({}, ...OUTPUT_DEFINITIONS.map((d) => d.keys)) as UnionToIntersection<Definition['keys']>;

/** The definition of output `name` (a value the `output` key allows). */
export function outputDefinition(name: string): OutputDefinition<string, Items> {
  const d = OUTPUT_DEFINITIONS.find((o) => o.name === name);
  if (!d) throw new Error(`no output ${name}`);
  return d as unknown as OutputDefinition<string, Items>;
}
