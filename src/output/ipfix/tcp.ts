/**
 * IPFIX over TCP (RFC 7011 §10.4): one connection is one transport
 * session. Records wait in the queue of the syslog output's stream
 * transport (its bound, backoff, reports, and its count of what the
 * collector's TCP acknowledged: a record is written once the write that
 * carried it was acknowledged whole), and each write packs the front of
 * the queue into messages. Every connection starts with the templates and
 * sequence number 0; records a broken connection had not had acknowledged
 * are packed again on the next one. No template is sent again within a
 * session: over TCP the collector keeps them (§8.3).
 */
import type { Ledger } from '../ledger.js';
import type { BatchInfo, Report } from '../sink.js';
import { peerName } from '../syslog/connection.js';
import type { Run } from '../syslog/queue.js';
import { TcpTransport } from '../syslog/tcp.js';
import { pack, queueRecords, templateMessages, type Session } from './message.js';
import type { IpfixOptions } from './udp.js';

const NO_HEADER = () => Buffer.alloc(0);
const nowSecs = () => Math.floor(Date.now() / 1000);

export class IpfixTcpTransport extends TcpTransport {
  private readonly session: Session;

  constructor(
    host: string,
    port: number,
    private readonly opts: IpfixOptions,
    report: Report,
    ledger: Ledger,
  ) {
    super({ host, port, where: `ipfix ${peerName('tcp', host, port)}` }, NO_HEADER, report, ledger);
    this.session = { domain: opts.domain, sequence: 0 };
  }

  /** One batch of framed records (record.ts), each queued with its kind. */
  override log(info: BatchInfo, next: () => void): void {
    queueRecords(info, (record, type) => this.enqueue(record, type));
    if (this.up) this.flush();
    next();
  }

  /** A new connection: a new session, which begins with every template. */
  protected override greeting(): Buffer {
    this.session.sequence = 0;
    return Buffer.concat(templateMessages(this.opts.messageSize, nowSecs(), this.session));
  }

  protected override encode(run: Run): Buffer {
    const p = pack(run.msgs, this.opts.messageSize, nowSecs(), this.session);
    this.session.sequence = (this.session.sequence + run.msgs.length) >>> 0;
    return p.bytes;
  }
}
