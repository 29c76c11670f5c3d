/**
 * One event as one IPFIX data record, written into the batch's bytes in
 * place of a line: the record framed as a set of its own (its template id
 * and length, RFC 7011 §3.3.2), so that the exporter can find each record
 * and join a run of the same template into one set (message.ts). The
 * fields and their order are template.ts's.
 */
import type { ConntrackEvent, Time, Tuple } from '../../event.js';
import { IPPROTO } from '../../names.js';
import type { LineWriter } from '../../format/line.js';
import { KIND, KIND_LENGTH, kindOf, NAT66_EVENTS, NAT_EVENTS, TEMPLATE_BASE } from './template.js';

export type NatEventMode = keyof typeof NAT_EVENTS;

/** Bytes of each address text seen, bounded: a router's few addresses recur. */
const ADDR_BYTES = new Map<string, Uint8Array>();
const ADDR_BYTES_MAX = 65536;

/** An inet_ntop text (what wire.ts makes) back to its bytes; zeros for none. */
export function addressBytes(text: string | undefined, v6: boolean): Uint8Array {
  if (text === undefined) return v6 ? ZERO16 : ZERO4;
  let b = ADDR_BYTES.get(text);
  if (b === undefined) {
    b = v6 ? parseV6(text) : parseV4(text);
    if (ADDR_BYTES.size >= ADDR_BYTES_MAX) ADDR_BYTES.clear();
    ADDR_BYTES.set(text, b);
  }
  return b;
}

const ZERO4 = new Uint8Array(4);
const ZERO16 = new Uint8Array(16);

function parseV4(text: string): Uint8Array {
  const out = new Uint8Array(4);
  const parts = text.split('.');
  for (let i = 0; i < 4; i++) out[i] = Number(parts[i]) | 0;
  return out;
}

/** IPv6 text: groups, at most one `::`, an IPv4 tail (`::ffff:1.2.3.4`). */
function parseV6(text: string): Uint8Array {
  const out = new Uint8Array(16);
  const groups = (s: string): number[] => {
    if (s === '') return [];
    const g: number[] = [];
    for (const part of s.split(':')) {
      if (part.includes('.')) {
        const q = parseV4(part);
        g.push((q[0] << 8) | q[1], (q[2] << 8) | q[3]);
      } else g.push(Number.parseInt(part, 16) | 0);
    }
    return g;
  };
  const cut = text.indexOf('::');
  const head = groups(cut < 0 ? text : text.slice(0, cut));
  const tail = cut < 0 ? [] : groups(text.slice(cut + 2));
  const all = [...head, ...new Array<number>(Math.max(0, 8 - head.length - tail.length)).fill(0), ...tail];
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i] >> 8;
    out[2 * i + 1] = all[i];
  }
  return out;
}

const isIcmp = (proto: number): boolean => proto === IPPROTO.ICMP || proto === IPPROTO.ICMPV6;

/** The source "port" of a tuple: the port, ICMP's query id, GRE's key; 0 without one. */
const srcPort = (t: Tuple, icmp: boolean): number => (icmp ? t.icmpId : t.sport) ?? 0;
const dstPort = (t: Tuple, icmp: boolean): number => (icmp ? 0 : (t.dport ?? 0));

/** A moment in ms since the epoch (IPFIX's dateTimeMilliseconds). */
const ms = (t: Time): number => t.sec * 1000 + Math.floor(t.nsec / 1e6);

/** Writes NEW and DESTROY events as records; true if it wrote one (an UPDATE has none). */
export function recordWriter(mode: NatEventMode): (ev: ConntrackEvent, w: LineWriter) => boolean {
  const events = NAT_EVENTS[mode];
  return (ev, w) => {
    if (ev.type === 'update') return false;
    const k = kindOf(ev);
    const v6 = (k & KIND.V6) !== 0;
    const translated = (k & KIND.NAT) !== 0;
    const icmp = isIcmp(ev.proto);
    const o = ev.orig;
    const r = ev.reply;
    const observed = ms(ev.eventTime ?? ev.time);
    w.u16(TEMPLATE_BASE + k);
    w.u16(4 + KIND_LENGTH[k]);
    // In template.ts's FIELDS order.
    w.u64(ev.id ?? 0);
    w.u64(observed);
    if (ev.type === 'new') w.u64(ev.start !== undefined ? ms(ev.start) : observed);
    else {
      if (ev.start !== undefined) w.u64(ms(ev.start));
      w.u64(ev.stop !== undefined ? ms(ev.stop) : observed);
    }
    if (translated) {
      const e = v6 ? NAT66_EVENTS : events;
      w.byte(ev.type === 'new' ? e.create : e.delete);
    }
    w.byte(ev.proto);
    w.bytes(addressBytes(o.src, v6));
    w.bytes(addressBytes(o.dst, v6));
    w.u16(srcPort(o, icmp));
    w.u16(dstPort(o, icmp));
    if (translated) {
      w.bytes(addressBytes(r.dst, v6));
      w.bytes(addressBytes(r.src, v6));
      w.u16(icmp ? (r.icmpId ?? 0) : (r.dport ?? 0));
      w.u16(icmp ? 0 : (r.sport ?? 0));
    }
    w.u16(icmp ? ((o.icmpType ?? 0) << 8) | (o.icmpCode ?? 0) : 0);
    w.u32(ev.zone ?? 0);
    if (k & KIND.COUNTERS) {
      const oc = ev.origCounters!;
      const rc = ev.replyCounters!;
      w.u64(oc.bytes + rc.bytes);
      w.u64(oc.packets + rc.packets);
      w.u64(oc.bytes);
      w.u64(rc.bytes);
      w.u64(oc.packets);
      w.u64(rc.packets);
    }
    return true;
  };
}
