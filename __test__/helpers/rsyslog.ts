/**
 * rsyslog for the syslog end-to-end tests: rsyslogd in a test namespace
 * with its own config and work directory in a temp dir, listening on
 * loopback UDP and TCP (imudp, imtcp), TLS (imtcp with the gtls driver, when
 * asked for) and on a unix socket in the temp dir (imuxsock, rsyslog's
 * defaults for it, as for /dev/log), and writing what each input receives
 * to its own file with the raw fields to check; and what the tests assert
 * of what it received.
 */
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Lines } from './ctlogd.js';
import { checkPrerequisites, Netns } from './netns.js';

export const PORT = 5514;
/** RFC 5425's port: ctlogd's default for syslog_protocol tls. */
export const TLS_PORT = 6514;
export type Kind = 'udp' | 'tcp' | 'unix' | 'tls';

/** Facility codes (RFC 5424) of the facilities used here; severity is info (6). */
export const PRI = { daemon: 3 * 8 + 6, user: 1 * 8 + 6, local3: 19 * 8 + 6, local7: 23 * 8 + 6 };

export function checkRsyslog(): void {
  try {
    execFileSync('sh', ['-c', 'command -v rsyslogd'], { stdio: 'ignore' });
  } catch {
    throw new Error("the syslog end-to-end tests need 'rsyslogd' (Debian package rsyslog)");
  }
}

/** One message as rsyslog parsed it. */
export interface Received {
  pri: number;
  app: string;
  procid: string;
  msgid: string;
  sd: string;
  msg: string;
}

/** rsyslogd in a test namespace, with files of what it received per input. */
/** rsyslog's TLS input (imtcp, gtls driver): its CA, certificate and key files, and how it checks clients. */
export interface TlsInput {
  ca: string;
  cert: string;
  key: string;
  /** `anon`: any client; `x509/certvalid`: a client certificate the CA signed, or it closes the connection. */
  authMode: 'anon' | 'x509/certvalid';
}

export class Rsyslog {
  readonly socket: string;
  private readonly conf: string;
  private readonly pidfile: string;
  private proc?: ChildProcess;
  /** What rsyslogd wrote on stderr: its own errors (a failed TLS handshake, ...). */
  stderr = '';

  constructor(
    private readonly ns: Netns,
    private readonly dir: string,
    private readonly tls?: TlsInput,
  ) {
    this.socket = path.join(dir, 'log');
    this.conf = path.join(dir, 'rsyslog.conf');
    this.pidfile = path.join(dir, 'rsyslogd.pid');
    mkdirSync(path.join(dir, 'work'));
    const file = (k: Kind) => path.join(dir, `${k}.log`);
    writeFileSync(
      this.conf,
      `# Messages must reach the files unaltered: no #011 for a tab.
global(workDirectory="${dir}/work" maxMessageSize="64k" parser.escapeControlCharactersOnReceive="off")
module(load="imuxsock" SysSock.Use="off")
module(load="imudp")
module(load="imtcp")
# The raw fields, then | and the message exactly as parsed.
template(name="fields" type="string" string="%pri% %app-name% %procid% %msgid% %structured-data%|%msg%\\n")
ruleset(name="udp") { action(type="omfile" file="${file('udp')}" template="fields") }
ruleset(name="tcp") { action(type="omfile" file="${file('tcp')}" template="fields") }
ruleset(name="unix") { action(type="omfile" file="${file('unix')}" template="fields") }
input(type="imudp" address="127.0.0.1" port="${PORT}" rcvbufSize="4m" ruleset="udp")
input(type="imtcp" address="127.0.0.1" port="${PORT}" ruleset="tcp")
input(type="imuxsock" socket="${this.socket}" ratelimit.interval="0" ruleset="unix")
${
  tls
    ? `ruleset(name="tls") { action(type="omfile" file="${file('tls')}" template="fields") }
input(type="imtcp" address="127.0.0.1" port="${TLS_PORT}" ruleset="tls" streamDriver.name="gtls" streamDriver.mode="1"
  streamDriver.authMode="${tls.authMode}" streamDriver.CAFile="${tls.ca}" streamDriver.CertFile="${tls.cert}" streamDriver.KeyFile="${tls.key}")
`
    : ''
}`,
    );
  }

  /** Starts rsyslogd and waits until all its inputs listen. */
  async start(): Promise<void> {
    const p = this.ns.spawn('rsyslogd', ['-n', '-f', this.conf, '-i', this.pidfile]);
    this.proc = p;
    p.stdout!.resume();
    p.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    const deadline = Date.now() + 10000;
    for (;;) {
      if (p.exitCode !== null) throw new Error(`rsyslogd exited (${p.exitCode}):\n${this.stderr}`);
      const listening = this.ns.exec('ss', ['-Hlntu']);
      const tlsUp = !this.tls || listening.includes(`127.0.0.1:${TLS_PORT} `);
      if (existsSync(this.socket) && tlsUp && listening.split(`127.0.0.1:${PORT} `).length === 3) return;
      if (Date.now() > deadline) throw new Error(`rsyslogd did not listen:\n${listening}\n${this.stderr}`);
      await sleep(50);
    }
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    p.kill('SIGTERM');
    await once(p, 'exit');
  }

  received(kind: Kind): Received[] {
    const file = path.join(this.dir, `${kind}.log`);
    if (!existsSync(file)) return [];
    const text = readFileSync(file, 'utf8');
    return text
      .split('\n')
      .slice(0, -1) // a line still being written has no newline yet
      .map((l) => {
        const m = /^(\d+) (\S+) (\S+) (\S+) (\S+)\|(.*)$/.exec(l);
        assert.ok(m, `unexpected line in ${kind}.log: ${JSON.stringify(l)}`);
        return { pri: Number(m[1]), app: m[2], procid: m[3], msgid: m[4], sd: m[5], msg: m[6] };
      });
  }

  /** Waits until `n` messages have arrived on `kind`, and returns them. */
  async until(kind: Kind, n: number, ms = 10000): Promise<Received[]> {
    const deadline = Date.now() + ms;
    for (;;) {
      const got = this.received(kind);
      if (got.length >= n) return got;
      if (Date.now() > deadline) {
        throw new Error(
          `timed out waiting for ${n} messages on ${kind}, have ${got.length}:\n${got.map((r) => r.msg).join('\n')}\nrsyslogd stderr:\n${this.stderr}`,
        );
      }
      await sleep(50);
    }
  }
}

/**
 * A namespace whose syslog traffic conntrack does not see: otherwise every
 * message to rsyslog would make events of its own (a TCP connection's
 * states, a flow re-created after `conntrack -F`), and the two ctlogds,
 * which stop at different times, would not see the same ones.
 */
export function setup(t: TestContext, tag: string, tls?: TlsInput): { ns: Netns; rs: Rsyslog } {
  checkPrerequisites();
  checkRsyslog();
  const ns = new Netns(tag);
  const dir = mkdtempSync(path.join(tmpdir(), `ctlogd-${tag}-`));
  t.after(() => {
    ns.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  ns.nft(`add table inet ctlogd_syslog
    add chain inet ctlogd_syslog out { type filter hook output priority raw; }
    add chain inet ctlogd_syslog pre { type filter hook prerouting priority raw; }
    add rule inet ctlogd_syslog out udp dport ${PORT} notrack
    add rule inet ctlogd_syslog out tcp dport ${PORT} notrack
    add rule inet ctlogd_syslog out tcp sport ${PORT} notrack
    add rule inet ctlogd_syslog pre udp dport ${PORT} notrack
    add rule inet ctlogd_syslog pre tcp dport ${PORT} notrack
    add rule inet ctlogd_syslog pre tcp sport ${PORT} notrack
    add rule inet ctlogd_syslog out tcp dport ${TLS_PORT} notrack
    add rule inet ctlogd_syslog out tcp sport ${TLS_PORT} notrack
    add rule inet ctlogd_syslog pre tcp dport ${TLS_PORT} notrack
    add rule inet ctlogd_syslog pre tcp sport ${TLS_PORT} notrack`);
  return { ns, rs: new Rsyslog(ns, dir, tls) };
}

/** The flags that point ctlogd at this test's rsyslog. */
export function destination(kind: Kind, rs: Rsyslog): string[] {
  if (kind === 'unix') return ['--output', 'syslog', '--syslog-socket', rs.socket];
  // RFC 5425's port is TLS's default: not given.
  if (kind === 'tls') return ['--output', 'syslog', '--syslog-host', '127.0.0.1', '--syslog-protocol', 'tls'];
  return ['--output', 'syslog', '--syslog-host', '127.0.0.1', '--syslog-port', String(PORT), '--syslog-protocol', kind];
}

/** IPv4 and IPv6, TCP, UDP and ICMP flows, then a flush: NEW, UPDATE and DESTROY lines. */
export function traffic(ns: Netns): void {
  ns.traffic('tcp:7000', 'udp:5300', 'ping', 'ping@::1', 'udp:5301@::1');
  ns.exec('conntrack', ['-F']);
}

/**
 * The message text as ctlogd sent it. Remote messages are RFC 5424 and
 * rsyslog's %msg% is MSG exactly. The local socket gets the syslog(3) format
 * `TAG[PID]: MSG`, whose MSG is, for rsyslog, everything after the colon:
 * the space after it included.
 */
export function text(kind: Kind, r: Received): string {
  if (kind !== 'unix') return r.msg;
  assert.ok(r.msg.startsWith(' '), `no space after the tag: ${JSON.stringify(r.msg)}`);
  return r.msg.slice(1);
}

/**
 * What two ctlogds may print differently for the same event, as each reader
 * sees it at its own time: the time it read the event (`conntrack -o
 * timestamp`'s prefix, json's time and time_ns), and the name of the process
 * behind a portid, looked up in /proc then (that process may have exited in
 * between, as `conntrack -F` does). Masked on both sides; everything else
 * must match byte for byte.
 */
export function sameEvent(line: string): string {
  return line
    .replace(/^\[\d{8,}\.\d{6}\]\t/, '[READ TIME]\t')
    .replace(/"time":"[^"]+","time_ns":"\d+"/, '"time":"READ TIME"')
    .replace(/ progname=\S+/, '')
    .replace(/,"progname":"[^"]*"/, '');
}

/** The syslog output's reports on stderr (not the debug `listening ... output syslog` line). */
export function reports(l: Lines): string[] {
  return l.stderr.split('\n').filter((s) => /syslog(:| (udp|tcp|tls|socket) )/.test(s));
}

/** Every reference line arrived once, intact, in order, with the expected header fields. */
export function assertDelivered(kind: Kind, got: Received[], ref: Lines, sys: Lines, pri: number, app: string): void {
  assert.ok(ref.lines.length >= 10, `too few events made:\n${ref.lines.join('\n')}`);
  assert.deepEqual(
    got.map((r) => sameEvent(text(kind, r))),
    ref.lines.map(sameEvent),
    'rsyslog received exactly the stdout reference lines, in order',
  );
  for (const r of got) {
    assert.equal(r.pri, pri, 'PRI: facility and severity info');
    assert.equal(r.app, app, 'APP-NAME: the tag');
    assert.equal(r.procid, String(sys.child.pid), 'PROCID: the pid of ctlogd');
    assert.equal(r.msgid, '-');
    assert.equal(r.sd, '-');
  }
}
