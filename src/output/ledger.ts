/**
 * What became of the lines handed to the outputs, by event type and
 * protocol class (a line's kind): written (the output accepted them: the
 * file or pipe took the bytes, a datagram socket took the message, a TCP
 * peer acknowledged it), lost on the output side (a failed write, a closed
 * pipe, a full queue, a connection that died or was given up with them
 * unsent), or still waiting in the output; and the output's errors, by
 * cause. Each output has its own (Ledger), counted where it knows.
 */
import { EVENT_TYPES, type ConntrackEvent, type EventType } from '../event.js';
import { PROTOCOL_CLASSES, protocolClassIndex, type ProtocolClass } from '../event-selection.js';

/**
 * The lines of one batch: `bytes` holds whole lines, each ending in a
 * newline; `kinds[i]` is line i's kind (KINDS).
 */
export interface Lines {
  bytes: Buffer;
  kinds: Uint8Array;
}

/**
 * Every event type with every protocol class, type-major: a kind is its
 * index here. The native reader counts in the same order (ctlog-core
 * bpf::kind_of), so its per-kind counters read the same way.
 */
export const KINDS: readonly { type: EventType; proto: ProtocolClass }[] = EVENT_TYPES.flatMap((type) => PROTOCOL_CLASSES.map((proto) => ({ type, proto })));

const TYPE_INDEX = Object.fromEntries(EVENT_TYPES.map((t, i) => [t, i])) as Readonly<Record<EventType, number>>;

/** An event's kind: its place in KINDS. */
export function kindOf(ev: ConntrackEvent): number {
  return TYPE_INDEX[ev.type] * PROTOCOL_CLASSES.length + protocolClassIndex(ev.proto);
}

/** A count per kind, in KINDS order. */
export type KindCounts = Float64Array;

export const kindCounts = (): KindCounts => new Float64Array(KINDS.length);

/** The counts per event type of counts per kind (`c`, in KINDS order: the ledger's or the reader's). */
export function perType(c: ArrayLike<number>): Record<EventType, number> {
  const out = { new: 0, update: 0, destroy: 0 };
  for (let k = 0; k < KINDS.length; k++) out[KINDS[k].type] += c[k];
  return out;
}

/** Adds lines `from` to `to` of `kinds` to `into`. */
export function count(into: KindCounts, kinds: ArrayLike<number>, from = 0, to = kinds.length): void {
  for (let i = from; i < to; i++) into[kinds[i]]++;
}

export function total(c: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < c.length; i++) n += c[i];
  return n;
}

/** One output's account. */
export class Ledger {
  /** Events the output did not take: not in its `event`, or it has nothing to write for them (IPFIX: an event without a record). */
  readonly skipped = kindCounts();
  /** Events its format could not print (counted in decode_errors). */
  formatErrors = 0;
  /** Lines the daemon handed to the output. */
  readonly handed = kindCounts();
  /** Lines an output accepted. */
  readonly written = kindCounts();
  /** Lines lost on the output side. */
  readonly lost = kindCounts();
  /** Output errors (a failed write, connection or send), by cause: an errno name where there is one. */
  readonly errors = new Map<string, number>();

  /** An output error: one failed write, connection or send. */
  error(cause: string): void {
    this.errors.set(cause, (this.errors.get(cause) ?? 0) + 1);
  }

  /** Lines handed and neither written nor lost yet: waiting in an output. */
  waiting(): KindCounts {
    const w = kindCounts();
    for (let k = 0; k < w.length; k++) w[k] = this.handed[k] - this.written[k] - this.lost[k];
    return w;
  }

  /**
   * The stop deadline passed with lines still waiting: they will not be
   * written now, so they are counted lost. Returns how many.
   */
  abandon(): number {
    const w = this.waiting();
    for (let k = 0; k < w.length; k++) this.lost[k] += w[k];
    return total(w);
  }
}
