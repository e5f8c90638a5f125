// Log lines as a person at a terminal reads them, and as a log collector reads them: the same redaction either way.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { logFormatFor } from '../../src/observability/logger.js';

/** What the real logger writes to stdout for one line with a secret in it. */
function logLine(format: 'json' | 'pretty'): string {
  const script = `
    const { createLogger } = await import('./src/observability/logger.ts');
    createLogger('info', '${format}').info({ key: 'jd_s3cret', metric: 'api_response_time' }, 'rule saved');`;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  expect(run.status, run.stderr).toBe(0);
  return run.stdout;
}

describe('log format', () => {
  it('should write readable lines to a terminal outside production and JSON lines elsewhere, unless set', () => {
    const terminal = { stdoutIsTerminal: true, production: false };
    const pipe = { stdoutIsTerminal: false, production: false };
    expect(logFormatFor(terminal)).toBe('pretty');
    expect(logFormatFor(pipe)).toBe('json');
    expect(logFormatFor({ stdoutIsTerminal: true, production: true })).toBe('json');
    expect(logFormatFor(terminal, 'json')).toBe('json');
    expect(logFormatFor(pipe, 'pretty')).toBe('pretty');
  });

  it('should write one JSON object per line in json format', () => {
    const entry = JSON.parse(logLine('json').trim());
    expect(entry).toMatchObject({ level: 30, msg: 'rule saved', metric: 'api_response_time', key: '[redacted]' });
  });

  it('should write a readable line with the level and message in pretty format, secrets still redacted', () => {
    const output = logLine('pretty');
    expect(output).toMatch(/INFO.*rule saved/);
    expect(output).toContain('metric: "api_response_time"');
    expect(output).toContain('[redacted]');
    expect(output).not.toContain('jd_s3cret');
    expect(() => JSON.parse(output.trim())).toThrow();
  });
});
