/**
 * The syslog output against a real rsyslog, on real kernel events. Each
 * test makes a network namespace and starts rsyslogd in it
 * (helpers/rsyslog.ts: loopback UDP and TCP, a unix socket, each input's
 * messages in its own file with the raw fields to check). A second ctlogd writing to
 * stdout is the reference: rsyslog must have every one of its lines, intact
 * and in order, with the right PRI, APP-NAME and PROCID.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { handed, Lines, marker, ROOT, startCtlogd, stats, statsWhen, stop } from './helpers/ctlogd.js';
import { TRAFFIC } from './helpers/netns.js';
import { assertDelivered, destination, type Kind, PORT, PRI, reports, setup, traffic } from './helpers/rsyslog.js';

async function roundTrip(t: TestContext, kind: Kind, syslogArgs: string[], formatArgs: string[]) {
  const { ns, rs } = setup(t, `syslog-${kind}`);
  await rs.start();
  const sys = await startCtlogd(ns, [...destination(kind, rs), ...syslogArgs, ...formatArgs]);
  const ref = await startCtlogd(ns, formatArgs);
  traffic(ns);
  // Both ctlogds have every event in their sockets once the commands have
  // returned; SIGTERM makes each write out all it received (and the syslog
  // one flush to rsyslog) before it exits.
  assert.equal(await stop(sys), 0, sys.stderr);
  assert.equal(await stop(ref), 0);
  const got = await rs.until(kind, ref.lines.length);
  assert.deepEqual(reports(sys), [], 'no trouble reported');
  return { got, ref, sys };
}

test('udp: RFC 5424, every line intact and in order (vyos lines with their padding), facility local3, a custom tag', async (t) => {
  const { got, ref, sys } = await roundTrip(t, 'udp', ['--syslog-facility', 'local3', '--syslog-tag', 'ct-udp'], []);
  assertDelivered('udp', got, ref, sys, PRI.local3, 'ct-udp');
  assert.ok(
    ref.lines.some((l) => /^\[NEW\] +\d+ tcp +6 /.test(l)),
    'vyos lines, padded',
  );
});

test('tcp: octet-counted RFC 5424, every line intact and in order (conntrack -o timestamp lines, with a tab), facility local7', async (t) => {
  const { got, ref, sys } = await roundTrip(
    t,
    'tcp',
    ['--syslog-facility', 'local7', '--syslog-tag', 'ct-tcp'],
    ['--format', 'conntrack', '--conntrack-options', 'timestamp,id'],
  );
  assertDelivered('tcp', got, ref, sys, PRI.local7, 'ct-tcp');
  const tabbed = /^\[\d{8,}\.\d{6}\]\t *\[(NEW|UPDATE|DESTROY)\] /;
  assert.deepEqual(
    got.map((r) => r.msg).filter((m) => !tabbed.test(m)),
    [],
    'the tab after the time arrived as a tab',
  );
});

test('local socket: every line intact and in order (json lines), facility user, a custom tag', async (t) => {
  const { got, ref, sys } = await roundTrip(t, 'unix', ['--syslog-facility', 'user', '--syslog-tag', 'ct-local'], ['--format', 'json']);
  assertDelivered('unix', got, ref, sys, PRI.user, 'ct-local');
  assert.ok(
    got.every((r) => /^ \{"type":"(new|update|destroy)","time":"[^"]+","time_ns":"\d+",/.test(r.msg)),
    'json lines',
  );
});

test('defaults: facility daemon, tag ctlogd', async (t) => {
  const { got, ref, sys } = await roundTrip(t, 'udp', [], []);
  assertDelivered('udp', got, ref, sys, PRI.daemon, 'ctlogd');
});

for (const kind of ['tcp', 'unix'] as const) {
  test(`${kind}: no syslog at start: one line on stderr, ctlogd keeps running, lines wait and arrive once rsyslog is up`, async (t) => {
    const { ns, rs } = setup(t, `syslog-late-${kind}`);
    const sys = await startCtlogd(ns, destination(kind, rs));
    const ref = await startCtlogd(ns, []);
    traffic(ns);
    // Long enough for several retries (after 0.2, 0.6, 1.4 s).
    await sleep(2000);
    assert.equal(sys.child.exitCode, null, 'still running');
    assert.equal(reports(sys).length, 1, `one line, not one per retry or per event:\n${sys.stderr}`);
    assert.match(reports(sys)[0], kind === 'tcp' ? /cannot connect: ECONNREFUSED; retrying/ : /cannot connect: ENOENT; retrying/);
    assert.equal(await stop(ref), 0);
    await rs.start();
    // Delivered while ctlogd runs (the next retry), not only at its exit.
    const got = await rs.until(kind, ref.lines.length, 15000);
    await sys.until(() => /connected again/.test(sys.stderr), 'the reconnect report');
    assert.equal(await stop(sys), 0);
    assertDelivered(kind, got, ref, sys, PRI.daemon, 'ctlogd');
    assert.equal(reports(sys).length, 2, sys.stderr);
  });
}

test('tcp: rsyslog restarts; lines made while it is down wait in memory and arrive after SIGHUP, none lost or repeated', async (t) => {
  const { ns, rs } = setup(t, 'syslog-restart');
  await rs.start();
  const sys = await startCtlogd(ns, destination('tcp', rs));
  const ref = await startCtlogd(ns, []);
  // Some lines, then a marker: once rsyslog has the marker, it has them all.
  ns.traffic('tcp:7000', 'udp:5300');
  const first = marker(1);
  first.insert(ns);
  await ref.until(() => ref.lines.some(first.match), 'the marker on stdout');
  await rs.until('tcp', ref.lines.length);
  assert.ok(rs.received('tcp').some((r) => first.match(r.msg)));
  await rs.stop();
  await sys.until(() => /connection lost/.test(sys.stderr), 'the lost connection to be reported');
  // Events while nobody listens.
  traffic(ns);
  await sleep(500);
  await rs.start();
  sys.child.kill('SIGHUP');
  await sys.until(() => /configuration reloaded/.test(sys.stderr), 'the reload');
  assert.equal(await stop(ref), 0);
  const got = await rs.until('tcp', ref.lines.length, 15000);
  assert.equal(await stop(sys), 0);
  assertDelivered('tcp', got, ref, sys, PRI.daemon, 'ctlogd');
  assert.equal(reports(sys).filter((l) => /connection lost/.test(l)).length, 1, sys.stderr);
});

test('tcp: five SIGHUPs on a working connection while lines flow: it stays up (one connection at rsyslog), every line arrives once, in order', async (t) => {
  const { ns, rs } = setup(t, 'syslog-hup');
  await rs.start();
  ns.nft(`add table inet ctlogd_attempts
    add chain inet ctlogd_attempts in { type filter hook input priority 0; }
    add rule inet ctlogd_attempts in tcp dport ${PORT} tcp flags syn / syn,ack counter`);
  const sys = await startCtlogd(ns, destination('tcp', rs));
  const ref = await startCtlogd(ns, []);
  const gen = new Lines(ns.spawn(process.execPath, [TRAFFIC, 'udpstream:3000:20000:2000']));
  for (let i = 0; i < 5; i++) {
    await sleep(350);
    sys.child.kill('SIGHUP');
  }
  assert.equal(await gen.exited, 0, gen.stderr);
  ns.exec('conntrack', ['-F']);
  await sys.until(() => (sys.stderr.match(/configuration reloaded/g) ?? []).length === 5, 'the five reloads');
  assert.equal(await stop(ref), 0);
  const got = await rs.until('tcp', ref.lines.length, 15000);
  assert.equal(await stop(sys), 0);
  assertDelivered('tcp', got, ref, sys, PRI.daemon, 'ctlogd');
  assert.deepEqual(reports(sys), [], 'no trouble reported');
  const syns = Number(/counter packets (\d+)/.exec(ns.exec('nft', ['list', 'table', 'inet', 'ctlogd_attempts']))?.[1]);
  assert.equal(syns, 1, 'one connection: a reload leaves a working one up');
  const s = stats(sys.stderr);
  assert.equal(s.written, ref.lines.length);
  assert.equal(s.output_lost, 0);
});

for (const kind of ['tcp', 'unix'] as const) {
  test(`${kind}: a burst of 6,000 lines arrives whole and in order`, async (t) => {
    const { ns, rs } = setup(t, `syslog-burst-${kind}`);
    await rs.start();
    const sys = await startCtlogd(ns, destination(kind, rs));
    const ref = await startCtlogd(ns, []);
    // The namespace's unix datagram queue holds 10 messages
    // (net.unix.max_dgram_qlen): the local socket is congested at once.
    ns.traffic('udpflood:3000:20000');
    ns.exec('conntrack', ['-F']);
    assert.equal(await stop(ref), 0);
    assert.equal(ref.lines.length, 6000);
    // Delivered while ctlogd runs. A SIGTERM now would leave it its stop
    // deadline (under 2 s) to drain the burst, 10 datagrams at a time, and
    // cut off what is left: that took 2 s and more on Node 18 in the full
    // suite, and half the lines were missing.
    await rs.until(kind, ref.lines.length, 20000);
    assert.equal(await stop(sys), 0, sys.stderr);
    // Read after the exit: a line sent twice shows now.
    const got = rs.received(kind);
    assertDelivered(kind, got, ref, sys, PRI.daemon, 'ctlogd');
    assert.deepEqual(reports(sys), [], 'no trouble reported');
  });
}

test('udp: nobody listens: one line on stderr, ctlogd keeps sending; lines arrive once rsyslog is up', async (t) => {
  const { ns, rs } = setup(t, 'syslog-refused');
  const sys = await startCtlogd(ns, [...destination('udp', rs), '--format', 'json']);
  // Each datagram to a closed port brings back an ICMP error: the next send
  // on the connected socket fails with ECONNREFUSED.
  for (let i = 0; i < 3; i++) ns.traffic(`udpsend:${6100 + i}`);
  await sys.until(() => /send failed: ECONNREFUSED/.test(sys.stderr), 'the refused send');
  await rs.start();
  ns.traffic('udpsend:6200');
  assert.equal(await stop(sys), 0, sys.stderr);
  const got = await rs.until('udp', 1);
  assert.ok(
    got.some((r) => r.msg.includes('"dport":6200')),
    'a line made after rsyslog started arrived',
  );
  assert.equal(reports(sys).filter((l) => /send failed/.test(l)).length, 1, `reported once:\n${sys.stderr}`);
});

/**
 * A TCP peer that accepts and never reads (helpers/stalled.mjs: a hung
 * receiver), a ctlogd sending json lines to it over TCP, and `n` flows
 * made and flushed: 2n events, all read by ctlogd.
 */
async function stalledFlood(t: TestContext, tag: string, n: number) {
  const { ns, rs } = setup(t, tag);
  const stalled = new Lines(ns.spawn(process.execPath, [path.join(ROOT, '__test__/helpers/stalled.mjs'), String(PORT)]));
  await stalled.until(() => stalled.lines.includes('listening'), 'the stalled receiver to listen');
  const sys = await startCtlogd(ns, [...destination('tcp', rs), '--format', 'json']);
  ns.traffic(`udpflood:${n}:20000`);
  ns.exec('conntrack', ['-F']);
  await statsWhen(sys, (s) => s.received === 2 * n, 'every event read');
  return { ns, rs, stalled, sys };
}

/** Every event received was written or counted lost on the output side, per type; nothing waits. */
function assertAccounted(s: Record<string, number>, text: string): void {
  for (const t of ['new', 'update', 'destroy']) assert.equal(s[`written.${t}`] + s[`output_lost.${t}`], s[`received.${t}`], `${t}: ${text}`);
  assert.equal(s.output_waiting, 0, text);
  assert.equal(s.lost + s.dropped, 0, text);
}

test('tcp fault: a receiver that accepts and never reads is killed and rsyslog takes its place; drops counted lost, the unacknowledged sent again', async (t) => {
  const { ns, rs, stalled, sys } = await stalledFlood(t, 'syslog-stall', 40_000);
  await sys.until(() => /16 MiB of lines are waiting; dropping new lines \(counted\)/.test(sys.stderr), 'the full queue');
  // Every event is the output's before the outage ends: a line handed to it
  // after the reconnect would find the queue still full and be dropped
  // after the line that says how many were.
  await statsWhen(sys, (s) => handed(s), 'every event handed to the output');
  // What the stalled receiver holds, acknowledged and never read, dies with
  // it. Nothing more reaches it while that is measured and it is killed
  // (its reset still goes out).
  ns.nft(`add table inet ctlogd_freeze
    add chain inet ctlogd_freeze out { type filter hook output priority 0; }
    add rule inet ctlogd_freeze out tcp dport ${PORT} drop`);
  await sleep(100);
  // What it received, in its kernel's buffer or its own memory.
  const info = ns.exec('ss', ['-Htin', 'state', 'established', `( sport = :${PORT} )`]);
  const held = Number(/bytes_received:(\d+)/.exec(info)?.[1]);
  stalled.child.kill('SIGKILL');
  await stalled.exited;
  ns.nft('delete table inet ctlogd_freeze');
  await rs.start();
  await sys.until(() => /connected again; \d+ lines were dropped/.test(sys.stderr), 'the reconnect', 20_000);
  await statsWhen(sys, (s) => handed(s) && s.output_waiting === 0, 'every line acknowledged by rsyslog');
  assert.equal(await stop(sys), 0);
  const s = stats(sys.stderr);
  assertAccounted(s, sys.stderr);
  const dropped = Number(/connected again; (\d+) lines were dropped/.exec(sys.stderr)![1]);
  assert.equal(s.output_lost, dropped, 'the only loss is the full queue, said when the outage ended');
  assert.match(sys.stderr, /ctlogd: warn: syslog tcp 127\.0\.0\.1:\d+: connected again/, 'the end of the outage is a warning');

  // rsyslog writes what it acknowledged within moments.
  await rs.until('tcp', 1);
  await sleep(500);
  const all = rs.received('tcp');
  // An id may come again for a new flow: an event is its id and its time.
  const ids = all.map((r) => {
    const ev = JSON.parse(r.msg) as { type: string; id: number; time_ns: string };
    return `${ev.type} ${ev.id} ${ev.time_ns}`;
  });
  assert.equal(new Set(ids).size, ids.length, 'no line arrived twice');
  // Written counts what the peers acknowledged: rsyslog has it all, less
  // what the killed receiver had received and never handled (no sender can
  // see that), which is the lines in the bytes it held: each frame is its
  // message and at most 100 bytes of count and header.
  const lens = all.map((r) => Buffer.byteLength(r.msg));
  const gone = s.written - all.length;
  const most = Math.ceil(held / Math.min(...lens)) + 1;
  const least = Math.floor(held / (Math.max(...lens) + 100)) - 1;
  assert.ok(
    gone >= least && gone <= most,
    `written ${s.written}, rsyslog has ${all.length}: ${gone} gone, the killed receiver held ${held} bytes (${least}..${most} lines)`,
  );
});

test('tcp fault: ctlogd stops while the receiver stalls; exit 0 within 2 s, the unacknowledged counted lost, the connection reset', async (t) => {
  const { stalled, sys } = await stalledFlood(t, 'syslog-stall-stop', 20_000);
  const started = Date.now();
  assert.equal(await stop(sys), 0);
  assert.ok(Date.now() - started < 2000, `stopped in ${Date.now() - started} ms`);
  const s = stats(sys.stderr);
  assertAccounted(s, sys.stderr);
  assert.ok(s.output_lost > 0 && s.written > 0, JSON.stringify(s));
  const closing = /closing with (\d+) lines not sent(?:; (\d+) lines were dropped)?/.exec(sys.stderr);
  assert.ok(closing, sys.stderr);
  assert.equal(Number(closing[1]) + Number(closing[2] ?? 0), s.output_lost, 'the closing line says what was lost');
  // The receiver now reads what it holds: the lines counted written.
  stalled.child.kill('SIGUSR2');
  await stalled.until(() => stalled.lines.length >= 2, 'the stalled receiver to read');
  // Acknowledged is in the receiver's buffer: the reset takes none of it.
  assert.equal(Number(stalled.lines[1]), s.written, 'the receiver has exactly the lines counted written');
});
