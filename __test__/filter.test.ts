/**
 * The filter that runs after reading. The kernel's socket filter drops the
 * same events first (tested end to end), so only this test shows that the
 * filter itself keeps and drops what the config says.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EventConfig } from '../src/config.js';
import type { ConntrackEvent, EventType } from '../src/event.js';
import { compileFilter, protocolSets, subscribedTypes } from '../src/filter.js';

const ev = (type: EventType, proto: number) => ({ type, proto }) as ConntrackEvent;
const PROTOS = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58, gre: 47 };

function kept(event: EventConfig): string[] {
  const keep = compileFilter(event);
  const out: string[] = [];
  for (const type of ['new', 'update', 'destroy'] as const) {
    for (const [name, num] of Object.entries(PROTOS)) if (keep(ev(type, num))) out.push(`${type} ${name}`);
  }
  return out;
}

test('every protocol of the subscribed types when none is named; nothing of the others', () => {
  assert.deepEqual(kept({ destroy: {} }), ['destroy tcp', 'destroy udp', 'destroy icmp', 'destroy icmpv6', 'destroy gre']);
  assert.equal(kept({ new: {}, update: {}, destroy: {} }).length, 15);
});

test('named protocols per type, as VyOS: icmp is IPv4 ICMP only, other is the rest (ICMPv6 too)', () => {
  const event: EventConfig = { new: { tcp: {} }, update: { other: {} }, destroy: { udp: {}, icmp: {} } };
  assert.deepEqual(kept(event), ['new tcp', 'update icmpv6', 'update gre', 'destroy udp', 'destroy icmp']);
  assert.deepEqual(protocolSets(event), { new: ['tcp'], update: ['other'], destroy: ['udp', 'icmp'] });
  assert.deepEqual(subscribedTypes(event), ['new', 'update', 'destroy']);
});

test('the kernel filter is given only the types that name protocols', () => {
  assert.deepEqual(protocolSets({ new: {}, destroy: { tcp: {} } }), { destroy: ['tcp'] });
  assert.deepEqual(protocolSets({ new: {} }), {});
});
