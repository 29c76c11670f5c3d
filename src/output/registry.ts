/**
 * Every output, once: its definition (definition.ts) from its folder. The
 * `output` key's values, the schema's output keys in this order, the
 * checks across keys and the daemon's outputs are all made from this list.
 */
import { registry, type Items } from '../config/rules.js';
import type { OutputDefinition } from './definition.js';
import { fileOutput } from './file/index.js';
import { ipfixOutput } from './ipfix/index.js';
import { stdoutOutput } from './stdout/index.js';
import { storeOutput } from './store/index.js';
import { syslogOutput } from './syslog/index.js';

export const OUTPUT_DEFINITIONS = [stdoutOutput, fileOutput, syslogOutput, ipfixOutput, storeOutput] as const;

const OUTPUTS = registry(OUTPUT_DEFINITIONS);

/** The `output` key's values. */
export const OUTPUT_NAMES = OUTPUTS.names;

/** Every output's keys, for the schema. */
export const OUTPUT_KEYS = OUTPUTS.keys;

/** The definition of output `name` (a value the `output` key allows). */
export function outputDefinition(name: string): OutputDefinition<string, Items> {
  return OUTPUTS.byName(name) as unknown as OutputDefinition<string, Items>;
}
