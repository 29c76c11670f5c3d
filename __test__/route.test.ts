/**
 * Route, alone: how a batch's lines reach the sink. The sink here is a
 * recorder (no file, no socket): the end-to-end tests prove the real ones.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../src/config.js';
import type { ConntrackEvent } from '../src/event.js';
import { kindOf, Ledger, total, type Lines } from '../src/output/ledger.js';
import { PIECE_BYTES, Route } from '../src/output/route.js';
import type { EventSink } from '../src/output/sink.js';
import type { WireBatch } from '../src/wire.js';
import { tcpEvent } from './helpers/events.js';

/** Keeps a copy of each piece; answers the first `busy` writes with `backpressure`. */
class Recorder implements EventSink {
  readonly pieces: { text: string; kinds: number }[] = [];
  constructor(
    private busy = 0,
    private readonly backpressure?: Promise<void>,
  ) {}
  write(lines: Lines, done: () => void): void | Promise<void> {
    this.pieces.push({ text: Buffer.from(lines.bytes).toString('utf8'), kinds: lines.kinds.length });
    done();
    if (this.busy-- > 0) return this.backpressure;
  }
  reopen(): string | undefined {
    return undefined;
  }
  async close(): Promise<void> {}
}

const report = { warn: () => {}, error: () => {} };
// Route.add takes the batch only for outputs that copy an event's wire bytes (the store): not json.
const NO_WIRE = undefined as unknown as WireBatch;

function route(format: string, sink: EventSink): { r: Route; ledger: Ledger } {
  const o = loadConfig({ env: {}, flags: { format } }).outputs[0];
  const ledger = new Ledger();
  return { r: new Route(o, sink, ledger, report), ledger };
}

/** Text from outside the program, a newline in it: still one line an event, whatever the pieces. */
const HELPER = 'ftp\n[DESTROY] forged';

function addAll(r: Route, n: number): void {
  const ev: ConntrackEvent = tcpEvent({ helper: HELPER });
  for (let i = 0; i < n; i++) {
    ev.id = i;
    r.add(ev, kindOf(ev), NO_WIRE);
  }
}

test(`a batch whose lines pass PIECE_BYTES (${PIECE_BYTES}) reaches the sink in pieces of whole lines, in order, each counted`, () => {
  const sink = new Recorder();
  const { r, ledger } = route('json', sink);
  const n = 4096;
  addAll(r, n);
  assert.equal(r.flush(), undefined, 'no backpressure');
  assert.ok(sink.pieces.length > 1, `${sink.pieces.length} piece(s)`);
  sink.pieces.forEach((p, i) => {
    assert.ok(p.text.endsWith('\n'), 'a piece ends with a whole line');
    assert.equal(p.kinds, p.text.split('\n').length - 1, 'one kind a line');
    // Handed as soon as its lines reach PIECE_BYTES: without its last line it is under it.
    const bytes = Buffer.byteLength(p.text);
    const last = bytes - p.text.lastIndexOf('\n', p.text.length - 2) - 1;
    assert.ok(bytes - last < PIECE_BYTES, `piece ${i}: ${bytes} bytes, ${last} in its last line`);
    if (i < sink.pieces.length - 1) assert.ok(bytes >= PIECE_BYTES, `piece ${i}: ${bytes} bytes, before the batch's end`);
  });
  const events = sink.pieces
    .map((p) => p.text)
    .join('')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as { id: number; helper: string });
  assert.deepEqual(
    events.map((e) => e.id),
    Array.from({ length: n }, (_, i) => i),
  );
  for (const e of events) assert.equal(e.helper, HELPER);
  assert.equal(total(ledger.handed), n);
});

test('a batch under PIECE_BYTES is one piece', () => {
  const sink = new Recorder();
  const { r, ledger } = route('vyos', sink);
  addAll(r, 100);
  r.flush();
  assert.equal(sink.pieces.length, 1);
  assert.equal(sink.pieces[0].kinds, 100);
  assert.equal(total(ledger.handed), 100);
  r.flush();
  assert.equal(sink.pieces.length, 1, 'nothing more to hand');
});

test("flush waits for the backpressure of every piece of the batch, the first one's too", async () => {
  let free!: () => void;
  const backedUp = new Promise<void>((resolve) => (free = resolve));
  const sink = new Recorder(1, backedUp);
  const { r } = route('json', sink);
  addAll(r, 4096);
  const wait = r.flush();
  assert.ok(sink.pieces.length > 1);
  assert.ok(wait instanceof Promise, 'the first piece was backed up: the batch waits');
  let settled = false;
  void wait.then(() => (settled = true));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(settled, false, 'not before the sink can take more');
  free();
  await wait;
  assert.equal(r.flush(), undefined, 'the next batch starts with no backpressure of this one');
});
