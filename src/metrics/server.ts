/**
 * The metrics endpoint: GET (or HEAD) /metrics on metrics_listen, in the
 * format the scraper asks for (OpenMetrics, or Prometheus text).
 *
 * No scrape load reaches the event path. The HTTP server runs in a
 * worker thread, on an event loop of its own. It serves at most
 * MAX_CONNECTIONS connections at once (more are closed as soon as they are
 * accepted), and asks this thread for a page at most once per
 * PAGE_INTERVAL_MS: requests wait for the next page, made after they came,
 * and share it. So the event path makes at most 10 pages a second,
 * whatever the scrapers do, and nothing between scrapes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MessagePort, Worker } from 'node:worker_threads';
import type { Listen } from '../config.js';
import { OPENMETRICS_ACCEPT, OPENMETRICS_CONTENT_TYPE, render, TEXT_CONTENT_TYPE, type Family } from './exposition.js';

/** Connections served at once; more are closed when accepted. */
export const MAX_CONNECTIONS = 64;
/** The least time between two pages: scrapes within it wait and share the next. */
export const PAGE_INTERVAL_MS = 100;
/** A request's headers, and an idle keep-alive connection, end in this much; a whole request in twice that. */
const TIMEOUT_MS = 5000;

/** metrics_listen could not be listened on: one line, exit 73 (EX_CANTCREAT) at start. */
export class MetricsError extends Error {
  readonly exitCode = 73;
}

/** What the worker is started with. */
interface Settings {
  host?: string;
  port: number;
  maxConnections: number;
  intervalMs: number;
  timeoutMs: number;
  openMetricsAccept: string;
  textType: string;
  openMetricsType: string;
}

/** From the worker: listening, or why not; the pages it needs now. */
type FromWorker = { type: 'listening'; port: number } | { type: 'failed'; reason: string } | { type: 'need'; text: boolean; openMetrics: boolean };

/** To the worker: the pages asked for; or stop. */
type ToWorker = { type: 'page'; text?: string; openMetrics?: string } | { type: 'close' };

interface Modules {
  http: typeof import('node:http');
  parent: MessagePort;
}

/**
 * The worker's program. It runs from its own source (WORKER_SOURCE): it
 * uses only its arguments and the globals, nothing of this module.
 */
function serve({ http, parent }: Modules, s: Settings): void {
  const send = (m: FromWorker) => parent.postMessage(m);
  const openMetricsAccept = new RegExp(s.openMetricsAccept, 'i');
  interface Waiting {
    req: IncomingMessage;
    res: ServerResponse;
    /** 200 with a page, or 404, 405. */
    status: number;
    openMetrics: boolean;
  }
  /** Requests waiting for the next page. */
  let waiting: Waiting[] = [];
  /** Those the page asked for will answer. */
  let asked: Waiting[] | undefined;
  let lastAsk = Number.NEGATIVE_INFINITY;
  let timer: NodeJS.Timeout | undefined;

  const server = http.createServer({ connectionsCheckingInterval: 1000 }, (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const status = path !== '/metrics' ? 404 : req.method !== 'GET' && req.method !== 'HEAD' ? 405 : 200;
    // What waits is bounded too: a request past 4 × maxConnections waiting (only pipelining gets there) closes its connection.
    if (waiting.length >= 4 * s.maxConnections) {
      req.socket.destroy();
      return;
    }
    waiting.push({ req, res, status, openMetrics: openMetricsAccept.test(req.headers.accept ?? '') });
    next();
  });
  server.maxConnections = s.maxConnections;
  server.headersTimeout = s.timeoutMs;
  server.requestTimeout = 2 * s.timeoutMs;
  server.keepAliveTimeout = s.timeoutMs;

  /** Asks for a page now, or once the interval since the last has passed. */
  function next(): void {
    if (asked !== undefined || timer !== undefined || waiting.length === 0) return;
    const wait = lastAsk + s.intervalMs - Date.now();
    if (wait > 0) {
      timer = setTimeout(() => {
        timer = undefined;
        next();
      }, wait);
      return;
    }
    asked = waiting;
    waiting = [];
    lastAsk = Date.now();
    const pages = asked.filter((w) => w.status === 200);
    const text = pages.some((w) => !w.openMetrics);
    const openMetrics = pages.some((w) => w.openMetrics);
    if (text || openMetrics) send({ type: 'need', text, openMetrics });
    else answer({});
  }

  function answer(page: { text?: string; openMetrics?: string }): void {
    for (const { req, res, status, openMetrics } of asked ?? []) {
      if (res.destroyed) continue;
      if (status === 404) res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('ctlogd serves its metrics at /metrics\n');
      else if (status === 405) res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Length': 0 }).end();
      else {
        const body = (openMetrics ? page.openMetrics : page.text) ?? '';
        res.writeHead(200, { 'Content-Type': openMetrics ? s.openMetricsType : s.textType, 'Content-Length': Buffer.byteLength(body) });
        res.end(req.method === 'HEAD' ? undefined : body);
      }
    }
    asked = undefined;
    next();
  }

  parent.on('message', (m: ToWorker) => {
    if (m.type === 'page') answer(m);
    else {
      clearTimeout(timer);
      server.close();
      server.closeAllConnections();
      parent.close();
    }
  });
  server.once('error', (e: NodeJS.ErrnoException) => {
    send({ type: 'failed', reason: e.code ?? e.message });
    parent.close();
  });
  server.listen({ host: s.host, port: s.port }, () => {
    server.removeAllListeners('error');
    // A client's broken connection is its own; the server goes on.
    server.on('error', () => {});
    const address = server.address();
    send({ type: 'listening', port: typeof address === 'object' && address !== null ? address.port : s.port });
  });
}

/**
 * The worker's source: `serve` with the modules it is given. tsx (esbuild
 * with keepNames) wraps functions in `__name`; here it names nothing.
 */
const WORKER_SOURCE = `'use strict';
const __name = (f) => f;
const { parentPort, workerData } = require('node:worker_threads');
(${serve.toString()})({ http: require('node:http'), parent: parentPort }, workerData);
`;

export class MetricsServer {
  private closed?: Promise<void>;
  /** The worker's end, whenever it comes. */
  private readonly exited: Promise<unknown>;

  private constructor(
    private readonly worker: Worker,
    /** The port listened on (metrics_listen's, or the one the system chose for port 0). */
    readonly port: number,
    /** As the config wrote it. */
    readonly where: string,
  ) {
    this.exited = new Promise((resolve) => worker.once('exit', resolve));
  }

  /**
   * Listens; rejects with MetricsError if it cannot (the address taken,
   * not this host's, no permission). `families` is called at most once per
   * PAGE_INTERVAL_MS, and only while scrapes wait; `warn` hears of a
   * server that stopped (it then serves no more; the events go on).
   */
  static async start(where: string, at: Listen, families: () => Family[], warn: (message: string) => void = () => {}): Promise<MetricsServer> {
    // Loaded only when metrics are asked for.
    const { Worker } = await import('node:worker_threads');
    const settings: Settings = {
      host: at.host,
      port: at.port,
      maxConnections: MAX_CONNECTIONS,
      intervalMs: PAGE_INTERVAL_MS,
      timeoutMs: TIMEOUT_MS,
      openMetricsAccept: OPENMETRICS_ACCEPT.source,
      textType: TEXT_CONTENT_TYPE,
      openMetricsType: OPENMETRICS_CONTENT_TYPE,
    };
    // execArgv: none of this process's flags (a loader, an inspector) in the worker.
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: settings, execArgv: [], name: 'ctlogd metrics' });
    return new Promise((resolve, reject) => {
      let server: MetricsServer | undefined;
      let failed = false;
      const fail = (reason: string) => {
        if (failed) return;
        failed = true;
        if (server === undefined) {
          void worker.terminate();
          reject(new MetricsError(`metrics_listen ${where}: cannot listen: ${reason}`));
        } else if (server.closed === undefined) warn(`metrics_listen ${where}: the metrics server stopped: ${reason}`);
      };
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'need') {
          const f = families();
          const page: ToWorker = { type: 'page', text: m.text ? render(f, false) : undefined, openMetrics: m.openMetrics ? render(f, true) : undefined };
          worker.postMessage(page);
        } else if (m.type === 'listening') {
          server = new MetricsServer(worker, m.port, where);
          resolve(server);
        } else fail(m.reason);
      });
      worker.on('error', (e) => fail(e.message));
      worker.on('exit', (code) => fail(`its thread ended (${code})`));
    });
  }

  /** Stops listening and ends open connections (a scraper's keep-alive ones too). */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.worker.postMessage({ type: 'close' } satisfies ToWorker);
      // A worker that does not end on its own within a second is ended.
      const hung = setTimeout(() => void this.worker.terminate(), 1000);
      await this.exited;
      clearTimeout(hung);
    })();
    return this.closed;
  }
}
