/**
 * `ctlogd [--config FILE] [--format vyos|conntrack|json] [...]`: parses the
 * command line, loads the config, runs the daemon. Bad input gets one line
 * on stderr and a documented exit code.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config.js';
import { CaptureError, Daemon, EXIT } from './daemon.js';

const HELP = `Usage: ctlogd [options]

Logs Linux conntrack events (NEW, UPDATE, DESTROY) to stdout, one line each.

Options:
  -c, --config FILE           JSON config (VyOS's vyos-conntrack-logger file is
                              accepted as-is); without it: every event type and
                              protocol, vyos format
  -f, --format FORMAT         vyos (default), conntrack, json
      --conntrack-options L   for --format conntrack: extended,timestamp,id,ktimestamp
      --queue-size N          events that may wait for the output
      --receive-buffer BYTES  netlink socket receive buffer
      --reliable              kernel-side reliable delivery of DESTROY events
      --log-level LEVEL       info (default) or debug
  -h, --help                  this text
  -V, --version               the version

Environment variables CTLOGD_FORMAT, CTLOGD_QUEUE_SIZE, CTLOGD_LOG_LEVEL,
CTLOGD_RECEIVE_BUFFER, CTLOGD_RELIABLE, CTLOGD_CONNTRACK_OPTIONS override the
file; flags override both.

Signals: TERM/INT stop (everything received is written), HUP reloads,
USR1 prints the counters on stderr.
Exit codes: 0 stopped, 64 bad command line, 70 internal error,
77 no permission (needs CAP_NET_ADMIN), 78 bad config.
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function die(code: number, msg: string): never {
  process.stderr.write(`ctlogd: ${msg}\n`);
  process.exit(code);
}

export async function main(argv: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        format: { type: 'string', short: 'f' },
        'conntrack-options': { type: 'string' },
        'queue-size': { type: 'string' },
        'receive-buffer': { type: 'string' },
        reliable: { type: 'boolean' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    die(EXIT.USAGE, `${(e as Error).message}; see ctlogd --help`);
  }
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  if (values.version) {
    process.stdout.write(`ctlogd ${version()}\n`);
    return;
  }
  // Flags other than these three are config overrides, handed to convict.
  const overrides: string[] = [];
  for (const [k, v] of Object.entries(values)) {
    if (k === 'config' || k === 'help' || k === 'version' || v === undefined) continue;
    overrides.push(`--${k}`, String(v));
  }
  const loadOpts = { path: values.config, args: overrides };
  let daemon: Daemon;
  try {
    daemon = new Daemon(loadOpts, loadConfig(loadOpts));
  } catch (e) {
    if (e instanceof ConfigError) die(EXIT.CONFIG, e.message);
    throw e;
  }
  try {
    await daemon.start();
  } catch (e) {
    if (e instanceof CaptureError && (e.code === 'EPERM' || e.code === 'EACCES')) {
      die(EXIT.NOPERM, `needs CAP_NET_ADMIN (run as root) to join the conntrack groups: ${e.message}`);
    }
    if (e instanceof CaptureError) die(EXIT.SOFTWARE, `cannot open the conntrack socket: ${e.message}`);
    throw e;
  }
  await daemon.run();
}
