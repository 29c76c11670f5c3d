/**
 * The configuration: the JSON that VyOS writes for `set system conntrack
 * log ...`, accepted unchanged, plus ctlogd's own keys. SCHEMA below is
 * the one source of every key's name, default, environment variable, flag,
 * allowed values and type: convict's schema, the Config type and the
 * README's key table (scripts/config-doc.ts) are made from it.
 *
 * Every bad input is refused with one line: where it came from (the file,
 * a CTLOGD_* variable, a flag), the key, what is allowed, and the value
 * (cut to a readable length, echo.ts). The file itself is read by
 * config-file.ts.
 */
import { statSync } from 'node:fs';
import { isIP } from 'node:net';
import convict from 'convict';
import { NotAConfig, readConfigFile, readConfigFileSync } from './config-file.js';
import { FILTER_KEYS, filterConflict, type FilterKey, type Syntax } from './conntrack-filter.js';
import { echo, oneLine } from './echo.js';
import { EVENT_TYPES, type EventType } from './event.js';
import { PROTOCOL_CLASSES, type ProtocolClass } from './filter.js';
import { IPFIX_TYPES, NAT_EVENTS } from './output/ipfix/template.js';

export const FORMATS = ['vyos', 'conntrack', 'json', 'ecs'] as const;
export const CONNTRACK_OPTIONS = ['extended', 'timestamp', 'id', 'ktimestamp'] as const;
export const OUTPUTS = ['stdout', 'file', 'syslog', 'ipfix'] as const;
export const SYSLOG_PROTOCOLS = ['udp', 'tcp', 'tls'] as const;
/** What syslog_port 0 means: the protocol's own port (RFC 5426 and 6587 use 514, RFC 5425 6514). */
export const SYSLOG_PORTS: Readonly<Record<(typeof SYSLOG_PROTOCOLS)[number], number>> = { udp: 514, tcp: 514, tls: 6514 };
/** RFC 5424 facility names, in code order (kern = 0 ... local7 = 23). */
export const FACILITIES = [
  'kern',
  'user',
  'mail',
  'daemon',
  'auth',
  'syslog',
  'lpr',
  'news',
  'uucp',
  'cron',
  'authpriv',
  'ftp',
  'ntp',
  'security',
  'console',
  'solaris-cron',
  'local0',
  'local1',
  'local2',
  'local3',
  'local4',
  'local5',
  'local6',
  'local7',
] as const;

/** `event` as VyOS writes it: `{}` for every protocol, or the protocols to keep. */
export type EventConfig = Partial<Record<EventType, Partial<Record<ProtocolClass, object>>>>;

/** Used when no --config is given: every event type and protocol, vyos lines, stdout. */
export const DEFAULT_CONFIG = {
  event: { new: {}, update: {}, destroy: {} },
};

/** Thrown for any bad input; the CLI prints `message` as one line and exits 78. */
export class ConfigError extends Error {
  readonly exitCode = 78;
  constructor(message: string) {
    super(oneLine(message));
    this.name = 'ConfigError';
  }
}

const INT_MAX = 2147483647;
/** Linux's PATH_MAX, less the terminating NUL: no longer path can be opened. */
const PATH_MAX_BYTES = 4095;
/** A Unix socket address's sun_path, less the terminating NUL. */
const SUN_PATH_MAX_BYTES = 107;
/** RFC 1123 §2.1: a host name has at most 255 characters; a DNS name (RFC 1035) at most 253 written out. */
const HOST_NAME_MAX = 253;

/**
 * A bad value. `at` and `value` name the offending part when it is inside
 * the key's value (`event.new.tcp`); otherwise the whole value is shown.
 */
class Invalid extends Error {
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
interface Rule<T> {
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
const checked = <T>(v: unknown): T => v as T;

function simple<T>(allowed: string, ok: (v: unknown) => boolean, coerce?: (v: string) => unknown): Rule<T> {
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
function integer(min: number, max: number): Rule<number> {
  return simple(
    `an integer from ${min} to ${max} (a number or a string of digits)`,
    (v) => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max,
    (s) => (/^\d+$/.test(s) ? Number(s) : s),
  );
}

function oneOf<const V extends string>(values: readonly V[]): Rule<V> {
  return simple(`one of ${values.join(', ')}`, (v) => typeof v === 'string' && (values as readonly string[]).includes(v));
}

const BOOLEAN = simple<boolean>(
  'true or false (a JSON boolean, or the string "true" or "false")',
  (v) => typeof v === 'boolean',
  // convict's own Boolean takes every string but "false" as true ("0", "no").
  (s) => (s === 'true' ? true : s === 'false' ? false : s),
);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isEmptyObject = (v: unknown): boolean => isPlainObject(v) && Object.keys(v).length === 0;

const PROTOCOLS_ALLOWED = `{} for every protocol, or an object of the protocols to keep (${PROTOCOL_CLASSES.join(', ')}), each {}`;

const EVENT: Rule<EventConfig> = {
  allowed: `an object naming at least one event type (${EVENT_TYPES.join(', ')}), each ${PROTOCOLS_ALLOWED}`,
  check(v) {
    if (!isPlainObject(v) || Object.keys(v).length === 0) throw new Invalid(`must be ${EVENT.allowed}`);
    for (const [t, protos] of Object.entries(v)) {
      if (!(EVENT_TYPES as readonly string[]).includes(t)) {
        throw new Invalid(`unknown event type ${echo(JSON.stringify(t))}; allowed: ${EVENT_TYPES.join(', ')}`);
      }
      if (!isPlainObject(protos)) throw new Invalid(`must be ${PROTOCOLS_ALLOWED}`, t, protos);
      for (const [p, val] of Object.entries(protos)) {
        if (!(PROTOCOL_CLASSES as readonly string[]).includes(p)) {
          throw new Invalid(`unknown protocol ${echo(JSON.stringify(p))}; allowed: ${PROTOCOL_CLASSES.join(', ')}`, t, protos);
        }
        if (!isEmptyObject(val)) throw new Invalid('must be {}', `${t}.${p}`, val);
      }
    }
  },
  value: checked,
};

const CONNTRACK_OPTIONS_RULE = simple<Array<(typeof CONNTRACK_OPTIONS)[number]>>(
  `a list of ${CONNTRACK_OPTIONS.join(', ')} (a JSON array, or a comma-separated string)`,
  (v) => Array.isArray(v) && v.every((o) => (CONNTRACK_OPTIONS as readonly unknown[]).includes(o)),
  (s) => s.split(',').filter(Boolean),
);

// `timestamp` is `{}` or absent (convict's null default, nullable so that
// it is valid), and only decides the sysctl warning: Config says true or false.
const TIMESTAMP: Rule<boolean> = { ...simple('{} (or absent)', isEmptyObject), value: (v) => v !== null };

/** A path the kernel takes: at most `max` bytes, no NUL (it would end the path), empty only if `empty`. */
function kernelPath(allowed: string, max: number, empty: boolean): Rule<string> {
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
function hostRule(): Rule<string> {
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

const LISTEN = simple<string>(
  'a string: an address and a port (`127.0.0.1:9465`, `[::1]:9465` with IPv6 in brackets, `localhost:9465`, `:9465` for every address), or empty (off)',
  (v) => typeof v === 'string' && (v === '' || parseListen(v) !== undefined),
);

/** The file of netns: a name is one `ip netns` made (/run/netns/NAME), a path is taken as it is; undefined for the process's own. */
export function netnsPath(v: string): string | undefined {
  if (v === '') return undefined;
  return v.includes('/') ? v : `/run/netns/${v}`;
}

const NETNS = simple<string>(
  `a string: a network namespace's name under /run/netns (as \`ip netns\` names them: no \`/\`, not \`.\` or \`..\`), an absolute path to a namespace file (\`/proc/PID/ns/net\`, at most ${PATH_MAX_BYTES} bytes), or empty (the namespace ctlogd runs in)`,
  (v) =>
    typeof v === 'string' &&
    !v.includes('\0') &&
    (v === '' || (v.startsWith('/') ? Buffer.byteLength(v) <= PATH_MAX_BYTES : !v.includes('/') && v !== '.' && v !== '..' && Buffer.byteLength(v) <= 255)),
);

/** A filter key's rule: conntrack-filter.ts says what it accepts and what it means. */
function filterRule<T>(s: Syntax<T>): Rule<T | undefined> {
  return {
    allowed: s.allowed,
    check(v) {
      if (s.parse(v) === undefined) throw new Invalid(`must be ${s.allowed}`);
    },
    value: (v) => s.parse(v) ?? undefined,
  };
}

/** One key of the schema; convict's schema and the Config type are made from these. */
interface Item<T> {
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
function flagged(key: string): Pick<Item<unknown>, 'env' | 'arg'> {
  return { env: `CTLOGD_${key.toUpperCase()}`, arg: key.replace(/_/g, '-') };
}

/** A key with an environment variable and a flag. */
function option<K extends string, T>(key: K, doc: string, def: NoInfer<T>, rule: Rule<T>) {
  const item: Item<T> = { doc, default: def, rule, ...flagged(key) };
  return { [key]: item } as Record<K, Item<T>>;
}

/** The filter keys' items, each with its syntax's rule; off by default. */
type FilterItems = { [K in FilterKey]: Item<NonNullable<ReturnType<(typeof FILTER_KEYS)[K]['syntax']['parse']>> | undefined> };

function filterItems(): FilterItems {
  const items = Object.entries(FILTER_KEYS).map(([key, { doc, syntax }]) => [
    key,
    { doc, default: syntax.off, rule: filterRule<unknown>(syntax), ...flagged(key) },
  ]);
  return Object.fromEntries(items) as FilterItems;
}

const SCHEMA = {
  event: {
    doc:
      'The event types to log; an absent type is not subscribed at all (the kernel never sends it). `{}` keeps every protocol; ' +
      'otherwise the keys name the protocols to keep: `tcp`, `udp`, `icmp` (IPv4 ICMP only), `other` (every other protocol, ICMPv6 included); the kernel drops the others before ctlogd reads them (a socket filter).',
    // Never merged with a file's `event` (values are set whole, see loadConfig).
    default: {},
    rule: EVENT,
  },
  ...option(
    'queue_size',
    "Events read from the kernel socket and not yet written by the output. Past it the reader stops reading and the socket's receive buffer (receive_buffer) holds what comes; when that is full too, the kernel drops events and they are counted as lost.",
    16384,
    integer(1, INT_MAX),
  ),
  ...option('log_level', "`debug` adds the service's own diagnostics (on stderr); it never changes the event lines.", 'info', oneOf(['info', 'debug'])),
  timestamp: {
    doc: 'VyOS sets `{}` to enable `net.netfilter.nf_conntrack_timestamp`; ctlogd warns once if that sysctl is 0.',
    default: null,
    rule: TIMESTAMP,
  },
  ...option(
    'format',
    "Line format: `vyos` (the VyOS logger's line), `conntrack` (as `conntrack -E`), `json` (one object per line), `ecs` (Elastic Common Schema, with the Community ID).",
    'vyos',
    oneOf(FORMATS),
  ),
  ...option('conntrack_options', 'With format `conntrack`: the `conntrack -E -o` variants to print.', [], CONNTRACK_OPTIONS_RULE),
  ...option(
    'receive_buffer',
    'Netlink socket receive buffer in bytes, set with SO_RCVBUFFORCE (the kernel doubles it): holds a burst while the reader catches up. Kernel memory, used only while events wait: about 1 KB per waiting event.',
    256 * 1024 * 1024,
    integer(65536, INT_MAX),
  ),
  ...option(
    'reliable',
    'Sets NETLINK_BROADCAST_ERROR and NETLINK_NO_ENOBUFS: the kernel keeps DESTROY events it could not deliver and retries them, ' +
      'instead of dropping them; a NEW/UPDATE event it could not deliver is folded into the next event of its connection, or lost. ' +
      'Failed deliveries are counted as undelivered (not lost: most are retried), never reported as ENOBUFS. ' +
      'The cost: while the buffer is full the kernel keeps ended connections in memory, and a flush takes longer.',
    false,
    BOOLEAN,
  ),
  ...option(
    'output',
    'Where event lines go: `stdout` (journald-friendly), `file` (output_file, appended, reopened on SIGHUP), `syslog` (the syslog_* keys), `ipfix` (NAT event records to an IPFIX collector, the ipfix_* keys; `format` does not apply, and UPDATE events are not subscribed: they have no record).',
    'stdout',
    oneOf(OUTPUTS),
  ),
  ...option(
    'output_file',
    'With output `file`: the file to append to (required then); reopened on SIGHUP (logrotate renames it, then signals).',
    '',
    kernelPath('a file path', PATH_MAX_BYTES, true),
  ),
  ...option('syslog_host', 'With output `syslog`: a remote host; empty for the local socket (syslog_socket).', '', hostRule()),
  ...option(
    'syslog_port',
    "With a remote syslog_host: its port; 0 is the protocol's own: 514 for `udp` and `tcp`, 6514 for `tls` (RFC 5425).",
    0,
    integer(0, 65535),
  ),
  ...option(
    'syslog_protocol',
    'With a remote syslog_host: `udp`, `tcp` (RFC 6587 octet-counting framing), or `tls` (RFC 5425: the same framing in TLS; the syslog_tls_* keys).',
    'udp',
    oneOf(SYSLOG_PROTOCOLS),
  ),
  ...option(
    'syslog_tls_ca',
    "With syslog_protocol `tls`: a PEM file of the CA certificates the server's certificate must chain to; empty: the system store (/etc/ssl/certs/ca-certificates.crt). Read at start and on SIGHUP.",
    '',
    kernelPath('a file path', PATH_MAX_BYTES, true),
  ),
  ...option(
    'syslog_tls_cert',
    'With syslog_protocol `tls`: a PEM file of the client certificate (and its chain) for a server that asks for one; with syslog_tls_key, or neither. Read at start and on SIGHUP.',
    '',
    kernelPath('a file path', PATH_MAX_BYTES, true),
  ),
  ...option(
    'syslog_tls_key',
    "With syslog_protocol `tls`: a PEM file of syslog_tls_cert's private key, not encrypted; with syslog_tls_cert, or neither. Read at start and on SIGHUP.",
    '',
    kernelPath('a file path', PATH_MAX_BYTES, true),
  ),
  ...option(
    'syslog_tls_name',
    "With syslog_protocol `tls`: the name the server's certificate must carry (a DNS name, or an IP address, checked against its IP addresses); empty: syslog_host.",
    '',
    hostRule(),
  ),
  ...option(
    'syslog_socket',
    'With output `syslog` and no syslog_host: the local syslog socket.',
    '/dev/log',
    kernelPath('a Unix socket path', SUN_PATH_MAX_BYTES, false),
  ),
  ...option('syslog_facility', 'Syslog facility of event messages.', 'daemon', oneOf(FACILITIES)),
  ...option(
    'syslog_tag',
    'Syslog APP-NAME (tag) of event messages.',
    'ctlogd',
    simple<string>('1 to 48 printable ASCII characters, no spaces (RFC 5424 APP-NAME)', (v) => typeof v === 'string' && /^[\x21-\x7e]{1,48}$/.test(v)),
  ),
  ...option(
    'ipfix_host',
    'With output `ipfix`: the IPFIX collector (nfcapd, nfacctd, GoFlow2, ...) to send NAT event records to (required then).',
    '',
    hostRule(),
  ),
  ...option('ipfix_port', "With output `ipfix`: the collector's port (4739 is IPFIX's).", 4739, integer(1, 65535)),
  ...option(
    'ipfix_protocol',
    "With output `ipfix`: `udp` (RFC 7011 §10.3; templates are sent again every ipfix_template_interval) or `tcp` (§10.4; a record is written once the collector's TCP acknowledged it).",
    'udp',
    oneOf(['udp', 'tcp']),
  ),
  ...option('ipfix_domain_id', 'With output `ipfix`: the observation domain id of every message.', 0, integer(0, 4294967295)),
  ...option(
    'ipfix_nat_event',
    'With output `ipfix`: natEvent values: `rfc8158` (NAT44 session create 4, delete 5) or `legacy` (1 and 2, the generic NAT translation create and delete, for collectors that know only those).',
    'rfc8158',
    oneOf(Object.keys(NAT_EVENTS) as Array<keyof typeof NAT_EVENTS>),
  ),
  ...option(
    'ipfix_message_size',
    'With output `ipfix`: the largest IPFIX message in bytes; over UDP one message is one datagram, and 1400 fits a 1500-byte MTU with the IP and UDP headers.',
    1400,
    integer(512, 65507),
  ),
  ...option(
    'ipfix_template_interval',
    'With output `ipfix` over UDP: seconds after which the templates are sent again, before the next records, so that a collector started later decodes from then on.',
    10,
    integer(1, 86400),
  ),
  ...option('stats_interval', 'Seconds between counter lines on stderr; 0 prints them only on SIGUSR1 and at exit.', 0, integer(0, 86400)),
  ...option(
    'netns',
    'Logs the events of another network namespace: the socket is opened inside it, ctlogd stays where it is (it needs CAP_SYS_ADMIN as well to enter it). A reload that changes it opens the new socket before it closes the old. Empty: the namespace ctlogd runs in.',
    '',
    NETNS,
  ),
  ...option(
    'metrics_listen',
    'Serves Prometheus/OpenMetrics metrics at `/metrics` on this address and port (README, Metrics): the counters of the stats line per event type and protocol class, the queue, the socket backlog, the latency histogram, the last reload, build info. Empty: off. A reload that changes it listens on the new address before it closes the old.',
    '',
    LISTEN,
  ),
  // conntrack's filters, beside `event` (README, Filters).
  ...filterItems(),
} satisfies Record<string, Item<unknown>>;

type Key = keyof typeof SCHEMA;
const ITEMS: Record<Key, Item<unknown>> = SCHEMA;
const KEYS = Object.keys(SCHEMA) as Key[];

/**
 * The checked configuration: a field per key, named as the file, the
 * README and the error messages name it, of the type its rule gives.
 */
export type Config = { [K in Key]: ReturnType<(typeof SCHEMA)[K]['rule']['value']> };

/**
 * convict's schema, with each key's rule registered as a convict format,
 * so that convict coerces strings with it (and validates with it).
 */
const CONVICT_SCHEMA = Object.fromEntries(
  KEYS.map((key) => {
    const { doc, default: def, rule, env, arg } = ITEMS[key];
    const format = `ctlogd ${key}`;
    convict.addFormat({ name: format, validate: (v: unknown) => rule.check(v), coerce: rule.coerce });
    return [key, { doc, default: def, format, env, arg, nullable: def === null }];
  }),
);

/** One key, as the documentation shows it. */
export interface ConfigKey {
  key: string;
  /** What applies when the key is absent (for `event`: without --config). */
  default: unknown;
  /** Whether a config file must have the key. */
  required: boolean;
  doc: string;
  /** The CTLOGD_* environment variable. */
  env?: string;
  /** The command-line flag, without its leading `--`. */
  arg?: string;
  /** Completes "must be ...": the same words as the error messages. */
  allowed: string;
  /** A flag that may be given alone (true) or with a value (`--src-nat`, `--src-nat 192.0.2.1`). */
  valueOptional: boolean;
}

/** The schema, for documentation (scripts/config-doc.ts writes the README's key table from it). */
export function configKeys(): ConfigKey[] {
  return KEYS.map((key) => {
    const s = ITEMS[key];
    return {
      key,
      default: key === 'event' ? DEFAULT_CONFIG.event : s.default,
      required: key === 'event',
      doc: s.doc,
      env: s.env,
      arg: s.arg,
      allowed: s.rule.allowed,
      valueOptional: typeof s.default === 'boolean' && s.rule !== BOOLEAN,
    };
  });
}

export interface LoadOptions {
  /** Path of the JSON file; without it the embedded default is used. */
  path?: string;
  /**
   * Command-line overrides as the CLI parsed them (node's parseArgs): by
   * flag name without `--` (`queue-size`), the value given; a boolean key's
   * flag given alone is `true`.
   */
  flags?: Record<string, string | boolean | undefined>;
  env?: NodeJS.ProcessEnv;
}

/** A value as an error message shows it: JSON, on one line, not too long. */
function show(v: unknown): string {
  // JSON.stringify writes Infinity (a JSON 1e999) as null.
  return echo(typeof v === 'number' && !Number.isFinite(v) ? String(v) : JSON.stringify(v));
}

/**
 * What Node makes of a byte in argv or the environment that is not UTF-8:
 * a value holding it names something other than what was given (another
 * file), so it is refused.
 */
const REPLACEMENT = '\ufffd';

const notUtf8 = (label: string, value: string): ConfigError =>
  new ConfigError(`${label}: not UTF-8: a byte the system could not decode (shown as U+FFFD); name it in UTF-8: value was ${show(value)}`);

/**
 * Which file that ctlogd reads (the config, a TLS key, certificate or CA)
 * output_file is, if it is one: the same file by device and inode, under
 * any name. A file not there yet is none of them.
 */
function readBy(config: Config, configFile: string | undefined): string | undefined {
  if (config.output !== 'file') return undefined;
  const id = (path: string): string | undefined => {
    try {
      const st = statSync(path);
      return `${st.dev}:${st.ino}`;
    } catch {
      // Not there, or not to be seen: the output's own open says why.
      return undefined;
    }
  };
  const out = id(config.output_file);
  if (out === undefined) return undefined;
  const reads: Array<[string, string]> = [
    ['syslog_tls_key', config.syslog_tls_key],
    ['syslog_tls_cert', config.syslog_tls_cert],
    ['syslog_tls_ca', config.syslog_tls_ca],
  ];
  if (configFile !== undefined) reads.unshift(['the config file', configFile]);
  for (const [what, path] of reads) {
    if (path !== '' && id(path) === out) return what === 'the config file' ? what : `the file of ${what}`;
  }
  return undefined;
}

/** `config PATH`, as error lines name the file. */
const fileLabel = (path: string): string => `config ${echo(path)}`;

/** The -c path, refused if Node could not decode it. */
function configPath(path: string): string {
  if (path.includes(REPLACEMENT)) throw notUtf8(fileLabel(path), path);
  return path;
}

/** A NotAConfig as the one line that names the file; anything else as it is. */
const fileError = (e: unknown, path: string): unknown => (e instanceof NotAConfig ? new ConfigError(`${fileLabel(path)}: ${e.message}`) : e);

/** The flags' keys and labels (`--queue-size (queue_size)`), in the order given. */
function flagKeys(flags: Record<string, string | boolean | undefined>): Array<[Key, string, string | boolean]> {
  const byArg = new Map(KEYS.filter((k) => ITEMS[k].arg).map((k) => [ITEMS[k].arg!, k]));
  const out: Array<[Key, string, string | boolean]> = [];
  for (const [name, value] of Object.entries(flags)) {
    if (value === undefined) continue;
    const key = byArg.get(name);
    if (!key) throw new ConfigError(`${echo(`--${name}`)}: unknown flag; allowed: ${[...byArg.keys()].map((a) => `--${a}`).join(', ')}`);
    out.push([key, `--${name}`, value]);
  }
  return out;
}

/**
 * Reads and validates the config. Throws ConfigError with one line.
 *
 * Precedence is convict's: defaults < file < CTLOGD_* environment < flags.
 * The layers are applied here one by one with `set`, which coerces as
 * convict's own import does, rather than by convict's `load`, because:
 * - each value is checked where it came from, so the message can name the
 *   variable or flag, and a bad value is refused even when a later layer
 *   overrides it (convict keeps no record of a value's origin);
 * - convict parses flags with yargs-parser, which rewrites values that look
 *   like numbers ("0x10" becomes 16, "1e3" 1000, "1.0" 1) and strips quotes;
 * - `load` merges a file's objects into the defaults and throws a
 *   TypeError on an object nested twice under a key that is not format
 *   Object (`"queue_size": {"a": {"b": 1}}`).
 */
export function loadConfig(opts: LoadOptions = {}): Config {
  // `-c ''` is a missing file, not "no --config".
  if (opts.path === undefined) return layered(DEFAULT_CONFIG, opts);
  const path = configPath(opts.path);
  let file: unknown;
  try {
    file = readConfigFileSync(path);
  } catch (e) {
    throw fileError(e, path);
  }
  return layered(file, opts);
}

/** loadConfig, with the file read without blocking the event loop (for a reload). */
export async function loadConfigAsync(opts: LoadOptions = {}): Promise<Config> {
  if (opts.path === undefined) return layered(DEFAULT_CONFIG, opts);
  const path = configPath(opts.path);
  let file: unknown;
  try {
    file = await readConfigFile(path);
  } catch (e) {
    throw fileError(e, path);
  }
  return layered(file, opts);
}

/** The config from the file's value (or the default), the environment and the flags. */
function layered(raw: unknown, opts: LoadOptions): Config {
  const where = opts.path !== undefined ? fileLabel(opts.path) : 'config';
  if (!isPlainObject(raw)) throw new ConfigError(`${where}: must be a JSON object with the keys ${KEYS.join(', ')}: value was ${show(raw)}`);
  const file = raw;
  const env = opts.env ?? process.env;
  const flags = flagKeys(opts.flags ?? {});

  // Neither process.env nor process.argv: convict reads them when not given.
  const c = convict(CONVICT_SCHEMA, { env: {}, args: [] });
  const set = (key: Key, value: unknown, label: (name: string) => string): void => {
    c.set(key, value as never);
    try {
      // convict coerces strings only; other values are checked as given,
      // as c.get's deep copy would drop a "__proto__" key.
      ITEMS[key].rule.check(typeof value === 'string' ? c.get(key) : value);
    } catch (e) {
      if (!(e instanceof Invalid)) throw e;
      const name = e.at ? `${key}.${e.at}` : key;
      throw new ConfigError(`${label(name)}: ${e.message}: value was ${show(e.at ? e.value : value)}`);
    }
  };

  for (const [key, value] of Object.entries(file)) {
    if (!(KEYS as string[]).includes(key)) throw new ConfigError(`${where}: ${echo(key)}: unknown key; allowed: ${KEYS.join(', ')}: value was ${show(value)}`);
    set(key as Key, value, (name) => `${where}: ${name}`);
  }
  if (!('event' in file)) throw new ConfigError(`${where}: event: missing; must be ${EVENT.allowed}`);
  for (const key of KEYS) {
    const name = ITEMS[key].env;
    const value = env[name ?? ''];
    if (name === undefined || value === undefined) continue;
    if (value.includes(REPLACEMENT)) throw notUtf8(`${name} (${key})`, value);
    set(key, value, () => `${name} (${key})`);
  }
  for (const [key, flag, value] of flags) {
    if (typeof value === 'string' && value.includes(REPLACEMENT)) throw notUtf8(`${flag} (${key})`, value);
    set(key, value, () => `${flag} (${key})`);
  }

  // Every value set above is checked; this also covers the defaults.
  try {
    c.validate({ allowed: 'strict' });
  } catch (e) {
    throw new ConfigError(`${where}: ${(e as Error).message.split('\n')[0]}`);
  }
  // Each field is its rule's value, of the type Config gives it.
  const p: Record<string, unknown> = c.getProperties();
  const config = Object.fromEntries(KEYS.map((key) => [key, ITEMS[key].rule.value(p[key])])) as Config;
  if (config.output === 'file' && config.output_file === '') {
    throw new ConfigError(
      `${where}: output_file: must be a file path when output is "file" (set output_file, CTLOGD_OUTPUT_FILE or --output-file): value was ""`,
    );
  }
  if (config.output === 'ipfix' && config.ipfix_host === '') {
    throw new ConfigError(
      `${where}: ipfix_host: must be the collector's address or name when output is "ipfix" (set ipfix_host, CTLOGD_IPFIX_HOST or --ipfix-host): value was ""`,
    );
  }
  if (config.output === 'ipfix' && !IPFIX_TYPES.some((t) => t in config.event)) {
    throw new ConfigError(
      `${where}: event: must name ${IPFIX_TYPES.join(' or ')} when output is "ipfix" (the events with a record): value was ${show(config.event)}`,
    );
  }
  // A client certificate is its certificate and its key: one alone is a mistake, not half a login.
  for (const [key, other] of [
    ['syslog_tls_key', 'syslog_tls_cert'],
    ['syslog_tls_cert', 'syslog_tls_key'],
  ] as const) {
    if (config[key] === '' && config[other] !== '') {
      throw new ConfigError(
        `${where}: ${key}: must be set when ${other} is (a client certificate needs both its certificate and its key, or neither): value was ""`,
      );
    }
  }
  const conflict = filterConflict(config);
  if (conflict) throw new ConfigError(`${where}: ${conflict}`);
  const read = readBy(config, opts.path);
  if (read) {
    throw new ConfigError(
      `${where}: output_file: is ${read}, which ctlogd reads; events appended to it would spoil it: name another file: value was ${show(config.output_file)}`,
    );
  }
  if (config.syslog_port === 0) config.syslog_port = SYSLOG_PORTS[config.syslog_protocol];
  return config;
}
