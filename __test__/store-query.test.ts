/**
 * `ctlogd query`'s words: times and endpoints as people write them, the
 * command line's mistakes (one line, exit 64), no store (exit 66), and the
 * library's exports. The lookups themselves are tested on real stores in
 * e2e-store.test.ts and store-readers.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as lib from '../src/index.js';
import { LookupError, parseEndpoint, parseTime } from '../src/store-query.js';
import { utc } from '../src/query-cli.js';
import { CTLOGD } from './helpers/ctlogd.js';

const query = (args: string[]) => spawnSync(process.execPath, [CTLOGD, 'query', ...args], { encoding: 'utf8', timeout: 10000 });

test('times: RFC 3339 with any offset and fractions to the ns, or epoch seconds with a fraction', () => {
  const t = 1796551333n * 1_000_000_000n;
  assert.equal(parseTime('2026-12-06T10:02:13Z'), t);
  assert.equal(parseTime('2026-12-06t10:02:13z'), t);
  assert.equal(parseTime('2026-12-06 11:02:13+01:00'), t);
  assert.equal(parseTime('2026-12-06T04:32:13-05:30'), t);
  assert.equal(parseTime('2026-12-06T10:02:13.5Z'), t + 500_000_000n);
  assert.equal(parseTime('2026-12-06T10:02:13.000000001Z'), t + 1n);
  assert.equal(parseTime('1796551333'), t);
  assert.equal(parseTime('1796551333.25'), t + 250_000_000n);
  assert.equal(parseTime('1796551333.123456789'), t + 123_456_789n);
  for (const bad of ['2026-02-30T00:00:00Z', '2026-12-06T24:00:00Z', '2026-12-06T10:02:13', 'yesterday', '-5', '1.', '1796551333.1234567891', '']) {
    assert.throws(
      () => parseTime(bad, '--at'),
      (e: Error) => e instanceof LookupError && e.message.startsWith('--at: must be an RFC 3339 time'),
      bad,
    );
  }
  assert.equal(utc(String(t + 1n)), '2026-12-06T10:02:13.000000001Z');
  assert.equal(utc('-1'), '1969-12-31T23:59:59.999999999Z');
});

test('endpoints: ADDR, ADDR:PORT, [V6]:PORT; --nat needs the port', () => {
  assert.deepEqual(parseEndpoint('198.51.100.7:61000', '--nat', true), { addr: '198.51.100.7', port: 61000 });
  assert.deepEqual(parseEndpoint('[2001:db8::1]:443', '--nat', true), { addr: '2001:db8::1', port: 443 });
  assert.deepEqual(parseEndpoint('2001:db8::1', '--inside', false), { addr: '2001:db8::1' });
  assert.deepEqual(parseEndpoint('100.64.1.2', '--inside', false), { addr: '100.64.1.2' });
  for (const bad of ['198.51.100.7', '198.51.100.7:65536', '198.51.100.7:x', 'host:80', '[2001:db8::1]', '300.1.1.1:80']) {
    assert.throws(
      () => parseEndpoint(bad, '--nat', true),
      (e: Error) => e instanceof LookupError && e.message.startsWith('--nat: must be ADDRESS:PORT'),
      bad,
    );
  }
});

test('ctlogd query: a bad command line is one line and exit 64; no store there is exit 66', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ctlogd-query-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cases: Array<[string[], RegExp]> = [
    [['--nat', '198.51.100.7:1', '--at', '1'], /^ctlogd query: --store DIR: needed/],
    [['--store', dir, '--at', '1'], /needs one of --nat, --inside or --dst/],
    [['--store', dir, '--nat', '198.51.100.7:1', '--inside', '10.0.0.1', '--at', '1'], /not --nat and --inside/],
    [['--store', dir, '--nat', '198.51.100.7:1'], /--nat needs --at TIME/],
    [['--store', dir, '--inside', '10.0.0.1', '--from', '1'], /--inside needs --from and --to/],
    [['--store', dir, '--nat', '198.51.100.7:1', '--at', '1', '--from', '1', '--to', '2'], /--at: a moment, or --from and --to/],
    [['--store', dir, '--inside', '10.0.0.1', '--from', '5', '--to', '2'], /--from: must not be after --to/],
    [['--store', dir, '--nat', '198.51.100.7:1', '--at', '1', '--proto', 'tcpx'], /--proto: must be tcp, udp/],
    [['--store', dir, '--bogus'], /Unknown option '--bogus'/],
  ];
  for (const [args, re] of cases) {
    const r = query(args);
    assert.equal(r.status, 64, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.equal(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
    assert.equal(r.stdout, '');
  }
  for (const where of [path.join(dir, 'nothing'), dir]) {
    // Not there, or a directory no store was opened in.
    const none = query(['--store', where, '--nat', '198.51.100.7:1', '--at', '1']);
    assert.equal(none.status, 66, none.stderr);
    assert.match(none.stderr, /no store there \(ENOENT\)/);
  }
  writeFileSync(path.join(dir, '.lock'), '');
  // A batch: a bad line is said with its number, the others run; exit 64.
  const batch = path.join(dir, 'batch');
  writeFileSync(batch, '# comment\n--nat 198.51.100.7:1 --at 1\n--nat nope --at 1\n');
  const b = query(['--store', dir, '--batch', batch]);
  assert.equal(b.status, 64, b.stderr);
  assert.match(b.stderr, /line 3: --nat: must be ADDRESS:PORT/);
  const help = query(['--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /Exit status: 0 found, 1 none, 64 usage, 66 no store at DIR/);
});

test('the library exports the lookup', () => {
  assert.equal(typeof lib.queryStore, 'function');
  assert.equal(typeof lib.parseTime, 'function');
  assert.equal(lib.LookupError, LookupError);
});
