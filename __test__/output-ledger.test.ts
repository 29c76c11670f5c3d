/**
 * The output side's accounting, alone: the ledger every output counts
 * into, and the outage reports. No root, no output; e2e-output-faults and
 * e2e-syslog prove them on real faults.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { count, Ledger, total, TYPE_INDEX } from '../src/output/ledger.js';
import { Outage, type Report } from '../src/output/sink.js';
import { Queue } from '../src/output/syslog/queue.js';

const arr = (c: Float64Array) => [...c];

test('TYPE_INDEX follows EVENT_TYPES, the batch format type byte', () => {
  assert.deepEqual(TYPE_INDEX, { new: 0, update: 1, destroy: 2 });
});

test('ledger: handed = written + lost + waiting, per type; abandon counts what waits as lost', () => {
  const l = new Ledger();
  const types = Uint8Array.from([0, 0, 1, 2, 2, 2]);
  count(l.handed, types);
  count(l.written, types, 0, 2);
  count(l.lost, types, 3, 4);
  assert.deepEqual(arr(l.waiting()), [0, 1, 2]);
  assert.equal(total(l.waiting()), 3);
  assert.equal(l.abandon(), 3);
  assert.deepEqual(arr(l.lost), [0, 1, 3]);
  assert.deepEqual(arr(l.waiting()), [0, 0, 0]);
  assert.equal(l.abandon(), 0, 'nothing twice');
});

function reporter(): { report: Report; said: string[] } {
  const said: string[] = [];
  return { said, report: { error: (m) => said.push(`error: ${m}`), warn: (m) => said.push(`warn: ${m}`) } };
}

test('outage: one error line when it starts, one warning when it ends with what it lost; none without one', () => {
  const { report, said } = reporter();
  const l = new Ledger();
  const o = new Outage('output_file /x', report);
  o.end();
  assert.deepEqual(said, [], 'no outage, nothing to say');
  const types = Uint8Array.from([2, 2, 0]);
  o.lose(l, types, 1, 3, 'ENOSPC');
  o.lose(l, types, 0, 3, 'EIO');
  o.lose(l, types, 0, 0, 'ENOSPC');
  assert.deepEqual(said, ['error: output_file /x: write failed: ENOSPC; lines are lost (counted) until it works again']);
  assert.deepEqual(arr(l.lost), [2, 0, 3]);
  o.end();
  o.end();
  assert.deepEqual(said.slice(1), ['warn: output_file /x: writing again; 5 lines were lost (ENOSPC)']);
  // A new outage is said again, its count from zero.
  o.lose(l, types, 0, 1, 'EPIPE');
  o.end();
  assert.deepEqual(said.slice(2), [
    'error: output_file /x: write failed: EPIPE; lines are lost (counted) until it works again',
    'warn: output_file /x: writing again; 1 lines were lost (EPIPE)',
  ]);
});

test('queue.within: how many of the first messages fit in a number of bytes (none when the first does not)', () => {
  const q = new Queue();
  for (const m of ['aaa', 'bb', 'cccc']) q.push(Buffer.from(m), 0);
  assert.deepEqual(
    [0, 2, 3, 4, 5, 8, 9, 100].map((n) => q.within(n)),
    [0, 0, 1, 1, 2, 2, 3, 3],
  );
  q.take(1);
  assert.equal(q.within(2), 1, 'from the front');
});
