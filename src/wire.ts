/**
 * Reads the batches that the native reader hands over (one Buffer per
 * batch) into ConntrackEvent objects. The layout is written by
 * crates/ctlog-core/src/wire.rs; the two change together (WIRE_VERSION).
 */
import { EVENT_TYPES, type ConntrackEvent, type Counters, type Time, type Tuple } from './event.js';
import { protoName, stateName } from './names.js';

export const WIRE_VERSION = 3;
const HEADER_LEN = 32;
const FLAG_FINAL = 1;

const F_ORIG = 1 << 0;
const F_REPLY = 1 << 1;
const F_STATUS = 1 << 2;
const F_TIMEOUT = 1 << 3;
const F_MARK = 1 << 4;
const F_SECMARK = 1 << 5;
const F_ZONE = 1 << 6;
const F_USE = 1 << 7;
const F_ID = 1 << 8;
const F_PROTOINFO = 1 << 9;
const F_COUNTERS_ORIG = 1 << 10;
const F_COUNTERS_REPLY = 1 << 11;
const F_START = 1 << 12;
const F_STOP = 1 << 13;
const F_EVENT_TIME = 1 << 14;
const F_HELPER = 1 << 15;
const F_SECCTX = 1 << 16;
const F_LABELS = 1 << 17;
const F_PROGNAME = 1 << 18;

const T_SRC = 1 << 0;
const T_DST = 1 << 1;
const T_PROTO = 1 << 2;
const T_SPORT = 1 << 3;
const T_DPORT = 1 << 4;
const T_ICMP_TYPE = 1 << 5;
const T_ICMP_CODE = 1 << 6;
const T_ICMP_ID = 1 << 7;
const T_ZONE = 1 << 8;

/** IPv4 address texts by address, bounded: emptied when full. */
const V4_TEXT = new Map<number, string>();
const V4_TEXT_MAX = 65536;
const STATE_PROTOS = [undefined, 'tcp', 'dccp', 'sctp'] as const;

/** A text attribute's last bytes and their text. */
interface Recent {
  bytes: Uint8Array;
  text: string;
}
/** The same helper, security context and process name come event after event (a flush by one `conntrack -F`): each is decoded once. */
const RECENT_HELPER: Recent = { bytes: new Uint8Array(0), text: '' };
const RECENT_SECCTX: Recent = { bytes: new Uint8Array(0), text: '' };
const RECENT_PROGNAME: Recent = { bytes: new Uint8Array(0), text: '' };
const AF_INET6 = 10;

/** What the reader saw since the previous batch, besides its events. */
export interface Notices {
  /** ENOBUFS errors: the kernel found the receive buffer full. */
  enobufs: number;
  /** Messages that could not be decoded. */
  decodeErrors: number;
  /** Events the kernel dropped (socket overrun). */
  lost: number;
  /**
   * In reliable mode: deliveries the kernel could not make (socket
   * overrun). It retries DESTROY events; NEW and UPDATE events among these
   * may be lost.
   */
  undelivered: number;
}

/** An event with every key present: all events then share one hidden class. */
function blankEvent(): ConntrackEvent {
  return {
    type: 'new',
    family: 'ipv4',
    proto: 0,
    protoName: 'unknown',
    orig: blankTuple(),
    reply: blankTuple(),
    status: undefined,
    timeout: undefined,
    mark: undefined,
    secmark: undefined,
    zone: undefined,
    use: undefined,
    id: undefined,
    state: undefined,
    stateProto: undefined,
    stateName: undefined,
    origCounters: undefined,
    replyCounters: undefined,
    start: undefined,
    stop: undefined,
    eventTime: undefined,
    helper: undefined,
    secctx: undefined,
    labels: undefined,
    portid: 0,
    progname: undefined,
    time: { sec: 0, nsec: 0 },
  };
}

function blankTuple(): Tuple {
  return {
    src: undefined,
    dst: undefined,
    proto: undefined,
    sport: undefined,
    dport: undefined,
    icmpType: undefined,
    icmpCode: undefined,
    icmpId: undefined,
    zone: undefined,
  };
}

/**
 * One batch from the native reader. `next()` decodes the events one at a
 * time into a single reused object, so that a service formatting a flood
 * leaves almost nothing for the garbage collector; `events()` gives each
 * event an object of its own, to keep.
 */
export class WireBatch {
  readonly count: number;
  readonly notices: Notices;
  /** The reader's last batch: the capture has stopped. */
  readonly final: boolean;
  private readonly dv: DataView;
  private pos = HEADER_LEN;
  private index = 0;
  private view?: ConntrackEvent;
  private lastLo = -1;
  private lastHi = -1;
  private lastTime: Time = { sec: 0, nsec: 0 };
  /** Where the event next() returned starts. */
  private start = HEADER_LEN;

  constructor(private readonly buf: Buffer) {
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    if (buf.length < HEADER_LEN || dv.getUint8(0) !== WIRE_VERSION) {
      throw new Error(`native batch: wire version ${buf.length ? dv.getUint8(0) : '?'}, expected ${WIRE_VERSION}`);
    }
    this.dv = dv;
    this.count = dv.getUint32(4, true);
    this.notices = {
      enobufs: dv.getUint32(8, true),
      decodeErrors: dv.getUint32(12, true),
      lost: Number(dv.getBigUint64(16, true)),
      undelivered: Number(dv.getBigUint64(24, true)),
    };
    this.final = (dv.getUint8(1) & FLAG_FINAL) !== 0;
  }

  /** The next event, in an object that the following call overwrites; undefined after the last. */
  next(): ConntrackEvent | undefined {
    if (this.index >= this.count) return undefined;
    this.index++;
    this.view ??= blankEvent();
    this.start = this.pos;
    this.fill(this.view);
    return this.view;
  }

  /**
   * The bytes of the event next() returned, as the batch holds them (the
   * store output hands them to the core as they are). Valid until the
   * batch's buffer is reused: copy them.
   */
  current(): Uint8Array {
    return this.buf.subarray(this.start, this.pos);
  }

  /** The remaining events, each in an object of its own. */
  events(): ConntrackEvent[] {
    const out = new Array<ConntrackEvent>(this.count - this.index);
    for (let i = 0; i < out.length; i++) {
      this.index++;
      out[i] = blankEvent();
      this.fill(out[i]);
    }
    return out;
  }

  /** Sets every field of `ev`: what the previous event left is overwritten. */
  private fill(ev: ConntrackEvent): void {
    const dv = this.dv;
    ev.type = EVENT_TYPES[dv.getUint8(this.pos)] ?? 'update';
    ev.family = dv.getUint8(this.pos + 1) === AF_INET6 ? 'ipv6' : 'ipv4';
    const bits = dv.getUint32(this.pos + 4, true);
    ev.portid = dv.getUint32(this.pos + 8, true);
    ev.time = this.readTime(this.pos + 12);
    this.pos += 20;
    this.tuple(ev.orig, (bits & F_ORIG) !== 0);
    this.tuple(ev.reply, (bits & F_REPLY) !== 0);
    const proto = ev.orig.proto ?? 0;
    ev.proto = proto;
    ev.protoName = protoName(proto);
    ev.status = bits & F_STATUS ? this.u32() : undefined;
    ev.timeout = bits & F_TIMEOUT ? this.u32() : undefined;
    ev.mark = bits & F_MARK ? this.u32() : undefined;
    ev.secmark = bits & F_SECMARK ? this.u32() : undefined;
    ev.zone = bits & F_ZONE ? this.u16() : undefined;
    ev.use = bits & F_USE ? this.u32() : undefined;
    ev.id = bits & F_ID ? this.u32() : undefined;
    ev.state = undefined;
    ev.stateProto = undefined;
    ev.stateName = undefined;
    if (bits & F_PROTOINFO) {
      const which = STATE_PROTOS[this.u8()];
      const state = this.u8();
      if (which) {
        ev.stateProto = which;
        ev.state = state;
        ev.stateName = stateName(which, state);
      }
    }
    ev.origCounters = bits & F_COUNTERS_ORIG ? this.counters(ev.origCounters) : undefined;
    ev.replyCounters = bits & F_COUNTERS_REPLY ? this.counters(ev.replyCounters) : undefined;
    ev.start = bits & F_START ? this.time(ev.start) : undefined;
    ev.stop = bits & F_STOP ? this.time(ev.stop) : undefined;
    ev.eventTime = bits & F_EVENT_TIME ? this.time(ev.eventTime) : undefined;
    ev.helper = bits & F_HELPER ? this.text(RECENT_HELPER) : undefined;
    ev.secctx = bits & F_SECCTX ? this.text(RECENT_SECCTX) : undefined;
    ev.labels = bits & F_LABELS ? new Uint8Array(this.bytes()) : undefined;
    ev.progname = bits & F_PROGNAME ? this.text(RECENT_PROGNAME) : undefined;
  }

  /**
   * When the event was read: events read by one system call share it, so
   * the previous event's object is reused when the bytes are the same (a
   * kept event's time is never written over).
   */
  private readTime(at: number): Time {
    const lo = this.dv.getUint32(at, true);
    const hi = this.dv.getUint32(at + 4, true);
    if (lo !== this.lastLo || hi !== this.lastHi) {
      this.lastLo = lo;
      this.lastHi = hi;
      this.lastTime = nsTime(hi, lo, { sec: 0, nsec: 0 });
    }
    return this.lastTime;
  }

  /** A time attribute, in the object the event already has if any (next()'s reused event), else in a new one. */
  private time(into: Time | undefined): Time {
    const lo = this.dv.getUint32(this.pos, true);
    const hi = this.dv.getUint32(this.pos + 4, true);
    this.pos += 8;
    return nsTime(hi, lo, into ?? { sec: 0, nsec: 0 });
  }

  private tuple(t: Tuple, present: boolean): void {
    const bits = present ? this.u16() : 0;
    t.src = bits & T_SRC ? this.addr() : undefined;
    t.dst = bits & T_DST ? this.addr() : undefined;
    t.proto = bits & T_PROTO ? this.u8() : undefined;
    t.sport = bits & T_SPORT ? this.u16() : undefined;
    t.dport = bits & T_DPORT ? this.u16() : undefined;
    t.icmpType = bits & T_ICMP_TYPE ? this.u8() : undefined;
    t.icmpCode = bits & T_ICMP_CODE ? this.u8() : undefined;
    t.icmpId = bits & T_ICMP_ID ? this.u16() : undefined;
    t.zone = bits & T_ZONE ? this.u16() : undefined;
  }

  private addr(): string {
    const len = this.u8();
    const b = this.buf;
    const p = this.pos;
    this.pos += len;
    if (len !== 4) return ipv6(b, p);
    // The same few addresses recur on a router: build each text once.
    const key = ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
    let text = V4_TEXT.get(key);
    if (text === undefined) {
      if (V4_TEXT.size >= V4_TEXT_MAX) V4_TEXT.clear();
      text = `${b[p]}.${b[p + 1]}.${b[p + 2]}.${b[p + 3]}`;
      V4_TEXT.set(key, text);
    }
    return text;
  }

  /** Counters, in the object the event already has if any (next()'s reused event), else in a new one. */
  private counters(into: Counters | undefined): Counters {
    const packets = this.u64();
    const bytes = this.u64();
    if (into === undefined) return { packets, bytes };
    into.packets = packets;
    into.bytes = bytes;
    return into;
  }

  /** A text attribute: the one before it, if its bytes are the same (no new string), else decoded as UTF-8 and kept. */
  private text(recent: Recent): string {
    const len = this.u16();
    const b = this.buf;
    const p = this.pos;
    this.pos += len;
    const known = recent.bytes;
    if (known.length === len) {
      let i = 0;
      while (i < len && known[i] === b[p + i]) i++;
      if (i === len) return recent.text;
    }
    recent.bytes = Uint8Array.prototype.slice.call(b, p, p + len);
    recent.text = b.toString('utf8', p, p + len);
    return recent.text;
  }

  private bytes(): Buffer {
    const len = this.u16();
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  private u8(): number {
    return this.dv.getUint8(this.pos++);
  }

  private u16(): number {
    const v = this.dv.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  private u32(): number {
    const v = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** 64 bits as a number: exact up to 2^53. */
  private u64(): number {
    const lo = this.dv.getUint32(this.pos, true);
    const hi = this.dv.getUint32(this.pos + 4, true);
    this.pos += 8;
    return hi * 0x100000000 + lo;
  }
}

/**
 * ns since the epoch, `hi` * 2^32 + `lo`, into seconds and nanoseconds,
 * exactly, without a bigint: long division by 10^9 of its four 16-bit
 * digits (each step's dividend stays below 2^46).
 */
function nsTime(hi: number, lo: number, into: Time): Time {
  // The top two digits are `hi` itself, below 2^32.
  const q1 = Math.floor(hi / 1e9);
  let rest = hi - q1 * 1e9;
  let cur = rest * 65536 + (lo >>> 16);
  const q2 = Math.floor(cur / 1e9);
  rest = cur - q2 * 1e9;
  cur = rest * 65536 + (lo & 0xffff);
  const q3 = Math.floor(cur / 1e9);
  into.sec = q1 * 0x100000000 + q2 * 65536 + q3;
  into.nsec = cur - q3 * 1e9;
  return into;
}

/**
 * An IPv6 address as glibc's inet_ntop writes it (what conntrack prints):
 * lower-case hex, the longest run of two or more zero groups as "::" (the
 * first on a tie), and the IPv4-mapped / IPv4-compatible forms in dotted quad.
 */
export function ipv6(b: Uint8Array, p = 0): string {
  const g = new Array<number>(8);
  for (let i = 0; i < 8; i++) g[i] = (b[p + 2 * i] << 8) | b[p + 2 * i + 1];
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) best = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === best) {
      out += i === 0 ? '::' : ':';
      i += bestLen - 1;
      continue;
    }
    // glibc: ::a.b.c.d (compatible) and ::ffff:a.b.c.d (mapped).
    if (i === 6 && best === 0 && (bestLen === 6 || (bestLen === 5 && g[5] === 0xffff))) {
      out += `${b[p + 12]}.${b[p + 13]}.${b[p + 14]}.${b[p + 15]}`;
      break;
    }
    out += g[i].toString(16);
    if (i < 7) out += ':';
  }
  return out;
}
