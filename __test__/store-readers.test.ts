/**
 * The store's files as other engines read them, unchanged: DuckDB
 * (`read_parquet`) and ClickHouse's engine (chdb, loading them into
 * schema/clickhouse.sql's table). A store written by bench/store-gen
 * through the core's own writer (ports of one translated address taken
 * again and again by different inside hosts, several sealed files and
 * hourly snapshots); both engines count its rows, and answer "who held
 * this translated address and port at T" in SQL for sampled connections,
 * as the addon's queryStore does and as the generator knows it.
 *
 * The readers come from scripts/store-readers.sh (PyPI's duckdb and chdb,
 * pinned), named by CTLOGD_STORE_READERS_PYTHON or installed here on first
 * use; a reader that cannot be had fails the test.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadNative } from '../src/native.js';
import { CTLOGD } from './helpers/ctlogd.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CONNECTIONS = 20_000;
const LOOKUPS = 200;

/** What store-gen says it wrote. */
interface Made {
  connections: number;
  rows: number;
  snapshot_rows: number;
  files: number;
}

/** A sampled connection: who held nat_src:nat_sport at at_ns. */
interface Sample {
  nat_src: string;
  nat_sport: number;
  proto: number;
  at_ns: string;
  orig_src: string;
  orig_sport: number;
  start_ns: string;
  end_ns: string;
}

/** One holder as every side answers it. */
interface Holder {
  orig_src: string;
  orig_sport: number;
  start_ns: string;
  end_ns: string | null;
}

interface EngineAnswer {
  rows: number;
  files?: number;
  answers: Holder[][];
  lookup_seconds: number;
}

/** The Python with duckdb and chdb, or an Error saying how to get it. */
function readersPython(): string {
  let python = process.env.CTLOGD_STORE_READERS_PYTHON;
  if (!python) {
    try {
      python = execFileSync('bash', [join(ROOT, 'scripts/store-readers.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
    } catch (e) {
      throw new Error(`scripts/store-readers.sh could not install PyPI's duckdb and chdb: ${(e as Error).message}`);
    }
  }
  try {
    execFileSync(python, ['-c', 'import duckdb, chdb'], { stdio: 'ignore' });
  } catch {
    throw new Error(`${python} cannot import duckdb and chdb: run scripts/store-readers.sh (PyPI packages duckdb, chdb)`);
  }
  return python;
}

// One Python run for both engines: JSON in (the store, the table's SQL,
// the lookups), JSON out. The lookup's SQL is one text for both, over the
// event rows of the translated address and port begun by T: a connection
// is its NEW and its DESTROY (the same tuple and conntrack id); one with
// an end held the port if it ended at T or later, one without (no
// DESTROY) if it is the latest to have begun by T.
const SCRIPT = `
import ipaddress, json, sys, time
import duckdb
from chdb import session

job = json.load(sys.stdin)
glob = job['dir'] + '/**/*.parquet'

LOOKUP = """
WITH conns AS (
  SELECT proto, nat_dst, nat_dport, id, orig_src, orig_sport,
         min({start}) AS s, max({end}) AS e
  FROM {table}
  WHERE nat_src = {addr} AND nat_sport = {port} AND ended IN ('open', 'destroy') AND {start} <= {at}
  GROUP BY proto, nat_dst, nat_dport, id, orig_src, orig_sport
)
SELECT {text}, orig_sport, s, e FROM conns
WHERE e >= {at} OR (e IS NULL AND s = (SELECT max(s) FROM conns))
ORDER BY s
"""

def lookups(run, table, addr, ns, text):
    answers = []
    began = time.monotonic()
    for q in job['lookups']:
        sql = LOOKUP.format(table=table, addr=addr(q['nat_src']), port=int(q['nat_sport']), at=int(q['at_ns']),
                            start=ns('start_ns'), end=ns('end_ns'), text=text)
        answers.append([{'orig_src': str(ipaddress.ip_address(a).ipv4_mapped or ipaddress.ip_address(a)),
                         'orig_sport': p, 'start_ns': str(s), 'end_ns': None if e is None else str(e)}
                        for a, p, s, e in run(sql)])
    return answers, time.monotonic() - began

def mapped(v4):
    return ipaddress.IPv6Address('::ffff:' + v4)

out = {}
d = duckdb.connect()
d.execute(f"CREATE VIEW store AS SELECT * FROM read_parquet('{glob}', filename = true)")
rows, files = d.execute('SELECT count(*), count(DISTINCT filename) FROM store').fetchone()
answers, secs = lookups(lambda sql: d.execute(sql).fetchall(), 'store',
                        lambda a: f"from_hex('{mapped(a).packed.hex()}')", lambda c: f'epoch_ns({c})',
                        'orig_src')
out['duckdb'] = {'rows': rows, 'files': files, 'answers': answers, 'lookup_seconds': secs}

c = session.Session(job['chdb'])
c.query(job['schema'])
c.query(f"INSERT INTO ctlogd_connections SELECT * FROM file('{glob}', Parquet)")
def ch(sql):
    text = str(c.query(sql, 'JSONCompactEachRow'))
    return [tuple(json.loads(line)) for line in text.splitlines() if line]
[[rows]] = ch('SELECT count() FROM ctlogd_connections')
answers, secs = lookups(ch, 'ctlogd_connections', lambda a: f"toIPv6('{mapped(a)}')",
                        lambda c: f'toUnixTimestamp64Nano({c})', 'toString(orig_src)')
out['chdb'] = {'rows': int(rows), 'answers': answers, 'lookup_seconds': secs}
c.close()
json.dump(out, sys.stdout)
`;

let work = '';
let store = '';
let made: Made;
let samples: Sample[];
let engines: { duckdb: EngineAnswer; chdb: EngineAnswer };

before(() => {
  const python = readersPython();
  // The generator as its sources are now (a no-op once built).
  execFileSync('cargo', ['build', '--release', '--quiet', '-p', 'store-gen'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  work = mkdtempSync(join(tmpdir(), 'ctlogd-store-readers-'));
  store = join(work, 'store');
  const sampleFile = join(work, 'samples.jsonl');
  // Two days ago: inside the table's TTL, so that ClickHouse keeps the rows.
  const startNs = (BigInt(Date.now()) / 1000n - 2n * 86_400n) * 1_000_000_000n;
  // One translated address, 1,024 ports, 2 connections/s for about three
  // hours: every port is taken some twenty times; a file every 8,192 rows.
  const flags = {
    '--dir': store,
    '--connections': String(CONNECTIONS),
    '--seed': '7',
    '--start-ns': String(startNs),
    '--rate': '2',
    '--nat-addrs': '1',
    '--ports': '1024-2047',
    '--seal-rows': '8192',
  };
  const args = [...Object.entries(flags).flat(), '--sample', String(LOOKUPS), sampleFile];
  const gen = execFileSync(join(ROOT, 'target/release/store-gen'), args, { encoding: 'utf8' });
  made = JSON.parse(gen) as Made;
  samples = readFileSync(sampleFile, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Sample);
  const job = {
    dir: store,
    chdb: join(work, 'chdb'),
    schema: readFileSync(join(ROOT, 'schema/clickhouse.sql'), 'utf8'),
    lookups: samples,
  };
  const out = execFileSync(python, ['-c', SCRIPT], { input: JSON.stringify(job), encoding: 'utf8', maxBuffer: 64 << 20 });
  engines = JSON.parse(out);
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the generated store: a NEW and a DESTROY a connection, snapshots, several files, the sampled lookups', () => {
  assert.equal(made.connections, CONNECTIONS);
  // A row a connection, or two when its NEW and DESTROY were sealed apart; and the snapshots'.
  assert.ok(made.rows >= CONNECTIONS + made.snapshot_rows && made.rows <= 2 * CONNECTIONS + made.snapshot_rows, JSON.stringify(made));
  assert.ok(made.snapshot_rows > 0, 'hourly snapshots were written');
  assert.ok(made.files >= 5, `several files: ${made.files}`);
  assert.equal(samples.length, LOOKUPS);
  // The sampled ports were held by others too, before or after.
  const ports = new Set(samples.map((s) => s.nat_sport));
  assert.ok(ports.size > LOOKUPS / 2);
});

test('DuckDB reads every file of the store: every row the generator wrote', () => {
  assert.equal(engines.duckdb.files, made.files);
  assert.equal(engines.duckdb.rows, made.rows);
});

test("ClickHouse (chdb) loads them into schema/clickhouse.sql's table: every row", () => {
  assert.equal(engines.chdb.rows, made.rows);
});

test('who held a translated address and port at T: DuckDB, ClickHouse, queryStore, ctlogd query and the generator agree', async () => {
  const { queryStore } = await loadNative();
  // `ctlogd query --batch`: every lookup in one process, each answer tagged with its line.
  const batch = join(work, 'lookups');
  writeFileSync(
    batch,
    samples
      .map((s) => `--nat ${s.nat_src}:${s.nat_sport} --at ${BigInt(s.at_ns) / 1_000_000_000n}.${String(BigInt(s.at_ns) % 1_000_000_000n).padStart(9, '0')}\n`)
      .join(''),
  );
  const cli = spawnSync(process.execPath, [CTLOGD, 'query', '--store', store, '--batch', batch], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(cli.status, 0, cli.stderr);
  const byLine = new Map<number, Holder[]>();
  for (const l of cli.stdout.split('\n').filter((x) => x !== '')) {
    const r = JSON.parse(l) as { line: number; orig_src: string; orig_sport: number; start_ns: string; end_ns: string | null };
    byLine.set(r.line, [...(byLine.get(r.line) ?? []), { orig_src: r.orig_src, orig_sport: r.orig_sport, start_ns: r.start_ns, end_ns: r.end_ns }]);
  }
  for (const [i, s] of samples.entries()) {
    const truth: Holder[] = [{ orig_src: s.orig_src, orig_sport: s.orig_sport, start_ns: s.start_ns, end_ns: s.end_ns }];
    const what = `${s.nat_src}:${s.nat_sport} at ${s.at_ns}`;
    assert.deepEqual(engines.duckdb.answers[i], truth, `DuckDB, ${what}`);
    assert.deepEqual(engines.chdb.answers[i], truth, `chdb, ${what}`);
    const found = queryStore(store, { by: 'nat', addr: s.nat_src, port: s.nat_sport, fromNs: s.at_ns, toNs: s.at_ns });
    const addon: Holder[] = found.records.map((r) => ({ orig_src: r.origSrc, orig_sport: r.origSport, start_ns: r.startNs, end_ns: r.endNs ?? null }));
    assert.deepEqual(addon, truth, `queryStore, ${what}`);
    assert.deepEqual(byLine.get(i + 1) ?? [], truth, `ctlogd query --batch line ${i + 1}, ${what}`);
  }
  // How long the SQL took, for the record (the store's own lookup is timed by its tests).
  const ms = (e: EngineAnswer) => ((e.lookup_seconds * 1000) / LOOKUPS).toFixed(1);
  console.log(`${LOOKUPS} lookups: DuckDB ${ms(engines.duckdb)} ms each over read_parquet, chdb ${ms(engines.chdb)} ms each over its table`);
});
