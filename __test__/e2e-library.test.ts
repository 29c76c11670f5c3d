/**
 * The library, as another program uses it: `import { Capture } from
 * 'ctlogd'` (the package's own exports), run inside a test namespace.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Lines, ROOT } from './helpers/ctlogd.js';
import { checkPrerequisites, Netns } from './helpers/netns.js';

// Started in the namespace; prints what it saw as JSON once stopped.
const PROGRAM = `
import { Capture, timeNs } from 'ctlogd';
const seen = [];
const cap = await Capture.start({ events: ['new', 'destroy'] }, (events, notices) => {
  for (const e of events) seen.push({ type: e.type, proto: e.protoName, src: e.orig.src, dport: e.orig.dport,
    time: [typeof e.time.sec, typeof e.time.nsec], ms: Number(timeNs(e.time) / 1000000n),
    bytes: e.origCounters ? typeof e.origCounters.bytes : undefined, portid: e.portid });
});
console.error('listening');
process.once('SIGTERM', async () => {
  await cap.stop();
  console.log(JSON.stringify({ seen, stats: cap.stats() }));
});
`;

/** Runs `source` in a new namespace, as a program of the package's own; resolves once it listens. */
async function startProgram(t: TestContext, name: string, source: string): Promise<{ ns: Netns; out: Lines }> {
  checkPrerequisites();
  const ns = new Netns(name);
  t.after(() => ns.destroy());
  // Inside the package, so that 'ctlogd' resolves through its own exports.
  const dir = mkdtempSync(path.join(ROOT, '__test__', '.library-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'program.mjs');
  writeFileSync(file, source);
  const out = new Lines(ns.spawn(process.execPath, [file]));
  await out.until(() => out.stderr.includes('listening'), 'the program to listen');
  return { ns, out };
}

test('Capture.start / stop: typed events through the package exports', async (t) => {
  const { ns, out } = await startProgram(t, 'library', PROGRAM);
  ns.exec('conntrack', ['-I', '-p', 'udp', '-s', '192.0.2.1', '-d', '192.0.2.2', '--sport', '1', '--dport', '53', '-t', '30']);
  ns.traffic('udp:5300');
  ns.exec('conntrack', ['-F']);
  out.child.kill('SIGTERM');
  assert.equal(await out.exited, 0, out.stderr);
  type Counts = Record<'new' | 'update' | 'destroy', number>;
  const { seen, stats } = JSON.parse(out.lines[0]) as {
    seen: Array<Record<string, unknown>>;
    stats: { received: Counts; dropped: Counts; lost: number; decodeErrors: number };
  };
  const names = seen.map((e) => `${e.type} ${e.proto} ${e.dport}`);
  // A flush destroys in hash-table order.
  assert.deepEqual(
    [names.slice(0, 2), names.slice(2).sort()],
    [
      ['new udp 53', 'new udp 5300'],
      ['destroy udp 53', 'destroy udp 5300'],
    ],
  );
  assert.equal(seen[0].src, '192.0.2.1');
  assert.deepEqual(seen[0].time, ['number', 'number'], 'times: seconds and nanoseconds');
  assert.ok(Math.abs((seen[0].ms as number) - Date.now()) < 120_000, `read now: ${seen[0].ms}`);
  assert.equal(seen[2].bytes, 'number', 'counters are numbers');
  assert.equal(seen[1].portid, 0, 'traffic: the kernel');
  assert.ok((seen[2].portid as number) > 0, 'flush: a process');
  assert.deepEqual(stats.received, { new: 2, update: 0, destroy: 2 }, 'no update events: the group was not joined');
  assert.deepEqual(stats.dropped, { new: 0, update: 0, destroy: 0 });
  assert.equal(stats.lost + stats.decodeErrors, 0);
});

// Prints, once stopped, the size and arrival time of every batch.
const BATCHES = `
import { Capture } from 'ctlogd';
const batches = [];
const cap = await Capture.start({ events: ['new'] }, (events) => {
  batches.push({ n: events.length, at: Date.now(), last: events.at(-1)?.orig.dport });
});
console.error('listening');
process.once('SIGTERM', async () => {
  await cap.stop();
  console.log(JSON.stringify({ batches, stats: cap.stats() }));
});
`;

test('a flood crosses in large batches; a lone event still arrives at once', async (t) => {
  const { ns, out } = await startProgram(t, 'batches', BATCHES);
  ns.traffic('udpflood:20000:20000');
  await sleep(300);
  const sent = Date.now();
  ns.exec('conntrack', ['-I', '-p', 'udp', '-s', '192.0.2.1', '-d', '192.0.2.2', '--sport', '1', '--dport', '9', '-t', '30']);
  await sleep(700);
  out.child.kill('SIGTERM');
  assert.equal(await out.exited, 0, out.stderr);
  const { batches, stats } = JSON.parse(out.lines[0]) as {
    batches: Array<{ n: number; at: number; last: number }>;
    stats: { received: { new: number }; batches: number };
  };
  const events = batches.reduce((a, b) => a + b.n, 0);
  assert.equal(events, 20001);
  assert.equal(stats.received.new, 20001);
  // Woken for every event, the reader would hand over thousands of batches.
  assert.ok(batches.length <= events / 20, `${batches.length} batches for ${events} events`);
  const lone = batches.find((b) => b.last === 9);
  assert.ok(lone, 'the lone event');
  assert.ok(lone.at - sent < 500, `the lone event arrived ${lone.at - sent} ms after it was made`);
});

// conntrack's filters through the library: given parsed, at start and on
// reconfigure; prints, once stopped, what it saw.
const FILTERED = `
import { Capture } from 'ctlogd';
const seen = [];
const options = (filter) => ({ events: ['new'], filter });
const cap = await Capture.start(options({ origSrc: { address: '192.0.2.0', prefix: 24 }, dport: { value: 53, negate: true } }), (events) => {
  for (const e of events) seen.push(e.orig.src + ':' + e.orig.dport);
});
process.on('SIGUSR2', () => {
  cap.reconfigure(options({ mark: { value: 7 } }));
  console.error('reconfigured');
});
console.error('listening');
process.once('SIGTERM', async () => {
  await cap.stop();
  console.log(JSON.stringify({ seen, stats: cap.stats() }));
});
`;

test('Capture.start / reconfigure with conntrack filters: the kernel keeps what they keep', async (t) => {
  const { ns, out } = await startProgram(t, 'libfilter', FILTERED);
  const insert = (src: string, dport: number, mark?: number) =>
    ns.exec('conntrack', [
      '-I',
      '-p',
      'udp',
      '-s',
      src,
      '-d',
      '198.51.100.1',
      '--sport',
      '1',
      '--dport',
      String(dport),
      '-t',
      '30',
      ...(mark ? ['-m', String(mark)] : []),
    ]);
  insert('192.0.2.1', 80);
  insert('192.0.2.2', 53);
  insert('203.0.113.1', 80);
  await sleep(300);
  out.child.kill('SIGUSR2');
  await out.until(() => out.stderr.includes('reconfigured'), 'the reconfigure');
  insert('192.0.2.3', 80);
  insert('203.0.113.2', 53, 7);
  await sleep(300);
  out.child.kill('SIGTERM');
  assert.equal(await out.exited, 0, out.stderr);
  const { seen, stats } = JSON.parse(out.lines[0]) as { seen: string[]; stats: { received: { new: number }; filteredByKind: number[] } };
  assert.deepEqual(seen, ['192.0.2.1:80', '203.0.113.2:53']);
  assert.equal(stats.received.new, 2, 'the kernel dropped the rest before they were read');
  assert.equal(
    stats.filteredByKind.reduce((a, b) => a + b, 0),
    0,
  );
});
