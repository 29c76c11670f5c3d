/** The store output's keys, and what they ask of each other. */
import { show } from '../../config/error.js';
import { integer, Invalid, kernelPath, oneOf, option, PATH_MAX_BYTES, type Rule, type Values } from '../../config/rules.js';
import type { EventConfig } from '../../config/schema.js';

/** The event types with a record: a NEW opens a connection, a DESTROY ends it. */
export const STORE_TYPES = ['new', 'destroy'] as const;

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** A size in bytes: a number, or digits with a K, M, G or T suffix (powers of 1024). */
export const BYTE_SIZE: Rule<number> = {
  allowed: 'a size in bytes: an integer, or digits followed by K, M, G or T (1024, 1024², ...), e.g. 20G; 0 for none',
  check(v) {
    if (!(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)) throw new Invalid(`must be ${BYTE_SIZE.allowed}`);
  },
  coerce(s) {
    const m = /^(\d+)([KMGT]?)$/i.exec(s);
    return m ? Number(m[1]) * UNITS[m[2].toUpperCase()] : s;
  },
  value: (v) => v as number,
};

export const STORE_KEYS = {
  ...option(
    'store_dir',
    'With output `store`: the directory of the NAT log store (required then; made if missing): Parquet files under YYYY/MM/DD/, read by `ctlogd query`, DuckDB and ClickHouse (docs/store.md).',
    '',
    kernelPath('a directory path', PATH_MAX_BYTES, true),
  ),
  ...option(
    'store_connections',
    'With output `store`: `nat` keeps the connections whose addresses or ports were translated, either way; `all` keeps every connection.',
    'nat',
    oneOf(['nat', 'all']),
  ),
  ...option(
    'store_keep_days',
    'With output `store`: files whose records all ended more than this many days ago are deleted, whole, oldest first (checked at start, hourly and after each file is sealed); 0 keeps them.',
    0,
    integer(0, 36500),
  ),
  ...option(
    'store_max_bytes',
    "With output `store`: the oldest files are deleted, whole, until the store's sealed files take at most this (checked as store_keep_days is); 0 for no limit. The journal and the file being filled come on top.",
    0,
    BYTE_SIZE,
  ),
  ...option(
    'store_sync_ms',
    'With output `store`: a record is in the journal and synced to disk within this many milliseconds of its event: what a crash or a power loss may lose.',
    1000,
    integer(10, 60000),
  ),
  ...option(
    'store_snapshot_interval',
    'With output `store`: seconds between snapshots of the conntrack table into the store (one is also taken at start and at stop): how far back a lookup reads at most; 0 for those two only.',
    3600,
    integer(0, 604800),
  ),
};

/** The store_* keys. */
export type StoreConfig = Values<typeof STORE_KEYS>;

/** What the store output asks of its keys and of `event` when it is the output. */
export function storeRules(c: StoreConfig & { output: string; event: EventConfig }): string | undefined {
  if (c.output !== 'store') return undefined;
  if (c.store_dir === '') {
    return 'store_dir: must be a directory path when output is "store" (set store_dir, CTLOGD_STORE_DIR or --store-dir): value was ""';
  }
  if (!STORE_TYPES.some((t) => t in c.event)) {
    return `event: must name ${STORE_TYPES.join(' or ')} when output is "store" (the events with a record): value was ${show(c.event)}`;
  }
  return undefined;
}
