/**
 * Event lines to syslog, through winston: one syslog message per line, in
 * order, to the local socket (syslog_socket, a unix datagram socket like
 * /dev/log) or to a remote host over UDP, or TCP with RFC 6587
 * octet-counting framing (`LEN SP MSG`), plain or in TLS (RFC 5425, the
 * certificates named by the syslog_tls_* keys). The headers are
 * header.ts's, the framing framer.ts's; how lines wait and are delivered
 * is the network machinery's (../net/).
 *
 * The transport is our own, on winston-transport, not the npm package
 * winston-syslog (2.7), which was tried against rsyslog 8.2302 and found
 * unfit here:
 * - over TCP it writes messages back to back with no framing at all, so the
 *   receiver sees one message where three were sent;
 * - with the local socket absent it emits 'error' from a socket nobody
 *   listens to, which kills the process; when the socket goes away its
 *   queue grows without bound and is never retried;
 * - its TCP queue is unbounded and never reports what it holds, its backoff
 *   doubles without a cap (hours after a long outage), and close() waits
 *   up to 4 s.
 */
import { ConfigError } from '../../config/error.js';
import { EVENT_TYPES } from '../../event.js';
import { defineOutput } from '../definition.js';
import type { Ledger } from '../ledger.js';
import { queuedSink, tcpTransport, udpTransport, unixTransport } from '../net/index.js';
import { TlsFileError, TlsFiles, type TlsOptions } from '../net/tls.js';
import type { EventSink, Report } from '../sink.js';
import { datagramFramer, streamFramer } from './framer.js';
import { headerFor } from './header.js';
import { completeSyslog, SYSLOG_KEYS, syslogRules, type SyslogOptions } from './keys.js';

/** The syslog_tls_* keys as the TLS files: the name the certificate must carry is syslog_tls_name, else syslog_host. */
export function tlsOptions(o: Pick<SyslogOptions, 'syslog_host' | 'syslog_tls_ca' | 'syslog_tls_cert' | 'syslog_tls_key' | 'syslog_tls_name'>): TlsOptions {
  return {
    keys: 'syslog_tls',
    ca: o.syslog_tls_ca,
    cert: o.syslog_tls_cert,
    key: o.syslog_tls_key,
    name: o.syslog_tls_name === '' ? o.syslog_host : o.syslog_tls_name,
  };
}

/**
 * Opens the syslog output. A certificate file that cannot be used (TLS) is
 * a ConfigError (exit 78): the files are the config's, named by its keys.
 */
export function syslogSink(opts: SyslogOptions, report: Report, ledger: Ledger): EventSink {
  const header = headerFor(opts);
  if (opts.syslog_host === '') return queuedSink(unixTransport('syslog', opts.syslog_socket, datagramFramer(header), report, ledger));
  if (opts.syslog_protocol === 'udp') return queuedSink(udpTransport('syslog', opts.syslog_host, opts.syslog_port, datagramFramer(header), report, ledger));
  let files: TlsFiles | undefined;
  if (opts.syslog_protocol === 'tls') {
    try {
      files = new TlsFiles(tlsOptions(opts));
    } catch (e) {
      throw e instanceof TlsFileError ? new ConfigError(e.message) : e;
    }
  }
  const transport = tcpTransport('syslog', { host: opts.syslog_host, port: opts.syslog_port, tls: files }, streamFramer(header), report, ledger);
  return queuedSink(transport, () => files?.reload());
}

export const syslogOutput = defineOutput({
  name: 'syslog',
  doc: 'the syslog_* keys',
  keys: SYSLOG_KEYS,
  types: EVENT_TYPES,
  check: syslogRules,
  complete: completeSyslog,
  // Read only for TLS to a remote host.
  secrets: (c) => (c.syslog_host !== '' && c.syslog_protocol === 'tls' ? [['syslog_tls_key', c.syslog_tls_key]] : []),
  reads: (c) => [
    ['syslog_tls_key', c.syslog_tls_key],
    ['syslog_tls_cert', c.syslog_tls_cert],
    ['syslog_tls_ca', c.syslog_tls_ca],
  ],
  open: syslogSink,
});
