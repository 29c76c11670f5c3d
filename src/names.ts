/**
 * Names as libnetfilter_conntrack 1.0.9 prints them (the library that does
 * the snprintf for `conntrack -E` of conntrack-tools 1.4.7).
 *
 * Source: libnetfilter_conntrack `src/conntrack/snprintf.c` (the tables) and
 * `src/conntrack/snprintf_default.c` (how they are indexed). The tables were
 * checked against Debian's libnetfilter-conntrack3 1.0.9-3 binary: its
 * `states`, `sctp_states` and `dccp_states` arrays hold exactly the entries
 * below, and its DCCP printer indexes `dccp_states` (an older release
 * indexed `sctp_states` by mistake).
 */

import type { Family } from './event.js';

/** Layer-4 protocol numbers that have a name (`proto2str[]`). */
export const IPPROTO = {
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  DCCP: 33,
  GRE: 47,
  ICMPV6: 58,
  SCTP: 132,
  UDPLITE: 136,
} as const;

const PROTO_NAMES: ReadonlyMap<number, string> = new Map([
  [IPPROTO.TCP, 'tcp'],
  [IPPROTO.UDP, 'udp'],
  [IPPROTO.UDPLITE, 'udplite'],
  [IPPROTO.ICMP, 'icmp'],
  [IPPROTO.ICMPV6, 'icmpv6'],
  [IPPROTO.SCTP, 'sctp'],
  [IPPROTO.GRE, 'gre'],
  [IPPROTO.DCCP, 'dccp'],
]);

/** The number of a protocol name of the table (`tcp`: 6), or undefined. */
export function protoNumber(name: string): number | undefined {
  for (const [n, text] of PROTO_NAMES) if (text === name) return n;
  return undefined;
}

/** `__proto2str()`: the table entry, or `unknown` for any other number. */
export function protoName(n: number): string {
  return PROTO_NAMES.get(n) ?? 'unknown';
}

/** Address family numbers (AF_INET, AF_INET6) as the kernel sends them. */
export const AF = { INET: 2, INET6: 10 } as const;

/** The AF_* number of a family. */
export function l3Num(family: Family): number {
  return family === 'ipv6' ? AF.INET6 : AF.INET;
}

/** `__l3proto2str()`: ipv4, ipv6, else `unknown`. */
export function l3Name(af: number): string {
  if (af === AF.INET) return 'ipv4';
  if (af === AF.INET6) return 'ipv6';
  return 'unknown';
}

/** TCP_CONNTRACK_* names, indexed by state number (`states[]`). */
export const TCP_STATES: readonly string[] = [
  'NONE',
  'SYN_SENT',
  'SYN_RECV',
  'ESTABLISHED',
  'FIN_WAIT',
  'CLOSE_WAIT',
  'LAST_ACK',
  'TIME_WAIT',
  'CLOSE',
  'SYN_SENT2', // 9 is TCP_CONNTRACK_LISTEN in old kernels, SYN_SENT2 since 2.6.31
];

/** SCTP_CONNTRACK_* names (`sctp_states[]`, 1.0.9 has the HEARTBEAT ones). */
export const SCTP_STATES: readonly string[] = [
  'NONE',
  'CLOSED',
  'COOKIE_WAIT',
  'COOKIE_ECHOED',
  'ESTABLISHED',
  'SHUTDOWN_SENT',
  'SHUTDOWN_RECD',
  'SHUTDOWN_ACK_SENT',
  'HEARTBEAT_SENT',
  'HEARTBEAT_ACKED',
];

/** DCCP_CONNTRACK_* names (`dccp_states[]`). */
export const DCCP_STATES: readonly string[] = ['NONE', 'REQUEST', 'RESPOND', 'PARTOPEN', 'OPEN', 'CLOSEREQ', 'CLOSING', 'TIMEWAIT', 'IGNORE', 'INVALID'];

const STATE_TABLES = { tcp: TCP_STATES, sctp: SCTP_STATES, dccp: DCCP_STATES } as const;

/**
 * The state name as `conntrack -E` prints it. A number past the end of the
 * table prints as `NONE` (the library falls back to entry 0 rather than
 * printing garbage), so a newer kernel's state never breaks the line.
 */
export function stateName(proto: 'tcp' | 'sctp' | 'dccp', state: number): string {
  const table = STATE_TABLES[proto];
  return table[state] ?? table[0] ?? 'NONE';
}
