/**
 * Event lines to syslog, through winston: one syslog message per line, in
 * order, to the local socket (syslog_socket, a unix datagram socket like
 * /dev/log) or to a remote host over UDP, or TCP with RFC 6587
 * octet-counting framing (`LEN SP MSG`), plain or in TLS (RFC 5425, the
 * certificates tls.ts's). The headers are header.ts's; how lines wait and
 * are delivered is connection.ts's.
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
import { count, type Ledger } from '../ledger.js';
import { batchLogger, logBatch, type EventSink, type Report } from '../sink.js';
import type { SyslogTransport } from './connection.js';
import { UdpTransport, UnixTransport } from './datagram.js';
import { peerName } from './connection.js';
import { headerFor } from './header.js';
import { TcpTransport } from './tcp.js';
import { completeSyslog, SYSLOG_KEYS, syslogRules, type SyslogOptions } from './keys.js';
import { TlsFileError, TlsFiles } from './tls.js';

/** SIGTERM must end ctlogd within 2 s: close() waits this long at most. */
const CLOSE_WAIT_MS = 1_000;

/**
 * Opens the syslog output. A certificate file that cannot be used (TLS) is
 * a ConfigError (exit 78): the files are the config's, named by its keys.
 */
export function syslogSink(opts: SyslogOptions, report: Report, ledger: Ledger): EventSink {
  const header = headerFor(opts);
  const remote = { host: opts.syslog_host, port: opts.syslog_port, where: `syslog ${peerName(opts.syslog_protocol, opts.syslog_host, opts.syslog_port)}` };
  let files: TlsFiles | undefined;
  if (opts.syslog_host !== '' && opts.syslog_protocol === 'tls') {
    try {
      files = new TlsFiles(opts);
    } catch (e) {
      throw e instanceof TlsFileError ? new ConfigError(e.message) : e;
    }
  }
  const transport: SyslogTransport =
    opts.syslog_host === ''
      ? new UnixTransport(opts.syslog_socket, header, report, ledger)
      : opts.syslog_protocol === 'udp'
        ? new UdpTransport(opts.syslog_host, opts.syslog_port, header, report, ledger)
        : new TcpTransport({ ...remote, tls: files }, header, report, ledger);
  return queuedSink('syslog', transport, report, ledger, () => files?.reload());
}

/**
 * The sink of a transport with a queue (syslog, IPFIX): writes go to it
 * through winston; what comes after close() is counted lost; close()
 * flushes for at most CLOSE_WAIT_MS. On SIGHUP `reload` (certificates
 * rotated on disk) runs first: what it says went wrong keeps the old
 * ones and the connection.
 */
export function queuedSink(name: string, transport: SyslogTransport, report: Report, ledger: Ledger, reload?: () => string | undefined): EventSink {
  const logger = batchLogger(transport);
  // The transports never emit 'error'; this only keeps winston from throwing if one did.
  logger.on('error', (e: Error) => report.error(`${name}: ${e.message}`));
  let closed: Promise<void> | undefined;
  return {
    write(lines, done) {
      if (closed) {
        count(ledger.lost, lines.kinds);
        report.error(`${name}: ${lines.kinds.length} lines came after the output was closed; not sent (counted lost)`);
        done();
        return;
      }
      logBatch(logger, lines, done);
    },
    reopen() {
      const bad = reload?.();
      if (bad) return bad;
      transport.reopen();
      return undefined;
    },
    close() {
      closed ??= (async () => {
        // Let winston hand over every entry already logged, then flush.
        const finished = new Promise<void>((resolve) => transport.once('finish', resolve));
        logger.end();
        await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, 100))]);
        await transport.shutdown(CLOSE_WAIT_MS);
      })();
      return closed;
    },
  };
}

export const syslogOutput = defineOutput({
  name: 'syslog',
  keys: SYSLOG_KEYS,
  types: EVENT_TYPES,
  check: syslogRules,
  complete: completeSyslog,
  reads: (c) => [
    ['syslog_tls_key', c.syslog_tls_key],
    ['syslog_tls_cert', c.syslog_tls_cert],
    ['syslog_tls_ca', c.syslog_tls_ca],
  ],
  open: syslogSink,
});
