/** What every output is to the daemon. */

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

/** Runtime trouble of an output (a write failed, a peer went away): one line each. */
export type Report = (msg: string) => void;
