/**
 * `ctlogd query`: lookups in a NAT log store from the command line, one or
 * a file of them (--batch), as a table for people or JSON lines for tools.
 * Exit 0 when something was found, 1 when nothing was, 64 for a bad
 * command line, 66 when there is no store at --store.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { echo, oneLine } from './echo.js';
import { protoName, protoNumber } from './names.js';
import { AddonError } from './native.js';
import { LookupError, parseEndpoint, parseTime, queryStore, type LookupBy, type StoreFound, type StoreLookup, type StoreRecord } from './store-query.js';

export const QUERY_EXIT = { FOUND: 0, NONE: 1, USAGE: 64, NOINPUT: 66, UNAVAILABLE: 69 } as const;

const FLAGS = {
  store: { type: 'string' },
  nat: { type: 'string' },
  inside: { type: 'string' },
  dst: { type: 'string' },
  at: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  proto: { type: 'string' },
  batch: { type: 'string' },
  json: { type: 'boolean' },
  timing: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const QUERY_USAGE = `Usage:
  ctlogd query --store DIR --nat ADDR:PORT --at TIME [--proto P] [--json]
  ctlogd query --store DIR --inside ADDR[:PORT] --from TIME --to TIME [--proto P] [--json]
  ctlogd query --store DIR --dst ADDR[:PORT] --from TIME --to TIME [--proto P] [--json]
  ctlogd query --store DIR --batch FILE [--timing]

Who held a translated address and port at a moment (--nat, with --at), or
what an inside host (--inside) or towards a destination (--dst) was open
over a span (--from/--to, or a moment with --at). One record a connection:
when it was taken and released, inside -> translated -> destination, bytes.

  --store DIR      the store output's store_dir
  --at TIME        RFC 3339, any offset (2026-12-06T10:02:13Z), or epoch
                   seconds with a fraction (1796551333.25)
  --from/--to TIME a span, both ends included
  --proto P        tcp, udp, icmp, ... or a number
  --json           one JSON object a connection (times in ns as strings too)
  --batch FILE     one lookup a line (the flags above, without --store),
                   results as --json, each with "line": N; --timing adds one
                   JSON line a lookup on stderr (found, us, files_read)

Exit status: 0 found, 1 none, 64 usage, 66 no store at DIR.
`;

class Usage extends Error {}

interface Asked {
  lookup: StoreLookup;
  json: boolean;
}

/** One lookup's flags (a command line's, or a batch line's). */
function parseLookup(args: string[], inBatch: boolean): Asked & { store?: string; batch?: string; timing: boolean; help: boolean } {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args, options: FLAGS, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new Usage(oneLine((e as Error).message));
  }
  const str = (k: string) => values[k] as string | undefined;
  if (values.help) return { help: true, json: false, timing: false, lookup: undefined as never };
  if (inBatch && (str('store') !== undefined || str('batch') !== undefined)) throw new Usage('--store and --batch: not on a batch line');
  if (str('batch') !== undefined)
    return { batch: str('batch'), store: str('store'), timing: values.timing === true, help: false, json: true, lookup: undefined as never };
  const by = (['nat', 'inside', 'dst'] as const).filter((k) => str(k) !== undefined);
  if (by.length !== 1) throw new Usage(`needs one of --nat, --inside or --dst${by.length > 1 ? `, not ${by.map((b) => `--${b}`).join(' and ')}` : ''}`);
  const which: LookupBy = by[0];
  const at = str('at');
  const from = str('from');
  const to = str('to');
  let span: [bigint, bigint];
  if (at !== undefined) {
    if (from !== undefined || to !== undefined) throw new Usage('--at: a moment, or --from and --to: a span, not both');
    const t = parseTime(at, '--at');
    span = [t, t];
  } else if (from !== undefined && to !== undefined) {
    span = [parseTime(from, '--from'), parseTime(to, '--to')];
    if (span[0] > span[1]) throw new Usage(`--from: must not be after --to: ${from} > ${to}`);
  } else {
    throw new Usage(which === 'nat' ? '--nat needs --at TIME (or --from and --to)' : `--${which} needs --from and --to (or --at)`);
  }
  const { addr, port } = parseEndpoint(str(which) as string, `--${which}`, which === 'nat');
  let proto: number | undefined;
  const p = str('proto');
  if (p !== undefined) {
    proto = /^\d{1,3}$/.test(p) && Number(p) <= 255 ? Number(p) : protoNumber(p);
    if (proto === undefined)
      throw new Usage(`--proto: must be tcp, udp, udplite, icmp, icmpv6, sctp, dccp, gre or a number 0-255: value was ${JSON.stringify(echo(p))}`);
  }
  return { store: str('store'), timing: false, help: false, json: values.json === true, lookup: { by: which, addr, port, proto, from: span[0], to: span[1] } };
}

/** ns since the epoch (decimal text) as RFC 3339 UTC with the ns. */
export function utc(ns: string): string {
  const n = BigInt(ns);
  const s = n / 1_000_000_000n - (n < 0n && n % 1_000_000_000n !== 0n ? 1n : 0n);
  const frac = n - s * 1_000_000_000n;
  return `${new Date(Number(s) * 1000).toISOString().slice(0, 19)}.${String(frac).padStart(9, '0')}Z`;
}

/** As people read it: local time to the ms, with its offset. */
function local(ns: string): string {
  const d = new Date(Number(BigInt(ns) / 1_000_000n));
  const off = -d.getTimezoneOffset();
  const pad = (n: number, w = 2) => String(Math.abs(n)).padStart(w, '0');
  const zone = `${off < 0 ? '-' : '+'}${pad(Math.trunc(off / 60))}:${pad(off % 60)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)} ${zone}`;
}

const endpoint = (addr: string, port: number) => (addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`);

/** One record as a JSON object for tools (docs/store.md). */
export function recordJson(r: StoreRecord): Record<string, unknown> {
  return {
    start_ns: r.startNs,
    end_ns: r.endNs ?? null,
    start: utc(r.startNs),
    end: r.endNs === undefined || r.endNs === null ? null : utc(r.endNs),
    ended: r.ended,
    family: r.family,
    proto: protoName(r.proto) === 'unknown' ? String(r.proto) : protoName(r.proto),
    orig_src: r.origSrc,
    orig_sport: r.origSport,
    orig_dst: r.origDst,
    orig_dport: r.origDport,
    nat_src: r.natSrc,
    nat_sport: r.natSport,
    nat_dst: r.natDst,
    nat_dport: r.natDport,
    zone: r.zone,
    mark: r.mark,
    id: r.id,
    orig_packets: r.origPackets ?? null,
    orig_bytes: r.origBytes ?? null,
    reply_packets: r.replyPackets ?? null,
    reply_bytes: r.replyBytes ?? null,
  };
}

/** The records as a table for people. */
function table(records: StoreRecord[]): string {
  const rows = records.map((r) => {
    const end = r.endNs ?? undefined;
    const secs = end === undefined ? undefined : Number(BigInt(end) - BigInt(r.startNs)) / 1e9;
    return [
      local(r.startNs),
      utc(r.startNs),
      end === undefined ? `(${r.ended})` : utc(end),
      secs === undefined ? '' : `${secs.toFixed(secs < 10 ? 3 : 1)}s`,
      protoName(r.proto) === 'unknown' ? String(r.proto) : protoName(r.proto),
      `${endpoint(r.origSrc, r.origSport)} -> ${endpoint(r.natSrc, r.natSport)} -> ${endpoint(r.natDst, r.natDport)}`,
      r.origBytes === undefined || r.origBytes === null ? '' : `${r.origBytes}/${r.replyBytes ?? ''}`,
      r.ended,
    ];
  });
  const head = ['TAKEN (local)', 'TAKEN (UTC)', 'RELEASED (UTC)', 'HELD', 'PROTO', 'INSIDE -> TRANSLATED -> DESTINATION', 'BYTES OUT/IN', 'ENDED'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return (
    [head, ...rows]
      .map((r) =>
        r
          .map((c, i) => c.padEnd(widths[i]))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

function die(code: number, msg: string): never {
  process.stderr.write(`ctlogd query: ${oneLine(msg)}\n`);
  process.exit(code);
}

/** What a lookup's failure means for the exit status. */
function failed(e: unknown, store: string): never {
  const code = (e as NodeJS.ErrnoException).code;
  if (e instanceof Usage || e instanceof LookupError) die(QUERY_EXIT.USAGE, `${(e as Error).message}; see ctlogd query --help`);
  if (e instanceof AddonError) die(QUERY_EXIT.UNAVAILABLE, e.message);
  if (code === 'ENOENT' || code === 'ENOTDIR') die(QUERY_EXIT.NOINPUT, `--store ${echo(store)}: no store there (${code})`);
  die(QUERY_EXIT.NOINPUT, `--store ${echo(store)}: cannot be read: ${(e as Error).message}`);
}

export async function queryMain(argv: string[]): Promise<void> {
  let asked: ReturnType<typeof parseLookup>;
  try {
    asked = parseLookup(argv, false);
  } catch (e) {
    failed(e, '');
  }
  if (asked.help) {
    process.stdout.write(QUERY_USAGE);
    return;
  }
  const store = asked.store;
  if (store === undefined || store === '') die(QUERY_EXIT.USAGE, "--store DIR: needed (the store output's store_dir); see ctlogd query --help");
  if (asked.batch === undefined) {
    let found: StoreFound;
    try {
      found = await queryStore(store, asked.lookup);
    } catch (e) {
      failed(e, store);
    }
    const out = asked.json ? found.records.map((r) => JSON.stringify(recordJson(r)) + '\n').join('') : found.records.length > 0 ? table(found.records) : '';
    process.stdout.write(out);
    process.exitCode = found.records.length > 0 ? QUERY_EXIT.FOUND : QUERY_EXIT.NONE;
    return;
  }
  let text: string;
  try {
    text = readFileSync(asked.batch, 'utf8');
  } catch (e) {
    die(QUERY_EXIT.NOINPUT, `--batch ${echo(asked.batch)}: cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let any = false;
  let bad = false;
  const out: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const words = lines[i]
      .trim()
      .split(/\s+/)
      .filter((w) => w !== '');
    if (words.length === 0 || words[0].startsWith('#')) continue;
    let lookup: StoreLookup;
    try {
      lookup = parseLookup(words, true).lookup;
    } catch (e) {
      if (!(e instanceof Usage || e instanceof LookupError)) throw e;
      process.stderr.write(`ctlogd query: --batch ${echo(asked.batch)} line ${i + 1}: ${oneLine(e.message)}\n`);
      bad = true;
      continue;
    }
    const t0 = process.hrtime.bigint();
    let found: StoreFound;
    try {
      found = await queryStore(store, lookup);
    } catch (e) {
      failed(e, store);
    }
    const us = Number(process.hrtime.bigint() - t0) / 1000;
    for (const r of found.records) out.push(JSON.stringify({ line: i + 1, ...recordJson(r) }) + '\n');
    if (asked.timing) {
      process.stderr.write(
        JSON.stringify({ line: i + 1, found: found.records.length, us, files_read: found.filesRead, row_groups_read: found.rowGroupsRead }) + '\n',
      );
    }
    any ||= found.records.length > 0;
    if (out.length >= 1024) process.stdout.write(out.splice(0).join(''));
  }
  process.stdout.write(out.join(''));
  process.exitCode = bad ? QUERY_EXIT.USAGE : any ? QUERY_EXIT.FOUND : QUERY_EXIT.NONE;
}
