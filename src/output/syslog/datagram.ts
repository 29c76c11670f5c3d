/** Syslog over datagrams: the local socket (unix) and UDP, on the native Datagram. */
import dns from 'node:dns';
import { native, type Datagram } from '../../native.js';
import type { Report } from '../sink.js';
import { count, type Ledger } from '../ledger.js';
import { peerName, SyslogTransport } from './connection.js';
import { countRun } from './queue.js';

const NO_HEAD = Buffer.alloc(0);
const NEWLINE = 0x0a;

/** How long one wait for room in the receiver's queue lasts before it is tried again. */
const WRITABLE_WAIT_MS = 1000;
/** Queued messages one flush hands to sendLines at most (a quarter of what one sendmmsg takes). */
const FLUSH_AT_ONCE = 256;
/** UDP send errors after the first are summed into one line at most this often. */
const UDP_REPORT_EVERY_MS = 60_000;

/** The errno name the binding's errors carry as `code` ("ENOENT"). */
function errnoOf(e: unknown): { code: string } {
  const err = e as NodeJS.ErrnoException;
  return { code: err.code ?? err.message };
}

/**
 * One message as it waits for sendLines: newline-ended, the newline not
 * sent. Messages hold no newline (a line ends at one), so the queue's
 * messages joined are sendLines' `lines` as they are.
 */
export function newlineEnded(head: Buffer, line: Buffer): Buffer {
  const out = Buffer.allocUnsafe(head.length + line.length + 1);
  head.copy(out, 0);
  line.copy(out, head.length);
  out[out.length - 1] = NEWLINE;
  return out;
}

/**
 * A connected datagram socket from the native binding: one datagram per
 * message, many per system call (sendmmsg). Sends are synchronous, so order
 * is kept; when the receiver's queue is full the flush stops until the
 * socket says it has room again (poll on the thread pool, never in this
 * thread).
 */
abstract class DatagramTransport extends SyslogTransport {
  protected socket?: Datagram;
  private waiting = false;

  /**
   * A send failed with `code` (not EAGAIN, not EMSGSIZE): true to go on
   * sending, false when the connection is lost (the message waits for the
   * next one).
   */
  protected abstract sendFailed(code: string): boolean;

  protected frame(head: Buffer, line: Buffer): Buffer {
    return newlineEnded(head, line);
  }

  /**
   * Straight from the batch's bytes when nothing waits before them: no
   * copy. What is not sent then (the socket is full, or a send failed) is
   * queued as messages and handled by flush().
   */
  protected override send(head: Buffer, bytes: Buffer, kinds: Uint8Array, line: number, from: number): void {
    const s = this.socket;
    if (s && this.up && !this.waiting && this.queue.length === 0) {
      const r = s.sendLines(head, from === 0 ? bytes : bytes.subarray(from));
      count(this.ledger.written, kinds, line, line + r.sent);
      if (r.sent > 0) this.carried();
      line += r.sent;
      from += r.at;
      // Reported here, as flush() would (it meets EAGAIN and EMSGSIZE
      // again, and a lost unix receiver; an ICMP error it would not).
      if (r.error && r.error !== 'EAGAIN' && r.error !== 'EMSGSIZE') this.sendFailed(r.error);
    }
    super.send(head, bytes, kinds, line, from);
  }

  protected flush(): void {
    const s = this.socket;
    // A message whose send failed is tried once more: on a connected UDP
    // socket the error is an earlier datagram's ICMP reply, and this one
    // was not sent.
    let retried = false;
    while (s && !this.waiting && this.queue.length > 0) {
      // A bounded share each time, left queued until sent: a congested
      // socket (a unix one takes 10 at a time) costs what it sends, not a
      // copy of the whole queue per wake.
      const r = this.sendQueued(s);
      countRun(this.ledger.written, this.queue.take(r.sent));
      if (r.sent > 0) this.carried();
      if (r.error === null || r.error === undefined) continue;
      if (r.error === 'EAGAIN') {
        this.waitForRoom(s);
      } else if (r.error === 'EMSGSIZE') {
        this.ledger.error(r.error);
        this.discardFirst(r.error);
      } else if (!this.sendFailed(r.error)) {
        this.disconnect();
        this.onDown('connection lost', { code: r.error });
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
   * Sends the front of the queue; says how many queued messages went, and
   * why the next did not. A message is one datagram here (another output
   * packs several into one).
   */
  protected sendQueued(s: Datagram): { sent: number; error?: string | null } {
    return s.sendLines(NO_HEAD, Buffer.concat(this.queue.peek(FLUSH_AT_ONCE)));
  }

  /** The first queued message cannot be sent: it is taken off, counted lost. */
  private discardFirst(code: string): void {
    const run = this.queue.take(1);
    if (run.kinds.length > 0) this.discard({ code }, run.kinds[0]);
  }

  private waitForRoom(s: Datagram): void {
    this.waiting = true;
    void s.writable(WRITABLE_WAIT_MS).then(() => {
      if (s !== this.socket) return;
      this.waiting = false;
      this.flush();
    });
  }

  protected disconnect(): void {
    this.waiting = false;
    this.socket?.close();
    this.socket = undefined;
  }

  protected drained(): boolean {
    return !this.waiting;
  }
}

/** The local socket: a connected unix datagram socket (Node has none). */
export class UnixTransport extends DatagramTransport {
  constructor(
    private readonly path: string,
    header: () => Buffer,
    report: Report,
    ledger: Ledger,
  ) {
    super(`syslog socket ${path}`, header, report, ledger);
    this.open();
  }

  protected connect(): void {
    try {
      this.socket = native().Datagram.unix(this.path);
    } catch (e) {
      this.onDown('cannot connect', errnoOf(e));
      return;
    }
    this.onUp();
  }

  /** The listener went away: wait for the next connection. */
  protected sendFailed(): boolean {
    return false;
  }
}

/** UDP on a connected socket (the name is resolved once per connection). */
export class UdpTransport extends DatagramTransport {
  /** Tells a lookup that finishes after reopen() or close() that it is stale. */
  private generation = 0;
  private failures = 0;
  private lastReport = 0;

  constructor(
    private readonly host: string,
    private readonly port: number,
    header: () => Buffer,
    report: Report,
    ledger: Ledger,
    /** The output, as reports name it before the peer. */
    output = 'syslog',
  ) {
    super(`${output} ${peerName('udp', host, port)}`, header, report, ledger);
    this.open();
  }

  protected connect(): void {
    const generation = ++this.generation;
    dns.lookup(this.host, (err, address) => {
      if (generation !== this.generation) return;
      if (err) return this.onDown('cannot resolve the host', err);
      try {
        this.socket = native().Datagram.udp(address, this.port);
      } catch (e) {
        this.onDown('cannot connect', errnoOf(e));
        return;
      }
      this.onUp();
    });
  }

  protected override disconnect(): void {
    this.generation++;
    super.disconnect();
  }

  /**
   * UDP cannot tell a lost datagram; it can tell that nobody listens
   * (ECONNREFUSED, from an ICMP error): sending goes on (a line that fails
   * twice is lost). Reported once, then summed at most once a minute.
   */
  protected sendFailed(code: string): boolean {
    this.ledger.error(code);
    this.failures++;
    const now = Date.now();
    if (this.lastReport === 0 || now - this.lastReport >= UDP_REPORT_EVERY_MS) {
      this.report.error(
        this.lastReport === 0
          ? `${this.where}: send failed: ${code}; UDP does not resend: lines sent while this lasts are lost`
          : `${this.where}: ${this.failures} sends failed since the last report (last: ${code})`,
      );
      this.lastReport = now;
      this.failures = 0;
    }
    return true;
  }
}
