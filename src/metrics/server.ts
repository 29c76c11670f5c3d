/**
 * The metrics endpoint: GET (or HEAD) /metrics on metrics_listen, in the
 * format the scraper asks for (OpenMetrics, or Prometheus text). Nothing
 * runs between scrapes: the page is made when asked for.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Listen } from '../config.js';
import { OPENMETRICS_CONTENT_TYPE, render, TEXT_CONTENT_TYPE, wantsOpenMetrics, type Family } from './exposition.js';

/** metrics_listen could not be listened on: one line, exit 73 (EX_CANTCREAT) at start. */
export class MetricsError extends Error {
  readonly exitCode = 73;
}

export class MetricsServer {
  private constructor(
    private readonly server: Server,
    /** As the config wrote it. */
    readonly where: string,
  ) {}

  /** Listens; rejects with MetricsError if it cannot (the address taken, not this host's, no permission). */
  static async start(where: string, at: Listen, families: () => Family[]): Promise<MetricsServer> {
    // Loaded only when metrics are asked for: node:http costs every other start time and memory.
    const { createServer } = await import('node:http');
    const server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (path !== '/metrics') {
        res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('ctlogd serves its metrics at /metrics\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD' }).end();
        return;
      }
      const open = wantsOpenMetrics(req.headers.accept);
      const body = render(families(), open);
      res.writeHead(200, { 'Content-Type': open ? OPENMETRICS_CONTENT_TYPE : TEXT_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    return new Promise((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => reject(new MetricsError(`metrics_listen ${where}: cannot listen: ${e.code ?? e.message}`)));
      server.listen({ host: at.host, port: at.port }, () => {
        server.removeAllListeners('error');
        // A client's broken connection is its own; the server goes on.
        server.on('error', () => {});
        resolve(new MetricsServer(server, where));
      });
    });
  }

  /** The port listened on (metrics_listen's, or the one the system chose for port 0). */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Stops listening and ends open connections (a scraper's keep-alive ones too). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
