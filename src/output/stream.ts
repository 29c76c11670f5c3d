/**
 * Line streams through winston: stdout, and a file appended to and
 * reopened on SIGHUP. One write per batch: the lines are joined.
 */
import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import winston from 'winston';
import { OutputError, type EventSink, type Report } from './sink.js';

const lineOnly = winston.format.printf((info) => String(info.message));

function streamLogger(stream: NodeJS.WritableStream): winston.Logger {
  return winston.createLogger({ level: 'info', format: lineOnly, transports: [new winston.transports.Stream({ stream })] });
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
  const logger = streamLogger(process.stdout);
  const backedUp = backpressure(process.stdout);
  process.stdout.on('error', (e) => report(`stdout: ${e.message}`));
  return {
    write(lines) {
      if (lines.length > 0) logger.info(lines.join('\n'));
      return backedUp();
    },
    reopen() {},
    close: () => closeLogger(logger),
  };
}

/** Opens `path` for appending now, so that a bad path fails at start. */
function open(path: string): WriteStream {
  let fd: number;
  try {
    fd = openSync(path, 'a', 0o640);
  } catch (e) {
    throw new OutputError(`output_file ${path}: cannot open for appending: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return createWriteStream(path, { fd, flags: 'a' });
}

export function fileSink(path: string, report: Report): EventSink {
  let stream = open(path);
  const logger = streamLogger(stream);
  let backedUp = backpressure(stream);
  let transport = logger.transports[0];
  const watch = (s: WriteStream) => s.on('error', (e) => report(`output_file ${path}: ${e.message}`));
  watch(stream);
  return {
    write(lines) {
      if (lines.length > 0) logger.info(lines.join('\n'));
      return backedUp();
    },
    reopen() {
      // logrotate has renamed the file: what was written went to the old
      // one, what comes next goes to a new file at `path`. If it cannot be
      // opened, keep writing to the old one rather than lose lines.
      let next: WriteStream;
      try {
        next = open(path);
      } catch (e) {
        report(`${(e as Error).message}; still writing to the file open before`);
        return;
      }
      watch(next);
      const old = stream;
      const oldTransport = transport;
      transport = new winston.transports.Stream({ stream: next });
      logger.add(transport);
      logger.remove(oldTransport);
      stream = next;
      backedUp = backpressure(next);
      old.end();
    },
    async close() {
      await closeLogger(logger);
      await new Promise<void>((resolve) => stream.end(resolve));
    },
  };
}

