// The interfaces suite: forwarding between real (virtual) interfaces, RFC 2544 style, with the
// engine side by side with the Linux kernel (and Click's userlevel driver when there is a `click`
// binary) on the same topology in the same run. Needs root.
//
//   gen namespace ──veth── root namespace (the device under test) ──veth── sink namespace
//   (generator)      0a  0b   engine / Linux bridge / Linux IP forwarding / Click   1b  1a  (counted)
//
// Two groups of cases, each at every frame size (64, 128, 256, 512, 1024, 1280, 1518 B, FCS
// included; --sizes to choose):
// - bridge: the engine's FromDevice -> ToDevice (one worker; at 64 B also two workers with
//   PACKET_FANOUT), a Linux bridge, Click's FromDevice -> Queue -> ToDevice (bench/click/bridge.click);
// - router: the engine's IPv4 router (FromDevice -> Strip -> CheckIPHeader -> IPLookup -> DecIPTTL
//   -> EtherEncap to SINK_DISCARD_MAC -> ToDevice), Linux IPv4 forwarding, Click's equivalent
//   (bench/click/router.click).
//
// Offered load: netsniff-ng's trafgen on one CPU (installed with apt-get when missing; else the
// engine's FlowSource -> ToDevice in a separate node process in the gen namespace, and the results
// say so). Frames are IPv4/UDP 198.18.0.x -> 198.19.0.3, many flows (trafgen: 256 UDP source
// ports, checksum 0; the engine's generator: 252 source addresses). Offered
// packets are the gen interface's kernel counters (tx_packets + tx_dropped), delivered ones the sink
// interface's rx_packets. A trial sends for a fixed time, waits for the path to drain, and passes
// when delivered >= offered.
//
// Per case and run: a trial at the generator's full rate, then the zero-loss search
// (bench/search.ts: binary search between 0 and the full rate, first guess the rate delivered at
// full load, short trials), then a longer confirming trial at the rate found (stepping down while
// it loses). --runs runs per case (default 3), the median reported. Then, at the median rate, the
// latency: the engine's generator in gen stamps each frame (TimestampStamp) and a separate engine
// process in sink (bench/suites/latency-sink.ts: FromDevice -> LatencyMeter) records the delay from
// the stamp to the sink's kernel receive time; p50/p99/p99.9/max.
//
// veth has no line rate, so there is no theoretical limit (the results say so); --line-rate GBPS
// computes one for a real link. The engine's CPU time per forwarded packet comes from the
// workers' cpuNs (user + system) in the full-load trial. The lab is torn down on every exit path
// (SIGINT too), with the root-namespace changes (bridge, addresses, per-interface forwarding).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, delimiter } from 'node:path';
import { fileURLToPath } from 'node:url';
import { graph, compile, Runtime, FromDevice, ToDevice, Strip, CheckIPHeader, IPLookup, DecIPTTL, EtherEncap, createLab, labAvailable, type Lab, type RunningGraph } from 'pktgraph';
import { stats, spreadWarning, gbitPerSecond, lineRateMpps, type CaseResult, type Comparison, type Latency } from '../lib.js';
import { zeroLossSearch, type SearchResult } from '../search.js';
import type { Progress } from '../progress.js';
import type { Suite, SuiteContext, BenchOptions } from '../harness.js';

const DRAIN_MS = 300;
const DST_IP = [198, 19, 0, 3];
const SRC_IP = [198, 18, 0, 1];
const ALL_SIZES = [64, 128, 256, 512, 1024, 1280, 1518];
/** The engine router's (and Click router's) MAC on the gen side: not the veth's own, so the root
 * namespace's kernel drops the frames as not-for-this-host instead of routing them too. */
const ROUTER_MAC = '02:50:47:00:00:fe';
/** Where every case's forwarded frames are addressed on the sink's link: not the sink's own MAC,
 * so the sink's kernel counts each frame (rx_packets) and drops it at once as not-for-this-host.
 * On veth, a transmit runs the receiver's path in the sender's thread: addressed to the sink
 * itself, its IP stack's work (300-450 ns a frame) would be charged to the forwarder, engine and
 * kernel alike (docs/interfaces-performance.md). */
const SINK_DISCARD_MAC = '02:50:47:00:00:5d';
const CPU_TARGET_NS = 500;
const SCALING_TARGET = 1.7;
const benchRoot = dirname(dirname(fileURLToPath(import.meta.url)));

interface Settings {
  sizes: number[];
  runs: number;
  steps: number;
  trialS: number;
  confirmS: number;
  fullS: number;
  latencyS: number;
  ring?: { blocks: number; blockSize: number };
  forceEngineGen: boolean;
  click?: string;
  clickReason?: string;
  lineRate?: number;
  latency: boolean;
  groups: Set<string>;
}

function settingsFrom(ctx: SuiteContext): Settings {
  const o: BenchOptions = ctx.options;
  let ring: Settings['ring'];
  if (o.other.ring) {
    const m = /^(\d+)x(\d+)$/.exec(o.other.ring);
    if (!m) throw new Error('bench interfaces: --ring takes BLOCKSxBYTES, e.g. 256x65536');
    ring = { blocks: Number(m[1]), blockSize: Number(m[2]) };
  }
  const groups = new Set((o.other.cases ?? 'bridge,router,scaling').split(',').map((s) => s.trim()));
  for (const g of groups) if (!['bridge', 'router', 'scaling'].includes(g)) throw new Error(`bench interfaces: --cases takes bridge, router and scaling (got '${g}')`);
  const click = findClick(o.click);
  return {
    sizes: o.sizes ?? (o.quick ? [64] : ALL_SIZES),
    runs: ctx.runs,
    steps: o.quick ? 4 : 7,
    trialS: o.trial ?? (o.quick ? 0.5 : 1),
    confirmS: o.confirm ?? (o.quick ? 1 : 3),
    fullS: o.quick ? 1 : 2,
    latencyS: o.quick ? 1 : 3,
    ring,
    forceEngineGen: o.other.generator === 'engine',
    click: click.path,
    clickReason: click.reason,
    lineRate: o.lineRate,
    latency: !o.noLatency,
    groups,
  };
}

/** --click PATH, else `click` on PATH; undefined with the reason when there is none. */
function findClick(given: string | undefined): { path?: string; reason?: string } {
  if (given) return existsSync(given) ? { path: given } : { reason: `--click ${given}: no such file` };
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, 'click');
    if (dir && existsSync(p)) return { path: p };
  }
  return { reason: 'no click binary (none on PATH; give one with --click PATH)' };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function sh(cmd: string, args: string[], what: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
  if (r.error || r.status !== 0) throw new Error(`interfaces bench: ${what}: \`${cmd} ${args.join(' ')}\` failed: ${(r.stderr || r.error?.message || '').trim()}`);
  return r.stdout;
}

function macOf(ns: string | undefined, dev: string): string {
  const out = sh('ip', [...(ns ? ['-n', ns] : []), '-j', 'link', 'show', 'dev', dev], `MAC of ${dev}`);
  return (JSON.parse(out) as { address: string }[])[0].address;
}

/** Kernel counters of one interface inside a namespace (one process for all of them). */
function counters(ns: string, dev: string, names: string[]): number[] {
  const out = sh('ip', ['netns', 'exec', ns, 'cat', ...names.map((n) => `/sys/class/net/${dev}/statistics/${n}`)], `counters of ${dev}`);
  return out.trim().split(/\s+/).map(Number);
}

/**
 * User and system CPU ticks of this process's engine worker threads (named pktgraph-w<i>), from
 * /proc: the system share is time in the kernel (sendmmsg, and the veth transmit and the sink's
 * receive processing it runs inline), which workerStats' cpuNs counts together with user time.
 */
function workerTicks(): { user: number; sys: number } {
  let user = 0;
  let sys = 0;
  try {
    for (const t of readdirSync('/proc/self/task')) {
      try {
        const stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
        const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        if (!comm.startsWith('pktgraph-w')) continue;
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        user += Number(f[11]);
        sys += Number(f[12]);
      } catch {}
    }
  } catch {}
  return { user, sys };
}

// ---- the generator ----

interface Generator {
  kind: 'trafgen' | 'engine';
  note: string;
  /**
   * Send frames of `size` bytes to `dstMac` at `pps` (0: as fast as possible) for `seconds`.
   * Resolves to the seconds the generator itself measured sending, when it reports them (the
   * engine's generator does; its process start-up must not count as sending time).
   */
  send(size: number, dstMac: string, pps: number, seconds: number): Promise<number | undefined>;
  /** The engine's generator with a TimestampStamp (latency trials), whatever `kind` is. */
  sendStamped(size: number, dstMac: string, pps: number, seconds: number): Promise<number | undefined>;
}

function hasTrafgen(): boolean {
  // `trafgen -v` prints its version and exits 1.
  const r = spawnSync('trafgen', ['-v'], { encoding: 'utf8', timeout: 5000 });
  return !r.error && /trafgen \d/.test(r.stdout ?? '');
}

/** trafgen if present (installing netsniff-ng with apt-get if not), else the engine's FlowSource. */
function chooseGenerator(progress: Progress, forceEngineGen: boolean): { kind: 'trafgen' | 'engine'; note: string } {
  if (forceEngineGen) return { kind: 'engine', note: 'the engine\'s FlowSource -> ToDevice in a separate node process in gen (--generator engine given)' };
  if (hasTrafgen()) return { kind: 'trafgen', note: 'netsniff-ng trafgen, one CPU (-P 1), qdisc bypass' };
  progress.note('trafgen is missing: installing netsniff-ng with apt-get');
  console.error('interfaces bench: trafgen is missing: installing the Debian package netsniff-ng with apt-get');
  const r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'netsniff-ng'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (hasTrafgen()) return { kind: 'trafgen', note: 'netsniff-ng trafgen (installed by this run with apt-get), one CPU (-P 1), qdisc bypass' };
  const why = (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').pop();
  console.error(`interfaces bench: could not install netsniff-ng (${why}); falling back to the engine's own FlowSource -> ToDevice in a separate node process in the gen namespace`);
  return { kind: 'engine', note: `the engine's FlowSource -> ToDevice in a separate node process in gen (trafgen could not be installed: ${why})` };
}

/** A trafgen packet description: Ethernet, IPv4 (checksum computed here), UDP with source ports 1024-1279. */
function trafgenConfig(size: number, dstMac: string): string {
  const l2 = size - 4; // FCS not sent on a veth
  const ipLen = l2 - 14;
  const ip = [0x45, 0, ipLen >> 8, ipLen & 255, 0, 0, 0, 0, 64, 17, 0, 0, ...SRC_IP, ...DST_IP];
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (ip[i] << 8) | ip[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  const csum = ~sum & 0xffff;
  ip[10] = csum >> 8;
  ip[11] = csum & 255;
  const hex = (b: number) => `0x${b.toString(16).padStart(2, '0')}`;
  const mac = dstMac.split(':').map((h) => `0x${h}`);
  const udpLen = ipLen - 20;
  const bytes = [
    ...mac,
    ...[2, 0, 0, 0, 0, 1].map(hex),
    '0x08', '0x00',
    ...ip.map(hex),
    '0x04', 'dinc(0, 255)', '0x00', '0x09', hex(udpLen >> 8), hex(udpLen & 255), '0x00', '0x00',
    `fill(0x00, ${udpLen - 8})`,
  ];
  return `{ ${bytes.join(', ')} }\n`;
}

function makeGenerator(lab: Lab, genIf: string, choice: { kind: 'trafgen' | 'engine'; note: string }, tmp: string): Generator {
  const waitExit = (child: ChildProcess, limitMs: number) =>
    new Promise<void>((resolve) => {
      let stderr = '';
      child.stderr?.on('data', (d) => (stderr += d));
      // trafgen forks its sending processes: signal the whole process group (spawned detached).
      const kill = (sig: NodeJS.Signals) => {
        try {
          if (child.pid) process.kill(-child.pid, sig);
        } catch {}
      };
      const timer = setTimeout(() => kill('SIGINT'), limitMs);
      const hard = setTimeout(() => kill('SIGKILL'), limitMs + 3000);
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        clearTimeout(hard);
        kill('SIGKILL'); // anything of the group still running (never expected)
        if (code && code !== 0 && signal === null && !/socket memory/.test(stderr)) console.error(`interfaces bench: generator exited ${code}: ${stderr.trim().slice(0, 400)}`);
        resolve();
      });
    });
  const trafgen = {
      ...choice,
      async send(size: number, dstMac: string, pps: number, seconds: number) {
        const cfg = join(tmp, `tg-${size}-${dstMac.replace(/:/g, '')}.cfg`);
        writeFileSync(cfg, trafgenConfig(size, dstMac));
        const args = ['trafgen', '-o', genIf, '-i', cfg, '-P', '1', '--no-sock-mem', '-q', '-C'];
        if (pps > 0) args.push('-b', `${Math.max(1, Math.round(pps))}pps`, '-n', String(Math.max(1, Math.round(pps * seconds))));
        const child = lab.spawn('gen', args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
        // At full load trafgen runs until interrupted; at a set rate it stops after its count, or
        // is cut off when it cannot keep the rate (the offered rate is measured, not assumed).
        await waitExit(child, pps > 0 ? seconds * 1000 * 1.25 + 200 : seconds * 1000);
        return undefined;
      },
    };
  const engineGen = (stamp: boolean) => async (size: number, dstMac: string, pps: number, seconds: number) => {
    const script = join(benchRoot, 'suites', 'interfaces-gen.ts');
    const child = lab.spawn('gen', [process.execPath, '--import', 'tsx', script, genIf, dstMac, String(size), String(Math.round(pps)), String(seconds), ...(stamp ? ['198.19.0.3', '--stamp'] : [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      cwd: dirname(benchRoot),
    });
    let out = '';
    child.stdout?.on('data', (d) => (out += d));
    // Start-up (node, tsx, compiling the graph) can take seconds on a busy machine: allow for it.
    await waitExit(child, seconds * 1000 * 1.25 + 15000);
    try {
      const r = JSON.parse(out.trim().split('\n').pop() ?? '') as { seconds?: number };
      return typeof r.seconds === 'number' && r.seconds > 0 ? r.seconds : undefined;
    } catch {
      return undefined;
    }
  };
  if (choice.kind === 'trafgen') return { ...trafgen, sendStamped: engineGen(true) };
  return { ...choice, send: engineGen(false), sendStamped: engineGen(true) };
}

// ---- trials and the search ----

interface Trial {
  offered: number;
  delivered: number;
  seconds: number;
  offeredPps: number;
  deliveredPps: number;
  /** Engine only: worker CPU ns and frames the engine sent during the trial. */
  cpuNs?: number;
  forwarded?: number;
  /** Engine only: share of the workers' CPU time spent in the kernel (from /proc ticks). */
  sysShare?: number;
}

interface Dut {
  name: string;
  /** CPU ns of the engine's workers and frames forwarded so far (engine cases only). */
  engineSnapshot?: () => { cpuNs: number; forwarded: number; user: number; sys: number; userNs?: number; sysNs?: number };
}

interface Env {
  lab: Lab;
  gen: Generator;
  genNs: string;
  sinkNs: string;
  genIf: string;
  sinkIf: string;
}

async function trial(env: Env, dut: Dut, size: number, dstMac: string, pps: number, seconds: number): Promise<Trial> {
  const [tx0, txd0] = counters(env.genNs, env.genIf, ['tx_packets', 'tx_dropped']);
  const [rx0] = counters(env.sinkNs, env.sinkIf, ['rx_packets']);
  const e0 = dut.engineSnapshot?.();
  const t0 = process.hrtime.bigint();
  const sending = await env.gen.send(size, dstMac, pps, seconds);
  const wall = sending ?? Number(process.hrtime.bigint() - t0) / 1e9;
  await sleep(DRAIN_MS);
  const [tx1, txd1] = counters(env.genNs, env.genIf, ['tx_packets', 'tx_dropped']);
  const [rx1] = counters(env.sinkNs, env.sinkIf, ['rx_packets']);
  const e1 = dut.engineSnapshot?.();
  const offered = tx1 - tx0 + (txd1 - txd0);
  const delivered = rx1 - rx0;
  const t: Trial = { offered, delivered, seconds: wall, offeredPps: offered / wall, deliveredPps: delivered / wall };
  if (e0 && e1) {
    t.cpuNs = e1.cpuNs - e0.cpuNs;
    t.forwarded = e1.forwarded - e0.forwarded;
    // The engine's own user/system split when workerStats has it, else /proc's per-thread ticks.
    const ns = e0.userNs !== undefined && e1.userNs !== undefined && e0.sysNs !== undefined && e1.sysNs !== undefined ? [e1.userNs - e0.userNs, e1.sysNs - e0.sysNs] : undefined;
    if (ns && ns[0] + ns[1] > 0) t.sysShare = ns[1] / (ns[0] + ns[1]);
    else {
      const ticks = e1.user - e0.user + (e1.sys - e0.sys);
      if (ticks > 0) t.sysShare = (e1.sys - e0.sys) / ticks;
    }
  }
  return t;
}

const pass = (t: Trial) => t.offered > 0 && t.delivered >= t.offered;

interface RunMeasure {
  zeroLossPps: number;
  full: Trial;
  confirm?: Trial;
  search: SearchResult;
}

/** One full RFC 2544 measurement: full-load trial, search, confirming trial. */
async function measureRun(env: Env, dut: Dut, size: number, dstMac: string, s: Settings, step: (detail: string) => void): Promise<RunMeasure> {
  step('full offered load');
  const full = await trial(env, dut, size, dstMac, 0, s.fullS);
  if (full.offered === 0) throw new Error('the generator sent nothing in the full-load trial');
  let lastConfirm: Trial | undefined;
  let n = 0;
  const search = await zeroLossSearch(
    async (pps) => {
      step(`search trial ${++n} at ${(pps / 1e6).toFixed(3)} Mpps`);
      const t = await trial(env, dut, size, dstMac, pps, s.trialS);
      if (process.env.PG_IF_DEBUG) console.error(JSON.stringify({ pps, ...t }));
      return { pass: pass(t), offeredPps: t.offeredPps };
    },
    {
      min: 0,
      max: full.offeredPps,
      maxOutcome: { pass: pass(full), offeredPps: full.offeredPps },
      guess: Math.min(full.deliveredPps, full.offeredPps * 0.99),
      steps: s.steps,
      confirm: async (pps) => {
        step(`confirming ${(pps / 1e6).toFixed(3)} Mpps for ${s.confirmS} s`);
        // At (or above) the generator's full rate: confirm at full load, not at a set rate.
        const t = await trial(env, dut, size, dstMac, pps >= full.offeredPps * 0.999 ? 0 : pps, s.confirmS);
        lastConfirm = t;
        return { pass: pass(t), offeredPps: t.offeredPps };
      },
    },
  );
  return { zeroLossPps: search.pps, full, confirm: lastConfirm, search };
}

/** Latency at `pps`: stamped frames from the engine's generator, recorded by an engine in sink. */
async function measureLatency(env: Env, size: number, dstMac: string, pps: number, seconds: number): Promise<Latency> {
  const script = join(benchRoot, 'suites', 'latency-sink.ts');
  const sink = env.lab.spawn('sink', [process.execPath, '--import', 'tsx', script, env.sinkIf, String(seconds + 30)], { stdio: ['ignore', 'pipe', 'pipe'], cwd: dirname(benchRoot) });
  let out = '';
  let err = '';
  sink.stdout!.on('data', (d) => (out += d));
  sink.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<void>((r) => sink.on('exit', () => r()));
  try {
    const t0 = Date.now();
    while (!out.includes('ready')) {
      if (sink.exitCode !== null || Date.now() - t0 > 20_000) throw new Error(`the latency sink did not start: ${err.trim().slice(0, 300)}`);
      await sleep(50);
    }
    const [tx0, txd0] = counters(env.genNs, env.genIf, ['tx_packets', 'tx_dropped']);
    const w0 = process.hrtime.bigint();
    const sending = await env.gen.sendStamped(size, dstMac, pps, seconds);
    const wall = sending ?? Number(process.hrtime.bigint() - w0) / 1e9;
    await sleep(DRAIN_MS);
    const [tx1, txd1] = counters(env.genNs, env.genIf, ['tx_packets', 'tx_dropped']);
    sink.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000)]);
    const line = out.split('\n').find((l) => l.startsWith('{'));
    if (!line) throw new Error(`the latency sink printed no result: ${err.trim().slice(0, 300)}`);
    const r = JSON.parse(line) as { count: number; p50: number; p99: number; p999: number; max: number };
    if (!r.count) throw new Error('no stamped frame reached the sink');
    return {
      p50Us: r.p50 / 1000,
      p99Us: r.p99 / 1000,
      p999Us: r.p999 / 1000,
      maxUs: r.max / 1000,
      samples: r.count,
      atMpps: (tx1 - tx0 + (txd1 - txd0)) / wall / 1e6,
      method:
        "the engine's FlowSource -> TimestampStamp (CLOCK_MONOTONIC in the UDP payload) -> ToDevice in gen at the case's zero-loss rate; an engine in sink, FromDevice -> LatencyMeter, delay = the sink kernel's receive time - the stamp (log-linear histogram, +-3%)",
    };
  } finally {
    if (sink.exitCode === null) sink.kill('SIGKILL');
  }
}

// ---- the devices under test ----

interface CaseSpec {
  key: string;
  group: 'bridge' | 'router';
  forwarder: 'engine' | 'kernel' | 'click';
  name: string;
  description: string;
  threads: number;
  /** Only at 64 B (the scaling case). */
  only64?: boolean;
  /** Frames addressed to: SINK_DISCARD_MAC (L2), the ingress veth's MAC (kernel router) or ROUTER_MAC. */
  dst: 'sink' | 'ingress' | 'router';
  setUp: (env: Env, a: string, b: string) => { dut: Dut; teardown: () => void } | Promise<{ dut: Dut; teardown: () => void }>;
}

/** An engine graph forwarding a -> b in this process, with its CPU and forwarded counts. */
function engineDut(name: string, threads: number, build: () => void, sentBy: string[]): { dut: Dut; teardown: () => void } {
  const rt = new Runtime({ threads, poolBuffers: 16384 });
  let g: RunningGraph;
  try {
    g = rt.load(compile(graph(`bench-${name.replace(/\W+/g, '-')}`, build)));
    rt.start();
  } catch (e) {
    rt.close();
    throw e;
  }
  const running = g;
  const forwarded = () => sentBy.reduce((n, el) => n + Number(running.counter(el, 'packets')), 0);
  return {
    dut: {
      name,
      engineSnapshot: () => {
        // userNs/sysNs: present in newer engines' workerStats; used when there.
        const ws = rt.workerStats() as { cpuNs: number; userNs?: number; sysNs?: number }[];
        const split = ws.every((w) => typeof w.userNs === 'number' && typeof w.sysNs === 'number');
        return {
          cpuNs: ws.reduce((s, w) => s + w.cpuNs, 0),
          forwarded: forwarded(),
          ...workerTicks(),
          ...(split ? { userNs: ws.reduce((s, w) => s + w.userNs!, 0), sysNs: ws.reduce((s, w) => s + w.sysNs!, 0) } : {}),
        };
      },
    },
    teardown: () => {
      try {
        rt.stop();
        const c = running.allCounters();
        const drops = Object.entries(c).flatMap(([el, cs]) => Object.entries(cs).filter(([k, v]) => v > 0n && /drops|pool_empty|ring_errors/.test(k)).map(([k, v]) => `${el}.${k}=${v}`));
        if (drops.length) console.error(`\ninterfaces bench: ${name}: counters: ${drops.join(', ')}`);
        running.remove();
      } finally {
        rt.close();
      }
    },
  };
}

function engineBridge(threads: number, s: Settings): CaseSpec['setUp'] {
  return (_env, a, b) => {
    const fanout = 1000 + Math.floor(Math.random() * 60000);
    return engineDut(
      `engine bridge, ${threads} worker(s)`,
      threads,
      () => {
        for (let i = 0; i < threads; i++)
          FromDevice({ device: a, burst: 64, ...(s.ring ?? {}), ...(threads > 1 ? { fanout } : {}) }, { name: `rx${i}`, thread: i }).to(ToDevice({ device: b, qdiscBypass: true }, `tx${i}`));
      },
      Array.from({ length: threads }, (_, i) => `tx${i}`),
    );
  };
}

function engineRouter(s: Settings): CaseSpec['setUp'] {
  return (env, a, b) => {
    const sinkMac = SINK_DISCARD_MAC;
    const ownMac = macOf(undefined, b);
    return engineDut(
      'engine IPv4 router, 1 worker',
      1,
      () => {
        const rt = IPLookup({ routes: ['198.19.0.0/24 0'] }, 'rt');
        FromDevice({ device: a, burst: 64, ...(s.ring ?? {}) }, { name: 'rx', thread: 0 }).to(Strip({ length: 14 }, 'strip')).to(CheckIPHeader({}, 'check')).to(rt);
        rt.out(0)
          .to(DecIPTTL({}, 'ttl'))
          .to(EtherEncap({ type: 0x0800, src: ownMac, dst: sinkMac }, 'encap'))
          .to(ToDevice({ device: b, qdiscBypass: true }, 'tx'));
      },
      ['tx'],
    );
  };
}

/** Click's userlevel driver on bench/click/NAME.click with the given definitions, in the root namespace. */
function clickDut(s: Settings, config: string, defs: (env: Env, a: string, b: string) => Record<string, string>): CaseSpec['setUp'] {
  return async (env, a, b) => {
    const file = join(benchRoot, 'click', config);
    const args = [...Object.entries(defs(env, a, b)).map(([k, v]) => `${k}=${v}`), file];
    const child: ChildProcess = spawn(s.click!, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    let spawnError: Error | undefined;
    child.on('error', (e) => (spawnError = e));
    await sleep(1500);
    if (spawnError) throw new Error(`could not run ${s.click}: ${spawnError.message}`);
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${s.click} exited at start (${child.exitCode !== null ? `exit ${child.exitCode}` : child.signalCode})${err.trim() ? `: ${err.trim().slice(0, 300)}` : ''}`);
    return {
      dut: { name: `Click (${config})` },
      teardown: () => {
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {}
      },
    };
  };
}

const kernelBridge: CaseSpec['setUp'] = (env, a, b) => {
  const br = `${env.lab.prefix}br`;
  const teardown = () => {
    spawnSync('ip', ['link', 'set', a, 'nomaster'], { stdio: 'ignore' });
    spawnSync('ip', ['link', 'set', b, 'nomaster'], { stdio: 'ignore' });
    spawnSync('ip', ['link', 'del', br], { stdio: 'ignore' });
  };
  try {
    sh('ip', ['link', 'add', br, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0'], 'kernel bridge');
    spawnSync('sysctl', ['-qw', `net.ipv6.conf.${br}.disable_ipv6=1`], { stdio: 'ignore' });
    sh('ip', ['link', 'set', a, 'master', br], 'kernel bridge');
    sh('ip', ['link', 'set', b, 'master', br], 'kernel bridge');
    sh('ip', ['link', 'set', br, 'up'], 'kernel bridge');
  } catch (e) {
    teardown();
    throw e;
  }
  return { dut: { name: 'Linux bridge' }, teardown };
};

const kernelForwarding: CaseSpec['setUp'] = (env, a, b) => {
  const dst = DST_IP.join('.');
  const sinkMac = SINK_DISCARD_MAC;
  const teardown = () => {
    for (const d of [a, b]) {
      spawnSync('sysctl', ['-qw', `net.ipv4.conf.${d}.forwarding=0`], { stdio: 'ignore' });
      spawnSync('ip', ['addr', 'flush', 'dev', d], { stdio: 'ignore' });
    }
    spawnSync('ip', ['neigh', 'del', dst, 'dev', b], { stdio: 'ignore' });
  };
  try {
    // Forwarding is switched on for the lab's two interfaces only (the kernel checks the
    // ingress interface's flag), not for the whole root namespace.
    sh('ip', ['addr', 'add', '198.18.0.254/24', 'dev', a], 'kernel forwarding');
    sh('ip', ['addr', 'add', '198.19.0.254/24', 'dev', b], 'kernel forwarding');
    sh('sysctl', ['-qw', `net.ipv4.conf.${a}.forwarding=1`], 'kernel forwarding');
    sh('sysctl', ['-qw', `net.ipv4.conf.${b}.forwarding=1`], 'kernel forwarding');
    // The destination is a neighbour on the sink's link (a permanent entry with SINK_DISCARD_MAC):
    // the sink counts the frames and drops them as not-for-this-host, so no replies.
    sh('ip', ['neigh', 'replace', dst, 'lladdr', sinkMac, 'dev', b, 'nud', 'permanent'], 'kernel forwarding');
  } catch (e) {
    teardown();
    throw e;
  }
  return { dut: { name: 'Linux IP forwarding' }, teardown };
};

function caseSpecs(s: Settings): CaseSpec[] {
  const ringNote = s.ring ? `${s.ring.blocks} blocks of ${s.ring.blockSize} B (--ring)` : 'the default ring (256 blocks of 64 KiB, 1 ms block timeout)';
  const specs: CaseSpec[] = [];
  if (s.groups.has('bridge') || s.groups.has('scaling')) {
    if (s.groups.has('bridge'))
      specs.push({ key: 'engine-bridge-1', group: 'bridge', forwarder: 'engine', threads: 1, dst: 'sink', name: 'engine L2 bridge veth -> veth (FromDevice -> ToDevice)', description: `FromDevice (TPACKET_V3, ${ringNote}) -> ToDevice (TX ring, qdiscBypass) between the two root-side veth ends, one direction, one worker; frames addressed to ${SINK_DISCARD_MAC} (counted and dropped by the sink).`, setUp: engineBridge(1, s) });
    if (s.groups.has('scaling'))
      specs.push({ key: 'engine-bridge-2', group: 'bridge', forwarder: 'engine', threads: 2, dst: 'sink', only64: true, name: 'engine L2 bridge veth -> veth (FromDevice -> ToDevice)', description: 'Two workers, each with its own FromDevice in one PACKET_FANOUT group (hash mode) and its own ToDevice (qdiscBypass).', setUp: engineBridge(2, s) });
    if (s.groups.has('bridge')) {
      specs.push({ key: 'kernel-bridge', group: 'bridge', forwarder: 'kernel', threads: 0, dst: 'sink', name: 'Linux bridge veth -> veth', description: `A Linux bridge device (STP off) joining the same two root-side veth ends; same generator, same frames (to ${SINK_DISCARD_MAC}), same run.`, setUp: kernelBridge });
      specs.push({ key: 'click-bridge', group: 'bridge', forwarder: 'click', threads: 0, dst: 'sink', name: 'Click userlevel bridge veth -> veth', description: "Click's userlevel driver on bench/click/bridge.click (FromDevice -> Queue -> ToDevice) between the same two veth ends.", setUp: clickDut(s, 'bridge.click', (_e, a, b) => ({ IN: a, OUT: b })) });
    }
  }
  if (s.groups.has('router')) {
    specs.push({ key: 'engine-router-1', group: 'router', forwarder: 'engine', threads: 1, dst: 'router', name: 'engine IPv4 router veth -> veth', description: `FromDevice (${ringNote}) -> Strip(14) -> CheckIPHeader -> IPLookup (198.19.0.0/24 -> 0) -> DecIPTTL -> EtherEncap (the egress veth's MAC -> ${SINK_DISCARD_MAC}, counted and dropped by the sink) -> ToDevice (qdiscBypass), one worker; frames addressed to ${ROUTER_MAC} (not the ingress veth's own MAC, so the host kernel drops its copy instead of routing it).`, setUp: engineRouter(s) });
    specs.push({ key: 'kernel-router', group: 'router', forwarder: 'kernel', threads: 0, dst: 'ingress', name: 'Linux IPv4 forwarding veth -> veth', description: `Addresses on the two root-side veth ends (198.18.0.254/24, 198.19.0.254/24), IPv4 forwarding on for those two interfaces only, a permanent neighbour entry for 198.19.0.3 with ${SINK_DISCARD_MAC} (counted and dropped by the sink); frames addressed to the ingress veth's MAC.`, setUp: kernelForwarding });
    specs.push({
      key: 'click-router', group: 'router', forwarder: 'click', threads: 0, dst: 'router', name: 'Click userlevel IPv4 router veth -> veth',
      description: "Click's userlevel driver on bench/click/router.click (FromDevice -> Strip -> CheckIPHeader -> StaticIPLookup -> DecIPTTL -> EtherEncap -> Queue -> ToDevice).",
      setUp: clickDut(s, 'router.click', (env, _a, b) => ({ IN: _a, OUT: b, SRCMAC: macOf(undefined, b), DSTMAC: SINK_DISCARD_MAC })),
    });
  }
  return specs;
}

interface CaseOutcome {
  spec: CaseSpec;
  size: number;
  runs: RunMeasure[];
  latency?: Latency;
  latencyError?: string;
  error?: string;
  skipped?: string;
}

export const interfacesSuite: Suite = {
  description: 'veth forwarding, RFC 2544 zero-loss rate by frame size, latency, engine vs Linux kernel and Click',
  defaultRuns: 3,
  async run(ctx) {
    if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new Error('bench interfaces: needs root (network namespaces, veth pairs, AF_PACKET sockets and a bridge device); run it as root, e.g. `sudo npm run bench -- interfaces`');
    const avail = labAvailable();
    if (!avail.ok) throw new Error(`bench interfaces: cannot build the lab here: ${avail.reason}`);
    const s = settingsFrom(ctx);
    const progress = ctx.progress;
    const choice = chooseGenerator(progress, s.forceEngineGen);
    const tmp = mkdtempSync(join(tmpdir(), 'pktgraph-bench-if-'));
    let lab: Lab | undefined;
    let teardown: (() => void) | undefined;
    const cleanup = () => {
      try {
        teardown?.();
      } catch {}
      teardown = undefined;
      lab?.destroy();
      rmSync(tmp, { recursive: true, force: true });
    };
    const onSignal = (sig: NodeJS.Signals) => {
      console.error(`\nbench interfaces: ${sig}: tearing the lab down`);
      cleanup();
      process.exit(130);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const outcomes: CaseOutcome[] = [];
    const plan: { spec: CaseSpec; size: number }[] = [];
    for (const size of s.sizes) for (const spec of caseSpecs(s)) if (!spec.only64 || size === 64) plan.push({ spec, size });
    progress.plan(plan.length);
    try {
      progress.note('building the lab');
      lab = createLab({ hosts: [{ name: 'gen' }, { name: 'sink' }], links: [{ a: 'gen', b: 'engine' }, { a: 'sink', b: 'engine' }] });
      for (const w of lab.warnings) console.error(`interfaces bench: lab: ${w}`);
      // No IPv6 on the generator's and the sink's interfaces: nothing but the offered frames
      // (no router solicitations, no MLD reports) crosses the path during a trial.
      for (const [host, dev] of [['gen', lab.link(0).a], ['sink', lab.link(1).a]])
        sh('ip', ['netns', 'exec', lab.netns(host), 'sysctl', '-qw', `net.ipv6.conf.${dev}.disable_ipv6=1`], `IPv6 off on ${dev}`);
      const env: Env = { lab, gen: makeGenerator(lab, lab.link(0).a, choice, tmp), genNs: lab.netns('gen'), sinkNs: lab.netns('sink'), genIf: lab.link(0).a, sinkIf: lab.link(1).a };
      const a = lab.link(0).b;
      const b = lab.link(1).b;
      for (const [i, { spec, size }] of plan.entries()) {
        const label = `${spec.name}${spec.threads ? `, ${spec.threads} worker(s)` : ''}, ${size} B`;
        progress.startCase(i, label);
        if (spec.forwarder === 'click' && !s.click) {
          outcomes.push({ spec, size, runs: [], skipped: s.clickReason });
          continue;
        }
        const o: CaseOutcome = { spec, size, runs: [] };
        outcomes.push(o);
        const dstMac = spec.dst === 'sink' ? SINK_DISCARD_MAC : spec.dst === 'ingress' ? macOf(undefined, a) : ROUTER_MAC;
        try {
          progress.step(0, s.runs, 'setting up');
          const dut = await spec.setUp(env, a, b);
          teardown = dut.teardown;
          await sleep(300); // let the bridge / routes settle
          // Warm-up: a short full-load trial, not counted (ARP/bridge tables, rings, caches).
          progress.step(0, s.runs, 'warm-up');
          await trial(env, dut.dut, size, dstMac, 0, 0.5);
          for (let r = 0; r < s.runs; r++) o.runs.push(await measureRun(env, dut.dut, size, dstMac, s, (d) => progress.step(r + 1, s.runs, d)));
          const rates = o.runs.map((x) => x.zeroLossPps);
          const median = stats(rates).median;
          if (s.latency && median > 0) {
            progress.step(s.runs, s.runs, `latency at ${(median / 1e6).toFixed(3)} Mpps`);
            try {
              o.latency = await measureLatency(env, size, dstMac, median, s.latencyS);
            } catch (e) {
              o.latencyError = oneLine((e as Error).message);
            }
          }
        } catch (e) {
          o.error = oneLine((e as Error).message);
          console.error(`\ninterfaces bench: ${label}: failed: ${o.error}`);
        } finally {
          const t = teardown;
          teardown = undefined;
          try {
            t?.();
          } catch (e) {
            console.error(`interfaces bench: ${label}: teardown: ${(e as Error).message}`);
          }
        }
      }
    } finally {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      cleanup();
    }
    const notes = [
      `Generator: ${choice.note}. Frames reach the sink addressed to ${SINK_DISCARD_MAC}, not its own MAC: its kernel counts them and drops them at once.`,
      'veth has no line rate, so no theoretical limit is shown' + (s.lineRate ? `; --line-rate ${s.lineRate} Gbit/s gives the limit column` : '') + "; the generator's full rate (extra.offeredMpps) is the practical ceiling here.",
      s.click ? `Click: ${s.click}` : `Click: skipped (${s.clickReason})`,
    ];
    return { cases: toResults(outcomes, s), notes, settings: { sizes: s.sizes.join(','), searchSteps: s.steps, trialSeconds: s.trialS, confirmSeconds: s.confirmS, fullLoadSeconds: s.fullS, latencySeconds: s.latency ? s.latencyS : 0, generator: choice.kind } };
  },
};

/** The line of a (possibly multi-line, stack-trace) message that says what went wrong. */
function oneLine(message: string): string {
  const lines = message.split('\n').map((l) => l.trim()).filter(Boolean);
  const first = lines[0] ?? message;
  const cause = lines.find((l) => /^\w*Error:/.test(l));
  return cause && cause !== first ? `${first.replace(/:$/, '')}: ${cause}`.slice(0, 400) : first.slice(0, 400);
}

/** Median of the finite values, NaN when there is none. */
function medianFinite(values: number[]): number {
  const v = values.filter(Number.isFinite);
  return v.length ? stats(v).median : NaN;
}

const r3 = (n: number) => Math.round(n * 1000) / 1000;
const r1 = (n: number) => Math.round(n * 10) / 10;

function toResults(outcomes: CaseOutcome[], s: Settings): CaseResult[] {
  const results: CaseResult[] = [];
  const cpuPerPacket = (t: Trial | undefined) => (t && t.forwarded && t.cpuNs !== undefined ? t.cpuNs / t.forwarded : NaN);
  const medianRun = (o: CaseOutcome) => [...o.runs].sort((x, y) => x.zeroLossPps - y.zeroLossPps)[(o.runs.length - 1) >> 1];
  const ok = (o: CaseOutcome | undefined) => !!o && !o.error && !o.skipped && o.runs.length > 0;
  const find = (key: string, size: number) => outcomes.find((x) => x.spec.key === key && x.size === size);
  for (const o of outcomes) {
    const { spec, size } = o;
    const base: CaseResult = {
      suite: 'interfaces',
      name: spec.name,
      description: `${spec.description} ${size} B frames (FCS included). Zero-loss rate: binary search (${s.steps} trials of ${s.trialS} s between 0 and the generator's full rate), confirmed over ${s.confirmS} s; median of ${s.runs} run(s).`,
      threads: spec.threads,
      frameBytes: size,
      group: spec.group,
      forwarder: spec.forwarder,
      limitMpps: s.lineRate ? r3(lineRateMpps(s.lineRate, size)) : null,
      limitNote: s.lineRate ? `${s.lineRate} Gbit/s link (--line-rate)` : 'veth: none',
      warnings: [],
    };
    if (!ok(o)) {
      results.push({ ...base, status: o.skipped ? 'skipped' : 'failed', reason: o.skipped ?? o.error ?? 'no run finished' });
      continue;
    }
    const st = stats(o.runs.map((r) => r.zeroLossPps / 1e6));
    const m = medianRun(o);
    const warnings: string[] = [];
    const sw = spreadWarning('zero-loss rate', st, 'Mpps', 3);
    if (sw) warnings.push(sw);
    const bound = o.runs.filter((r) => r.search.atMaximum).length;
    if (bound) warnings.push(`generator-bound in ${bound} of ${o.runs.length} run(s): no loss at the generator's full rate, so the zero-loss rate is at least the rate reported`);
    for (const n of new Set(o.runs.flatMap((r) => r.search.notes).filter((n) => !/no loss at the maximum/.test(n)))) warnings.push(n);
    if (st.median === 0) warnings.push(`frames were lost at every rate tried (${o.runs.flatMap((x) => x.search.steps).map((x) => (x.offeredPps / 1e6).toFixed(3)).join(', ')} Mpps): no zero-loss rate was found`);
    if (o.latencyError) warnings.push(`latency not measured: ${o.latencyError}`);
    const lossAtFull = stats(o.runs.map((r) => (r.full.offered > 0 ? ((r.full.offered - r.full.delivered) / r.full.offered) * 100 : 0)));
    const extra: Record<string, number | string> = {
      maxDeliveredMpps: r3(stats(o.runs.map((r) => r.full.deliveredPps / 1e6)).median),
      offeredMpps: r3(stats(o.runs.map((r) => r.full.offeredPps / 1e6)).median),
      searchTrials: m.search.steps.map((x) => `${(x.askedPps / 1e6).toFixed(3)}/${(x.offeredPps / 1e6).toFixed(3)}${x.pass ? '+' : '-'}`).join(' '),
    };
    const r: CaseResult = {
      ...base,
      status: 'ok',
      mpps: st,
      packets: m.confirm?.delivered,
      gbps: gbitPerSecond(st.median, size),
      lossPct: Math.round(lossAtFull.median * 100) / 100,
      warnings,
      extra,
    };
    if (o.latency && o.latency.atMpps < st.median * 0.9)
      warnings.push(`latency measured at ${o.latency.atMpps.toFixed(3)} Mpps, below the zero-loss rate: the engine's generator (which stamps the frames) did not reach ${st.median.toFixed(3)} Mpps here`);
    if (o.latency) r.latency = { ...o.latency, p50Us: r1(o.latency.p50Us), p99Us: r1(o.latency.p99Us), p999Us: r1(o.latency.p999Us), maxUs: r1(o.latency.maxUs), atMpps: r3(o.latency.atMpps) };
    if (spec.forwarder === 'engine') {
      const cpu = medianFinite(o.runs.map((x) => cpuPerPacket(x.full)));
      if (Number.isFinite(cpu)) r.cpuNsPerPacket = r1(cpu);
      const zl = cpuPerPacket(m.confirm);
      if (Number.isFinite(zl)) extra.cpuNsPerPacketAtZeroLoss = r1(zl);
      if (m.full.sysShare !== undefined) {
        extra.workerCpuInKernelPct = r1(m.full.sysShare * 100);
        // The user/system split of the workers' CPU time (engine's userNs/sysNs, else /proc ticks).
        if (r.cpuNsPerPacket !== undefined) {
          r.cpuUserNsPerPacket = r1(r.cpuNsPerPacket * (1 - m.full.sysShare));
          r.cpuSysNsPerPacket = r1(r.cpuNsPerPacket * m.full.sysShare);
        }
      }
      // Side by side: the kernel (and Click) in the same group, at the same size, this run.
      const versus: Comparison[] = [];
      const kernelKey = spec.group === 'bridge' ? 'kernel-bridge' : 'kernel-router';
      const clickKey = spec.group === 'bridge' ? 'click-bridge' : 'click-router';
      for (const [key, label] of [[kernelKey, spec.group === 'bridge' ? 'Linux bridge' : 'Linux IP forwarding'], [clickKey, 'Click']] as const) {
        const other = find(key, size);
        if (!other) continue;
        if (!ok(other)) versus.push({ name: label, status: other.skipped ? 'skipped' : 'failed', reason: other.skipped ?? other.error });
        else {
          const om = stats(other.runs.map((x) => x.zeroLossPps / 1e6)).median;
          versus.push({ name: label, status: 'ok', mpps: r3(om), ratio: om > 0 ? Math.round((st.median / om) * 100) / 100 : undefined });
          if (bound && other.runs.every((x) => x.search.atMaximum)) warnings.push(`both this case and ${label} are generator-bound: the ratio compares the generator's rates, not the forwarders`);
        }
      }
      r.versus = versus;
      const kernel = versus.find((v) => v.name.startsWith('Linux'));
      const cpuOk = r.cpuNsPerPacket !== undefined && r.cpuNsPerPacket <= CPU_TARGET_NS;
      if (spec.threads === 1 && size === 64) {
        const ratio = kernel?.ratio;
        r.target = { ratio: 1, note: `zero-loss >= ${kernel?.name ?? 'the kernel'}'s (measured ${ratio !== undefined ? `${ratio.toFixed(2)}x` : '-'})${spec.group === 'bridge' ? ` and <= ${CPU_TARGET_NS} ns CPU/pkt (measured ${r.cpuNsPerPacket ?? '-'})` : ''}` };
        r.met = ratio !== undefined && ratio >= 1 && (spec.group !== 'bridge' || cpuOk);
      }
      if (spec.threads === 2) {
        const one = find('engine-bridge-1', size);
        if (ok(one)) {
          const oneMax = stats(one!.runs.map((x) => x.full.deliveredPps)).median;
          const scaleMax = stats(o.runs.map((x) => x.full.deliveredPps)).median / oneMax;
          // (packets per CPU-second with two workers) / (with one).
          const eff = medianFinite(one!.runs.map((x) => cpuPerPacket(x.full))) / (r.cpuNsPerPacket ?? NaN);
          extra.scalingMaxDelivered = Math.round(scaleMax * 100) / 100;
          if (Number.isFinite(eff)) extra.pktsPerCpuSecondRatio = Math.round(eff * 100) / 100;
          r.target = { ratio: SCALING_TARGET, note: `>= ${SCALING_TARGET}x one worker's max delivered rate (measured ${scaleMax.toFixed(2)}x; packets per CPU-second ${Number.isFinite(eff) ? eff.toFixed(2) : '-'}x), <= ${CPU_TARGET_NS} ns CPU/pkt` };
          r.met = scaleMax >= SCALING_TARGET && cpuOk;
          if (bound && one!.runs.every((x) => x.search.atMaximum)) warnings.push('both worker counts are generator-bound: the scaling figure measures the generator, not the engine');
        }
      }
    }
    results.push(r);
  }
  return results;
}
