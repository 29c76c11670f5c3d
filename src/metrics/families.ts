/**
 * What ctlogd's metrics say: the daemon's counters (the stats line's, by
 * the same names), as Prometheus metric families. Counters kept per event
 * type and protocol class carry both as labels (`type`, `proto`), and an
 * output's its name (`output`); what the
 * kernel reports without saying which events (lost, undelivered, ENOBUFS,
 * decode errors) has no labels. Built when scraped, never per event.
 */
import { readdirSync } from 'node:fs';
import { LATENCY_BOUNDS_US, type Latency } from '../latency.js';
import { KINDS } from '../output/ledger.js';
import type { Family, Labels, Sample } from './exposition.js';

/** Every counter of the daemon, as the stats line and the metrics show them. */
export interface DaemonCounters {
  /** Per kind (output/ledger.ts KINDS): decoded by the reader. */
  received: ArrayLike<number>;
  /** Per kind: dropped by the config's filter. */
  filtered: ArrayLike<number>;
  /** Per kind: read but never handed over (the outputs were gone at shutdown). */
  dropped: ArrayLike<number>;
  lost: number;
  undelivered: number;
  enobufs: number;
  /** Messages the reader could not decode, and events no format could print. */
  decodeErrors: number;
  /** Each output's own. */
  outputs: readonly OutputCounters[];
  batches: number;
  /** Events handed over by the reader and not yet written or dropped. */
  queued: number;
  queueSize: number;
  /** Bytes waiting in the kernel socket's receive buffer. */
  backlog: number;
  rcvbuf: number;
  latency: Latency;
  reload: LastReload;
}

/** One output's counters, by its name. */
export interface OutputCounters {
  name: string;
  /** Per kind: accepted by the output. */
  written: ArrayLike<number>;
  /** Per kind: not taken (not in its `event`, or nothing to write for it). */
  skipped: ArrayLike<number>;
  /** Per kind: lost on the output side. */
  outputLost: ArrayLike<number>;
  /** Per kind: in the output, neither written nor lost yet. */
  outputWaiting: ArrayLike<number>;
  /** Output errors by cause. */
  errors: ReadonlyMap<string, number>;
}

/** The config's last load: at start, or the last SIGHUP. */
export interface LastReload {
  /** When, in seconds since the epoch. */
  at: number;
  ok: boolean;
  /** Reloads since start, by result. */
  succeeded: number;
  failed: number;
}

export interface BuildInfo {
  version: string;
  node: string;
  /** The native addon's platform package. */
  platform: string;
}

/** Each kind's labels, the same objects every scrape (exposition.ts keeps their text). */
const KIND_LABELS: readonly Labels[] = KINDS.map((k) => ({ type: k.type, proto: k.proto }));

function perKind(counts: ArrayLike<number>): Sample[] {
  return KIND_LABELS.map((labels, i) => ({ labels, value: counts[i] ?? 0 }));
}

/** Per output and kind: each output's counts (`of`), labelled with its name. */
function perOutput(outputs: readonly OutputCounters[], of: (o: OutputCounters) => ArrayLike<number>): Sample[] {
  return outputs.flatMap((o) => {
    const counts = of(o);
    return KIND_LABELS.map((k, i) => ({ labels: { output: o.name, ...k }, value: counts[i] ?? 0 }));
  });
}

const one = (value: number, labels?: Labels): Sample[] => [{ labels, value }];

/** The latency histogram in seconds, its buckets cumulative. */
function latencySample(l: Latency) {
  let seen = 0;
  const buckets = LATENCY_BOUNDS_US.map((bound, i) => {
    seen += l.counts[i];
    return { le: bound / 1e6, count: seen };
  });
  return { buckets, count: l.total, sum: l.sum / 1e6 };
}

/** The process's own, as Prometheus clients name them. */
function processFamilies(): Family[] {
  const cpu = process.cpuUsage();
  let fds = 0;
  try {
    // Less the one readdir itself has open.
    fds = readdirSync('/proc/self/fd').length - 1;
  } catch {
    // No /proc: the family stays 0.
  }
  return [
    { name: 'process_cpu_seconds', type: 'counter', help: 'User and system CPU time spent, in seconds.', samples: one((cpu.user + cpu.system) / 1e6) },
    { name: 'process_resident_memory_bytes', type: 'gauge', help: 'Resident memory size in bytes.', samples: one(process.memoryUsage.rss()) },
    {
      name: 'process_start_time_seconds',
      type: 'gauge',
      help: 'Start time of the process since the epoch, in seconds.',
      samples: one(Math.round(Date.now() / 1000 - process.uptime())),
    },
    { name: 'process_open_fds', type: 'gauge', help: 'Open file descriptors.', samples: one(fds) },
  ];
}

export function daemonFamilies(c: DaemonCounters, build: BuildInfo): Family[] {
  const counter = (name: string, help: string, samples: Sample[]): Family => ({ name, type: 'counter', help, samples });
  const gauge = (name: string, help: string, samples: Sample[]): Family => ({ name, type: 'gauge', help, samples });
  return [
    counter('ctlogd_events_received', 'Events decoded by the reader (stats: received).', perKind(c.received)),
    counter(
      'ctlogd_events_filtered',
      "Events the config's filters dropped after reading; what the kernel's socket filter drops is never read, nor counted (stats: filtered).",
      perKind(c.filtered),
    ),
    counter(
      'ctlogd_events_written',
      'Event lines the output accepted (stats: written).',
      perOutput(c.outputs, (o) => o.written),
    ),
    counter(
      'ctlogd_events_skipped',
      'Events the output did not take: not in its `event`, or nothing to write for them (IPFIX: no record) (stats: skipped).',
      perOutput(c.outputs, (o) => o.skipped),
    ),
    counter(
      'ctlogd_events_output_lost',
      'Event lines lost on the output side: a failed write, a closed pipe, a full queue, a connection given up (stats: output_lost).',
      perOutput(c.outputs, (o) => o.outputLost),
    ),
    gauge(
      'ctlogd_events_output_waiting',
      'Event lines in the output, neither written nor lost yet (stats: output_waiting).',
      perOutput(c.outputs, (o) => o.outputWaiting),
    ),
    counter('ctlogd_events_dropped', 'Events read but never handed to the outputs: they were gone at shutdown (stats: dropped).', perKind(c.dropped)),
    counter('ctlogd_events_lost', "Events the kernel dropped: the socket's receive buffer was full (stats: lost).", one(c.lost)),
    counter(
      'ctlogd_events_undelivered',
      'Reliable mode: deliveries the kernel could not make, the buffer being full; DESTROY events are retried (stats: undelivered).',
      one(c.undelivered),
    ),
    counter('ctlogd_enobufs', 'ENOBUFS errors: times the kernel found the receive buffer full (stats: enobufs).', one(c.enobufs)),
    counter('ctlogd_decode_errors', 'Kernel messages that could not be decoded, and events no format could print (stats: decode_errors).', one(c.decodeErrors)),
    counter(
      'ctlogd_output_errors',
      'Output errors by cause (an errno name where there is one): failed writes, connections and sends.',
      c.outputs.flatMap((o) => [...o.errors].map(([cause, value]) => ({ labels: { output: o.name, cause }, value }))),
    ),
    counter('ctlogd_batches', 'Batches the reader handed over.', one(c.batches)),
    gauge('ctlogd_queue_events', 'Events read and not yet written out or dropped: the queue between the reader and the output.', one(c.queued)),
    gauge('ctlogd_queue_capacity_events', 'The bound on that queue (queue_size): past it the reader pauses.', one(c.queueSize)),
    gauge('ctlogd_socket_backlog_bytes', "Bytes waiting in the kernel socket's receive buffer, not yet read.", one(c.backlog)),
    gauge('ctlogd_socket_receive_buffer_bytes', "The kernel socket's receive buffer size, as the kernel granted it.", one(c.rcvbuf)),
    {
      name: 'ctlogd_event_latency_seconds',
      type: 'histogram',
      help: "From the kernel's event time to the line handed to the output; each batch's lines count as old as its oldest.",
      samples: [latencySample(c.latency)],
    },
    gauge('ctlogd_config_last_reload_successful', 'Whether the last config load (start or SIGHUP) was applied.', one(c.reload.ok ? 1 : 0)),
    gauge('ctlogd_config_last_reload_timestamp_seconds', 'When the config was last loaded (start or SIGHUP), since the epoch.', one(c.reload.at)),
    counter('ctlogd_config_reloads', 'Reloads (SIGHUP) by result.', [
      { labels: { result: 'success' }, value: c.reload.succeeded },
      { labels: { result: 'failure' }, value: c.reload.failed },
    ]),
    { name: 'ctlogd_build', type: 'info', help: 'The version of ctlogd, of Node.js and the native addon platform.', labels: { ...build } },
    ...processFamilies(),
  ];
}
