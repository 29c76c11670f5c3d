/** Events made by hand for the format tests: a TCP NEW as VyOS logs it, with what a test changes. */
import type { ConntrackEvent, Time } from '../../src/event.js';

/** ns since the epoch as the events' times. */
export function at(ns: bigint): Time {
  return { sec: Number(ns / 1_000_000_000n), nsec: Number(ns % 1_000_000_000n) };
}

/** The event's time: 2026-11-26T16:17:41.292510123Z. */
export const EVENT_TIME = at(1795709861292510123n);

/** A TCP NEW from 192.168.122.1:38854 to 192.168.122.166:5201 (VyOS's own example line), with `over` on top. */
export function tcpEvent(over: Partial<ConntrackEvent> = {}): ConntrackEvent {
  return {
    type: 'new',
    family: 'ipv4',
    proto: 6,
    protoName: 'tcp',
    orig: { src: '192.168.122.1', dst: '192.168.122.166', proto: 6, sport: 38854, dport: 5201 },
    reply: { src: '192.168.122.166', dst: '192.168.122.1', proto: 6, sport: 5201, dport: 38854 },
    portid: 0,
    time: EVENT_TIME,
    ...over,
  };
}
