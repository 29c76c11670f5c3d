/**
 * The metrics alone: the exposition formats against exact text, ctlogd's
 * families checked by the real promtool, and the HTTP endpoint on
 * loopback. e2e-metrics proves them on a running ctlogd with a real
 * Prometheus.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Latency } from '../src/latency.js';
import { OPENMETRICS_CONTENT_TYPE, render, TEXT_CONTENT_TYPE, wantsOpenMetrics, type Family } from '../src/metrics/exposition.js';
import { daemonFamilies, type DaemonCounters } from '../src/metrics/families.js';
import { MAX_CONNECTIONS, MetricsError, MetricsServer, PAGE_INTERVAL_MS } from '../src/metrics/server.js';
import { KINDS } from '../src/output/ledger.js';
import { samples } from './helpers/metrics.js';

const FAMILIES: Family[] = [
  { name: 'x_lines', type: 'counter', help: 'Lines.\nSecond line, a \\ too.', samples: [{ labels: { type: 'new', why: 'a "b"\nc\\' }, value: 3 }] },
  { name: 'x_depth', type: 'gauge', help: 'Depth.', samples: [{ value: 0.5 }] },
  { name: 'x_build', type: 'info', help: 'Build.', labels: { version: '1.2.3' } },
  {
    name: 'x_wait_seconds',
    type: 'histogram',
    help: 'Wait.',
    samples: [
      {
        buckets: [
          { le: 0.001, count: 1 },
          { le: 1, count: 4 },
        ],
        count: 5,
        sum: 12.5,
      },
    ],
  },
];

test('text format: a counter family is named with _total, an info is a gauge; no EOF', () => {
  assert.equal(
    render(FAMILIES, false),
    [
      '# HELP x_lines_total Lines.\\nSecond line, a \\\\ too.',
      '# TYPE x_lines_total counter',
      'x_lines_total{type="new",why="a \\"b\\"\\nc\\\\"} 3',
      '# HELP x_depth Depth.',
      '# TYPE x_depth gauge',
      'x_depth 0.5',
      '# HELP x_build_info Build.',
      '# TYPE x_build_info gauge',
      'x_build_info{version="1.2.3"} 1',
      '# HELP x_wait_seconds Wait.',
      '# TYPE x_wait_seconds histogram',
      'x_wait_seconds_bucket{le="0.001"} 1',
      'x_wait_seconds_bucket{le="1"} 4',
      'x_wait_seconds_bucket{le="+Inf"} 5',
      'x_wait_seconds_sum 12.5',
      'x_wait_seconds_count 5',
      '',
    ].join('\n'),
  );
});

test('OpenMetrics: families without the suffixes, an info type, and # EOF at the end', () => {
  const out = render(FAMILIES, true).split('\n');
  assert.deepEqual(out.slice(0, 3), [
    '# HELP x_lines Lines.\\nSecond line, a \\\\ too.',
    '# TYPE x_lines counter',
    'x_lines_total{type="new",why="a \\"b\\"\\nc\\\\"} 3',
  ]);
  assert.deepEqual(out.slice(6, 9), ['# HELP x_build Build.', '# TYPE x_build info', 'x_build_info{version="1.2.3"} 1']);
  assert.deepEqual(out.slice(-2), ['# EOF', '']);
});

test('the format follows the Accept header: OpenMetrics when named, else text', () => {
  // What Prometheus 2.x sends.
  assert.equal(
    wantsOpenMetrics('application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'),
    true,
  );
  assert.equal(wantsOpenMetrics('text/plain;version=0.0.4'), false);
  assert.equal(wantsOpenMetrics('*/*'), false);
  assert.equal(wantsOpenMetrics(undefined), false);
});

/** A daemon's counters with a different number in every place, so a mix-up shows. */
function counters(): DaemonCounters {
  const kinds = (base: number) => KINDS.map((_, i) => base + i);
  const latency = new Latency();
  latency.add(40_000, 3);
  latency.add(2_000_000);
  return {
    received: kinds(100),
    filtered: kinds(200),
    dropped: kinds(600),
    lost: 7,
    undelivered: 8,
    enobufs: 9,
    decodeErrors: 10,
    outputs: [
      {
        name: 'stdout',
        written: kinds(300),
        skipped: kinds(700),
        outputLost: kinds(400),
        outputWaiting: kinds(500),
        errors: new Map([
          ['EPIPE', 2],
          ['ECONNREFUSED', 5],
        ]),
      },
      { name: 'collector', written: kinds(800), skipped: kinds(900), outputLost: kinds(0), outputWaiting: kinds(0), errors: new Map([['EPIPE', 1]]) },
    ],
    batches: 11,
    queued: 12,
    queueSize: 16384,
    backlog: 4096,
    rcvbuf: 536870912,
    latency,
    reload: { at: 1796150000, ok: false, succeeded: 2, failed: 1 },
  };
}

const BUILD = { version: '0.1.0', node: '20.20.2', platform: 'ctlogd-linux-x64-gnu' };

test("ctlogd's families: every counter of the stats line, per type and protocol class where it has them", () => {
  const s = samples(render(daemonFamilies(counters(), BUILD), false));
  // Kind 0 is new/tcp, kind 6 update/icmp, kind 11 destroy/other (ledger.ts KINDS).
  assert.equal(s.get('ctlogd_events_received_total{type="new",proto="tcp"}'), 100);
  assert.equal(s.get('ctlogd_events_received_total{type="update",proto="icmp"}'), 106);
  assert.equal(s.get('ctlogd_events_filtered_total{type="destroy",proto="other"}'), 211);
  // Each output's own, by its name.
  assert.equal(s.get('ctlogd_events_written_total{output="stdout",type="new",proto="udp"}'), 301);
  assert.equal(s.get('ctlogd_events_written_total{output="collector",type="new",proto="udp"}'), 801);
  assert.equal(s.get('ctlogd_events_skipped_total{output="stdout",type="new",proto="icmp"}'), 702);
  assert.equal(s.get('ctlogd_events_skipped_total{output="collector",type="new",proto="icmp"}'), 902);
  assert.equal(s.get('ctlogd_events_output_lost_total{output="stdout",type="update",proto="tcp"}'), 404);
  assert.equal(s.get('ctlogd_events_output_waiting{output="stdout",type="destroy",proto="tcp"}'), 508);
  assert.equal(s.get('ctlogd_events_dropped_total{type="new",proto="other"}'), 603);
  assert.equal(s.get('ctlogd_events_lost_total'), 7);
  assert.equal(s.get('ctlogd_events_undelivered_total'), 8);
  assert.equal(s.get('ctlogd_enobufs_total'), 9);
  assert.equal(s.get('ctlogd_decode_errors_total'), 10);
  assert.equal(s.get('ctlogd_output_errors_total{output="stdout",cause="EPIPE"}'), 2);
  assert.equal(s.get('ctlogd_output_errors_total{output="stdout",cause="ECONNREFUSED"}'), 5);
  assert.equal(s.get('ctlogd_output_errors_total{output="collector",cause="EPIPE"}'), 1);
  assert.equal(s.get('ctlogd_batches_total'), 11);
  assert.equal(s.get('ctlogd_queue_events'), 12);
  assert.equal(s.get('ctlogd_queue_capacity_events'), 16384);
  assert.equal(s.get('ctlogd_socket_backlog_bytes'), 4096);
  assert.equal(s.get('ctlogd_socket_receive_buffer_bytes'), 536870912);
  assert.equal(s.get('ctlogd_config_last_reload_successful'), 0);
  assert.equal(s.get('ctlogd_config_last_reload_timestamp_seconds'), 1796150000);
  assert.equal(s.get('ctlogd_config_reloads_total{result="success"}'), 2);
  assert.equal(s.get('ctlogd_config_reloads_total{result="failure"}'), 1);
  assert.equal(s.get('ctlogd_build_info{version="0.1.0",node="20.20.2",platform="ctlogd-linux-x64-gnu"}'), 1);
  // Latency in seconds, cumulative: three at 40 ms, one at 2 s.
  assert.equal(s.get('ctlogd_event_latency_seconds_bucket{le="0.025"}'), 0);
  assert.equal(s.get('ctlogd_event_latency_seconds_bucket{le="0.05"}'), 3);
  assert.equal(s.get('ctlogd_event_latency_seconds_bucket{le="1"}'), 3);
  assert.equal(s.get('ctlogd_event_latency_seconds_bucket{le="2.5"}'), 4);
  assert.equal(s.get('ctlogd_event_latency_seconds_bucket{le="+Inf"}'), 4);
  assert.equal(s.get('ctlogd_event_latency_seconds_count'), 4);
  assert.equal(s.get('ctlogd_event_latency_seconds_sum'), 2.12);
  for (const k of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'process_open_fds']) {
    assert.ok((s.get(k) ?? 0) > 0, k);
  }
  // Every type with every class, for each per-kind family: 12 series, and 12 an output.
  assert.equal([...s.keys()].filter((k) => k.startsWith('ctlogd_events_received_total{')).length, 12);
  assert.equal([...s.keys()].filter((k) => k.startsWith('ctlogd_events_written_total{')).length, 24);
});

test('promtool check metrics accepts them, names, types and help alike', () => {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: render(daemonFamilies(counters(), BUILD), false), encoding: 'utf8' });
  assert.equal(r.error, undefined, 'promtool (Debian package prometheus) must be installed');
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.equal((r.stdout + r.stderr).trim(), '', 'no lint findings');
});

async function get(port: number, path: string, init: RequestInit = {}): Promise<{ status: number; type: string | null; body: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, init);
  return { status: r.status, type: r.headers.get('content-type'), body: await r.text() };
}

test('the endpoint: /metrics in the format asked for, HEAD without a body, 404 elsewhere, 405 for other methods', async (t) => {
  let scrapes = 0;
  const server = await MetricsServer.start('127.0.0.1:0', { host: '127.0.0.1', port: 0 }, () => {
    scrapes++;
    return FAMILIES;
  });
  t.after(() => server.close());
  const text = await get(server.port, '/metrics');
  assert.equal(text.status, 200);
  assert.equal(text.type, TEXT_CONTENT_TYPE);
  assert.equal(text.body, render(FAMILIES, false));
  const open = await get(server.port, '/metrics?x=1', { headers: { Accept: 'application/openmetrics-text; version=1.0.0' } });
  assert.equal(open.type, OPENMETRICS_CONTENT_TYPE);
  assert.equal(open.body, render(FAMILIES, true));
  const head = await get(server.port, '/metrics', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  assert.equal((await get(server.port, '/')).status, 404);
  assert.equal((await get(server.port, '/metrics', { method: 'POST' })).status, 405);
  assert.equal(scrapes, 3, 'a page is made for each scrape one after another (GET, GET, HEAD), and only then');
});

test('scrapes at once share a page; pages are made at most once per PAGE_INTERVAL_MS, each after the scrapes it answers came', async (t) => {
  let scrapes = 0;
  let value = 0;
  const server = await MetricsServer.start('127.0.0.1:0', { host: '127.0.0.1', port: 0 }, () => {
    scrapes++;
    return [{ name: 'x_now', type: 'gauge', help: 'Now.', samples: [{ value }] }];
  });
  t.after(() => server.close());
  const pages = await Promise.all(Array.from({ length: 40 }, () => get(server.port, '/metrics')));
  assert.ok(pages.every((p) => p.status === 200));
  // The first asks at once; those that came while it was made share the next.
  assert.ok(scrapes <= 2, `${scrapes} pages for 40 scrapes at once`);
  scrapes = 0;
  const began = performance.now();
  let answered = 0;
  while (performance.now() - began < 1000) {
    value++;
    const seen = samples((await get(server.port, '/metrics')).body).get('x_now');
    assert.equal(seen, value, 'the page answering a scrape is made after it came');
    answered++;
  }
  assert.ok(scrapes <= Math.ceil(1000 / PAGE_INTERVAL_MS) + 1, `${scrapes} pages in a second of scrapes one after another`);
  assert.equal(scrapes, answered);
});

test(`connections past MAX_CONNECTIONS (${MAX_CONNECTIONS}) are closed unanswered; the others are served`, async (t) => {
  const server = await MetricsServer.start('127.0.0.1:0', { host: '127.0.0.1', port: 0 }, () => FAMILIES);
  t.after(() => server.close());
  const sockets: Socket[] = [];
  t.after(() => {
    for (const s of sockets) s.destroy();
  });
  /** A keep-alive connection's first answer, or null if it was closed without one. */
  const scrape = (s: Socket) =>
    new Promise<string | null>((resolve) => {
      let got = '';
      s.on('data', (d: Buffer) => {
        got += d.toString('latin1');
        if (got.includes('\r\n\r\n')) resolve(got.slice(0, got.indexOf('\r\n')));
      });
      s.on('close', () => resolve(null));
      s.on('error', () => {});
      s.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    });
  const open = async () => {
    const s = connect(server.port, '127.0.0.1');
    sockets.push(s);
    await once(s, 'connect');
    return s;
  };
  const first = await Promise.all(Array.from({ length: MAX_CONNECTIONS }, open));
  assert.deepEqual(new Set(await Promise.all(first.map(scrape))), new Set(['HTTP/1.1 200 OK']));
  assert.equal(await scrape(await open()), null, 'one more is closed');
  first[0].destroy();
  let again: string | null = null;
  // Once the server has seen the close.
  for (let i = 0; i < 20 && again === null; i++) {
    await sleep(50);
    again = await scrape(await open());
  }
  assert.equal(again, 'HTTP/1.1 200 OK', 'a freed place is taken again');
});

test('an address that is taken: MetricsError (exit 73) naming metrics_listen and the errno', async (t) => {
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  t.after(() => taken.close());
  const port = (taken.address() as { port: number }).port;
  await assert.rejects(
    MetricsServer.start(`127.0.0.1:${port}`, { host: '127.0.0.1', port }, () => []),
    (e: unknown) => {
      assert.ok(e instanceof MetricsError);
      assert.equal(e.exitCode, 73);
      assert.equal(e.message, `metrics_listen 127.0.0.1:${port}: cannot listen: EADDRINUSE`);
      return true;
    },
  );
});
