// The startup suite: what a user waits for and what a graph costs in memory, measured on the
// whole `pktgraph` process as a user runs it (bin/pktgraph.js under /usr/bin/time: user + system
// CPU, wall time, peak resident memory), each command `--runs` times (median):
// - `pktgraph --help`, `pktgraph elements Queue`, `pktgraph compile` of a tiny graph: CPU time;
// - `pktgraph run` of the tiny graph (bench/startup/tiny.ts, 1000 packets into a pcap file): the
//   time from the command starting to its first packet (the first pcap record's timestamp, the
//   worker's wall clock, against the wall clock when the process was spawned) and peak memory;
// - the 902k-route router (bench/startup/router.ts: IPLookup reading the full table from its
//   file, 256 outputs, a default route): time until its control socket answers, time to its
//   first forwarded packet, and resident memory one second after the socket is up (steady).
// Graph files are compiled once before the timed runs (a first run fills the transpile cache, a
// private one under the suite's temporary directory), as they are for a user's second run; the
// first, uncached compile is reported beside (extra.coldCpuMs). A bare `node -e 0` is measured
// too (extra.nodeCpuMs): the part of every figure that is Node's own start.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchDir, stats, spreadWarning, type CaseResult } from '../lib.js';
import type { Suite, SuiteContext } from '../harness.js';
import { sharedFibDir } from '../routes.js';

const TIME = '/usr/bin/time';
const root = join(benchDir, '..');
const bin = join(root, 'bin', 'pktgraph.js');
const TINY = join(benchDir, 'startup', 'tiny.ts');
const ROUTER = join(benchDir, 'startup', 'router.ts');
const SHARED_V4 = 'ipv4-full-902k.txt.gz';
const MB = 1e6;

interface Measured {
  cpuMs: number;
  wallMs: number;
  peakBytes: number;
  /** Wall clock (ns since the epoch) just before the process was spawned. */
  spawnedNs: bigint;
  code: number | null;
  stderr: string;
}

const wallNs = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));

/** Run `node ARGS` under /usr/bin/time; `during` runs while it does, with the node process's pid. */
async function measure(args: string[], env: NodeJS.ProcessEnv, during?: (pid: number, spawnedNs: bigint) => Promise<void>): Promise<Measured> {
  const dir = mkdtempSync(join(tmpdir(), 'pktgraph-startup-time-'));
  const out = join(dir, 'time');
  try {
    const spawnedNs = wallNs();
    const child = spawn(TIME, ['-f', '%U %S %e %M', '-o', out, process.execPath, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const done = new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve(code));
    });
    if (during) await during(await childPid(child.pid!), spawnedNs);
    const code = await done;
    const [user, sys, wall, peakKiB] = readFileSync(out, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
    return { cpuMs: Math.round((user + sys) * 1000), wallMs: Math.round(wall * 1000), peakBytes: peakKiB * 1024, spawnedNs, code, stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The node process /usr/bin/time started (its only child). */
async function childPid(timePid: number): Promise<number> {
  for (let i = 0; i < 500; i++) {
    try {
      const kids = readFileSync(`/proc/${timePid}/task/${timePid}/children`, 'utf8').trim();
      if (kids) return Number(kids.split(' ')[0]);
    } catch {}
    await sleep(2);
  }
  throw new Error('bench startup: cannot find the process /usr/bin/time started');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** User + system CPU time a process has used so far, ms (/proc ticks are 1/100 s on Linux). */
function cpuMsOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Milliseconds from `since` to the first record of a pcap file (either timestamp resolution). */
function firstPacketMs(pcap: string, since: bigint): number {
  const b = readFileSync(pcap);
  if (b.length < 24 + 16) return NaN;
  const nano = b.readUInt32LE(0) === 0xa1b23c4d;
  const t = BigInt(b.readUInt32LE(24)) * 1_000_000_000n + BigInt(b.readUInt32LE(28)) * (nano ? 1n : 1000n);
  return Number(t - since) / 1e6;
}

/** Connect to a Unix socket until it answers; ms from `since`, or NaN if the process ended first. */
async function socketUpMs(path: string, since: bigint, alive: () => boolean): Promise<number> {
  for (;;) {
    if (!alive()) return NaN;
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(path);
      s.on('connect', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) return Number(wallNs() - since) / 1e6;
    await sleep(5);
  }
}

function check(m: Measured, what: string) {
  if (m.code !== 0) throw new Error(`bench startup: ${what} failed (exit ${m.code}): ${m.stderr.trim().split('\n').slice(-3).join(' ')}`);
}

interface Figure {
  name: string;
  description: string;
  unit: string;
  values: number[];
  digits?: number;
  target?: { max: number; note: string };
  extra?: Record<string, number | string>;
}

function caseOf(f: Figure): CaseResult {
  const st = stats(f.values);
  const warnings: string[] = [];
  const w = spreadWarning(f.name, st, f.unit, f.digits ?? 1);
  if (w) warnings.push(w);
  const c: CaseResult = { suite: 'startup', name: f.name, description: f.description, threads: 0, frameBytes: 0, mpps: st, warnings, extra: { unit: f.unit, ...(f.extra ?? {}) } };
  if (f.target) {
    c.target = { note: f.target.note };
    c.met = st.median <= f.target.max;
  }
  return c;
}

const median = (xs: number[]) => stats(xs).median;
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

export const startupSuite: Suite = {
  description: 'whole-process start-up time and memory of the command line, a tiny graph and the 902k router',
  defaultRuns: 5,
  run: async (ctx) => ({ cases: await runStartup(ctx) }),
};

async function runStartup(ctx: SuiteContext): Promise<CaseResult[]> {
  if (!existsSync(TIME)) throw new Error(`bench startup: ${TIME} is needed (Debian package 'time')`);
  if (!existsSync(join(root, 'dist', 'bundle', 'main.js'))) throw new Error('bench startup: the command line is not built: run `npm run build`');
  const work = mkdtempSync(join(tmpdir(), 'pktgraph-startup-'));
  const env = { ...process.env, PKTGRAPH_CACHE_DIR: join(work, 'cache') };
  const runs = ctx.runs;
  const given = ctx.options.other.routes;
  const table = given ?? join(sharedFibDir, SHARED_V4);
  const haveTable = existsSync(table);
  const cases: CaseResult[] = [];
  const steps = 5 + (haveTable ? 1 : 0);
  ctx.progress.plan(steps);
  try {
    ctx.progress.startCase(0, 'node -e 0');
    const node: number[] = [];
    for (let r = 0; r < runs; r++) node.push((await measure(['-e', '0'], env)).cpuMs);
    const nodeCpuMs = round(median(node), 0);

    const cli = async (i: number, name: string, args: string[], description: string, extra: Record<string, number | string> = {}) => {
      ctx.progress.startCase(i, name);
      const ms: Measured[] = [];
      for (let r = 0; r < runs; r++) {
        ctx.progress.step(r + 1, runs);
        const m = await measure([bin, ...args], env);
        check(m, name);
        ms.push(m);
      }
      cases.push(caseOf({
        name,
        description: `${description} Whole process (/usr/bin/time): user + system CPU; a bare \`node -e 0\` takes ${nodeCpuMs} ms of it here.`,
        unit: 'ms CPU',
        values: ms.map((m) => m.cpuMs),
        target: { max: 150, note: '<= 150 ms CPU' },
        extra: { wallMs: round(median(ms.map((m) => m.wallMs)), 0), peakRssMB: round(median(ms.map((m) => m.peakBytes)) / MB), nodeCpuMs, ...extra },
      }));
    };
    await cli(1, 'pktgraph --help', ['--help'], 'The usage text.');
    await cli(2, 'pktgraph elements Queue', ['elements', 'Queue'], "One element's documentation, from its descriptor.");
    // The first compile fills the transpile cache: timed once, reported beside.
    const cold = await measure([bin, 'compile', TINY], env);
    check(cold, 'compile (cold)');
    await cli(3, 'pktgraph compile (tiny graph)', ['compile', TINY], 'The plan of bench/startup/tiny.ts (InfiniteSource -> ToPcap), its TypeScript already compiled once (the transpile cache).', { coldCpuMs: round(cold.cpuMs, 0) });

    ctx.progress.startCase(4, 'pktgraph run (tiny graph)');
    const tiny: { m: Measured; first: number }[] = [];
    for (let r = 0; r < runs; r++) {
      ctx.progress.step(r + 1, runs);
      const pcap = join(work, `tiny-${r}.pcap`);
      const m = await measure([bin, 'run', TINY, '--json', '--threads', '1', '--no-control', '-p', `pcap=${pcap}`], env);
      check(m, 'run (tiny graph)');
      tiny.push({ m, first: firstPacketMs(pcap, m.spawnedNs) });
    }
    const tinyExtra = { cpuMs: round(median(tiny.map((t) => t.m.cpuMs)), 0), wallMs: round(median(tiny.map((t) => t.m.wallMs)), 0) };
    const tinyWhat = '`pktgraph run bench/startup/tiny.ts --json --threads 1 --no-control` (1000 generated 64-byte packets into a pcap file; default packet pool)';
    cases.push(caseOf({
      name: 'tiny graph: first packet',
      description: `${tinyWhat}: milliseconds from spawning the command to the first packet's pcap timestamp (the worker's wall clock).`,
      unit: 'ms',
      values: tiny.map((t) => t.first),
      target: { max: 400, note: '<= 400 ms from the command starting' },
      extra: tinyExtra,
    }));
    cases.push(caseOf({
      name: 'tiny graph: peak RSS',
      description: `${tinyWhat}: the whole process's peak resident memory (/usr/bin/time %M), in MB (10^6 bytes).`,
      unit: 'MB',
      values: tiny.map((t) => t.m.peakBytes / MB),
      target: { max: 80, note: '<= 80 MB' },
      extra: tinyExtra,
    }));

    if (haveTable) {
      ctx.progress.startCase(5, 'router, 902k routes');
      const rows: { m: Measured; socket: number; socketCpu: number; first: number; steady: number }[] = [];
      for (let r = 0; r < runs; r++) {
        ctx.progress.step(r + 1, runs);
        const pcap = join(work, `router-${r}.pcap`);
        const sock = join(work, `router-${r}.sock`);
        let socket = NaN;
        let socketCpu = NaN;
        let steady = NaN;
        let running = true;
        const m = await measure(
          [bin, 'run', ROUTER, '--json', '--threads', '1', '--keep-running', '--duration', '2.5', '--control', sock, '-p', `routes=${table}`, '-p', `pcap=${pcap}`],
          env,
          async (pid, spawnedNs) => {
            const alive = () => running && existsSync(`/proc/${pid}`);
            socket = await socketUpMs(sock, spawnedNs, alive);
            try {
              socketCpu = cpuMsOf(pid);
            } catch {}
            await sleep(1000);
            try {
              steady = rssBytes(pid);
            } catch {}
          },
        );
        running = false;
        check(m, 'run (router)');
        rows.push({ m, socket, socketCpu, first: firstPacketMs(pcap, m.spawnedNs), steady });
      }
      const what = `\`pktgraph run bench/startup/router.ts --threads 1 --keep-running --duration 2.5 --control SOCK -p routes=${given ? given : `../shared/data/fib/${SHARED_V4}`}\`: IPLookup reads the table from its file (natively, gzip) with 256 outputs and a default route; 1000 generated packets are routed into a pcap file`;
      const extra = { peakRssMB: round(median(rows.map((x) => x.m.peakBytes)) / MB), cpuMs: round(median(rows.map((x) => x.m.cpuMs)), 0) };
      cases.push(caseOf({
        name: 'router 902k: control socket up',
        description: `${what}: seconds from spawning the command until its control socket accepts a connection; extra.cpuMsToSocket is the CPU time the process had used by then (what the wall time would be on an idle core).`,
        unit: 's',
        digits: 2,
        values: rows.map((x) => x.socket / 1000),
        target: { max: 1.5, note: '<= 1.5 s' },
        extra: { ...extra, cpuMsToSocket: round(median(rows.map((x) => x.socketCpu)), 0) },
      }));
      cases.push(caseOf({ name: 'router 902k: first forwarded packet', description: `${what}: seconds from spawning the command to the first routed packet's pcap timestamp.`, unit: 's', digits: 2, values: rows.map((x) => x.first / 1000), extra }));
      cases.push(caseOf({ name: 'router 902k: steady RSS', description: `${what}: the process's resident memory (VmRSS) one second after the control socket came up, in MB (10^6 bytes); extra.peakRssMB is its peak.`, unit: 'MB', values: rows.map((x) => x.steady / MB), target: { max: 120, note: '<= 120 MB' }, extra }));
    } else {
      cases.push({ suite: 'startup', name: 'router 902k: control socket up', description: 'the 902k-route router', threads: 0, frameBytes: 0, status: 'skipped', reason: `no table: ${table} not found (give one with --routes FILE)`, warnings: [] });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return cases;
}
