/**
 * Line streams through winston: stdout, and a file appended to and
 * reopened on SIGHUP. One write per batch, of the bytes the format wrote.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type winston from 'winston';
import Transport from 'winston-transport';
import { echo } from '../echo.js';
import { batchLogger, logBatch, OutputError, type BatchInfo, type EventSink, type Report } from './sink.js';

/**
 * Writes each entry's bytes to a stream as they are. winston's own Stream
 * transport takes a string and appends a newline: the bytes would be
 * turned into text and back for nothing.
 */
class ChunkTransport extends Transport {
  constructor(readonly stream: NodeJS.WritableStream) {
    super();
  }

  override log(info: BatchInfo, next: () => void): void {
    // The callback runs when the bytes are out, or the write failed (the
    // stream reports that as 'error'): either way they can be reused.
    this.stream.write(info.bytes, () => info.done());
    next();
  }
}

/**
 * After a write: nothing if `stream` took it all, else a promise that
 * settles when it drains (one promise for every batch waiting on it).
 */
function backpressure(stream: NodeJS.WritableStream & { writableNeedDrain?: boolean }): () => void | Promise<void> {
  let draining: Promise<void> | undefined;
  return () => {
    if (!stream.writableNeedDrain) return undefined;
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

export function stdoutSink(report: Report): EventSink {
  const logger = batchLogger(new ChunkTransport(process.stdout));
  const backedUp = backpressure(process.stdout);
  process.stdout.on('error', (e) => report(`stdout: ${e.message}`));
  return {
    write(bytes, done) {
      logBatch(logger, bytes, done);
      return backedUp();
    },
    reopen() {},
    close: () => closeLogger(logger),
  };
}

/** Opens `path` for appending now, so that a bad path fails at start. */
function open(path: string): number {
  try {
    return openSync(path, 'a', 0o640);
  } catch (e) {
    throw new OutputError(`output_file ${echo(path)}: cannot open for appending: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/**
 * Appends each entry's bytes to a file descriptor, synchronously, as Node
 * writes stdout to a file: a page-cache write of a batch takes well under
 * a millisecond, and the bytes are free for reuse at once. While a write
 * blocks, the reader thread goes on filling the queue, then pauses.
 */
class FileTransport extends Transport {
  private failing?: string;

  constructor(
    public fd: number,
    private readonly path: string,
    private readonly report: Report,
  ) {
    super();
  }

  override log(info: BatchInfo, next: () => void): void {
    try {
      for (let at = 0; at < info.bytes.length; ) at += writeSync(this.fd, info.bytes, at);
      if (this.failing) this.report(`output_file ${echo(this.path)}: writing again`);
      this.failing = undefined;
    } catch (e) {
      // One line when writing starts to fail (ENOSPC, EIO...), not one per batch.
      const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      if (this.failing !== code) this.report(`output_file ${echo(this.path)}: write failed: ${code}; lines are lost until it works again`);
      this.failing = code;
    }
    info.done();
    next();
  }
}

export function fileSink(path: string, report: Report): EventSink {
  const transport = new FileTransport(open(path), path, report);
  const logger = batchLogger(transport);
  return {
    write(bytes, done) {
      logBatch(logger, bytes, done);
    },
    reopen() {
      // logrotate has renamed the file: what was written went to the old
      // one, what comes next goes to a new file at `path`. If it cannot be
      // opened, keep writing to the old one rather than lose lines.
      let fd: number;
      try {
        fd = open(path);
      } catch (e) {
        report(`${(e as Error).message}; still writing to the file open before`);
        return;
      }
      const old = transport.fd;
      transport.fd = fd;
      closeSync(old);
    },
    async close() {
      // winston ends its transports once the logger has handed them
      // everything: then every line is in the file.
      const written = new Promise<void>((resolve) => transport.once('finish', () => resolve()));
      logger.end();
      await written;
      closeSync(transport.fd);
    },
  };
}
