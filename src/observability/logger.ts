import { type DestinationStream, type Logger, pino } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from '../config.js';

export type { Logger };

// Secrets never reach the log: keys, passwords and signatures are redacted wherever they appear.
const REDACT = [
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'key',
  '*.key',
  'password',
  '*.password',
  'secret',
  '*.secret',
];

export type LogFormat = 'json' | 'pretty';

/**
 * Readable lines for a person at a terminal; JSON lines for everything else (log collectors, files, pipes), and in
 * production whatever stdout is (a container started with a TTY still feeds a log collector).
 */
export function logFormatFor(
  where: { stdoutIsTerminal: boolean; production: boolean },
  setting?: 'json' | 'pretty',
): LogFormat {
  return setting ?? (where.stdoutIsTerminal && !where.production ? 'pretty' : 'json');
}

/** The server's logger, as configured (LOG_LEVEL, LOG_FORMAT) for where its stdout goes. */
export function loggerOf(config: Pick<Config, 'LOG_LEVEL' | 'LOG_FORMAT' | 'NODE_ENV'>): Logger {
  const where = { stdoutIsTerminal: Boolean(process.stdout.isTTY), production: config.NODE_ENV === 'production' };
  return createLogger(config.LOG_LEVEL, logFormatFor(where, config.LOG_FORMAT));
}

export function createLogger(level: string, format: LogFormat = 'json'): Logger {
  const options = { level, redact: { paths: REDACT, censor: '[redacted]' } };
  if (format === 'json') return pino(options);
  // In the same thread (no transport worker): a terminal is read by a person, not flooded. Colours follow the
  // terminal (and NO_COLOR).
  const stream: DestinationStream = pretty({ translateTime: 'SYS:HH:MM:ss.l', ignore: 'hostname' });
  return pino(options, stream);
}
