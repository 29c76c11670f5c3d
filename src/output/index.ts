/**
 * Where lines go, through winston: event lines to the outputs the config
 * chose (each defined in its folder, listed in registry.ts, run as a
 * Route); the service's
 * own diagnostics to stderr, so that stdout holds events only.
 */
import winston from 'winston';
import { oneLine } from '../echo.js';

export type { Encoder } from './definition.js';
export { eventsTaken, openSink, Route, sinkKey, writtenAs } from './route.js';
export { count, KINDS, kindCounts, kindOf, Ledger, perType, total, type KindCounts, type Lines } from './ledger.js';
export { allWrites, OutputError, type EventSink, type Report } from './sink.js';

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
