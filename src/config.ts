/**
 * The configuration: the JSON that VyOS writes for `set system conntrack
 * log ...`, accepted unchanged, plus ctlogd's own keys. The convict schema
 * below is the one source of every user-facing default.
 */
import { readFileSync } from 'node:fs';
import convict from 'convict';
import type { EventType } from './event.js';

export const EVENT_TYPES: readonly EventType[] = ['new', 'update', 'destroy'];
export const PROTOCOLS = ['tcp', 'udp', 'icmp', 'other'] as const;
export type ProtocolKey = (typeof PROTOCOLS)[number];
export const FORMATS = ['vyos', 'conntrack', 'json'] as const;
export type Format = (typeof FORMATS)[number];
export const CONNTRACK_OPTIONS = ['extended', 'timestamp', 'id', 'ktimestamp'] as const;

/** `event` as VyOS writes it: `{}` for every protocol, or the protocols to keep. */
export type EventConfig = Partial<Record<EventType, Partial<Record<ProtocolKey, object>>>>;

/** Used when no --config is given: every event type and protocol, vyos lines, stdout. */
export const DEFAULT_CONFIG = {
  event: { new: {}, update: {}, destroy: {} },
};

/** Thrown for any bad input; the CLI prints `message` as one line and exits 78. */
export class ConfigError extends Error {
  readonly exitCode = 78;
}

const QUEUE_MAX = 2147483647;

function fail(msg: string): never {
  throw new Error(msg);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A number, or a string of digits (VyOS writes numbers as strings).
 * Registered with convict under a name, as convict takes coercing formats.
 */
function integerIn(min: number, max: number): string {
  const name = `integer ${min}..${max}`;
  convict.addFormat({
    name,
    validate(v: unknown) {
      const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
        // The value is named here: convict omits it when it is falsy (0).
        fail(`must be an integer from ${min} to ${max} (a number or a string of digits): value was ${JSON.stringify(v)}`);
      }
    },
    coerce: (v: unknown) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v),
  });
  return name;
}

convict.addFormat({
  name: 'conntrack-options',
  validate(v: unknown) {
    if (!Array.isArray(v)) fail(`must be a list of ${CONNTRACK_OPTIONS.join(', ')}`);
    for (const o of v) {
      if (!(CONNTRACK_OPTIONS as readonly unknown[]).includes(o)) {
        fail(`unknown option ${JSON.stringify(o)}; allowed: ${CONNTRACK_OPTIONS.join(', ')}`);
      }
    }
  },
  // From the environment or the command line: a comma-separated string.
  coerce: (v: unknown) => (typeof v === 'string' ? v.split(',').filter(Boolean) : v),
});

const schema = {
  event: {
    doc: 'Event types to log, each {} for every protocol or with the protocols to keep: tcp, udp, icmp, other. An absent type is not subscribed.',
    // convict keeps an object value whole only with format Object; its
    // contents are checked by checkEvent. {} merged with the file's object
    // is the file's object.
    default: {} as EventConfig,
    format: Object,
  },
  queue_size: {
    doc: 'Events that may wait between the kernel socket and the output before new ones are dropped (and counted).',
    default: 100000 as number | string,
    format: integerIn(1, QUEUE_MAX),
    env: 'CTLOGD_QUEUE_SIZE',
    arg: 'queue-size',
  },
  log_level: {
    doc: 'info, or debug for the service\'s own diagnostics (event lines never change).',
    default: 'info',
    format: ['info', 'debug'],
    env: 'CTLOGD_LOG_LEVEL',
    arg: 'log-level',
  },
  timestamp: {
    doc: 'VyOS sets {} to enable net.netfilter.nf_conntrack_timestamp; ctlogd warns if that sysctl is 0.',
    default: null as object | null,
    nullable: true,
    format: Object,
  },
  format: {
    doc: 'Line format: vyos (VyOS logger\'s line), conntrack (as conntrack -E), json (one object per line).',
    default: 'vyos' as Format,
    format: [...FORMATS],
    env: 'CTLOGD_FORMAT',
    arg: 'format',
  },
  conntrack_options: {
    doc: 'conntrack -E -o variants for the conntrack format: extended, timestamp, id, ktimestamp (a list, or a comma-separated string).',
    default: [] as string[],
    format: 'conntrack-options',
    env: 'CTLOGD_CONNTRACK_OPTIONS',
    arg: 'conntrack-options',
  },
  receive_buffer: {
    doc: 'Netlink socket receive buffer in bytes (SO_RCVBUFFORCE); absorbs bursts while the reader catches up.',
    default: 64 * 1024 * 1024 as number | string,
    format: integerIn(65536, QUEUE_MAX),
    env: 'CTLOGD_RECEIVE_BUFFER',
    arg: 'receive-buffer',
  },
  reliable: {
    doc: 'NETLINK_BROADCAST_ERROR + NETLINK_NO_ENOBUFS: the kernel retries DESTROY events it could not deliver (see README).',
    default: false,
    format: Boolean,
    env: 'CTLOGD_RELIABLE',
    arg: 'reliable',
  },
};

/** The contents of `event`, which convict only sees as an object. */
function checkEvent(v: unknown): asserts v is EventConfig {
  if (!isPlainObject(v)) fail(`must be an object with keys ${EVENT_TYPES.join(', ')}`);
  const types = Object.keys(v);
  if (types.length === 0) fail(`is missing or empty; name at least one event type: ${EVENT_TYPES.join(', ')}`);
  for (const t of types) {
    if (!(EVENT_TYPES as readonly string[]).includes(t)) {
      fail(`unknown event type ${JSON.stringify(t)}; allowed: ${EVENT_TYPES.join(', ')}`);
    }
    const protos = v[t];
    if (!isPlainObject(protos)) fail(`${t}: must be {} or an object of protocols (${PROTOCOLS.join(', ')}): value was ${JSON.stringify(protos)}`);
    for (const [p, val] of Object.entries(protos)) {
      if (!(PROTOCOLS as readonly string[]).includes(p)) {
        fail(`${t}: unknown protocol ${JSON.stringify(p)}; allowed: ${PROTOCOLS.join(', ')}`);
      }
      if (!isPlainObject(val) || Object.keys(val).length > 0) fail(`${t}.${p}: must be {}: value was ${JSON.stringify(val)}`);
    }
  }
}

function checkTimestamp(v: unknown): void {
  if (v !== null && (!isPlainObject(v) || Object.keys(v).length > 0)) fail(`must be {}: value was ${JSON.stringify(v)}`);
}

export interface Config {
  event: EventConfig;
  queueSize: number;
  logLevel: 'info' | 'debug';
  timestamp: boolean;
  format: Format;
  conntrackOptions: string[];
  receiveBuffer: number;
  reliable: boolean;
}

export interface LoadOptions {
  /** Path of the JSON file; without it the embedded default is used. */
  path?: string;
  /** Command-line overrides, as `--key value` pairs. */
  args?: string[];
  env?: NodeJS.ProcessEnv;
}

/** Reads and validates the config. Throws ConfigError with one line. */
export function loadConfig(opts: LoadOptions = {}): Config {
  const where = opts.path ? `config ${opts.path}` : 'config';
  let raw: unknown = DEFAULT_CONFIG;
  if (opts.path) {
    let text: string;
    try {
      text = readFileSync(opts.path, 'utf8');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : err.code === 'EACCES' ? 'permission denied' : err.message;
      throw new ConfigError(`${where}: cannot read: ${why}; a JSON file is expected`);
    }
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new ConfigError(`${where}: not valid JSON: ${(e as Error).message}`);
    }
    if (!isPlainObject(raw)) throw new ConfigError(`${where}: must be a JSON object`);
  }
  const c = convict(schema, { args: opts.args ?? [], env: opts.env ?? process.env });
  try {
    c.load(raw);
    c.validate({ allowed: 'strict' });
  } catch (e) {
    // convict appends the value again where the message already has it.
    const line = (e as Error).message.split('\n')[0].replace(/(: value was .*?): value was .*$/, '$1');
    throw new ConfigError(`${where}: ${line.replace(/^configuration param '([^']+)' not declared in the schema/, "unknown key '$1'; allowed: " + Object.keys(schema).join(', '))}`);
  }
  const p = c.getProperties();
  for (const [key, check] of [['event', checkEvent], ['timestamp', checkTimestamp]] as const) {
    try {
      check(p[key]);
    } catch (e) {
      throw new ConfigError(`${where}: ${key}: ${(e as Error).message}`);
    }
  }
  return {
    event: p.event as EventConfig,
    queueSize: Number(p.queue_size),
    logLevel: p.log_level as 'info' | 'debug',
    timestamp: p.timestamp !== null,
    format: p.format,
    conntrackOptions: p.conntrack_options,
    receiveBuffer: Number(p.receive_buffer),
    reliable: p.reliable,
  };
}
