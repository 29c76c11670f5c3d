/**
 * Where lines go, through winston. Event lines go to the configured sink
 * (stdout, a file, syslog); the service's own diagnostics go to stderr, so
 * that stdout holds events only.
 */
import winston from 'winston';
import type { Config } from '../config.js';
import type { EventSink, Report } from './sink.js';
import { fileSink, stdoutSink } from './stream.js';
import { syslogSink, type SyslogOptions } from './syslog/index.js';

export { OutputError, type EventSink, type Report } from './sink.js';

export type OutputConfig = Pick<Config, 'output' | 'output_file'> & SyslogOptions;

/** The output keys (output, output_file, syslog_*), as one comparable string: a reload rebuilds the sink only when one changed. */
export function outputKey(c: OutputConfig): string {
  return JSON.stringify(Object.entries(c).filter(([key]) => key === 'output' || key === 'output_file' || key.startsWith('syslog_')));
}

/** Opens the configured sink; `report` receives its runtime errors (one line each). */
export function makeSink(c: OutputConfig, report: Report): EventSink {
  switch (c.output) {
    case 'stdout':
      return stdoutSink(report);
    case 'file':
      return fileSink(c.output_file, report);
    case 'syslog':
      return syslogSink(c, report);
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
