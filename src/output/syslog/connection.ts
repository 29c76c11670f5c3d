/**
 * The shared half of the syslog transports: the queue, reconnecting,
 * reporting, reopening, closing.
 *
 * Delivery: a write never throws and never waits. Lines wait in a bounded
 * memory queue while the peer is connecting, unreachable, or slower than
 * the events; beyond the bound new lines are dropped, counted lost in the
 * ledger. A line is written once the socket took it (datagrams) or the
 * peer acknowledged it (TCP). Connections are retried with a growing,
 * capped backoff (backoff.ts), and a connection that ends before it counts
 * as working (up for GOOD_AFTER_MS, what it was handed partly taken) is a
 * failed attempt: an outage lasts until a connection works. It is
 * reported once (and again when it ends, with what was dropped, as a
 * warning), never per attempt or per line. reopen() (SIGHUP) reconnects at
 * once, and close() flushes for at most CLOSE_WAIT_MS (index.ts).
 */
import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import TransportStream from 'winston-transport';
import type { Ledger } from '../ledger.js';
import type { BatchInfo, Report } from '../sink.js';
import { Backoff, GOOD_AFTER_MS } from './backoff.js';
import { countRun, Queue } from './queue.js';

/** How reports name a remote destination: `udp host:port`, `tls [v6]:port`. */
export function peerName(protocol: string, host: string, port: number): string {
  return `${protocol} ${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
}

/** A name for what went wrong: the errno name where there is one. */
function why(e: unknown): string {
  const err = e as (NodeJS.ErrnoException & { code?: string | number }) | undefined;
  if (err === undefined) return 'unknown error';
  if (typeof err.code === 'number') {
    try {
      return getSystemErrorName(err.code);
    } catch {
      return `error ${err.code}`;
    }
  }
  return err.code ?? err.message;
}

export abstract class SyslogTransport extends TransportStream {
  protected up = false;
  protected connecting = false;
  protected closing = false;
  private retry?: NodeJS.Timeout;
  /** Looks, GOOD_AFTER_MS after a connection came up, whether it counts as working. */
  private proving?: NodeJS.Timeout;
  private readonly backoff = new Backoff();
  /** An outage has been reported and has not ended yet. */
  private troubled = false;
  private dropped = 0;
  private dropReported = false;
  /** Lines have been dropped because the queue was full, since the last report of it. */
  private full = false;

  constructor(
    /** How reports name the destination, the whole prefix: `syslog udp host:port`, `syslog socket PATH`, `ipfix tcp host:port`. */
    protected readonly where: string,
    private readonly header: () => Buffer,
    protected readonly report: Report,
    /** Where each line is counted written or lost. */
    protected readonly ledger: Ledger,
    /** Messages (already framed) not yet handed to the socket. */
    protected readonly queue = new Queue(),
  ) {
    super({ level: 'info' });
  }

  /** The retry timer, unref'd: a retry alone never keeps the process alive. (A test's transport runs its own clock here.) */
  protected startTimer(fn: () => void, ms: number): NodeJS.Timeout {
    return setTimeout(fn, ms).unref();
  }

  protected stopTimer(timer: NodeJS.Timeout | undefined): void {
    clearTimeout(timer);
  }

  /** The backoff's clock, in ms: monotonic. (A test's transport runs its own.) */
  protected now(): number {
    return performance.now();
  }

  /** Starts connecting; calls onUp() or onDown() when it knows. */
  protected abstract connect(): void;
  /** Hands queued messages to the socket, as many as it takes now. */
  protected abstract flush(): void;
  /** Drops the socket without reports; anything it had not taken goes back to the queue. */
  protected abstract disconnect(): void;
  /** Nothing is waiting in the socket's own buffers (only the queue may hold messages). */
  protected abstract drained(): boolean;
  /**
   * One message as it waits in the queue: new bytes, for `line` is a view
   * of the batch, whose memory is reused once the batch is done.
   */
  protected abstract frame(head: Buffer, line: Buffer): Buffer;

  /** Called by winston with one batch. */
  override log(info: BatchInfo, next: () => void): void {
    this.send(this.header(), info.bytes, info.kinds, 0, 0);
    info.done();
    next();
  }

  /**
   * Queues the lines of `bytes` from line `line`, which starts at byte
   * `from`, each as one message, and sends what the socket takes.
   */
  protected send(head: Buffer, bytes: Buffer, kinds: Uint8Array, line: number, from: number): void {
    for (let at = from, i = line; at < bytes.length; i++) {
      let end = bytes.indexOf(0x0a, at);
      if (end < 0) end = bytes.length;
      this.enqueue(this.frame(head, bytes.subarray(at, end)), kinds[i]);
      at = end + 1;
    }
    if (this.up) this.flush();
  }

  /**
   * Queues one message, made by the output itself (not a line of a batch),
   * and sends what the socket takes; a full queue counts it lost.
   */
  protected submit(msg: Buffer, kind: number): void {
    this.enqueue(msg, kind);
    if (this.up) this.flush();
  }

  /** Queues one message, or drops it (counted, reported once) when the queue is full. */
  protected enqueue(msg: Buffer, kind: number): void {
    if (this.queue.push(msg, kind)) {
      // A peer that fell behind and caught up without a new connection:
      // the end of its outage is said here (else onUp says it).
      if (this.full && !this.troubled) this.report.warn(`${this.where}: taking lines again${this.droppedSince()}`);
      return;
    }
    this.full = true;
    this.drop(kind, `${this.queue.limit >> 20} MiB of lines are waiting; dropping new lines (counted) until it takes them`);
  }

  /** A message that can never be sent (too large for a datagram, or failed twice): counted lost, reported once. */
  protected discard(err: unknown, kind: number): void {
    this.drop(kind, `a line could not be sent (${why(err)}); dropped (counted)`);
  }

  private drop(kind: number, reason: string): void {
    this.ledger.lost[kind]++;
    this.dropped++;
    if (!this.dropReported) {
      this.dropReported = true;
      this.report.error(`${this.where}: ${reason}`);
    }
  }

  protected open(): void {
    this.stopTimer(this.retry);
    this.retry = undefined;
    this.connecting = true;
    try {
      this.connect();
    } catch (e) {
      this.onDown('cannot connect', e);
    }
  }

  /** Connected: lines go, and GOOD_AFTER_MS later the connection may count as working. */
  protected onUp(): void {
    this.up = true;
    this.connecting = false;
    this.backoff.up(this.now());
    this.lookIn(GOOD_AFTER_MS);
    this.flush();
  }

  /** Looks `ms` from now whether the connection counts as working. */
  private lookIn(ms: number): void {
    this.stopTimer(this.proving);
    this.proving = this.startTimer(() => {
      this.proving = undefined;
      this.prove();
    }, ms);
  }

  /** Messages were handed to the connection: it counts as working only once the peer took some (carried()). */
  protected handed(): void {
    this.backoff.sent();
  }

  /** The peer took (acknowledged) messages on this connection. */
  protected carried(): void {
    if (this.backoff.took(this.now())) this.working();
  }

  private prove(): void {
    if (!this.up) return;
    const now = this.now();
    if (this.backoff.check(now)) this.working();
    else if (this.backoff.remaining(now) > 0 && !this.proving) this.lookIn(this.backoff.remaining(now));
  }

  /** The connection counts as working: the backoff starts again, and the outage (if one) ends. */
  private working(): void {
    if (!this.troubled) return;
    this.troubled = false;
    this.report.warn(`${this.where}: connected again${this.droppedSince()}`);
  }

  /**
   * The connection failed, or was lost (one that did not come to count as
   * working is a failed attempt): report once per outage, retry after the
   * backoff.
   */
  protected onDown(what: string, err?: unknown): void {
    this.ledger.error(why(err));
    // Up long enough, though the look at it had not come yet.
    if (this.up) this.prove();
    this.up = false;
    this.connecting = false;
    this.stopTimer(this.proving);
    this.proving = undefined;
    if (!this.troubled) {
      this.troubled = true;
      this.report.error(`${this.where}: ${what}: ${why(err)}; retrying, lines wait in memory (up to ${this.queue.limit >> 20} MiB)`);
    }
    if (this.closing || this.retry) {
      // Stopping, or a retry is set already: no attempt of its own.
      this.backoff.left();
      return;
    }
    this.retry = this.startTimer(() => this.open(), this.backoff.down());
  }

  private droppedSince(): string {
    const n = this.dropped;
    this.dropped = 0;
    this.dropReported = false;
    this.full = false;
    return n > 0 ? `; ${n} lines were dropped` : '';
  }

  /**
   * SIGHUP: a new connection now (a new address if the name moved),
   * keeping what waits. The backoff stays where it was: only a connection
   * that works starts it again.
   */
  reopen(): void {
    if (this.closing) return;
    this.up = false;
    this.stopTimer(this.proving);
    this.proving = undefined;
    this.backoff.left();
    this.disconnect();
    this.open();
  }

  /** Sends what is queued for at most `ms`, then closes; counts lost and reports what could not be sent. */
  async shutdown(ms: number): Promise<void> {
    this.closing = true;
    // A peer that came back during a backoff wait gets one more chance now.
    if (!this.up && !this.connecting) this.open();
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && !(this.up && this.queue.length === 0 && this.drained()) && (this.up || this.connecting)) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    this.stopTimer(this.retry);
    this.stopTimer(this.proving);
    this.up = false;
    this.disconnect();
    const unsent = this.queue.take(this.queue.length);
    countRun(this.ledger.lost, unsent);
    if (unsent.msgs.length > 0 || this.dropped > 0) {
      this.report.error(`${this.where}: closing with ${unsent.msgs.length} lines not sent${this.droppedSince()}`);
    }
  }
}
