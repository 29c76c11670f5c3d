/**
 * Syslog over TCP, with RFC 6587 octet-counting framing (`LEN SP MSG`).
 *
 * A line is written once the peer's TCP acknowledged it (the kernel's
 * count, read through TcpWatch), not when the socket took it: what a
 * connection had not had acknowledged when it died is sent again on the
 * next one, and at stop, once the wait is over, it is counted lost and the
 * connection reset, so that none of it arrives after being counted. (A
 * peer that dies with lines it acknowledged but never read loses them
 * where no sender can see.)
 */
import net from 'node:net';
import { native, type TcpWatch } from '../../native.js';
import type { Ledger } from '../ledger.js';
import type { Report } from '../sink.js';
import { peerName, SyslogTransport } from './connection.js';
import { countRun, Queue } from './queue.js';

/** A TCP connect to a host that does not answer gives up after this. */
const CONNECT_TIMEOUT_MS = 5_000;
/** One write hands the socket at most about this many bytes of messages. */
const WRITE_BYTES = 256 * 1024;
/** While lines wait for the peer's acknowledgement, it is looked at this often. */
const ACK_POLL_MS = 200;
/** SIGHUP lets the lines in flight on a working connection arrive for at most this long before it reconnects. */
const REOPEN_WAIT_MS = 1_000;

/** One message in octet-counting framing: its length in bytes (not characters), a space, the message. */
export function octetCounted(head: Buffer, line: Buffer): Buffer {
  const len = head.length + line.length;
  let digits = 1;
  for (let n = len; n >= 10; n = Math.floor(n / 10)) digits++;
  const out = Buffer.allocUnsafe(digits + 1 + len);
  // The digits written as bytes: no string per line.
  for (let i = digits - 1, n = len; i >= 0; i--, n = Math.floor(n / 10)) out[i] = 0x30 + (n % 10);
  out[digits] = 0x20;
  head.copy(out, digits + 1);
  line.copy(out, digits + 1 + head.length);
  return out;
}

/** The descriptor under a connected Node socket (Node keeps it on its handle). */
function fdOf(s: net.Socket): number {
  const fd = (s as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' ? fd : -1;
}

export class TcpTransport extends SyslogTransport {
  private socket?: net.Socket;
  /** What this connection's peer has acknowledged; none if the kernel cannot say (then a line is written once the socket took it). */
  private watch?: TcpWatch;
  /** Messages handed to this connection's socket and not yet acknowledged, oldest first. */
  private unacked = new Queue(Number.POSITIVE_INFINITY);
  /** Bytes of this connection acknowledged and taken off `unacked`. */
  private settled = 0;
  /** A write is with the socket (one at a time: what it holds is then known). */
  private writing = false;
  private poll?: NodeJS.Timeout;
  private reopening?: NodeJS.Timeout;

  constructor(
    private readonly host: string,
    private readonly port: number,
    header: () => Buffer,
    report: Report,
    ledger: Ledger,
  ) {
    super(peerName('tcp', host, port), header, report, ledger);
    this.open();
  }

  protected frame(head: Buffer, line: Buffer): Buffer {
    return octetCounted(head, line);
  }

  protected connect(): void {
    const s = net.connect({ host: this.host, port: this.port });
    this.socket = s;
    let lastError: Error | undefined;
    s.setNoDelay(true); // batches are joined already; Nagle would only delay them
    s.setKeepAlive(true, 30_000); // notices a peer that vanished without a word
    s.setTimeout(CONNECT_TIMEOUT_MS, () => s.destroy(new Error('connect timed out')));
    // Read (and ignore) what the peer sends, so that its closing is seen at
    // once ('end'), not at the second write after it.
    s.resume();
    s.on('connect', () => {
      s.setTimeout(0);
      if (s !== this.socket) return;
      try {
        this.watch = native().TcpWatch.of(fdOf(s));
      } catch {
        this.watch = undefined;
      }
      this.onUp();
    });
    s.on('error', (e) => (lastError = e));
    s.on('close', () => {
      if (s !== this.socket) return;
      const wasUp = this.up;
      this.disconnect();
      this.onDown(wasUp ? 'connection lost' : 'cannot connect', lastError ?? new Error('closed by the peer'));
    });
  }

  /** One write at a time, of the messages at the front of the queue; the next when the socket took it. */
  protected flush(): void {
    const s = this.socket;
    if (!s || !this.up || this.writing || this.queue.length === 0) return;
    const run = this.queue.take(Math.max(1, this.queue.within(WRITE_BYTES)));
    for (let i = 0; i < run.msgs.length; i++) this.unacked.push(run.msgs[i], run.types[i]);
    this.writing = true;
    s.write(Buffer.concat(run.msgs), (err) => {
      if (s !== this.socket) return;
      this.writing = false;
      // An error means the socket is gone: 'close' handles what it held.
      if (err) return;
      this.settle();
      this.flush();
    });
  }

  /** Counts as written the messages the peer has acknowledged; looks again later while some wait. */
  private settle(): void {
    const w = this.watch;
    let acked: number;
    if (w) {
      try {
        acked = w.acked();
      } catch {
        return;
      }
    } else {
      // The kernel cannot say: what the socket took is all that is known.
      acked = this.writing ? this.settled : Number.POSITIVE_INFINITY;
    }
    const n = this.unacked.within(acked - this.settled);
    if (n > 0) {
      const run = this.unacked.take(n);
      for (const m of run.msgs) this.settled += m.length;
      countRun(this.ledger.written, run);
    }
    if (this.unacked.length > 0 && this.socket && !this.poll) {
      this.poll = setTimeout(() => {
        this.poll = undefined;
        this.settle();
      }, ACK_POLL_MS).unref();
    }
  }

  protected disconnect(): void {
    const s = this.socket;
    this.socket = undefined;
    this.writing = false;
    clearTimeout(this.poll);
    this.poll = undefined;
    clearTimeout(this.reopening);
    this.reopening = undefined;
    // The last word on what arrived: the watch outlives Node's descriptor.
    this.settle();
    const unacked = this.unacked.length;
    // Not acknowledged: sent again on the next connection, or counted
    // lost by shutdown().
    this.queue.putBack(this.unacked.take(unacked));
    this.settled = 0;
    if (s) {
      s.removeAllListeners('error');
      s.on('error', () => {});
      // What was not acknowledged is sent again or counted lost: a reset,
      // so that the kernel does not deliver it after all. Else a clean FIN.
      if (unacked > 0) s.resetAndDestroy();
      else if (this.closing) s.end(() => s.destroy());
      else s.destroy();
    }
    // Now that Node's descriptor is closed too, the kernel lets the socket go.
    this.watch?.close();
    this.watch = undefined;
  }

  protected drained(): boolean {
    this.settle();
    return !this.writing && this.unacked.length === 0;
  }

  /**
   * SIGHUP: on a working connection, the lines in flight arrive first (for
   * at most REOPEN_WAIT_MS), so that none arrives twice; then a new
   * connection.
   */
  override reopen(): void {
    if (this.closing || this.reopening) return;
    if (!this.up || this.drained()) {
      super.reopen();
      return;
    }
    this.up = false; // nothing more is written to this connection
    const deadline = Date.now() + REOPEN_WAIT_MS;
    const wait = () => {
      this.reopening = undefined;
      if (!this.socket) return; // it died meanwhile: it reconnects by itself
      if (this.drained() || Date.now() >= deadline) super.reopen();
      else this.reopening = setTimeout(wait, 10);
    };
    this.reopening = setTimeout(wait, 10);
  }
}
