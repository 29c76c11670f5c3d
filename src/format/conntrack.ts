/**
 * The `conntrack` format: byte for byte the line that `conntrack -E` of
 * conntrack-tools 1.4.7 prints (Debian's `conntrack` package), without the
 * trailing newline.
 *
 * The line body is libnetfilter_conntrack 1.0.9's
 * `__snprintf_conntrack_default()` (src/conntrack/snprintf_default.c);
 * the `-o timestamp` prefix and the `[USERSPACE]` suffix are conntrack's
 * `event_cb()` (src/conntrack.c). Each field below is printed under the
 * same condition, in the same order, with the same printf conversion.
 *
 * Mapping of the C "attribute is set" tests onto ConntrackEvent: a field
 * that is `undefined` is an attribute the kernel did not send.
 */

import { ctime } from '../clock.js';
import { IPS, type ConntrackEvent, type Counters, type Family, type Time, type Tuple } from '../event.js';
import { IPPROTO, l3Name, l3Num, protoName, stateName } from '../names.js';
import { option, simple } from '../config/rules.js';
import { defineFormat } from './definition.js';
import { ascii, lineOf, type LineWriter } from './line.js';

/**
 * `conntrack -E -o ...` output flags that change the line. All of them
 * exist in 1.4.7 and can be combined (`-o extended,timestamp,id,ktimestamp`).
 */
export interface ConntrackFormatOptions {
  /** `-o extended`: layer-3 name and number (`ipv4     2 `) after the tag. */
  extended?: boolean;
  /**
   * `-o timestamp`: prefix `[SECONDS.MICROSECONDS]\t`, the time conntrack
   * read the event (gettimeofday; 1.4.7 ignores the kernel's event time).
   * Taken from `ev.time`.
   */
  timestamp?: boolean;
  /** `-o id`: `id=N` near the end of the line. */
  id?: boolean;
  /**
   * `-o ktimestamp`: the kernel's flow timestamps, `[start=ctime]` and
   * `[stop=ctime]`, in local time as ctime(3) writes it.
   */
  ktimestamp?: boolean;
}

/** The buffer conntrack's event_cb() formats into (`char buf[1024]`). */
const CONNTRACK_BUF = 1024;
const SP = 0x20;

/** How `[USERSPACE] progname=` is found: by default what the reader looked up in /proc. */
export type Progname = (portid: number) => string | undefined;

/**
 * Format one event as `conntrack -E` does.
 *
 * @param progname finds the program owning a netlink port id, for the
 *   `[USERSPACE]` suffix; by default the name the reader looked up in /proc
 *   when it read the event (`ev.progname`), as conntrack does.
 *   Pass `() => undefined` to never print `progname=`.
 */
export function formatConntrack(ev: ConntrackEvent, opts: ConntrackFormatOptions = {}, progname?: Progname): string {
  return lineOf((w) => writeConntrack(ev, w, opts, progname));
}

/** Writes the line of `ev` (without a newline); see formatConntrack. */
export function writeConntrack(ev: ConntrackEvent, w: LineWriter, opts: ConntrackFormatOptions = {}, progname?: Progname): void {
  // event_cb(): -o timestamp prints "[%-.8ld.%-.6ld]\t" before the line. The
  // precision zero-pads: at least 8 digits of seconds, exactly 6 of usec.
  if (opts.timestamp) {
    const t = ev.time;
    w.str(`[${String(t.sec).padStart(8, '0')}.${String(Math.floor(t.nsec / 1000)).padStart(6, '0')}]\t`);
  }

  body(ev, w, opts);

  // event_cb(): a non-zero netlink portid means a process caused the event.
  if (ev.portid) {
    const portid = ev.portid >>> 0;
    const prog = progname ? progname(portid) : ev.progname;
    w.bytes(C_USERSPACE_PORTID);
    w.num(portid);
    if (prog !== undefined) {
      w.bytes(C_PROGNAME);
      w.str(prog);
    }
  }
}

/** `__snprintf_conntrack_default()`: every piece ends in one space. */
function body(ev: ConntrackEvent, w: LineWriter, opts: ConntrackFormatOptions): void {
  const begin = w.length;

  // "%9s ": the tag right-aligned in 9 columns.
  w.padStart(TAGS[ev.type], 9);
  w.byte(SP);

  if (opts.extended) {
    const af = l3Num(ev.family);
    w.padEnd(l3Name(af), 8); // "%-8s %u "
    w.byte(SP);
    w.num(af);
    w.byte(SP);
  }

  // "%-8s %u ": name of the original tuple's protocol, then its number.
  const l4 = u8(ev.proto);
  w.padEnd(protoName(l4), 8);
  w.byte(SP);
  w.num(l4);
  w.byte(SP);

  if (ev.timeout !== undefined) numSp(w, u32(ev.timeout));

  // TCP, SCTP and DCCP states are separate attributes in the library,
  // printed in that order; an event carries at most one of them.
  if (ev.state !== undefined && ev.stateProto !== undefined) {
    w.str(stateName(ev.stateProto, ev.state));
    w.byte(SP);
  }

  tuple(w, ev.orig, ev.family, ev.proto);
  if (ev.orig.zone !== undefined) field(w, C_ZONE_ORIG, u16(ev.orig.zone));
  // Counters need both packets and bytes; Counters always has both.
  if (ev.origCounters) counters(w, ev.origCounters);

  // [UNREPLIED] only when the status attribute came and lacks SEEN_REPLY.
  if (ev.status !== undefined && !(ev.status & IPS.SEEN_REPLY)) w.bytes(C_UNREPLIED);

  tuple(w, ev.reply, ev.family, ev.proto);
  if (ev.reply.zone !== undefined) field(w, C_ZONE_REPLY, u16(ev.reply.zone));
  if (ev.replyCounters) counters(w, ev.replyCounters);

  // One of these at most, HW_OFFLOAD winning over OFFLOAD over ASSURED.
  if (ev.status !== undefined) {
    if (ev.status & IPS.HW_OFFLOAD) w.bytes(C_HW_OFFLOAD);
    else if (ev.status & IPS.OFFLOAD) w.bytes(C_OFFLOAD);
    else if (ev.status & IPS.ASSURED) w.bytes(C_ASSURED);
  }

  if (ev.mark !== undefined) field(w, C_MARK, u32(ev.mark));
  if (ev.secmark !== undefined) field(w, C_SECMARK, u32(ev.secmark));
  if (ev.secctx !== undefined) w.str(`secctx=${ev.secctx} `);
  if (ev.zone !== undefined) field(w, C_ZONE, u16(ev.zone));

  if (ev.start !== undefined) {
    w.bytes(C_DELTA_TIME);
    w.int(deltaTime(ev.start, ev));
    w.byte(SP);
    if (opts.ktimestamp) w.str(`[start=${ctimeAt(ev.start.sec)}] `);
  }
  if (opts.ktimestamp && ev.stop !== undefined) w.str(`[stop=${ctimeAt(ev.stop.sec)}] `);

  if (ev.helper !== undefined) w.str(`helper=${ev.helper} `);
  if (ev.use !== undefined) field(w, C_USE, u32(ev.use));
  if (opts.id && ev.id !== undefined) field(w, C_ID, u32(ev.id));
  // Labels: printed only with `-o labels` and a connlabel.conf name map,
  // which none of the supported options enable; the default line has none.

  // The library then drops the last blank. If the text did not fit in
  // conntrack's 1024-byte buffer, snprintf cut it at 1023 bytes instead.
  const len = w.length - begin;
  w.truncate(len > CONNTRACK_BUF ? begin + CONNTRACK_BUF - 1 : w.length - 1);
}

const TAGS = { new: '[NEW]', update: '[UPDATE]', destroy: '[DESTROY]' } as const;
const C_USERSPACE_PORTID = ascii(' [USERSPACE] portid=');
const C_PROGNAME = ascii(' progname=');
const C_UNREPLIED = ascii('[UNREPLIED] ');
const C_HW_OFFLOAD = ascii('[HW_OFFLOAD] ');
const C_OFFLOAD = ascii('[OFFLOAD] ');
const C_ASSURED = ascii('[ASSURED] ');
const C_DELTA_TIME = ascii('delta-time=');
const C_PACKETS = ascii('packets=');
const C_BYTES = ascii(' bytes=');
const C_SRC = ascii('src=');
const C_DST = ascii(' dst=');
const C_ZONE_ORIG = ascii('zone-orig=');
const C_ZONE_REPLY = ascii('zone-reply=');
const C_MARK = ascii('mark=');
const C_SECMARK = ascii('secmark=');
const C_ZONE = ascii('zone=');
const C_USE = ascii('use=');
const C_ID = ascii('id=');
const C_SPORT = ascii('sport=');
const C_DPORT = ascii('dport=');
const C_TYPE = ascii('type=');
const C_CODE = ascii('code=');

/** `name=N ` */
function field(w: LineWriter, name: Uint8Array, n: number): void {
  w.bytes(name);
  numSp(w, n);
}

function numSp(w: LineWriter, n: number): void {
  w.num(n);
  w.byte(SP);
}

function counters(w: LineWriter, c: Counters): void {
  w.bytes(C_PACKETS);
  w.num(c.packets);
  w.bytes(C_BYTES);
  w.num(c.bytes);
  w.byte(SP);
}

/**
 * `__snprintf_address()` + `__snprintf_proto()` for one tuple. A tuple the
 * kernel did not send prints nothing at all; a sent one prints zeroed
 * fields for anything missing, as the C struct does.
 */
function tuple(w: LineWriter, t: Tuple, family: Family, evProto: number): void {
  const present =
    t.src !== undefined ||
    t.dst !== undefined ||
    t.proto !== undefined ||
    t.sport !== undefined ||
    t.dport !== undefined ||
    t.icmpType !== undefined ||
    t.icmpCode !== undefined ||
    t.icmpId !== undefined;
  if (!present) return;

  const zero = family === 'ipv6' ? '::' : '0.0.0.0';
  w.bytes(C_SRC);
  w.str(t.src ?? zero);
  w.bytes(C_DST);
  w.str(t.dst ?? zero);
  w.byte(SP);

  switch (t.proto ?? evProto) {
    case IPPROTO.TCP:
    case IPPROTO.UDP:
    case IPPROTO.UDPLITE:
    case IPPROTO.SCTP:
    case IPPROTO.DCCP:
      field(w, C_SPORT, u16(t.sport ?? 0));
      field(w, C_DPORT, u16(t.dport ?? 0));
      break;
    case IPPROTO.GRE:
      // GRE keys ride in the port fields; printed as "0x%x" (no padding).
      w.str(`srckey=0x${u16(t.sport ?? 0).toString(16)} dstkey=0x${u16(t.dport ?? 0).toString(16)} `);
      break;
    case IPPROTO.ICMP:
    case IPPROTO.ICMPV6:
      // Printed for every ICMP type, even those without an id (as /proc did).
      field(w, C_TYPE, u8(t.icmpType ?? 0));
      field(w, C_CODE, u8(t.icmpCode ?? 0));
      field(w, C_ID, u16(t.icmpId ?? 0));
      break;
    default:
      break; // other protocols: addresses only
  }
}

/**
 * `__snprintf_timestamp_delta()`: whole seconds of stop minus whole seconds
 * of start (each truncated first, then subtracted). Without a stop time
 * (the kernel sends one only at DESTROY) the library uses time(NULL) at
 * print time; here that is `ev.time`, when the event was read. A negative
 * difference wraps, as the C cast to unsigned long long does.
 */
function deltaTime(start: Time, ev: ConntrackEvent): number | bigint {
  // The C tests the value, not the attribute: stop == 0 also means "now".
  const stop = ev.stop !== undefined && (ev.stop.sec !== 0 || ev.stop.nsec !== 0) ? ev.stop : ev.time;
  const d = stop.sec - start.sec;
  return d >= 0 ? d : BigInt.asUintN(64, BigInt(d));
}

/** ctime(3) of a kernel time in seconds. */
function ctimeAt(sec: number): string {
  return ctime(new Date(sec * 1000));
}

function u8(n: number): number {
  return n & 0xff;
}
function u16(n: number): number {
  return n & 0xffff;
}
function u32(n: number): number {
  return n >>> 0;
}

/** The `-o` variants, as conntrack_options names them. */
export const CONNTRACK_OPTIONS = ['extended', 'timestamp', 'id', 'ktimestamp'] as const satisfies ReadonlyArray<keyof ConntrackFormatOptions>;

export const conntrackFormat = defineFormat({
  name: 'conntrack',
  doc: 'as `conntrack -E`',
  keys: option(
    'conntrack_options',
    'With format `conntrack`: the `conntrack -E -o` variants to print.',
    [],
    simple<Array<(typeof CONNTRACK_OPTIONS)[number]>>(
      `a list of ${CONNTRACK_OPTIONS.join(', ')} (a JSON array, or a comma-separated string)`,
      (v) => Array.isArray(v) && v.every((o) => (CONNTRACK_OPTIONS as readonly unknown[]).includes(o)),
      (s) => s.split(',').filter(Boolean),
    ),
  ),
  make(c) {
    const opts: ConntrackFormatOptions = {};
    for (const o of c.conntrack_options) opts[o] = true;
    return (ev, w) => writeConntrack(ev, w, opts);
  },
});
