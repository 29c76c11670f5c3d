/** The command line: help, version, and one clear line with a documented exit code for bad input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CTLOGD, ROOT } from './helpers/netns.js';

function run(args: string[], opts: { user?: string } = {}) {
  const cmd = opts.user ? 'setpriv' : process.execPath;
  const argv = opts.user
    ? [`--reuid=${opts.user}`, `--regid=${opts.user}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', process.execPath, CTLOGD, ...args]
    : [CTLOGD, ...args];
  const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 10000 });
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

test('a bad config: one line naming key, value and what is allowed, exit 78', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ctlogd-cli-'));
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
  assert.match(badFormat.err, /--format \(format\): must be one of vyos, conntrack, json: value was "xml"/);
});

test('without CAP_NET_ADMIN: one line saying so, exit 77', () => {
  const r = run([], { user: '65534' });
  assert.equal(r.code, 77, r.err);
  assert.match(r.err, /^ctlogd: needs CAP_NET_ADMIN/);
  assert.equal(r.err.trim().split('\n').length, 1);
});
