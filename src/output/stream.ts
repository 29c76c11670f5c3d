/**
 * Line streams through winston: stdout, and a file appended to and
 * reopened on SIGHUP. One write per batch, of the bytes the format wrote.
 * A line is written once the stream or the file took its bytes; a write
 * that fails loses its lines, counted, with one report per outage.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type winston from 'winston';
import Transport from 'winston-transport';
import { echo } from '../echo.js';
import { count, type Ledger } from './ledger.js';
import { batchLogger, logBatch, OutputError, Outage, type BatchInfo, type EventSink, type Report } from './sink.js';

const NEWLINE = 0x0a;

/** The errno name of a failed write, or what there is instead. */
const codeOf = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/**
 * Writes each entry's bytes to a stream as they are. winston's own Stream
 * transport takes a string and appends a newline: the bytes would be
 * turned into text and back for nothing. A stream cannot say how much of a
 * failed write went out: its lines are all counted lost.
 */
class ChunkTransport extends Transport {
  private readonly outage: Outage;

  constructor(
    readonly stream: NodeJS.WritableStream,
    where: string,
    report: Report,
    private readonly ledger: Ledger,
  ) {
    super();
    this.outage = new Outage(where, report);
  }

  override log(info: BatchInfo, next: () => void): void {
    const { kinds } = info;
    // The callback runs when the bytes are out, or the write failed (a
    // closed pipe: EPIPE, then every later write on the stream it
    // destroyed): either way they can be reused.
    this.stream.write(info.bytes, (err) => {
      if (err) this.outage.lose(this.ledger, kinds, 0, kinds.length, codeOf(err));
      else {
        count(this.ledger.written, kinds);
        this.outage.end();
      }
      info.done();
    });
    next();
  }
}

type Stream = NodeJS.WritableStream & { writableNeedDrain?: boolean; destroyed?: boolean };

/**
 * After a write: nothing if `stream` took it all, else a promise that
 * settles when it drains (one promise for every batch waiting on it).
 */
function backpressure(stream: Stream): () => void | Promise<void> {
  let draining: Promise<void> | undefined;
  return () => {
    // A destroyed stream (a closed pipe) never drains: it fails each write at once.
    if (!stream.writableNeedDrain || stream.destroyed) return undefined;
    draining ??= new Promise<void>((resolve) => {
      // A stream that ends or fails will not drain: release the waiters then
      // too, or the capture would wait for ever.
      const events = ['drain', 'finish', 'close', 'error'] as const;
      const done = () => {
        for (const e of events) stream.off(e, done);
        draining = undefined;
        resolve();
      };
      for (const e of events) stream.on(e, done);
    });
    return draining;
  };
}

function closeLogger(logger: winston.Logger): Promise<void> {
  return new Promise((resolve) => {
    logger.once('finish', () => resolve());
    logger.end();
  });
}

export function stdoutSink(report: Report, ledger: Ledger): EventSink {
  const logger = batchLogger(new ChunkTransport(process.stdout, 'stdout', report, ledger));
  const backedUp = backpressure(process.stdout);
  // Reported, and counted, by the write callbacks; without a listener the
  // error would end the process.
  process.stdout.on('error', () => {});
  return {
    write(lines, done) {
      logBatch(logger, lines, done);
      return backedUp();
    },
    reopen: () => undefined,
    async close() {
      await closeLogger(logger);
      // Write callbacks come in order: once this one has, every line is
      // out (or counted lost).
      await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
    },
  };
}

/** Opens `path` for appending now, so that a bad path fails at start. */
function open(path: string): number {
  try {
    return openSync(path, 'a', 0o640);
  } catch (e) {
    throw new OutputError(`output_file ${echo(path)}: cannot open for appending: ${codeOf(e)}`);
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
  /** The end of a line a failed write cut, and its kind: written before anything else. */
  private rest?: { bytes: Uint8Array; kind: Uint8Array };
  private readonly outage: Outage;

  constructor(
    public fd: number,
    path: string,
    report: Report,
    private readonly ledger: Ledger,
  ) {
    super();
    this.outage = new Outage(`output_file ${echo(path)}`, report);
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
    count(this.ledger.written, rest.kind);
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
    if (this.finishRest() !== undefined && this.rest) count(this.ledger.lost, this.rest.kind);
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
      let fd: number;
      try {
        fd = open(path);
      } catch (e) {
        return `${(e as Error).message}; still writing to the file open before`;
      }
      // A line cut in the old file is finished there, or given up.
      transport.settleRest();
      const old = transport.fd;
      transport.fd = fd;
      closeSync(old);
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
