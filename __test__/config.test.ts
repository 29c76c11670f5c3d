/**
 * The configuration: VyOS's file accepted unchanged; every bad input (file,
 * CTLOGD_* variable, flag) refused with one line naming where, the key, what
 * is allowed and the value; precedence file < environment < flags; the
 * key table of docs/configuration.md generated from the schema.
 *
 * The CLI tests run bin/ctlogd.js, which needs `npm run build:ts` first.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseCommandLine } from '../src/cli.js';
import { MAX_CONFIG_BYTES } from '../src/config/file.js';
import {
  ConfigError,
  configKeys,
  loadConfig as loadWhole,
  loadConfigAsync,
  netnsPath,
  parseListen,
  type Config as Whole,
  type LoadOptions,
  type OutputConfig,
} from '../src/config.js';
import { CTLOGD, ROOT } from './helpers/ctlogd.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ctlogd-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;

/** Writes a config file: a string or bytes as they are, anything else as JSON. */
function file(content: unknown): string {
  const f = path.join(dir, `c${++seq}.json`);
  writeFileSync(f, typeof content === 'string' || Buffer.isBuffer(content) ? content : JSON.stringify(content, null, 4));
  return f;
}

/**
 * A config of one output, its output's keys at the top level beside the
 * others, as a flat config file has them: what most tests here are about.
 * The several outputs of `outputs` are config-outputs.test.ts's.
 */
type Config = Omit<Whole, 'outputs'> & Omit<OutputConfig, 'name' | 'event'>;

function loadConfig(opts: LoadOptions): Config {
  const { outputs, ...general } = loadWhole(opts);
  assert.equal(outputs.length, 1, 'one output');
  const { name, event, ...output } = outputs[0];
  assert.equal(name, output.output, 'named after its output');
  assert.deepEqual(event, general.event, "the config's events");
  return { ...general, ...output };
}

/** The message loadConfig refuses with; fails the test if it accepts. */
function refusal(opts: { path?: string; env?: NodeJS.ProcessEnv; args?: string[]; flags?: LoadOptions['flags'] }): string {
  const { args, ...rest } = opts;
  try {
    loadConfig({ env: {}, ...rest, ...(args ? { flags: parseCommandLine(args).flags } : {}) });
  } catch (e) {
    assert.ok(e instanceof ConfigError, `not a ConfigError: ${(e as Error).stack}`);
    assert.equal(e.exitCode, 78);
    return e.message;
  }
  assert.fail(`accepted: ${JSON.stringify(opts)}`);
}

const E = { event: { new: {} } };
const INT = (min: number, max: number) => `must be an integer from ${min} to ${max} \\(a number or a string of digits\\)`;
const EVENT_ALLOWED =
  'must be an object naming at least one event type \\(new, update, destroy\\), each \\{\\} for every protocol, or an object of the protocols to keep \\(tcp, udp, icmp, other\\), each \\{\\}';

interface Bad {
  /** The file: an object (written as JSON) or the exact text. */
  conf: unknown;
  env?: Record<string, string>;
  /** Flags, parsed as the CLI parses them. */
  args?: string[];
  /** Flags as a library caller may hand them over (LoadOptions.flags). */
  flags?: LoadOptions['flags'];
  /** What the one line must match; `F` stands for `config <path>`. */
  re: string;
}

const FILE = '^config \\S+: ';
const catalogue: Bad[] = [
  // Numbers: a JSON number or a string of decimal digits, in range.
  { conf: { ...E, queue_size: 'abc' }, re: `${FILE}queue_size: ${INT(1, 2147483647)}: value was "abc"$` },
  { conf: { ...E, queue_size: 0 }, re: `${FILE}queue_size: ${INT(1, 2147483647)}: value was 0$` },
  { conf: { ...E, queue_size: '0' }, re: `${FILE}queue_size: ${INT(1, 2147483647)}: value was "0"$` },
  { conf: { ...E, queue_size: -1 }, re: `${FILE}queue_size: ${INT(1, 2147483647)}: value was -1$` },
  { conf: { ...E, queue_size: '-1' }, re: `${FILE}queue_size: ${INT(1, 2147483647)}: value was "-1"$` },
  { conf: { ...E, queue_size: 1.5 }, re: `${FILE}queue_size: ${INT(1, 2147483647)}: value was 1.5$` },
  { conf: { ...E, queue_size: 2147483648 }, re: `${FILE}queue_size: ${INT(1, 2147483647)}: value was 2147483648$` },
  { conf: { ...E, queue_size: '2147483648' }, re: `${FILE}queue_size: ${INT(1, 2147483647)}: value was "2147483648"$` },
  { conf: { ...E, queue_size: '1e3' }, re: `${FILE}queue_size: ${INT(1, 2147483647)}: value was "1e3"$` },
  { conf: { ...E, queue_size: ' 10' }, re: `${FILE}queue_size: ${INT(1, 2147483647)}: value was " 10"$` },
  { conf: { ...E, queue_size: '0x10' }, re: `${FILE}queue_size: ${INT(1, 2147483647)}: value was "0x10"$` },
  { conf: { ...E, queue_size: '' }, re: `${FILE}queue_size: ${INT(1, 2147483647)}: value was ""$` },
  { conf: { ...E, queue_size: null }, re: `${FILE}queue_size: ${INT(1, 2147483647)}: value was null$` },
  { conf: { ...E, queue_size: true }, re: `${FILE}queue_size: ${INT(1, 2147483647)}: value was true$` },
  { conf: { ...E, queue_size: [10] }, re: `${FILE}queue_size: ${INT(1, 2147483647)}: value was \\[10\\]$` },
  { conf: { ...E, queue_size: { a: { b: 1 } } }, re: `${FILE}queue_size: ${INT(1, 2147483647)}: value was \\{"a":\\{"b":1\\}\\}$` },
  { conf: `{"event": {"new": {}}, "queue_size": 1e999}`, re: `${FILE}queue_size: ${INT(1, 2147483647)}: value was Infinity$` },
  { conf: { ...E, receive_buffer: 65535 }, re: `${FILE}receive_buffer: ${INT(65536, 2147483647)}: value was 65535$` },
  { conf: { ...E, stats_interval: '86401' }, re: `${FILE}stats_interval: ${INT(0, 86400)}: value was "86401"$` },
  { conf: { ...E, stats_interval: -1 }, re: `${FILE}stats_interval: ${INT(0, 86400)}: value was -1$` },
  { conf: { ...E, syslog_port: 65536 }, re: `${FILE}syslog_port: ${INT(0, 65535)}: value was 65536$` },
  { conf: { ...E, syslog_port: '-1' }, re: `${FILE}syslog_port: ${INT(0, 65535)}: value was "-1"$` },
  // Enumerations: a string, one of the listed.
  { conf: { ...E, log_level: 'warn' }, re: `${FILE}log_level: must be one of info, debug: value was "warn"$` },
  { conf: { ...E, log_level: 'DEBUG' }, re: `${FILE}log_level: must be one of info, debug: value was "DEBUG"$` },
  { conf: { ...E, log_level: 1 }, re: `${FILE}log_level: must be one of info, debug: value was 1$` },
  { conf: { ...E, format: 'xml' }, re: `${FILE}format: must be one of vyos, conntrack, json, ecs: value was "xml"$` },
  { conf: { ...E, format: ['vyos'] }, re: `${FILE}format: must be one of vyos, conntrack, json, ecs: value was \\["vyos"\\]$` },
  { conf: { ...E, format: null }, re: `${FILE}format: must be one of vyos, conntrack, json, ecs: value was null$` },
  { conf: { ...E, output: 'stderr' }, re: `${FILE}output: must be one of stdout, file, syslog, ipfix, store: value was "stderr"$` },
  { conf: { ...E, syslog_protocol: 'sctp' }, re: `${FILE}syslog_protocol: must be one of udp, tcp, tls: value was "sctp"$` },
  { conf: { ...E, syslog_protocol: 'TLS' }, re: `${FILE}syslog_protocol: must be one of udp, tcp, tls: value was "TLS"$` },
  { conf: { ...E, syslog_facility: 'local8' }, re: `${FILE}syslog_facility: must be one of kern, user, .*, local7: value was "local8"$` },
  // Lists.
  {
    conf: { ...E, conntrack_options: ['bogus'] },
    re: `${FILE}conntrack_options: must be a list of extended, timestamp, id, ktimestamp .*: value was \\["bogus"\\]$`,
  },
  {
    conf: { ...E, conntrack_options: 'extended,bogus' },
    re: `${FILE}conntrack_options: must be a list of extended, timestamp, id, ktimestamp .*: value was "extended,bogus"$`,
  },
  { conf: { ...E, conntrack_options: [1] }, re: `${FILE}conntrack_options: must be a list of .*: value was \\[1\\]$` },
  { conf: { ...E, conntrack_options: {} }, re: `${FILE}conntrack_options: must be a list of .*: value was \\{\\}$` },
  // Booleans: true/false (also as strings; convict's own Boolean takes "0" and "no" as true).
  { conf: { ...E, reliable: 'yes' }, re: `${FILE}reliable: must be true or false .*: value was "yes"$` },
  { conf: { ...E, reliable: 1 }, re: `${FILE}reliable: must be true or false .*: value was 1$` },
  { conf: { ...E, reliable: 'False' }, re: `${FILE}reliable: must be true or false .*: value was "False"$` },
  { conf: { ...E, reliable: null }, re: `${FILE}reliable: must be true or false .*: value was null$` },
  // Strings.
  { conf: { ...E, output_file: 5 }, re: `${FILE}output_file: must be a file path \\(a string of at most 4095 bytes, no NUL\\): value was 5$` },
  {
    conf: { ...E, output_file: { path: '/x' } },
    re: `${FILE}output_file: must be a file path \\(a string of at most 4095 bytes, no NUL\\): value was \\{"path":"/x"\\}$`,
  },
  {
    conf: { ...E, output: 'file' },
    re: `${FILE}output_file: must be a file path when output is "file" \\(set output_file, CTLOGD_OUTPUT_FILE or --output-file\\): value was ""$`,
  },
  { conf: { ...E, output: 'file', output_file: '' }, re: `${FILE}output_file: must be a file path when output is "file" .*: value was ""$` },
  {
    conf: { ...E, syslog_host: 'log host' },
    re: `${FILE}syslog_host: must be an IP address, or a host name \\(RFC 1123: labels of 1 to 63 letters, .*, at most 253 characters, the last label not all digits\\), or empty \\(a string\\): value was "log host"$`,
  },
  { conf: { ...E, syslog_host: 514 }, re: `${FILE}syslog_host: must be an IP address, or a host name .*: value was 514$` },
  // netns: a name (no slash, not . or ..) or an absolute path.
  ...['a/b', '.', '..', 'run/netns/x', 'x'.repeat(256)].map(
    (v): Bad => ({
      conf: { ...E, netns: v },
      re: `${FILE}netns: must be a string: a network namespace's name under /run/netns .*: value was "${v.length > 60 ? '.*' : v.replace(/\./g, '\\.')}`,
    }),
  ),
  { conf: { ...E, netns: 7 }, re: `${FILE}netns: must be a string: a network namespace's name .*: value was 7$` },
  // Metrics: an IPv4 address, [IPv6], localhost or nothing, and a port of 1 to 65535.
  ...['127.0.0.1', '127.0.0.1:0', '127.0.0.1:65536', '::1:9465', '[127.0.0.1]:9465', 'metrics.example:9465', '10.0.0.256:9465', '[]:9465', ' :9465'].map(
    (v): Bad => ({
      conf: { ...E, metrics_listen: v },
      re: `${FILE}metrics_listen: must be a string: an address and a port \\(\`127\\.0\\.0\\.1:9465\`, .*\\), or empty \\(off\\): value was ${JSON.stringify(v).replace(/[.[\]]/g, '\\$&')}$`,
    }),
  ),
  { conf: { ...E, metrics_listen: 9465 }, re: `${FILE}metrics_listen: must be a string: an address and a port .*: value was 9465$` },
  {
    conf: E,
    args: ['--metrics-listen', 'localhost'],
    re: `^--metrics-listen \\(metrics_listen\\): must be a string: an address and a port .*: value was "localhost"$`,
  },
  // conntrack's filters: each key's bad values, one line each.
  ...(
    [
      [
        'orig_src',
        ['localhost', '10.0.0.0/33', '10.0.0.0/', '10.0.0.256', 'fd00::/129', 'fe80::1%eth0', '!', '10.0.0.0/8/8', '1.2.3.4.5'],
        'a string: an IPv4 address',
      ],
      ['reply_dst', [7, ' 10.0.0.1', '10.0.0.1 junk'], 'a string: an IPv4 address'],
      ['proto', ['tcpp', '256', '-1', '!', 6.5, 'constructor'], 'a protocol: a name'],
      ['mark', ['0x', '1/', '/1', '4294967296', '-1', 'abc', '1/2/3', 1.5], 'a mark VALUE or VALUE/MASK'],
      ['zone', ['65536', 'x', 70000, '0x10000'], 'a zone from 0 to 65535'],
      ['status', ['ASSURE', 'ASSURED,', '!UNSET', 7, [1]], 'IPS_\\* bits'],
      ['src_nat', ['10.0.0.0/24', '[10.0.0.1]:80', '[fd00::1]', '10.0.0.1:65536', ':80', 'yes', 0], 'true \\(translated\\), false \\(off\\)'],
    ] as Array<[string, unknown[], string]>
  ).flatMap(([key, values, allowed]) =>
    values.map(
      (v): Bad => ({
        conf: { ...E, [key]: v },
        re: `${FILE}${key}: must be ${allowed}.*: value was ${JSON.stringify(v).replace(/[.[\]/*+()|]/g, '\\$&')}$`,
      }),
    ),
  ),
  { conf: { ...E, proto: 'udp', sport: 70000 }, re: `${FILE}sport: must be a port from 0 to 65535 .*: value was 70000$` },
  {
    conf: { ...E, sport: 80 },
    re: `${FILE}sport: needs proto set to tcp, udp, udplite, sctp or dccp \\(a protocol with ports\\), as conntrack's --sport needs -p$`,
  },
  { conf: { ...E, proto: 'icmp', dport: 80 }, re: `${FILE}dport: needs proto set to tcp, udp, udplite, sctp or dccp .*$` },
  { conf: { ...E, proto: '!tcp', dport: 80 }, re: `${FILE}dport: needs proto set to tcp, .*$` },
  {
    conf: { ...E, orig_src: '10.0.0.1', reply_dst: 'fd00::1' },
    re: `${FILE}reply_dst: an IPv6 address, but orig_src is IPv4: one address family at a time, as conntrack takes them$`,
  },
  { conf: { ...E, orig_dst: 'fd00::1', dst_nat: '10.0.0.1:80' }, re: `${FILE}dst_nat: an IPv4 address, but orig_dst is IPv6: .*$` },
  { conf: E, args: ['--mark', '0x1/0x'], re: `^--mark \\(mark\\): must be a mark VALUE or VALUE/MASK .*: value was "0x1/0x"$` },
  { conf: E, env: { CTLOGD_ZONE: '-3' }, re: `^CTLOGD_ZONE \\(zone\\): must be a zone .*: value was "-3"$` },
  // IPFIX.
  {
    conf: { ...E, output: 'ipfix' },
    re: `${FILE}ipfix_host: must be the collector's address or name when output is "ipfix" \\(set ipfix_host, CTLOGD_IPFIX_HOST or --ipfix-host\\): value was ""$`,
  },
  { conf: { ...E, ipfix_host: 'collector..example' }, re: `${FILE}ipfix_host: must be an IP address, or a host name .*: value was "collector..example"$` },
  { conf: { ...E, ipfix_port: 0 }, re: `${FILE}ipfix_port: must be an integer from 1 to 65535 .*: value was 0$` },
  { conf: { ...E, ipfix_protocol: 'sctp' }, re: `${FILE}ipfix_protocol: must be one of udp, tcp: value was "sctp"$` },
  { conf: { ...E, ipfix_domain_id: 4294967296 }, re: `${FILE}ipfix_domain_id: must be an integer from 0 to 4294967295 .*: value was 4294967296$` },
  { conf: { ...E, ipfix_nat_event: 'new' }, re: `${FILE}ipfix_nat_event: must be one of rfc8158, legacy: value was "new"$` },
  { conf: { ...E, ipfix_message_size: 100 }, re: `${FILE}ipfix_message_size: must be an integer from 512 to 65507 .*: value was 100$` },
  { conf: { ...E, ipfix_template_interval: 0 }, re: `${FILE}ipfix_template_interval: must be an integer from 1 to 86400 .*: value was 0$` },
  { conf: { ...E, output: 'store' }, re: `${FILE}store_dir: must be a directory path when output is "store" .*: value was ""$` },
  {
    conf: { event: { update: {} }, output: 'store', store_dir: '/s' },
    re: `${FILE}event: must name new or destroy when output is "store" .*: value was \\{"update":\\{\\}\\}$`,
  },
  {
    conf: { ...E, store_max_bytes: '20X' },
    re: `${FILE}store_max_bytes: must be a size in bytes: an integer, or digits followed by K, M, G or T .*: value was "20X"$`,
  },
  { conf: { ...E, store_max_bytes: -1 }, re: `${FILE}store_max_bytes: must be a size in bytes.*: value was -1$` },
  { conf: { ...E, store_keep_days: -1 }, re: `${FILE}store_keep_days: must be an integer from 0 to 36500 .*: value was -1$` },
  { conf: { ...E, store_connections: 'some' }, re: `${FILE}store_connections: must be one of nat, all: value was "some"$` },
  { conf: { ...E, store_sync_ms: 5 }, re: `${FILE}store_sync_ms: must be an integer from 10 to 60000 .*: value was 5$` },
  {
    conf: { event: { update: {} }, output: 'ipfix', ipfix_host: '127.0.0.1' },
    re: `${FILE}event: must name new or destroy when output is "ipfix" \\(the events with a record\\): value was \\{"update":\\{\\}\\}$`,
  },
  {
    conf: { ...E, syslog_tls_name: '*.example' },
    re: `${FILE}syslog_tls_name: must be an IP address, or a host name .*, or empty \\(a string\\): value was "\\*\\.example"$`,
  },
  { conf: { ...E, syslog_tls_ca: 7 }, re: `${FILE}syslog_tls_ca: must be a file path \\(a string of at most 4095 bytes, no NUL\\): value was 7$` },
  { conf: { ...E, syslog_tls_key: 'a\u0000b' }, re: `${FILE}syslog_tls_key: must be a file path .*: value was "a\\\\u0000b"$` },
  // A client certificate is both files or neither.
  {
    conf: { ...E, syslog_protocol: 'tls', syslog_tls_cert: '/etc/ctlogd/client.pem' },
    re: `${FILE}syslog_tls_key: must be set when syslog_tls_cert is \\(a client certificate needs both its certificate and its key, or neither\\): value was ""$`,
  },
  {
    conf: { ...E, syslog_tls_key: '/etc/ctlogd/client.key' },
    re: `${FILE}syslog_tls_cert: must be set when syslog_tls_key is \\(a client certificate needs both .*\\): value was ""$`,
  },
  {
    conf: { ...E, syslog_socket: '' },
    re: `${FILE}syslog_socket: must be a Unix socket path \\(a non-empty string of at most 107 bytes, no NUL\\): value was ""$`,
  },
  { conf: { ...E, syslog_tag: '' }, re: `${FILE}syslog_tag: must be 1 to 48 printable ASCII characters, no spaces .*: value was ""$` },
  { conf: { ...E, syslog_tag: 'my tag' }, re: `${FILE}syslog_tag: must be 1 to 48 printable ASCII characters, no spaces .*: value was "my tag"$` },
  { conf: { ...E, syslog_tag: 'x'.repeat(49) }, re: `${FILE}syslog_tag: must be 1 to 48 .*: value was "x{49}"$` },
  { conf: { ...E, syslog_tag: 'tag\u00e9' }, re: `${FILE}syslog_tag: must be 1 to 48 printable ASCII .*: value was "tag\u00e9"$` },
  // timestamp: {} as VyOS writes it.
  { conf: { ...E, timestamp: true }, re: `${FILE}timestamp: must be \\{\\} \\(or absent\\): value was true$` },
  { conf: { ...E, timestamp: '{}' }, re: `${FILE}timestamp: must be \\{\\} \\(or absent\\): value was "\\{\\}"$` },
  { conf: { ...E, timestamp: { enable: 1 } }, re: `${FILE}timestamp: must be \\{\\} \\(or absent\\): value was \\{"enable":1\\}$` },
  { conf: { ...E, timestamp: [] }, re: `${FILE}timestamp: must be \\{\\} \\(or absent\\): value was \\[\\]$` },
  { conf: { ...E, timestamp: null }, re: `${FILE}timestamp: must be \\{\\} \\(or absent\\): value was null$` },
  // event.
  { conf: {}, re: `${FILE}event: missing; ${EVENT_ALLOWED}$` },
  { conf: { queue_size: '10' }, re: `${FILE}event: missing; ${EVENT_ALLOWED}$` },
  { conf: { event: {} }, re: `${FILE}event: ${EVENT_ALLOWED}: value was \\{\\}$` },
  { conf: { event: [] }, re: `${FILE}event: ${EVENT_ALLOWED}: value was \\[\\]$` },
  { conf: { event: null }, re: `${FILE}event: ${EVENT_ALLOWED}: value was null$` },
  { conf: { event: '{"new": {}}' }, re: `${FILE}event: ${EVENT_ALLOWED}: value was "\\{\\\\"new\\\\": \\{\\}\\}"$` },
  { conf: { event: 'new' }, re: `${FILE}event: ${EVENT_ALLOWED}: value was "new"$` },
  { conf: { event: { create: {} } }, re: `${FILE}event: unknown event type "create"; allowed: new, update, destroy: value was \\{"create":\\{\\}\\}$` },
  { conf: { event: { New: {} } }, re: `${FILE}event: unknown event type "New"; allowed: new, update, destroy: value was` },
  {
    conf: `{"event": {"__proto__": {}}}`,
    re: `${FILE}event: unknown event type "__proto__"; allowed: new, update, destroy: value was \\{"__proto__":\\{\\}\\}$`,
  },
  { conf: { event: { new: { sctp: {} } } }, re: `${FILE}event.new: unknown protocol "sctp"; allowed: tcp, udp, icmp, other: value was \\{"sctp":\\{\\}\\}$` },
  { conf: { event: { new: { icmpv6: {} } } }, re: `${FILE}event.new: unknown protocol "icmpv6"; allowed: tcp, udp, icmp, other: value was` },
  { conf: { event: { new: { tcp: { x: 1 } } } }, re: `${FILE}event.new.tcp: must be \\{\\}: value was \\{"x":1\\}$` },
  { conf: { event: { destroy: { udp: true } } }, re: `${FILE}event.destroy.udp: must be \\{\\}: value was true$` },
  { conf: { event: { new: { tcp: [] } } }, re: `${FILE}event.new.tcp: must be \\{\\}: value was \\[\\]$` },
  {
    conf: { event: { new: true } },
    re: `${FILE}event.new: must be \\{\\} for every protocol, or an object of the protocols to keep \\(tcp, udp, icmp, other\\), each \\{\\}: value was true$`,
  },
  { conf: { event: { new: null } }, re: `${FILE}event.new: must be \\{\\} for every protocol, .*: value was null$` },
  { conf: { event: { new: ['tcp'] } }, re: `${FILE}event.new: must be \\{\\} for every protocol, .*: value was \\["tcp"\\]$` },
  { conf: { event: { update: 'tcp' } }, re: `${FILE}event.update: must be \\{\\} for every protocol, .*: value was "tcp"$` },
  // Unknown keys.
  {
    conf: { ...E, colour: 'red' },
    re: `${FILE}colour: unknown key; allowed: event, queue_size, log_level, timestamp, receive_buffer, reliable, stats_interval, netns, metrics_listen, outputs, output, format, conntrack_options, .*, orig_src, orig_dst, reply_src, reply_dst, proto, sport, dport, mark, zone, status, src_nat, dst_nat, any_nat: value was "red"$`,
  },
  { conf: { ...E, 'queue-size': '10' }, re: `${FILE}queue-size: unknown key; allowed: event, queue_size, .*: value was "10"$` },
  { conf: { ...E, Format: 'json' }, re: `${FILE}Format: unknown key; allowed: .*: value was "json"$` },
  { conf: { ...E, syslog: { host: 'x' } }, re: `${FILE}syslog: unknown key; allowed: .*: value was \\{"host":"x"\\}$` },
  { conf: `{"event": {"new": {}}, "__proto__": {"queue_size": 1}}`, re: `${FILE}__proto__: unknown key; allowed: .*: value was \\{"queue_size":1\\}$` },
  // Not an object, not JSON, empty.
  { conf: [E], re: `${FILE}must be a JSON object with the keys event, queue_size, .*: value was \\[\\{"event":\\{"new":\\{\\}\\}\\}\\]$` },
  { conf: '"event"', re: `${FILE}must be a JSON object with the keys .*: value was "event"$` },
  { conf: 'null', re: `${FILE}must be a JSON object with the keys .*: value was null$` },
  { conf: '42', re: `${FILE}must be a JSON object with the keys .*: value was 42$` },
  // Not JSON: ctlogd's own words, the same on every Node version (V8's are not).
  {
    conf: '{\n    "event": {\n        "new": {},\n    }\n}\n',
    re: `${FILE}not valid JSON at line 4, column 5: unexpected '\\}'; expected a double-quoted property name$`,
  },
  { conf: '{\n  "event": {"new": tru}\n}', re: `${FILE}not valid JSON at line 2, column 23: unexpected '\\}'; expected true$` },
  { conf: '{"event": {"new": {}}, "queue_size": [1,]}', re: `${FILE}not valid JSON at line 1, column 41: unexpected '\\]'; expected a value$` },
  { conf: "{'event': {}}", re: `${FILE}not valid JSON at line 1, column 2: unexpected "'"; expected a double-quoted property name or '\\}'$` },
  {
    conf: '{\n  “event”: {"new": {}}\n}',
    re: `${FILE}not valid JSON at line 2, column 3: unexpected '“' \\(U\\+201C\\); expected a double-quoted property name or '\\}'$`,
  },
  { conf: '{"event": {"new": {}}', re: `${FILE}not valid JSON at line 1, column 22: unexpected end of file; expected ',' or '\\}' after a property value$` },
  { conf: '{"event": {"new": {}}} {}', re: `${FILE}not valid JSON at line 1, column 24: unexpected '\\{'; expected the end of the file after the JSON value$` },
  {
    conf: '{"event": {"new": {}}, "syslog_tag": "a\nb"}',
    re: `${FILE}not valid JSON at line 1, column 40: control character U\\+000A in a string; must be written as \\\\n$`,
  },
  {
    conf: '{"event": {"new": {}}, "syslog_tag": "a\\qb"}',
    re: `${FILE}not valid JSON at line 1, column 41: unexpected 'q'; expected an escape: \\\\" \\\\\\\\ .* or \\\\u and 4 hex digits$`,
  },
  {
    conf: '{"event": {"new": {}}, "syslog_tag": "ab',
    re: `${FILE}not valid JSON at line 1, column 41: unexpected end of file; expected '"' closing the string$`,
  },
  { conf: '{"event": {"new": {}}, "queue_size": 1.}', re: `${FILE}not valid JSON at line 1, column 40: unexpected '\\}'; expected a digit after '\\.'$` },
  // Deeper than any stack: refused at the 65th level, before any recursion could overflow.
  {
    conf: `{"event": ${'['.repeat(100000)}`,
    re: `${FILE}nested too deep at line 1, column 74: objects and arrays more than 64 deep; at most 64 are allowed \\(a VyOS config is 4 deep\\)$`,
  },
  // A key given twice: JSON.parse would keep the last silently.
  {
    conf: '{"event": {"new": {}}, "format": "json", "format": "vyos"}',
    re: `${FILE}format: given twice \\(again at line 1, column 42\\); a key may appear only once$`,
  },
  { conf: '{"event": {"new": {}},\n "event": {"destroy": {}}}', re: `${FILE}event: given twice \\(again at line 2, column 2\\); a key may appear only once$` },
  {
    conf: '{"event": {"new": {"tcp": {}, "udp": {}, "tcp": {}}}}',
    re: `${FILE}event\\.new\\.tcp: given twice \\(again at line 1, column 42\\); a key may appear only once$`,
  },
  {
    conf: '{"event": {"new": {}}, "conntrack_options": [{}, {"a": 1, "a": 2}]}',
    re: `${FILE}conntrack_options\\[1\\]\\.a: given twice \\(again at line 1, column 59\\); a key may appear only once$`,
  },
  // Escapes are decoded before keys are compared.
  { conf: '{"event": {"new": {}}, "\\u0065vent": {}}', re: `${FILE}event: given twice \\(again at line 1, column 24\\); a key may appear only once$` },
  // Bytes that are not UTF-8: refused where they are, never replaced by U+FFFD.
  {
    conf: Buffer.from('{"event": {"new": {}}, "output": "file", "output_file": "/tmp/x\xff.log"}', 'latin1'),
    re: `${FILE}not UTF-8: byte 0xff at offset 63 \\(line 1\\); a config is UTF-8 text$`,
  },
  // An overlong '/', a UTF-16 surrogate, a sequence cut short by the end.
  { conf: Buffer.from('{"event":\n{"\xc0\xaf": {}}}', 'latin1'), re: `${FILE}not UTF-8: byte 0xc0 at offset 12 \\(line 2\\); a config is UTF-8 text$` },
  { conf: Buffer.from('{"event": "\xed\xa0\x80"}', 'latin1'), re: `${FILE}not UTF-8: byte 0xed at offset 11 \\(line 1\\); a config is UTF-8 text$` },
  { conf: Buffer.from('{"event": {}} \xe2\x82', 'latin1'), re: `${FILE}not UTF-8: byte 0xe2 at offset 14 \\(line 1\\); a config is UTF-8 text$` },
  // Every echoed value is cut to 60 characters and its size.
  { conf: { ...E, syslog_tag: 't'.repeat(100000) }, re: `${FILE}syslog_tag: must be 1 to 48 .*: value was "t{59}…\\(100002 bytes\\)$` },
  { conf: { ...E, ['k'.repeat(100000)]: 1 }, re: `${FILE}k{60}…\\(100000 bytes\\): unknown key; allowed: .*: value was 1$` },
  {
    conf: { event: { ['n'.repeat(100000)]: {} } },
    re: `${FILE}event: unknown event type "n{59}…\\(100002 bytes\\); allowed: new, update, destroy: value was \\{"n{58}…\\(100007 bytes\\)$`,
  },
  {
    conf: `{"event": {"new": {}}, "${'d'.repeat(100000)}": 1, "${'d'.repeat(100000)}": 2}`,
    re: `${FILE}d{60}…\\(100000 bytes\\): given twice \\(again at line 1, column 100031\\)`,
  },
  {
    conf: E,
    args: ['--format', 'f'.repeat(100000)],
    re: `^--format \\(format\\): must be one of vyos, conntrack, json, ecs: value was "f{59}…\\(100002 bytes\\)$`,
  },
  { conf: E, flags: { ['x'.repeat(100000)]: '1' }, re: `^--x{58}…\\(100002 bytes\\): unknown flag; allowed: ` },
  // Host names (RFC 1123) and IP addresses; paths the kernel can take.
  { conf: { ...E, syslog_host: 'h'.repeat(100000) }, re: `${FILE}syslog_host: must be an IP address, or a host name .*: value was "h{59}…\\(100002 bytes\\)$` },
  ...[
    '-log.example',
    'log-.example',
    'log..example',
    'log_host',
    'log.example.',
    `${'a'.repeat(64)}.example`,
    `${'a.'.repeat(126)}ab`,
    '10.0.0.256',
    'l\u00f6g.example',
  ].map((host) => ({
    conf: { ...E, syslog_host: host },
    re: `${FILE}syslog_host: must be an IP address, or a host name \\(RFC 1123: .*\\), or empty \\(a string\\): value was "`,
  })),
  { conf: E, args: ['--syslog-host', 'log host'], re: `^--syslog-host \\(syslog_host\\): must be an IP address, or a host name .*: value was "log host"$` },
  {
    conf: { ...E, output_file: `/${'p'.repeat(4095)}` },
    re: `${FILE}output_file: must be a file path \\(a string of at most 4095 bytes, no NUL\\): value was "/p{58}…\\(4098 bytes\\)$`,
  },
  {
    conf: { ...E, output_file: '/tmp/a\u0000b' },
    re: `${FILE}output_file: must be a file path \\(a string of at most 4095 bytes, no NUL\\): value was "/tmp/a\\\\u0000b"$`,
  },
  {
    conf: { ...E, syslog_socket: `/${'s'.repeat(107)}` },
    re: `${FILE}syslog_socket: must be a Unix socket path \\(a non-empty string of at most 107 bytes, no NUL\\): value was`,
  },
  // What Node made of bytes in argv or the environment that are not UTF-8.
  {
    conf: E,
    args: ['--output', 'file', '--output-file', '/tmp/x\ufffd.log'],
    re: `^--output-file \\(output_file\\): not UTF-8: a byte the system could not decode \\(shown as U\\+FFFD\\); name it in UTF-8: value was "/tmp/x\ufffd\\.log"$`,
  },
  {
    conf: E,
    env: { CTLOGD_SYSLOG_TAG: 'tag\ufffd' },
    re: `^CTLOGD_SYSLOG_TAG \\(syslog_tag\\): not UTF-8: a byte the system could not decode .*: value was "tag\ufffd"$`,
  },
  { conf: '', re: `${FILE}is empty; a JSON object is expected` },
  { conf: ' \n\t\n', re: `${FILE}is empty; a JSON object is expected` },
  // The environment: the variable and the key are named.
  { conf: E, env: { CTLOGD_QUEUE_SIZE: 'abc' }, re: `^CTLOGD_QUEUE_SIZE \\(queue_size\\): ${INT(1, 2147483647)}: value was "abc"$` },
  { conf: E, env: { CTLOGD_QUEUE_SIZE: '' }, re: `^CTLOGD_QUEUE_SIZE \\(queue_size\\): ${INT(1, 2147483647)}: value was ""$` },
  { conf: E, env: { CTLOGD_QUEUE_SIZE: '1e3' }, re: `^CTLOGD_QUEUE_SIZE \\(queue_size\\): ${INT(1, 2147483647)}: value was "1e3"$` },
  { conf: E, env: { CTLOGD_RECEIVE_BUFFER: '64k' }, re: `^CTLOGD_RECEIVE_BUFFER \\(receive_buffer\\): ${INT(65536, 2147483647)}: value was "64k"$` },
  { conf: E, env: { CTLOGD_RELIABLE: '0' }, re: `^CTLOGD_RELIABLE \\(reliable\\): must be true or false .*: value was "0"$` },
  { conf: E, env: { CTLOGD_RELIABLE: 'yes' }, re: `^CTLOGD_RELIABLE \\(reliable\\): must be true or false .*: value was "yes"$` },
  { conf: E, env: { CTLOGD_FORMAT: 'JSON' }, re: `^CTLOGD_FORMAT \\(format\\): must be one of vyos, conntrack, json, ecs: value was "JSON"$` },
  { conf: E, env: { CTLOGD_LOG_LEVEL: 'trace' }, re: `^CTLOGD_LOG_LEVEL \\(log_level\\): must be one of info, debug: value was "trace"$` },
  {
    conf: E,
    env: { CTLOGD_CONNTRACK_OPTIONS: 'extended;id' },
    re: `^CTLOGD_CONNTRACK_OPTIONS \\(conntrack_options\\): must be a list of .*: value was "extended;id"$`,
  },
  { conf: E, env: { CTLOGD_SYSLOG_TAG: 'a\nb' }, re: `^CTLOGD_SYSLOG_TAG \\(syslog_tag\\): must be 1 to 48 .*: value was "a\\\\nb"$` },
  { conf: E, env: { CTLOGD_SYSLOG_PORT: '70000' }, re: `^CTLOGD_SYSLOG_PORT \\(syslog_port\\): ${INT(0, 65535)}: value was "70000"$` },
  {
    conf: { ...E, syslog_tls_cert: '/c.pem', syslog_tls_key: '/k.pem' },
    env: { CTLOGD_SYSLOG_TLS_KEY: '' },
    re: `${FILE}syslog_tls_key: must be set when syslog_tls_cert is .*: value was ""$`,
  },
  { conf: E, env: { CTLOGD_OUTPUT: 'file' }, re: `${FILE}output_file: must be a file path when output is "file" .*: value was ""$` },
  // Flags: the flag and the key are named; values are taken as typed (no "1e3" = 1000).
  { conf: E, args: ['--queue-size', 'abc'], re: `^--queue-size \\(queue_size\\): ${INT(1, 2147483647)}: value was "abc"$` },
  { conf: E, args: ['--queue-size', '1e3'], re: `^--queue-size \\(queue_size\\): ${INT(1, 2147483647)}: value was "1e3"$` },
  { conf: E, args: ['--queue-size', '0x10'], re: `^--queue-size \\(queue_size\\): ${INT(1, 2147483647)}: value was "0x10"$` },
  { conf: E, args: ['--queue-size', '1.0'], re: `^--queue-size \\(queue_size\\): ${INT(1, 2147483647)}: value was "1.0"$` },
  { conf: E, args: ['--stats-interval=-1'], re: `^--stats-interval \\(stats_interval\\): ${INT(0, 86400)}: value was "-1"$` },
  { conf: E, args: ['--format', 'xml'], re: `^--format \\(format\\): must be one of vyos, conntrack, json, ecs: value was "xml"$` },
  { conf: E, flags: { reliable: 'yes' }, re: `^--reliable \\(reliable\\): must be true or false .*: value was "yes"$` },
  { conf: E, args: ['--syslog-tag', 'a b'], re: `^--syslog-tag \\(syslog_tag\\): must be 1 to 48 .*: value was "a b"$` },
  { conf: E, args: ['--conntrack-options', 'extended,x'], re: `^--conntrack-options \\(conntrack_options\\): must be a list of .*: value was "extended,x"$` },
  { conf: E, args: ['--output', 'file'], re: `${FILE}output_file: must be a file path when output is "file" .*: value was ""$` },
  {
    conf: E,
    flags: { frobnicate: '1' },
    re: `^--frobnicate: unknown flag; allowed: --queue-size, .*--stats-interval, --netns, --metrics-listen, --output, --format, .*, --orig-src, .*, --any-nat$`,
  },
  // A bad value is refused even when a later layer overrides it.
  { conf: { ...E, queue_size: 'abc' }, env: { CTLOGD_QUEUE_SIZE: '10' }, re: `${FILE}queue_size: ${INT(1, 2147483647)}: value was "abc"$` },
  {
    conf: E,
    env: { CTLOGD_FORMAT: 'xml' },
    args: ['--format', 'json'],
    re: `^CTLOGD_FORMAT \\(format\\): must be one of vyos, conntrack, json, ecs: value was "xml"$`,
  },
];

test(`a catalogue of ${catalogue.length} bad configs: one line each, naming where, the key, what is allowed and the value`, () => {
  assert.ok(catalogue.length >= 30);
  for (const bad of catalogue) {
    const f = file(bad.conf);
    const msg = refusal({ path: f, env: bad.env, args: bad.args, flags: bad.flags });
    const input = JSON.stringify({ conf: bad.conf, env: bad.env, args: bad.args, flags: bad.flags });
    assert.doesNotMatch(msg, /[\n\r]/, `${input}: more than one line: ${msg}`);
    assert.match(msg, new RegExp(bad.re), input);
    // The file is named whenever the problem is in it.
    if (bad.re.startsWith(FILE)) assert.ok(msg.startsWith(`config ${f}: `), msg);
    // convict's own wording never leaks out.
    assert.doesNotMatch(msg, /must be of type|possible values|configuration param|not declared in the schema/, msg);
  }
});

test('files that cannot be read: missing, a directory, not a directory on the way, a control character in the path', () => {
  assert.match(refusal({ path: path.join(dir, 'nope.json') }), /^config \S+nope\.json: cannot read: no such file; a JSON file is expected$/);
  const sub = path.join(dir, 'a-directory.json');
  mkdirSync(sub);
  assert.match(refusal({ path: sub }), /^config \S+a-directory\.json: not a regular file \(a directory\); a config is a JSON file$/);
  assert.match(refusal({ path: path.join(file(E), 'x') }), /: cannot read: a component of the path is not a directory; a JSON file is expected$/);
  assert.match(refusal({ path: '' }), /^config : cannot read: no such file; a JSON file is expected$/);
  const msg = refusal({ path: path.join(dir, 'new\nline.json') });
  assert.match(msg, /^config \S+new\\x0aline\.json: cannot read: no such file/);
  assert.doesNotMatch(msg, /\n/);
});

/** A FIFO with nobody at the other end: opening it for reading blocks unless O_NONBLOCK. */
function fifo(): string {
  const f = path.join(dir, `fifo${++seq}.json`);
  execFileSync('mkfifo', [f]);
  return f;
}

test('what is not a config is refused before it is read: a FIFO, /dev/zero, a directory, a file over the size limit', async () => {
  const notRegular = (what: string) => new RegExp(`^config \\S+: not a regular file \\(${what}\\); a config is a JSON file$`);
  assert.match(refusal({ path: '/dev/zero' }), notRegular('a character device'));
  assert.match(refusal({ path: fifo() }), notRegular('a FIFO'));
  assert.match(refusal({ path: dir }), notRegular('a directory'));
  // A symbolic link is followed: what counts is what it names.
  const link = path.join(dir, `link${++seq}.json`);
  symlinkSync('/dev/zero', link);
  assert.match(refusal({ path: link }), notRegular('a character device'));
  // The reload's reader: the same refusals, without waiting for a writer.
  for (const [p, what] of [
    [fifo(), 'a FIFO'],
    ['/dev/zero', 'a character device'],
  ]) {
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error(`${p}: still reading after 5 s`)), 5000).unref());
    await assert.rejects(
      Promise.race([loadConfigAsync({ path: p, env: {} }), timeout]),
      (e: Error) => e instanceof ConfigError && notRegular(what).test(e.message),
    );
  }
  // The limit: a file of exactly MAX_CONFIG_BYTES is read, one byte more is not.
  const json = JSON.stringify(E);
  const at = (size: number) => file(json + ' '.repeat(size - json.length));
  assert.equal(MAX_CONFIG_BYTES, 1048576);
  assert.deepEqual(loadConfig({ path: at(MAX_CONFIG_BYTES), env: {} }).event, E.event);
  assert.match(refusal({ path: at(MAX_CONFIG_BYTES + 1) }), /^config \S+: too big: 1048577 bytes; a config is at most 1048576 bytes \(1 MiB\)$/);
  await assert.rejects(loadConfigAsync({ path: at(10 * 1024 * 1024), env: {} }), /: too big: 10485760 bytes; a config is at most 1048576 bytes \(1 MiB\)$/);
});

test('nesting: 64 levels are parsed (and refused by the schema), 65 are not parsed at all', () => {
  const nested = (levels: number) => `{"event": {"new": {}}, "queue_size": ${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}}`;
  assert.match(refusal({ path: file(nested(64)) }), /: queue_size: must be an integer from 1 to 2147483647 .*: value was \[\[\[/);
  assert.match(refusal({ path: file(nested(65)) }), /: nested too deep at line 1, column 101: objects and arrays more than 64 deep; at most 64 are allowed/);
});

test('a -c path or a file name: cut in the line, and refused when Node could not decode it', () => {
  const long = path.join(dir, `${'n'.repeat(100000)}.json`);
  assert.match(refusal({ path: long }), /^config \/\S{59}…\(\d+ bytes\): cannot read: the path is too long; a JSON file is expected$/);
  assert.match(
    refusal({ path: path.join(dir, 'x\ufffd.json') }),
    /^config \S+x\ufffd\.json: not UTF-8: a byte the system could not decode \(shown as U\+FFFD\); name it in UTF-8: value was ".*x\ufffd\.json"$/,
  );
});

// ----- the real CLI -----

/** Without the caller's CTLOGD_* variables, plus `extra`. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CTLOGD_')));
  return { ...env, ...extra };
}

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CTLOGD, ...args], { encoding: 'utf8', timeout: 10000, env: cleanEnv(env) });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('the command loads node:crypto and node:tls only for a configuration that uses them (src/on-demand.ts)', () => {
  // Every module of the bundle runs when it loads, whatever the arguments.
  const hook = path.join(mkdtempSync(path.join(tmpdir(), 'ctlogd-modules-')), 'hook.cjs');
  writeFileSync(hook, "process.on('exit', () => process.stderr.write(JSON.stringify(process.moduleLoadList)));\n");
  const r = spawnSync(process.execPath, ['--require', hook, CTLOGD, '--version'], { encoding: 'utf8', timeout: 10000, env: cleanEnv() });
  rmSync(path.dirname(hook), { recursive: true });
  assert.equal(r.status, 0, r.stderr);
  const loaded = JSON.parse(r.stderr) as string[];
  assert.ok(loaded.includes('NativeModule net'), 'the list names the modules loaded');
  for (const m of ['NativeModule crypto', 'NativeModule tls']) assert.ok(!loaded.includes(m), m);
});

function assertCliRefuses(r: ReturnType<typeof cli>, re: RegExp): void {
  assert.equal(r.code, 78, r.err);
  assert.equal(r.out, '');
  assert.match(r.err, /^ctlogd: [^\n]*\n$/, `not exactly one line: ${JSON.stringify(r.err)}`);
  assert.match(r.err.trimEnd(), re);
}

test('the CLI: exit 78, one line on stderr, nothing on stdout', () => {
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [['-c', file({ ...E, queue_size: 'abc' })], {}, /^ctlogd: config \S+: queue_size: must be an integer from 1 to 2147483647 .*: value was "abc"$/],
    [['-c', file({ event: [] })], {}, /^ctlogd: config \S+: event: must be an object naming at least one event type .*: value was \[\]$/],
    [['-c', file({ event: { new: { tcp: { x: 1 } } } })], {}, /^ctlogd: config \S+: event\.new\.tcp: must be \{\}: value was \{"x":1\}$/],
    [['-c', file({ ...E, colour: 'red' })], {}, /^ctlogd: config \S+: colour: unknown key; allowed: event, .*: value was "red"$/],
    [
      ['-c', file('{\n  "event": {"new": {}},\n}\n')],
      {},
      /^ctlogd: config \S+: not valid JSON at line 3, column 1: unexpected '\}'; expected a double-quoted property name$/,
    ],
    [['-c', file('')], {}, /^ctlogd: config \S+: is empty; a JSON object is expected/],
    [['-c', file('[]')], {}, /^ctlogd: config \S+: must be a JSON object with the keys .*: value was \[\]$/],
    [['-c', path.join(dir, 'missing.json')], {}, /^ctlogd: config \S+missing\.json: cannot read: no such file; a JSON file is expected$/],
    [['-c', dir], {}, /^ctlogd: config \S+: not a regular file \(a directory\); a config is a JSON file$/],
    [['-c', file(E)], { CTLOGD_QUEUE_SIZE: 'abc' }, /^ctlogd: CTLOGD_QUEUE_SIZE \(queue_size\): must be an integer from 1 to 2147483647 .*: value was "abc"$/],
    [['-c', file(E)], { CTLOGD_RELIABLE: 'no' }, /^ctlogd: CTLOGD_RELIABLE \(reliable\): must be true or false .*: value was "no"$/],
    [['-c', file(E), '--queue-size', 'abc'], {}, /^ctlogd: --queue-size \(queue_size\): must be an integer from 1 to 2147483647 .*: value was "abc"$/],
    [['--format', 'xml'], {}, /^ctlogd: --format \(format\): must be one of vyos, conntrack, json, ecs: value was "xml"$/],
    [['-c', file(E), '--syslog-port', '65536'], {}, /^ctlogd: --syslog-port \(syslog_port\): must be an integer from 0 to 65535 .*: value was "65536"$/],
    [['-c', file(E), '--syslog-tls-cert', '/c.pem'], {}, /^ctlogd: config \S+: syslog_tls_key: must be set when syslog_tls_cert is .*: value was ""$/],
  ];
  for (const [args, env, re] of cases) assertCliRefuses(cli(args, env), re);
});

test('the CLI on what is not a config: /dev/zero, a FIFO, JSON nested 5,000 deep, a file over the size limit: exit 78, one line, no stack', () => {
  const deep = file(`{"event": ${'['.repeat(5000)}${']'.repeat(5000)}}`);
  const cases: Array<[string, RegExp]> = [
    ['/dev/zero', /^ctlogd: config \/dev\/zero: not a regular file \(a character device\); a config is a JSON file$/],
    [fifo(), /^ctlogd: config \S+: not a regular file \(a FIFO\); a config is a JSON file$/],
    [
      deep,
      /^ctlogd: config \S+: nested too deep at line 1, column 74: objects and arrays more than 64 deep; at most 64 are allowed \(a VyOS config is 4 deep\)$/,
    ],
    [file(Buffer.alloc(MAX_CONFIG_BYTES + 1, ' ')), /^ctlogd: config \S+: too big: 1048577 bytes; a config is at most 1048576 bytes \(1 MiB\)$/],
  ];
  for (const [conf, re] of cases) {
    const r = cli(['-c', conf]);
    assertCliRefuses(r, re);
    assert.doesNotMatch(r.err, /RangeError|internal error|^\s+at /m);
  }
});

test('the CLI on bytes that are not UTF-8 in output_file: refused, exit 78, and no file made of other bytes', () => {
  const target = path.join(dir, `out${++seq}`);
  const conf = file(
    Buffer.concat([Buffer.from(`{"event": {"new": {}}, "output": "file", "output_file": "${target}`), Buffer.from([0xff]), Buffer.from('.log"}')]),
  );
  assertCliRefuses(cli(['-c', conf]), /^ctlogd: config \S+: not UTF-8: byte 0xff at offset \d+ \(line 1\); a config is UTF-8 text$/);
  // From the command line: Node makes U+FFFD of the byte.
  const r = spawnSync(
    process.execPath,
    [CTLOGD, '--output', 'file', '--output-file', Buffer.concat([Buffer.from(target), Buffer.from([0xff, 0x2e, 0x6c, 0x6f, 0x67])]) as unknown as string],
    {
      encoding: 'utf8',
      timeout: 10000,
      env: cleanEnv(),
    },
  );
  assertCliRefuses({ code: r.status, out: r.stdout, err: r.stderr }, /^ctlogd: --output-file \(output_file\): not UTF-8: a byte the system could not decode/);
  assert.deepEqual(
    readdirSync(dir).filter((n) => n.startsWith(path.basename(target))),
    [],
    'no file opened under another name',
  );
});

// ----- accepted -----

const DEFAULTS: Omit<Config, 'event'> = {
  queue_size: 8192,
  log_level: 'info',
  timestamp: false,
  format: 'vyos',
  conntrack_options: [],
  receive_buffer: 268435456,
  reliable: false,
  output: 'stdout',
  output_file: '',
  syslog_host: '',
  syslog_port: 514,
  syslog_protocol: 'udp',
  syslog_tls_ca: '',
  syslog_tls_cert: '',
  syslog_tls_key: '',
  syslog_tls_name: '',
  syslog_socket: '/dev/log',
  syslog_facility: 'daemon',
  syslog_tag: 'ctlogd',
  ipfix_host: '',
  ipfix_port: 4739,
  ipfix_protocol: 'udp',
  ipfix_domain_id: 0,
  ipfix_nat_event: 'rfc8158',
  ipfix_message_size: 1400,
  ipfix_template_interval: 10,
  store_dir: '',
  store_connections: 'nat',
  store_keep_days: 0,
  store_max_bytes: 0,
  store_sync_ms: 1000,
  store_snapshot_interval: 3600,
  stats_interval: 0,
  netns: '',
  metrics_listen: '',
  orig_src: undefined,
  orig_dst: undefined,
  reply_src: undefined,
  reply_dst: undefined,
  proto: undefined,
  sport: undefined,
  dport: undefined,
  mark: undefined,
  zone: undefined,
  status: undefined,
  src_nat: undefined,
  dst_nat: undefined,
  any_nat: undefined,
};

test('VyOS files are accepted unchanged', () => {
  const cases: Array<[string, Config]> = [
    // SPEC §2.1, as VyOS writes it.
    [
      '{\n    "event": {\n        "destroy": {},\n        "new": {\n            "tcp": {},\n            "udp": {}\n        }\n    },\n' +
        '    "log_level": "debug",\n    "queue_size": "10000",\n    "timestamp": {}\n}\n',
      { ...DEFAULTS, event: { destroy: {}, new: { tcp: {}, udp: {} } }, log_level: 'debug', queue_size: 10000, timestamp: true },
    ],
    ['{"event":{"update":{"other":{}}},"queue_size":"1"}', { ...DEFAULTS, event: { update: { other: {} } }, queue_size: 1 }],
    ['{"event": {"new": {}, "update": {}, "destroy": {}}}', { ...DEFAULTS, event: { new: {}, update: {}, destroy: {} } }],
    [
      '{"event": {"destroy": {"icmp": {}, "other": {}, "tcp": {}, "udp": {}}}, "log_level": "info", "queue_size": "2147483647"}',
      { ...DEFAULTS, event: { destroy: { icmp: {}, other: {}, tcp: {}, udp: {} } }, queue_size: 2147483647 },
    ],
    [
      '{"event": {"new": {"icmp": {}}, "destroy": {"icmp": {}}}, "timestamp": {}}',
      { ...DEFAULTS, event: { new: { icmp: {} }, destroy: { icmp: {} } }, timestamp: true },
    ],
    // Numbers as numbers too, and ctlogd's own keys beside VyOS's.
    [
      '{"event": {"new": {}}, "queue_size": 500, "format": "json", "output": "file", "output_file": "/var/log/ctlogd/events.log", "reliable": true, ' +
        '"receive_buffer": "65536", "conntrack_options": "extended,id", "syslog_port": "1514", "stats_interval": "60"}',
      {
        ...DEFAULTS,
        event: { new: {} },
        queue_size: 500,
        format: 'json',
        output: 'file',
        output_file: '/var/log/ctlogd/events.log',
        reliable: true,
        receive_buffer: 65536,
        conntrack_options: ['extended', 'id'],
        syslog_port: 1514,
        stats_interval: 60,
      },
    ],
    // A byte-order mark some editors add.
    ['\ufeff{"event": {"destroy": {}}}', { ...DEFAULTS, event: { destroy: {} } }],
  ];
  for (const [text, want] of cases) assert.deepEqual(loadConfig({ path: file(text), env: {} }), want, text);
  // Without --config: every event type and protocol.
  assert.deepEqual(loadConfig({ env: {} }), { ...DEFAULTS, event: { new: {}, update: {}, destroy: {} } });
});

test("netns: a name is the one `ip netns` made, a path is a path, empty is ctlogd's own", () => {
  const nsFile = (v: string) => netnsPath(loadConfig({ path: file({ ...E, netns: v }), env: {} }).netns);
  assert.equal(nsFile('router'), '/run/netns/router');
  assert.equal(nsFile('/proc/1/ns/net'), '/proc/1/ns/net');
  assert.equal(nsFile(''), undefined);
});

test('metrics_listen: an IPv4 or IPv6 address, localhost or every address, with a port; as parseListen reads it', () => {
  const at = (v: string) => parseListen(loadConfig({ path: file({ ...E, metrics_listen: v }), env: {} }).metrics_listen);
  assert.deepEqual(at('127.0.0.1:9465'), { host: '127.0.0.1', port: 9465 });
  assert.deepEqual(at('[::1]:1'), { host: '::1', port: 1 });
  assert.deepEqual(at('localhost:9465'), { host: 'localhost', port: 9465 });
  assert.deepEqual(at(':9465'), { port: 9465 }, 'every address');
  assert.equal(at(''), undefined, 'off');
  assert.equal(loadConfig({ path: file(E), env: { CTLOGD_METRICS_LISTEN: '127.0.0.1:9100' } }).metrics_listen, '127.0.0.1:9100');
});

test("syslog_port: absent or 0 is the protocol's own port, 514 for udp and tcp, 6514 for tls; a port given is kept", () => {
  const port = (conf: object, env: NodeJS.ProcessEnv = {}, flags = {}) => loadConfig({ path: file({ ...E, ...conf }), env, flags }).syslog_port;
  assert.equal(port({}), 514);
  assert.equal(port({ syslog_protocol: 'udp' }), 514);
  assert.equal(port({ syslog_protocol: 'tcp' }), 514);
  assert.equal(port({ syslog_protocol: 'tls' }), 6514);
  assert.equal(port({ syslog_protocol: 'tls', syslog_port: 0 }), 6514);
  assert.equal(port({ syslog_protocol: 'tls', syslog_port: '0' }), 6514);
  assert.equal(port({ syslog_protocol: 'tls', syslog_port: 514 }), 514, 'a port given is the port, whatever the protocol');
  assert.equal(port({ syslog_protocol: 'udp', syslog_port: 6514 }), 6514);
  // The protocol set later, by a variable or a flag, still decides the default.
  assert.equal(port({}, { CTLOGD_SYSLOG_PROTOCOL: 'tls' }), 6514);
  assert.equal(port({ syslog_protocol: 'tls' }, {}, { 'syslog-protocol': 'tcp' }), 514);
  // 0 from a variable turns a file's port back into the protocol's.
  assert.equal(port({ syslog_protocol: 'tls', syslog_port: 1514 }, { CTLOGD_SYSLOG_PORT: '0' }), 6514);
});

test('syslog_tls_cert and syslog_tls_key: both or neither, from any layer', () => {
  const load = (conf: object, env: NodeJS.ProcessEnv = {}, flags = {}) => loadConfig({ path: file({ ...E, syslog_protocol: 'tls', ...conf }), env, flags });
  assert.deepEqual([load({}).syslog_tls_cert, load({}).syslog_tls_key], ['', '']);
  const both = load({ syslog_tls_cert: '/etc/c.pem', syslog_tls_key: '/etc/k.pem' });
  assert.deepEqual([both.syslog_tls_cert, both.syslog_tls_key], ['/etc/c.pem', '/etc/k.pem']);
  const split = load({ syslog_tls_cert: '/etc/c.pem' }, { CTLOGD_SYSLOG_TLS_KEY: '/etc/k.pem' });
  assert.deepEqual([split.syslog_tls_cert, split.syslog_tls_key], ['/etc/c.pem', '/etc/k.pem'], 'the two may come from different layers');
  const refused = (conf: object, env: NodeJS.ProcessEnv, flags: object, re: RegExp) =>
    assert.throws(
      () => load(conf, env, flags),
      (e: unknown) => e instanceof ConfigError && e.exitCode === 78 && re.test(e.message) && !e.message.includes('\n'),
    );
  refused({ syslog_tls_key: '/etc/k.pem' }, {}, {}, /: syslog_tls_cert: must be set when syslog_tls_key is /);
  refused({}, { CTLOGD_SYSLOG_TLS_CERT: '/etc/c.pem' }, {}, /: syslog_tls_key: must be set when syslog_tls_cert is /);
  refused(
    { syslog_tls_cert: '/etc/c.pem', syslog_tls_key: '/etc/k.pem' },
    {},
    { 'syslog-tls-cert': '' },
    /: syslog_tls_cert: must be set when syslog_tls_key is /,
  );
});

test('syslog_host: IP addresses and RFC 1123 host names are accepted', () => {
  for (const host of [
    '',
    'log',
    'log.example',
    'LOG-1.example.org',
    '1log.example',
    'a'.repeat(63),
    `${'a.'.repeat(126)}a`,
    '192.0.2.1',
    '::1',
    '2001:db8::514',
  ]) {
    assert.equal(loadConfig({ path: file({ ...E, syslog_host: host }), env: {} }).syslog_host, host);
  }
});

test('every combination of event types and protocols is accepted as written', () => {
  const protos = ['tcp', 'udp', 'icmp', 'other'];
  // Per type: absent, {} (every protocol), or one of the 15 non-empty protocol sets.
  const choices: Array<Record<string, object> | undefined> = [undefined, {}];
  for (let m = 1; m < 16; m++) choices.push(Object.fromEntries(protos.filter((_, i) => m & (1 << i)).map((p) => [p, {}])));
  let n = 0;
  for (const nw of choices) {
    for (const up of choices) {
      for (const de of choices) {
        const event = Object.fromEntries(Object.entries({ new: nw, update: up, destroy: de }).filter(([, v]) => v !== undefined));
        if (Object.keys(event).length === 0) continue;
        const c = loadConfig({ path: file({ event, queue_size: '10000', timestamp: {} }), env: {} });
        assert.deepEqual(c.event, event);
        n++;
      }
    }
  }
  assert.equal(n, 17 ** 3 - 1);
});

// ----- precedence -----

/** Per key with a variable and a flag: a file value, an env value, a flag value, and how Config shows each. */
/** Each key set in each layer; `with`: what the file needs beside it. */
const LAYERS: Record<string, { values: [unknown, string, string]; want: [unknown, unknown, unknown]; get: (c: Config) => unknown; with?: object }> = {
  queue_size: { values: ['10', '20', '30'], want: [10, 20, 30], get: (c) => c.queue_size },
  log_level: { values: ['debug', 'info', 'debug'], want: ['debug', 'info', 'debug'], get: (c) => c.log_level },
  format: { values: ['conntrack', 'json', 'vyos'], want: ['conntrack', 'json', 'vyos'], get: (c) => c.format },
  conntrack_options: {
    values: [['id'], 'extended', 'timestamp,ktimestamp'],
    want: [['id'], ['extended'], ['timestamp', 'ktimestamp']],
    get: (c) => c.conntrack_options,
  },
  receive_buffer: { values: [65536, '131072', '262144'], want: [65536, 131072, 262144], get: (c) => c.receive_buffer },
  reliable: { values: [true, 'false', 'true'], want: [true, false, true], get: (c) => c.reliable },
  output: { values: ['syslog', 'stdout', 'syslog'], want: ['syslog', 'stdout', 'syslog'], get: (c) => c.output },
  output_file: { values: ['/a', '/b', '/c'], want: ['/a', '/b', '/c'], get: (c) => c.output_file },
  syslog_host: { values: ['log.example', '192.0.2.1', ''], want: ['log.example', '192.0.2.1', ''], get: (c) => c.syslog_host },
  syslog_port: { values: [1, '2', '3'], want: [1, 2, 3], get: (c) => c.syslog_port },
  syslog_protocol: { values: ['tcp', 'udp', 'tls'], want: ['tcp', 'udp', 'tls'], get: (c) => c.syslog_protocol },
  syslog_tls_ca: { values: ['/a', '/b', ''], want: ['/a', '/b', ''], get: (c) => c.syslog_tls_ca },
  // With its key, set the same way in each layer (both or neither).
  syslog_tls_cert: { values: ['', '', ''], want: ['', '', ''], get: (c) => c.syslog_tls_cert },
  syslog_tls_key: { values: ['', '', ''], want: ['', '', ''], get: (c) => c.syslog_tls_key },
  syslog_tls_name: { values: ['log.example', '192.0.2.1', ''], want: ['log.example', '192.0.2.1', ''], get: (c) => c.syslog_tls_name },
  syslog_socket: { values: ['/a', '/b', '/c'], want: ['/a', '/b', '/c'], get: (c) => c.syslog_socket },
  syslog_facility: { values: ['local0', 'local1', 'kern'], want: ['local0', 'local1', 'kern'], get: (c) => c.syslog_facility },
  syslog_tag: { values: ['a', 'b', 'c'], want: ['a', 'b', 'c'], get: (c) => c.syslog_tag },
  ipfix_host: { values: ['a.example', '192.0.2.1', 'c'], want: ['a.example', '192.0.2.1', 'c'], get: (c) => c.ipfix_host },
  ipfix_port: { values: [4740, '4741', '4742'], want: [4740, 4741, 4742], get: (c) => c.ipfix_port },
  ipfix_protocol: { values: ['tcp', 'udp', 'tcp'], want: ['tcp', 'udp', 'tcp'], get: (c) => c.ipfix_protocol },
  ipfix_domain_id: { values: [1, '4294967295', '3'], want: [1, 4294967295, 3], get: (c) => c.ipfix_domain_id },
  ipfix_nat_event: { values: ['legacy', 'rfc8158', 'legacy'], want: ['legacy', 'rfc8158', 'legacy'], get: (c) => c.ipfix_nat_event },
  ipfix_message_size: { values: [512, '9000', '65507'], want: [512, 9000, 65507], get: (c) => c.ipfix_message_size },
  ipfix_template_interval: { values: [1, '60', '86400'], want: [1, 60, 86400], get: (c) => c.ipfix_template_interval },
  store_dir: { values: ['/a', '/b', '/c'], want: ['/a', '/b', '/c'], get: (c) => c.store_dir },
  store_connections: { values: ['all', 'nat', 'all'], want: ['all', 'nat', 'all'], get: (c) => c.store_connections },
  store_keep_days: { values: [1, '30', '365'], want: [1, 30, 365], get: (c) => c.store_keep_days },
  store_max_bytes: { values: [1000, '20G', '1t'], want: [1000, 20 * 2 ** 30, 2 ** 40], get: (c) => c.store_max_bytes },
  store_sync_ms: { values: [10, '500', '60000'], want: [10, 500, 60000], get: (c) => c.store_sync_ms },
  store_snapshot_interval: { values: [0, '600', '86400'], want: [0, 600, 86400], get: (c) => c.store_snapshot_interval },
  stats_interval: { values: [5, '6', '7'], want: [5, 6, 7], get: (c) => c.stats_interval },
  netns: { values: ['a', '/run/netns/b', '/proc/1/ns/net'], want: ['a', '/run/netns/b', '/proc/1/ns/net'], get: (c) => c.netns },
  metrics_listen: { values: ['127.0.0.1:1', '[::1]:2', ':3'], want: ['127.0.0.1:1', '[::1]:2', ':3'], get: (c) => c.metrics_listen },
  orig_src: {
    values: ['10.0.0.0/8', '!192.0.2.1', '10.1'],
    want: [
      { address: '10.0.0.0', prefix: 8, negate: false },
      { address: '192.0.2.1', negate: true },
      { address: '10.0.0.1', negate: false },
    ],
    get: (c) => c.orig_src,
  },
  orig_dst: {
    values: ['fd00::/64', '!fd00::1', '::1'],
    want: [
      { address: 'fd00::', prefix: 64, negate: false },
      { address: 'fd00::1', negate: true },
      { address: '::1', negate: false },
    ],
    get: (c) => c.orig_dst,
  },
  reply_src: {
    values: ['192.0.2.0/24', '192.0.2.7', '!0.0.0.0/0'],
    want: [
      { address: '192.0.2.0', prefix: 24, negate: false },
      { address: '192.0.2.7', negate: false },
      { address: '0.0.0.0', prefix: 0, negate: true },
    ],
    get: (c) => c.reply_src,
  },
  reply_dst: {
    values: ['198.51.100.1', '198.51.100.0/25', '!198.51.100.1'],
    want: [
      { address: '198.51.100.1', negate: false },
      { address: '198.51.100.0', prefix: 25, negate: false },
      { address: '198.51.100.1', negate: true },
    ],
    get: (c) => c.reply_dst,
  },
  proto: {
    values: [6, 'UDP', '!ipv6-icmp'],
    want: [
      { value: 6, negate: false },
      { value: 17, negate: false },
      { value: 58, negate: true },
    ],
    get: (c) => c.proto,
  },
  // With a protocol that has ports, which they need.
  sport: {
    values: [80, '443', '!53'],
    want: [
      { value: 80, negate: false },
      { value: 443, negate: false },
      { value: 53, negate: true },
    ],
    get: (c) => c.sport,
    with: { proto: 'tcp' },
  },
  dport: {
    values: ['1', '65535', '!0'],
    want: [
      { value: 1, negate: false },
      { value: 65535, negate: false },
      { value: 0, negate: true },
    ],
    get: (c) => c.dport,
    with: { proto: 'udp' },
  },
  mark: {
    values: [7, '0x10/0xff', '!010'],
    want: [
      { value: 7, negate: false },
      { value: 16, mask: 255, negate: false },
      { value: 8, negate: true },
    ],
    get: (c) => c.mark,
  },
  zone: {
    values: [3, '0x10', '!0'],
    want: [
      { value: 3, negate: false },
      { value: 16, negate: false },
      { value: 0, negate: true },
    ],
    get: (c) => c.zone,
  },
  status: {
    values: [['ASSURED', '!OFFLOAD'], 'seen_reply', 'UNREPLIED,UNSET'],
    want: [
      { set: 4, clear: 1 << 14 },
      { set: 2, clear: 0 },
      { set: 0, clear: 2 },
    ],
    get: (c) => c.status,
  },
  // A flag given alone: translated, whatever the address.
  src_nat: {
    values: ['192.0.2.1:1024', '!', 'true'],
    want: [{ address: '192.0.2.1', port: 1024, negate: false }, { negate: true }, { negate: false }],
    get: (c) => c.src_nat,
  },
  dst_nat: {
    values: ['[fd00::1]:80', 'fd00::2', 'true'],
    want: [{ address: 'fd00::1', port: 80, negate: false }, { address: 'fd00::2', negate: false }, { negate: false }],
    get: (c) => c.dst_nat,
  },
  any_nat: { values: [true, 'false', 'true'], want: [{ negate: false }, undefined, { negate: false }], get: (c) => c.any_nat },
};

test('precedence: file < CTLOGD_* environment < flags, for every key that has them', () => {
  const keys = configKeys().filter((k) => k.env || k.arg);
  assert.deepEqual(keys.map((k) => k.key).sort(), Object.keys(LAYERS).sort(), 'LAYERS must cover every key with a variable or a flag');
  for (const k of keys) {
    const {
      values: [inFile, inEnv, inFlag],
      want,
      get,
    } = LAYERS[k.key];
    assert.ok(k.env && k.arg, `${k.key}: both a variable and a flag`);
    const base = { ...E, ...LAYERS[k.key].with };
    const f = file({ ...base, [k.key]: inFile });
    const env = { [k.env]: inEnv };
    // A boolean key's flag takes no value: given alone, it is true.
    if (typeof k.default === 'boolean') assert.equal(inFlag, 'true', k.key);
    const flags = parseCommandLine(typeof k.default === 'boolean' ? [`--${k.arg}`] : [`--${k.arg}`, inFlag]).flags;
    assert.deepEqual(get(loadConfig({ path: f, env: {} })), want[0], `${k.key}: the file`);
    assert.deepEqual(get(loadConfig({ path: f, env })), want[1], `${k.key}: ${k.env} over the file`);
    assert.deepEqual(get(loadConfig({ path: f, env, flags })), want[2], `${k.key}: --${k.arg} over both`);
    assert.deepEqual(get(loadConfig({ path: f, env: {}, flags })), want[2], `${k.key}: --${k.arg} over the file`);
    assert.deepEqual(get(loadConfig({ path: file(base), env })), want[1], `${k.key}: ${k.env} over the default`);
  }
  // As the CLI hands a boolean flag over, and in the --key=value form.
  const cli = (argv: string[]) => parseCommandLine(argv).flags;
  assert.equal(loadConfig({ path: file({ ...E, reliable: false }), env: {}, flags: cli(['--reliable']) }).reliable, true);
  // --reliable=false turns off a file's true (and =true the reverse).
  assert.equal(loadConfig({ path: file({ ...E, reliable: true }), env: {}, flags: cli(['--reliable=false']) }).reliable, false);
  assert.equal(loadConfig({ path: file({ ...E, reliable: true }), env: { CTLOGD_RELIABLE: 'true' }, flags: cli(['--reliable=false']) }).reliable, false);
  assert.equal(loadConfig({ path: file({ ...E, reliable: false }), env: {}, flags: cli(['--reliable=true']) }).reliable, true);
  // A negative number after a flag is its value (refused by the schema), not a flag.
  assert.equal(loadConfig({ path: file(E), env: {}, flags: cli(['--queue-size', '42']) }).queue_size, 42);
  assert.deepEqual(cli(['--queue-size', '-1', '--stats-interval', '-5']), { 'queue-size': '-1', 'stats-interval': '-5' });
  assert.equal(loadConfig({ path: file(E), env: {}, flags: cli(['--queue-size=42']) }).queue_size, 42);
  // output file with its path from another layer.
  const c = loadConfig({ path: file({ ...E, output: 'file' }), env: { CTLOGD_OUTPUT_FILE: '/var/log/x' } });
  assert.deepEqual([c.output, c.output_file], ['file', '/var/log/x']);
  // The last of a repeated flag wins.
  assert.equal(loadConfig({ path: file(E), env: {}, flags: cli(['--format', 'json', '--format', 'conntrack']) }).format, 'conntrack');
});

// ----- documentation -----

test('configKeys: every key documented, with a variable and a flag named after it', () => {
  for (const k of configKeys()) {
    assert.ok(k.doc.length > 10 && k.allowed.length > 0, k.key);
    if (k.env) assert.equal(k.env, `CTLOGD_${k.key.toUpperCase()}`);
    if (k.arg) assert.equal(k.arg, k.key.replace(/_/g, '-'));
  }
  // The documented defaults are what a config without the key gets.
  const byKey = Object.fromEntries(configKeys().map((k) => [k.key, k.default]));
  const c = loadConfig({ env: {} });
  assert.deepEqual(
    [c.event, c.queue_size, c.format, c.receive_buffer, c.syslog_tag, c.stats_interval],
    [byKey.event, byKey.queue_size, byKey.format, byKey.receive_buffer, byKey.syslog_tag, byKey.stats_interval],
  );
  // syslog_port's 0 is documented as the protocol's port: udp's by default.
  assert.deepEqual([byKey.syslog_port, c.syslog_port], [0, 514]);
});

test('the key table of docs/configuration.md is what scripts/config-doc.ts generates', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/config-doc.ts')], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const page = readFileSync(path.join(ROOT, 'docs/configuration.md'), 'utf8');
  const m = /<!-- config-keys:start -->\n([\s\S]*?)<!-- config-keys:end -->/.exec(page);
  assert.ok(m, 'docs/configuration.md has the config-keys markers');
  assert.equal(m[1].trim(), r.stdout.trim(), 'docs/configuration.md is out of date: npx tsx scripts/config-doc.ts --write');
});
