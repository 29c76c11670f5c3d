/**
 * The library's event stream: a capture of conntrack events from the
 * kernel, delivered in batches of typed events.
 */
import { constants } from 'node:os';
import type { ConntrackEvent, EventType } from './event.js';
import type { Protocols } from './event-selection.js';
import { loadNative, type NativeCapture, type NativeCaptureOptions, type NativeStats } from './native.js';
import { WireBatch, type Notices } from './wire.js';

/**
 * A capture's settings: the binding's one options object (each field's
 * meaning and default are documented there, in index.d.ts), with the event
 * types and protocol classes typed by name. The same object starts a
 * capture and reconfigures it.
 */
export interface CaptureOptions extends Omit<NativeCaptureOptions, 'events' | 'protocols'> {
  /** Event types to subscribe to; the kernel sends no others. Default: all. */
  events?: EventType[];
  /**
   * Per event type, the protocols to keep ('tcp', 'udp', 'icmp' for IPv4
   * ICMP, 'other' for the rest); a type not named keeps all. The kernel
   * drops the others before they reach the socket (a BPF socket filter),
   * the reader what the kernel could not classify (counted as filtered):
   * none reaches the handler.
   */
  protocols?: Protocols;
}

export type CaptureStats = NativeStats;

/**
 * Receives one batch. The batch's events count against `queueSize` until
 * the handler returns or, if it returns a promise, until that settles:
 * return one to hold the reader back while the events are still being
 * written out.
 */
export type BatchHandler = (events: ConntrackEvent[], notices: Notices) => void | Promise<void>;

/**
 * Receives one batch as it came from the native reader, to be read in
 * place (see WireBatch) before the handler returns: its bytes carry the
 * next batch after that. The same holding-back rule as BatchHandler.
 */
export type WireBatchHandler = (batch: WireBatch) => void | Promise<void>;

/** Thrown when the socket cannot be opened; `code` is the errno name. */
export class CaptureError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'CaptureError';
  }
}

/**
 * A running capture. Events arrive on the JavaScript thread through
 * `onBatch`, in the order the kernel delivered them, one call per batch.
 *
 * Delivery contract: the native reader's, stated where it is made
 * (crates/ctlog-core/src/reader.rs: order, batching and linger,
 * backpressure, overflow, stop). Here its queue is the events `onBatch` has
 * in hand (`queueSize`; see BatchHandler), its counters arrive as
 * `notices`, its receive buffer is `rcvbuf`, and `stop()` resolves after
 * the last batch.
 */
export class Capture {
  private ended!: Promise<void>;
  private constructor(
    private readonly inner: NativeCapture,
    ended: Promise<void>,
  ) {
    this.ended = ended;
  }

  static start(options: CaptureOptions, onBatch: BatchHandler): Promise<Capture> {
    return Capture.startWire(options, (batch) => {
      if (batch.count > 0 || hasNotices(batch.notices)) return onBatch(batch.events(), batch.notices);
    });
  }

  /**
   * As start(), but each batch is handed over unread: for readers that keep
   * no event. Both reject with AddonError (code 'ENOADDON') when the native
   * addon for this platform is not installed.
   */
  static async startWire(options: CaptureOptions, onBatch: WireBatchHandler): Promise<Capture> {
    const { startCapture } = await loadNative();
    let resolveEnded!: () => void;
    const ended = new Promise<void>((resolve) => (resolveEnded = resolve));
    let inner: NativeCapture;
    // Every batch is copied into this one Buffer and read before the next:
    // a flood leaves no Buffer per batch for the garbage collector.
    let scratch = Buffer.allocUnsafeSlow(1 << 20);
    try {
      inner = startCapture(options, (len: number) => {
        if (scratch.length < len) scratch = Buffer.allocUnsafeSlow(2 ** Math.ceil(Math.log2(len)));
        const got = inner.take(scratch);
        if (got <= 0) throw new Error(`native batch of ${len} bytes could not be taken (${got})`);
        const batch = new WireBatch(scratch.subarray(0, got));
        const release = () => inner.release(batch.count);
        let pending: Promise<void> | undefined | void;
        try {
          pending = onBatch(batch);
        } finally {
          if (pending instanceof Promise) pending.then(release, release);
          else release();
          if (batch.final) resolveEnded();
        }
      });
    } catch (e) {
      // The binding's errors carry the errno name as `code` (the message is
      // the system's words alone).
      const msg = e instanceof Error ? e.message : String(e);
      const code = e instanceof Error ? (e as NodeJS.ErrnoException).code : undefined;
      throw new CaptureError(msg, errnoName(code ?? 'EIO'));
    }
    return new Capture(inner, ended);
  }

  /**
   * Applies new settings on the same socket (reload): the whole set, as
   * for start (an absent field takes its default; maxBatch stays). Groups
   * are joined and left and the kernel's protocol filter replaced; nothing
   * queued is lost.
   */
  reconfigure(options: CaptureOptions): void {
    this.inner.reconfigure(options);
  }

  stats(): CaptureStats {
    return this.inner.stats();
  }

  /** Stops reading; resolves once every event already read was delivered. */
  async stop(): Promise<void> {
    this.inner.stop();
    await this.ended;
  }
}

/**
 * An errno the binding has no name for comes as `E<number>` (`E97`):
 * named here as Node names it (`EAFNOSUPPORT`), with this platform's
 * numbers.
 */
function errnoName(code: string): string {
  const n = /^E(\d+)$/.exec(code);
  if (n === null) return code;
  const name = Object.entries(constants.errno).find(([, v]) => v === Number(n[1]));
  return name?.[0] ?? code;
}

function hasNotices(n: Notices): boolean {
  return n.enobufs > 0 || n.decodeErrors > 0 || n.lost > 0 || n.undelivered > 0;
}
