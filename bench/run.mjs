#!/usr/bin/env node
// ctlogd vs `conntrack -E` on the same kernel events. Run as root:
//
//   node bench/run.mjs [--scenario a|b|c|t|s|i|n|o|all] [--n N] [--rate R] [--out DIR] [--keep]
//                      [--only ctlogd|conntrack] [--profile] [--config JSON]
//                      [--filter='ARGS' --filter-keeps all|none]
//   npm run bench -- --scenario a
//
// Scenarios (each in its own network namespace, deleted afterwards):
//   a  N new UDP flows (default 1,000,000), one datagram each, made as fast
//      as one core can (bench/ctbench.c, sendmmsg); listeners: NEW only.
//   b  N UDP flows made first, with no listener (default 200,000), then
//      `conntrack -F`: a burst of N DESTROY events; listeners: DESTROY only.
//   c  N TCP connections through their whole life (default 20,000): connect,
//      request, answer, close; then `conntrack -F` ends the TIME_WAIT entries;
//      listeners: NEW, UPDATE and DESTROY.
//   t  N new UDP flows paced at 2,000/s (default 120,000: a minute); NEW.
//   s  N new UDP flows paced at 200/s (default 12,000: a minute); NEW.
//   i  a minute with no events at all (NEW subscribed): what idling costs.
//   n  as a, but every flow is source-NATed and ctlogd exports them as IPFIX
//      NAT event records over UDP to nfcapd (Debian's nfdump) in the
//      namespace; ctlogd's "captured" is what nfdump reads back.
//   o  as a (default 300,000 flows), logged to three files (vyos, json and
//      conntrack format) by one ctlogd with `outputs`, then by three ctlogd
//      with one output each, each configuration alone in a namespace of its
//      own: what the three outputs cost in one process and in three.
//   store  the NAT log store: N translated UDP connections (SNAT to random
//      ports, default 1,000,000), a NEW each as made, then a DESTROY each
//      (`conntrack -F`), written by ctlogd's store output alone, then by its
//      file output alone (fresh namespace, same generator); then the store
//      beside an IPFIX export to nfcapd (bytes a connection of each); then
//      lookups on stores of --lookup-sizes connections written by
//      bench/store-gen; then the cost of a snapshot of a big table.
//
// The tools run alone, one after the other, each in a fresh namespace on
// the same generator command, count and rate, each writing to a file:
// ctlogd with its default config but only the scenario's event types
// (vyos format, --output file), `conntrack -E -e <types>` > file, ulogd2
// (NFCT in event mode, its netlink buffer allowed to grow to 256 MiB,
// PRINTFLOW lines through LOGEMU to a file), and the floor of reading
// (`ctbench floor`: recvmmsg of 64, one short line an event, buffered, flushed after 10 ms without events).
// With --contention, the three loggers then also run at once, a second
// view: on 2 cores they take CPU from each other and from the generator.
// Each runs under `ctbench run`, which measures that very process with
// wait4() (user+sys CPU, max RSS).
// See bench/README.md for how to read the table.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CTLOGD = path.join(ROOT, 'bin/ctlogd.js');
/** The ctlogd command as installed: its launcher, which sets node's flags and glibc's arenas. */
const CTLOGD_COMMAND = path.join(ROOT, 'bin/ctlogd');

/**
 * How ctlogd is started: through its launcher, as installed; under
 * --profile, node with the launcher's own flags and environment (read from
 * it, so that they are one fact) and --cpu-prof. `env` runs node in place:
 * the pid measured is node's either way.
 */
function ctlogdCommand(args) {
  if (!opts.profile) return { cmd: CTLOGD_COMMAND, argv: args, shown: `bin/ctlogd ${shown(args)}` };
  const { env, flags } = launcherNode();
  const prof = ['--cpu-prof', '--cpu-prof-dir', path.join(OUT, 'prof')];
  return {
    cmd: 'env',
    argv: [env, process.execPath, ...flags, ...prof, CTLOGD, ...args],
    shown: `${env} node ${shown([...flags, ...prof])} bin/ctlogd.js ${shown(args)}`,
  };
}

/** The launcher's node flags and its MALLOC_ARENA_MAX (as `NAME=VALUE`), read from it. */
function launcherNode() {
  const text = fs.readFileSync(CTLOGD_COMMAND, 'utf8');
  const m = /^exec node (.*) "\$here\/ctlogd\.js" "\$@"$/m.exec(text);
  const arenas = /MALLOC_ARENA_MAX:-(\d+)/.exec(text);
  if (!m || !arenas) throw new Error(`bench: cannot read node's flags and MALLOC_ARENA_MAX in ${CTLOGD_COMMAND}`);
  return { env: `MALLOC_ARENA_MAX=${arenas[1]}`, flags: m[1].split(' ').map((a) => a.replace(/^'(.*)'$/, '$1')) };
}

/** Arguments as a command line, paths under the repository relative to it. */
function shown(args) {
  return args.map((a) => (a.startsWith(`${ROOT}/`) ? path.relative(ROOT, a) : a)).join(' ');
}
const SRC = path.join(ROOT, 'bench/ctbench.c');

const SCENARIOS = {
  a: { n: 1_000_000, events: ['new'], title: "N new UDP flows at the generator's max rate (NEW)" },
  b: { n: 200_000, events: ['destroy'], title: 'N UDP flows, then `conntrack -F`: a burst of N DESTROY' },
  c: { n: 20_000, events: ['new', 'update', 'destroy'], title: 'N TCP connections, whole life, then `conntrack -F` (NEW, UPDATE, DESTROY)' },
  t: { n: 120_000, rate: 2000, events: ['new'], title: 'N new UDP flows paced at 2,000/s (NEW)' },
  s: { n: 12_000, rate: 200, events: ['new'], title: 'N new UDP flows paced at 200/s (NEW)' },
  i: { n: 0, idleMs: 60_000, events: ['new'], title: 'a minute without events (NEW subscribed)' },
  n: { n: 1_000_000, events: ['new'], title: "N new UDP flows through SNAT at the generator's max rate, exported as IPFIX over UDP to nfcapd (NEW)" },
  o: {
    n: 300_000,
    events: ['new'],
    title:
      "N new UDP flows at the generator's max rate to three files (vyos, json, conntrack): one ctlogd with three outputs, then three ctlogd with one each (NEW)",
  },
  store: {
    n: 1_000_000,
    events: ['new', 'destroy'],
    title:
      "the NAT log store: N translated UDP connections (SNAT, NEW then DESTROY) at the generator's max rate, store output vs file output, store vs nfcapd's files; lookups on stores written by store-gen; a snapshot's cost",
  },
};
/** Scenario n's collector port, and the net its generated flows go to (ctbench udp). */
const IPFIX_PORT = 4739;
const GENERATED_NET = '127.1.0.0/16';
const TAGS = { '[NEW]': 'new', '[UPDATE]': 'update', '[DESTROY]': 'destroy' };
/** The tools, as the table names them. */
const TOOL_NAMES = { ctlogd: 'ctlogd', conntrack: 'conntrack -E', ulogd: 'ulogd2', floor: 'C floor' };
const ULOGD_PLUGINS = '/usr/lib/x86_64-linux-gnu/ulogd';
const MARKER_NET = '198.51.100.';
/** Both files unchanged this long after the events: both have caught up. */
const QUIET_MS = 2000;
const CATCH_UP_LIMIT_MS = 600_000;
/** Lookups sampled from each store-gen store (--lookups asks the first so many), and single commands timed. */
const LOOKUPS = 1000;
const COMMANDS = 20;

// ---------------------------------------------------------------- options

const USAGE = `usage: node bench/run.mjs [--scenario a|b|c|t|s|i|n|o|store|all] [--n N] [--rate R] [--out DIR] [--keep]
                           [--only ctlogd|conntrack|ulogd|floor] [--contention] [--profile] [--config JSON]
                           [--store-parts ingest,size,lookups,snapshot] [--lookup-sizes N,N,...] [--snapshot-entries N] [--lookups K]
  --scenario  which scenario(s) to run, default all (comma-separated list allowed)
  --n         events per scenario (overrides each selected scenario's default:
              a 1000000 flows, b 200000 flows, c 20000 connections, t 120000 and
              s 12000 flows, n 1000000 flows, o 300000 flows, store 1000000 connections)
  --rate      pace the UDP generator of scenarios a, n and o to R flows/s (default: as fast as it can)
  --out       output directory, default bench/out (results.md, logs, ctbench)
  --keep      keep the event log files (they are deleted after counting)
  --only      run this one tool only (no ratio)
              (not o: its two configurations always run alone, one after the other)
  --contention  after the tools' runs alone, run ctlogd, conntrack -E and ulogd2 at once
              on the same events too: a second view, labelled so (not o nor store)
  --profile   run ctlogd under node --cpu-prof (profile in DIR/prof; slows ctlogd down)
  --config    more ctlogd config keys, as a JSON object, e.g. '{"reliable":true}';
              an "event" key sets protocol filters, with the scenario's event types
              (in o, for every ctlogd; o refuses output keys and metrics_listen);
              with "metrics_listen" ctlogd's metrics are scraped every second
              while the events are made (the scrapes' connections not tracked)
  --filter    conntrack's filter options, given to ctlogd and to conntrack -E alike
              (ulogd2 is not run), e.g. --filter='--orig-dst 203.0.113.1'; the markers then
              carry mark 1 and a source NAT to 192.0.2.1, so that a filter can
              keep them and drop every generated flow
  --filter-keeps  what the filter keeps of the scenario's generated events: all
              (default) or none (then none count as lost)
  --store-parts   scenario store's parts to run, default all four: ingest (store output,
              then file output), size (store beside IPFIX to nfcapd), lookups (ctlogd
              query on store-gen's stores), snapshot (a dump of a big table)
  --lookup-sizes  connections of each store-gen store the lookups run on,
              default 1000000,10000000,100000000 (100 M: about 4 GB and 8 minutes)
  --snapshot-entries  entries in the table the snapshot part dumps, default 100000
  --lookups   how many of each store's 1000 sampled connections are looked up, default 1000`;

let opts;
try {
  opts = parseArgs({
    options: {
      scenario: { type: 'string', default: 'all' },
      n: { type: 'string' },
      rate: { type: 'string', default: '0' },
      out: { type: 'string', default: path.join(ROOT, 'bench/out') },
      keep: { type: 'boolean', default: false },
      only: { type: 'string' },
      contention: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      config: { type: 'string', default: '{}' },
      filter: { type: 'string' },
      'filter-keeps': { type: 'string', default: 'all' },
      'store-parts': { type: 'string', default: 'ingest,size,lookups,snapshot' },
      'lookup-sizes': { type: 'string', default: '1000000,10000000,100000000' },
      'snapshot-entries': { type: 'string', default: '100000' },
      lookups: { type: 'string', default: String(LOOKUPS) },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values;
} catch (e) {
  console.error(`${e.message}\n${USAGE}`);
  process.exit(64);
}
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}
/** Scenario store's parts, in the order they run. */
const STORE_PARTS = ['ingest', 'size', 'lookups', 'snapshot'];
const selected = opts.scenario === 'all' ? Object.keys(SCENARIOS) : opts.scenario.split(',');
const posInt = (s) => /^\d+$/.test(s) && Number(s) > 0;
if (
  selected.some((s) => !SCENARIOS[s]) ||
  (opts.n !== undefined && !posInt(opts.n)) ||
  !/^\d+$/.test(opts.rate) ||
  (opts.only !== undefined && !Object.keys(TOOL_NAMES).includes(opts.only)) ||
  !['all', 'none'].includes(opts['filter-keeps']) ||
  !opts['store-parts'].split(',').every((p) => STORE_PARTS.includes(p)) ||
  !opts['lookup-sizes'].split(',').every(posInt) ||
  !posInt(opts['snapshot-entries']) ||
  !posInt(opts.lookups) ||
  Number(opts.lookups) > LOOKUPS
) {
  console.error(USAGE);
  process.exit(64);
}
let EXTRA_CONFIG;
try {
  EXTRA_CONFIG = JSON.parse(opts.config);
  if (typeof EXTRA_CONFIG !== 'object' || EXTRA_CONFIG === null || Array.isArray(EXTRA_CONFIG)) throw new Error('not an object');
} catch (e) {
  console.error(`--config: ${e.message}: a JSON object of ctlogd config keys is allowed\n${USAGE}`);
  process.exit(64);
}
/** Keys scenario o sets itself (each output's) or that three ctlogd cannot share (a port). */
const O_OWN_KEY = /^(outputs|output|format|conntrack_options|output_file|syslog_.*|ipfix_.*|metrics_listen)$/;
if (selected.includes('o') && Object.keys(EXTRA_CONFIG).some((k) => O_OWN_KEY.test(k))) {
  console.error(
    `--config: scenario o sets ${Object.keys(EXTRA_CONFIG)
      .filter((k) => O_OWN_KEY.test(k))
      .join(', ')} itself, or three ctlogd cannot share it\n${USAGE}`,
  );
  process.exit(64);
}
/** The port of ctlogd's metrics, when --config sets metrics_listen: scraped every second during the events. */
const METRICS_PORT = EXTRA_CONFIG.metrics_listen ? Number(/:(\d+)$/.exec(EXTRA_CONFIG.metrics_listen)?.[1]) : undefined;
/** What scrapes them: a second's interval, the way a Prometheus with scrape_interval 1s would (its default is 1m). */
const SCRAPER = `let n = 0, bad = 0, bytes = 0;
const scrape = async () => {
  try { const r = await fetch(process.argv[1]); bytes = (await r.text()).length; if (r.status === 200) n++; else bad++; } catch { bad++; }
};
// The first page before the events, so that neither this process's start nor ctlogd's first page falls in them.
(async () => { while (n === 0) { await scrape(); await new Promise((r) => setTimeout(r, 100)); } console.log('ready'); n = 0; setInterval(scrape, 1000); })();
process.on('SIGTERM', () => { console.log(JSON.stringify({ n, bad, bytes })); process.exit(0); });`;
/** --filter's words, for both tools; undefined without it. */
const FILTER = opts.filter?.split(/\s+/).filter(Boolean);
const OUT = path.resolve(opts.out);
const RATE = Number(opts.rate);

// ---------------------------------------------------------------- cleanup
// Everything this run starts or changes is registered here and undone on
// every exit path: normal end, error, Ctrl-C, SIGTERM.

const live = {
  children: new Set(), // ChildProcess objects (spawned by us)
  tools: new Map(), // measured pid -> argv0, started by our ctbench runners
  netns: new Set(),
  sysctls: new Map(), // /proc path -> { original, set }
};

function killOurs(signal) {
  for (const c of live.children) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        process.kill(c.pid, signal);
      } catch {}
    }
  }
  for (const [pid, argv0] of live.tools) {
    // Only a process that is still the one we started (pids are reused).
    try {
      if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] === argv0) process.kill(pid, signal);
    } catch {}
  }
}

function restoreSysctls() {
  for (const [file, { original, set }] of live.sysctls) {
    try {
      // Someone else changed it meanwhile: leave theirs.
      if (fs.readFileSync(file, 'utf8').trim() === String(set)) fs.writeFileSync(file, String(original));
    } catch {}
    live.sysctls.delete(file);
  }
  saveSysctlState();
}

/**
 * What was raised is also kept in OUT/sysctl-restore.json while raised, so
 * that the next run restores it if this one was killed with SIGKILL.
 */
let SYSCTL_STATE;
function saveSysctlState() {
  if (!SYSCTL_STATE) return;
  try {
    if (live.sysctls.size === 0) fs.rmSync(SYSCTL_STATE, { force: true });
    else fs.writeFileSync(SYSCTL_STATE, JSON.stringify({ pid: process.pid, sysctls: Object.fromEntries(live.sysctls) }) + '\n');
  } catch {}
}

function restoreStaleSysctls() {
  let st;
  try {
    st = JSON.parse(fs.readFileSync(SYSCTL_STATE, 'utf8'));
  } catch {
    return;
  }
  if (alive(st.pid)) return;
  for (const [file, { original, set }] of Object.entries(st.sysctls ?? {})) {
    try {
      if (fs.readFileSync(file, 'utf8').trim() === String(set)) {
        console.error(`bench: restoring ${file} to ${original} (raised by a run that was killed)`);
        fs.writeFileSync(file, String(original));
      }
    } catch {}
  }
  fs.rmSync(SYSCTL_STATE, { force: true });
}

function deleteNetns(name) {
  try {
    execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  } catch {}
  live.netns.delete(name);
}

function cleanupSync() {
  killOurs('SIGTERM');
  const until = Date.now() + 1500;
  while ([...live.children].some((c) => c.exitCode === null && c.signalCode === null && alive(c.pid)) && Date.now() < until) {
    sleepSync(50);
  }
  killOurs('SIGKILL');
  for (const ns of [...live.netns]) deleteNetns(ns);
  restoreSysctls();
}

function alive(pid) {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(st);
  } catch {
    return false;
  }
}

function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

let aborting = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (aborting) return;
    aborting = true;
    console.error(`\nbench: ${sig}: stopping what was started, deleting the namespace(s), restoring sysctls`);
    cleanupSync();
    process.exit(128 + os.constants.signals[sig]);
  });
}
process.on('exit', () => cleanupSync());

// ---------------------------------------------------------------- helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** Runs a command to its end without blocking the event loop (Ctrl-C works). */
function run(cmd, args, { input, timeoutMs = 600_000 } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    live.children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    if (input !== undefined) child.stdin.end(input);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      live.children.delete(child);
      const seconds = (performance.now() - t0) / 1000;
      if (code === 0) resolve({ stdout, stderr, seconds });
      else reject(new Error(`${cmd} ${args.join(' ')}: ${signal ?? `exit ${code}`}\n${stderr}`));
    });
  });
}

function tryText(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (e) {
    return (e.stdout || e.stderr || '').trim() || '?';
  }
}

/** utime+stime of a live process, seconds (all its threads). */
function cpuOf(pid) {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** Voluntary context switches of every thread of a live process: how often it went to sleep, and so woke. */
function wakeups(pid) {
  let n = 0;
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        n += Number(/voluntary_ctxt_switches:\s*(\d+)/.exec(fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))?.[1] ?? 0);
      } catch {}
    }
  } catch {
    return NaN;
  }
  return n;
}

/** CPU seconds per thread name (comm) of a live process, busiest first. */
function threadsCpu(pid) {
  const by = new Map();
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        const st = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const comm = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
        const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
        const name = tid === String(pid) ? `main thread (${comm})` : comm.replace(/\d+$/, 'N');
        const prev = by.get(name) ?? { user: 0, sys: 0, threads: 0 };
        by.set(name, { user: prev.user + Number(f[11]) / CLK_TCK, sys: prev.sys + Number(f[12]) / CLK_TCK, threads: prev.threads + 1 });
      } catch {}
    }
  } catch {}
  return [...by].sort((a, b) => b[1].user + b[1].sys - (a[1].user + a[1].sys));
}

function statusKb(pid, key) {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Bytes of a file, or of every file under a directory. */
const size = (f) => {
  try {
    const st = fs.statSync(f);
    if (!st.isDirectory()) return st.size;
    return fs.readdirSync(f).reduce((sum, e) => sum + size(path.join(f, e)), 0);
  } catch {
    return 0;
  }
};

function prerequisites() {
  if (process.getuid?.() !== 0) throw new Error('bench needs root (network namespaces, CAP_NET_ADMIN, sysctls)');
  // Scenario o runs ctlogd alone.
  const ulogd = selected.some((s) => s !== 'o' && s !== 'store') && (opts.only === undefined || opts.only === 'ulogd') ? ['ulogd'] : [];
  const nfdump = selected.includes('n') || selected.includes('store') ? ['nfcapd', 'nfdump'] : [];
  for (const tool of ['ip', 'nft', 'conntrack', 'gcc', 'sysctl', ...ulogd, ...nfdump]) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      throw new Error(`bench needs '${tool}' (Debian: iproute2, nftables, conntrack, gcc, procps, ulogd2; nfdump for scenario n)`);
    }
  }
  const bundle = path.join(ROOT, 'dist/ctlogd.mjs');
  if (!fs.existsSync(bundle)) throw new Error('dist/ctlogd.mjs is missing: run `npm ci` (or `npm run build`) first');
  // The bench runs what is built: say so when the sources are newer.
  const newest = (dir, re) => {
    let m = 0;
    for (const e of fs.readdirSync(path.join(ROOT, dir), { recursive: true })) {
      if (re.test(e)) m = Math.max(m, fs.statSync(path.join(ROOT, dir, e)).mtimeMs);
    }
    return m;
  };
  const mtime = (f) => (fs.existsSync(f) ? fs.statSync(f).mtimeMs : 0);
  const addon = fs
    .readdirSync(ROOT)
    .filter((f) => f.endsWith('.node'))
    .map((f) => mtime(path.join(ROOT, f)));
  if (newest('src', /\.ts$/) > mtime(bundle))
    console.error('bench: warning: src/ is newer than dist/ctlogd.mjs: run `npm run build:ts && npm run build:bundle` to bench the current code');
  if (addon.length && newest('crates', /\.rs$/) > Math.max(...addon))
    console.error('bench: warning: crates/ is newer than the .node addon: run `npm run build:native` to bench the current code');
}

/**
 * A run killed with SIGKILL cannot clean up: its tools stop by themselves
 * (ctbench's parent-death signal), its namespace stays. Namespaces of this
 * harness whose run (the pid in the name) is gone are removed here.
 */
function removeStaleNetns() {
  for (const line of tryText('ip', ['netns', 'list']).split('\n')) {
    const m = /^(ctlogd-bench-[a-z]+-(\d+)-[0-9a-z]+)\b/.exec(line);
    if (m && !alive(Number(m[2]))) {
      console.error(`bench: removing namespace ${m[1]} left by a run that was killed`);
      deleteNetns(m[1]);
    }
  }
}

/** Compiles the generator/meter into OUT when missing or older than its source. */
function buildCtbench() {
  const bin = path.join(OUT, 'ctbench');
  if (!fs.existsSync(bin) || fs.statSync(bin).mtimeMs < fs.statSync(SRC).mtimeMs) {
    execFileSync('gcc', ['-O2', '-Wall', '-o', bin, SRC], { stdio: 'inherit' });
  }
  return bin;
}

// ---------------------------------------------------------------- namespace

class Netns {
  constructor(tag) {
    this.name = `ctlogd-bench-${tag}-${process.pid}-${Date.now().toString(36)}`;
    live.netns.add(this.name);
    execFileSync('ip', ['netns', 'add', this.name]);
  }

  argv(cmd, args) {
    return ['netns', 'exec', this.name, cmd, ...args];
  }

  exec(cmd, args, input) {
    return execFileSync('ip', this.argv(cmd, args), { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
  }

  run(cmd, args, o) {
    return run('ip', this.argv(cmd, args), o);
  }

  sysctl(...kv) {
    this.exec('sysctl', ['-q', '-w', ...kv]);
  }

  /** conntrack -C: entries in this namespace's table. */
  async count() {
    return Number((await this.run('conntrack', ['-C'])).stdout.trim());
  }

  destroy() {
    deleteNetns(this.name);
  }
}

/** Raises a sysctl of the initial namespace to at least `value`; restored at the end. */
function raiseSysctl(name, value) {
  const file = `/proc/sys/${name.replace(/\./g, '/')}`;
  const original = Number(fs.readFileSync(file, 'utf8').trim());
  if (original >= value) return original;
  if (!live.sysctls.has(file)) live.sysctls.set(file, { original, set: value });
  else live.sysctls.get(file).set = value;
  saveSysctlState();
  fs.writeFileSync(file, String(value));
  return value;
}

// ---------------------------------------------------------------- listeners

/** Starts `cmd` inside the namespace under `ctbench run` (measures cmd itself). */
async function startMeasured(ns, ctbench, name, cmd, args, stdoutFile, stderrFile) {
  const rusage = path.join(OUT, `${name}.rusage.json`);
  fs.rmSync(rusage, { force: true });
  const outFd = stdoutFile ? fs.openSync(stdoutFile, 'w') : 'ignore';
  const errFd = fs.openSync(stderrFile, 'w');
  // detached: its own process group, so a Ctrl-C reaches only this harness,
  // which then stops it by pid (and ctbench forwards the signal to cmd).
  const child = spawn('ip', ns.argv(ctbench, ['run', rusage, cmd, ...args]), { stdio: ['ignore', outFd, errFd], detached: true });
  if (typeof outFd === 'number') fs.closeSync(outFd);
  fs.closeSync(errFd);
  live.children.add(child);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  // The measured process is ctbench's only child.
  let pid;
  for (let i = 0; i < 200 && !pid; i++) {
    try {
      pid = Number(fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/)[0]) || undefined;
    } catch {}
    if (!pid) await sleep(10);
  }
  if (!pid) throw new Error(`${name}: could not find the process started under ctbench (pid ${child.pid})`);
  live.tools.set(pid, cmd);
  return { name, child, pid, exited, rusage, stderrFile };
}

async function stopMeasured(t) {
  t.child.kill('SIGTERM');
  const timeout = sleep(10_000).then(() => 'timeout');
  if ((await Promise.race([t.exited, timeout])) === 'timeout') {
    console.error(`bench: ${t.name} did not stop within 10 s of SIGTERM; killing it`);
    try {
      process.kill(t.pid, 'SIGKILL');
    } catch {}
    await t.exited;
  }
  live.children.delete(t.child);
  live.tools.delete(t.pid);
  try {
    return JSON.parse(fs.readFileSync(t.rusage, 'utf8'));
  } catch {
    return {};
  }
}

let markerSeq = 0;
/** UDP, or TCP when --config's protocol filters keep only that. */
let markerProto = 'udp';
/**
 * A marker both listeners see whatever they subscribe to: an entry for an
 * unroutable flow inserted, then deleted, with conntrack (a NEW and a
 * DESTROY event). Marker lines are not counted as events.
 */
async function marker(ns) {
  const n = (markerSeq++ % 250) + 1;
  const spec = ['-p', markerProto, '-s', `${MARKER_NET}${n}`, '-d', '203.0.113.1', '--sport', '9', '--dport', '9'];
  if (markerProto === 'tcp') spec.push('--state', 'ESTABLISHED');
  // With --filter: something to keep the markers by that no generated flow has.
  const kept = FILTER ? ['-m', '1', '--src-nat', '192.0.2.1'] : [];
  await ns.run('conntrack', ['-I', ...spec, ...kept, '-t', '30']);
  await ns.run('conntrack', ['-D', ...spec]);
}

/** Waits for each ctlogd's "listening" (its stderr files), then for a marker in every file. */
async function waitListening(ns, files, ctlogdErrs) {
  const deadline = Date.now() + 20_000;
  for (const ctlogdErr of ctlogdErrs) {
    while (!fs.readFileSync(ctlogdErr, 'utf8').includes('listening')) {
      if (Date.now() > deadline) throw new Error(`ctlogd did not print "listening":\n${fs.readFileSync(ctlogdErr, 'utf8')}`);
      await sleep(50);
    }
  }
  for (;;) {
    await marker(ns);
    await sleep(300);
    if (files.every((f) => fs.readFileSync(f, 'utf8').includes(MARKER_NET))) return;
    if (Date.now() > deadline) throw new Error(`not every listener saw a marker within 20 s: ${files.join(', ')}`);
  }
}

/** Waits until neither file has grown for QUIET_MS; returns when each last grew. */
async function waitQuiet(files) {
  const last = files.map((f) => ({ size: size(f), at: performance.now() }));
  const start = performance.now();
  for (;;) {
    await sleep(100);
    const t = performance.now();
    files.forEach((f, i) => {
      const s = size(f);
      if (s !== last[i].size) last[i] = { size: s, at: t };
    });
    if (last.every((l) => t - l.at >= QUIET_MS)) return last.map((l) => l.at);
    if (t - start > CATCH_UP_LIMIT_MS) {
      console.error('bench: the outputs still grow after 10 minutes; stopping anyway');
      return last.map((l) => l.at);
    }
  }
}

/** NFCT's event_mask for the event types: NEW 1, UPDATE 2, DESTROY 4. */
const eventMask = (events) =>
  `0x${events
    .reduce((m, e) => m | { new: 1, update: 2, destroy: 4 }[e], 0)
    .toString(16)
    .padStart(8, '0')}`;

/**
 * ulogd2 as its documentation sets it up for flow events to a file: NFCT
 * in event mode (no hash table), its netlink buffer allowed to grow to
 * 256 MiB on ENOBUFS (as ctlogd's is set), LOGEMU with sync=1, which
 * flushes each line as conntrack -E does.
 */
function writeUlogdConf(file, events, out, log) {
  fs.writeFileSync(
    file,
    `[global]
logfile="${log}"
loglevel=5
${['inpflow_NFCT', 'filter_IP2STR', 'filter_PRINTFLOW', 'output_LOGEMU'].map((p) => `plugin="${ULOGD_PLUGINS}/ulogd_${p}.so"`).join('\n')}
stack=ct1:NFCT,ip2str1:IP2STR,print1:PRINTFLOW,emu1:LOGEMU

[ct1]
event_mask=${eventMask(events)}
hash_enable=0
netlink_socket_buffer_size=217088
netlink_socket_buffer_maxsize=268435456

[emu1]
file="${out}"
sync=1
`,
  );
}

// ---------------------------------------------------------------- counting

/**
 * Counts event lines per type (marker lines excluded). With `keys`, also
 * counts each (type, state, original tuple), to bound scenario c's UPDATE
 * events from both tools' lines.
 */
async function countLines(file, keys) {
  const counts = { new: 0, update: 0, destroy: 0, other: 0, markers: 0 };
  const perKey = keys ? new Map() : undefined;
  let partial = '';
  const onLine = (line) => {
    if (line === '') return;
    if (line.startsWith('{')) return onJson(JSON.parse(line));
    if (line.includes(`src=${MARKER_NET}`) || line.includes(`SRC=${MARKER_NET}`)) {
      counts.markers++;
      return;
    }
    // ulogd2's LOGEMU: `Dec  1 14:50:10 host [NEW] ORIG: SRC=...`.
    const u = /\[(NEW|UPDATE|DESTROY)\] ORIG: /.exec(line);
    if (u) {
      counts[TAGS[`[${u[1]}]`]]++;
      return;
    }
    const t = line.trimStart();
    const type = TAGS[t.slice(0, t.indexOf(']') + 1)] ?? 'other';
    counts[type]++;
    if (perKey) {
      const tok = t.split(/\s+/);
      const i = tok.findIndex((x) => x.startsWith('src='));
      const state = i > 0 && /^[A-Z_]+$/.test(tok[i - 1]) ? tok[i - 1] : '';
      const k = `${type} ${state} ${tok.slice(i, i + 4).join(' ')}`;
      perKey.set(k, (perKey.get(k) ?? 0) + 1);
    }
  };
  // ctlogd's json format (--config '{"format":"json"}'): the same counts.
  const onJson = (ev) => {
    if (ev.orig?.src?.startsWith(MARKER_NET)) {
      counts.markers++;
      return;
    }
    const type = ['new', 'update', 'destroy'].includes(ev.type) ? ev.type : 'other';
    counts[type]++;
    if (perKey) {
      const o = ev.orig ?? {};
      const k = `${type} ${ev.state ?? ''} src=${o.src} dst=${o.dst} sport=${o.sport} dport=${o.dport}`;
      perKey.set(k, (perKey.get(k) ?? 0) + 1);
    }
  };
  for await (const chunk of fs.createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop();
    for (const l of parts) onLine(l);
  }
  onLine(partial);
  counts.total = counts.new + counts.update + counts.destroy + counts.other;
  return { counts, perKey };
}

/**
 * Scenario n: stops nfcapd (it writes out what it holds and closes its
 * file) and counts, with nfdump, the NAT records of generated flows that
 * reached it: ctlogd's captured events.
 */
async function countNfcapd(nfcapd, dir, info) {
  const exited = new Promise((resolve) => nfcapd.once('exit', resolve));
  nfcapd.kill('SIGTERM');
  await exited;
  live.children.delete(nfcapd);
  const r = await run('nfdump', ['-R', dir, '-q', '-N', '-o', 'fmt:%nevt', `dst net ${GENERATED_NET}`], { timeoutMs: 600_000 });
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
  const shown = new Map();
  for (const l of lines) shown.set(l.trim(), (shown.get(l.trim()) ?? 0) + 1);
  // nfdump's text output names natEvent 1 ADD and 4 (NAT44 session create) UNKNOW.
  const byEvent = [...shown].map(([k, v]) => `${v.toLocaleString('en-US')} ${k}`).join(', ');
  info.notes.push(
    `nfcapd received ${lines.length.toLocaleString('en-US')} records of generated flows (read back with \`nfdump -R\`; natEvent as \`%nevt\` shows it: ${byEvent})`,
  );
  return { counts: { new: lines.length, update: 0, destroy: 0, other: 0, markers: 0, total: lines.length } };
}

/**
 * nfcapd in the namespace on IPFIX_PORT, writing into `dir` (emptied
 * first) one file until it stops, with 64 MiB of socket buffer
 * (SO_RCVBUF is capped by rmem_max): a flood's records wait there for it.
 */
async function startNfcapd(ns, dir, stderrFile) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir);
  raiseSysctl('net.core.rmem_max', 64 << 20);
  const nfcapd = spawn('ip', ns.argv('nfcapd', ['-w', dir, '-b', '127.0.0.1', '-p', String(IPFIX_PORT), '-B', String(64 << 20), '-t', '3600']), {
    stdio: ['ignore', 'ignore', fs.openSync(stderrFile, 'w')],
  });
  live.children.add(nfcapd);
  for (let i = 0; !tryText('ip', ns.argv('ss', ['-Hlun', 'sport', '=', `:${IPFIX_PORT}`])); i++) {
    if (i > 100) throw new Error(`nfcapd did not listen: ${fs.readFileSync(stderrFile, 'utf8')}`);
    await sleep(50);
  }
  return nfcapd;
}

/** Lower bound of the events the kernel made: per key, the most either tool saw. */
function unionCount(a, b) {
  const out = { new: 0, update: 0, destroy: 0, other: 0 };
  for (const k of new Set([...a.keys(), ...b.keys()])) out[k.split(' ')[0]] += Math.max(a.get(k) ?? 0, b.get(k) ?? 0);
  return out;
}

// ---------------------------------------------------------------- scenario

/**
 * Scenarios a, n, t, s, o: `ctbench udp` makes N flows, paced at `rate`
 * (0: as fast as it can); `created` is how many entries the kernel made.
 */
async function makeUdpFlows(ns, ctbench, n, rate, say) {
  // Entries already there are not the generator's (in n, the IPFIX export's own flow to nfcapd).
  const before = await ns.count();
  say(`making ${n} UDP flows${rate ? ` at ${rate}/s` : ' as fast as one core can'}`);
  const gen = JSON.parse((await ns.run(ctbench, ['udp', String(n), '0', String(rate)])).stdout);
  const created = (await ns.count()) - before;
  const note = `generator: ${gen.sent.toLocaleString('en-US')} datagrams in ${gen.seconds.toFixed(3)} s = **${Math.round(gen.sent / gen.seconds).toLocaleString('en-US')} flows/s** (generator CPU ${(gen.user + gen.sys).toFixed(2)} s, send errors ${gen.errors}${gen.first_error ? ` ${gen.first_error}` : ''}); \`conntrack -C\` after, less before: ${created.toLocaleString('en-US')}`;
  return { gen, created, note };
}

/** ctlogd's last stats line (from its stderr file) and a note with it and its overflow warnings. */
function ctlogdStats(stderrFile) {
  const text = fs.readFileSync(stderrFile, 'utf8');
  const statsLine =
    text
      .split('\n')
      .filter((l) => l.includes('stats: '))
      .at(-1) ?? '(no stats line)';
  const warn = (re) => text.split('\n').filter((l) => re.test(l)).length;
  return { statsLine, note: `\`${statsLine.replace(/^ctlogd: /, '')}\`; warnings: ${warn(/kernel overflow/)} kernel overflow` };
}

/** Where a process's CPU went between two threadsCpu() readings, per thread name. */
function threadsDelta(before, after) {
  const b = new Map(before);
  const parts = after
    .map(([name, t]) => {
      const p = b.get(name) ?? { user: 0, sys: 0 };
      return { name, threads: t.threads, user: t.user - p.user, sys: t.sys - p.sys };
    })
    .filter((t) => t.user + t.sys >= 0.01)
    .map((t) => `${t.name}${t.threads > 1 ? ` ×${t.threads}` : ''} ${(t.user + t.sys).toFixed(2)} s (${t.user.toFixed(2)} user / ${t.sys.toFixed(2)} sys)`);
  return parts.join(', ') || '—';
}

/**
 * Turns on tracking in the scenario's namespace (step 1 of the README) and
 * raises nf_conntrack_max for N flows (step 2); info gets ctMax and buckets.
 */
function setUpNetns(ns, key, n, info) {
  // Tracking: the first ct rule loads nf_conntrack; its sysctls exist then.
  ns.exec('ip', ['link', 'set', 'lo', 'up']);
  let rules = `add table inet ctlogd_bench
    add chain inet ctlogd_bench out { type filter hook output priority 0; }
    add rule inet ctlogd_bench out ct state new accept\n`;
  if (key !== 'c') {
    // The flows exist once their datagram leaves (the entry is confirmed
    // at postrouting); dropping the datagram on its way back in spares
    // the generator's core a socket lookup and an ICMP port unreachable.
    // (Scenario n's IPFIX datagrams to nfcapd are let through.)
    rules += `add chain inet ctlogd_bench pre { type filter hook prerouting priority -150; }
      add rule inet ctlogd_bench pre udp dport != ${IPFIX_PORT} drop\n`;
  }
  if (key === 'n' || key === 'store') {
    // Every generated flow leaves from another address: a translated
    // connection, with a NAT event record. The store's: from a port the
    // kernel picks at random, as a router's pool hands them out (the
    // generator's flows all come from one socket's port).
    const to = key === 'store' ? 'meta l4proto udp snat to 127.0.0.2:1024-65535 random' : 'snat to 127.0.0.2';
    rules += `add table ip ctlogd_bench_nat
      add chain ip ctlogd_bench_nat post { type nat hook postrouting priority srcnat; }
      add rule ip ctlogd_bench_nat post ip daddr ${GENERATED_NET} ${to}\n`;
  }
  if (FILTER && key !== 'n') {
    // The markers' source NAT needs the kernel's NAT loaded.
    rules += `add table ip ctlogd_bench_filter
      add chain ip ctlogd_bench_filter post { type nat hook postrouting priority srcnat; }\n`;
  }
  if (METRICS_PORT) {
    // The scrapes are not events of the scenario.
    rules += `add table inet ctlogd_bench_notrack
      add chain inet ctlogd_bench_notrack out { type filter hook output priority raw; }
      add rule inet ctlogd_bench_notrack out tcp dport ${METRICS_PORT} notrack
      add rule inet ctlogd_bench_notrack out tcp sport ${METRICS_PORT} notrack\n`;
  }
  ns.exec('nft', ['-f', '-'], rules);
  ns.sysctl(
    'net.netfilter.nf_conntrack_acct=1',
    'net.netfilter.nf_conntrack_timestamp=1',
    'net.netfilter.nf_conntrack_events=1',
    'net.netfilter.nf_conntrack_udp_timeout=3600',
    'net.netfilter.nf_conntrack_udp_timeout_stream=3600',
    'net.ipv4.ip_local_port_range=1024 65535',
  );
  // A namespace cannot raise nf_conntrack_max: the initial one's counts.
  const need = key === 'c' ? n + 10_000 : n + Math.ceil(n / 10) + 10_000;
  info.ctMax = raiseSysctl('net.netfilter.nf_conntrack_max', need);
  info.buckets = Number(fs.readFileSync('/proc/sys/net/netfilter/nf_conntrack_buckets', 'utf8'));
}

/**
 * A scenario's tools each alone, in turn (a fresh namespace and the same
 * generator each): one result, its tools' rows each from its own run.
 */
async function aloneScenario(key, ctbench) {
  const which = opts.only ? [opts.only] : FILTER ? ['ctlogd', 'conntrack'] : ['ctlogd', 'conntrack', 'ulogd', 'floor'];
  let all;
  for (const w of which) {
    if (aborting) break;
    const r = await scenario(key, ctbench, [w]);
    r.notes = r.notes.map((x) => `${TOOL_NAMES[w]} alone: ${x}`);
    if (!all) all = { ...r, view: 'alone' };
    else {
      all.notes.push(...r.notes);
      all.tools.push(...r.tools);
      all.which.push(...r.which);
      Object.assign(all.commands, r.commands);
    }
  }
  return all;
}

/**
 * One run of a scenario: `which` tools at once in a namespace of its own
 * (its files named with `label`).
 */
async function scenario(key, ctbench, which, label) {
  const sc = SCENARIOS[key];
  const n = opts.n !== undefined ? Number(opts.n) : sc.n;
  const say = (m) => console.error(`bench ${key} (${label ?? which.join(', ')}): ${m}`);
  const f = (s) => path.join(OUT, `${key}-${label ? `${label}-` : ''}${s}`);
  const files = { ctlogd: f('ctlogd.log'), conntrack: f('conntrack.log'), ulogd: f('ulogd.log'), floor: f('floor.log') };
  for (const w of which) fs.rmSync(files[w], { force: true });
  let title = sc.title.replace(/\bN\b/, n.toLocaleString('en-US'));
  if (key === 'a' && RATE) title = title.replace("at the generator's max rate", `paced at ${RATE.toLocaleString('en-US')}/s`);
  const info = { key, n, title, notes: [] };
  if (opts.profile) info.notes.push('**ctlogd ran under `node --cpu-prof`: its CPU figures include the profiler**');

  const ns = new Netns(key);
  let tools = [];
  try {
    setUpNetns(ns, key, n, info);

    if (key === 'b') {
      say(`making ${n} flows with no listener`);
      const g = JSON.parse((await ns.run(ctbench, ['udp', String(n)])).stdout);
      info.gen = g;
      info.created = await ns.count();
      info.notes.push(
        `${info.created.toLocaleString('en-US')} flows in the table before the flush (made in ${g.seconds.toFixed(2)} s, ${Math.round(g.sent / g.seconds).toLocaleString('en-US')}/s, unobserved)`,
      );
    }

    // The listeners: ctlogd on its default config with only these event
    // types, and conntrack -E on the same types, both to files.
    const cfg = f('ctlogd.json');
    const event = EXTRA_CONFIG.event ?? Object.fromEntries(sc.events.map((e) => [e, {}]));
    if (Object.keys(event).sort().join() !== [...sc.events].sort().join())
      throw new Error(`--config: "event" must name the scenario's event types (${sc.events.join(', ')})`);
    fs.writeFileSync(cfg, JSON.stringify({ ...EXTRA_CONFIG, event }) + '\n');
    const keeps = (proto) => Object.values(event).every((protos) => Object.keys(protos ?? {}).length === 0 || proto in protos);
    markerProto = keeps('udp') || !keeps('tcp') ? 'udp' : 'tcp';
    if (Object.keys(EXTRA_CONFIG).length) info.notes.push(`**ctlogd config beyond the default: \`${opts.config}\`**`);
    // Scenario n: nfcapd in the namespace, its files in OUT/n-nfcapd; ctlogd's
    // "file" is the one nfcapd writes (it grows while records come in).
    let nfcapd;
    const nfcapdDir = f('nfcapd');
    if (key === 'n') {
      nfcapd = await startNfcapd(ns, nfcapdDir, f('nfcapd.stderr'));
      files.ctlogd = path.join(nfcapdDir, fs.readdirSync(nfcapdDir).find((x) => x.startsWith('nfcapd.current')) ?? 'nfcapd.current');
    }
    const output =
      key === 'n'
        ? ['--output', 'ipfix', '--ipfix-host', '127.0.0.1', '--ipfix-port', String(IPFIX_PORT)]
        : ['--output', 'file', '--output-file', files.ctlogd];
    const ctlogd = ctlogdCommand(['-c', cfg, '--log-level', 'debug', ...output, ...(FILTER ?? [])]);
    const conntrackArgs = ['-E', '-e', sc.events.map((e) => e.toUpperCase()).join(','), ...(FILTER ?? [])];
    if (FILTER) info.notes.push(`**filter, both tools: \`${FILTER.join(' ')}\`; it keeps ${opts['filter-keeps']} of the generated events**`);
    info.commands = {
      ctlogd: `${ctlogd.shown}   # ${fs.readFileSync(cfg, 'utf8').trim()}`,
      conntrack: `conntrack ${conntrackArgs.join(' ')} > ${path.relative(ROOT, files.conntrack)}`,
      ulogd: `ulogd -c ${path.relative(ROOT, f('ulogd.conf'))}   # NFCT (event_mask ${eventMask(sc.events)}, hash_enable=0, netlink_socket_buffer_maxsize 256 MiB) → IP2STR → PRINTFLOW → LOGEMU (sync=1)`,
      floor: `ctbench floor ${path.relative(ROOT, files.floor)} ${Number(eventMask(sc.events))}   # recvmmsg of 64, "[NEW] src=ADDR" an event, 64 KiB stdio buffer flushed after 10 ms without events`,
    };
    writeUlogdConf(f('ulogd.conf'), sc.events, files.ulogd, f('ulogd.messages'));
    info.which = which;
    for (const w of which) {
      if (w === 'ctlogd') tools.push(await startMeasured(ns, ctbench, `${key}-ctlogd`, ctlogd.cmd, ctlogd.argv, null, f('ctlogd.stderr')));
      else if (w === 'conntrack')
        tools.push(await startMeasured(ns, ctbench, `${key}-conntrack`, 'conntrack', conntrackArgs, files.conntrack, f('conntrack.stderr')));
      else if (w === 'floor')
        tools.push(
          await startMeasured(ns, ctbench, `${key}-floor`, ctbench, ['floor', files.floor, String(Number(eventMask(sc.events)))], null, f('floor.stderr')),
        );
      else tools.push(await startMeasured(ns, ctbench, `${key}-ulogd`, 'ulogd', ['-c', f('ulogd.conf')], null, f('ulogd.stderr')));
    }
    const outFiles = which.map((w) => files[w]);
    for (const x of outFiles) fs.writeFileSync(x, '', { flag: 'a' });
    // nfcapd's file is binary, written in blocks: ctlogd's "listening" says enough there.
    await waitListening(
      ns,
      outFiles.filter((x) => !x.startsWith(nfcapdDir)),
      which.includes('ctlogd') ? [f('ctlogd.stderr')] : [],
    );
    say(`listening: ${which.join(', ')}`);

    let scraper;
    let scraped = '';
    if (METRICS_PORT && which.includes('ctlogd')) {
      scraper = spawn('ip', ns.argv(process.execPath, ['-e', SCRAPER, `http://127.0.0.1:${METRICS_PORT}/metrics`]), { stdio: ['ignore', 'pipe', 'inherit'] });
      live.children.add(scraper);
      scraper.stdout.on('data', (d) => (scraped += d));
      for (let i = 0; !scraped.includes('ready'); i++) {
        if (i > 200) throw new Error('the metrics scraper got no page');
        await sleep(50);
      }
      await sleep(1000);
    }
    const before = tools.map((t) => ({ cpu: cpuOf(t.pid), threads: threadsCpu(t.pid), wakeups: wakeups(t.pid) }));
    const t0 = performance.now();
    if (sc.idleMs) {
      say(`idle for ${sc.idleMs / 1000} s`);
      await sleep(sc.idleMs);
      info.created = 0;
      info.genSeconds = sc.idleMs / 1000;
    } else if (key === 'a' || key === 'n' || sc.rate) {
      const u = await makeUdpFlows(ns, ctbench, n, sc.rate ?? RATE, say);
      info.gen = u.gen;
      info.created = u.created;
      info.genSeconds = u.gen.seconds;
      info.notes.push(u.note);
    } else if (key === 'b') {
      say(`conntrack -F (${info.created} entries)`);
      const r = await ns.run('conntrack', ['-F']);
      info.genSeconds = r.seconds;
      info.notes.push(
        `\`conntrack -F\` took ${r.seconds.toFixed(3)} s: ${Math.round(info.created / r.seconds).toLocaleString('en-US')} DESTROY/s; entries left: ${await ns.count()}`,
      );
    } else {
      say(`${n} TCP connections`);
      const g = JSON.parse((await ns.run(ctbench, ['tcp', String(n)])).stdout);
      info.gen = g;
      info.created = await ns.count();
      const r = await ns.run('conntrack', ['-F']);
      info.genSeconds = g.seconds + r.seconds;
      info.notes.push(
        `generator: ${g.done.toLocaleString('en-US')} connections in ${g.seconds.toFixed(3)} s = **${Math.round(g.done / g.seconds).toLocaleString('en-US')} connections/s** (errors ${g.errors}${g.first_error ? ` ${g.first_error}` : ''}); ${info.created.toLocaleString('en-US')} entries (TIME_WAIT) ended by \`conntrack -F\` in ${r.seconds.toFixed(3)} s`,
      );
    }
    say('events made; waiting for the outputs to settle');
    const lastWrite = sc.idleMs ? outFiles.map(() => t0) : await waitQuiet(outFiles);
    const phase = (performance.now() - t0) / 1000;
    const after = tools.map((t) => ({ cpu: cpuOf(t.pid), hwm: statusKb(t.pid, 'VmHWM'), threads: threadsCpu(t.pid), wakeups: wakeups(t.pid) }));
    if (scraper) {
      const exited = new Promise((r) => scraper.once('exit', r));
      scraper.kill('SIGTERM');
      await exited;
      live.children.delete(scraper);
      const s = JSON.parse(scraped.split('\n').find((l) => l.startsWith('{')) || '{}');
      info.notes.push(`metrics: scraped every second during the events: ${s.n ?? '?'} pages of ${s.bytes ?? '?'} bytes, ${s.bad ?? '?'} failed`);
    }
    const usage = [];
    for (const t of tools) usage.push(await stopMeasured(t));
    tools = [];
    say('stopped; counting');

    const keys = key === 'c';
    const lines = {};
    for (const w of which) lines[w] = key === 'n' && w === 'ctlogd' ? await countNfcapd(nfcapd, nfcapdDir, info) : await countLines(files[w], keys);
    let generated;
    if (key === 'a' || key === 'n' || sc.rate || sc.idleMs) generated = { new: info.created, update: 0, destroy: 0 };
    else if (key === 'b') generated = { new: 0, update: 0, destroy: info.created };
    else {
      const u = unionCount(lines.ctlogd?.perKey ?? new Map(), lines.conntrack?.perKey ?? new Map());
      generated = { new: Math.max(info.gen.done, u.new), update: u.update, destroy: Math.max(info.created, u.destroy) };
      info.notes.push(
        `generated UPDATE events are not known exactly: the count is a lower bound, per (type, state, tuple) the most ${which.length > 1 ? 'either tool' : 'the tool'} wrote (${u.update.toLocaleString('en-US')}); NEW = connections made, DESTROY = entries flushed`,
      );
    }
    if (opts['filter-keeps'] === 'none') generated = { new: 0, update: 0, destroy: 0 };
    generated.total = generated.new + generated.update + generated.destroy;

    if (which.includes('ctlogd')) {
      const { statsLine, note } = ctlogdStats(f('ctlogd.stderr'));
      info.notes.push(`ctlogd: ${note}`);
      const lat = (q) => Number(new RegExp(`latency_${q}_us=(\\d+)`).exec(statsLine)?.[1]) / 1000;
      info.latencyMs = { p50: lat('p50'), p99: lat('p99'), max: lat('max') };
    }
    if (which.includes('conntrack')) {
      const conntrackErr = fs.readFileSync(f('conntrack.stderr'), 'utf8');
      const enobufsCe = (conntrackErr.match(/hit ENOBUFS/g) ?? []).length;
      const shownCe = /(\d+) flow events have been shown/.exec(conntrackErr)?.[1];
      info.notes.push(`conntrack -E: ${enobufsCe} "hit ENOBUFS" warnings; says ${shownCe ?? '?'} flow events shown (markers included)`);
    }
    if (which.includes('ulogd')) {
      let messages = '';
      try {
        messages = fs.readFileSync(f('ulogd.messages'), 'utf8');
      } catch {}
      const grown = messages.match(/buffer size has been set to (\d+)/g) ?? [];
      info.notes.push(
        `ulogd2: ${(messages.match(/ENOBUFS/g) ?? []).length} ENOBUFS messages; its netlink buffer was set ${grown.length} times (last: ${grown.at(-1)?.replace(/\D+/, '') ?? '?'} bytes)`,
      );
    }
    const i0 = which.indexOf('ctlogd');
    if (i0 >= 0) info.notes.push(`ctlogd CPU in the event phase by thread: ${threadsDelta(before[i0].threads, after[i0].threads)}`);

    info.tools = which.map((w, i) => {
      const name = TOOL_NAMES[w];
      const c = lines[w].counts;
      const u = usage[i];
      const cpu = (u.user ?? NaN) + (u.sys ?? NaN);
      return {
        name,
        captured: c,
        generated,
        user: u.user,
        sys: u.sys,
        cpu,
        cpuEvents: after[i].cpu - before[i].cpu,
        startCpu: before[i].cpu,
        wakeups: after[i].wakeups - before[i].wakeups,
        phase,
        rssMb: (u.maxrss_kb ?? NaN) / 1024,
        hwmMb: after[i].hwm / 1024,
        caughtUp: (lastWrite[i] - t0) / 1000,
        exit: u.signal ? `signal ${u.signal}` : u.exit,
        latencyMs: w === 'ctlogd' ? info.latencyMs : undefined,
        wall: u.wall,
      };
    });
    if (!opts.keep) {
      for (const x of outFiles) fs.rmSync(x, { force: true });
      fs.rmSync(nfcapdDir, { recursive: true, force: true });
    }
    return info;
  } finally {
    for (const t of tools) await stopMeasured(t).catch(() => {});
    ns.destroy();
    restoreSysctls();
  }
}

// ---------------------------------------------------------------- scenario o

/** Scenario o's outputs: one file each, in each of the three formats. */
const O_OUTPUTS = ['vyos', 'json', 'conntrack'];

/**
 * Scenario o: the events of scenario a written to three files, by one
 * ctlogd with `outputs`, then by three ctlogd with one output each (what
 * runs without `outputs`), each configuration alone in a namespace of its
 * own, with the same generator, count and rate.
 */
async function outputsScenario(key, ctbench) {
  const sc = SCENARIOS[key];
  const n = opts.n !== undefined ? Number(opts.n) : sc.n;
  const say = (m) => console.error(`bench ${key}: ${m}`);
  const f = (s) => path.join(OUT, `${key}-${s}`);
  let title = sc.title.replace(/\bN\b/, n.toLocaleString('en-US'));
  if (RATE) title = title.replace("at the generator's max rate", `paced at ${RATE.toLocaleString('en-US')}/s`);
  const info = { key, n, title, notes: [], configs: [], tools: [], which: [], commands: {} };
  const event = EXTRA_CONFIG.event ?? Object.fromEntries(sc.events.map((e) => [e, {}]));
  if (Object.keys(event).sort().join() !== [...sc.events].sort().join())
    throw new Error(`--config: "event" must name the scenario's event types (${sc.events.join(', ')})`);
  const keeps = (proto) => Object.values(event).every((protos) => Object.keys(protos ?? {}).length === 0 || proto in protos);
  markerProto = keeps('udp') || !keeps('tcp') ? 'udp' : 'tcp';
  if (Object.keys(EXTRA_CONFIG).length) info.notes.push(`**ctlogd config beyond the default, every ctlogd: \`${opts.config}\`**`);
  if (FILTER) info.notes.push(`**filter, every ctlogd: \`${FILTER.join(' ')}\`; it keeps ${opts['filter-keeps']} of the generated events**`);
  if (opts.only) info.notes.push('`--only` does not apply here: each configuration runs alone anyway');
  if (opts.profile) info.notes.push('**ctlogd ran under `node --cpu-prof`: its CPU figures include the profiler**');
  const base = { ...EXTRA_CONFIG, event };
  const configs = [
    {
      tag: 'one',
      name: 'one ctlogd, 3 outputs',
      processes: [
        {
          name: 'ctlogd',
          config: { ...base, outputs: O_OUTPUTS.map((fmt) => ({ name: fmt, output: 'file', output_file: f(`one-${fmt}.log`), format: fmt })) },
          args: [],
          outputs: O_OUTPUTS,
        },
      ],
    },
    {
      tag: 'three',
      name: '3 ctlogd, 1 output each',
      processes: O_OUTPUTS.map((fmt) => ({
        name: fmt,
        config: base,
        args: ['--output', 'file', '--output-file', f(`three-${fmt}.log`), '--format', fmt],
        outputs: [fmt],
      })),
    },
  ];
  for (const [i, c] of configs.entries()) {
    if (aborting) break;
    say(`${c.name}`);
    info.configs.push(await outputsRun(key, ctbench, n, c, f, say, info));
    // The namespace just deleted is torn down by the kernel in the background: not in the next one's figures.
    if (i < configs.length - 1) await sleep(2000);
  }
  return info;
}

/** One configuration of scenario o, in a namespace of its own: starts its ctlogd, makes the events, stops, counts. */
async function outputsRun(key, ctbench, n, c, f, say, info) {
  const ns = new Netns(key);
  let tools = [];
  try {
    setUpNetns(ns, key, n, info);
    const files = Object.fromEntries(O_OUTPUTS.map((fmt) => [fmt, f(`${c.tag}-${fmt}.log`)]));
    for (const x of Object.values(files)) fs.writeFileSync(x, '');
    const commands = [];
    for (const p of c.processes) {
      const cfg = f(`${c.tag}-${p.name}.json`);
      fs.writeFileSync(cfg, JSON.stringify(p.config) + '\n');
      const run = ctlogdCommand(['-c', cfg, '--log-level', 'debug', ...p.args, ...(FILTER ?? [])]);
      tools.push(await startMeasured(ns, ctbench, `${key}-${c.tag}-${p.name}`, run.cmd, run.argv, null, f(`${c.tag}-${p.name}.stderr`)));
      commands.push(`${run.shown}   # ${JSON.stringify(p.config).replaceAll(`${ROOT}/`, '')}`);
    }
    await waitListening(
      ns,
      Object.values(files),
      tools.map((t) => t.stderrFile),
    );
    say(`listening: ${tools.length} ctlogd`);

    const before = tools.map((t) => ({ cpu: cpuOf(t.pid), threads: threadsCpu(t.pid) }));
    const t0 = performance.now();
    const u = await makeUdpFlows(ns, ctbench, n, RATE, say);
    say('events made; waiting for the outputs to settle');
    const lastWrite = await waitQuiet(Object.values(files));
    const phase = (performance.now() - t0) / 1000;
    const after = tools.map((t) => ({ cpu: cpuOf(t.pid), hwm: statusKb(t.pid, 'VmHWM'), threads: threadsCpu(t.pid) }));
    // All at once: three processes stop as one deployment does.
    const usage = await Promise.all(tools.map((t) => stopMeasured(t)));
    tools = [];
    say('stopped; counting');

    const generated = opts['filter-keeps'] === 'none' ? 0 : u.created;
    const outputs = [];
    const notes = [u.note];
    for (const [i, p] of c.processes.entries()) {
      const { statsLine, note } = ctlogdStats(f(`${c.tag}-${p.name}.stderr`));
      const num = (re) => Number(re.exec(statsLine)?.[1]);
      for (const name of p.outputs) {
        // A flat output is named by its output (file); one of `outputs` by its name.
        const at = p.outputs.length === 1 ? statsLine.indexOf(' output=') : statsLine.indexOf(` output=${name} `);
        const part = at >= 0 ? statsLine.slice(at) : '';
        const captured = (await countLines(files[name], false)).counts.total;
        outputs.push({
          name,
          captured,
          lost: generated - captured,
          kernelLost: num(/ lost=(\d+)/),
          dropped: num(/ dropped=(\d+)/),
          outputLost: Number(/ output_lost=(\d+)/.exec(part)?.[1]),
        });
      }
      const by = threadsDelta(before[i].threads, after[i].threads);
      const ru = usage[i];
      notes.push(
        `${p.name}: ${note}; exit ${ru.signal ? `signal ${ru.signal}` : ru.exit}, ran ${fmt(ru.wall, 1)} s, VmHWM before stop ${fmt(after[i].hwm / 1024, 1)} MB; CPU in the event phase by thread: ${by}`,
      );
    }
    for (const o of outputs) if (o.lost !== 0) say(`warning: output ${o.name} has ${fmtInt(o.captured)} lines of ${fmtInt(generated)}`);
    const sum = (xs) => xs.reduce((a, b) => a + b, 0);
    const user = sum(usage.map((x) => x.user ?? NaN));
    const sys = sum(usage.map((x) => x.sys ?? NaN));
    // Per event: each configuration writes every event three times; divided by the lines of one output (their mean).
    const events = sum(outputs.map((o) => o.captured)) / outputs.length;
    // The entries go now, while nothing is measured, rather than in the background of the next configuration.
    await ns.run('conntrack', ['-F']);
    if (!opts.keep) for (const x of Object.values(files)) fs.rmSync(x, { force: true });
    return {
      name: c.name,
      processes: c.processes.length,
      gen: u.gen,
      generated,
      outputs,
      user,
      sys,
      cpu: user + sys,
      startCpu: sum(before.map((b) => b.cpu)),
      cpuEvents: sum(after.map((a, i) => a.cpu - before[i].cpu)),
      events,
      rssMb: sum(usage.map((x) => x.maxrss_kb ?? NaN)) / 1024,
      caughtUp: (Math.max(...lastWrite) - t0) / 1000,
      phase,
      notes,
      commands,
    };
  } finally {
    for (const t of tools) await stopMeasured(t).catch(() => {});
    ns.destroy();
    restoreSysctls();
  }
}

// ---------------------------------------------------------------- scenario store

const STORE_GEN = path.join(ROOT, 'target/release/store-gen');
/** A day at 2,000 connections a second. */
const DAY_AT_2000 = 2000 * 86_400;
/** nfdump -J's codes: nfcapd's files recompressed in place, each in turn. */
const NFDUMP_COMPRESSIONS = [
  ['LZO', '1'],
  ['LZ4', '3'],
  ['BZ2', '2'],
];

/** A store directory's bytes: sealed connection files, snapshots, journal. */
function storeBytes(dir) {
  const b = { sealed: 0, files: 0, snapshots: 0, snapshotFiles: 0, journal: 0 };
  for (const e of fs.readdirSync(dir, { recursive: true })) {
    const st = fs.statSync(path.join(dir, e));
    if (!st.isFile()) continue;
    const name = path.basename(e);
    if (/^snapshot-.*\.parquet$/.test(name)) {
      b.snapshots += st.size;
      b.snapshotFiles++;
    } else if (name.endsWith('.parquet')) {
      b.sealed += st.size;
      b.files++;
    } else if (name.startsWith('journal')) b.journal += st.size;
  }
  return b;
}

/** One output's counts in a stats line: a flat output's, or the one of `outputs` named `name`. */
function outputCounts(statsLine, name) {
  const at = name ? statsLine.indexOf(` output=${name} `) : statsLine.indexOf(' output=');
  const part = at >= 0 ? statsLine.slice(at) : '';
  const w = / written=(\d+) \(new (\d+) update \d+ destroy (\d+)\)/.exec(part);
  return {
    written: Number(w?.[1]),
    new: Number(w?.[2]),
    destroy: Number(w?.[3]),
    outputLost: Number(/ output_lost=(\d+)/.exec(part)?.[1]),
  };
}

const quantile = (sorted, q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] : NaN);

/**
 * Scenario store, its parts in turn, each alone: ingest (the store output,
 * then the file output, each in a fresh namespace with the same generator),
 * size (the store beside an IPFIX export to nfcapd), lookups (on store-gen's
 * stores) and snapshot (a dump of a big table).
 */
async function storeScenario(key, ctbench) {
  const sc = SCENARIOS[key];
  const n = opts.n !== undefined ? Number(opts.n) : sc.n;
  const say = (m) => console.error(`bench ${key}: ${m}`);
  const f = (s) => path.join(OUT, `${key}-${s}`);
  const parts = opts['store-parts'].split(',');
  let title = sc.title.replace(/\bN\b/, n.toLocaleString('en-US'));
  if (RATE) title = title.replace("at the generator's max rate", `paced at ${RATE.toLocaleString('en-US')}/s`);
  const info = { key, n, title, notes: [], tools: [], which: [], commands: {}, store: { n, ingest: [], lookups: [] } };
  if (Object.keys(EXTRA_CONFIG).length) info.notes.push(`**ctlogd config beyond the default, every ctlogd: \`${opts.config}\`**`);
  if (opts.only) info.notes.push('`--only` does not apply here: every part runs alone anyway');
  const pause = () => sleep(2000);
  if (parts.includes('ingest')) {
    for (const tag of ['store', 'file']) {
      if (aborting) break;
      say(`ingest: ${tag} output`);
      info.store.ingest.push(await storeRun(key, ctbench, n, tag, f, say, info));
      await pause();
    }
  }
  if (parts.includes('size') && !aborting) {
    say('size: store and IPFIX to nfcapd');
    info.store.size = await storeRun(key, ctbench, n, 'size', f, say, info);
    await pause();
  }
  if (parts.includes('snapshot') && !aborting) {
    say('snapshot of a big table');
    info.store.snapshot = await snapshotCost(key, ctbench, Number(opts['snapshot-entries']), f, say, info);
    await pause();
  }
  if (parts.includes('lookups') && !aborting) {
    buildStoreGen();
    for (const size of opts['lookup-sizes'].split(',').map(Number)) {
      if (aborting) break;
      info.store.lookups.push(await lookups(ctbench, size, f, say, info));
    }
  }
  return info;
}

/**
 * One ingest run in a namespace of its own: ctlogd with the store output
 * (`store`), the file output in vyos format (`file`), or the store beside
 * an IPFIX export to nfcapd (`size`); N SNAT-ed UDP flows (NEW), then
 * `conntrack -F` (DESTROY); stopped once its files stop growing (the stop
 * seals the store).
 */
async function storeRun(key, ctbench, n, tag, f, say, info) {
  const ns = new Netns(key);
  let tool;
  let nfcapd;
  try {
    setUpNetns(ns, key, n, info);
    const dir = f(`${tag}-store`);
    fs.rmSync(dir, { recursive: true, force: true });
    const logFile = f(`${tag}-vyos.log`);
    const nfDir = f(`${tag}-nfcapd`);
    const event = { new: {}, destroy: {} };
    const config = { ...EXTRA_CONFIG, event };
    const args = [];
    if (tag === 'file') {
      fs.writeFileSync(logFile, '');
      args.push('--output', 'file', '--output-file', logFile);
    } else if (tag === 'store') Object.assign(config, { output: 'store', store_dir: dir });
    else {
      nfcapd = await startNfcapd(ns, nfDir, f(`${tag}-nfcapd.stderr`));
      config.outputs = [
        { name: 'store', output: 'store', store_dir: dir },
        { name: 'ipfix', output: 'ipfix', ipfix_host: '127.0.0.1', ipfix_port: IPFIX_PORT },
      ];
    }
    const cfg = f(`${tag}-ctlogd.json`);
    fs.writeFileSync(cfg, JSON.stringify(config) + '\n');
    const run = ctlogdCommand(['-c', cfg, '--log-level', 'debug', ...args]);
    const stderrFile = f(`${tag}-ctlogd.stderr`);
    tool = await startMeasured(ns, ctbench, `${key}-${tag}-ctlogd`, run.cmd, run.argv, null, stderrFile);
    // The markers are not translated: the store skips them, the file has them (not counted).
    await waitListening(ns, tag === 'file' ? [logFile] : [], [stderrFile]);
    say(`listening: ctlogd (${tag})`);

    const before = { cpu: cpuOf(tool.pid), threads: threadsCpu(tool.pid) };
    const t0 = performance.now();
    const u = await makeUdpFlows(ns, ctbench, n, RATE, say);
    const inTable = await ns.count();
    say(`conntrack -F (${inTable} entries)`);
    const flush = await ns.run('conntrack', ['-F']);
    say('events made; waiting for the outputs to settle');
    const watched = tag === 'file' ? [logFile] : tag === 'store' ? [dir] : [dir, nfDir];
    const lastWrite = await waitQuiet(watched);
    const phase = (performance.now() - t0) / 1000;
    const after = { cpu: cpuOf(tool.pid), hwm: statusKb(tool.pid, 'VmHWM'), threads: threadsCpu(tool.pid) };
    const ru = await stopMeasured(tool);
    tool = undefined;
    say('stopped; counting');

    const { statsLine } = ctlogdStats(stderrFile);
    const num = (re) => Number(re.exec(statsLine)?.[1]);
    const r = {
      tag,
      name: { store: 'store', file: 'file (vyos)', size: 'store + IPFIX to nfcapd' }[tag],
      connections: u.created,
      inTable,
      gen: u.gen,
      flushSeconds: flush.seconds,
      kernelLost: num(/ lost=(\d+)/),
      dropped: num(/ dropped=(\d+)/),
      cpuEvents: after.cpu - before.cpu,
      startCpu: before.cpu,
      cpu: (ru.user ?? NaN) + (ru.sys ?? NaN),
      rssMb: (ru.maxrss_kb ?? NaN) / 1024,
      caughtUp: (Math.max(...lastWrite) - t0) / 1000,
      phase,
      notes: [
        u.note,
        `\`conntrack -F\` of ${fmtInt(inTable)} entries took ${fmt(flush.seconds, 3)} s`,
        `\`${statsLine.replace(/^ctlogd: /, '')}\``,
        `exit ${ru.signal ? `signal ${ru.signal}` : ru.exit}, ran ${fmt(ru.wall, 1)} s, VmHWM before stop ${fmt(after.hwm / 1024, 1)} MB; CPU in the event phase by thread: ${threadsDelta(before.threads, after.threads)}`,
        `\`${run.shown}\`   # ${JSON.stringify(config).replaceAll(`${ROOT}/`, '')}`,
      ],
    };
    if (tag === 'file') {
      const c = (await countLines(logFile, false)).counts;
      r.out = { written: c.total, new: c.new, destroy: c.destroy, outputLost: num(/ output_lost=(\d+)/) };
      r.bytes = size(logFile);
      if (!opts.keep) fs.rmSync(logFile, { force: true });
    } else {
      r.out = outputCounts(statsLine, tag === 'size' ? 'store' : undefined);
      r.bytes = storeBytes(dir);
      if (!opts.keep) fs.rmSync(dir, { recursive: true, force: true });
    }
    if (tag === 'size') {
      r.ipfix = outputCounts(statsLine, 'ipfix');
      const sub = { notes: [] };
      r.nfcapdRecords = (await countNfcapd(nfcapd, nfDir, sub)).counts.total;
      nfcapd = undefined;
      r.notes.push(...sub.notes);
      const files = fs.readdirSync(nfDir).map((x) => path.join(nfDir, x));
      r.nfcapd = [["none (nfcapd's default)", size(nfDir)]];
      for (const [name, code] of NFDUMP_COMPRESSIONS) {
        for (const x of files) await run('nfdump', ['-r', x, '-J', code]);
        r.nfcapd.push([`${name} (\`nfdump -J ${code}\`)`, size(nfDir)]);
      }
      r.notes.push(
        `nfcapd: ${files.length} file(s), \`nfcapd -w DIR -b 127.0.0.1 -p ${IPFIX_PORT} -B ${64 << 20} -t 3600\`; compressed afterwards, in place, with \`nfdump -r FILE -J N\``,
      );
      if (!opts.keep) fs.rmSync(nfDir, { recursive: true, force: true });
    }
    const expect = 2 * r.connections;
    if (r.out.new + r.out.destroy !== expect) say(`warning: ${tag}: ${r.out.new} NEW and ${r.out.destroy} DESTROY written of ${r.connections} connections`);
    return r;
  } finally {
    if (tool) await stopMeasured(tool).catch(() => {});
    if (nfcapd) nfcapd.kill('SIGTERM');
    ns.destroy();
    restoreSysctls();
  }
}

/**
 * The store's snapshot of a table of `entries` translated entries: the
 * addon's Store opened in the namespace (the snapshot at its start), then
 * closed (the one at its stop), timed from inside the process.
 */
async function snapshotCost(key, ctbench, entries, f, say, info) {
  const ns = new Netns(key);
  try {
    // Its table's size is not the scenario's (info.ctMax): the ingest runs'.
    setUpNetns(ns, key, entries, {});
    const u = await makeUdpFlows(ns, ctbench, entries, 0, say);
    const dir = f('snapshot-store');
    fs.rmSync(dir, { recursive: true, force: true });
    const script = `const { Store } = await import(process.argv[1]);
const wait = () => new Promise((r) => setTimeout(r, 1));
const cpu = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1e6; };
const c0 = cpu(), t0 = performance.now();
const s = Store.open({ dir: process.argv[2], all: false, syncMs: 1000, sealRows: 262144, sealSeconds: 3600, snapshotSeconds: 0, keepDays: 0, maxBytes: 0, queue: 262144 });
while (s.counts().snapshots < 1 && s.counts().errors.length === 0) await wait();
const t1 = performance.now(), c1 = cpu(), first = s.counts();
await s.close();
const t2 = performance.now(), c2 = cpu(), last = s.counts();
console.log(JSON.stringify({ startMs: t1 - t0, startCpu: c1 - c0, rows: first.snapshotRows, stopMs: t2 - t1, stopCpu: c2 - c1, stopRows: last.snapshotRows - first.snapshotRows, errors: last.errors }));`;
    const rusage = f('snapshot.rusage.json');
    const r = await ns.run(ctbench, ['run', rusage, process.execPath, '--input-type=module', '-e', script, path.join(ROOT, 'index.js'), dir]);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1));
    const ru = JSON.parse(fs.readFileSync(rusage, 'utf8'));
    const bytes = storeBytes(dir);
    if (!opts.keep) fs.rmSync(dir, { recursive: true, force: true });
    await ns.run('conntrack', ['-F']);
    info.notes.push(`snapshot: ${u.note}; the addon's \`Store.open\` in the namespace, then \`close()\`: ${JSON.stringify(out)}`);
    return { entries: u.created, ...out, bytes: bytes.snapshots, files: bytes.snapshotFiles, rssMb: ru.maxrss_kb / 1024 };
  } finally {
    ns.destroy();
    restoreSysctls();
  }
}

/** store-gen, built when missing; a warning when the core's sources are newer. */
function buildStoreGen() {
  if (!fs.existsSync(STORE_GEN)) execFileSync('cargo', ['build', '--release', '-p', 'store-gen'], { cwd: ROOT, stdio: 'inherit' });
  let newest = 0;
  for (const dir of ['crates/ctlog-core/src', 'bench/store-gen/src']) {
    for (const e of fs.readdirSync(path.join(ROOT, dir), { recursive: true })) newest = Math.max(newest, fs.statSync(path.join(ROOT, dir, e)).mtimeMs);
  }
  if (newest > fs.statSync(STORE_GEN).mtimeMs)
    console.error('bench: warning: the store sources are newer than target/release/store-gen: run `cargo build --release -p store-gen`');
}

/** Epoch ns (decimal text) as `ctlogd query`'s seconds with a fraction. */
const nsToSeconds = (ns) => `${ns.slice(0, -9)}.${ns.slice(-9)}`;

/**
 * A store of `size` connections written by store-gen, LOOKUPS of them
 * sampled with their truth; `ctlogd query --batch` on them warm (a second
 * run) and cold (the page cache dropped first), every answer checked; then
 * COMMANDS single `ctlogd query` commands, warm. The store is deleted after.
 */
async function lookups(ctbench, size, f, say, info) {
  const dir = f(`gen-${size}`);
  const sampleFile = f(`gen-${size}.sample.jsonl`);
  const batch = f(`gen-${size}.batch`);
  // What store-gen said, kept beside a store kept with --keep: such a store is used again.
  const made = f(`gen-${size}.json`);
  const genArgs = ['--dir', dir, '--connections', String(size), '--sample', String(LOOKUPS), sampleFile];
  let gen;
  if (opts.keep && [dir, sampleFile, made].every((x) => fs.existsSync(x))) {
    say(`store-gen: ${size.toLocaleString('en-US')} connections: the store kept in ${dir}`);
    gen = JSON.parse(fs.readFileSync(made, 'utf8'));
  } else {
    fs.rmSync(dir, { recursive: true, force: true });
    say(`store-gen: ${size.toLocaleString('en-US')} connections`);
    gen = JSON.parse((await run(STORE_GEN, genArgs, { timeoutMs: 4 * 3600_000 })).stdout.trim());
    fs.writeFileSync(made, JSON.stringify(gen) + '\n');
  }
  const samples = fs
    .readFileSync(sampleFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .slice(0, Number(opts.lookups))
    .map((l) => JSON.parse(l));
  const ask = (s) => ['--nat', `${s.nat_src}:${s.nat_sport}`, '--at', nsToSeconds(s.at_ns)];
  fs.writeFileSync(batch, samples.map((s) => ask(s).join(' ')).join('\n') + '\n');
  const unmapped = (a) => String(a).replace(/^::ffff:/, '');
  const batchRun = async (tag) => {
    const rusage = f(`gen-${size}-${tag}.rusage.json`);
    const r = await run(ctbench, ['run', rusage, CTLOGD_COMMAND, 'query', '--store', dir, '--batch', batch, '--timing'], { timeoutMs: 3600_000 });
    const us = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    const answers = new Map();
    for (const l of r.stdout.split('\n').filter(Boolean)) {
      const a = JSON.parse(l);
      answers.set(a.line, [...(answers.get(a.line) ?? []), a]);
    }
    let right = 0;
    let wrong = 0;
    let none = 0;
    let more = 0;
    samples.forEach((s, i) => {
      const got = answers.get(i + 1) ?? [];
      if (got.length === 0) none++;
      else if (got.some((a) => unmapped(a.orig_src) === unmapped(s.orig_src) && a.orig_sport === s.orig_sport)) right++;
      else wrong++;
      if (got.length > 1) more++;
    });
    const ms = us.map((x) => x.us / 1000).sort((a, b) => a - b);
    const ru = JSON.parse(fs.readFileSync(rusage, 'utf8'));
    return {
      p50: quantile(ms, 0.5),
      p99: quantile(ms, 0.99),
      max: ms.at(-1),
      rowGroups: quantile(
        us.map((x) => x.row_groups_read).sort((a, b) => a - b),
        0.5,
      ),
      right,
      wrong,
      none,
      more,
      rssMb: ru.maxrss_kb / 1024,
      wall: ru.wall,
      cpu: ru.user + ru.sys,
    };
  };
  say('lookups: a first run, then warm');
  await batchRun('first');
  const warm = await batchRun('warm');
  say('lookups: cold');
  execFileSync('sh', ['-c', 'sync; echo 3 > /proc/sys/vm/drop_caches']);
  const cold = await batchRun('cold');
  say(`lookups: ${COMMANDS} single commands`);
  const walls = [];
  for (const s of samples.slice(0, COMMANDS)) {
    const t0 = performance.now();
    await run(CTLOGD_COMMAND, ['query', '--store', dir, ...ask(s)]);
    walls.push(performance.now() - t0);
  }
  walls.sort((a, b) => a - b);
  const bytes = storeBytes(dir);
  if (!opts.keep) for (const x of [dir, made]) fs.rmSync(x, { recursive: true, force: true });
  info.notes.push(
    `store-gen ${size.toLocaleString('en-US')}: \`${JSON.stringify(gen)}\`; \`target/release/store-gen ${genArgs.map((a) => (a.startsWith('/') ? path.relative(ROOT, a) : a)).join(' ')}\`; \`bin/ctlogd query --store ${path.relative(ROOT, dir)} --batch ${path.relative(ROOT, batch)} --timing\` (a line: \`${ask(samples[0]).join(' ')}\`)`,
  );
  return { size, gen, bytes, warm, cold, command: { p50: quantile(walls, 0.5), min: walls[0], max: walls.at(-1) } };
}

/** Scenario store's tables: ingest, size, lookups, snapshot. */
function storeTable(r) {
  const st = r.store;
  const rows = [];
  const perConn = (x, c) => (c > 0 ? x / c : NaN);
  if (st.ingest.length) {
    rows.push(
      `**${r.key}: ingest**, each output alone in a namespace of its own: ${fmtInt(st.n)} SNAT-ed UDP flows (NEW), then \`conntrack -F\` (DESTROY); CPU from \`/proc/PID/stat\` over the event phase (generator start to the output's last write), and the whole run less the start (the stop seals the store)`,
      '',
      '| output | connections | NEW / DESTROY written | lost: kernel / queue / output | CPU s, event phase | µs / connection | CPU s, whole run − start | peak RSS MB | caught up after s | bytes / connection |',
      '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    );
    for (const x of st.ingest) {
      const b = typeof x.bytes === 'number' ? x.bytes : x.bytes.sealed;
      rows.push(
        `| ${x.name} | ${fmtInt(x.connections)} | ${fmtInt(x.out.new)} / ${fmtInt(x.out.destroy)} | ${fmtInt(x.kernelLost)} / ${fmtInt(x.dropped)} / ${fmtInt(x.out.outputLost)} | ${fmt(x.cpuEvents)} | ${fmt(perConn(x.cpuEvents * 1e6, x.connections))} | ${fmt(x.cpu - x.startCpu)} | ${fmt(x.rssMb, 1)} | ${fmt(x.caughtUp, 2)} | ${fmt(perConn(b, x.connections), 1)} |`,
      );
    }
    const [s, f] = st.ingest;
    if (s && f) {
      rows.push(
        `| **store / file** | | | | **${ratio(s.cpuEvents / s.connections, f.cpuEvents / f.connections)}** | | ${ratio((s.cpu - s.startCpu) / s.connections, (f.cpu - f.startCpu) / f.connections)} | ${ratio(s.rssMb, f.rssMb)} | | |`,
      );
    }
  }
  const z = st.size;
  if (z) {
    const c = z.connections;
    rows.push(
      '',
      `**${r.key}: size**, one ctlogd with \`outputs\` [store, ipfix to nfcapd] on ${fmtInt(c)} connections (${fmtInt(z.out.new)} NEW and ${fmtInt(z.out.destroy)} DESTROY to the store, output_lost ${fmtInt(z.out.outputLost)}; ${fmtInt(z.ipfix.written)} IPFIX records sent, ${fmtInt(z.nfcapdRecords)} read back by \`nfdump -R\`); ctlogd stopped first (it seals); a day at 2,000 connections a second is ${fmtInt(DAY_AT_2000)}`,
      '',
      '| what | bytes | bytes / connection | a day at 2,000/s, GB |',
      '|---|--:|--:|--:|',
      `| store: sealed files (${z.bytes.files}), with counters | ${fmtInt(z.bytes.sealed)} | ${fmt(z.bytes.sealed / c, 1)} | ${fmt((z.bytes.sealed / c) * DAY_AT_2000 * 1e-9, 1)} |`,
      `| store: snapshots (${z.bytes.snapshotFiles}) | ${fmtInt(z.bytes.snapshots)} | | |`,
      ...z.nfcapd.map(([name, b]) => `| nfcapd's files, compression ${name} | ${fmtInt(b)} | ${fmt(b / c, 1)} | ${fmt((b / c) * DAY_AT_2000 * 1e-9, 1)} |`),
    );
    const file = st.ingest.find((x) => x.tag === 'file');
    if (file) {
      rows.push(
        `| vyos lines (ingest's file output) | ${fmtInt(file.bytes)} | ${fmt(file.bytes / file.connections, 1)} | ${fmt((file.bytes / file.connections) * DAY_AT_2000 * 1e-9, 1)} |`,
      );
    }
  }
  if (st.lookups.length) {
    rows.push(
      '',
      `**${r.key}: lookups** on stores written by \`store-gen\` (${Number(opts.lookups)} of ${LOOKUPS} sampled connections each, with their truth): \`ctlogd query --batch --timing\`, each lookup's own time; warm: a second run; cold: page cache dropped before; one command: \`ctlogd query --nat --at\`, Node's start included, warm, of ${COMMANDS}`,
      '',
      '| connections | store GB (files) | bytes / connection | warm p50 / p99 / max ms | cold p50 / p99 / max ms | row groups read (p50) | answers right / wrong / none (more than one) | query peak RSS MB warm / cold | batch wall s warm / cold | one command p50 (min–max) ms |',
      '|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    );
    for (const l of st.lookups) {
      rows.push(
        `| ${fmtInt(l.size)} | ${fmt(l.bytes.sealed / 1e9, 2)} (${l.bytes.files}) | ${fmt(l.bytes.sealed / l.size, 1)} | ${fmt(l.warm.p50, 1)} / ${fmt(l.warm.p99, 1)} / ${fmt(l.warm.max, 1)} | ${fmt(l.cold.p50, 1)} / ${fmt(l.cold.p99, 1)} / ${fmt(l.cold.max, 1)} | ${fmtInt(l.warm.rowGroups)} | ${l.warm.right} / ${l.warm.wrong} / ${l.warm.none} (${l.warm.more}) | ${fmt(l.warm.rssMb, 1)} / ${fmt(l.cold.rssMb, 1)} | ${fmt(l.warm.wall, 1)} / ${fmt(l.cold.wall, 1)} | ${fmt(l.command.p50, 0)} (${fmt(l.command.min, 0)}–${fmt(l.command.max, 0)}) |`,
      );
    }
  }
  const s = st.snapshot;
  if (s) {
    rows.push(
      '',
      `**${r.key}: snapshot** of a table of ${fmtInt(s.entries)} translated entries (the addon's \`Store\`: the start's snapshot, then the stop's)`,
      '',
      '| entries | rows, start / stop | start: until its snapshot is written, ms (CPU s) | stop: close, ms (CPU s) | snapshot bytes (files) | peak RSS MB |',
      '|--:|--:|--:|--:|--:|--:|',
      `| ${fmtInt(s.entries)} | ${fmtInt(s.rows)} / ${fmtInt(s.stopRows)} | ${fmt(s.startMs, 0)} (${fmt(s.startCpu)}) | ${fmt(s.stopMs, 0)} (${fmt(s.stopCpu)}) | ${fmtInt(s.bytes)} (${s.files}) | ${fmt(s.rssMb, 1)} |`,
    );
  }
  for (const x of [...st.ingest, ...(z ? [z] : [])]) rows.push('', `- ${x.name}:`, ...x.notes.map((n) => `  - ${n}`));
  return rows.join('\n');
}

// ---------------------------------------------------------------- report

const fmtInt = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '?');
const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '?');
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : '?');

function table(results, heading) {
  if (!results.length) return '';
  const rows = [heading, ''];
  rows.push(
    "| scenario | tool | generated | captured | lost | loss % | CPU user+sys s (user / sys) | CPU at start s | CPU in event phase s | CPU µs / captured event | wake-ups in event phase (per s) | peak RSS MB (ctlogd: over Node's floor) | caught up after s | event to output p50 / p99 / max ms |",
  );
  rows.push('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  const ratios = [];
  for (const r of results) {
    for (const t of r.tools) {
      const lost = t.generated.total - t.captured.total;
      const per = t.captured.total > 0 ? (t.cpu * 1e6) / t.captured.total : NaN;
      t.perEvent = per;
      t.perEventPhase = t.captured.total > 0 ? (t.cpuEvents * 1e6) / t.captured.total : NaN;
      const byType = r.key === 'c' ? ` (N ${fmtInt(t.captured.new)} U ${fmtInt(t.captured.update)} D ${fmtInt(t.captured.destroy)})` : '';
      const genByType = r.key === 'c' ? ` (N ${fmtInt(t.generated.new)} U ≥${fmtInt(t.generated.update)} D ${fmtInt(t.generated.destroy)})` : '';
      rows.push(
        `| ${r.key} | ${t.name} | ${r.key === 'c' ? '≥' : ''}${fmtInt(t.generated.total)}${genByType} | ${fmtInt(t.captured.total)}${byType} | ${fmtInt(lost)} | ${fmt((100 * lost) / t.generated.total, 3)} | ${fmt(t.cpu)} (${fmt(t.user)} / ${fmt(t.sys)}) | ${fmt(t.startCpu)} | ${fmt(t.cpuEvents)} | ${fmt(per, 2)} | ${fmtInt(t.wakeups)} (${fmt(t.wakeups / t.phase, 1)}) | ${fmt(t.rssMb, 1)}${t.name === TOOL_NAMES.ctlogd ? ` (+${fmt(t.rssMb - NODE_FLOOR_MB, 1)})` : ''} | ${fmt(t.caughtUp, 2)} | ${t.latencyMs ? `${fmt(t.latencyMs.p50, 1)} / ${fmt(t.latencyMs.p99, 1)} / ${fmt(t.latencyMs.max, 1)}` : '–'} |`,
      );
    }
    const a = r.tools.find((t) => t.name === TOOL_NAMES.ctlogd);
    const b = r.tools.find((t) => t.name === TOOL_NAMES.conntrack);
    const u = r.tools.find((t) => t.name === TOOL_NAMES.ulogd);
    const floor = r.tools.find((t) => t.name === TOOL_NAMES.floor);
    if (!a || !b) continue;
    const loss = (t) => (t ? `${fmt((100 * (t.generated.total - t.captured.total)) / t.generated.total, 3)} %` : '–');
    // Without events (idle) the CPU itself is compared.
    const idle = a.captured.total === 0;
    ratios.push(
      `| ${r.key} | ${idle ? ratio(a.cpu, b.cpu) : ratio(a.perEvent, b.perEvent)} | ${idle ? ratio(a.cpuEvents, b.cpuEvents) : ratio(a.perEventPhase, b.perEventPhase)} | ${u ? (idle ? ratio(a.cpuEvents, u.cpuEvents) : ratio(a.perEventPhase, u.perEventPhase)) : '–'} | ${floor ? (idle ? ratio(a.cpuEvents, floor.cpuEvents) : ratio(a.perEventPhase, floor.perEventPhase)) : '–'} | ${ratio(a.rssMb, b.rssMb)} | ${loss(a)} vs ${loss(b)} vs ${loss(u)} vs ${loss(floor)} |`,
    );
  }
  if (ratios.length)
    rows.push(
      '',
      '**ctlogd / conntrack -E**',
      '',
      '| scenario | CPU per captured event (whole run) | CPU per captured event (event phase) | event phase, ctlogd / ulogd2 | event phase, ctlogd / C floor | peak RSS | loss (ctlogd vs conntrack -E vs ulogd2 vs C floor) |',
      '|---|--:|--:|--:|--:|--:|--:|',
      ...ratios,
    );
  return rows.join('\n');
}

/** Scenario o: what each output got, what each configuration cost, and one process with three outputs / three processes. */
function outputsTable(r) {
  const rows = [
    `**${r.key}: what each output got** (generated: \`conntrack -C\`; lost: generated − captured; ctlogd's own counts from its stats line: kernel \`lost=\`, \`dropped=\`, \`output_lost=\`)`,
    '',
    '| configuration | output | generated | captured | lost | ctlogd lost / dropped / output_lost |',
    '|---|---|--:|--:|--:|--:|',
  ];
  for (const c of r.configs) {
    for (const o of c.outputs) {
      rows.push(
        `| ${c.name} | ${o.name} | ${fmtInt(c.generated)} | ${fmtInt(o.captured)} | ${fmtInt(o.lost)} | ${fmtInt(o.kernelLost)} / ${fmtInt(o.dropped)} / ${fmtInt(o.outputLost)} |`,
      );
    }
  }
  rows.push(
    '',
    `**${r.key}: what it cost** (every ctlogd of the configuration summed; per event: ÷ the lines of one output; the generator's CPU includes the kernel's delivery to each listening socket)`,
    '',
    '| configuration | processes | generator flows/s (CPU s) | CPU user+sys s (user / sys) | CPU at start s | CPU in event phase s | CPU µs / event (event phase) | CPU µs / event (whole run) | peak RSS MB | caught up after s |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  );
  for (const c of r.configs) {
    c.perEvent = c.events > 0 ? (c.cpu * 1e6) / c.events : NaN;
    c.perEventPhase = c.events > 0 ? (c.cpuEvents * 1e6) / c.events : NaN;
    rows.push(
      `| ${c.name} | ${c.processes} | ${fmtInt(c.gen.sent / c.gen.seconds)} (${fmt(c.gen.user + c.gen.sys)}) | ${fmt(c.cpu)} (${fmt(c.user)} / ${fmt(c.sys)}) | ${fmt(c.startCpu)} | ${fmt(c.cpuEvents)} | ${fmt(c.perEventPhase)} | ${fmt(c.perEvent)} | ${fmt(c.rssMb, 1)} | ${fmt(c.caughtUp, 2)} |`,
    );
  }
  const [one, three] = r.configs;
  if (one && three) {
    rows.push(
      `| **one / three** | | ${ratio(one.gen.user + one.gen.sys, three.gen.user + three.gen.sys)} | ${ratio(one.cpu, three.cpu)} | ${ratio(one.startCpu, three.startCpu)} | ${ratio(one.cpuEvents, three.cpuEvents)} | ${ratio(one.perEventPhase, three.perEventPhase)} | ${ratio(one.perEvent, three.perEvent)} | ${ratio(one.rssMb, three.rssMb)} | |`,
    );
  }
  return rows.join('\n');
}

/**
 * Node's own floor here: the peak RSS of `node` that loads the addon (as
 * ctlogd does) and does nothing else, under `ctbench run`. What ctlogd
 * holds beyond it is its own.
 */
let NODE_FLOOR_MB = NaN;
async function nodeFloor(ctbench) {
  const rusage = path.join(OUT, 'node-floor.rusage.json');
  const native = path.join(ROOT, 'dist/native.js');
  // As the launcher runs node (its flags and arenas), with nothing of ctlogd but the addon.
  const { env, flags } = launcherNode();
  await run(ctbench, [
    'run',
    rusage,
    'env',
    env,
    process.execPath,
    ...flags,
    '--input-type=module',
    '-e',
    `await (await import(${JSON.stringify(native)})).loadNative(); await new Promise((r) => setTimeout(r, 500));`,
  ]);
  NODE_FLOOR_MB = JSON.parse(fs.readFileSync(rusage, 'utf8')).maxrss_kb / 1024;
}

function machine() {
  const cpu = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '?';
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const rev = tryText('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']);
  const dirty = tryText('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no']) ? ' (with uncommitted changes)' : '';
  return [
    `- machine: ${os.cpus().length} CPUs (\`nproc\` ${tryText('nproc', [])}), ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM`,
    `- kernel: ${tryText('uname', ['-r'])}`,
    `- node ${process.version}; ${tryText('conntrack', ['--version'])}; ${tryText('ulogd', ['--version']).split('\n')[0]}; ctlogd ${pkg.version} (git ${rev}${dirty})`,
    `- Node's floor here: ${fmt(NODE_FLOOR_MB, 1)} MB peak RSS (\`node\` with the launcher's flags and MALLOC_ARENA_MAX that loads ctlogd's addon and does nothing else)`,
    `- command: \`${['node', path.relative(process.cwd(), fileURLToPath(import.meta.url)) || 'bench/run.mjs', ...process.argv.slice(2)].join(' ')}\` (as root), ${new Date().toISOString()}`,
  ].join('\n');
}

// ---------------------------------------------------------------- main

async function main() {
  prerequisites();
  fs.mkdirSync(OUT, { recursive: true });
  SYSCTL_STATE = path.join(OUT, 'sysctl-restore.json');
  removeStaleNetns();
  restoreStaleSysctls();
  const ctbench = buildCtbench();
  await nodeFloor(ctbench);
  const results = [];
  for (const key of selected) {
    if (aborting) break;
    if (key === 'o' || key === 'store') {
      results.push(await (key === 'o' ? outputsScenario : storeScenario)(key, ctbench));
      continue;
    }
    results.push(await aloneScenario(key, ctbench));
    if (opts.contention && !opts.only && !aborting) {
      const together = await scenario(key, ctbench, FILTER ? ['ctlogd', 'conntrack'] : ['ctlogd', 'conntrack', 'ulogd'], 'together');
      results.push({ ...together, view: 'together' });
    }
  }
  const md = [
    '# ctlogd vs conntrack -E',
    '',
    machine(),
    ...[
      table(
        results.filter((r) => r.view === 'alone'),
        '## Each tool alone, in turn\n\nEach tool in a namespace of its own, on the same generator command, count and rate; the ratios compare these runs.',
      ),
      table(
        results.filter((r) => r.view === 'together'),
        "## Under contention: the loggers at once (a second view)\n\nctlogd, `conntrack -E` and ulogd2 at once on the same events: on 2 cores they take CPU from each other and from the generator, which inflates the peers' CPU; for the ratios, see the runs alone.",
      ),
      ...results.filter((r) => r.configs).map(outputsTable),
      ...results.filter((r) => r.store).map(storeTable),
    ]
      .filter(Boolean)
      .flatMap((t) => ['', t]),
    '',
    ...results.flatMap((r) => [
      `### ${r.key}${r.view === 'together' ? ', under contention' : ''}: ${r.title}`,
      '',
      `nf_conntrack_max ${fmtInt(r.ctMax)}, buckets ${fmtInt(r.buckets)}.`,
      '',
      ...r.notes.map((x) => `- ${x}`),
      ...(r.configs ?? []).flatMap((c) => [`- **${c.name}**:`, ...c.notes.map((x) => `  - ${x}`), ...c.commands.map((x) => `  - \`${x}\``)]),
      ...r.tools.map((t) => `- ${t.name}: exit ${t.exit}, ran ${fmt(t.wall, 1)} s, VmHWM before stop ${fmt(t.hwmMb, 1)} MB`),
      ...r.which.map((w) => `- \`${r.commands[w]}\``),
      '',
    ]),
  ].join('\n');
  fs.writeFileSync(path.join(OUT, 'results.md'), md);
  console.log(md);
  console.error(`bench: written to ${path.join(OUT, 'results.md')}`);
}

main().catch((e) => {
  console.error(`bench: ${e.stack ?? e}`);
  cleanupSync();
  process.exit(1);
});
