import { count, type KindCounts } from '../ledger.js';

/** Bytes of messages that may wait for the peer: about 65,000 event lines. */
export const QUEUE_LIMIT = 16 * 1024 * 1024;

/** Messages taken from a queue, with each one's kind (output/ledger.ts KINDS). */
export interface Run {
  msgs: Buffer[];
  kinds: number[];
}

/** Adds the kinds of `run`'s messages to `into`. */
export function countRun(into: KindCounts, run: Run): void {
  count(into, run.kinds);
}

/**
 * The messages waiting for the socket, oldest first, each as the bytes the
 * socket is handed and the kind of its line, bounded in bytes.
 * Taking from the front is O(1): a congested local socket takes a few at a
 * time from a long queue.
 */
export class Queue {
  private items: Buffer[] = [];
  private kinds: number[] = [];
  private head = 0;
  private held = 0;

  constructor(readonly limit = QUEUE_LIMIT) {}

  get length(): number {
    return this.items.length - this.head;
  }

  /** Bytes held, for the bound. */
  get bytes(): number {
    return this.held;
  }

  /** Adds a message at the end; false, leaving the queue as it was, when it would pass the bound. */
  push(msg: Buffer, kind: number): boolean {
    if (this.held + msg.length > this.limit) return false;
    this.items.push(msg);
    this.kinds.push(kind);
    this.held += msg.length;
    return true;
  }

  /** The first n, left in the queue: a send takes (with take) what went out. */
  peek(n: number): Buffer[] {
    return this.items.slice(this.head, this.head + n);
  }

  /** How many of the first messages fit, together, in `bytes`. */
  within(bytes: number): number {
    let n = 0;
    for (let sum = 0, i = this.head; i < this.items.length; i++, n++) {
      sum += this.items[i].length;
      if (sum > bytes) break;
    }
    return n;
  }

  /** Removes and returns the first n. */
  take(n: number): Run {
    let out: Run;
    if (this.head === 0 && n >= this.items.length) {
      out = { msgs: this.items, kinds: this.kinds };
      this.items = [];
      this.kinds = [];
    } else {
      const end = this.head + n;
      out = { msgs: this.items.slice(this.head, end), kinds: this.kinds.slice(this.head, end) };
      this.head = Math.min(end, this.items.length);
      // Let go of the taken slots once they are most of the array.
      if (this.head === this.items.length || (this.head > 1024 && this.head * 2 > this.items.length)) {
        this.items = this.items.slice(this.head);
        this.kinds = this.kinds.slice(this.head);
        this.head = 0;
      }
    }
    for (const m of out.msgs) this.held -= m.length;
    return out;
  }

  /**
   * Puts messages taken before back at the front, in order. The bound is
   * not checked: they were within it when they came.
   */
  putBack(run: Run): void {
    if (run.msgs.length === 0) return;
    this.items = run.msgs.concat(this.items.slice(this.head));
    this.kinds = run.kinds.concat(this.kinds.slice(this.head));
    this.head = 0;
    for (const m of run.msgs) this.held += m.length;
  }
}
