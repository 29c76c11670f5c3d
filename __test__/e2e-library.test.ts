/**
 * The library, as another program uses it: `import { Capture } from
 * 'ctlogd'` (the package's own exports), run inside a test namespace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checkPrerequisites, Lines, Netns, ROOT } from './helpers/netns.js';

// Started in the namespace; prints what it saw as JSON once stopped.
const PROGRAM = `
import { Capture } from 'ctlogd';
const seen = [];
const cap = await Capture.start({ events: ['new', 'destroy'] }, (events, notices) => {
  for (const e of events) seen.push({ type: e.type, proto: e.protoName, src: e.orig.src, dport: e.orig.dport,
    time: typeof e.time, bytes: e.origCounters ? typeof e.origCounters.bytes : undefined, portid: e.portid });
});
console.error('listening');
process.once('SIGTERM', async () => {
  await cap.stop();
  console.log(JSON.stringify({ seen, stats: cap.stats() }));
});
`;

test('Capture.start / stop: typed events through the package exports', async (t) => {
  checkPrerequisites();
  const ns = new Netns('library');
  t.after(() => ns.destroy());
  // Inside the package, so that 'ctlogd' resolves through its own exports.
  const dir = mkdtempSync(path.join(ROOT, '__test__', '.library-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'program.mjs');
  writeFileSync(file, PROGRAM);
  const out = new Lines(ns.spawn(process.execPath, [file]));
  await out.until(() => out.stderr.includes('listening'), 'the program to listen');
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
  assert.deepEqual([names.slice(0, 2), names.slice(2).sort()], [['new udp 53', 'new udp 5300'], ['destroy udp 53', 'destroy udp 5300']]);
  assert.equal(seen[0].src, '192.0.2.1');
  assert.equal(seen[0].time, 'bigint');
  assert.equal(seen[2].bytes, 'bigint', 'counters are bigint');
  assert.equal(seen[1].portid, 0, 'traffic: the kernel');
  assert.ok((seen[2].portid as number) > 0, 'flush: a process');
  assert.deepEqual(stats.received, { new: 2, update: 0, destroy: 2 }, 'no update events: the group was not joined');
  assert.deepEqual(stats.dropped, { new: 0, update: 0, destroy: 0 });
  assert.equal(stats.lost + stats.decodeErrors, 0);
});
