/**
 * The IPFIX output against real collectors, on a real NAT router
 * (helpers/nat-router.ts: masquerade, SNAT with a port range, DNAT, and
 * untranslated forwarding, TCP, UDP and ICMP, IPv4 and IPv6). ctlogd and
 * `conntrack -E -o extended,timestamp` run side by side in the router's
 * namespace; the collector runs there on loopback. Every NEW and DESTROY
 * that conntrack -E printed for the client's connections must reach the
 * collector and show there the same pre- and post-NAT addresses and ports,
 * protocol and times.
 *
 * UDP: nfdump's nfcapd (read back with nfdump) and pmacct's nfacctd (its
 * JSON print plugin), from Debian. Neither takes IPFIX over TCP at Debian's
 * versions (they open UDP sockets only); over TCP the collectors are
 * python3-ipfix's reader (Debian's python3-ipfix), live on the connection,
 * and libfixbuf's ipfixDump (Debian's libfixbuf-tools) on the bytes it
 * received.
 */
import { before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { startIpfixStream, startNfacctd, startNfcapd, type Collector, type Flow } from './helpers/collectors.js';
import { ADDR, NatRouter, type Step } from './helpers/nat-router.js';
import { handed, Lines, marker, startCtlogd, stats, statsWhen, stop } from './helpers/ctlogd.js';
import { checkPrerequisites } from './helpers/netns.js';

const PORT = 4739;
const ALL_STEPS: Step[] = ['masqTcp', 'masqTcp6', 'snatUdp', 'dnatTcp', 'dnatTcp6', 'plainUdp', 'plainUdp6'];

/** One event as `conntrack -E -o extended,timestamp` printed it. */
interface CtEvent {
  type: 'new' | 'destroy';
  /** When conntrack -E read it, ms since the epoch. */
  time: number;
  family: 'ipv4' | 'ipv6';
  proto: number;
  orig: Record<string, string>;
  reply: Record<string, string>;
}

/** `[1796133170.799271]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=... [UNREPLIED] src=...`. */
function parseConntrack(line: string): CtEvent | undefined {
  const m = /^\[(\d+)\.(\d{6})\]\s+\[(NEW|DESTROY)\]\s+(ipv4|ipv6)\s+\d+\s+\S+\s+(\d+)\s/.exec(line);
  if (!m) return undefined;
  const tuples: Array<Record<string, string>> = [];
  for (const tok of line.split(/\s+/)) {
    const kv = /^(src|dst|sport|dport|type|code|id)=(.*)$/.exec(tok);
    if (!kv) continue;
    if (kv[1] === 'src') tuples.push({});
    tuples.at(-1)![kv[1]] = kv[2];
  }
  return {
    type: m[3] === 'NEW' ? 'new' : 'destroy',
    time: Number(m[1]) * 1000 + Math.floor(Number(m[2]) / 1000),
    family: m[4] as 'ipv4' | 'ipv6',
    proto: Number(m[5]),
    orig: tuples[0],
    reply: tuples[1],
  };
}

/** The client's events, as conntrack -E printed them. */
const clientEvents = (l: Lines): CtEvent[] =>
  l.lines.map(parseConntrack).filter((e): e is CtEvent => e !== undefined && (e.orig.src === ADDR.client || e.orig.src === ADDR.client6));

const translatedOf = (e: CtEvent): boolean =>
  e.orig.src !== e.reply.dst || e.orig.dst !== e.reply.src || e.orig.sport !== e.reply.dport || e.orig.dport !== e.reply.sport;

const isIcmp = (e: CtEvent) => e.proto === 1 || e.proto === 58;
const num = (s: string | undefined) => (s === undefined ? undefined : Number(s));

/**
 * The collector's record of a conntrack event: the same protocol, pre-NAT
 * tuple and phase (NEW has no end time, DESTROY has one).
 */
function recordOf(e: CtEvent, flows: Flow[], sameAddress: (a?: string, b?: string) => boolean): Flow | undefined {
  return flows.find(
    (f) =>
      f.protocol === e.proto &&
      sameAddress(f.src, e.orig.src) &&
      sameAddress(f.dst, e.orig.dst) &&
      (isIcmp(e) || (f.srcPort === num(e.orig.sport) && f.dstPort === num(e.orig.dport))) &&
      (e.type === 'destroy') === (f.end !== undefined && f.end > 0),
  );
}

/** IPv6 texts compared as addresses. */
function sameAddress(a?: string, b?: string): boolean {
  if (a === undefined || b === undefined) return false;
  const norm = (s: string) => (s.includes(':') ? new URL(`http://[${s}]/`).hostname : s);
  return norm(a) === norm(b);
}

/** A NAT router, a collector in it, conntrack -E and ctlogd beside it; torn down with the test. */
async function setUp<C extends Collector>(t: TestContext, start: (net: NatRouter) => Promise<C>, args: string[] = []) {
  const net = new NatRouter('ipfix');
  t.after(() => net.destroy());
  await net.serve();
  const collector = await start(net);
  t.after(() => collector.stop());
  const oracle = new Lines(net.router.spawn('conntrack', ['-E', '-e', 'NEW,DESTROY', '-o', 'extended,timestamp']));
  t.after(() => oracle.child.kill('SIGKILL'));
  const ctlogd = await startCtlogd(net.router, ['--output', 'ipfix', '--ipfix-host', '127.0.0.1', '--ipfix-port', String(PORT), ...args]);
  t.after(() => ctlogd.child.kill('SIGKILL'));
  // conntrack -E gives no sign that it listens: a marker until it shows.
  const begin = marker(1);
  for (let i = 0; !oracle.lines.some(begin.match); i++) {
    assert.ok(i < 50, 'conntrack -E never saw the start marker');
    begin.insert(net.router);
    await sleep(100);
    if (!oracle.lines.some(begin.match)) net.router.exec('conntrack', ['-D', '-s', '198.51.100.1']);
  }
  return { net, collector, oracle, ctlogd };
}

/** The client's traffic, then a flush: a NEW and a DESTROY for each connection. */
async function traffic(net: NatRouter, oracle: Lines): Promise<void> {
  net.connect(ALL_STEPS);
  net.ping();
  net.ping(true);
  net.router.exec('conntrack', ['-F']);
  const end = marker(2);
  end.insert(net.router);
  await oracle.until(() => oracle.lines.some(end.match), 'the end marker');
}

/** Waits until ctlogd has written every event it read (none on its way, none waiting), and returns its counters. */
async function settled(ctlogd: Lines): Promise<Record<string, number>> {
  return statsWhen(ctlogd, (s) => handed(s) && s.output_waiting === 0 && s.received > 0, 'every event written');
}

/**
 * The collector's records once it shows one for each event (or after 15 s),
 * then drained: nfacctd's core hands records to its print plugin in
 * buffers, which a stop can leave behind.
 */
async function recordsFor(collector: Collector, events: CtEvent[]): Promise<Flow[]> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const flows = await collector.flows();
    if (events.every((e) => recordOf(e, flows, sameAddress))) break;
    await sleep(250);
  }
  return collector.drain();
}

/** Every client event of conntrack -E has its record, with the same tuples, protocol, natEvent and times. */
function checkRecords(events: CtEvent[], flows: Flow[], natEvents: { create: number; delete: number }, collector: string): void {
  // 7 connections and 2 pings: NEW and DESTROY each.
  assert.equal(events.length, 18, `conntrack -E printed ${events.length} client events`);
  const kinds = new Set<string>();
  for (const e of events) {
    const what = `${e.type} ${e.family} ${e.proto} ${JSON.stringify(e.orig)} ${JSON.stringify(e.reply)}`;
    const f = recordOf(e, flows, sameAddress);
    assert.ok(f, `${collector} has no record of ${what}; it has:\n${flows.map((x) => JSON.stringify(x.raw)).join('\n')}`);
    const translated = translatedOf(e);
    kinds.add(`${e.family} ${e.proto} ${translated ? 'nat' : 'plain'}`);
    if (translated) {
      const v6nat = e.family === 'ipv6';
      const want = v6nat ? (e.type === 'new' ? 1 : 2) : e.type === 'new' ? natEvents.create : natEvents.delete;
      assert.equal(f.natEvent, want, `natEvent of ${what}`);
      // nfdump decodes no IPv6 post-NAT addresses (it has none to show).
      if (!(collector === 'nfcapd' && v6nat)) {
        assert.ok(sameAddress(f.postNatSrc, e.reply.dst), `post-NAT source of ${what}: ${f.postNatSrc}`);
        assert.ok(sameAddress(f.postNatDst, e.reply.src), `post-NAT destination of ${what}: ${f.postNatDst}`);
      }
      if (!isIcmp(e)) {
        assert.equal(f.postNatSrcPort, num(e.reply.dport), `post-NAT source port of ${what}`);
        assert.equal(f.postNatDstPort, num(e.reply.sport), `post-NAT destination port of ${what}`);
      }
    } else {
      assert.equal(f.natEvent ?? 0, 0, `an untranslated connection has no natEvent: ${what}`);
    }
    if (isIcmp(e) && f.icmpType !== undefined) assert.equal(f.icmpType, num(e.orig.type), `ICMP type of ${what}`);
    // Times: the kernel's, within a second of when conntrack -E read the event.
    const time = f.observationTime ?? (e.type === 'new' ? f.start : f.end);
    assert.ok(time !== undefined && Math.abs(time - e.time) < 1000, `time of ${what}: ${time} vs ${e.time}`);
    if (e.type === 'destroy') assert.ok(Math.abs(f.end! - e.time) < 1000, `end of ${what}: ${f.end} vs ${e.time}`);
    else assert.ok(Math.abs(f.start! - e.time) < 1000, `start of ${what}: ${f.start} vs ${e.time}`);
  }
  // Every kind of connection was there: masquerade, SNAT and DNAT, untranslated, v4 and v6, TCP, UDP, ICMP.
  for (const k of ['ipv4 6 nat', 'ipv6 6 nat', 'ipv4 17 nat', 'ipv4 17 plain', 'ipv6 17 plain', 'ipv4 1 nat', 'ipv6 58 nat']) assert.ok(kinds.has(k), k);
}

/**
 * The client's IPv4 records as nfdump's text output (`-o fmt:`) shows them:
 * natEvent, protocol, pre-NAT source and port, post-NAT source and port,
 * pre-NAT destination and port, post-NAT destination and port.
 */
function nfdumpFmt(c: Collector): string[][] {
  const out = execFileSync('nfdump', ['-R', c.dir, '-q', '-N', '-o', 'fmt:%nevt|%pr|%sa|%sp|%xsa|%xsp|%da|%dp|%xda|%xdp', `src net ${ADDR.client}/32`], {
    encoding: 'utf8',
    env: { ...process.env, TZ: 'UTC' },
  });
  return out
    .split('\n')
    .filter((l) => l.includes('|'))
    .map((l) => l.split('|').map((x) => x.trim()));
}

/** Every translated IPv4 TCP/UDP event of conntrack -E, as nfdumpFmt shows it, with natEvent shown as `names`. */
function checkFmt(c: Collector, events: CtEvent[], names: { new: string; destroy: string }): void {
  const rows = nfdumpFmt(c).map((r) => r.join(' '));
  const wanted = events.filter((e) => e.family === 'ipv4' && !isIcmp(e) && translatedOf(e));
  assert.ok(wanted.length >= 4, `${wanted.length} translated IPv4 events`);
  for (const e of wanted) {
    const row = [names[e.type], e.proto, e.orig.src, e.orig.sport, e.reply.dst, e.reply.dport, e.orig.dst, e.orig.dport, e.reply.src, e.reply.sport].join(' ');
    assert.ok(rows.includes(row), `nfdump -o fmt: has no line ${row}; it has:\n${rows.join('\n')}`);
  }
}

/** How nfdump names the natEvent values among `values` that it shows. */
const natEventNames = (flows: Flow[], values: number[]): string[] =>
  [...new Set(flows.filter((f) => values.includes(f.natEvent ?? -1)).map((f) => `${f.natEvent} ${f.natEventName}`))].sort();

describe('IPFIX over UDP to real collectors on a NAT router', () => {
  before(() => checkPrerequisites());

  for (const [name, start] of [
    ['nfcapd', startNfcapd],
    ['nfacctd', startNfacctd],
  ] as const) {
    test(`${name}: every NEW and DESTROY arrives with the pre- and post-NAT addresses and ports, protocol and times conntrack -E printed`, async (t) => {
      const { net, collector, oracle, ctlogd } = await setUp(t, (n) => start({ port: PORT, protocol: 'udp', ns: n.router }));
      await traffic(net, oracle);
      const s = await settled(ctlogd);
      assert.equal(await stop(ctlogd), 0);
      const events = clientEvents(oracle);
      const flows = await recordsFor(collector, events);
      checkRecords(events, flows, { create: 4, delete: 5 }, name);
      if (name === 'nfcapd') {
        assert.deepEqual(natEventNames(flows, [4, 5]), ['4 NAT44 session create', '5 NAT44 session delete']);
        // nfdump's text output has no name for RFC 8158's values: what ipfix_nat_event "legacy" is for.
        checkFmt(collector, events, { new: 'UNKNOW', destroy: 'UNKNOW' });
      }
      // Nothing lost on the way; every record a collector has was counted written.
      const final = stats(ctlogd.stderr);
      assert.equal(final.output_lost, 0);
      assert.equal(final.written, final.received - final.filtered - final.skipped);
      assert.ok(flows.length <= final.written && final.written >= s.written, `${flows.length} records, ${final.written} written`);
      // nfdump counts sequence gaps; pmacct does not say.
      if (name === 'nfcapd') assert.equal(await collector.sequenceFailures(), 0, 'no sequence number gap');
    });
  }

  test('nfcapd: ipfix_nat_event "legacy" sends 1 and 2, which nfdump -o fmt: shows as ADD and DELETE (it shows 4 and 5 as UNKNOW)', async (t) => {
    const { net, collector, oracle, ctlogd } = await setUp(t, (n) => startNfcapd({ port: PORT, protocol: 'udp', ns: n.router }), [
      '--ipfix-nat-event',
      'legacy',
    ]);
    await traffic(net, oracle);
    await settled(ctlogd);
    assert.equal(await stop(ctlogd), 0);
    const events = clientEvents(oracle);
    const flows = await recordsFor(collector, events);
    checkRecords(events, flows, { create: 1, delete: 2 }, 'nfcapd');
    assert.deepEqual(natEventNames(flows, [1, 2]), ['1 NAT translation create', '2 NAT translation delete']);
    assert.ok(!flows.some((f) => f.natEvent === 4 || f.natEvent === 5), 'no RFC 8158 values in legacy mode');
    checkFmt(collector, events, { new: 'ADD', destroy: 'DELETE' });
  });

  test('SIGHUP: a new socket, the templates first, the sequence numbers going on: nfcapd decodes what follows and counts no gap', async (t) => {
    const { net, collector, ctlogd } = await setUp(t, (n) => startNfcapd({ port: PORT, protocol: 'udp', ns: n.router }));
    const first = net.connect(['masqTcp', 'snatUdp']);
    await settled(ctlogd);
    ctlogd.child.kill('SIGHUP');
    await ctlogd.until(() => ctlogd.stderr.includes('configuration reloaded'), 'the reload');
    const second = net.connect(['masqTcp', 'dnatTcp']);
    await settled(ctlogd);
    assert.equal(await stop(ctlogd), 0);
    const flows = await collector.drain();
    for (const [what, port] of [
      ['before', first.masqTcp],
      ['before', first.snatUdp],
      ['after', second.masqTcp],
      ['after', second.dnatTcp],
    ] as const) {
      assert.ok(
        flows.some((f) => f.srcPort === port && f.natEvent === 4),
        `the NEW of port ${port}, ${what} the SIGHUP`,
      );
    }
    assert.equal(await collector.sequenceFailures(), 0, 'no sequence gap across the new socket');
    assert.equal(stats(ctlogd.stderr).output_lost, 0);
  });

  test('a collector started after ctlogd decodes once the templates are sent again (ipfix_template_interval)', async (t) => {
    const net = new NatRouter('ipfix-late');
    t.after(() => net.destroy());
    await net.serve();
    const ctlogd = await startCtlogd(net.router, [
      '--output',
      'ipfix',
      '--ipfix-host',
      '127.0.0.1',
      '--ipfix-port',
      String(PORT),
      '--ipfix-template-interval',
      '1',
    ]);
    t.after(() => ctlogd.child.kill('SIGKILL'));
    // Records with nobody listening: the templates went out with the first of them.
    net.connect(['masqTcp', 'snatUdp']);
    await statsWhen(ctlogd, (s) => handed(s) && s.output_waiting === 0 && s.received >= 2, 'the first records sent');
    let collector: Collector | undefined = await startNfcapd({ port: PORT, protocol: 'udp', ns: net.router });
    t.after(() => collector?.stop());
    await sleep(1200);
    const ports = net.connect(['masqTcp', 'dnatTcp']);
    await settled(ctlogd);
    assert.equal(await stop(ctlogd), 0);
    const flows = await collector.drain();
    for (const step of ['masqTcp', 'dnatTcp'] as const) {
      assert.ok(
        flows.some((f) => f.srcPort === ports[step] && f.natEvent === 4),
        `the late collector decoded the NEW of ${step} (port ${ports[step]}): ${JSON.stringify(flows.map((f) => f.raw))}`,
      );
    }
    await collector.stop();
    collector = undefined;
  });
});

describe('IPFIX over TCP (python3-ipfix live, libfixbuf on the bytes) on a NAT router', () => {
  before(() => checkPrerequisites());
  const tcp = ['--ipfix-protocol', 'tcp'];
  const stream = (n: NatRouter) => startIpfixStream({ port: PORT, ns: n.router });

  test('every NEW and DESTROY arrives, as conntrack -E printed it, counted written once the collector acknowledged it', async (t) => {
    const { net, collector, oracle, ctlogd } = await setUp(t, stream, [...tcp, '--ipfix-domain-id', '4242']);
    await traffic(net, oracle);
    const s = await settled(ctlogd);
    assert.equal(s.output_lost, 0);
    const events = clientEvents(oracle);
    const flows = await recordsFor(collector, events);
    checkRecords(events, flows, { create: 4, delete: 5 }, collector.name);
    // Counters: the DESTROY records carry both directions.
    for (const f of flows.filter((x) => x.end && x.natEvent === 5 && x.protocol === 6)) {
      assert.ok(f.initiatorPackets! >= 4n && f.responderPackets! >= 3n && f.octets === f.initiatorOctets! + f.responderOctets!, JSON.stringify(f.raw));
    }
    assert.equal(await stop(ctlogd), 0);
    const final = stats(ctlogd.stderr);
    assert.equal(final.written, final.received - final.filtered - final.skipped);
    assert.deepEqual(collector.connections(), { opened: 1, closed: 1, errors: [] });
    // libfixbuf reads the same stream: as many data records, the same tuples.
    const dump = collector.ipfixDump();
    // Every message, templates and data, carries ipfix_domain_id.
    assert.equal(dump.match(/observation domain id: (\d+)/g)?.length, dump.match(/--- Message Header ---/g)?.length);
    assert.deepEqual([...new Set(dump.match(/observation domain id: \d+/g))], ['observation domain id: 4242']);
    const all = await collector.flows();
    assert.equal(dump.match(/--- data record \d+ ---/g)?.length, all.length, dump.slice(0, 2000));
    for (const e of events.filter((x) => x.family === 'ipv4' && !isIcmp(x))) {
      assert.match(dump, new RegExp(`sourceTransportPort : ${e.orig.sport}\\n`), `ipfixDump has source port ${e.orig.sport}`);
    }
    // (libfixbuf writes each group of an IPv6 address with four digits.)
    assert.match(dump, /postNATSourceIPv6Address : fd02::0001\n/);
  });

  test('the collector goes away and comes back: what it had not acknowledged is sent again on the new connection, after the templates', async (t) => {
    const { net, collector: first, ctlogd } = await setUp(t, stream, tcp);
    const before = net.connect(['masqTcp', 'snatUdp']);
    await settled(ctlogd);
    await first.stop();
    // Records while nobody listens: they wait, and the connection is retried.
    const during = net.connect(['dnatTcp', 'plainUdp']);
    await ctlogd.until(() => /ipfix tcp 127\.0\.0\.1:4739: (connection lost|cannot connect)/.test(ctlogd.stderr), 'the outage reported');
    const w = await statsWhen(ctlogd, (x) => handed(x) && x.output_waiting >= 2, 'records waiting');
    const second = await startIpfixStream({ port: PORT, ns: net.router });
    t.after(() => second.stop());
    await ctlogd.until(() => /ipfix tcp 127\.0\.0\.1:4739: connected again/.test(ctlogd.stderr), 'connected again', 15000);
    const s = await settled(ctlogd);
    assert.equal(s.output_lost, 0);
    const flows = await second.waitFor(w.output_waiting);
    for (const step of ['dnatTcp', 'plainUdp'] as const) {
      assert.ok(
        flows.some((f) => f.srcPort === during[step]),
        `the new connection carried the NEW of ${step}: ${JSON.stringify(flows.map((f) => f.raw))}`,
      );
    }
    assert.ok(!flows.some((f) => f.srcPort === before.masqTcp), 'what the first collector acknowledged is not sent again');
    // A new session: libfixbuf decodes it from its own start, so the templates came first.
    const dump = second.ipfixDump();
    assert.match(dump, /sequence number: 0 \(0\)/);
    assert.match(dump, new RegExp(`sourceTransportPort : ${during.dnatTcp}\\n`));
    assert.equal(await stop(ctlogd), 0);
    const final = stats(ctlogd.stderr);
    assert.equal(final.written, final.received - final.filtered - final.skipped);
  });
});
