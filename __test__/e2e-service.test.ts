/**
 * The service on real kernel events: the config's event/protocol filters,
 * and SIGTERM right after a burst (nothing already received is lost).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCtlogd, stats, stop } from './helpers/ctlogd.js';
import { checkPrerequisites, Netns } from './helpers/netns.js';

/** The totals of a stats line. */
function pick(s: Record<string, number>) {
  const { received, filtered, written, dropped, lost, decode_errors } = s;
  return { received, filtered, written, dropped, lost, decode_errors };
}

/** This file's config files, removed when its tests are done. */
const DIR = mkdtempSync(path.join(tmpdir(), 'ctlogd-service-'));
after(() => rmSync(DIR, { recursive: true, force: true }));
let files = 0;

function configFile(obj: unknown): string {
  const file = path.join(DIR, `ctlogd-${++files}.json`);
  writeFileSync(file, JSON.stringify(obj));
  return file;
}

interface J {
  type: string;
  proto: string;
  orig: Record<string, string | number>;
}

test('filters: event types by group, protocols by the config, as VyOS does', async (t) => {
  checkPrerequisites();
  const ns = new Netns('filter');
  t.after(() => ns.destroy());
  // VyOS's own file shape: numbers as strings, flat protocol keys.
  const tcpNewUdpIcmpDestroy = await startCtlogd(ns, [
    '--format',
    'json',
    '-c',
    configFile({
      event: { new: { tcp: {} }, destroy: { udp: {}, icmp: {} } },
      queue_size: '10000',
      log_level: 'debug',
    }),
  ]);
  const other = await startCtlogd(ns, ['--format', 'json', '-c', configFile({ event: { new: { other: {} } } })]);
  const all = await startCtlogd(ns, ['--format', 'json']);
  ns.traffic('tcp:7000', 'udp:5300', 'ping', 'ping@::1', 'udp:5301@::1');
  ns.exec('conntrack', ['-F']);
  // Every event is in each ctlogd's socket once the commands have returned;
  // SIGTERM makes each write out all it received before it exits.
  for (const l of [tcpNewUdpIcmpDestroy, other, all]) assert.equal(await stop(l), 0);

  const seen = (lines: string[]) => lines.map((l) => JSON.parse(l) as J).map((e) => `${e.type} ${e.proto}`);
  const everything = seen(all.lines);
  assert.ok(everything.includes('update tcp') && everything.includes('destroy icmpv6'), 'all events were made');

  // new: tcp only; no update subscribed; destroy: udp (v4 and v6) and IPv4 icmp, not icmpv6.
  const a = seen(tcpNewUdpIcmpDestroy.lines);
  assert.deepEqual([...new Set(a)].sort(), ['destroy icmp', 'destroy udp', 'new tcp']);
  assert.equal(a.filter((x) => x === 'destroy udp').length, 2);
  assert.equal(a.length, everything.filter((x) => ['new tcp', 'destroy udp', 'destroy icmp'].includes(x)).length);

  // `other` is every protocol but tcp, udp and icmp: ICMPv6 included.
  const o = seen(other.lines);
  assert.deepEqual(o, ['new icmpv6']);

  // The kernel's socket filter dropped the other protocols: never read, so
  // nothing was left for the filter after reading.
  for (const l of [tcpNewUdpIcmpDestroy, other]) {
    const s = stats(l.stderr);
    assert.equal(s.filtered, 0, l.stderr);
    assert.equal(s.received, l.lines.length);
  }
});

test('SIGTERM right after a burst: every event already received is written, exit 0', async (t) => {
  checkPrerequisites();
  const ns = new Netns('burst');
  t.after(() => ns.destroy());
  const n = 3000;
  const out = await startCtlogd(ns, ['--format', 'json']);
  ns.traffic(`udpflood:${n}:20000`);
  ns.exec('conntrack', ['-F']);
  // The flush has returned: every DESTROY is in ctlogd's socket or beyond.
  const started = Date.now();
  assert.equal(await stop(out), 0);
  assert.ok(Date.now() - started < 2000, 'stopped within 2 s');
  const types = out.lines.map((l) => (JSON.parse(l) as J).type);
  assert.equal(types.filter((x) => x === 'new').length, n);
  assert.equal(types.filter((x) => x === 'destroy').length, n);
  assert.doesNotMatch(out.stderr, /overflow/);
  const s = stats(out.stderr);
  assert.deepEqual(pick(s), { received: 2 * n, filtered: 0, written: 2 * n, dropped: 0, lost: 0, decode_errors: 0 });
  // From the kernel's event time to the output: some, and less than the test took.
  assert.ok(s.latency_max_us > 0 && s.latency_max_us < 10_000_000, `latency_max_us ${s.latency_max_us}`);
  assert.ok(s.latency_p50_us > 0 && s.latency_p50_us <= s.latency_p99_us && s.latency_p99_us <= s.latency_max_us, out.stderr);
});

/** Sums the counts in the warning lines that match `re` (one capture group). */
function sum(text: string, re: RegExp): number {
  return [...text.matchAll(re)].reduce((acc, m) => acc + Number(m[1]), 0);
}

test('kernel overflow (a tiny receive buffer): loss is counted exactly and reported, reading goes on', async (t) => {
  checkPrerequisites();
  const ns = new Netns('overflow');
  t.after(() => ns.destroy());
  const n = 20000;
  const out = await startCtlogd(ns, ['--format', 'json', '--receive-buffer', '65536']);
  ns.traffic(`udpflood:${n}:20000`);
  ns.exec('conntrack', ['-F']);
  assert.equal(await stop(out), 0);
  const lost = sum(out.stderr, /kernel overflow: (\d+) events lost \(receive buffer full, ENOBUFS \d+x\)/g);
  assert.ok(lost > 0, `a 128 KiB buffer must overflow on a ${n}-event flush:\n${out.stderr}`);
  // The socket's drop counter is exact: every event is either written or counted lost.
  assert.equal(out.lines.length + lost, 2 * n);
  const s = stats(out.stderr);
  assert.deepEqual(pick(s), { received: out.lines.length, filtered: 0, written: out.lines.length, dropped: 0, lost, decode_errors: 0 });
  assert.ok(s.enobufs > 0);
  assert.ok(out.lines.at(-1)!.includes('"destroy"'), 'still reading after the overflow');
});

test('reliable mode and a tiny receive buffer: the kernel retries DESTROY events until every one is written', async (t) => {
  checkPrerequisites();
  const ns = new Netns('reliable');
  t.after(() => ns.destroy());
  const n = 5000;
  ns.traffic(`udpflood:${n}:20000`);
  const out = await startCtlogd(ns, ['--format', 'json', '--receive-buffer', '65536', '--reliable', '-c', configFile({ event: { destroy: {} } })]);
  ns.exec('conntrack', ['-F']);
  // What did not fit waits in the kernel (on its dying list) and comes later.
  await out.until(() => out.lines.length >= n, `all ${n} DESTROY events`, 60000);
  assert.equal(await stop(out), 0);
  const ports = out.lines.map((l) => (JSON.parse(l) as { orig: { dport: number } }).orig.dport).sort((a, b) => a - b);
  assert.deepEqual(
    ports,
    Array.from({ length: n }, (_, i) => 20000 + i),
    'every flow once',
  );
  const s = stats(out.stderr);
  assert.equal(s.lost, 0, 'nothing lost');
  // The socket's drop counter counted the first, failed, deliveries: they
  // are reported, but not as lost events.
  assert.ok(s.undelivered > 0, `a 128 KiB buffer must refuse some of a ${n}-event flush:\n${out.stderr}`);
  assert.match(out.stderr, /kernel overflow: \d+ deliveries failed \(receive buffer full\); reliable mode: DESTROY events are retried/);
  assert.doesNotMatch(out.stderr, /events lost/);
  assert.equal(s.enobufs, 0, 'NETLINK_NO_ENOBUFS');
});

test('queue full (queue_size 1): the reader waits and the kernel buffer holds the rest; nothing is dropped', async (t) => {
  checkPrerequisites();
  const ns = new Netns('queuefull');
  t.after(() => ns.destroy());
  const n = 3000;
  const out = await startCtlogd(ns, ['--format', 'json', '-c', configFile({ event: { new: {}, destroy: {} }, queue_size: '1' })]);
  ns.traffic(`udpflood:${n}:20000`);
  ns.exec('conntrack', ['-F']);
  assert.equal(await stop(out), 0);
  assert.equal(out.lines.length, 2 * n);
  assert.deepEqual(pick(stats(out.stderr)), { received: 2 * n, filtered: 0, written: 2 * n, dropped: 0, lost: 0, decode_errors: 0 });
  assert.doesNotMatch(out.stderr, /overflow/);
});

test('queue full and a tiny receive buffer: what the kernel drops is counted exactly as lost', async (t) => {
  checkPrerequisites();
  const ns = new Netns('bothfull');
  t.after(() => ns.destroy());
  const n = 20000;
  const out = await startCtlogd(ns, ['--format', 'json', '--receive-buffer', '65536', '--queue-size', '1']);
  ns.traffic(`udpflood:${n}:20000`);
  ns.exec('conntrack', ['-F']);
  assert.equal(await stop(out), 0);
  const lost = sum(out.stderr, /kernel overflow: (\d+) events lost/g);
  assert.ok(lost > 0, out.stderr);
  assert.equal(out.lines.length + lost, 2 * n);
  assert.deepEqual(pick(stats(out.stderr)), { received: out.lines.length, filtered: 0, written: out.lines.length, dropped: 0, lost, decode_errors: 0 });
});

/** Resident set size of a process, in MB. */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

test('a stalled output: memory stays bounded by queue_size, what the kernel drops is counted, the rest is written', async (t) => {
  checkPrerequisites();
  const ns = new Netns('stalled');
  t.after(() => ns.destroy());
  const n = 20000;
  const out = await startCtlogd(ns, ['--format', 'json', '--queue-size', '1024', '--receive-buffer', '1048576']);
  const pid = out.child.pid!; // ip netns exec execs ctlogd: the same process
  // Nobody reads ctlogd's stdout: the pipe fills, the output stalls.
  out.child.stdout!.pause();
  const before = rssMb(pid);
  ns.traffic(`udpflood:${n}:20000`);
  ns.exec('conntrack', ['-F']);
  await sleep(500);
  const during = rssMb(pid);
  assert.ok(during - before < 40, `RSS grew ${(during - before).toFixed(1)} MB while stalled`);
  out.child.stdout!.resume();
  assert.equal(await stop(out), 0);
  const s = stats(out.stderr);
  const lost = sum(out.stderr, /kernel overflow: (\d+) events lost/g);
  assert.ok(lost > 0, 'a 2 MiB buffer cannot hold the flood while the output is stalled');
  assert.equal(s.lost, lost);
  assert.equal(s.dropped, 0);
  assert.equal(out.lines.length + lost, 2 * n, 'every event written or counted lost');
});
