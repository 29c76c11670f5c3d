/**
 * The `json` output format (SPEC §3.3): one JSON object per event, one line,
 * described by schema/event.schema.json.
 *
 * The line is built by concatenation rather than JSON.stringify on an object:
 * it runs once per event at up to ~100k events/s, and bigints (which
 * JSON.stringify refuses) must be written as decimal strings anyway so that
 * no 64-bit value loses precision in a JSON double.
 */
import type { ConntrackEvent, Counters, Tuple } from '../event.js';
import { IPS } from '../event.js';

const GRE = 47;
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

const NS_PER_S = 1_000_000_000n;

/** The last whole second formatted: events arrive in time order, so most share it. */
let lastSecs: bigint | undefined;
let lastPrefix = '';

/**
 * ISO-8601 UTC with all nine fractional digits, from integer nanoseconds.
 * Date only holds milliseconds, so it is used for whole seconds only (exact)
 * and the fraction is appended from the bigint.
 */
export function isoNs(ns: bigint): string {
  let secs = ns / NS_PER_S;
  let frac = ns % NS_PER_S;
  if (frac < 0n) {
    // Before 1970: floor, not truncate, so the fraction stays positive.
    secs -= 1n;
    frac += NS_PER_S;
  }
  if (secs !== lastSecs) {
    // toISOString gives YYYY-MM-DDTHH:MM:SS.000Z; keep up to the seconds.
    lastPrefix = new Date(Number(secs) * 1000).toISOString().slice(0, -5);
    lastSecs = secs;
  }
  return `${lastPrefix}.${frac.toString().padStart(9, '0')}Z`;
}

function statusNames(bits: number): string {
  let out = '';
  for (let bit = 0; bit < 32; bit++) {
    if (bits & (1 << bit)) out += out === '' ? STATUS_NAMES[bit] : `,${STATUS_NAMES[bit]}`;
  }
  return `[${out}]`;
}

function hex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]];
  return out;
}

/**
 * One direction. Addresses come from the decoder's inet_ntop-style text
 * (digits, hex, '.', ':'), so they are written without escaping.
 */
function tuple(t: Tuple, gre: boolean, c: Counters | undefined): string {
  let s = '';
  if (t.src !== undefined) s += `,"src":"${t.src}"`;
  if (t.dst !== undefined) s += `,"dst":"${t.dst}"`;
  // GRE carries keys, not ports, in the same attributes.
  if (t.sport !== undefined) s += gre ? `,"src_key":${t.sport}` : `,"sport":${t.sport}`;
  if (t.dport !== undefined) s += gre ? `,"dst_key":${t.dport}` : `,"dport":${t.dport}`;
  if (t.icmpType !== undefined) s += `,"icmp_type":${t.icmpType}`;
  if (t.icmpCode !== undefined) s += `,"icmp_code":${t.icmpCode}`;
  if (t.icmpId !== undefined) s += `,"icmp_id":${t.icmpId}`;
  if (t.zone !== undefined) s += `,"zone":${t.zone}`;
  if (c !== undefined) s += `,"packets":"${c.packets}","bytes":"${c.bytes}"`;
  // Drop the leading comma; an empty tuple is {}.
  return `{${s.slice(1)}}`;
}

/**
 * One event as one line of JSON (no trailing newline). Absent attributes are
 * omitted, never written as 0 or null; 64-bit values are decimal strings.
 */
export function formatJson(ev: ConntrackEvent): string {
  // type, family, protoName and stateName come from fixed tables: no escaping needed.
  let s = `{"type":"${ev.type}","time":"${isoNs(ev.time)}","time_ns":"${ev.time}"`;
  s += `,"family":"${ev.family}","family_num":${FAMILY_NUM[ev.family]}`;
  s += `,"proto":"${ev.protoName}","proto_num":${ev.proto}`;
  if (ev.stateName !== undefined) s += `,"state":"${ev.stateName}"`;
  if (ev.state !== undefined) s += `,"state_num":${ev.state}`;
  if (ev.id !== undefined) s += `,"id":${ev.id}`;
  if (ev.timeout !== undefined) s += `,"timeout":${ev.timeout}`;
  if (ev.status !== undefined) {
    // >>> 0 keeps bit 31 unsigned.
    s += `,"status":${statusNames(ev.status)},"status_bits":${ev.status >>> 0}`;
  }
  if (ev.mark !== undefined) s += `,"mark":${ev.mark}`;
  if (ev.secmark !== undefined) s += `,"secmark":${ev.secmark}`;
  if (ev.zone !== undefined) s += `,"zone":${ev.zone}`;
  if (ev.use !== undefined) s += `,"use":${ev.use}`;
  // Helper and secctx are kernel-supplied free text: escape them.
  if (ev.helper !== undefined) s += `,"helper":${JSON.stringify(ev.helper)}`;
  if (ev.secctx !== undefined) s += `,"secctx":${JSON.stringify(ev.secctx)}`;
  if (ev.labels !== undefined) s += `,"labels":"${hex(ev.labels)}"`;
  const gre = ev.proto === GRE;
  s += `,"orig":${tuple(ev.orig, gre, ev.origCounters)}`;
  s += `,"reply":${tuple(ev.reply, gre, ev.replyCounters)}`;
  if (ev.start !== undefined) s += `,"start":"${ev.start}"`;
  if (ev.stop !== undefined) s += `,"stop":"${ev.stop}"`;
  // Can be negative if the wall clock was stepped back during the flow.
  if (ev.start !== undefined && ev.stop !== undefined) s += `,"duration_ns":"${ev.stop - ev.start}"`;
  if (ev.eventTime !== undefined) s += `,"event_time":"${ev.eventTime}"`;
  s += `,"portid":${ev.portid}`;
  if (ev.progname !== undefined) s += `,"progname":${JSON.stringify(ev.progname)}`;
  return `${s}}`;
}
