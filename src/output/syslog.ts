/**
 * Event lines to syslog, through winston: one syslog message per line, in
 * order, to the local socket (syslog_socket, a unix datagram socket like
 * /dev/log) or to a remote host over UDP, or TCP with RFC 6587
 * octet-counting framing (`LEN SP MSG`).
 *
 * The transport is our own, on winston-transport, not the npm package
 * winston-syslog (2.7), which was tried against rsyslog 8.2302 and found
 * unfit here:
 * - over TCP it writes messages back to back with no framing at all, so the
 *   receiver sees one message where three were sent;
 * - with the local socket absent it emits 'error' from a socket nobody
 *   listens to, which kills the process; when the socket goes away its
 *   queue grows without bound and is never retried;
 * - its TCP queue is unbounded and never reports what it holds, its backoff
 *   doubles without a cap (hours after a long outage), and close() waits
 *   up to 4 s.
 *
 * Message formats:
 * - Remote (UDP, TCP): RFC 5424,
 *   `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID - - MSG`: APP-NAME is
 *   syslog_tag, PROCID the pid, no MSGID and no structured data (a line is
 *   all there is), MSG the line exactly, without a BOM (receivers keep a BOM
 *   in the message text, and event lines are ASCII but for what the kernel
 *   names, which is UTF-8 anyway).
 * - Local socket: the format of glibc's syslog(3) and util-linux logger for
 *   /dev/log, `<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG`. RFC 5424 is not parsed
 *   there: systemd-journald, which owns /dev/log on systemd hosts (VyOS
 *   included), does not recognise it (systemd issue #19251), and rsyslog's
 *   imuxsock with its default special parser takes the "1" for the tag and
 *   the whole rest for the message. This format gives both the tag, the pid
 *   and the line intact.
 * PRI is facility * 8 + 6 (info).
 *
 * Delivery: a write never throws and never waits. Lines wait in a bounded
 * memory queue while the peer is connecting, unreachable, or slower than
 * the events; beyond the bound new lines are dropped and counted. Trouble
 * is reported once per outage (and again when it ends, with what was
 * dropped), never per line. Connections are retried with a capped backoff;
 * reopen() (SIGHUP) reconnects at once, and close() flushes for at most
 * one second.
 */
import dns from 'node:dns';
import net from 'node:net';
import os from 'node:os';
import { getSystemErrorName } from 'node:util';
import TransportStream from 'winston-transport';
import { FACILITIES, type Config } from '../config.js';
import { native, type Datagram } from '../native.js';
import { batchLogger, logBatch, OutputError, type BatchInfo, type EventSink, type Report } from './sink.js';

export type SyslogOptions = Config['syslog'];

const SEVERITY_INFO = 6;
/** Characters of messages that may wait for the peer: about 65,000 event lines. */
const QUEUE_LIMIT = 16 * 1024 * 1024;
const BACKOFF_MIN_MS = 200;
/** Short enough that a restarted syslog daemon gets lines again soon. */
const BACKOFF_MAX_MS = 10_000;
/** A TCP connect to a host that does not answer gives up after this. */
const CONNECT_TIMEOUT_MS = 5_000;
/** SIGTERM must end ctlogd within 2 s: close() waits this long at most. */
const CLOSE_WAIT_MS = 1_000;
/** UDP send errors after the first are summed into one line at most this often. */
const UDP_REPORT_EVERY_MS = 60_000;

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

/**
 * The messages waiting for the socket, oldest first. Taking from the front
 * is O(1): a congested local socket takes a few at a time from a long queue.
 */
class Queue {
  private items: string[] = [];
  private head = 0;
  /** Characters held, for the bound. */
  chars = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  at(i: number): string {
    return this.items[this.head + i];
  }

  push(msg: string): void {
    this.items.push(msg);
    this.chars += msg.length;
  }

  /** Removes and returns the first n. */
  take(n: number): string[] {
    let out: string[];
    if (this.head === 0 && n === this.items.length) {
      out = this.items;
      this.items = [];
    } else {
      out = this.items.slice(this.head, this.head + n);
      this.head += n;
      // Let go of the taken slots once they are most of the array.
      if (this.head === this.items.length || (this.head > 1024 && this.head * 2 > this.items.length)) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
    }
    for (const m of out) this.chars -= m.length;
    return out;
  }

  /** Puts messages back at the front, in order. */
  putBack(msgs: string[]): void {
    if (msgs.length === 0) return;
    this.items = msgs.concat(this.items.slice(this.head));
    this.head = 0;
    for (const m of msgs) this.chars += m.length;
  }
}

/** The shared half of the three transports: the queue, reconnecting, reporting, closing. */
abstract class SyslogTransport extends TransportStream {
  /** Messages (already framed) not yet handed to the socket. */
  protected readonly queue = new Queue();
  protected up = false;
  protected connecting = false;
  protected closing = false;
  private retry?: NodeJS.Timeout;
  private backoff = BACKOFF_MIN_MS;
  /** An outage has been reported and has not ended yet. */
  private troubled = false;
  private dropped = 0;
  private dropReported = false;

  constructor(
    /** How reports name the destination: `udp host:port`, `tcp host:port`, `socket PATH`. */
    protected readonly where: string,
    private readonly header: () => string,
    protected readonly report: Report,
  ) {
    super({ level: 'info' });
  }

  /** Starts connecting; calls onUp() or onDown() when it knows. */
  protected abstract connect(): void;
  /** Hands queued messages to the socket, as many as it takes now. */
  protected abstract flush(): void;
  /** Drops the socket without reports; anything it had not taken goes back to the queue. */
  protected abstract disconnect(): void;
  /** Nothing is waiting in the socket's own buffers (only the queue may hold messages). */
  protected abstract drained(): boolean;
  /** The wire form of one message (TCP adds the octet count). */
  protected frame(msg: string): string {
    return msg;
  }

  /** Called by winston with one batch. */
  override log(info: BatchInfo, next: () => void): void {
    this.send(this.header(), info.bytes, 0);
    info.done();
    next();
  }

  /** Queues the lines of `bytes` from byte `from`, each as one message, and sends what the socket takes. */
  protected send(head: string, bytes: Buffer, from: number): void {
    for (let at = from; at < bytes.length; ) {
      let end = bytes.indexOf(0x0a, at);
      if (end < 0) end = bytes.length;
      this.enqueue(this.frame(head + bytes.toString('utf8', at, end)));
      at = end + 1;
    }
    if (this.up) this.flush();
  }

  private enqueue(msg: string): void {
    if (this.queue.chars + msg.length > QUEUE_LIMIT) {
      this.dropped++;
      if (!this.dropReported) {
        this.dropReported = true;
        this.report(`syslog ${this.where}: ${QUEUE_LIMIT >> 20} MiB of lines are waiting; dropping new lines (counted) until it takes them`);
      }
      return;
    }
    this.queue.push(msg);
  }

  /** A message that can never be sent (too large for a datagram): counted, reported once. */
  protected discard(err: unknown): void {
    this.dropped++;
    if (!this.dropReported) {
      this.dropReported = true;
      this.report(`syslog ${this.where}: a line could not be sent (${why(err)}); dropped (counted)`);
    }
  }

  protected open(): void {
    clearTimeout(this.retry);
    this.retry = undefined;
    this.connecting = true;
    try {
      this.connect();
    } catch (e) {
      this.onDown('cannot connect', e);
    }
  }

  protected onUp(): void {
    this.up = true;
    this.connecting = false;
    this.backoff = BACKOFF_MIN_MS;
    if (this.troubled) {
      this.troubled = false;
      this.report(`syslog ${this.where}: connected again${this.droppedSince()}`);
    }
    this.flush();
  }

  /** The connection failed or was lost: report once per outage, retry later. */
  protected onDown(what: string, err?: unknown): void {
    this.up = false;
    this.connecting = false;
    if (!this.troubled) {
      this.troubled = true;
      this.report(`syslog ${this.where}: ${what}: ${why(err)}; retrying, lines wait in memory (up to ${QUEUE_LIMIT >> 20} MiB)`);
    }
    if (this.closing || this.retry) return;
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
    // Unref'd: a retry alone never keeps the process alive.
    this.retry = setTimeout(() => this.open(), delay).unref();
  }

  private droppedSince(): string {
    const n = this.dropped;
    this.dropped = 0;
    this.dropReported = false;
    return n > 0 ? `; ${n} lines were dropped` : '';
  }

  /** SIGHUP: a new connection now (a new address if the name moved), keeping what waits. */
  reopen(): void {
    if (this.closing) return;
    this.backoff = BACKOFF_MIN_MS;
    this.up = false;
    this.disconnect();
    this.open();
  }

  /** Sends what is queued for at most `ms`, then closes; reports what could not be sent. */
  async shutdown(ms: number): Promise<void> {
    this.closing = true;
    // A peer that came back during a backoff wait gets one more chance now.
    if (!this.up && !this.connecting) this.open();
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && !(this.up && this.queue.length === 0 && this.drained()) && (this.up || this.connecting)) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    clearTimeout(this.retry);
    this.up = false;
    this.disconnect();
    const unsent = this.queue.take(this.queue.length).length;
    if (unsent > 0 || this.dropped > 0) {
      this.report(`syslog ${this.where}: closing with ${unsent} lines not sent${this.droppedSince()}`);
    }
  }
}

/** TCP with octet-counting framing; what the socket had not taken when it broke is sent again. */
class TcpTransport extends SyslogTransport {
  private socket?: net.Socket;
  /** The messages of each write whose callback has not come: not yet taken by the kernel. */
  private inflight: string[][] = [];

  constructor(private readonly host: string, private readonly port: number, header: () => string, report: Report) {
    super(`tcp ${net.isIPv6(host) ? `[${host}]` : host}:${port}`, header, report);
    this.open();
  }

  protected override frame(msg: string): string {
    return `${Buffer.byteLength(msg)} ${msg}`;
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
      if (s === this.socket) this.onUp();
    });
    s.on('drain', () => {
      if (s === this.socket) this.flush();
    });
    s.on('error', (e) => (lastError = e));
    s.on('close', () => {
      if (s !== this.socket) return;
      const wasUp = this.up;
      this.disconnect();
      this.onDown(wasUp ? 'connection lost' : 'cannot connect', lastError ?? new Error('closed by the peer'));
    });
  }

  /** One write per flush: the whole queue, joined. Waits for 'drain' while the socket is full. */
  protected flush(): void {
    const s = this.socket!;
    if (this.queue.length === 0 || s.writableNeedDrain) return;
    const msgs = this.queue.take(this.queue.length);
    const inflight = this.inflight;
    inflight.push(msgs);
    // Callbacks come in write order; an error means the socket is gone and
    // 'close' has put (or will put) the rest back in the queue.
    s.write(msgs.join(''), (err) => {
      if (!err && inflight[0] === msgs) inflight.shift();
    });
  }

  protected disconnect(): void {
    const s = this.socket;
    this.socket = undefined;
    // Not taken by the kernel: sent again on the next connection. (Of a
    // write the kernel took in part, the first messages may arrive twice.)
    this.queue.putBack(this.inflight.flat());
    this.inflight = [];
    if (!s) return;
    s.removeAllListeners('error');
    s.on('error', () => {});
    // At close, with everything taken by the kernel: a clean FIN after it.
    if (this.closing && s.writableLength === 0) s.end(() => s.destroy());
    else s.destroy();
  }

  protected drained(): boolean {
    return this.inflight.length === 0;
  }
}

const NO_HEAD = Buffer.alloc(0);

/** How long one wait for room in the receiver's queue lasts before it is tried again. */
const WRITABLE_WAIT_MS = 1000;

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

  /**
   * Straight from the batch's bytes when nothing waits before them: no
   * string per line. What is not sent then (the socket is full, or a send
   * failed) is queued as messages and handled by flush().
   */
  protected override send(head: string, bytes: Buffer, from: number): void {
    const s = this.socket;
    if (s && this.up && !this.waiting && this.queue.length === 0) {
      const r = s.sendLines(Buffer.from(head), from === 0 ? bytes : bytes.subarray(from));
      from += r.at;
      // Reported here, as flush() would (it meets EAGAIN and EMSGSIZE
      // again, and a lost unix receiver; an ICMP error it would not).
      if (r.error && r.error !== 'EAGAIN' && r.error !== 'EMSGSIZE') this.sendFailed(r.error);
    }
    super.send(head, bytes, from);
  }

  protected flush(): void {
    const s = this.socket;
    // A message whose send failed is tried once more: on a connected UDP
    // socket the error is an earlier datagram's ICMP reply, and this one
    // was not sent.
    let retried = false;
    while (s && !this.waiting && this.queue.length > 0) {
      const msgs = this.queue.take(this.queue.length);
      // Messages hold no newline: they are one datagram each.
      const r = s.sendLines(NO_HEAD, Buffer.from(`${msgs.join('\n')}\n`));
      if (r.error === null || r.error === undefined) continue;
      let from = r.sent;
      if (r.error === 'EAGAIN') {
        this.waitForRoom(s);
      } else if (r.error === 'EMSGSIZE') {
        this.discard({ code: r.error });
        from++;
      } else if (!this.sendFailed(r.error)) {
        this.queue.putBack(msgs.slice(from));
        this.disconnect();
        this.onDown('connection lost', { code: r.error });
        return;
      } else if (retried && r.sent === 0) {
        from++; // failed twice: lost
        retried = false;
      } else {
        retried = true;
      }
      this.queue.putBack(msgs.slice(from));
    }
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
class UnixTransport extends DatagramTransport {
  constructor(private readonly path: string, header: () => string, report: Report) {
    super(`socket ${path}`, header, report);
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
class UdpTransport extends DatagramTransport {
  /** Tells a lookup that finishes after reopen() or close() that it is stale. */
  private generation = 0;
  private failures = 0;
  private lastReport = 0;

  constructor(private readonly host: string, private readonly port: number, header: () => string, report: Report) {
    super(`udp ${net.isIPv6(host) ? `[${host}]` : host}:${port}`, header, report);
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
    this.failures++;
    const now = Date.now();
    if (this.lastReport === 0 || now - this.lastReport >= UDP_REPORT_EVERY_MS) {
      this.report(
        this.lastReport === 0
          ? `syslog ${this.where}: send failed: ${code}; UDP does not resend: lines sent while this lasts are lost`
          : `syslog ${this.where}: ${this.failures} sends failed since the last report (last: ${code})`,
      );
      this.lastReport = now;
      this.failures = 0;
    }
    return true;
  }
}

/** The errno name the binding's errors carry as `code` ("ENOENT"). */
function errnoOf(e: unknown): { code: string } {
  const err = e as NodeJS.ErrnoException;
  return { code: err.code ?? err.message };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

/** `Mmm dd hh:mm:ss`, local time, the day space-padded: syslog(3)'s timestamp. */
function bsdTime(d: Date): string {
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** RFC 5424 HOSTNAME: printable ASCII, no spaces, at most 255; `-` when there is none. */
function hostname(): string {
  const h = os.hostname();
  return /^[\x21-\x7e]{1,255}$/.test(h) ? h : '-';
}

/** Everything before MSG, made once per batch (one timestamp for the batch's lines). */
function headerFor(opts: SyslogOptions): () => string {
  const pri = FACILITIES.indexOf(opts.facility) * 8 + SEVERITY_INFO;
  if (pri < 0) throw new OutputError(`syslog_facility: unknown facility ${JSON.stringify(opts.facility)}`);
  const pid = process.pid;
  if (opts.host === '') return () => `<${pri}>${bsdTime(new Date())} ${opts.tag}[${pid}]: `;
  const host = hostname();
  return () => `<${pri}>1 ${new Date().toISOString()} ${host} ${opts.tag} ${pid} - - `;
}

export function syslogSink(opts: SyslogOptions, report: Report): EventSink {
  const header = headerFor(opts);
  const transport: SyslogTransport =
    opts.host === ''
      ? new UnixTransport(opts.socket, header, report)
      : opts.protocol === 'tcp'
        ? new TcpTransport(opts.host, opts.port, header, report)
        : new UdpTransport(opts.host, opts.port, header, report);
  const logger = batchLogger(transport);
  // The transports never emit 'error'; this only keeps winston from throwing if one did.
  logger.on('error', (e: Error) => report(`syslog: ${e.message}`));
  let closed: Promise<void> | undefined;
  return {
    write(bytes, done) {
      if (closed) {
        let lines = 0;
        for (let at = bytes.indexOf(0x0a); at >= 0; at = bytes.indexOf(0x0a, at + 1)) lines++;
        report(`syslog: ${lines} lines came after the output was closed; not sent`);
        done();
        return;
      }
      logBatch(logger, bytes, done);
    },
    reopen() {
      transport.reopen();
    },
    close() {
      closed ??= (async () => {
        // Let winston hand over every entry already logged, then flush.
        const finished = new Promise<void>((resolve) => transport.once('finish', resolve));
        logger.end();
        await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, 100))]);
        await transport.shutdown(CLOSE_WAIT_MS);
      })();
      return closed;
    },
  };
}
