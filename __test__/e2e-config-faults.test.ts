/**
 * A running ctlogd given what is not a config on SIGHUP, on real kernel
 * events: a FIFO at the config's path, /dev/zero, a 10 MB file, JSON nested
 * 5,000 deep, a key given twice, a bad host name. Each is refused in one
 * line, the running config is kept, events go on being written, and the
 * daemon still stops on SIGTERM within 2 s. (The same inputs at start are
 * in config.test.ts and cli.test.ts: they fail before any capture.)
 */
import { type TestContext, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Lines, startCtlogd } from './helpers/ctlogd.js';
import { checkPrerequisites, Netns } from './helpers/netns.js';

interface J {
  type: string;
  orig: { dport?: number };
}

const GOOD = { event: { new: { udp: {} } }, format: 'json' };
const REFUSED = /^ctlogd: error: reload refused, keeping the running config: config \S+: /;

/** The NEW ports written so far. */
const ports = (out: Lines): number[] =>
  out.lines
    .filter(Boolean)
    .map((l) => JSON.parse(l) as J)
    .map((e) => e.orig.dport!);

/** A UDP flow to `port`, and its NEW line written by the running daemon. */
async function flowWritten(ns: Netns, out: Lines, port: number): Promise<void> {
  ns.traffic(`udpsend:${port}`);
  await out.until(() => ports(out).includes(port), `the NEW of port ${port}`);
}

/** SIGHUP, then the line that answers it (a refusal or "configuration reloaded"), which is returned. */
async function hup(out: Lines): Promise<string> {
  const seen = out.stderr.split('\n').length;
  out.child.kill('SIGHUP');
  const answer = () =>
    out.stderr
      .split('\n')
      .slice(seen - 1)
      .find((l) => l.includes('reload refused') || l.includes('configuration reloaded'));
  await out.until(() => answer() !== undefined, 'the answer to SIGHUP');
  return answer()!;
}

/** ctlogd running in a namespace of its own on GOOD, at `conf`; both removed after the test. */
async function started(t: TestContext, tag: string): Promise<{ ns: Netns; conf: string; out: Lines }> {
  checkPrerequisites();
  const ns = new Netns(tag);
  const dir = mkdtempSync(path.join(tmpdir(), 'ctlogd-faults-'));
  t.after(() => {
    ns.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  const conf = path.join(dir, 'ctlogd.json');
  writeFileSync(conf, JSON.stringify(GOOD));
  return { ns, conf, out: await startCtlogd(ns, ['-c', conf]) };
}

/** SIGTERM, and how long the exit took; exit 0 asserted. */
async function stopTimed(out: Lines): Promise<number> {
  const t0 = Date.now();
  out.child.kill('SIGTERM');
  const code = await out.exited;
  const ms = Date.now() - t0;
  assert.equal(code, 0, out.stderr);
  return ms;
}

test('SIGHUP with a FIFO at the config path: refused at once, events still written, SIGTERM still stops it within 2 s', async (t) => {
  const { ns, conf, out } = await started(t, 'cfgfifo');
  await flowWritten(ns, out, 6001);
  // Nobody ever writes to it: a reader that opened it blocking would wait forever.
  rmSync(conf);
  execFileSync('mkfifo', [conf]);
  assert.match(await hup(out), new RegExp(`${REFUSED.source}not a regular file \\(a FIFO\\); a config is a JSON file$`));
  await flowWritten(ns, out, 6002);
  assert.ok((await stopTimed(out)) < 2000, 'stopped within 2 s');
  assert.deepEqual(ports(out), [6001, 6002]);
  assert.doesNotMatch(out.stderr, /stop deadline passed|internal error/);
});

test('SIGHUP with odd configs: /dev/zero, 10 MB, nested 5,000 deep, duplicate keys, a 100 kB or bad host name: one line each, the old config kept, events go on', async (t) => {
  const { ns, conf, out } = await started(t, 'cfgodd');
  // A new file each time: written through, the /dev/zero link would stay.
  const put = (text: string) => {
    rmSync(conf, { force: true });
    writeFileSync(conf, text);
  };
  const faults: Array<[string, () => void, RegExp]> = [
    [
      '/dev/zero',
      () => {
        rmSync(conf);
        symlinkSync('/dev/zero', conf);
      },
      /not a regular file \(a character device\); a config is a JSON file$/,
    ],
    // Invalid JSON too: it is refused for its size, before a byte is read.
    ['a 10 MB invalid file', () => put(`{${'x'.repeat(10 * 1024 * 1024)}`), /too big: 10485761 bytes; a config is at most 1048576 bytes \(1 MiB\)$/],
    [
      'JSON nested 5,000 deep',
      () => put(`{"event": ${'['.repeat(5000)}${']'.repeat(5000)}}`),
      /nested too deep at line 1, column 74: objects and arrays more than 64 deep; at most 64 are allowed \(a VyOS config is 4 deep\)$/,
    ],
    [
      'a key given twice, nested',
      () => put('{"event": {"new": {"udp": {}, "udp": {}}}, "format": "json"}'),
      /event\.new\.udp: given twice \(again at line 1, column 31\); a key may appear only once$/,
    ],
    [
      'a key given twice, at the top',
      () => put('{"event": {"new": {}}, "format": "json", "format": "vyos"}'),
      /format: given twice \(again at line 1, column 42\); a key may appear only once$/,
    ],
    [
      'a 100 kB syslog_host',
      () => put(JSON.stringify({ ...GOOD, output: 'syslog', syslog_host: 'h'.repeat(100000) })),
      /syslog_host: must be an IP address, or a host name \(RFC 1123: .*\), or empty \(a string\): value was "h{59}…\(100002 bytes\)$/,
    ],
    [
      'a bad host name',
      () => put(JSON.stringify({ ...GOOD, output: 'syslog', syslog_host: 'log_host.example' })),
      /syslog_host: must be an IP address, or a host name .*: value was "log_host\.example"$/,
    ],
  ];
  let port = 7000;
  await flowWritten(ns, out, port);
  for (const [what, make, re] of faults) {
    make();
    const line = await hup(out);
    assert.match(line, REFUSED, what);
    assert.match(line, re, what);
    // The old config is kept: json lines, on stdout, still.
    await flowWritten(ns, out, ++port);
  }
  // A good config is taken again after all that.
  put(JSON.stringify({ ...GOOD, queue_size: '1000' }));
  assert.match(await hup(out), /configuration reloaded$/);
  await flowWritten(ns, out, ++port);
  assert.ok((await stopTimed(out)) < 2000, 'stopped within 2 s');
  assert.deepEqual(
    ports(out),
    Array.from({ length: faults.length + 2 }, (_, i) => 7000 + i),
  );
  assert.doesNotMatch(out.stderr, /RangeError|internal error|^\s+at /m);
  assert.equal(out.stderr.match(/reload refused/g)?.length, faults.length, 'one line per refusal');
});
