/**
 * The store output under faults, on real kernel events (NAT entries made
 * with `conntrack -I` and ended with `conntrack -D` in a namespace of the
 * test's own):
 *
 * - a full disk: store_dir on a 2 MiB tmpfs filled up, then freed; the
 *   records that could not be journaled are counted lost, the outage is
 *   said once when it starts and once when it ends, every event received
 *   is accounted at the stop, no temporary file is left, DuckDB reads
 *   every file and the connections made once there is room are found;
 * - a reload: changing store_keep_days and store_sync_ms keeps the running
 *   store; changing store_dir moves the events after it to the new store;
 * - a second ctlogd on the same store_dir: refused at start (exit 73, one
 *   line), the first goes on;
 * - store_connections: `nat` keeps only translated connections (the others
 *   counted skipped), `all` keeps every one.
 */
import { before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Lines, spawnCtlogd, startCtlogd, stats, statsWhen, stop } from './helpers/ctlogd.js';
import { samples } from './helpers/metrics.js';
import { checkPrerequisites, Netns } from './helpers/netns.js';
import { duckdbRows, filesUnder as storeFiles, type Rec, storeQuery } from './helpers/store.js';

/** The translated source of every NAT entry the tests make, and the server each asks for. */
const NAT_ADDR = '192.0.2.1';
const SERVER = '203.0.113.9';
const METRICS_PORT = 9464;

/** A work directory removed with the test; `ctlogd.json` in it is the config. */
function workDir(t: TestContext): string {
  const work = mkdtempSync(path.join(tmpdir(), 'ctlogd-store-faults-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  return work;
}

/** Writes (or rewrites, for a reload) the config of a store output at `dir`. */
function writeConfig(work: string, dir: string, extra: Record<string, unknown> = {}): string {
  const config = path.join(work, 'ctlogd.json');
  writeFileSync(config, JSON.stringify({ event: { new: {}, destroy: {} }, output: 'store', store_dir: dir, store_sync_ms: 50, ...extra }));
  return config;
}

/** A namespace, removed with the test, after every process in it. */
function netns(t: TestContext, tag: string): Netns {
  const ns = new Netns(tag);
  t.after(() => ns.destroy());
  return ns;
}

/** Starts ctlogd with `config` in `ns`; SIGKILLed (and waited for) with the test, whatever happens. */
async function ctlogdIn(t: TestContext, ns: Netns, config: string): Promise<Lines> {
  const out = await startCtlogd(ns, ['--config', config]);
  t.after(async () => {
    out.child.kill('SIGKILL');
    await out.exited;
  });
  return out;
}

/** NAT connections made in the namespace: entry i is `HOST:(sport+i)` to SERVER:53, translated to NAT_ADDR:(natPort+i). */
interface Made {
  host: string;
  sport: number;
  natPort: number;
  n: number;
  /** Before the first insert, after the last delete (ms since the epoch). */
  from: number;
  to: number;
}

/** Makes `n` NAT connections (a NEW and a DESTROY each); `translated: false` inserts them without a reply tuple of their own (no NAT). */
function connections(ns: Netns, host: string, sport: number, natPort: number, n: number, translated = true): Made {
  const script: string[] = [];
  for (let i = 0; i < n; i++) {
    const e = `-p udp -s ${host} -d ${SERVER} --sport ${sport + i} --dport 53`;
    const reply = translated ? ` -r ${SERVER} -q ${NAT_ADDR} --reply-port-src 53 --reply-port-dst ${natPort + i}` : '';
    script.push(`conntrack -I ${e}${reply} -t 60`, `conntrack -D ${e}`);
  }
  const from = Date.now();
  // One conntrack a command (it takes no script); each must succeed.
  ns.exec('sh', ['-ec', script.map((s) => `${s} >/dev/null 2>&1`).join('\n')]);
  return { host, sport, natPort, n, from, to: Date.now() };
}

/** `ctlogd query --store DIR ARGS --json`: its exit status, records and words. */
function lookup(dir: string, args: string[]): { status: number | null; records: Rec[]; said: string } {
  const r = storeQuery(['--store', dir, ...args, '--json']);
  return { status: r.status, records: r.records, said: `query ${args.join(' ')}: exit ${r.status}\nstdout:\n${r.stdout.slice(0, 2000)}\nstderr:\n${r.stderr}` };
}

const recText = (r: Rec) => `${r.ended} ${r.proto} ${r.orig_src}:${r.orig_sport} as ${r.nat_src}:${r.nat_sport}`;

/**
 * Every connection of `m` is found in `dir` by `--inside HOST` over its
 * span, ended by its DESTROY, translated as made (`nat`: false, as
 * itself). Returns the records besides those (a connection's NEW and its
 * DESTROY that were not made one), for the caller to assert none once the
 * rest is checked.
 */
function allFound(dir: string, m: Made, context: string, nat = true): string[] {
  const a = lookup(dir, ['--inside', m.host, '--from', new Date(m.from - 1000).toISOString(), '--to', new Date(m.to + 1000).toISOString()]);
  assert.equal(a.status, 0, `${context}: ${a.said}`);
  const got = a.records.map(recText);
  const want = Array.from(
    { length: m.n },
    (_, i) => `destroy udp ${m.host}:${m.sport + i} as ${nat ? `${NAT_ADDR}:${m.natPort + i}` : `${m.host}:${m.sport + i}`}`,
  );
  assert.deepEqual(
    want.filter((w) => !got.includes(w)),
    [],
    `${context}: the ${m.n} connections of ${m.host}, found:\n${got.join('\n')}`,
  );
  return got.filter((g) => !want.includes(g)).map((g) => `${context}: ${g}`);
}

/** One record a connection: its NEW and its DESTROY are one, whenever the NEW was read (docs/store.md). */
function noneBesides(extra: string[]): void {
  assert.deepEqual(extra, [], 'records besides the connections made: a NEW not made one with its DESTROY (a connection still open when it had ended)');
}

/** None of the connections of `m` is in `dir`: `--inside HOST` over their span finds nothing (exit 1). */
function noneFound(dir: string, m: Made, context: string): void {
  const a = lookup(dir, ['--inside', m.host, '--from', new Date(m.from - 1000).toISOString(), '--to', new Date(m.to + 1000).toISOString()]);
  assert.equal(a.status, 1, `${context}: ${a.said}`);
}

/** Every file under `dir`, relative. */
const filesUnder = (dir: string) => storeFiles(dir).map((f) => f.name);

/** The store output's counters in a stats line: every event received is written, lost or skipped by it, none waits. */
function accounted(s: Record<string, number>): boolean {
  return s.written + s.output_lost + s.skipped + s.filtered + s.dropped === s.received && s.output_waiting === 0;
}

const countOf = (text: string, re: RegExp) => text.match(re)?.length ?? 0;

/** The lines ctlogd says (not its debug lines). */
const saidLines = (stderr: string) => stderr.split('\n').filter((l) => l !== '' && !l.startsWith('ctlogd: debug: '));

describe('the store output under faults', () => {
  before(() => checkPrerequisites());

  test('a full disk: records lost and counted, the outage said once and its end with the count, every event accounted at the stop, the files whole and readable, the store goes on', async (t) => {
    // One cleanup, in its order: ctlogd gone (it holds files on the disk), the namespace, the mount, the directory.
    const ns = new Netns('store-full');
    const work = mkdtempSync(path.join(tmpdir(), 'ctlogd-store-faults-'));
    const mnt = path.join(work, 'disk');
    let ctlogd: Lines | undefined;
    t.after(async () => {
      if (ctlogd) {
        ctlogd.child.kill('SIGKILL');
        await ctlogd.exited;
      }
      ns.destroy();
      const u = spawnSync('umount', [mnt], { encoding: 'utf8' });
      rmSync(work, { recursive: true, force: true });
      if (u.status !== 0 && !u.stderr.includes('not mounted')) throw new Error(`umount ${mnt}: ${u.stderr}`);
    });
    // The metrics page's own connections are not tracked: they would be events too.
    ns.nft(`add table inet ctlogd_notrack
      add chain inet ctlogd_notrack out { type filter hook output priority raw; }
      add rule inet ctlogd_notrack out tcp dport ${METRICS_PORT} notrack
      add rule inet ctlogd_notrack out tcp sport ${METRICS_PORT} notrack`);
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', `ctlogd-storefull-${process.pid}`, mnt]);
    const dir = path.join(mnt, 'store');
    const config = writeConfig(work, dir, { store_sync_ms: 20, metrics_listen: `127.0.0.1:${METRICS_PORT}` });
    ctlogd = await startCtlogd(ns, ['--config', config]);
    const out = ctlogd;
    // The start snapshot is written on the store's thread: once it is there, the disk is ctlogd's to fill.
    for (let i = 0; !(existsSync(dir) && filesUnder(dir).some((f) => /snapshot-\d+\.parquet$/.test(f))); i++) {
      assert.ok(i < 100, `no start snapshot in ${dir}; stderr:\n${out.stderr}`);
      await sleep(50);
    }

    // Fill the disk to the last block.
    const filler = path.join(mnt, 'filler');
    const fd = openSync(filler, 'w');
    try {
      const chunk = Buffer.alloc(4096, 1);
      for (;;) writeSync(fd, chunk);
    } catch (e) {
      assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC', `filling ${mnt}`);
    } finally {
      closeSync(fd);
    }

    // 400 records, 137 bytes each in the journal: more than the journal's last page has room for.
    const full = connections(ns, '10.9.1.1', 10000, 30000, 200);
    const during = await statsWhen(out, (s) => s.received === 400 && s.output_waiting === 0, 'the events made while the disk is full, handled');
    assert.ok(during.output_lost > 0, `records lost while the disk is full: ${JSON.stringify(during)}`);
    assert.ok(accounted(during), `every event received accounted while the disk is full: ${JSON.stringify(during)}`);
    const failure = saidLines(out.stderr).filter((l) => l.includes(`store_dir ${dir}: `) && !l.includes('writing again'));
    assert.equal(failure.length, 1, `one line when the outage starts, not one per batch:\n${out.stderr}`);
    assert.match(failure[0], /^ctlogd: error: store_dir \S+: .*(ENOSPC|No space left on device).*; records are lost \(counted\)/, failure[0]);
    // The errors, by cause: the metrics page's ctlogd_output_errors.
    const page = ns.exec(process.execPath, ['-e', `fetch('http://127.0.0.1:${METRICS_PORT}/metrics').then(async (r) => process.stdout.write(await r.text()))`]);
    const enospc = [...samples(page)].filter(([k]) => k.startsWith('ctlogd_output_errors_total{') && k.includes('"ENOSPC"') && k.includes('"store"'));
    assert.equal(enospc.length, 1, `ctlogd_output_errors of the store, ENOSPC:\n${page}`);
    assert.ok(enospc[0][1] > 0, `ENOSPC errors counted: ${enospc[0].join(' ')}`);

    // Room again: the next records are written.
    unlinkSync(filler);
    const freed = connections(ns, '10.9.2.1', 20000, 40000, 100);
    const again = await statsWhen(out, (s) => s.received === 600 && s.written >= during.written + 200, 'the events made once there is room, written');
    const recovered = /^ctlogd: warn: store_dir \S+: writing again; (\d+) records were lost \((.*)\)$/m.exec(out.stderr);
    assert.ok(recovered, `the end of the outage, as a warning:\n${out.stderr}`);
    assert.equal(Number(recovered[1]), again.output_lost, `the end says what the outage lost: ${JSON.stringify(again)}`);
    assert.equal(again.output_lost, during.output_lost, 'nothing lost once there is room');
    assert.equal(countOf(out.stderr, /writing again/g), 1, `one line when it ends:\n${out.stderr}`);

    // The last few, and a stop as soon as they are read: what the store syncs on its way out is counted too.
    const last = connections(ns, '10.9.3.1', 20000, 41000, 10);
    await statsWhen(out, (c) => c.received === 620, 'the last events read');
    assert.equal(await stop(out), 0, `ctlogd's exit; stderr:\n${out.stderr}`);
    const s = stats(out.stderr);
    const tmp = filesUnder(dir).filter((f) => f.endsWith('.tmp'));
    assert.deepEqual(tmp, [], `no temporary file left: ${JSON.stringify(filesUnder(dir))}`);
    const parquet = filesUnder(dir).filter((f) => f.endsWith('.parquet'));
    const rows = duckdbRows(dir).perFile;
    assert.deepEqual(Object.keys(rows).sort(), parquet, 'DuckDB reads every .parquet file');
    const extra = [...allFound(dir, freed, 'the connections made once there was room'), ...allFound(dir, last, 'the connections made just before the stop')];
    const found = lookup(dir, ['--inside', full.host, '--from', new Date(full.from - 1000).toISOString(), '--to', new Date(full.to + 1000).toISOString()]);
    t.diagnostic(
      `while full: written ${during.written} output_lost ${during.output_lost}, ${found.records.length} of its ${full.n} connections found; at the stop: ${JSON.stringify({ received: s.received, written: s.written, output_lost: s.output_lost, skipped: s.skipped, output_waiting: s.output_waiting })}; files ${JSON.stringify(rows)}`,
    );
    assert.equal(s.received, 620, out.stderr);
    assert.ok(
      accounted(s),
      `at the stop, written + output_lost + skipped = received for the store output, none waiting: ${JSON.stringify({ received: s.received, written: s.written, output_lost: s.output_lost, skipped: s.skipped, output_waiting: s.output_waiting })}`,
    );
    noneBesides(extra);
  });

  test('a reload changing store_keep_days and store_sync_ms keeps the running store: no second open, no lock error; every event before and after it found', async (t) => {
    const ns = netns(t, 'store-reload');
    const work = workDir(t);
    const dir = path.join(work, 'store');
    const config = writeConfig(work, dir, { store_sync_ms: 1000 });
    const out = await ctlogdIn(t, ns, config);
    const first = connections(ns, '10.7.1.1', 10000, 31000, 50);
    await statsWhen(out, (s) => s.received === 100 && accounted(s), 'the events before the reload written');

    writeConfig(work, dir, { store_sync_ms: 50, store_keep_days: 30 });
    out.child.kill('SIGHUP');
    await out.until(() => /configuration reloaded|reload refused|reload failed/.test(out.stderr), 'the reload');
    assert.match(out.stderr, /^ctlogd: configuration reloaded$/m, out.stderr);
    const second = connections(ns, '10.7.2.1', 10000, 32000, 50);
    const s = await statsWhen(out, (c) => c.received === 200 && accounted(c), 'the events after the reload written');
    assert.equal(s.written, 200, JSON.stringify(s));
    assert.equal(await stop(out), 0, `ctlogd's exit; stderr:\n${out.stderr}`);
    assert.deepEqual(
      saidLines(out.stderr).filter((l) => !/^ctlogd: (stats: |configuration reloaded$)/.test(l)),
      [],
      `nothing but the reload and the counters said:\n${out.stderr}`,
    );
    assert.doesNotMatch(out.stderr, /lock|cannot open/, out.stderr);
    const extra = [...allFound(dir, first, 'before the reload'), ...allFound(dir, second, 'after the reload')];
    assert.ok(accounted(stats(out.stderr)), `at the stop: ${out.stderr}`);
    noneBesides(extra);
  });

  test('a reload changing store_dir: the events after it in the new store, those before in the old, none lost', async (t) => {
    const ns = netns(t, 'store-move');
    const work = workDir(t);
    const [oldDir, newDir] = [path.join(work, 'store-a'), path.join(work, 'store-b')];
    const config = writeConfig(work, oldDir);
    const out = await ctlogdIn(t, ns, config);
    const first = connections(ns, '10.7.3.1', 10000, 33000, 50);
    await statsWhen(out, (s) => s.received === 100 && accounted(s), 'the events before the reload written');

    writeConfig(work, newDir);
    out.child.kill('SIGHUP');
    await out.until(() => /configuration reloaded|reload refused|reload failed/.test(out.stderr), 'the reload');
    assert.match(out.stderr, /^ctlogd: configuration reloaded$/m, out.stderr);
    const second = connections(ns, '10.7.4.1', 10000, 34000, 50);
    const s = await statsWhen(out, (c) => c.received === 200 && accounted(c), 'the events after the reload written');
    assert.deepEqual([s.written, s.output_lost, s.skipped], [200, 0, 0], JSON.stringify(s));
    assert.equal(await stop(out), 0, `ctlogd's exit; stderr:\n${out.stderr}`);
    assert.doesNotMatch(out.stderr, /lock|cannot open|ctlogd: error:/, out.stderr);
    const end = stats(out.stderr);
    assert.deepEqual([end.written, end.output_lost, end.output_waiting], [200, 0, 0], `at the stop: ${out.stderr}`);
    const extra = [...allFound(oldDir, first, 'the old store, before the reload'), ...allFound(newDir, second, 'the new store, after the reload')];
    noneFound(oldDir, second, 'the old store, after the reload');
    noneFound(newDir, first, 'the new store, before the reload');
    noneBesides(extra);
  });

  test('a second ctlogd on the same store_dir is refused at start: exit 73, one line naming store_dir and its lock; the first goes on', async (t) => {
    const ns = netns(t, 'store-lock');
    const work = workDir(t);
    const dir = path.join(work, 'store');
    const config = writeConfig(work, dir);
    const first = await ctlogdIn(t, ns, config);

    const second = spawnCtlogd(ns, ['--config', config]);
    t.after(() => second.child.kill('SIGKILL'));
    const code = await Promise.race([second.exited, sleep(15_000).then(() => 'still running')]);
    assert.equal(code, 73, `the second ctlogd's exit; stderr:\n${second.stderr}`);
    const said = saidLines(second.stderr);
    assert.equal(said.length, 1, `one line:\n${second.stderr}`);
    assert.ok(said[0].includes(`store_dir ${dir}`) && /lock/.test(said[0]), `names store_dir and the lock: ${said[0]}`);

    const made = connections(ns, '10.7.5.1', 10000, 35000, 20);
    await statsWhen(first, (s) => s.received === 40 && s.written === 40 && accounted(s), 'the first to write the events made after');
    assert.equal(await stop(first), 0, `the first ctlogd's exit; stderr:\n${first.stderr}`);
    assert.doesNotMatch(first.stderr, /ctlogd: error:/, first.stderr);
    noneBesides(allFound(dir, made, 'written by the first'));
  });

  for (const keep of ['nat', 'all'] as const) {
    test(`store_connections ${keep}${keep === 'nat' ? ' (the default)' : ''}: ${keep === 'nat' ? 'an untranslated connection counted skipped, not stored' : 'an untranslated connection stored too'}`, async (t) => {
      const ns = netns(t, `store-${keep}`);
      const work = workDir(t);
      const dir = path.join(work, 'store');
      // The default unset for nat.
      const config = writeConfig(work, dir, keep === 'all' ? { store_connections: 'all' } : {});
      const out = await ctlogdIn(t, ns, config);
      const nat = connections(ns, '10.6.0.1', 10000, 36000, 3);
      const plain = connections(ns, '10.6.0.2', 10000, 0, 2, false);
      const s = await statsWhen(out, (c) => c.received === 10 && accounted(c), 'every event handled');
      const want =
        keep === 'nat'
          ? { written: 6, skipped: 4, 'skipped.new': 2, 'skipped.destroy': 2 }
          : { written: 10, skipped: 0, 'skipped.new': 0, 'skipped.destroy': 0 };
      assert.deepEqual(
        { written: s.written, skipped: s.skipped, 'skipped.new': s['skipped.new'], 'skipped.destroy': s['skipped.destroy'] },
        want,
        JSON.stringify(s),
      );
      // Every connection has ended by now: none holds its translated port.
      const ended = new Date().toISOString();
      assert.equal(await stop(out), 0, `ctlogd's exit; stderr:\n${out.stderr}`);
      const extra = allFound(dir, nat, 'translated');
      if (keep === 'all') extra.push(...allFound(dir, plain, 'not translated', false));
      else noneFound(dir, plain, 'not translated, not stored');
      const held = Array.from({ length: nat.n }, (_, i) => lookup(dir, ['--nat', `${NAT_ADDR}:${nat.natPort + i}`, '--at', ended, '--proto', 'udp']));
      assert.deepEqual(
        held.filter((h) => h.status !== 1).map((h) => h.said),
        [],
        `no holder of a translated port after its connection's DESTROY (at ${ended})`,
      );
      noneBesides(extra);
    });
  }
});
