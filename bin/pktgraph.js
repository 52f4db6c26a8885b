#!/usr/bin/env node
// The pktgraph command line. The code lives in src/cli/, compiled and bundled into dist/bundle/
// by `npm run build` (scripts/build.mjs).

// Output into a pipe whose reader has gone (`pktgraph run ... | head -1`): end quietly, with
// the status a Unix tool killed by SIGPIPE has (128 + 13; Node ignores the signal itself).
// Exiting runs the 'exit' handlers, so a run still removes its control socket.
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(141);
    throw err;
  });
let cli;
try {
  cli = await import('../dist/bundle/main.js');
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/bundle/main.js')) {
    console.error('pktgraph: the TypeScript is not compiled yet: run `npm run build` (or `npm run build:ts`) in the package directory');
    process.exit(1);
  }
  throw err;
}
await cli.main(process.argv);
