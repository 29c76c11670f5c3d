/** The syslog output's keys, and what they ask of each other. */
import { hostRule, integer, kernelPath, oneOf, option, PATH_MAX_BYTES, simple, SUN_PATH_MAX_BYTES, type Values } from '../../config/rules.js';

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

export const SYSLOG_KEYS = {
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
};

export type SyslogOptions = Values<typeof SYSLOG_KEYS>;

/** What the syslog keys ask of each other, whatever the output. */
export function syslogRules(c: SyslogOptions): string | undefined {
  // A client certificate is its certificate and its key: one alone is a mistake, not half a login.
  for (const [key, other] of [
    ['syslog_tls_key', 'syslog_tls_cert'],
    ['syslog_tls_cert', 'syslog_tls_key'],
  ] as const) {
    if (c[key] === '' && c[other] !== '') {
      return `${key}: must be set when ${other} is (a client certificate needs both its certificate and its key, or neither): value was ""`;
    }
  }
  return undefined;
}

/** syslog_port 0 is the protocol's own port. */
export function completeSyslog(c: SyslogOptions): void {
  if (c.syslog_port === 0) c.syslog_port = SYSLOG_PORTS[c.syslog_protocol];
}
