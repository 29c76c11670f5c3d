/**
 * The link of a connection over TCP, plain or in TLS (tls.ts): the
 * messages of an output's framer (syslog's octet-counted lines, IPFIX's
 * messages), which shapes what goes on the wire (StreamFraming: a greeting
 * on each connection, the bytes of each write).
 *
 * A message is written once the peer's TCP acknowledged it (the kernel's
 * count, read through TcpWatch), not when the socket took it: what a
 * connection had not had acknowledged when it died is sent again on the
 * next one, and at stop, once the wait is over, it is counted lost and the
 * connection reset, so that none of it arrives after being counted. (A
 * peer that dies with messages it acknowledged but never read loses them
 * where no sender can see.)
 *
 * Where a message ends on the wire: one write is with the socket at a
 * time, and when its callback comes its bytes are in the kernel (Node's
 * TLS calls back only once all the records it made were written to the
 * TCP socket). Plain TCP with the messages as they are: the wire is the
 * messages, so each message's end is counted and a connection that broke
 * part way through a write sends again only the messages not acknowledged.
 * Otherwise (TLS, or an encode() of its own) a write's messages are written
 * once the acknowledgement reaches where the write ended on the wire,
 * which is TcpWatch.sent() at its callback (TLS) or the bytes counted
 * (plain); a write partly acknowledged when the connection broke is sent
 * again whole. Over TLS a write is at most one TLS record (16 KiB of
 * messages, or one longer message alone), and a receiver can use no part
 * of a record it did not get whole: so what it sends again is what the
 * receiver never had, but for a write acknowledged whole in the instant
 * before the connection broke and not yet seen (TcpWatch is read at the
 * break, so only by a hair) — that write may arrive twice.
 */
import net from 'node:net';
import { native, type TcpWatch } from '../../native.js';
import type { Connection, Link } from './connection.js';
import type { StreamFraming } from './framer.js';
import { countRun, Queue } from './queue.js';
import type { TlsFiles } from './tls.js';

/** A TCP connect (and a TLS handshake) to a host that does not answer gives up after this. */
const CONNECT_TIMEOUT_MS = 5_000;
/** One write hands the socket at most about this many bytes of messages. */
const WRITE_BYTES = 256 * 1024;
/** Over TLS: one record's worth (OpenSSL's largest record holds 16,384 bytes). */
const TLS_WRITE_BYTES = 16_384;
/**
 * After the TLS handshake, nothing is written for this long: in TLS 1.3
 * the client's handshake ends before the server has checked the client's
 * certificate, and a server that refuses it (rsyslog's gtls with an
 * AuthMode) closes the connection then, after its TCP had acknowledged
 * whatever came with the handshake. A refusal comes within milliseconds;
 * one later than this drops lines no sender can see.
 */
const TLS_SETTLE_MS = 250;
/** While messages wait for the peer's acknowledgement, it is looked at this often. */
const ACK_POLL_MS = 200;

/** The descriptor under a connected Node socket (Node keeps it on its handle). */
function fdOf(s: net.Socket): number {
  const fd = (s as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' ? fd : -1;
}

/** Where a connection is, for what a report says when it ends. */
type Phase = 'connecting' | 'handshake' | 'settling' | 'up';

const DOWN: Record<Phase, string> = {
  connecting: 'cannot connect',
  handshake: 'TLS handshake failed',
  settling: 'refused right after the TLS handshake (does the server want a client certificate, or another one?)',
  up: 'connection lost',
};

/** Numbers taken from the front, O(1) as Queue is: each unacknowledged message's end on the wire. */
class Ends {
  private items: number[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  at(i: number): number {
    return this.items[this.head + i];
  }

  set(i: number, v: number): void {
    this.items[this.head + i] = v;
  }

  push(v: number): void {
    this.items.push(v);
  }

  drop(n: number): void {
    this.head += n;
    if (this.head === this.items.length || (this.head > 1024 && this.head * 2 > this.items.length)) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

/** Where a TCP link connects. */
export interface TcpPeer {
  host: string;
  port: number;
  /** TLS over the TCP connection, with these certificates and this name; absent: plain TCP. */
  tls?: TlsFiles;
}

export class TcpLink implements Link {
  private readonly host: string;
  private readonly port: number;
  private readonly tls?: TlsFiles;
  /** What the link writes to: the TCP socket, or the TLS socket over it. */
  private socket?: net.Socket;
  /** The TCP socket (under the TLS one): a reset is made on it. */
  private raw?: net.Socket;
  private phase: Phase = 'connecting';
  /** What this connection's peer has acknowledged; none if the kernel cannot say (then a message is written once the socket took it). */
  private watch?: TcpWatch;
  /** Messages handed to this connection's socket and not yet acknowledged, oldest first. */
  private unacked = new Queue(Number.POSITIVE_INFINITY);
  /** For each of `unacked`: how far the peer's acknowledgement must reach for it to be written. */
  private ends = new Ends();
  /** Messages at the end of `unacked` whose write is with the socket: their ends are not known yet. */
  private flying = 0;
  /** Plain TCP: bytes written on this connection (the wire offset of the next write). */
  private wire = 0;
  /** Each message's end on the wire is known (plain TCP, messages as they are): see the header. */
  private readonly exact: boolean;
  /** The greeting of this connection is still to be written. */
  private greet = false;
  /** A write is with the socket (one at a time: what it holds is then known). */
  private writing = false;
  private poll?: NodeJS.Timeout;
  private settling?: NodeJS.Timeout;

  constructor(
    private readonly conn: Connection,
    peer: TcpPeer,
    private readonly framing: StreamFraming,
  ) {
    this.host = peer.host;
    this.port = peer.port;
    this.tls = peer.tls;
    this.exact = this.tls === undefined && framing.encode === undefined;
  }

  connect(): void {
    const raw = net.connect({ host: this.host, port: this.port });
    this.socket = raw;
    this.raw = raw;
    this.phase = 'connecting';
    let lastError: Error | undefined;
    raw.setNoDelay(true); // batches are joined already; Nagle would only delay them
    raw.setKeepAlive(true, 30_000); // notices a peer that vanished without a word
    raw.setTimeout(CONNECT_TIMEOUT_MS, () => raw.destroy(new Error('connect timed out')));
    const closed = (s: net.Socket) => () => {
      if (s !== this.socket) return;
      const what = DOWN[this.phase];
      this.disconnect();
      this.conn.onDown(what, lastError ?? new Error('closed by the peer'));
    };
    // Read (and ignore) what the peer sends, so that its closing is seen at
    // once ('end'), not at the second write after it.
    raw.resume();
    raw.on('connect', () => {
      raw.setTimeout(0);
      if (raw !== this.socket) return;
      try {
        // The descriptor of the TCP socket, taken before TLS wraps it.
        this.watch = native().TcpWatch.of(fdOf(raw));
      } catch {
        this.watch = undefined;
      }
      if (!this.tls) {
        this.up1();
        return;
      }
      this.phase = 'handshake';
      const t = this.tls.connect(raw);
      this.socket = t;
      t.setTimeout(CONNECT_TIMEOUT_MS, () => t.destroy(new Error('TLS handshake timed out')));
      t.resume();
      t.on('secureConnect', () => {
        if (t !== this.socket) return;
        t.setTimeout(0);
        // Verified: rejectUnauthorized fails the handshake on a bad chain or name.
        this.phase = 'settling';
        this.settling = setTimeout(() => {
          this.settling = undefined;
          if (t === this.socket) this.up1();
        }, TLS_SETTLE_MS).unref();
      });
      t.on('error', (e) => (lastError = e));
      t.on('close', closed(t));
    });
    raw.on('error', (e) => (lastError = e));
    raw.on('close', closed(raw));
  }

  private up1(): void {
    this.phase = 'up';
    this.wire = 0;
    this.greet = true;
    this.conn.onUp();
  }

  /** One write at a time: the greeting first, then the messages at the front of the queue; the next when the socket took it. */
  flush(): void {
    const s = this.socket;
    const { queue } = this.conn;
    if (!s || !this.conn.up || this.writing) return;
    let bytes: Buffer;
    let n = 0;
    if (this.greet) {
      this.greet = false;
      const g = this.framing.greeting?.();
      if (!g || g.length === 0) {
        this.flush();
        return;
      }
      bytes = g;
    } else {
      if (queue.length === 0) return;
      const run = queue.take(Math.max(1, queue.within(this.tls ? TLS_WRITE_BYTES : WRITE_BYTES)));
      bytes = this.framing.encode ? this.framing.encode(run.msgs) : Buffer.concat(run.msgs);
      n = run.msgs.length;
      for (let i = 0; i < n; i++) {
        this.unacked.push(run.msgs[i], run.kinds[i]);
        if (this.exact) this.wire += run.msgs[i].length;
        this.ends.push(this.exact ? this.wire : Number.POSITIVE_INFINITY);
      }
      this.conn.handed();
    }
    if (!this.exact) this.wire += bytes.length;
    const end = this.wire;
    this.flying = n;
    this.writing = true;
    s.write(bytes, (err) => {
      if (s !== this.socket) return;
      this.writing = false;
      this.flying = 0;
      // An error means the socket is gone: 'close' handles what it held.
      if (err) return;
      if (!this.exact) {
        const at = this.tls ? this.sent() : end;
        for (let i = this.ends.length - n; i < this.ends.length; i++) this.ends.set(i, at);
      }
      this.settle();
      this.flush();
    });
  }

  /** Where the wire is now: what the kernel took on this connection; unknown (never reached) if it cannot say. */
  private sent(): number {
    try {
      return this.watch ? this.watch.sent() : Number.POSITIVE_INFINITY;
    } catch {
      return Number.POSITIVE_INFINITY;
    }
  }

  /** Counts as written the messages the peer has acknowledged; looks again later while some wait. */
  private settle(): void {
    const w = this.watch;
    // The kernel cannot say (no watch): what the socket took is all that is known.
    let acked = Number.POSITIVE_INFINITY;
    if (w) {
      try {
        acked = w.acked();
      } catch {
        return;
      }
    }
    let n = 0;
    const known = this.unacked.length - this.flying;
    while (n < known && (w === undefined || this.ends.at(n) <= acked)) n++;
    if (n > 0) {
      countRun(this.conn.ledger.written, this.unacked.take(n));
      this.ends.drop(n);
      this.conn.carried();
    }
    if (this.unacked.length > 0 && this.socket && !this.poll) {
      this.poll = setTimeout(() => {
        this.poll = undefined;
        this.settle();
      }, ACK_POLL_MS).unref();
    }
  }

  disconnect(): void {
    const s = this.socket;
    const raw = this.raw;
    this.socket = undefined;
    this.raw = undefined;
    this.writing = false;
    clearTimeout(this.poll);
    this.poll = undefined;
    clearTimeout(this.settling);
    this.settling = undefined;
    // The last word on what arrived: the watch outlives Node's descriptor.
    // Of a write still with the socket, plain TCP knows where each message
    // ends and the acknowledgement says which arrived; over TLS nothing
    // says how much of it reached the kernel (its ends stay unknown, and it
    // is all sent again), nor without a watch.
    if (this.watch) {
      if (!this.exact && !this.tls) for (let i = this.ends.length - this.flying; i < this.ends.length; i++) this.ends.set(i, this.wire);
      this.flying = 0;
    }
    this.settle();
    this.flying = 0;
    const unacked = this.unacked.length;
    // Not acknowledged: sent again on the next connection, or counted
    // lost by shutdown().
    this.conn.queue.putBack(this.unacked.take(unacked));
    this.ends.clear();
    this.wire = 0;
    this.greet = false;
    for (const x of s === raw ? [s] : [s, raw]) {
      if (!x) continue;
      x.removeAllListeners('error');
      x.on('error', () => {});
    }
    if (s) {
      // What was not acknowledged is sent again or counted lost: a reset
      // (on the TCP socket, which TLS does not know), so that the kernel
      // does not deliver it after all. Else a clean close (TLS's
      // close_notify, then FIN).
      if (unacked > 0 && raw && !raw.destroyed) {
        raw.resetAndDestroy();
        s.destroy();
      } else if (this.conn.closing) s.end(() => s.destroy());
      else s.destroy();
    }
    // Now that Node's descriptor is closed too, the kernel lets the socket go.
    this.watch?.close();
    this.watch = undefined;
  }

  drained(): boolean {
    this.settle();
    return !this.writing && this.unacked.length === 0;
  }

  /**
   * SIGHUP: a working connection stays up, so that a reload never costs
   * its peer a reconnect (a reload that changes this output's keys opens a
   * new one instead); one that is down is tried now. Certificates read
   * again (tls.ts) are used from the next connection on.
   */
  reopen(reconnect: () => void): void {
    if (!this.conn.up) reconnect();
  }
}
