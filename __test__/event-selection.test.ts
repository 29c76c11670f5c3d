/**
 * The config's event/protocol selection as the reader is given it. What it
 * keeps is the reader's (ctlog-core reader::ReadFilter, kind.rs, with
 * tests of their own), and the kernel's socket filter's (end to end).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EventConfig } from '../src/config.js';
import { protocolSets, subscribedTypes } from '../src/event-selection.js';

test('the protocol sets the reader is given, per subscribed type', () => {
  const event: EventConfig = { new: { tcp: {} }, update: { other: {} }, destroy: { udp: {}, icmp: {} } };
  assert.deepEqual(protocolSets(event), { new: ['tcp'], update: ['other'], destroy: ['udp', 'icmp'] });
  assert.deepEqual(subscribedTypes(event), ['new', 'update', 'destroy']);
  assert.deepEqual(subscribedTypes({ destroy: {} }), ['destroy']);
});

test('the kernel filter is given only the types that name protocols', () => {
  assert.deepEqual(protocolSets({ new: {}, destroy: { tcp: {} } }), { destroy: ['tcp'] });
  assert.deepEqual(protocolSets({ new: {} }), {});
});
