/**
 * The stdout output (journald-friendly): each batch's bytes written to
 * stdout through winston, as the format wrote them. A line is written once
 * the stream took its bytes; a write that fails loses its lines, counted,
 * with one report per outage.
 */
import type winston from 'winston';
import Transport from 'winston-transport';
import { EVENT_TYPES } from '../../event.js';
import { defineOutput } from '../definition.js';
import { count, type Ledger } from '../ledger.js';
import { batchLogger, codeOf, logBatch, Outage, type BatchInfo, type EventSink, type Report } from '../sink.js';

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

export const stdoutOutput = defineOutput({
  name: 'stdout',
  doc: 'journald-friendly',
  keys: {},
  types: EVENT_TYPES,
  open: (_c, report, ledger) => stdoutSink(report, ledger),
});
