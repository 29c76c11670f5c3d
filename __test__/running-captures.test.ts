/**
 * The daemon's captures across a reload that moves them (netns), alone,
 * with stand-ins for the native captures: the counts add up, once each.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Capture, CaptureStats } from '../src/capture.js';
import { RunningCaptures } from '../src/running-captures.js';

/** A capture that counted `base` of everything and stops when told to. */
function fake(base: number): { capture: Capture; stopped: () => void } {
  let stop!: () => void;
  const stopping = new Promise<void>((r) => (stop = r));
  const stats = (): CaptureStats =>
    ({
      received: { new: 0, update: 0, destroy: 0 },
      receivedByKind: Array.from({ length: 12 }, (_, k) => base + k),
      dropped: { new: 0, update: 0, destroy: 0 },
      droppedByKind: Array.from({ length: 12 }, () => base),
      filteredByKind: Array.from({ length: 12 }, (_, k) => 2 * base + k),
      lost: base,
      undelivered: base,
      enobufs: base,
      decodeErrors: base,
      batches: base,
      queued: base,
      rcvbuf: base * 1000,
      backlog: base * 10,
    }) as CaptureStats;
  return { capture: { stats, stop: () => stopping } as unknown as Capture, stopped: stop };
}

test("a replaced capture counts until it has stopped, then stays counted once; the socket figures are the running one's", async () => {
  const c = new RunningCaptures();
  assert.equal(c.totals().lost, 0, 'none yet');
  const a = fake(100);
  const b = fake(1);
  c.adopt(a.capture);
  assert.equal(c.running, a.capture);
  c.adopt(b.capture);
  assert.equal(c.running, b.capture);
  let t = c.totals();
  assert.equal(t.lost, 101, 'both, while the old one stops');
  assert.equal(t.queued, 101);
  assert.equal(t.receivedByKind[11], 111 + 12);
  assert.equal(t.filteredByKind[3], 202 + 6, "the reader's filter's count too");
  assert.equal(t.rcvbuf, 1000, "the running one's buffer");
  assert.equal(t.backlog, 10);
  const stopped = c.stop();
  a.stopped();
  b.stopped();
  await stopped;
  t = c.totals();
  assert.equal(t.lost, 101, 'the stopped one once, not twice');
  assert.equal(t.droppedByKind[0], 101);
  assert.equal(t.filteredByKind[0], 202);
  assert.equal(t.queued, 1, 'a stopped capture holds nothing');
});
