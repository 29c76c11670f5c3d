/** Syslog over TCP, with RFC 6587 octet-counting framing (`LEN SP MSG`). */
import net from 'node:net';
import type { Report } from '../sink.js';
import { peerName, SyslogTransport } from './connection.js';

/** A TCP connect to a host that does not answer gives up after this. */
const CONNECT_TIMEOUT_MS = 5_000;

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

/** TCP with octet-counting framing; what the socket had not taken when it broke is sent again. */
export class TcpTransport extends SyslogTransport {
  private socket?: net.Socket;
  /** The messages of each write whose callback has not come: not yet taken by the kernel. */
  private inflight: Buffer[][] = [];

  constructor(
    private readonly host: string,
    private readonly port: number,
    header: () => Buffer,
    report: Report,
  ) {
    super(peerName('tcp', host, port), header, report);
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
    s.write(Buffer.concat(msgs), (err) => {
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
