/**
 * The syslog output's pure parts, each alone: the headers and the framer
 * (what it queues of a batch, over a stream and over datagrams). No root,
 * no socket; net.test.ts tests the queue and the connection under it,
 * e2e-syslog.test.ts proves the assembly against rsyslog.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Datagram } from '../src/native.js';
import type { Outbox } from '../src/output/net/framer.js';
import { OutputError } from '../src/output/sink.js';
import { datagramFramer, newlineEnded, octetCounted, streamFramer } from '../src/output/syslog/framer.js';
import { headerFor, hostnameField, localHeader, priority, remoteHeader } from '../src/output/syslog/header.js';

const b = (s: string) => Buffer.from(s);

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

/** An outbox that keeps what is pushed, and whose socket takes the first `direct` lines of a batch straight. */
function outbox(direct = 0): Outbox & { pushed: Array<[string, number]>; heads: string[] } {
  const pushed: Array<[string, number]> = [];
  const heads: string[] = [];
  return {
    pushed,
    heads,
    push: (msg, kind) => pushed.push([msg.toString(), kind]),
    sendLines(head, bytes) {
      heads.push(head.toString());
      let at = 0;
      for (let i = 0; i < direct; i++) at = bytes.indexOf(0x0a, at) + 1;
      return { line: direct, at };
    },
  };
}

/** One batch of `lines`, kinds 0, 1, 2, ... ; its bytes overwritten once the framer is done with them, as the capture reuses them. */
function batch(lines: string[]): { bytes: Buffer; kinds: Uint8Array } {
  return { bytes: b(lines.map((l) => `${l}\n`).join('')), kinds: Uint8Array.from(lines.keys()) };
}

test('stream framer: each line of a batch octet-counted after one header for the batch, with its kind, copied', () => {
  let n = 0;
  const framer = streamFramer(() => b(`<14>${++n} `));
  const out = outbox();
  const lines = batch(['one', 'twö', '']);
  framer.batch(lines, out);
  lines.bytes.fill(0x21);
  assert.deepEqual(out.pushed, [
    ['9 <14>1 one', 0],
    ['10 <14>1 twö', 1],
    ['6 <14>1 ', 2],
  ]);
  assert.deepEqual(out.heads, [], 'a stream sends nothing straight from the batch');
  assert.equal(framer.encode, undefined, 'written as they are: each message ends on the wire where it is counted');
  assert.equal(framer.greeting, undefined);
});

test('datagram framer: the lines the socket took straight are not queued; the rest wait newline-ended, from where it stopped', () => {
  const framer = datagramFramer(() => b('<14>H: '));
  const out = outbox(2);
  const lines = batch(['one', 'two', 'three', 'four']);
  framer.batch(lines, out);
  lines.bytes.fill(0x21);
  assert.deepEqual(out.heads, ['<14>H: ']);
  assert.deepEqual(out.pushed, [
    ['<14>H: three\n', 2],
    ['<14>H: four\n', 3],
  ]);
  const all = outbox(0);
  framer.batch(batch(['a', 'b']), all);
  assert.deepEqual(all.pushed, [
    ['<14>H: a\n', 0],
    ['<14>H: b\n', 1],
  ]);
});

test("datagram framer: the queue's front goes as sendLines' lines, with no head (each message has its own)", () => {
  const calls: string[][] = [];
  const socket = {
    sendLines(head: Uint8Array, lines: Uint8Array) {
      calls.push([Buffer.from(head).toString(), Buffer.from(lines).toString()]);
      return { sent: 2, at: lines.length };
    },
  } as unknown as Datagram;
  const r = datagramFramer(() => b('H ')).send(socket, [newlineEnded(b('H '), b('one')), newlineEnded(b('H '), b('two'))]);
  assert.deepEqual(calls, [['', 'H one\nH two\n']]);
  assert.equal(r.sent, 2);
});
