/**
 * The output side under faults, on real kernel events: a disk that fills
 * and frees again, a stdout pipe whose reader goes, a reopen that fails.
 * Each asserts the counts: every event received is written or counted lost
 * (output_lost), to the line, by type, and each outage is said once when
 * it starts and once, as a warning, when it ends. (A stalled or restarted
 * TCP syslog receiver: e2e-syslog.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { handed, startCtlogd, stats, statsWhen, stop } from './helpers/ctlogd.js';
import { checkPrerequisites, Netns } from './helpers/netns.js';

const TYPES = ['new', 'update', 'destroy'] as const;

/** Every event received was written or counted lost on the output side, per type; nothing waits. */
function assertAccounted(s: Record<string, number>, text: string): void {
  for (const t of TYPES) {
    assert.equal(s[`written.${t}`] + s[`output_lost.${t}`], s[`received.${t}`] - s[`filtered.${t}`], `${t}: ${text}`);
  }
  assert.equal(s.written + s.output_lost, s.received - s.filtered, text);
  assert.equal(s.output_waiting, 0, text);
  assert.equal(s.dropped + s.lost + s.decode_errors, 0, text);
}

const count = (text: string, re: RegExp) => text.match(re)?.length ?? 0;

test('full disk: output_file on a 2 MiB tmpfs fills and frees; no line cut or joined, written + output_lost = received to the line', async (t) => {
  checkPrerequisites();
  const ns = new Netns('diskfull');
  const dir = mkdtempSync(path.join(tmpdir(), 'ctlogd-diskfull-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'ctlogd-diskfull', dir]);
  t.after(() => {
    ns.destroy();
    spawnSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  // Room that comes back later, when the filler goes: more than the 200
  // lines made then need.
  const filler = path.join(dir, 'filler');
  writeFileSync(filler, Buffer.alloc(1024 * 1024));
  const file = path.join(dir, 'events.log');
  const out = await startCtlogd(ns, ['--format', 'json', '--output', 'file', '--output-file', file]);
  const n = 25_000;
  ns.traffic(`udpflood:${n}:20000`);
  ns.exec('conntrack', ['-F']);
  // Every event read has reached the output, which holds at most the line
  // the disk cut: it is finished once there is room.
  const full = await statsWhen(out, (s) => s.received === 2 * n && handed(s) && s.output_waiting <= 1, 'every event of the flood handled');
  assert.ok(full.output_lost > 0, `a 2 MiB disk cannot hold ${2 * n} json lines`);
  assert.match(out.stderr, new RegExp(`ctlogd: error: output_file ${file}: write failed: ENOSPC; lines are lost \\(counted\\) until it works again`));

  // Space again: the next lines are written, the line the disk cut is finished first.
  unlinkSync(filler);
  ns.traffic('udpflood:100:45000');
  ns.exec('conntrack', ['-F']);
  assert.equal(await stop(out), 0);
  const s = stats(out.stderr);
  t.diagnostic(`at the outage: written ${full.written} output_lost ${full.output_lost}; at exit: written ${s.written} output_lost ${s.output_lost}`);
  assert.equal(s.received, 2 * n + 200);
  assertAccounted(s, out.stderr);
  const recovered = /ctlogd: warn: output_file \S+: writing again; (\d+) lines were lost \(ENOSPC\)/.exec(out.stderr);
  assert.ok(recovered, `the end of the outage, as a warning:\n${out.stderr}`);
  assert.equal(Number(recovered[1]), s.output_lost, 'the end says what the outage lost');
  assert.equal(count(out.stderr, /write failed/g), 1, 'one line when it starts, not one per batch');

  // The file: whole lines only, one per line written, each event once.
  const text = readFileSync(file, 'utf8');
  assert.ok(text.endsWith('\n'));
  const lines = text.slice(0, -1).split('\n');
  assert.equal(lines.length, s.written, 'a line on disk for each line counted written');
  const seen = new Set<string>();
  for (const l of lines) {
    const ev = JSON.parse(l) as { type: string; id: number };
    const key = `${ev.type} ${ev.id}`;
    assert.ok(!seen.has(key), `once: ${key}`);
    seen.add(key);
  }
  assert.ok(lines.at(-1)!.includes('"destroy"') && /"dport":450\d\d/.test(lines.at(-1)!), 'written again after the outage');
});

test('closed stdout pipe: one EPIPE line; every line after it counted lost, none counted written', async (t) => {
  checkPrerequisites();
  const ns = new Netns('epipe');
  t.after(() => ns.destroy());
  const out = await startCtlogd(ns, ['--format', 'json']);
  ns.traffic('udpflood:500:20000');
  await out.until(() => out.lines.length >= 500, 'the first lines');
  // The reader goes away.
  out.child.stdout!.destroy();
  const before = await statsWhen(out, (s) => s.received === 500, 'the first events');
  ns.traffic('udpflood:1000:30000');
  ns.exec('conntrack', ['-F']);
  await statsWhen(out, (s) => s.received === 3000 && handed(s) && s.output_waiting === 0, 'every event handled');
  assert.equal(await stop(out), 0);
  const s = stats(out.stderr);
  assertAccounted(s, out.stderr);
  assert.ok(s.output_lost >= 2500, `the 2,500 events after the reader went are lost: ${JSON.stringify(s)}`);
  assert.ok(s.written >= before.written && s.written <= 500, 'nothing written after the pipe closed');
  assert.equal(count(out.stderr, /stdout: write failed: EPIPE/g), 1, out.stderr);
  assert.doesNotMatch(out.stderr, /writing again/);
});

test('a reopen that fails on SIGHUP: said in the reload line, the old file kept, nothing lost', async (t) => {
  checkPrerequisites();
  const ns = new Netns('reopen');
  const dir = mkdtempSync(path.join(tmpdir(), 'ctlogd-reopen-'));
  t.after(() => {
    ns.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  const logs = path.join(dir, 'logs');
  mkdirSync(logs);
  const file = path.join(logs, 'events.log');
  const out = await startCtlogd(ns, ['--format', 'json', '--output', 'file', '--output-file', file]);
  ns.traffic('udpflood:100:20000');
  await statsWhen(out, (s) => s.written === 100, 'the first lines');
  // logrotate moved the directory away: the path cannot be opened again.
  const moved = path.join(dir, 'moved');
  execFileSync('mv', [logs, moved]);
  out.child.kill('SIGHUP');
  await out.until(() => /configuration reloaded/.test(out.stderr), 'the reload');
  assert.match(
    out.stderr,
    new RegExp(
      `ctlogd: warn: configuration reloaded, but the output was not reopened: output_file ${file}: cannot open for appending: ENOENT; still writing to the file open before`,
    ),
  );
  assert.doesNotMatch(out.stderr, /ctlogd: configuration reloaded/, 'not said as if all went well');
  ns.exec('conntrack', ['-F']);
  assert.equal(await stop(out), 0);
  const s = stats(out.stderr);
  assertAccounted(s, out.stderr);
  assert.equal(s.output_lost, 0);
  assert.equal(readFileSync(path.join(moved, 'events.log'), 'utf8').split('\n').length - 1, 200, 'every line in the file open before');
});
