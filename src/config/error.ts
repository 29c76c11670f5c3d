/** The one error a bad config makes, and how its lines show a value. */
import { echo, oneLine } from '../echo.js';

/** Thrown for any bad input; the CLI prints `message` as one line and exits 78. */
export class ConfigError extends Error {
  readonly exitCode = 78;
  constructor(message: string) {
    super(oneLine(message));
    this.name = 'ConfigError';
  }
}

/** A value as an error message shows it: JSON, on one line, not too long. */
export function show(v: unknown): string {
  // JSON.stringify writes Infinity (a JSON 1e999) as null.
  return echo(typeof v === 'number' && !Number.isFinite(v) ? String(v) : JSON.stringify(v));
}
