#!/usr/bin/env node
// The pktgraph command line. The code lives in src/cli/, compiled and bundled into dist/bundle/
// by `npm run build` (scripts/build.mjs).
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
