/**
 * Every key of the config: SCHEMA is the one source of each key's name,
 * default, environment variable, flag, allowed values and type: convict's
 * schema (load.ts), the Config type and the README's key table
 * (configKeys, scripts/config-doc.ts) are made from it.
 */
import { FILTER_KEYS, type FilterKey } from '../conntrack-filter.js';
import { echo } from '../echo.js';
import { EVENT_TYPES, type EventType } from '../event.js';
import { PROTOCOL_CLASSES, type ProtocolClass } from '../event-selection.js';
import { FORMAT_DEFINITIONS, FORMAT_KEYS, FORMAT_NAMES } from '../format/registry.js';
import { OUTPUT_DEFINITIONS, OUTPUT_KEYS, OUTPUT_NAMES } from '../output/registry.js';
import {
  BOOLEAN,
  checked,
  filterRule,
  flagged,
  INT_MAX,
  integer,
  Invalid,
  isEmptyObject,
  isPlainObject,
  LISTEN,
  NETNS,
  oneOf,
  option,
  simple,
  type Item,
  type Rule,
} from './rules.js';
import { outputsRule, type OutputOf } from './outputs.js';

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

// `timestamp` is `{}` or absent (convict's null default, nullable so that
// it is valid), and only decides the sysctl warning: Config says true or false.
const TIMESTAMP: Rule<boolean> = { ...simple('{} (or absent)', isEmptyObject), value: (v) => v !== null };

/** The filter keys' items, each with its syntax's rule; off by default. */
type FilterItems = { [K in FilterKey]: Item<NonNullable<ReturnType<(typeof FILTER_KEYS)[K]['syntax']['parse']>> | undefined> };

function filterItems(): FilterItems {
  const items = Object.entries(FILTER_KEYS).map(([key, { doc, syntax }]) => [
    key,
    { doc, default: syntax.off, rule: filterRule<unknown>(syntax), ...flagged(key) },
  ]);
  return Object.fromEntries(items) as FilterItems;
}

/**
 * The keys one output takes: which output, its format, and every output's
 * own keys (in the registry's order, output/registry.ts). At the top level
 * they are the one output of the flat config; each entry of `outputs` takes
 * them too.
 */
export const OUTPUT_ITEMS = {
  ...option('output', `Where event lines go: ${OUTPUT_DEFINITIONS.map((d) => `\`${d.name}\` (${d.doc})`).join(', ')}.`, 'stdout', oneOf(OUTPUT_NAMES)),
  ...option('format', `Line format: ${FORMAT_DEFINITIONS.map((f) => `\`${f.name}\` (${f.doc})`).join(', ')}.`, 'vyos', oneOf(FORMAT_NAMES)),
  // Each format's keys, in the registry's order (format/registry.ts), then each output's (output/registry.ts).
  ...FORMAT_KEYS,
  ...OUTPUT_KEYS,
} satisfies Record<string, Item<unknown>>;

const OUTPUTS = outputsRule(OUTPUT_ITEMS, EVENT);

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
    // Two of the reader's batches, as the library's default (ReaderOptions
    // in crates/ctlog-core/src/reader.rs says why).
    8192,
    integer(1, INT_MAX),
  ),
  ...option('log_level', "`debug` adds the service's own diagnostics (on stderr); it never changes the event lines.", 'info', oneOf(['info', 'debug'])),
  timestamp: {
    doc: 'VyOS sets `{}` to enable `net.netfilter.nf_conntrack_timestamp`; ctlogd warns once if that sysctl is 0.',
    default: null,
    rule: TIMESTAMP,
  },
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
  ...option('stats_interval', 'Seconds between counter lines on stderr; 0 prints them only on SIGUSR1 and at exit.', 0, integer(0, 86400)),
  ...option(
    'netns',
    'Logs the events of another network namespace: the socket is opened inside it, ctlogd stays where it is (it needs CAP_SYS_ADMIN as well to enter it). A reload that changes it opens the new socket before it closes the old. Empty: the namespace ctlogd runs in.',
    '',
    NETNS,
  ),
  ...option(
    'metrics_listen',
    'Serves Prometheus/OpenMetrics metrics at `/metrics` on this address and port (docs/metrics.md): the counters of the stats line per event type and protocol class, the queue, the socket backlog, the latency histogram, the last reload, build info. Empty: off. A reload that changes it listens on the new address before it closes the old.',
    '',
    LISTEN,
  ),
  outputs: {
    doc: 'Several outputs at once, from one capture: a list of objects, each taking the keys one output takes (`output`, `format`, `conntrack_options`, `output_file`, `syslog_*`, `ipfix_*`; their defaults as below), and `name` (how the stats line, errors and metrics name it; default: its `output`, with `-2`, `-3`, ... when repeated) and `event` (what it takes of the events subscribed, in the shape of `event`, a subset of it; default: all of them). Absent: the one output of the keys below. Not with them: an output key at the top level beside `outputs` is refused.',
    default: null,
    rule: OUTPUTS,
  },
  ...OUTPUT_ITEMS,
  // conntrack's filters, beside `event` (docs/filters.md).
  ...filterItems(),
} satisfies Record<string, Item<unknown>>;

export type Key = keyof typeof SCHEMA;
export const ITEMS: Record<Key, Item<unknown>> = SCHEMA;
export const KEYS = Object.keys(SCHEMA) as Key[];

/**
 * The checked configuration: a field per key, named as the file, the
 * README and the error messages name it, of the type its rule gives.
 */
type Values = { [K in Key]: ReturnType<(typeof SCHEMA)[K]['rule']['value']> };
export type Config = Omit<Values, 'outputs' | keyof typeof OUTPUT_ITEMS> & {
  /** Every output: the entries of `outputs`, or the one of the flat keys (config/outputs.ts). */
  outputs: OutputConfig[];
};

/** One output of the config, whole. */
export type OutputConfig = OutputOf<typeof OUTPUT_ITEMS>;

/** The keys an output takes. */
export const OUTPUT_ITEM_KEYS = Object.keys(OUTPUT_ITEMS) as Array<keyof typeof OUTPUT_ITEMS>;

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
