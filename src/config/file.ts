/**
 * Reading the config file, and refusing what is not one before it costs
 * anything: only a regular file (a FIFO would block until someone writes,
 * /dev/zero would never end), at most MAX_CONFIG_BYTES, UTF-8 (a byte that
 * is not is refused, never replaced), one JSON value (json.ts).
 *
 * Two readers, the same checks: synchronous at start, before anything
 * runs; with fs.promises on reload, so that the event loop goes on
 * writing events while the file is read.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { JsonError, parseJson } from './json.js';

/** The largest config read; a VyOS config is under 1 kB. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** Why the file is no config, completing "config PATH: ...". */
export class NotAConfig extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotAConfig';
  }
}

// O_NONBLOCK: opening a FIFO for reading otherwise waits for a writer.
// O_NOCTTY: a terminal named as the config never becomes ours.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

function kind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

const notRegular = (st: Stats): NotAConfig => new NotAConfig(`not a regular file (${kind(st)}); a config is a JSON file`);

function cannotOpen(e: unknown, path: string): NotAConfig {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENXIO') {
    // What open(2) says of a Unix socket (and a device with nothing behind it).
    try {
      return notRegular(statSync(path));
    } catch {
      // Gone in between: say what open said.
    }
  }
  return cannotRead(e);
}

function cannotRead(e: unknown): NotAConfig {
  const err = e as NodeJS.ErrnoException;
  const why =
    err.code === 'ENOENT'
      ? 'no such file'
      : err.code === 'EACCES' || err.code === 'EPERM'
        ? `permission denied (uid ${process.getuid?.()})`
        : err.code === 'ENOTDIR'
          ? 'a component of the path is not a directory'
          : err.code === 'ENAMETOOLONG'
            ? 'the path is too long'
            : // Not the message: it repeats the path, whatever its length.
              `error ${err.code ?? err.message}`;
  return new NotAConfig(`cannot read: ${why}; a JSON file is expected`);
}

/** Refuses, before reading, what is not a regular file of a config's size. */
function check(st: Stats): void {
  if (!st.isFile()) throw notRegular(st);
  if (st.size > MAX_CONFIG_BYTES) throw tooBig(String(st.size));
}

const tooBig = (size: string): NotAConfig => new NotAConfig(`too big: ${size} bytes; a config is at most ${MAX_CONFIG_BYTES} bytes (1 MiB)`);

/** Room for one byte past the limit: a file that grew after fstat is refused too. */
const buffer = (): Buffer => Buffer.allocUnsafe(MAX_CONFIG_BYTES + 1);

// Fatal: a byte that is not UTF-8 is refused, not made U+FFFD (an
// output_file of other bytes would be another file). A BOM some editors
// write is dropped (RFC 8259 §8.1 lets parsers skip it).
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Where well-formed UTF-8 (RFC 3629) stops in `b`; b.length if it never does. */
function firstBadUtf8(b: Uint8Array): number {
  for (let i = 0; i < b.length; ) {
    const c = b[i];
    const len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (len === 0) return i;
    // The second byte's range shuts out overlong forms, surrogates and code points past U+10FFFF.
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k < len; k++) {
      const d = b[i + k];
      if (d === undefined || d < (k === 1 ? lo : 0x80) || d > (k === 1 ? hi : 0xbf)) return i;
    }
    i += len;
  }
  return b.length;
}

/** The JSON value of the file's bytes. */
function parse(bytes: Uint8Array): unknown {
  if (bytes.length > MAX_CONFIG_BYTES) throw tooBig(`more than ${MAX_CONFIG_BYTES}`);
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    // The decoder does not say where; one pass over the bytes does, only now.
    const at = firstBadUtf8(bytes);
    const line = bytes.subarray(0, at).filter((b) => b === 0x0a).length + 1;
    const byte = at < bytes.length ? `byte 0x${bytes[at].toString(16).padStart(2, '0')}` : 'a sequence cut short by the end of the file';
    throw new NotAConfig(`not UTF-8: ${byte} at offset ${at} (line ${line}); a config is UTF-8 text`);
  }
  if (/^[ \t\n\r]*$/.test(text)) throw new NotAConfig('is empty; a JSON object is expected, e.g. {"event": {"new": {}}}');
  try {
    return parseJson(text);
  } catch (e) {
    if (e instanceof JsonError) throw new NotAConfig(e.message);
    throw e;
  }
}

/** The file's JSON value, read synchronously (at start). Throws NotAConfig. */
export function readConfigFileSync(path: string): unknown {
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (e) {
    throw cannotOpen(e, path);
  }
  try {
    check(fstatSync(fd));
    const buf = buffer();
    let n = 0;
    for (let got = -1; got !== 0 && n < buf.length; n += got) got = readSync(fd, buf, n, buf.length - n, null);
    return parse(buf.subarray(0, n));
  } catch (e) {
    throw e instanceof NotAConfig ? e : cannotRead(e);
  } finally {
    closeSync(fd);
  }
}

/** The file's JSON value, read without blocking the event loop (on reload). Throws NotAConfig. */
export async function readConfigFile(path: string): Promise<unknown> {
  let fh: FileHandle;
  try {
    fh = await open(path, OPEN_FLAGS);
  } catch (e) {
    throw cannotOpen(e, path);
  }
  try {
    check(await fh.stat());
    const buf = buffer();
    let n = 0;
    for (let got = -1; got !== 0 && n < buf.length; n += got) got = (await fh.read(buf, n, buf.length - n, null)).bytesRead;
    return parse(buf.subarray(0, n));
  } catch (e) {
    throw e instanceof NotAConfig ? e : cannotRead(e);
  } finally {
    await fh.close();
  }
}
