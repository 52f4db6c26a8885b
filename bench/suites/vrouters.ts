// The vrouters suite (issue 11): virtual routers in one engine, measured through the operations
// layer `pktgraph serve` runs (VirtualRouters over an in-process Runtime: what a create, start,
// delete or reconfigure costs in the engine, without the control socket's round trip, a
// fraction of a millisecond). Each router is bench/graphs/vrouter.ts: a generator ->
// Strip -> CheckIPHeader -> IPLookup (1000 routes over 16 gateways) -> DecIPTTL -> Discard
// (until 2026-12-02 every route had the default's next hop, so the table merged them away).
// Cases:
// - create and start (compiling the graph file with its 1000 routes, loading it), and delete:
//   median and max over every router created for the cost cases;
// - cost with 1, 10, 100 and 1000 routers on one worker, every generator unpaced, so the worker
//   is saturated and the same traffic (all it can move) is spread over all of them: CPU ns per
//   packet (worker CPU time / packets discarded) and the process's RSS; 1000 is capped when
//   creating them takes longer than --create-budget seconds (default 120, --quick 30), and the
//   notes say so; then the fewest and the most again with 256-packet bursts (--big-burst), side
//   by side: moving from one router's state to the next is paid once a task run;
// - reconfiguration under load (the method bench/hotswap.ts had): a paced generator (worker 0)
//   -> TimestampStamp -> Counter -> Queue -> Unqueue (worker 1) -> LatencyMeter -> Counter ->
//   Discard at 500k packets/s replaced by a differing plan (an extra Counter, a changed Queue
//   capacity and Unqueue burst) every --settle ms: packets lost once drained (generated -
//   delivered - counted drops, exactly), and the swap (workers off the graph, from taking the
//   old graph off the task lists to publishing the new one: the forwarding gap's upper bound to
//   within one worker round), beside the largest queue delay in windows with and without a swap;
// - bulk route programming (--cases routes), the whole path a user's requests take: this
//   process's Engine client -> the control socket -> a `pktgraph serve` child process (one
//   worker) -> the operations layer -> the FIB's native handler. Routes/s of a full table
//   (../shared/data/fib's 902k IPv4 routes, else a synthetic table of the same mix) into one
//   router's table as route.add with the routes inline (JSON: a list, and one text), as route.load of a file the
//   engine reads, and as a route.replace of the whole table under traffic; and 1000 routes into
//   each of 1000 routers, one request per router, inline and from a file. Every change is all or
//   nothing and published at one instant; each router runs its generator at 1000 packets/s.
// - save and restore of one router with the full IPv4 table (bench/graphs/vrouter-full.ts over
//   ../shared/data/fib/ipv4-full-902k.txt.gz as router.ts prepares it, or --routes FILE):
//   vr.save of the running router to a file, vr.restore of that file under another name,
//   started (--save-runs times, each restored router checked to hold every route, then
//   deleted); beside them, creating the same router from its route file;
// - bandwidth shares settling after a change (vr.share) and after a new contender on a shared
//   port: bench/suites/vrouters-shares.ts (needs root for its TAP port; --shares 0 skips them).
// `--cases cost,reconfigure,routes,save,shares` picks among the groups (default: all).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { graph, compile, Runtime, InfiniteSource, TimestampStamp, Counter, Queue, Unqueue, LatencyMeter, Discard, VirtualRouters, Engine, type RunningGraph } from 'pktgraph';
import { stats, spreadWarning, type CaseResult } from '../lib.js';
import { readTable, sharedFibDir, synthetic } from '../routes.js';
import type { Suite, SuiteContext } from '../harness.js';
import { prepareTable } from './router.js';
import { measureShareSettling, type SettleRun } from './vrouters-shares.js';

const GRAPH = fileURLToPath(new URL('../graphs/vrouter.ts', import.meta.url));
const FULL_GRAPH = fileURLToPath(new URL('../graphs/vrouter-full.ts', import.meta.url));
const ROUTES = 1000;
const MB = 1e6;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const rssMB = () => process.memoryUsage().rss / MB;
// `spread`: the values are runs that should agree (warn when not), not a distribution (create times).
const base = (name: string, description: string, unit: string, values: number[], extra: Record<string, number | string> = {}, spread = true): CaseResult => {
  const st = stats(values);
  const w = spread ? spreadWarning(name, st, unit, 2) : undefined;
  return { suite: 'vrouters', name, description, threads: 1, frameBytes: 64, mpps: st, warnings: w ? [w] : [], extra: { unit, ...extra } };
};

interface CountRun {
  count: number;
  capped: boolean;
  createMs: number[];
  deleteMs: number[];
  nsPerPacket: number;
  mpps: number;
  rss: number;
  /** At the same moment: the V8 heap in use and what ArrayBuffers hold outside it (MB), the rest of rss being native. */
  heapUsed: number;
  arrayBuffers: number;
  /** RSS of the started engine before any router was created. */
  baseRss: number;
}

/** N routers in a fresh one-worker engine: create and start each, measure, delete each. */
async function measureCount(ctx: SuiteContext, count: number, budgetS: number, burst: number): Promise<CountRun> {
  const runtime = new Runtime({ threads: 1, poolBuffers: 65536 });
  const vr = new VirtualRouters(runtime);
  runtime.start();
  await sleep(100);
  const baseRss = rssMB();
  const createMs: number[] = [];
  const t0 = Date.now();
  let capped = false;
  for (let i = 0; i < count; i++) {
    if ((Date.now() - t0) / 1000 > budgetS) {
      capped = true;
      break;
    }
    const s = process.hrtime.bigint();
    await vr.perform('vr.create', { name: `vr${i}`, source: { file: GRAPH, params: { routes: ROUTES, rate: 0, burst } }, start: true });
    createMs.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  const names = createMs.map((_, i) => `vr${i}`);
  const packets = () => names.reduce((n, name) => n + Number(vr.target(name, 'sink').graph.counter('sink', 'packets')), 0);
  const cpu = () => runtime.workerStats().reduce((s, w) => s + w.cpuNs, 0);
  await sleep(ctx.warmup * 1000);
  const p0 = packets();
  const c0 = cpu();
  const w0 = process.hrtime.bigint();
  await sleep(ctx.seconds * 1000);
  const p1 = packets();
  const c1 = cpu();
  const wall = Number(process.hrtime.bigint() - w0);
  const mem = process.memoryUsage();
  const deleteMs: number[] = [];
  for (const name of names) {
    const s = process.hrtime.bigint();
    await vr.perform('vr.delete', { name });
    deleteMs.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  runtime.close();
  return { count: names.length, capped, createMs, deleteMs, nsPerPacket: (c1 - c0) / (p1 - p0), mpps: ((p1 - p0) / wall) * 1e3, rss: mem.rss / MB, heapUsed: mem.heapUsed / MB, arrayBuffers: mem.arrayBuffers / MB, baseRss };
}

/** Reconfiguration under load: the loss and the swap's length over `swaps` replacements. */
async function measureSwaps(swaps: number, rate: number, settle: number) {
  const plan = (variant: boolean) =>
    compile(
      graph('hotswap-bench', () => {
        const out = InfiniteSource({ length: 64, rate, burst: 32 }, { name: 'src', thread: 0 })
          .to(TimestampStamp({}, 'stamp'))
          .to(Counter({}, 'in'))
          .to(Queue({ capacity: variant ? 32768 : 16384 }, 'q'))
          .to(Unqueue({ burst: variant ? 64 : 32 }, { name: 'pump', thread: 1 }))
          .to(LatencyMeter({}, 'lat'))
          .to(Counter({}, 'out'));
        (variant ? out.to(Counter({}, 'extra')) : out).to(Discard({}, 'sink'));
      }),
    );
  const plans = [plan(false), plan(true)];
  const rt = new Runtime({ threads: 2, poolBuffers: 65536 });
  let g: RunningGraph = rt.load(plans[0]);
  rt.start();
  await sleep(500); // warm-up
  // One settle window: the queue's largest delay in it, and the swap's length when it has one.
  const window = async (swap: boolean) => {
    g.write('lat', 'reset', '');
    let swapNs: number | undefined;
    await sleep(settle / 2);
    if (swap) {
      g = g.replace(g.plan === plans[0] ? plans[1] : plans[0]);
      swapNs = g.swap!.swapNs;
    }
    await sleep(settle / 2);
    return { maxDelayNs: Number(g.read('lat', 'max')), swapNs };
  };
  const withSwap: { maxDelayNs: number; swapNs?: number }[] = [];
  const quiet: { maxDelayNs: number }[] = [];
  for (let i = 0; i < swaps; i++) {
    quiet.push(await window(false));
    withSwap.push(await window(true));
  }
  // Stop generating, drain, and count.
  g.write('src', 'active', 'false');
  await sleep(200);
  const deadline = Date.now() + 10_000;
  while (Number(g.read('q', 'length')) > 0 && Date.now() < deadline) await sleep(10);
  const num = (el: string, c: string) => Number(g.counter(el, c));
  const sent = num('src', 'packets');
  const delivered = num('sink', 'packets');
  const drops = num('q', 'drops');
  rt.close();
  return { sent, delivered, drops, lost: sent - delivered - drops, swapNs: withSwap.map((w) => w.swapNs!), delaySwapNs: withSwap.map((w) => w.maxDelayNs), delayQuietNs: quiet.map((w) => w.maxDelayNs) };
}

const BIN = fileURLToPath(new URL('../../bin/pktgraph.js', import.meta.url));

/** `pktgraph serve` in a child process (one worker; `args` added) and a client of it here; close() stops it. */
export async function serveChild(dir: string, args: string[] = []) {
  const sock = join(dir, 'engine.sock');
  const child = spawn(process.execPath, [BIN, 'serve', '--control', sock, '--threads', '1', '--pool', '65536', ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const engine = new Engine(sock, 600_000);
  const deadline = Date.now() + 30_000;
  while (!(await engine.status().then(() => true, () => false))) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('pktgraph serve did not start within 30 s');
    await sleep(50);
  }
  // CPU time of serve's main thread (the operations layer and the FIB's handlers run there; the
  // worker's own time is not in it), from /proc, in seconds.
  const hz = 100;
  const serviceCpu = () => {
    const f = readFileSync(`/proc/${child.pid}/task/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / hz;
  };
  return {
    engine,
    child,
    exited,
    serviceCpu,
    close: async () => {
      await engine.stop().catch(() => undefined);
      await Promise.race([exited, sleep(10_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** Bulk route programming through the whole path: routes/s per case, over `runs` runs. */
async function measureRoutes(ctx: SuiteContext, runs: number, spreadCount: number) {
  const dir = mkdtempSync(join(tmpdir(), 'pktgraph-bench-routes-'));
  const real = join(sharedFibDir, 'ipv4-full-902k.txt.gz');
  const source = existsSync(real) ? 'the 902k-route IPv4 table (../shared/data/fib)' : 'a synthetic 902k-route IPv4 table (the shared tables are absent)';
  // Each route through a gateway chosen by its next-hop index: 256 next hops, as in the file.
  const full = (existsSync(real) ? readTable(real) : synthetic(32, 901_899)).split('\n').filter((l) => l.trim()).map((l) => {
    const [prefix, nh] = l.trim().split(/\s+/);
    return `${prefix} via 10.0.${Number(nh) & 255}.1 dev 0`;
  });
  const replaced = full.map((l) => l.replace(/via 10\.0\.(\d+)\.1/, (_, n) => `via 10.1.${n}.1`));
  const fullFile = join(dir, 'full.txt');
  writeFileSync(fullFile, full.join('\n') + '\n');
  const small = (k: number) => Array.from({ length: 1000 }, (_, i) => `198.${18 + (k & 1)}.${i >> 2}.${(i & 3) * 64}/26 via 10.0.${i & 255}.1 dev 0`);
  const smallFile = join(dir, 'small.txt');
  writeFileSync(smallFile, small(0).join('\n') + '\n');
  const fullText = full.join('\n');
  const results = { add: [] as number[], text: [] as number[], load: [] as number[], replace: [] as number[], spreadAdd: [] as number[], spreadLoad: [] as number[], engineMs: { add: [] as number[], text: [] as number[], load: [] as number[], replace: [] as number[] } };
  const { engine, serviceCpu, close } = await serveChild(dir);
  // Routes per CPU second of the whole path (this client's process and serve's main thread): what
  // a busy machine's scheduling does not change.
  const cpuRate: Record<string, number[]> = {};
  const source1 = { file: GRAPH, params: { routes: 0, rate: 1000, burst: 32 } };
  try {
    for (let r = 0; r < runs; r++) {
      ctx.progress.step(r + 1, runs);
      const time = async <T>(f: () => Promise<T>, key?: string, routes = full.length) => {
        const c0 = process.cpuUsage();
        const s0 = serviceCpu();
        const t0 = process.hrtime.bigint();
        const v = await f();
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        const c = process.cpuUsage(c0);
        if (key) (cpuRate[key] ??= []).push(routes / ((c.user + c.system) / 1e6 + serviceCpu() - s0) / 1e6);
        return { v, s };
      };
      await engine.createRouter('one', source1, { start: true });
      const add = await time(() => engine.addRoutes('one', full), 'add');
      results.add.push(full.length / add.s / 1e6);
      results.engineMs.add.push(add.v.ns / 1e6);
      const rep = await time(() => engine.replaceRoutes('one', replaced), 'replace');
      results.replace.push(full.length / rep.s / 1e6);
      results.engineMs.replace.push(rep.v.ns / 1e6);
      await engine.deleteRouter('one');
      await engine.createRouter('one', source1, { start: true });
      const text = await time(() => engine.addRoutes('one', fullText), 'text');
      results.text.push(full.length / text.s / 1e6);
      results.engineMs.text.push(text.v.ns / 1e6);
      await engine.deleteRouter('one');
      await engine.createRouter('one', source1, { start: true });
      const load = await time(() => engine.loadRoutes('one', fullFile), 'load');
      results.load.push(full.length / load.s / 1e6);
      results.engineMs.load.push(load.v.ns / 1e6);
      await engine.deleteRouter('one');
      // Spread: routers created first (not timed), then 1000 routes into each, one request each.
      const names = Array.from({ length: spreadCount }, (_, i) => `s${i}`);
      for (const n of names) await engine.createRouter(n, source1, { start: true });
      const spreadAdd = await time(async () => {
        for (const [i, n] of names.entries()) await engine.addRoutes(n, small(i));
      }, 'spreadAdd', names.length * 1000);
      results.spreadAdd.push((names.length * 1000) / spreadAdd.s / 1e6);
      const spreadLoad = await time(async () => {
        for (const n of names) await engine.loadRoutes(n, smallFile, { mode: 'set' });
      }, 'spreadLoad', names.length * 1000);
      results.spreadLoad.push((names.length * 1000) / spreadLoad.s / 1e6);
      for (const n of names) await engine.deleteRouter(n);
    }
  } finally {
    await close();
    rmSync(dir, { recursive: true, force: true });
  }
  return { ...results, cpuRate, routes: full.length, source };
}

/** Save and restore one running router with the full table through the operations layer, `runs` times. */
async function measureSaveRestore(ctx: SuiteContext, runs: number) {
  const table = prepareTable(ctx.options);
  const file = join(tmpdir(), `pktgraph-bench-vr-${process.pid}.pgvr`);
  const runtime = new Runtime({ threads: 1, poolBuffers: 8192 });
  const vr = new VirtualRouters(runtime);
  runtime.start();
  try {
    let t = performance.now();
    await vr.perform('vr.create', { name: 'full', source: { file: FULL_GRAPH, params: { table: table.gatewayFile } }, start: true });
    const createMs = performance.now() - t;
    const routes = Number(runtime.graph('full').read('rt', 'count'));
    const saveMs: number[] = [];
    const restoreMs: number[] = [];
    let bytes = 0;
    let imageBytes = 0;
    for (let r = 0; r < runs; r++) {
      ctx.progress.step(r + 1, runs);
      t = performance.now();
      const s = await vr.perform('vr.save', { name: 'full', file });
      saveMs.push(performance.now() - t);
      bytes = s.bytes;
      imageBytes = s.imageBytes;
      t = performance.now();
      await vr.perform('vr.restore', { file, name: 'copy', start: true });
      restoreMs.push(performance.now() - t);
      const got = Number(runtime.graph('copy').read('rt', 'count'));
      if (got !== routes) throw new Error(`vrouters bench: the restored router holds ${got} routes, the saved one ${routes}`);
      vr.perform('vr.delete', { name: 'copy' });
    }
    return { createMs, saveMs, restoreMs, routes, bytes, imageBytes, fileBytes: statSync(file).size, source: table.source };
  } finally {
    vr.deleteAll();
    runtime.stop();
    runtime.close();
    for (const f of [file, table.file, table.gatewayFile]) rmSync(f, { force: true });
  }
}

export const vroutersSuite: Suite = {
  description: 'virtual routers in one engine: create/start/delete time, cost and memory by count, reconfiguration under load',
  defaultRuns: 3,
  async run(ctx) {
    const o = ctx.options.other;
    const quick = ctx.options.quick;
    const counts = (o.counts ?? (quick ? '1,10,100,1000' : '1,10,100,1000')).split(',').map(Number);
    const budget = Number(o['create-budget'] ?? (quick ? 30 : 120));
    const swaps = Number(o.swaps ?? (quick ? 5 : 20));
    const settle = Number(o.settle ?? 200);
    const rate = Number(o.rate ?? 500_000);
    const burst = Number(o.burst ?? 32);
    const bigBurst = Number(o['big-burst'] ?? 256);
    const cases: CaseResult[] = [];
    const notes: string[] = [];
    const groups = new Set((o.cases ?? 'cost,reconfigure,routes,save,shares').split(','));
    for (const g of groups) if (!['cost', 'reconfigure', 'routes', 'save', 'shares'].includes(g)) throw new Error(`vrouters: --cases takes cost, reconfigure, routes, save and shares, got '${g}'`);
    const saveRuns = Number(o['save-runs'] ?? (quick ? 3 : 7));
    const spreadCount = Number(o['spread-routers'] ?? 1000);
    const shares = groups.has('shares') && o.shares !== '0';
    ctx.progress.plan((groups.has('cost') ? counts.length + 1 : 0) + (groups.has('reconfigure') ? 1 : 0) + (groups.has('routes') ? 1 : 0) + (groups.has('save') ? 1 : 0) + (shares ? 1 : 0));
    const byCount: CountRun[] = [];
    for (const [i, n] of (groups.has('cost') ? counts : []).entries()) {
      ctx.progress.startCase(i, `${n} virtual router(s)`);
      // Runs of one count: the median run by cost is kept, and every run's create/delete times.
      const runs: CountRun[] = [];
      for (let r = 0; r < ctx.runs; r++) {
        ctx.progress.step(r + 1, ctx.runs);
        runs.push(await measureCount(ctx, n, budget, burst));
      }
      const median = [...runs].sort((a, b) => a.nsPerPacket - b.nsPerPacket)[(runs.length - 1) >> 1];
      if (median.capped) notes.push(`${n} routers: creating them took longer than --create-budget ${budget} s; measured with the ${median.count} created by then`);
      byCount.push({ ...median, createMs: runs.flatMap((r) => r.createMs), deleteMs: runs.flatMap((r) => r.deleteMs) });
      const c = base(`cost with ${median.count} virtual router(s)`, `${median.count} routers (${ROUTES} routes each, over 16 gateways), unpaced generators on one worker: engine CPU ns per packet (worker CPU / packets discarded over ${ctx.seconds} s); extra.mpps the total rate, extra.rssMB the process's resident memory, extra.routersMB what it gained from the engine started without routers (its packet pool of 65536 buffers included in rssMB) to the routers running.`, 'ns/pkt', runs.map((r) => r.nsPerPacket), { vrouters: median.count, mpps: Math.round(median.mpps * 1000) / 1000, rssMB: Math.round(median.rss), routersMB: Math.round(median.rss - median.baseRss) });
      c.cpuNsPerPacket = median.nsPerPacket;
      cases.push(c);
      const mem = base(`RSS with ${median.count} virtual router(s)`, `the process's resident memory with ${median.count} routers of ${ROUTES} routes running, in MB (10^6 bytes); extra.routersMB: what the routers added to the engine started without them; extra.heapUsedMB and arrayBuffersMB: the JavaScript heap in use and ArrayBuffers (outside it) at the same moment (the median run).`, 'MB', runs.map((r) => r.rss), { routers: median.count, routersMB: Math.round(median.rss - median.baseRss), heapUsedMB: Math.round(median.heapUsed), arrayBuffersMB: Math.round(median.arrayBuffers) });
      if (n >= 1000) {
        mem.target = { note: '<= 512 MB (1000 routers x 1000 routes)' };
        mem.met = median.count >= 1000 && median.rss <= 512;
      }
      cases.push(mem);
    }
    // Cost against one router: the target is for 1000 routers.
    const one = byCount.find((r) => r.count === 1);
    if (one) {
      for (const c of cases) {
        const n = c.extra?.vrouters as number | undefined;
        if (n === undefined || n === 1) continue;
        const ratio = c.cpuNsPerPacket! / one.nsPerPacket;
        c.extra = { ...c.extra, versusOne: Math.round(ratio * 1000) / 1000 };
        if (counts.includes(1000) && n === Math.max(...byCount.map((r) => r.count))) {
          c.target = { ratio: 1.1, note: `<= 1.1x the cost with one router (1000 routers; measured ${ratio.toFixed(3)}x)` };
          c.met = n >= 1000 && ratio <= 1.1;
        }
      }
    }
    // The same fewest and most routers side by side with 256-packet bursts: what switching from one
    // router's state to the next costs is paid once a task run, so a longer batch amortises it.
    const most = Math.max(...counts);
    if (groups.has('cost') && one && most > 1 && bigBurst !== burst) {
      ctx.progress.startCase(counts.length, `1 and ${most} virtual routers, burst ${bigBurst}`);
      const a = await measureCount(ctx, 1, budget, bigBurst);
      const b = await measureCount(ctx, most, budget, bigBurst);
      const ratio = b.nsPerPacket / a.nsPerPacket;
      for (const r of [a, b]) {
        const c = base(`cost with ${r.count} virtual router(s), burst ${bigBurst}`, `as the cost cases, each generator sending ${bigBurst}-packet bursts instead of ${burst}: the cost of moving from one router to the next spread over more packets.`, 'ns/pkt', [r.nsPerPacket], { routers: r.count, burst: bigBurst, mpps: Math.round(r.mpps * 1000) / 1000, ...(r === b ? { versusOne: Math.round(ratio * 1000) / 1000 } : {}) });
        c.cpuNsPerPacket = r.nsPerPacket;
        cases.push(c);
      }
      byCount.push({ ...a, nsPerPacket: NaN }, { ...b, nsPerPacket: NaN }); // their create and delete times count too
    }
    if (groups.has('cost')) {
    const createMs = byCount.flatMap((r) => r.createMs);
    const deleteMs = byCount.flatMap((r) => r.deleteMs);
    const create = base('create and start one virtual router', `vr.create with start, through the operations layer: compiling bench/graphs/vrouter.ts (${ROUTES} routes) and loading it into the running engine, over ${createMs.length} creates (every router of the cost cases, each while those created before it run unpaced on the worker); median, min and max in ms (the first create also loads the graph file's module).`, 'ms', createMs, {}, false);
    create.target = { note: `<= 10 ms (median; the longest took ${create.mpps!.max.toFixed(1)} ms)` };
    create.met = create.mpps!.median <= 10;
    cases.push(create);
    cases.push(base('delete one virtual router', `vr.delete of a running router (its graph taken off the workers and freed), over ${deleteMs.length} deletes; ms.`, 'ms', deleteMs, {}, false));
    }

    if (groups.has('routes')) {
      ctx.progress.startCase(0, 'bulk route programming');
      const m = await measureRoutes(ctx, ctx.runs, spreadCount);
      const med = (v: number[]) => Math.round(stats(v).median);
      const cpu = (k: string) => ({ cpuMRoutesPerS: Math.round(stats(m.cpuRate[k] ?? [0]).median * 1000) / 1000 });
      const routeCase = (name: string, description: string, values: number[], extra: Record<string, number | string> = {}) => {
        const c = base(name, `${description} extra.cpuMRoutesPerS: millions of routes per CPU second of the client's process and serve's main thread together (what scheduling on a busy machine does not change). Through the whole path: an Engine client -> the control socket -> \`pktgraph serve\` (its own process, one worker) -> the FIB's native handler, from the request sent to its answer; millions of routes per second, all or nothing, published at one instant.`, 'M routes/s', values, extra);
        c.target = { note: '>= 1 M routes/s in bulk (VPP\'s API: about 300k/s)' };
        c.met = c.mpps!.median >= 1;
        return c;
      };
      cases.push(routeCase('routes: route.add of a full table, inline, one router', `route.add of ${m.routes} routes (${m.source}, 256 gateways) as one JSON request into an empty table; extra.engineMs: the engine's share (handler: parse, check, build, publish).`, m.add, { routes: m.routes, engineMs: med(m.engineMs.add), ...cpu('add') }));
      cases.push(routeCase('routes: route.add of a full table, inline as text, one router', `route.add of the same ${m.routes} routes as one JSON request whose \`text\` holds them one per line (one string, not a list); extra.engineMs as above.`, m.text, { routes: m.routes, engineMs: med(m.engineMs.text), ...cpu('text') }));
      cases.push(routeCase('routes: route.load of a full-table file, one router', `route.load of the same ${m.routes} routes from a plain-text file the engine reads itself, into an empty table; extra.engineMs as above.`, m.load, { routes: m.routes, engineMs: med(m.engineMs.load), ...cpu('load') }));
      cases.push(routeCase('routes: route.replace of a full table under traffic, one router', `route.replace of all ${m.routes} routes (each to another gateway) as one JSON request, while the router forwards; extra.engineMs as above.`, m.replace, { routes: m.routes, engineMs: med(m.engineMs.replace), ...cpu('replace') }));
      cases.push(routeCase(`routes: route.add spread over ${spreadCount} routers`, `1000 routes into each of ${spreadCount} running routers, one route.add request (inline) per router, one after another.`, m.spreadAdd, { routers: spreadCount, ...cpu('spreadAdd') }));
      cases.push(routeCase(`routes: route.load spread over ${spreadCount} routers`, `a 1000-route file loaded (mode set) into each of ${spreadCount} running routers, one route.load request per router, one after another.`, m.spreadLoad, { routers: spreadCount, ...cpu('spreadLoad') }));
    }

    const settings: Record<string, string | number> = { routes: ROUTES, counts: counts.join(','), cases: [...groups].join(','), spreadRouters: spreadCount, swaps, settle, rate, createBudgetS: budget, burst, bigBurst };
    if (groups.has('reconfigure')) {
      ctx.progress.startCase(counts.length + 1, 'reconfiguration under load');
      const s = await measureSwaps(swaps, rate, settle);
      const us = (ns: number[]) => ns.map((x) => x / 1e3);
      const desc = `${swaps} replacements of a running graph (${rate} packets/s of 64 B, 2 workers, ${settle} ms apart)`;
      const lost = base('reconfiguration: packets lost', `${desc}: generated - delivered - counted drops once drained (${s.sent} generated, ${s.delivered} delivered, ${s.drops} dropped).`, 'packets', [s.lost], { sent: s.sent, delivered: s.delivered, drops: s.drops });
      lost.threads = 2;
      lost.target = { note: '0 packets lost' };
      lost.met = s.lost === 0;
      cases.push(lost);
      const gap = base('reconfiguration: forwarding gap', `${desc}: how long the workers were kept off the graph in each swap (Engine::replace_graph), the forwarding gap's upper bound to within one worker round; µs. extra: the largest queue delay in settle windows with a swap and without (medians, µs).`, 'µs', us(s.swapNs), { queueDelaySwapUs: stats(us(s.delaySwapNs)).median, queueDelayQuietUs: stats(us(s.delayQuietNs)).median, queueDelaySwapMaxUs: stats(us(s.delaySwapNs)).max }, false);
      gap.threads = 2;
      gap.target = { note: '<= 1 ms, the longest of all swaps' };
      gap.met = gap.mpps!.max <= 1000;
      cases.push(gap);
    }
    if (groups.has('save')) {
      ctx.progress.startCase(counts.length + 3, 'save and restore with the full table');
      const sr = await measureSaveRestore(ctx, saveRuns);
      const what = `one running router (bench/graphs/vrouter-full.ts: IPLookup over ${sr.routes} routes from ${sr.source}, each with a gateway, 4 outputs)`;
      const size = { routes: sr.routes, fileMB: Math.round(sr.fileBytes / 1e4) / 100, imageMB: Math.round(sr.imageBytes / 1e4) / 100 };
      cases.push(base('save one virtual router with the full table', `vr.save of ${what} to a file, through the operations layer, ${saveRuns} times while it runs; ms. extra: the file and the state image before compression, MB.`, 'ms', sr.saveMs, size, false));
      const restore = base('restore one virtual router with the full table', `vr.restore of that file under another name, started, ${saveRuns} times (each checked to hold every route, then deleted): read, decompressed, plan loaded with the saved table; ms. extra.createMs: creating the same router from its route file (compiled, the text parsed), once.`, 'ms', sr.restoreMs, { ...size, createMs: Math.round(sr.createMs) }, false);
      restore.target = { note: `<= 1000 ms (the slowest of ${saveRuns} took ${restore.mpps!.max.toFixed(0)} ms)` };
      restore.met = restore.mpps!.median <= 1000;
      cases.push(restore);
    }
    if (shares) {
      ctx.progress.startCase(counts.length + 4, 'bandwidth shares settling');
      // The real clock (what a tenant sees on this machine) and the virtual one (the scheduler's own settling).
      for (const virtual of [false, true]) {
        const runs: { change: SettleRun; contender: SettleRun }[] = [];
        let failed: string | undefined;
        for (let r = 0; r < ctx.runs && !failed; r++) {
          ctx.progress.step(r + 1, ctx.runs);
          try {
            runs.push(await measureShareSettling(virtual));
          } catch (err) {
            failed = (err as Error).message;
          }
        }
        const event = { change: "after a change (vr.share raising b's limit from 10 to 15 Mbit/s: a 30 -> 27.5, b 10 -> 12.5)", contender: 'after a new contender (b created and started while a sends alone: a 40 -> 30, b 10)' } as const;
        for (const k of ['change', 'contender'] as const) {
          const name = `shares settle ${k === 'change' ? 'after a change' : 'after a new contender'}${virtual ? ', virtual clock' : ''}`;
          const desc = `two routers on a 40 Mbit/s shared port (a: 20 Mbit/s guaranteed, offering 60; b: 5 guaranteed, 10 limit, offering 30; 500 B frames), ${event[k]}: ms from the event until, in every 50 ms window, each router's part of what the port sent stays within 2% of its HTB share, to the end of the 2 s recorded and a second at least (never: counted as 1e9 ms); extra.holdPct: the largest deviation of a router's rate from its share over 1 s windows in the second after (median run); extra.linkHoldPct: the same for the port's total against its 40 Mbit/s (a worker kept off its CPU by the machine); extra.windowsHeldPct: of the 50 ms windows from 100 ms after the event on, those with both routers' parts within 2% (median run). The scheduler's per-class counts read in one snapshot every 5 ms, ${virtual ? "on the engine's virtual clock moved 1 ms a step (the scheduler's own settling, whatever the machine runs)" : 'real clock'}.`;
          if (failed || !runs.length) {
            cases.push({ suite: 'vrouters', name, description: desc, threads: 2, frameBytes: 500, status: 'skipped', reason: failed ?? 'no runs', warnings: [] });
            continue;
          }
          const settle = runs.map((r) => r[k].settleMs);
          const c = base(name, desc, 'ms', settle.map((x) => (Number.isNaN(x) ? 1e9 : x)), {
            holdPct: Math.round(stats(runs.map((r) => r[k].holdPct).map((x) => (Number.isNaN(x) ? 100 : x))).median * 100) / 100,
            linkHoldPct: Math.round(stats(runs.map((r) => r[k].linkHoldPct).map((x) => (Number.isNaN(x) ? 100 : x))).median * 100) / 100,
            windowsHeldPct: Math.round(stats(runs.map((r) => r[k].windowsHeldPct).map((x) => (Number.isNaN(x) ? 0 : x))).median * 10) / 10,
          }, false);
          c.threads = 2;
          c.frameBytes = 500;
          c.target = { note: '<= 100 ms to settle (median), then held within 2%' };
          c.met = c.mpps!.median <= 100 && (c.extra!.holdPct as number) <= 2;
          if (settle.some(Number.isNaN)) notes.push(`${name}: ${settle.filter(Number.isNaN).length} of ${settle.length} runs never held within 2% for the last second or more of the recording (counted as 1e9 ms)`);
          cases.push(c);
        }
      }
    }
    settings.shares = shares ? 1 : 0;
    settings.saveRuns = saveRuns;
    return { cases, notes, settings };
  },
};
