/**
 * The batch format read in TypeScript, against the same bytes the Rust
 * writer's test produces (testdata/wire-full-event.hex): both sides agree
 * on every field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadNative } from '../src/native.js';
import { formatVyos } from '../src/format/vyos.js';
import { ipv6, WireBatch } from '../src/wire.js';
import { ROOT } from './helpers/ctlogd.js';
import { at } from './helpers/events.js';

const vector = Buffer.from(readFileSync(path.join(ROOT, 'testdata/wire-full-event.hex'), 'utf8').trim(), 'hex');
const { decodeMessages } = await loadNative();

test('every field of the shared vector', () => {
  const b = new WireBatch(vector);
  assert.equal(b.final, true);
  assert.deepEqual(b.notices, { enobufs: 2, decodeErrors: 3, lost: 5, undelivered: 6 });
  const events = b.events();
  assert.equal(events.length, 2);
  const [e, bare] = events;
  assert.deepEqual(
    { ...e, orig: defined(e.orig), reply: defined(e.reply) },
    {
      type: 'destroy',
      family: 'ipv6',
      proto: 6,
      protoName: 'tcp',
      orig: { src: '2001:db8::1', dst: '::ffff:192.0.2.7', proto: 6, sport: 40000, dport: 443, zone: 3 },
      reply: { src: '192.0.2.7', dst: '10.0.0.1', proto: 58, icmpType: 129, icmpCode: 0, icmpId: 77 },
      portid: 4242,
      time: at(1795709891400000001n),
      status: 0x18e,
      timeout: 431999,
      mark: 0xffffffff,
      secmark: 5,
      zone: 7,
      use: 1,
      id: 3588929973,
      stateProto: 'tcp',
      state: 3,
      stateName: 'ESTABLISHED',
      // 2^53 + 1 and 2^64 - 1 in the vector: numbers, rounded past 2^53.
      origCounters: { packets: 2 ** 53, bytes: 2 ** 64 },
      replyCounters: { packets: 0, bytes: 29 },
      start: at(1795709861292510123n),
      stop: at(1795709891292510999n),
      eventTime: at(1795709891300000000n),
      helper: 'ftp',
      secctx: 'system_u:object_r:ssh_t:s0',
      labels: new Uint8Array([1, 0, 0x80]),
      progname: 'conntrack',
    },
  );
  // Absent attributes are undefined (every event has every key, for speed).
  const present = defined({ ...bare, orig: defined(bare.orig), reply: defined(bare.reply) });
  assert.deepEqual(present, { type: 'new', family: 'ipv4', proto: 0, protoName: 'unknown', orig: {}, reply: {}, portid: 0, time: { sec: 0, nsec: 0 } });
  assert.deepEqual(Object.keys(bare), Object.keys(e), 'one shape for all events');
  assert.deepEqual(Object.keys(bare.orig), Object.keys(e.reply), 'one shape for all tuples');
});

test('next() reads the same events into one reused object', () => {
  const all = new WireBatch(vector).events();
  const batch = new WireBatch(vector);
  const first = batch.next();
  assert.ok(first);
  assert.deepEqual(first, all[0]);
  const second = batch.next();
  assert.equal(second, first, 'the same object');
  assert.deepEqual(second, all[1], 'every field of the first event overwritten');
  assert.equal(batch.next(), undefined);
});

test('next() reads counters right event after event, with and without them', () => {
  // The vector's events: a full one, then a bare one (24 bytes: its
  // header and two empty tuples). Here: full, full with other counters, bare, full.
  const body = vector.subarray(32);
  const full = body.subarray(0, body.length - 24);
  const bare = body.subarray(body.length - 24);
  const other = Buffer.from(full);
  const at = other.indexOf(Buffer.from('1d00000000000000', 'hex')); // reply bytes = 29
  assert.ok(at > 0);
  other.writeUInt8(30, at);
  const four = Buffer.concat([vector.subarray(0, 32), full, other, bare, full]);
  four.writeUInt32LE(4, 4);
  const all = new WireBatch(four).events();
  assert.deepEqual(
    all.map((e) => e.replyCounters),
    [{ packets: 0, bytes: 29 }, { packets: 0, bytes: 30 }, undefined, { packets: 0, bytes: 29 }],
  );
  const batch = new WireBatch(four);
  for (const want of all) assert.deepEqual(batch.next(), want);
  assert.equal(batch.next(), undefined);
});

/** The keys whose value is not undefined. */
function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

test('a batch of another wire version is refused', () => {
  const b = Buffer.from(vector);
  b[0] = 99;
  assert.throws(() => new WireBatch(b), /wire version 99, expected 3/);
});

test('times: any 64 bits into seconds and nanoseconds, exactly', () => {
  const times = [0n, 1n, 999_999_999n, 1_000_000_000n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n + 1n, 1795709891400000001n, 2n ** 64n - 1n];
  for (let i = 0; i < 1000; i++)
    times.push(BigInt.asUintN(64, BigInt(Math.floor(Math.random() * 2 ** 32)) * 2n ** 32n + BigInt(Math.floor(Math.random() * 2 ** 32))));
  const b = Buffer.from(vector);
  for (const t of times) {
    // The first event's read time: 12 bytes into it, after the batch's 32.
    b.writeBigUInt64LE(t, 32 + 12);
    const ev = new WireBatch(b).next();
    assert.deepEqual(ev?.time, at(t), String(t));
  }
});

test('IPv6 text as inet_ntop writes it', () => {
  const a = (s: string) => Buffer.from(s.replace(/ /g, ''), 'hex');
  assert.equal(ipv6(a('0000 0000 0000 0000 0000 0000 0000 0001')), '::1');
  assert.equal(ipv6(a('0000 0000 0000 0000 0000 0000 0000 0000')), '::');
  assert.equal(ipv6(a('2001 0db8 0000 0000 0001 0000 0000 0001')), '2001:db8::1:0:0:1');
  assert.equal(ipv6(a('2001 0db8 0000 0001 0001 0001 0001 0001')), '2001:db8:0:1:1:1:1:1');
  assert.equal(ipv6(a('fe80 0000 0000 0000 0000 0000 0000 0000')), 'fe80::');
  assert.equal(ipv6(a('0000 0000 0000 0000 0000 ffff c000 0207')), '::ffff:192.0.2.7');
  assert.equal(ipv6(a('0000 0000 0000 0000 0000 0000 c000 0207')), '::192.0.2.7');
  assert.equal(ipv6(a('2001 0db8 0000 0000 abcd 0000 0000 0000')), '2001:db8:0:0:abcd::');
});

// A real DESTROY captured from the kernel (the same bytes as TCP_DESTROY in
// crates/ctlog-core/tests/decode_captured.rs): through the native decoder,
// the batch format and this reader, without a socket.
const tcpDestroy = Buffer.from(readFileSync(path.join(ROOT, 'testdata/tcp-destroy.hex'), 'utf8').trim(), 'hex');

test('a captured kernel message through decodeMessages, WireBatch and the vyos format', () => {
  const events = new WireBatch(decodeMessages(tcpDestroy, 42)).events();
  assert.equal(events.length, 1);
  assert.deepEqual(events[0].time, { sec: 0, nsec: 42 });
  // delta: 998,719,668 ns = 998,719.668 us, rounded to 998,720 us.
  assert.equal(
    formatVyos(events[0]),
    '[DESTROY] 1152223725 tcp      6 TIME_WAIT src=127.0.0.1 dst=127.0.0.1 sport=52892 dport=5001 packets=6 bytes=325 ' +
      'src=127.0.0.1 dst=127.0.0.1 sport=5001 dport=52892 packets=4 bytes=224 [ASSURED] start=1795710321622403178 stop=1795710322621122846 delta=0.99872',
  );
});

test('a bad message between two good ones: counted, the good ones still decoded', () => {
  const bad = Buffer.from(tcpDestroy);
  bad.writeUInt16LE(0xffff, 20); // the first attribute's length runs past the message
  const b = new WireBatch(decodeMessages(Buffer.concat([tcpDestroy, bad, tcpDestroy])));
  const events = b.events();
  assert.equal(events.length, 2);
  assert.equal(b.notices.decodeErrors, 1);
  assert.equal(events[1].id, 1152223725);
});
