/**
 * Several outputs at once (`outputs`), on real kernel events in a
 * namespace each test makes, against real receivers: rsyslog (TLS with
 * its gtls driver, and TCP), and a TCP peer that never reads
 * (helpers/stalled.mjs). A second ctlogd on stdout with json lines is the
 * reference of what the kernel sent. Each output must get exactly its own
 * events; one output's outage must cost no other a line; a reload that
 * changes one output must leave the others' connections up.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Certs } from './helpers/certs.js';
import { handed, Lines, ROOT, startCtlogd, stats, statsWhen, stop } from './helpers/ctlogd.js';
import type { Netns } from './helpers/netns.js';
import { PORT, setup, traffic } from './helpers/rsyslog.js';

/** A directory for one test's config and files, removed after it. */
function tempDir(t: TestContext): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ctlogd-outputs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function writeConfig(dir: string, conf: object, name = 'ctlogd.json'): string {
  const file = path.join(dir, name);
  writeFileSync(file, JSON.stringify(conf));
  return file;
}

/** The lines of a file, none if it is not there. */
const fileLines = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(0, -1) : []);

/** An event as the reference's json line says it: its type, conntrack id and protocol. */
interface Seen {
  type: string;
  id: number;
  proto: string;
}

const fromJson = (line: string): Seen => {
  const ev = JSON.parse(line) as Seen;
  return { type: ev.type, id: ev.id, proto: ev.proto };
};

/** `new 1234`: an event as every format can say it. */
const key = (e: { type: string; id: number }): string => `${e.type} ${e.id}`;

/** Counts SYNs to `port` from now on: the connections attempted to it. */
function countConnections(ns: Netns, port: number): () => number {
  ns.nft(`add table inet ctlogd_attempts
    add chain inet ctlogd_attempts in { type filter hook input priority 0; }
    add rule inet ctlogd_attempts in tcp dport ${port} tcp flags syn / syn,ack counter`);
  return () => Number(/counter packets (\d+)/.exec(ns.exec('nft', ['list', 'table', 'inet', 'ctlogd_attempts']))?.[1] ?? Number.NaN);
}

function checkGtls(): void {
  try {
    execFileSync('sh', ['-c', 'ls /usr/lib/*/rsyslog/lmnsd_gtls.so'], { stdio: 'ignore' });
  } catch {
    throw new Error("the TLS syslog output needs rsyslog's gtls driver (Debian package rsyslog-gnutls)");
  }
}

test('three outputs at once from one socket: vyos lines to stdout, a json file of its own events, TLS syslog of its own; each gets exactly its events', async (t) => {
  checkGtls();
  const certs = new Certs();
  t.after(() => certs.remove());
  const server = certs.leaf('server', ['IP:127.0.0.1'], 'serverAuth');
  const { ns, rs } = setup(t, 'outputs-three', { ca: certs.file('ca.pem'), cert: server.cert, key: server.key, authMode: 'anon' });
  await rs.start();
  const dir = tempDir(t);
  const json = path.join(dir, 'events.json');
  const config = writeConfig(dir, {
    event: { new: {}, update: {}, destroy: {} },
    outputs: [
      { output: 'stdout', format: 'vyos' },
      { output: 'file', output_file: json, format: 'json', event: { destroy: { tcp: {}, udp: {} } } },
      {
        name: 'audit',
        output: 'syslog',
        syslog_host: '127.0.0.1',
        syslog_protocol: 'tls',
        syslog_tls_ca: certs.file('ca.pem'),
        format: 'conntrack',
        conntrack_options: ['id'],
        event: { new: {} },
      },
    ],
  });
  const three = await startCtlogd(ns, ['-c', config, '--stats-interval', '0']);
  const ref = await startCtlogd(ns, ['--format', 'json']);
  traffic(ns);
  assert.equal(await stop(three), 0, three.stderr);
  assert.equal(await stop(ref), 0, ref.stderr);

  const all = ref.lines.map(fromJson);
  assert.ok(
    ['new', 'update', 'destroy'].every((type) => all.some((e) => e.type === type)),
    'the traffic made every event type',
  );
  assert.ok(
    all.some((e) => e.type === 'destroy' && e.proto === 'icmp'),
    'and destroys that the file must not get',
  );
  // stdout: every event, as vyos lines (`[NEW] ID proto ...`).
  const vyos = three.lines.map((l) => {
    const m = /^\[(NEW|UPDATE|DESTROY)\] +(\d+) /.exec(l);
    assert.ok(m, l);
    return `${m[1].toLowerCase()} ${m[2]}`;
  });
  assert.deepEqual(vyos, all.map(key), 'stdout: every event, in order');
  // The file: json lines of TCP and UDP DESTROY events only.
  const destroys = all.filter((e) => e.type === 'destroy' && (e.proto === 'tcp' || e.proto === 'udp'));
  assert.ok(destroys.length > 0);
  assert.deepEqual(fileLines(json).map(fromJson).map(key), destroys.map(key), 'the file: its own events, in order');
  // TLS syslog: conntrack lines (`[NEW] ... id=ID`) of NEW events only.
  const news = all.filter((e) => e.type === 'new');
  const got = await rs.until('tls', news.length);
  const audit = got.map((r) => {
    const m = /^ *\[NEW\] .* id=(\d+)$/.exec(r.msg);
    assert.ok(m, r.msg);
    return `new ${m[1]}`;
  });
  assert.deepEqual(audit, news.map(key), 'TLS syslog: its own events, in order');

  // The counters: one received, each output its own.
  const s = stats(three.stderr);
  assert.equal(s.received, all.length, three.stderr);
  assert.deepEqual([s['stdout.written'], s['file.written'], s['audit.written']], [all.length, destroys.length, news.length]);
  assert.deepEqual([s['stdout.skipped'], s['file.skipped'], s['audit.skipped']], [0, all.length - destroys.length, all.length - news.length]);
  for (const name of ['stdout', 'file', 'audit']) {
    assert.ok(handed(s, name), `${name}: every event accounted for: ${three.stderr}`);
    assert.equal(s[`${name}.output_lost`] + s[`${name}.output_waiting`], 0, name);
  }
  assert.match(three.stderr, / output=stdout written=\d+ .* output=file written=\d+ .* output=audit written=\d+ /);
});

test('a stalled TCP syslog output beside a file: the file has every line while syslog waits; syslog loses only its own, exactly what never arrived', async (t) => {
  const { ns } = setup(t, 'outputs-stall');
  const stalled = new Lines(ns.spawn(process.execPath, [path.join(ROOT, '__test__/helpers/stalled.mjs'), String(PORT)]));
  await stalled.until(() => stalled.lines.includes('listening'), 'the stalled receiver to listen');
  const dir = tempDir(t);
  const json = path.join(dir, 'events.json');
  const config = writeConfig(dir, {
    event: { new: {}, update: {}, destroy: {} },
    outputs: [
      { output: 'file', output_file: json, format: 'json' },
      { name: 'remote', output: 'syslog', syslog_host: '127.0.0.1', syslog_port: PORT, syslog_protocol: 'tcp', format: 'json' },
    ],
  });
  const sys = await startCtlogd(ns, ['-c', config]);
  const n = 40_000;
  ns.traffic(`udpflood:${n}:20000`);
  ns.exec('conntrack', ['-F']);
  // The syslog queue fills and drops; the file output is not held by it.
  await sys.until(() => /output remote: .*16 MiB of lines are waiting; dropping new lines \(counted\)/.test(sys.stderr), 'the full queue');
  const during = await statsWhen(sys, (s) => s.received === 2 * n && s['file.written'] === s.received, 'every line in the file');
  assert.ok(during['remote.output_lost'] > 0, 'syslog drops meanwhile');
  assert.equal(fileLines(json).length, 2 * n, 'the file has every line while syslog is stalled');

  assert.equal(await stop(sys), 0, sys.stderr);
  const s = stats(sys.stderr);
  assert.equal(s.received, 2 * n);
  assert.equal(s.lost + s.dropped + s.filtered, 0, sys.stderr);
  // The file: every line, none lost.
  assert.deepEqual([s['file.written'], s['file.output_lost'], s['file.output_waiting']], [2 * n, 0, 0]);
  assert.equal(fileLines(json).length, 2 * n);
  // syslog: what it did not write it counted lost, and nothing waits.
  assert.equal(s['remote.written'] + s['remote.output_lost'], 2 * n, sys.stderr);
  assert.equal(s['remote.output_waiting'], 0);
  // The receiver reads what it holds now: exactly the lines counted written, so the lost are what never arrived.
  stalled.child.kill('SIGUSR2');
  await stalled.until(() => stalled.lines.length >= 2, 'the stalled receiver to read');
  const arrived = Number(stalled.lines[1]);
  assert.equal(arrived, s['remote.written'], 'the receiver has exactly the lines counted written');
  assert.equal(s['remote.output_lost'], 2 * n - arrived, "syslog's lost are the lines that never arrived");
});

test('a reload that changes the file output reopens it alone: the TCP syslog connection stays up (one connection at the receiver), no line lost', async (t) => {
  const { ns, rs } = setup(t, 'outputs-reload');
  await rs.start();
  const connections = countConnections(ns, PORT);
  const dir = tempDir(t);
  const first = path.join(dir, 'first.log');
  const second = path.join(dir, 'second.log');
  const conf = (file: string) => ({
    event: { new: {}, destroy: {} },
    outputs: [
      { output: 'file', output_file: file, format: 'json' },
      { output: 'syslog', syslog_host: '127.0.0.1', syslog_port: PORT, syslog_protocol: 'tcp', format: 'json' },
    ],
  });
  const config = writeConfig(dir, conf(first));
  const sys = await startCtlogd(ns, ['-c', config]);
  const ref = await startCtlogd(ns, ['-c', writeConfig(dir, { event: { new: {}, destroy: {} }, format: 'json' }, 'ref.json')]);
  traffic(ns);
  await statsWhen(sys, (s) => s.received > 0 && s['syslog.written'] === s.received && s['file.written'] === s.received, 'the first lines written');
  assert.equal(connections(), 1, 'one connection to rsyslog');
  const before = stats(sys.stderr).received;

  writeConfig(dir, conf(second));
  sys.child.kill('SIGHUP');
  await sys.until(() => /configuration reloaded/.test(sys.stderr), 'the reload');
  traffic(ns);
  await statsWhen(sys, (s) => s.received > before && s['syslog.written'] === s.received && s['file.written'] === s.received, 'the lines after the reload');
  assert.equal(await stop(sys), 0, sys.stderr);
  assert.equal(await stop(ref), 0);

  assert.equal(connections(), 1, 'still the one connection: the reload left it up');
  const all = ref.lines.map(fromJson).map(key);
  const firstLines = fileLines(first).map(fromJson).map(key);
  const secondLines = fileLines(second).map(fromJson).map(key);
  assert.equal(firstLines.length, before, 'the first file: the lines before the reload');
  assert.ok(secondLines.length > 0, 'the second file: the lines after it');
  assert.deepEqual([...firstLines, ...secondLines], all, 'the two files hold every event once, in order');
  const got = await rs.until('tcp', all.length);
  assert.deepEqual(
    got.map((r) => key(fromJson(r.msg.trim()))),
    all,
    'syslog: every event once, in order, over the one connection',
  );
  assert.doesNotMatch(sys.stderr, /connection lost|connected again/, 'no reconnect said');
});
