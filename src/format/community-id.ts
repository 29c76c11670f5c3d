/**
 * The Community ID v1 of a flow (https://github.com/corelight/community-id-spec,
 * reference implementation: PyPI's `communityid`, communityid/algo.py):
 *
 *   "1:" + base64(SHA-1(seed u16 . saddr . daddr . proto u8 . 0 u8 [. sport u16 . dport u16]))
 *
 * all in network byte order, the two endpoints ordered so that the smaller
 * (address, then port) comes first, unless the flow is one-way. Ports are
 * hashed for TCP, UDP, SCTP, ICMP and ICMPv6 only (the spec's "other
 * IP-borne protocols" hash the addresses and the protocol alone); for ICMP
 * and ICMPv6 the "ports" are the type and its counterpart type, or the
 * type and the code for a type that has no counterpart, which makes the
 * flow one-way.
 *
 * It runs once per event: the hash input is written into one Buffer made
 * once, and the addresses are read from their text without a string or an
 * array per call.
 */
import { IPPROTO } from '../names.js';
import { crypto } from '../on-demand.js';

/**
 * ICMP types that have a counterpart (request and reply), as Zeek pairs
 * them and communityid/icmp.py copies: echo, timestamp, information,
 * router solicitation/advertisement, address mask. -1: none.
 */
const ICMP_PAIR = pairs([
  [8, 0],
  [13, 14],
  [15, 16],
  [10, 9],
  [17, 18],
]);

/**
 * The same for ICMPv6 (communityid/icmp6.py): echo, MLD query/report,
 * router and neighbour solicitation/advertisement, node information
 * (139/140), home agent address discovery (144/145).
 */
const ICMP6_PAIR = pairs([
  [128, 129],
  [130, 131],
  [133, 134],
  [135, 136],
  [139, 140],
  [144, 145],
]);

function pairs(list: Array<[number, number]>): Int16Array {
  const t = new Int16Array(256).fill(-1);
  for (const [a, b] of list) {
    t[a] = b;
    t[b] = a;
  }
  return t;
}

/** Protocols whose ports (or ICMP type and code) are part of the hash. */
const PORT_PROTOS = new Set<number>([IPPROTO.TCP, IPPROTO.UDP, IPPROTO.SCTP, IPPROTO.ICMP, IPPROTO.ICMPV6]);

// seed 2, two IPv6 addresses 32, proto and pad 2, ports 4.
const input = Buffer.alloc(40);
/** The two endpoints as read, before they are ordered: address, address. */
const addrs = Buffer.alloc(32);
const words = new Uint16Array(8);

/**
 * SHA-1 in base64, made on the first Community ID: node:crypto is loaded
 * then (src/on-demand.ts). crypto.hash (Node 20.12, 21.7) saves making a
 * Hash object per call; Node 18 has only createHash.
 */
let sha1: ((data: Buffer) => string) | undefined;

function sha1Base64(data: Buffer): string {
  if (sha1 === undefined) {
    const c = crypto();
    const oneShot = c.hash;
    sha1 = typeof oneShot === 'function' ? (d) => oneShot('sha1', d, 'base64') : (d) => c.createHash('sha1').update(d).digest('base64');
  }
  return sha1(data);
}

/**
 * The Community ID v1 of one flow, or undefined when an address is not an
 * IPv4 or IPv6 address in text, or the two are not of the same family.
 *
 * `src`, `dst`: addresses as text (dotted quad, or IPv6 as inet_ntop or
 * any RFC 4291 form). `sport`, `dport`: the ports for TCP, UDP and SCTP;
 * for ICMP and ICMPv6 the type and the code (they are mapped as the spec
 * says); ignored for any other protocol, as the spec hashes none there. A
 * port protocol without both ports has no Community ID (undefined), as the
 * reference refuses such a tuple. `seed`: 0 to 65535, 0 by default.
 */
export function communityId(src: string, dst: string, proto: number, sport?: number, dport?: number, seed = 0): string | undefined {
  const len = readAddr(src, 0);
  if (len === 0 || readAddr(dst, len) !== len) return undefined;
  const hasPorts = PORT_PROTOS.has(proto);
  let oneWay = false;
  let sp = 0;
  let dp = 0;
  if (hasPorts) {
    if (sport === undefined || dport === undefined) return undefined;
    sp = sport;
    dp = dport;
    if (proto === IPPROTO.ICMP || proto === IPPROTO.ICMPV6) {
      const pair = (proto === IPPROTO.ICMP ? ICMP_PAIR : ICMP6_PAIR)[sport & 0xff];
      // A type without a counterpart: type and code, in the order seen.
      if (pair < 0 || sport > 0xff) oneWay = true;
      else dp = pair;
    }
  }
  // Smaller endpoint first: the address decides, equal addresses the port.
  let flip = false;
  if (!oneWay) {
    // compare() > 0: the source address sorts after the destination.
    const c = addrs.compare(addrs, len, 2 * len, 0, len);
    flip = c > 0 || (c === 0 && !(hasPorts && sp < dp));
  }
  input.writeUInt16BE(seed, 0);
  if (flip) {
    addrs.copy(input, 2, len, 2 * len);
    addrs.copy(input, 2 + len, 0, len);
  } else {
    addrs.copy(input, 2, 0, 2 * len);
  }
  let p = 2 + 2 * len;
  input[p++] = proto;
  input[p++] = 0;
  if (hasPorts) {
    input.writeUInt16BE(flip ? dp : sp, p);
    input.writeUInt16BE(flip ? sp : dp, p + 2);
    p += 4;
  }
  return `1:${sha1Base64(input.subarray(0, p))}`;
}

/**
 * Writes the address in `s` at `off` of `addrs`; returns its length in
 * bytes (4 or 16), or 0 if it is no address.
 */
function readAddr(s: string, off: number): number {
  if (s.indexOf(':') >= 0) return readV6(s, off) ? 16 : 0;
  const v = readV4(s, 0, s.length);
  if (v < 0) return 0;
  addrs.writeUInt32BE(v, off);
  return 4;
}

/** The IPv4 address in s[from, to) as a 32-bit number, or -1. */
function readV4(s: string, from: number, to: number): number {
  let v = 0;
  let parts = 0;
  let i = from;
  while (parts < 4) {
    let n = 0;
    let digits = 0;
    for (; i < to; i++) {
      const c = s.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      n = n * 10 + c;
      if (++digits > 3) return -1;
    }
    if (digits === 0 || n > 255) return -1;
    v = v * 256 + n;
    parts++;
    if (i === to) break;
    if (s.charCodeAt(i) !== 0x2e || parts === 4) return -1;
    i++;
  }
  return parts === 4 ? v : -1;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20;
  return l >= 97 && l <= 102 ? l - 87 : -1;
}

/** Writes the IPv6 address in `s` at `off` of `addrs`; false if it is none. */
function readV6(s: string, off: number): boolean {
  const len = s.length;
  let n = 0;
  let gap = -1;
  let i = 0;
  if (len >= 2 && s.charCodeAt(0) === 0x3a) {
    if (s.charCodeAt(1) !== 0x3a) return false;
    gap = 0;
    i = 2;
  }
  while (i < len) {
    if (n === 8) return false;
    let v = 0;
    let j = i;
    for (; j < len && j - i <= 4; j++) {
      const h = hexDigit(s.charCodeAt(j));
      if (h < 0) break;
      v = v * 16 + h;
    }
    if (j < len && s.charCodeAt(j) === 0x2e) {
      // A dotted quad in the last two words (::ffff:192.0.2.1).
      if (n > 6) return false;
      const v4 = readV4(s, i, len);
      if (v4 < 0) return false;
      words[n++] = v4 >>> 16;
      words[n++] = v4 & 0xffff;
      i = len;
      break;
    }
    if (j === i || j - i > 4) return false;
    words[n++] = v;
    if (j === len) {
      i = j;
      break;
    }
    if (s.charCodeAt(j) !== 0x3a) return false;
    j++;
    if (j < len && s.charCodeAt(j) === 0x3a) {
      if (gap >= 0) return false;
      gap = n;
      j++;
    } else if (j === len) {
      return false;
    }
    i = j;
  }
  if (gap < 0 ? n !== 8 : n > 7) return false;
  const tail = gap < 0 ? 0 : n - gap;
  const head = n - tail;
  let p = off;
  for (let k = 0; k < head; k++, p += 2) addrs.writeUInt16BE(words[k], p);
  for (let k = 0; k < 8 - n; k++, p += 2) addrs.writeUInt16BE(0, p);
  for (let k = head; k < n; k++, p += 2) addrs.writeUInt16BE(words[k], p);
  return true;
}
