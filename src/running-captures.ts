/**
 * The daemon's capture, and the ones a reload replaced (another netns:
 * another socket) until they have stopped. Their counters add up: a move
 * loses no count.
 */
import type { Capture, CaptureStats } from './capture.js';
import { kindCounts } from './output/ledger.js';

/** The counters that add up over captures. */
type Tally = Pick<
  CaptureStats,
  'receivedByKind' | 'droppedByKind' | 'filteredByKind' | 'lost' | 'undelivered' | 'enobufs' | 'decodeErrors' | 'batches' | 'queued'
>;

function blank(): Tally {
  return {
    receivedByKind: [...kindCounts()],
    droppedByKind: [...kindCounts()],
    filteredByKind: [...kindCounts()],
    lost: 0,
    undelivered: 0,
    enobufs: 0,
    decodeErrors: 0,
    batches: 0,
    queued: 0,
  };
}

function addTo(into: Tally, s: Tally): void {
  for (let k = 0; k < into.receivedByKind.length; k++) {
    into.receivedByKind[k] += s.receivedByKind[k] ?? 0;
    into.droppedByKind[k] += s.droppedByKind[k] ?? 0;
    into.filteredByKind[k] += s.filteredByKind[k] ?? 0;
  }
  into.lost += s.lost;
  into.undelivered += s.undelivered;
  into.enobufs += s.enobufs;
  into.decodeErrors += s.decodeErrors;
  into.batches += s.batches;
  into.queued += s.queued;
}

/** All captures' counters, and the running one's socket. */
export type Totals = Tally & Pick<CaptureStats, 'rcvbuf' | 'backlog' | 'lastError'>;

export class RunningCaptures {
  /** The one reading now. */
  running?: Capture;
  /** Replaced, stopping. */
  private readonly leaving = new Map<Capture, Promise<void>>();
  /** What the stopped ones counted. */
  private readonly retired = blank();

  /** `next` reads from now on; the one before it stops, writing out what it read. */
  adopt(next: Capture): void {
    const old = this.running;
    this.running = next;
    if (!old) return;
    this.leaving.set(
      old,
      old.stop().then(() => {
        // Nothing of it is queued any more.
        addTo(this.retired, { ...old.stats(), queued: 0 });
        this.leaving.delete(old);
      }),
    );
  }

  totals(): Totals {
    const t = blank();
    addTo(t, this.retired);
    for (const c of this.leaving.keys()) addTo(t, c.stats());
    const s = this.running?.stats();
    if (s) addTo(t, s);
    return { ...t, rcvbuf: s?.rcvbuf ?? 0, backlog: s?.backlog ?? 0, lastError: s?.lastError };
  }

  /** Stops them all; resolves once every event they read was delivered. */
  async stop(): Promise<void> {
    await this.running?.stop();
    await Promise.all(this.leaving.values());
  }
}
