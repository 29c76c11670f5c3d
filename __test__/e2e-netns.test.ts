/**
 * netns: ctlogd stays in the test's own namespace and logs another's, on
 * real events. Two namespaces with their own traffic, a ctlogd for each
 * beside `conntrack -E` run inside it (the oracle); the processes named in
 * a namespace's events; a reload that moves to another namespace; one
 * that does not exist.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CTLOGD, handed, Lines, listening, marker, spawnCtlogd, stats, statsWhen, stop } from './helpers/ctlogd.js';
import { checkPrerequisites, Netns } from './helpers/netns.js';

/** ctlogd started where the test runs, not in a namespace of its own; waits until it listens. */
async function ctlogdHere(t: { after: (fn: () => void) => void }, args: string[]): Promise<Lines> {
  const out = spawnCtlogd(undefined, args);
  t.after(() => out.child.kill('SIGKILL'));
  await listening(out);
  return out;
}

async function conntrackE(ns: Netns): Promise<Lines> {
  const ct = new Lines(ns.spawn('conntrack', ['-E']));
  // conntrack -E gives no sign that it is listening: insert a marker until
  // it shows up there (as e2e-events does).
  const ready = marker(250);
  for (let i = 0; !ct.lines.some(ready.match); i++) {
    assert.ok(i < 50, 'conntrack -E never saw the marker');
    ready.insert(ns);
    await sleep(100);
    ns.exec('conntrack', ['-D', '-s', '198.51.100.250']);
  }
  return ct;
}

/** The lines from marker `m` on, progname= aside: it is looked up when each tool gets to the event, and a process that exited by then has none. */
function from(lines: string[], m: ReturnType<typeof marker>): string[] {
  return lines.slice(lines.findIndex(m.match)).map((l) => l.replace(/ progname=\S+$/, ''));
}

test('two namespaces, each with its own traffic: each ctlogd (outside them) prints what conntrack -E inside its namespace prints, and nothing of the other', async (t) => {
  checkPrerequisites();
  const a = new Netns('netns-a');
  t.after(() => a.destroy());
  const b = new Netns('netns-b');
  t.after(() => b.destroy());
  // A name under /run/netns, and a path to the namespace file.
  const inA = await ctlogdHere(t, ['--netns', a.name, '--format', 'conntrack']);
  const inB = await ctlogdHere(t, ['--netns', `/run/netns/${b.name}`, '--format', 'conntrack']);
  const ctA = await conntrackE(a);
  const ctB = await conntrackE(b);
  const startA = marker(1);
  const startB = marker(2);
  startA.insert(a);
  startB.insert(b);
  a.traffic('tcp:7101', 'udp:7102', 'ping', 'ping@::1');
  b.traffic('tcp:7201', 'udp:7202@::1');
  const endA = marker(3);
  const endB = marker(4);
  endA.insert(a);
  endB.insert(b);
  for (const [l, m] of [
    [inA, endA],
    [inB, endB],
    [ctA, endA],
    [ctB, endB],
  ] as const) {
    await l.until(() => l.lines.some(m.match), 'the end marker');
  }
  const oursA = from(inA.lines, startA);
  assert.ok(oursA.length >= 10, `ctlogd printed ${oursA.length} lines of a`);
  assert.deepEqual(oursA, from(ctA.lines, startA), 'a: as conntrack -E in a');
  assert.deepEqual(from(inB.lines, startB), from(ctB.lines, startB), 'b: as conntrack -E in b');
  assert.ok(!inA.lines.some((l) => /port=72\d\d|198\.51\.100\.[24] /.test(l)), "nothing of b's in a's");
  assert.ok(!inB.lines.some((l) => /port=71\d\d|198\.51\.100\.[13] /.test(l)), "nothing of a's in b's");
  assert.equal(await stop(inA), 0);
  assert.equal(await stop(inB), 0);
});

test("the processes named in a namespace's events are that namespace's (progname=)", async (t) => {
  checkPrerequisites();
  const a = new Netns('netns-prog');
  t.after(() => a.destroy());
  a.traffic('udpflood:30000:20000');
  const out = await ctlogdHere(t, ['--netns', a.name, '--format', 'conntrack']);
  // A flush long enough that conntrack -F is still there when ctlogd reads its events.
  a.exec('conntrack', ['-F']);
  await out.until(() => out.lines.filter((l) => l.includes('[DESTROY]')).length >= 30000, 'the flush');
  const named = out.lines.filter((l) => l.includes('[DESTROY]') && l.endsWith(' progname=conntrack')).length;
  assert.ok(named > 0, "some DESTROY named conntrack -F, found among the namespace's sockets");
  assert.equal(await stop(out), 0);
});

test("a reload that changes netns opens the new namespace's socket before it closes the old; the counters carry on", async (t) => {
  checkPrerequisites();
  const a = new Netns('netns-from');
  t.after(() => a.destroy());
  const b = new Netns('netns-to');
  t.after(() => b.destroy());
  const dir = mkdtempSync(path.join(tmpdir(), 'ctlogd-netns-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const conf = path.join(dir, 'ctlogd.json');
  const write = (netns: string) => writeFileSync(conf, JSON.stringify({ event: { new: {} }, netns }));
  write(a.name);
  const out = await ctlogdHere(t, ['-c', conf]);
  const m1 = marker(11);
  m1.insert(a);
  await out.until(() => out.lines.some(m1.match), 'a marker of a');
  write(b.name);
  out.child.kill('SIGHUP');
  await out.until(() => out.stderr.includes('configuration reloaded'), 'the reload');
  const inB = marker(12);
  const inA = marker(13);
  inB.insert(b);
  inA.insert(a);
  await out.until(() => out.lines.some(inB.match), 'a marker of b');
  const s = await statsWhen(out, (x) => x.received >= 2 && handed(x) && x.output_waiting === 0, 'all written');
  assert.ok(!out.lines.some(inA.match), 'a is no longer read');
  assert.equal(s.received, out.lines.filter(Boolean).length, 'what the first socket read is still counted');
  assert.equal(s.written, s.received);

  // A namespace that is not there: the reload is refused, b still read.
  write('ctlogd-no-such-namespace');
  out.child.kill('SIGHUP');
  await out.until(() => out.stderr.includes('no such network namespace'), 'the refusal');
  assert.match(
    out.stderr,
    /reload failed, keeping the running config: netns "?ctlogd-no-such-namespace"?: no such network namespace: \/run\/netns\/ctlogd-no-such-namespace: ENOENT/,
  );
  const still = marker(14);
  still.insert(b);
  await out.until(() => out.lines.some(still.match), 'b still read');
  assert.equal(await stop(out), 0);
  assert.equal(stats(out.stderr).written, out.lines.filter(Boolean).length);
});

test('a netns that is not there, or not a namespace: one line, exit 78, nothing started', () => {
  const run = (netns: string) => spawnSync(process.execPath, [CTLOGD, '--netns', netns], { encoding: 'utf8', timeout: 10_000 });
  let r = run('ctlogd-no-such-namespace');
  assert.equal(r.status, 78);
  assert.match(
    r.stderr,
    /^ctlogd: netns "?ctlogd-no-such-namespace"?: no such network namespace: \/run\/netns\/ctlogd-no-such-namespace: ENOENT; `ip netns list` names those there are\n$/,
  );
  r = run('/etc/hostname');
  assert.equal(r.status, 78);
  assert.match(r.stderr, /^ctlogd: netns "?\/etc\/hostname"?: "?\/etc\/hostname"? is not a namespace file\n$/);
  r = run('a/b');
  assert.equal(r.status, 78);
  assert.match(r.stderr, /^ctlogd: --netns \(netns\): must be a string: a network namespace's name under \/run\/netns/);
});
