/**
 * End to end on real kernel events: one namespace with mixed traffic (TCP
 * through DNAT, UDP with a mark and a zone, ICMP, IPv6, a flush), ctlogd
 * running in all three formats beside `conntrack -E`, then assertions per
 * kind of event. Needs root; fails loudly when the namespace cannot be made.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Ajv2020 from 'ajv/dist/2020.js';
import { Lines, marker, ROOT, startCtlogd, stop } from './helpers/ctlogd.js';
import { checkPrerequisites, Netns } from './helpers/netns.js';

interface J {
  type: string;
  proto: string;
  proto_num: number;
  state?: string;
  status?: string[];
  timeout?: number;
  mark?: number;
  zone?: number;
  id?: number;
  portid: number;
  start?: string;
  stop?: string;
  event_time?: string;
  family: string;
  orig: Record<string, string | number>;
  reply: Record<string, string | number>;
}

describe('mixed traffic in a namespace', () => {
  let ns: Netns;
  let json: Lines, vyos: Lines, ct: Lines, oracle: Lines, ctExt: Lines, oracleExt: Lines;
  let events: J[];
  const ports: Record<string, number> = {};
  const begin = marker(1);
  let end: ReturnType<typeof marker>;

  before(async () => {
    checkPrerequisites();
    ns = new Netns('mixed');
    ns.nft(`add table inet ctlogd_rules
      add chain inet ctlogd_rules raw { type filter hook output priority raw; }
      add rule inet ctlogd_rules raw udp dport 5400 ct zone set 7
      add chain inet ctlogd_rules mangle { type filter hook output priority mangle; }
      add rule inet ctlogd_rules mangle udp dport { 5300, 5400 } ct mark set 42
      add table ip ctlogd_nat
      add chain ip ctlogd_nat out { type nat hook output priority -100; }
      add rule ip ctlogd_nat out tcp dport 8080 dnat to 127.0.0.1:8081`);
    json = await startCtlogd(ns, ['--format', 'json']);
    vyos = await startCtlogd(ns, []);
    ct = await startCtlogd(ns, ['--format', 'conntrack']);
    ctExt = await startCtlogd(ns, ['--format', 'conntrack', '--conntrack-options', 'extended,id,ktimestamp']);
    oracle = new Lines(ns.spawn('conntrack', ['-E']));
    oracleExt = new Lines(ns.spawn('conntrack', ['-E', '-o', 'extended,id,ktimestamp']));
    end = marker(2);
    await sleep(300);
    // conntrack -E gives no sign that it is listening: insert the marker
    // until it shows up there.
    const bothSee = () => oracle.lines.some(begin.match) && oracleExt.lines.some(begin.match);
    for (let i = 0; !bothSee(); i++) {
      assert.ok(i < 50, 'conntrack -E never saw the start marker');
      begin.insert(ns);
      await sleep(100);
      if (!bothSee()) ns.exec('conntrack', ['-D', '-s', '198.51.100.1']);
    }
    const out = ns
      .traffic('tcp:7000', 'tcpto:8080:8081', 'udp:5300', 'udp:5400', 'udpsend:5500', 'ping', 'udp:5353@::1', 'ping@::1')
      .trim()
      .split('\n')
      .map(Number);
    [ports.tcp, ports.dnat, ports.mark, ports.zone, ports.unreplied, ports.udp6] = out;
    ns.exec('conntrack', ['-F']);
    end.insert(ns);
    for (const l of [json, vyos, ct, oracle, ctExt, oracleExt]) await l.until(() => l.lines.some(end.match), 'the end marker');
    events = json.lines.map((l) => JSON.parse(l) as J);
  });

  after(async () => {
    for (const l of [json, vyos, ct, oracle, ctExt, oracleExt]) if (l) l.child.kill('SIGTERM');
    ns?.destroy();
  });

  const find = (pred: (e: J) => boolean) => events.filter(pred);
  const byPort = (port: number) => find((e) => e.orig.sport === port);

  test('a TCP connection: NEW, UPDATEs through its states, DESTROY with counters and timestamps', () => {
    const evs = byPort(ports.tcp);
    assert.deepEqual(
      evs.map((e) => e.type),
      ['new', 'update', 'update', 'update', 'update', 'update', 'destroy'],
    );
    assert.deepEqual(
      evs.map((e) => e.state),
      ['SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'LAST_ACK', 'TIME_WAIT', 'TIME_WAIT'],
    );
    const [syn, , est] = evs;
    assert.equal(syn.proto, 'tcp');
    assert.equal(syn.proto_num, 6);
    assert.equal(syn.orig.dport, 7000);
    assert.equal(syn.reply.sport, 7000);
    assert.ok(!syn.status!.includes('SEEN_REPLY'), 'SYN_SENT is unreplied');
    assert.ok(est.status!.includes('ASSURED'));
    // Kernels send start/stop (CTA_TIMESTAMP) with DESTROY only; NEW and
    // UPDATE carry the event's own time (CTA_TIMESTAMP_EVENT) on 6.x.
    assert.ok(!syn.start && !syn.stop, 'NEW carries no flow start/stop');
    assert.match(syn.event_time ?? '', /^\d{19}$/);
    const d = evs.at(-1)!;
    assert.ok(Number(d.orig.packets) >= 4 && Number(d.orig.bytes) > 200, `orig counters ${d.orig.packets}/${d.orig.bytes}`);
    assert.ok(Number(d.reply.packets) >= 2 && Number(d.reply.bytes) > 100, `reply counters ${d.reply.packets}/${d.reply.bytes}`);
    assert.ok(BigInt(d.stop!) >= BigInt(d.start!));
    assert.equal(d.id, syn.id, 'the same conntrack id from NEW to DESTROY');
  });

  test('UDP with a reply, and one left unreplied', () => {
    const evs = byPort(ports.unreplied);
    assert.deepEqual(
      evs.map((e) => e.type),
      ['new', 'destroy'],
    );
    assert.ok(!evs[1].status!.includes('SEEN_REPLY'));
    assert.equal(evs[1].reply.packets, '0');
    const replied = byPort(ports.mark);
    assert.deepEqual(
      replied.map((e) => e.type),
      ['new', 'update', 'destroy'],
    );
    assert.ok(replied[1].status!.includes('SEEN_REPLY'));
  });

  test('ICMP echo: type, code and id; reply type 0', () => {
    const evs = find((e) => e.proto === 'icmp');
    assert.deepEqual(
      evs.map((e) => e.type),
      ['new', 'update', 'destroy'],
    );
    assert.equal(evs[0].orig.icmp_type, 8);
    assert.equal(evs[0].orig.icmp_code, 0);
    assert.equal(evs[0].reply.icmp_type, 0);
    assert.equal(evs[0].orig.icmp_id, evs[0].reply.icmp_id);
  });

  test('IPv6: UDP and ICMPv6 echo on ::1', () => {
    const udp = byPort(ports.udp6);
    assert.deepEqual(
      udp.map((e) => e.type),
      ['new', 'update', 'destroy'],
    );
    assert.equal(udp[0].family, 'ipv6');
    assert.equal(udp[0].orig.src, '::1');
    const icmp6 = find((e) => e.proto === 'icmpv6');
    assert.deepEqual(
      icmp6.map((e) => e.type),
      ['new', 'update', 'destroy'],
    );
    assert.equal(icmp6[0].proto_num, 58);
    assert.equal(icmp6[0].orig.icmp_type, 128);
    assert.equal(icmp6[0].reply.icmp_type, 129);
  });

  test('DNAT: the reply tuple comes from the rewritten port', () => {
    const evs = byPort(ports.dnat);
    assert.equal(evs[0].orig.dport, 8080);
    assert.equal(evs[0].reply.sport, 8081);
    assert.ok(evs.every((e) => e.reply.sport === 8081));
    assert.ok(evs.some((e) => e.status!.includes('DST_NAT')));
  });

  test('ct mark set 42 shows as mark', () => {
    const evs = byPort(ports.mark);
    assert.ok(evs.length >= 2);
    for (const e of evs) assert.equal(e.mark, 42);
    const line = vyos.lines.find((l) => l.includes(`sport=${ports.mark} `) && l.startsWith('[NEW]'));
    assert.match(line!, / mark=42( |$)/);
  });

  test('ct zone set 7 shows as zone', () => {
    const evs = byPort(ports.zone);
    assert.ok(evs.length >= 2);
    for (const e of evs) assert.equal(e.zone, 7);
    assert.ok(
      byPort(ports.mark).every((e) => e.zone === undefined),
      'no zone where none was set',
    );
  });

  test('events caused by conntrack -I and -F carry the portid ([USERSPACE])', () => {
    const inserted = find((e) => e.orig.src === '198.51.100.1' && e.type === 'new');
    assert.ok(inserted.length >= 1);
    assert.ok(inserted[0].portid > 0);
    const flushed = find((e) => e.type === 'destroy');
    assert.ok(flushed.length >= 8 && flushed.every((e) => e.portid > 0));
    assert.ok(byPort(ports.tcp)[0].portid === 0, 'traffic events come from the kernel');
    assert.ok(ct.lines.some((l) => / \[USERSPACE\] portid=\d+/.test(l)));
  });

  // progname= is looked up in /proc when each tool gets to the event; a
  // process that has exited by then has none. Only that may differ.
  function sameAsConntrack(ours: string[], theirs: string[]): void {
    const norm = (l: string) => l.replace(/ progname=\S+$/, '');
    // Both from the start marker that conntrack -E saw (the last inserted).
    const from = (ls: string[]) => ls.slice(ls.findLastIndex((l) => l.includes('[NEW]') && begin.match(l)));
    const a = from(ours);
    const b = from(theirs);
    assert.ok(a.length >= 30, `ctlogd printed ${a.length} lines`);
    assert.deepEqual(a.map(norm), b.map(norm));
  }

  test('conntrack format: every line identical to conntrack -E on the same events', () => {
    sameAsConntrack(ct.lines, oracle.lines);
  });

  test('conntrack format -o extended,id,ktimestamp: identical to conntrack -E -o extended,id,ktimestamp', () => {
    sameAsConntrack(ctExt.lines, oracleExt.lines);
    assert.ok(ctExt.lines.some((l) => /^\[DESTROY\] ipv4 {5}2 tcp .* \[start=.+\] \[stop=.+\] id=\d+ \[USERSPACE\]/.test(l)));
  });

  test('vyos format: the VyOS logger tokens', () => {
    const line = vyos.lines.find((l) => l.startsWith('[NEW]') && l.includes(`sport=${ports.tcp} `))!;
    const [tag, id, name, num, timeout, state, ...rest] = line.split(/\s+/);
    assert.equal(tag, '[NEW]');
    assert.match(id, /^\d+$/);
    assert.equal(id, String(byPort(ports.tcp)[0].id));
    assert.deepEqual([name, num, timeout, state], ['tcp', '6', '120', 'SYN_SENT']);
    assert.deepEqual(rest.slice(0, 5), ['src=127.0.0.1', 'dst=127.0.0.1', `sport=${ports.tcp}`, 'dport=7000', '[UNREPLIED]']);
    assert.match(line, /^\[NEW\] {5}\d+ tcp {6}6 /, 'VyOS padding kept');
    // Past VyOS's own padding of the tag and the protocol name: single spaces.
    const afterPadding = line.replace(/^\S+\s+\d+ \S+\s+/, '');
    assert.ok(!/\s$/.test(line) && !/ {2}/.test(afterPadding), 'no trailing or doubled space');
    const destroy = vyos.lines.find((l) => l.startsWith('[DESTROY]') && l.includes(`sport=${ports.tcp} `))!;
    assert.match(destroy, / packets=\d+ bytes=\d+ src=/);
    assert.match(destroy, / \[ASSURED\] portid=\d+ start=\d+ stop=\d+ delta=\d+\.\d+$/);
    const icmpNew = vyos.lines.find((l) => l.startsWith('[NEW]') && l.includes(' icmp '))!;
    assert.match(icmpNew, / type=8 code=0 id=\d+ \[UNREPLIED\] src=127\.0\.0\.1 dst=127\.0\.0\.1 type=0 code=0 id=\d+$/);
  });

  test('json format: every line valid against schema/event.schema.json', () => {
    const schema = JSON.parse(readFileSync(path.join(ROOT, 'schema/event.schema.json'), 'utf8')) as object;
    const validate = new Ajv2020.default({ strict: true, allErrors: true }).compile(schema);
    for (const e of events) assert.ok(validate(e), JSON.stringify(validate.errors));
    assert.ok(
      events.some((e) => e.zone === 7 && e.mark === 42),
      'a flow with both a zone and a mark',
    );
  });

  test('every format printed one line per event, in the same order', () => {
    assert.equal(vyos.lines.length, json.lines.length);
    assert.equal(ct.lines.length, json.lines.length);
    for (let i = 0; i < json.lines.length; i++) {
      const id = String(events[i].id);
      assert.ok(vyos.lines[i].split(/\s+/)[1] === id, `line ${i}: vyos id`);
    }
  });

  test('SIGTERM: exit 0', async () => {
    assert.equal(await stop(json), 0);
    assert.equal(await stop(vyos, 'SIGINT'), 0);
  });
});
