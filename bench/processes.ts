// Child processes of the benchmarks: started with as many file descriptors as the machine allows (a socket is a
// descriptor), waited for until they print `listening on <url>`, stopped and awaited; and the resident memory of a
// process together with all its descendants, so a server that forks workers is measured whole.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';

/** The soft limit on open files of this process (children inherit it), from /proc/self/limits. */
export function openFileLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const soft = line?.split(/\s{2,}/)[1];
  return soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
}

/**
 * `node --import tsx <script>` with the soft limit on open files raised to `fileLimit` (or to the hard limit, if
 * that is lower) through bash's ulimit, which `exec`s node so the child's pid is node's own. An IPC channel is
 * opened: the child exits when it closes, so nothing outlives the benchmark.
 */
export function spawnNode(script: string, env: Record<string, string>, fileLimit = 65_536): ChildProcess {
  return spawn(
    'bash',
    [
      '-c',
      `ulimit -n ${fileLimit} 2>/dev/null || ulimit -n hard; exec "$0" "$@"`,
      process.execPath,
      '--import',
      'tsx',
      script,
    ],
    // Production mode, as the real server runs in the benchmarks, so baselines and load generators are not slowed by
    // graphql-js's development-only checks either.
    { env: { ...process.env, NODE_ENV: 'production', ...env }, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] },
  );
}

/** Resolves with the URL a child prints as `listening on <url>`; rejects if it exits first. */
export function listeningUrl(child: ChildProcess): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (\S+)/.exec(output);
      if (match?.[1]) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`child exited with ${code} before listening`)));
  });
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Parent pid of every process now running. */
function parentPids(): Map<number, number> {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name in parentheses may itself hold spaces or parentheses: fields start after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // The process ended while being read.
    }
  }
  return parents;
}

function rssBytesOf(pid: number): number {
  try {
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0; // ended meanwhile
  }
}

/** Resident memory of `pid` and all its descendants (VmRSS summed; shared pages count once per process). */
export function processTreeRssBytes(pid: number): { bytes: number; processes: number } {
  const parents = parentPids();
  const tree = new Set([pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [child, parent] of parents) {
      if (tree.has(parent) && !tree.has(child)) {
        tree.add(child);
        grew = true;
      }
    }
  }
  let bytes = 0;
  for (const member of tree) bytes += rssBytesOf(member);
  return { bytes, processes: tree.size };
}
