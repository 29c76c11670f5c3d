/**
 * The output side's accounting, alone: the ledger every output counts
 * into, and the outage reports. No root, no output; e2e-output-faults and
 * e2e-syslog prove them on real faults.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConntrackEvent } from '../src/event.js';
import { count, KINDS, kindOf, Ledger, perType, total } from '../src/output/ledger.js';
import { Outage, type Report } from '../src/output/sink.js';
import { Queue } from '../src/output/net/queue.js';

test('kinds: every event type with every protocol class, type-major, as the native reader counts them', () => {
  assert.equal(KINDS.length, 12);
  assert.deepEqual(KINDS.slice(0, 5), [
    { type: 'new', proto: 'tcp' },
    { type: 'new', proto: 'udp' },
    { type: 'new', proto: 'icmp' },
    { type: 'new', proto: 'other' },
    { type: 'update', proto: 'tcp' },
  ]);
  const kind = (type: string, proto: number) => kindOf({ type, proto } as ConntrackEvent);
  // The same places as ctlog-core's bpf::kind_of test.
  assert.equal(kind('new', 6), 0);
  assert.equal(kind('new', 17), 1);
  assert.equal(kind('update', 1), 6);
  assert.equal(kind('destroy', 58), 11);
  assert.equal(kind('destroy', 0), 11);
  assert.deepEqual(KINDS[kind('update', 1)], { type: 'update', proto: 'icmp' });
});

test('ledger: handed = written + lost + waiting, per kind; abandon counts what waits as lost', () => {
  const l = new Ledger();
  // new tcp ×2, update udp, destroy other ×3
  const kinds = Uint8Array.from([0, 0, 5, 11, 11, 11]);
  count(l.handed, kinds);
  count(l.written, kinds, 0, 2);
  count(l.lost, kinds, 3, 4);
  assert.deepEqual(perType(l.waiting()), { new: 0, update: 1, destroy: 2 });
  assert.equal(l.waiting()[5], 1);
  assert.equal(total(l.waiting()), 3);
  assert.equal(l.abandon(), 3);
  assert.deepEqual(perType(l.lost), { new: 0, update: 1, destroy: 3 });
  assert.equal(l.lost[11], 3);
  assert.equal(total(l.waiting()), 0);
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
  const kinds = Uint8Array.from([8, 8, 0]);
  o.lose(l, kinds, 1, 3, 'ENOSPC');
  o.lose(l, kinds, 0, 3, 'EIO');
  o.lose(l, kinds, 0, 0, 'ENOSPC');
  assert.deepEqual(said, ['error: output_file /x: write failed: ENOSPC; lines are lost (counted) until it works again']);
  assert.deepEqual(perType(l.lost), { new: 2, update: 0, destroy: 3 });
  // Every failed write is an output error, one that cut a line short and lost none too.
  assert.deepEqual(
    [...l.errors],
    [
      ['ENOSPC', 2],
      ['EIO', 1],
    ],
  );
  o.end();
  o.end();
  assert.deepEqual(said.slice(1), ['warn: output_file /x: writing again; 5 lines were lost (ENOSPC)']);
  // A new outage is said again, its count from zero.
  o.lose(l, kinds, 0, 1, 'EPIPE');
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
