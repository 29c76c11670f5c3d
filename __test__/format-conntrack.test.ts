/**
 * The `conntrack` format against real `conntrack -E` lines.
 *
 * Every expected string below was printed by the real `conntrack -E` of
 * Debian's conntrack 1:1.4.7-1+b2 (libnetfilter-conntrack3 1.0.9-3) on
 * kernel 6.18, copied verbatim from its output file. The event objects are
 * built by hand to carry the attributes that line shows (ids, timestamps
 * and counters taken from the same capture).
 *
 * How they were captured (run as root, every namespace deleted afterwards):
 *   ip netns add ctfmt-$$; ip link set lo up   (all inside the namespace)
 *   nft: table inet t, chain `out` (filter output 0) with
 *        `udp dport 7005 ct mark set 42`, `tcp dport 21 ct helper set "ftph"`
 *        (ct helper ftph = ftp), `ct state new accept`;
 *        chain `rawout` (output -300): `udp dport 7006 ct zone set 7`,
 *        `udp dport 7007 ct original zone set 9`;
 *        chain `rawpre` (prerouting -300): `udp sport 7006 ct zone set 7`;
 *        table ip nat, chain `out` (nat output -100):
 *        `tcp dport 8080 dnat to 127.0.0.2:7004`
 *   sysctl nf_conntrack_acct=1 nf_conntrack_timestamp=1 nf_conntrack_events=1,
 *        tcp time_wait / udp / icmp / icmpv6 timeouts = 3 s (quick DESTROYs)
 *   six `conntrack -E` at once, `-o` none, extended, timestamp, id,
 *        ktimestamp, and extended,timestamp,id,ktimestamp, each to a file
 *   traffic: python3 sockets on 127.0.0.1 / ::1 (TCP 7001, UDP 7002/7012,
 *        raw ICMP echo id 0x1234, UDP [::1]:7003, raw ICMPv6 echo id 0x4321,
 *        TCP to 127.0.0.1:8080 (DNAT), UDP 7005 (mark), 7006/7007 (zones),
 *        TCP 21 (ftp helper)); `conntrack -I/-U/-D` for [USERSPACE] events;
 *        a python3 process flushing IPv4 entries over its own
 *        NETLINK_NETFILTER socket and keeping it open (progname=python3);
 *        a TCP flow forwarded between two more namespaces over veths.
 * The system clock said Thu Nov 26 2026, TZ=UTC.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { IPS, type ConntrackEvent, type Time, type Tuple } from '../src/event.js';
import { formatConntrack } from '../src/format/conntrack.js';
import { l3Name, protoName, stateName } from '../src/names.js';

// ctime() in -o ktimestamp is local time; the capture ran with TZ=UTC.
process.env.TZ = 'UTC';

/** conntrack's progname lookup, replayed: what that line printed. */
const noProg = (): undefined => undefined;
const prog = (name: string) => (): string => name;

/** Seconds since the epoch (+ optional ns) as the events' times. */
function ns(sec: number, nsec = 0): Time {
  return { sec, nsec };
}

const CONFIRMED = IPS.CONFIRMED;
const REPLIED = IPS.CONFIRMED | IPS.SEEN_REPLY;
const ASSURED = IPS.CONFIRMED | IPS.SEEN_REPLY | IPS.ASSURED;

function v4(proto: number, src: string, dst: string, sport: number, dport: number, extra: Partial<Tuple> = {}): Tuple {
  return { src, dst, proto, sport, dport, ...extra };
}

// ---------------------------------------------------------------- TCP 7001

/** The TCP connection 127.0.0.1:36436 -> 127.0.0.1:7001 (id 2011690290). */
function tcp7001(over: Partial<ConntrackEvent>): ConntrackEvent {
  return {
    type: 'new',
    family: 'ipv4',
    proto: 6,
    protoName: 'tcp',
    orig: v4(6, '127.0.0.1', '127.0.0.1', 36436, 7001),
    reply: v4(6, '127.0.0.1', '127.0.0.1', 7001, 36436),
    id: 2011690290,
    portid: 0,
    time: ns(1795710291, 727508417),
    ...over,
  };
}

const tcpNew = tcp7001({ type: 'new', status: CONFIRMED, timeout: 120, state: 1, stateProto: 'tcp', stateName: 'SYN_SENT' });
const tcpDestroy = tcp7001({
  type: 'destroy',
  status: ASSURED,
  state: 7,
  stateProto: 'tcp',
  stateName: 'TIME_WAIT',
  origCounters: { packets: 6, bytes: 325 },
  replyCounters: { packets: 5, bytes: 278 },
  start: ns(1795710291, 727100000),
  stop: ns(1795710295, 981000000),
  time: ns(1795710301, 379210555),
});

test('TCP NEW with timeout and state', () => {
  // conntrack -E, TCP connect to 127.0.0.1:7001
  assert.equal(
    formatConntrack(tcpNew, {}, noProg),
    '    [NEW] tcp      6 120 SYN_SENT src=127.0.0.1 dst=127.0.0.1 sport=36436 dport=7001 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=7001 dport=36436',
  );
});

test('TCP UPDATEs: SYN_RECV, then ESTABLISHED [ASSURED]', () => {
  // conntrack -E, same connection: the SYN/ACK, then the ACK
  const synRecv = tcp7001({ type: 'update', status: REPLIED, timeout: 60, state: 2, stateProto: 'tcp' });
  assert.equal(
    formatConntrack(synRecv, {}, noProg),
    ' [UPDATE] tcp      6 60 SYN_RECV src=127.0.0.1 dst=127.0.0.1 sport=36436 dport=7001 src=127.0.0.1 dst=127.0.0.1 sport=7001 dport=36436',
  );
  const established = tcp7001({ type: 'update', status: ASSURED, timeout: 432000, state: 3, stateProto: 'tcp' });
  assert.equal(
    formatConntrack(established, {}, noProg),
    ' [UPDATE] tcp      6 432000 ESTABLISHED src=127.0.0.1 dst=127.0.0.1 sport=36436 dport=7001 src=127.0.0.1 dst=127.0.0.1 sport=7001 dport=36436 [ASSURED]',
  );
  // conntrack -E, the close: TIME_WAIT with the 3 s time_wait timeout
  const timeWait = tcp7001({ type: 'update', status: ASSURED, timeout: 3, state: 7, stateProto: 'tcp' });
  assert.equal(
    formatConntrack(timeWait, {}, noProg),
    ' [UPDATE] tcp      6 3 TIME_WAIT src=127.0.0.1 dst=127.0.0.1 sport=36436 dport=7001 src=127.0.0.1 dst=127.0.0.1 sport=7001 dport=36436 [ASSURED]',
  );
});

test('TCP DESTROY with counters and delta-time (stop - start, whole seconds)', () => {
  // conntrack -E, the kernel expiring the TIME_WAIT entry (no timeout sent)
  assert.equal(
    formatConntrack(tcpDestroy, {}, noProg),
    '[DESTROY] tcp      6 TIME_WAIT src=127.0.0.1 dst=127.0.0.1 sport=36436 dport=7001 packets=6 bytes=325 src=127.0.0.1 dst=127.0.0.1 sport=7001 dport=36436 packets=5 bytes=278 [ASSURED] delta-time=4',
  );
});

// ---------------------------------------------------------------- UDP, ICMP

test('UDP NEW, UPDATE, and an unreplied DESTROY with zero reply counters', () => {
  const udp = (over: Partial<ConntrackEvent>): ConntrackEvent => ({
    type: 'new',
    family: 'ipv4',
    proto: 17,
    protoName: 'udp',
    orig: v4(17, '127.0.0.1', '127.0.0.1', 59885, 7002),
    reply: v4(17, '127.0.0.1', '127.0.0.1', 7002, 59885),
    timeout: 3,
    id: 208088100,
    portid: 0,
    time: ns(1795710292, 800000000),
    ...over,
  });
  // conntrack -E, UDP 127.0.0.1:59885 -> :7002 and its answer
  assert.equal(
    formatConntrack(udp({ status: CONFIRMED }), {}, noProg),
    '    [NEW] udp      17 3 src=127.0.0.1 dst=127.0.0.1 sport=59885 dport=7002 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=7002 dport=59885',
  );
  assert.equal(
    formatConntrack(udp({ type: 'update', status: REPLIED }), {}, noProg),
    ' [UPDATE] udp      17 3 src=127.0.0.1 dst=127.0.0.1 sport=59885 dport=7002 src=127.0.0.1 dst=127.0.0.1 sport=7002 dport=59885',
  );
  // conntrack -E, UDP to :7012 that nobody answered, expired by the kernel
  const unreplied = udp({
    type: 'destroy',
    timeout: undefined,
    status: CONFIRMED,
    orig: v4(17, '127.0.0.1', '127.0.0.1', 38399, 7012),
    reply: v4(17, '127.0.0.1', '127.0.0.1', 7012, 38399),
    origCounters: { packets: 1, bytes: 32 },
    replyCounters: { packets: 0, bytes: 0 },
    start: ns(1795710293, 360000000),
    stop: ns(1795710296, 400000000),
  });
  assert.equal(
    formatConntrack(unreplied, {}, noProg),
    '[DESTROY] udp      17 src=127.0.0.1 dst=127.0.0.1 sport=38399 dport=7012 packets=1 bytes=32 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=7012 dport=38399 packets=0 bytes=0 delta-time=3',
  );
});

test('ICMP echo: type/code/id per tuple', () => {
  const icmp: ConntrackEvent = {
    type: 'new',
    family: 'ipv4',
    proto: 1,
    protoName: 'icmp',
    orig: { src: '127.0.0.1', dst: '127.0.0.1', proto: 1, icmpType: 8, icmpCode: 0, icmpId: 0x1234 },
    reply: { src: '127.0.0.1', dst: '127.0.0.1', proto: 1, icmpType: 0, icmpCode: 0, icmpId: 0x1234 },
    status: CONFIRMED,
    timeout: 3,
    portid: 0,
    time: ns(1795710293, 960000000),
  };
  // conntrack -E, raw-socket echo request id 0x1234 to 127.0.0.1
  assert.equal(
    formatConntrack(icmp, {}, noProg),
    '    [NEW] icmp     1 3 src=127.0.0.1 dst=127.0.0.1 type=8 code=0 id=4660 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 type=0 code=0 id=4660',
  );
  // conntrack -E, the same entry expiring
  const destroy: ConntrackEvent = {
    ...icmp,
    type: 'destroy',
    status: REPLIED,
    timeout: undefined,
    origCounters: { packets: 1, bytes: 33 },
    replyCounters: { packets: 1, bytes: 33 },
    start: ns(1795710294, 1000),
    stop: ns(1795710297, 2000),
  };
  assert.equal(
    formatConntrack(destroy, {}, noProg),
    '[DESTROY] icmp     1 src=127.0.0.1 dst=127.0.0.1 type=8 code=0 id=4660 packets=1 bytes=33 src=127.0.0.1 dst=127.0.0.1 type=0 code=0 id=4660 packets=1 bytes=33 delta-time=3',
  );
});

// ---------------------------------------------------------------- IPv6

const udp6Destroy: ConntrackEvent = {
  type: 'destroy',
  family: 'ipv6',
  proto: 17,
  protoName: 'udp',
  orig: { src: '::1', dst: '::1', proto: 17, sport: 37374, dport: 7003 },
  reply: { src: '::1', dst: '::1', proto: 17, sport: 7003, dport: 37374 },
  status: REPLIED,
  origCounters: { packets: 1, bytes: 52 },
  replyCounters: { packets: 1, bytes: 52 },
  start: ns(1795710294, 560000000),
  stop: ns(1795710297, 600000000),
  id: 707385308,
  portid: 0,
  time: ns(1795710301, 378864100),
};

test('IPv6 UDP DESTROY', () => {
  // conntrack -E, UDP [::1]:37374 -> [::1]:7003, expired
  assert.equal(
    formatConntrack(udp6Destroy, {}, noProg),
    '[DESTROY] udp      17 src=::1 dst=::1 sport=37374 dport=7003 packets=1 bytes=52 src=::1 dst=::1 sport=7003 dport=37374 packets=1 bytes=52 delta-time=3',
  );
});

test('ICMPv6 echo NEW', () => {
  const icmp6: ConntrackEvent = {
    type: 'new',
    family: 'ipv6',
    proto: 58,
    protoName: 'icmpv6',
    orig: { src: '::1', dst: '::1', proto: 58, icmpType: 128, icmpCode: 0, icmpId: 0x4321 },
    reply: { src: '::1', dst: '::1', proto: 58, icmpType: 129, icmpCode: 0, icmpId: 0x4321 },
    status: CONFIRMED,
    timeout: 3,
    portid: 0,
    time: ns(1795710295, 190000000),
  };
  // conntrack -E, raw-socket ICMPv6 echo request id 0x4321 to ::1
  assert.equal(
    formatConntrack(icmp6, {}, noProg),
    '    [NEW] icmpv6   58 3 src=::1 dst=::1 type=128 code=0 id=17185 [UNREPLIED] src=::1 dst=::1 type=129 code=0 id=17185',
  );
});

// ---------------------------------------------------------------- NAT, mark, zone, helper

test("a DNAT'd flow: the reply tuple carries the new destination", () => {
  const dnat: ConntrackEvent = {
    type: 'new',
    family: 'ipv4',
    proto: 6,
    protoName: 'tcp',
    orig: v4(6, '127.0.0.1', '127.0.0.1', 55844, 8080),
    reply: v4(6, '127.0.0.2', '127.0.0.1', 7004, 55844),
    status: CONFIRMED | IPS.DST_NAT | IPS.DST_NAT_DONE,
    timeout: 120,
    state: 1,
    stateProto: 'tcp',
    portid: 0,
    time: ns(1795710295, 850000000),
  };
  // conntrack -E, TCP to 127.0.0.1:8080 under `dnat to 127.0.0.2:7004`
  assert.equal(
    formatConntrack(dnat, {}, noProg),
    '    [NEW] tcp      6 120 SYN_SENT src=127.0.0.1 dst=127.0.0.1 sport=55844 dport=8080 [UNREPLIED] src=127.0.0.2 dst=127.0.0.1 sport=7004 dport=55844',
  );
  // conntrack -E, its DESTROY after TIME_WAIT
  const destroy: ConntrackEvent = {
    ...dnat,
    type: 'destroy',
    status: ASSURED | IPS.DST_NAT | IPS.DST_NAT_DONE,
    timeout: undefined,
    state: 7,
    origCounters: { packets: 6, bytes: 325 },
    replyCounters: { packets: 5, bytes: 278 },
    start: ns(1795710295, 850000000),
    stop: ns(1795710299, 900000000),
  };
  assert.equal(
    formatConntrack(destroy, {}, noProg),
    '[DESTROY] tcp      6 TIME_WAIT src=127.0.0.1 dst=127.0.0.1 sport=55844 dport=8080 packets=6 bytes=325 src=127.0.0.2 dst=127.0.0.1 sport=7004 dport=55844 packets=5 bytes=278 [ASSURED] delta-time=4',
  );
});

test('mark= from an nft `ct mark set 42`', () => {
  const marked: ConntrackEvent = {
    type: 'new',
    family: 'ipv4',
    proto: 17,
    protoName: 'udp',
    orig: v4(17, '127.0.0.1', '127.0.0.1', 56949, 7005),
    reply: v4(17, '127.0.0.1', '127.0.0.1', 7005, 56949),
    status: CONFIRMED,
    timeout: 3,
    mark: 42,
    portid: 0,
    time: ns(1795710455, 711105000),
  };
  // conntrack -E, UDP to :7005 (round 2 capture)
  assert.equal(
    formatConntrack(marked, {}, noProg),
    '    [NEW] udp      17 3 src=127.0.0.1 dst=127.0.0.1 sport=56949 dport=7005 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=7005 dport=56949 mark=42',
  );
  const destroy: ConntrackEvent = {
    ...marked,
    type: 'destroy',
    status: REPLIED,
    timeout: undefined,
    origCounters: { packets: 1, bytes: 32 },
    replyCounters: { packets: 1, bytes: 32 },
    start: ns(1795710455, 711000000),
    stop: ns(1795710458, 712000000),
  };
  // conntrack -E, its expiry
  assert.equal(
    formatConntrack(destroy, {}, noProg),
    '[DESTROY] udp      17 src=127.0.0.1 dst=127.0.0.1 sport=56949 dport=7005 packets=1 bytes=32 src=127.0.0.1 dst=127.0.0.1 sport=7005 dport=56949 packets=1 bytes=32 mark=42 delta-time=3',
  );
});

test('zone= (nft `ct zone set 7`) and zone-orig= (`ct original zone set 9`)', () => {
  const zone7: ConntrackEvent = {
    type: 'new',
    family: 'ipv4',
    proto: 17,
    protoName: 'udp',
    orig: v4(17, '127.0.0.1', '127.0.0.1', 49672, 7006),
    reply: v4(17, '127.0.0.1', '127.0.0.1', 7006, 49672),
    status: CONFIRMED,
    timeout: 3,
    zone: 7,
    portid: 0,
    time: ns(1795710297, 610000000),
  };
  // conntrack -E, UDP to :7006 in zone 7 (both directions: CTA_ZONE only)
  assert.equal(
    formatConntrack(zone7, {}, noProg),
    '    [NEW] udp      17 3 src=127.0.0.1 dst=127.0.0.1 sport=49672 dport=7006 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=7006 dport=49672 zone=7',
  );
  const zone7Destroy: ConntrackEvent = {
    ...zone7,
    type: 'destroy',
    timeout: undefined,
    origCounters: { packets: 1, bytes: 32 },
    replyCounters: { packets: 0, bytes: 0 },
    start: ns(1795710297, 610000000),
    stop: ns(1795710300, 620000000),
  };
  // conntrack -E, its expiry: zone= comes after the counters and [ASSURED]
  assert.equal(
    formatConntrack(zone7Destroy, {}, noProg),
    '[DESTROY] udp      17 src=127.0.0.1 dst=127.0.0.1 sport=49672 dport=7006 packets=1 bytes=32 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=7006 dport=49672 packets=0 bytes=0 zone=7 delta-time=3',
  );

  const zoneOrig: ConntrackEvent = {
    type: 'update',
    family: 'ipv4',
    proto: 17,
    protoName: 'udp',
    orig: v4(17, '127.0.0.1', '127.0.0.1', 50743, 7007, { zone: 9 }),
    reply: v4(17, '127.0.0.1', '127.0.0.1', 7007, 50743),
    status: REPLIED,
    timeout: 3,
    portid: 0,
    time: ns(1795710298, 270000000),
  };
  // conntrack -E, UDP to :7007 with an original-direction zone (CTA_TUPLE_ZONE)
  assert.equal(
    formatConntrack(zoneOrig, {}, noProg),
    ' [UPDATE] udp      17 3 src=127.0.0.1 dst=127.0.0.1 sport=50743 dport=7007 zone-orig=9 src=127.0.0.1 dst=127.0.0.1 sport=7007 dport=50743',
  );
});

test('helper= from an nft ct helper (ftp)', () => {
  const ftp: ConntrackEvent = {
    type: 'new',
    family: 'ipv4',
    proto: 6,
    protoName: 'tcp',
    orig: v4(6, '127.0.0.1', '127.0.0.1', 46402, 21),
    reply: v4(6, '127.0.0.1', '127.0.0.1', 21, 46402),
    status: CONFIRMED | IPS.HELPER,
    timeout: 120,
    state: 1,
    stateProto: 'tcp',
    helper: 'ftp',
    id: 2348273775,
    portid: 0,
    time: ns(1795710456, 353672000),
  };
  // conntrack -E, TCP to 127.0.0.1:21 (round 2 capture)
  assert.equal(
    formatConntrack(ftp, {}, noProg),
    '    [NEW] tcp      6 120 SYN_SENT src=127.0.0.1 dst=127.0.0.1 sport=46402 dport=21 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=21 dport=46402 helper=ftp',
  );
  // conntrack -E -o extended,timestamp,id,ktimestamp, same event
  assert.equal(
    formatConntrack({ ...ftp, time: ns(1795710456, 353672999) }, { extended: true, timestamp: true, id: true, ktimestamp: true }, noProg),
    '[1795710456.353672]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=127.0.0.1 dst=127.0.0.1 sport=46402 dport=21 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=21 dport=46402 helper=ftp id=2348273775',
  );
});

// ---------------------------------------------------------------- [USERSPACE]

const flushedSctp: ConntrackEvent = {
  type: 'destroy',
  family: 'ipv4',
  proto: 132,
  protoName: 'sctp',
  orig: v4(132, '10.9.9.5', '10.9.9.6', 3333, 4444),
  reply: v4(132, '10.9.9.6', '10.9.9.5', 4444, 3333),
  status: CONFIRMED,
  timeout: 71,
  state: 4,
  stateProto: 'sctp',
  origCounters: { packets: 0, bytes: 0 },
  replyCounters: { packets: 0, bytes: 0 },
  start: ns(1795710299, 359000000),
  stop: ns(1795710327, 509000000),
  id: 4110381298,
  portid: 8040,
  time: ns(1795710327, 509258000),
};

test('[USERSPACE] with progname: a python3 process flushing over its own socket', () => {
  // conntrack -E; entry made by `conntrack -I -p sctp ... --state ESTABLISHED`,
  // deleted by python3's ctnetlink flush (portid 8040 = its pid, socket kept open)
  let asked: number | undefined;
  const line = formatConntrack(flushedSctp, {}, (p) => {
    asked = p;
    return 'python3';
  });
  assert.equal(
    line,
    '[DESTROY] sctp     132 71 ESTABLISHED src=10.9.9.5 dst=10.9.9.6 sport=3333 dport=4444 packets=0 bytes=0 [UNREPLIED] src=10.9.9.6 dst=10.9.9.5 sport=4444 dport=3333 packets=0 bytes=0 delta-time=28 [USERSPACE] portid=8040 progname=python3',
  );
  assert.equal(asked, 8040);
});

test('[USERSPACE] without progname: the conntrack -U process had exited', () => {
  const updated: ConntrackEvent = {
    type: 'update',
    family: 'ipv4',
    proto: 17,
    protoName: 'udp',
    orig: v4(17, '10.9.9.1', '10.9.9.2', 1111, 2222),
    reply: v4(17, '10.9.9.2', '10.9.9.1', 2222, 1111),
    status: CONFIRMED,
    timeout: 97,
    mark: 77,
    id: 1457111221,
    portid: 3033696204, // a second netlink socket of conntrack: kernel-chosen port id
    time: ns(1795710301, 385918000),
  };
  // conntrack -E, after `conntrack -U -p udp -s 10.9.9.1 -m 77`
  assert.equal(
    formatConntrack(updated, {}, noProg),
    ' [UPDATE] udp      17 97 src=10.9.9.1 dst=10.9.9.2 sport=1111 dport=2222 [UNREPLIED] src=10.9.9.2 dst=10.9.9.1 sport=2222 dport=1111 mark=77 [USERSPACE] portid=3033696204',
  );
  // conntrack -E -o id, same event
  assert.equal(
    formatConntrack(updated, { id: true }, noProg),
    ' [UPDATE] udp      17 97 src=10.9.9.1 dst=10.9.9.2 sport=1111 dport=2222 [UNREPLIED] src=10.9.9.2 dst=10.9.9.1 sport=2222 dport=1111 mark=77 id=1457111221 [USERSPACE] portid=3033696204',
  );
});

test('[USERSPACE] NEW from conntrack -I: GRE keys, unknown protocol, zone', () => {
  const gre: ConntrackEvent = {
    type: 'new',
    family: 'ipv4',
    proto: 47,
    protoName: 'gre',
    orig: v4(47, '10.9.9.3', '10.9.9.4', 0x10, 0x2a),
    reply: v4(47, '10.9.9.4', '10.9.9.3', 0x2a, 0x10),
    status: CONFIRMED,
    timeout: 100,
    mark: 0,
    portid: 7666,
    time: ns(1795710299, 863903000),
  };
  // conntrack -E, `conntrack -I -p gre -s 10.9.9.3 -d 10.9.9.4 --orig-key-src 0x10 --orig-key-dst 0x2a -t 100`
  assert.equal(
    formatConntrack(gre, {}, prog('conntrack')),
    '    [NEW] gre      47 100 src=10.9.9.3 dst=10.9.9.4 srckey=0x10 dstkey=0x2a [UNREPLIED] src=10.9.9.4 dst=10.9.9.3 srckey=0x2a dstkey=0x10 mark=0 [USERSPACE] portid=7666 progname=conntrack',
  );

  const esp: ConntrackEvent = {
    type: 'new',
    family: 'ipv4',
    proto: 50,
    protoName: 'unknown',
    orig: { src: '10.9.9.7', dst: '10.9.9.8', proto: 50 },
    reply: { src: '10.9.9.8', dst: '10.9.9.7', proto: 50 },
    status: CONFIRMED,
    timeout: 100,
    mark: 0,
    portid: 7668,
    time: ns(1795710300, 369794000),
  };
  // conntrack -E, `conntrack -I -p esp -s 10.9.9.7 -d 10.9.9.8 -t 100`
  assert.equal(
    formatConntrack(esp, {}, prog('conntrack')),
    '    [NEW] unknown  50 100 src=10.9.9.7 dst=10.9.9.8 [UNREPLIED] src=10.9.9.8 dst=10.9.9.7 mark=0 [USERSPACE] portid=7668 progname=conntrack',
  );

  const zoned: ConntrackEvent = {
    type: 'new',
    family: 'ipv4',
    proto: 6,
    protoName: 'tcp',
    orig: v4(6, '10.9.9.11', '10.9.9.12', 1234, 80),
    reply: v4(6, '10.9.9.12', '10.9.9.11', 80, 1234),
    status: CONFIRMED | IPS.ASSURED,
    timeout: 100,
    state: 3,
    stateProto: 'tcp',
    mark: 0,
    zone: 3,
    portid: 10722,
    time: ns(1795710457, 888866000),
  };
  // conntrack -E, `conntrack -I -p tcp ... --state ESTABLISHED -t 100 -u ASSURED -w 3`
  assert.equal(
    formatConntrack(zoned, {}, noProg),
    '    [NEW] tcp      6 100 ESTABLISHED src=10.9.9.11 dst=10.9.9.12 sport=1234 dport=80 [UNREPLIED] src=10.9.9.12 dst=10.9.9.11 sport=80 dport=1234 [ASSURED] mark=0 zone=3 [USERSPACE] portid=10722',
  );
});

test('a forwarded flow updated from userspace, then destroyed by the kernel', () => {
  const fwd = (over: Partial<ConntrackEvent>): ConntrackEvent => ({
    type: 'update',
    family: 'ipv4',
    proto: 6,
    protoName: 'tcp',
    orig: v4(6, '10.77.1.2', '10.77.2.2', 53044, 7100),
    reply: v4(6, '10.77.2.2', '10.77.1.2', 7100, 53044),
    status: ASSURED,
    mark: 5,
    id: 823664804,
    portid: 0,
    time: ns(1795710461, 409357000),
    ...over,
  });
  // conntrack -E in the router namespace, after `conntrack -U -p tcp -s 10.77.1.2 -m 5`
  assert.equal(
    formatConntrack(fwd({ timeout: 431999, state: 3, stateProto: 'tcp', portid: 2298810487 }), {}, noProg),
    ' [UPDATE] tcp      6 431999 ESTABLISHED src=10.77.1.2 dst=10.77.2.2 sport=53044 dport=7100 src=10.77.2.2 dst=10.77.1.2 sport=7100 dport=53044 [ASSURED] mark=5 [USERSPACE] portid=2298810487',
  );
  const destroy = fwd({
    type: 'destroy',
    state: 7,
    stateProto: 'tcp',
    origCounters: { packets: 20, bytes: 1128 },
    replyCounters: { packets: 11, bytes: 660 },
    start: ns(1795710458, 986000000),
    stop: ns(1795710465, 100000000),
    time: ns(1795710469, 384696000),
  });
  // conntrack -E, the kernel expiring it after TIME_WAIT
  assert.equal(
    formatConntrack(destroy, {}, noProg),
    '[DESTROY] tcp      6 TIME_WAIT src=10.77.1.2 dst=10.77.2.2 sport=53044 dport=7100 packets=20 bytes=1128 src=10.77.2.2 dst=10.77.1.2 sport=7100 dport=53044 packets=11 bytes=660 [ASSURED] mark=5 delta-time=7',
  );
  // conntrack -E -o extended,timestamp,id,ktimestamp, same event
  assert.equal(
    formatConntrack(destroy, { extended: true, timestamp: true, id: true, ktimestamp: true }, noProg),
    '[1795710469.384696]\t[DESTROY] ipv4     2 tcp      6 TIME_WAIT src=10.77.1.2 dst=10.77.2.2 sport=53044 dport=7100 packets=20 bytes=1128 src=10.77.2.2 dst=10.77.1.2 sport=7100 dport=53044 packets=11 bytes=660 [ASSURED] mark=5 delta-time=7 [start=Thu Nov 26 16:27:38 2026] [stop=Thu Nov 26 16:27:45 2026] id=823664804',
  );
});

// ---------------------------------------------------------------- -o variants

test('-o extended: l3 name and number after the tag', () => {
  // conntrack -E -o extended
  assert.equal(
    formatConntrack(tcpNew, { extended: true }, noProg),
    '    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=127.0.0.1 dst=127.0.0.1 sport=36436 dport=7001 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=7001 dport=36436',
  );
  assert.equal(
    formatConntrack(udp6Destroy, { extended: true }, noProg),
    '[DESTROY] ipv6     10 udp      17 src=::1 dst=::1 sport=37374 dport=7003 packets=1 bytes=52 src=::1 dst=::1 sport=7003 dport=37374 packets=1 bytes=52 delta-time=3',
  );
});

test('-o timestamp: [seconds.microseconds] and a tab, from the read time', () => {
  // conntrack -E -o timestamp: the time is gettimeofday() when conntrack read
  // the event; ev.time here is that instant (sub-microsecond part dropped).
  assert.equal(
    formatConntrack(tcpNew, { timestamp: true }, noProg),
    '[1795710291.727508]\t    [NEW] tcp      6 120 SYN_SENT src=127.0.0.1 dst=127.0.0.1 sport=36436 dport=7001 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=7001 dport=36436',
  );
  // conntrack -E -o timestamp, with a [USERSPACE] suffix
  assert.equal(
    formatConntrack(flushedSctp, { timestamp: true }, prog('python3')),
    '[1795710327.509258]\t[DESTROY] sctp     132 71 ESTABLISHED src=10.9.9.5 dst=10.9.9.6 sport=3333 dport=4444 packets=0 bytes=0 [UNREPLIED] src=10.9.9.6 dst=10.9.9.5 sport=4444 dport=3333 packets=0 bytes=0 delta-time=28 [USERSPACE] portid=8040 progname=python3',
  );
  // conntrack -E -o timestamp: microseconds keep their leading zeros
  const early = { ...udp6Destroy, time: ns(1795710301, 1_234_567) };
  assert.match(formatConntrack(early, { timestamp: true }, noProg), /^\[1795710301\.001234\]\t\[DESTROY\] /);
});

test('-o id: id= at the end of the line, before [USERSPACE]', () => {
  // conntrack -E -o id
  assert.equal(
    formatConntrack(tcpNew, { id: true }, noProg),
    '    [NEW] tcp      6 120 SYN_SENT src=127.0.0.1 dst=127.0.0.1 sport=36436 dport=7001 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=7001 dport=36436 id=2011690290',
  );
  assert.equal(
    formatConntrack(tcpDestroy, { id: true }, noProg),
    '[DESTROY] tcp      6 TIME_WAIT src=127.0.0.1 dst=127.0.0.1 sport=36436 dport=7001 packets=6 bytes=325 src=127.0.0.1 dst=127.0.0.1 sport=7001 dport=36436 packets=5 bytes=278 [ASSURED] delta-time=4 id=2011690290',
  );
  assert.equal(
    formatConntrack(flushedSctp, { id: true }, prog('python3')),
    '[DESTROY] sctp     132 71 ESTABLISHED src=10.9.9.5 dst=10.9.9.6 sport=3333 dport=4444 packets=0 bytes=0 [UNREPLIED] src=10.9.9.6 dst=10.9.9.5 sport=4444 dport=3333 packets=0 bytes=0 delta-time=28 id=4110381298 [USERSPACE] portid=8040 progname=python3',
  );
});

test('-o ktimestamp: [start=ctime] [stop=ctime] after delta-time (only DESTROY has them)', () => {
  // conntrack -E -o ktimestamp
  assert.equal(
    formatConntrack(tcpDestroy, { ktimestamp: true }, noProg),
    '[DESTROY] tcp      6 TIME_WAIT src=127.0.0.1 dst=127.0.0.1 sport=36436 dport=7001 packets=6 bytes=325 src=127.0.0.1 dst=127.0.0.1 sport=7001 dport=36436 packets=5 bytes=278 [ASSURED] delta-time=4 [start=Thu Nov 26 16:24:51 2026] [stop=Thu Nov 26 16:24:55 2026]',
  );
  // NEW carries no timestamps on this kernel: the line is the default one
  assert.equal(formatConntrack(tcpNew, { ktimestamp: true }, noProg), formatConntrack(tcpNew, {}, noProg));
});

test('-o extended,timestamp,id,ktimestamp together', () => {
  // conntrack -E -o extended,timestamp,id,ktimestamp
  assert.equal(
    formatConntrack({ ...udp6Destroy, time: ns(1795710301, 380206300) }, { extended: true, timestamp: true, id: true, ktimestamp: true }, noProg),
    '[1795710301.380206]\t[DESTROY] ipv6     10 udp      17 src=::1 dst=::1 sport=37374 dport=7003 packets=1 bytes=52 src=::1 dst=::1 sport=7003 dport=37374 packets=1 bytes=52 delta-time=3 [start=Thu Nov 26 16:24:54 2026] [stop=Thu Nov 26 16:24:57 2026] id=707385308',
  );
  const v6user: ConntrackEvent = {
    type: 'destroy',
    family: 'ipv6',
    proto: 17,
    protoName: 'udp',
    orig: { src: '2001:db8::1', dst: '2001:db8::2', proto: 17, sport: 5555, dport: 6666 },
    reply: { src: '2001:db8::2', dst: '2001:db8::1', proto: 17, sport: 6666, dport: 5555 },
    status: CONFIRMED,
    timeout: 75,
    origCounters: { packets: 0, bytes: 0 },
    replyCounters: { packets: 0, bytes: 0 },
    start: ns(1795710457, 380000000),
    stop: ns(1795710481, 930000000),
    id: 3386123464,
    portid: 2328809573,
    time: ns(1795710481, 941137000),
  };
  // conntrack -E -o extended,timestamp,id,ktimestamp, after
  // `conntrack -I -p udp -s 2001:db8::1 ...` and `conntrack -D -p udp -s 2001:db8::1`
  // (this instance did not find the short-lived conntrack process)
  assert.equal(
    formatConntrack(v6user, { extended: true, timestamp: true, id: true, ktimestamp: true }, noProg),
    '[1795710481.941137]\t[DESTROY] ipv6     10 udp      17 75 src=2001:db8::1 dst=2001:db8::2 sport=5555 dport=6666 packets=0 bytes=0 [UNREPLIED] src=2001:db8::2 dst=2001:db8::1 sport=6666 dport=5555 packets=0 bytes=0 delta-time=24 [start=Thu Nov 26 16:27:37 2026] [stop=Thu Nov 26 16:28:01 2026] id=3386123464 [USERSPACE] portid=2328809573',
  );
  // conntrack -E -o extended,timestamp,id,ktimestamp, the python3 flush
  assert.equal(
    formatConntrack({ ...flushedSctp, time: ns(1795710327, 510412345) }, { extended: true, timestamp: true, id: true, ktimestamp: true }, prog('python3')),
    '[1795710327.510412]\t[DESTROY] ipv4     2 sctp     132 71 ESTABLISHED src=10.9.9.5 dst=10.9.9.6 sport=3333 dport=4444 packets=0 bytes=0 [UNREPLIED] src=10.9.9.6 dst=10.9.9.5 sport=4444 dport=3333 packets=0 bytes=0 delta-time=28 [start=Thu Nov 26 16:24:59 2026] [stop=Thu Nov 26 16:25:27 2026] id=4110381298 [USERSPACE] portid=8040 progname=python3',
  );
});

// ---------------------------------------------------------------- rules no capture here can show
// These are read from the C source (snprintf_default.c), not from a captured
// line: this kernel never sends what they need (a start without a stop,
// DCCP, an out-of-range state).

test('source rule: delta-time without a stop time counts to "now" (ev.time)', () => {
  const open: ConntrackEvent = { ...tcpNew, start: ns(1795710291, 900000000), time: ns(1795710300, 100) };
  assert.match(formatConntrack(open, {}, noProg), / delta-time=9$/);
  // stop present but zero is treated the same way by the library
  assert.match(formatConntrack({ ...open, stop: ns(0) }, {}, noProg), / delta-time=9$/);
});

test('names: protocol, family and state tables of libnetfilter_conntrack 1.0.9', () => {
  assert.deepEqual([1, 6, 17, 33, 47, 58, 132, 136, 50, 0, 255].map(protoName), [
    'icmp',
    'tcp',
    'udp',
    'dccp',
    'gre',
    'icmpv6',
    'sctp',
    'udplite',
    'unknown',
    'unknown',
    'unknown',
  ]);
  assert.deepEqual([2, 10, 7].map(l3Name), ['ipv4', 'ipv6', 'unknown']);
  assert.equal(stateName('tcp', 9), 'SYN_SENT2');
  assert.equal(stateName('tcp', 10), 'NONE'); // past the table: entry 0
  assert.equal(stateName('sctp', 9), 'HEARTBEAT_ACKED');
  assert.equal(stateName('dccp', 4), 'OPEN'); // dccp_states, not sctp_states
  assert.equal(stateName('dccp', 12), 'NONE');
});
