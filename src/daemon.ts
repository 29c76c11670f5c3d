/**
 * The service: a capture (the reader holds the config's filters) and the
 * outputs it feeds (each a Route: the events it takes, its format, its
 * sink, its counts), with the signals an operator uses.
 * - SIGTERM/SIGINT: stop reading, write out every event already received,
 *   exit 0 (within 2 s, whatever an output does).
 * - SIGHUP: re-read the config and apply it on the same socket (groups,
 *   filters, formats, queue, buffer, outputs); an output whose keys did not
 *   change keeps its sink (a file is reopened, a connection stays up), one
 *   that changed is opened anew; a bad new config is reported and the old
 *   one kept.
 * - SIGUSR1: print the counters (also every stats_interval, and at exit).
 * With metrics_listen, the same counters are served to Prometheus.
 */
import { readFileSync, statSync } from 'node:fs';
import { Capture, CaptureError, type CaptureOptions } from './capture.js';
import { RunningCaptures } from './running-captures.js';
import { ConfigError, loadConfigAsync, netnsPath, parseListen, type Config, type LoadOptions } from './config.js';
import { filterOptions } from './conntrack-filter.js';
import { takeEarlySignals } from './early-signals.js';
import { echo } from './echo.js';
import type { EventType } from './event.js';
import { Latency, nowUs } from './latency.js';
import { protocolSets, subscribedTypes } from './event-selection.js';
import { daemonFamilies, type BuildInfo, type DaemonCounters, type LastReload, type OutputCounters } from './metrics/families.js';
import { MetricsServer } from './metrics/server.js';
import { platformPackage } from './native.js';
import {
  allWrites,
  diagnostics,
  eventsTaken,
  kindOf,
  Ledger,
  openSink,
  perType,
  Route,
  sinkKey,
  total,
  writtenAs,
  type Diagnostics,
  type EventSink,
  type Report,
} from './output/index.js';
import { PermissionHints } from './permissions.js';
import { version } from './version.js';
import type { Notices, WireBatch } from './wire.js';

/** Exit codes (sysexits.h). */
export const EXIT = { OK: 0, USAGE: 64, UNAVAILABLE: 69, SOFTWARE: 70, CANTCREAT: 73, NOPERM: 77, CONFIG: 78 } as const;

/** SIGTERM must end the process within 2 s even if an output hangs. */
const STOP_DEADLINE_MS = 1800;

/** The event types subscribed: those some output takes. */
function eventsOf(c: Config): EventType[] {
  return subscribedTypes(eventsTaken(c.outputs));
}

/** The capture's settings from the config, for start and reload alike. */
function captureOptions(c: Config): CaptureOptions {
  const read = eventsTaken(c.outputs);
  return {
    events: subscribedTypes(read),
    rcvbuf: c.receive_buffer,
    queueSize: c.queue_size,
    reliable: c.reliable,
    protocols: protocolSets(read),
    netns: netnsPath(c.netns),
    filter: filterOptions(c),
  };
}

/**
 * netns names a namespace file that is there, or throws ConfigError (exit
 * 78): one line, rather than an errno from the socket. Namespace files
 * are all on nsfs, as the process's own is.
 */
function checkNetns(c: Config): void {
  const file = netnsPath(c.netns);
  if (file === undefined) return;
  let dev: number;
  try {
    dev = statSync(file).dev;
  } catch (e) {
    throw new ConfigError(
      `netns ${echo(c.netns)}: no such network namespace: ${echo(file)}: ${(e as NodeJS.ErrnoException).code}; \`ip netns list\` names those there are`,
    );
  }
  if (dev !== statSync('/proc/self/ns/net').dev) throw new ConfigError(`netns ${echo(c.netns)}: ${echo(file)} is not a namespace file`);
}

export class Daemon {
  private config: Config;
  private routes: Route[];
  private readonly captures = new RunningCaptures();
  private stopping?: Promise<void>;
  /** The reload running, and whether a SIGHUP came during it. */
  private reloading?: Promise<void>;
  private reloadAgain = false;
  private statsTimer?: NodeJS.Timeout;
  /** Format errors of outputs a reload removed: decode_errors never goes back. */
  private formatErrorsGone = 0;
  /** The config's last load; the one at start is the first. */
  private lastReload: LastReload = { at: Math.round(Date.now() / 1000), ok: true, succeeded: 0, failed: 0 };
  private metrics?: MetricsServer;
  /** From the kernel's event time to the output, per event handed to it. */
  readonly latency = new Latency();
  private readonly log: Diagnostics;
  /** Files others may write or read: warned of at start, and on reload if changed. */
  private readonly hints = new PermissionHints();

  /** Opens the outputs; throws OutputError (exit 73) if one cannot be, having closed those opened. */
  constructor(
    private readonly loadOpts: LoadOptions,
    config: Config,
  ) {
    this.log = diagnostics(config.log_level);
    this.config = config;
    this.routes = this.open(config, []);
  }

  /** How an output's trouble is said: named, when there are several. */
  private reportFor(name: string): Report {
    // Named by the config running when it is said: a sink a reload kept may say it after outputs were added.
    const said = (m: string) => (this.config.outputs.length > 1 ? `output ${name}: ${m}` : m);
    return { error: (m) => this.log.error(said(m)), warn: (m) => this.log.warn(said(m)) };
  }

  /**
   * The routes of `c`'s outputs: those of `running` whose output's keys
   * are unchanged keep their sink, the others are opened now (and their
   * counts kept, by name). If one cannot be opened, those opened here are
   * closed and the error thrown.
   */
  private open(c: Config, running: readonly Route[]): Route[] {
    const opened: EventSink[] = [];
    try {
      return c.outputs.map((o) => {
        const was = running.find((r) => r.name === o.name);
        const report = this.reportFor(o.name);
        if (was && sinkKey(was.config) === sinkKey(o)) {
          was.sink.apply?.(o);
          return new Route(o, was.sink, was.ledger, report);
        }
        const ledger = was?.ledger ?? new Ledger();
        const sink = openSink(o, report, ledger, { netns: netnsPath(c.netns) });
        opened.push(sink);
        return new Route(o, sink, ledger, report);
      });
    } catch (e) {
      for (const sink of opened) void sink.close();
      throw e;
    }
  }

  /**
   * Starts the metrics server (throws MetricsError, exit 73, if it cannot
   * listen), then the capture (ConfigError, exit 78, if netns names no
   * namespace).
   */
  async start(): Promise<void> {
    const c = this.config;
    this.warnTimestampSysctl(c);
    for (const w of this.hints.check(this.loadOpts.path, c)) this.log.warn(w);
    checkNetns(c);
    this.metrics = await this.serveMetrics(c);
    try {
      this.captures.adopt(await Capture.startWire(captureOptions(c), (batch) => this.onBatch(batch)));
    } catch (e) {
      await this.metrics?.close();
      throw e;
    }
    this.armStats();
  }

  /**
   * Writes the lines of one batch, each output its own, and hands each
   * output its lines (Route: in one piece, or a few for long lines).
   * Returns the outputs' backpressure, if any: the capture waits for it.
   */
  private onBatch(batch: WireBatch): void | Promise<void> {
    const routes = this.routes;
    let n = 0;
    // One reused event object: nothing of an event outlives its lines.
    let ev = batch.next();
    /** The batch's first event's time, µs: the oldest, as events come in the kernel's order. */
    const t = ev?.eventTime ?? ev?.time;
    const oldest = t === undefined ? 0 : t.sec * 1e6 + Math.floor(t.nsec / 1000);
    for (; ev !== undefined; ev = batch.next()) {
      const kind = kindOf(ev);
      for (let i = 0; i < routes.length; i++) routes[i].add(ev, kind, batch);
      n++;
    }
    this.report(batch.notices);
    // Every event of the batch counts as old as its oldest: an upper bound, for the cost of one clock read per batch.
    if (n > 0) this.latency.add(nowUs() - oldest, n);
    const waits: Promise<void>[] = [];
    for (const r of routes) {
      const wait = r.flush();
      if (wait) waits.push(wait);
    }
    return allWrites(waits);
  }

  /** Loss is never silent: each batch's notices become one warning line. */
  private report(n: Notices): void {
    if (n.lost > 0 || n.enobufs > 0) {
      this.log.warn(`kernel overflow: ${n.lost} events lost (receive buffer full, ENOBUFS ${n.enobufs}x); raise receive_buffer`);
    }
    if (n.undelivered > 0) {
      this.log.warn(
        `kernel overflow: ${n.undelivered} deliveries failed (receive buffer full); reliable mode: DESTROY events are retried, NEW/UPDATE may be lost; raise receive_buffer`,
      );
    }
    if (n.decodeErrors > 0) {
      this.log.warn(`${n.decodeErrors} messages could not be decoded (last: ${this.captures.totals().lastError ?? 'unknown'})`);
    }
  }

  private warnTimestampSysctl(c: Config): void {
    if (!c.timestamp) return;
    try {
      if (readFileSync('/proc/sys/net/netfilter/nf_conntrack_timestamp', 'utf8').trim() === '0') {
        this.log.warn('timestamp is set but net.netfilter.nf_conntrack_timestamp is 0: no start/stop times will be logged');
      }
    } catch {
      // No conntrack in this kernel yet: nothing to check.
    }
  }

  private armStats(): void {
    clearInterval(this.statsTimer);
    const s = this.config.stats_interval;
    if (s > 0) this.statsTimer = setInterval(() => this.log.info(this.statsLine()), s * 1000).unref();
  }

  /**
   * SIGHUP: apply a new config on the same socket, or keep the old one
   * whole. An output whose keys changed is opened anew before the old one
   * is closed, so no line is lost; an unchanged one keeps its sink, which
   * is reopened (a file: logrotate; a connection stays up). The file is
   * read without blocking the event loop; a SIGHUP while it is read is
   * not a second read beside it but one more after it.
   */
  reload(): void {
    if (this.reloading) {
      this.reloadAgain = true;
      return;
    }
    this.reloading = (async () => {
      do {
        this.reloadAgain = false;
        const ok = await this.reloadOnce();
        if (ok === undefined) continue;
        const r = this.lastReload;
        this.lastReload = { at: Math.round(Date.now() / 1000), ok, succeeded: r.succeeded + (ok ? 1 : 0), failed: r.failed + (ok ? 0 : 1) };
      } while (this.reloadAgain && !this.stopping);
    })().finally(() => {
      this.reloading = undefined;
    });
  }

  /** Whether the new config was applied; undefined if stopped meanwhile. */
  private async reloadOnce(): Promise<boolean | undefined> {
    let next: Config;
    let routes: Route[];
    const old = { config: this.config, routes: this.routes };
    try {
      next = await loadConfigAsync(this.loadOpts);
      // Stopped while the file was read: nothing is left to apply it to.
      if (this.stopping) return undefined;
      routes = this.open(next, old.routes);
    } catch (e) {
      this.log.error(`reload refused, keeping the running config: ${(e as Error).message}`);
      return false;
    }
    // A new metrics address is listened on, a new namespace's socket
    // opened, before the old one is let go: nothing of either is missed.
    const movesMetrics = next.metrics_listen !== old.config.metrics_listen;
    const movesNetns = netnsPath(next.netns) !== netnsPath(old.config.netns);
    let metrics: MetricsServer | undefined;
    let capture: Capture | undefined;
    try {
      if (movesMetrics) metrics = await this.serveMetrics(next);
      if (movesNetns) {
        checkNetns(next);
        capture = await Capture.startWire(captureOptions(next), (batch) => this.onBatch(batch));
      } else this.captures.running?.reconfigure(captureOptions(next));
    } catch (e) {
      this.log.error(`reload failed, keeping the running config: ${(e as Error).message}`);
      try {
        if (!movesNetns) this.captures.running?.reconfigure(captureOptions(old.config));
      } catch (again) {
        this.log.error(`the running config could not be applied again: ${(again as Error).message}`);
      }
      for (const r of routes) if (!old.routes.some((o) => o.sink === r.sink)) void r.sink.close();
      void metrics?.close();
      return false;
    }
    if (movesMetrics) {
      void this.metrics?.close();
      this.metrics = metrics;
    }
    if (capture) this.captures.adopt(capture);
    this.config = next;
    this.routes = routes;
    const notReopened: string[] = [];
    for (const r of routes) {
      if (!old.routes.some((o) => o.sink === r.sink)) continue;
      const why = r.sink.reopen();
      if (why) notReopened.push(next.outputs.length === 1 ? why : `${r.name}: ${why}`);
    }
    for (const o of old.routes) {
      if (routes.some((r) => r.sink === o.sink)) continue;
      void o.sink.close();
      // Gone from the config: what it still counts is shown no more, but decode_errors never goes back.
      if (!routes.some((r) => r.ledger === o.ledger)) this.formatErrorsGone += o.ledger.formatErrors;
    }
    this.log.level = next.log_level;
    this.armStats();
    for (const w of this.hints.check(this.loadOpts.path, next)) this.log.warn(w);
    if (notReopened.length > 0) this.log.warn(`configuration reloaded, but the output was not reopened: ${notReopened.join('; ')}`);
    else this.log.info('configuration reloaded');
    return true;
  }

  /**
   * One line with every counter since start, totals then per type. First
   * the capture's: received (decoded by the reader), filtered (dropped by
   * the reader's filter after decoding), dropped (read but never handed
   * over: the outputs were gone at shutdown); lost (kernel overflow),
   * undelivered (kernel overflow in reliable mode, see wire.ts Notices) and
   * decode errors have no type: the kernel does not say which events they
   * were; latency_* are the event-to-output latency's median, 99th
   * percentile and maximum (latency.ts). Then each output's, after its
   * name (`output=NAME`): written (accepted by the output), skipped (not
   * taken: not in its `event`, or nothing to write for it), output_lost
   * (lost on the output side: a failed write, a closed pipe, a full queue,
   * a connection given up), output_waiting (in the output, neither yet).
   * So for each output, received = filtered + skipped + written +
   * output_lost + output_waiting + dropped + its format's share of
   * decode_errors, once nothing is on its way from the reader (at exit).
   */
  statsLine(): string {
    const c = this.counters();
    const part = (name: string, kinds: ArrayLike<number>) => {
      const t = perType(kinds);
      return `${name}=${total(kinds)} (new ${t.new} update ${t.update} destroy ${t.destroy})`;
    };
    const outputs = c.outputs.map(
      (o) =>
        ` output=${o.name} ${part('written', o.written)} ${part('skipped', o.skipped)} ${part('output_lost', o.outputLost)} output_waiting=${total(o.outputWaiting)}`,
    );
    return (
      `stats: ${part('received', c.received)} ${part('filtered', c.filtered)} ${part('dropped', c.dropped)}` +
      ` lost=${c.lost} undelivered=${c.undelivered} enobufs=${c.enobufs} decode_errors=${c.decodeErrors}` +
      ` latency_p50_us=${Math.round(c.latency.quantile(0.5))} latency_p99_us=${Math.round(c.latency.quantile(0.99))} latency_max_us=${Math.round(c.latency.max)}` +
      outputs.join('')
    );
  }

  /** Every counter now: what the stats line and the metrics show. */
  counters(): DaemonCounters {
    const t = this.captures.totals();
    const outputs: OutputCounters[] = this.routes.map(({ name, ledger }) => ({
      name,
      written: ledger.written,
      skipped: ledger.skipped,
      outputLost: ledger.lost,
      outputWaiting: ledger.waiting(),
      errors: ledger.errors,
    }));
    return {
      received: t.receivedByKind,
      filtered: t.filteredByKind,
      dropped: t.droppedByKind,
      lost: t.lost,
      undelivered: t.undelivered,
      enobufs: t.enobufs,
      decodeErrors: this.routes.reduce((n, r) => n + r.ledger.formatErrors, t.decodeErrors + this.formatErrorsGone),
      outputs,
      batches: t.batches,
      queued: t.queued,
      queueSize: this.config.queue_size,
      backlog: t.backlog,
      rcvbuf: t.rcvbuf,
      latency: this.latency,
      reload: this.lastReload,
    };
  }

  /** A metrics server on `c`'s metrics_listen, or none if it is empty. */
  private async serveMetrics(c: Config): Promise<MetricsServer | undefined> {
    const at = parseListen(c.metrics_listen);
    if (at === undefined) return undefined;
    const build: BuildInfo = { version: version(), node: process.versions.node, platform: platformPackage() };
    const server = await MetricsServer.start(
      c.metrics_listen,
      at,
      () => daemonFamilies(this.counters(), build),
      (m) => this.log.warn(m),
    );
    this.log.debug(`metrics: serving http://${c.metrics_listen}/metrics`);
    return server;
  }

  /** Stops reading, writes out everything received, closes the outputs. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      clearInterval(this.statsTimer);
      await this.captures.stop();
      await Promise.all(this.routes.map((r) => r.sink.close()));
      await this.metrics?.close();
      this.log.info(this.statsLine());
    })();
    return this.stopping;
  }

  /** Installs the signal handlers; resolves when the daemon has stopped. */
  run(): Promise<void> {
    return new Promise((resolve) => {
      const stop = () => {
        setTimeout(() => {
          // What the outputs still hold will not go out now: counted lost,
          // and the counters said once more.
          const n = this.routes.reduce((sum, r) => sum + r.ledger.abandon(), 0);
          this.log.error(`stop deadline passed; exiting with ${n} lines not written (counted in output_lost)`);
          this.log.info(this.statsLine());
          process.exit(EXIT.OK);
        }, STOP_DEADLINE_MS).unref();
        this.stop().then(resolve, resolve);
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      process.on('SIGHUP', () => this.reload());
      process.on('SIGUSR1', () => this.log.info(this.statsLine()));
      // The launcher's listeners go only now that these are on, so that
      // neither signal is ever left to its default action (the inspector,
      // the end of the process). What came during start is done now: the
      // config may have changed after it was read.
      const early = takeEarlySignals();
      if (early.has('SIGUSR1')) this.log.info(this.statsLine());
      if (early.has('SIGHUP')) this.reload();
      // Said once the signals are ours: a SIGHUP right after it reloads,
      // where before the handlers it would have ended the process.
      const c = this.config;
      const outputs = c.outputs.map((o) => `${o.name} (${o.output}, ${writtenAs(o)})`).join(', ');
      this.log.debug(`listening: events ${eventsOf(c).join(',')}, outputs ${outputs}, receive buffer ${this.captures.totals().rcvbuf} bytes`);
    });
  }
}

export { CaptureError };
