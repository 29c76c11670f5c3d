/**
 * IPFIX messages as each transport carries them (RFC 7011 §10). Records
 * come framed from the batch (record.ts), each queued as it is, and each
 * send packs the front of the queue into messages of at most
 * ipfix_message_size bytes (message.ts).
 *
 * Over UDP (§10.3) one message is one datagram, sent many per system call,
 * and a record is written once the socket took its message: UDP cannot
 * tell whether it arrived. Templates go out before the first records of
 * each socket and again, before records, once ipfix_template_interval has
 * passed since they last did (§8.4), so a collector started or restarted
 * later decodes from then on. No timer: an idle exporter sends nothing.
 * The sequence numbers go on across sockets (a SIGHUP, a lost route):
 * collectors such as nfcapd know an exporter by its address and domain,
 * not its port, and would count a restart at 0 as lost records.
 *
 * Over TCP (§10.4) one connection is one transport session: it starts with
 * the templates and sequence number 0, and a record is written once the
 * write that carried it was acknowledged whole; records a broken
 * connection had not had acknowledged are packed again on the next one.
 * No template is sent again within a session: over TCP the collector keeps
 * them (§8.3).
 */
import type { Datagram } from '../../native.js';
import type { Lines } from '../ledger.js';
import type { DatagramFraming, Framer, Outbox, Sent, StreamFraming } from '../net/framer.js';
import { framedRecords, pack, templateMessages, type Session } from './message.js';

export interface IpfixOptions {
  domain: number;
  /** Largest message, in bytes. */
  messageSize: number;
  /** Over UDP, templates are sent again once this long has passed since they last were. */
  templateIntervalMs: number;
}

const nowSecs = () => Math.floor(Date.now() / 1000);

/** Queues each framed record of a batch with its kind, as a copy (the batch's memory is reused once it is done). */
function queueRecords({ bytes, kinds }: Lines, out: Outbox): void {
  const records = framedRecords(bytes);
  for (let i = 0; i < records.length; i++) out.push(Buffer.from(records[i]), kinds[i]);
}

/** Where each of `msgs` ends when they are joined. */
function ends(msgs: Buffer[]): number[] {
  let at = 0;
  return msgs.map((m) => (at += m.length));
}

export class IpfixDatagrams implements Framer, DatagramFraming {
  private readonly session: Session;
  /** When templates last went out on this socket; 0: not yet. */
  private templatesAt = 0;

  constructor(private readonly opts: IpfixOptions) {
    this.session = { domain: opts.domain, sequence: 0 };
  }

  batch(lines: Lines, out: Outbox): void {
    queueRecords(lines, out);
  }

  /** A new socket: the templates first. */
  fresh(): void {
    this.templatesAt = 0;
  }

  send(s: Datagram, front: Buffer[]): Sent {
    const { messageSize, templateIntervalMs } = this.opts;
    const now = Date.now();
    if (this.templatesAt === 0 || now - this.templatesAt >= templateIntervalMs) {
      const msgs = templateMessages(messageSize, nowSecs(), this.session);
      const r = s.sendMessages(Buffer.concat(msgs), Uint32Array.from(ends(msgs)));
      // Templates not all taken: nothing after them goes yet.
      if (r.sent < msgs.length) return { sent: 0, error: r.error ?? 'EAGAIN' };
      this.templatesAt = now;
    }
    const p = pack(front, messageSize, nowSecs(), this.session);
    const r = s.sendMessages(p.bytes, p.ends);
    let sent = 0;
    for (let i = 0; i < r.sent; i++) sent += p.records[i];
    this.session.sequence = (this.session.sequence + sent) >>> 0;
    return { sent, error: r.error };
  }
}

export class IpfixStream implements Framer, StreamFraming {
  private readonly session: Session;

  constructor(private readonly opts: IpfixOptions) {
    this.session = { domain: opts.domain, sequence: 0 };
  }

  batch(lines: Lines, out: Outbox): void {
    queueRecords(lines, out);
  }

  /** A new connection: a new session, which begins with every template. */
  greeting(): Buffer {
    this.session.sequence = 0;
    return Buffer.concat(templateMessages(this.opts.messageSize, nowSecs(), this.session));
  }

  encode(msgs: Buffer[]): Buffer {
    const p = pack(msgs, this.opts.messageSize, nowSecs(), this.session);
    this.session.sequence = (this.session.sequence + msgs.length) >>> 0;
    return p.bytes;
  }
}
