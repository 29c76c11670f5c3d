/** What every output is to the daemon, and the winston plumbing they share. */
import winston from 'winston';
import type TransportStream from 'winston-transport';
import { count, type Ledger, type Lines } from './ledger.js';

export interface EventSink {
  /**
   * Writes the lines of one batch, in order. Calls `done` once it no
   * longer needs `lines` (their memory is then reused). Never throws. What
   * becomes of each line it counts in the ledger it was made with. Returns
   * a promise when the output is backed up: it settles once the output
   * can take more (the capture holds back its reader until then).
   */
  write(lines: Lines, done: () => void): void | Promise<void>;
  /**
   * SIGHUP: reopen a file (logrotate), reconnect a socket. Never throws;
   * returns why it could not, if it could not (the old one is kept).
   */
  reopen(): string | undefined;
  /**
   * A reload changed the output's keys, none of those it is reopened for
   * (OutputDefinition.reopenedBy): takes the new values. Never throws.
   */
  apply?(c: object): void;
  /** Flushes and closes; resolves when everything written is out, or counted lost. */
  close(): Promise<void>;
}

/** The backpressure of several writes (EventSink.write's) as one; none if none of them waits. */
export function allWrites(waits: readonly Promise<void>[]): void | Promise<void> {
  if (waits.length === 0) return;
  return waits.length === 1 ? waits[0] : Promise.all(waits).then(() => undefined);
}

/** The errno name of a failed write, or what there is instead. */
export const codeOf = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/** Thrown when the output cannot be opened at start: one line, exit 73 (EX_CANTCREAT). */
export class OutputError extends Error {
  readonly exitCode = 73;
}

/**
 * Runtime trouble of an output, one line each: `error` when lines start to
 * be lost or wait, `warn` when it ends (with what was lost). The daemon's
 * diagnostics logger is one.
 */
export interface Report {
  error(msg: string): void;
  warn(msg: string): void;
}

/**
 * One outage of an output that loses lines while it lasts (a file that
 * cannot be written, a closed pipe): one line when it starts, one when it
 * ends with the lines it lost, never one per batch.
 */
export class Outage {
  private cause?: string;
  private lostSince = 0;

  constructor(
    /** How the lines name the output: `stdout`, `output_file PATH`. */
    private readonly where: string,
    private readonly report: Report,
  ) {}

  /**
   * Writing failed because of `cause` (an errno name), and lines `from` to
   * `to` of `kinds` are lost (none, if the write only cut a line short).
   */
  lose(ledger: Ledger, kinds: Uint8Array, from: number, to: number, cause: string): void {
    count(ledger.lost, kinds, from, to);
    ledger.error(cause);
    if (this.cause === undefined) this.report.error(`${this.where}: write failed: ${cause}; lines are lost (counted) until it works again`);
    this.cause ??= cause;
    this.lostSince += to - from;
  }

  /** Writing works again. */
  end(): void {
    if (this.cause === undefined) return;
    this.report.warn(`${this.where}: writing again; ${this.lostSince} lines were lost (${this.cause})`);
    this.cause = undefined;
    this.lostSince = 0;
  }
}

/**
 * One winston entry per batch, carrying the batch's lines: winston's
 * per-entry cost stays per batch. The transport calls `done` once it no
 * longer needs the bytes.
 */
export interface BatchInfo extends Lines {
  level: string;
  message: string;
  done: () => void;
}

/** A logger that hands each entry to `transport` as it is: no winston formatting. */
export function batchLogger(transport: TransportStream): winston.Logger {
  return winston.createLogger({ level: 'info', format: winston.format((info) => info)(), transports: [transport] });
}

/** Logs one batch; an empty one is done at once. */
export function logBatch(logger: winston.Logger, lines: Lines, done: () => void): void {
  if (lines.bytes.length > 0) logger.log({ level: 'info', message: '', bytes: lines.bytes, kinds: lines.kinds, done } satisfies BatchInfo);
  else done();
}
