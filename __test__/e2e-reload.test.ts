/**
 * The service over time, on real kernel events: SIGHUP reloads on the same
 * socket without losing an event, a bad new config is refused and the old
 * one kept, a file output follows logrotate (rename, then HUP), counters on
 * SIGUSR1 and every stats_interval.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { CTLOGD, Lines, spawnCtlogd, startCtlogd, stats, stop } from './helpers/ctlogd.js';
import { checkPrerequisites, Netns, TRAFFIC } from './helpers/netns.js';

/** This file's directories, removed when its tests are done. */
const DIR = mkdtempSync(path.join(tmpdir(), 'ctlogd-reload-'));
after(() => rmSync(DIR, { recursive: true, force: true }));

/** A directory of one test's own. */
function tmp(): string {
  return mkdtempSync(path.join(DIR, 'test-'));
}

interface J {
  type: string;
  proto: string;
  orig: { dport?: number };
}

const parse = (lines: string[]) => lines.filter(Boolean).map((l) => JSON.parse(l) as J);
test('SIGHUP under continuous traffic: several reloads, every flow logged once', async (t) => {
  checkPrerequisites();
  const ns = new Netns('reload');
  t.after(() => ns.destroy());
  const dir = tmp();
  const conf = path.join(dir, 'ctlogd.json');
  const write = (o: object) => writeFileSync(conf, JSON.stringify({ event: { new: { udp: {} }, destroy: {} }, format: 'json', ...o }));
  write({});
  const out = await startCtlogd(ns, ['-c', conf]);
  const n = 3000;
  const gen = new Lines(ns.spawn(process.execPath, [TRAFFIC, `udpstream:${n}:20000:3000`]));
  // Five reloads while the flows are being made, each changing something.
  const changes = [{ queue_size: '50000' }, { receive_buffer: 8388608 }, { log_level: 'debug' }, { stats_interval: 1 }, { queue_size: 100000 }];
  for (const c of changes) {
    await sleep(450);
    write(c);
    out.child.kill('SIGHUP');
  }
  assert.equal(await gen.exited, 0, gen.stderr);
  ns.exec('conntrack', ['-F']);
  assert.equal(await stop(out), 0);
  assert.equal(out.stderr.match(/configuration reloaded/g)?.length, changes.length, out.stderr);
  const evs = parse(out.lines);
  const ports = (type: string) => evs.filter((e) => e.type === type && e.proto === 'udp').map((e) => e.orig.dport!);
  const want = Array.from({ length: n }, (_, i) => 20000 + i);
  assert.deepEqual(ports('new'), want, 'every NEW, once, in order');
  assert.deepEqual(
    ports('destroy').sort((a, b) => a - b),
    want,
    'every DESTROY, once',
  );
  assert.doesNotMatch(out.stderr, /overflow|refused/);
  const s = stats(out.stderr);
  assert.equal(s['written.new'], n);
  assert.equal(s['written.destroy'], n);
});

test('SIGHUP changes the groups on the same socket; a bad config is refused and the old one kept', async (t) => {
  checkPrerequisites();
  const ns = new Netns('regroup');
  t.after(() => ns.destroy());
  const dir = tmp();
  const conf = path.join(dir, 'ctlogd.json');
  writeFileSync(conf, JSON.stringify({ event: { new: {} }, format: 'json' }));
  const out = await startCtlogd(ns, ['-c', conf]);
  ns.traffic('udpsend:6001');
  // Only DESTROY from now on: NEW is left, DESTROY joined.
  writeFileSync(conf, JSON.stringify({ event: { destroy: {} }, format: 'json' }));
  out.child.kill('SIGHUP');
  await out.until(() => out.stderr.includes('configuration reloaded'), 'the reload');
  ns.traffic('udpsend:6002');
  // A bad config: refused in one line, the running one stays.
  writeFileSync(conf, JSON.stringify({ event: { destroy: { sctp: {} } }, format: 'json' }));
  out.child.kill('SIGHUP');
  await out.until(() => out.stderr.includes('reload refused'), 'the refusal');
  ns.exec('conntrack', ['-F']);
  assert.equal(await stop(out), 0);
  assert.match(
    out.stderr,
    /^ctlogd: error: reload refused, keeping the running config: config .*ctlogd\.json: event\.destroy: unknown protocol "sctp"; allowed: tcp, udp, icmp, other: value was \{"sctp":\{\}\}$/m,
  );
  const seen = parse(out.lines).map((e) => `${e.type} ${e.orig.dport}`);
  assert.deepEqual(seen.slice(0, 1), ['new 6001']);
  assert.deepEqual(seen.slice(1).sort(), ['destroy 6001', 'destroy 6002']);
});

test('SIGHUP changes the protocol filter in the kernel: other protocols are never read', async (t) => {
  checkPrerequisites();
  const ns = new Netns('reproto');
  t.after(() => ns.destroy());
  const dir = tmp();
  const conf = path.join(dir, 'ctlogd.json');
  writeFileSync(conf, JSON.stringify({ event: { new: { tcp: {} } }, format: 'json' }));
  const out = await startCtlogd(ns, ['-c', conf]);
  ns.traffic('udpsend:6001', 'tcp:7001');
  await out.until(() => out.lines.length >= 1, 'the tcp NEW');
  writeFileSync(conf, JSON.stringify({ event: { new: { udp: {} } }, format: 'json' }));
  out.child.kill('SIGHUP');
  await out.until(() => out.stderr.includes('configuration reloaded'), 'the reload');
  ns.traffic('udpsend:6002', 'tcp:7002');
  assert.equal(await stop(out), 0);
  assert.deepEqual(
    parse(out.lines).map((e) => `${e.proto} ${e.orig.dport}`),
    ['tcp 7001', 'udp 6002'],
  );
  // Read and then filtered out would count as filtered: the kernel's socket
  // filter dropped them before.
  const s = stats(out.stderr);
  assert.equal(s['received.new'], 2);
  assert.equal(s.filtered, 0);
});

test("SIGHUP changes conntrack's filters in the kernel: added, changed, a bad one refused, removed", async (t) => {
  checkPrerequisites();
  const ns = new Netns('refilter');
  t.after(() => ns.destroy());
  const dir = tmp();
  const conf = path.join(dir, 'ctlogd.json');
  const write = (o: object) => writeFileSync(conf, JSON.stringify({ event: { new: {} }, format: 'json', ...o }));
  write({ orig_dst: '127.0.0.1', proto: 'udp', dport: '6001' });
  const out = await startCtlogd(ns, ['-c', conf]);
  let reloads = 0;
  const reload = async (o: object) => {
    write(o);
    out.child.kill('SIGHUP');
    reloads++;
    await out.until(() => (out.stderr.match(/configuration reloaded|reload refused/g)?.length ?? 0) >= reloads, `reload ${reloads}`);
  };
  ns.traffic('udpsend:6001', 'udpsend:6002', 'tcp:7001');
  await out.until(() => out.lines.length >= 1, 'the udp 6001 NEW');
  // A mark: the kernel's walk past the tuples; the datagrams carry none.
  await reload({ mark: '!0x7' });
  ns.traffic('udpsend:6003', 'tcp:7002');
  await out.until(() => out.lines.length >= 3, 'the two NEWs after the reload');
  // A bad filter is refused; the one before stays.
  await reload({ mark: '0x' });
  assert.match(out.stderr, /reload refused, keeping the running config: config \S+: mark: must be a mark VALUE or VALUE\/MASK .*: value was "0x"/);
  await reload({ any_nat: true });
  ns.traffic('udpsend:6004');
  await reload({});
  ns.traffic('udpsend:6005');
  assert.equal(await stop(out), 0);
  assert.deepEqual(
    parse(out.lines).map((e) => `${e.proto} ${e.orig.dport}`),
    ['udp 6001', 'udp 6003', 'tcp 7002', 'udp 6005'],
  );
  const s = stats(out.stderr);
  assert.equal(s['received.new'], 4, 'the kernel dropped the rest before they were read');
  assert.equal(s.filtered, 0);
});

test('file output: appended, and reopened on SIGHUP after logrotate renames it', async (t) => {
  checkPrerequisites();
  const ns = new Netns('rotate');
  t.after(() => ns.destroy());
  const dir = tmp();
  const file = path.join(dir, 'conntrack.log');
  writeFileSync(file, 'a line from before\n');
  const out = await startCtlogd(ns, ['--format', 'json', '--output', 'file', '--output-file', file]);
  ns.traffic('udpflood:500:30000');
  await sleep(300);
  renameSync(file, `${file}.1`);
  out.child.kill('SIGHUP');
  await out.until(() => out.stderr.includes('configuration reloaded'), 'the reload');
  ns.traffic('udpflood:700:40000');
  assert.equal(await stop(out), 0);
  assert.deepEqual(out.lines, [], 'nothing on stdout');
  const before = readFileSync(`${file}.1`, 'utf8').split('\n').filter(Boolean);
  const after = parse(readFileSync(file, 'utf8').split('\n'));
  assert.equal(before[0], 'a line from before', 'appended, not truncated');
  assert.deepEqual(
    parse(before.slice(1)).map((e) => e.orig.dport),
    Array.from({ length: 500 }, (_, i) => 30000 + i),
  );
  assert.deepEqual(
    after.map((e) => e.orig.dport),
    Array.from({ length: 700 }, (_, i) => 40000 + i),
  );
});

test('file output that cannot be opened: one line, exit 73', () => {
  const dir = tmp();
  const res = spawnSync(process.execPath, [CTLOGD, '--output', 'file', '--output-file', path.join(dir, 'no/such/dir/x.log')], { encoding: 'utf8' });
  assert.equal(res.status, 73, res.stderr);
  assert.match(res.stderr, /^ctlogd: output_file .*x\.log: cannot open for appending: ENOENT\n$/);
});

test('counters: per event type on SIGUSR1 and every stats_interval', async (t) => {
  checkPrerequisites();
  const ns = new Netns('stats');
  t.after(() => ns.destroy());
  const dir = tmp();
  const conf = path.join(dir, 'ctlogd.json');
  writeFileSync(conf, JSON.stringify({ event: { new: { tcp: {} }, update: {}, destroy: {} }, format: 'json', stats_interval: '1' }));
  const out = await startCtlogd(ns, ['-c', conf]);
  ns.traffic('udp:5300', 'tcp:7000');
  ns.exec('conntrack', ['-F']);
  await sleep(200);
  out.child.kill('SIGUSR1');
  await out.until(() => (out.stderr.match(/stats: /g)?.length ?? 0) >= 2, 'a SIGUSR1 and an interval line', 5000);
  const s = stats(out.stderr);
  const evs = parse(out.lines);
  const count = (type: string) => evs.filter((e) => e.type === type).length;
  // udp NEW is filtered (new: tcp only), in the kernel: it is never
  // received. Its UPDATE and DESTROY are not filtered.
  assert.equal(s['received.new'], 1);
  assert.equal(s['filtered.new'], 0);
  assert.equal(s['written.new'], count('new'));
  assert.equal(s['written.update'], count('update'));
  assert.equal(s['written.destroy'], 2);
  assert.equal(s.written, evs.length);
  assert.equal(s.received, s.filtered + s.written);
  assert.equal(s.lost + s.dropped + s.decode_errors, 0);
  assert.equal(await stop(out), 0);
  assert.ok((out.stderr.match(/stats: /g)?.length ?? 0) >= 3, 'and once at exit');
});

test('SIGHUP switches format and output: lines before in the old, after in the new, none lost', async (t) => {
  checkPrerequisites();
  const ns = new Netns('switch');
  t.after(() => ns.destroy());
  const dir = tmp();
  const conf = path.join(dir, 'ctlogd.json');
  const file = path.join(dir, 'events.log');
  writeFileSync(conf, JSON.stringify({ event: { new: {} } }));
  const out = await startCtlogd(ns, ['-c', conf]);
  ns.traffic('udpflood:300:21000');
  // A reload applies to events read after it; the reader lets events
  // gather for a few ms before it reads them, so wait until it has.
  await out.until(() => out.lines.filter(Boolean).length >= 300, 'the 300 lines before the reload');
  writeFileSync(conf, JSON.stringify({ event: { new: {} }, format: 'json', output: 'file', output_file: file }));
  out.child.kill('SIGHUP');
  await out.until(() => out.stderr.includes('configuration reloaded'), 'the reload');
  ns.traffic('udpflood:400:22000');
  assert.equal(await stop(out), 0);
  // Before: vyos lines on stdout. After: json lines in the file.
  const before = out.lines.filter(Boolean);
  assert.equal(before.length, 300);
  assert.ok(
    before.every((l, i) => l.startsWith('[NEW]') && l.includes(` dport=${21000 + i} `)),
    'vyos, in order',
  );
  const after = parse(readFileSync(file, 'utf8').split('\n'));
  assert.deepEqual(
    after.map((e) => e.orig.dport),
    Array.from({ length: 400 }, (_, i) => 22000 + i),
  );
});

test("the signals are ctlogd's once it says it listens: a SIGHUP and a SIGUSR1 sent at once reload it and print the counters", async (t) => {
  checkPrerequisites();
  const ns = new Netns('early');
  t.after(() => ns.destroy());
  const dir = tmp();
  const conf = path.join(dir, 'ctlogd.json');
  writeFileSync(conf, JSON.stringify({ event: { new: {} } }));
  const out = spawnCtlogd(ns, ['-c', conf]);
  // Sent from the data event that carries the line itself, before anything else runs.
  out.child.stderr!.on('data', function once(d: Buffer) {
    if (!d.toString().includes('listening')) return;
    out.child.stderr!.off('data', once);
    out.child.kill('SIGHUP');
    out.child.kill('SIGUSR1');
  });
  await out.until(() => out.stderr.includes('configuration reloaded') && out.stderr.includes('stats: '), 'the reload and the counters');
  assert.equal(out.child.exitCode, null, 'still running');
  assert.equal(await stop(out), 0);
});
