// FIB microbenchmark: load a full IPv4 and IPv6 table into the native LPM tables and
// measure load time, memory and lookups per second on one core.
//
//   node --import tsx bench/fib.ts [--routes FILE] [--routes6 FILE] [--synthetic] [--lookups N] [--runs K]
//
// Tables: --routes / --routes6 (format `prefix/len nexthop-index`, one per line, gzip if the
// name ends in .gz), else ../shared/data/fib/ipv4-full-902k.txt.gz and ipv6-full-160k.txt.gz
// when present (and --synthetic not given), else a synthetic table with the same prefix-length
// mix (said in the output).
// The lookups run natively (the addon's fibBench entry point): batched (lookup_batch, 256
// addresses per call, as IPLookup does) and one address at a time, over uniformly random
// addresses (IPv6: inside 2000::/3) and over addresses inside random routes of the table. Prints medians of --runs.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { loadNative } from '../src/runtime/native.js';
import { readTable, sharedFibDir as shared, synthetic } from './routes.js';

interface FibBenchResult {
  routes: number;
  parseNs: number;
  buildNs: number;
  bytes: number;
  nodes: number;
  rootBits: number;
  randomBatchLps: number;
  randomSingleLps: number;
  tableBatchLps: number;
  tableSingleLps: number;
  randomHit: number;
  tableHit: number;
}
type FibBench = (width: number, routes: string, lookups: number) => FibBenchResult;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmtM = (x: number) => `${(x / 1e6).toFixed(1)} M/s`;

function run(family: 'IPv4' | 'IPv6', width: 32 | 128, given: string | undefined, sharedName: string, syntheticCount: number) {
  let source: string;
  let text: string;
  if (given) {
    source = given;
    text = readTable(given);
  } else if (!process.argv.includes('--synthetic') && existsSync(join(shared, sharedName))) {
    source = join(shared, sharedName);
    text = readTable(source);
  } else {
    source = `SYNTHETIC table of ${syntheticCount} routes with a real-table prefix-length mix (${process.argv.includes('--synthetic') ? '--synthetic given' : `${sharedName} not found`})`;
    text = synthetic(width, syntheticCount);
  }
  const fibBench = (loadNative() as unknown as { fibBench: FibBench }).fibBench;
  const lookups = Number(arg('--lookups') ?? 20_000_000);
  const runs = Number(arg('--runs') ?? 5);
  const results: FibBenchResult[] = [];
  for (let i = 0; i < runs; i++) results.push(fibBench(width, text, lookups));
  const m = (k: keyof FibBenchResult) => median(results.map((r) => r[k]));
  const r = results[0];
  console.log(`\n${family}: ${source}`);
  console.log(`  routes                 ${r.routes}`);
  console.log(`  parse (text, C++)      ${(m('parseNs') / 1e6).toFixed(1)} ms`);
  console.log(`  build (lookup table)   ${(m('buildNs') / 1e6).toFixed(1)} ms   (${((r.routes / m('buildNs')) * 1e3).toFixed(2)} M routes/s)`);
  console.log(`  memory                 ${(r.bytes / 2 ** 20).toFixed(2)} MiB  (${r.nodes} nodes, ${r.rootBits}-bit root, ${(r.bytes / Math.max(1, r.routes)).toFixed(1)} B/route)`);
  console.log(`  random addresses${width === 128 ? '*' : ' '}      batch ${fmtM(m('randomBatchLps'))}   single ${fmtM(m('randomSingleLps'))}   (${(r.randomHit * 100).toFixed(1)}% have a route)`);
  console.log(`  addresses in routes    batch ${fmtM(m('tableBatchLps'))}   single ${fmtM(m('tableSingleLps'))}   (${(r.tableHit * 100).toFixed(1)}% have a route)`);
  if (width === 128) console.log('  (* uniformly random inside 2000::/3, the global unicast space)');
  console.log(`  runs                   ${runs} (medians), ${lookups} lookups per measurement`);
}

console.log(`fib bench: ${new Date().toISOString()}, ${cpus()[0]?.model ?? '?'} x${cpus().length}, node ${process.version}, one core`);
if (process.argv.includes('--help')) {
  console.log('usage: node --import tsx bench/fib.ts [--routes FILE] [--routes6 FILE] [--synthetic] [--lookups N] [--runs K]');
  process.exit(0);
}
run('IPv4', 32, arg('--routes'), 'ipv4-full-902k.txt.gz', 901_899);
run('IPv6', 128, arg('--routes6'), 'ipv6-full-160k.txt.gz', 160_147);
