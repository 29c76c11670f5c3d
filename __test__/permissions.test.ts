/**
 * Permission hints (src/permissions.ts): a config others may write, a TLS
 * key others may read, a log everyone may read; each one warning, said
 * again only once its file changed. Temp files with chmod: no root needed
 * (the owner case chowns, in e2e-other-user.test.ts).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { OutputConfig } from '../src/config.js';
import { configHints, keyHints, outputFileHints, PermissionHints, permissionHints, type HintConfig } from '../src/permissions.js';

const DIR = mkdtempSync(path.join(tmpdir(), 'ctlogd-permissions-'));
after(() => rmSync(DIR, { recursive: true, force: true }));
let seq = 0;

/** A new file with this mode (chmod, whatever the umask). */
function file(mode: number, name = `f${++seq}`): string {
  const f = path.join(DIR, name);
  writeFileSync(f, '{}');
  chmodSync(f, mode);
  return f;
}

const SELF = process.geteuid?.() ?? 0;
/** The keys of one output the hints look at. */
type Output = Pick<OutputConfig, 'output' | 'output_file' | 'syslog_host' | 'syslog_protocol' | 'syslog_tls_key'>;
const NONE: Output = { output: 'stdout', output_file: '', syslog_host: '', syslog_protocol: 'udp', syslog_tls_key: '' };
/** A config of these outputs, as the hints see one. */
const hintConfig = (...outputs: Output[]): HintConfig => ({ outputs: outputs as OutputConfig[] });

test('the config: writable by group or others, or owned by another user than root or ctlogd, is a hint', () => {
  assert.deepEqual(configHints('c.json', { mode: 0o100644, uid: 0 }, 0), []);
  assert.deepEqual(configHints('c.json', { mode: 0o100600, uid: 1000 }, 1000), []);
  assert.deepEqual(configHints('c.json', { mode: 0o100664, uid: 0 }, 0), [
    'config c.json is writable by group (mode 0664): they choose what ctlogd logs and where; chmod go-w c.json',
  ]);
  assert.deepEqual(configHints('c.json', { mode: 0o100646, uid: 0 }, 0), [
    'config c.json is writable by others (mode 0646): they choose what ctlogd logs and where; chmod go-w c.json',
  ]);
  assert.deepEqual(configHints('c.json', { mode: 0o100666, uid: 1000 }, 0), [
    'config c.json is writable by group and others (mode 0666): they choose what ctlogd logs and where; chmod go-w c.json',
    'config c.json is owned by uid 1000, not root: that user chooses what ctlogd logs and where; chown root c.json',
  ]);
});

test('the TLS key: readable by group or others is a hint; the log: readable by others is', () => {
  assert.deepEqual(keyHints('syslog_tls_key', 'k', { mode: 0o100600, uid: 0 }), []);
  assert.deepEqual(keyHints('syslog_tls_key', 'k', { mode: 0o100400, uid: 0 }), []);
  assert.match(
    keyHints('syslog_tls_key', 'k', { mode: 0o100640, uid: 0 }).join('\n'),
    /^syslog_tls_key k is readable by group \(mode 0640\): .*chmod go= k .*LoadCredential=/,
  );
  assert.match(keyHints('syslog_tls_key', 'k', { mode: 0o100604, uid: 0 }).join('\n'), /^syslog_tls_key k is readable by others \(mode 0604\)/);
  assert.equal(keyHints('syslog_tls_key', 'k', { mode: 0o100644, uid: 0 }).length, 1);
  assert.deepEqual(outputFileHints('output_file', 'l', { mode: 0o100640, uid: 0 }), []);
  assert.deepEqual(outputFileHints('output_file', 'l', { mode: 0o100644, uid: 0 }), [
    'output_file l is readable by others (mode 0644): its lines say who talked to whom; chmod o-r l',
  ]);
});

test('the files a config names, as they are on disk; one not there, or not used, is no hint', () => {
  const config = file(0o666);
  const key = file(0o644);
  const log = file(0o644);
  const tls: Output = { ...NONE, output: 'syslog', syslog_host: '192.0.2.1', syslog_protocol: 'tls', syslog_tls_key: key };
  assert.deepEqual(
    permissionHints(config, hintConfig(tls), SELF).map((h) => h.text.split(' is ')[0]),
    [`config ${config}`, `syslog_tls_key ${key}`],
  );
  // The key is read only for syslog over TLS; the log only for a file output.
  assert.deepEqual(permissionHints(undefined, hintConfig({ ...tls, syslog_protocol: 'tcp' }), SELF), []);
  assert.deepEqual(permissionHints(undefined, hintConfig({ ...tls, syslog_host: '' }), SELF), [], 'the local socket: no TLS');
  assert.deepEqual(
    permissionHints(undefined, hintConfig({ ...NONE, output: 'file', output_file: log }), SELF).map((h) => h.text),
    [`output_file ${log} is readable by others (mode 0644): its lines say who talked to whom; chmod o-r ${log}`],
  );
  assert.deepEqual(permissionHints(undefined, hintConfig({ ...NONE, syslog_tls_key: key }), SELF), []);
  // Every output's, with several.
  const other = file(0o604);
  assert.deepEqual(
    permissionHints(undefined, hintConfig({ ...NONE, output: 'file', output_file: log }, NONE, { ...NONE, output: 'file', output_file: other }, tls), SELF).map(
      (h) => h.text.split(' is ')[0],
    ),
    [`output_file ${log}`, `output_file ${other}`, `syslog_tls_key ${key}`],
  );
  assert.deepEqual(permissionHints(path.join(DIR, 'none.json'), hintConfig({ ...NONE, output: 'file', output_file: path.join(DIR, 'none.log') }), SELF), []);
  // Nothing to say of files as they should be.
  chmodSync(config, 0o644);
  chmodSync(key, 0o600);
  chmodSync(log, 0o640);
  assert.deepEqual(permissionHints(config, hintConfig(tls), SELF), []);
  assert.deepEqual(permissionHints(undefined, hintConfig({ ...NONE, output: 'file', output_file: log }), SELF), []);
});

test('each hint is said once; again when its file changed: another mode, another file at the path', () => {
  const config = file(0o664);
  const log = file(0o644);
  const c = hintConfig({ ...NONE, output: 'file', output_file: log });
  const hints = new PermissionHints();
  const said = (): string[] => hints.check(config, c).map((t) => t.split(' is ')[0]);
  assert.deepEqual(said(), [`config ${config}`, `output_file ${log}`]);
  // A reload with nothing changed says nothing.
  assert.deepEqual(said(), []);
  // Another mode that is still wrong: said again.
  chmodSync(config, 0o666);
  assert.deepEqual(said(), [`config ${config}`]);
  // logrotate's new file at the same path, readable by all again.
  renameSync(log, `${log}.1`);
  file(0o644, path.basename(log));
  assert.deepEqual(said(), [`output_file ${log}`]);
  // Fixed, then broken again: said again.
  chmodSync(config, 0o644);
  assert.deepEqual(said(), []);
  chmodSync(config, 0o666);
  assert.deepEqual(said(), [`config ${config}`]);
});

test('a path with a newline stays on one line', () => {
  const f = file(0o666, 'a\nb.json');
  const [h] = permissionHints(f, hintConfig(NONE), SELF);
  assert.ok(!h.text.includes('\n'), h.text);
  assert.match(h.text, /a\\x0ab\.json/);
});
