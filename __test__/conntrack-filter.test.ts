/**
 * The filter keys' syntax (src/conntrack-filter.ts): what conntrack-tools
 * 1.4.7 takes for each option, ctlogd's additions (prefixes everywhere,
 * `!`, --status), the options object the binding gets, and the refusals
 * across keys. Their meaning on events is the core's, tested on captured
 * messages (crates/ctlog-core/tests/decode_captured.rs) and live beside
 * `conntrack -E` (e2e-filters.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommandLine } from '../src/cli.js';
import { loadConfig } from '../src/config.js';
import { ADDRESS, filterConflict, filterOptions, MARK, NAT, PORT, PROTO, STATUS, ZONE } from '../src/conntrack-filter.js';
import { loadNative } from '../src/native.js';

test('addresses: inet_aton forms for IPv4 as conntrack reads them, IPv6, prefixes, negation', () => {
  const cases: Array<[string, unknown]> = [
    ['10.0.0.1', { address: '10.0.0.1', negate: false }],
    // glibc's inet_aton: a.b, a.b.c, one number, octal and hexadecimal parts.
    ['10.1', { address: '10.0.0.1', negate: false }],
    ['10.1.2', { address: '10.1.0.2', negate: false }],
    ['167772161', { address: '10.0.0.1', negate: false }],
    ['0x0a000001', { address: '10.0.0.1', negate: false }],
    ['012.0.0.1', { address: '10.0.0.1', negate: false }],
    ['fd00::1', { address: 'fd00::1', negate: false }],
    ['::ffff:10.0.0.1', { address: '::ffff:10.0.0.1', negate: false }],
    ['10.0.0.0/8', { address: '10.0.0.0', prefix: 8, negate: false }],
    ['10.0.0.5/24', { address: '10.0.0.5', prefix: 24, negate: false }],
    ['0.0.0.0/0', { address: '0.0.0.0', prefix: 0, negate: false }],
    ['fd00::/128', { address: 'fd00::', prefix: 128, negate: false }],
    ['!192.0.2.0/24', { address: '192.0.2.0', prefix: 24, negate: true }],
    ['', null],
  ];
  for (const [v, want] of cases) assert.deepEqual(ADDRESS.parse(v), want, v);
  for (const v of [
    '10.0.0.256',
    '10.256.1',
    '1.2.3.4.5',
    '10.0.0.0/33',
    '10.0.0.0/',
    'fd00::/129',
    'localhost',
    'fe80::1%lo',
    '!',
    '!!10.0.0.1',
    ' 10.0.0.1',
  ]) {
    assert.equal(ADDRESS.parse(v), undefined, v);
  }
});

test('protocols: conntrack names (any case), /etc/protocols names, numbers as strtoul reads them', () => {
  const value = (v: unknown) => PROTO.parse(v);
  assert.deepEqual(value('tcp'), { value: 6, negate: false });
  assert.deepEqual(value('UDP'), { value: 17, negate: false });
  assert.deepEqual(value('icmpv6'), { value: 58, negate: false });
  assert.deepEqual(value('ipv6-icmp'), { value: 58, negate: false }, 'from /etc/protocols');
  assert.deepEqual(value('0x11'), { value: 17, negate: false });
  assert.deepEqual(value(132), { value: 132, negate: false });
  assert.deepEqual(value('!gre'), { value: 47, negate: true });
  for (const v of ['256', 'tcpx', '-6', 256, 'constructor', '__proto__', 'IPV6-ICMP']) assert.equal(value(v), undefined, String(v));
});

test('ports, zones and marks: their ranges and number forms; a mark VALUE/MASK', () => {
  assert.deepEqual(PORT.parse('80'), { value: 80, negate: false });
  assert.deepEqual(PORT.parse(65535), { value: 65535, negate: false });
  assert.deepEqual(PORT.parse('!53'), { value: 53, negate: true });
  for (const v of ['65536', '0x50', '8o', -1]) assert.equal(PORT.parse(v), undefined, String(v));
  assert.deepEqual(ZONE.parse('0x10'), { value: 16, negate: false });
  assert.deepEqual(ZONE.parse('010'), { value: 8, negate: false });
  assert.equal(ZONE.parse('65536'), undefined);
  assert.deepEqual(MARK.parse('5'), { value: 5, negate: false });
  assert.deepEqual(MARK.parse('0x10/0xff'), { value: 16, mask: 255, negate: false });
  assert.deepEqual(MARK.parse('!1/1'), { value: 1, mask: 1, negate: true });
  assert.deepEqual(MARK.parse(4294967295), { value: 4294967295, negate: false });
  for (const v of ['4294967296', '1/', '/1', '1/2/3', 'x']) assert.equal(MARK.parse(v), undefined, v);
});

test("status: IPS names set or (with !) clear; conntrack's UNREPLIED and UNSET", () => {
  assert.deepEqual(STATUS.parse('ASSURED'), { set: 4, clear: 0 });
  assert.deepEqual(STATUS.parse('assured,!seen_reply'), { set: 4, clear: 2 });
  assert.deepEqual(STATUS.parse('UNREPLIED'), { set: 0, clear: 2 });
  assert.deepEqual(STATUS.parse('UNSET'), { set: 0, clear: 0 });
  assert.deepEqual(STATUS.parse(['HW_OFFLOAD', '!DYING']), { set: 1 << 15, clear: 1 << 9 });
  assert.equal(STATUS.parse(''), null);
  for (const v of ['ASSURE', 'ASSURED,', ',', '!UNSET', '!UNREPLIED', 'CONSTRUCTOR', [], [2]]) assert.equal(STATUS.parse(v), undefined, JSON.stringify(v));
});

test('NAT: alone, to an address, to an address and port, negated', () => {
  assert.deepEqual(NAT.parse(true), { negate: false });
  assert.equal(NAT.parse(false), null);
  assert.deepEqual(NAT.parse('10.2.0.100'), { address: '10.2.0.100', negate: false });
  assert.deepEqual(NAT.parse('10.2.0.100:20000'), { address: '10.2.0.100', port: 20000, negate: false });
  assert.deepEqual(NAT.parse('[fd02::1]:80'), { address: 'fd02::1', port: 80, negate: false });
  assert.deepEqual(NAT.parse('fd02::1'), { address: 'fd02::1', negate: false });
  assert.deepEqual(NAT.parse('!'), { negate: true });
  assert.deepEqual(NAT.parse('!10.2.0.100'), { address: '10.2.0.100', negate: true });
  for (const v of ['10.2.0.0/24', '[10.2.0.1]:80', '[fd02::1]', '10.2.0.1:65536', ':80', 'x', 0]) assert.equal(NAT.parse(v), undefined, String(v));
});

test("the flags take conntrack's letters and its NAT value as the next word", () => {
  const config = (argv: string[]) => loadConfig({ flags: parseCommandLine(argv).flags, env: {} });
  const c = config([
    '-s',
    '10.0.0.0/8',
    '-d',
    '10.1.0.1',
    '-r',
    '10.1.0.1',
    '-q',
    '!10.0.0.2',
    '-p',
    'tcp',
    '--sport',
    '1',
    '--dport',
    '2',
    '-m',
    '3',
    '-w',
    '4',
    '-u',
    'ASSURED',
  ]);
  assert.deepEqual(filterOptions(c), {
    origSrc: { address: '10.0.0.0', prefix: 8, negate: false },
    origDst: { address: '10.1.0.1', negate: false },
    replySrc: { address: '10.1.0.1', negate: false },
    replyDst: { address: '10.0.0.2', negate: true },
    proto: { value: 6, negate: false },
    sport: { value: 1, negate: false },
    dport: { value: 2, negate: false },
    mark: { value: 3, negate: false },
    zone: { value: 4, negate: false },
    status: { set: 4, clear: 0 },
  });
  // Alone, with the value as the next word (conntrack's form), or after =.
  assert.deepEqual(filterOptions(config(['--src-nat'])), { srcNat: { negate: false } });
  assert.deepEqual(filterOptions(config(['--src-nat', '10.2.0.100', '-p', 'udp'])), {
    srcNat: { address: '10.2.0.100', negate: false },
    proto: { value: 17, negate: false },
  });
  assert.deepEqual(filterOptions(config(['-g', '10.2.0.2:8081'])), { dstNat: { address: '10.2.0.2', port: 8081, negate: false } });
  assert.deepEqual(filterOptions(config(['--any-nat=!'])), { anyNat: { negate: true } });
  assert.deepEqual(filterOptions(config(['-j', '-n'])), { srcNat: { negate: false }, anyNat: { negate: false } });
  assert.equal(filterOptions(config([])), undefined, 'no filter');
  // A word after a flag that takes no value is still no flag.
  assert.throws(() => parseCommandLine(['--reliable', 'x']), /"x": not a flag/);
});

test('across keys: a port needs a protocol with ports; one address family', () => {
  const defaults = loadConfig({ env: {} });
  const conflict = (set: object) => filterConflict({ ...defaults, ...set });
  assert.equal(
    conflict({ dport: PORT.parse('80') }),
    "dport: needs proto set to tcp, udp, udplite, sctp or dccp (a protocol with ports), as conntrack's --dport needs -p",
  );
  assert.equal(conflict({ proto: PROTO.parse('sctp'), dport: PORT.parse('80') }), undefined);
  assert.match(conflict({ proto: PROTO.parse('!tcp'), sport: PORT.parse('80') }) ?? '', /^sport: needs proto/);
  assert.equal(
    conflict({ orig_src: ADDRESS.parse('10.0.0.1'), any_nat: NAT.parse('fd00::1') }),
    'any_nat: an IPv6 address, but orig_src is IPv4: one address family at a time, as conntrack takes them',
  );
  assert.equal(conflict({ orig_src: ADDRESS.parse('10.0.0.1'), any_nat: NAT.parse(true), reply_dst: ADDRESS.parse('!10.0.0.0/8') }), undefined);
});

test('the binding refuses what the config would have: the code is EINVAL, before any socket is opened', async () => {
  const { startCapture } = await loadNative();
  const bad = [
    { origSrc: { address: 'not an address' } },
    { replyDst: { address: '10.0.0.1', prefix: 33 } },
    { proto: { value: 256 } },
    { zone: { value: 65536 } },
    { anyNat: { port: 65536 } },
  ];
  for (const filter of bad) {
    assert.throws(
      () => startCapture({ filter }, () => {}),
      (e: NodeJS.ErrnoException) => e.code === 'EINVAL',
      JSON.stringify(filter),
    );
  }
});
