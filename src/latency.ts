/**
 * How long events take from the kernel to the output: from the kernel's
 * event time (CTA_TIMESTAMP_EVENT; without it, when ctlogd read the event)
 * to when the daemon hands the event's line to the output. A histogram in
 * fixed buckets, so that recording costs the same at any rate and memory
 * stays put; quantiles are read as the upper bound of their bucket.
 */

/** Bucket upper bounds, µs: 100 µs to 10 s, about three per decade. */
export const LATENCY_BOUNDS_US: readonly number[] = [
  100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/** Now, in µs since the epoch, with the µs that Date lacks. */
export const nowUs = (): number => (performance.timeOrigin + performance.now()) * 1000;

export class Latency {
  /** Events per bucket; the last counts those past every bound. */
  readonly counts = new Float64Array(LATENCY_BOUNDS_US.length + 1);
  /** The largest latency recorded, µs. */
  max = 0;
  /** Events recorded. */
  total = 0;
  /** Their latencies added up, µs. */
  sum = 0;

  /** Records `n` events that each took `us`. */
  add(us: number, n = 1): void {
    const v = Math.max(us, 0);
    let i = 0;
    while (i < LATENCY_BOUNDS_US.length && v > LATENCY_BOUNDS_US[i]) i++;
    this.counts[i] += n;
    this.total += n;
    this.sum += v * n;
    if (v > this.max) this.max = v;
  }

  /**
   * The bound under which a share `q` of the events fall (the bucket's
   * upper bound, or the largest seen for the last bucket); 0 with no events.
   */
  quantile(q: number): number {
    if (this.total === 0) return 0;
    const rank = q * this.total;
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank && this.counts[i] > 0) return i < LATENCY_BOUNDS_US.length ? Math.min(LATENCY_BOUNDS_US[i], this.max) : this.max;
    }
    return this.max;
  }
}
