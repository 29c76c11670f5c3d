/**
 * The config's event/protocol selection, as the reader is given it. Event
 * types are chosen by group membership (the kernel never sends the
 * others); within a type, protocols are kept or dropped as VyOS's logger
 * does: `icmp` is IPv4 ICMP (1) only, `other` is every protocol but tcp,
 * udp and icmp (ICMPv6 included). The kernel's socket filter and the
 * reader apply it (ctlog-core kind.rs, reader.rs ReadFilter), counted
 * there as `filtered`: nothing after the reader filters.
 */
import type { EventConfig } from './config.js';
import { EVENT_TYPES, type EventType } from './event.js';
import { IPPROTO } from './names.js';

/** The protocol classes the config names (the kernel filter's bits for them are in bpf.rs). */
export const PROTOCOL_CLASSES = ['tcp', 'udp', 'icmp', 'other'] as const;
export type ProtocolClass = (typeof PROTOCOL_CLASSES)[number];

/** Per event type, the protocol classes kept; a type not named keeps all. */
export type Protocols = Partial<Record<EventType, ProtocolClass[]>>;

/** A protocol's class, as its place in PROTOCOL_CLASSES. */
export function protocolClassIndex(proto: number): number {
  return proto === IPPROTO.TCP ? 0 : proto === IPPROTO.UDP ? 1 : proto === IPPROTO.ICMP ? 2 : 3;
}

export function subscribedTypes(event: EventConfig): EventType[] {
  return EVENT_TYPES.filter((t) => event[t] !== undefined);
}

/** The config's protocol sets, for the reader: the types that name protocols, and those. */
export function protocolSets(event: EventConfig): Protocols {
  const out: Protocols = {};
  for (const t of subscribedTypes(event)) {
    const protos = Object.keys(event[t] ?? {}) as ProtocolClass[];
    if (protos.length > 0) out[t] = protos;
  }
  return out;
}
