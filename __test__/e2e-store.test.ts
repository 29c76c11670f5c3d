/**
 * The store output and `ctlogd query`, on real events: who held a
 * translated address and port at a moment, as the traffic made says.
 *
 * - A NAT router (helpers/nat-router.ts) whose SNAT to 10.2.0.100 has four
 *   ports, 61000-61003, so that inside hosts hold the same translated port
 *   one after another: two TCP connections opened before ctlogd starts and
 *   open throughout (the store's start snapshot has them), then short TCP
 *   and UDP connections one at a time from four inside hosts, each ended
 *   with `conntrack -D` so that its port is free again. The truth is what
 *   the server saw (the translated source) and the wall clock around each
 *   connection, not ctlogd.
 * - SIGKILL under load: NAT entries inserted and deleted with conntrack
 *   -I/-D while ctlogd stores them; ctlogd killed, started again on the
 *   same directory, stopped. Every connection deleted store_sync_ms before
 *   the kill is found, DuckDB reads every file, no temporary file is left.
 * - Retention by size: each stop seals a file; the oldest go and the total
 *   stays within store_max_bytes and one file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Lines, startCtlogd, stop } from './helpers/ctlogd.js';
import { ADDR, NatRouter } from './helpers/nat-router.js';
import { checkPrerequisites, Netns } from './helpers/netns.js';
import { type Answer, duckdbRows, filesUnder, type Rec, storeQuery } from './helpers/store.js';

/** The SNAT pool: one address, four ports. */
const POOL = { addr: ADDR.snatPool, from: 61000, to: 61003 };
/** The inside hosts: the client namespace's addresses. */
const HOSTS = [ADDR.client, '10.1.0.3', '10.1.0.4', '10.1.0.5'];
const TCP_PORT = 9000;
const UDP_PORT = 9001;
const SYNC_MS = 1000;

/** The server: TCP answers each connection with the source it sees (`ADDR:PORT\n`), UDP echoes it. */
const SERVER = `
const net = require('node:net'), dgram = require('node:dgram');
net.createServer((s) => {
  s.on('error', () => {});
  s.write(s.remoteAddress.replace(/^::ffff:/, '') + ':' + s.remotePort + '\\n');
}).listen(${TCP_PORT}, '0.0.0.0', () => {
  const u = dgram.createSocket('udp4');
  u.on('message', (m, r) => u.send(r.address + ':' + r.port, r.port, r.address));
  u.bind(${UDP_PORT}, '0.0.0.0', () => process.stdout.write('serving\\n'));
});`;

/**
 * A client from HOST: `tcp HOST MS` or `udp HOST MS` opens a connection,
 * holds it MS ms after the server's answer and closes it; `hold HOST`
 * keeps it open until killed. Prints {local, nat, t0 (before the first
 * packet), t1 (the answer read), t2 (before closing)}, ms since the epoch.
 */
const CLIENT = `
const net = require('node:net'), dgram = require('node:dgram');
const [mode, host, hold] = process.argv.slice(1);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const t0 = Date.now();
if (mode === 'udp') {
  const s = dgram.createSocket('udp4');
  s.bind(0, host, () => {
    s.on('message', (m) => {
      const t1 = Date.now();
      setTimeout(() => {
        const t2 = Date.now(), local = s.address().port;
        s.close(() => out({ local, nat: String(m), t0, t1, t2 }));
      }, Number(hold));
    });
    s.send('ping', ${UDP_PORT}, '${ADDR.server}');
  });
} else {
  const c = net.connect({ port: ${TCP_PORT}, host: '${ADDR.server}', localAddress: host });
  let got = '';
  c.on('data', (d) => {
    got += d;
    if (!got.endsWith('\\n')) return;
    const t1 = Date.now(), local = c.localPort, nat = got.trim();
    if (mode === 'hold') return out({ local, nat, t0, t1 });
    setTimeout(() => {
      const t2 = Date.now();
      c.on('close', () => out({ local, nat, t0, t1, t2 }));
      c.end();
    }, Number(hold));
  });
}`;

/** One connection the test made, and when: the kernel's entry spans [t0, end] and covers [t1, t2]. */
interface Conn {
  proto: 'tcp' | 'udp';
  host: string;
  local: number;
  natPort: number;
  t0: number;
  t1: number;
  t2: number;
  /** After `conntrack -D` returned (Infinity: open until the end of the test). */
  end: number;
}

const said = (a: Answer) => `exit ${a.status}\nstdout:\n${a.stdout}\nstderr:\n${a.stderr}`;

/** A time as --at takes it, in each of the forms it allows by turns: RFC 3339 UTC, epoch seconds, RFC 3339 with an offset. */
function timeText(ms: number, form: number): string {
  if (form % 3 === 0) return new Date(ms).toISOString();
  if (form % 3 === 1) return (ms / 1000).toFixed(3);
  // The same instant at +05:30.
  return new Date(ms + 5.5 * 3600_000).toISOString().replace('Z', '+05:30');
}

/** Where a test's or a suite's cleanups go: TestContext's `after`, or the suite's list. */
interface Cleanup {
  after(fn: () => void): void;
}

/** A store directory and a config file that writes to it; removed with the test. */
function storeConfig(t: Cleanup, extra: Record<string, unknown> = {}): { dir: string; config: string } {
  const work = mkdtempSync(path.join(tmpdir(), 'ctlogd-store-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const dir = path.join(work, 'store');
  const config = path.join(work, 'ctlogd.json');
  writeFileSync(
    config,
    JSON.stringify({
      event: { new: {}, destroy: {} },
      output: 'store',
      store_dir: dir,
      store_connections: 'nat',
      store_sync_ms: SYNC_MS,
      store_snapshot_interval: 3600,
      ...extra,
    }),
  );
  return { dir, config };
}

/** Starts ctlogd on `config` in `ns`; killed with the test whatever happens. */
async function ctlogdIn(t: Cleanup, ns: Netns, config: string): Promise<Lines> {
  const out = await startCtlogd(ns, ['--config', config]);
  t.after(() => out.child.kill('SIGKILL'));
  return out;
}

/** The NAT router with the four-port pool, the extra inside hosts and the server's listeners. */
async function natRouter(t: Cleanup): Promise<NatRouter> {
  const net = new NatRouter('store');
  t.after(() => net.destroy());
  for (const h of HOSTS.slice(1)) net.client.exec('ip', ['addr', 'add', `${h}/24`, 'dev', 'c0']);
  net.router.nft(`add rule inet ctlogd_nat post oifname "r1" ip daddr ${ADDR.server} tcp dport ${TCP_PORT} snat ip to ${POOL.addr}:${POOL.from}-${POOL.to}
    add rule inet ctlogd_nat post oifname "r1" ip daddr ${ADDR.server} udp dport ${UDP_PORT} snat ip to ${POOL.addr}:${POOL.from}-${POOL.to}`);
  for (const key of ['nf_conntrack_timestamp', 'nf_conntrack_acct']) {
    assert.equal(net.router.exec('sysctl', ['-n', `net.netfilter.${key}`]).trim(), '1', `${key} in the router`);
  }
  const server = net.server.spawn(process.execPath, ['-e', SERVER]);
  await new Promise<void>((resolve, reject) => {
    server.stdout!.on('data', (d: Buffer) => d.toString().includes('serving') && resolve());
    server.once('exit', (code) => reject(new Error(`the server exited (${code})`)));
  });
  return net;
}

/** The translated port in the server's `ADDR:PORT`, which must be the pool's. */
function natPortOf(seen: string): number {
  const [addr, port] = seen.split(':');
  assert.equal(addr, POOL.addr, `the server saw ${seen}`);
  const p = Number(port);
  assert.ok(p >= POOL.from && p <= POOL.to, `the server saw ${seen}, outside the pool`);
  return p;
}

/** A TCP connection held open from `host` until killed; resolves once it is up. */
async function holdOpen(net: NatRouter, host: string): Promise<Conn> {
  const p = net.client.spawn(process.execPath, ['-e', CLIENT, 'hold', host]);
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    p.stdout!.on('data', (d: Buffer) => {
      out += d;
      if (out.includes('\n')) resolve(out.trim());
    });
    p.once('exit', (code) => reject(new Error(`the held connection from ${host} exited (${code})`)));
  });
  const o = JSON.parse(line);
  return { proto: 'tcp', host, local: o.local, natPort: natPortOf(o.nat), t0: o.t0, t1: o.t1, t2: Infinity, end: Infinity };
}

/** One short connection from `host`, held `holdMs`, then its conntrack entry deleted. */
async function shortConn(net: NatRouter, proto: 'tcp' | 'udp', host: string, holdMs: number): Promise<Conn> {
  const o = JSON.parse(net.client.exec(process.execPath, ['-e', CLIENT, proto, host, String(holdMs)]));
  // The last ACK through the router, before the entry goes.
  await sleep(100);
  net.router.exec('conntrack', ['-D', '-p', proto, '--orig-src', host, '--orig-port-src', String(o.local)]);
  return { proto, host, local: o.local, natPort: natPortOf(o.nat), t0: o.t0, t1: o.t1, t2: o.t2, end: Date.now() };
}

const what = (c: Conn) => `${c.proto} ${c.host}:${c.local} as ${POOL.addr}:${c.natPort} [${c.t0}, ${c.end}]`;

/** `records` is this connection's one record. */
function isThe(c: Conn, records: Rec[], context: string): void {
  assert.equal(records.length, 1, `${context}: one record of ${what(c)}, got ${JSON.stringify(records)}`);
  const r = records[0];
  assert.deepEqual(
    { proto: r.proto, orig_src: r.orig_src, orig_sport: r.orig_sport, nat_src: r.nat_src, nat_sport: r.nat_sport, orig_dst: r.orig_dst },
    { proto: c.proto, orig_src: c.host, orig_sport: c.local, nat_src: POOL.addr, nat_sport: c.natPort, orig_dst: ADDR.server },
    `${context}: ${what(c)}`,
  );
}

/** The NAT router's traffic with ctlogd storing it, stopped; the truth of every connection. */
interface Scenario {
  dir: string;
  held: Conn[];
  tcp: Conn[];
  udp: Conn[];
  /** The start snapshot written; a moment while ctlogd ran, after every short connection; after it stopped. */
  started: number;
  during: number;
  stopped: number;
}

async function natScenario(c: Cleanup): Promise<Scenario> {
  const net = await natRouter(c);
  const { dir, config } = storeConfig(c);

  // Open before ctlogd starts, and until it stops.
  const held = [await holdOpen(net, HOSTS[0]), await holdOpen(net, HOSTS[1])];
  await sleep(300);
  const ctlogd = await ctlogdIn(c, net.router, config);
  // The store reads the table on its own thread, which may come after ctlogd says it listens; the spans start once it has.
  for (let i = 0; !(existsSync(dir) && filesUnder(dir).some((f) => /\/snapshot-\d+\.parquet$/.test(f.name))); i++) {
    assert.ok(i < 100, `no start snapshot in ${dir}; stderr:\n${ctlogd.stderr}`);
    await sleep(50);
  }
  const started = Date.now();

  // One at a time, from every host by turns: two pool ports are free for TCP, four for UDP.
  const tcp: Conn[] = [];
  for (let i = 0; i < 8; i++) {
    tcp.push(await shortConn(net, 'tcp', HOSTS[(i + 2) % HOSTS.length], 150));
    await sleep(150);
  }
  const udp: Conn[] = [];
  for (let i = 0; i < 6; i++) {
    udp.push(await shortConn(net, 'udp', HOSTS[(i + 1) % HOSTS.length], 150));
    await sleep(150);
  }
  const during = Date.now();
  await sleep(200);
  assert.equal(await stop(ctlogd), 0, `ctlogd's exit; stderr:\n${ctlogd.stderr}`);
  return { dir, held, tcp, udp, started, during, stopped: Date.now() };
}

/** A lookup, and the one connection it must answer, or none. */
interface Lookup {
  args: string[];
  want: Conn | null;
  title: string;
}

/** The short TCP connections by translated port, in the order made. */
function holdersByPort(tcp: Conn[]): Map<number, Conn[]> {
  const byPort = new Map<number, Conn[]>();
  for (const c of tcp) byPort.set(c.natPort, [...(byPort.get(c.natPort) ?? []), c]);
  return byPort;
}

/** Lookups by translated port and moment: inside each connection, while ctlogd ran for those held open, between two holders of a port, UDP on a TCP holder's port. */
function natLookups(s: Scenario): Lookup[] {
  const lookups: Lookup[] = [];
  let form = 0;
  for (const c of [...s.tcp, ...s.udp]) {
    const at = Math.floor((c.t1 + c.t2) / 2);
    lookups.push({
      args: ['--nat', `${POOL.addr}:${c.natPort}`, '--at', timeText(at, form++), ...(c.proto === 'udp' ? ['--proto', 'udp'] : [])],
      want: c,
      title: `inside ${what(c)}`,
    });
  }
  for (const h of s.held) {
    lookups.push({ args: ['--nat', `${POOL.addr}:${h.natPort}`, '--at', timeText(s.during, form++)], want: h, title: `while ctlogd ran, ${what(h)}` });
  }
  // Between two holders of a port: none held it.
  for (const [port, list] of holdersByPort(s.tcp)) {
    for (let i = 1; i < list.length; i++) {
      const gap = Math.floor((list[i - 1].end + list[i].t0) / 2);
      lookups.push({
        args: ['--nat', `${POOL.addr}:${port}`, '--at', timeText(gap, form++)],
        want: null,
        title: `between ${what(list[i - 1])} and ${what(list[i])}`,
      });
    }
  }
  // A TCP holder of a port is no UDP one.
  lookups.push({
    args: ['--nat', `${POOL.addr}:${s.held[0].natPort}`, '--at', timeText(s.during, form++), '--proto', 'udp'],
    want: null,
    title: `UDP on ${what(s.held[0])}`,
  });
  return lookups;
}

/** Runs `l` alone and checks its answer: the connection with the kernel's times and counters, or exit 1 and nothing. */
function checkLookup(dir: string, l: Lookup): void {
  const a = storeQuery(['--store', dir, ...l.args, '--json']);
  const title = `${l.title}: ${l.args.join(' ')}`;
  if (!l.want) {
    assert.equal(a.status, 1, `${title}: ${said(a)}`);
    assert.deepEqual(a.records, [], `${title}: nothing`);
    return;
  }
  assert.equal(a.status, 0, `${title}: ${said(a)}`);
  isThe(l.want, a.records, title);
  const r = a.records[0];
  // The kernel's times, inside the wall clock's: taken after t0 and by t1, given back after t2 and by the return of conntrack -D.
  const startMs = Number(BigInt(r.start_ns) / 1_000_000n);
  assert.ok(startMs >= l.want.t0 - 1 && startMs <= l.want.t1, `${title}: start ${r.start} not in [${l.want.t0}, ${l.want.t1}]`);
  assert.equal(r.start, nsText(r.start_ns), `${title}: start and start_ns`);
  if (Number.isFinite(l.want.end)) {
    assert.equal(r.ended, 'destroy', `${title}: ${JSON.stringify(r)}`);
    const endMs = Number(BigInt(r.end_ns!) / 1_000_000n);
    assert.ok(endMs >= l.want.t2 && endMs <= l.want.end, `${title}: end ${r.end} not in [${l.want.t2}, ${l.want.end}]`);
    assert.equal(r.end, nsText(r.end_ns!), `${title}: end and end_ns`);
    // nf_conntrack_acct: both ways had packets.
    assert.ok(r.orig_packets! >= 1 && r.reply_packets! >= 1 && r.orig_bytes! > 0 && r.reply_bytes! > 0, `${title}: counters ${JSON.stringify(r)}`);
  } else {
    assert.ok(['snapshot', 'stopped', 'open'].includes(r.ended), `${title}: ended ${r.ended}`);
  }
  const port = l.want.proto === 'tcp' ? TCP_PORT : UDP_PORT;
  assert.deepEqual([r.family, r.nat_dst, r.nat_dport, r.orig_dport], ['ipv4', ADDR.server, port, port], `${title}: ${JSON.stringify(r)}`);
}

/** RFC 3339 UTC with ns of a time in ns since the epoch. */
const nsText = (ns: string) => new Date(Number(BigInt(ns) / 1_000_000n)).toISOString().replace(/\.\d{3}Z$/, `.${ns.slice(-9)}Z`);

/** A connection's `proto ADDR:PORT`, of a record or of the truth. */
const connKey = (r: Rec | Conn) => ('orig_src' in r ? `${r.proto} ${r.orig_src}:${r.orig_sport}` : `${r.proto} ${r.host}:${r.local}`);
const keys = (l: Array<Rec | Conn>) => l.map(connKey).sort();

describe('the store output and ctlogd query', () => {
  before(() => checkPrerequisites());

  describe('a NAT router whose SNAT reuses four ports, two of them held by connections opened before ctlogd started', () => {
    const cleanups: Array<() => void> = [];
    let s: Scenario;
    before(async () => {
      s = await natScenario({ after: (fn) => cleanups.push(fn) });
    });
    after(() => {
      for (const fn of cleanups.reverse()) fn();
    });

    test('--nat ADDR:PORT --at T: the connection that held the port then, with its times and counters; none between two holders', () => {
      // The traffic reused ports: some TCP port had several holders, none shared with a connection held open.
      const byPort = holdersByPort(s.tcp);
      assert.ok(
        [...byPort.values()].some((l) => l.length > 1),
        `no TCP port reused: ${s.tcp.map(what).join('; ')}`,
      );
      for (const h of s.held) assert.ok(!byPort.has(h.natPort), `${what(h)} shared with a short connection`);
      for (const l of natLookups(s)) checkLookup(s.dir, l);
    });

    test('--nat ADDR:PORT --at T before ctlogd started: a connection open then and at the start snapshot', () => {
      for (const h of s.held) {
        checkLookup(s.dir, {
          args: ['--nat', `${POOL.addr}:${h.natPort}`, '--at', timeText(h.t1 + 100, 0), '--proto', 'tcp'],
          want: h,
          title: `before ctlogd started, ${what(h)}`,
        });
      }
    });

    test('--inside ADDR[:PORT] and --dst ADDR:PORT over a span: every connection open in it, and no other', () => {
      const host = HOSTS[0];
      const span = ['--from', timeText(s.started, 0), '--to', timeText(s.stopped, 1)];
      const inside = storeQuery(['--store', s.dir, '--inside', host, ...span, '--json']);
      assert.equal(inside.status, 0, said(inside));
      const mine = [...s.held, ...s.tcp, ...s.udp].filter((c) => c.host === host);
      assert.deepEqual(keys(inside.records), keys(mine), `--inside ${host}: ${said(inside)}`);
      const one = s.tcp.find((c) => c.host === host)!;
      const insidePort = storeQuery(['--store', s.dir, '--inside', `${host}:${one.local}`, ...span, '--json']);
      assert.equal(insidePort.status, 0, said(insidePort));
      isThe(one, insidePort.records, `--inside ${host}:${one.local}`);

      const dst = storeQuery(['--store', s.dir, '--dst', `${ADDR.server}:${UDP_PORT}`, ...span, '--json']);
      assert.equal(dst.status, 0, said(dst));
      assert.deepEqual(keys(dst.records), keys(s.udp), `--dst ${ADDR.server}:${UDP_PORT}: ${said(dst)}`);
      // Before any of them: nothing.
      const early = storeQuery([
        '--store',
        s.dir,
        '--dst',
        `${ADDR.server}:${UDP_PORT}`,
        '--from',
        timeText(s.started, 0),
        '--to',
        timeText(s.udp[0].t0 - 50, 0),
        '--json',
      ]);
      assert.equal(early.status, 1, `--dst before the UDP connections: ${said(early)}`);
    });

    test('--batch: every lookup above in one process, each record tagged with its line', () => {
      const lookups = natLookups(s);
      const span = ['--from', timeText(s.started, 0), '--to', timeText(s.stopped, 1)];
      const lines = [...lookups.map((l) => l.args), ['--inside', HOSTS[0], ...span], ['--dst', `${ADDR.server}:${UDP_PORT}`, ...span]];
      const file = path.join(s.dir, '..', 'lookups.txt');
      writeFileSync(file, `${lines.map((a) => a.join(' ')).join('\n')}\n`);
      const all = storeQuery(['--store', s.dir, '--batch', file]);
      assert.equal(all.status, 0, `--batch: ${said(all)}`);
      assert.ok(
        all.records.every((r) => Number.isInteger(r.line) && r.line! >= 1 && r.line! <= lines.length),
        `--batch: every record tagged with a line: ${all.stdout}`,
      );
      const lineOf = (n: number) => all.records.filter((r) => r.line === n);
      lookups.forEach((l, i) => {
        if (l.want) isThe(l.want, lineOf(i + 1), `--batch line ${i + 1}, ${l.title}`);
        else assert.deepEqual(lineOf(i + 1), [], `--batch line ${i + 1}, ${l.title}`);
      });
      const mine = [...s.held, ...s.tcp, ...s.udp].filter((c) => c.host === HOSTS[0]);
      assert.deepEqual(keys(lineOf(lookups.length + 1)), keys(mine), '--batch --inside');
      assert.deepEqual(keys(lineOf(lookups.length + 2)), keys(s.udp), '--batch --dst');
    });

    test('exit 64 for a flag or a time that is none, 66 for a directory with no store', () => {
      const lookup = ['--nat', `${POOL.addr}:${POOL.from}`, '--at', timeText(s.during, 0)];
      const bad = storeQuery(['--store', s.dir, ...lookup, '--no-such-flag']);
      assert.equal(bad.status, 64, `a flag that is none: ${said(bad)}`);
      const badTime = storeQuery(['--store', s.dir, '--nat', `${POOL.addr}:${POOL.from}`, '--at', 'yesterday']);
      assert.equal(badTime.status, 64, `a time that is none: ${said(badTime)}`);
      const none = storeQuery(['--store', path.join(s.dir, 'no-such-dir'), ...lookup]);
      assert.equal(none.status, 66, `no store: ${said(none)}`);
    });
  });

  test('SIGKILL under load: every connection deleted store_sync_ms before the kill is found after a restart, DuckDB reads every file, no temporary file is left', async (t) => {
    const ns = new Netns('store-kill');
    t.after(() => ns.destroy());
    const { dir, config } = storeConfig(t);
    let ctlogd = await ctlogdIn(t, ns, config);

    // Entry i: 10.9.0.1:(10000+i) to 203.0.113.9:53, translated to 192.0.2.1:(30000+i); each is deleted 5 entries later.
    const LOAD = `
const { execFileSync } = require('node:child_process');
const ct = (...a) => execFileSync('conntrack', a, { stdio: 'ignore' });
const entry = (i) => ['-p', 'udp', '-s', '10.9.0.1', '-d', '203.0.113.9', '--sport', String(10000 + i), '--dport', '53'];
const ins = [];
for (let i = 0; i < 20000; i++) {
  ct('-I', ...entry(i), '-r', '203.0.113.9', '-q', '192.0.2.1', '--reply-port-src', '53', '--reply-port-dst', String(30000 + i), '-t', '60');
  ins[i] = Date.now();
  const j = i - 5;
  if (j < 0) continue;
  const t1 = Date.now();
  ct('-D', ...entry(j));
  process.stdout.write(JSON.stringify({ i: j, t0: ins[j], t1, end: Date.now() }) + '\\n');
}`;
    const load = ns.spawn(process.execPath, ['-e', LOAD]);
    t.after(() => load.kill('SIGKILL'));
    let out = '';
    load.stdout!.on('data', (d: Buffer) => (out += d));
    await sleep(4000);
    const killedAt = Date.now();
    ctlogd.child.kill('SIGKILL');
    await ctlogd.exited;
    // What the kill left: the journal of what was not sealed.
    const journals = filesUnder(dir).filter((f) => /^journal-\d+\.bin$/.test(f.name));
    assert.ok(
      journals.some((f) => f.bytes > 0),
      `no journal left by the kill: ${JSON.stringify(filesUnder(dir))}`,
    );
    await sleep(200);
    load.kill('SIGKILL');
    await new Promise((r) => load.once('close', r));
    const deleted = out
      .split('\n')
      .filter((l) => l.endsWith('}'))
      .map((l) => JSON.parse(l) as { i: number; t0: number; t1: number; end: number });
    const synced = deleted.filter((d) => d.end <= killedAt - SYNC_MS);
    // At least some: how many the generator makes depends on the load of the machine.
    assert.ok(synced.length >= 40, `only ${synced.length} connections deleted a second before the kill (${deleted.length} in all)`);

    // Started again on the same directory (it recovers the journal), and stopped.
    ctlogd = await ctlogdIn(t, ns, config);
    assert.equal(await stop(ctlogd), 0, `ctlogd's exit after the restart; stderr:\n${ctlogd.stderr}`);

    const tmp = filesUnder(dir).filter((f) => f.name.endsWith('.tmp'));
    assert.deepEqual(tmp, [], 'no temporary file left');

    const file = path.join(dir, '..', 'lookups.txt');
    // A moment inside each: after its insert returned, before its delete began.
    // Those deleted in the last second before the kill are looked up too: how many the journal had is said, not asserted.
    const beforeKill = deleted.filter((d) => d.end <= killedAt);
    writeFileSync(file, `${beforeKill.map((d) => `--nat 192.0.2.1:${30000 + d.i} --at ${((d.t0 + d.t1) / 2000).toFixed(4)} --proto udp`).join('\n')}\n`);
    const all = storeQuery(['--store', dir, '--batch', file]);
    const isFound = (d: (typeof deleted)[number], n: number) => {
      const found = all.records.filter((r) => r.line === n + 1);
      return found.length === 1 && found[0].orig_sport === 10000 + d.i && found[0].nat_sport === 30000 + d.i;
    };
    const missing = synced.filter((d, n) => !isFound(d, n));
    const lastSecond = beforeKill.filter((d, n) => d.end > killedAt - SYNC_MS && isFound(d, n)).length;
    assert.deepEqual(
      missing.map((d) => d.i),
      [],
      `connections deleted at least ${SYNC_MS} ms before the kill at ${killedAt} and not found (of ${synced.length}): ${JSON.stringify(missing.slice(0, 5))}\n${all.stderr}`,
    );
    assert.equal(all.status, 0, said({ ...all, stdout: all.stdout.slice(0, 2000) }));
    for (const r of all.records.filter((x) => x.line! <= synced.length)) assert.equal(r.ended, 'destroy', JSON.stringify(r));

    const parquet = filesUnder(dir).filter((f) => f.name.endsWith('.parquet'));
    assert.ok(parquet.length > 0, `sealed files: ${JSON.stringify(filesUnder(dir))}`);
    const rows = duckdbRows(dir);
    assert.deepEqual(Object.keys(rows.perFile).sort(), parquet.map((f) => f.name).sort());
    // At least a row a connection: a NEW and its DESTROY sealed together are one row.
    assert.ok(rows.total >= synced.length, `DuckDB reads ${rows.total} rows, for ${synced.length} connections: ${JSON.stringify(rows.perFile)}`);
    t.diagnostic(
      `${deleted.length} connections deleted, ${synced.length} a second before the kill (all found), ${lastSecond} of the ${beforeKill.length - synced.length} in the second before it found; ${rows.total} rows in ${parquet.length} files`,
    );
  });

  test('retention by size: each stop seals a file, the oldest are deleted, the total stays within store_max_bytes and one file', async (t) => {
    const ns = new Netns('store-keep');
    t.after(() => ns.destroy());
    const LIMIT = 24 * 1024;
    const { dir, config } = storeConfig(t, { store_max_bytes: '24K' });
    const made: string[] = [];
    let base = 0;
    let largest = 0;
    for (let run = 0; run < 6; run++) {
      const ctlogd = await ctlogdIn(t, ns, config);
      const script = [];
      for (let i = 0; i < 60; i++, base++) {
        const e = `-p udp -s 10.8.${base >> 8}.${base & 255} -d 203.0.113.9 --sport 1024 --dport 53`;
        script.push(`-I ${e} -r 203.0.113.9 -q 192.0.2.2 --reply-port-src 53 --reply-port-dst ${1024 + base} -t 60`, `-D ${e}`);
      }
      // conntrack takes no script: one process at a time, through sh.
      ns.exec('sh', ['-c', script.map((s) => `conntrack ${s} >/dev/null 2>&1`).join('\n')]);
      const before = new Set(filesUnder(dir).map((f) => f.name));
      assert.equal(await stop(ctlogd), 0, `ctlogd's exit; stderr:\n${ctlogd.stderr}`);
      const now = filesUnder(dir);
      const sealed = now.filter((f) => f.name.endsWith('.parquet') && !f.name.includes('snapshot-') && !before.has(f.name));
      assert.ok(sealed.length >= 1, `run ${run}: the stop sealed no file: ${JSON.stringify(now)}`);
      made.push(...sealed.map((f) => f.name));
      const parquet = now.filter((f) => f.name.endsWith('.parquet'));
      const total = parquet.reduce((s, f) => s + f.bytes, 0);
      largest = Math.max(largest, ...parquet.map((f) => f.bytes));
      assert.ok(total <= LIMIT + largest, `run ${run}: ${total} bytes, limit ${LIMIT}, largest file ${largest}: ${JSON.stringify(now)}`);
      t.diagnostic(`run ${run}: ${JSON.stringify(now)}`);
    }
    const left = new Set(filesUnder(dir).map((f) => f.name));
    const kept = made.map((f) => left.has(f));
    // The oldest went, the newest stayed: kept is false then true.
    assert.ok(!kept[0], `the oldest file ${made[0]} is still there: ${JSON.stringify([...left])}`);
    assert.ok(kept.at(-1), `the newest file ${made.at(-1)} is gone: ${JSON.stringify([...left])}`);
    assert.deepEqual(
      kept,
      [...kept].sort((a, b) => Number(a) - Number(b)),
      `files kept, in the order made: ${JSON.stringify(made.map((f, i) => [f, kept[i]]))}`,
    );
  });
});
