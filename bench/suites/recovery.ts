// The recovery suite (issue 13, item 1): the desired state of `pktgraph serve --state DIR`
// (src/service/desired.ts), measured through the whole path (this process's Engine client -> the
// control socket -> a `pktgraph serve` child process with one worker). Cases:
// - recovery after kill -9: `--routers` (default 1000) routers of bench/graphs/vrouter.ts (its
//   generator paced at 10 packets/s, no routes of its own but the default) are created and
//   started and given 1000 routes each (one route.add of 1000 routes per router), then serve is
//   killed with SIGKILL; the time from spawning serve again on the state directory until its
//   socket answers with every router running (recovery ends before the socket is served, so
//   that is when every router is back with its routes; polled every 50 ms). Once from the
//   journal (killed right after the last change was acknowledged: the changes since the last
//   compaction replayed), then
//   `runs` times from a snapshot (killed after the engine compacted its journal). After each,
//   every router's table is checked to hold its 1001 routes (not timed); extra.inProcessMs is
//   serve's own reading of its recovery (engine.status);
// - a single route change acknowledged durably: route.add then route.del of one route, one
//   request at a time (`--changes`, default 1000 each), on a running router of that engine
//   (fsync of the journal before each answer), p50/p99 in ms; beside it the same on an engine
//   without --state in the same run (no fsync): the difference is the disk's fsync;
// - bulk: route.add of a full table (the shared 902k IPv4 table, else a synthetic one of the
//   same size) as one text into the one router of an engine, with --state (kept as the router's
//   tables, a router file, not as text) and without, in the same run: M routes/s, target >= 1.
import { closeSync, existsSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Engine } from 'pktgraph';
import { stats, spreadWarning, type CaseResult } from '../lib.js';
import { readTable, sharedFibDir, synthetic } from '../routes.js';
import type { Suite } from '../harness.js';
import { serveChild } from './vrouters.js';

const GRAPH = fileURLToPath(new URL('../graphs/vrouter.ts', import.meta.url));
const ROUTES = 1000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A case; `target`: its note and whether the median meets it. */
const case_ = (name: string, description: string, unit: string, values: number[], extra: Record<string, number | string> = {}, target?: { note: string; met: (median: number) => boolean }): CaseResult => {
  const st = stats(values);
  const w = spreadWarning(name, st, unit, 2);
  return { suite: 'recovery', name, description, threads: 1, frameBytes: 0, mpps: st, warnings: w ? [w] : [], extra: { unit, ...extra }, ...(target ? { target: { note: target.note }, met: target.met(st.median) } : {}) };
};
const RECOVERY_TARGET = { note: '<= 5 s (1000 routers x 1000 routes)', met: (s: number) => s <= 5 };

/** Router k's routes: 1000 /24s over 16 gateways. */
const routesOf = (k: number) => Array.from({ length: ROUTES }, (_, i) => `10.${i >> 8}.${i & 255}.0/24 via 198.18.${1 + (k % 200)}.${1 + (i % 16)} dev 0`);

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

/** Single route changes, one at a time: p50 and p99 in ms. */
async function changes(engine: Engine, router: string, n: number) {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const route = `198.19.${i >> 8}.${i & 255}/32 via 198.18.9.9 dev 0`;
    for (const f of [() => engine.addRoutes(router, [route]), () => engine.deleteRoutes(router, [route.split(' ')[0]])]) {
      const t0 = process.hrtime.bigint();
      await f();
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
  const sorted = ms.sort((a, b) => a - b);
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) };
}

/** The file system's own cost: `n` 200-byte appends, each fdatasynced; p50 and p99 in ms. */
function fsyncLatency(dir: string, n: number) {
  const file = join(dir, 'fsync-probe');
  const fd = openSync(file, 'w');
  const ms: number[] = [];
  try {
    const b = Buffer.alloc(200, 97);
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      writeSync(fd, b);
      fdatasyncSync(fd);
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
  const sorted = ms.sort((a, b) => a - b);
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) };
}

export const recoverySuite: Suite = {
  description: 'serve --state: recovery of 1000 virtual routers x 1000 routes after kill -9, durable single route changes, bulk routes with the state kept',
  defaultRuns: 3,
  async run(ctx) {
    const o = ctx.options.other;
    const count = Number(o.routers ?? 1000);
    const nChanges = Number(o.changes ?? (ctx.options.quick ? 300 : 1000));
    const runs = ctx.runs;
    const cases: CaseResult[] = [];
    const notes: string[] = [];
    const dir = mkdtempSync(join(tmpdir(), 'pktgraph-bench-recovery-'));
    const state = join(dir, 'state');
    const source = { file: GRAPH, params: { routes: 0, rate: 10, burst: 1 } };
    ctx.progress.plan(3 + runs);
    try {
      // The state: routers created, started and given their routes through the API, then kill -9.
      let s = await serveChild(dir, ['--state', state]);
      const t0 = performance.now();
      for (let k = 0; k < count; k++) {
        await s.engine.createRouter(`vr${k}`, source, { start: true });
        await s.engine.addRoutes(`vr${k}`, routesOf(k));
      }
      const buildS = (performance.now() - t0) / 1000;
      ctx.progress.step(1, 3 + runs);
      // Single changes, durable, while the journal holds everything; beside them the disk's own fsync.
      const durable: { p50: number; p99: number }[] = [await changes(s.engine, 'vr0', nChanges)];
      const disk = [fsyncLatency(dir, nChanges)];
      s.child.kill('SIGKILL');
      await s.exited;
      const recoveries: { journal: number[]; snapshot: number[]; inProcess: number[]; replayed: number[] } = { journal: [], snapshot: [], inProcess: [], replayed: [] };
      const recover = async (from: 'journal' | 'snapshot') => {
        const t = performance.now();
        s = await serveChild(dir, ['--state', state]);
        const st = await s.engine.status();
        const ms = performance.now() - t;
        if (st.routers.running !== count) throw new Error(`recovery bench: ${st.routers.running} of ${count} routers running after the restart (${JSON.stringify(st.state?.recovery?.problems.slice(0, 3))})`);
        recoveries[from].push(ms);
        recoveries.inProcess.push(st.state!.recovery!.ms);
        recoveries.replayed.push(st.state!.recovery!.replayed);
        for (let k = 0; k < count; k++) {
          const n = (await s.engine.showRoutes(`vr${k}`, { lookup: '10.0.0.1' })).count;
          if (n !== ROUTES + 1) throw new Error(`recovery bench: vr${k} holds ${n} routes after the restart, not ${ROUTES + 1}`);
        }
      };
      await recover('journal');
      ctx.progress.step(2, 3 + runs);
      for (let r = 0; r < runs; r++) {
        // Wait for the compaction the recovery scheduled (the journal folded into a snapshot), then kill -9.
        const deadline = Date.now() + 600_000;
        for (;;) {
          const st = (await s.engine.status()).state!;
          if (st.snapshotSeq === st.seq) break;
          if (Date.now() > deadline) throw new Error('recovery bench: the engine did not compact its journal within 10 minutes');
          await sleep(200);
        }
        s.child.kill('SIGKILL');
        await s.exited;
        await recover('snapshot');
        ctx.progress.step(3 + r, 3 + runs);
      }
      durable.push(await changes(s.engine, 'vr0', nChanges));
      disk.push(fsyncLatency(dir, nChanges));
      await s.close();
      // The same single changes on an engine without --state, in the same run.
      const plainDir = mkdtempSync(join(tmpdir(), 'pktgraph-bench-recovery-plain-'));
      const p = await serveChild(plainDir);
      await p.engine.createRouter('vr0', source, { start: true });
      await p.engine.addRoutes('vr0', routesOf(0));
      const plain = [await changes(p.engine, 'vr0', nChanges)];
      // Bulk: a full table as one text, without and with --state.
      const real = join(sharedFibDir, 'ipv4-full-902k.txt.gz');
      const tableSource = existsSync(real) ? 'the 902k-route IPv4 table (../shared/data/fib)' : 'a synthetic 902k-route IPv4 table';
      const full = (existsSync(real) ? readTable(real) : synthetic(32, 901_899)).split('\n').filter((l) => l.trim()).map((l) => {
        const [prefix, nh] = l.trim().split(/\s+/);
        return `${prefix} via 10.0.${Number(nh) & 255}.1 dev 0`;
      });
      const text = full.join('\n');
      const bulk = async (e: Engine) => {
        await e.createRouter('full', source, { start: true });
        const t = performance.now();
        await e.addRoutes('full', text);
        const sec = (performance.now() - t) / 1000;
        await e.deleteRouter('full');
        return full.length / sec / 1e6;
      };
      const bulkPlain: number[] = [];
      const bulkState: number[] = [];
      for (let r = 0; r < runs; r++) bulkPlain.push(await bulk(p.engine));
      await p.close();
      rmSync(plainDir, { recursive: true, force: true });
      // A fresh state directory: the same one router as without --state (the 1000 routers' worker rounds aside).
      s = await serveChild(dir, ['--state', join(dir, 'bulk-state')]);
      for (let r = 0; r < runs; r++) bulkState.push(await bulk(s.engine));
      await s.close();
      ctx.progress.step(3 + runs, 3 + runs);

      const what = `${count} routers (bench/graphs/vrouter.ts, generator at 10 packets/s) x ${ROUTES} routes (+ the default), made through the API (vr.create with start, one route.add of ${ROUTES} routes each: ${buildS.toFixed(1)} s)`;
      cases.push(
        case_(
          `recovery after kill -9, ${count} routers x ${ROUTES} routes, from the journal`,
          `${what}, serve killed with SIGKILL right after the last change was acknowledged: seconds from spawning serve on the state directory until its socket answers with all ${count} running (the last snapshot read, then the journal's changes since it replayed: extra.replayed; serve compacts at the latest 30 s after a change); extra.inProcessMs: serve's own time from reading the directory to every router back.`,
          's',
          recoveries.journal.map((x) => x / 1000),
          { routers: count, routes: ROUTES, replayed: recoveries.replayed[0], inProcessMs: Math.round(recoveries.inProcess[0]) },
          RECOVERY_TARGET,
        ),
      );
      cases.push(
        case_(
          `recovery after kill -9, ${count} routers x ${ROUTES} routes, from a snapshot`,
          `as above, serve killed after it had compacted its journal into a snapshot (${count} router files): seconds from spawning serve until its socket answers with all ${count} running, over ${runs} kills; extra.inProcessMs: the median of serve's own time.`,
          's',
          recoveries.snapshot.map((x) => x / 1000),
          { routers: count, routes: ROUTES, inProcessMs: Math.round(stats(recoveries.inProcess.slice(1)).median) },
          RECOVERY_TARGET,
        ),
      );
      const med = (xs: { p50: number; p99: number }[], k: 'p50' | 'p99') => +stats(xs.map((x) => x[k])).median.toFixed(3);
      cases.push(
        case_(
          'single route change, durable (--state)',
          `route.add then route.del of one route on a running router, one request at a time, ${nChanges} of each, through the control socket, with --state (${count} routers in the engine): each answered after its journal record is fsynced. The figure is p99 in ms over the requests of a run (runs: with the journal holding the build, and after the recoveries); extra.p50Ms its median.`,
          'ms p99',
          durable.map((d) => d.p99),
          { p50Ms: med(durable, 'p50') },
          { note: 'p99 <= 5 ms (over HTTP: bench api)', met: (ms) => ms <= 5 },
        ),
      );
      cases.push(case_('fdatasync of a 200-byte append (the disk, same run)', `a 200-byte write and fdatasync of a file in the state directory's file system, ${nChanges} times right after each run of durable changes: p99 in ms (what a durable change waits for at least); extra.p50Ms its median.`, 'ms p99', disk.map((d) => d.p99), { p50Ms: med(disk, 'p50') }));
      cases.push(case_('single route change, without --state (same run)', `the same ${nChanges} route.add and route.del on an engine without --state (nothing fsynced), one router: p99 in ms; extra.p50Ms its median.`, 'ms p99', plain.map((d) => d.p99), { p50Ms: med(plain, 'p50') }));
      cases.push(case_(`bulk route.add of a full table as text, --state`, `route.add of ${full.length} routes (${tableSource}) as one text into one running router of an engine with --state and no other router (the change kept as the router's tables in a router file, fsynced, before the answer), ${runs} runs: M routes/s.`, 'M routes/s', bulkState, { routes: full.length }, { note: '>= 1 M routes/s in bulk', met: (m) => m >= 1 }));
      cases.push(case_(`bulk route.add of a full table as text, without --state (same run)`, `the same into an engine without --state.`, 'M routes/s', bulkPlain, { routes: full.length }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return { cases, notes, settings: { routers: count, routes: ROUTES, changes: nChanges } };
  },
};
