// The pktgraph command as a child process, for tests that drive a running engine through its
// control socket: output collected, and every child still running killed when the test file
// ends, even after a failure.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const pktgraphBin = join(repoRoot, 'bin', 'pktgraph.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const children: ChildProcess[] = [];
t.teardown(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** `pktgraph ARGS` started in `cwd`, with default control sockets under `runtimeDir` (XDG_RUNTIME_DIR), `env` added; `input`: its stdin. */
export function startCli(args: string[], where: { cwd: string; runtimeDir: string; input?: string; env?: Record<string, string> }): { child: ChildProcess; done: Promise<CliResult> } {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: where.runtimeDir, ...where.env };
  delete env.NODE_OPTIONS;  // the test runner's loader is not the CLI's
  const child = spawn(process.execPath, [pktgraphBin, ...args], { cwd: where.cwd, env, stdio: [where.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  children.push(child);
  if (where.input !== undefined) child.stdin!.end(where.input);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 50 ms until it holds; throws naming `what` after `seconds`. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, seconds = 30): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}
