/** The command line: help, version, and one clear line with a documented exit code for bad input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { configKeys } from '../src/config.js';
import { CTLOGD, ROOT } from './helpers/ctlogd.js';

function run(args: string[]) {
  const r = spawnSync(process.execPath, [CTLOGD, ...args], { encoding: 'utf8', timeout: 10000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('--help and --version', () => {
  const h = run(['--help']);
  assert.equal(h.code, 0);
  assert.match(h.out, /^Usage: ctlogd/);
  assert.match(h.out, /--config FILE/);
  const v = run(['--version']);
  assert.equal(v.code, 0);
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(v.out, `ctlogd ${pkg.version}\n`);
});

test('an unknown flag, a flag without its value, a word that is no flag: one line, exit 64', () => {
  for (const [args, re] of [
    [['--frobnicate'], /frobnicate/],
    [['--queue-size'], /--queue-size/],
    [['queue-size', '1'], /queue-size/],
    [['--reliable', 'yes'], /yes/],
  ] as Array<[string[], RegExp]>) {
    const r = run(args);
    assert.equal(r.code, 64, `${args.join(' ')}: ${r.err}`);
    assert.equal(r.err.trim().split('\n').length, 1);
    assert.match(r.err, re);
    assert.match(r.err, /; see ctlogd --help\n$/);
  }
  // The last of a repeated flag counts: "xml" is refused, "json" before it is not.
  const last = run(['--format', 'json', '--format', 'xml']);
  assert.equal(last.code, 78);
  assert.match(last.err, /value was "xml"/);
});

test("the command line's mistakes in ctlogd's own words, the same on every Node version: one line each, exit 64", () => {
  const x = 'x'.repeat(100000);
  for (const [args, line] of [
    [['--frobnicate'], '--frobnicate: unknown flag'],
    [['-x'], '-x: unknown flag'],
    [['-hx'], '-x: unknown flag'],
    [['--frobnicate=1'], '--frobnicate: unknown flag'],
    [['--queue-size'], '--queue-size: needs a value'],
    [['--queue-size', '--reliable'], "--queue-size: needs a value, not the flag --reliable (a value that starts with '-' is written --queue-size=--reliable)"],
    [['-c', '-f'], "-c: needs a value, not the flag -f (a value that starts with '-' is written --config=-f)"],
    [['queue-size', '1'], '"queue-size": not a flag; ctlogd takes flags only (--name VALUE or --name=VALUE)'],
    [['--', '--format'], '"--format": not a flag; ctlogd takes flags only (--name VALUE or --name=VALUE)'],
    [['--help=yes'], '--help: takes no value'],
    // A 100 kB flag name or word: cut to 60 characters and its size.
    [[`--${x}`], `--${'x'.repeat(58)}…(100002 bytes): unknown flag`],
    [[x], `"${'x'.repeat(60)}…(100000 bytes)": not a flag; ctlogd takes flags only (--name VALUE or --name=VALUE)`],
  ] as Array<[string[], string]>) {
    const r = run(args);
    assert.equal(r.code, 64, `${args.join(' ').slice(0, 80)}: ${r.err}`);
    assert.equal(r.err, `ctlogd: ${line}; see ctlogd --help\n`);
  }
});

test('a negative number for every numeric flag, either way it is written: the flag, the range and the value, exit 78', () => {
  const numeric = configKeys().filter((k) => k.arg && typeof k.default === 'number');
  assert.deepEqual(
    numeric.map((k) => k.arg),
    [
      'queue-size',
      'receive-buffer',
      'stats-interval',
      'syslog-port',
      'ipfix-port',
      'ipfix-domain-id',
      'ipfix-message-size',
      'ipfix-template-interval',
      'store-keep-days',
      'store-max-bytes',
      'store-sync-ms',
      'store-snapshot-interval',
    ],
  );
  for (const k of numeric) {
    for (const args of [[`--${k.arg}`, '-1'], [`--${k.arg}=-1`], [`--${k.arg}`, '-5']]) {
      const r = run(args);
      assert.equal(r.code, 78, `${args.join(' ')}: ${r.err}`);
      assert.equal(r.err, `ctlogd: --${k.arg} (${k.key}): must be ${k.allowed}: value was "${args.at(-1)!.replace(/^--[a-z-]+=/, '')}"\n`);
    }
  }
});

test('a boolean flag takes =true or =false; another value is refused as a bad value, exit 78', () => {
  const r = run(['--reliable=yes']);
  assert.equal(r.code, 78, r.err);
  assert.equal(r.err, 'ctlogd: --reliable (reliable): must be true or false (a JSON boolean, or the string "true" or "false"): value was "yes"\n');
  // --reliable=false is taken: the bad --format after it is what is refused.
  const f = run(['--reliable=false', '--format', 'f'.repeat(100000)]);
  assert.equal(f.code, 78, f.err);
  assert.equal(f.err, `ctlogd: --format (format): must be one of vyos, conntrack, json, ecs: value was "${'f'.repeat(59)}…(100002 bytes)\n`);
});

test('a bad config: one line naming key, value and what is allowed, exit 78', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ctlogd-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cases: Array<[unknown, RegExp]> = [
    [{ event: { new: { sctp: {} } } }, /event\.new: unknown protocol "sctp"; allowed: tcp, udp, icmp, other/],
    [{ event: { create: {} } }, /unknown event type "create"; allowed: new, update, destroy/],
    [{ event: { new: {} }, queue_size: '0' }, /queue_size: must be an integer from 1 to 2147483647 .*: value was "0"$/m],
    [{ event: { new: {} }, colour: 'red' }, /colour: unknown key; allowed: /],
    [{}, /event: missing; must be an object naming at least one event type/],
    [{ event: [] }, /event: must be an object naming at least one event type .*: value was \[\]/],
  ];
  for (const [conf, re] of cases) {
    const f = path.join(dir, 'c.json');
    writeFileSync(f, JSON.stringify(conf));
    const r = run(['-c', f]);
    assert.equal(r.code, 78, `${JSON.stringify(conf)}: ${r.err}`);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    assert.match(r.err, re);
  }
  const missing = run(['-c', path.join(dir, 'nope.json')]);
  assert.equal(missing.code, 78);
  assert.match(missing.err, /nope\.json: cannot read: no such file/);
  const badFormat = run(['--format', 'xml']);
  assert.equal(badFormat.code, 78);
  assert.match(badFormat.err, /--format \(format\): must be one of vyos, conntrack, json, ecs: value was "xml"/);
});

test('a kernel without conntrack netlink (EPROTONOSUPPORT, EAFNOSUPPORT): one line naming nf_conntrack_netlink, exit 69', () => {
  // The kernel's answer made real: a seccomp filter fails the socket call
  // as a kernel without the module does (helpers/deny-netlink.py).
  const python = '/usr/bin/python3';
  const probe = spawnSync(python, ['-c', 'import seccomp'], { encoding: 'utf8' });
  assert.equal(probe.status, 0, `needs Debian's python3-seccomp (scripts/test.sh installs it): ${probe.stderr}`);
  for (const errno of ['EPROTONOSUPPORT', 'EAFNOSUPPORT']) {
    const r = spawnSync(python, [path.join(ROOT, '__test__/helpers/deny-netlink.py'), errno, process.execPath, CTLOGD], { encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 69, `${errno}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^ctlogd: no conntrack netlink here: needs the kernel module nf_conntrack_netlink \(modprobe nf_conntrack_netlink\)/);
    assert.match(lines[0], new RegExp(`: ${errno}: `));
  }
  assert.match(run(['--help']).out, /69 no native addon for this\nplatform, or no conntrack netlink in the kernel \(modprobe\nnf_conntrack_netlink\)/);
});
