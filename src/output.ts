/**
 * Where lines go, through winston. Event lines go to stdout, one write per
 * batch; the service's own diagnostics go to stderr, so that stdout holds
 * events only.
 */
import winston from 'winston';

const lineOnly = winston.format.printf((info) => String(info.message));

export interface EventSink {
  /** Writes the lines of one batch, in order. */
  write(lines: string[]): void;
  /** Flushes and closes; resolves when everything written is out. */
  close(): Promise<void>;
}

export function stdoutSink(): EventSink {
  const logger = winston.createLogger({
    level: 'info',
    format: lineOnly,
    transports: [new winston.transports.Stream({ stream: process.stdout })],
  });
  return {
    write(lines) {
      if (lines.length > 0) logger.info(lines.join('\n'));
    },
    close: () => closeLogger(logger),
  };
}

function closeLogger(logger: winston.Logger): Promise<void> {
  return new Promise((resolve) => {
    logger.on('finish', () => resolve());
    logger.end();
  });
}

export type Diagnostics = winston.Logger;

/** The service's own messages: `ctlogd: warning: ...` on stderr. */
export function diagnostics(level: 'info' | 'debug'): Diagnostics {
  return winston.createLogger({
    level,
    format: winston.format.printf((info) => `ctlogd: ${info.level === 'info' ? '' : `${info.level}: `}${String(info.message)}`),
    transports: [new winston.transports.Stream({ stream: process.stderr })],
  });
}
