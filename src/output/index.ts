/**
 * Where lines go, through winston. Event lines go to the configured sink
 * (stdout, a file, syslog); the service's own diagnostics go to stderr, so
 * that stdout holds events only.
 */
import winston from 'winston';
import type { Config } from '../config.js';
import type { Ledger } from './ledger.js';
import type { EventSink, Report } from './sink.js';
import { fileSink, stdoutSink } from './stream.js';
import { syslogSink, type SyslogOptions } from './syslog/index.js';

export { count, Ledger, TYPE_INDEX, total, type Lines, type TypeCounts } from './ledger.js';
export { OutputError, type EventSink, type Report } from './sink.js';

export type OutputConfig = Pick<Config, 'output' | 'output_file'> & SyslogOptions;

/** The output keys (output, output_file, syslog_*), as one comparable string: a reload rebuilds the sink only when one changed. */
export function outputKey(c: OutputConfig): string {
  return JSON.stringify(Object.entries(c).filter(([key]) => key === 'output' || key === 'output_file' || key.startsWith('syslog_')));
}

/**
 * Opens the configured sink; `report` receives its runtime trouble (one
 * line each), `ledger` what became of each line.
 */
export function makeSink(c: OutputConfig, report: Report, ledger: Ledger): EventSink {
  switch (c.output) {
    case 'stdout':
      return stdoutSink(report, ledger);
    case 'file':
      return fileSink(c.output_file, report, ledger);
    case 'syslog':
      return syslogSink(c, report, ledger);
  }
}

export type Diagnostics = winston.Logger;

/** The service's own messages: `ctlogd: warn: ...` on stderr. */
export function diagnostics(level: 'info' | 'debug'): Diagnostics {
  return winston.createLogger({
    level,
    format: winston.format.printf((info) => `ctlogd: ${info.level === 'info' ? '' : `${info.level}: `}${String(info.message)}`),
    transports: [new winston.transports.Stream({ stream: process.stderr })],
  });
}
