/**
 * Lines written straight into bytes. The formats append to a LineWriter
 * and each batch leaves as one Buffer: no string per line, no join, no
 * UTF-8 encoding pass, and so almost nothing for the garbage collector at
 * 100,000 events a second.
 *
 * The bytes of a batch are handed out with take() and stay untouched until
 * the output calls their `done`; then their memory is written over again.
 */
import type { Time } from '../event.js';

/** Bytes handed out in one piece, and how to give them back. */
export interface Chunk {
  bytes: Buffer;
  /** Call once `bytes` is written out (or thrown away): the memory is reused. */
  done: () => void;
}

interface Slab {
  buf: Buffer;
  /** Chunks of this slab handed out and not yet done. */
  out: number;
}

const SLAB_BYTES = 1 << 20;
/** "00" to "99" as bytes: the digit pair of i at 2i. */
const DIGIT_PAIRS = Uint8Array.from({ length: 200 }, (_, i) => 48 + (i & 1 ? (i >> 1) % 10 : Math.floor((i >> 1) / 10)));

export class LineWriter {
  private slab: Slab;
  private buf: Buffer;
  private pos = 0;
  /** Where the bytes not yet taken begin. */
  private start = 0;
  /** Whole slabs whose chunks are all done, ready to be written over. */
  private readonly free: Slab[] = [];

  constructor(private slabBytes = SLAB_BYTES) {
    this.slab = { buf: Buffer.allocUnsafeSlow(slabBytes), out: 0 };
    this.buf = this.slab.buf;
  }

  /** Bytes written since the last take(). */
  get length(): number {
    return this.pos - this.start;
  }

  /** Forgets everything written after the first `length` bytes. */
  truncate(length: number): void {
    this.pos = this.start + length;
  }

  /** The bytes written since the last take(), as text; for tests and the string formatters. */
  text(): string {
    return this.buf.toString('utf8', this.start, this.pos);
  }

  /** Hands out the bytes written since the last take(). */
  take(): Chunk {
    const slab = this.slab;
    const bytes = this.buf.subarray(this.start, this.pos);
    this.start = this.pos;
    slab.out++;
    let given = false;
    return {
      bytes,
      done: () => {
        if (given) return;
        given = true;
        slab.out--;
        if (slab.out === 0 && slab !== this.slab && slab.buf.length === this.slabBytes && this.free.length < 2) this.free.push(slab);
      },
    };
  }

  /** Bytes made once by ascii(): copying them is several times faster than reading a string's characters. */
  bytes(t: Uint8Array): void {
    const n = t.length;
    if (this.pos + n > this.buf.length) this.room(n);
    if (n > 10) {
      // Past about ten bytes one memcpy is faster than the loop (json's members made once per value).
      this.buf.set(t, this.pos);
      this.pos += n;
      return;
    }
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) b[p++] = t[i];
    this.pos = p;
  }

  byte(c: number): void {
    if (this.pos >= this.buf.length) this.room(1);
    this.buf[this.pos++] = c;
  }

  /** Big-endian 16 bits, for binary records (IPFIX). */
  u16(v: number): void {
    if (this.pos + 2 > this.buf.length) this.room(2);
    this.buf[this.pos++] = v >>> 8;
    this.buf[this.pos++] = v;
  }

  /** Big-endian 32 bits. */
  u32(v: number): void {
    if (this.pos + 4 > this.buf.length) this.room(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }

  /** Big-endian 64 bits of a whole number (times in milliseconds, counters): exact up to 2^53. */
  u64(v: number): void {
    if (this.pos + 8 > this.buf.length) this.room(8);
    const hi = Math.floor(v / 0x100000000);
    this.buf.writeUInt32BE(hi >>> 0, this.pos);
    this.buf.writeUInt32BE((v - hi * 0x100000000) >>> 0, this.pos + 4);
    this.pos += 8;
  }

  /** Text; ASCII is copied byte by byte, anything else is encoded as UTF-8. */
  str(s: string): void {
    const n = s.length;
    if (this.pos + n > this.buf.length) this.room(n);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.pos = p;
        this.utf8(s.slice(i));
        return;
      }
      b[p++] = c;
    }
    this.pos = p;
  }

  /** `s` then spaces up to `width` characters (printf's %-Ns). */
  padEnd(s: string, width: number): void {
    this.str(s);
    for (let i = s.length; i < width; i++) this.byte(0x20);
  }

  /** Spaces then `s`, right-aligned in `width` characters (printf's %Ns). */
  padStart(s: string, width: number): void {
    for (let i = s.length; i < width; i++) this.byte(0x20);
    this.str(s);
  }

  /** A number as String(n) writes it; whole non-negative numbers without a string. */
  num(n: number): void {
    if (this.pos + 16 > this.buf.length) this.room(16);
    const b = this.buf;
    if (n >>> 0 === n) {
      // Ports, ids (all 32 bits), counts: integer arithmetic only.
      const digits =
        n < 10
          ? 1
          : n < 100
            ? 2
            : n < 1000
              ? 3
              : n < 10000
                ? 4
                : n < 100000
                  ? 5
                  : n < 1000000
                    ? 6
                    : n < 10000000
                      ? 7
                      : n < 100000000
                        ? 8
                        : n < 1000000000
                          ? 9
                          : 10;
      let p = this.pos + digits;
      this.pos = p;
      let v = n;
      // Two digits a division: half the divisions of one at a time.
      while (v >= 100) {
        const q = (v / 100) >>> 0;
        const r = (v - q * 100) << 1;
        b[--p] = DIGIT_PAIRS[r + 1];
        b[--p] = DIGIT_PAIRS[r];
        v = q;
      }
      if (v >= 10) {
        b[--p] = DIGIT_PAIRS[(v << 1) + 1];
        b[--p] = DIGIT_PAIRS[v << 1];
      } else b[--p] = 48 + v;
      return;
    }
    if (!(n >= 0 && n <= Number.MAX_SAFE_INTEGER && Math.floor(n) === n)) {
      // A counter past 2^53 (rounded): its digits, not an exponent.
      this.str(Number.isInteger(n) ? BigInt(n).toString() : String(n));
      return;
    }
    let digits = 1;
    for (let t = n; t >= 10; t = Math.floor(t / 10)) digits++;
    let p = this.pos + digits;
    this.pos = p;
    do {
      const q = Math.floor(n / 10);
      b[--p] = 48 + (n - q * 10);
      n = q;
    } while (n > 0);
  }

  /** A whole number in decimal, negative or past 2^53 (a bigint) too: spans of time. */
  int(n: number | bigint): void {
    if (typeof n === 'number' && n >= 0) this.num(n);
    else this.str(String(n));
  }

  /** A moment as ns since the epoch, in decimal: its seconds, then nine digits of nanoseconds. */
  time(t: Time): void {
    if (t.sec === 0) this.num(t.nsec);
    else {
      this.num(t.sec);
      this.digits(t.nsec, 9);
    }
  }

  /** `n` (below 10^count, at most 2^32) as exactly `count` digits, zeros in front. */
  digits(n: number, count: number): void {
    if (this.pos + count > this.buf.length) this.room(count);
    const b = this.buf;
    let p = this.pos + count;
    this.pos = p;
    for (let i = 0; i < count; i++) {
      const q = (n / 10) >>> 0;
      b[--p] = 48 + (n - q * 10);
      n = q;
    }
  }

  private utf8(s: string): void {
    const max = s.length * 3;
    if (this.pos + max > this.buf.length) this.room(max);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /**
   * Makes room for `n` more bytes: the bytes not yet taken move to the
   * start of a slab that nobody still reads (this one if its chunks are
   * all done, else a free or a new one).
   */
  private room(n: number): void {
    const pending = this.pos - this.start;
    const need = pending + n;
    if (need > this.slabBytes) {
      // Batches are bigger than slabs: from now on slabs are a quarter
      // bigger than this one needs (not twice: two or three slabs are
      // held at once, and a flood's peak memory is theirs), and the
      // smaller free ones are let go.
      this.slabBytes = need + (need >> 2);
      this.free.length = 0;
    }
    let next: Slab | undefined;
    if (this.slab.out === 0 && need <= this.buf.length) next = this.slab;
    else next = this.free.pop();
    next ??= { buf: Buffer.allocUnsafeSlow(this.slabBytes), out: 0 };
    if (next === this.slab) this.buf.copyWithin(0, this.start, this.pos);
    else this.buf.copy(next.buf, 0, this.start, this.pos);
    this.slab = next;
    this.buf = next.buf;
    this.start = 0;
    this.pos = pending;
  }
}

/** The bytes of an ASCII constant, for LineWriter.bytes(). */
export function ascii(s: string): Uint8Array {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII is 0 to 0x7f, control characters included
  if (!/^[\x00-\x7f]*$/.test(s)) throw new Error(`not ASCII: ${JSON.stringify(s)}`);
  return new Uint8Array(Buffer.from(s, 'latin1'));
}

/** One line as a string, from a writing format: for the library and tests. */
export function lineOf(write: (w: LineWriter) => void): string {
  const w = scratch;
  w.truncate(0);
  write(w);
  return w.text();
}

const scratch = new LineWriter(4096);
