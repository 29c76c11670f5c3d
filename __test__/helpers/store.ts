/** The NAT log store as the end-to-end tests see it: `ctlogd query`, and DuckDB reading its files. */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { CTLOGD, ROOT } from './ctlogd.js';

/** A record of `ctlogd query --json` (docs/store.md). */
export interface Rec {
  start_ns: string;
  end_ns: string | null;
  start: string;
  end: string | null;
  ended: 'destroy' | 'open' | 'snapshot' | 'stopped';
  family: string;
  proto: string;
  orig_src: string;
  orig_sport: number;
  orig_dst: string;
  orig_dport: number;
  nat_src: string;
  nat_sport: number;
  nat_dst: string;
  nat_dport: number;
  zone: number;
  mark: number;
  id: number;
  orig_packets: number | null;
  orig_bytes: number | null;
  reply_packets: number | null;
  reply_bytes: number | null;
  /** With --batch: the lookup's line. */
  line?: number;
}

export interface Answer {
  status: number | null;
  records: Rec[];
  stdout: string;
  stderr: string;
}

/** Runs `ctlogd query ARGS` where the test runs; its records when asked for JSON (--json, --batch). */
export function storeQuery(args: string[]): Answer {
  const r = spawnSync(process.execPath, [CTLOGD, 'query', ...args], { encoding: 'utf8', timeout: 30_000 });
  const records =
    args.includes('--json') || args.includes('--batch')
      ? r.stdout
          .split('\n')
          .filter((l) => l.trim())
          .map((l) => JSON.parse(l) as Rec)
      : [];
  return { status: r.status, records, stdout: r.stdout, stderr: r.stderr };
}

/** Every file under `dir`, relative, with its size. */
export function filesUnder(dir: string): Array<{ name: string; bytes: number }> {
  return (readdirSync(dir, { recursive: true }) as string[])
    .map((name) => ({ name, st: statSync(path.join(dir, name)) }))
    .filter((f) => f.st.isFile())
    .map((f) => ({ name: f.name, bytes: f.st.size }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Reads every .parquet file under `dir` with DuckDB (scripts/store-readers.sh): rows per file, and all of them through one glob; throws if one cannot be read. */
export function duckdbRows(dir: string): { perFile: Record<string, number>; total: number } {
  const python = execFileSync('bash', [path.join(ROOT, 'scripts/store-readers.sh')], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .at(-1)!;
  const script = `
import duckdb, glob, json, sys
d = sys.argv[1]
per = {}
for f in sorted(glob.glob(d + '/**/*.parquet', recursive=True)):
    per[f[len(d) + 1:]] = duckdb.sql(f"SELECT count(*) FROM read_parquet('{f}')").fetchall()[0][0]
total = duckdb.sql(f"SELECT count(*) FROM read_parquet('{d}/**/*.parquet')").fetchall()[0][0] if per else 0
print(json.dumps({'perFile': per, 'total': total}))`;
  return JSON.parse(execFileSync(python, ['-c', script, dir], { encoding: 'utf8' }));
}
