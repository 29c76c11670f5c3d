/**
 * ctlogd as another user (uid 65534) meets it: run by that user, without
 * CAP_NET_ADMIN or on a config it may not read, and on a config that user
 * owns. Root is needed to become that user and to give it a file; the rest
 * of each is in cli.test.ts, config.test.ts and permissions.test.ts.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type HintConfig, permissionHints } from '../src/permissions.js';
import { CTLOGD } from './helpers/ctlogd.js';

if (process.getuid?.() !== 0) throw new Error('these tests need root: they run ctlogd as uid 65534 and chown a file to it');

const dir = mkdtempSync(path.join(tmpdir(), 'ctlogd-other-user-'));
// uid 65534 must reach the files.
chmodSync(dir, 0o755);
after(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;

/** A new file holding `text`, with this mode (chmod, whatever the umask). */
function file(text: string, mode: number): string {
  const f = path.join(dir, `f${++seq}`);
  writeFileSync(f, text);
  chmodSync(f, mode);
  return f;
}

/** bin/ctlogd.js run as uid 65534, with no capabilities. */
function asOther(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const argv = ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', process.execPath, CTLOGD, ...args];
  const r = spawnSync('setpriv', argv, { encoding: 'utf8', timeout: 10000, env });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('without CAP_NET_ADMIN: one line saying so, exit 77', () => {
  const r = asOther([]);
  assert.equal(r.code, 77, r.err);
  assert.match(r.err, /^ctlogd: needs CAP_NET_ADMIN/);
  assert.equal(r.err.trim().split('\n').length, 1);
});

test('the CLI: a file it has no permission to read (mode 000, uid 65534)', () => {
  const f = file(JSON.stringify({ event: { new: {} } }, null, 4), 0o000);
  // Without the caller's CTLOGD_* variables, as config.test.ts runs the CLI.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CTLOGD_')));
  const r = asOther(['-c', f], env);
  assert.equal(r.code, 78, r.err);
  assert.equal(r.out, '');
  assert.match(r.err, /^ctlogd: [^\n]*\n$/, `not exactly one line: ${JSON.stringify(r.err)}`);
  assert.match(r.err.trimEnd(), /^ctlogd: config \S+: cannot read: permission denied \(uid 65534\); a JSON file is expected$/);
});

test('a config owned by another user (not root) is a hint', () => {
  const NONE: HintConfig = { outputs: [] };
  const config = file('{}', 0o644);
  chownSync(config, 65534, 65534);
  assert.deepEqual(
    permissionHints(config, NONE, 0).map((h) => h.text),
    [`config ${config} is owned by uid 65534, not root: that user chooses what ctlogd logs and where; chown root ${config}`],
  );
  // ctlogd's own file (a user running it on their own config) is not.
  assert.deepEqual(permissionHints(config, NONE, 65534), []);
});
