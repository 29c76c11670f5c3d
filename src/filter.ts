/**
 * The config's event/protocol filter. Event types are chosen by group
 * membership (the kernel never sends the others); this keeps or drops by
 * protocol within a type, as VyOS's logger does: `icmp` is IPv4 ICMP (1)
 * only, `other` is every protocol but tcp, udp and icmp (ICMPv6 included).
 */
import type { EventConfig } from './config.js';
import { EVENT_TYPES, type ConntrackEvent, type EventType } from './event.js';
import { IPPROTO } from './names.js';

/** Per event type: undefined = not subscribed, null = every protocol, else the kept set. */
type Compiled = Record<EventType, Set<string> | null | undefined>;

export type Filter = (ev: ConntrackEvent) => boolean;

/** The protocol classes the config names (the kernel filter's bits for them are in bpf.rs). */
export const PROTOCOL_CLASSES = ['tcp', 'udp', 'icmp', 'other'] as const;
export type ProtocolClass = (typeof PROTOCOL_CLASSES)[number];

/** Per event type, the protocol classes kept; a type not named keeps all. */
export type Protocols = Partial<Record<EventType, ProtocolClass[]>>;

/** A protocol's class, as its place in PROTOCOL_CLASSES. */
export function protocolClassIndex(proto: number): number {
  return proto === IPPROTO.TCP ? 0 : proto === IPPROTO.UDP ? 1 : proto === IPPROTO.ICMP ? 2 : 3;
}

export function protocolClass(proto: number): ProtocolClass {
  return PROTOCOL_CLASSES[protocolClassIndex(proto)];
}

export function subscribedTypes(event: EventConfig): EventType[] {
  return EVENT_TYPES.filter((t) => event[t] !== undefined);
}

/**
 * The config's protocol sets, for the kernel's socket filter: it drops what
 * the filter below would, before it is read. The filter still runs (the
 * kernel keeps what it cannot classify).
 */
export function protocolSets(event: EventConfig): Protocols {
  const out: Protocols = {};
  for (const t of subscribedTypes(event)) {
    const protos = Object.keys(event[t] ?? {}) as ProtocolClass[];
    if (protos.length > 0) out[t] = protos;
  }
  return out;
}

export function compileFilter(event: EventConfig): Filter {
  const c: Compiled = { new: undefined, update: undefined, destroy: undefined };
  const sets = protocolSets(event);
  for (const t of subscribedTypes(event)) {
    const protos = sets[t];
    c[t] = protos === undefined ? null : new Set(protos);
  }
  if (c.new === null && c.update === null && c.destroy === null) return () => true;
  return (ev) => {
    const keep = c[ev.type];
    if (keep === undefined) return false;
    return keep === null || keep.has(protocolClass(ev.proto));
  };
}
