/**
 * Network namespaces for end-to-end tests on real kernel events: each test
 * makes its own (unique name), turns on conntrack accounting, timestamps and
 * events there, and removes it afterwards, with every process it started.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CTLOGD = path.join(ROOT, 'bin/ctlogd.js');
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

/** Collects a child's stdout as lines, and its stderr as text. */
export class Lines {
  readonly lines: string[] = [];
  stderr = '';
  private partial = '';
  private waiters: Array<() => void> = [];
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      const parts = (this.partial + d).split('\n');
      this.partial = parts.pop()!;
      this.lines.push(...parts);
      this.wake();
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      this.stderr += d;
      this.wake();
    });
    // 'close', not 'exit': by then the last of stdout and stderr (the stats line) has been read.
    this.exited = once(child, 'close').then(([code]) => code as number | null);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Waits until `pred` holds, or fails after `ms` saying what was seen. */
  async until(pred: () => boolean, what: string, ms = 10000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`timed out waiting for ${what}; stdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

/**
 * A marker event both listeners will see: an entry inserted with
 * `conntrack -I` for a unique, unroutable flow. Waiting for it proves a
 * listener is subscribed, and brackets the events of a test.
 */
export function marker(n: number): { insert: (ns: Netns) => void; match: (line: string) => boolean } {
  const src = `198.51.100.${n}`;
  return {
    insert: (ns) => {
      ns.exec('conntrack', ['-I', '-p', 'udp', '-s', src, '-d', '203.0.113.1', '--sport', '9', '--dport', '9', '-t', '30'], undefined);
    },
    // vyos and conntrack lines, json's orig.src, ecs's source.ip.
    match: (line) => line.includes(`src=${src} `) || line.includes(`"src":"${src}"`) || line.includes(`"source":{"ip":"${src}"`),
  };
}

/** Starts ctlogd in the namespace and waits until it is subscribed. */
export async function startCtlogd(ns: Netns, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Lines> {
  const out = new Lines(ns.spawn(process.execPath, [CTLOGD, '--log-level', 'debug', ...args], env));
  await out.until(() => out.stderr.includes('listening'), 'ctlogd to listen');
  return out;
}

/** Sends SIGTERM and waits for the exit code. */
export async function stop(l: Lines, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  l.child.kill(signal);
  return l.exited;
}

/** Counts in a `stats:` line, e.g. received=6 (new 3 update 0 destroy 3). */
export function stats(text: string): Record<string, number> {
  const line =
    text
      .split('\n')
      .filter((l) => l.includes('stats: '))
      .at(-1) ?? '';
  const out: Record<string, number> = {};
  for (const m of line.matchAll(/(\w+)=(\d+)(?: \(new (\d+) update (\d+) destroy (\d+)\))?/g)) {
    out[m[1]] = Number(m[2]);
    if (m[3] !== undefined) {
      out[`${m[1]}.new`] = Number(m[3]);
      out[`${m[1]}.update`] = Number(m[4]);
      out[`${m[1]}.destroy`] = Number(m[5]);
    }
  }
  return out;
}

/**
 * Asks a running ctlogd for its counters (SIGUSR1) until `pred` holds of
 * them; returns them, or fails after `ms` saying what was seen.
 */
export async function statsWhen(l: Lines, pred: (s: Record<string, number>) => boolean, what: string, ms = 30000): Promise<Record<string, number>> {
  const deadline = Date.now() + ms;
  const lines = () => l.stderr.split('stats: ').length;
  for (;;) {
    const before = lines();
    l.child.kill('SIGUSR1');
    await l.until(() => lines() > before, 'a stats line');
    const s = stats(l.stderr);
    if (pred(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last stats: ${JSON.stringify(s)}\nstderr:\n${l.stderr}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Every event read has reached the output (none is on its way from the reader), in the counts of a stats line. */
export function handed(s: Record<string, number>): boolean {
  return s.filtered + s.written + s.output_lost + s.output_waiting + s.dropped === s.received;
}
