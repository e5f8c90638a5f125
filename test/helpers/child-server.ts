// The real entry point in a child process, compiled as `npm start` runs it (dist/main.js, which the tests' global
// setup builds from src/), configured only through its environment, as in production: for tests that kill it with
// SIGKILL or read everything it writes.
import { type ChildProcess, spawn } from 'node:child_process';
import { freePort } from './ports.js';
import { Condition } from './waits.js';

export interface ChildServer {
  url: string;
  process: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves once the output contains `pattern` (it is checked on every write); rejects after `timeoutMs`. */
  waitForOutput(pattern: string | RegExp, timeoutMs?: number): Promise<void>;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** `startTimeoutMs`: how long it may take to say it listens (the embedded database's first start is the slowest). */
export async function startChildServer(
  env: Record<string, string>,
  { startTimeoutMs = 60_000 }: { startTimeoutMs?: number } = {},
): Promise<ChildServer> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--enable-source-maps', 'dist/main.js'], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const written = new Condition();
  const append = (chunk: Buffer) => {
    output += chunk;
    written.changed();
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), startTimeoutMs);
    const check = () => {
      if (output.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${output}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    process: child,
    output: () => output,
    waitForOutput: (pattern, timeoutMs = 25_000) =>
      written.until(
        () => (typeof pattern === 'string' ? output.includes(pattern) : pattern.test(output)),
        timeoutMs,
        () => `${pattern} in the server's output`,
      ),
    async kill(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}
