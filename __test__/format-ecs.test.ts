/**
 * The `ecs` format on hand-made events: every line valid against
 * schema/ecs.schema.json, and the ECS fields holding what the event says.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import type { ConntrackEvent } from '../src/event.js';
import { IPS } from '../src/event.js';
import { at } from './helpers/events.js';
import { communityId } from '../src/format/community-id.js';
import { ECS_VERSION, formatEcs } from '../src/format/ecs.js';
import { isoNs } from '../src/format/json.js';
import { IPPROTO } from '../src/names.js';

const schema = JSON.parse(readFileSync(new URL('../schema/ecs.schema.json', import.meta.url), 'utf8'));
// strict: an unknown keyword or a sloppy schema is an error, not a warning.
const ajv = new Ajv2020.default({ strict: true, allErrors: true });
const validate = ajv.compile(schema);

/** Format, check it is one line of valid JSON that the schema accepts, and return it parsed. */
function check(ev: ConntrackEvent): Record<string, any> {
  const line = formatEcs(ev);
  assert.ok(!line.includes('\n'), 'one line, no newline');
  const obj: Record<string, any> = JSON.parse(line);
  assert.ok(validate(obj), `schema: ${ajv.errorsText(validate.errors)}\n${line}`);
  return obj;
}

const T = 1795709861292510123n;

function tcp(over: Partial<ConntrackEvent> = {}): ConntrackEvent {
  return {
    type: 'new',
    family: 'ipv4',
    proto: IPPROTO.TCP,
    protoName: 'tcp',
    orig: { src: '192.168.122.1', dst: '192.168.122.166', proto: 6, sport: 38854, dport: 5201 },
    reply: { src: '192.168.122.166', dst: '192.168.122.1', proto: 6, sport: 5201, dport: 38854 },
    portid: 0,
    time: at(T),
    ...over,
  };
}

test('TCP NEW without NAT, counters or times: exact object', () => {
  const o = check(tcp({ id: 2800357913, timeout: 120, state: 1, stateProto: 'tcp', stateName: 'SYN_SENT', status: IPS.CONFIRMED }));
  assert.deepEqual(o, {
    '@timestamp': '2026-11-26T16:17:41.292510123Z',
    ecs: { version: ECS_VERSION },
    event: { kind: 'event', category: ['network'], type: ['connection', 'start'], action: 'conntrack-new' },
    source: { ip: '192.168.122.1', port: 38854 },
    destination: { ip: '192.168.122.166', port: 5201 },
    network: {
      type: 'ipv4',
      transport: 'tcp',
      iana_number: '6',
      community_id: communityId('192.168.122.1', '192.168.122.166', IPPROTO.TCP, 38854, 5201),
    },
    ctlogd: {
      type: 'new',
      id: 2800357913,
      state: 'SYN_SENT',
      state_num: 1,
      status: ['CONFIRMED'],
      status_bits: 8,
      timeout: 120,
      reply: { src: '192.168.122.166', dst: '192.168.122.1', sport: 5201, dport: 38854 },
      portid: 0,
    },
  });
  // The key order is stable: @timestamp first, then ecs.
  assert.ok(formatEcs(tcp()).startsWith('{"@timestamp":"2026-11-26T16:17:41.292510123Z","ecs":{"version":"'));
});

test('event.type and event.action per event type, with values ECS allows for category network', () => {
  const allowed = ['access', 'allowed', 'connection', 'denied', 'end', 'info', 'protocol', 'start'];
  const want = {
    new: [['connection', 'start'], 'conntrack-new'],
    update: [['connection'], 'conntrack-update'],
    destroy: [['connection', 'end'], 'conntrack-destroy'],
  } as const;
  for (const type of ['new', 'update', 'destroy'] as const) {
    const o = check(tcp({ type }));
    assert.deepEqual(o.event.type, want[type][0]);
    assert.equal(o.event.action, want[type][1]);
    assert.equal(o.ctlogd.type, type);
    assert.ok(
      o.event.type.every((t: string) => allowed.includes(t)),
      `${o.event.type} allowed`,
    );
  }
});

test('@timestamp is the kernel event time when sent, and event.created the read time; times and duration exact', () => {
  const o = check(
    tcp({
      type: 'destroy',
      eventTime: at(1721134524073621999n),
      start: at(1721134494073916335n),
      stop: at(1721134524073621287n),
      time: at(1721134524080000001n),
    }),
  );
  assert.equal(o['@timestamp'], isoNs(at(1721134524073621999n)));
  assert.equal(o['@timestamp'], '2024-07-16T12:55:24.073621999Z');
  assert.equal(o.event.created, '2024-07-16T12:55:24.080000001Z');
  assert.equal(o.event.start, '2024-07-16T12:54:54.073916335Z');
  assert.equal(o.event.end, '2024-07-16T12:55:24.073621287Z');
  assert.equal(o.event.duration, 29999704952);
  // Without a kernel event time: the read time, and no event.created (ECS: the same time twice is @timestamp alone).
  const read = check(tcp({ start: at(1721134494073916335n) }));
  assert.equal(read['@timestamp'], isoNs(at(T)));
  assert.ok(!('created' in read.event));
  assert.equal(read.event.start, '2024-07-16T12:54:54.073916335Z');
  assert.ok(!('end' in read.event) && !('duration' in read.event), 'NEW: start only');
  // A wall clock stepped back during the flow.
  assert.equal(check(tcp({ start: at(2000n), stop: at(1500n) })).event.duration, -500);
});

test('counters: source from the original direction, destination from the reply, network their sums; exact to 2^53, digits past it', () => {
  const ev = tcp({
    type: 'destroy',
    origCounters: { packets: 2 ** 53 - 3, bytes: 2 ** 64 },
    replyCounters: { packets: 2, bytes: 120 },
  });
  const o = check(ev);
  assert.equal(o.destination.bytes, 120);
  assert.equal(o.destination.packets, 2);
  const line = formatEcs(ev);
  // 2^53 - 1 exactly; 2^64 (a counter past 2^53, rounded when read) in digits, not an exponent.
  assert.ok(line.includes('"source":{"ip":"192.168.122.1","port":38854,"bytes":18446744073709551616,"packets":9007199254740989}'), line);
  assert.ok(line.includes('"bytes":18446744073709551616,"packets":9007199254740991'), line);
  // Zero counters are 0, not absent.
  const zero = check(tcp({ origCounters: { packets: 1, bytes: 60 }, replyCounters: { packets: 0, bytes: 0 } }));
  assert.deepEqual([zero.destination.bytes, zero.destination.packets, zero.network.bytes, zero.network.packets], [0, 0, 60, 1]);
  // Without counters: no bytes or packets anywhere.
  const none = check(tcp());
  for (const k of ['bytes', 'packets']) assert.ok(!(k in none.source) && !(k in none.destination) && !(k in none.network), k);
  // One direction's counters only: no total that would say both.
  const one = check(tcp({ origCounters: { packets: 1, bytes: 60 } }));
  assert.equal(one.source.bytes, 60);
  assert.ok(!('bytes' in one.network));
});

test('source NAT: source.nat from the reply destination when it differs; destination NAT: destination.nat from the reply source', () => {
  // Masquerade on a router: 192.168.1.10:40000 leaves as 203.0.113.5:40000.
  const snat = check(
    tcp({
      orig: { src: '192.168.1.10', dst: '8.8.8.8', sport: 40000, dport: 53 },
      reply: { src: '8.8.8.8', dst: '203.0.113.5', sport: 53, dport: 40000 },
      status: IPS.SRC_NAT | IPS.CONFIRMED,
    }),
  );
  assert.deepEqual(snat.source, { ip: '192.168.1.10', port: 40000, nat: { ip: '203.0.113.5', port: 40000 } });
  assert.deepEqual(snat.destination, { ip: '8.8.8.8', port: 53 });
  // Only the port translated (a clash on the same address).
  const portOnly = check(
    tcp({
      orig: { src: '10.0.0.1', dst: '10.0.0.2', sport: 1000, dport: 80 },
      reply: { src: '10.0.0.2', dst: '10.0.0.1', sport: 80, dport: 1001 },
    }),
  );
  assert.deepEqual(portOnly.source.nat, { ip: '10.0.0.1', port: 1001 });
  assert.ok(!('nat' in portOnly.destination));
  // Port forwarding: 198.51.100.1:8080 goes to 10.0.0.5:80.
  const dnat = check(
    tcp({
      orig: { src: '203.0.113.9', dst: '198.51.100.1', sport: 5555, dport: 8080 },
      reply: { src: '10.0.0.5', dst: '203.0.113.9', sport: 80, dport: 5555 },
    }),
  );
  assert.deepEqual(dnat.destination, { ip: '198.51.100.1', port: 8080, nat: { ip: '10.0.0.5', port: 80 } });
  assert.ok(!('nat' in dnat.source));
  // Both at once, IPv6 (NPTv6-style).
  const both = check(
    tcp({
      family: 'ipv6',
      orig: { src: 'fd00::10', dst: '2001:db8::1', sport: 4000, dport: 443 },
      reply: { src: 'fd01::1', dst: '2001:db8:ffff::10', sport: 8443, dport: 4000 },
    }),
  );
  assert.deepEqual(both.source.nat, { ip: '2001:db8:ffff::10', port: 4000 });
  assert.deepEqual(both.destination.nat, { ip: 'fd01::1', port: 8443 });
  assert.equal(both.network.type, 'ipv6');
  // The Community ID is of the original tuple, before translation.
  assert.equal(both.network.community_id, communityId('fd00::10', '2001:db8::1', IPPROTO.TCP, 4000, 443));
  // No NAT: no nat objects.
  const plain = check(tcp());
  assert.ok(!('nat' in plain.source) && !('nat' in plain.destination));
});

test('UDP over IPv6, SCTP with its state, DCCP and UDP-Lite ports', () => {
  const udp6 = check(
    tcp({
      family: 'ipv6',
      proto: IPPROTO.UDP,
      protoName: 'udp',
      orig: { src: '::1', dst: '::1', sport: 40000, dport: 5353 },
      reply: { src: '::1', dst: '::1', sport: 5353, dport: 40000 },
    }),
  );
  assert.deepEqual(udp6.network, { type: 'ipv6', transport: 'udp', iana_number: '17', community_id: communityId('::1', '::1', 17, 40000, 5353) });
  assert.deepEqual(udp6.source, { ip: '::1', port: 40000 });
  const sctp = check(
    tcp({
      proto: IPPROTO.SCTP,
      protoName: 'sctp',
      orig: { src: '10.0.0.1', dst: '10.0.0.2', sport: 7, dport: 7 },
      reply: { src: '10.0.0.2', dst: '10.0.0.1', sport: 7, dport: 7 },
      state: 4,
      stateProto: 'sctp',
      stateName: 'ESTABLISHED',
    }),
  );
  assert.equal(sctp.network.transport, 'sctp');
  assert.equal(sctp.network.iana_number, '132');
  assert.equal(sctp.network.community_id, communityId('10.0.0.1', '10.0.0.2', IPPROTO.SCTP, 7, 7));
  assert.equal(sctp.ctlogd.state, 'ESTABLISHED');
  assert.equal(sctp.ctlogd.state_num, 4);
  for (const [proto, name] of [
    [IPPROTO.DCCP, 'dccp'],
    [IPPROTO.UDPLITE, 'udplite'],
  ] as const) {
    const o = check(tcp({ proto, protoName: name }));
    assert.equal(o.network.transport, name);
    assert.equal(o.source.port, 38854);
    // The spec hashes no ports for these.
    assert.equal(o.network.community_id, communityId('192.168.122.1', '192.168.122.166', proto));
  }
});

test('ICMP and ICMPv6: no ports; type, code and id under ctlogd.orig; the Community ID from type and code', () => {
  const icmp = check(
    tcp({
      proto: IPPROTO.ICMP,
      protoName: 'icmp',
      orig: { src: '127.0.0.1', dst: '127.0.0.2', icmpType: 8, icmpCode: 0, icmpId: 15714 },
      reply: { src: '127.0.0.2', dst: '127.0.0.1', icmpType: 0, icmpCode: 0, icmpId: 15714 },
    }),
  );
  assert.deepEqual(icmp.source, { ip: '127.0.0.1' });
  assert.deepEqual(icmp.destination, { ip: '127.0.0.2' });
  assert.deepEqual(icmp.network, { type: 'ipv4', transport: 'icmp', iana_number: '1', community_id: communityId('127.0.0.1', '127.0.0.2', 1, 8, 0) });
  assert.deepEqual(icmp.ctlogd.orig, { icmp_type: 8, icmp_code: 0, icmp_id: 15714 });
  assert.deepEqual(icmp.ctlogd.reply, { src: '127.0.0.2', dst: '127.0.0.1', icmp_type: 0, icmp_code: 0, icmp_id: 15714 });
  // Echo request and reply are one flow.
  assert.equal(icmp.network.community_id, communityId('127.0.0.2', '127.0.0.1', 1, 0, 0));
  const icmp6 = check(
    tcp({
      family: 'ipv6',
      proto: IPPROTO.ICMPV6,
      protoName: 'icmpv6',
      orig: { src: '2001:db8::1', dst: 'fe80::1', icmpType: 128, icmpCode: 0, icmpId: 4711 },
      reply: { src: 'fe80::1', dst: '2001:db8::1', icmpType: 129, icmpCode: 0, icmpId: 4711 },
    }),
  );
  // IANA's keyword for protocol 58, as ECS asks.
  assert.equal(icmp6.network.transport, 'ipv6-icmp');
  assert.equal(icmp6.network.iana_number, '58');
  assert.equal(icmp6.network.community_id, communityId('2001:db8::1', 'fe80::1', 58, 128, 0));
  // ICMP source NAT: the address only.
  const natted = check(
    tcp({
      proto: IPPROTO.ICMP,
      protoName: 'icmp',
      orig: { src: '192.168.1.10', dst: '8.8.8.8', icmpType: 8, icmpCode: 0, icmpId: 1 },
      reply: { src: '8.8.8.8', dst: '203.0.113.5', icmpType: 0, icmpCode: 0, icmpId: 1 },
    }),
  );
  assert.deepEqual(natted.source, { ip: '192.168.1.10', nat: { ip: '203.0.113.5' } });
});

test('GRE: keys under ctlogd, never as ports; an unnamed protocol has iana_number only', () => {
  const gre = check(
    tcp({
      proto: IPPROTO.GRE,
      protoName: 'gre',
      orig: { src: '10.0.0.1', dst: '10.0.0.2', sport: 0x1234, dport: 0 },
      reply: { src: '10.0.0.2', dst: '10.0.0.1', sport: 0, dport: 0x1234 },
    }),
  );
  assert.deepEqual(gre.source, { ip: '10.0.0.1' });
  assert.deepEqual(gre.destination, { ip: '10.0.0.2' });
  assert.deepEqual(gre.ctlogd.orig, { src_key: 0x1234, dst_key: 0 });
  assert.deepEqual(gre.ctlogd.reply, { src: '10.0.0.2', dst: '10.0.0.1', src_key: 0, dst_key: 0x1234 });
  assert.deepEqual(gre.network, { type: 'ipv4', transport: 'gre', iana_number: '47', community_id: communityId('10.0.0.1', '10.0.0.2', 47) });
  const esp = check(
    tcp({
      proto: 50,
      protoName: 'unknown',
      orig: { src: '10.0.0.1', dst: '10.0.0.2' },
      reply: { src: '10.0.0.2', dst: '10.0.0.1' },
    }),
  );
  assert.deepEqual(esp.network, { type: 'ipv4', iana_number: '50', community_id: communityId('10.0.0.1', '10.0.0.2', 50) });
  assert.ok(!('orig' in esp.ctlogd), 'nothing of the tuple left for ctlogd.orig');
});

test('absent attributes are absent, never 0 or null; zero is kept', () => {
  const line = formatEcs(tcp({ orig: {}, reply: {} }));
  assert.equal(
    line,
    `{"@timestamp":"2026-11-26T16:17:41.292510123Z","ecs":{"version":"${ECS_VERSION}"},` +
      '"event":{"kind":"event","category":["network"],"type":["connection","start"],"action":"conntrack-new"},' +
      '"network":{"type":"ipv4","transport":"tcp","iana_number":"6"},"ctlogd":{"type":"new","reply":{},"portid":0}}',
  );
  check(tcp({ orig: {}, reply: {} }));
  const o = check(tcp());
  for (const k of [
    'id',
    'state',
    'state_num',
    'status',
    'status_bits',
    'timeout',
    'mark',
    'secmark',
    'zone',
    'use',
    'helper',
    'secctx',
    'labels',
    'orig',
    'progname',
  ]) {
    assert.ok(!(k in o.ctlogd), `ctlogd.${k} absent`);
  }
  for (const k of ['created', 'start', 'end', 'duration']) assert.ok(!(k in o.event), `event.${k} absent`);
  const z = check(tcp({ mark: 0, zone: 0, timeout: 0, status: 0, id: 0 }));
  assert.deepEqual([z.ctlogd.mark, z.ctlogd.zone, z.ctlogd.timeout, z.ctlogd.id, z.ctlogd.status_bits], [0, 0, 0, 0, 0]);
  assert.deepEqual(z.ctlogd.status, []);
});

test('every other decoded field is under ctlogd, as the json format names it', () => {
  const helper = 'a"b\\c\nd';
  const o = check(
    tcp({
      type: 'update',
      orig: { src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 21, zone: 7 },
      reply: { src: '10.0.0.2', dst: '10.0.0.1', sport: 21, dport: 1, zone: 8 },
      helper,
      secctx: 'system_u:object_r:unlabeled_t:s0',
      labels: new Uint8Array([0x00, 0x0f, 0xa0, 0xff]),
      zone: 65535,
      mark: 0xffffffff,
      secmark: 12,
      use: 2,
      id: 7,
      status: IPS.SEEN_REPLY | IPS.ASSURED | IPS.CONFIRMED | (1 << 31),
      state: 3,
      stateProto: 'tcp',
      stateName: 'ESTABLISHED',
      portid: 4242,
      progname: 'conntrack',
    }),
  );
  assert.deepEqual(o.ctlogd, {
    type: 'update',
    id: 7,
    state: 'ESTABLISHED',
    state_num: 3,
    status: ['SEEN_REPLY', 'ASSURED', 'CONFIRMED', 'BIT_31'],
    status_bits: (0x2 | 0x4 | 0x8 | 0x80000000) >>> 0,
    mark: 4294967295,
    secmark: 12,
    zone: 65535,
    use: 2,
    helper,
    secctx: 'system_u:object_r:unlabeled_t:s0',
    labels: '000fa0ff',
    orig: { zone: 7 },
    reply: { src: '10.0.0.2', dst: '10.0.0.1', sport: 21, dport: 1, zone: 8 },
    portid: 4242,
    progname: 'conntrack',
  });
});

test('the schema is strict: extra keys, wrong types, missing keys, unknown values are refused', () => {
  const good: Record<string, any> = JSON.parse(
    formatEcs(
      tcp({
        type: 'destroy',
        origCounters: { packets: 1, bytes: 60 },
        replyCounters: { packets: 1, bytes: 60 },
        start: at(1n),
        stop: at(2n),
        eventTime: at(3n),
        reply: { src: '192.168.122.166', dst: '10.0.0.1', sport: 5201, dport: 1 },
      }),
    ),
  );
  assert.ok(validate(good), ajv.errorsText(validate.errors));
  assert.ok(good.source.nat, 'a line with every object');
  const bad = (mutate: (o: any) => void): boolean => {
    const o = structuredClone(good);
    mutate(o);
    return validate(o);
  };
  const cases: Array<[string, (o: any) => void]> = [
    ['extra top-level key', (o) => (o.extra = 1)],
    ['extra ECS key', (o) => (o.source.mac = 'x')],
    ['extra nat key', (o) => (o.source.nat.extra = 1)],
    ['extra ctlogd key', (o) => (o.ctlogd.extra = 1)],
    ['extra reply key', (o) => (o.ctlogd.reply.extra = 1)],
    ['another ECS version', (o) => (o.ecs.version = '8.11.0')],
    ['event.kind not event', (o) => (o.event.kind = 'alert')],
    ['event.type not allowed', (o) => (o.event.type = ['change'])],
    ['event.action unknown', (o) => (o.event.action = 'new')],
    ['@timestamp without 9 digits', (o) => (o['@timestamp'] = '2026-11-26T16:17:41.292Z')],
    ['bytes as a string', (o) => (o.source.bytes = '60')],
    ['negative packets', (o) => (o.destination.packets = -1)],
    ['bytes without packets', (o) => delete o.network.packets],
    ['iana_number as a number', (o) => (o.network.iana_number = 6)],
    ['iana_number past 255', (o) => (o.network.iana_number = '256')],
    ['transport not a keyword', (o) => (o.network.transport = 'TCP')],
    ['a community id of another version', (o) => (o.network.community_id = '2:F/BCgQTUT/FXrTnSBgdsKwJ26iE=')],
    ['port past 65535', (o) => (o.source.port = 65536)],
    ['nat without ip', (o) => delete o.source.nat.ip],
    ['null for absent', (o) => (o.ctlogd.mark = null)],
    ['duration without start', (o) => delete o.event.start],
    ['empty ctlogd.orig', (o) => (o.ctlogd.orig = {})],
  ];
  for (const [what, mutate] of cases) assert.equal(bad(mutate), false, what);
  for (const k of ['@timestamp', 'ecs', 'event', 'network', 'ctlogd'])
    assert.equal(
      bad((o) => delete o[k]),
      false,
      `missing ${k}`,
    );
  for (const k of ['kind', 'category', 'type', 'action'])
    assert.equal(
      bad((o) => delete o.event[k]),
      false,
      `missing event.${k}`,
    );
  for (const k of ['type', 'reply', 'portid'])
    assert.equal(
      bad((o) => delete o.ctlogd[k]),
      false,
      `missing ctlogd.${k}`,
    );
});

test('the schema names the ECS version the formatter writes; every property has a description; every object is closed', () => {
  assert.equal(schema.properties.ecs.properties.version.const, ECS_VERSION);
  assert.ok(schema.description.includes(`ECS) ${ECS_VERSION} `), 'the description names the version');
  const walk = (node: any, path: string): void => {
    if (node === null || typeof node !== 'object') return;
    if (node.properties) {
      for (const [k, v] of Object.entries<any>(node.properties)) {
        assert.equal(typeof v.description, 'string', `${path}.${k} has a description`);
      }
      assert.equal(node.additionalProperties, false, `${path} is closed`);
    }
    for (const [k, v] of Object.entries(node)) walk(v, `${path}.${k}`);
  };
  walk(schema, '$');
});

test('the ecs line of docs/formats.md is valid against the schema', () => {
  const page = readFileSync(new URL('../docs/formats.md', import.meta.url), 'utf8');
  const m = /## `ecs`[\s\S]*?```json\n(.*)\n```/.exec(page);
  assert.ok(m, 'docs/formats.md has an ecs line');
  const o: Record<string, any> = JSON.parse(m[1]);
  assert.ok(validate(o), ajv.errorsText(validate.errors));
  assert.equal(o.ecs.version, ECS_VERSION);
});
