/**
 * An IPFIX reader for tests (RFC 7011 §3), written from the RFC and not
 * from ctlogd's encoder: headers, template sets and data sets, with every
 * length checked. The real collectors (nfcapd, nfacctd) are the other
 * check; this one shows every field ctlogd sent, by IANA number.
 */

export interface Header {
  version: number;
  length: number;
  exportTime: number;
  sequence: number;
  domain: number;
}

export interface DataRecord {
  templateId: number;
  /** Field values by IE number: numbers up to 32 bits, bigint for 64, address bytes as text. */
  fields: Map<number, number | bigint | string>;
}

export interface Decoded {
  header: Header;
  templates: Array<{ id: number; fields: Array<[ie: number, length: number]> }>;
  /** Data sets: their set id and records. */
  sets: Array<{ id: number; records: DataRecord[] }>;
}

function ip(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  // Not compressed: compared with a normalized form by the tests.
  return groups.join(':');
}

/** An IPv6 text in the full, uncompressed form ip() gives. */
export function fullV6(text: string): string {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const all = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t];
  return all.map((g) => Number.parseInt(g, 16).toString(16)).join(':');
}

/** The address IEs: their values are shown as text. */
const ADDRESS_IES = new Set([8, 12, 225, 226, 27, 28, 281, 282]);

/** Decodes one message with the templates known so far (updated in place). */
export function decodeMessage(msg: Buffer, known: Map<number, Array<[number, number]>>): Decoded {
  if (msg.length < 16) throw new Error(`message of ${msg.length} bytes: shorter than a header`);
  const header: Header = {
    version: msg.readUInt16BE(0),
    length: msg.readUInt16BE(2),
    exportTime: msg.readUInt32BE(4),
    sequence: msg.readUInt32BE(8),
    domain: msg.readUInt32BE(12),
  };
  if (header.version !== 10) throw new Error(`version ${header.version}`);
  if (header.length !== msg.length) throw new Error(`header length ${header.length}, message ${msg.length}`);
  const out: Decoded = { header, templates: [], sets: [] };
  for (let at = 16; at < msg.length; ) {
    if (at + 4 > msg.length) throw new Error(`set header cut at ${at}`);
    const id = msg.readUInt16BE(at);
    const len = msg.readUInt16BE(at + 2);
    if (len < 4 || at + len > msg.length) throw new Error(`set ${id} at ${at}: length ${len} past the message`);
    const body = msg.subarray(at + 4, at + len);
    if (id === 2) {
      for (let p = 0; p + 4 <= body.length; ) {
        const tid = body.readUInt16BE(p);
        const n = body.readUInt16BE(p + 2);
        p += 4;
        const fields: Array<[number, number]> = [];
        for (let i = 0; i < n; i++, p += 4) {
          if (p + 4 > body.length) throw new Error(`template ${tid} cut`);
          const ie = body.readUInt16BE(p);
          if (ie & 0x8000) throw new Error(`template ${tid}: enterprise IE ${ie}`);
          fields.push([ie, body.readUInt16BE(p + 2)]);
        }
        known.set(tid, fields);
        out.templates.push({ id: tid, fields });
      }
    } else if (id >= 256) {
      const t = known.get(id);
      if (!t) throw new Error(`data set ${id} before its template`);
      const size = t.reduce((a, [, l]) => a + l, 0);
      if (body.length % size !== 0 || body.length < size) throw new Error(`set ${id}: ${body.length} bytes, records of ${size}`);
      const records: DataRecord[] = [];
      for (let p = 0; p + size <= body.length; p += size) {
        const fields = new Map<number, number | bigint | string>();
        let q = p;
        for (const [ie, l] of t) {
          const v = body.subarray(q, q + l);
          q += l;
          fields.set(ie, ADDRESS_IES.has(ie) ? ip(v) : l === 8 ? v.readBigUInt64BE() : l === 4 ? v.readUInt32BE() : l === 2 ? v.readUInt16BE() : v[0]);
        }
        records.push({ templateId: id, fields });
      }
      out.sets.push({ id, records });
    } else throw new Error(`set id ${id}`);
    at += len;
  }
  return out;
}

/** Every data record of a stream of messages, in order, with the headers checked for sequence. */
export function decodeStream(msgs: Buffer[]): { records: DataRecord[]; headers: Header[]; templates: Map<number, Array<[number, number]>> } {
  const known = new Map<number, Array<[number, number]>>();
  const records: DataRecord[] = [];
  const headers: Header[] = [];
  for (const m of msgs) {
    const d = decodeMessage(m, known);
    headers.push(d.header);
    for (const s of d.sets) records.push(...s.records);
  }
  return { records, headers, templates: known };
}
