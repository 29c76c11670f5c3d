/**
 * Where lines go, through winston. Event lines go to the configured sink
 * (stdout, a file, syslog); the service's own diagnostics go to stderr, so
 * that stdout holds events only.
 */
import winston from 'winston';
import type { Config } from '../config.js';
import { oneLine } from '../echo.js';
import { EVENT_TYPES, type ConntrackEvent, type EventType } from '../event.js';
import { makeFormatter, type LineWriter } from '../format/index.js';
import type { Ledger } from './ledger.js';
import type { EventSink, Report } from './sink.js';
import { IPFIX_TYPES, ipfixSink, recordWriter, type IpfixConfig } from './ipfix/index.js';
import { fileSink, stdoutSink } from './stream.js';
import { syslogSink, type SyslogOptions } from './syslog/index.js';

export { count, KINDS, kindCounts, kindOf, Ledger, perType, total, type KindCounts, type Lines } from './ledger.js';
export { OutputError, type EventSink, type Report } from './sink.js';

export type OutputConfig = Pick<Config, 'output' | 'output_file'> & SyslogOptions & IpfixConfig;

/** The output keys (output, output_file, syslog_*, ipfix_*), as one comparable string: a reload rebuilds the sink only when one changed. */
export function outputKey(c: OutputConfig): string {
  return JSON.stringify(
    Object.entries(c).filter(([key]) => key === 'output' || key === 'output_file' || key.startsWith('syslog_') || key.startsWith('ipfix_')),
  );
}

/** The event types the output has something for (all but for IPFIX, which has no UPDATE record): the others are not subscribed. */
export function outputTypes(c: Pick<Config, 'output'>): readonly EventType[] {
  return c.output === 'ipfix' ? IPFIX_TYPES : EVENT_TYPES;
}

/**
 * How the output wants each event: its line and a newline, or for IPFIX a
 * record. Returns false for an event it has nothing for.
 */
export type Encoder = (ev: ConntrackEvent, w: LineWriter) => boolean;

const NEWLINE = 0x0a;

export function makeEncoder(c: Pick<Config, 'output' | 'format' | 'conntrack_options' | 'ipfix_nat_event'>): Encoder {
  if (c.output === 'ipfix') return recordWriter(c.ipfix_nat_event);
  const format = makeFormatter(c);
  return (ev, w) => {
    format(ev, w);
    w.byte(NEWLINE);
    return true;
  };
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
    case 'ipfix':
      return ipfixSink(c, report, ledger);
  }
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
