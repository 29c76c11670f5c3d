/**
 * Where lines go, through winston: event lines to the output the config
 * chose (each defined in its folder, listed in registry.ts); the service's
 * own diagnostics to stderr, so that stdout holds events only.
 */
import winston from 'winston';
import type { Config } from '../config.js';
import { oneLine } from '../echo.js';
import type { EventType } from '../event.js';
import { makeFormatter } from '../format/index.js';
import type { Encoder } from './definition.js';
import type { Ledger } from './ledger.js';
import { outputDefinition } from './registry.js';
import type { EventSink, Report } from './sink.js';

export type { Encoder } from './definition.js';
export { count, KINDS, kindCounts, kindOf, Ledger, perType, total, type KindCounts, type Lines } from './ledger.js';
export { OutputError, type EventSink, type Report } from './sink.js';

/** The chosen output's keys (and `output`), as one comparable string: a reload rebuilds the sink only when one changed. */
export function outputKey(c: Config): string {
  const keys = Object.keys(outputDefinition(c.output).keys);
  return JSON.stringify(Object.entries(c).filter(([key]) => key === 'output' || keys.includes(key)));
}

/** The event types the output has something for: the others are not subscribed. */
export function outputTypes(c: Pick<Config, 'output'>): readonly EventType[] {
  return outputDefinition(c.output).types;
}

/** What the output writes: the format's lines, or its own (IPFIX's records). */
export function writtenAs(c: Config): string {
  return outputDefinition(c.output).writesAs ?? c.format;
}

const NEWLINE = 0x0a;

/** How the output wants each event: its own encoder (IPFIX's records), or the format's line and a newline. */
export function makeEncoder(c: Config): Encoder {
  const own = outputDefinition(c.output).encoder;
  if (own) return own(c);
  const format = makeFormatter(c);
  return (ev, w) => {
    format(ev, w);
    w.byte(NEWLINE);
    return true;
  };
}

/**
 * Opens the configured output; `report` receives its runtime trouble (one
 * line each), `ledger` what became of each line.
 */
export function makeSink(c: Config, report: Report, ledger: Ledger): EventSink {
  return outputDefinition(c.output).open(c, report, ledger);
}

export type Diagnostics = winston.Logger;

/**
 * The service's own messages: `ctlogd: warn: ...` on stderr, one line
 * each, whatever a path or a name in them holds (echo.ts oneLine).
 */
export function diagnostics(level: 'info' | 'debug'): Diagnostics {
  return winston.createLogger({
    level,
    format: winston.format.printf((info) => `ctlogd: ${info.level === 'info' ? '' : `${info.level}: `}${oneLine(String(info.message))}`),
    transports: [new winston.transports.Stream({ stream: process.stderr })],
  });
}
