/**
 * Syslog over TLS without root: the certificate files (what is refused,
 * in which words, and what SIGHUP keeps), the accounting of the TCP
 * link over TLS against a TLS server in this process on loopback, when
 * Node's TLS write callback comes, and what a framer of another output
 * shapes on the wire (a greeting, an encoding of its own). e2e-syslog-tls
 * proves the assembly against rsyslog's gtls.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadNative, native } from '../src/native.js';
import { Ledger, total } from '../src/output/ledger.js';
import { GOOD_AFTER_MS } from '../src/output/net/backoff.js';
import type { Framer, StreamFraming } from '../src/output/net/framer.js';
import { type NetTransport, tcpTransport } from '../src/output/net/index.js';
import { TlsFileError, TlsFiles } from '../src/output/net/tls.js';
import { streamFramer } from '../src/output/syslog/framer.js';
import { syslogSink, tlsOptions } from '../src/output/syslog/index.js';
import type { SyslogOptions } from '../src/output/syslog/keys.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { Certs } from './helpers/certs.js';
import { CTLOGD } from './helpers/ctlogd.js';

let certs: Certs;
let server: { cert: string; key: string };
let client: { cert: string; key: string };

before(async () => {
  await loadNative();
  certs = new Certs();
  server = certs.leaf('server', ['DNS:syslog.test', 'IP:127.0.0.1'], 'serverAuth');
  client = certs.leaf('client', ['DNS:ctlogd.test'], 'clientAuth');
  // A file that is no PEM, a key of another certificate, an encrypted key.
  writeFileSync(certs.file('empty.pem'), 'not a certificate\n');
  writeFileSync(certs.file('bad.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  spawnSync('openssl', ['pkey', '-in', client.key, '-aes256', '-passout', 'pass:x', '-out', certs.file('encrypted.key')], { cwd: certs.dir });
});
after(() => certs?.remove());

type TlsKeys = Pick<SyslogOptions, 'syslog_host' | 'syslog_tls_ca' | 'syslog_tls_cert' | 'syslog_tls_key' | 'syslog_tls_name'>;

/** The syslog_tls_* keys, as the output gives them to the TLS files. */
const opts = (o: Partial<TlsKeys>) =>
  tlsOptions({
    syslog_host: '127.0.0.1',
    syslog_tls_ca: certs.file('ca.pem'),
    syslog_tls_cert: '',
    syslog_tls_key: '',
    syslog_tls_name: '',
    ...o,
  });

/** The one line TlsFiles refuses `o` with. */
function refusal(o: Partial<TlsKeys>): string {
  try {
    new TlsFiles(opts(o));
  } catch (e) {
    assert.ok(e instanceof TlsFileError, String(e));
    assert.ok(!e.message.includes('\n'), e.message);
    return e.message;
  }
  assert.fail(`accepted: ${JSON.stringify(o)}`);
}

test('certificate files: each refusal names the key, the file and why, in one line', () => {
  const f = (n: string) => certs.file(n);
  assert.equal(refusal({ syslog_tls_ca: f('missing.pem') }), `syslog_tls_ca ${f('missing.pem')}: cannot read: no such file`);
  assert.equal(refusal({ syslog_tls_ca: certs.dir }), `syslog_tls_ca ${certs.dir}: not a regular file; a PEM file is expected`);
  assert.equal(refusal({ syslog_tls_ca: f('empty.pem') }), `syslog_tls_ca ${f('empty.pem')}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it`);
  assert.match(refusal({ syslog_tls_ca: f('bad.pem') }), /^syslog_tls_ca \S+bad\.pem: certificate 1 does not parse: \S+$/);
  assert.match(refusal({ syslog_tls_cert: f('empty.pem'), syslog_tls_key: client.key }), /^syslog_tls_cert \S+empty\.pem: no PEM certificate/);
  assert.match(
    refusal({ syslog_tls_cert: client.cert, syslog_tls_key: server.key }),
    /^syslog_tls_key \S+server\.key: does not match the certificate of syslog_tls_cert \S+client\.pem \(CN=client\)$/,
  );
  assert.match(
    refusal({ syslog_tls_cert: client.cert, syslog_tls_key: f('encrypted.key') }),
    /^syslog_tls_key \S+encrypted\.key: no private key that can be read without a passphrase \(\S+\)$/,
  );
  assert.match(refusal({ syslog_tls_cert: client.cert, syslog_tls_key: f('empty.pem') }), /^syslog_tls_key .*: no private key that can be read/);
  // The good ones are taken.
  assert.doesNotThrow(() => new TlsFiles(opts({ syslog_tls_cert: client.cert, syslog_tls_key: client.key })));
  assert.equal(new TlsFiles(opts({})).name, '127.0.0.1', 'the name: syslog_host');
  assert.equal(new TlsFiles(opts({ syslog_tls_name: 'syslog.test' })).name, 'syslog.test', 'or syslog_tls_name');
});

test('empty syslog_tls_ca is the system store: it does not trust the test CA, which its own file does', async () => {
  const peer = new TlsPeer();
  const port = await peer.listen();
  const verdict = async (ca: string) => {
    const raw = net.connect({ host: '127.0.0.1', port });
    await once(raw, 'connect');
    const s = tls.connect(new TlsFiles(opts({ syslog_tls_ca: ca })).connectOptions(raw));
    const what = await new Promise<string | undefined>((resolve) => {
      s.on('secureConnect', () => resolve('ok'));
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code));
    });
    s.destroy();
    return what;
  };
  try {
    assert.equal(await verdict(''), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    assert.equal(await verdict(certs.file('ca.pem')), 'ok');
  } finally {
    await peer.close();
  }
});

test('SIGHUP: the files are read again; a bad one is said and the ones read before kept', () => {
  const ca = certs.file('rotating-ca.pem');
  copyFileSync(certs.file('ca.pem'), ca);
  const t = new TlsFiles(opts({ syslog_tls_ca: ca }));
  const first = t.connectOptions(new net.Socket()).secureContext;
  writeFileSync(ca, 'garbage\n');
  assert.equal(t.reload(), `syslog_tls_ca ${ca}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it; the certificates read before are kept`);
  assert.equal(t.connectOptions(new net.Socket()).secureContext, first, 'the old context still in use');
  copyFileSync(certs.file('other-ca.pem'), ca);
  assert.equal(t.reload(), undefined);
  assert.notEqual(t.connectOptions(new net.Socket()).secureContext, first, 'a new context from the new file');
});

test('the sink: a bad file at start is a ConfigError (exit 78)', () => {
  const config = loadConfig({
    env: {},
    flags: { output: 'syslog', 'syslog-host': '127.0.0.1', 'syslog-protocol': 'tls', 'syslog-tls-ca': certs.file('empty.pem') },
  });
  assert.throws(
    () => syslogSink(config.outputs[0], { error() {}, warn() {} }, new Ledger()),
    (e: unknown) => e instanceof ConfigError && e.exitCode === 78 && /^syslog_tls_ca \S+: no PEM certificate/.test(e.message),
  );
});

test('the CLI: a CA file that does not parse, or no file at all: one line, exit 78, before any capture', () => {
  for (const [ca, re] of [
    [certs.file('empty.pem'), /^ctlogd: syslog_tls_ca \S+empty\.pem: no PEM certificate \(-----BEGIN CERTIFICATE-----\) in it\n$/],
    [certs.file('nosuch.pem'), /^ctlogd: syslog_tls_ca \S+nosuch\.pem: cannot read: no such file\n$/],
  ] as const) {
    const r = spawnSync(process.execPath, [CTLOGD, '--output', 'syslog', '--syslog-host', '127.0.0.1', '--syslog-protocol', 'tls', '--syslog-tls-ca', ca], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(r.status, 78, r.stderr);
    assert.match(r.stderr, re);
    assert.equal(r.stdout, '');
  }
});

/** A TLS server on loopback that keeps, per connection, the plaintext it read; `paused` stops its reading. */
class TlsPeer {
  readonly conns: tls.TLSSocket[] = [];
  readonly got: Buffer[][] = [];
  /** TCP connections accepted, handshake or not. */
  accepted = 0;
  private readonly server: tls.Server;
  paused = false;

  constructor(o: tls.TlsOptions = {}) {
    this.server = tls.createServer({ cert: readFileSync(server.cert), key: readFileSync(server.key), ...o } as tls.TlsOptions, (s) => {
      const chunks: Buffer[] = [];
      this.got.push(chunks);
      this.conns.push(s);
      s.on('data', (d: Buffer) => chunks.push(d));
      s.on('error', () => {});
      if (this.paused) s.pause();
    });
    this.server.on('connection', () => this.accepted++);
    this.server.on('tlsClientError', () => {});
  }

  async listen(): Promise<number> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return (this.server.address() as net.AddressInfo).port;
  }

  pause(): void {
    this.paused = true;
    for (const c of this.conns) c.pause();
  }

  resume(): void {
    this.paused = false;
    for (const c of this.conns) c.resume();
  }

  /** The octet-counted messages received, over every connection, in order. */
  messages(): string[] {
    const out: string[] = [];
    for (const chunks of this.got) {
      const buf = Buffer.concat(chunks);
      for (let at = 0; at < buf.length; ) {
        const sp = buf.indexOf(0x20, at);
        if (sp < 0) break;
        const len = Number(buf.toString('latin1', at, sp));
        if (sp + 1 + len > buf.length) break;
        out.push(buf.toString('utf8', sp + 1, sp + 1 + len));
        at = sp + 1 + len;
      }
    }
    return out;
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

/** Reports collected, in order. */
function reports(): { lines: string[]; error(m: string): void; warn(m: string): void } {
  const lines: string[] = [];
  return { lines, error: (m) => lines.push(`error: ${m}`), warn: (m) => lines.push(`warn: ${m}`) };
}

/** Writes `n` lines of `size` bytes, numbered, as batches of 100, as winston would. */
function writeLines(t: NetTransport, n: number, size: number): string[] {
  const all: string[] = [];
  for (let i = 0; i < n; i += 100) {
    const lines = Array.from({ length: Math.min(100, n - i) }, (_, k) => `line ${String(i + k).padStart(8, '0')} `.padEnd(size, 'x'));
    all.push(...lines);
    const bytes = Buffer.from(lines.map((l) => `${l}\n`).join(''));
    t.log({ level: 'info', message: '', bytes, kinds: new Uint8Array(lines.length).fill(2), done: () => bytes.fill(0x21) }, () => {});
  }
  return all;
}

async function until(pred: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

test("TLS write callback: it comes once the write's records are in the kernel, not before", async () => {
  const peer = new TlsPeer();
  peer.pause();
  const port = await peer.listen();
  const raw = net.connect({ host: '127.0.0.1', port });
  await once(raw, 'connect');
  const watch = native().TcpWatch.of((raw as unknown as { _handle: { fd: number } })._handle.fd);
  const s = tls.connect(new TlsFiles(opts({})).connectOptions(raw));
  await once(s, 'secureConnect');
  try {
    const before = watch.sent();
    // More than the kernel's buffers on both sides take while the peer does not read.
    const data = Buffer.alloc(64 << 20, 0x61);
    let called = false;
    let sentAtCallback = 0;
    s.write(data, (err) => {
      assert.ifError(err);
      called = true;
      sentAtCallback = watch.sent();
    });
    await sleep(500);
    const stuck = watch.sent() - before;
    assert.equal(called, false, 'no callback while the kernel cannot take the records');
    assert.ok(stuck > 0 && stuck < data.length, `the kernel took ${stuck} bytes of ${data.length}`);
    peer.resume();
    await until(() => called, 'the write callback');
    // The records are the data and their overhead: all of it was in the kernel.
    const wire = sentAtCallback - before;
    assert.ok(wire > data.length && wire < data.length * 1.01, `at the callback the kernel had taken ${wire} bytes for ${data.length} of data`);
  } finally {
    s.destroy();
    watch.close();
    await peer.close();
  }
});

test('TLS accounting: lines the server does not read wait (not written); once it reads, every line is written, once, in order', async () => {
  const peer = new TlsPeer();
  peer.pause();
  const port = await peer.listen();
  const ledger = new Ledger();
  const r = reports();
  const t = tcpTransport(
    'syslog',
    { host: '127.0.0.1', port, tls: new TlsFiles(opts({})) },
    streamFramer(() => Buffer.from('<30>1 - h t 1 - - ')),
    r,
    ledger,
  );
  try {
    await until(() => peer.conns.length === 1, 'the connection');
    // 12 MB of lines: more than the kernel buffers hold for a peer that reads nothing.
    const lines = writeLines(t, 12_000, 1000);
    await sleep(1500);
    const stalled = total(ledger.written);
    assert.ok(stalled < lines.length / 2, `${stalled} of ${lines.length} counted written while the server reads nothing`);
    assert.equal(total(ledger.lost), 0);
    // Written counts only what the server's TCP acknowledged: no more than it received, in its kernel or its process.
    peer.resume();
    await until(() => total(ledger.written) === lines.length, `all ${lines.length} written (have ${total(ledger.written)})`, 20_000);
    assert.deepEqual(
      peer.messages().map((m) => m.slice('<30>1 - h t 1 - - '.length)),
      lines,
      'every line once, in order',
    );
    assert.deepEqual(r.lines, [], 'no trouble reported');
  } finally {
    await t.conn.shutdown(500);
    await peer.close();
  }
});

test('TLS: a server whose certificate is for another name: one line naming the TLS error, nothing sent, retried', async () => {
  const peer = new TlsPeer();
  const port = await peer.listen();
  const ledger = new Ledger();
  const r = reports();
  const t = tcpTransport(
    'syslog',
    { host: '127.0.0.1', port, tls: new TlsFiles(opts({ syslog_tls_name: 'other.test' })) },
    streamFramer(() => Buffer.from('H ')),
    r,
    ledger,
  );
  try {
    writeLines(t, 10, 50);
    // Retries after 0.2 and 0.6 s.
    await until(() => peer.accepted >= 3, 'three attempts', 5000);
    assert.deepEqual(r.lines, [
      `error: syslog tls 127.0.0.1:${port}: TLS handshake failed: ERR_TLS_CERT_ALTNAME_INVALID; retrying, lines wait in memory (up to 16 MiB)`,
    ]);
    assert.equal(peer.conns.length, 0, 'no handshake completed');
    assert.equal(total(ledger.written), 0);
  } finally {
    await t.conn.shutdown(100);
    await peer.close();
  }
  assert.equal(total(ledger.lost), 10, 'at stop the waiting lines are counted lost');
});

test('TLS: a server that wants a client certificate refuses one without, then takes one with', async () => {
  const peer = new TlsPeer({ requestCert: true, rejectUnauthorized: true, ca: readFileSync(certs.file('ca.pem'), 'utf8') });
  const port = await peer.listen();
  for (const withCert of [false, true]) {
    const ledger = new Ledger();
    const r = reports();
    const files = new TlsFiles(opts(withCert ? { syslog_tls_cert: client.cert, syslog_tls_key: client.key } : {}));
    const t = tcpTransport(
      'syslog',
      { host: '127.0.0.1', port, tls: files },
      streamFramer(() => Buffer.from('H ')),
      r,
      ledger,
    );
    const lines = writeLines(t, 10, 50);
    if (withCert) {
      await until(() => total(ledger.written) === 10, 'the lines written');
      assert.deepEqual(
        peer.messages().slice(-10),
        lines.map((l) => `H ${l}`),
      );
      assert.deepEqual(r.lines, []);
    } else {
      await until(() => r.lines.length > 0, 'the refusal');
      await sleep(300);
      // TLS 1.3: the client's handshake ends before the server has seen the certificate; its alert then says why.
      assert.match(
        r.lines[0],
        /^error: syslog tls 127\.0\.0\.1:\d+: (TLS handshake failed|refused right after the TLS handshake .*): ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED; retrying/,
      );
      assert.equal(r.lines.length, 1);
      assert.equal(total(ledger.written), 0, 'nothing counted written');
      assert.deepEqual(peer.messages(), [], 'nothing arrived');
    }
    await t.conn.shutdown(300);
  }
  await peer.close();
});

/** A framer with messages of its own (as IPFIX's over TCP is): a greeting per connection, writes with a header of their own. */
const FRAMED: Framer & StreamFraming = {
  batch() {},
  greeting: () => Buffer.from('HELLO\n'),
  encode: (msgs) => Buffer.concat([Buffer.from(`[${msgs.length}]`), ...msgs]),
};

test('framing: a greeting first on every connection, encode() for each write, counted written per write once acknowledged', async () => {
  const got: string[] = [];
  const conns: net.Socket[] = [];
  const srv = net.createServer((s) => {
    const i = got.push('') - 1;
    conns.push(s);
    s.setEncoding('latin1').on('data', (d: string) => (got[i] += d));
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as net.AddressInfo).port;
  const ledger = new Ledger();
  const r = reports();
  const { conn } = tcpTransport('ipfix', { host: '127.0.0.1', port }, FRAMED, r, ledger);
  const put = (text: string) => {
    conn.push(Buffer.from(text), 0);
    conn.flush();
  };
  try {
    put('a;');
    await until(() => ledger.written[0] === 1, 'the first message written');
    put('b;');
    put('c;');
    await until(() => ledger.written[0] === 3, 'three written');
    assert.equal(got.length, 1);
    assert.match(got[0], /^HELLO\n\[1\]a;(\[2\]b;c;|\[1\]b;\[1\]c;)$/, 'greeting, then each write as encode() made it');
    // The server drops the connection: the next one starts with the greeting again.
    conns[0].destroy();
    await until(() => r.lines.length === 1, 'the lost connection');
    assert.equal(r.lines[0], `error: ipfix tcp 127.0.0.1:${port}: connection lost: closed by the peer; retrying, lines wait in memory (up to 16 MiB)`);
    await until(() => got.length === 2 && got[1] === 'HELLO\n', 'the greeting on the new connection', 5000);
    put('d;');
    await until(() => ledger.written[0] === 4, 'written on the new connection');
    assert.equal(got[1], 'HELLO\n[1]d;');
    // The outage ends once the new connection has worked for GOOD_AFTER_MS.
    await until(() => r.lines.length === 2, 'the end of the outage', GOOD_AFTER_MS + 2000);
    assert.equal(r.lines[1], `warn: ipfix tcp 127.0.0.1:${port}: connected again`);
  } finally {
    await conn.shutdown(300);
    for (const c of conns) c.destroy();
    await new Promise((res) => srv.close(res));
  }
});
