/**
 * Signals that came before the daemon's handlers: bin/ctlogd.js notes
 * SIGUSR1 and SIGHUP from its first line on (their default actions would
 * open Node's inspector and end the process), and the daemon takes them
 * over here.
 */

/** What bin/ctlogd.js leaves behind: the signals noted, and its listener. */
interface Early {
  signals: Set<string>;
  listener: (signal: string) => void;
}

const KEY = Symbol.for('ctlogd.earlySignals');

/**
 * Removes the launcher's listeners and returns the signals they noted.
 * Call it once the daemon's own listeners are on: in between, the default
 * actions would be back.
 */
export function takeEarlySignals(): Set<string> {
  const early = (globalThis as Record<symbol, Early | undefined>)[KEY];
  if (!early) return new Set();
  process.off('SIGUSR1', early.listener);
  process.off('SIGHUP', early.listener);
  delete (globalThis as Record<symbol, Early | undefined>)[KEY];
  return early.signals;
}
