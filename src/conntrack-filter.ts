/**
 * conntrack's event filters as the config, the environment and the flags
 * spell them (`--orig-src 10.0.0.0/8`, `--mark 0x10/0xff`, `--any-nat`):
 * what each key accepts, turned into the binding's FilterOptions. What
 * each means is the core's (crates/ctlog-core/src/filter.rs): the kernel
 * checks those on the tuples before the event is read (bpf.rs), the
 * reader the rest after decoding.
 *
 * Values are taken as conntrack-tools 1.4.7 takes them, and more: a prefix
 * on every address (conntrack takes one on --orig-src and --orig-dst
 * only), a leading `!` that negates any of them, and --status (which
 * `conntrack -E` refuses).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { IPS } from './event.js';
import type { NativeFilterOptions, NatMatch, NetMatch, NumberMatch, MarkMatch, StatusMatch } from './native.js';
import { IPPROTO } from './names.js';

/**
 * What one key accepts: `allowed` completes "must be ...", for the error
 * lines and the README; `parse` gives the match a value stands for, null
 * for off (the default), undefined for a value the key does not take.
 */
export interface Syntax<T> {
  allowed: string;
  parse(v: unknown): T | null | undefined;
  /** The value that is off, the key's default. */
  off: '' | false;
}

const U32_MAX = 0xffffffff;

/** A leading `!`, and the rest. */
function negation(s: string): [negate: boolean, rest: string] {
  return s.startsWith('!') ? [true, s.slice(1)] : [false, s];
}

/** strtoul(s, 0) as conntrack reads numbers: decimal, 0x hexadecimal, 0 octal; whole, at most `max`. */
function cNumber(s: string, max: number): number | undefined {
  if (!/^(?:0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*)$/i.test(s)) return undefined;
  const n = s.length > 1 && s[0] === '0' && !/^0x/i.test(s) ? Number.parseInt(s, 8) : Number(s);
  return n <= max ? n : undefined;
}

/** A JSON number, or a string `[!]N` read by `read`: a value at most `max`, maybe negated. */
function numeric(max: number, read: (s: string) => number | undefined): (v: unknown) => NumberMatch | null | undefined {
  return (v) => {
    if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= max ? { value: v, negate: false } : undefined;
    if (typeof v !== 'string') return undefined;
    if (v === '') return null;
    const [negate, rest] = negation(v);
    const value = read(rest);
    return value === undefined ? undefined : { value, negate };
  };
}

/**
 * An address as conntrack parses it, written out: IPv4 as inet_aton reads
 * it (`10.1` is 10.0.0.1; parts in decimal, 0x hexadecimal or 0 octal),
 * IPv6 as inet_pton does; no names, no zone index.
 */
function address(s: string): { text: string; family: 4 | 6 } | undefined {
  if (isIP(s) === 6 && !s.includes('%')) return { text: s, family: 6 };
  const parts = s.split('.').map((p) => cNumber(p, U32_MAX));
  if (parts.length > 4 || parts.some((p) => p === undefined)) return undefined;
  const nums = parts as number[];
  // The last part fills the bytes the others leave: a, a.b (8.24), a.b.c (8.8.16), a.b.c.d.
  const lastBits = 8 * (5 - nums.length);
  if (nums.slice(0, -1).some((p) => p > 255) || nums[nums.length - 1] >= 2 ** lastBits) return undefined;
  const n = nums.slice(0, -1).reduce((acc, p, i) => acc + p * 2 ** (24 - 8 * i), 0) + nums[nums.length - 1];
  return { text: [24, 16, 8, 0].map((b) => Math.floor(n / 2 ** b) % 256).join('.'), family: 4 };
}

/** `[!]ADDRESS[/PREFIX]`. */
export const ADDRESS: Syntax<NetMatch> = {
  allowed:
    'a string: an IPv4 address (as inet_aton reads it) or an IPv6 address, or a prefix (`10.0.0.0/8`, `fd00::/64`), `!` before it for every address but those; or empty (off)',
  parse(v) {
    if (typeof v !== 'string') return undefined;
    if (v === '') return null;
    const [negate, rest] = negation(v);
    const [addr, bits, ...more] = rest.split('/');
    const a = address(addr);
    if (a === undefined || more.length > 0) return undefined;
    if (bits === undefined) return { address: a.text, negate };
    const width = a.family === 4 ? 32 : 128;
    if (!/^\d{1,3}$/.test(bits) || Number(bits) > width) return undefined;
    return { address: a.text, prefix: Number(bits), negate };
  },
  off: '',
};

/** conntrack's own protocol names (its extensions), case aside. */
const PROTOCOLS: Readonly<Record<string, number>> = {
  tcp: IPPROTO.TCP,
  udp: IPPROTO.UDP,
  udplite: IPPROTO.UDPLITE,
  sctp: IPPROTO.SCTP,
  dccp: IPPROTO.DCCP,
  icmp: IPPROTO.ICMP,
  icmpv6: IPPROTO.ICMPV6,
  gre: IPPROTO.GRE,
};

/** The protocols with ports: --sport and --dport need one of them, as conntrack's do. */
export const WITH_PORTS: readonly number[] = [IPPROTO.TCP, IPPROTO.UDP, IPPROTO.UDPLITE, IPPROTO.SCTP, IPPROTO.DCCP];

/** /etc/protocols by name (getprotobyname's names and aliases), read once, when a name is not conntrack's. */
let etcProtocols: Map<string, number> | undefined;

function protocolByName(name: string): number | undefined {
  const own = name.toLowerCase();
  if (Object.hasOwn(PROTOCOLS, own)) return PROTOCOLS[own];
  if (etcProtocols === undefined) {
    etcProtocols = new Map();
    let text = '';
    try {
      text = readFileSync('/etc/protocols', 'latin1');
    } catch {
      // No netbase: conntrack's own names and numbers only.
    }
    for (const line of text.split('\n')) {
      const [n, num, ...aliases] = line.replace(/#.*/, '').trim().split(/\s+/);
      if (!n || !/^\d+$/.test(num ?? '') || Number(num) > 255) continue;
      for (const a of [n, ...aliases]) if (!etcProtocols.has(a)) etcProtocols.set(a, Number(num));
    }
  }
  // getprotobyname compares names as they are written.
  return etcProtocols.get(name);
}

/** `[!]tcp`, `6`, any name of /etc/protocols. */
export const PROTO: Syntax<NumberMatch> = {
  allowed: `a protocol: a name (${Object.keys(PROTOCOLS).join(', ')}, or one of /etc/protocols) or a number from 0 to 255, \`!\` before it for every other; or empty (off)`,
  parse: numeric(255, (s) => protocolByName(s) ?? cNumber(s, 255)),
  off: '',
};

export const PORT: Syntax<NumberMatch> = {
  allowed:
    'a port from 0 to 65535 (a number or a string of digits), `!` before it for every other; or empty (off). Needs proto set to tcp, udp, udplite, sctp or dccp',
  parse: numeric(65535, (s) => (/^\d{1,5}$/.test(s) && Number(s) <= 65535 ? Number(s) : undefined)),
  off: '',
};

export const ZONE: Syntax<NumberMatch> = {
  allowed: 'a zone from 0 to 65535 (decimal, 0x hexadecimal or 0 octal), `!` before it for every other; or empty (off)',
  parse: numeric(65535, (s) => cNumber(s, 65535)),
  off: '',
};

/** `[!]VALUE[/MASK]`. */
export const MARK: Syntax<MarkMatch> = {
  allowed:
    'a mark VALUE or VALUE/MASK (each from 0 to 4294967295: decimal, 0x hexadecimal or 0 octal): the mark AND MASK is VALUE; `!` before it for every other; or empty (off)',
  parse(v) {
    if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= U32_MAX ? { value: v, negate: false } : undefined;
    if (typeof v !== 'string') return undefined;
    if (v === '') return null;
    const [negate, rest] = negation(v);
    const [value, mask, ...more] = rest.split('/').map((s) => cNumber(s, U32_MAX));
    if (value === undefined || more.length > 0 || (rest.includes('/') && mask === undefined)) return undefined;
    return mask === undefined ? { value, negate } : { value, mask, negate };
  },
  off: '',
};

/** `UNREPLIED` is `!SEEN_REPLY`, `UNSET` is no bit (conntrack's words). */
const STATUS_WORDS = ['UNREPLIED', 'UNSET'];

/** `ASSURED,!SEEN_REPLY`: names of IPS_* bits (case aside), each `!` for clear. */
export const STATUS: Syntax<StatusMatch> = {
  allowed: `IPS_* bits, a comma-separated string or a JSON array of names (${[...Object.keys(IPS), ...STATUS_WORDS].join(', ')}): each set, or \`!\` before it for clear; or empty (off)`,
  parse(v) {
    const names = Array.isArray(v) ? v : typeof v === 'string' ? (v === '' ? [] : v.split(',')) : undefined;
    if (names === undefined || !names.every((n): n is string => typeof n === 'string')) return undefined;
    if (names.length === 0) return v === '' ? null : undefined;
    const m: StatusMatch = { set: 0, clear: 0 };
    for (const n of names) {
      const [negate, rest] = negation(n);
      const name = rest.toUpperCase();
      if (!negate && name === 'UNSET') continue;
      if (!negate && name === 'UNREPLIED') {
        m.clear |= IPS.SEEN_REPLY;
        continue;
      }
      if (!Object.hasOwn(IPS, name)) return undefined;
      const bit = IPS[name as keyof typeof IPS];
      if (negate) m.clear |= bit;
      else m.set |= bit;
    }
    return m;
  },
  off: '',
};

/** `true`, `ADDRESS`, `ADDRESS:PORT`, `[IPV6]:PORT`, each maybe negated; `!` alone: not translated. */
export const NAT: Syntax<NatMatch> = {
  allowed:
    'true (translated), false (off), or a string: the address translated to, with `:PORT` after an IPv4 address or `[IPv6]:PORT`; `!` before it (or alone) for every other',
  parse(v) {
    if (v === true || v === 'true') return { negate: false };
    if (v === false || v === 'false' || v === '') return null;
    if (typeof v !== 'string') return undefined;
    const [negate, rest] = negation(v);
    if (rest === '') return negate ? { negate } : undefined;
    // conntrack's split_address_and_port: a port after an IPv4 address, or after an IPv6 one in brackets.
    const v6 = /^\[([^\]]+)\]:(\d{1,5})$/.exec(rest);
    const v4 = /^([^:]+):(\d{1,5})$/.exec(rest);
    const [addr, port] = v6 ? [v6[1], v6[2]] : v4 ? [v4[1], v4[2]] : [rest, undefined];
    const a = address(addr);
    if (a === undefined || (v6 && a.family !== 6) || (v4 && a.family !== 4)) return undefined;
    if (port === undefined) return { address: a.text, negate };
    return Number(port) <= 65535 ? { address: a.text, port: Number(port), negate } : undefined;
  },
  off: false,
};

/** The filter keys, as the config names them, with their syntax and the FilterOptions field each sets. */
export const FILTER_KEYS = {
  orig_src: { syntax: ADDRESS, field: 'origSrc', doc: "The original direction's source address: `--orig-src` (`-s`)." },
  orig_dst: { syntax: ADDRESS, field: 'origDst', doc: "The original direction's destination address: `--orig-dst` (`-d`)." },
  reply_src: {
    syntax: ADDRESS,
    field: 'replySrc',
    doc: "The reply direction's source address: `--reply-src` (`-r`); after a destination NAT, the address translated to.",
  },
  reply_dst: {
    syntax: ADDRESS,
    field: 'replyDst',
    doc: "The reply direction's destination address: `--reply-dst` (`-q`); after a source NAT, the address translated to.",
  },
  proto: { syntax: PROTO, field: 'proto', doc: 'The layer-4 protocol: `--proto` (`-p`).' },
  sport: { syntax: PORT, field: 'sport', doc: "The original direction's source port: `--sport`." },
  dport: { syntax: PORT, field: 'dport', doc: "The original direction's destination port: `--dport`." },
  mark: {
    syntax: MARK,
    field: 'mark',
    doc: "The connection's mark: `--mark` (`-m`). An event without a mark (the kernel sends none for 0 unless it changed) matches no value, as in conntrack.",
  },
  zone: { syntax: ZONE, field: 'zone', doc: 'The conntrack zone: `--zone` (`-w`); an event without one is in zone 0.' },
  status: { syntax: STATUS, field: 'status', doc: 'Status bits set and clear: `--status` (`-u`), which `conntrack -E` does not take.' },
  src_nat: { syntax: NAT, field: 'srcNat', doc: 'Source-translated connections only: `--src-nat` (`-n`).' },
  dst_nat: { syntax: NAT, field: 'dstNat', doc: 'Destination-translated connections only: `--dst-nat` (`-g`).' },
  any_nat: { syntax: NAT, field: 'anyNat', doc: 'Connections translated either way only: `--any-nat` (`-j`).' },
} as const satisfies Record<string, { syntax: Syntax<unknown>; field: keyof NativeFilterOptions; doc: string }>;

export type FilterKey = keyof typeof FILTER_KEYS;

/** The filter keys' values as the config holds them (the matches `parse` gave, or undefined). */
export type FilterValues = { [K in FilterKey]: ReturnType<(typeof FILTER_KEYS)[K]['syntax']['parse']> | undefined };

/** The binding's options for the values set, or undefined if none is. */
export function filterOptions(values: FilterValues): NativeFilterOptions | undefined {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(FILTER_KEYS) as FilterKey[]) {
    const v = values[key];
    if (v !== null && v !== undefined) out[FILTER_KEYS[key].field] = v;
  }
  return Object.keys(out).length > 0 ? (out as NativeFilterOptions) : undefined;
}

/**
 * What conntrack refuses across keys, as one line's `key: reason`, or
 * undefined: a port without a protocol that has ports, and addresses of
 * two families ("mismatched address family").
 */
export function filterConflict(values: FilterValues): string | undefined {
  const proto = values.proto;
  for (const key of ['sport', 'dport'] as const) {
    if (values[key] && !(proto && !proto.negate && WITH_PORTS.includes(proto.value))) {
      return `${key}: needs proto set to tcp, udp, udplite, sctp or dccp (a protocol with ports), as conntrack's --${key} needs -p`;
    }
  }
  let first: [FilterKey, 4 | 6] | undefined;
  for (const key of ['orig_src', 'orig_dst', 'reply_src', 'reply_dst', 'src_nat', 'dst_nat', 'any_nat'] as const) {
    const a = values[key]?.address;
    const family = a === undefined ? undefined : address(a)?.family;
    if (family === undefined) continue;
    if (first && first[1] !== family) {
      return `${key}: an IPv${family} address, but ${first[0]} is IPv${first[1]}: one address family at a time, as conntrack takes them`;
    }
    first ??= [key, family];
  }
  return undefined;
}
