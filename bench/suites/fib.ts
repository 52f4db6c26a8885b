// The FIB suite: the native LPM tables over a full IPv4 table (902k routes) and IPv6 table
// (160k routes): load time (parse + build), memory, and lookups per second on one core over
// uniformly random addresses and over addresses inside random routes of the table, batched
// (lookup_batch, 256 addresses per call, as IPLookup does; the case's figure) and one at a time
// (extra.singleMlps). Tables: --routes / --routes6 FILE (`prefix/len nexthop-index` per line,
// gzip when the name ends in .gz), else ../shared/data/fib/ipv4-full-902k.txt.gz and
// ipv6-full-160k.txt.gz when present (and --synthetic not given), else synthetic tables with the
// real tables' prefix-length mix (bench/routes.ts); every case says which. The lookups run in
// the addon's fibBench entry point; each run rebuilds the table and times it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadNative } from '../../src/runtime/native.js';
import { readTable, sharedFibDir, synthetic } from '../routes.js';
import { stats, spreadWarning, type CaseResult } from '../lib.js';
import type { Suite, SuiteContext } from '../harness.js';

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

interface Family {
  family: 'IPv4' | 'IPv6';
  width: 32 | 128;
  option: string;
  sharedName: string;
  syntheticCount: number;
  targetMlps: number;
  targetBytes?: number;
  targetLoadS?: number;
}

const FAMILIES: Family[] = [
  { family: 'IPv4', width: 32, option: 'routes', sharedName: 'ipv4-full-902k.txt.gz', syntheticCount: 901_899, targetMlps: 100, targetBytes: 16 * 2 ** 20, targetLoadS: 1 },
  { family: 'IPv6', width: 128, option: 'routes6', sharedName: 'ipv6-full-160k.txt.gz', syntheticCount: 160_147, targetMlps: 40 },
];

function table(f: Family, ctx: SuiteContext): { text: string; source: string } {
  const given = ctx.options.other[f.option];
  if (given) return { text: readTable(given), source: given };
  const shared = join(sharedFibDir, f.sharedName);
  const syntheticGiven = ctx.options.other.synthetic === 'true';
  if (!syntheticGiven && existsSync(shared)) return { text: readTable(shared), source: `../shared/data/fib/${f.sharedName}` };
  return {
    text: synthetic(f.width, f.syntheticCount),
    source: `SYNTHETIC table of ${f.syntheticCount} routes with a real-table prefix-length mix (${syntheticGiven ? '--synthetic given' : `${f.sharedName} not found`})`,
  };
}

export const fibSuite: Suite = {
  description: 'IPv4 and IPv6 LPM tables: load time, memory, lookups per second',
  defaultRuns: 5,
  async run(ctx) {
    const fibBench = (loadNative() as unknown as { fibBench: FibBench }).fibBench;
    const lookups = Number(ctx.options.other.lookups ?? (ctx.options.quick ? 2_000_000 : 20_000_000));
    if (!Number.isInteger(lookups) || lookups < 1000) throw new Error(`bench fib: --lookups needs a whole number >= 1000 (got ${ctx.options.other.lookups})`);
    const cases: CaseResult[] = [];
    ctx.progress.plan(FAMILIES.length);
    for (const [i, f] of FAMILIES.entries()) {
      ctx.progress.startCase(i, `${f.family} table`);
      ctx.progress.note(`${f.family}: reading the table`);
      const t = table(f, ctx);
      // Warm-up: one build and lookup pass, not counted (page faults, CPU frequency, caches).
      ctx.progress.step(0, ctx.runs, 'warm-up');
      fibBench(f.width, t.text, Math.min(lookups, 1_000_000));
      const runs: FibBenchResult[] = [];
      for (let r = 0; r < ctx.runs; r++) {
        ctx.progress.step(r + 1, ctx.runs);
        runs.push(fibBench(f.width, t.text, lookups));
      }
      const first = runs[0];
      const load = stats(runs.map((r) => (r.parseNs + r.buildNs) / 1e9));
      const build = stats(runs.map((r) => r.buildNs / 1e9));
      const common = {
        routes: first.routes,
        table: t.source,
        loadSecondsMedian: Math.round(load.median * 1000) / 1000,
        buildSecondsMedian: Math.round(build.median * 1000) / 1000,
        memoryMiB: Math.round((first.bytes / 2 ** 20) * 100) / 100,
        bytesPerRoute: Math.round((first.bytes / Math.max(1, first.routes)) * 10) / 10,
        nodes: first.nodes,
        rootBits: first.rootBits,
        lookupsPerRun: lookups,
        unit: 'M lookups/s',
      };
      for (const kind of ['random', 'table'] as const) {
        const batch = stats(runs.map((r) => (kind === 'random' ? r.randomBatchLps : r.tableBatchLps) / 1e6));
        const single = stats(runs.map((r) => (kind === 'random' ? r.randomSingleLps : r.tableSingleLps) / 1e6));
        const warnings = [spreadWarning('batched lookups', batch, 'M/s'), spreadWarning('single lookups', single, 'M/s'), spreadWarning('load time', load, 's', 3)].filter((w): w is string => !!w);
        const c: CaseResult = {
          suite: 'fib',
          name: `${f.family} LPM, ${kind === 'random' ? 'random addresses' : 'addresses inside table routes'}`,
          description: `${f.family} table: ${t.source}, ${first.routes} routes. Lookups on one core, batched 256 per call (the figure) and one at a time (extra.singleMlps), over ${kind === 'random' ? (f.width === 128 ? 'uniformly random addresses inside 2000::/3 (global unicast)' : 'uniformly random 32-bit addresses') : 'addresses drawn inside random routes of the table'}; ${lookups} lookups per run. Load = parsing the text and building the table, in C++; memory = the built lookup structure.`,
          threads: 1,
          frameBytes: 0,
          forwarder: 'engine',
          mpps: batch,
          warnings,
          extra: {
            ...common,
            singleMlps: Math.round(single.median * 10) / 10,
            hitRate: Math.round((kind === 'random' ? first.randomHit : first.tableHit) * 10000) / 10000,
          },
        };
        if (kind === 'random') {
          const okRate = batch.median >= f.targetMlps;
          const okMem = f.targetBytes === undefined || first.bytes <= f.targetBytes;
          const okLoad = f.targetLoadS === undefined || load.median <= f.targetLoadS;
          c.target = {
            note: `>= ${f.targetMlps} M lookups/s${f.targetBytes ? `, <= ${f.targetBytes / 2 ** 20} MiB (measured ${common.memoryMiB})` : ''}${f.targetLoadS ? `, load <= ${f.targetLoadS} s (measured ${load.median.toFixed(2)})` : ''}`,
          };
          c.met = okRate && okMem && okLoad;
        }
        cases.push(c);
      }
    }
    return { cases, settings: { lookups } };
  },
};
