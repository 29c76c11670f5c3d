/**
 * The IPFIX records, templates and messages, read back with the test's own
 * reader (helpers/ipfix-decode.ts, from RFC 7011): every field of each
 * kind of record, the message size bound, set joining and sequence
 * numbers, and what the framer sends over UDP and TCP (on a socket the
 * test plays). The collectors' view is in e2e-ipfix.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ConntrackEvent } from '../src/event.js';
import { at } from './helpers/events.js';
import { LineWriter } from '../src/format/line.js';
import type { Datagram } from '../src/native.js';
import { IpfixDatagrams, IpfixStream } from '../src/output/ipfix/framer.js';
import { framedRecords, HEADER_BYTES, pack, templateMessages } from '../src/output/ipfix/message.js';
import { recordWriter } from '../src/output/ipfix/record.js';
import { FIELDS, KIND, KINDS, TEMPLATE_BASE } from '../src/output/ipfix/template.js';
import { decodeStream, fullV6, type DataRecord } from './helpers/ipfix-decode.js';
import { ROOT } from './helpers/ctlogd.js';

const T = 1795709861292510123n;
const MS = 1795709861292n;

function ev(over: Partial<ConntrackEvent> = {}): ConntrackEvent {
  return {
    type: 'new',
    family: 'ipv4',
    proto: 6,
    protoName: 'tcp',
    orig: { src: '10.0.0.2', dst: '192.0.2.80', proto: 6, sport: 40000, dport: 80 },
    reply: { src: '192.0.2.80', dst: '198.51.100.1', proto: 6, sport: 80, dport: 61000 },
    id: 3735928559,
    zone: 7,
    portid: 0,
    time: at(T),
    ...over,
  };
}

const IE = Object.fromEntries(FIELDS.map((f) => [f.name, f.ie])) as Record<string, number>;

/** Events through the encoder, the packer and the reader: what a collector gets. */
function roundTrip(events: ConntrackEvent[], mode: 'rfc8158' | 'legacy' = 'rfc8158', size = 1400) {
  const w = new LineWriter();
  const write = recordWriter(mode);
  for (const e of events) write(e, w);
  const { bytes } = w.take();
  const session = { domain: 42, sequence: 0 };
  const tmpl = templateMessages(size, 1000, session);
  const p = pack(framedRecords(bytes), size, 1001, session);
  const msgs: Buffer[] = [...tmpl];
  let at = 0;
  for (const end of p.ends) {
    msgs.push(p.bytes.subarray(at, end));
    at = end;
  }
  return { ...decodeStream(msgs), msgs, packed: p };
}

const get = (r: DataRecord, name: string) => r.fields.get(IE[name]);

test('a source-NATed TCP NEW: pre- and post-NAT addresses and ports, natEvent 4, times, zone, id', () => {
  const { records } = roundTrip([ev({ eventTime: at(T + 5_000_000n) })]);
  assert.equal(records.length, 1);
  const r = records[0];
  assert.equal(r.templateId, TEMPLATE_BASE + KIND.NAT);
  assert.equal(get(r, 'natEvent'), 4);
  assert.equal(get(r, 'protocolIdentifier'), 6);
  assert.equal(get(r, 'sourceIPv4Address'), '10.0.0.2');
  assert.equal(get(r, 'destinationIPv4Address'), '192.0.2.80');
  assert.equal(get(r, 'sourceTransportPort'), 40000);
  assert.equal(get(r, 'destinationTransportPort'), 80);
  assert.equal(get(r, 'postNATSourceIPv4Address'), '198.51.100.1');
  assert.equal(get(r, 'postNATDestinationIPv4Address'), '192.0.2.80');
  assert.equal(get(r, 'postNAPTSourceTransportPort'), 61000);
  assert.equal(get(r, 'postNAPTDestinationTransportPort'), 80);
  assert.equal(get(r, 'observationTimeMilliseconds'), MS + 5n);
  // No kernel start time: a NEW starts when it is made.
  assert.equal(get(r, 'flowStartMilliseconds'), MS + 5n);
  assert.equal(get(r, 'flowEndMilliseconds'), undefined);
  assert.equal(get(r, 'ingressVRFID'), 7);
  assert.equal(get(r, 'flowId'), 3735928559n);
  assert.equal(get(r, 'icmpTypeCodeIPv4'), 0);
  assert.equal(get(r, 'initiatorOctets'), undefined);
});

test('a DESTROY with counters and times: flowStart/End from the kernel, both directions counted, natEvent 5 (legacy: 2)', () => {
  const d = ev({
    type: 'destroy',
    start: at(T - 3_000_000_000n),
    stop: at(T - 1_000_000n),
    origCounters: { packets: 10, bytes: 1500 },
    replyCounters: { packets: 8, bytes: 2 ** 40 },
  });
  for (const [mode, value] of [
    ['rfc8158', 5],
    ['legacy', 2],
  ] as const) {
    const r = roundTrip([d], mode).records[0];
    assert.equal(r.templateId, TEMPLATE_BASE + (KIND.NAT | KIND.END | KIND.COUNTERS | KIND.START));
    assert.equal(get(r, 'natEvent'), value);
    assert.equal(get(r, 'flowStartMilliseconds'), MS - 3000n);
    assert.equal(get(r, 'flowEndMilliseconds'), MS - 1n);
    assert.equal(get(r, 'octetDeltaCount'), 1500n + 2n ** 40n);
    assert.equal(get(r, 'packetDeltaCount'), 18n);
    assert.equal(get(r, 'initiatorOctets'), 1500n);
    assert.equal(get(r, 'responderOctets'), 2n ** 40n);
    assert.equal(get(r, 'initiatorPackets'), 10n);
    assert.equal(get(r, 'responderPackets'), 8n);
  }
  // legacy NEW is 1.
  assert.equal(get(roundTrip([ev()], 'legacy').records[0], 'natEvent'), 1);
});

test('what the kernel did not send is left out, not sent as zero: no start, no counters', () => {
  const r = roundTrip([ev({ type: 'destroy' })]).records[0];
  assert.equal(r.templateId, TEMPLATE_BASE + (KIND.NAT | KIND.END));
  assert.equal(get(r, 'flowStartMilliseconds'), undefined);
  assert.equal(get(r, 'flowEndMilliseconds'), MS);
  assert.equal(get(r, 'initiatorOctets'), undefined);
});

test('an untranslated connection is a plain flow record: no natEvent, no post-NAT fields', () => {
  const plain = ev({ reply: { src: '192.0.2.80', dst: '10.0.0.2', proto: 6, sport: 80, dport: 40000 } });
  const r = roundTrip([plain]).records[0];
  assert.equal(r.templateId, TEMPLATE_BASE);
  assert.equal(get(r, 'natEvent'), undefined);
  assert.equal(get(r, 'postNATSourceIPv4Address'), undefined);
  assert.equal(get(r, 'sourceIPv4Address'), '10.0.0.2');
});

test('DNAT shows in the post-NAT destination; IPv6 NAT uses the IPv6 elements and natEvent 1/2 (IANA has no NAT66 session event)', () => {
  const dnat = ev({ orig: { src: '203.0.113.9', dst: '198.51.100.1', proto: 17, sport: 5000, dport: 53 }, proto: 17, protoName: 'udp' });
  dnat.reply = { src: '10.0.0.53', dst: '203.0.113.9', proto: 17, sport: 5353, dport: 5000 };
  const r4 = roundTrip([dnat]).records[0];
  assert.equal(get(r4, 'postNATDestinationIPv4Address'), '10.0.0.53');
  assert.equal(get(r4, 'postNAPTDestinationTransportPort'), 5353);
  assert.equal(get(r4, 'postNATSourceIPv4Address'), '203.0.113.9');
  const v6 = ev({
    family: 'ipv6',
    orig: { src: 'fd00::2', dst: '2001:db8::80', proto: 6, sport: 40000, dport: 443 },
    reply: { src: '2001:db8::80', dst: '2001:db8:1::1', proto: 6, sport: 443, dport: 40000 },
  });
  const r6 = roundTrip([v6, { ...v6, type: 'destroy' }]).records;
  assert.equal(r6[0].templateId, TEMPLATE_BASE + (KIND.V6 | KIND.NAT));
  assert.equal(get(r6[0], 'sourceIPv6Address'), fullV6('fd00::2'));
  assert.equal(get(r6[0], 'destinationIPv6Address'), fullV6('2001:db8::80'));
  assert.equal(get(r6[0], 'postNATSourceIPv6Address'), fullV6('2001:db8:1::1'));
  assert.equal(get(r6[0], 'natEvent'), 1);
  assert.equal(get(r6[1], 'natEvent'), 2);
  assert.equal(get(r6[0], 'sourceIPv4Address'), undefined);
});

test('ICMP: the query id is the port and is translated; type and code in icmpTypeCode', () => {
  const ping = ev({
    proto: 1,
    protoName: 'icmp',
    orig: { src: '10.0.0.2', dst: '192.0.2.1', proto: 1, icmpType: 8, icmpCode: 0, icmpId: 1234 },
    reply: { src: '192.0.2.1', dst: '198.51.100.1', proto: 1, icmpType: 0, icmpCode: 0, icmpId: 777 },
  });
  const r = roundTrip([ping]).records[0];
  assert.equal(get(r, 'sourceTransportPort'), 1234);
  assert.equal(get(r, 'destinationTransportPort'), 0);
  assert.equal(get(r, 'postNAPTSourceTransportPort'), 777);
  assert.equal(get(r, 'icmpTypeCodeIPv4'), 8 << 8);
  const v6 = roundTrip([
    ev({
      family: 'ipv6',
      proto: 58,
      protoName: 'icmpv6',
      orig: { src: 'fd00::2', dst: 'fd00::1', proto: 58, icmpType: 128, icmpCode: 0, icmpId: 9 },
      reply: { src: 'fd00::1', dst: 'fd00::2', proto: 58, icmpType: 129, icmpCode: 0, icmpId: 9 },
    }),
  ]).records[0];
  assert.equal(v6.templateId, TEMPLATE_BASE + KIND.V6);
  assert.equal(get(v6, 'icmpTypeCodeIPv6'), 128 << 8);
  assert.equal(get(v6, 'sourceTransportPort'), 9);
});

test('messages: within the size, records of one template share a set, sequence numbers count data records before', () => {
  const events: ConntrackEvent[] = [];
  for (let i = 0; i < 500; i++) {
    const e = ev({ id: i, type: i % 3 === 0 ? 'destroy' : 'new' });
    e.orig = { ...e.orig, sport: 1000 + i };
    events.push(e);
  }
  const size = 600;
  const { records, headers, msgs, packed } = roundTrip(events, 'rfc8158', size);
  assert.equal(records.length, 500);
  assert.deepEqual(
    records.map((r) => get(r, 'flowId')),
    events.map((e) => BigInt(e.id!)),
  );
  for (const m of msgs) assert.ok(m.length <= size, `a message of ${m.length} bytes`);
  // Each message but the last is full: the next record would not have fitted.
  assert.ok(msgs.slice(-packed.ends.length, -1).every((m) => m.length > size - 120));
  const data = headers.slice(-packed.ends.length);
  let before = 0;
  for (let i = 0; i < data.length; i++) {
    assert.equal(data[i].sequence, before, `message ${i}`);
    assert.equal(data[i].domain, 42);
    before += packed.records[i];
  }
  // Joined sets: far fewer set headers than records.
  const sets = msgs.slice(-packed.ends.length).reduce((n, m) => n + m.length, 0) - HEADER_BYTES * packed.ends.length;
  assert.ok(sets < 500 * 100, `${sets} bytes of sets`);
});

test('templates: one per kind, each within the message size, and the template of every record is among them', () => {
  const { templates } = roundTrip([ev()], 'rfc8158', 512);
  assert.deepEqual(
    [...templates.keys()].sort((a, b) => a - b),
    KINDS.map((k) => TEMPLATE_BASE + k),
  );
  for (const m of templateMessages(512, 0, { domain: 0, sequence: 0 })) assert.ok(m.length <= 512);
  // The fields of the DESTROY-with-everything template, in order.
  assert.deepEqual(
    templates.get(TEMPLATE_BASE + (KIND.NAT | KIND.END | KIND.COUNTERS | KIND.START))!.map(([ie]) => ie),
    [148, 323, 152, 153, 230, 4, 8, 12, 7, 11, 225, 226, 227, 228, 32, 234, 1, 2, 231, 232, 298, 299],
  );
});

test('an UPDATE has no record', () => {
  const w = new LineWriter();
  assert.equal(recordWriter('rfc8158')(ev({ type: 'update' }), w), false);
  assert.equal(w.length, 0);
});

/** A batch of the records of `n` events (ids `from` on), as the daemon hands it to the output. */
function recordBatch(n: number, from = 0): { bytes: Buffer; kinds: Uint8Array } {
  const w = new LineWriter();
  const write = recordWriter('rfc8158');
  for (let i = 0; i < n; i++) write(ev({ id: from + i, type: i % 2 === 0 ? 'new' : 'destroy' }), w);
  const { bytes } = w.take();
  return { bytes: Buffer.from(bytes), kinds: Uint8Array.from({ length: n }, (_, i) => i % 12) };
}

/** The records a framer queues of a batch, and their kinds. */
function queued(framer: IpfixDatagrams | IpfixStream, batch: { bytes: Buffer; kinds: Uint8Array }): { msgs: Buffer[]; kinds: number[] } {
  const msgs: Buffer[] = [];
  const kinds: number[] = [];
  framer.batch(batch, {
    push: (m, k) => msgs.push(m) && kinds.push(k),
    sendLines: () => ({ line: 0, at: 0 }),
  });
  return { msgs, kinds };
}

/** A datagram socket that keeps each datagram sent, and takes at most `room` in one call (then EAGAIN). */
function datagrams(): { socket: Datagram; sent: Buffer[]; room: number } {
  const d = { sent: [] as Buffer[], room: Number.POSITIVE_INFINITY, socket: undefined as unknown as Datagram };
  d.socket = {
    sendMessages(bytes: Uint8Array, ends: Uint32Array) {
      let at = 0;
      for (let i = 0; i < ends.length; i++) {
        if (i >= d.room) return { sent: i, at, error: 'EAGAIN' };
        d.sent.push(Buffer.from(bytes.subarray(at, ends[i])));
        at = ends[i];
      }
      return { sent: ends.length, at };
    },
  } as unknown as Datagram;
  return d;
}

/** The messages of a TCP write, by the length in each header. */
function split(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += bytes.readUInt16BE(at + 2)) out.push(bytes.subarray(at, at + bytes.readUInt16BE(at + 2)));
  return out;
}

const isTemplates = (m: Buffer) => m.readUInt16BE(HEADER_BYTES) === 2;
const TEMPLATE_MESSAGES = templateMessages(1400, 0, { domain: 0, sequence: 0 }).length;

test('framer: a batch queues each record, a copy, with its kind', () => {
  const batch = recordBatch(3);
  const framed = framedRecords(batch.bytes).map((r) => Buffer.from(r));
  const q = queued(new IpfixStream({ domain: 1, messageSize: 1400, templateIntervalMs: 1000 }), batch);
  batch.bytes.fill(0);
  assert.deepEqual(q.msgs, framed);
  assert.deepEqual(q.kinds, [0, 1, 2]);
});

test('over UDP: templates before the first records of each socket and once the interval passed; sequence numbers go on across sockets', (t) => {
  let now = 1_000_000;
  t.mock.method(Date, 'now', () => now);
  const f = new IpfixDatagrams({ domain: 42, messageSize: 1400, templateIntervalMs: 10_000 });
  const d = datagrams();
  const send = (n: number, from: number) => {
    d.sent.length = 0;
    const r = f.send(d.socket, queued(f, recordBatch(n, from)).msgs);
    return { r, templates: d.sent.filter(isTemplates).length, data: d.sent.filter((m) => !isTemplates(m)) };
  };
  const first = send(3, 0);
  assert.deepEqual(first.r, { sent: 3, error: undefined });
  assert.equal(first.templates, TEMPLATE_MESSAGES, 'every template first');
  assert.ok(d.sent.slice(0, TEMPLATE_MESSAGES).every(isTemplates));
  assert.deepEqual(
    decodeStream(d.sent).records.map((r) => get(r, 'flowId')),
    [0n, 1n, 2n],
  );
  now += 9_999;
  const second = send(2, 3);
  assert.equal(second.templates, 0, 'not again within the interval');
  assert.equal(second.data[0].readUInt32BE(8), 3, 'the sequence: the data records sent before');
  now += 1;
  assert.equal(send(1, 5).templates, TEMPLATE_MESSAGES, 'again once it passed');
  f.fresh();
  const fresh = send(1, 6);
  assert.equal(fresh.templates, TEMPLATE_MESSAGES, 'a new socket: the templates first');
  assert.equal(fresh.data[0].readUInt32BE(8), 6, 'the sequence goes on');
});

test('over UDP: templates not all taken: no record goes after them, and they are sent again next time', () => {
  const f = new IpfixDatagrams({ domain: 0, messageSize: 1400, templateIntervalMs: 10_000 });
  const d = datagrams();
  const records = queued(f, recordBatch(2)).msgs;
  d.room = TEMPLATE_MESSAGES - 1;
  assert.deepEqual(f.send(d.socket, records), { sent: 0, error: 'EAGAIN' });
  assert.ok(d.sent.every(isTemplates));
  d.room = Number.POSITIVE_INFINITY;
  d.sent.length = 0;
  assert.equal(f.send(d.socket, records).sent, 2);
  assert.equal(d.sent.filter(isTemplates).length, TEMPLATE_MESSAGES);
  assert.equal(decodeStream(d.sent).records.length, 2);
});

test("over TCP: each connection's greeting is every template at sequence 0; each write packs records and counts them", () => {
  const f = new IpfixStream({ domain: 7, messageSize: 1400, templateIntervalMs: 10_000 });
  const greeting = split(f.greeting());
  assert.equal(greeting.length, TEMPLATE_MESSAGES);
  assert.ok(greeting.every((m) => isTemplates(m) && m.readUInt32BE(8) === 0 && m.readUInt32BE(12) === 7));
  const one = split(f.encode(queued(f, recordBatch(3)).msgs));
  const two = split(f.encode(queued(f, recordBatch(2, 3)).msgs));
  assert.deepEqual(
    decodeStream([...greeting, ...one, ...two]).records.map((r) => get(r, 'flowId')),
    [0n, 1n, 2n, 3n, 4n],
  );
  assert.equal(two[0].readUInt32BE(8), 3);
  // A new connection: a new session.
  const again = split(f.greeting());
  assert.equal(again[0].readUInt32BE(8), 0);
  assert.equal(split(f.encode(queued(f, recordBatch(1)).msgs))[0].readUInt32BE(8), 0);
});

test('the IPFIX field table of docs/nat-logging.md is what scripts/config-doc.ts makes of the template table', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/config-doc.ts'), '--check'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const page = readFileSync(path.join(ROOT, 'docs/nat-logging.md'), 'utf8');
  for (const f of FIELDS) assert.ok(page.includes(`| ${f.ie} | \`${f.name}\` | ${f.length} |`), f.name);
});
