/**
 * A router that translates, on real kernel events: three network
 * namespaces, client ── router ── server, joined by veth pairs, with the
 * router forwarding IPv4 and IPv6 and translating as a home or CGNAT
 * router does:
 *
 *   client 10.1.0.2, fd01::2 ── r0 10.1.0.1, fd01::1 | router | r1 10.2.0.1,
 *   10.2.0.100, fd02::1 ── server 10.2.0.2, fd02::2
 *
 * - masquerade: client to server TCP 80 and ICMP echo, IPv4 and IPv6
 *   (post-NAT source 10.2.0.1 / fd02::1);
 * - SNAT with a port range: UDP to port 5300 leaves from 10.2.0.100, ports
 *   20000-20999;
 * - DNAT: TCP to the router's 8080 goes to the server's 8081, IPv4 and
 *   IPv6 (post-NAT destination), the source kept;
 * - none: UDP to port 7000 is forwarded untranslated.
 *
 * ctlogd and `conntrack -E` run in the router namespace (`router`).
 */
import path from 'node:path';
import { ROOT } from './ctlogd.js';
import { Netns } from './netns.js';

const NAT_TRAFFIC = path.join(ROOT, '__test__/helpers/nat-traffic.mjs');

export const ADDR = {
  client: '10.1.0.2',
  client6: 'fd01::2',
  routerIn: '10.1.0.1',
  routerIn6: 'fd01::1',
  routerOut: '10.2.0.1',
  routerOut6: 'fd02::1',
  snatPool: '10.2.0.100',
  server: '10.2.0.2',
  server6: 'fd02::2',
} as const;

/** The client's connections, by what the router does to them. */
export const STEPS = {
  masqTcp: `tcp:${ADDR.server}:80`,
  masqTcp6: `tcp:[${ADDR.server6}]:80`,
  snatUdp: `udp:${ADDR.server}:5300`,
  dnatTcp: `tcp:${ADDR.routerIn}:8080`,
  dnatTcp6: `tcp:[${ADDR.routerIn6}]:8080`,
  plainUdp: `udp:${ADDR.server}:7000`,
  plainUdp6: `udp:[${ADDR.server6}]:7000`,
} as const;
export type Step = keyof typeof STEPS;

export class NatRouter {
  readonly client: Netns;
  readonly router: Netns;
  readonly server: Netns;

  constructor(tag: string) {
    this.client = new Netns(`${tag}-c`);
    this.router = new Netns(`${tag}-r`);
    this.server = new Netns(`${tag}-s`);
    try {
      this.wire();
    } catch (e) {
      this.destroy();
      throw e;
    }
  }

  private wire(): void {
    const { client: c, router: r, server: s } = this;
    // A veth pair made in the router, one end moved out.
    r.exec('ip', ['link', 'add', 'r0', 'type', 'veth', 'peer', 'name', 'c0', 'netns', c.name]);
    r.exec('ip', ['link', 'add', 'r1', 'type', 'veth', 'peer', 'name', 's0', 'netns', s.name]);
    const up = (ns: Netns, dev: string, ...addrs: string[]) => {
      for (const a of addrs) ns.exec('ip', ['addr', 'add', a, 'dev', dev, ...(a.includes(':') ? ['nodad'] : [])]);
      ns.exec('ip', ['link', 'set', dev, 'up']);
    };
    up(c, 'c0', `${ADDR.client}/24`, `${ADDR.client6}/64`);
    up(r, 'r0', `${ADDR.routerIn}/24`, `${ADDR.routerIn6}/64`);
    up(r, 'r1', `${ADDR.routerOut}/24`, `${ADDR.snatPool}/24`, `${ADDR.routerOut6}/64`);
    up(s, 's0', `${ADDR.server}/24`, `${ADDR.server6}/64`);
    c.exec('ip', ['route', 'add', 'default', 'via', ADDR.routerIn]);
    c.exec('ip', ['-6', 'route', 'add', 'default', 'via', ADDR.routerIn6]);
    s.exec('ip', ['route', 'add', 'default', 'via', ADDR.routerOut]);
    s.exec('ip', ['-6', 'route', 'add', 'default', 'via', ADDR.routerOut6]);
    r.exec('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    r.nft(`add table inet ctlogd_nat
      add chain inet ctlogd_nat pre { type nat hook prerouting priority dstnat; }
      add rule inet ctlogd_nat pre iifname "r0" ip daddr ${ADDR.routerIn} tcp dport 8080 dnat ip to ${ADDR.server}:8081
      add rule inet ctlogd_nat pre iifname "r0" ip6 daddr ${ADDR.routerIn6} tcp dport 8080 dnat ip6 to [${ADDR.server6}]:8081
      add chain inet ctlogd_nat post { type nat hook postrouting priority srcnat; }
      add rule inet ctlogd_nat post oifname "r1" udp dport 5300 snat ip to ${ADDR.snatPool}:20000-20999
      add rule inet ctlogd_nat post oifname "r1" tcp dport 80 masquerade
      add rule inet ctlogd_nat post oifname "r1" meta l4proto { icmp, ipv6-icmp } masquerade`);
  }

  /** Starts the server's listeners; resolves once they listen. */
  async serve(): Promise<void> {
    const p = this.server.spawn(process.execPath, [NAT_TRAFFIC, 'serve', '80,8081', '5300,7000']);
    await new Promise<void>((resolve, reject) => {
      p.stdout!.on('data', (d: Buffer) => d.toString().includes('serving') && resolve());
      p.once('exit', (code) => reject(new Error(`the server's listeners exited (${code})`)));
    });
  }

  /** Runs each step from the client; returns each one's local port. */
  connect(steps: Step[]): Record<Step, number> {
    const out = this.client
      .exec(process.execPath, [NAT_TRAFFIC, ...steps.map((s) => STEPS[s])])
      .trim()
      .split('\n')
      .map(Number);
    return Object.fromEntries(steps.map((s, i) => [s, out[i]])) as Record<Step, number>;
  }

  /** One ICMP echo from the client, IPv4 or IPv6. */
  ping(v6 = false): void {
    this.client.exec('ping', [...(v6 ? ['-6'] : []), '-c', '1', '-W', '2', v6 ? ADDR.server6 : ADDR.server]);
  }

  destroy(): void {
    for (const ns of [this.client, this.router, this.server]) ns?.destroy();
  }
}
