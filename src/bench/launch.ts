// `pktgraph bench`: the benchmark harness lives in bench/ (TypeScript run under tsx, next to
// its results and plots), so the command starts `node --import tsx bench/run.ts ARGS` from the
// package root with the terminal passed through (progress bar) and returns its exit code.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../runtime/native.js';

export async function benchCommand(args: string[]): Promise<void> {
  const root = packageRoot();
  const entry = join(root, 'bench', 'run.ts');
  if (!existsSync(entry)) throw new Error(`the benchmark harness is not installed (${entry} is missing): it ships with the source tree, not the npm package`);
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, PKTGRAPH_BENCH_COMMAND: `pktgraph bench ${args.join(' ')}`.trim() },
    });
    // Ctrl-C reaches the child through the terminal; the suites tear their labs down themselves.
    const ignore = () => {};
    process.on('SIGINT', ignore);
    child.on('error', reject);
    child.on('exit', (c, sig) => {
      process.removeListener('SIGINT', ignore);
      resolve(c ?? (sig ? 128 + 2 : 1));
    });
  });
  if (code !== 0) process.exitCode = code;
}
