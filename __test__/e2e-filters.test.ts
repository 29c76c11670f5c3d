/**
 * conntrack's event filters (--orig-src, --proto, --mark, --src-nat, ...)
 * on real kernel events, on a real NAT router (helpers/nat-router.ts:
 * masquerade, a SNAT pool with a port range, DNAT, untranslated flows,
 * IPv4 and IPv6), plus entries inserted with `conntrack -I` (marks, zones,
 * status bits, a reply tuple of their own, translations to elsewhere) and
 * a flush. In the router's namespace, for each case, a ctlogd `--format
 * conntrack` with the filter beside `conntrack -E` with the same options
 * (the oracle), and one unfiltered of each (the reference).
 *
 * Where conntrack has no counterpart (negations, --status, a prefix on
 * --reply-src) the expected lines come from the reference's lines. Where
 * ctlogd means to differ (an untranslated ICMP flow that passed a NAT hook
 * is translated to conntrack, which compares the ICMP id with the reply's
 * type and code; an IPv6 NAT address, which conntrack ignores), they come
 * from the oracle's lines, and the difference is asserted to be there.
 *
 * Needs root; fails loudly when the namespaces cannot be made.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADDR, NatRouter, type Step } from './helpers/nat-router.js';
import { Lines, startCtlogd, stats, stop } from './helpers/ctlogd.js';
import { checkPrerequisites } from './helpers/netns.js';

const ALL_STEPS: Step[] = ['masqTcp', 'masqTcp6', 'snatUdp', 'dnatTcp', 'dnatTcp6', 'plainUdp', 'plainUdp6'];

/**
 * Entries made with `conntrack -I` in the router (`-u` before `-m`: in
 * 1.4.7 `-u` overwrites the mark given before it).
 */
const INSERTS: string[][] = [
  // mark 5, zone 3, assured.
  '-p tcp -s 10.5.1.7 -d 10.6.0.5 --sport 1001 --dport 80 --state ESTABLISHED -t 120 -u ASSURED,SEEN_REPLY -m 5 -w 3',
  // mark 6 (0x4/0x4 holds, 5 does not), zone 0.
  '-p tcp -s 10.5.1.8 -d 10.6.0.5 --sport 1002 --dport 80 --state ESTABLISHED -t 120 -u ASSURED,SEEN_REPLY -m 6 -w 0',
  // mark 5, not to port 80.
  '-p tcp -s 10.5.1.9 -d 10.6.0.5 --sport 1003 --dport 8080 --state ESTABLISHED -t 120 -u SEEN_REPLY -m 5',
  // UDP, assured but unreplied, mark 5.
  '-p udp -s 10.5.2.9 -d 10.6.0.6 --sport 1004 --dport 53 -t 60 -u ASSURED -m 5',
  // UDP, unreplied, no mark given (its NEW carries mark=0), zone 3.
  '-p udp -s 10.5.2.10 -d 10.6.0.6 --sport 1005 --dport 53 -t 60 -w 3',
  // A reply tuple of its own (no NAT done: not translated), mark 8 (0x4/0x4 does not hold).
  '-p tcp -s 10.7.0.1 -d 10.8.0.1 -r 10.9.0.1 -q 10.7.0.1 --sport 1001 --dport 443 --reply-port-src 443 --reply-port-dst 1001 --state ESTABLISHED -t 60 -u SEEN_REPLY -m 8',
  // IPv6: mark 4, zone 3; mark 5, assured.
  '-p udp -s fd05::1 -d fd06::5 --sport 1006 --dport 53 -t 60 -m 4 -w 3',
  '-p tcp -s fd05::2 -d fd06::5 --sport 1007 --dport 80 --state ESTABLISHED -t 60 -u ASSURED,SEEN_REPLY -m 5',
  // Translated by the kernel at insertion (CTA_NAT_*): to elsewhere than the router's rules do.
  '-p udp -s 10.5.9.7 -d 10.6.9.7 --sport 1008 --dport 53 -t 60 --src-nat 10.2.0.99',
  '-p udp -s 10.5.9.8 -d 10.6.9.8 --sport 1009 --dport 53 -t 60 --src-nat 10.2.0.99:3000',
  '-p udp -s fd05::7 -d fd06::7 --sport 1010 --dport 53 -t 60 --src-nat fd02::99',
  '-p udp -s 10.5.9.9 -d 10.6.9.9 --sport 1011 --dport 53 -t 60 --dst-nat 10.2.0.98:5353',
].map((s) => s.split(' '));

/** The oracles: `conntrack -E` with these options. `ref` is the reference, unfiltered. */
const ORACLES = {
  ref: [],
  origSrc: ['--orig-src', ADDR.client],
  origSrcAton: ['-s', '10.1.2'],
  origSrcPrefix: ['-s', '10.5.0.0/16'],
  origSrc6: ['--orig-src', 'fd01::/64'],
  origDst: ['--orig-dst', ADDR.routerIn],
  origDstPrefix: ['-d', '10.2.0.0/24'],
  replySrc: ['--reply-src', ADDR.server],
  replySrcOwn: ['-r', '10.9.0.1'],
  replyDst: ['--reply-dst', ADDR.snatPool],
  replyDst6: ['-q', ADDR.routerOut6],
  udp: ['-p', 'udp'],
  proto58: ['--proto', '58'],
  protoName: ['-p', 'ipv6-icmp'],
  icmp: ['-p', 'icmp'],
  sport: ['-p', 'tcp', '--sport', '1001'],
  dport: ['-p', 'tcp', '--dport', '80'],
  mark: ['-m', '5'],
  markMask: ['--mark', '0x4/0x4'],
  mark0: ['-m', '0'],
  zone: ['-w', '3'],
  zone0: ['--zone', '0'],
  srcNat: ['--src-nat'],
  dstNat: ['-g'],
  anyNat: ['--any-nat'],
  srcNatPool: ['--src-nat', ADDR.snatPool],
  srcNatEquals: [`--src-nat=${ADDR.snatPool}`],
  srcNatPort: ['-n', '10.2.0.99:3000'],
  dstNatPort: ['--dst-nat', `${ADDR.server}:8081`],
  dstNat6Port: ['--dst-nat', `[${ADDR.server6}]:8081`],
  srcNat6: ['--src-nat', ADDR.routerOut6],
  combo: ['-p', 'tcp', '-s', '10.5.0.0/16', '--dport', '80', '-m', '5'],
  config: ['-s', '10.5.0.0/16', '-m', '5'],
} satisfies Record<string, string[]>;
type OracleName = keyof typeof ORACLES;

/** The config file of the `-c` case. */
const CONFIG = { event: { new: {}, update: {}, destroy: {} }, format: 'conntrack', orig_src: '10.5.0.0/16', mark: '5' };

/** The lines of a run, progname= aside: it is looked up in /proc when each tool gets to the event, and may be missing on either side. */
interface Run {
  ref: string[];
  oracle(name: OracleName): string[];
}

interface Case {
  title: string;
  /** ctlogd's options after `--format conntrack`; `config` for the -c file. */
  args: string[] | 'config';
  expected(r: Run): string[];
}

const norm = (l: string) => l.replace(/ progname=\S+$/, '');

/** One conntrack line's type, protocol name and tuples. */
interface Parsed {
  proto: string;
  orig: Record<string, string>;
  reply: Record<string, string>;
}

function parse(line: string): Parsed {
  const toks = line.trim().split(/\s+/);
  const tuples: Array<Record<string, string>> = [];
  for (const tok of toks) {
    const kv = /^(src|dst|sport|dport|type|code|id)=(.*)$/.exec(tok);
    if (!kv) continue;
    if (kv[1] === 'src') tuples.push({});
    if (tuples.length > 0) tuples.at(-1)![kv[1]] = kv[2];
  }
  return { proto: toks[1], orig: tuples[0] ?? {}, reply: tuples[1] ?? {} };
}

const isIcmp = (p: Parsed) => p.proto === 'icmp' || p.proto === 'icmpv6';
/** What the tuples say of a source translation: the address, or the port (ICMP: the id). */
const srcTranslated = (p: Parsed) => p.orig.src !== p.reply.dst || (p.orig.sport ?? p.orig.id) !== (p.reply.dport ?? p.reply.id);
/** And of a destination translation: the address, or the port (ICMP: the address alone). */
const dstTranslated = (p: Parsed) => p.orig.dst !== p.reply.src || p.orig.dport !== p.reply.sport;

/** `a` without the lines of `b`, as ordered multisets; every line of `b` must be in `a`. */
function minus(a: string[], b: string[]): string[] {
  const left = new Map<string, number>();
  for (const l of b) left.set(l, (left.get(l) ?? 0) + 1);
  const out = a.filter((l) => {
    const n = left.get(l) ?? 0;
    if (n === 0) return true;
    left.set(l, n - 1);
    return false;
  });
  const missing = [...left].filter(([, n]) => n > 0).map(([l]) => l);
  assert.deepEqual(missing, [], 'lines of the positive case that the reference lacks');
  return out;
}

/** An IPv4 address in a prefix. */
function inPrefix4(addr: string | undefined, net: string, bits: number): boolean {
  const n = (a: string) => a.split('.').reduce((acc, p) => acc * 256 + Number(p), 0);
  if (addr === undefined || !/^\d+\.\d+\.\d+\.\d+$/.test(addr)) return false;
  const size = 2 ** (32 - bits);
  return Math.floor(n(addr) / size) === Math.floor(n(net) / size);
}

/**
 * The oracle's lines without its ICMP lines whose tuples say no
 * translation on that side (conntrack takes them for translated, ctlogd
 * does not); at least one such line must be there to remove.
 */
function withoutUntranslatedIcmp(lines: string[], translated: (p: Parsed) => boolean): string[] {
  const out = lines.filter((l) => {
    const p = parse(l);
    return !isIcmp(p) || translated(p);
  });
  assert.ok(out.length < lines.length, 'conntrack -E printed no untranslated ICMP line: the difference was not tested');
  return out;
}

const anyNatExpected = (r: Run) => withoutUntranslatedIcmp(r.oracle('anyNat'), (p) => srcTranslated(p) || dstTranslated(p));
/** A line has this word (`[ASSURED]` may end it). */
const has = (l: string, word: string) => l.split(/\s+/).includes(word);
const refWith = (r: Run, pred: (l: string) => boolean) => r.ref.filter(pred);

const CASES: Record<string, Case> = {
  unfiltered: { title: 'no filter: every line of conntrack -E (sanity)', args: [], expected: (r) => r.ref },
  origSrc: { title: '--orig-src 10.1.0.2 (exact)', args: ['--orig-src', ADDR.client], expected: (r) => r.oracle('origSrc') },
  origSrcAton: {
    title: '-s 10.1.2 (inet_aton reads it as 10.1.0.2)',
    args: ['-s', '10.1.2'],
    expected: (r) => {
      assert.deepEqual(r.oracle('origSrcAton'), r.oracle('origSrc'), 'conntrack -E -s 10.1.2 is -s 10.1.0.2');
      return r.oracle('origSrcAton');
    },
  },
  origSrcPrefix: { title: '-s 10.5.0.0/16 (orig-src prefix)', args: ['-s', '10.5.0.0/16'], expected: (r) => r.oracle('origSrcPrefix') },
  origSrc6: { title: '--orig-src fd01::/64 (IPv6 prefix)', args: ['--orig-src', 'fd01::/64'], expected: (r) => r.oracle('origSrc6') },
  origDst: { title: '--orig-dst 10.1.0.1 (the destination before DNAT)', args: ['--orig-dst', ADDR.routerIn], expected: (r) => r.oracle('origDst') },
  origDstPrefix: { title: '-d 10.2.0.0/24 (orig-dst prefix)', args: ['-d', '10.2.0.0/24'], expected: (r) => r.oracle('origDstPrefix') },
  replySrc: { title: '--reply-src 10.2.0.2 (the server, also after DNAT)', args: ['--reply-src', ADDR.server], expected: (r) => r.oracle('replySrc') },
  replySrcOwn: {
    title: '-r 10.9.0.1 (reply-src of an inserted entry whose reply tuple differs)',
    args: ['-r', '10.9.0.1'],
    expected: (r) => r.oracle('replySrcOwn'),
  },
  replyDst: {
    title: '--reply-dst 10.2.0.100 (the SNAT pool: the post-NAT source)',
    args: ['--reply-dst', ADDR.snatPool],
    expected: (r) => r.oracle('replyDst'),
  },
  replyDst6: { title: '-q fd02::1 (reply-dst: the IPv6 masquerade address)', args: ['-q', ADDR.routerOut6], expected: (r) => r.oracle('replyDst6') },
  udp: { title: '-p udp (proto)', args: ['-p', 'udp'], expected: (r) => r.oracle('udp') },
  proto58: { title: '--proto 58 (proto by number)', args: ['--proto', '58'], expected: (r) => r.oracle('proto58') },
  protoName: { title: '-p ipv6-icmp (proto by /etc/protocols name)', args: ['-p', 'ipv6-icmp'], expected: (r) => r.oracle('protoName') },
  icmp: { title: '-p icmp (proto)', args: ['-p', 'icmp'], expected: (r) => r.oracle('icmp') },
  sport: { title: '-p tcp --sport 1001', args: ['-p', 'tcp', '--sport', '1001'], expected: (r) => r.oracle('sport') },
  dport: { title: '-p tcp --dport 80', args: ['-p', 'tcp', '--dport', '80'], expected: (r) => r.oracle('dport') },
  mark: { title: '-m 5 (mark)', args: ['-m', '5'], expected: (r) => r.oracle('mark') },
  markMask: { title: '--mark 0x4/0x4 (mark with a mask)', args: ['--mark', '0x4/0x4'], expected: (r) => r.oracle('markMask') },
  mark0: { title: '-m 0 (mark: an event without CTA_MARK never matches)', args: ['-m', '0'], expected: (r) => r.oracle('mark0') },
  zone: { title: '-w 3 (zone)', args: ['-w', '3'], expected: (r) => r.oracle('zone') },
  zone0: { title: '--zone 0 (an event without CTA_ZONE is in zone 0)', args: ['--zone', '0'], expected: (r) => r.oracle('zone0') },
  srcNat: {
    title: '--src-nat (conntrack -E also prints the untranslated ICMP flows that passed a NAT hook)',
    args: ['--src-nat'],
    expected: (r) => withoutUntranslatedIcmp(r.oracle('srcNat'), srcTranslated),
  },
  dstNat: {
    title: '-g (dst-nat; conntrack -E also prints the ICMP flows with no destination translated)',
    args: ['-g'],
    expected: (r) => withoutUntranslatedIcmp(r.oracle('dstNat'), dstTranslated),
  },
  anyNat: {
    title: '--any-nat (conntrack -E also prints the untranslated ICMP flows that passed a NAT hook)',
    args: ['--any-nat'],
    expected: anyNatExpected,
  },
  srcNatPool: {
    title: '--src-nat 10.2.0.100 (src-nat IP, the value as the next word)',
    args: ['--src-nat', ADDR.snatPool],
    expected: (r) => r.oracle('srcNatPool'),
  },
  srcNatEquals: {
    title: '--src-nat=10.2.0.100 (src-nat IP after =: as conntrack -E --src-nat 10.2.0.100, which 1.4.7 would take as bare --src-nat)',
    args: [`--src-nat=${ADDR.snatPool}`],
    expected: (r) => {
      assert.deepEqual(r.oracle('srcNatEquals'), r.oracle('srcNat'), 'conntrack -E --src-nat=IP ignores the IP');
      return r.oracle('srcNatPool');
    },
  },
  srcNatPort: { title: '-n 10.2.0.99:3000 (src-nat IP:PORT, the port translated)', args: ['-n', '10.2.0.99:3000'], expected: (r) => r.oracle('srcNatPort') },
  dstNatPort: {
    title: '--dst-nat 10.2.0.2:8081 (dst-nat IP:PORT)',
    args: ['--dst-nat', `${ADDR.server}:8081`],
    expected: (r) => r.oracle('dstNatPort'),
  },
  dstNat6Port: {
    title: '--dst-nat [fd02::2]:8081 (dst-nat [IPv6]:PORT)',
    args: ['--dst-nat', `[${ADDR.server6}]:8081`],
    expected: (r) => r.oracle('dstNat6Port'),
  },
  srcNat6: {
    title: '--src-nat fd02::1 (an IPv6 NAT address: compared, where conntrack -E takes it as bare --src-nat on IPv6)',
    args: ['--src-nat', ADDR.routerOut6],
    expected: (r) => {
      const lines = r.oracle('srcNat6');
      const out = lines.filter((l) => parse(l).reply.dst === ADDR.routerOut6);
      assert.ok(out.length < lines.length, 'conntrack -E printed no IPv6 flow translated elsewhere: the difference was not tested');
      return out;
    },
  },
  combo: {
    title: '-p tcp -s 10.5.0.0/16 --dport 80 -m 5 (a combination)',
    args: ['-p', 'tcp', '-s', '10.5.0.0/16', '--dport', '80', '-m', '5'],
    expected: (r) => r.oracle('combo'),
  },
  config: {
    title: '-c FILE with orig_src 10.5.0.0/16 and mark 5 (config keys): as conntrack -E -s 10.5.0.0/16 -m 5',
    args: 'config',
    expected: (r) => r.oracle('config'),
  },
  notOrigSrcPrefix: {
    title: "--orig-src '!10.5.0.0/16' (negation: the reference without -s 10.5.0.0/16's lines)",
    args: ['--orig-src', '!10.5.0.0/16'],
    expected: (r) => minus(r.ref, r.oracle('origSrcPrefix')),
  },
  notProto: { title: "-p '!udp' (negation: the reference without -p udp's lines)", args: ['-p', '!udp'], expected: (r) => minus(r.ref, r.oracle('udp')) },
  notDport: {
    title: "-p tcp --dport '!80' (negation: the reference's TCP lines without --dport 80's)",
    args: ['-p', 'tcp', '--dport', '!80'],
    expected: (r) =>
      minus(
        refWith(r, (l) => parse(l).proto === 'tcp'),
        r.oracle('dport'),
      ),
  },
  notMark: { title: "-m '!5' (negation: the reference without -m 5's lines)", args: ['-m', '!5'], expected: (r) => minus(r.ref, r.oracle('mark')) },
  notZone: { title: "-w '!3' (negation: the reference without -w 3's lines)", args: ['-w', '!3'], expected: (r) => minus(r.ref, r.oracle('zone')) },
  notAnyNat: {
    title: "--any-nat '!' (negation: not translated, the reference without --any-nat's lines)",
    args: ['--any-nat', '!'],
    expected: (r) => minus(r.ref, anyNatExpected(r)),
  },
  notSrcNatPool: {
    title: "--src-nat '!10.2.0.100' (negation: the reference without --src-nat 10.2.0.100's lines)",
    args: ['--src-nat', `!${ADDR.snatPool}`],
    expected: (r) => minus(r.ref, r.oracle('srcNatPool')),
  },
  notReplyDst: {
    title: "-q '!10.2.0.100' (negation: the reference without --reply-dst 10.2.0.100's lines)",
    args: ['-q', `!${ADDR.snatPool}`],
    expected: (r) => minus(r.ref, r.oracle('replyDst')),
  },
  replySrcPrefix: {
    title: '--reply-src 10.2.0.0/24 (a prefix on reply-src, which conntrack refuses: the reference lines whose reply source is in it)',
    args: ['--reply-src', '10.2.0.0/24'],
    expected: (r) => refWith(r, (l) => inPrefix4(parse(l).reply.src, '10.2.0.0', 24)),
  },
  statusAssured: {
    title: '--status ASSURED (the reference lines with [ASSURED])',
    args: ['--status', 'ASSURED'],
    expected: (r) => refWith(r, (l) => has(l, '[ASSURED]')),
  },
  statusUnreplied: {
    title: '-u UNREPLIED (status: the reference lines with [UNREPLIED])',
    args: ['-u', 'UNREPLIED'],
    expected: (r) => refWith(r, (l) => has(l, '[UNREPLIED]')),
  },
  statusAssuredUnreplied: {
    title: "--status 'ASSURED,!SEEN_REPLY' (the reference lines with [ASSURED] and [UNREPLIED])",
    args: ['--status', 'ASSURED,!SEEN_REPLY'],
    expected: (r) => refWith(r, (l) => has(l, '[ASSURED]') && has(l, '[UNREPLIED]')),
  },
};

describe("conntrack's event filters on a NAT router: ctlogd beside conntrack -E", () => {
  let net: NatRouter | undefined;
  let dir: string | undefined;
  const oracles = new Map<OracleName, Lines>();
  const ctlogds = new Map<string, Lines>();
  let json: Lines;
  let run: Run;
  const codes = new Map<string, number | null>();

  before(async () => {
    checkPrerequisites();
    net = new NatRouter('filters');
    dir = mkdtempSync(path.join(tmpdir(), 'ctlogd-filters-'));
    const configFile = path.join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify(CONFIG));
    const router = net.router;

    for (const [name, args] of Object.entries(ORACLES) as Array<[OracleName, string[]]>) {
      oracles.set(name, new Lines(router.spawn('conntrack', ['-E', ...args])));
    }
    // A few at a time: each waits for its 'listening' line.
    const entries: Array<[string, string[]]> = Object.entries(CASES).map(([id, c]) => [
      id,
      c.args === 'config' ? ['-c', configFile] : ['--format', 'conntrack', ...c.args],
    ]);
    entries.push(['json', ['--format', 'json']]);
    for (let i = 0; i < entries.length; i += 4) {
      const started = await Promise.all(entries.slice(i, i + 4).map(([, args]) => startCtlogd(router, args)));
      entries.slice(i, i + 4).forEach(([id], j) => {
        ctlogds.set(id, started[j]);
      });
    }
    json = ctlogds.get('json')!;
    ctlogds.delete('json');
    const all = [...oracles.values(), json, ...ctlogds.values()];

    // conntrack -E gives no sign that it listens: wait until every process
    // has its NETLINK_NETFILTER (12) socket subscribed to event groups.
    const subscribed = () =>
      router
        .exec('cat', ['/proc/net/netlink'])
        .split('\n')
        .slice(1)
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => f[1] === '12' && f[3] !== undefined && !/^0+$/.test(f[3])).length;
    for (const deadline = Date.now() + 10_000; subscribed() < all.length; ) {
      if (Date.now() > deadline) {
        const gone = [...oracles].filter(([, l]) => l.child.exitCode !== null).map(([n, l]) => `conntrack -E ${ORACLES[n].join(' ')}: ${l.stderr.trim()}`);
        throw new Error(`only ${subscribed()} of ${all.length} listeners subscribed to conntrack events after 10 s; exited:\n${gone.join('\n')}`);
      }
      await sleep(100);
    }

    // Every packet on one CPU: the server's FIN and the client's cross,
    // and two events of one connection made at once on two CPUs reach
    // each listener's socket in either order (seen: one flow's FIN_WAIT
    // and LAST_ACK in one order at some listeners, conntrack -E and ctlogd
    // alike, and in the other at the rest). The listeners are not pinned;
    // the server and everything started from here on is.
    const affinity = /: (\S+)$/.exec(execFileSync('taskset', ['-p', '-c', String(process.pid)], { encoding: 'utf8' }).trim())![1];
    execFileSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
    try {
      await net.serve();
      // The events: the client's connections and pings, a ping from the
      // router itself (untranslated ICMP through the NAT hooks), the inserted
      // entries, then a flush (a DESTROY for each).
      net.connect(ALL_STEPS);
      net.ping();
      net.ping(true);
      router.exec('ping', ['-c', '1', '-W', '2', ADDR.server]);
      for (const args of INSERTS) router.exec('conntrack', ['-I', ...args]);
      router.exec('conntrack', ['-F']);
    } finally {
      execFileSync('taskset', ['-p', '-c', affinity, String(process.pid)], { stdio: 'ignore' });
    }

    // Until the reference has every DESTROY and every output has stayed
    // the same for a second (or 15 s).
    const reference = oracles.get('ref')!;
    const flushed = () => {
      const count = (w: string) => reference.lines.filter((l) => has(l, w)).length;
      return count('[NEW]') > 0 && count('[DESTROY]') >= count('[NEW]');
    };
    let last = '';
    for (let stable = 0, deadline = Date.now() + 15_000; stable < 10 && Date.now() < deadline; ) {
      await sleep(100);
      const now = all.map((l) => l.lines.length).join(',');
      stable = now === last && flushed() ? stable + 1 : 0;
      last = now;
    }
    await Promise.all([
      ...[['json', json] as const, ...ctlogds].map(async ([id, l]) => codes.set(id, await stop(l))),
      ...[...oracles.values()].map((l) => stop(l)),
    ]);

    const ref = oracles.get('ref')!.lines.map(norm);
    run = { ref, oracle: (name) => oracles.get(name)!.lines.map(norm) };
  });

  after(() => {
    for (const l of [...oracles.values(), ...ctlogds.values()]) l.child.kill('SIGKILL');
    json?.child.kill('SIGKILL');
    net?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const [id, c] of Object.entries(CASES)) {
    test(c.title, () => {
      const expected = c.expected(run);
      const ours = ctlogds.get(id)!;
      assert.equal(codes.get(id), 0, `ctlogd exited ${codes.get(id)}: ${ours.stderr}`);
      assert.deepEqual(ours.lines.map(norm), expected);
      if (id !== 'unfiltered') {
        assert.ok(expected.length >= 1, 'the filter keeps some of the events');
        assert.ok(expected.length < run.ref.length, `the filter drops some of the events (${expected.length} of ${run.ref.length} kept)`);
      }
    });
  }

  test('the events: every kind of flow, and [UNREPLIED] / [ASSURED] are SEEN_REPLY clear / ASSURED set (json ctlogd, line by line)', (t) => {
    // A NEW and, at the flush, a DESTROY for each: the client's connections, three pings, the inserted entries.
    const flows = ALL_STEPS.length + 3 + INSERTS.length;
    assert.equal(run.ref.filter((l) => has(l, '[NEW]')).length, flows, run.ref.join('\n'));
    assert.equal(run.ref.filter((l) => has(l, '[DESTROY]')).length, flows, run.ref.join('\n'));
    for (const args of INSERTS) {
      const [src, sport] = [args[args.indexOf('-s') + 1], args[args.indexOf('--sport') + 1]];
      assert.ok(
        run.ref.some((l) => has(l, '[NEW]') && parse(l).orig.src === src && parse(l).orig.sport === sport),
        `the NEW of conntrack -I ${args.join(' ')}`,
      );
    }
    assert.ok(
      run.ref.some((l) => parse(l).proto === 'icmp' && parse(l).orig.src === ADDR.routerOut),
      "the router's own ping",
    );
    const events = json.lines.map((l) => JSON.parse(l) as { status?: string[] });
    assert.equal(events.length, run.ref.length, 'the json ctlogd saw as many events');
    run.ref.forEach((line, i) => {
      const status = events[i].status ?? [];
      assert.equal(has(line, '[UNREPLIED]'), !status.includes('SEEN_REPLY'), `line ${i}: ${line} / ${json.lines[i]}`);
      assert.equal(has(line, '[ASSURED]'), status.includes('ASSURED') && !status.includes('OFFLOAD'), `line ${i}: ${line} / ${json.lines[i]}`);
    });
    t.diagnostic(`${run.ref.length} events; ${Object.keys(CASES).length} ctlogd filters, ${Object.keys(ORACLES).length} conntrack -E`);
  });

  // Where a filter runs: the kernel's socket filter drops what fails it
  // before it is read (docs/filters.md, "In the kernel": since the socket
  // filter walks the attributes after the tuples and compares them for
  // NAT, that is every condition); the reader applies the filter again
  // to what it reads, and counts what it drops as filtered: with the
  // kernel's own messages, none.
  test('-s 10.5.0.0/16: the kernel dropped the rest before reading (filtered=0, received = written)', () => {
    const all = stats(ctlogds.get('unfiltered')!.stderr);
    const l = ctlogds.get('origSrcPrefix')!;
    const s = stats(l.stderr);
    assert.equal(s.filtered, 0, l.stderr);
    assert.equal(s.received, s.written);
    assert.equal(s.written, l.lines.length);
    assert.ok(s.received < all.received, `received ${s.received} of ${all.received}`);
  });

  test('every filter (mark, zone, status, NAT, negations too) is applied by the kernel: no ctlogd read an event it then filtered out', () => {
    assert.equal(stats(ctlogds.get('unfiltered')!.stderr).received, run.ref.length);
    const counts = [...ctlogds].map(([id, l]) => {
      const s = stats(l.stderr);
      return { id, received: s.received, filtered: s.filtered, written: s.written, lines: l.lines.length };
    });
    assert.deepEqual(
      counts.filter((c) => c.filtered !== 0 || c.received !== c.written || c.written !== c.lines),
      [],
    );
  });
});
