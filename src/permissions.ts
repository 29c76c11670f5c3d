/**
 * Permission hints: files whose mode lets others change what ctlogd does
 * or read what it keeps. Each is one warning line, never a refusal: the
 * operator may have a reason, and a logger that will not start logs
 * nothing.
 * - The config file (-c) writable by group or others, or owned by a user
 *   other than root and ctlogd's own: that user decides what is logged
 *   and where.
 * - A private key an output reads (its definition's `secrets`: syslog's
 *   TLS key) readable by group or others.
 * - An existing file an output appends to (its definition's `writes`:
 *   output_file) readable by others: its lines say who talked to whom
 *   (ctlogd creates its files 0640).
 */
import { statSync } from 'node:fs';
import type { OutputConfig } from './config.js';
import { echo, oneLine } from './echo.js';
import { outputDefinition } from './output/registry.js';

/** What a hint is about: the file as stat(2) sees it. */
export interface FileFacts {
  mode: number;
  uid: number;
}

/** The parts of the config the hints look at. */
export interface HintConfig {
  outputs: readonly OutputConfig[];
}

/** `0644`: a mode as chmod takes it. */
const octal = (mode: number): string => `0${(mode & 0o777).toString(8).padStart(3, '0')}`;

/** `group and others`, `group`, `others`: whom the mode's `group` and `others` bits let in. */
function who(mode: number, group: number, others: number): string | undefined {
  const g = (mode & group) !== 0;
  const o = (mode & others) !== 0;
  return g && o ? 'group and others' : g ? 'group' : o ? 'others' : undefined;
}

/** The hints about the config file, as it is (`self`: ctlogd's effective uid). */
export function configHints(file: string, f: FileFacts, self: number): string[] {
  const out: string[] = [];
  const writers = who(f.mode, 0o020, 0o002);
  if (writers) {
    out.push(`config ${file} is writable by ${writers} (mode ${octal(f.mode)}): they choose what ctlogd logs and where; chmod go-w ${file}`);
  }
  if (f.uid !== 0 && f.uid !== self) {
    out.push(`config ${file} is owned by uid ${f.uid}, not root: that user chooses what ctlogd logs and where; chown root ${file}`);
  }
  return out;
}

/** The hints about a private key, named by its key (`syslog_tls_key`). */
export function keyHints(key: string, file: string, f: FileFacts): string[] {
  const readers = who(f.mode, 0o040, 0o004);
  if (!readers) return [];
  return [
    `${key} ${file} is readable by ${readers} (mode ${octal(f.mode)}): a private key should be readable by its owner alone; chmod go= ${file} (under systemd, hand it over with LoadCredential=)`,
  ];
}

/** The hints about an existing file an output appends to, named by its key (`output_file`). */
export function outputFileHints(key: string, file: string, f: FileFacts): string[] {
  if ((f.mode & 0o004) === 0) return [];
  return [`${key} ${file} is readable by others (mode ${octal(f.mode)}): its lines say who talked to whom; chmod o-r ${file}`];
}

/** A file's facts and identity, or undefined if it cannot be stat'ed (others report that). */
function stat(file: string): (FileFacts & { id: string }) | undefined {
  try {
    const s = statSync(file);
    return { mode: s.mode, uid: s.uid, id: `${s.dev}:${s.ino}` };
  } catch {
    return undefined;
  }
}

/** ctlogd's effective uid (root where the platform has none). */
const euid = (): number => process.geteuid?.() ?? 0;

/**
 * Every hint for this config and config file, each with the identity of
 * the file it is about (device, inode), so that a new file at the same
 * path is a new hint.
 */
export function permissionHints(configPath: string | undefined, c: HintConfig, self = euid()): Array<{ id: string; text: string }> {
  const out: Array<{ id: string; text: string }> = [];
  const add = (file: string, hints: (name: string, f: FileFacts) => string[]) => {
    const f = stat(file);
    if (f === undefined) return;
    for (const text of hints(oneLine(echo(file)), f)) out.push({ id: `${f.id} ${text}`, text });
  };
  if (configPath !== undefined && configPath !== '') add(configPath, (name, f) => configHints(name, f, self));
  for (const o of c.outputs) {
    const d = outputDefinition(o.output);
    for (const [key, file] of d.secrets?.(o) ?? []) if (file !== '') add(file, (name, f) => keyHints(key, name, f));
    const writes = d.writes?.(o);
    if (writes && writes[1] !== '') add(writes[1], (name, f) => outputFileHints(writes[0], name, f));
  }
  return out;
}

/**
 * The hints said at start and at each reload: each is said once, and again
 * only once its file changed (another file at the path, another mode or
 * owner) or after it was fixed and came back.
 */
export class PermissionHints {
  private said = new Set<string>();

  /** The hints not said before, as warning texts. */
  check(configPath: string | undefined, c: HintConfig): string[] {
    const now = permissionHints(configPath, c);
    const fresh = now.filter((h) => !this.said.has(h.id)).map((h) => h.text);
    this.said = new Set(now.map((h) => h.id));
    return fresh;
  }
}
