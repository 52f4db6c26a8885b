// The benchmark command line: `npm run bench -- [SUITE...] [options]`, and what
// `pktgraph bench` runs (it starts this file under tsx from the package root). See
// bench/harness.ts for the options (`--help`).
import { runBench, parseArgs, usage, UsageError } from './harness.js';

const argv = process.argv.slice(2);
try {
  if (parseArgs(argv).help) {
    console.log(usage);
    process.exit(0);
  }
  await runBench(argv, { command: process.env.PKTGRAPH_BENCH_COMMAND ?? `npm run bench -- ${argv.join(' ')}`.trim() });
} catch (e) {
  if (e instanceof UsageError) {
    console.error(`bench: ${e.message}\n${usage}`);
    process.exit(2);
  }
  // A suite that cannot run here (not root, no lab) says why in one line; --debug for the stack.
  const msg = String((e as Error).message ?? e);
  console.error(argv.includes('--debug') ? e : msg.startsWith('bench') ? msg : `bench: ${msg}`);
  process.exit(1);
}
