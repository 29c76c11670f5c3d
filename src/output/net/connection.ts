/**
 * A connection to an output's peer, whatever carries it (a link: tcp.ts,
 * datagram.ts): the queue, reconnecting, reporting, reopening, closing.
 *
 * Delivery: a write never throws and never waits. Messages wait in a
 * bounded memory queue while the peer is connecting, unreachable, or
 * slower than the events; beyond the bound new ones are dropped, counted
 * lost in the ledger. A message is written once the socket took it
 * (datagrams) or the peer acknowledged it (TCP). Connections are retried
 * with a growing, capped backoff (backoff.ts), and a connection that ends
 * before it counts as working (up for GOOD_AFTER_MS, what it was handed
 * partly taken) is a failed attempt: an outage lasts until a connection
 * works. It is reported once (and again when it ends, with what was
 * dropped, as a warning), never per attempt or per line. reopen() (SIGHUP)
 * reconnects at once where the link lets it (a datagram socket: a new
 * address if the name moved; a TCP connection that is up stays up), and
 * shutdown() flushes for at most the time it is given (index.ts).
 */
import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import type { Ledger } from '../ledger.js';
import type { Report } from '../sink.js';
import { Backoff, GOOD_AFTER_MS } from './backoff.js';
import type { Outbox } from './framer.js';
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

/** The socket under a connection, driven by it. */
export interface Link {
  /** Starts connecting; calls the connection's onUp() or onDown() when it knows. */
  connect(): void;
  /** Hands queued messages to the socket, as many as it takes now. */
  flush(): void;
  /** Drops the socket without reports; anything it had not taken goes back to the queue. */
  disconnect(): void;
  /** Nothing is waiting in the socket's own buffers (only the queue may hold messages). */
  drained(): boolean;
  /** SIGHUP: calls `reconnect` if it should (absent: at once); a TCP link that is up does not. */
  reopen?(reconnect: () => void): void;
  /** Outbox.sendLines, where the socket can (datagrams). */
  sendLines?(head: Buffer, bytes: Buffer, kinds: Uint8Array): { line: number; at: number };
}

/** The timers and the clock a connection runs on (a test's connection runs its own). */
export interface Clock {
  start(fn: () => void, ms: number): NodeJS.Timeout;
  stop(timer: NodeJS.Timeout | undefined): void;
  /** The backoff's clock, in ms. */
  now(): number;
}

/** Timers unref'd (a retry alone never keeps the process alive); the clock monotonic. */
const SYSTEM_CLOCK: Clock = {
  start: (fn, ms) => setTimeout(fn, ms).unref(),
  stop: (timer) => clearTimeout(timer),
  now: () => performance.now(),
};

const NOTHING_SENT = { line: 0, at: 0 };

export class Connection implements Outbox {
  private readonly link: Link;
  private connected = false;
  private connecting = false;
  private stopping = false;
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

  /** Makes its link (`link`, given the connection) and starts connecting. */
  constructor(
    /** How reports name the destination, the whole prefix: `syslog udp host:port`, `syslog socket PATH`, `ipfix tcp host:port`. */
    readonly where: string,
    readonly report: Report,
    /** Where each message is counted written or lost. */
    readonly ledger: Ledger,
    link: (c: Connection) => Link,
    /** Messages (already framed) not yet handed to the socket. */
    readonly queue = new Queue(),
    private readonly clock = SYSTEM_CLOCK,
  ) {
    this.link = link(this);
    this.open();
  }

  /** Connected, and messages may be handed to the link. */
  get up(): boolean {
    return this.connected;
  }

  /** shutdown() has begun. */
  get closing(): boolean {
    return this.stopping;
  }

  /** Hands what waits to the link, if it is up. */
  flush(): void {
    if (this.connected) this.link.flush();
  }

  /** Queues one message, or drops it (counted, reported once) when the queue is full. */
  push(msg: Buffer, kind: number): void {
    if (this.queue.push(msg, kind)) {
      // A peer that fell behind and caught up without a new connection:
      // the end of its outage is said here (else onUp says it).
      if (this.full && !this.troubled) this.report.warn(`${this.where}: taking lines again${this.droppedSince()}`);
      return;
    }
    this.full = true;
    this.drop(kind, `${this.queue.limit >> 20} MiB of lines are waiting; dropping new lines (counted) until it takes them`);
  }

  sendLines(head: Buffer, bytes: Buffer, kinds: Uint8Array): { line: number; at: number } {
    return this.link.sendLines?.(head, bytes, kinds) ?? NOTHING_SENT;
  }

  /** A message that can never be sent (too large for a datagram, or failed twice): counted lost, reported once. */
  discard(err: unknown, kind: number): void {
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

  private open(): void {
    this.clock.stop(this.retry);
    this.retry = undefined;
    this.connecting = true;
    try {
      this.link.connect();
    } catch (e) {
      this.onDown('cannot connect', e);
    }
  }

  /** Connected: messages go, and GOOD_AFTER_MS later the connection may count as working. */
  onUp(): void {
    this.connected = true;
    this.connecting = false;
    this.backoff.up(this.clock.now());
    this.lookIn(GOOD_AFTER_MS);
    this.link.flush();
  }

  /** Looks `ms` from now whether the connection counts as working. */
  private lookIn(ms: number): void {
    this.clock.stop(this.proving);
    this.proving = this.clock.start(() => {
      this.proving = undefined;
      this.prove();
    }, ms);
  }

  /** Messages were handed to the connection: it counts as working only once the peer took some (carried()). */
  handed(): void {
    this.backoff.sent();
  }

  /** The peer took (acknowledged) messages on this connection. */
  carried(): void {
    if (this.backoff.took(this.clock.now())) this.working();
  }

  private prove(): void {
    if (!this.connected) return;
    const now = this.clock.now();
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
  onDown(what: string, err?: unknown): void {
    this.ledger.error(why(err));
    // Up long enough, though the look at it had not come yet.
    if (this.connected) this.prove();
    this.connected = false;
    this.connecting = false;
    this.clock.stop(this.proving);
    this.proving = undefined;
    if (!this.troubled) {
      this.troubled = true;
      this.report.error(`${this.where}: ${what}: ${why(err)}; retrying, lines wait in memory (up to ${this.queue.limit >> 20} MiB)`);
    }
    if (this.stopping || this.retry) {
      // Stopping, or a retry is set already: no attempt of its own.
      this.backoff.left();
      return;
    }
    this.retry = this.clock.start(() => this.open(), this.backoff.down());
  }

  private droppedSince(): string {
    const n = this.dropped;
    this.dropped = 0;
    this.dropReported = false;
    this.full = false;
    return n > 0 ? `; ${n} lines were dropped` : '';
  }

  /**
   * SIGHUP: a new connection (a new address if the name moved), if the
   * link wants one, keeping what waits. The backoff stays where it was:
   * only a connection that works starts it again.
   */
  reopen(): void {
    if (this.stopping) return;
    if (this.link.reopen) this.link.reopen(() => this.reconnect());
    else this.reconnect();
  }

  private reconnect(): void {
    if (this.stopping) return;
    this.connected = false;
    this.clock.stop(this.proving);
    this.proving = undefined;
    this.backoff.left();
    this.link.disconnect();
    this.open();
  }

  /** Sends what is queued for at most `ms`, then closes; counts lost and reports what could not be sent. */
  async shutdown(ms: number): Promise<void> {
    this.stopping = true;
    // A peer that came back during a backoff wait gets one more chance now.
    if (!this.connected && !this.connecting) this.open();
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && !(this.connected && this.queue.length === 0 && this.link.drained()) && (this.connected || this.connecting)) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    this.clock.stop(this.retry);
    this.clock.stop(this.proving);
    this.connected = false;
    this.link.disconnect();
    const unsent = this.queue.take(this.queue.length);
    countRun(this.ledger.lost, unsent);
    if (unsent.msgs.length > 0 || this.dropped > 0) {
      this.report.error(`${this.where}: closing with ${unsent.msgs.length} lines not sent${this.droppedSince()}`);
    }
  }
}
