/** What every output is to the daemon, and the winston plumbing they share. */
import winston from 'winston';
import type TransportStream from 'winston-transport';

export interface EventSink {
  /**
   * Writes the lines of one batch, in order: `bytes` holds whole lines,
   * each ending in a newline. Calls `done` once it no longer needs `bytes`
   * (their memory is then reused). Never throws. Returns a promise when the
   * output is backed up: it settles once the output can take more (the
   * capture holds back its reader until then).
   */
  write(bytes: Buffer, done: () => void): void | Promise<void>;
  /** SIGHUP: reopen a file (logrotate), reconnect a socket. Never throws. */
  reopen(): void;
  /** Flushes and closes; resolves when everything written is out. */
  close(): Promise<void>;
}

/** Thrown when the output cannot be opened at start: one line, exit 73 (EX_CANTCREAT). */
export class OutputError extends Error {
  readonly exitCode = 73;
}

/**
 * One winston entry per batch, carrying the batch's bytes (whole lines,
 * each ending in a newline): winston's per-entry cost stays per batch. The
 * transport calls `done` once it no longer needs the bytes.
 */
export interface BatchInfo {
  level: string;
  message: string;
  bytes: Buffer;
  done: () => void;
}

/** A logger that hands each entry to `transport` as it is: no winston formatting. */
export function batchLogger(transport: TransportStream): winston.Logger {
  return winston.createLogger({ level: 'info', format: winston.format((info) => info)(), transports: [transport] });
}

/** Logs one batch; an empty one is done at once. */
export function logBatch(logger: winston.Logger, bytes: Buffer, done: () => void): void {
  if (bytes.length > 0) logger.log({ level: 'info', message: '', bytes, done } satisfies BatchInfo);
  else done();
}

/** Runtime trouble of an output (a write failed, a peer went away): one line each. */
export type Report = (msg: string) => void;
