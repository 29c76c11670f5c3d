import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import { IPS, type ConntrackEvent } from '../src/event.js';
import { formatJson, isoNs } from '../src/format/json.js';
import { at, tcpEvent as base } from './helpers/events.js';

const schema = JSON.parse(readFileSync(new URL('../schema/event.schema.json', import.meta.url), 'utf8'));
// ajv is CommonJS: under NodeNext the default import is its module.exports,
// whose `.default` is the class (typed and present at run time).
// strict: an unknown keyword or a sloppy schema is an error, not a warning.
const ajv = new Ajv2020.default({ strict: true, allErrors: true });
const validate = ajv.compile(schema);

/** Format, check it is one line of valid JSON that the schema accepts, and return it parsed. */
function check(ev: ConntrackEvent): Record<string, any> {
  const line = formatJson(ev);
  assert.ok(!line.includes('\n'), 'one line, no newline');
  const obj: Record<string, any> = JSON.parse(line);
  assert.ok(validate(obj), `schema: ${ajv.errorsText(validate.errors)}\n${line}`);
  return obj;
}

test('TCP NEW with state: exact keys and values', () => {
  const o = check(base({ id: 2800357913, timeout: 120, state: 1, stateProto: 'tcp', stateName: 'SYN_SENT', status: IPS.CONFIRMED }));
  assert.deepEqual(o, {
    type: 'new',
    time: '2026-11-26T16:17:41.292510123Z',
    time_ns: '1795709861292510123',
    family: 'ipv4',
    family_num: 2,
    proto: 'tcp',
    proto_num: 6,
    state: 'SYN_SENT',
    state_num: 1,
    id: 2800357913,
    timeout: 120,
    status: ['CONFIRMED'],
    status_bits: 8,
    orig: { src: '192.168.122.1', dst: '192.168.122.166', sport: 38854, dport: 5201 },
    reply: { src: '192.168.122.166', dst: '192.168.122.1', sport: 5201, dport: 38854 },
    portid: 0,
  });
  // Key order is stable too (the line is what operators grep).
  assert.ok(formatJson(base()).startsWith('{"type":"new","time":"2026-11-26T16:17:41.292510123Z","time_ns":"'));
});

test('absent fields are absent, never 0 or null', () => {
  const line = formatJson(base({ orig: {}, reply: {} }));
  assert.equal(
    line,
    '{"type":"new","time":"2026-11-26T16:17:41.292510123Z","time_ns":"1795709861292510123",' +
      '"family":"ipv4","family_num":2,"proto":"tcp","proto_num":6,"orig":{},"reply":{},"portid":0}',
  );
  check(base({ orig: {}, reply: {} }));
  const o = check(base());
  for (const k of [
    'state',
    'state_num',
    'id',
    'timeout',
    'status',
    'status_bits',
    'mark',
    'secmark',
    'zone',
    'use',
    'helper',
    'secctx',
    'labels',
    'start',
    'stop',
    'duration_ns',
    'event_time',
  ]) {
    assert.ok(!(k in o), `${k} absent`);
  }
  for (const k of ['packets', 'bytes', 'zone', 'icmp_type', 'src_key']) assert.ok(!(k in o.orig), `orig.${k} absent`);
  // Zero is kept distinct from absent.
  const z = check(base({ mark: 0, zone: 0, timeout: 0, status: 0 }));
  assert.equal(z.mark, 0);
  assert.equal(z.zone, 0);
  assert.equal(z.timeout, 0);
  assert.deepEqual(z.status, []);
  assert.equal(z.status_bits, 0);
});

test('DESTROY with counters, start/stop, duration; times exact, counters exact to 2^53', () => {
  const o = check(
    base({
      type: 'destroy',
      proto: 17,
      protoName: 'udp',
      orig: { src: '192.168.122.1', dst: '192.168.122.255', proto: 17, sport: 17500, dport: 17500 },
      reply: { src: '192.168.122.255', dst: '192.168.122.1', proto: 17, sport: 17500, dport: 17500 },
      id: 1411737613,
      status: IPS.CONFIRMED | IPS.DYING,
      origCounters: { packets: 2 ** 53 - 1, bytes: 2 ** 64 },
      replyCounters: { packets: 0, bytes: 0 },
      start: at(1721134494073916335n),
      stop: at(1721134524073621287n),
      eventTime: at(1721134524073621999n),
      portid: 4242,
    }),
  );
  assert.equal(o.type, 'destroy');
  assert.equal(o.proto_num, 17);
  assert.equal(o.orig.packets, '9007199254740991'); // 2^53 - 1: exact
  assert.equal(o.orig.bytes, '18446744073709551616'); // past 2^53 (rounded when read): digits, not an exponent
  assert.equal(o.reply.packets, '0');
  assert.equal(o.reply.bytes, '0');
  assert.equal(o.start, '1721134494073916335');
  assert.equal(o.stop, '1721134524073621287');
  assert.equal(o.duration_ns, '29999704952');
  assert.equal(o.event_time, '1721134524073621999');
  assert.deepEqual(o.status, ['CONFIRMED', 'DYING']);
  assert.equal(o.portid, 4242);
  assert.ok(!('state' in o));
});

test('NEW with start only has no stop and no duration', () => {
  const o = check(base({ start: at(1721134494073916335n) }));
  assert.equal(o.start, '1721134494073916335');
  assert.ok(!('stop' in o) && !('duration_ns' in o));
  // A wall clock stepped back during the flow gives a negative duration, still valid.
  const back = check(base({ start: at(2000n), stop: at(1500n) }));
  assert.equal(back.duration_ns, '-500');
});

test('time is exact to the ns, no Date rounding', () => {
  assert.equal(isoNs(at(1735689600000000001n)), '2025-01-01T00:00:00.000000001Z');
  // .999999999 would round up to the next year through a ms Date.
  assert.equal(isoNs(at(1767225599999999999n)), '2025-12-31T23:59:59.999999999Z');
  assert.equal(isoNs(at(1740787200123456789n)), '2025-03-01T00:00:00.123456789Z');
  assert.equal(isoNs(at(0n)), '1970-01-01T00:00:00.000000000Z');
  const o = check(base({ time: at(1767225599999999999n) }));
  assert.equal(o.time, '2025-12-31T23:59:59.999999999Z');
  assert.equal(o.time_ns, '1767225599999999999');
});

test('IPv6 ICMPv6 echo', () => {
  const o = check(
    base({
      family: 'ipv6',
      proto: 58,
      protoName: 'icmpv6',
      orig: { src: '2001:db8::1', dst: 'fe80::1', proto: 58, icmpType: 128, icmpCode: 0, icmpId: 4711 },
      reply: { src: 'fe80::1', dst: '2001:db8::1', proto: 58, icmpType: 129, icmpCode: 0, icmpId: 4711 },
      timeout: 30,
      status: IPS.SEEN_REPLY | IPS.CONFIRMED,
    }),
  );
  assert.equal(o.family, 'ipv6');
  assert.equal(o.family_num, 10);
  assert.equal(o.proto, 'icmpv6');
  assert.equal(o.proto_num, 58);
  assert.deepEqual(o.orig, { src: '2001:db8::1', dst: 'fe80::1', icmp_type: 128, icmp_code: 0, icmp_id: 4711 });
  assert.deepEqual(o.reply, { src: 'fe80::1', dst: '2001:db8::1', icmp_type: 129, icmp_code: 0, icmp_id: 4711 });
  assert.deepEqual(o.status, ['SEEN_REPLY', 'CONFIRMED']);
});

test('GRE writes keys, not ports', () => {
  const o = check(
    base({
      proto: 47,
      protoName: 'gre',
      orig: { src: '10.0.0.1', dst: '10.0.0.2', proto: 47, sport: 0x1234, dport: 0 },
      reply: { src: '10.0.0.2', dst: '10.0.0.1', proto: 47, sport: 0, dport: 0x1234 },
    }),
  );
  assert.deepEqual(o.orig, { src: '10.0.0.1', dst: '10.0.0.2', src_key: 0x1234, dst_key: 0 });
  assert.deepEqual(o.reply, { src: '10.0.0.2', dst: '10.0.0.1', src_key: 0, dst_key: 0x1234 });
});

test('helper, secctx, labels, zones, mark, secmark, use, status names', () => {
  const o = check(
    base({
      type: 'update',
      orig: { src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 21, zone: 7 },
      reply: { src: '10.0.0.2', dst: '10.0.0.1', sport: 21, dport: 1, zone: 8 },
      helper: 'ftp',
      secctx: 'system_u:object_r:unlabeled_t:s0',
      labels: new Uint8Array([0x00, 0x0f, 0xa0, 0xff]),
      zone: 65535,
      mark: 0xffffffff,
      secmark: 12,
      use: 2,
      status: IPS.SEEN_REPLY | IPS.ASSURED | IPS.CONFIRMED | IPS.HW_OFFLOAD | (1 << 20) | (1 << 31),
      state: 3,
      stateProto: 'tcp',
      stateName: 'ESTABLISHED',
    }),
  );
  assert.equal(o.type, 'update');
  assert.equal(o.helper, 'ftp');
  assert.equal(o.secctx, 'system_u:object_r:unlabeled_t:s0');
  assert.equal(o.labels, '000fa0ff');
  assert.equal(o.zone, 65535);
  assert.equal(o.orig.zone, 7);
  assert.equal(o.reply.zone, 8);
  assert.equal(o.mark, 4294967295);
  assert.equal(o.secmark, 12);
  assert.equal(o.use, 2);
  assert.equal(o.state, 'ESTABLISHED');
  assert.equal(o.state_num, 3);
  assert.deepEqual(o.status, ['SEEN_REPLY', 'ASSURED', 'CONFIRMED', 'HW_OFFLOAD', 'BIT_20', 'BIT_31']);
  assert.equal(o.status_bits, (0x2 | 0x4 | 0x8 | 0x8000 | 0x100000 | 0x80000000) >>> 0);
});

test('helper and secctx with quotes, backslashes and control characters are escaped', () => {
  const helper = 'a"b\\c\nd\te\u0001f/ü';
  const secctx = '"\\"\\\\';
  const line = formatJson(base({ helper, secctx }));
  assert.ok(line.includes('"helper":"a\\"b\\\\c\\nd\\te\\u0001f/ü"'), line);
  const o = check(base({ helper, secctx }));
  assert.equal(o.helper, helper);
  assert.equal(o.secctx, secctx);
});

test('the schema is strict: extra keys, wrong types, missing keys are refused', () => {
  const good = JSON.parse(formatJson(base({ origCounters: { packets: 1, bytes: 60 } })));
  assert.ok(validate(good));
  const bad = (mutate: (o: any) => void): boolean => {
    const o = structuredClone(good);
    mutate(o);
    return validate(o);
  };
  assert.equal(
    bad((o) => (o.extra = 1)),
    false,
    'extra top-level key',
  );
  assert.equal(
    bad((o) => (o.orig.extra = 1)),
    false,
    'extra tuple key',
  );
  assert.equal(
    bad((o) => (o.orig.packets = 1)),
    false,
    'counter as a number',
  );
  assert.equal(
    bad((o) => (o.orig.packets = '-1')),
    false,
    'counter not a decimal',
  );
  assert.equal(
    bad((o) => delete o.orig.bytes),
    false,
    'packets without bytes',
  );
  assert.equal(
    // biome-ignore lint/correctness/noPrecisionLoss: a time as a JSON number loses precision; that is the case tested
    bad((o) => (o.time_ns = 1795709861292510123)),
    false,
    'time_ns as a number',
  );
  assert.equal(
    bad((o) => (o.time = '2026-11-26T16:17:41.292Z')),
    false,
    'time without 9 digits',
  );
  assert.equal(
    bad((o) => (o.mark = null)),
    false,
    'null for absent',
  );
  assert.equal(
    bad((o) => (o.family = 'inet')),
    false,
    'unknown family',
  );
  assert.equal(
    bad((o) => (o.labels = 'ABC')),
    false,
    'labels not lower-case byte hex',
  );
  for (const k of ['type', 'time', 'time_ns', 'family', 'family_num', 'proto', 'proto_num', 'orig', 'reply', 'portid']) {
    assert.equal(
      bad((o) => delete o[k]),
      false,
      `missing ${k}`,
    );
  }
});

test('every property in the schema has a description', () => {
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
