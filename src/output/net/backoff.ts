/**
 * When a connection-based output (syslog over TCP or TLS, IPFIX over TCP,
 * and the datagram ones, whose connects can fail too) tries again, and
 * when a connection counts as working: the state machine alone, on the
 * clock it is given, so that it is tested without sockets or timers
 * (connection.ts runs it).
 *
 * Every failed attempt waits longer than the one before: BACKOFF_MIN_MS,
 * times BACKOFF_FACTOR each time, up to BACKOFF_MAX_MS. A connection that
 * ends before it counts as working is a failed attempt too: a peer that
 * accepts and closes at once is retried as slowly as one that refuses.
 * A connection counts as working once it has stayed up for GOOD_AFTER_MS
 * and, if lines were handed to it, the peer has taken some (a TCP peer
 * acknowledged them). Only then does the wait start again from the least;
 * an outage ends there too (connection.ts reports it).
 */

/** The wait after the first failed attempt. */
export const BACKOFF_MIN_MS = 200;
/** Each failed attempt in a row multiplies the wait by this. */
export const BACKOFF_FACTOR = 2;
/** Short enough that a restarted syslog daemon gets lines again soon. */
export const BACKOFF_MAX_MS = 10_000;
/**
 * How long a connection must stay up to count as working: a peer that
 * closes sooner is retried with a growing wait, so that however it fails,
 * ctlogd connects at most about once per GOOD_AFTER_MS.
 */
export const GOOD_AFTER_MS = 5_000;

/** The wait after `failures` failed attempts in a row (1: the first). */
export function backoffDelay(failures: number): number {
  if (failures <= 1) return BACKOFF_MIN_MS;
  return Math.min(BACKOFF_MIN_MS * BACKOFF_FACTOR ** (failures - 1), BACKOFF_MAX_MS);
}

export class Backoff {
  /** Failed attempts since the last connection that worked. */
  private failed = 0;
  /** When the connection now up came up; undefined: none is up. */
  private since?: number;
  /** Lines were handed to the connection now up. */
  private handed = false;
  /** Its peer took some. */
  private taken = false;
  /** It counts as working. */
  private good = false;

  /** Failed attempts since the last connection that worked. */
  get failures(): number {
    return this.failed;
  }

  /** A connection is up at `now`: not working yet. */
  up(now: number): void {
    this.since = now;
    this.handed = false;
    this.taken = false;
    this.good = false;
  }

  /** Lines were handed to the connection. */
  sent(): void {
    if (this.since !== undefined) this.handed = true;
  }

  /** Its peer took (acknowledged) lines at `now`: true if that makes the connection count as working. */
  took(now: number): boolean {
    if (this.since === undefined) return false;
    this.handed = true;
    this.taken = true;
    return this.check(now);
  }

  /**
   * True the first time, at `now`, that the connection up counts as
   * working: up GOOD_AFTER_MS, and what was handed to it partly taken.
   * The failures are forgotten then.
   */
  check(now: number): boolean {
    if (this.since === undefined || this.good) return false;
    if (now - this.since < GOOD_AFTER_MS || (this.handed && !this.taken)) return false;
    this.good = true;
    this.failed = 0;
    return true;
  }

  /**
   * How long from `now` until the connection up has been up GOOD_AFTER_MS
   * (0 once it has, or when none is up): a timer may run a little early.
   */
  remaining(now: number): number {
    if (this.since === undefined || this.good) return 0;
    return Math.max(0, this.since + GOOD_AFTER_MS - now);
  }

  /**
   * The attempt failed, or the connection ended (one that had not come to
   * count as working is a failed attempt): how long to wait before the
   * next.
   */
  down(): number {
    this.since = undefined;
    this.failed++;
    return backoffDelay(this.failed);
  }

  /** The connection was closed on purpose (a reconnect asked for): neither a failure nor a success. */
  left(): void {
    this.since = undefined;
  }
}
