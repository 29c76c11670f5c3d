/**
 * The collector harness (helpers/collectors.ts) against the real nfcapd and
 * nfacctd, with IPFIX messages built here by hand (RFC 7011 §3: the message
 * header, template sets, data sets; RFC 8158's NAT event records) and sent
 * over loopback: every field each collector decodes reads back as sent, what
 * it does not decode reads back undefined, and what each does with data
 * before its template, a late start, sequence gaps and TCP.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import net, { isIPv6 } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Collector, type CollectorOptions, type Flow, groupAlive, startNfacctd, startNfcapd } from './helpers/collectors.js';
import { checkPrerequisites, Netns } from './helpers/netns.js';

// A tiny IPFIX encoder (RFC 7011 §3).

/** A template field: information element id and length in bytes. */
type Field = readonly [id: number, len: number];
/** A record: a value per IE id: a number or bigint for unsigned fields, a string for an address. */
type Rec = Record<number, number | bigint | string>;

function uint(v: number | bigint, len: number): Buffer {
  const b = Buffer.alloc(len);
  let x = BigInt(v);
  for (let i = len - 1; i >= 0; i--) {
    b[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return b;
}

function addr(s: string, len: number): Buffer {
  if (len === 4) return Buffer.from(s.split('.').map(Number));
  // Expand "::" then write the eight 16-bit groups.
  const [head, tail] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.concat(groups.map((g) => uint(Number.parseInt(g, 16), 2)));
}

function set(id: number, body: Buffer): Buffer {
  return Buffer.concat([uint(id, 2), uint(body.length + 4, 2), body]);
}

/** A template set (id 2) with one template record per template. */
function templateSet(...templates: Array<{ id: number; fields: readonly Field[] }>): Buffer {
  return set(
    2,
    Buffer.concat(
      templates.map((t) =>
        Buffer.concat([uint(t.id, 2), uint(t.fields.length, 2), ...t.fields.map(([id, len]) => Buffer.concat([uint(id, 2), uint(len, 2)]))]),
      ),
    ),
  );
}

function dataSet(templateId: number, fields: readonly Field[], records: Rec[]): Buffer {
  const body = records.map((r) =>
    Buffer.concat(
      fields.map(([id, len]) => {
        const v = r[id];
        if (v === undefined) throw new Error(`record lacks IE ${id}`);
        return typeof v === 'string' ? addr(v, len) : uint(v, len);
      }),
    ),
  );
  return set(templateId, Buffer.concat(body));
}

/**
 * An exporting process for one observation domain: each message's sequence
 * number is the count of data records sent before it (RFC 7011 §3.1).
 */
class Exporter {
  constructor(
    public seq = 0,
    readonly domain = 1,
  ) {}

  message(sets: Array<{ buf: Buffer; records?: number }>, seq = this.seq): Buffer {
    const body = Buffer.concat(sets.map((s) => s.buf));
    this.seq = (seq + sets.reduce((n, s) => n + (s.records ?? 0), 0)) % 2 ** 32;
    const header = Buffer.concat([uint(10, 2), uint(16 + body.length, 2), uint(Math.floor(Date.now() / 1000), 4), uint(seq, 4), uint(this.domain, 4)]);
    return Buffer.concat([header, body]);
  }
}

// The NAT event records.

const IE = {
  octetDeltaCount: 1,
  packetDeltaCount: 2,
  protocolIdentifier: 4,
  sourceTransportPort: 7,
  sourceIPv4Address: 8,
  destinationTransportPort: 11,
  destinationIPv4Address: 12,
  sourceIPv6Address: 27,
  destinationIPv6Address: 28,
  icmpTypeCodeIPv4: 32,
  icmpTypeCodeIPv6: 139,
  flowId: 148,
  flowStartMilliseconds: 152,
  flowEndMilliseconds: 153,
  postNATSourceIPv4Address: 225,
  postNATDestinationIPv4Address: 226,
  postNAPTSourceTransportPort: 227,
  postNAPTDestinationTransportPort: 228,
  natEvent: 230,
  initiatorOctets: 231,
  responderOctets: 232,
  ingressVRFID: 234,
  egressVRFID: 235,
  postNATSourceIPv6Address: 281,
  postNATDestinationIPv6Address: 282,
  initiatorPackets: 298,
  responderPackets: 299,
  observationTimeMilliseconds: 323,
} as const;

const COMMON: Field[] = [
  [IE.observationTimeMilliseconds, 8],
  [IE.flowStartMilliseconds, 8],
  [IE.flowEndMilliseconds, 8],
  [IE.natEvent, 1],
  [IE.protocolIdentifier, 1],
];
const TAIL: Field[] = [
  [IE.sourceTransportPort, 2],
  [IE.destinationTransportPort, 2],
  [IE.postNAPTSourceTransportPort, 2],
  [IE.postNAPTDestinationTransportPort, 2],
  [IE.ingressVRFID, 4],
  [IE.egressVRFID, 4],
  [IE.initiatorOctets, 8],
  [IE.responderOctets, 8],
  [IE.initiatorPackets, 8],
  [IE.responderPackets, 8],
  [IE.octetDeltaCount, 8],
  [IE.packetDeltaCount, 8],
  [IE.flowId, 8],
];
const V4 = {
  id: 256,
  fields: [
    ...COMMON,
    [IE.sourceIPv4Address, 4],
    [IE.destinationIPv4Address, 4],
    [IE.postNATSourceIPv4Address, 4],
    [IE.postNATDestinationIPv4Address, 4],
    [IE.icmpTypeCodeIPv4, 2],
    ...TAIL,
  ] as Field[],
};
const V6 = {
  id: 257,
  fields: [
    ...COMMON,
    [IE.sourceIPv6Address, 16],
    [IE.destinationIPv6Address, 16],
    [IE.postNATSourceIPv6Address, 16],
    [IE.postNATDestinationIPv6Address, 16],
    [IE.icmpTypeCodeIPv6, 2],
    ...TAIL,
  ] as Field[],
};
/** A NAT44 session template in RFC 8158's shape: an observation time, no flow start or end, no counters. */
const RFC8158 = {
  id: 258,
  fields: [
    [IE.observationTimeMilliseconds, 8],
    [IE.ingressVRFID, 4],
    [IE.egressVRFID, 4],
    [IE.sourceIPv4Address, 4],
    [IE.postNATSourceIPv4Address, 4],
    [IE.protocolIdentifier, 1],
    [IE.sourceTransportPort, 2],
    [IE.postNAPTSourceTransportPort, 2],
    [IE.destinationIPv4Address, 4],
    [IE.postNATDestinationIPv4Address, 4],
    [IE.destinationTransportPort, 2],
    [IE.postNAPTDestinationTransportPort, 2],
    [IE.natEvent, 1],
  ] as Field[],
};

/** What a test means to send, in the terms of Flow. */
interface Sent {
  natEvent: number;
  protocol: number;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  postNatSrc: string;
  postNatDst: string;
  postNatSrcPort: number;
  postNatDstPort: number;
  start?: number;
  end?: number;
  observationTime: number;
  icmpType?: number;
  icmpCode?: number;
  ingressVrf: number;
  egressVrf: number;
  octets?: bigint;
  packets?: bigint;
  initiatorOctets?: bigint;
  responderOctets?: bigint;
  initiatorPackets?: bigint;
  responderPackets?: bigint;
  flowId?: bigint;
}

function record(s: Sent): Rec {
  const v6 = isIPv6(s.src);
  const icmp = s.icmpType !== undefined ? s.icmpType * 256 + s.icmpCode! : 0;
  return {
    [IE.observationTimeMilliseconds]: s.observationTime,
    [IE.flowStartMilliseconds]: s.start ?? 0,
    [IE.flowEndMilliseconds]: s.end ?? 0,
    [IE.natEvent]: s.natEvent,
    [IE.protocolIdentifier]: s.protocol,
    [v6 ? IE.sourceIPv6Address : IE.sourceIPv4Address]: s.src,
    [v6 ? IE.destinationIPv6Address : IE.destinationIPv4Address]: s.dst,
    [v6 ? IE.postNATSourceIPv6Address : IE.postNATSourceIPv4Address]: s.postNatSrc,
    [v6 ? IE.postNATDestinationIPv6Address : IE.postNATDestinationIPv4Address]: s.postNatDst,
    [v6 ? IE.icmpTypeCodeIPv6 : IE.icmpTypeCodeIPv4]: icmp,
    [IE.sourceTransportPort]: s.srcPort,
    [IE.destinationTransportPort]: s.dstPort,
    [IE.postNAPTSourceTransportPort]: s.postNatSrcPort,
    [IE.postNAPTDestinationTransportPort]: s.postNatDstPort,
    [IE.ingressVRFID]: s.ingressVrf,
    [IE.egressVRFID]: s.egressVrf,
    [IE.initiatorOctets]: s.initiatorOctets ?? 0n,
    [IE.responderOctets]: s.responderOctets ?? 0n,
    [IE.initiatorPackets]: s.initiatorPackets ?? 0n,
    [IE.responderPackets]: s.responderPackets ?? 0n,
    [IE.octetDeltaCount]: s.octets ?? 0n,
    [IE.packetDeltaCount]: s.packets ?? 0n,
    [IE.flowId]: s.flowId ?? 0n,
  };
}

const T0 = Date.UTC(2024, 6, 16, 12, 34, 56, 789);

/** Records with every field distinct, so a field read from the wrong place shows. */
function nat44(i: number, natEvent: number, over: Partial<Sent> = {}): Sent {
  return {
    natEvent,
    protocol: 6,
    src: `192.168.1.${10 + i}`,
    dst: `203.0.113.${20 + i}`,
    srcPort: 40000 + i,
    dstPort: 443 + i,
    postNatSrc: `198.51.100.${30 + i}`,
    postNatDst: `203.0.113.${20 + i}`,
    postNatSrcPort: 61000 + i,
    postNatDstPort: 443 + i,
    start: T0 + i * 1000 + 5,
    end: T0 + i * 1000 + 60_007,
    observationTime: T0 + i * 1000 + 3,
    ingressVrf: 100 + i,
    egressVrf: 200 + i,
    octets: 1_000_000_000_000n + BigInt(i),
    packets: 7_000_000n + BigInt(i),
    initiatorOctets: 9_007_199_254_740_993n + BigInt(i), // past 2^53: read back exactly
    responderOctets: 5000n + BigInt(i),
    initiatorPackets: 11n + BigInt(i),
    responderPackets: 13n + BigInt(i),
    flowId: 0x0123_4567_89ab_cdefn + BigInt(i),
    ...over,
  };
}

function nat66(i: number, natEvent: number, over: Partial<Sent> = {}): Sent {
  return {
    ...nat44(i, natEvent),
    protocol: 17,
    src: `2001:db8:1::${(10 + i).toString(16)}`,
    dst: `2001:db8:2::${(20 + i).toString(16)}`,
    postNatSrc: `2001:db8:3::${(30 + i).toString(16)}`,
    postNatDst: `2001:db8:4::${(40 + i).toString(16)}`,
    ...over,
  };
}

// What each collector shows of a record sent (see the table in helpers/collectors.ts).

type Expect = Partial<Omit<Flow, 'raw'>>;

function shownByNfcapd(s: Sent): Expect {
  const icmp = s.protocol === 1 || s.protocol === 58;
  return {
    natEvent: s.natEvent,
    protocol: s.protocol,
    src: s.src,
    dst: s.dst,
    srcPort: icmp ? undefined : s.srcPort,
    dstPort: icmp ? undefined : s.dstPort,
    // 281/282 are not decoded: an IPv6 record has no post-NAT addresses.
    postNatSrc: isIPv6(s.src) ? undefined : s.postNatSrc,
    postNatDst: isIPv6(s.src) ? undefined : s.postNatDst,
    postNatSrcPort: s.postNatSrcPort,
    postNatDstPort: s.postNatDstPort,
    start: s.start ?? 0,
    end: s.end ?? 0,
    observationTime: s.observationTime,
    octets: s.octets ?? 0n,
    packets: s.packets ?? 0n,
    icmpType: icmp ? s.icmpType : undefined,
    icmpCode: icmp ? s.icmpCode : undefined,
    ingressVrf: s.ingressVrf,
    egressVrf: s.egressVrf,
  };
}

function shownByNfacctd(s: Sent): Expect {
  const icmp = s.protocol === 1 || s.protocol === 58;
  return {
    natEvent: s.natEvent,
    protocol: s.protocol,
    src: s.src,
    dst: s.dst,
    srcPort: s.srcPort,
    dstPort: s.dstPort,
    postNatSrc: s.postNatSrc,
    postNatDst: s.postNatDst,
    postNatSrcPort: s.postNatSrcPort,
    postNatDstPort: s.postNatDstPort,
    // Without flowStartMilliseconds, timestamp_start is the observation time.
    start: s.start ?? s.observationTime,
    end: s.end ?? 0,
    observationTime: s.observationTime,
    octets: s.octets ?? 0n,
    packets: s.packets ?? 0n,
    initiatorOctets: s.initiatorOctets ?? 0n,
    responderOctets: s.responderOctets ?? 0n,
    initiatorPackets: s.initiatorPackets ?? 0n,
    responderPackets: s.responderPackets ?? 0n,
    icmpType: icmp ? s.icmpType : undefined,
    icmpCode: icmp ? s.icmpCode : undefined,
    ingressVrf: s.ingressVrf,
    egressVrf: s.egressVrf,
    flowId: s.flowId ?? 0n,
  };
}

const KEYS: Array<keyof Expect> = [
  'natEvent',
  'protocol',
  'src',
  'dst',
  'srcPort',
  'dstPort',
  'postNatSrc',
  'postNatDst',
  'postNatSrcPort',
  'postNatDstPort',
  'start',
  'end',
  'observationTime',
  'octets',
  'packets',
  'initiatorOctets',
  'responderOctets',
  'initiatorPackets',
  'responderPackets',
  'icmpType',
  'icmpCode',
  'ingressVrf',
  'egressVrf',
  'flowId',
];

function pick(f: Expect): Expect {
  return Object.fromEntries(KEYS.map((k) => [k, f[k]]));
}

/** The flows, in the order of `sent` (matched by pre-NAT source address and port), as each collector should show them. */
function assertShown(name: Collector['name'], flows: Flow[], sent: Sent[]): void {
  const key = (src: unknown, port: unknown, ev: unknown) => `${src} ${port} ${ev}`;
  assert.equal(flows.length, sent.length, `${name}: one record per record sent:\n${JSON.stringify(flows.map((f) => f.raw))}`);
  const byKey = new Map(flows.map((f) => [key(f.src, f.postNatSrcPort, f.natEvent), f]));
  for (const s of sent) {
    const f = byKey.get(key(s.src, s.postNatSrcPort, s.natEvent));
    assert.ok(f, `${name}: no record for ${key(s.src, s.postNatSrcPort, s.natEvent)}:\n${JSON.stringify(flows.map((x) => x.raw))}`);
    const want = name === 'nfcapd' ? shownByNfcapd(s) : shownByNfacctd(s);
    assert.deepEqual(pick(f), pick(want), `${name}: ${JSON.stringify(f.raw)}`);
  }
}

// Running them.

const START = { nfcapd: startNfcapd, nfacctd: startNfacctd } as const;
type Name = keyof typeof START;

function checkCollectors(): void {
  for (const [tool, pkg] of [
    ['nfcapd', 'nfdump'],
    ['nfdump', 'nfdump'],
    ['nfacctd', 'pmacct'],
  ]) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      throw new Error(`the collector tests need '${tool}' (Debian package ${pkg})`);
    }
  }
}

/** A UDP port free on host loopback now. */
async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Sends each message as one datagram to 127.0.0.1:port, a moment apart, so none overtakes another. */
async function send(port: number, ...messages: Buffer[]): Promise<void> {
  const s = dgram.createSocket('udp4');
  // Nothing may listen yet (a collector started later): the ICMP error is no failure here.
  s.on('error', () => {});
  for (const m of messages) {
    await new Promise<void>((resolve, reject) => s.send(m, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
    await sleep(20);
  }
  await new Promise<void>((r) => s.close(() => r()));
}

async function start(t: TestContext, name: Name, opts: Partial<CollectorOptions> = {}): Promise<Collector> {
  checkCollectors();
  const c = await START[name]({ port: opts.port ?? (await freePort()), protocol: 'udp', ...opts });
  t.after(() => c.stop());
  return c;
}

for (const name of ['nfcapd', 'nfacctd'] as const) {
  test(`${name}: IPv4 and IPv6 NAT records, natEvent 4/5 and 1/2, several a message: each field it decodes reads back as sent`, async (t) => {
    const c = await start(t, name);
    // The sequence number wraps between the two messages. pmacct checks none after a message numbered 0: start past it.
    const x = new Exporter(2 ** 32 - 2);
    // nfdump prints t_event's milliseconds unpadded: 5 ms shows as ".5".
    const a = [
      nat44(0, 4, { observationTime: Date.UTC(2024, 6, 16, 12, 0, 0, 5) }),
      nat44(1, 5, { protocol: 17 }),
      nat44(2, 4, { protocol: 1, srcPort: 0, dstPort: 0, icmpType: 8, icmpCode: 0 }),
    ];
    const b = [nat44(3, 1), nat44(4, 2, { protocol: 17 })];
    const v6 = [nat66(5, 1), nat66(6, 2, { protocol: 6 }), nat66(7, 1, { protocol: 58, srcPort: 0, dstPort: 0, icmpType: 128, icmpCode: 0 })];
    await send(
      c.port,
      x.message([{ buf: templateSet(V4, V6) }, { buf: dataSet(V4.id, V4.fields, a.map(record)), records: a.length }]),
      x.message([
        { buf: dataSet(V4.id, V4.fields, b.map(record)), records: b.length },
        { buf: dataSet(V6.id, V6.fields, v6.map(record)), records: v6.length },
      ]),
    );
    const sent = [...a, ...b, ...v6];
    assertShown(name, await c.waitFor(sent.length), sent);
    if (name === 'nfcapd') assert.equal(await c.sequenceFailures(), 0, 'sequence numbers as RFC 7011 counts them, wrapping: no gap');
    else
      assert.deepEqual(
        [...new Set((await c.flows()).map((f) => f.exportSeq!))].sort((p, q) => p - q),
        [1, 2 ** 32 - 2],
        "each record shows its message's number",
      );
    if (name === 'nfcapd') {
      const names = new Map((await c.flows()).map((f) => [f.natEvent, f.natEventName]));
      assert.deepEqual(
        [1, 2, 4, 5].map((e) => names.get(e)),
        ['NAT translation create', 'NAT translation delete', 'NAT44 session create', 'NAT44 session delete'],
      );
    }
  });

  test(`${name}: RFC 8158's NAT44 session template (an observation time, no flow start or end) is kept`, async (t) => {
    const c = await start(t, name);
    const x = new Exporter();
    const recs = [0, 1, 2].map((i) => nat44(10 + i, i === 1 ? 5 : 4, { start: undefined, end: undefined }));
    const onlyTheirs = (s: Sent): Sent => ({
      ...s,
      octets: undefined,
      packets: undefined,
      initiatorOctets: undefined,
      responderOctets: undefined,
      initiatorPackets: undefined,
      responderPackets: undefined,
      flowId: undefined,
    });
    await send(c.port, x.message([{ buf: templateSet(RFC8158) }, { buf: dataSet(RFC8158.id, RFC8158.fields, recs.map(record)), records: recs.length }]));
    const flows = await c.waitFor(recs.length);
    const sent = recs.map(onlyTheirs);
    assertShown(name, flows, sent);
  });
}

for (const name of ['nfcapd', 'nfacctd'] as const) {
  test(`${name}: data before its template is dropped, not kept for when the template comes`, async (t) => {
    const c = await start(t, name);
    const x = new Exporter(1000);
    const early = [nat44(20, 4), nat44(21, 5)];
    const late = [nat44(22, 4), nat44(23, 5)];
    await send(
      c.port,
      x.message([{ buf: dataSet(V4.id, V4.fields, early.map(record)), records: early.length }]),
      x.message([{ buf: templateSet(V4) }, { buf: dataSet(V4.id, V4.fields, late.map(record)), records: late.length }]),
    );
    await c.waitFor(late.length);
    // drain(): whatever the collector still holds is written out before it is read.
    assertShown(name, await c.drain(), late);
  });

  test(`${name}: started after the templates were sent, it decodes only once they are sent again`, async (t) => {
    checkCollectors();
    const port = await freePort();
    const x = new Exporter(1000);
    const before = [nat44(30, 4)];
    const orphans = [nat44(31, 4), nat44(32, 5)];
    const after = [nat44(33, 4), nat44(34, 5)];
    // Nothing listens yet: this template is lost with its data.
    await send(port, x.message([{ buf: templateSet(V4) }, { buf: dataSet(V4.id, V4.fields, before.map(record)), records: before.length }]));
    const c = await start(t, name, { port });
    await send(
      port,
      x.message([{ buf: dataSet(V4.id, V4.fields, orphans.map(record)), records: orphans.length }]),
      x.message([{ buf: templateSet(V4) }, { buf: dataSet(V4.id, V4.fields, after.map(record)), records: after.length }]),
    );
    await c.waitFor(after.length);
    assertShown(name, await c.drain(), after);
  });

  test(`${name}: a sequence number gap: the records on both sides of it are kept, and ${name === 'nfcapd' ? 'the gap is counted once' : 'no gap is counted'}`, async (t) => {
    const c = await start(t, name);
    const x = new Exporter(1000);
    const recs = [0, 1, 2, 3, 4, 5].map((i) => nat44(40 + i, i % 2 ? 5 : 4));
    await send(
      c.port,
      x.message([{ buf: templateSet(V4) }, { buf: dataSet(V4.id, V4.fields, recs.slice(0, 2).map(record)), records: 2 }]),
      // Five records lost on the way: the next message says 1007, not 1002.
      x.message([{ buf: dataSet(V4.id, V4.fields, recs.slice(2, 4).map(record)), records: 2 }], x.seq + 5),
      x.message([{ buf: dataSet(V4.id, V4.fields, recs.slice(4).map(record)), records: 2 }]),
    );
    const flows = await c.waitFor(recs.length);
    assertShown(name, flows, recs);
    if (name === 'nfcapd') {
      assert.equal(await c.sequenceFailures(), 1, c.output());
    } else {
      // pmacct does not count it; each record shows the number its message had.
      assert.equal(await c.sequenceFailures(), undefined);
      assert.deepEqual(
        recs.map((s) => flows.find((f) => f.src === s.src)?.exportSeq),
        [1000, 1000, 1007, 1007, 1009, 1009],
      );
    }
  });

  test(`${name}: takes no IPFIX over TCP: the harness refuses it in words, and the collector has no TCP listener`, async (t) => {
    checkCollectors();
    const port = await freePort();
    await assert.rejects(START[name]({ port, protocol: 'tcp' }), new RegExp(`^Error: ${name} [\\d.]+ receives IPFIX over UDP only`));
    const c = await start(t, name, { port });
    assert.equal(execFileSync('ss', ['-Hltn', 'sport', '=', `:${port}`], { encoding: 'utf8' }), '', 'no TCP socket listens on its port');
    const sock = net.connect(port, '127.0.0.1');
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => sock.once('error', resolve));
    assert.equal(err.code, 'ECONNREFUSED');
    assert.equal(c.port, port);
  });

  test(`${name}: in a network namespace, records sent there arrive; stop() leaves no process, namespace or file behind`, async (t) => {
    checkPrerequisites();
    checkCollectors();
    const ns = new Netns('collector');
    t.after(() => ns.destroy());
    const c = await start(t, name, { port: 4739, ns });
    const x = new Exporter(1000);
    const recs = [nat44(50, 4), nat44(51, 5), nat66(52, 1)];
    const messages = [
      x.message([{ buf: templateSet(V4, V6) }, { buf: dataSet(V4.id, V4.fields, recs.slice(0, 2).map(record)), records: 2 }]),
      x.message([{ buf: dataSet(V6.id, V6.fields, recs.slice(2).map(record)), records: 1 }]),
    ];
    // The sender runs inside the namespace, where the collector's loopback is.
    ns.exec(process.execPath, [
      '-e',
      `const s = require('node:dgram').createSocket('udp4');
       const m = process.argv.slice(1).map((h) => Buffer.from(h, 'hex'));
       (async () => { for (const b of m) await new Promise((r) => s.send(b, 4739, '127.0.0.1', r)); s.close(); })();`,
      ...messages.map((m) => m.toString('hex')),
    ]);
    assertShown(name, await c.waitFor(recs.length), recs);
    assert.ok(groupAlive(c.pid) && existsSync(c.dir));
    await c.stop();
    assert.equal(groupAlive(c.pid), false, `no process of ${name}'s group is left`);
    assert.equal(existsSync(c.dir), false, 'its temp dir is removed');
    ns.destroy();
    assert.equal(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(ns.name), false, 'the namespace is removed');
  });
}
