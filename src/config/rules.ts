/**
 * What a config value may be: the rules every key's check is made of, each
 * saying once what it allows, in the words the error lines and the
 * README's key table use; and what a key is (Item), as the schema and
 * each output define theirs. No key is named here (schema.ts and the
 * outputs name them).
 */
import { isIP } from 'node:net';
import type { Syntax } from '../conntrack-filter.js';

export const INT_MAX = 2147483647;
/** Linux's PATH_MAX, less the terminating NUL: no longer path can be opened. */
export const PATH_MAX_BYTES = 4095;
/** A Unix socket address's sun_path, less the terminating NUL. */
export const SUN_PATH_MAX_BYTES = 107;
/** RFC 1123 §2.1: a host name has at most 255 characters; a DNS name (RFC 1035) at most 253 written out. */
const HOST_NAME_MAX = 253;

/**
 * A bad value. `at` and `value` name the offending part when it is inside
 * the key's value (`event.new.tcp`); otherwise the whole value is shown.
 */
export class Invalid extends Error {
  constructor(
    message: string,
    readonly at = '',
    readonly value?: unknown,
  ) {
    super(message);
  }
}

/**
 * What one key accepts, said once for the error messages and the README,
 * and the type of its value in Config (T).
 */
export interface Rule<T> {
  /** Completes "must be ...". */
  allowed: string;
  /** Throws Invalid, or returns for a good value (after coerce). */
  check(v: unknown): void;
  /** A string (environment, flag, or VyOS's file) to the key's type; bad strings unchanged. */
  coerce?(v: string): unknown;
  /** The value convict holds, checked or the default, as Config holds it. */
  value(v: unknown): T;
}

/** The value check has passed, as it is: the check is what makes it a T. */
export const checked = <T>(v: unknown): T => v as T;

export function simple<T>(allowed: string, ok: (v: unknown) => boolean, coerce?: (v: string) => unknown): Rule<T> {
  return {
    allowed,
    check(v) {
      if (!ok(v)) throw new Invalid(`must be ${allowed}`);
    },
    coerce,
    value: checked<T>,
  };
}

/** A number, or a string of decimal digits (VyOS writes numbers as strings); no sign, space, exponent or hex. */
export function integer(min: number, max: number): Rule<number> {
  return simple(
    `an integer from ${min} to ${max} (a number or a string of digits)`,
    (v) => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max,
    (s) => (/^\d+$/.test(s) ? Number(s) : s),
  );
}

export function oneOf<const V extends string>(values: readonly V[]): Rule<V> {
  return simple(`one of ${values.join(', ')}`, (v) => typeof v === 'string' && (values as readonly string[]).includes(v));
}

export const BOOLEAN = simple<boolean>(
  'true or false (a JSON boolean, or the string "true" or "false")',
  (v) => typeof v === 'boolean',
  // convict's own Boolean takes every string but "false" as true ("0", "no").
  (s) => (s === 'true' ? true : s === 'false' ? false : s),
);

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export const isEmptyObject = (v: unknown): boolean => isPlainObject(v) && Object.keys(v).length === 0;

/** A path the kernel takes: at most `max` bytes, no NUL (it would end the path), empty only if `empty`. */
export function kernelPath(allowed: string, max: number, empty: boolean): Rule<string> {
  return simple(
    `${allowed} (a ${empty ? '' : 'non-empty '}string of at most ${max} bytes, no NUL)`,
    (v) => typeof v === 'string' && (empty || v !== '') && Buffer.byteLength(v) <= max && !v.includes('\0'),
  );
}

/** An RFC 1123 label: 1 to 63 letters, digits and hyphens, not starting or ending with a hyphen. */
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/**
 * An IP address, or a name as RFC 1123 allows it; the last label may not
 * be all digits, so a mistyped IPv4 address (`10.0.0.256`) is not looked up
 * as a name, and retried, forever.
 */
function isHost(v: string): boolean {
  if (isIP(v) !== 0) return true;
  const labels = v.split('.');
  return v.length <= HOST_NAME_MAX && labels.every((l) => LABEL.test(l)) && !/^[0-9]+$/.test(labels.at(-1)!);
}

/** A host: an IP address or an RFC 1123 name, or the empty string. */
export function hostRule(): Rule<string> {
  return simple<string>(
    `an IP address, or a host name (RFC 1123: labels of 1 to 63 letters, digits and hyphens, not starting or ending with a hyphen, joined by dots, at most ${HOST_NAME_MAX} characters, the last label not all digits), or empty (a string)`,
    (v) => typeof v === 'string' && (v === '' || isHost(v)),
  );
}

/** Where a server listens: `host` undefined is every address. */
export interface Listen {
  host?: string;
  port: number;
}

/** `127.0.0.1:9465`, `[::1]:9465`, `localhost:9465`, `:9465` (metrics_listen); undefined for anything else. */
export function parseListen(v: string): Listen | undefined {
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(v);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  const [, v6, host] = m;
  if (v6 !== undefined) return isIP(v6) === 6 ? { host: v6, port } : undefined;
  if (host === '') return { port };
  return isIP(host) === 4 || host === 'localhost' ? { host, port } : undefined;
}

export const LISTEN = simple<string>(
  'a string: an address and a port (`127.0.0.1:9465`, `[::1]:9465` with IPv6 in brackets, `localhost:9465`, `:9465` for every address), or empty (off)',
  (v) => typeof v === 'string' && (v === '' || parseListen(v) !== undefined),
);

/** The file of netns: a name is one `ip netns` made (/run/netns/NAME), a path is taken as it is; undefined for the process's own. */
export function netnsPath(v: string): string | undefined {
  if (v === '') return undefined;
  return v.includes('/') ? v : `/run/netns/${v}`;
}

export const NETNS = simple<string>(
  `a string: a network namespace's name under /run/netns (as \`ip netns\` names them: no \`/\`, not \`.\` or \`..\`), an absolute path to a namespace file (\`/proc/PID/ns/net\`, at most ${PATH_MAX_BYTES} bytes), or empty (the namespace ctlogd runs in)`,
  (v) =>
    typeof v === 'string' &&
    !v.includes('\0') &&
    (v === '' || (v.startsWith('/') ? Buffer.byteLength(v) <= PATH_MAX_BYTES : !v.includes('/') && v !== '.' && v !== '..' && Buffer.byteLength(v) <= 255)),
);

/** A filter key's rule: conntrack-filter.ts says what it accepts and what it means. */
export function filterRule<T>(s: Syntax<T>): Rule<T | undefined> {
  return {
    allowed: s.allowed,
    check(v) {
      if (s.parse(v) === undefined) throw new Invalid(`must be ${s.allowed}`);
    },
    value: (v) => s.parse(v) ?? undefined,
  };
}

/** One key of the schema; convict's schema and the Config type are made from these. */
export interface Item<T> {
  doc: string;
  /** What convict holds when no layer sets the key; null for a key that may be absent. */
  default: unknown;
  rule: Rule<T>;
  /** The CTLOGD_* environment variable. */
  env?: string;
  /** The command-line flag, without its leading `--`. */
  arg?: string;
}

/** A key's environment variable and flag, both named after it. */
export function flagged(key: string): Pick<Item<unknown>, 'env' | 'arg'> {
  return { env: `CTLOGD_${key.toUpperCase()}`, arg: key.replace(/_/g, '-') };
}

/** A key with an environment variable and a flag. */
export function option<K extends string, T>(key: K, doc: string, def: NoInfer<T>, rule: Rule<T>) {
  const item: Item<T> = { doc, default: def, rule, ...flagged(key) };
  return { [key]: item } as Record<K, Item<T>>;
}

/** Keys and their items, as an output's or the schema's. */
export type Items = Record<string, Item<unknown>>;

/** The values of `items` once checked: a field per key, of the type its rule gives. */
export type Values<T extends Items> = { [K in keyof T]: ReturnType<T[K]['rule']['value']> };

type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;

/** A registry's definitions (outputs, formats) with their names and keys. */
export interface Named {
  readonly name: string;
  readonly keys: Items;
}

/** What a registry makes of its list: the key's values, every definition's keys, and the lookup by name. */
export function registry<D extends Named>(definitions: readonly D[]) {
  return {
    names: definitions.map((d) => d.name) as Array<D['name']>,
    keys: Object.assign({}, ...definitions.map((d) => d.keys)) as UnionToIntersection<D['keys']>,
    byName(name: string): D {
      const d = definitions.find((x) => x.name === name);
      if (!d) throw new Error(`no ${name} is registered`);
      return d;
    },
  };
}
