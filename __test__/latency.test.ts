import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Latency, LATENCY_BOUNDS_US } from '../src/latency.js';

test('quantiles are the bound of the bucket they fall in, never past the largest seen', () => {
  const l = new Latency();
  assert.equal(l.quantile(0.5), 0, 'nothing recorded');
  l.add(80, 90); // 90 events under 100 µs
  l.add(3_000, 9); // 9 between 2.5 and 5 ms
  l.add(420_000); // one past 250 ms
  assert.equal(l.total, 100);
  assert.equal(l.quantile(0.5), 100);
  assert.equal(l.quantile(0.95), 5_000);
  assert.equal(l.quantile(0.99), 5_000);
  assert.equal(l.quantile(1), 420_000, 'the last event: the largest seen, not its bucket bound (500 ms)');
  assert.equal(l.max, 420_000);
});

test('past every bound, and a clock that stepped back', () => {
  const l = new Latency();
  l.add(60_000_000);
  assert.equal(l.counts[LATENCY_BOUNDS_US.length], 1);
  assert.equal(l.quantile(0.5), 60_000_000);
  l.add(-5);
  assert.equal(l.counts[0], 1, 'a negative latency (the clock stepped back) counts as 0');
});
