/**
 * Permission hints from the running service: one warning line each for a
 * config others may write, an existing log everyone may read, a TLS key
 * others may read; at start, and at a reload only for a file that changed
 * (logrotate's new file). Warnings only: ctlogd runs on.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Certs } from './helpers/certs.js';
import { type Lines, startCtlogd, stop } from './helpers/ctlogd.js';
import { checkPrerequisites, Netns } from './helpers/netns.js';

const DIR = mkdtempSync(path.join(tmpdir(), 'ctlogd-hints-'));
let ns: Netns;
before(() => {
  checkPrerequisites();
  ns = new Netns('hints');
});
after(() => {
  ns?.destroy();
  rmSync(DIR, { recursive: true, force: true });
});

/** The hint lines ctlogd has said so far, by what they are about. */
const hints = (l: Lines): string[] =>
  l.stderr
    .split('\n')
    .filter((s) => / is (writable|readable|owned) by /.test(s))
    .map((s) => s.split(' is ')[0]);

/** SIGHUP, and the reload's last line. */
async function reload(l: Lines): Promise<void> {
  const n = l.stderr.split('configuration reloaded').length;
  l.child.kill('SIGHUP');
  await l.until(() => l.stderr.split('configuration reloaded').length > n, 'the reload');
}

test('a config others may write and a log all may read: a warning each at start, again only for a changed file', async () => {
  const config = path.join(DIR, 'ctlogd.json');
  const log = path.join(DIR, 'events.log');
  writeFileSync(config, JSON.stringify({ event: { new: {} }, output: 'file', output_file: log }));
  chmodSync(config, 0o666);
  writeFileSync(log, '');
  chmodSync(log, 0o644);
  const l = await startCtlogd(ns, ['-c', config]);
  try {
    assert.deepEqual(hints(l), [`ctlogd: warn: config ${config}`, `ctlogd: warn: output_file ${log}`]);
    assert.match(l.stderr, /config \S+ is writable by group and others \(mode 0666\)/);
    assert.match(l.stderr, /output_file \S+ is readable by others \(mode 0644\)/);
    // Nothing changed: nothing said again.
    await reload(l);
    assert.equal(hints(l).length, 2, l.stderr);
    // logrotate (create 0644) and a reload: the new file is said; the config, fixed, is not.
    renameSync(log, `${log}.1`);
    writeFileSync(log, '');
    chmodSync(log, 0o644);
    chmodSync(config, 0o640);
    await reload(l);
    assert.deepEqual(hints(l).slice(2), [`ctlogd: warn: output_file ${log}`]);
  } finally {
    assert.equal(await stop(l), 0);
  }
});

test('a syslog TLS key others may read: a warning at start', async () => {
  const certs = new Certs();
  try {
    const client = certs.leaf('client', ['DNS:client'], 'clientAuth');
    chmodSync(client.key, 0o644);
    const config = path.join(DIR, 'tls.json');
    writeFileSync(
      config,
      JSON.stringify({
        event: { new: {} },
        output: 'syslog',
        syslog_host: '127.0.0.1',
        syslog_protocol: 'tls',
        syslog_tls_ca: certs.file('ca.pem'),
        syslog_tls_cert: client.cert,
        syslog_tls_key: client.key,
      }),
    );
    const l = await startCtlogd(ns, ['-c', config]);
    assert.deepEqual(hints(l), [`ctlogd: warn: syslog_tls_key ${client.key}`]);
    assert.match(l.stderr, /syslog_tls_key \S+ is readable by group and others \(mode 0644\): .*LoadCredential=/);
    assert.equal(await stop(l), 0);
  } finally {
    certs.remove();
  }
});
