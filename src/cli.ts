/**
 * `ctlogd [--config FILE] [--format vyos|conntrack|json|ecs] [...]`: parses the
 * command line, loads the config, runs the daemon. Bad input gets one line
 * on stderr and a documented exit code.
 */
import { parseArgs } from 'node:util';
import { ConfigError, configKeys, loadConfig, type Config, type ConfigKey } from './config.js';
import { CaptureError, Daemon, EXIT } from './daemon.js';
import { echo, oneLine } from './echo.js';
import { AddonError, loadNative } from './native.js';
import { MetricsError } from './metrics/server.js';
import { OutputError } from './output/index.js';
import { queryMain } from './query-cli.js';
import { version } from './version.js';

/** Short forms of the most used flags, and conntrack's letters for its filters. */
const SHORT: Record<string, string> = {
  config: 'c',
  format: 'f',
  output: 'o',
  help: 'h',
  version: 'V',
  'orig-src': 's',
  'orig-dst': 'd',
  'reply-src': 'r',
  'reply-dst': 'q',
  proto: 'p',
  mark: 'm',
  zone: 'w',
  status: 'u',
  'src-nat': 'n',
  'dst-nat': 'g',
  'any-nat': 'j',
};

/** Every config key with a flag can be given on the command line; the schema says which. */
const CONFIG_FLAGS = configKeys().filter((k): k is ConfigKey & { arg: string } => k.arg !== undefined);

/** Words of `text` in lines of at most `width`, each indented by `indent`. */
function wrap(text: string, indent: string, width = 78): string {
  const out: string[] = [];
  let line = indent;
  for (const word of text.split(/\s+/)) {
    if (line.length + word.length + 1 > width && line.trim()) {
      out.push(line);
      line = indent;
    }
    line += (line.trim() ? ' ' : '') + word;
  }
  out.push(line);
  return out.join('\n');
}

/**
 * A flag's value, as its usage line shows it: the words it takes when its
 * rule names a few (`one of a, b`), else VALUE; its `Allowed:` says the rest.
 */
function valueWords(k: ConfigKey): string {
  const words = /^one of ([\w-]+(?:, [\w-]+)*)$/.exec(k.allowed)?.[1].split(', ').join('|');
  return words !== undefined && words.length <= 40 ? words : 'VALUE';
}

/**
 * Which counter of the stats line says what, and what to do about it
 * (daemon.ts statsLine says what each counts).
 */
const COUNTERS: Array<[name: string, meaning: string]> = [
  ['lost', "events the kernel dropped, its socket's receive buffer full: raise receive_buffer (or set reliable)"],
  ['undelivered', 'reliable mode, in place of lost: deliveries the kernel could not make; it retries DESTROY events, NEW and UPDATE may be lost'],
  ['enobufs', 'how often the kernel found that buffer full'],
  ['dropped', 'events read but never handed to the outputs: they were gone at shutdown'],
  ['output_lost', 'lines an output lost (a failed write, a full disk, a receiver away, a full queue): its error line says why'],
  ['output_waiting', 'lines an output holds, neither written nor lost yet: growing, the output is slower than the events'],
  ['decode_errors', 'kernel messages that could not be decoded, events no format could print'],
  ['filtered', "events the config's filters dropped after reading: asked for, not a loss"],
  ['skipped', 'events an output did not take, not in its own event (or nothing to write, as IPFIX for UPDATE): asked for, not a loss'],
];

function help(): string {
  const flag = (name: string, value = '') => `  ${SHORT[name] ? `-${SHORT[name]}, ` : ''}--${name}${value ? ` ${value}` : ''}`;
  const entries = CONFIG_FLAGS.map((k) => {
    const isBool = typeof k.default === 'boolean';
    const doc = `${k.doc.replace(/`/g, '')} Allowed: ${k.allowed.replace(/`/g, '')}. Default: ${JSON.stringify(k.default)}.`;
    const usage = k.valueOptional ? `${flag(k.arg)} [VALUE]` : isBool ? `${flag(k.arg)}[=true|false]` : flag(k.arg, valueWords(k));
    return `${usage}\n${wrap(doc, '        ')}`;
  });
  const counters = COUNTERS.map(([name, meaning]) => `  ${name}\n${wrap(meaning, '        ')}`);
  return `Usage: ctlogd [options]
       ctlogd query --store DIR ...   (NAT log lookups: ctlogd query --help)

Logs Linux conntrack events (NEW, UPDATE, DESTROY), one line each, to
stdout, a file or syslog, or as NAT event records to an IPFIX collector,
or keeps them in a NAT log store (Parquet files) that ctlogd query answers
from: who held a translated address and port at a moment.

Options:
${flag('config', 'FILE')}
${wrap("JSON config (VyOS's vyos-conntrack-logger file is accepted as-is); without it: every event type and protocol, vyos format, stdout.", '        ')}
${entries.join('\n')}
${flag('help')}
        This text.
${flag('version')}
        The version.

Signals: TERM/INT stop (everything received is written), HUP reloads,
USR1 prints the counters on stderr: systemctl kill -s USR1 ctlogd (they
go to the journal), or every stats_interval seconds, and at exit.

Counters: the capture's, then each output's after output=NAME; a loss is
also said on stderr when it starts and when it ends.
${counters.join('\n')}

Environment:
  CTLOGD_<KEY>
        Keys with a flag also have an environment variable, CTLOGD_ and the
        key in capitals (CTLOGD_QUEUE_SIZE, ...): it overrides the file;
        flags override both.

Files:
  /etc/ctlogd/ctlogd.json
        The service's config (systemd/ctlogd.service runs ctlogd --config
        on it; the Debian package's conffile).
  /run/vyos-conntrack-logger.conf
        The config VyOS writes from set system conntrack log; the drop-in
        for vyos-conntrack-logger.service runs ctlogd on it
        (/usr/share/ctlogd/vyos-conntrack-logger.conf in the Debian package).
  /var/log/ctlogd/
        Where the unit lets a file output write (its LogsDirectory).

Examples:
  ctlogd --format conntrack -p tcp --dport 443
        What conntrack -E -p tcp --dport 443 prints; the kernel drops the
        other events before ctlogd reads them.
  ctlogd --any-nat -o ipfix --ipfix-host 192.0.2.10
        Translated connections, as NAT event records at their start and
        end, to the IPFIX collector at 192.0.2.10:4739.
  ctlogd -f json -o file --output-file /var/log/ctlogd/ct.json
        Every event as a JSON line, appended to a file that SIGHUP reopens
        (logrotate).

Exit status: ${EXIT.OK} stopped, ${EXIT.USAGE} bad command line (an unknown flag, a flag
without its value, a word that is no flag), ${EXIT.UNAVAILABLE} no native addon for this
platform, or no conntrack netlink in the kernel (modprobe
nf_conntrack_netlink), ${EXIT.SOFTWARE} internal error, ${EXIT.CANTCREAT} cannot open the output or
listen on metrics_listen, ${EXIT.NOPERM} no permission (needs CAP_NET_ADMIN, and
CAP_SYS_ADMIN with netns), ${EXIT.CONFIG} bad config (also a bad value of a flag, a
netns that is not there).

See also: conntrack(8), systemctl(1), journalctl(1); the README and docs/
of ctlogd's repository (the Debian package: /usr/share/doc/ctlogd/).
`;
}

/** One line on stderr, whatever a path or value in it holds, and the exit code. */
function die(code: number, msg: string): never {
  process.stderr.write(`ctlogd: ${oneLine(msg)}\n`);
  process.exit(code);
}

/** What the command line asks for. */
export interface CommandLine {
  path?: string;
  help: boolean;
  version: boolean;
  /** Config overrides, for loadConfig as they were parsed (LoadOptions.flags). */
  flags: Record<string, string | boolean | undefined>;
}

/** A command line that is not ctlogd's: exit 64 with this line. */
export class UsageError extends Error {
  constructor(message: string) {
    super(oneLine(message));
    this.name = 'UsageError';
  }
}

type Option = { type: 'string' | 'boolean'; short?: string };

const OPTIONS: Record<string, Option> = {
  config: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
  ...Object.fromEntries(
    CONFIG_FLAGS.map((k) => {
      const type = typeof k.default === 'boolean' ? ('boolean' as const) : ('string' as const);
      return [k.arg, SHORT[k.arg] ? { type, short: SHORT[k.arg] } : { type }];
    }),
  ),
};

/** Flags that may be given alone (true) or with a value: `--src-nat`, `--src-nat 192.0.2.1`. */
const VALUE_OPTIONAL = new Set(CONFIG_FLAGS.filter((k) => k.valueOptional).map((k) => k.arg));

/** A value that starts with '-' and is taken as a value, not as a flag: `--stats-interval -5`. */
const NEGATIVE_NUMBER = /^-[0-9]/;

/**
 * Parses the command line, the only place flags are parsed; throws
 * UsageError on a bad one. node's parseArgs splits it into tokens
 * (`--name=value`, `-c FILE`, `-hV`, `--`); its strict mode is not used, as
 * it takes `-1` after a flag for a flag, refuses `--reliable=false`, and
 * words its errors differently on each Node version: the checks are here.
 */
export function parseCommandLine(argv: string[]): CommandLine {
  const { tokens } = parseArgs({ args: argv, options: OPTIONS, strict: false, allowPositionals: true, tokens: true });
  const values: Record<string, string | boolean> = {};
  for (const [i, t] of tokens.entries()) {
    if (t.kind === 'option-terminator') continue;
    // A flag whose value may be left out takes the next word as it, as
    // conntrack's --src-nat does (`--src-nat 192.0.2.1`).
    const prev = tokens[i - 1];
    if (t.kind === 'positional' && prev?.kind === 'option' && prev.value === undefined && VALUE_OPTIONAL.has(prev.name)) {
      values[prev.name] = t.value;
      continue;
    }
    if (t.kind === 'positional') throw new UsageError(`${JSON.stringify(echo(t.value))}: not a flag; ctlogd takes flags only (--name VALUE or --name=VALUE)`);
    const rawName = echo(t.rawName);
    const opt = Object.hasOwn(OPTIONS, t.name) ? OPTIONS[t.name] : undefined;
    if (opt === undefined) throw new UsageError(`${rawName}: unknown flag`);
    if (opt.type === 'string') {
      if (t.value === undefined) throw new UsageError(`${rawName}: needs a value`);
      if (!t.inlineValue && t.value.startsWith('-') && !NEGATIVE_NUMBER.test(t.value)) {
        throw new UsageError(`${rawName}: needs a value, not the flag ${echo(t.value)} (a value that starts with '-' is written --${t.name}=${echo(t.value)})`);
      }
      values[t.name] = t.value;
    } else if (t.value === undefined) {
      values[t.name] = true;
    } else if (t.name === 'help' || t.name === 'version') {
      throw new UsageError(`${rawName}: takes no value`);
    } else {
      // --reliable=false: the config checks it as it checks the file's value.
      values[t.name] = t.value;
    }
  }
  const { config, help, version, ...flags } = values;
  return { path: config as string | undefined, help: help === true, version: version === true, flags };
}

export async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'query') return queryMain(argv.slice(1));
  let cmd: CommandLine;
  try {
    cmd = parseCommandLine(argv);
  } catch (e) {
    if (e instanceof UsageError) die(EXIT.USAGE, `${e.message}; see ctlogd --help`);
    throw e;
  }
  if (cmd.help) {
    process.stdout.write(help());
    return;
  }
  if (cmd.version) {
    process.stdout.write(`ctlogd ${version()}\n`);
    return;
  }
  const loadOpts = { path: cmd.path, flags: cmd.flags };
  let daemon: Daemon;
  let config: Config;
  try {
    config = loadConfig(loadOpts);
    await loadNative();
    daemon = new Daemon(loadOpts, config);
  } catch (e) {
    if (e instanceof ConfigError) die(EXIT.CONFIG, e.message);
    if (e instanceof AddonError) die(EXIT.UNAVAILABLE, e.message);
    if (e instanceof OutputError) die(EXIT.CANTCREAT, e.message);
    throw e;
  }
  try {
    await daemon.start();
  } catch (e) {
    if (e instanceof ConfigError) die(EXIT.CONFIG, e.message);
    if (e instanceof CaptureError && (e.code === 'EPERM' || e.code === 'EACCES')) {
      const what = config.netns
        ? 'CAP_NET_ADMIN and CAP_SYS_ADMIN (run as root) to enter netns and join the conntrack groups'
        : 'CAP_NET_ADMIN (run as root) to join the conntrack groups';
      die(EXIT.NOPERM, `needs ${what}: ${e.message}`);
    }
    // A kernel without nf_conntrack_netlink (or nfnetlink, which it loads), qemu-user, a
    // sandbox without AF_NETLINK: restarting will not help.
    if (e instanceof CaptureError && (e.code === 'EPROTONOSUPPORT' || e.code === 'EAFNOSUPPORT')) {
      const sandbox = e.code === 'EAFNOSUPPORT' ? ', and netlink sockets allowed (systemd: RestrictAddressFamilies=AF_NETLINK)' : '';
      die(
        EXIT.UNAVAILABLE,
        `no conntrack netlink here: needs the kernel module nf_conntrack_netlink (modprobe nf_conntrack_netlink)${sandbox}: ${e.code}: ${e.message}`,
      );
    }
    if (e instanceof CaptureError) die(EXIT.SOFTWARE, `cannot open the conntrack socket: ${e.message}`);
    if (e instanceof MetricsError) die(EXIT.CANTCREAT, e.message);
    throw e;
  }
  await daemon.run();
}
