/**
 * The network machinery the outputs over the network (syslog, IPFIX)
 * share, which each composes with a framer of its own (framer.ts): the
 * bounded queue (queue.ts) and the connection, with its backoff and its
 * reports (connection.ts, backoff.ts), over a link: TCP, plain or in TLS
 * (tcp.ts, tls.ts), or datagrams, UDP or the local socket (datagram.ts).
 * Winston hands each batch to the framer (NetTransport), and the sink
 * (queuedSink) is what the daemon holds.
 */
import TransportStream from 'winston-transport';
import { count, type Ledger } from '../ledger.js';
import { batchLogger, logBatch, type BatchInfo, type EventSink, type Report } from '../sink.js';
import { Connection, peerName } from './connection.js';
import { DatagramLink } from './datagram.js';
import type { DatagramFraming, Framer, StreamFraming } from './framer.js';
import { TcpLink, type TcpPeer } from './tcp.js';

/** SIGTERM must end ctlogd within 2 s: close() waits this long at most. */
const CLOSE_WAIT_MS = 1_000;

/** The winston side of a connection: each batch, made messages by the framer, is queued and sent. */
export class NetTransport extends TransportStream {
  constructor(
    /** The output, as its reports name it. */
    readonly output: string,
    readonly conn: Connection,
    private readonly framer: Framer,
  ) {
    super({ level: 'info' });
  }

  /** Called by winston with one batch. */
  override log(info: BatchInfo, next: () => void): void {
    this.framer.batch(info, this.conn);
    this.conn.flush();
    info.done();
    next();
  }
}

/** To a local datagram socket (a unix one, as /dev/log): `OUTPUT socket PATH`. */
export function unixTransport(output: string, path: string, framer: Framer & DatagramFraming, report: Report, ledger: Ledger): NetTransport {
  return new NetTransport(output, new Connection(`${output} socket ${path}`, report, ledger, (c) => new DatagramLink(c, { path }, framer)), framer);
}

/** Over UDP, on a connected socket: `OUTPUT udp HOST:PORT`. */
export function udpTransport(output: string, host: string, port: number, framer: Framer & DatagramFraming, report: Report, ledger: Ledger): NetTransport {
  const where = `${output} ${peerName('udp', host, port)}`;
  return new NetTransport(output, new Connection(where, report, ledger, (c) => new DatagramLink(c, { host, port }, framer)), framer);
}

/** Over TCP, plain or in TLS: `OUTPUT tcp HOST:PORT`, `OUTPUT tls HOST:PORT`. */
export function tcpTransport(output: string, peer: TcpPeer, framer: Framer & StreamFraming, report: Report, ledger: Ledger): NetTransport {
  const where = `${output} ${peerName(peer.tls ? 'tls' : 'tcp', peer.host, peer.port)}`;
  return new NetTransport(output, new Connection(where, report, ledger, (c) => new TcpLink(c, peer, framer)), framer);
}

/**
 * The sink of a transport: writes go to it through winston; what comes
 * after close() is counted lost; close() flushes for at most
 * CLOSE_WAIT_MS. On SIGHUP `reload` (certificates rotated on disk) runs
 * first: what it says went wrong keeps the old ones and the connection.
 */
export function queuedSink(transport: NetTransport, reload?: () => string | undefined): EventSink {
  const { output: name, conn } = transport;
  const logger = batchLogger(transport);
  // The transports never emit 'error'; this only keeps winston from throwing if one did.
  logger.on('error', (e: Error) => conn.report.error(`${name}: ${e.message}`));
  let closed: Promise<void> | undefined;
  return {
    write(lines, done) {
      if (closed) {
        count(conn.ledger.lost, lines.kinds);
        conn.report.error(`${name}: ${lines.kinds.length} lines came after the output was closed; not sent (counted lost)`);
        done();
        return;
      }
      logBatch(logger, lines, done);
    },
    reopen() {
      const bad = reload?.();
      if (bad) return bad;
      conn.reopen();
      return undefined;
    },
    close() {
      closed ??= (async () => {
        // Let winston hand over every entry already logged, then flush.
        const finished = new Promise<void>((resolve) => transport.once('finish', resolve));
        logger.end();
        await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, 100))]);
        await conn.shutdown(CLOSE_WAIT_MS);
      })();
      return closed;
    },
  };
}
