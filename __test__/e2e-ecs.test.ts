/**
 * The `ecs` format end to end on real kernel events: one namespace with
 * TCP, UDP, ICMP, IPv6 traffic through source NAT and destination NAT
 * rules (IPv4 and IPv6), SCTP, GRE and ICMP entries made with
 * `conntrack -I`, and a flush; ctlogd `--format ecs` beside
 * `conntrack -E -o extended`. Every line must validate against
 * schema/ecs.schema.json, say what conntrack -E said of the same event,
 * and carry the Community ID that PyPI's communityid computes from the
 * line's own fields. Needs root.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Ajv2020 from 'ajv/dist/2020.js';
import { type Flow, referenceIds, referencePython } from './helpers/communityid.js';
import { Lines, marker, ROOT, startCtlogd, stop } from './helpers/ctlogd.js';
import { checkPrerequisites, Netns } from './helpers/netns.js';

interface Endpoint {
  ip?: string;
  port?: number;
  bytes?: number;
  packets?: number;
  nat?: { ip: string; port?: number };
}

interface Ecs {
  '@timestamp': string;
  event: { type: string[]; action: string; created?: string; start?: string; end?: string; duration?: number };
  source?: Endpoint;
  destination?: Endpoint;
  network: { type: string; transport?: string; iana_number: string; bytes?: number; packets?: number; community_id?: string };
  ctlogd: { type: string; orig?: Record<string, number>; reply: Record<string, string | number>; status?: string[] };
}

/** A `conntrack -E -o extended` line: tag, family, protocol number, and its two tuples' key=value pairs. */
interface CtLine {
  tag: string;
  family: string;
  proto: string;
  orig: Record<string, string>;
  reply: Record<string, string>;
}

const TUPLE_KEY = /^(src|dst|sport|dport|type|code|id|srckey|dstkey|packets|bytes)=(.*)$/;

function parseConntrack(line: string): CtLine {
  const toks = line.trim().split(/\s+/);
  const tuples: Array<Record<string, string>> = [];
  let cur: Record<string, string> | undefined;
  for (const t of toks.slice(5)) {
    const m = TUPLE_KEY.exec(t);
    if (m) {
      if (m[1] === 'src' && tuples.length < 2) {
        cur = {};
        tuples.push(cur);
      }
      if (cur) cur[m[1]] = m[2];
    } else if (t !== '[UNREPLIED]' && tuples.length === 2) {
      // Past the reply tuple: mark=, [ASSURED], [USERSPACE] portid=...
      cur = undefined;
    }
  }
  assert.equal(tuples.length, 2, `two tuples in ${line}`);
  return { tag: toks[0], family: toks[1], proto: toks[4], orig: tuples[0], reply: tuples[1] };
}

const ACTION: Record<string, string> = { '[NEW]': 'conntrack-new', '[UPDATE]': 'conntrack-update', '[DESTROY]': 'conntrack-destroy' };
const n = (s: string | undefined): number | undefined => (s === undefined ? undefined : Number(s));

describe('ecs format on real events, with NAT', () => {
  let ns: Netns;
  let ecs: Lines, oracle: Lines;
  let events: Ecs[];
  let ctLines: CtLine[];
  const ports: Record<string, number> = {};
  const begin = marker(11);
  const end = marker(12);

  before(async () => {
    checkPrerequisites();
    // Fails in one line, before any namespace, when the reference is missing.
    referencePython();
    ns = new Netns('ecs');
    // A second IPv6 address for source NAT to (nodad: usable at once).
    ns.exec('ip', ['-6', 'addr', 'add', 'fd00::2/128', 'dev', 'lo', 'nodad']);
    ns.nft(`add table ip ctlogd_nat
      add chain ip ctlogd_nat out { type nat hook output priority -100; }
      add rule ip ctlogd_nat out tcp dport 8080 dnat to 127.0.0.1:8081
      add chain ip ctlogd_nat post { type nat hook postrouting priority 100; }
      add rule ip ctlogd_nat post tcp dport 7100 snat to 127.0.0.2
      add rule ip ctlogd_nat post udp dport 5310 snat to 127.0.0.3:20000-20010
      add table ip6 ctlogd_nat6
      add chain ip6 ctlogd_nat6 out { type nat hook output priority -100; }
      add rule ip6 ctlogd_nat6 out tcp dport 8090 dnat to [::1]:8091
      add chain ip6 ctlogd_nat6 post { type nat hook postrouting priority 100; }
      add rule ip6 ctlogd_nat6 post tcp dport 7200 snat to fd00::2`);
    ecs = await startCtlogd(ns, ['--format', 'ecs']);
    oracle = new Lines(ns.spawn('conntrack', ['-E', '-o', 'extended']));
    await sleep(300);
    // conntrack -E gives no sign that it is listening: insert the marker until it shows up there.
    for (let i = 0; !oracle.lines.some(begin.match); i++) {
      assert.ok(i < 50, 'conntrack -E never saw the start marker');
      begin.insert(ns);
      await sleep(100);
      if (!oracle.lines.some(begin.match)) ns.exec('conntrack', ['-D', '-s', '198.51.100.11']);
    }
    const out = ns
      .traffic('tcp:7000', 'udp:5300', 'ping', 'tcp:7100', 'udp:5310', 'tcpto:8080:8081', 'udp:5353@::1', 'ping@::1', 'tcp:7200@::1', 'tcpto:8090:8091@::1')
      .trim()
      .split('\n')
      .map(Number);
    [ports.tcp, ports.udp, ports.snat, ports.snatUdp, ports.dnat, ports.udp6, ports.snat6, ports.dnat6] = out;
    // Protocols without a socket here, made in the kernel's table directly.
    ns.exec('conntrack', [
      '-I',
      '-p',
      'sctp',
      '-s',
      '10.0.0.1',
      '-d',
      '10.0.0.2',
      '--sport',
      '7',
      '--dport',
      '9',
      '--state',
      'ESTABLISHED',
      '--orig-vtag',
      '1',
      '--reply-vtag',
      '2',
      '-t',
      '30',
    ]);
    ns.exec('conntrack', ['-I', '-p', 'gre', '-s', '10.0.0.1', '-d', '10.0.0.2', '--srckey', '0x1234', '--dstkey', '7', '-t', '30']);
    ns.exec('conntrack', ['-I', '-p', 'icmp', '-s', '10.0.0.2', '-d', '10.0.0.1', '--icmp-type', '13', '--icmp-code', '0', '--icmp-id', '5', '-t', '30']);
    ns.exec('conntrack', ['-F']);
    end.insert(ns);
    for (const l of [ecs, oracle]) await l.until(() => l.lines.some(end.match), 'the end marker');
    // Both from the start marker that conntrack -E saw (the last inserted) to the end marker.
    const span = (ls: string[], tag: (l: string) => boolean) =>
      ls.slice(
        ls.findLastIndex((l) => tag(l) && begin.match(l)),
        ls.findIndex(end.match) + 1,
      );
    events = span(ecs.lines, (l) => l.includes('"action":"conntrack-new"')).map((l) => JSON.parse(l) as Ecs);
    ctLines = span(oracle.lines, (l) => l.includes('[NEW]')).map(parseConntrack);
  });

  after(() => {
    for (const l of [ecs, oracle]) if (l) l.child.kill('SIGTERM');
    ns?.destroy();
  });

  const byPort = (port: number) => events.filter((e) => e.source?.port === port);

  test('every line is valid against schema/ecs.schema.json', () => {
    const schema = JSON.parse(readFileSync(path.join(ROOT, 'schema/ecs.schema.json'), 'utf8')) as object;
    const validate = new Ajv2020.default({ strict: true, allErrors: true }).compile(schema);
    assert.ok(events.length >= 40, `${events.length} events`);
    for (const e of events) assert.ok(validate(e), `${JSON.stringify(validate.errors)}\n${JSON.stringify(e)}`);
  });

  test('source, destination, their counters and NAT say what conntrack -E said of the same event', () => {
    assert.equal(events.length, ctLines.length, 'one line per event, as conntrack -E');
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      const { orig: o, reply: r, ...ct } = ctLines[i];
      const at = `line ${i}: ${JSON.stringify(e)}\n${JSON.stringify(ctLines[i])}`;
      assert.equal(e.event.action, ACTION[ct.tag], at);
      assert.equal(e.network.type, ct.family, at);
      assert.equal(e.network.iana_number, ct.proto, at);
      const gre = ct.proto === '47';
      const expected = (ip: string, port: string | undefined, c: Record<string, string>, natIp: string, natPort: string | undefined): Endpoint => {
        const ep: Endpoint = { ip };
        if (port !== undefined) ep.port = Number(port);
        if (c.bytes !== undefined) Object.assign(ep, { bytes: Number(c.bytes), packets: Number(c.packets) });
        if (natIp !== ip || natPort !== port) ep.nat = natPort === undefined ? { ip: natIp } : { ip: natIp, port: Number(natPort) };
        return ep;
      };
      assert.deepEqual(e.source, expected(o.src, o.sport, o, r.dst, r.dport), at);
      assert.deepEqual(e.destination, expected(o.dst, o.dport, r, r.src, r.sport), at);
      if (o.bytes !== undefined && r.bytes !== undefined) {
        assert.equal(e.network.bytes, Number(o.bytes) + Number(r.bytes), at);
        assert.equal(e.network.packets, Number(o.packets) + Number(r.packets), at);
      }
      // What ECS has no name for: ICMP fields and GRE keys under ctlogd.orig, the reply tuple whole.
      const rest = {
        src_key: gre ? n(o.srckey) : undefined,
        dst_key: gre ? n(o.dstkey) : undefined,
        icmp_type: n(o.type),
        icmp_code: n(o.code),
        icmp_id: n(o.id),
      };
      const want = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
      assert.deepEqual(e.ctlogd.orig ?? {}, want, at);
      assert.equal(e.ctlogd.reply.src, r.src, at);
      assert.equal(e.ctlogd.reply.dst, r.dst, at);
      assert.equal(e.ctlogd.reply.icmp_type, n(r.type), at);
      assert.equal(e.ctlogd.reply.src_key, gre ? n(r.srckey) : undefined, at);
    }
  });

  // conntrack -E prints GRE keys as hex; Number() reads 0x.. as hex too.
  test('the NAT rules show: source.nat for snat (IPv4, IPv6, a port range), destination.nat for dnat; none elsewhere', () => {
    const check = (port: number, what: string, pred: (e: Ecs) => boolean) => {
      const evs = byPort(port);
      assert.ok(evs.length >= 3, `${what}: ${evs.length} events`);
      for (const e of evs) assert.ok(pred(e), `${what}: ${JSON.stringify(e)}`);
    };
    check(ports.snat, 'tcp snat to 127.0.0.2', (e) => e.source!.nat?.ip === '127.0.0.2' && e.source!.nat.port === ports.snat && !e.destination!.nat);
    check(ports.snatUdp, 'udp snat to 127.0.0.3:20000-20010', (e) => {
      const p = e.source!.nat?.port ?? 0;
      return e.source!.nat?.ip === '127.0.0.3' && p >= 20000 && p <= 20010 && !e.destination!.nat;
    });
    check(
      ports.dnat,
      'tcp dnat to 127.0.0.1:8081',
      (e) => e.destination!.port === 8080 && e.destination!.nat?.ip === '127.0.0.1' && e.destination!.nat.port === 8081 && !e.source!.nat,
    );
    check(ports.snat6, 'ip6 snat to fd00::2', (e) => e.network.type === 'ipv6' && e.source!.nat?.ip === 'fd00::2' && !e.destination!.nat);
    check(ports.dnat6, 'ip6 dnat to [::1]:8091', (e) => e.destination!.port === 8090 && e.destination!.nat?.ip === '::1' && e.destination!.nat.port === 8091);
    for (const port of [ports.tcp, ports.udp, ports.udp6]) check(port, `no NAT on ${port}`, (e) => !e.source!.nat && !e.destination!.nat);
    // The kernel marks what it translated.
    assert.ok(byPort(ports.snat).some((e) => e.ctlogd.status?.includes('SRC_NAT')));
    assert.ok(byPort(ports.dnat).some((e) => e.ctlogd.status?.includes('DST_NAT')));
  });

  test('a TCP connection: connection start, updates, end with counters, flow times and duration', () => {
    const evs = byPort(ports.tcp);
    assert.deepEqual(
      evs.map((e) => e.event.type.join('+')),
      ['connection+start', 'connection', 'connection', 'connection', 'connection', 'connection', 'connection+end'],
    );
    const d = evs.at(-1)!;
    assert.equal(d.network.transport, 'tcp');
    assert.ok(d.source!.packets! >= 4 && d.destination!.packets! >= 2, JSON.stringify(d));
    assert.equal(d.network.bytes, d.source!.bytes! + d.destination!.bytes!);
    assert.ok(d.event.start && d.event.end && d.event.start <= d.event.end, 'flow start and end');
    assert.ok(d.event.duration! >= 0);
    // Kernel event times (CTA_TIMESTAMP_EVENT, kernel 6.x): @timestamp is the kernel's, event.created the read time, later.
    const syn = evs[0];
    assert.ok(syn.event.created, 'NEW carries the kernel event time, so event.created is the read time');
    assert.ok(syn['@timestamp'] <= syn.event.created!);
    assert.ok(!syn.event.start && !syn.event.end, 'NEW carries no flow start/stop');
  });

  test('ICMP, ICMPv6, SCTP, GRE and UDP over IPv6 by their IANA keywords', () => {
    const by = (t: string) => events.filter((e) => e.network.transport === t);
    const icmp = by('icmp').filter((e) => e.ctlogd.orig?.icmp_type === 8);
    assert.deepEqual(
      icmp.map((e) => e.event.action),
      ['conntrack-new', 'conntrack-update', 'conntrack-destroy'],
    );
    assert.equal(icmp[0].ctlogd.reply.icmp_type, 0);
    assert.ok(by('icmp').some((e) => e.ctlogd.orig?.icmp_type === 13 && e.ctlogd.reply.icmp_type === 14));
    const icmp6 = by('ipv6-icmp');
    assert.ok(icmp6.length >= 3 && icmp6.every((e) => e.network.iana_number === '58' && e.network.type === 'ipv6'));
    assert.equal(icmp6[0].ctlogd.orig?.icmp_type, 128);
    assert.ok(by('sctp').some((e) => e.source?.port === 7 && e.destination?.port === 9));
    const gre = by('gre');
    assert.ok(gre.length >= 2 && gre.every((e) => e.source?.port === undefined && e.ctlogd.orig?.src_key === 0x1234 && e.ctlogd.orig.dst_key === 7));
    assert.ok(byPort(ports.udp6).every((e) => e.network.type === 'ipv6' && e.network.transport === 'udp' && e.source?.ip === '::1'));
  });

  test("every line's network.community_id is what PyPI communityid computes from that line's fields", () => {
    const flows: Flow[] = events.map((e) => {
      const icmp = e.network.iana_number === '1' || e.network.iana_number === '58';
      return {
        saddr: e.source!.ip!,
        daddr: e.destination!.ip!,
        proto: Number(e.network.iana_number),
        sport: icmp ? e.ctlogd.orig?.icmp_type : e.source!.port,
        dport: icmp ? e.ctlogd.orig?.icmp_code : e.destination!.port,
      };
    });
    const theirs = referenceIds(flows);
    for (let i = 0; i < events.length; i++) assert.equal(events[i].network.community_id, theirs[i], JSON.stringify(flows[i]));
    // The request and the reply of one ping, and every event of one connection, are one flow.
    assert.equal(new Set(byPort(ports.tcp).map((e) => e.network.community_id)).size, 1);
  });

  test('SIGTERM: exit 0', async () => {
    assert.equal(await stop(ecs), 0);
  });
});
