/**
 * Syslog over TLS (RFC 5425) against a real rsyslog with its gtls driver,
 * on real kernel events, in a namespace each test makes (helpers/rsyslog.ts),
 * with a CA, server and client certificates made with openssl in a temp
 * dir (helpers/certs.ts). A second ctlogd on stdout is the reference, as in
 * e2e-syslog. Connection attempts are counted by an nftables counter on
 * the SYNs to rsyslog's TLS port: a refused server must see ctlogd retry.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Lines, startCtlogd, stats, statsWhen, stop, handed } from './helpers/ctlogd.js';
import type { Netns } from './helpers/netns.js';
import { Certs } from './helpers/certs.js';
import { assertDelivered, destination, PRI, reports, type Rsyslog, setup, TLS_PORT, traffic, type TlsInput } from './helpers/rsyslog.js';

function checkGtls(): void {
  try {
    execFileSync('sh', ['-c', 'ls /usr/lib/*/rsyslog/lmnsd_gtls.so'], { stdio: 'ignore' });
  } catch {
    throw new Error("the TLS syslog tests need rsyslog's gtls driver (Debian package rsyslog-gnutls)");
  }
}

/** Certificates for one test, removed after it. */
function certsFor(t: TestContext): Certs {
  checkGtls();
  const c = new Certs();
  t.after(() => c.remove());
  return c;
}

/** A namespace with rsyslog listening for TLS with `server`'s certificate, and an nftables counter of connection attempts to it. */
async function tlsSetup(t: TestContext, tag: string, c: Certs, server: { cert: string; key: string }, authMode: TlsInput['authMode'] = 'anon') {
  const { ns, rs } = setup(t, tag, { ca: c.file('ca.pem'), cert: server.cert, key: server.key, authMode });
  ns.nft(`add table inet ctlogd_attempts
    add chain inet ctlogd_attempts in { type filter hook input priority 0; }
    add rule inet ctlogd_attempts in tcp dport ${TLS_PORT} tcp flags syn / syn,ack counter`);
  await rs.start();
  return { ns, rs };
}

/** TCP connections attempted to rsyslog's TLS port so far. */
function attempts(ns: Netns): number {
  const out = ns.exec('nft', ['list', 'table', 'inet', 'ctlogd_attempts']);
  return Number(/counter packets (\d+)/.exec(out)?.[1] ?? Number.NaN);
}

/** Every event received was written (none lost, none waiting), per type. */
function assertAllWritten(sys: Lines, ref: Lines): void {
  const s = stats(sys.stderr);
  assert.equal(s.written, ref.lines.length, sys.stderr);
  for (const k of ['new', 'update', 'destroy']) assert.equal(s[`written.${k}`], s[`received.${k}`] - s[`filtered.${k}`], `${k}: ${sys.stderr}`);
  assert.equal(s.output_lost, 0);
  assert.equal(s.output_waiting, 0);
}

test('tls: every line intact and in order on the default port 6514, the server checked by its IP address, counted written', async (t) => {
  const c = certsFor(t);
  const { ns, rs } = await tlsSetup(t, 'tls-round', c, c.leaf('server', ['DNS:syslog.test', 'IP:127.0.0.1'], 'serverAuth'));
  const sys = await startCtlogd(ns, [...destination('tls', rs), '--syslog-tls-ca', c.file('ca.pem'), '--format', 'json']);
  const ref = await startCtlogd(ns, ['--format', 'json']);
  traffic(ns);
  assert.equal(await stop(sys), 0, sys.stderr);
  assert.equal(await stop(ref), 0);
  const got = await rs.until('tls', ref.lines.length);
  assertDelivered('tls', got, ref, sys, PRI.daemon, 'ctlogd');
  assert.deepEqual(reports(sys), [], 'no trouble reported');
  assertAllWritten(sys, ref);
});

test('tls: syslog_tls_name is the name checked; a burst of 6,000 lines arrives whole and in order while ctlogd runs', async (t) => {
  const c = certsFor(t);
  const { ns, rs } = await tlsSetup(t, 'tls-burst', c, c.leaf('server', ['DNS:syslog.test'], 'serverAuth'));
  const sys = await startCtlogd(ns, [...destination('tls', rs), '--syslog-tls-ca', c.file('ca.pem'), '--syslog-tls-name', 'syslog.test']);
  const ref = await startCtlogd(ns, []);
  ns.traffic('udpflood:3000:20000');
  ns.exec('conntrack', ['-F']);
  assert.equal(await stop(ref), 0);
  assert.equal(ref.lines.length, 6000);
  await rs.until('tls', ref.lines.length, 20_000);
  await statsWhen(sys, (s) => handed(s) && s.output_waiting === 0, 'every line acknowledged');
  assert.equal(await stop(sys), 0, sys.stderr);
  assertDelivered('tls', rs.received('tls'), ref, sys, PRI.daemon, 'ctlogd');
  assert.deepEqual(reports(sys), [], 'no trouble reported');
  assertAllWritten(sys, ref);
});

/**
 * ctlogd against a server it must refuse: one error line naming `code`,
 * rsyslog received nothing, at least two attempts; at stop the lines it
 * held are counted lost, none written.
 */
async function assertRefused(ns: Netns, rs: Rsyslog, sys: Lines, code: string): Promise<void> {
  traffic(ns);
  await sys.until(() => reports(sys).length > 0, 'the refusal');
  // Retries after 0.2, 0.6 and 1.4 s.
  await sleep(1600);
  assert.ok(attempts(ns) >= 2, `${attempts(ns)} connection attempts`);
  assert.equal(await stop(sys), 0);
  const lines = reports(sys);
  assert.equal(lines.length, 2, `one line for the outage, one at stop:\n${sys.stderr}`);
  assert.equal(lines[0], `ctlogd: error: syslog tls 127.0.0.1:${TLS_PORT}: TLS handshake failed: ${code}; retrying, lines wait in memory (up to 16 MiB)`);
  assert.match(lines[1], /closing with \d+ lines not sent$/);
  assert.deepEqual(rs.received('tls'), [], 'rsyslog received nothing');
  const s = stats(sys.stderr);
  assert.equal(s.written, 0);
  assert.ok(s.output_lost > 0 && s.output_lost === s.received - s.filtered, sys.stderr);
}

test('tls: a server certificate for another name is refused (ERR_TLS_CERT_ALTNAME_INVALID), nothing sent, retried', async (t) => {
  const c = certsFor(t);
  const { ns, rs } = await tlsSetup(t, 'tls-name', c, c.leaf('server', ['DNS:other.test', 'IP:127.0.0.2'], 'serverAuth'));
  const sys = await startCtlogd(ns, [...destination('tls', rs), '--syslog-tls-ca', c.file('ca.pem')]);
  await assertRefused(ns, rs, sys, 'ERR_TLS_CERT_ALTNAME_INVALID');
  assert.match(rs.stderr, /handshake|TLS|error/i, "rsyslog's own word of the failed handshakes");
});

test('tls: a server certificate from a CA not trusted is refused (UNABLE_TO_VERIFY_LEAF_SIGNATURE), nothing sent, retried', async (t) => {
  const c = certsFor(t);
  const { ns, rs } = await tlsSetup(t, 'tls-ca', c, c.leaf('server', ['IP:127.0.0.1'], 'serverAuth', 'other-ca'));
  const sys = await startCtlogd(ns, [...destination('tls', rs), '--syslog-tls-ca', c.file('ca.pem')]);
  await assertRefused(ns, rs, sys, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
});

test('tls: rsyslog requires a client certificate (x509/certvalid): refused without syslog_tls_cert/key, nothing counted written; lines arrive with them', async (t) => {
  const c = certsFor(t);
  const { ns, rs } = await tlsSetup(t, 'tls-client', c, c.leaf('server', ['IP:127.0.0.1'], 'serverAuth'), 'x509/certvalid');
  const client = c.leaf('client', ['DNS:ctlogd.test'], 'clientAuth');
  const anon = await startCtlogd(ns, [...destination('tls', rs), '--syslog-tls-ca', c.file('ca.pem')]);
  traffic(ns);
  await anon.until(() => reports(anon).length > 0, 'the refusal');
  await sleep(1600);
  assert.ok(attempts(ns) >= 2, `${attempts(ns)} connection attempts`);
  assert.equal(await stop(anon), 0);
  assert.match(
    reports(anon)[0],
    new RegExp(
      `^ctlogd: error: syslog tls 127\\.0\\.0\\.1:${TLS_PORT}: refused right after the TLS handshake \\(does the server want a client certificate, or another one\\?\\): closed by the peer; retrying`,
    ),
  );
  assert.match(rs.stderr, /peer did not provide a certificate/, "rsyslog's reason");
  assert.deepEqual(rs.received('tls'), [], 'rsyslog received nothing');
  const s = stats(anon.stderr);
  assert.equal(s.written, 0, 'nothing counted written');
  assert.equal(s.output_lost, s.received - s.filtered);

  const sys = await startCtlogd(ns, [
    ...destination('tls', rs),
    '--syslog-tls-ca',
    c.file('ca.pem'),
    '--syslog-tls-cert',
    client.cert,
    '--syslog-tls-key',
    client.key,
  ]);
  const ref = await startCtlogd(ns, []);
  traffic(ns);
  assert.equal(await stop(sys), 0, sys.stderr);
  assert.equal(await stop(ref), 0);
  assertDelivered('tls', await rs.until('tls', ref.lines.length), ref, sys, PRI.daemon, 'ctlogd');
  assert.deepEqual(reports(sys), []);
  assertAllWritten(sys, ref);
});

test('tls: SIGHUP reads the CA file again: refused with the wrong CA, connected once the right one is in its place, the waiting lines arrive', async (t) => {
  const c = certsFor(t);
  const { ns, rs } = await tlsSetup(t, 'tls-hup', c, c.leaf('server', ['IP:127.0.0.1'], 'serverAuth'));
  const ca = c.file('trusted.pem');
  copyFileSync(c.file('other-ca.pem'), ca);
  const sys = await startCtlogd(ns, [...destination('tls', rs), '--syslog-tls-ca', ca]);
  const ref = await startCtlogd(ns, []);
  traffic(ns);
  await sys.until(() => /TLS handshake failed: UNABLE_TO_VERIFY_LEAF_SIGNATURE/.test(sys.stderr), 'the refusal');
  assert.equal(await stop(ref), 0);
  assert.deepEqual(rs.received('tls'), []);
  copyFileSync(c.file('ca.pem'), ca);
  sys.child.kill('SIGHUP');
  await sys.until(() => /configuration reloaded/.test(sys.stderr), 'the reload');
  await sys.until(() => /syslog tls \S+: connected again/.test(sys.stderr), 'the connection');
  const got = await rs.until('tls', ref.lines.length);
  await statsWhen(sys, (s) => handed(s) && s.output_waiting === 0, 'every line acknowledged');
  assert.equal(await stop(sys), 0);
  assertDelivered('tls', got, ref, sys, PRI.daemon, 'ctlogd');
  assertAllWritten(sys, ref);
  assert.equal(reports(sys).length, 2, `the outage and its end:\n${sys.stderr}`);
});

test('tls: a CA file gone bad on SIGHUP is said in the reload line; the certificates read before and the connection are kept', async (t) => {
  const c = certsFor(t);
  const { ns, rs } = await tlsSetup(t, 'tls-hup-bad', c, c.leaf('server', ['IP:127.0.0.1'], 'serverAuth'));
  const ca = c.file('trusted.pem');
  copyFileSync(c.file('ca.pem'), ca);
  const sys = await startCtlogd(ns, [...destination('tls', rs), '--syslog-tls-ca', ca]);
  const ref = await startCtlogd(ns, []);
  writeFileSync(ca, 'no certificate here\n');
  sys.child.kill('SIGHUP');
  await sys.until(() => /configuration reloaded/.test(sys.stderr), 'the reload');
  assert.match(
    sys.stderr,
    new RegExp(
      `ctlogd: warn: configuration reloaded, but the output was not reopened: syslog_tls_ca ${ca.replace(/[.]/g, '\\.')}: no PEM certificate \\(-----BEGIN CERTIFICATE-----\\) in it; the certificates read before are kept`,
    ),
  );
  traffic(ns);
  assert.equal(await stop(ref), 0);
  const got = await rs.until('tls', ref.lines.length);
  assert.equal(await stop(sys), 0);
  assertDelivered('tls', got, ref, sys, PRI.daemon, 'ctlogd');
  assert.deepEqual(reports(sys), []);
  assertAllWritten(sys, ref);
});
