/**
 * The syslog output's pure parts, each alone: the headers, the TCP
 * framing, the queue, the backoff and the connection logic (on a fake
 * transport). No
 * root, no socket; e2e-syslog.test.ts proves the assembly against rsyslog.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { OutputError } from '../src/output/sink.js';
import { Backoff, BACKOFF_MAX_MS, BACKOFF_MIN_MS, backoffDelay, GOOD_AFTER_MS } from '../src/output/syslog/backoff.js';
import { SyslogTransport } from '../src/output/syslog/connection.js';
import { newlineEnded } from '../src/output/syslog/datagram.js';
import { headerFor, hostnameField, localHeader, priority, remoteHeader } from '../src/output/syslog/header.js';
import { Ledger } from '../src/output/ledger.js';
import { Queue, type Run } from '../src/output/syslog/queue.js';
import { octetCounted } from '../src/output/syslog/tcp.js';

const b = (s: string) => Buffer.from(s);
const texts = (run: Run) => run.msgs.map((m) => m.toString());

test('PRI is facility * 8 + 6 (info); an unknown facility is an OutputError', () => {
  const pris = Object.fromEntries(['kern', 'user', 'daemon', 'authpriv', 'local0', 'local3', 'local7'].map((f) => [f, priority(f)]));
  assert.deepEqual(pris, { kern: 6, user: 14, daemon: 30, authpriv: 86, local0: 134, local3: 158, local7: 190 });
  assert.throws(
    () => priority('nosuch'),
    (e: unknown) => e instanceof OutputError && e.message === 'syslog_facility: unknown facility "nosuch"',
  );
});

test("local socket header: syslog(3)'s, local time, the day space-padded", () => {
  // Made from local fields: the same whatever TZ the test runs in.
  assert.equal(localHeader(30, 'ctlogd', 4242, new Date(2026, 0, 5, 7, 8, 9)), '<30>Jan  5 07:08:09 ctlogd[4242]: ');
  assert.equal(localHeader(190, 'ct', 1, new Date(2025, 11, 25, 23, 59, 59, 999)), '<190>Dec 25 23:59:59 ct[1]: ');
});

test('remote header: RFC 5424, UTC with milliseconds, no MSGID, no structured data', () => {
  const d = new Date(Date.UTC(2026, 0, 5, 7, 8, 9, 120));
  assert.equal(remoteHeader(158, 'router1', 'ctlogd', 4242, d), '<158>1 2026-01-05T07:08:09.120Z router1 ctlogd 4242 - - ');
});

test('HOSTNAME: printable ASCII without spaces, 1 to 255 of them, else "-"', () => {
  assert.equal(hostnameField('router1.example.net'), 'router1.example.net');
  assert.equal(hostnameField('a'.repeat(255)), 'a'.repeat(255));
  for (const bad of ['', 'my host', 'tab\there', 'rött', 'a'.repeat(256), 'nl\n']) assert.equal(hostnameField(bad), '-', JSON.stringify(bad));
});

test('headerFor: the local format without a host, RFC 5424 with one; this pid; bytes', () => {
  const local = headerFor({ syslog_host: '', syslog_facility: 'user', syslog_tag: 'tag1' })();
  assert.ok(Buffer.isBuffer(local));
  assert.match(local.toString(), new RegExp(`^<14>[A-Z][a-z]{2} [ 1-3]\\d \\d\\d:\\d\\d:\\d\\d tag1\\[${process.pid}\\]: $`));
  const remote = headerFor({ syslog_host: 'logs.example', syslog_facility: 'local7', syslog_tag: 'tag2' })().toString();
  assert.match(remote, new RegExp(`^<190>1 \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z \\S+ tag2 ${process.pid} - - $`));
  assert.throws(() => headerFor({ syslog_host: '', syslog_facility: 'bogus' as never, syslog_tag: 't' }), OutputError);
});

test('TCP framing: the octet count is the byte length of header and line, not their characters', () => {
  assert.equal(octetCounted(b('<14>1 H '), b('abc')).toString(), '11 <14>1 H abc');
  const line = 'progname=café ☕ 𝄞';
  const framed = octetCounted(b('<14>'), b(line));
  const bytes = 4 + Buffer.byteLength(line);
  assert.notEqual(bytes, 4 + line.length, 'the line has multibyte characters');
  assert.equal(framed.toString(), `${bytes} <14>${line}`);
  // Where the count gains a digit.
  for (const n of [0, 1, 9, 10, 99, 100, 999, 1000, 65_535, 100_000]) {
    const out = octetCounted(Buffer.alloc(0), Buffer.alloc(n, 0x61));
    assert.equal(out.subarray(0, out.indexOf(0x20)).toString(), String(n));
    assert.equal(out.length, String(n).length + 1 + n);
  }
  // A copy: the batch's bytes are reused once it is done.
  const batch = b('line');
  const kept = octetCounted(b('H '), batch);
  batch.fill(0x21);
  assert.equal(kept.toString(), '6 H line');
});

test("datagram messages wait newline-ended: joined, they are sendLines' lines", () => {
  const msgs = [newlineEnded(b('<14>H: '), b('one')), newlineEnded(b('<14>H: '), b('twö'))];
  assert.equal(Buffer.concat(msgs).toString(), '<14>H: one\n<14>H: twö\n');
  const batch = b('line');
  const kept = newlineEnded(b('H '), batch);
  batch.fill(0x21);
  assert.equal(kept.toString(), 'H line\n', 'a copy');
});

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
 * A transport whose peer the test plays: it refuses or accepts
 * connections (and closes them `closeAfter` ms later, if set), and takes
 * every message.
 */
class FakeTransport extends SyslogTransport {
  accept = false;
  closeAfter?: number;
  /** Timers of a second or more run this much early (late, if less than 0), as Node's may by the clock. */
  early = 0;
  /** The mock clock (`clock`) at each connect(). */
  connects: number[] = [];
  sent: string[] = [];
  /** The level of each report, in order. */
  levels: string[] = [];

  constructor(reports: string[], queue?: Queue, ledger = new Ledger()) {
    const levels: string[] = [];
    super(
      'syslog fake peer',
      () => b('H '),
      {
        error: (m) => reports.push(m) && levels.push('error'),
        warn: (m) => reports.push(m) && levels.push('warn'),
      },
      ledger,
      queue,
    );
    this.levels = levels;
    this.open();
  }

  /** The ledger's output errors, by cause. */
  get errors(): Map<string, number> {
    return this.ledger.errors;
  }

  /** The ledger's counts of the kinds these tests use: 0 to 2 (new tcp, new udp, new icmp). */
  get counts(): { written: number[]; lost: number[] } {
    return { written: [...this.ledger.written.subarray(0, 3)], lost: [...this.ledger.lost.subarray(0, 3)] };
  }

  protected connect(): void {
    this.connects.push(clock);
    if (!this.accept) {
      this.onDown('cannot connect', { code: 'ECONNREFUSED' });
      return;
    }
    this.onUp();
    if (this.closeAfter === undefined) return;
    // The closing comes from the peer: not one of the transport's own timers.
    const conn = this.connects.length;
    timers.push({ at: clock + this.closeAfter, fn: () => conn === this.connects.length && this.up && this.onDown('connection lost', { code: 'ECONNRESET' }) });
  }
  /** A peer that is up but takes nothing (it fell behind). */
  hold = false;

  protected flush(): void {
    if (this.hold || this.queue.length === 0) return;
    const run = this.queue.take(this.queue.length);
    this.handed();
    this.sent.push(...texts(run));
    for (const t of run.kinds) this.ledger.written[t]++;
    this.carried();
  }
  protected disconnect(): void {}
  protected drained(): boolean {
    return true;
  }
  protected frame(head: Buffer, line: Buffer): Buffer {
    return Buffer.concat([head, line]);
  }
  protected override startTimer(fn: () => void, ms: number): NodeJS.Timeout {
    const timer = { at: clock + ms - (ms >= 1000 ? this.early : 0), fn };
    timers.push(timer);
    return timer as unknown as NodeJS.Timeout;
  }
  protected override stopTimer(timer: NodeJS.Timeout | undefined): void {
    timers = timers.filter((x) => x !== (timer as unknown));
  }
  protected override now(): number {
    return clock;
  }

  /** The peer catches up: it takes what waits. */
  catchUp(): void {
    this.hold = false;
    this.flush();
  }

  lose(): void {
    this.onDown('connection lost', { code: 'ECONNRESET' });
  }
  /** Writes one batch, as winston does, every line of kind 2 unless `kind` says; the batch's bytes are overwritten once done. */
  write1(lines: string[], kind = 2): void {
    const bytes = b(lines.map((l) => `${l}\n`).join(''));
    const kinds = new Uint8Array(lines.length).fill(kind);
    this.log({ level: 'info', message: '', bytes, kinds, done: () => bytes.fill(0x21) }, () => {});
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
  const c = new FakeTransport(reports);
  c.write1(['one', 'two']);
  advance(60_000);
  assert.ok(c.connects.length > 5, 'retried');
  c.write1(['three']);
  assert.deepEqual(reports, ['syslog fake peer: cannot connect: ECONNREFUSED; retrying, lines wait in memory (up to 16 MiB)']);
  assert.deepEqual(c.sent, []);

  c.accept = true;
  advance(2600); // the attempts after 52.6 s: at 62.6 s
  assert.deepEqual(c.sent, ['H one', 'H two', 'H three'], 'the batch was copied before done()');
  assert.equal(reports.length, 1, 'the outage lasts until the connection has worked for a while');
  advance(GOOD_AFTER_MS);
  assert.equal(reports[1], 'syslog fake peer: connected again');
  c.write1(['four']);
  assert.deepEqual(c.sent.at(-1), 'H four', 'sent at once while up');

  // A second outage is a new one.
  c.lose();
  advance(60_000);
  assert.deepEqual(reports.slice(2), [
    'syslog fake peer: connection lost: ECONNRESET; retrying, lines wait in memory (up to 16 MiB)',
    'syslog fake peer: connected again',
  ]);
  assert.equal(reports.length, 4);
});

test("past the bound new lines are dropped: reported once, counted in the report of the outage's end", (t) => {
  const advance = mockClock(t);
  const reports: string[] = [];
  const c = new FakeTransport(reports, new Queue(1 << 20));
  const big = (ch: string) => ch.repeat(400 * 1024);
  c.write1([big('a'), big('b'), big('c'), big('d')]);
  c.write1([big('e')]);
  assert.deepEqual(reports.slice(1), ['syslog fake peer: 1 MiB of lines are waiting; dropping new lines (counted) until it takes them']);
  c.accept = true;
  advance(BACKOFF_MIN_MS);
  assert.deepEqual(
    c.sent.map((m) => m.slice(0, 3) + m.length),
    [`H a${2 + 400 * 1024}`, `H b${2 + 400 * 1024}`],
  );
  advance(GOOD_AFTER_MS);
  assert.deepEqual(reports.slice(2), ['syslog fake peer: connected again; 3 lines were dropped']);
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
  const c = new FakeTransport(reports, new Queue(1 << 20));
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
    'syslog fake peer: 1 MiB of lines are waiting; dropping new lines (counted) until it takes them',
    'syslog fake peer: taking lines again; 3 lines were dropped',
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
  const c = new FakeTransport(reports);
  c.accept = true;
  c.closeAfter = 0;
  c.write1(['one']);
  advance(60_000);
  assert.deepEqual(gaps(c.connects).slice(0, 9), [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]);
  // (The first attempt, in the constructor, was refused.)
  assert.deepEqual(reports, ['syslog fake peer: cannot connect: ECONNREFUSED; retrying, lines wait in memory (up to 16 MiB)']);
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
  assert.deepEqual(reports.slice(1), ['syslog fake peer: connected again']);
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
  const c = new FakeTransport(reports);
  c.accept = true;
  c.early = -1; // the look runs 1 ms late
  c.closeAfter = GOOD_AFTER_MS;
  advance(BACKOFF_MIN_MS + GOOD_AFTER_MS);
  assert.deepEqual(reports.slice(1), [
    'syslog fake peer: connected again',
    'syslog fake peer: connection lost: ECONNRESET; retrying, lines wait in memory (up to 16 MiB)',
  ]);
});

test('the look at GOOD_AFTER_MS runs early: it looks again when the time is up, and the outage ends then', (t) => {
  const advance = mockClock(t);
  const reports: string[] = [];
  const c = new FakeTransport(reports);
  c.early = 3;
  c.accept = true;
  c.write1(['one']);
  advance(BACKOFF_MIN_MS); // up, the line taken
  assert.deepEqual(c.sent, ['H one']);
  advance(GOOD_AFTER_MS - 3);
  assert.equal(reports.length, 1, 'not yet');
  advance(3);
  assert.deepEqual(reports.slice(1), ['syslog fake peer: connected again']);
});

test('a failure said again while a retry waits is no attempt of its own: the waits do not grow for it', (t) => {
  const advance = mockClock(t);
  const c = new FakeTransport([]); // refused at 0: the next attempt at 200 ms
  c.lose();
  c.lose();
  advance(600);
  assert.deepEqual(gaps(c.connects), [200, 400]);
});

test('reopen (SIGHUP) connects at once and leaves the backoff where it was', (t) => {
  const advance = mockClock(t);
  const c = new FakeTransport([]);
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
  const down = new FakeTransport(reports, new Queue(10));
  down.write1(['one', 'two', 'three']);
  down.write1(['four'], 0);
  await down.shutdown(50);
  assert.deepEqual(reports.slice(2), ['syslog fake peer: closing with 2 lines not sent; 2 lines were dropped']);
  assert.deepEqual(down.counts, { written: [0, 0, 0], lost: [1, 0, 3] }, 'what was never sent is counted lost, by kind');

  const quiet: string[] = [];
  const up = new FakeTransport(quiet);
  up.accept = true;
  up.reopen();
  up.write1(['one']);
  await up.shutdown(50);
  // Stopped before the connection had worked for GOOD_AFTER_MS: the outage's end is not said.
  assert.deepEqual(quiet, ['syslog fake peer: cannot connect: ECONNREFUSED; retrying, lines wait in memory (up to 16 MiB)']);
  assert.deepEqual(up.sent, ['H one']);
  assert.deepEqual(up.counts, { written: [0, 0, 1], lost: [0, 0, 0] });
});
