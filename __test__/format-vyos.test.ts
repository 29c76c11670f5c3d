/**
 * The vyos format's `delta=`: VyOS prints timedelta.total_seconds(), whole
 * microseconds in Python's float repr. Python itself is the oracle here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { formatVyos } from '../src/format/vyos.js';
import { at, tcpEvent } from './helpers/events.js';

test('delta= is Python repr of the span in whole microseconds (half to even), for spans of every size and sign', () => {
  const spans: bigint[] = [0n, 1n, 499n, 500n, 501n, 1_500n, 2_500n, 99_499n, 99_500n, 99_501n, 100_000n, 100_500n, 1_000_000n];
  spans.push(29_999_705_000n, 29_999_704_500n, 29_999_705_500n, 998_719_668n, 3_600_000_000_000n, 86_400_000_000_000n * 200n);
  spans.push(2n ** 53n - 1n, 2n ** 53n, 2n ** 60n);
  for (let digits = 1; digits <= 17; digits++) {
    for (let i = 0; i < 40; i++) spans.push(BigInt(Math.floor(Math.random() * 10 ** digits)));
  }
  const all = spans.flatMap((s) => [s, -s]);
  const python = `
import sys
for line in sys.stdin:
    ns = int(line)
    q, r = divmod(abs(ns), 1000)
    us = q + (1 if r > 500 or (r == 500 and q % 2) else 0)
    print(repr((-us if ns < 0 else us) / 1e6))
`;
  const expected = execFileSync('python3', ['-c', python], { input: all.join('\n') + '\n', encoding: 'utf8' })
    .trim()
    .split('\n');
  const start = 1795709891_123456789n;
  const got = all.map((d) => /delta=(\S+)$/.exec(formatVyos(tcpEvent({ type: 'destroy', status: 0, start: at(start), stop: at(start + d) })))?.[1]);
  assert.deepEqual(got, expected);
});
