/**
 * One output as the daemon runs it: its config, which events it takes (its
 * `event`, and the event types its definition has something for), how it
 * writes each (encoder), where to (sink), and its own counts. The daemon
 * hands every event of a batch to each route, then each route's lines to
 * its sink: in one piece, or in pieces of about PIECE_BYTES when the
 * batch's lines are longer.
 */
import type { EventConfig, OutputConfig } from '../config.js';
import { EVENT_TYPES, type ConntrackEvent } from '../event.js';
import type { WireBatch } from '../wire.js';
import { LineWriter, makeFormatter } from '../format/index.js';
import type { Encoder, Opening } from './definition.js';
import { count, KINDS, type Ledger } from './ledger.js';
import { outputDefinition } from './registry.js';
import { allWrites, type EventSink, type Report } from './sink.js';

/** The keys a reload reopens the output's sink for (and `output`), as one comparable string. */
export function sinkKey(o: OutputConfig): string {
  const d = outputDefinition(o.output);
  const keys: readonly string[] = d.reopenedBy ?? Object.keys(d.keys);
  return JSON.stringify(Object.entries(o).filter(([key]) => key === 'output' || keys.includes(key)));
}

/** Which kinds (KINDS) the output takes: 1 at the kinds of its `event` that its definition has something for. */
function kindsTaken(o: OutputConfig): Uint8Array {
  const types = outputDefinition(o.output).types;
  return Uint8Array.from(KINDS, (k) => {
    const protos = o.event[k.type];
    // {} is every protocol.
    const taken = protos !== undefined && (Object.keys(protos).length === 0 || k.proto in protos);
    return types.includes(k.type) && taken ? 1 : 0;
  });
}

/**
 * Every event some output takes (its `event`, of the types its definition
 * has something for), the union of theirs: what the capture reads; the
 * kernel and the reader drop the rest.
 */
export function eventsTaken(outputs: readonly OutputConfig[]): EventConfig {
  const read: EventConfig = {};
  for (const t of EVENT_TYPES) {
    for (const o of outputs) {
      const protos = o.event[t];
      if (protos === undefined || !outputDefinition(o.output).types.includes(t)) continue;
      const kept = read[t];
      // {} is every protocol, and stays so.
      if (Object.keys(protos).length === 0 || (kept !== undefined && Object.keys(kept).length === 0)) read[t] = {};
      else read[t] = { ...kept, ...protos };
    }
  }
  return read;
}

const NEWLINE = 0x0a;

/** How the output wants each event: its own encoder (IPFIX's records), or the format's line and a newline. */
export function makeEncoder(o: OutputConfig): Encoder {
  const own = outputDefinition(o.output).encoder;
  if (own) return own(o);
  const format = makeFormatter(o);
  return (ev, w) => {
    format(ev, w);
    w.byte(NEWLINE);
    return true;
  };
}

/** What the output writes: the format's lines, or its own (IPFIX's records). */
export function writtenAs(o: OutputConfig): string {
  return outputDefinition(o.output).writesAs ?? o.format;
}

/** Opens output `o`; throws OutputError (exit 73) or ConfigError (78) if it cannot. */
export function openSink(o: OutputConfig, report: Report, ledger: Ledger, at: Opening): EventSink {
  return outputDefinition(o.output).open(o, report, ledger, at);
}

/**
 * Lines past this many bytes go to the sink before the batch ends. A
 * batch's lines are the memory of a flood's peak, held until the sink has
 * written them: 4,096 json lines are 4 MB in one piece, and that piece was
 * 5 MB of the 22 MB over Node's floor of `format: json` in bench scenario
 * a (docs/benchmarks.md, Memory). Pieces of this size still cost a flood
 * one write in hundreds of lines.
 */
export const PIECE_BYTES = 256 * 1024;

export class Route {
  readonly config: OutputConfig;
  private readonly encode: Encoder;
  private readonly taken: Uint8Array;
  /** The lines of the batch being written, and each one's kind. */
  private readonly lines = new LineWriter();
  private kinds = new Uint8Array(4096);
  private n = 0;
  /** The sink's backpressure for the pieces of this batch handed over so far. */
  private waits: Promise<void>[] = [];

  constructor(
    config: OutputConfig,
    readonly sink: EventSink,
    /** Its counts: a reload that rebuilds the route keeps them. */
    readonly ledger: Ledger,
    /** Said when an event cannot be written: one line each. */
    private readonly report: Report,
  ) {
    this.config = config;
    this.encode = makeEncoder(config);
    this.taken = kindsTaken(config);
  }

  get name(): string {
    return this.config.name;
  }

  /** Writes event `ev` of kind `kind` (of `wire`, at it) into the batch's lines, if the output takes it. */
  add(ev: ConntrackEvent, kind: number, wire: WireBatch): void {
    if (this.taken[kind] === 0) {
      this.ledger.skipped[kind]++;
      return;
    }
    const w = this.lines;
    const mark = w.length;
    try {
      if (!this.encode(ev, w, wire)) {
        this.ledger.skipped[kind]++;
        return;
      }
    } catch (e) {
      // An event no format can print is counted like an undecodable
      // message: reported, never fatal, the rest of the batch goes on.
      w.truncate(mark);
      this.ledger.formatErrors++;
      this.report.warn(`event ${ev.id ?? '?'} could not be formatted: ${(e as Error).message}`);
      return;
    }
    if (this.n === this.kinds.length) {
      const more = new Uint8Array(2 * this.n);
      more.set(this.kinds);
      this.kinds = more;
    }
    this.kinds[this.n++] = kind;
    if (w.length >= PIECE_BYTES) this.hand();
  }

  /**
   * Hands the rest of the batch's lines to the sink. Returns the sink's
   * backpressure for any piece of the batch, if any.
   */
  flush(): void | Promise<void> {
    if (this.n > 0) this.hand();
    if (this.waits.length === 0) return;
    const waits = this.waits;
    this.waits = [];
    return allWrites(waits);
  }

  /** Hands the lines written since the last piece to the sink. */
  private hand(): void {
    const { bytes, done } = this.lines.take();
    // A copy: the sink may hold the lines after this batch.
    const kinds = this.kinds.slice(0, this.n);
    this.n = 0;
    count(this.ledger.handed, kinds);
    const wait = this.sink.write({ bytes, kinds }, done);
    if (wait) this.waits.push(wait);
  }
}
