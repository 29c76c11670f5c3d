/**
 * IPFIX messages (RFC 7011 §3.1): a 16-byte header, then sets. Records
 * come framed as one-record sets (record.ts); a run of records of the same
 * template becomes one set, and messages are filled up to a size that a
 * datagram carries without fragments.
 */
import { templateSets } from './template.js';

export const IPFIX_VERSION = 10;
export const HEADER_BYTES = 16;
/** A set's header: its id and length. */
const SET_HEAD = 4;

/** Where a message's header says who sent it and what came before. */
export interface Session {
  /** The observation domain id (ipfix_domain_id). */
  domain: number;
  /**
   * Data records sent before, in this transport session, modulo 2^32
   * (RFC 7011 §3.1: template records are not counted).
   */
  sequence: number;
}

function header(out: Buffer, at: number, length: number, exportSecs: number, s: Session): void {
  out.writeUInt16BE(IPFIX_VERSION, at);
  out.writeUInt16BE(length, at + 2);
  out.writeUInt32BE(exportSecs >>> 0, at + 4);
  out.writeUInt32BE(s.sequence >>> 0, at + 8);
  out.writeUInt32BE(s.domain >>> 0, at + 12);
}

/** The messages that announce every template, each at most `size` bytes. */
export function templateMessages(size: number, exportSecs: number, s: Session): Buffer[] {
  return templateSets(size - HEADER_BYTES).map((set) => {
    const msg = Buffer.allocUnsafe(HEADER_BYTES + set.length);
    header(msg, 0, msg.length, exportSecs, s);
    set.copy(msg, HEADER_BYTES);
    return msg;
  });
}

/** Messages built from records, back to back. */
export interface Packed {
  bytes: Buffer;
  /** Where each message ends in `bytes`. */
  ends: Uint32Array;
  /** How many records each message holds. */
  records: number[];
}

/**
 * Packs framed records (each a one-record set: id, length, record) into
 * messages of at most `size` bytes, in order, numbering them from
 * `s.sequence` on (which it leaves as it is: only records sent count).
 * Consecutive records of one template share a set.
 */
export function pack(framed: readonly Buffer[], size: number, exportSecs: number, s: Session): Packed {
  let total = 0;
  for (const r of framed) total += r.length;
  // Each record brings its set header and at most one message header.
  const out = Buffer.allocUnsafe(total + HEADER_BYTES * framed.length);
  const ends: number[] = [];
  const records: number[] = [];
  let sequence = s.sequence;
  let msgStart = 0;
  let pos = 0;
  let setStart = -1;
  let setId = -1;
  let inMsg = 0;
  const closeSet = () => {
    if (setStart >= 0) out.writeUInt16BE(pos - setStart, setStart + 2);
    setStart = -1;
    setId = -1;
  };
  const closeMsg = () => {
    closeSet();
    header(out, msgStart, pos - msgStart, exportSecs, { domain: s.domain, sequence });
    ends.push(pos);
    records.push(inMsg);
    sequence = (sequence + inMsg) >>> 0;
    inMsg = 0;
  };
  for (const r of framed) {
    const id = r.readUInt16BE(0);
    const body = r.length - SET_HEAD;
    const joins = inMsg > 0 && id === setId;
    const need = joins ? body : r.length;
    if (inMsg > 0 && pos - msgStart + need > size) closeMsg();
    if (inMsg === 0) {
      msgStart = pos;
      pos += HEADER_BYTES;
    }
    if (id !== setId) {
      closeSet();
      setStart = pos;
      setId = id;
      out.writeUInt16BE(id, pos);
      pos += SET_HEAD;
    }
    r.copy(out, pos, SET_HEAD);
    pos += body;
    inMsg++;
  }
  if (inMsg > 0) closeMsg();
  return { bytes: out.subarray(0, pos), ends: Uint32Array.from(ends), records };
}

/** The framed records in a batch's bytes, each as a view (record.ts frames each as id, length, record). */
export function framedRecords(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at + SET_HEAD <= bytes.length; ) {
    const len = bytes.readUInt16BE(at + 2);
    if (len < SET_HEAD || at + len > bytes.length) break;
    out.push(bytes.subarray(at, at + len));
    at += len;
  }
  return out;
}
