/**
 * The link of a connection over datagrams, on the native Datagram: the
 * local socket (unix) and UDP. What each datagram holds is the framer's
 * (DatagramFraming: syslog's one line each, IPFIX's packed records).
 */
import dns from 'node:dns';
import { native, type Datagram } from '../../native.js';
import { count } from '../ledger.js';
import type { Connection, Link } from './connection.js';
import type { DatagramFraming } from './framer.js';
import { countRun } from './queue.js';

/** How long one wait for room in the receiver's queue lasts before it is tried again. */
const WRITABLE_WAIT_MS = 1000;
/** Queued messages one flush hands to the framer at most: as a datagram each, a quarter of what one sendmmsg takes. */
const FLUSH_AT_ONCE = 256;
/** UDP send errors after the first are summed into one line at most this often. */
const UDP_REPORT_EVERY_MS = 60_000;

/** Where a datagram link sends: a local (unix datagram) socket, or a UDP host and port. */
export type DatagramPeer = { path: string } | { host: string; port: number };

/** The errno name the binding's errors carry as `code` ("ENOENT"). */
function errnoOf(e: unknown): { code: string } {
  const err = e as NodeJS.ErrnoException;
  return { code: err.code ?? err.message };
}

/**
 * A connected datagram socket from the native binding: many datagrams per
 * system call (sendmmsg). Sends are synchronous, so order is kept; when
 * the receiver's queue is full the flush stops until the socket says it
 * has room again (poll on the thread pool, never in this thread). UDP's
 * name is resolved once per connection.
 */
export class DatagramLink implements Link {
  private socket?: Datagram;
  private waiting = false;
  /** UDP: tells a lookup that finishes after reopen() or close() that it is stale. */
  private generation = 0;
  /** UDP: send errors since the last report of them. */
  private failures = 0;
  private lastReport = 0;

  constructor(
    private readonly conn: Connection,
    private readonly peer: DatagramPeer,
    private readonly framing: DatagramFraming,
  ) {}

  connect(): void {
    const peer = this.peer;
    if ('path' in peer) {
      this.made(() => native().Datagram.unix(peer.path));
      return;
    }
    const generation = ++this.generation;
    dns.lookup(peer.host, (err, address) => {
      if (generation !== this.generation) return;
      if (err) return this.conn.onDown('cannot resolve the host', err);
      this.made(() => native().Datagram.udp(address, peer.port));
    });
  }

  /** The socket `make` makes is up; or it failed. */
  private made(make: () => Datagram): void {
    try {
      this.socket = make();
    } catch (e) {
      this.conn.onDown('cannot connect', errnoOf(e));
      return;
    }
    this.framing.fresh?.();
    this.conn.onUp();
  }

  /**
   * Straight from the batch's bytes when nothing waits before them: no
   * copy. What is not sent then (the socket is full, or a send failed) is
   * queued by the framer and handled by flush().
   */
  sendLines(head: Buffer, bytes: Buffer, kinds: Uint8Array): { line: number; at: number } {
    const s = this.socket;
    if (!s || !this.conn.up || this.waiting || this.conn.queue.length > 0) return { line: 0, at: 0 };
    const r = s.sendLines(head, bytes);
    count(this.conn.ledger.written, kinds, 0, r.sent);
    if (r.sent > 0) this.conn.carried();
    // Reported here, as flush() would (it meets EAGAIN and EMSGSIZE
    // again, and a lost unix receiver; an ICMP error it would not).
    if (r.error && r.error !== 'EAGAIN' && r.error !== 'EMSGSIZE') this.sendFailed(r.error);
    return { line: r.sent, at: r.at };
  }

  flush(): void {
    const s = this.socket;
    const { queue, ledger } = this.conn;
    // A message whose send failed is tried once more: on a connected UDP
    // socket the error is an earlier datagram's ICMP reply, and this one
    // was not sent.
    let retried = false;
    while (s && !this.waiting && queue.length > 0) {
      // A bounded share each time, left queued until sent: a congested
      // socket (a unix one takes 10 at a time) costs what it sends, not a
      // copy of the whole queue per wake.
      const r = this.framing.send(s, queue.peek(FLUSH_AT_ONCE));
      countRun(ledger.written, queue.take(r.sent));
      if (r.sent > 0) this.conn.carried();
      if (r.error === null || r.error === undefined) continue;
      if (r.error === 'EAGAIN') {
        this.waitForRoom(s);
      } else if (r.error === 'EMSGSIZE') {
        ledger.error(r.error);
        this.discardFirst(r.error);
      } else if (!this.sendFailed(r.error)) {
        this.disconnect();
        this.conn.onDown('connection lost', { code: r.error });
        return;
      } else if (retried && r.sent === 0) {
        this.discardFirst(r.error); // failed twice: lost
        retried = false;
      } else {
        retried = true;
      }
    }
  }

  /**
   * A send failed with `code` (not EAGAIN, not EMSGSIZE): true to go on
   * sending, false when the connection is lost (the message waits for the
   * next one).
   *
   * The local socket: the listener went away; wait for the next
   * connection. UDP cannot tell a lost datagram; it can tell that nobody
   * listens (ECONNREFUSED, from an ICMP error): sending goes on (a line
   * that fails twice is lost). Reported once, then summed at most once a
   * minute.
   */
  private sendFailed(code: string): boolean {
    if ('path' in this.peer) return false;
    this.conn.ledger.error(code);
    this.failures++;
    const now = Date.now();
    if (this.lastReport === 0 || now - this.lastReport >= UDP_REPORT_EVERY_MS) {
      this.conn.report.error(
        this.lastReport === 0
          ? `${this.conn.where}: send failed: ${code}; UDP does not resend: lines sent while this lasts are lost`
          : `${this.conn.where}: ${this.failures} sends failed since the last report (last: ${code})`,
      );
      this.lastReport = now;
      this.failures = 0;
    }
    return true;
  }

  /** The first queued message cannot be sent: it is taken off, counted lost. */
  private discardFirst(code: string): void {
    const run = this.conn.queue.take(1);
    if (run.kinds.length > 0) this.conn.discard({ code }, run.kinds[0]);
  }

  private waitForRoom(s: Datagram): void {
    this.waiting = true;
    void s.writable(WRITABLE_WAIT_MS).then(() => {
      if (s !== this.socket) return;
      this.waiting = false;
      this.flush();
    });
  }

  disconnect(): void {
    this.generation++;
    this.waiting = false;
    this.socket?.close();
    this.socket = undefined;
  }

  drained(): boolean {
    return !this.waiting;
  }
}
