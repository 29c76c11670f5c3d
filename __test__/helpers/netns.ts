/**
 * Network namespaces for end-to-end tests on real kernel events: each test
 * makes its own (unique name), turns on conntrack accounting, timestamps and
 * events there, and removes it afterwards, with every process it started.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './ctlogd.js';

export const TRAFFIC = path.join(ROOT, '__test__/helpers/traffic.mjs');

let seq = 0;

/** Throws with a clear message when the suite cannot run here. */
export function checkPrerequisites(): void {
  if (process.getuid?.() !== 0) throw new Error('end-to-end tests need root (network namespaces, CAP_NET_ADMIN)');
  for (const tool of ['ip', 'nft', 'conntrack', 'ping']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      throw new Error(`end-to-end tests need '${tool}' (Debian packages iproute2, nftables, conntrack, iputils-ping)`);
    }
  }
}

export class Netns {
  readonly name: string;
  private children = new Set<ChildProcess>();

  constructor(tag: string) {
    this.name = `ctlogd-${tag}-${process.pid}-${++seq}`;
    execFileSync('ip', ['netns', 'add', this.name]);
    try {
      this.exec('ip', ['link', 'set', 'lo', 'up']);
      // The first ct rule loads nf_conntrack; the sysctls exist only then.
      this.nft(`add table inet ctlogd_track
        add chain inet ctlogd_track out { type filter hook output priority 0; }
        add rule inet ctlogd_track out ct state new accept`);
      this.exec('sysctl', ['-q', '-w', 'net.netfilter.nf_conntrack_acct=1', 'net.netfilter.nf_conntrack_timestamp=1', 'net.netfilter.nf_conntrack_events=1']);
    } catch (e) {
      this.destroy();
      throw e;
    }
  }

  /** Runs a command inside the namespace and returns its stdout. */
  exec(cmd: string, args: string[], input?: string): string {
    return execFileSync('ip', ['netns', 'exec', this.name, cmd, ...args], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
  }

  nft(script: string): void {
    this.exec('nft', ['-f', '-'], script + '\n');
  }

  /** Makes traffic with __test__/helpers/traffic.mjs (see its header). */
  traffic(...steps: string[]): string {
    return this.exec(process.execPath, [TRAFFIC, ...steps]);
  }

  /** Starts a long-running process inside the namespace. */
  spawn(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  destroy(): void {
    for (const c of this.children) c.kill('SIGKILL');
    try {
      execFileSync('ip', ['netns', 'del', this.name], { stdio: 'ignore' });
    } catch {
      // Already gone.
    }
  }
}
