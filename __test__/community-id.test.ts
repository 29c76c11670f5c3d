/**
 * The Community ID alone: the spec's own test data, the rules one by one,
 * then ours against the reference implementation (PyPI's `communityid`)
 * over many flows in one Python run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { communityId } from '../src/format/community-id.js';
import { IPPROTO } from '../src/names.js';
import { type Flow, referenceIds } from './helpers/communityid.js';

test("the spec's baseline (corelight/community-id-spec baseline/baseline_deflt.json)", () => {
  // ICMP and ICMPv6 rows there hold the mapped "ports"; these are the type and code that map to them.
  assert.equal(communityId('192.168.0.89', '192.168.0.1', IPPROTO.ICMP, 8, 0), '1:X0snYXpgwiv9TZtqg64sgzUn6Dk=');
  assert.equal(communityId('fe80::200:86ff:fe05:80da', 'fe80::260:97ff:fe07:69ea', IPPROTO.ICMPV6, 135, 0), '1:dGHyGvjMfljg6Bppwm3bg0LO8TY=');
  assert.equal(communityId('fe80::200:86ff:fe05:80da', 'ff02::2', IPPROTO.ICMPV6, 133, 0), '1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=');
  assert.equal(communityId('2001:470:e5bf:dead:4957:2174:e82c:4887', '2607:f8b0:400c:c03::1a', IPPROTO.TCP, 63943, 25), '1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=');
  assert.equal(communityId('192.168.170.8', '192.168.170.56', IPPROTO.SCTP, 7, 7), '1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=');
  assert.equal(communityId('192.168.1.52', '8.8.8.8', IPPROTO.UDP, 54585, 53), '1:d/FP5EW3wiY1vCndhwleRRKHowQ=');
  // Protocol 46 (RSVP): addresses and protocol only.
  assert.equal(communityId('10.1.12.1', '10.1.12.2', 46), '1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=');
});

test('both directions of a flow have one id; a one-way ICMP type keeps its direction', () => {
  assert.equal(communityId('10.0.0.1', '127.0.0.1', IPPROTO.TCP, 1234, 80), communityId('127.0.0.1', '10.0.0.1', IPPROTO.TCP, 80, 1234));
  // Equal addresses: the ports decide.
  assert.equal(communityId('10.0.0.1', '10.0.0.1', IPPROTO.UDP, 5000, 53), communityId('10.0.0.1', '10.0.0.1', IPPROTO.UDP, 53, 5000));
  // Echo request and its reply are one flow.
  assert.equal(communityId('10.0.0.2', '10.0.0.1', IPPROTO.ICMP, 8, 0), communityId('10.0.0.1', '10.0.0.2', IPPROTO.ICMP, 0, 0));
  assert.equal(communityId('2001:db8::2', '2001:db8::1', IPPROTO.ICMPV6, 128, 0), communityId('2001:db8::1', '2001:db8::2', IPPROTO.ICMPV6, 129, 0));
  // Destination unreachable (3) has no counterpart: its two directions differ.
  assert.notEqual(communityId('10.0.0.2', '10.0.0.1', IPPROTO.ICMP, 3, 1), communityId('10.0.0.1', '10.0.0.2', IPPROTO.ICMP, 3, 1));
  // The seed changes the id.
  assert.notEqual(communityId('10.0.0.1', '10.0.0.2', IPPROTO.TCP, 1, 2, 1), communityId('10.0.0.1', '10.0.0.2', IPPROTO.TCP, 1, 2));
});

test('ports count only for TCP, UDP, SCTP, ICMP and ICMPv6', () => {
  // GRE keys, DCCP and UDP-Lite ports are not hashed: the spec hashes addresses and protocol there.
  assert.equal(communityId('10.0.0.1', '10.0.0.2', IPPROTO.GRE, 7, 9), communityId('10.0.0.1', '10.0.0.2', IPPROTO.GRE));
  assert.equal(communityId('10.0.0.1', '10.0.0.2', IPPROTO.DCCP, 7, 9), communityId('10.0.0.1', '10.0.0.2', IPPROTO.DCCP, 1, 2));
  assert.notEqual(communityId('10.0.0.1', '10.0.0.2', IPPROTO.UDP, 7, 9), communityId('10.0.0.1', '10.0.0.2', IPPROTO.UDP, 1, 2));
  // A port protocol without its ports has no id (the reference refuses such a tuple).
  assert.equal(communityId('10.0.0.1', '10.0.0.2', IPPROTO.TCP), undefined);
  assert.equal(communityId('10.0.0.1', '10.0.0.2', IPPROTO.ICMP, 8), undefined);
});

test('addresses: every IPv6 text form of one address gives one id; what is no address gives none', () => {
  const id = communityId('2001:db8::1', '::ffff:192.0.2.7', IPPROTO.UDP, 1, 2);
  assert.equal(communityId('2001:0DB8:0000:0000:0000:0000:0000:0001', '0:0:0:0:0:ffff:c000:207', IPPROTO.UDP, 1, 2), id);
  assert.equal(communityId('::', '::1', IPPROTO.TCP, 1, 2), communityId('0:0:0:0:0:0:0:0', '0::1', IPPROTO.TCP, 1, 2));
  assert.equal(communityId('fe80::', 'fe80::1', IPPROTO.TCP, 1, 2), communityId('fe80:0:0:0:0:0:0:0', 'fe80:0:0::0:1', IPPROTO.TCP, 1, 2));
  for (const bad of [
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '1..2.3',
    '1.2.3.4 ',
    'a.b.c.d',
    ':',
    ':1',
    '1:',
    '1:::2',
    '1::2::3',
    '12345::',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    'g::1',
    '::1.2.3',
    '1:2:3:4:5:6:7:1.2.3.4',
  ]) {
    assert.equal(communityId(bad, '10.0.0.1', IPPROTO.UDP, 1, 2), undefined, `source ${JSON.stringify(bad)}`);
  }
  // One address of each family is no flow.
  assert.equal(communityId('10.0.0.1', '::1', IPPROTO.UDP, 1, 2), undefined);
});

test('the same ids as PyPI communityid, over many flows', () => {
  const flows: Flow[] = [];
  const add = (saddr: string, daddr: string, proto: number, sport?: number, dport?: number, seed?: number) => {
    flows.push({ saddr, daddr, proto, sport, dport, seed });
    // Both endpoint orders.
    flows.push({ saddr: daddr, daddr: saddr, proto, sport: dport, dport: sport, seed });
  };
  const v4 = ['10.0.0.1', '192.168.1.52', '8.8.8.8', '127.0.0.1', '0.0.0.0', '255.255.255.255', '10.0.0.10'];
  const v6 = ['::1', '2001:db8::1', 'fe80::200:86ff:fe05:80da', 'ff02::1:ff00:1', '::ffff:192.0.2.7', '2607:f8b0:400c:c03::1a', '::'];
  const ports = [0, 1, 53, 80, 443, 1234, 40000, 65535];
  for (const [i, s] of v4.entries()) {
    for (const d of v4.slice(i)) {
      for (const proto of [IPPROTO.TCP, IPPROTO.UDP, IPPROTO.SCTP]) add(s, d, proto, ports[i % ports.length], ports[(i + 3) % ports.length]);
      add(s, d, IPPROTO.GRE);
      add(s, d, IPPROTO.DCCP);
      add(s, d, 50); // ESP: no name in conntrack, addresses only
    }
  }
  for (const [i, s] of v6.entries()) {
    for (const d of v6.slice(i)) {
      for (const proto of [IPPROTO.TCP, IPPROTO.UDP]) add(s, d, proto, ports[(i + 1) % ports.length], ports[(i + 5) % ports.length]);
      add(s, d, IPPROTO.GRE);
    }
  }
  // Equal addresses, the ports deciding; equal ports too.
  add('10.0.0.1', '10.0.0.1', IPPROTO.TCP, 80, 1234);
  add('10.0.0.1', '10.0.0.1', IPPROTO.UDP, 53, 53);
  add('::1', '::1', IPPROTO.TCP, 40000, 7000);
  // ICMP: every type with a counterpart, some without (3 unreachable, 11 time exceeded, 5 redirect), codes.
  for (const type of [0, 8, 9, 10, 13, 14, 15, 16, 17, 18, 3, 5, 11, 12, 255]) {
    for (const code of [0, 1, 13]) add('10.0.0.2', '10.0.0.1', IPPROTO.ICMP, type, code);
  }
  // ICMPv6: paired types and some unpaired (1 unreachable, 2 too big, 3, 4, 137 redirect).
  for (const type of [128, 129, 130, 131, 133, 134, 135, 136, 139, 140, 144, 145, 1, 2, 3, 4, 137, 143]) {
    for (const code of [0, 4]) add('2001:db8::2', 'fe80::1', IPPROTO.ICMPV6, type, code);
  }
  // Seeds.
  for (const seed of [1, 2, 4660, 65535]) {
    add('10.0.0.1', '10.0.0.2', IPPROTO.TCP, 1234, 80, seed);
    add('2001:db8::1', '2001:db8::2', IPPROTO.ICMPV6, 128, 0, seed);
    add('10.0.0.1', '10.0.0.2', IPPROTO.ICMP, 3, 3, seed);
    add('10.0.0.1', '10.0.0.2', IPPROTO.GRE, undefined, undefined, seed);
  }
  const theirs = referenceIds(flows);
  const ours = flows.map((f) => communityId(f.saddr, f.daddr, f.proto, f.sport, f.dport, f.seed));
  assert.ok(flows.length > 500, `${flows.length} flows`);
  for (let i = 0; i < flows.length; i++) assert.equal(ours[i], theirs[i], JSON.stringify(flows[i]));
});
