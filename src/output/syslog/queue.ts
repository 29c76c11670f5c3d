/** Bytes of messages that may wait for the peer: about 65,000 event lines. */
export const QUEUE_LIMIT = 16 * 1024 * 1024;

/**
 * The messages waiting for the socket, oldest first, each as the bytes the
 * socket is handed, and bounded in bytes. Taking from the front is O(1): a
 * congested local socket takes a few at a time from a long queue.
 */
export class Queue {
  private items: Buffer[] = [];
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
  push(msg: Buffer): boolean {
    if (this.held + msg.length > this.limit) return false;
    this.items.push(msg);
    this.held += msg.length;
    return true;
  }

  /** The first n, left in the queue: a send takes (with take) what went out. */
  peek(n: number): Buffer[] {
    return this.items.slice(this.head, this.head + n);
  }

  /** Removes and returns the first n. */
  take(n: number): Buffer[] {
    let out: Buffer[];
    if (this.head === 0 && n === this.items.length) {
      out = this.items;
      this.items = [];
    } else {
      out = this.items.slice(this.head, this.head + n);
      this.head += n;
      // Let go of the taken slots once they are most of the array.
      if (this.head === this.items.length || (this.head > 1024 && this.head * 2 > this.items.length)) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
    }
    for (const m of out) this.held -= m.length;
    return out;
  }

  /**
   * Puts messages taken before back at the front, in order. The bound is
   * not checked: they were within it when they came.
   */
  putBack(msgs: Buffer[]): void {
    if (msgs.length === 0) return;
    this.items = msgs.concat(this.items.slice(this.head));
    this.head = 0;
    for (const m of msgs) this.held += m.length;
  }
}
