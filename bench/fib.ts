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
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus } from 'node:os';
import { loadNative } from '../src/runtime/native.js';

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

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const shared = join(root, '..', 'shared', 'data', 'fib');

function readTable(path: string): string {
  const raw = readFileSync(path);
  return (path.endsWith('.gz') ? gunzipSync(raw) : raw).toString('latin1');
}

// Prefix-length mix of the real tables (fractions), for the synthetic fallback.
const MIX4: [number, number][] = [[8, 0.00002], [12, 0.0005], [14, 0.002], [16, 0.014], [18, 0.01], [19, 0.02], [20, 0.035], [21, 0.04], [22, 0.12], [23, 0.1], [24, 0.55], [25, 0.01], [28, 0.005], [32, 0.003]];
const MIX6: [number, number][] = [[16, 0.0001], [20, 0.0005], [28, 0.005], [29, 0.03], [32, 0.14], [36, 0.03], [40, 0.05], [44, 0.06], [46, 0.02], [47, 0.01], [48, 0.45], [56, 0.02], [64, 0.02], [128, 0.002]];

// Real tables cluster: most long prefixes sit inside a few tens of thousands of allocations
// (IPv4 /16s, IPv6 /32s). The synthetic tables draw prefixes longer than the allocation
// inside a pool of allocations, and shorter ones by masking an allocation.
function synthetic(width: 32 | 128, n: number): string {
  let seed = 42;
  const rnd = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const bits = (k: number) => {
    let v = 0n;
    for (let i = 0; i < k; i += 16) v = (v << 16n) | BigInt(Math.floor(rnd() * 65536));
    return v & ((1n << BigInt(k)) - 1n);
  };
  const W = BigInt(width);
  const alloc = width === 32 ? 16 : 32;
  const pool = Array.from({ length: width === 32 ? 30000 : 20000 }, () =>
    width === 32 ? (BigInt(1 + Math.floor(rnd() * 222)) << 24n) | (bits(8) << 16n) : (0x2000n << 112n) | (bits(19) << 96n),
  );
  const mix = width === 32 ? MIX4 : MIX6;
  const total = mix.reduce((a, [, f]) => a + f, 0);
  const seen = new Set<string>();
  const lines: string[] = [];
  while (lines.length < n) {
    let x = rnd() * total;
    let len = mix[mix.length - 1][0];
    for (const [l, f] of mix) if ((x -= f) < 0) { len = l; break; }
    const base = pool[Math.floor(rnd() * pool.length)];
    const key = len <= alloc ? base & (((1n << BigInt(len)) - 1n) << (W - BigInt(len))) : base | (bits(len - alloc) << (W - BigInt(len)));
    let text: string;
    if (width === 32) text = `${[24n, 16n, 8n, 0n].map((sh) => Number((key >> sh) & 255n)).join('.')}/${len}`;
    else text = `${Array.from({ length: 8 }, (_, i) => Number((key >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':')}/${len}`;
    if (seen.has(text)) continue;
    seen.add(text);
    lines.push(`${text} ${Math.floor(rnd() * 256)}`);
  }
  return lines.join('\n');
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
