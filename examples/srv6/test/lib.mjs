// Running the pktgraph command of this package's pktgraph dependency, as a user would.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, '..', 'node_modules', '.bin', 'pktgraph');

/** Run `pktgraph ARGS`; returns { status, stdout, stderr }. */
export function pktgraph(args, options = {}) {
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 60_000, ...options });
  if (r.error) throw r.error;
  return r;
}

/** `pktgraph run FILE --json` on one worker, its summary parsed; throws with stderr on failure. */
export function runGraph(file, params = [], extra = []) {
  const r = pktgraph(['run', join(here, 'graphs', file), '--json', '-t', '1', '--no-control', ...params.flatMap((p) => ['-p', p]), ...extra]);
  if (r.status !== 0) throw new Error(`pktgraph run ${file} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}
