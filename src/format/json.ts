/**
 * The `json` output format: one JSON object per event, one line,
 * described by schema/event.schema.json.
 *
 * The line is written piece by piece into the batch's bytes rather than by
 * JSON.stringify on an object: it runs once per event at up to ~200k
 * events/s, and 64-bit values (times in ns, counters) are written as
 * decimal strings so that no reader rounds them into a JSON double.
 */
import { EVENT_TYPES, IPS, spanNs, timeText, type ConntrackEvent, type Counters, type EventType, type Family, type Time, type Tuple } from '../event.js';
import { IPPROTO } from '../names.js';
import { defineFormat } from './definition.js';
import { ascii, lineOf, type LineWriter } from './line.js';

const QUOTE = 0x22;

const FAMILY_NUM = { ipv4: 2, ipv6: 10 } as const;

/** IPS_* name per bit number, from the table in event.ts; unknown bits are BIT_n. */
const STATUS_NAMES: string[] = (() => {
  const names: string[] = [];
  for (let bit = 0; bit < 32; bit++) names.push(`"BIT_${bit}"`);
  for (const [name, value] of Object.entries(IPS)) names[31 - Math.clz32(value)] = `"${name}"`;
  return names;
})();

/** Two lower-case hex digits per byte value. */
const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** The last whole second formatted: events arrive in time order, so most share it. */
let lastSecs = -1;
let lastPrefix = '';

/**
 * ISO-8601 UTC with all nine fractional digits. Date only holds
 * milliseconds, so it is used for whole seconds only (exact) and the
 * nanoseconds are appended.
 */
export function isoNs(t: Time): string {
  if (t.sec !== lastSecs) {
    // toISOString gives YYYY-MM-DDTHH:MM:SS.000Z; keep up to the seconds.
    lastPrefix = new Date(t.sec * 1000).toISOString().slice(0, -5);
    lastSecs = t.sec;
  }
  return `${lastPrefix}.${String(t.nsec).padStart(9, '0')}Z`;
}

/**
 * The bytes of `,"status":[names],"status_bits":N` per CTA_STATUS value, names
 * lowest bit first (`["SEEN_REPLY","ASSURED"]`): a few values recur.
 */
const STATUS_MEMBERS = new Map<number, Uint8Array>();

function statusMembers(bits: number): Uint8Array {
  let made = STATUS_MEMBERS.get(bits);
  if (made !== undefined) return made;
  let names = '';
  for (let bit = 0; bit < 32; bit++) {
    if (bits & (1 << bit)) names += names === '' ? STATUS_NAMES[bit] : `,${STATUS_NAMES[bit]}`;
  }
  // >>> 0 keeps bit 31 unsigned.
  made = ascii(`,"status":[${names}],"status_bits":${bits >>> 0}`);
  if (STATUS_MEMBERS.size < 4096) STATUS_MEMBERS.set(bits, made);
  return made;
}

/** Lower-case hex of the bytes, in order. */
function hex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]];
  return out;
}

/** `,"name":N` */
function num(w: LineWriter, name: Uint8Array, n: number): void {
  w.bytes(name);
  w.num(n);
}

/** `,"name":"N"` for a time in ns. */
function time(w: LineWriter, name: Uint8Array, t: Time): void {
  w.bytes(name);
  w.time(t);
  w.byte(QUOTE);
}

/** A member's name as bytes, as the first member (`"name":`) and after another (`,"name":`). */
interface Key {
  first: Uint8Array;
  next: Uint8Array;
}

function keyOf(name: string): Key {
  return { first: ascii(name), next: ascii(`,${name}`) };
}

/** `"name":` after a comma unless it is the first member. */
function key(w: LineWriter, first: boolean, name: Key): false {
  w.bytes(first ? name.first : name.next);
  return false;
}

/**
 * One direction as an object, with its counters when given. Addresses come
 * from the decoder's inet_ntop-style text (digits, hex, '.', ':'), so they
 * are written without escaping.
 */
export function writeTuple(w: LineWriter, t: Tuple, gre: boolean, c: Counters | undefined): void {
  let first = true;
  w.byte(0x7b); // {
  if (t.src !== undefined) {
    first = key(w, first, K_SRC);
    w.str(t.src);
    w.byte(QUOTE);
  }
  if (t.dst !== undefined) {
    first = key(w, first, K_DST);
    w.str(t.dst);
    w.byte(QUOTE);
  }
  first = writeTupleMembers(w, t, gre, first, true);
  if (c !== undefined) {
    key(w, first, K_PACKETS);
    w.num(c.packets);
    w.bytes(K_BYTES);
    w.num(c.bytes);
    w.byte(QUOTE);
  }
  w.byte(0x7d); // }
}

/**
 * A tuple's members after its addresses, each `"name":value` after a comma
 * unless it is the `first` member: its ports (GRE: its keys, which it
 * carries in the same attributes), or with `ports` false the GRE keys
 * only; ICMP type, code and id; the tuple's zone. Returns whether it is
 * still first (it wrote none). The json format's tuples and ecs's
 * `ctlogd.orig` are written with it.
 */
export function writeTupleMembers(w: LineWriter, t: Tuple, gre: boolean, first: boolean, ports: boolean): boolean {
  if (t.sport !== undefined && (ports || gre)) {
    first = key(w, first, gre ? K_SRC_KEY : K_SPORT);
    w.num(t.sport);
  }
  if (t.dport !== undefined && (ports || gre)) {
    first = key(w, first, gre ? K_DST_KEY : K_DPORT);
    w.num(t.dport);
  }
  if (t.icmpType !== undefined) {
    first = key(w, first, K_ICMP_TYPE);
    w.num(t.icmpType);
  }
  if (t.icmpCode !== undefined) {
    first = key(w, first, K_ICMP_CODE);
    w.num(t.icmpCode);
  }
  if (t.icmpId !== undefined) {
    first = key(w, first, K_ICMP_ID);
    w.num(t.icmpId);
  }
  if (t.zone !== undefined) {
    first = key(w, first, K_ZONE);
    w.num(t.zone);
  }
  return first;
}

const K_SRC = keyOf('"src":"');
const K_DST = keyOf('"dst":"');
const K_SPORT = keyOf('"sport":');
const K_DPORT = keyOf('"dport":');
const K_SRC_KEY = keyOf('"src_key":');
const K_DST_KEY = keyOf('"dst_key":');
const K_ICMP_TYPE = keyOf('"icmp_type":');
const K_ICMP_CODE = keyOf('"icmp_code":');
const K_ICMP_ID = keyOf('"icmp_id":');
const K_ZONE = keyOf('"zone":');
const K_PACKETS = keyOf('"packets":"');
const K_BYTES = ascii('","bytes":"');

/*
 * Members that follow each other and take their values from small sets
 * are written as one piece of bytes each, made once per value: most of a
 * line is then a few copies, not a call per key and per value.
 */

/** `{"type":"new","time":"`, per event type. */
const J_HEAD = Object.fromEntries(EVENT_TYPES.map((t) => [t, ascii(`{"type":"${t}","time":"`)])) as Record<EventType, Uint8Array>;

/** `,"family":"ipv4","family_num":2`, per family. */
const J_FAMILY = Object.fromEntries(Object.entries(FAMILY_NUM).map(([f, n]) => [f, ascii(`,"family":"${f}","family_num":${n}`)])) as Record<Family, Uint8Array>;

/** `,"proto":"udp","proto_num":17`, per protocol number, made when first seen. */
const J_PROTO: (Uint8Array | undefined)[] = [];

const J_STATE = ascii(',"state":"');
const J_HELPER = ascii(',"helper":');
const J_SECCTX = ascii(',"secctx":');
const J_LABELS = ascii(',"labels":"');
const J_ORIG = ascii(',"orig":');
const J_REPLY = ascii(',"reply":');
const J_PROGNAME = ascii(',"progname":');
const J_STATE_NUM = ascii(',"state_num":');
const J_ID = ascii(',"id":');
const J_TIMEOUT = ascii(',"timeout":');
const J_MARK = ascii(',"mark":');
const J_SECMARK = ascii(',"secmark":');
const J_ZONE = ascii(',"zone":');
const J_USE = ascii(',"use":');
const J_START = ascii(',"start":"');
const J_STOP = ascii(',"stop":"');
const J_DURATION_NS = ascii(',"duration_ns":"');
const J_EVENT_TIME = ascii(',"event_time":"');
const J_PORTID = ascii(',"portid":');

/** `2026-12-01T10:00:00.123456789Z","time_ns":"1764583200123456789"` of the last time written: events read together share it. */
let lastTime: Time = { sec: -1, nsec: -1 };
let lastTimeMembers: Uint8Array = new Uint8Array(0);

/**
 * The entry's own attributes, each `,"key":value` and only when the kernel
 * sent it: status (names and bits), mark, secmark, zone, use, helper,
 * secctx, labels. The json format and ecs's `ctlogd` object both write them.
 */
export function writeEntry(w: LineWriter, ev: ConntrackEvent): void {
  if (ev.status !== undefined) w.bytes(statusMembers(ev.status));
  if (ev.mark !== undefined) num(w, J_MARK, ev.mark);
  if (ev.secmark !== undefined) num(w, J_SECMARK, ev.secmark);
  if (ev.zone !== undefined) num(w, J_ZONE, ev.zone);
  if (ev.use !== undefined) num(w, J_USE, ev.use);
  // Helper and secctx are kernel-supplied free text: escape them.
  if (ev.helper !== undefined) {
    w.bytes(J_HELPER);
    w.str(JSON.stringify(ev.helper));
  }
  if (ev.secctx !== undefined) {
    w.bytes(J_SECCTX);
    w.str(JSON.stringify(ev.secctx));
  }
  if (ev.labels !== undefined) {
    w.bytes(J_LABELS);
    w.str(hex(ev.labels));
    w.byte(QUOTE);
  }
}

/**
 * Writes one event as one line of JSON (no newline). Absent attributes are
 * omitted, never written as 0 or null; 64-bit values are decimal strings.
 */
export function writeJson(ev: ConntrackEvent, w: LineWriter): void {
  if (ev.time.sec !== lastTime.sec || ev.time.nsec !== lastTime.nsec) {
    lastTimeMembers = ascii(`${isoNs(ev.time)}","time_ns":"${timeText(ev.time)}"`);
    lastTime = { ...ev.time };
  }
  // type, family, protoName and stateName come from fixed tables: no escaping needed.
  w.bytes(J_HEAD[ev.type]);
  w.bytes(lastTimeMembers);
  w.bytes(J_FAMILY[ev.family]);
  let proto = J_PROTO[ev.proto];
  if (proto === undefined) {
    proto = ascii(`,"proto":"${ev.protoName}","proto_num":${ev.proto}`);
    J_PROTO[ev.proto] = proto;
  }
  w.bytes(proto);
  if (ev.stateName !== undefined) {
    w.bytes(J_STATE);
    w.str(ev.stateName);
    w.byte(QUOTE);
  }
  if (ev.state !== undefined) num(w, J_STATE_NUM, ev.state);
  if (ev.id !== undefined) num(w, J_ID, ev.id);
  if (ev.timeout !== undefined) num(w, J_TIMEOUT, ev.timeout);
  writeEntry(w, ev);
  const gre = ev.proto === IPPROTO.GRE;
  w.bytes(J_ORIG);
  writeTuple(w, ev.orig, gre, ev.origCounters);
  w.bytes(J_REPLY);
  writeTuple(w, ev.reply, gre, ev.replyCounters);
  if (ev.start !== undefined) time(w, J_START, ev.start);
  if (ev.stop !== undefined) time(w, J_STOP, ev.stop);
  if (ev.start !== undefined && ev.stop !== undefined) {
    // Can be negative if the wall clock was stepped back during the flow.
    w.bytes(J_DURATION_NS);
    w.int(spanNs(ev.start, ev.stop));
    w.byte(QUOTE);
  }
  if (ev.eventTime !== undefined) time(w, J_EVENT_TIME, ev.eventTime);
  num(w, J_PORTID, ev.portid);
  if (ev.progname !== undefined) {
    w.bytes(J_PROGNAME);
    w.str(JSON.stringify(ev.progname));
  }
  w.byte(0x7d); // }
}

/** One event as one line of JSON (no newline); see writeJson. */
export function formatJson(ev: ConntrackEvent): string {
  return lineOf((w) => writeJson(ev, w));
}

export const jsonFormat = defineFormat({ name: 'json', doc: 'one object per line', keys: {}, make: () => writeJson });
