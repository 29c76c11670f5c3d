/**
 * The file output: each batch's bytes appended to output_file through
 * winston, the file reopened on SIGHUP (logrotate). A line is written once
 * the file took its bytes; a write that fails loses its lines, counted,
 * with one report per outage.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync, writeSync, type Stats } from 'node:fs';
import Transport from 'winston-transport';
import { echo } from '../../echo.js';
import { EVENT_TYPES } from '../../event.js';
import { native } from '../../native.js';
import { defineOutput } from '../definition.js';
import { count, type Ledger } from '../ledger.js';
import { batchLogger, codeOf, logBatch, OutputError, Outage, type BatchInfo, type EventSink, type Report } from '../sink.js';
import { FILE_KEYS, fileRules } from './keys.js';

const NEWLINE = 0x0a;
/** The output error counted for a line found cut short at the end of a file. */
const CUT_LINE = 'cut_line';

/** What a file output open for appending is. */
interface OpenFile {
  fd: number;
  /** Device and inode: the same file under another open, or not. */
  id: string;
  /** Whether this open holds the file's lock (a reopen of the file held takes it once the old one is closed). */
  locked: boolean;
}

/** `open(2)` flags: appending, made if missing, and never waited on (a FIFO would wait for a reader). */
const APPEND = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK | constants.O_NOCTTY;

const LOCKED = 'another process writes it (it holds the lock): a second ctlogd on one file would write its lines twice';

const fileId = (st: { dev: number; ino: number }): string => `${st.dev}:${st.ino}`;

/** The kind of a file that is not a regular one, as a line names it. */
function kindOfFile(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isDirectory()) return 'a directory';
  return 'not a regular file';
}

/**
 * Opens `path` for appending, now, so that a bad path fails at start (and
 * a reload keeps the old file): a regular file only, locked against a
 * second ctlogd, and without ever blocking the event loop. Throws
 * OutputError (exit 73 at start) with one line.
 */
function open(path: string, holding?: OpenFile): OpenFile {
  const refuse = (why: string) => new OutputError(`output_file ${echo(path)}: ${why}`);
  // Looked at before it is opened: opening a FIFO or a device can wait, or do something.
  const before = statOrNot(path);
  if (before && !before.isFile()) throw refuse(`is ${kindOfFile(before)}; allowed: a regular file`);
  let fd: number;
  try {
    fd = openSync(path, APPEND, 0o640);
  } catch (e) {
    throw refuse(`cannot open for appending: ${codeOf(e)}`);
  }
  try {
    // What was opened, in case it changed since it was looked at.
    const st = fstatSync(fd);
    if (!st.isFile()) throw refuse(`is ${kindOfFile(st)}; allowed: a regular file`);
    const id = fileId(st);
    // The same file this output holds (a reopen without rotation): the
    // lock is this output's already, on the open before.
    const locked = holding?.id !== id;
    if (locked && !native().lockFile(fd)) throw refuse(LOCKED);
    return { fd, id, locked };
  } catch (e) {
    closeSync(fd);
    throw e instanceof OutputError ? e : refuse(`cannot lock: ${codeOf(e)}`);
  }
}

function statOrNot(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    // Not there (it is made), or the open says why not.
    return undefined;
  }
}

/**
 * Whether the file open as `fd` ends in a line cut short: its last byte is
 * not a newline. Read through /proc/self/fd, as `fd` is open for writing
 * only; a file this user cannot read is taken as whole.
 */
function endsCut(fd: number): boolean {
  const { size } = fstatSync(fd);
  if (size === 0) return false;
  let rd: number | undefined;
  try {
    rd = openSync(`/proc/self/fd/${fd}`, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    const b = Buffer.alloc(1);
    return readSync(rd, b, 0, 1, size - 1) === 1 && b[0] !== NEWLINE;
  } catch {
    return false;
  } finally {
    if (rd !== undefined) closeSync(rd);
  }
}

/**
 * Writes `bytes` from `from` on; returns where it stopped: `bytes.length`,
 * or the offset of the first byte not written and why.
 */
function writeAll(fd: number, bytes: Uint8Array, from = 0): { at: number; error?: string } {
  let at = from;
  try {
    while (at < bytes.length) at += writeSync(fd, bytes, at);
  } catch (e) {
    return { at, error: codeOf(e) };
  }
  return { at };
}

/**
 * Appends each entry's bytes to a file descriptor, synchronously, as Node
 * writes stdout to a file: a page-cache write of a batch takes well under
 * a millisecond, and the bytes are free for reuse at once. While a write
 * blocks, the reader thread goes on filling the queue, then pauses.
 *
 * A write that fails (ENOSPC, EIO...) part way: the lines before it are
 * written, the rest of the batch is lost, and the line it cut is finished
 * first when writing works again, so that no line is ever joined to
 * another.
 */
class FileTransport extends Transport {
  /**
   * The end of a line a failed write cut, and its kind: written before
   * anything else. A newline alone, of no kind, ends a line the file was
   * found cut in when opened.
   */
  private rest?: { bytes: Uint8Array; kind?: Uint8Array };
  private readonly outage: Outage;
  file!: OpenFile;

  constructor(
    file: OpenFile,
    private readonly path: string,
    private readonly report: Report,
    private readonly ledger: Ledger,
  ) {
    super();
    this.outage = new Outage(`output_file ${echo(path)}`, report);
    this.use(file);
  }

  get fd(): number {
    return this.file.fd;
  }

  /**
   * Writes to `file` from now on. A file that ends in a line cut short
   * (a full disk, a crash, from before this open) gets a newline before
   * the next line, so that no line is ever joined to another; the cut
   * line is counted once, as an output error (cause cut_line): it was
   * written, in part, before this output had it.
   */
  use(file: OpenFile): void {
    this.file = file;
    if (!endsCut(file.fd)) return;
    this.rest = { bytes: Uint8Array.of(NEWLINE) };
    this.ledger.error(CUT_LINE);
    this.report.warn(
      `output_file ${echo(this.path)}: ended in a line cut short (a full disk or a crash before); a newline ends it before the next line, counted in output errors (${CUT_LINE})`,
    );
  }

  override log(info: BatchInfo, next: () => void): void {
    const { bytes, kinds } = info;
    // Nothing is written after a cut line until it is finished.
    const unfinished = this.finishRest();
    if (unfinished !== undefined) this.outage.lose(this.ledger, kinds, 0, kinds.length, unfinished);
    else {
      const r = writeAll(this.fd, bytes);
      if (r.error === undefined) {
        count(this.ledger.written, kinds);
        this.outage.end();
      } else this.cut(bytes, kinds, r.at, r.error);
    }
    info.done();
    next();
  }

  /** Writes the end of the cut line, if any; returns why not while that fails. */
  private finishRest(): string | undefined {
    const rest = this.rest;
    if (!rest) return undefined;
    const r = writeAll(this.fd, rest.bytes);
    if (r.error !== undefined) {
      rest.bytes = rest.bytes.subarray(r.at);
      return r.error;
    }
    this.rest = undefined;
    if (rest.kind) count(this.ledger.written, rest.kind);
    return undefined;
  }

  /** A write stopped at byte `at` of `bytes`: counts what went, keeps the end of a cut line, loses the rest. */
  private cut(bytes: Buffer, kinds: Uint8Array, at: number, error: string): void {
    // Lines wholly written: one per newline before `at`.
    let whole = 0;
    for (let i = bytes.indexOf(NEWLINE); i >= 0 && i < at; i = bytes.indexOf(NEWLINE, i + 1)) whole++;
    count(this.ledger.written, kinds, 0, whole);
    let lostFrom = whole;
    if (at > 0 && bytes[at - 1] !== NEWLINE) {
      // Line `whole` is in the file in part: keep its end (a copy: the
      // batch's memory is reused) to finish it.
      const end = bytes.indexOf(NEWLINE, at) + 1;
      this.rest = { bytes: Uint8Array.prototype.slice.call(bytes, at, end), kind: kinds.subarray(whole, whole + 1).slice() };
      lostFrom++;
    }
    this.outage.lose(this.ledger, kinds, lostFrom, kinds.length, error);
  }

  /** The file is let go: the cut line is finished there, or counted lost. */
  settleRest(): void {
    if (this.finishRest() !== undefined && this.rest?.kind) count(this.ledger.lost, this.rest.kind);
    this.rest = undefined;
  }
}

export function fileSink(path: string, report: Report, ledger: Ledger): EventSink {
  const transport = new FileTransport(open(path), path, report, ledger);
  const logger = batchLogger(transport);
  return {
    write(lines, done) {
      logBatch(logger, lines, done);
    },
    reopen() {
      // logrotate has renamed the file: what was written went to the old
      // one, what comes next goes to a new file at `path`. If it cannot be
      // opened, keep writing to the old one rather than lose lines.
      let file: OpenFile;
      try {
        file = open(path, transport.file);
      } catch (e) {
        return `${(e as Error).message}; still writing to the file open before`;
      }
      // A line cut in the old file is finished there, or given up.
      transport.settleRest();
      closeSync(transport.fd);
      // The same file, opened again: the lock went with the old open.
      if (!file.locked && !native().lockFile(file.fd)) report.warn(`output_file ${echo(path)}: reopened, but ${LOCKED}`);
      transport.use(file);
      return undefined;
    },
    async close() {
      // winston ends its transports once the logger has handed them
      // everything: then every line is in the file.
      const written = new Promise<void>((resolve) => transport.once('finish', () => resolve()));
      logger.end();
      await written;
      transport.settleRest();
      closeSync(transport.fd);
    },
  };
}

export const fileOutput = defineOutput({
  name: 'file',
  doc: 'output_file, appended, reopened on SIGHUP',
  keys: FILE_KEYS,
  types: EVENT_TYPES,
  check: fileRules,
  writes: (c) => ['output_file', c.output_file],
  open: (c, report, ledger) => fileSink(c.output_file, report, ledger),
});
