/**
 * The byte writer the formats write lines into: what it writes, and that
 * bytes handed out stay untouched until their `done`, then are reused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ascii, LineWriter } from '../src/format/line.js';
import { at } from './helpers/events.js';

test('numbers as String() writes them, whole ones past 2^53 in digits; int() of spans, negative or bigint', () => {
  const w = new LineWriter(64);
  const nums = [0, 7, 10, 99, 65535, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, Number.MAX_SAFE_INTEGER, -1, 1.5, NaN];
  for (const n of nums) {
    w.num(n);
    w.byte(0x20);
  }
  // A counter past 2^53, rounded when read: digits, never an exponent.
  w.num(2 ** 64);
  w.byte(0x20);
  for (const n of [0, 29999704952, -500, 18446744073709551615n, -9007199254740993n]) {
    w.int(n);
    w.byte(0x20);
  }
  assert.equal(
    w.text(),
    [...nums.map(String), '18446744073709551616', '0', '29999704952', '-500', '18446744073709551615', '-9007199254740993'].join(' ') + ' ',
  );
});

test('nanosecond times as their decimal ns, from seconds and nanoseconds', () => {
  const w = new LineWriter(1 << 16);
  const start = 1795709891_000000000n;
  const times: bigint[] = [0n, 1n, 999_999_999n, 1_000_000_000n, 1_000_000_001n, 18446744073709551615n, 9007199254740993n];
  for (let i = 0n; i < 50n; i++) times.push(start + i * 7_919_777n, start + 3_600_000_000_000n + i, start + 999_999_999n);
  for (let i = 0; i < 2000; i++) times.push(start + BigInt(Math.floor(Math.random() * 8e9)));
  for (const t of times) {
    w.time(at(t));
    w.byte(0x20);
  }
  assert.equal(w.text(), times.map(String).join(' ') + ' ');
});

test('a time whose digits cross the end of a slab: written whole, at every offset', () => {
  for (let offset = 0; offset < 64; offset++) {
    const w = new LineWriter(64);
    const t = 1795709891_000000000n + BigInt(offset) * 86_400_000_000_000n;
    w.str('x'.repeat(offset));
    const line = w.take();
    w.str('y'.repeat(offset % 7));
    w.time(at(t));
    assert.equal(w.text(), `${'y'.repeat(offset % 7)}${t}`, `offset ${offset}`);
    line.done();
  }
});

test('text: ASCII, then UTF-8 from the first character beyond it; padding', () => {
  const w = new LineWriter(16);
  w.str('progname=');
  w.str('café ☕ 𝄞');
  w.byte(0x7c);
  w.padEnd('tcp', 8);
  w.byte(0x7c);
  w.padStart('[NEW]', 9);
  w.byte(0x7c);
  w.padEnd('toolongforwidth', 4);
  assert.equal(w.text(), 'progname=café ☕ 𝄞|tcp     |    [NEW]|toolongforwidth');
  assert.equal(w.take().bytes.toString('utf8'), 'progname=café ☕ 𝄞|tcp     |    [NEW]|toolongforwidth');
});

test('truncate forgets a half-written line', () => {
  const w = new LineWriter(32);
  w.str('first\n');
  const mark = w.length;
  w.str('a line that failed half way and grew the writer beyond its first slab');
  w.truncate(mark);
  w.str('second\n');
  assert.equal(w.take().bytes.toString(), 'first\nsecond\n');
  assert.equal(w.length, 0);
});

test('bytes handed out are not written over until done; then their memory is reused', () => {
  const w = new LineWriter(64);
  w.str('a'.repeat(40));
  const first = w.take();
  // Does not fit behind the first chunk, which is still out: a new slab.
  w.str('b'.repeat(40));
  const second = w.take();
  assert.equal(first.bytes.toString(), 'a'.repeat(40), 'untouched while out');
  assert.notEqual(second.bytes.buffer, first.bytes.buffer);
  first.done();
  first.done(); // twice is harmless
  second.done();
  // The current slab is done with: the next chunk starts over at its beginning.
  w.str('c'.repeat(40));
  const third = w.take();
  assert.equal(third.bytes.buffer, second.bytes.buffer);
  assert.equal(third.bytes.byteOffset, second.bytes.byteOffset);
  // And a slab let go while out comes back once done.
  w.str('d'.repeat(40));
  const fourth = w.take();
  assert.equal(fourth.bytes.buffer, first.bytes.buffer, 'the first slab, freed');
  assert.equal(third.bytes.toString(), 'c'.repeat(40));
  assert.equal(fourth.bytes.toString(), 'd'.repeat(40));
});

test('a batch bigger than a slab: slabs grow by a quarter of what they must hold, the bytes stay whole', () => {
  const w = new LineWriter(16);
  const line = 'src=192.0.2.1 dst=192.0.2.2 sport=40000 dport=53\n';
  for (let i = 0; i < 1000; i++) w.str(line);
  const c = w.take();
  assert.equal(c.bytes.length, line.length * 1000);
  assert.equal(c.bytes.toString(), line.repeat(1000));
  c.done();
  // A batch just past a slab: the next slab is a quarter bigger than the
  // batch (a flood's peak memory is two or three of them), not twice it.
  const v = new LineWriter(1024);
  for (let i = 0; i < 11; i++) v.str('x'.repeat(99) + '\n');
  const d = v.take();
  assert.equal(d.bytes.length, 1100);
  assert.equal(d.bytes.buffer.byteLength, 1375);
  d.done();
});

test('ASCII constants as bytes; anything else is refused when the constant is made', () => {
  const w = new LineWriter(8);
  const tag = ascii(' portid=');
  for (let i = 0; i < 3; i++) {
    w.bytes(tag);
    w.num(i);
  }
  assert.equal(w.text(), ' portid=0 portid=1 portid=2');
  assert.throws(() => ascii('délai'), /not ASCII/);
});
