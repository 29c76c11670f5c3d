/**
 * Lookups in a NAT log store (the store output's directory), as
 * `ctlogd query` and the library ask them: who held a translated address
 * and port at a moment, what an inside host or towards a destination was
 * open over a span. The core reads the files (crates/ctlog-core
 * store/query.rs); this says what a lookup is and reads times and
 * addresses as people write them.
 */
import { isIP } from 'node:net';
import { loadNative, type StoreFound, type StoreRecord } from './native.js';

export type { StoreRecord, StoreFound };

/** What a lookup is by: the translated source, the inside host, or the destination. */
export type LookupBy = 'nat' | 'inside' | 'dst';

export interface StoreLookup {
  by: LookupBy;
  addr: string;
  port?: number;
  /** IPPROTO_* number. */
  proto?: number;
  /** ns since the epoch: a moment (from === to) or a span. */
  from: bigint;
  to: bigint;
}

/** A lookup the store cannot take: `message` says what, where and what is allowed. */
export class LookupError extends Error {
  readonly code = 'EINVAL';
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * A time as ns since the epoch: RFC 3339 with any offset (fractions to the
 * ns), or epoch seconds with a fraction; throws LookupError.
 */
export function parseTime(s: string, what = 'time'): bigint {
  const epoch = /^(\d+)(?:\.(\d{1,9}))?$/.exec(s);
  if (epoch) return BigInt(epoch[1]) * 1_000_000_000n + BigInt((epoch[2] ?? '').padEnd(9, '0'));
  const m = RFC3339.exec(s);
  if (m) {
    const [, y, mo, d, h, mi, sec, frac, zone] = m;
    const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec));
    const check = new Date(ms);
    // Date.UTC rolls 2026-02-30 over into March: a date that is none is refused.
    if (check.getUTCDate() === Number(d) && check.getUTCMonth() === Number(mo) - 1 && Number(h) < 24 && Number(mi) < 60 && Number(sec) < 61) {
      const offsetMin = /^[zZ]$/.test(zone) ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
      return (BigInt(ms) - BigInt(offsetMin) * 60_000n) * 1_000_000n + BigInt((frac ?? '').padEnd(9, '0'));
    }
  }
  throw new LookupError(
    `${what}: must be an RFC 3339 time (2026-12-06T10:02:13Z, any offset, fractions to the ns) or epoch seconds (1796551333.5): value was ${JSON.stringify(s)}`,
  );
}

/** `ADDR`, `ADDR:PORT` or `[V6]:PORT` (a bare IPv6 address has no port); throws LookupError naming `flag`. */
export function parseEndpoint(s: string, flag: string, portRequired: boolean): { addr: string; port?: number } {
  let addr = s;
  let port: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracket) [, addr, port] = bracket;
  else if (isIP(s) === 0 && s.lastIndexOf(':') > 0) [addr, port] = [s.slice(0, s.lastIndexOf(':')), s.slice(s.lastIndexOf(':') + 1)];
  const allowed = portRequired ? 'ADDRESS:PORT ([V6]:PORT for IPv6), the port 0-65535' : 'ADDRESS or ADDRESS:PORT ([V6]:PORT for IPv6)';
  const bad = () => new LookupError(`${flag}: must be ${allowed}: value was ${JSON.stringify(s)}`);
  if (isIP(addr) === 0) throw bad();
  if (port === undefined) {
    if (portRequired) throw bad();
    return { addr };
  }
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) throw bad();
  return { addr, port: Number(port) };
}

/**
 * Looks `q` up in the store at `dir`: one record a connection, by start.
 * By translated source with a port, at a moment: those that held it then.
 * Otherwise: those open at some time of the span. Rejects with `code`
 * ENOENT when there is no store at `dir`.
 */
export async function queryStore(dir: string, q: StoreLookup): Promise<StoreFound> {
  const { queryStore: query } = await loadNative();
  if (q.from > q.to) throw new LookupError(`from: must not be after to: ${q.from} > ${q.to}`);
  return query(dir, { by: q.by, addr: q.addr, port: q.port, proto: q.proto, fromNs: String(q.from), toNs: String(q.to) });
}
