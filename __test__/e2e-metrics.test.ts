/**
 * metrics_listen on a running ctlogd, on real events in a namespace of the
 * test's own: the page against the lines ctlogd wrote and its stats line,
 * promtool on the page, a real Prometheus scraping it, the queue and the
 * socket backlog of a stalled output, reloads that move the address, and
 * an address that is taken.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { samples } from './helpers/metrics.js';
import { CTLOGD, handed, Lines, marker, ROOT, startCtlogd, statsWhen, stop } from './helpers/ctlogd.js';
import { checkPrerequisites, Netns } from './helpers/netns.js';

const PORT = 9465;
const PROMETHEUS_PORT = 9090;

/**
 * A namespace whose metrics traffic is not tracked: the scrapes' own
 * connections would be events too, and move the counts under the test.
 */
function metricsNetns(tag: string): Netns {
  const ns = new Netns(tag);
  ns.nft(`add table inet ctlogd_notrack
    add chain inet ctlogd_notrack out { type filter hook output priority raw; }
    add rule inet ctlogd_notrack out tcp dport { 9090-9470 } notrack
    add rule inet ctlogd_notrack out tcp sport { 9090-9470 } notrack`);
  return ns;
}

interface Page {
  status: number;
  type: string | null;
  body: string;
}

/** GET http://127.0.0.1:PORT/PATH from inside the namespace; status 0 when nothing listens. */
function get(ns: Netns, port: number, urlPath = '/metrics', accept = '*/*'): Page {
  const code = `fetch('http://127.0.0.1:${port}${urlPath}', { headers: { Accept: ${JSON.stringify(accept)} } })
    .then(async (r) => process.stdout.write(JSON.stringify({ status: r.status, type: r.headers.get('content-type'), body: await r.text() })))
    .catch(() => process.stdout.write(JSON.stringify({ status: 0, type: null, body: '' })));`;
  return JSON.parse(ns.exec(process.execPath, ['-e', code])) as Page;
}

/** The sum of a family's samples (all label sets). */
function sum(s: Map<string, number>, name: string): number {
  let n = 0;
  for (const [k, v] of s) if (k === name || k.startsWith(`${name}{`)) n += v;
  return n;
}

const CLASS: Record<string, string> = { tcp: 'tcp', udp: 'udp', icmp: 'icmp' };

function configFile(dir: string, conf: object): string {
  const f = path.join(dir, 'ctlogd.json');
  writeFileSync(f, JSON.stringify(conf));
  return f;
}

function tmp(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ctlogd-metrics-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('the page counts what ctlogd wrote, per event type and protocol class, as its stats line does; promtool accepts it', async (t) => {
  checkPrerequisites();
  const ns = metricsNetns('metrics');
  t.after(() => ns.destroy());
  const out = await startCtlogd(ns, ['--format', 'json', '--queue-size', '5000', '--metrics-listen', `127.0.0.1:${PORT}`]);
  t.after(() => out.child.kill('SIGKILL'));
  ns.traffic(`tcp:7001`, `udp:7002`, 'ping', 'ping@::1', `udp:7003@::1`);
  ns.exec('conntrack', ['-F']);
  // The last event: once its line is out, every one before it is.
  const end = marker(9);
  end.insert(ns);
  await out.until(() => out.lines.some(end.match), 'the end marker');
  const st = await statsWhen(out, (s) => s.written >= 10 && handed(s) && s.output_waiting === 0, 'the events written');

  const page = get(ns, PORT);
  assert.equal(page.status, 200);
  assert.equal(page.type, 'text/plain; version=0.0.4; charset=utf-8');
  const s = samples(page.body);
  // Each (type, class) written: the json lines, counted by the test.
  const lines = out.lines.filter(Boolean).map((l) => JSON.parse(l) as { type: string; proto: string });
  const want = new Map<string, number>();
  for (const l of lines) {
    const k = `{type="${l.type}",proto="${CLASS[l.proto] ?? 'other'}"}`;
    want.set(k, (want.get(k) ?? 0) + 1);
  }
  assert.ok(want.get('{type="new",proto="other"}'), 'ICMPv6 is "other"');
  for (const type of ['new', 'update', 'destroy']) {
    for (const proto of ['tcp', 'udp', 'icmp', 'other']) {
      const k = `{type="${type}",proto="${proto}"}`;
      // An output's counts carry its name: the one output's, its output's.
      assert.equal(s.get(`ctlogd_events_written_total{output="stdout",${k.slice(1)}`), want.get(k) ?? 0, `written ${k}`);
      assert.equal(s.get(`ctlogd_events_received_total${k}`), want.get(k) ?? 0, `received ${k}`);
      assert.equal(s.get(`ctlogd_events_output_lost_total{output="stdout",${k.slice(1)}`), 0);
    }
  }
  // The stats line's totals, under the same names.
  assert.equal(sum(s, 'ctlogd_events_received_total'), st.received);
  assert.equal(sum(s, 'ctlogd_events_written_total'), st.written);
  assert.equal(sum(s, 'ctlogd_events_filtered_total'), st.filtered);
  assert.equal(sum(s, 'ctlogd_events_dropped_total'), st.dropped);
  assert.equal(sum(s, 'ctlogd_events_output_waiting'), st.output_waiting);
  assert.equal(s.get('ctlogd_events_lost_total'), st.lost);
  assert.equal(s.get('ctlogd_events_undelivered_total'), st.undelivered);
  assert.equal(s.get('ctlogd_enobufs_total'), st.enobufs);
  assert.equal(s.get('ctlogd_decode_errors_total'), st.decode_errors);
  assert.equal(s.get('ctlogd_event_latency_seconds_count'), st.written);
  assert.ok((s.get('ctlogd_event_latency_seconds_sum') ?? 0) > 0);
  assert.ok((s.get('ctlogd_batches_total') ?? 0) >= 1);
  assert.equal(s.get('ctlogd_queue_events'), 0, 'nothing waits');
  assert.equal(s.get('ctlogd_queue_capacity_events'), 5000, 'queue_size');
  assert.equal(s.get('ctlogd_socket_backlog_bytes'), 0);
  const rcvbuf = /receive buffer (\d+) bytes/.exec(out.stderr)?.[1];
  assert.equal(s.get('ctlogd_socket_receive_buffer_bytes'), Number(rcvbuf));
  assert.equal(s.get('ctlogd_config_last_reload_successful'), 1, 'the config at start');
  assert.ok(Math.abs((s.get('ctlogd_config_last_reload_timestamp_seconds') ?? 0) - Date.now() / 1000) < 120);
  const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.ok([...s.keys()].some((k) => k.startsWith(`ctlogd_build_info{version="${version}",node="${process.versions.node}"`)));

  const check = spawnSync('promtool', ['check', 'metrics'], { input: page.body, encoding: 'utf8' });
  assert.equal(check.error, undefined, 'promtool (Debian package prometheus) must be installed');
  assert.equal(check.status, 0, check.stdout + check.stderr);
  assert.equal((check.stdout + check.stderr).trim(), '', 'no lint findings');

  const open = get(ns, PORT, '/metrics', 'application/openmetrics-text; version=1.0.0');
  assert.equal(open.type, 'application/openmetrics-text; version=1.0.0; charset=utf-8');
  assert.ok(open.body.endsWith('# EOF\n'));
  assert.match(open.body, /^# TYPE ctlogd_events_written counter$/m);
  assert.equal(get(ns, PORT, '/').status, 404);
  assert.equal(await stop(out), 0);
});

test('a real Prometheus scrapes it (OpenMetrics) and holds the same numbers', async (t) => {
  checkPrerequisites();
  const ns = metricsNetns('metrics-prom');
  t.after(() => ns.destroy());
  const dir = tmp(t);
  // NEW only: no event comes late (a TCP close's UPDATEs) to move the count after it is taken.
  const out = await startCtlogd(ns, ['-c', configFile(dir, { event: { new: {} } }), '--format', 'json', '--metrics-listen', `127.0.0.1:${PORT}`]);
  t.after(() => out.child.kill('SIGKILL'));
  ns.traffic('tcp:7001', 'udp:7002', 'ping');
  const st = await statsWhen(out, (s) => s.written === 3 && handed(s) && s.output_waiting === 0, 'the events written');
  const conf = path.join(dir, 'prometheus.yml');
  writeFileSync(conf, `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: ctlogd\n    static_configs:\n      - targets: ['127.0.0.1:${PORT}']\n`);
  const prom = new Lines(
    ns.spawn('prometheus', [
      `--config.file=${conf}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${PROMETHEUS_PORT}`,
      '--log.level=warn',
    ]),
  );
  t.after(() => prom.child.kill('SIGKILL'));
  const api = (q: string) => {
    const page = get(ns, PROMETHEUS_PORT, q);
    // 503 "Service Unavailable" (text) until Prometheus is ready: nothing yet.
    return (page.status === 200 ? JSON.parse(page.body) : {}) as {
      data?: { result?: Array<{ metric: Record<string, string>; value: [number, string] }>; activeTargets?: Array<{ health: string; lastError: string }> };
    };
  };
  const deadline = Date.now() + 30_000;
  let target: { health: string; lastError: string } | undefined;
  while (Date.now() < deadline) {
    target = api('/api/v1/targets').data?.activeTargets?.[0];
    if (target?.health === 'up') break;
    await sleep(300);
  }
  assert.equal(target?.health, 'up', `Prometheus's target: ${JSON.stringify(target)}; its log: ${prom.stderr}`);
  assert.equal(target?.lastError, '');
  const value = (q: string) => api(`/api/v1/query?query=${encodeURIComponent(q)}`).data?.result ?? [];
  assert.equal(Number(value('sum(ctlogd_events_written_total)')[0]?.value[1]), st.written, JSON.stringify(value('ctlogd_events_written_total')));
  assert.equal(Number(value('ctlogd_events_written_total{type="new",proto="icmp"}')[0]?.value[1]), 1, 'the one ping');
  assert.equal(value('ctlogd_event_latency_seconds_bucket').length, 17, '16 bounds and +Inf');
  const build = value('ctlogd_build_info')[0]?.metric;
  assert.equal(build?.node, process.versions.node);
  assert.equal(Number(value('ctlogd_config_last_reload_successful')[0]?.value[1]), 1);
  assert.equal(await stop(out), 0);
});

test('a stalled output: the page shows the lines waiting, the queue full and the backlog in the kernel; all back to 0 once it drains', async (t) => {
  checkPrerequisites();
  const ns = metricsNetns('metrics-stall');
  t.after(() => ns.destroy());
  const out = await startCtlogd(ns, ['--queue-size', '200', '--metrics-listen', `127.0.0.1:${PORT}`]);
  t.after(() => out.child.kill('SIGKILL'));
  // Nobody reads ctlogd's stdout now: the pipe fills, the output waits.
  out.child.stdout!.pause();
  ns.traffic('udpflood:3000:20000');
  let s = new Map<string, number>();
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    s = samples(get(ns, PORT).body);
    if ((s.get('ctlogd_socket_backlog_bytes') ?? 0) > 0 && (s.get('ctlogd_queue_events') ?? 0) >= 100) break;
    await sleep(200);
  }
  assert.ok((s.get('ctlogd_socket_backlog_bytes') ?? 0) > 0, `backlog: ${s.get('ctlogd_socket_backlog_bytes')}`);
  assert.ok((s.get('ctlogd_queue_events') ?? 0) >= 100, `queue: ${s.get('ctlogd_queue_events')}`);
  assert.ok((s.get('ctlogd_queue_events') ?? 0) <= 200, 'queue_size bounds it');
  assert.ok(sum(s, 'ctlogd_events_output_waiting') > 0, 'lines wait in the output');
  out.child.stdout!.resume();
  await out.until(() => out.lines.filter((l) => l.includes('[NEW]')).length >= 3000, 'every line');
  const done = await statsWhen(out, (x) => x.written >= 3000 && handed(x) && x.output_waiting === 0, 'all written');
  s = samples(get(ns, PORT).body);
  assert.equal(s.get('ctlogd_socket_backlog_bytes'), 0);
  assert.equal(s.get('ctlogd_queue_events'), 0);
  assert.equal(sum(s, 'ctlogd_events_output_waiting'), 0);
  assert.equal(sum(s, 'ctlogd_events_written_total'), done.written);
  assert.equal(s.get('ctlogd_events_lost_total'), 0, 'the kernel held what the queue could not');
  assert.equal(await stop(out), 0);
});

test('reloads: a new address is listened on before the old is let go; one that is taken fails the reload and keeps the old; each counted', async (t) => {
  checkPrerequisites();
  const ns = metricsNetns('metrics-reload');
  t.after(() => ns.destroy());
  const dir = tmp(t);
  const conf = (listen: string) => configFile(dir, { event: { new: {} }, metrics_listen: listen });
  const out = await startCtlogd(ns, ['-c', conf(`127.0.0.1:${PORT}`)]);
  t.after(() => out.child.kill('SIGKILL'));
  const reloaded = async (n: number) => out.until(() => out.stderr.split(/configuration reloaded|reload failed|reload refused/).length > n, `reload ${n}`);

  conf(`127.0.0.1:${PORT + 1}`);
  out.child.kill('SIGHUP');
  await reloaded(1);
  assert.equal(get(ns, PORT).status, 0, 'the old address is let go');
  let s = samples(get(ns, PORT + 1).body);
  assert.equal(s.get('ctlogd_config_reloads_total{result="success"}'), 1);
  assert.equal(s.get('ctlogd_config_last_reload_successful'), 1);

  // Another process holds the next port.
  const holder = new Lines(ns.spawn(process.execPath, ['-e', `require('net').createServer().listen(${PORT + 2}, '127.0.0.1', () => console.log('held'))`]));
  t.after(() => holder.child.kill('SIGKILL'));
  await holder.until(() => holder.lines.includes('held'), 'the port held');
  conf(`127.0.0.1:${PORT + 2}`);
  out.child.kill('SIGHUP');
  await reloaded(2);
  assert.match(out.stderr, new RegExp(`reload failed, keeping the running config: metrics_listen 127\\.0\\.0\\.1:${PORT + 2}: cannot listen: EADDRINUSE`));
  s = samples(get(ns, PORT + 1).body);
  assert.equal(s.get('ctlogd_config_reloads_total{result="failure"}'), 1, 'the old address still serves, and counts it');
  assert.equal(s.get('ctlogd_config_last_reload_successful'), 0);

  // Empty: off.
  conf('');
  out.child.kill('SIGHUP');
  await reloaded(3);
  assert.equal(get(ns, PORT + 1).status, 0);
  assert.equal(await stop(out), 0);
});

test('an address that is taken at start: one line, exit 73, nothing half-started', async (t) => {
  checkPrerequisites();
  const ns = metricsNetns('metrics-taken');
  t.after(() => ns.destroy());
  const holder = new Lines(ns.spawn(process.execPath, ['-e', `require('net').createServer().listen(${PORT}, '127.0.0.1', () => console.log('held'))`]));
  t.after(() => holder.child.kill('SIGKILL'));
  await holder.until(() => holder.lines.includes('held'), 'the port held');
  const r = spawnSync('ip', ['netns', 'exec', ns.name, process.execPath, CTLOGD, '--metrics-listen', `127.0.0.1:${PORT}`], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  assert.equal(r.status, 73);
  assert.equal(r.stderr, `ctlogd: metrics_listen 127.0.0.1:${PORT}: cannot listen: EADDRINUSE\n`);
  assert.equal(r.stdout, '');
});
