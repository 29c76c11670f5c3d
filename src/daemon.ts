/**
 * The service: a capture, the config's filter and format, and the output,
 * with the signals an operator uses. SIGTERM/SIGINT stop reading, write out
 * every event already received, and exit 0. SIGHUP re-reads the config and
 * applies it on the same socket; a bad new config is reported and the old
 * one kept.
 */
import { readFileSync } from 'node:fs';
import { Capture, CaptureError } from './capture.js';
import { loadConfig, type Config, type LoadOptions } from './config.js';
import type { ConntrackEvent } from './event.js';
import { compileFilter, subscribedTypes, type Filter } from './filter.js';
import { makeFormatter, type Formatter } from './format/index.js';
import { diagnostics, stdoutSink, type Diagnostics, type EventSink } from './output.js';
import type { Notices } from './wire.js';

/** Exit codes (sysexits.h). */
export const EXIT = { OK: 0, USAGE: 64, SOFTWARE: 70, NOPERM: 77, CONFIG: 78 } as const;

/** SIGTERM must end the process within 2 s even if an output hangs. */
const STOP_DEADLINE_MS = 1800;

interface Pipeline {
  config: Config;
  filter: Filter;
  format: Formatter;
}

function pipeline(config: Config): Pipeline {
  return { config, filter: compileFilter(config.event), format: makeFormatter(config) };
}

export class Daemon {
  private p: Pipeline;
  private capture?: Capture;
  private stopping?: Promise<void>;
  /** Events the filter dropped, and lines written. */
  readonly counts = { filtered: 0, written: 0 };
  private formatErrors = 0;

  constructor(
    private readonly loadOpts: LoadOptions,
    config: Config,
    private readonly out: EventSink = stdoutSink(),
    private readonly log: Diagnostics = diagnostics(config.logLevel),
  ) {
    this.p = pipeline(config);
  }

  async start(): Promise<void> {
    const c = this.p.config;
    this.warnTimestampSysctl(c);
    this.capture = await Capture.start(
      {
        events: subscribedTypes(c.event),
        rcvbuf: c.receiveBuffer,
        queueSize: c.queueSize,
        reliable: c.reliable,
      },
      (events, notices) => this.onBatch(events, notices),
    );
    this.log.debug(`listening: events ${subscribedTypes(c.event).join(',')}, format ${c.format}, receive buffer ${this.capture.stats().rcvbuf} bytes`);
  }

  private onBatch(events: ConntrackEvent[], notices: Notices): void {
    const { filter, format } = this.p;
    const lines: string[] = [];
    for (const ev of events) {
      if (!filter(ev)) {
        this.counts.filtered++;
        continue;
      }
      try {
        lines.push(format(ev));
      } catch (e) {
        // An event no format can print is counted like an undecodable
        // message: reported, never fatal, the rest of the batch goes on.
        this.formatErrors++;
        this.log.warn(`event ${ev.id ?? '?'} could not be formatted: ${(e as Error).message}`);
      }
    }
    this.counts.written += lines.length;
    this.out.write(lines);
    this.report(notices);
  }

  /** Loss is never silent: each batch's notices become one warning line. */
  private report(n: Notices): void {
    if (n.lost > 0 || n.enobufs > 0) {
      this.log.warn(`kernel overflow: ${n.lost} events lost (receive buffer full, ENOBUFS ${n.enobufs}x); raise receive_buffer`);
    }
    if (n.dropped > 0) this.log.warn(`queue full: ${n.dropped} events dropped; raise queue_size or use a faster output`);
    if (n.decodeErrors > 0) {
      this.log.warn(`${n.decodeErrors} messages could not be decoded (last: ${this.capture?.stats().lastError ?? 'unknown'})`);
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

  /** SIGHUP: apply a new config on the same socket, or keep the old one. */
  reload(): void {
    let next: Config;
    try {
      next = loadConfig(this.loadOpts);
    } catch (e) {
      this.log.error(`reload refused, keeping the running config: ${(e as Error).message}`);
      return;
    }
    try {
      this.capture?.setEvents(subscribedTypes(next.event));
    } catch (e) {
      this.log.error(`reload failed to change event groups, keeping the running config: ${(e as Error).message}`);
      return;
    }
    this.p = pipeline(next);
    this.log.info('configuration reloaded');
  }

  /** One line with every counter since start; `received` counts what the native reader decoded. */
  statsLine(): string {
    const s = this.capture?.stats();
    const c = this.counts;
    return (
      `stats: received=${s?.received ?? 0} filtered=${c.filtered} written=${c.written}` +
      ` dropped=${s?.dropped ?? 0} lost=${s?.lost ?? 0} enobufs=${s?.enobufs ?? 0}` +
      ` decode_errors=${(s?.decodeErrors ?? 0) + this.formatErrors}`
    );
  }

  /** Stops reading, writes out everything received, closes the output. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.capture?.stop();
      await this.out.close();
      this.log.info(this.statsLine());
    })();
    return this.stopping;
  }

  /** Installs the signal handlers; resolves when the daemon has stopped. */
  run(): Promise<void> {
    return new Promise((resolve) => {
      const stop = () => {
        setTimeout(() => {
          this.log.error('stop deadline passed; exiting with output not fully flushed');
          process.exit(EXIT.OK);
        }, STOP_DEADLINE_MS).unref();
        this.stop().then(resolve, resolve);
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      process.on('SIGHUP', () => this.reload());
      // Also keeps SIGUSR1 from opening Node's inspector in a daemon.
      process.on('SIGUSR1', () => this.log.info(this.statsLine()));
    });
  }
}

export { CaptureError };
