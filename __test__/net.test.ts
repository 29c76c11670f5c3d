/**
 * The network machinery's pure parts, each alone: the queue, the backoff
 * and the connection logic (on a peer the test plays, on the test's
 * clock). No root, no socket; syslog-tls.test.ts runs the TCP and TLS link
 * on loopback, e2e-syslog*.test.ts and e2e-ipfix.test.ts the assembly.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Ledger } from '../src/output/ledger.js';
import { Backoff, BACKOFF_MAX_MS, BACKOFF_MIN_MS, backoffDelay, GOOD_AFTER_MS } from '../src/output/net/backoff.js';
import { type Clock, Connection, type Link } from '../src/output/net/connection.js';
import type { Framer } from '../src/output/net/framer.js';
import { NetTransport } from '../src/output/net/index.js';
import { Queue, type Run } from '../src/output/net/queue.js';

const b = (s: string) => Buffer.from(s);
const texts = (run: Run) => run.msgs.map((m) => m.toString());

/** A framer for the tests: each line a message after `H `. */
const LINES: Framer = {
  batch({ bytes, kinds }, out) {
    const lines = bytes.toString().split('\n').slice(0, -1);
    for (const [i, l] of lines.entries()) out.push(b(`H ${l}`), kinds[i]);
  },
};

test('queue: first in, first out, through take and putBack', () => {
  const q = new Queue();
  for (const [i, m] of ['a', 'bb', 'ccc', 'dddd'].entries()) assert.equal(q.push(b(m), i % 3), true);
  assert.equal(q.length, 4);
  assert.equal(q.bytes, 10);
  assert.deepEqual(texts(q.take(2)), ['a', 'bb']);
  assert.equal(q.bytes, 7);
  const back = q.take(1);
  q.push(b('eeeee'), 2);
  q.putBack(back);
  const rest = q.take(q.length);
  assert.deepEqual(texts(rest), ['ccc', 'dddd', 'eeeee']);
  assert.deepEqual(rest.kinds, [2, 0, 2], 'each message keeps its kind');
  assert.equal(q.length, 0);
  assert.equal(q.bytes, 0);
});

test('queue: peek leaves the messages queued, a take after it removes what was sent', () => {
  const q = new Queue();
  for (const m of ['a', 'bb', 'ccc']) q.push(b(m), 0);
  assert.deepEqual(q.peek(2).map(String), ['a', 'bb']);
  assert.deepEqual([q.length, q.bytes], [3, 6], 'peek removes nothing');
  assert.deepEqual(q.peek(10).map(String), ['a', 'bb', 'ccc'], 'no more than there are');
  q.take(1);
  assert.deepEqual(q.peek(2).map(String), ['bb', 'ccc']);
  assert.deepEqual([q.length, q.bytes], [2, 5]);
});

test('queue: order kept across many partial takes (the taken slots let go)', () => {
  const q = new Queue();
  for (let i = 0; i < 5000; i++) q.push(b(String(i)), i % 3);
  const got: string[] = [];
  const kinds: number[] = [];
  const take = (n: number) => {
    const run = q.take(n);
    got.push(...texts(run));
    kinds.push(...run.kinds);
  };
  for (const n of [1, 1500, 1200, 3]) take(n);
  q.putBack(q.take(10));
  for (let i = 0; i < 5000; i++) q.push(b(String(5000 + i)), (5000 + i) % 3);
  take(q.length);
  assert.deepEqual(
    got,
    Array.from({ length: 10_000 }, (_, i) => String(i)),
  );
  assert.deepEqual(
    kinds,
    Array.from({ length: 10_000 }, (_, i) => i % 3),
  );
  assert.equal(q.bytes, 0);
});

test('queue: bounded in bytes (multibyte counts as its bytes); past the bound push refuses and keeps the queue', () => {
  const q = new Queue(10);
  assert.equal(q.push(b('ééé'), 0), true); // 6 bytes, 3 characters
  assert.equal(q.push(b('abcde'), 0), false, '6 + 5 > 10');
  assert.equal(q.length, 1);
  assert.equal(q.bytes, 6);
  assert.equal(q.push(b('abcd'), 0), true, 'exactly the bound fits');
  assert.equal(q.push(b('x'), 0), false);
  // What was taken comes back whatever the bound: it was within it.
  const all = q.take(q.length);
  q.push(b('zzzz'), 0);
  q.putBack(all);
  assert.deepEqual(texts(q.take(q.length)), ['ééé', 'abcd', 'zzzz']);
  assert.equal(new Queue().limit, 16 * 1024 * 1024);
});

/**
 * A connection whose peer the test plays, written to as winston does: it
 * refuses or accepts connections (and closes them `closeAfter` ms later,
 * if set), and takes every message. Its timers and clock are the test's.
 */
class Fake {
  accept = false;
  closeAfter?: number;
  /** Timers of a second or more run this much early (late, if less than 0), as Node's may by the clock. */
  early = 0;
  /** The mock clock (`clock`) at each connect(). */
  connects: number[] = [];
  sent: string[] = [];
  /** The level of each report, in order. */
  readonly levels: string[] = [];
  /** A peer that is up but takes nothing (it fell behind). */
  hold = false;
  readonly conn: Connection;
  private readonly transport: NetTransport;

  constructor(
    reports: string[],
    queue?: Queue,
    private readonly ledger = new Ledger(),
  ) {
    const report = {
      error: (m: string) => reports.push(m) && this.levels.push('error'),
      warn: (m: string) => reports.push(m) && this.levels.push('warn'),
    };
    const testClock: Clock = {
      start: (fn, ms) => {
        const timer = { at: clock + ms - (ms >= 1000 ? this.early : 0), fn };
        timers.push(timer);
        return timer as unknown as NodeJS.Timeout;
      },
      stop: (timer) => {
        timers = timers.filter((x) => x !== (timer as unknown));
      },
      now: () => clock,
    };
    this.conn = new Connection('fake peer', report, ledger, (c) => this.link(c), queue, testClock);
    this.transport = new NetTransport('fake', this.conn, LINES);
  }

  private link(c: Connection): Link {
    return {
      connect: () => {
        this.connects.push(clock);
        if (!this.accept) {
          c.onDown('cannot connect', { code: 'ECONNREFUSED' });
          return;
        }
        c.onUp();
        if (this.closeAfter === undefined) return;
        // The closing comes from the peer: not one of the connection's own timers.
        const conn = this.connects.length;
        timers.push({ at: clock + this.closeAfter, fn: () => conn === this.connects.length && c.up && c.onDown('connection lost', { code: 'ECONNRESET' }) });
      },
      flush: () => {
        if (this.hold || c.queue.length === 0) return;
        const run = c.queue.take(c.queue.length);
        c.handed();
        this.sent.push(...texts(run));
        for (const t of run.kinds) this.ledger.written[t]++;
        c.carried();
      },
      disconnect() {},
      drained: () => true,
    };
  }

  /** The ledger's output errors, by cause. */
  get errors(): Map<string, number> {
    return this.ledger.errors;
  }

  /** The ledger's counts of the kinds these tests use: 0 to 2 (new tcp, new udp, new icmp). */
  get counts(): { written: number[]; lost: number[] } {
    return { written: [...this.ledger.written.subarray(0, 3)], lost: [...this.ledger.lost.subarray(0, 3)] };
  }

  /** The peer catches up: it takes what waits. */
  catchUp(): void {
    this.hold = false;
    this.conn.flush();
  }

  lose(): void {
    this.conn.onDown('connection lost', { code: 'ECONNRESET' });
  }

  reopen(): void {
    this.conn.reopen();
  }

  shutdown(ms: number): Promise<void> {
    return this.conn.shutdown(ms);
  }

  /** Writes one batch, as winston does, every line of kind 2 unless `kind` says; the batch's bytes are overwritten once done. */
  write1(lines: string[], kind = 2): void {
    const bytes = b(lines.map((l) => `${l}\n`).join(''));
    const kinds = new Uint8Array(lines.length).fill(kind);
    this.transport.log({ level: 'info', message: '', bytes, kinds, done: () => bytes.fill(0x21) }, () => {});
  }
}

/**
 * The connection tests' clock: the transports' retry timers, run by
 * advance() in order of their time (node's mock timers differ between Node
 * 18 and 20, and cannot mock Date on 18).
 */
let clock = 0;
let timers: Array<{ at: number; fn: () => void }> = [];

function mockClock(t: TestContext): (ms: number) => void {
  clock = 0;
  timers = [];
  t.after(() => {
    timers = [];
  });
  return (ms) => {
    const end = clock + ms;
    for (;;) {
      const next = timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      timers.splice(timers.indexOf(next), 1);
      clock = next.at;
      next.fn();
    }
    clock = end;
  };
}

test('an outage is reported once, however many retries; its end once; lines wait and go in order', (t) => {
  const advance = mockClock(t);
  const reports: string[] = [];
  const c = new Fake(reports);
  c.write1(['one', 'two']);
  advance(60_000);
  assert.ok(c.connects.length > 5, 'retried');
  c.write1(['three']);
  assert.deepEqual(reports, ['fake peer: cannot connect: ECONNREFUSED; retrying, lines wait in memory (up to 16 MiB)']);
  assert.deepEqual(c.sent, []);

  c.accept = true;
  advance(2600); // the attempts after 52.6 s: at 62.6 s
  assert.deepEqual(c.sent, ['H one', 'H two', 'H three'], 'the batch was copied before done()');
  assert.equal(reports.length, 1, 'the outage lasts until the connection has worked for a while');
  advance(GOOD_AFTER_MS);
  assert.equal(reports[1], 'fake peer: connected again');
  c.write1(['four']);
  assert.deepEqual(c.sent.at(-1), 'H four', 'sent at once while up');

  // A second outage is a new one.
  c.lose();
  advance(60_000);
  assert.deepEqual(reports.slice(2), ['fake peer: connection lost: ECONNRESET; retrying, lines wait in memory (up to 16 MiB)', 'fake peer: connected again']);
  assert.equal(reports.length, 4);
});

test("past the bound new lines are dropped: reported once, counted in the report of the outage's end", (t) => {
  const advance = mockClock(t);
  const reports: string[] = [];
  const c = new Fake(reports, new Queue(1 << 20));
  const big = (ch: string) => ch.repeat(400 * 1024);
  c.write1([big('a'), big('b'), big('c'), big('d')]);
  c.write1([big('e')]);
  assert.deepEqual(reports.slice(1), ['fake peer: 1 MiB of lines are waiting; dropping new lines (counted) until it takes them']);
  c.accept = true;
  advance(BACKOFF_MIN_MS);
  assert.deepEqual(
    c.sent.map((m) => m.slice(0, 3) + m.length),
    [`H a${2 + 400 * 1024}`, `H b${2 + 400 * 1024}`],
  );
  advance(GOOD_AFTER_MS);
  assert.deepEqual(reports.slice(2), ['fake peer: connected again; 3 lines were dropped']);
  assert.deepEqual(c.levels, ['error', 'error', 'warn'], 'the outage and the drops are errors, their end a warning');
  assert.deepEqual(c.counts, { written: [0, 0, 2], lost: [0, 0, 3] }, 'the dropped lines are counted lost, by kind');
  // The count starts again: a later drop is reported again.
  c.lose();
  c.write1([big('f'), big('g'), big('h')]);
  assert.equal(reports.filter((r) => /dropping new lines/.test(r)).length, 2);
});

test('a peer that falls behind and catches up on the same connection: the drops reported once, their end once, as a warning, with the count', (t) => {
  const advance = mockClock(t);
  const reports: string[] = [];
  const c = new Fake(reports, new Queue(1 << 20));
  c.accept = true;
  c.reopen();
  advance(GOOD_AFTER_MS);
  c.hold = true;
  const big = (ch: string) => ch.repeat(400 * 1024);
  c.write1([big('a'), big('b'), big('c'), big('d')], 0);
  c.write1([big('e')], 1);
  c.catchUp();
  c.write1(['f']);
  c.write1(['g']);
  assert.deepEqual(reports.slice(-2), [
    'fake peer: 1 MiB of lines are waiting; dropping new lines (counted) until it takes them',
    'fake peer: taking lines again; 3 lines were dropped',
  ]);
  assert.deepEqual(c.levels.slice(-2), ['error', 'warn']);
  assert.deepEqual(c.counts, { written: [2, 0, 2], lost: [2, 1, 0] });
});

const gaps = (ts: number[]) => ts.slice(1).map((x, i) => x - ts[i]);

test('backoff: the waits 200 ms, doubling, capped at 10 s', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 100].map(backoffDelay), [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]);
  assert.deepEqual([BACKOFF_MIN_MS, BACKOFF_MAX_MS, GOOD_AFTER_MS], [200, 10_000, 5_000]);
  const b = new Backoff();
  assert.deepEqual(
    Array.from({ length: 9 }, () => b.down()),
    [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000],
    'each failed attempt waits longer',
  );
  assert.equal(b.failures, 9);
});

test('backoff: a connection that ends before it has worked for GOOD_AFTER_MS is a failed attempt; one that worked starts it again', () => {
  const b = new Backoff();
  b.down();
  b.down();
  // Up, lines taken at once, closed 1 ms short of working: the wait grows.
  b.up(1000);
  b.sent();
  assert.equal(b.took(1001), false);
  assert.equal(b.check(1000 + GOOD_AFTER_MS - 1), false);
  assert.equal(b.down(), 800);
  // Up and closed at once, many times: the cap, never the least.
  for (let i = 0; i < 5; i++) {
    b.up(10_000 * i);
    b.down();
  }
  b.up(100_000);
  assert.equal(b.down(), BACKOFF_MAX_MS);
  // Up long enough, nothing to carry: it works; the next failure waits the least.
  b.up(200_000);
  assert.equal(b.check(200_000 + GOOD_AFTER_MS), true, 'counts as working');
  assert.equal(b.check(200_000 + GOOD_AFTER_MS + 1), false, 'said once');
  assert.equal(b.failures, 0);
  assert.deepEqual([b.down(), b.down(), b.down()], [200, 400, 800]);
});

test('backoff: lines handed and none taken: not working, however long it is up, until the peer takes some', () => {
  const b = new Backoff();
  b.down();
  b.up(0);
  b.sent();
  assert.equal(b.check(GOOD_AFTER_MS), false);
  assert.equal(b.check(60_000), false);
  assert.equal(b.took(60_001), true, 'the first lines taken after GOOD_AFTER_MS prove it');
  assert.equal(b.down(), 200);
  // Taken early, up long enough: proven by the look at GOOD_AFTER_MS.
  b.up(100_000);
  b.sent();
  assert.equal(b.took(100_001), false);
  b.sent(); // more handed, not taken yet: what was taken before is enough
  assert.equal(b.check(100_000 + GOOD_AFTER_MS), true);
});

test('backoff: remaining is the time until a connection up has been up GOOD_AFTER_MS', () => {
  const b = new Backoff();
  assert.equal(b.remaining(0), 0, 'none up');
  b.up(1000);
  assert.equal(b.remaining(1000), GOOD_AFTER_MS);
  assert.equal(b.remaining(1000 + GOOD_AFTER_MS - 3), 3);
  assert.equal(b.remaining(1000 + GOOD_AFTER_MS + 3), 0);
  b.check(1000 + GOOD_AFTER_MS);
  assert.equal(b.remaining(1000), 0, 'working already');
});

test('backoff: a reconnect asked for (left) is neither a failure nor a success; a look or a take with no connection up is nothing', () => {
  const b = new Backoff();
  b.down();
  b.down();
  b.up(0);
  b.left();
  assert.equal(b.check(GOOD_AFTER_MS), false);
  assert.equal(b.took(GOOD_AFTER_MS), false);
  assert.equal(b.failures, 2);
  assert.equal(b.down(), 800);
});

test('a peer that accepts and closes at once: each attempt waits longer (capped), one line for the whole outage; a connection that works ends it and starts the waits again', (t) => {
  const advance = mockClock(t);
  const reports: string[] = [];
  const c = new Fake(reports);
  c.accept = true;
  c.closeAfter = 0;
  c.write1(['one']);
  advance(60_000);
  assert.deepEqual(gaps(c.connects).slice(0, 9), [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]);
  // (The first attempt, in the constructor, was refused.)
  assert.deepEqual(reports, ['fake peer: cannot connect: ECONNREFUSED; retrying, lines wait in memory (up to 16 MiB)']);
  assert.equal(c.errors.get('ECONNRESET'), c.connects.length - 1, 'every failed attempt counted by its cause');

  // Closed after 4.9 s, the lines taken: still failed attempts.
  c.connects = [];
  c.closeAfter = GOOD_AFTER_MS - 100;
  advance(60_000);
  assert.ok(c.connects.length >= 3, `${c.connects.length} attempts`);
  assert.deepEqual(new Set(gaps(c.connects)), new Set([GOOD_AFTER_MS - 100 + BACKOFF_MAX_MS]), 'up 4.9 s, then the longest wait');
  assert.equal(reports.length, 1);

  // Now it stays up: the outage ends GOOD_AFTER_MS after the connection.
  c.closeAfter = undefined;
  c.connects = [];
  advance(20_000);
  assert.equal(c.connects.length, 1);
  assert.deepEqual(reports.slice(1), ['fake peer: connected again']);
  assert.deepEqual(c.levels, ['error', 'warn']);
  // It worked: the next loss starts the waits from the least.
  c.accept = false;
  c.connects = [];
  const lost = clock;
  c.lose();
  advance(1400);
  assert.deepEqual(gaps([lost, ...c.connects]), [200, 400, 800]);
  assert.equal(reports.length, 3, 'a new outage');
});

test('a connection lost after GOOD_AFTER_MS worked, though the look at it had not run: its end said, then the new outage', (t) => {
  const advance = mockClock(t);
  const reports: string[] = [];
  const c = new Fake(reports);
  c.accept = true;
  c.early = -1; // the look runs 1 ms late
  c.closeAfter = GOOD_AFTER_MS;
  advance(BACKOFF_MIN_MS + GOOD_AFTER_MS);
  assert.deepEqual(reports.slice(1), ['fake peer: connected again', 'fake peer: connection lost: ECONNRESET; retrying, lines wait in memory (up to 16 MiB)']);
});

test('the look at GOOD_AFTER_MS runs early: it looks again when the time is up, and the outage ends then', (t) => {
  const advance = mockClock(t);
  const reports: string[] = [];
  const c = new Fake(reports);
  c.early = 3;
  c.accept = true;
  c.write1(['one']);
  advance(BACKOFF_MIN_MS); // up, the line taken
  assert.deepEqual(c.sent, ['H one']);
  advance(GOOD_AFTER_MS - 3);
  assert.equal(reports.length, 1, 'not yet');
  advance(3);
  assert.deepEqual(reports.slice(1), ['fake peer: connected again']);
});

test('a failure said again while a retry waits is no attempt of its own: the waits do not grow for it', (t) => {
  const advance = mockClock(t);
  const c = new Fake([]); // refused at 0: the next attempt at 200 ms
  c.lose();
  c.lose();
  advance(600);
  assert.deepEqual(gaps(c.connects), [200, 400]);
});

test('reopen (SIGHUP) connects at once and leaves the backoff where it was', (t) => {
  const advance = mockClock(t);
  const c = new Fake([]);
  advance(1400); // attempts at 0, 200, 600, 1400; the next 1600 ms later
  assert.deepEqual(gaps(c.connects), [200, 400, 800]);
  c.connects = [];
  c.reopen();
  advance(3200);
  assert.deepEqual(gaps([1400, ...c.connects]), [0, 3200], 'at once, then the wait after a fifth failure');
  // Reopening a connection that has not worked yet is no failure either.
  c.accept = true;
  c.reopen();
  c.accept = false;
  c.connects = [];
  c.reopen();
  advance(10_000);
  assert.deepEqual(gaps([clock - 10_000, ...c.connects]), [0, 10_000], 'the seventh failure');
});

test('shutdown reports the lines it could not send, and the dropped ones; nothing when all went', async () => {
  const reports: string[] = [];
  const down = new Fake(reports, new Queue(10));
  down.write1(['one', 'two', 'three']);
  down.write1(['four'], 0);
  await down.shutdown(50);
  assert.deepEqual(reports.slice(2), ['fake peer: closing with 2 lines not sent; 2 lines were dropped']);
  assert.deepEqual(down.counts, { written: [0, 0, 0], lost: [1, 0, 3] }, 'what was never sent is counted lost, by kind');

  const quiet: string[] = [];
  const up = new Fake(quiet);
  up.accept = true;
  up.reopen();
  up.write1(['one']);
  await up.shutdown(50);
  // Stopped before the connection had worked for GOOD_AFTER_MS: the outage's end is not said.
  assert.deepEqual(quiet, ['fake peer: cannot connect: ECONNREFUSED; retrying, lines wait in memory (up to 16 MiB)']);
  assert.deepEqual(up.sent, ['H one']);
  assert.deepEqual(up.counts, { written: [0, 0, 1], lost: [0, 0, 0] });
});
