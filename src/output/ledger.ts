/**
 * What became of the lines handed to the outputs, by event type: written
 * (the output accepted them: the file or pipe took the bytes, a datagram
 * socket took the message, a TCP peer acknowledged it), lost on the output
 * side (a failed write, a closed pipe, a full queue, a connection that
 * died or was given up with them unsent), or still waiting in the output.
 * Each output counts where it knows; the daemon shows the sums.
 */
import { EVENT_TYPES, type EventType } from '../event.js';

/**
 * The lines of one batch: `bytes` holds whole lines, each ending in a
 * newline; `types[i]` is line i's event type, as its index in EVENT_TYPES.
 */
export interface Lines {
  bytes: Buffer;
  types: Uint8Array;
}

/** Per event type, in EVENT_TYPES order. */
export type TypeCounts = Float64Array;

export const typeCounts = (): TypeCounts => new Float64Array(EVENT_TYPES.length);

/** An event type's index in EVENT_TYPES, the `types` of Lines. */
export const TYPE_INDEX = Object.fromEntries(EVENT_TYPES.map((t, i) => [t, i])) as Readonly<Record<EventType, number>>;

/** Adds lines `from` to `to` of `types` to `into`. */
export function count(into: TypeCounts, types: ArrayLike<number>, from = 0, to = types.length): void {
  for (let i = from; i < to; i++) into[types[i]]++;
}

export const total = (c: TypeCounts): number => c.reduce((a, n) => a + n, 0);

export class Ledger {
  /** Lines the daemon handed to an output. */
  readonly handed = typeCounts();
  /** Lines an output accepted. */
  readonly written = typeCounts();
  /** Lines lost on the output side. */
  readonly lost = typeCounts();

  /** Lines handed and neither written nor lost yet: waiting in an output. */
  waiting(): TypeCounts {
    const w = typeCounts();
    for (let t = 0; t < w.length; t++) w[t] = this.handed[t] - this.written[t] - this.lost[t];
    return w;
  }

  /**
   * The stop deadline passed with lines still waiting: they will not be
   * written now, so they are counted lost. Returns how many.
   */
  abandon(): number {
    const w = this.waiting();
    for (let t = 0; t < w.length; t++) this.lost[t] += w[t];
    return total(w);
  }
}
