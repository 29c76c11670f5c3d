/**
 * The config's event/protocol filter. Event types are chosen by group
 * membership (the kernel never sends the others); this keeps or drops by
 * protocol within a type, as VyOS's logger does: `icmp` is IPv4 ICMP (1)
 * only, `other` is every protocol but tcp, udp and icmp (ICMPv6 included).
 */
import type { EventConfig } from './config.js';
import type { ConntrackEvent, EventType } from './event.js';

/** Per event type: undefined = not subscribed, null = every protocol, else the kept set. */
type Compiled = Record<EventType, Set<string> | null | undefined>;

export type Filter = (ev: ConntrackEvent) => boolean;

export function protocolKey(proto: number): 'tcp' | 'udp' | 'icmp' | 'other' {
  return proto === 6 ? 'tcp' : proto === 17 ? 'udp' : proto === 1 ? 'icmp' : 'other';
}

export function subscribedTypes(event: EventConfig): EventType[] {
  return (['new', 'update', 'destroy'] as const).filter((t) => event[t] !== undefined);
}

export function compileFilter(event: EventConfig): Filter {
  const c: Compiled = { new: undefined, update: undefined, destroy: undefined };
  for (const t of subscribedTypes(event)) {
    const protos = Object.keys(event[t] ?? {});
    c[t] = protos.length === 0 ? null : new Set(protos);
  }
  if (c.new === null && c.update === null && c.destroy === null) return () => true;
  return (ev) => {
    const keep = c[ev.type];
    if (keep === undefined) return false;
    return keep === null || keep.has(protocolKey(ev.proto));
  };
}
