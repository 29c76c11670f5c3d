/**
 * Which program owns a netlink socket, for the `[USERSPACE] portid=N
 * progname=X` suffix of the `conntrack` format.
 *
 * Done the way conntrack-tools 1.4.7 does it (`get_progname()` in
 * src/conntrack.c):
 *  1. find the NETLINK_NETFILTER socket with that port id in
 *     /proc/net/netlink and take its inode;
 *  2. look for a process holding `socket:[inode]` among its /proc/PID/fd,
 *     trying PID = portid first (the kernel's autobind gives a process's
 *     first netlink socket its PID as port id), then every /proc/PID in
 *     ascending order, skipping PID 1;
 *  3. the name is the `comm` field of /proc/PID/stat, up to the first `)`.
 *
 * conntrack re-reads /proc/net/netlink for every event. Here a result is
 * cached per port id for a short time instead (1 s; 250 ms when the port
 * id has no socket at all), so that a burst of 200,000 DESTROY events from
 * one `conntrack -F` costs one scan, not 200,000. When an entry expires and
 * the port id still maps to the same socket inode, the previous answer is
 * kept without a new /proc scan (conntrack's single-entry cache does the
 * same).
 *
 * /proc/net/netlink is per network namespace: like conntrack, this sees
 * the sockets of the namespace the process runs in.
 */

import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** NETLINK_NETFILTER protocol number (linux/netlink.h). */
const NETLINK_NETFILTER = 12;

/** How long an answer for a port id that has a socket is trusted without looking again. */
const HIT_TTL_MS = 1000;
/** How long "no such socket" is trusted: briefly, a process may be just starting. */
const MISS_TTL_MS = 250;
/** Bound on cached port ids; the cache is simply emptied when it is full. */
const MAX_ENTRIES = 4096;

interface CacheEntry {
  expires: number;
  inode: bigint | undefined;
  name: string | undefined;
}

const cache = new Map<number, CacheEntry>();

/** Where procfs is mounted; only tests change it. */
let procRoot = '/proc';

/**
 * The program name (`comm`) of the process owning the netfilter netlink
 * socket `portid`, or undefined when it cannot be found (the process has
 * exited, is in another PID namespace, or the port id is 0 = the kernel).
 */
export function prognameOf(portid: number): string | undefined {
  if (!Number.isInteger(portid) || portid <= 0) return undefined;
  const now = performance.now();
  const cached = cache.get(portid);
  if (cached && cached.expires > now) return cached.name;

  const inode = netlinkInode(portid);
  let name: string | undefined;
  if (inode === undefined) {
    name = undefined;
  } else if (cached && cached.inode === inode) {
    // Same socket as last time: same owner, or still none found. conntrack
    // keeps its last answer for an unchanged port id + inode the same way,
    // which also spares a full /proc scan per TTL for a socket whose owner
    // cannot be seen (e.g. a process in another PID namespace).
    name = cached.name;
  } else {
    name = nameByInode(portid, inode);
  }

  if (!cached && cache.size >= MAX_ENTRIES) cache.clear();
  cache.set(portid, { expires: now + (inode === undefined ? MISS_TTL_MS : HIT_TTL_MS), inode, name });
  return name;
}

/** Forget every cached answer (tests; or after a namespace change). */
export function clearPrognameCache(): void {
  cache.clear();
}

/** Point the lookup at another procfs root (tests only). Returns the old one. */
export function setProcRoot(root: string): string {
  const old = procRoot;
  procRoot = root;
  cache.clear();
  return old;
}

/**
 * The inode of the NETLINK_NETFILTER socket bound to `portid`, from
 * /proc/net/netlink. Columns: sk Eth Pid Groups Rmem Wmem Dump Locks Drops
 * Inode (conntrack scans them with "%*x %d %u %*x %*d %*d %*x %*d %*u %lu").
 */
function netlinkInode(portid: number): bigint | undefined {
  let text: string;
  try {
    text = readFileSync(`${procRoot}/net/netlink`, 'latin1');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [, eth, pid, , , , , , , ino] = f as [string, string, string, string, string, string, string, string, string, string];
    if (!/^\d+$/.test(eth) || !/^\d+$/.test(pid) || !/^\d+$/.test(ino)) continue; // header line
    if (Number(eth) === NETLINK_NETFILTER && Number(pid) === portid) return BigInt(ino);
  }
  return undefined;
}

/** Step 2: PID = portid first, then every process in ascending PID order. */
function nameByInode(portid: number, inode: bigint): string | undefined {
  const first = nameIfHolds(portid, inode);
  if (first !== undefined) return first;

  let pids: number[];
  try {
    pids = readdirSync(procRoot, { withFileTypes: true })
      .filter((d) => d.isDirectory() && /^\d+$/.test(d.name))
      .map((d) => Number(d.name));
  } catch {
    return undefined;
  }
  // conntrack skips PID 0/1 and the PID it already tried. readdir of /proc
  // lists processes in ascending PID order; sort so the first holder of a
  // shared socket (parent before child) wins here too.
  pids.sort((a, b) => a - b);
  for (const pid of pids) {
    if (pid <= 1 || pid === portid) continue;
    const name = nameIfHolds(pid, inode);
    if (name !== undefined) return name;
  }
  return undefined;
}

/** The name of `pid` if one of its fds is `socket:[inode]`. */
function nameIfHolds(pid: number, inode: bigint): string | undefined {
  const fdDir = `${procRoot}/${pid}/fd`;
  let fds;
  try {
    fds = readdirSync(fdDir, { withFileTypes: true });
  } catch {
    return undefined; // gone, or not ours to read
  }
  for (const fd of fds) {
    if (!fd.isSymbolicLink()) continue;
    let target: string;
    try {
      target = readlinkSync(`${fdDir}/${fd.name}`);
    } catch {
      continue;
    }
    const m = /^socket:\[(\d+)\]/.exec(target);
    if (m && BigInt(m[1] as string) === inode) return commOf(pid);
  }
  return undefined;
}

/** Step 3: `comm` from /proc/PID/stat, read like "%*u (%m[^)]". */
function commOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
    // Up to the FIRST ')', as conntrack's scanf does (a comm holding ')' is cut there).
    const m = /^\s*\d+\s*\(([^)]+)/.exec(stat);
    return m ? m[1] : undefined;
  } catch {
    return undefined;
  }
}
