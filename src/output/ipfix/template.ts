/**
 * What an IPFIX data record of ctlogd holds: the information elements
 * (IANA's numbers and names, RFC 7011 §3.2, RFC 8158), which of them each
 * kind of record carries, and the templates that announce them. This table
 * is the one source of the record layout: the encoder (record.ts), the
 * template sets and the README's field table (scripts/config-doc.ts) are
 * made from it.
 */
import type { ConntrackEvent, EventType } from '../../event.js';

/** The events with a record: a connection's start and end (an UPDATE has no NAT event). */
export const IPFIX_TYPES: readonly EventType[] = ['new', 'destroy'];

/**
 * A record's kind, as bits: the family, whether the connection is
 * translated, whether it is the connection's end (DESTROY), and what the
 * kernel sent (counters need nf_conntrack_acct, a start time
 * nf_conntrack_timestamp). Each kind has a template of its own, with the
 * id TEMPLATE_BASE + kind: a record never carries a made-up zero for a
 * value the kernel did not give.
 */
export const KIND = { V6: 1, NAT: 2, END: 4, COUNTERS: 8, START: 16 } as const;

/** Template ids start here (RFC 7011 §3.4.1: 0-255 are set ids). */
export const TEMPLATE_BASE = 256;

/** The values of natEvent (IE 230): RFC 8158's, or the generic first ones, for collectors that know only those. */
export const NAT_EVENTS = {
  rfc8158: { create: 4, delete: 5 },
  legacy: { create: 1, delete: 2 },
} as const;

/**
 * IPv6-to-IPv6 translation (Linux's NAT66, NPTv6) has no session event in
 * IANA's natEvent registry (RFC 8158 has NAT44 and NAT64): it is sent as
 * the generic "NAT translation create/delete", 1 and 2, in both modes.
 */
export const NAT66_EVENTS = NAT_EVENTS.legacy;

export interface Field {
  /** IANA information element id. */
  ie: number;
  name: string;
  /** Bytes on the wire. */
  length: number;
  /** Which kinds carry it. */
  in(kind: number): boolean;
  /** What the README says it holds. */
  doc: string;
}

const always = () => true;
const v4 = (k: number) => (k & KIND.V6) === 0;
const v6 = (k: number) => (k & KIND.V6) !== 0;
const nat = (k: number) => (k & KIND.NAT) !== 0;
const nat4 = (k: number) => nat(k) && v4(k);
const nat6 = (k: number) => nat(k) && v6(k);
const end = (k: number) => (k & KIND.END) !== 0;
const started = (k: number) => (k & KIND.END) === 0 || (k & KIND.START) !== 0;
const counted = (k: number) => (k & KIND.COUNTERS) !== 0;

/** In the order they are on the wire. */
export const FIELDS: readonly Field[] = [
  { ie: 148, name: 'flowId', length: 8, in: always, doc: "The conntrack entry's id (CTA_ID): the same in a connection's NEW and DESTROY records." },
  {
    ie: 323,
    name: 'observationTimeMilliseconds',
    length: 8,
    in: always,
    doc: 'When the kernel made the event (its event time; without it, when ctlogd read the event).',
  },
  {
    ie: 152,
    name: 'flowStartMilliseconds',
    length: 8,
    in: started,
    doc: "When the connection started: the kernel's start time (nf_conntrack_timestamp); a NEW record without it has the event's time. A DESTROY without a start time has no flowStart.",
  },
  { ie: 153, name: 'flowEndMilliseconds', length: 8, in: end, doc: "DESTROY: when the connection ended (the kernel's stop time, else the event's time)." },
  {
    ie: 230,
    name: 'natEvent',
    length: 1,
    in: nat,
    doc: 'Translated connections: 4 at NEW and 5 at DESTROY (RFC 8158 NAT44 session create / delete), 1 and 2 with `ipfix_nat_event: "legacy"`; IPv6-to-IPv6 NAT, for which IANA has no session event, is always 1 and 2.',
  },
  { ie: 4, name: 'protocolIdentifier', length: 1, in: always, doc: 'IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...).' },
  { ie: 8, name: 'sourceIPv4Address', length: 4, in: v4, doc: "Pre-NAT source: the original tuple's source." },
  { ie: 12, name: 'destinationIPv4Address', length: 4, in: v4, doc: "Pre-NAT destination: the original tuple's destination." },
  { ie: 27, name: 'sourceIPv6Address', length: 16, in: v6, doc: 'IPv6: pre-NAT source.' },
  { ie: 28, name: 'destinationIPv6Address', length: 16, in: v6, doc: 'IPv6: pre-NAT destination.' },
  {
    ie: 7,
    name: 'sourceTransportPort',
    length: 2,
    in: always,
    doc: 'Pre-NAT source port; ICMP/ICMPv6: the query id; GRE: the source key; 0 for a protocol without ports.',
  },
  {
    ie: 11,
    name: 'destinationTransportPort',
    length: 2,
    in: always,
    doc: 'Pre-NAT destination port; GRE: the destination key; 0 for ICMP and protocols without ports.',
  },
  { ie: 225, name: 'postNATSourceIPv4Address', length: 4, in: nat4, doc: "Post-NAT source: the reply tuple's destination (SNAT, masquerade)." },
  { ie: 226, name: 'postNATDestinationIPv4Address', length: 4, in: nat4, doc: "Post-NAT destination: the reply tuple's source (DNAT)." },
  { ie: 281, name: 'postNATSourceIPv6Address', length: 16, in: nat6, doc: 'IPv6: post-NAT source.' },
  { ie: 282, name: 'postNATDestinationIPv6Address', length: 16, in: nat6, doc: 'IPv6: post-NAT destination.' },
  { ie: 227, name: 'postNAPTSourceTransportPort', length: 2, in: nat, doc: "Post-NAT source port: the reply tuple's destination port (ICMP: its query id)." },
  { ie: 228, name: 'postNAPTDestinationTransportPort', length: 2, in: nat, doc: "Post-NAT destination port: the reply tuple's source port." },
  { ie: 32, name: 'icmpTypeCodeIPv4', length: 2, in: v4, doc: 'ICMP: type × 256 + code; 0 for other protocols.' },
  { ie: 139, name: 'icmpTypeCodeIPv6', length: 2, in: v6, doc: 'ICMPv6: type × 256 + code; 0 for other protocols.' },
  {
    ie: 234,
    name: 'ingressVRFID',
    length: 4,
    in: always,
    doc: 'The conntrack zone (CTA_ZONE), 0 without one: zones are what separate VRFs in conntrack (VyOS gives each VRF its own).',
  },
  {
    ie: 1,
    name: 'octetDeltaCount',
    length: 8,
    in: counted,
    doc: 'DESTROY with nf_conntrack_acct: bytes of both directions together (what collectors that know no initiator/responder elements show, nfdump among them).',
  },
  { ie: 2, name: 'packetDeltaCount', length: 8, in: counted, doc: 'DESTROY with nf_conntrack_acct: packets of both directions together.' },
  { ie: 231, name: 'initiatorOctets', length: 8, in: counted, doc: 'DESTROY with nf_conntrack_acct: bytes from the initiator (original direction).' },
  { ie: 232, name: 'responderOctets', length: 8, in: counted, doc: 'DESTROY with nf_conntrack_acct: bytes from the responder (reply direction).' },
  { ie: 298, name: 'initiatorPackets', length: 8, in: counted, doc: 'DESTROY with nf_conntrack_acct: packets from the initiator.' },
  { ie: 299, name: 'responderPackets', length: 8, in: counted, doc: 'DESTROY with nf_conntrack_acct: packets from the responder.' },
];

/** Every kind a record can have: COUNTERS and START are bits of an END record only (a NEW has no counters, and always a start). */
export const KINDS: readonly number[] = Array.from({ length: 32 }, (_, k) => k).filter((k) => end(k) || (k & (KIND.COUNTERS | KIND.START)) === 0);

/** The fields of each kind, in wire order. */
export const KIND_FIELDS: readonly (readonly Field[])[] = Array.from({ length: 32 }, (_, k) => FIELDS.filter((f) => f.in(k)));

/** The bytes of one record of each kind. */
export const KIND_LENGTH: readonly number[] = KIND_FIELDS.map((fs) => fs.reduce((n, f) => n + f.length, 0));

/**
 * Whether the connection is translated: the reply tuple is not the
 * original one turned around (SNAT or masquerade changes where the reply
 * goes, DNAT where it comes from).
 */
export function translated(ev: ConntrackEvent): boolean {
  const o = ev.orig;
  const r = ev.reply;
  return o.src !== r.dst || o.dst !== r.src || o.sport !== r.dport || o.dport !== r.sport || o.icmpId !== r.icmpId;
}

/** The record kind of an event (NEW and DESTROY only: an UPDATE has no record). */
export function kindOf(ev: ConntrackEvent): number {
  let k = ev.family === 'ipv6' ? KIND.V6 : 0;
  if (translated(ev)) k |= KIND.NAT;
  if (ev.type === 'destroy') {
    k |= KIND.END;
    if (ev.origCounters && ev.replyCounters) k |= KIND.COUNTERS;
    if (ev.start !== undefined) k |= KIND.START;
  }
  return k;
}

/** Set id of template sets (RFC 7011 §3.3.2). */
export const TEMPLATE_SET_ID = 2;

/**
 * The template records of every kind (RFC 7011 §3.4.1: template id, field
 * count, then each field's id and length), as template sets of at most
 * `room` bytes each (a set never spans messages).
 */
export function templateSets(room: number): Buffer[] {
  const sets: Buffer[] = [];
  let records: Buffer[] = [];
  let bytes = 4;
  const close = () => {
    if (records.length === 0) return;
    const head = Buffer.alloc(4);
    head.writeUInt16BE(TEMPLATE_SET_ID, 0);
    head.writeUInt16BE(bytes, 2);
    sets.push(Buffer.concat([head, ...records]));
    records = [];
    bytes = 4;
  };
  for (const k of KINDS) {
    const fields = KIND_FIELDS[k];
    const rec = Buffer.alloc(4 + 4 * fields.length);
    rec.writeUInt16BE(TEMPLATE_BASE + k, 0);
    rec.writeUInt16BE(fields.length, 2);
    fields.forEach((f, i) => {
      rec.writeUInt16BE(f.ie, 4 + 4 * i);
      rec.writeUInt16BE(f.length, 6 + 4 * i);
    });
    if (bytes + rec.length > room) close();
    records.push(rec);
    bytes += rec.length;
  }
  close();
  return sets;
}
