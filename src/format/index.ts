/** Each output's formatter: its format's (registry.ts), made with its keys. */
import type { OutputConfig } from '../config.js';
import type { Formatter } from './definition.js';
import { formatDefinition } from './registry.js';

export type { Formatter } from './definition.js';
export { LineWriter } from './line.js';

export function makeFormatter(o: OutputConfig): Formatter {
  return formatDefinition(o.format).make(o);
}
