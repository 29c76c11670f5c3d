/**
 * Reads the batches that the native reader hands over (one Buffer per
 * batch) into ConntrackEvent objects. The layout is written by
 * crates/ctlog-core/src/wire.rs; the two change together (WIRE_VERSION).
 */
import type { ConntrackEvent, Counters, EventType, Tuple } from './event.js';
import { protoName, stateName } from './names.js';

export const WIRE_VERSION = 2;
const HEADER_LEN = 24;
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

const TYPES: readonly EventType[] = ['new', 'update', 'destroy'];

/** IPv4 address texts by address, bounded: emptied when full. */
const V4_TEXT = new Map<number, string>();
const V4_TEXT_MAX = 65536;
const STATE_PROTOS = [undefined, 'tcp', 'dccp', 'sctp'] as const;
const AF_INET6 = 10;

/** What the reader saw since the previous batch, besides its events. */
export interface Notices {
  /** ENOBUFS errors: the kernel found the receive buffer full. */
  enobufs: number;
  /** Messages that could not be decoded. */
  decodeErrors: number;
  /** Events the kernel dropped (socket overrun). */
  lost: number;
}

export interface Batch {
  events: ConntrackEvent[];
  notices: Notices;
  /** The reader's last batch: the capture has stopped. */
  final: boolean;
}

export function readBatch(buf: Buffer): Batch {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.length < HEADER_LEN || dv.getUint8(0) !== WIRE_VERSION) {
    throw new Error(`native batch: wire version ${buf.length ? dv.getUint8(0) : '?'}, expected ${WIRE_VERSION}`);
  }
  const count = dv.getUint32(4, true);
  const notices: Notices = {
    enobufs: dv.getUint32(8, true),
    decodeErrors: dv.getUint32(12, true),
    lost: Number(dv.getBigUint64(16, true)),
  };
  const r = new Reader(buf, dv, HEADER_LEN);
  const events = new Array<ConntrackEvent>(count);
  for (let i = 0; i < count; i++) events[i] = r.event();
  return { events, notices, final: (dv.getUint8(1) & FLAG_FINAL) !== 0 };
}

class Reader {
  private lastLo = 0;
  private lastHi = 0;
  private lastTime?: bigint;

  constructor(
    private readonly buf: Buffer,
    private readonly dv: DataView,
    private pos: number,
  ) {}

  event(): ConntrackEvent {
    const dv = this.dv;
    const type = TYPES[dv.getUint8(this.pos)] ?? 'update';
    const family = dv.getUint8(this.pos + 1) === AF_INET6 ? 'ipv6' : 'ipv4';
    const bits = dv.getUint32(this.pos + 4, true);
    const portid = dv.getUint32(this.pos + 8, true);
    const time = this.time(this.pos + 12);
    this.pos += 20;
    const orig = bits & F_ORIG ? this.tuple() : {};
    const reply = bits & F_REPLY ? this.tuple() : {};
    const proto = orig.proto ?? 0;
    // Every field is set, in one order, so that all events share one
    // hidden class: formats then run on monomorphic property access.
    const ev: ConntrackEvent = {
      type,
      family,
      proto,
      protoName: protoName(proto),
      orig,
      reply,
      status: bits & F_STATUS ? this.u32() : undefined,
      timeout: bits & F_TIMEOUT ? this.u32() : undefined,
      mark: bits & F_MARK ? this.u32() : undefined,
      secmark: bits & F_SECMARK ? this.u32() : undefined,
      zone: bits & F_ZONE ? this.u16() : undefined,
      use: bits & F_USE ? this.u32() : undefined,
      id: bits & F_ID ? this.u32() : undefined,
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
      portid,
      progname: undefined,
      time,
    };
    if (bits & F_PROTOINFO) {
      const which = STATE_PROTOS[this.u8()];
      const state = this.u8();
      if (which) {
        ev.stateProto = which;
        ev.state = state;
        ev.stateName = stateName(which, state);
      }
    }
    if (bits & F_COUNTERS_ORIG) ev.origCounters = this.counters();
    if (bits & F_COUNTERS_REPLY) ev.replyCounters = this.counters();
    if (bits & F_START) ev.start = this.u64();
    if (bits & F_STOP) ev.stop = this.u64();
    if (bits & F_EVENT_TIME) ev.eventTime = this.u64();
    if (bits & F_HELPER) ev.helper = this.bytes().toString('utf8');
    if (bits & F_SECCTX) ev.secctx = this.bytes().toString('utf8');
    if (bits & F_LABELS) ev.labels = new Uint8Array(this.bytes());
    if (bits & F_PROGNAME) ev.progname = this.bytes().toString('utf8');
    return ev;
  }

  /**
   * The time read: events read by one system call share it, so the BigInt
   * of the previous event is reused when the bytes are the same.
   */
  private time(at: number): bigint {
    const lo = this.dv.getUint32(at, true);
    const hi = this.dv.getUint32(at + 4, true);
    if (lo !== this.lastLo || hi !== this.lastHi || this.lastTime === undefined) {
      this.lastLo = lo;
      this.lastHi = hi;
      this.lastTime = (BigInt(hi) << 32n) | BigInt(lo);
    }
    return this.lastTime;
  }

  private tuple(): Tuple {
    const bits = this.u16();
    const t: Tuple = {};
    if (bits & T_SRC) t.src = this.addr();
    if (bits & T_DST) t.dst = this.addr();
    if (bits & T_PROTO) t.proto = this.u8();
    if (bits & T_SPORT) t.sport = this.u16();
    if (bits & T_DPORT) t.dport = this.u16();
    if (bits & T_ICMP_TYPE) t.icmpType = this.u8();
    if (bits & T_ICMP_CODE) t.icmpCode = this.u8();
    if (bits & T_ICMP_ID) t.icmpId = this.u16();
    if (bits & T_ZONE) t.zone = this.u16();
    return t;
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

  private counters(): Counters {
    return { packets: this.u64(), bytes: this.u64() };
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

  private u64(): bigint {
    const v = this.dv.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }
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
