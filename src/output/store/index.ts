/**
 * The store output: the NAT log store (docs/store.md). The daemon hands it
 * each NEW and DESTROY event's bytes as the capture gave them; the core
 * makes the records, keeps the translated connections (or all), and
 * writes them on a thread of its own (journal synced every store_sync_ms,
 * Parquet files sealed, snapshots, retention), so that no file operation
 * of the store runs on the event loop. What the core counts (written:
 * journaled and synced; lost; not kept) is read back into the ledger.
 */
import { echo } from '../../echo.js';
import { native, type NativeStore, type NativeStoreOptions } from '../../native.js';
import { defineOutput, type Opening } from '../definition.js';
import { kindCounts, type Ledger, type Lines } from '../ledger.js';
import { codeOf, OutputError, type EventSink, type Report } from '../sink.js';
import { STORE_KEYS, storeRules, STORE_TYPES, type StoreConfig } from './keys.js';

/** A seal after this many records (the writer's memory: about 180 bytes each) or this long after the first. */
const SEAL_ROWS = 262_144;
const SEAL_SECONDS = 3600;
/** Records the queue to the store's thread holds; past it the capture waits for room (a seal or a snapshot runs). */
const QUEUE = 32_768;
/** How long the capture waits for room before the store counts as stalled (its records are then lost, counted, until it takes them again). */
const STALL_MS = 5000;

class StoreSink implements EventSink {
  private readonly seen = { written: kindCounts(), lost: kindCounts(), skipped: kindCounts(), errors: new Map<string, number>() };
  private readonly timer: NodeJS.Timeout;
  /** The failure lines are being lost to, if they are. */
  private failing?: string;
  private lostSince = 0;
  /** It made no room within STALL_MS: what does not fit is lost, counted, instead of holding the capture. */
  private stalled = false;

  constructor(
    private readonly store: NativeStore,
    private readonly where: string,
    private readonly ledger: Ledger,
    private readonly report: Report,
    /** Takes a reload's new values. */
    readonly apply: (c: StoreConfig) => void,
  ) {
    // The core syncs on its own; this reads what it did, for the counters and the outage lines.
    this.timer = setInterval(() => this.poll(), 1000);
    this.timer.unref();
  }

  write(lines: Lines, done: () => void): void | Promise<void> {
    let room = true;
    try {
      room = this.store.push(lines.bytes, !this.stalled);
    } catch (e) {
      // Bytes the core does not read as events: a bug, counted, never fatal.
      for (let i = 0; i < lines.kinds.length; i++) this.ledger.lost[lines.kinds[i]]++;
      this.ledger.error(codeOf(e));
    }
    done();
    this.poll();
    if (room) {
      if (this.stalled) this.report.warn(`${this.where}: taking records again`);
      this.stalled = false;
      return;
    }
    if (this.stalled) return;
    // A slow store holds the capture, as a slow file does; one that stalls does not.
    return this.store.writable(STALL_MS).then((ok) => {
      if (ok) return;
      this.stalled = true;
      this.report.error(`${this.where}: made no room in ${STALL_MS} ms; records are lost (counted) until it takes them again`);
    });
  }

  /** Adds what the core did since the last look to the ledger. */
  private poll(): void {
    const c = this.store.counts();
    const l = this.ledger;
    let wrote = 0;
    let lost = 0;
    for (let k = 0; k < c.written.length; k++) {
      const w = c.written[k] - this.seen.written[k];
      const x = c.lost[k] - this.seen.lost[k];
      const s = c.skipped[k] - this.seen.skipped[k];
      l.written[k] += w;
      l.lost[k] += x;
      // Not kept (store_connections: nat): handed, but not taken after all.
      l.handed[k] -= s;
      l.skipped[k] += s;
      wrote += w;
      lost += x;
      this.seen.written[k] = c.written[k];
      this.seen.lost[k] = c.lost[k];
      this.seen.skipped[k] = c.skipped[k];
    }
    let failed: string | undefined;
    for (const { code, count } of c.errors) {
      const d = count - (this.seen.errors.get(code) ?? 0);
      if (d <= 0) continue;
      l.errors.set(code, (l.errors.get(code) ?? 0) + d);
      this.seen.errors.set(code, count);
      failed = code;
    }
    if (failed !== undefined && this.failing === undefined) {
      this.failing = `${failed}: ${c.lastError ?? 'failed'}`;
      this.report.error(`${this.where}: ${this.failing}; records are lost (counted) or wait until it works again`);
    }
    this.lostSince += lost;
    if (failed === undefined && wrote > 0 && this.failing !== undefined) {
      this.report.warn(`${this.where}: writing again; ${this.lostSince} records were lost (${this.failing})`);
      this.failing = undefined;
      this.lostSince = 0;
    }
  }

  reopen(): string | undefined {
    // Nothing to reopen: the store's files are its own, never rotated by others.
    return undefined;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.store.close();
    this.poll();
  }
}

function storeOptions(c: StoreConfig, at: Opening): NativeStoreOptions {
  return {
    dir: c.store_dir,
    all: c.store_connections === 'all',
    syncMs: c.store_sync_ms,
    sealRows: SEAL_ROWS,
    sealSeconds: SEAL_SECONDS,
    snapshotSeconds: c.store_snapshot_interval,
    keepDays: c.store_keep_days,
    maxBytes: c.store_max_bytes,
    netns: at.netns,
    queue: QUEUE,
  };
}

function openStore(c: StoreConfig, report: Report, ledger: Ledger, at: Opening): EventSink {
  const where = `store_dir ${echo(c.store_dir)}`;
  let store: NativeStore;
  try {
    store = native().Store.open(storeOptions(c, at));
  } catch (e) {
    const code = codeOf(e);
    const why = code === 'EAGAIN' || code === 'EWOULDBLOCK' ? 'another process writes this store (it holds its lock)' : (e as Error).message;
    throw new OutputError(`${where}: cannot open the store: ${why}`);
  }
  return new StoreSink(store, where, ledger, report, (next) => store.reconfigure(storeOptions(next, at)));
}

export const storeOutput = defineOutput({
  name: 'store',
  doc: 'the NAT log store: one record a connection in Parquet files under store_dir, answered by `ctlogd query` (docs/store.md); `format` does not apply, and UPDATE events are not subscribed',
  keys: STORE_KEYS,
  types: STORE_TYPES,
  check: storeRules,
  // One writer a store: a reload changing the other keys hands them to the running one.
  reopenedBy: ['store_dir'],
  // The event's bytes as the capture gave them: the core makes the record.
  encoder: () => (_ev, w, wire) => {
    w.bytes(wire.current());
    return true;
  },
  writesAs: 'store records',
  open: openStore,
});
