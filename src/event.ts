/**
 * The public shape of a conntrack event, as the library and the formats
 * see it. Built from the native batches by `wire.ts`.
 *
 * A field that is absent (undefined) means the kernel did not send that
 * attribute; formats must keep that distinct from zero.
 */

/**
 * The event types, in the order of their multicast groups
 * (NFNLGRP_CONNTRACK_NEW, _UPDATE, _DESTROY), which is also the batch
 * format's type byte. NEW and UPDATE both arrive as IPCTNL_MSG_CT_NEW; NEW
 * is the one whose netlink flags carry NLM_F_CREATE|NLM_F_EXCL. DESTROY is
 * IPCTNL_MSG_CT_DELETE.
 */
export const EVENT_TYPES = ['new', 'update', 'destroy'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export type Family = 'ipv4' | 'ipv6';

/** One direction of a connection (CTA_TUPLE_ORIG or CTA_TUPLE_REPLY). */
export interface Tuple {
  /** Source address as text (inet_ntop form). */
  src?: string;
  /** Destination address as text. */
  dst?: string;
  /** Layer-4 protocol number (CTA_PROTO_NUM). */
  proto?: number;
  /** Source port; for GRE the source key (CTA_PROTO_SRC_PORT). */
  sport?: number;
  /** Destination port; for GRE the destination key. */
  dport?: number;
  /** ICMP / ICMPv6 type, code and id. */
  icmpType?: number;
  icmpCode?: number;
  icmpId?: number;
  /** CTA_TUPLE_ZONE. */
  zone?: number;
}

/**
 * Packets and bytes seen in one direction (needs nf_conntrack_acct=1).
 * Numbers: exact up to 2^53 (8 PiB), more than a flow carries; the
 * kernel's 64 bits are rounded beyond.
 */
export interface Counters {
  packets: number;
  bytes: number;
}

/**
 * A moment as the kernel gives it (ns since the epoch, 64 bits unsigned),
 * as whole seconds and the nanoseconds past them: both numbers, exact, no
 * bigint to make or to print. `timeNs()` gives the bigint where one is wanted.
 */
export interface Time {
  sec: number;
  /** 0 to 999,999,999. */
  nsec: number;
}

/** `t` as ns since the epoch. */
export function timeNs(t: Time): bigint {
  return BigInt(t.sec) * 1_000_000_000n + BigInt(t.nsec);
}

/** `t` as ns since the epoch, in decimal. */
export function timeText(t: Time): string {
  return t.sec === 0 ? String(t.nsec) : `${t.sec}${String(t.nsec).padStart(9, '0')}`;
}

/** Seconds apart whose nanoseconds stay below 2^53 (104 days). */
const MAX_EXACT_SECONDS = 9_007_199;

/**
 * `stop` − `start` in ns (negative if the clock was stepped back): a
 * number, exact, within 104 days; a bigint beyond.
 */
export function spanNs(start: Time, stop: Time): number | bigint {
  const secs = stop.sec - start.sec;
  if (Math.abs(secs) > MAX_EXACT_SECONDS) return timeNs(stop) - timeNs(start);
  return secs * 1e9 + (stop.nsec - start.nsec);
}

export interface ConntrackEvent {
  type: EventType;
  family: Family;
  /** Layer-4 protocol number of the original tuple. */
  proto: number;
  /** tcp, udp, udplite, icmp, icmpv6, sctp, dccp, gre; else 'unknown'. */
  protoName: string;
  orig: Tuple;
  reply: Tuple;
  /** IPS_* status bits (CTA_STATUS). */
  status?: number;
  /** Seconds left before the entry expires (CTA_TIMEOUT). */
  timeout?: number;
  mark?: number;
  secmark?: number;
  /** CTA_ZONE. */
  zone?: number;
  /** Reference count (CTA_USE). */
  use?: number;
  /** Conntrack entry id (CTA_ID). */
  id?: number;
  /** TCP, SCTP or DCCP state number, and which protocol it belongs to. */
  state?: number;
  stateProto?: 'tcp' | 'sctp' | 'dccp';
  /** State name as conntrack-tools prints it (SYN_SENT, ESTABLISHED...). */
  stateName?: string;
  origCounters?: Counters;
  replyCounters?: Counters;
  /** Flow start / stop (needs nf_conntrack_timestamp=1). */
  start?: Time;
  stop?: Time;
  /** When the kernel generated the event (newer kernels). */
  eventTime?: Time;
  /** Connection tracking helper name (CTA_HELP_NAME), escaped as `progname` is. */
  helper?: string;
  /** Security context (CTA_SECCTX_NAME), escaped as `progname` is. */
  secctx?: string;
  /** Connection labels bit set, as the kernel's bytes. */
  labels?: Uint8Array;
  /** Netlink port id of the process that caused the event; 0 for the kernel. */
  portid: number;
  /**
   * The program owning `portid`, looked up in /proc when the event was
   * read. A process chooses its name: control characters, invalid UTF-8
   * and backslashes are escaped (`\x0a`, `\xff`, `\\`; docs/security.md),
   * so that it never breaks a line.
   */
  progname?: string;
  /** When ctlogd read the event. */
  time: Time;
}

/** IPS_* status bits (linux/netfilter/nf_conntrack_common.h). */
export const IPS = {
  EXPECTED: 1 << 0,
  SEEN_REPLY: 1 << 1,
  ASSURED: 1 << 2,
  CONFIRMED: 1 << 3,
  SRC_NAT: 1 << 4,
  DST_NAT: 1 << 5,
  SEQ_ADJUST: 1 << 6,
  SRC_NAT_DONE: 1 << 7,
  DST_NAT_DONE: 1 << 8,
  DYING: 1 << 9,
  FIXED_TIMEOUT: 1 << 10,
  TEMPLATE: 1 << 11,
  UNTRACKED: 1 << 12,
  HELPER: 1 << 13,
  OFFLOAD: 1 << 14,
  HW_OFFLOAD: 1 << 15,
} as const;
