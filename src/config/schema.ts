/**
 * Every key of the config: SCHEMA is the one source of each key's name,
 * default, environment variable, flag, allowed values and type: convict's
 * schema (load.ts), the Config type and the README's key table
 * (configKeys, scripts/config-doc.ts) are made from it.
 */
import { FILTER_KEYS, type FilterKey } from '../conntrack-filter.js';
import { echo } from '../echo.js';
import { EVENT_TYPES, type EventType } from '../event.js';
import { PROTOCOL_CLASSES, type ProtocolClass } from '../filter.js';
import { NAT_EVENTS } from '../output/ipfix/template.js';
import {
  BOOLEAN,
  checked,
  filterRule,
  hostRule,
  INT_MAX,
  integer,
  Invalid,
  isEmptyObject,
  isPlainObject,
  kernelPath,
  LISTEN,
  NETNS,
  oneOf,
  PATH_MAX_BYTES,
  simple,
  SUN_PATH_MAX_BYTES,
  type Rule,
} from './rules.js';

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

const PROTOCOLS_ALLOWED = `{} for every protocol, or an object of the protocols to keep (${PROTOCOL_CLASSES.join(', ')}), each {}`;

export const EVENT: Rule<EventConfig> = {
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

export type Key = keyof typeof SCHEMA;
export const ITEMS: Record<Key, Item<unknown>> = SCHEMA;
export const KEYS = Object.keys(SCHEMA) as Key[];

/**
 * The checked configuration: a field per key, named as the file, the
 * README and the error messages name it, of the type its rule gives.
 */
export type Config = { [K in Key]: ReturnType<(typeof SCHEMA)[K]['rule']['value']> };

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
