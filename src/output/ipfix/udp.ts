/**
 * IPFIX over UDP (RFC 7011 §10.3): records wait in the syslog output's
 * queue (its bound, backoff and reports), and each flush packs the front
 * of the queue into messages of at most ipfix_message_size bytes, sent
 * many per system call. A record is written once the socket took its
 * message: UDP cannot tell whether it arrived.
 *
 * Templates go out before the first records of each socket and again,
 * before records, once ipfix_template_interval has passed since they last
 * did (§8.4), so a collector started or restarted later decodes from then
 * on. No timer: an idle exporter sends nothing. The sequence numbers go on
 * across sockets (a SIGHUP, a lost route): collectors such as nfcapd know
 * an exporter by its address and domain, not its port, and would count a
 * restart at 0 as lost records.
 */
import type { Datagram } from '../../native.js';
import type { Ledger } from '../ledger.js';
import type { BatchInfo, Report } from '../sink.js';
import { UdpTransport } from '../syslog/datagram.js';
import { pack, queueRecords, templateMessages, type Session } from './message.js';

/** Records one flush packs at most: about 20 full messages. */
const FLUSH_AT_ONCE = 256;

export interface IpfixOptions {
  domain: number;
  /** Largest message, in bytes. */
  messageSize: number;
  /** Templates are sent again once this long has passed since they last were. */
  templateIntervalMs: number;
}

const NO_HEADER = () => Buffer.alloc(0);
const nowSecs = () => Math.floor(Date.now() / 1000);

export class IpfixUdpTransport extends UdpTransport {
  private readonly session: Session;
  /** When templates last went out on this socket; 0: not yet. */
  private templatesAt = 0;

  constructor(
    host: string,
    port: number,
    private readonly opts: IpfixOptions,
    report: Report,
    ledger: Ledger,
  ) {
    super(host, port, NO_HEADER, report, ledger, 'ipfix');
    this.session = { domain: opts.domain, sequence: 0 };
  }

  /** One batch of framed records (record.ts), each queued with its kind. */
  override log(info: BatchInfo, next: () => void): void {
    queueRecords(info, (record, type) => this.enqueue(record, type));
    if (this.up) this.flush();
    next();
  }

  /** A new socket: the templates first. */
  protected override onUp(): void {
    this.templatesAt = 0;
    super.onUp();
  }

  protected override sendQueued(s: Datagram): { sent: number; error?: string | null } {
    const { messageSize, templateIntervalMs } = this.opts;
    const now = Date.now();
    if (this.templatesAt === 0 || now - this.templatesAt >= templateIntervalMs) {
      const msgs = templateMessages(messageSize, nowSecs(), this.session);
      const r = s.sendMessages(Buffer.concat(msgs), Uint32Array.from(ends(msgs)));
      // Templates not all taken: nothing after them goes yet.
      if (r.sent < msgs.length) return { sent: 0, error: r.error ?? 'EAGAIN' };
      this.templatesAt = now;
    }
    const p = pack(this.queue.peek(FLUSH_AT_ONCE), messageSize, nowSecs(), this.session);
    const r = s.sendMessages(p.bytes, p.ends);
    let sent = 0;
    for (let i = 0; i < r.sent; i++) sent += p.records[i];
    this.session.sequence = (this.session.sequence + sent) >>> 0;
    return { sent, error: r.error };
  }
}

/** Where each of `msgs` ends when they are joined. */
function ends(msgs: Buffer[]): number[] {
  let at = 0;
  return msgs.map((m) => (at += m.length));
}
