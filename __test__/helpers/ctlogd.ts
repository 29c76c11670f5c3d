/**
 * The ctlogd of this checkout, run for end-to-end tests: in a namespace
 * (helpers/netns.ts) or where the test runs, its stdout as lines and its
 * stderr as text, its counters read from the `stats:` lines it prints.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Netns } from './netns.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CTLOGD = path.join(ROOT, 'bin/ctlogd.js');

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

/**
 * Runs `node bin/ctlogd.js --log-level debug ...args`: in `ns` (killed when
 * it is removed), or without one where the test runs (the caller kills it).
 * Does not wait.
 */
export function spawnCtlogd(ns: Netns | undefined, args: string[], env: NodeJS.ProcessEnv = {}): Lines {
  const argv = [CTLOGD, '--log-level', 'debug', ...args];
  const child = ns
    ? ns.spawn(process.execPath, argv, env)
    : spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  return new Lines(child);
}

/** Waits until ctlogd says it is subscribed (`listening`). */
export function listening(out: Lines): Promise<void> {
  return out.until(() => out.stderr.includes('listening'), 'ctlogd to listen');
}

/** Starts ctlogd in the namespace and waits until it is subscribed. */
export async function startCtlogd(ns: Netns, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Lines> {
  const out = spawnCtlogd(ns, args, env);
  await listening(out);
  return out;
}

/** Sends SIGTERM and waits for the exit code. */
export async function stop(l: Lines, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  l.child.kill(signal);
  return l.exited;
}

/**
 * Counts in a `stats:` line, e.g. received=6 (new 3 update 0 destroy 3):
 * the capture's by name, each output's as `NAME.written` (from its part
 * after `output=NAME`), and with one output its own by name as well.
 */
export function stats(text: string): Record<string, number> {
  const line =
    text
      .split('\n')
      .filter((l) => l.includes('stats: '))
      .at(-1) ?? '';
  const out: Record<string, number> = {};
  const read = (part: string, prefix: string) => {
    for (const m of part.matchAll(/(\w+)=(\d+)(?: \(new (\d+) update (\d+) destroy (\d+)\))?/g)) {
      out[`${prefix}${m[1]}`] = Number(m[2]);
      if (m[3] !== undefined) {
        out[`${prefix}${m[1]}.new`] = Number(m[3]);
        out[`${prefix}${m[1]}.update`] = Number(m[4]);
        out[`${prefix}${m[1]}.destroy`] = Number(m[5]);
      }
    }
  };
  const [capture, ...outputs] = line.split(' output=');
  read(capture, '');
  for (const o of outputs) {
    const name = o.slice(0, o.indexOf(' '));
    read(o.slice(name.length), `${name}.`);
    if (outputs.length === 1) read(o.slice(name.length), '');
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
    await sleep(200);
  }
}

/** Every event read has reached output `name` (none is on its way from the reader), in the counts of a stats line; the one output without a name. */
export function handed(s: Record<string, number>, name = ''): boolean {
  const o = (k: string) => s[name ? `${name}.${k}` : k];
  return s.filtered + o('skipped') + o('written') + o('output_lost') + o('output_waiting') + s.dropped === s.received;
}
