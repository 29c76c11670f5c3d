/**
 * Reconnecting to a syslog peer that accepts and closes (helpers/closing.mjs):
 * over TCP at once, over TLS a second after the handshake (one closed at
 * once is taken for a refusal of ctlogd's certificate, ctlogd's TLS_SETTLE_MS,
 * and was never said to be up), in a namespace each test
 * makes (helpers/rsyslog.ts): the attempts are spaced by a growing backoff
 * (counted by an nftables counter on the SYNs to the port), the outage is
 * one line on stderr however many attempts it takes, and once rsyslog takes
 * the peer's place the lines that waited arrive and the outage's end is
 * said. A second ctlogd on stdout is the reference, as in e2e-syslog.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Lines, ROOT, startCtlogd, stats, statsWhen, stop, handed } from './helpers/ctlogd.js';
import type { Netns } from './helpers/netns.js';
import { Certs } from './helpers/certs.js';
import { assertDelivered, destination, PORT, PRI, reports, setup, TLS_PORT, traffic } from './helpers/rsyslog.js';

/** How long the peer accepts and closes. */
const FLAPPING_MS = 9_000;

/** TCP connections attempted to `port` so far. */
function attempts(ns: Netns): number {
  const out = ns.exec('nft', ['list', 'table', 'inet', 'ctlogd_attempts']);
  return Number(/counter packets (\d+)/.exec(out)?.[1] ?? Number.NaN);
}

async function closingThenRsyslog(t: TestContext, kind: 'tcp' | 'tls', closeAfterMs: number): Promise<void> {
  let certs: Certs | undefined;
  let server: { cert: string; key: string } | undefined;
  if (kind === 'tls') {
    try {
      execFileSync('sh', ['-c', 'ls /usr/lib/*/rsyslog/lmnsd_gtls.so'], { stdio: 'ignore' });
    } catch {
      throw new Error("the TLS syslog tests need rsyslog's gtls driver (Debian package rsyslog-gnutls)");
    }
    const c = new Certs();
    t.after(() => c.remove());
    certs = c;
    server = c.leaf('server', ['IP:127.0.0.1'], 'serverAuth');
  }
  const { ns, rs } = setup(t, `syslog-closing-${kind}`, certs && server ? { ca: certs.file('ca.pem'), ...server, authMode: 'anon' } : undefined);
  const port = kind === 'tls' ? TLS_PORT : PORT;
  ns.nft(`add table inet ctlogd_attempts
    add chain inet ctlogd_attempts in { type filter hook input priority 0; }
    add rule inet ctlogd_attempts in tcp dport ${port} tcp flags syn / syn,ack counter`);
  const peerArgs = [String(port), String(closeAfterMs), ...(server ? [server.cert, server.key] : [])];
  const peer = new Lines(ns.spawn(process.execPath, [path.join(ROOT, '__test__/helpers/closing.mjs'), ...peerArgs]));
  await peer.until(() => peer.lines.includes('listening'), 'the closing peer to listen');

  const tlsArgs = certs ? ['--syslog-tls-ca', certs.file('ca.pem')] : [];
  const started = Date.now();
  const sys = await startCtlogd(ns, [...destination(kind, rs), ...tlsArgs]);
  const ref = await startCtlogd(ns, []);
  await sleep(FLAPPING_MS - (Date.now() - started));
  const tried = attempts(ns);
  const accepted = peer.lines.filter((l) => l.startsWith('accepted')).length;
  const said = reports(sys);
  t.diagnostic(`${kind}: in ${FLAPPING_MS / 1000} s, ${tried} connection attempts (${accepted} accepted), ${said.length} lines on stderr about it`);
  // The waits between attempts: 0.2, 0.4, 0.8, 1.6, 3.2, 6.4 s. Closed at
  // once, the attempts are at about 0, 0.2, 0.6, 1.4, 3.0 and 6.2 s, the
  // next at 12.6 s; closed after a second, at 0, 1.2, 2.6, 4.4 and 7.0 s.
  assert.ok(tried >= 3 && tried <= 6, `${tried} connection attempts in ${FLAPPING_MS / 1000} s:\n${sys.stderr}`);
  assert.equal(said.length, 1, `one line for the outage, not one per attempt:\n${sys.stderr}`);
  assert.match(said[0], new RegExp(`^ctlogd: error: syslog ${kind} 127\\.0\\.0\\.1:${port}: .*; retrying, lines wait in memory \\(up to 16 MiB\\)$`));
  assert.equal(sys.child.exitCode, null, 'still running');

  // The peer goes; lines made now wait in memory; rsyslog takes its place.
  peer.child.kill('SIGKILL');
  await peer.exited;
  traffic(ns);
  await rs.start();
  assert.equal(await stop(ref), 0);
  // The next attempt is at most 10 s away, and the connection is said to
  // work once it has carried lines for 5 s.
  const got = await rs.until(kind, ref.lines.length, 20_000);
  await sys.until(() => /connected again/.test(sys.stderr), 'the end of the outage', 15_000);
  await statsWhen(sys, (s) => handed(s) && s.output_waiting === 0, 'every line acknowledged');
  assert.equal(await stop(sys), 0);
  assertDelivered(kind, got, ref, sys, PRI.daemon, 'ctlogd');
  const all = reports(sys);
  assert.equal(all.length, 2, `the outage and its end:\n${sys.stderr}`);
  assert.match(all[1], new RegExp(`^ctlogd: warn: syslog ${kind} 127\\.0\\.0\\.1:${port}: connected again$`));
  const s = stats(sys.stderr);
  assert.equal(s.written, ref.lines.length, sys.stderr);
  assert.equal(s.output_lost, 0);
  t.diagnostic(`${kind}: ${attempts(ns)} attempts in all, ${s.written} lines written after the outage`);
}

test('tcp: a peer that accepts and closes at once: few attempts, one line for the outage; rsyslog in its place gets the waiting lines, the end is said', async (t) => {
  await closingThenRsyslog(t, 'tcp', 0);
});

test('tls: a peer that closes a second after the handshake: few attempts, one line for the outage; rsyslog in its place gets the waiting lines, the end is said', async (t) => {
  await closingThenRsyslog(t, 'tls', 1000);
});
