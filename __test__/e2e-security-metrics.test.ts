/**
 * No local client of the metrics port can cost an event (SPEC §12): a
 * scrape flood on 2,000 keep-alive connections while 30,000 events come,
 * on VyOS's queue_size and a 1 MiB receive buffer. Every event is written,
 * the scrapes are still answered, and connections past the bound are
 * refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MAX_CONNECTIONS } from '../src/metrics/server.js';
import { Lines, marker, ROOT, startCtlogd, stats, stop } from './helpers/ctlogd.js';
import { checkPrerequisites, Netns } from './helpers/netns.js';

const PORT = 9465;
const SCRAPER = path.join(ROOT, '__test__/helpers/scraper.mjs');
const CONNECTIONS = 2000;
const EVENTS = 30000;
/** Over which they come: 15,000 a second, which a 1 MiB buffer holds without the flood. */
const EVENTS_MS = 2000;

interface Tally {
  ok: number;
  other: Record<string, number>;
  connects: number;
  unanswered: number;
  refused: number;
  maxAnswered: number;
}

test('a scrape flood on 2,000 keep-alive connections costs no event: 30,000 events on queue_size 10000 and a 1 MiB buffer, none lost; scrapes answered, connections past the bound refused', async (t) => {
  checkPrerequisites();
  const ns = new Netns('metrics-flood');
  t.after(() => ns.destroy());
  // The scrapes are not events: only the flood's cost on the events is measured.
  ns.nft(`add table inet ctlogd_notrack
    add chain inet ctlogd_notrack out { type filter hook output priority raw; }
    add rule inet ctlogd_notrack out tcp dport ${PORT} notrack
    add rule inet ctlogd_notrack out tcp sport ${PORT} notrack`);
  const dir = mkdtempSync(path.join(tmpdir(), 'ctlogd-metrics-flood-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'events.log');
  const conf = path.join(dir, 'ctlogd.json');
  writeFileSync(
    conf,
    JSON.stringify({
      event: { new: {} },
      queue_size: '10000',
      receive_buffer: 1048576,
      output: 'file',
      output_file: file,
      metrics_listen: `127.0.0.1:${PORT}`,
    }),
  );
  const out = await startCtlogd(ns, ['-c', conf]);
  t.after(() => out.child.kill('SIGKILL'));

  const scraper = new Lines(ns.spawn(process.execPath, [SCRAPER, String(PORT), String(CONNECTIONS), '45']));
  t.after(() => scraper.child.kill('SIGKILL'));
  await scraper.until(() => scraper.lines.includes('flooding'), 'the scraper');
  // Its connections made and scraping.
  await sleep(1500);

  const began = Date.now();
  ns.traffic(`udpstream:${EVENTS}:20000:${EVENTS_MS}`);
  const end = marker(7);
  end.insert(ns);
  const written = () => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return '';
    }
  };
  // Every event out, or as many as will come: the counts below say which.
  await out.until(() => written().split('\n').some(end.match), 'the end marker', 30_000).catch(() => {});
  const took = Date.now() - began;

  // ctlogd's peak memory (ip netns exec runs it in its own process).
  const peak = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${out.child.pid}/status`, 'utf8'))?.[1];
  scraper.child.kill('SIGTERM');
  await scraper.exited;
  const tally = JSON.parse(scraper.lines.find((l) => l.startsWith('{')) ?? '{}') as Tally;
  assert.equal(await stop(out), 0);
  const st = stats(out.stderr);
  t.diagnostic(
    `events ${EVENTS + 1} in ${took} ms: received ${st.received} written ${st.written} lost ${st.lost} enobufs ${st.enobufs};` +
      ` latency p50 ${st.latency_p50_us} µs p99 ${st.latency_p99_us} µs max ${st.latency_max_us} µs; peak RSS ${peak} kB; scrapes ${JSON.stringify(tally)}`,
  );

  assert.equal(st.lost, 0, 'no event lost in the kernel');
  assert.equal(st.enobufs, 0);
  assert.equal(st['received.new'], EVENTS + 1, 'every event read');
  assert.equal(st.written, st.received, 'every event written');
  // Without the flood, about 0.1 s here; a flood on the event loop made it seconds.
  assert.ok(st.latency_max_us < 1_000_000, `latency at most ${st.latency_max_us} µs`);
  const lines = written().split('\n');
  assert.equal(lines.filter((l) => l.includes('[NEW]')).length, EVENTS + 1, 'every line in the file');
  assert.ok(tally.ok > 0, 'scrapes are answered meanwhile');
  assert.ok(tally.maxAnswered <= MAX_CONNECTIONS, `at most ${MAX_CONNECTIONS} connections served at once, not ${tally.maxAnswered}`);
  assert.ok(tally.unanswered + tally.refused > 0, 'connections past the bound are refused');
});
