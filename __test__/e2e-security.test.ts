/**
 * ctlogd attacked as a local user, or misused as a careless operator
 * would, on real kernel events in namespaces of the tests' own: signals at
 * start-up (the inspector, SIGHUP), process names that would forge lines,
 * what may stand at output_file (a FIFO, a socket, a device, the config
 * itself, a file cut short, a file another ctlogd writes), and control
 * characters in paths. (Metrics scrape floods: e2e-security-metrics; the
 * unit's hardening: systemd.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CTLOGD, Lines, marker, ROOT, spawnCtlogd, startCtlogd, stats, statsWhen, stop } from './helpers/ctlogd.js';
import { checkPrerequisites, Netns } from './helpers/netns.js';
import { samples } from './helpers/metrics.js';

/** The launcher the npm package's `ctlogd` and the .deb's /usr/bin/ctlogd run. */
const LAUNCHER = path.join(ROOT, 'bin/ctlogd');
/** Node's default inspector port. */
const INSPECTOR = 9229;
function tmp(t: { after: (fn: () => void) => void }, tag: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `ctlogd-${tag}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Whether anything listens on TCP `port` in the namespace. */
function listening(ns: Netns, port: number): boolean {
  return ns
    .exec('ss', ['-Hltn'])
    .split('\n')
    .some((l) => l.includes(`:${port} `));
}

/** Waits until process `pid` runs node (the launcher and `ip netns exec` have exec'd it). */
async function untilNode(pid: number): Promise<void> {
  for (let i = 0; i < 500; i++) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'node') return;
    } catch {
      // Not there yet, or gone: the caller sees which.
    }
    await sleep(1);
  }
  throw new Error(`process ${pid} never ran node`);
}

/** Whether process `pid` has a handler for signal number `signo` (/proc's SigCgt). */
function catches(pid: number, signo: number): boolean {
  const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m !== null && ((BigInt(`0x${m[1]}`) >> BigInt(signo - 1)) & 1n) === 1n;
}

/** Whether process `pid` has loaded the native addon yet: ctlogd's start has begun. */
function addonLoaded(pid: number): boolean {
  return readFileSync(`/proc/${pid}/maps`, 'utf8').includes('.node');
}

/**
 * Waits until process `pid` catches SIGHUP, and says whether that was
 * before ctlogd's start (the addon not loaded yet).
 */
async function catchesBeforeStart(pid: number): Promise<boolean> {
  for (let i = 0; i < 5000 && !catches(pid, 1); i++) await sleep(1);
  return catches(pid, 1) && !addonLoaded(pid);
}

/** Runs the launcher in `ns` on the node running this suite (18.19 in CI's second pass). */
function launch(ns: Netns, args: string[]): Lines {
  return new Lines(ns.spawn(LAUNCHER, ['--log-level', 'debug', ...args], { PATH: `${path.dirname(process.execPath)}:${process.env.PATH}` }));
}

test('SIGUSR1 from the first moment node handles it never opens an inspector: the launcher, at 0 to 40 ms, and ctlogd.js run by hand once it runs', async (t) => {
  checkPrerequisites();
  const ns = new Netns('usr1');
  t.after(() => ns.destroy());
  for (const delay of [0, 2, 5, 10, 20, 40]) {
    const out = launch(ns, []);
    const pid = out.child.pid!;
    await untilNode(pid);
    // From when node has a handler of its own (before that, as for any
    // process, SIGUSR1 would end it: the unit restarts it then).
    for (let i = 0; i < 2000 && !catches(pid, 10); i++) await sleep(1);
    await sleep(delay);
    out.child.kill('SIGUSR1');
    await out.until(() => out.stderr.includes('listening'), 'ctlogd to listen');
    await sleep(300);
    assert.equal(listening(ns, INSPECTOR), false, `an inspector listens after SIGUSR1 at ${delay} ms:\n${out.stderr}`);
    assert.doesNotMatch(out.stderr, /Debugger listening|ws:\/\//, `at ${delay} ms`);
    assert.equal(await stop(out), 0, `at ${delay} ms, the process went on and stopped cleanly:\n${out.stderr}`);
  }
  // The reproduction, `node bin/ctlogd.js & sleep 0.08; kill -USR1`,
  // without the launcher: once the first line of ctlogd.js has run (its
  // handler is on), through the daemon's start, no inspector either.
  const out = spawnCtlogd(ns, []);
  const pid = out.child.pid!;
  await untilNode(pid);
  const early = await catchesBeforeStart(pid);
  for (let i = 0; i < 5; i++) {
    out.child.kill('SIGUSR1');
    await sleep(15);
  }
  await out.until(() => out.stderr.includes('listening'), 'ctlogd to listen');
  await out.until(() => out.stderr.includes('stats: '), 'the counters asked for during start-up');
  assert.equal(listening(ns, INSPECTOR), false, out.stderr);
  assert.ok(early, 'the handlers were on before the start began');
  assert.equal(await stop(out), 0);
});

test('SIGHUP during start-up (once ctlogd.js runs) never ends ctlogd: the config is re-read once it runs', async (t) => {
  checkPrerequisites();
  const ns = new Netns('hup');
  t.after(() => ns.destroy());
  const out = spawnCtlogd(ns, []);
  const pid = out.child.pid!;
  await untilNode(pid);
  assert.ok(await catchesBeforeStart(pid), 'SIGHUP is caught before the start begins');
  out.child.kill('SIGHUP');
  await out.until(() => out.stderr.includes('configuration reloaded'), 'the reload asked for during start-up');
  assert.ok(out.stderr.indexOf('listening') < out.stderr.indexOf('configuration reloaded'), out.stderr);
  const m = marker(61);
  m.insert(ns);
  await out.until(() => out.lines.some(m.match), 'an event after it');
  assert.equal(await stop(out), 0, out.stderr);
});

/**
 * A folder holding one file: a symlink to conntrack named `name` (any
 * bytes). A process's name (comm) is the basename it was run by.
 */
function conntrackNamed(t: { after: (fn: () => void) => void }, name: Buffer): string {
  const dir = tmp(t, 'name');
  const conntrack = spawnSync('sh', ['-c', 'command -v conntrack'], { encoding: 'utf8' }).stdout.trim();
  symlinkSync(conntrack, Buffer.concat([Buffer.from(`${dir}/`), name]));
  return dir;
}

/** Runs the symlink in `dir` (conntrackNamed) in `ns`: by a glob, as its name may not be UTF-8. */
function runNamed(ns: Netns, dir: string, args: string[]): void {
  const r = spawnSync('ip', ['netns', 'exec', ns.name, 'sh', '-c', 'exec ./* "$@"', 'sh', ...args], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

/**
 * `n` UDP flows, then a flush by the conntrack symlink at `link`: long
 * enough that the process is still there when the readers look up the
 * name behind the DESTROY events (a `conntrack -I` is gone at once).
 */
function flushNamed(ns: Netns, link: string, n: number): void {
  ns.traffic(`udpflood:${n}:20000`);
  runNamed(ns, link, ['-F']);
}

const N = 20_000;

/** A config file of DESTROY events only: the flush's. */
function destroyOnly(dir: string): string {
  const conf = path.join(dir, 'destroy.json');
  writeFileSync(conf, '{"event": {"destroy": {}}}\n');
  return conf;
}

test('a process name holding a newline writes one line per event, escaped: conntrack and json formats, and one syslog message each over the local socket', async (t) => {
  checkPrerequisites();
  const ns = new Netns('forge');
  t.after(() => ns.destroy());
  const link = conntrackNamed(t, Buffer.from('a\n[NEW] FORGED'));
  const dir = tmp(t, 'forge-sock');
  // A syslog receiver on a unix datagram socket, one datagram a line (Node has no unix datagram sockets).
  const sock = path.join(dir, 'log.sock');
  const py = spawn('python3', [
    '-c',
    `import socket,sys
s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(${JSON.stringify(sock)})
sys.stdout.write('ready\\n'); sys.stdout.flush()
while True:
    d=s.recv(65536); sys.stdout.write(repr(d)+'\\n'); sys.stdout.flush()`,
  ]);
  t.after(() => py.kill());
  const got = new Lines(py);
  await got.until(() => got.lines.includes('ready'), 'the receiver');

  const conf = destroyOnly(dir);
  const ct = await startCtlogd(ns, ['-c', conf, '--format', 'conntrack']);
  const js = await startCtlogd(ns, ['-c', conf, '--format', 'json']);
  const sys = await startCtlogd(ns, ['-c', conf, '--format', 'conntrack', '--output', 'syslog', '--syslog-socket', sock]);
  flushNamed(ns, link, N);
  for (const l of [ct, js]) await l.until(() => l.lines.length >= N, 'the flush', 30000);
  for (const l of [ct, js, sys]) assert.equal(await stop(l), 0);

  // One line per event, no more: the name never starts a line of its own.
  assert.equal(ct.lines.length, N);
  assert.equal(js.lines.length, N);
  assert.ok(
    ct.lines.every((l) => l.startsWith('[DESTROY] ')),
    'every line is an event line',
  );
  const named = ct.lines.filter((l) => l.endsWith(' progname=a\\x0a[NEW] FORGED')).length;
  assert.ok(named > 0, 'events named by it, escaped');
  assert.ok(
    js.lines.some((l) => JSON.parse(l).progname === 'a\\x0a[NEW] FORGED'),
    'json names it escaped',
  );
  // One message per line written over the local socket (its queue is
  // short: what it refused is counted lost), the name escaped in it.
  const messages = got.lines.filter((l) => l !== 'ready');
  const s = stats(sys.stderr);
  assert.equal(s.written + s.output_lost, N, sys.stderr);
  assert.equal(messages.length, s.written, 'as many messages as lines written');
  assert.ok(
    messages.every((l) => l.includes('[DESTROY] ')),
    'every message is an event',
  );
});

test('a process name that is not UTF-8 is shown escaped, not left out', async (t) => {
  checkPrerequisites();
  const ns = new Netns('utf8');
  t.after(() => ns.destroy());
  const link = conntrackNamed(t, Buffer.from([0x62, 0xff, 0xfe, 0x0d, 0x07, 0x7a]));
  const out = await startCtlogd(ns, ['-c', destroyOnly(tmp(t, 'utf8')), '--format', 'conntrack']);
  flushNamed(ns, link, N);
  await out.until(() => out.lines.length >= N, 'the flush', 30000);
  assert.equal(await stop(out), 0);
  assert.equal(out.lines.length, N);
  const named = out.lines.filter((l) => / \[USERSPACE\] portid=\d+ progname=b\\xff\\xfe\\x0d\\x07z$/.test(l)).length;
  assert.ok(named > 0, out.lines.slice(-3).join('\n'));
});

/** Runs ctlogd to its exit, at most `ms`; its exit code, stderr and how long it took. */
function runToExit(ns: Netns, args: string[], ms = 5000): { status: number | null; stderr: string; took: number } {
  const start = Date.now();
  const r = spawnSync('ip', ['netns', 'exec', ns.name, process.execPath, CTLOGD, ...args], { encoding: 'utf8', timeout: ms });
  return { status: r.status, stderr: r.stderr, took: Date.now() - start };
}

test('a FIFO, a socket or a device at output_file is refused at start with one line, exit 73, at once', async (t) => {
  checkPrerequisites();
  const ns = new Netns('fifo');
  t.after(() => ns.destroy());
  const dir = tmp(t, 'fifo');
  const fifo = path.join(dir, 'fifo');
  spawnSync('mkfifo', [fifo]);
  const sock = path.join(dir, 'sock');
  const server = createServer().listen(sock);
  t.after(() => server.close());
  await new Promise((r) => server.once('listening', r));
  for (const [file, kind] of [
    [fifo, 'a FIFO'],
    [sock, 'a socket'],
    ['/dev/null', 'a device'],
  ]) {
    const r = runToExit(ns, ['--output', 'file', '--output-file', file]);
    assert.equal(r.status, 73, `${file}: ${r.stderr}`);
    assert.equal(r.stderr, `ctlogd: output_file ${file}: is ${kind}; allowed: a regular file\n`);
    assert.ok(r.took < 3000, `${file}: took ${r.took} ms`);
  }
});

test('a FIFO swapped in before SIGHUP: the reload is refused with one line, the old file kept, the event loop never blocks, SIGTERM ends it within 2 s', async (t) => {
  checkPrerequisites();
  const ns = new Netns('fifohup');
  t.after(() => ns.destroy());
  const dir = tmp(t, 'fifohup');
  const file = path.join(dir, 'events.log');
  const out = await startCtlogd(ns, ['--output', 'file', '--output-file', file]);
  rmSync(file);
  spawnSync('mkfifo', [file]);
  out.child.kill('SIGHUP');
  await out.until(() => out.stderr.includes('configuration reloaded, but the output was not reopened'), 'the reload to be said');
  assert.match(out.stderr, new RegExp(`output_file ${file}: is a FIFO; allowed: a regular file; still writing to the file open before`));
  // The loop answers: counters on SIGUSR1, events still written (to the old file, now unlinked).
  const m = marker(63);
  m.insert(ns);
  const s = await statsWhen(out, (c) => c.written === 1, 'the event written');
  assert.equal(s.output_lost, 0);
  const start = Date.now();
  assert.equal(await stop(out), 0);
  assert.ok(Date.now() - start < 2000, `SIGTERM took ${Date.now() - start} ms`);
});

test('output_file naming the config file (under another name too) is refused, exit 78; the config is left as it was', async (t) => {
  checkPrerequisites();
  const ns = new Netns('selfcfg');
  t.after(() => ns.destroy());
  const dir = tmp(t, 'selfcfg');
  const conf = path.join(dir, 'ctlogd.json');
  const alias = path.join(dir, 'alias.json');
  for (const target of [conf, alias]) {
    const text = `${JSON.stringify({ event: { new: {} }, output: 'file', output_file: target })}\n`;
    writeFileSync(conf, text);
    rmSync(alias, { force: true });
    symlinkSync(conf, alias);
    const r = runToExit(ns, ['-c', conf]);
    assert.equal(r.status, 78, r.stderr);
    assert.equal(
      r.stderr,
      `ctlogd: config ${conf}: output_file: is the config file, which ctlogd reads; events appended to it would spoil it: name another file: value was "${target}"\n`,
    );
    assert.equal(readFileSync(conf, 'utf8'), text);
  }
});

/** GET /metrics from inside the namespace. */
function scrape(ns: Netns, port: number): Map<string, number> {
  return samples(ns.exec(process.execPath, ['-e', `fetch('http://127.0.0.1:${port}/metrics').then((r) => r.text()).then((b) => process.stdout.write(b))`]));
}

test('a file that ends in a cut line gets a newline before the next line, at start and on reopen; the cut line is counted once (cut_line)', async (t) => {
  checkPrerequisites();
  const ns = new Netns('cut');
  t.after(() => ns.destroy());
  const dir = tmp(t, 'cut');
  const file = path.join(dir, 'events.log');
  writeFileSync(file, '[NEW] partial');
  const port = 9471;
  const out = await startCtlogd(ns, ['--output', 'file', '--output-file', file, '--metrics-listen', `127.0.0.1:${port}`]);
  assert.match(out.stderr, new RegExp(`warn: output_file ${file}: ended in a line cut short`));
  marker(64).insert(ns);
  await statsWhen(out, (s) => s.written === 1, 'the first event written');
  let lines = readFileSync(file, 'utf8').split('\n');
  assert.equal(lines[0], '[NEW] partial');
  assert.match(lines[1], /^\[NEW\] .* src=198\.51\.100\.64 /);
  assert.equal(lines.length, 3, 'two lines, each ending in a newline');

  // Another writer cuts a line in the file; a reopen (logrotate's SIGHUP, no rotation) ends it too.
  appendFileSync(file, '[DESTROY] cut');
  out.child.kill('SIGHUP');
  await out.until(() => out.stderr.split('ended in a line cut short').length === 3, 'the cut found on reopen');
  marker(65).insert(ns);
  await statsWhen(out, (s) => s.written === 2, 'the second event written');
  lines = readFileSync(file, 'utf8').split('\n');
  assert.equal(lines[2], '[DESTROY] cut');
  assert.match(lines[3], /src=198\.51\.100\.65 /);
  assert.equal(lines.length, 5);
  assert.equal(scrape(ns, port).get('ctlogd_output_errors_total{output="file",cause="cut_line"}'), 2, 'each cut line counted once');
  assert.equal(await stop(out), 0);
});

test('a second ctlogd on the same output file is refused with one line, exit 73; the first goes on writing', async (t) => {
  checkPrerequisites();
  const ns = new Netns('lock');
  t.after(() => ns.destroy());
  const dir = tmp(t, 'lock');
  const file = path.join(dir, 'events.log');
  const first = await startCtlogd(ns, ['--output', 'file', '--output-file', file]);
  const alias = path.join(dir, 'alias.log');
  symlinkSync(file, alias);
  for (const f of [file, alias]) {
    const r = runToExit(ns, ['--output', 'file', '--output-file', f]);
    assert.equal(r.status, 73, r.stderr);
    assert.equal(
      r.stderr
        .split('\n')
        .filter((l) => !l.includes('readable by others'))
        .join('\n'),
      `ctlogd: output_file ${f}: another process writes it (it holds the lock): a second ctlogd on one file would write its lines twice\n`,
    );
  }
  // The lock goes with the process: once the first stops, a second may start.
  marker(66).insert(ns);
  await statsWhen(first, (s) => s.written === 1, 'the first still writing');
  assert.equal(await stop(first), 0);
  assert.equal(readFileSync(file, 'utf8').split('\n').length, 2, 'one line, written once');
  const again = await startCtlogd(ns, ['--output', 'file', '--output-file', file]);
  assert.equal(await stop(again), 0);
});

test('control characters in a path given on the command line stay on one stderr line', (t) => {
  const dir = tmp(t, 'ctl');
  mkdirSync(path.join(dir, 'no'), { recursive: true });
  const bad = path.join(dir, 'missing', 'x\nctlogd: info: FORGED');
  const r = spawnSync(process.execPath, [CTLOGD, '--output', 'file', '--output-file', bad], { encoding: 'utf8' });
  assert.equal(r.status, 73, r.stderr);
  assert.equal(r.stderr.split('\n').length, 2, `one line: ${JSON.stringify(r.stderr)}`);
  assert.ok(r.stderr.includes('x\\x0actlogd: info: FORGED: cannot open for appending: ENOENT'), r.stderr);
});
