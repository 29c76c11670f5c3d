/**
 * The service: a capture (the reader holds the config's filters), the
 * format and the output, with the signals an operator uses.
 * - SIGTERM/SIGINT: stop reading, write out every event already received,
 *   exit 0 (within 2 s, whatever the output does).
 * - SIGHUP: re-read the config and apply it on the same socket (groups,
 *   filters, format, queue, buffer, output); a file output is reopened; a
 *   bad new config is reported and the old one kept.
 * - SIGUSR1: print the counters (also every stats_interval, and at exit).
 * With metrics_listen, the same counters are served to Prometheus.
 */
import { readFileSync, statSync } from 'node:fs';
import { Capture, CaptureError, type CaptureOptions } from './capture.js';
import { Captures } from './captures.js';
import { ConfigError, loadConfigAsync, netnsPath, parseListen, type Config, type LoadOptions } from './config.js';
import { filterOptions } from './conntrack-filter.js';
import { takeEarlySignals } from './early-signals.js';
import { echo } from './echo.js';
import type { EventType } from './event.js';
import { Latency, nowUs } from './latency.js';
import { protocolSets, subscribedTypes } from './filter.js';
import { LineWriter } from './format/index.js';
import { daemonFamilies, type BuildInfo, type DaemonCounters, type LastReload } from './metrics/families.js';
import { MetricsServer } from './metrics/server.js';
import { platformPackage } from './native.js';
import {
  count,
  diagnostics,
  kindCounts,
  kindOf,
  Ledger,
  makeEncoder,
  makeSink,
  outputKey,
  outputTypes,
  perType,
  total,
  type Diagnostics,
  type Encoder,
  type EventSink,
  writtenAs,
} from './output/index.js';
import { PermissionHints } from './permissions.js';
import { version } from './version.js';
import type { Notices, WireBatch } from './wire.js';

/** Exit codes (sysexits.h). */
export const EXIT = { OK: 0, USAGE: 64, UNAVAILABLE: 69, SOFTWARE: 70, CANTCREAT: 73, NOPERM: 77, CONFIG: 78 } as const;

/** SIGTERM must end the process within 2 s even if an output hangs. */
const STOP_DEADLINE_MS = 1800;

interface Pipeline {
  config: Config;
  encode: Encoder;
  sink: EventSink;
}

/** The event types subscribed: those the config asks for that the output has something for. */
function eventsOf(c: Config): EventType[] {
  const takes = outputTypes(c);
  return subscribedTypes(c.event).filter((t) => takes.includes(t));
}

/** The capture's settings from the config, for start and reload alike. */
function captureOptions(c: Config): CaptureOptions {
  return {
    events: eventsOf(c),
    rcvbuf: c.receive_buffer,
    queueSize: c.queue_size,
    reliable: c.reliable,
    protocols: protocolSets(c.event),
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
  private p: Pipeline;
  private readonly captures = new Captures();
  private stopping?: Promise<void>;
  /** The reload running, and whether a SIGHUP came during it. */
  private reloading?: Promise<void>;
  private reloadAgain = false;
  private statsTimer?: NodeJS.Timeout;
  /** Per kind (type and protocol class): events the output had nothing for (an UPDATE read before a reload made the output IPFIX); the reader counts what its filter dropped. */
  readonly filtered = kindCounts();
  /** What became of the lines handed to the output, whichever output it was. */
  readonly ledger = new Ledger();
  private formatErrors = 0;
  /** The config's last load; the one at start is the first. */
  private lastReload: LastReload = { at: Math.round(Date.now() / 1000), ok: true, succeeded: 0, failed: 0 };
  private metrics?: MetricsServer;
  /** From the kernel's event time to the output, per event handed to it. */
  readonly latency = new Latency();
  private readonly log: Diagnostics;
  /** Where each batch's lines are written, as bytes, before they go out in one piece. */
  private readonly lines = new LineWriter();
  /** The kind of each line of the batch being written (output/ledger.ts KINDS). */
  private kinds = new Uint8Array(4096);
  /** Files others may write or read: warned of at start, and on reload if changed. */
  private readonly hints = new PermissionHints();

  /** Opens the output; throws OutputError (exit 73) if it cannot. */
  constructor(
    private readonly loadOpts: LoadOptions,
    config: Config,
  ) {
    this.log = diagnostics(config.log_level);
    this.p = this.pipeline(config);
  }

  private pipeline(config: Config, sink?: EventSink): Pipeline {
    return {
      config,
      encode: makeEncoder(config),
      sink: sink ?? makeSink(config, this.log, this.ledger),
    };
  }

  /**
   * Starts the metrics server (throws MetricsError, exit 73, if it cannot
   * listen), then the capture (ConfigError, exit 78, if netns names no
   * namespace).
   */
  async start(): Promise<void> {
    const c = this.p.config;
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
   * Writes the lines of one batch and hands them to the output in one
   * piece. Returns the output's backpressure, if any: the capture waits for it.
   */
  private onBatch(batch: WireBatch): void | Promise<void> {
    const { encode, sink } = this.p;
    const filtered = this.filtered;
    const w = this.lines;
    let n = 0;
    // One reused event object: nothing of an event outlives its line.
    let ev = batch.next();
    /** The batch's first event's time, µs: the oldest, as events come in the kernel's order. */
    const oldest = ev === undefined ? 0 : Number((ev.eventTime ?? ev.time) / 1000n);
    for (; ev !== undefined; ev = batch.next()) {
      const kind = kindOf(ev);
      const mark = w.length;
      try {
        if (!encode(ev, w)) {
          filtered[kind]++;
          continue;
        }
        if (n === this.kinds.length) {
          const more = new Uint8Array(2 * n);
          more.set(this.kinds);
          this.kinds = more;
        }
        this.kinds[n++] = kind;
      } catch (e) {
        // An event no format can print is counted like an undecodable
        // message: reported, never fatal, the rest of the batch goes on.
        w.truncate(mark);
        this.formatErrors++;
        this.log.warn(`event ${ev.id ?? '?'} could not be formatted: ${(e as Error).message}`);
      }
    }
    this.report(batch.notices);
    if (w.length === 0) return;
    const { bytes, done } = w.take();
    // A copy: the output may hold the lines after this batch.
    const kinds = this.kinds.slice(0, n);
    count(this.ledger.handed, kinds);
    // Every line of the batch counts as old as its oldest: an upper bound, for the cost of one clock read per batch.
    this.latency.add(nowUs() - oldest, n);
    return sink.write({ bytes, kinds }, done);
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
    const s = this.p.config.stats_interval;
    if (s > 0) this.statsTimer = setInterval(() => this.log.info(this.statsLine()), s * 1000).unref();
  }

  /**
   * SIGHUP: apply a new config on the same socket, or keep the old one
   * whole. A new output is opened before the old one is closed, so no line
   * is lost; an unchanged file output is reopened (logrotate). The file is
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
    let sink: EventSink | undefined;
    const old = this.p;
    try {
      next = await loadConfigAsync(this.loadOpts);
      // Stopped while the file was read: nothing is left to apply it to.
      if (this.stopping) return undefined;
      if (outputKey(next) !== outputKey(old.config)) sink = makeSink(next, this.log, this.ledger);
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
      void sink?.close();
      void metrics?.close();
      return false;
    }
    if (movesMetrics) {
      void this.metrics?.close();
      this.metrics = metrics;
    }
    if (capture) this.captures.adopt(capture);
    this.p = this.pipeline(next, sink ?? old.sink);
    const kept = sink ? undefined : old.sink.reopen();
    if (sink) void old.sink.close();
    this.log.level = next.log_level;
    this.armStats();
    for (const w of this.hints.check(this.loadOpts.path, next)) this.log.warn(w);
    if (kept) this.log.warn(`configuration reloaded, but the output was not reopened: ${kept}`);
    else this.log.info('configuration reloaded');
    return true;
  }

  /**
   * One line with every counter since start, totals then per type:
   * received (decoded by the reader), filtered (dropped by the reader's
   * filter after decoding, or that the output had nothing for), written (accepted by the output), output_lost (lost on the
   * output side: a failed write, a closed pipe, a full queue, a connection
   * given up), output_waiting (in the output, neither yet), dropped (read
   * but never handed over: the output side was gone at shutdown); lost
   * (kernel overflow), undelivered (kernel overflow in reliable mode, see
   * wire.ts Notices) and decode errors have no type: the kernel does not
   * say which events they were; latency_* are the event-to-output
   * latency's median, 99th percentile and maximum (latency.ts). So received = filtered + written +
   * output_lost + output_waiting + dropped + the format's share of
   * decode_errors, once nothing is on its way from the reader (at exit).
   */
  statsLine(): string {
    const c = this.counters();
    const part = (name: string, kinds: ArrayLike<number>) => {
      const t = perType(kinds);
      return `${name}=${total(kinds)} (new ${t.new} update ${t.update} destroy ${t.destroy})`;
    };
    return (
      `stats: ${part('received', c.received)} ${part('filtered', c.filtered)} ${part('written', c.written)}` +
      ` ${part('output_lost', c.outputLost)} output_waiting=${total(c.outputWaiting)}` +
      ` ${part('dropped', c.dropped)} lost=${c.lost} undelivered=${c.undelivered} enobufs=${c.enobufs}` +
      ` decode_errors=${c.decodeErrors}` +
      ` latency_p50_us=${Math.round(c.latency.quantile(0.5))} latency_p99_us=${Math.round(c.latency.quantile(0.99))} latency_max_us=${Math.round(c.latency.max)}`
    );
  }

  /** Every counter now: what the stats line and the metrics show. */
  counters(): DaemonCounters {
    const t = this.captures.totals();
    return {
      received: t.receivedByKind,
      filtered: t.filteredByKind.map((n, k) => n + this.filtered[k]),
      written: this.ledger.written,
      outputLost: this.ledger.lost,
      outputWaiting: this.ledger.waiting(),
      dropped: t.droppedByKind,
      lost: t.lost,
      undelivered: t.undelivered,
      enobufs: t.enobufs,
      decodeErrors: t.decodeErrors + this.formatErrors,
      outputErrors: this.ledger.errors,
      batches: t.batches,
      queued: t.queued,
      queueSize: this.p.config.queue_size,
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

  /** Stops reading, writes out everything received, closes the output. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      clearInterval(this.statsTimer);
      await this.captures.stop();
      await this.p.sink.close();
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
          // What the output still holds will not go out now: counted lost,
          // and the counters said once more.
          const n = this.ledger.abandon();
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
      const c = this.p.config;
      this.log.debug(
        `listening: events ${eventsOf(c).join(',')}, format ${writtenAs(c)}, output ${c.output}, receive buffer ${this.captures.totals().rcvbuf} bytes`,
      );
    });
  }
}

export { CaptureError };
