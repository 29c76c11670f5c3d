/**
 * Real IPFIX collectors for end-to-end tests: Debian 12's nfcapd (nfdump
 * 1.7.1) and nfacctd (pmacct 1.7.7), each run on loopback, in a network
 * namespace when one is given, with its files in a temp dir of its own, and
 * read back with the collector's own tools while it runs. `Flow` is one
 * record as the collector shows it, each field undefined where it shows
 * nothing for the information element.
 *
 * What each decodes of the NAT event records (RFC 7011, RFC 8158), read in
 * their sources at the Debian versions and checked by e2e-collectors.test.ts:
 *
 * | IE                                | nfdump 1.7.1 (-o json key)  | pmacct 1.7.7 (primitive, JSON key)     |
 * |-----------------------------------|-----------------------------|----------------------------------------|
 * | observationTimeMilliseconds 323   | t_event                     | custom u_int 8: obs_time_ms; also timestamp_start when 152 is absent |
 * | flowStartMilliseconds 152         | first                       | timestamp_start                        |
 * | flowEndMilliseconds 153           | last                        | timestamp_end                          |
 * | natEvent 230                      | nat_event_id, nat_event     | nat_event                              |
 * | protocolIdentifier 4              | proto                       | proto: ip_proto                        |
 * | source/destinationIPv4Address 8/12| src4_addr, dst4_addr        | src_host/dst_host: ip_src, ip_dst      |
 * | source/destinationIPv6Address 27/28| src6_addr, dst6_addr       | src_host/dst_host: ip_src, ip_dst      |
 * | source/destinationTransportPort 7/11| src_port, dst_port        | src_port/dst_port: port_src, port_dst  |
 * | postNATSource/DestinationIPv4 225/226| src4_xlt_ip, dst4_xlt_ip | post_nat_src_host/post_nat_dst_host: post_nat_ip_src/_dst |
 * | postNAPTSource/DestinationPort 227/228| src_xlt_port, dst_xlt_port| post_nat_src_port/_dst_port: post_nat_port_src/_dst |
 * | postNATSource/DestinationIPv6 281/282| not decoded              | custom ip 16: post_nat_ip6_src/_dst (post_nat_src_host is IPv4 only) |
 * | icmpTypeCodeIPv4 32, IPv6 139     | icmp_type, icmp_code        | custom u_int 2: icmp_tc4, icmp_tc6 (type*256+code) |
 * | ingressVRFID 234, egressVRFID 235 | ingress_vrf, egress_vrf     | custom u_int 4: ingress_vrf, egress_vrf|
 * | initiator/responderOctets 231/232 | not decoded                 | custom u_int 8: initiator_octets, responder_octets |
 * | initiator/responderPackets 298/299| not decoded                 | custom u_int 8: initiator_packets, responder_packets |
 * | octetDeltaCount 1, packetDeltaCount 2| in_bytes, in_packets     | custom u_int 8: octet_delta, packet_delta (bytes/packets are left out of the JSON of an event record) |
 * | flowId 148                        | not decoded                 | custom u_int 8: flow_id                |
 *
 * Neither collector takes IPFIX over TCP at these versions: both open UDP
 * sockets only (nfdump's nfnet.c, pmacct's nfacctd.c: SOCK_DGRAM; pmacct
 * has DTLS over UDP, not TCP). `protocol: 'tcp'` is refused here, in words.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Netns } from './netns.js';

const run = promisify(execFile);

/** One record as a collector shows it; undefined where it shows nothing. */
export interface Flow {
  natEvent?: number;
  /** nfdump's own words for natEvent (its JSON's nat_event). */
  natEventName?: string;
  protocol?: number;
  src?: string;
  dst?: string;
  srcPort?: number;
  dstPort?: number;
  postNatSrc?: string;
  postNatDst?: string;
  postNatSrcPort?: number;
  postNatDstPort?: number;
  /** ms since the epoch; 0 where the record had no start (both collectors show a zero time then). */
  start?: number;
  end?: number;
  observationTime?: number;
  octets?: bigint;
  packets?: bigint;
  initiatorOctets?: bigint;
  responderOctets?: bigint;
  initiatorPackets?: bigint;
  responderPackets?: bigint;
  icmpType?: number;
  icmpCode?: number;
  ingressVrf?: number;
  egressVrf?: number;
  flowId?: bigint;
  /** The IPFIX header's sequence number of the message that carried it (pmacct's export_proto_seqno). */
  exportSeq?: number;
  /** The record as the collector printed it. */
  raw: Record<string, unknown>;
}

export interface CollectorOptions {
  port: number;
  protocol: 'udp' | 'tcp';
  ns?: Netns;
}

export interface Collector {
  readonly name: 'nfcapd' | 'nfacctd' | 'python3-ipfix';
  readonly port: number;
  /** The collector's process (the `ip netns exec` wrapper execs it: same pid). */
  readonly pid: number;
  /** The temp dir of its files; removed by stop(). */
  readonly dir: string;
  /** Every record received so far that the collector has written out (see the start functions for when that is). */
  flows(): Promise<Flow[]>;
  /** Waits until at least `n` records read back, and returns them; fails after `ms` saying what was seen. */
  waitFor(n: number, ms?: number): Promise<Flow[]>;
  /** Stops the collector the way that makes it write out all it holds, and returns every record; the files stay until stop(). */
  drain(): Promise<Flow[]>;
  /**
   * Sequence number gaps the collector counted: nfcapd's, from the files'
   * stat records (`nfdump -I`); undefined for nfacctd, which counted none
   * here, not a forward jump nor a backward one (its SIGUSR1 stats line said
   * seq_good for every message), and shows each record's message number
   * instead (Flow.exportSeq).
   */
  sequenceFailures(): Promise<number | undefined>;
  /** What the collector said on stdout and stderr. */
  output(): string;
  /** Kills it (its whole process group), and removes its temp dir. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';

function need(tool: string, pkg: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`the collector tests need '${tool}' (Debian package ${pkg})`);
  }
}

/** Neither collector has a TCP listener at these versions (see the header). */
function refuseTcp(name: string, version: string, opts: CollectorOptions): void {
  if (opts.protocol === 'tcp') {
    throw new Error(`${name} ${version} receives IPFIX over UDP only: it opens no TCP socket`);
  }
}

/**
 * A collector process: its own process group (so stop() reaches the
 * children pmacct forks for its plugins and writers), in the namespace if
 * one is given, ready once its UDP socket is bound on loopback.
 */
class Proc {
  readonly child: ChildProcess;
  text = '';
  readonly exited: Promise<unknown>;

  constructor(
    cmd: string,
    args: string[],
    readonly ns: Netns | undefined,
    env: NodeJS.ProcessEnv = {},
  ) {
    const [file, argv] = ns ? ['ip', ['netns', 'exec', ns.name, cmd, ...args]] : [cmd, args];
    this.child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, ...env } });
    for (const s of [this.child.stdout!, this.child.stderr!]) s.setEncoding('utf8').on('data', (d: string) => (this.text += d));
    this.exited = once(this.child, 'exit');
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Runs a command where the collector runs (inside the namespace if any). */
  exec(cmd: string, args: string[]): string {
    const [file, argv] = this.ns ? ['ip', ['netns', 'exec', this.ns.name, cmd, ...args]] : [cmd, args];
    return execFileSync(file, argv, { encoding: 'utf8' });
  }

  async listening(name: string, port: number, ms = 10000, protocol: 'udp' | 'tcp' = 'udp'): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (!this.alive) throw new Error(`${name} exited (${this.child.exitCode ?? this.child.signalCode}):\n${this.text}`);
      if (this.exec('ss', [protocol === 'udp' ? '-Hlun' : '-Hltn', 'sport', '=', `:${port}`]).includes(`${HOST}:${port}`)) return;
      if (Date.now() > deadline) throw new Error(`${name} did not bind ${HOST}:${port} (${protocol}):\n${this.text}`);
      await sleep(50);
    }
  }

  /** Sends `signal` to the group and waits for the collector to exit; SIGKILL after `ms`. */
  async end(signal: NodeJS.Signals, ms = 5000): Promise<void> {
    const pid = this.child.pid!;
    if (this.alive) {
      try {
        process.kill(-pid, signal);
      } catch {
        // Already gone.
      }
      const t = setTimeout(() => this.kill(), ms);
      await this.exited;
      clearTimeout(t);
    }
    // pmacct's plugins and writers may outlive the core by a moment.
    const deadline = Date.now() + ms;
    while (groupAlive(pid) && Date.now() < deadline) await sleep(20);
    this.kill();
  }

  kill(): void {
    try {
      process.kill(-this.child.pid!, 'SIGKILL');
    } catch {
      // The group is gone.
    }
  }
}

/** Whether any process of the group `pgid` is left. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(c: Pick<Collector, 'name' | 'flows' | 'output'>, n: number, ms: number): Promise<Flow[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = await c.flows();
    if (got.length >= n) return got;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${n} records from ${c.name}, have ${got.length}:\n${JSON.stringify(got.map((f) => f.raw))}\n${c.output()}`);
    }
    await sleep(200);
  }
}

/** JSON text with every integer of 16 digits or more quoted, so 64-bit counters keep every digit. */
function parseExact(text: string): unknown {
  return JSON.parse(text.replace(/(:\s*)(\d{16,})(?=\s*[,}\n])/g, '$1"$2"'));
}

const num = (v: unknown): number | undefined => (v === undefined || v === null || v === '' ? undefined : Number(v));
const big = (v: unknown): bigint | undefined => (v === undefined || v === null || v === '' ? undefined : BigInt(v as string | number));

// nfcapd

/** nfdump's time "YYYY-mm-ddTHH:MM:SS.mmm", printed in local time: read with TZ=UTC. */
function nfdumpTime(s: unknown): number | undefined {
  if (typeof s !== 'string') return undefined;
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d+)$/.exec(s);
  if (!m) return undefined;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) + Number(m[7]);
}

function fromNfdump(r: Record<string, unknown>): Flow {
  return {
    natEvent: num(r.nat_event_id),
    natEventName: r.nat_event as string | undefined,
    protocol: num(r.proto),
    src: (r.src4_addr ?? r.src6_addr) as string | undefined,
    dst: (r.dst4_addr ?? r.dst6_addr) as string | undefined,
    srcPort: num(r.src_port),
    dstPort: num(r.dst_port),
    postNatSrc: (r.src4_xlt_ip ?? r.src6_xlt_ip) as string | undefined,
    postNatDst: (r.dst4_xlt_ip ?? r.dst6_xlt_ip) as string | undefined,
    postNatSrcPort: num(r.src_xlt_port),
    postNatDstPort: num(r.dst_xlt_port),
    start: nfdumpTime(r.first),
    end: nfdumpTime(r.last),
    // t_event's milliseconds are printed unpadded (".5" is 5 ms): nfdumpTime adds them as a number; "<unknown>" when 0.
    observationTime: nfdumpTime(r.t_event),
    octets: big(r.in_bytes),
    packets: big(r.in_packets),
    icmpType: num(r.icmp_type),
    icmpCode: num(r.icmp_code),
    ingressVrf: num(r.ingress_vrf),
    egressVrf: num(r.egress_vrf),
    raw: r,
  };
}

/**
 * nfcapd -w DIR -b 127.0.0.1 -p PORT -t 2. nfcapd writes into
 * nfcapd.current.PID and makes it a readable file only when it rotates it:
 * it has no signal that flushes and goes on (SIGHUP, SIGINT and SIGTERM all
 * rotate and exit: IntHandler in nfcapd.c), so the rotation interval is
 * nfcapd's smallest, 2 s (-t), and the files then get seconds in their
 * names. A record is in flows() within about 3 s, and at drain().
 */
export async function startNfcapd(opts: CollectorOptions): Promise<Collector> {
  need('nfcapd', 'nfdump');
  need('nfdump', 'nfdump');
  refuseTcp('nfcapd', '1.7.1', opts);
  const dir = mkdtempSync(path.join(tmpdir(), 'ctlogd-nfcapd-'));
  const proc = new Proc('nfcapd', ['-w', dir, '-b', HOST, '-p', String(opts.port), '-t', '2', '-I', 'ctlogd'], opts.ns);
  const cache = new Map<string, { stamp: string; flows: Flow[] }>();
  const files = () =>
    readdirSync(dir)
      .filter((f) => /^nfcapd\.\d{14}$/.test(f))
      .sort();
  const c: Collector = {
    name: 'nfcapd',
    port: opts.port,
    pid: proc.child.pid!,
    dir,
    async flows() {
      const out: Flow[] = [];
      for (const f of files()) {
        const file = path.join(dir, f);
        const st = statSync(file);
        const stamp = `${st.size}:${st.mtimeMs}`;
        let hit = cache.get(f);
        if (hit?.stamp !== stamp) {
          const { stdout } = await run('nfdump', ['-r', file, '-o', 'json'], { env: { ...process.env, TZ: 'UTC' }, maxBuffer: 64 << 20 });
          // A file without records prints "No matching flows" inside the JSON array.
          const json = stdout.replace(/^No matching flows\n/m, '');
          hit = { stamp, flows: (parseExact(json) as Record<string, unknown>[]).map(fromNfdump) };
          cache.set(f, hit);
        }
        out.push(...hit.flows);
      }
      return out;
    },
    waitFor: (n, ms = 15000) => waitFor(c, n, ms),
    async drain() {
      await proc.end('SIGTERM');
      return c.flows();
    },
    async sequenceFailures() {
      let n = 0;
      for (const f of files()) {
        const { stdout } = await run('nfdump', ['-r', path.join(dir, f), '-I']);
        n += Number(/Sequence failures:\s*(\d+)/.exec(stdout)?.[1] ?? 0);
      }
      return n;
    },
    output: () => proc.text,
    async stop() {
      await proc.end('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await proc.listening('nfcapd', opts.port);
  } catch (e) {
    await c.stop();
    throw e;
  }
  return c;
}

// nfacctd

/**
 * pmacct's custom primitives for what it has no primitive of its own for
 * (aggregate_primitives): a field is taken only when the template gives it
 * exactly this length (NF_custom_primitives_handler), and printed in the
 * JSON as a string.
 */
const CUSTOM: Array<{ name: string; type: number; len: number; semantics: 'u_int' | 'ip' }> = [
  { name: 'obs_time_ms', type: 323, len: 8, semantics: 'u_int' },
  { name: 'post_nat_ip6_src', type: 281, len: 16, semantics: 'ip' },
  { name: 'post_nat_ip6_dst', type: 282, len: 16, semantics: 'ip' },
  { name: 'icmp_tc4', type: 32, len: 2, semantics: 'u_int' },
  { name: 'icmp_tc6', type: 139, len: 2, semantics: 'u_int' },
  { name: 'ingress_vrf', type: 234, len: 4, semantics: 'u_int' },
  { name: 'egress_vrf', type: 235, len: 4, semantics: 'u_int' },
  { name: 'initiator_octets', type: 231, len: 8, semantics: 'u_int' },
  { name: 'responder_octets', type: 232, len: 8, semantics: 'u_int' },
  { name: 'initiator_packets', type: 298, len: 8, semantics: 'u_int' },
  { name: 'responder_packets', type: 299, len: 8, semantics: 'u_int' },
  { name: 'octet_delta', type: 1, len: 8, semantics: 'u_int' },
  { name: 'packet_delta', type: 2, len: 8, semantics: 'u_int' },
  { name: 'flow_id', type: 148, len: 8, semantics: 'u_int' },
];

/** The template lengths the custom primitives need, by IE id. */
export const NFACCTD_LENGTHS: ReadonlyMap<number, number> = new Map(CUSTOM.map((p) => [p.type, p.len]));

const PRIMITIVES = [
  'nat_event',
  'proto',
  'src_host',
  'dst_host',
  'src_port',
  'dst_port',
  'post_nat_src_host',
  'post_nat_dst_host',
  'post_nat_src_port',
  'post_nat_dst_port',
  'timestamp_start',
  'timestamp_end',
  'export_proto_seqno',
  ...CUSTOM.map((p) => p.name),
];

/** "sec.usec" (timestamps_since_epoch) in ms. */
function pmacctTime(s: unknown): number | undefined {
  if (typeof s !== 'string') return undefined;
  const m = /^(\d+)\.(\d{6})$/.exec(s);
  return m ? Number(m[1]) * 1000 + Math.floor(Number(m[2]) / 1000) : undefined;
}

function fromPmacct(r: Record<string, unknown>): Flow {
  const v6 = typeof r.ip_src === 'string' && r.ip_src.includes(':');
  // The native post-NAT hosts are IPv4 only; an IPv6 record's are the custom ones (NAT66; NAT64 would mix them).
  const tc = num(v6 ? r.icmp_tc6 : r.icmp_tc4);
  const icmp = r.ip_proto === '1' || r.ip_proto === '58';
  return {
    natEvent: num(r.nat_event),
    protocol: num(r.ip_proto),
    src: r.ip_src as string | undefined,
    dst: r.ip_dst as string | undefined,
    srcPort: num(r.port_src),
    dstPort: num(r.port_dst),
    postNatSrc: (v6 ? r.post_nat_ip6_src : r.post_nat_ip_src) as string | undefined,
    postNatDst: (v6 ? r.post_nat_ip6_dst : r.post_nat_ip_dst) as string | undefined,
    postNatSrcPort: num(r.post_nat_port_src),
    postNatDstPort: num(r.post_nat_port_dst),
    start: pmacctTime(r.timestamp_start),
    end: pmacctTime(r.timestamp_end),
    observationTime: num(r.obs_time_ms),
    octets: big(r.octet_delta),
    packets: big(r.packet_delta),
    initiatorOctets: big(r.initiator_octets),
    responderOctets: big(r.responder_octets),
    initiatorPackets: big(r.initiator_packets),
    responderPackets: big(r.responder_packets),
    icmpType: icmp && tc !== undefined ? tc >> 8 : undefined,
    icmpCode: icmp && tc !== undefined ? tc & 0xff : undefined,
    ingressVrf: num(r.ingress_vrf),
    egressVrf: num(r.egress_vrf),
    flowId: big(r.flow_id),
    exportSeq: num(r.export_proto_seqno),
    raw: r,
  };
}

/**
 * nfacctd -f DIR/nfacctd.conf: one print plugin writing JSON lines to
 * DIR/flows.json, appended every second (print_refresh_time), so a record
 * is in flows() within about 2 s, and at drain() (SIGTERM: the plugin
 * writes out its cache as it exits). The print plugin aggregates: records
 * equal in every primitive above are summed into one, so tests send records
 * that differ (in ports, times or sequence numbers).
 */
export async function startNfacctd(opts: CollectorOptions): Promise<Collector> {
  need('nfacctd', 'pmacct');
  refuseTcp('nfacctd', '1.7.7', opts);
  const dir = mkdtempSync(path.join(tmpdir(), 'ctlogd-nfacctd-'));
  const out = path.join(dir, 'flows.json');
  const log = path.join(dir, 'nfacctd.log');
  writeFileSync(path.join(dir, 'primitives.lst'), CUSTOM.map((p) => `name=${p.name} field_type=${p.type} len=${p.len} semantics=${p.semantics}\n`).join(''));
  writeFileSync(
    path.join(dir, 'nfacctd.conf'),
    `daemonize: false
logfile: ${log}
pidfile: ${path.join(dir, 'nfacctd.pid')}
nfacctd_ip: ${HOST}
nfacctd_port: ${opts.port}
aggregate_primitives: ${path.join(dir, 'primitives.lst')}
plugins: print[nat]
aggregate[nat]: ${PRIMITIVES.join(', ')}
print_output[nat]: json
print_output_file[nat]: ${out}
print_output_file_append[nat]: true
print_refresh_time[nat]: 1
print_num_protos[nat]: true
timestamps_since_epoch[nat]: true
`,
  );
  const proc = new Proc('nfacctd', ['-f', path.join(dir, 'nfacctd.conf')], opts.ns);
  const logText = () => {
    try {
      return readFileSync(log, 'utf8');
    } catch {
      return '';
    }
  };
  const c: Collector = {
    name: 'nfacctd',
    port: opts.port,
    pid: proc.child.pid!,
    dir,
    async flows() {
      let text = '';
      try {
        text = readFileSync(out, 'utf8');
      } catch {
        return [];
      }
      return text
        .split('\n')
        .slice(0, -1) // a line still being written has no newline yet
        .map((l) => fromPmacct(parseExact(l) as Record<string, unknown>));
    },
    waitFor: (n, ms = 15000) => waitFor(c, n, ms),
    async drain() {
      await proc.end('SIGTERM');
      return c.flows();
    },
    sequenceFailures: async () => undefined,
    output: () => proc.text + logText(),
    async stop() {
      await proc.end('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await proc.listening('nfacctd', opts.port);
    // The core binds before it forks the print plugin, and records it reads before the plugin runs can be lost
    // (seen under load): ready is the plugin's first purge, a second after it started.
    const deadline = Date.now() + 10000;
    while (!logText().includes('Purging cache - END')) {
      if (!proc.alive || Date.now() > deadline) throw new Error(`nfacctd's print plugin did not start:\n${c.output()}`);
      await sleep(50);
    }
  } catch (e) {
    await c.stop();
    throw e;
  }
  return c;
}

// python3-ipfix over TCP

const IPFIX_STREAM = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ipfix-stream.py');

/** A record as python3-ipfix names its fields (IANA names), to a Flow. */
function fromIanaNames(r: Record<string, unknown>): Flow {
  const tc = num(r.icmpTypeCodeIPv4 ?? r.icmpTypeCodeIPv6);
  const icmp = r.protocolIdentifier === 1 || r.protocolIdentifier === 58;
  return {
    natEvent: num(r.natEvent),
    protocol: num(r.protocolIdentifier),
    src: (r.sourceIPv4Address ?? r.sourceIPv6Address) as string | undefined,
    dst: (r.destinationIPv4Address ?? r.destinationIPv6Address) as string | undefined,
    srcPort: num(r.sourceTransportPort),
    dstPort: num(r.destinationTransportPort),
    postNatSrc: (r.postNATSourceIPv4Address ?? r.postNATSourceIPv6Address) as string | undefined,
    postNatDst: (r.postNATDestinationIPv4Address ?? r.postNATDestinationIPv6Address) as string | undefined,
    postNatSrcPort: num(r.postNAPTSourceTransportPort),
    postNatDstPort: num(r.postNAPTDestinationTransportPort),
    start: num(r.flowStartMilliseconds),
    end: num(r.flowEndMilliseconds),
    observationTime: num(r.observationTimeMilliseconds),
    octets: big(r.octetDeltaCount),
    packets: big(r.packetDeltaCount),
    initiatorOctets: big(r.initiatorOctets),
    responderOctets: big(r.responderOctets),
    initiatorPackets: big(r.initiatorPackets),
    responderPackets: big(r.responderPackets),
    icmpType: icmp && tc !== undefined ? tc >> 8 : undefined,
    icmpCode: icmp && tc !== undefined ? tc & 0xff : undefined,
    ingressVrf: num(r.ingressVRFID),
    flowId: big(r.flowId),
    raw: r,
  };
}

/**
 * An IPFIX collector over TCP: neither nfcapd nor nfacctd takes TCP at
 * Debian's versions, python3-ipfix's reader (Brian Trammell's
 * python-ipfix, Debian's python3-ipfix) does. ipfix-stream.py listens
 * and prints each record as it comes; the bytes of each connection are
 * kept in `dir` (N.ipfix), which `ipfixDump()` reads with libfixbuf's
 * ipfixDump (Debian's libfixbuf-tools), a second implementation.
 * `connections()` tells how many connections came and which were closed.
 */
export async function startIpfixStream(
  opts: Omit<CollectorOptions, 'protocol'>,
): Promise<Collector & { connections(): { opened: number; closed: number; errors: string[] }; ipfixDump(): string }> {
  need('/usr/bin/python3', 'python3');
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import ipfix.reader'], { stdio: 'ignore' });
  } catch {
    throw new Error("the IPFIX-over-TCP tests need python3-ipfix's reader (Debian package python3-ipfix)");
  }
  need('ipfixDump', 'libfixbuf-tools');
  const dir = mkdtempSync(path.join(tmpdir(), 'ctlogd-ipfix-stream-'));
  const proc = new Proc('/usr/bin/python3', [IPFIX_STREAM, HOST, String(opts.port), dir], opts.ns);
  const lines = (): Array<Record<string, unknown>> =>
    proc.text
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => parseExact(l) as Record<string, unknown>);
  const c = {
    name: 'python3-ipfix' as const,
    port: opts.port,
    pid: proc.child.pid!,
    dir,
    flows: async () =>
      lines()
        .filter((r) => 'connection_id' in r && !('error' in r))
        .map(fromIanaNames),
    waitFor: (n: number, ms = 15000) => waitFor(c, n, ms),
    async drain() {
      return c.flows();
    },
    sequenceFailures: async () => undefined,
    output: () => proc.text,
    connections() {
      const l = lines();
      return {
        opened: l.filter((r) => 'connection' in r).length,
        closed: l.filter((r) => 'closed' in r).length,
        errors: l.filter((r) => 'error' in r).map((r) => String(r.error)),
      };
    },
    ipfixDump() {
      return readdirSync(dir)
        .filter((f) => f.endsWith('.ipfix'))
        .sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10))
        .map((f) => execFileSync('ipfixDump', ['-i', path.join(dir, f), '-d'], { encoding: 'utf8', maxBuffer: 64 << 20 }))
        .join('');
    },
    async stop() {
      await proc.end('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await proc.listening('ipfix-stream.py', opts.port, 10000, 'tcp');
  } catch (e) {
    await c.stop();
    throw e;
  }
  return c;
}
