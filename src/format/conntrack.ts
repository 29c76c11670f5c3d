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

import { IPS, type ConntrackEvent, type Family, type Tuple } from '../event.js';
import { IPPROTO, l3Name, l3Num, protoName, stateName } from '../names.js';

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

/**
 * Format one event as `conntrack -E` does.
 *
 * @param progname finds the program owning a netlink port id, for the
 *   `[USERSPACE]` suffix; by default the name the reader looked up in /proc
 *   when it read the event (`ev.progname`), as conntrack does.
 *   Pass `() => undefined` to never print `progname=`.
 */
export function formatConntrack(
  ev: ConntrackEvent,
  opts: ConntrackFormatOptions = {},
  progname: (portid: number) => string | undefined = () => ev.progname,
): string {
  let line = '';

  // event_cb(): -o timestamp prints "[%-.8ld.%-.6ld]\t" before the line. The
  // precision zero-pads: at least 8 digits of seconds, exactly 6 of usec.
  if (opts.timestamp) {
    const t = u64(ev.time);
    const sec = (t / 1_000_000_000n).toString().padStart(8, '0');
    const usec = ((t % 1_000_000_000n) / 1000n).toString().padStart(6, '0');
    line += `[${sec}.${usec}]\t`;
  }

  line += body(ev, opts);

  // event_cb(): a non-zero netlink portid means a process caused the event.
  if (ev.portid) {
    const portid = ev.portid >>> 0;
    const prog = progname(portid);
    line += prog !== undefined ? ` [USERSPACE] portid=${portid} progname=${prog}` : ` [USERSPACE] portid=${portid}`;
  }
  return line;
}

/** `__snprintf_conntrack_default()`: every piece ends in one space. */
function body(ev: ConntrackEvent, opts: ConntrackFormatOptions): string {
  let s = '';

  // "%9s ": the tag right-aligned in 9 columns.
  s += `${TAGS[ev.type].padStart(9)} `;

  if (opts.extended) {
    const af = l3Num(ev.family);
    s += `${l3Name(af).padEnd(8)} ${af} `; // "%-8s %u "
  }

  // "%-8s %u ": name of the original tuple's protocol, then its number.
  const l4 = u8(ev.proto);
  s += `${protoName(l4).padEnd(8)} ${l4} `;

  if (ev.timeout !== undefined) s += `${u32(ev.timeout)} `;

  // TCP, SCTP and DCCP states are separate attributes in the library,
  // printed in that order; an event carries at most one of them.
  if (ev.state !== undefined && ev.stateProto !== undefined) s += `${stateName(ev.stateProto, ev.state)} `;

  s += tuple(ev.orig, ev.family, ev.proto);
  if (ev.orig.zone !== undefined) s += `zone-orig=${u16(ev.orig.zone)} `;
  // Counters need both packets and bytes; Counters always has both.
  if (ev.origCounters) s += `packets=${u64(ev.origCounters.packets)} bytes=${u64(ev.origCounters.bytes)} `;

  // [UNREPLIED] only when the status attribute came and lacks SEEN_REPLY.
  if (ev.status !== undefined && !(ev.status & IPS.SEEN_REPLY)) s += '[UNREPLIED] ';

  s += tuple(ev.reply, ev.family, ev.proto);
  if (ev.reply.zone !== undefined) s += `zone-reply=${u16(ev.reply.zone)} `;
  if (ev.replyCounters) s += `packets=${u64(ev.replyCounters.packets)} bytes=${u64(ev.replyCounters.bytes)} `;

  // One of these at most, HW_OFFLOAD winning over OFFLOAD over ASSURED.
  if (ev.status !== undefined) {
    if (ev.status & IPS.HW_OFFLOAD) s += '[HW_OFFLOAD] ';
    else if (ev.status & IPS.OFFLOAD) s += '[OFFLOAD] ';
    else if (ev.status & IPS.ASSURED) s += '[ASSURED] ';
  }

  if (ev.mark !== undefined) s += `mark=${u32(ev.mark)} `;
  if (ev.secmark !== undefined) s += `secmark=${u32(ev.secmark)} `;
  if (ev.secctx !== undefined) s += `secctx=${ev.secctx} `;
  if (ev.zone !== undefined) s += `zone=${u16(ev.zone)} `;

  if (ev.start !== undefined) {
    s += `delta-time=${deltaTime(ev)} `;
    if (opts.ktimestamp) s += `[start=${ctime(u64(ev.start) / 1_000_000_000n)}] `;
  }
  if (opts.ktimestamp && ev.stop !== undefined) s += `[stop=${ctime(u64(ev.stop) / 1_000_000_000n)}] `;

  if (ev.helper !== undefined) s += `helper=${ev.helper} `;
  if (ev.use !== undefined) s += `use=${u32(ev.use)} `;
  if (opts.id && ev.id !== undefined) s += `id=${u32(ev.id)} `;
  // Labels: printed only with `-o labels` and a connlabel.conf name map,
  // which none of the supported options enable; the default line has none.

  // The library then drops the last blank. If the text did not fit in
  // conntrack's 1024-byte buffer, it is cut at 1023 bytes instead.
  // (UTF-8 needs at most 3 bytes per UTF-16 unit: most lines skip the count.)
  const tooLong = s.length > CONNTRACK_BUF || (s.length * 3 > CONNTRACK_BUF && Buffer.byteLength(s, 'utf8') > CONNTRACK_BUF);
  return tooLong ? truncateBytes(s, CONNTRACK_BUF - 1) : s.slice(0, -1);
}

const TAGS = { new: '[NEW]', update: '[UPDATE]', destroy: '[DESTROY]' } as const;

/**
 * `__snprintf_address()` + `__snprintf_proto()` for one tuple. A tuple the
 * kernel did not send prints nothing at all; a sent one prints zeroed
 * fields for anything missing, as the C struct does.
 */
function tuple(t: Tuple, family: Family, evProto: number): string {
  const present =
    t.src !== undefined || t.dst !== undefined || t.proto !== undefined || t.sport !== undefined ||
    t.dport !== undefined || t.icmpType !== undefined || t.icmpCode !== undefined || t.icmpId !== undefined;
  if (!present) return '';

  const zero = family === 'ipv6' ? '::' : '0.0.0.0';
  let s = `src=${t.src ?? zero} dst=${t.dst ?? zero} `;

  switch (t.proto ?? evProto) {
    case IPPROTO.TCP:
    case IPPROTO.UDP:
    case IPPROTO.UDPLITE:
    case IPPROTO.SCTP:
    case IPPROTO.DCCP:
      s += `sport=${u16(t.sport ?? 0)} dport=${u16(t.dport ?? 0)} `;
      break;
    case IPPROTO.GRE:
      // GRE keys ride in the port fields; printed as "0x%x" (no padding).
      s += `srckey=0x${u16(t.sport ?? 0).toString(16)} dstkey=0x${u16(t.dport ?? 0).toString(16)} `;
      break;
    case IPPROTO.ICMP:
    case IPPROTO.ICMPV6:
      // Printed for every ICMP type, even those without an id (as /proc did).
      s += `type=${u8(t.icmpType ?? 0)} code=${u8(t.icmpCode ?? 0)} id=${u16(t.icmpId ?? 0)} `;
      break;
    default:
      break; // other protocols: addresses only
  }
  return s;
}

/**
 * `__snprintf_timestamp_delta()`: whole seconds of stop minus whole seconds
 * of start (each truncated first, then subtracted). Without a stop time
 * (the kernel sends one only at DESTROY) the library uses time(NULL) at
 * print time; here that is `ev.time`, when the event was read. A negative
 * difference wraps, as the C cast to unsigned long long does.
 */
function deltaTime(ev: ConntrackEvent): string {
  const startS = u64(ev.start ?? 0n) / 1_000_000_000n;
  // The C tests the value, not the attribute: stop == 0 also means "now".
  const stopNs = ev.stop !== undefined && ev.stop !== 0n ? ev.stop : undefined;
  const stopS = stopNs !== undefined ? u64(stopNs) / 1_000_000_000n : u64(ev.time) / 1_000_000_000n;
  return BigInt.asUintN(64, stopS - startS).toString();
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * ctime(3) without its newline: "%.3s %.3s%3d %.2d:%.2d:%.2d %d", in the
 * process's local time zone (TZ), like the C library.
 */
function ctime(sec: bigint): string {
  const d = new Date(Number(sec) * 1000);
  const two = (n: number): string => String(n).padStart(2, '0');
  return (
    `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]}${String(d.getDate()).padStart(3)} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${d.getFullYear()}`
  );
}

/** Cut to at most `max` UTF-8 bytes (the C buffer counts bytes). */
function truncateBytes(s: string, max: number): string {
  return Buffer.from(s, 'utf8').subarray(0, max).toString('utf8');
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
function u64(n: bigint): bigint {
  return BigInt.asUintN(64, n);
}
