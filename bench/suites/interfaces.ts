// The interfaces suite: forwarding between real (virtual) interfaces, RFC 2544 style, the engine
// side by side with the Linux kernel on the same topology in the same run. Needs root.
//
//   gen namespace ──veth── root namespace (the device under test) ──veth── sink namespace
//   (trafgen)        0a  0b   engine / kernel bridge / kernel IP forwarding   1b  1a  (counted)
//
// Offered load comes from an independent generator, netsniff-ng's trafgen, on one CPU (-P 1),
// installed with apt-get when missing (as root); when it cannot be had, the engine's own
// FlowSource -> ToDevice in a separate node process in the gen namespace (bench/suites/interfaces-gen.ts)
// stands in, and the results say so. Frames: 64 B (and 1518 B) IPv4/UDP (FCS counted in the size,
// as RFC 2544 does), 198.18.0.1 -> 198.19.0.3, 256 flows (UDP source ports 1024-1279), UDP
// checksum 0, destination MAC the sink's interface for the L2 cases and the root-side ingress
// interface for IP forwarding.
//
// Offered packets are the generator interface's kernel counters (tx_packets + tx_dropped, inside
// gen), delivered ones the sink interface's rx_packets (inside sink). A trial sends for a fixed
// time, waits for the path to drain, and compares the two; "zero loss" is delivered >= offered.
// Per case: a trial at full offered load (the maximum delivered rate, and the highest rate the
// generator reaches), then a binary search for the zero-loss rate between a passing rate (0)
// and a failing one (the full-load rate; when full load loses nothing the case is
// generator-bound and that rate is the result), then a longer trial confirming the rate found
// (stepping down 10%, 10%, then by half twice, while it loses packets). For the engine, its CPU
// time per forwarded packet (worker cpuNs deltas / frames ToDevice sent) in the full-load trial.
//
//   npm run bench -- interfaces [--quick] [--generator engine] [--ring BLOCKSxBYTES]
//
// --quick: fewer and shorter trials, 64 B only. --ring: FromDevice's ring (blocks x blockSize)
// instead of the element's default (with TPACKET_V3 the kernel hands over a block at most
// blockTimeoutMs after its first frame, so at low rates the ring holds about blocks x 1 ms). --generator engine: use the fallback generator
// even where trafgen is available. PG_IF_DEBUG=1 prints every search trial. The lab is torn
// down on every exit path (SIGINT too), and the root-namespace changes (a bridge device,
// addresses and per-interface forwarding on the lab's own interfaces) go with it.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { graph, compile, Runtime, FromDevice, ToDevice, createLab, labAvailable, type Lab, type RunningGraph } from 'pktgraph';
import { stats, type CaseResult } from '../lib.js';

type Progress = (msg: string) => void;

const quick = process.argv.includes('--quick');
const forceEngineGen = (() => {
  const i = process.argv.indexOf('--generator');
  return i > 0 && process.argv[i + 1] === 'engine';
})();
// --ring BLOCKSxBYTES: FromDevice's receive ring (blocks x blockSize); default the element's own.
const ring = (() => {
  const i = process.argv.indexOf('--ring');
  if (i < 0) return undefined;
  const m = /^(\d+)x(\d+)$/.exec(process.argv[i + 1] ?? '');
  if (!m) {
    console.error('bench interfaces: --ring takes BLOCKSxBYTES, e.g. 256x65536');
    process.exit(2);
  }
  return { blocks: Number(m[1]), blockSize: Number(m[2]) };
})();
const SEARCH_STEPS = quick ? 4 : 7;
const TRIAL_S = quick ? 0.5 : 1;
const CONFIRM_S = quick ? 1 : 3;
const FULL_S = quick ? 1 : 2;
const DRAIN_MS = 300;
const SIZES = quick ? [64] : [64, 1518];
const DST_IP = [198, 19, 0, 3];
const SRC_IP = [198, 18, 0, 1];
const CPU_TARGET_NS = 500;
const SCALING_TARGET = 1.7;
const benchRoot = dirname(dirname(fileURLToPath(import.meta.url)));

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
  /** Send frames of `size` bytes to `dstMac` at `pps` (0: as fast as possible) for `seconds`. */
  send(size: number, dstMac: string, pps: number, seconds: number): Promise<void>;
}

function hasTrafgen(): boolean {
  // `trafgen -v` prints its version and exits 1.
  const r = spawnSync('trafgen', ['-v'], { encoding: 'utf8', timeout: 5000 });
  return !r.error && /trafgen \d/.test(r.stdout ?? '');
}

/** trafgen if present (installing netsniff-ng with apt-get if not), else the engine's FlowSource. */
function chooseGenerator(progress: Progress): { kind: 'trafgen' | 'engine'; note: string } {
  if (forceEngineGen) return { kind: 'engine', note: 'the engine\'s FlowSource -> ToDevice in a separate node process in gen (--generator engine given)' };
  if (hasTrafgen()) return { kind: 'trafgen', note: 'netsniff-ng trafgen, one CPU (-P 1), qdisc bypass' };
  progress('trafgen is missing: installing netsniff-ng with apt-get');
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
  if (choice.kind === 'trafgen') {
    return {
      ...choice,
      async send(size, dstMac, pps, seconds) {
        const cfg = join(tmp, `tg-${size}-${dstMac.replace(/:/g, '')}.cfg`);
        writeFileSync(cfg, trafgenConfig(size, dstMac));
        const args = ['trafgen', '-o', genIf, '-i', cfg, '-P', '1', '--no-sock-mem', '-q', '-C'];
        if (pps > 0) args.push('-b', `${Math.max(1, Math.round(pps))}pps`, '-n', String(Math.max(1, Math.round(pps * seconds))));
        const child = lab.spawn('gen', args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
        // At full load trafgen runs until interrupted; at a set rate it stops after its count, or
        // is cut off when it cannot keep the rate (the offered rate is measured, not assumed).
        await waitExit(child, pps > 0 ? seconds * 1000 * 1.25 + 200 : seconds * 1000);
      },
    };
  }
  return {
    ...choice,
    async send(size, dstMac, pps, seconds) {
      const script = join(benchRoot, 'suites', 'interfaces-gen.ts');
      const child = lab.spawn('gen', [process.execPath, '--import', 'tsx', script, genIf, dstMac, String(size), String(Math.round(pps)), String(seconds)], {
        stdio: ['ignore', 'ignore', 'pipe'],
        detached: true,
        cwd: dirname(benchRoot),
      });
      await waitExit(child, seconds * 1000 * 1.25 + 5000);
    },
  };
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
  engineSnapshot?: () => { cpuNs: number; forwarded: number; user: number; sys: number };
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
  await env.gen.send(size, dstMac, pps, seconds);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
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
    const ticks = e1.user - e0.user + (e1.sys - e0.sys);
    if (ticks > 0) t.sysShare = (e1.sys - e0.sys) / ticks;
  }
  return t;
}

interface Measured {
  zeroLossPps: number;
  confirm: Trial;
  full: Trial;
  steps: { pps: number; offeredPps: number; offered: number; delivered: number; pass: boolean }[];
  generatorBound: boolean;
  warnings: string[];
}

const pass = (t: Trial) => t.offered > 0 && t.delivered >= t.offered;

async function measure(env: Env, dut: Dut, size: number, dstMac: string, progress: Progress): Promise<Measured> {
  const warnings: string[] = [];
  progress(`${dut.name}, ${size} B: full offered load`);
  const full = await trial(env, dut, size, dstMac, 0, FULL_S);
  const steps: Measured['steps'] = [];
  let lo = 0;
  let hi = full.offeredPps;
  let generatorBound = false;
  if (pass(full)) {
    // Nothing lost at the generator's full rate: the path is faster than the generator.
    generatorBound = true;
    lo = full.offeredPps;
    warnings.push(`generator-bound: no loss at the generator's full rate (${(full.offeredPps / 1e6).toFixed(3)} Mpps), so the zero-loss rate is at least that`);
  } else {
    // First candidate: what the path delivered at full load; then bisect.
    let candidate = Math.min(full.deliveredPps, hi * 0.99);
    for (let s = 0; s < SEARCH_STEPS; s++) {
      progress(`${dut.name}, ${size} B: search step ${s + 1}/${SEARCH_STEPS} at ${(candidate / 1e6).toFixed(3)} Mpps`);
      const t = await trial(env, dut, size, dstMac, candidate, TRIAL_S);
      const ok = pass(t);
      steps.push({ pps: Math.round(candidate), offeredPps: t.offeredPps, offered: t.offered, delivered: t.delivered, pass: ok });
      if (process.env.PG_IF_DEBUG) console.error(JSON.stringify(t));
      // The generator may not reach the asked rate: what it did offer is the rate tried.
      const tried = Math.min(candidate, t.offeredPps);
      if (ok) lo = Math.max(lo, tried);
      else hi = Math.min(hi, candidate);
      candidate = (lo + hi) / 2;
    }
  }
  let confirm: Trial | undefined;
  let rate = lo;
  // Step down 10% twice, then halve twice, when the confirming trial loses frames.
  const stepDown = [0.9, 0.9, 0.5, 0.5];
  for (let attempt = 0; attempt <= stepDown.length && rate > 0; attempt++) {
    progress(`${dut.name}, ${size} B: confirming ${(rate / 1e6).toFixed(3)} Mpps for ${CONFIRM_S} s`);
    confirm = await trial(env, dut, size, dstMac, generatorBound ? 0 : rate, CONFIRM_S);
    if (pass(confirm)) break;
    const f = stepDown[attempt];
    warnings.push(`the confirming trial at ${(rate / 1e6).toFixed(3)} Mpps lost ${confirm.offered - confirm.delivered} of ${confirm.offered} frames${f ? `; stepping down ${Math.round((1 - f) * 100)}%` : ''}`);
    if (f === undefined) break;
    if (generatorBound) {
      generatorBound = false;
      rate = Math.min(rate, confirm.deliveredPps) * f;
    } else rate *= f;
  }
  if (!confirm || !pass(confirm)) {
    warnings.push('no rate passed the confirming trial: zero-loss rate reported as 0');
    rate = 0;
  } else if (generatorBound) rate = confirm.offeredPps;
  else rate = Math.min(rate, confirm.offeredPps);
  return { zeroLossPps: rate, confirm: confirm ?? full, full, steps, generatorBound, warnings };
}

// ---- the devices under test ----

interface CaseSpec {
  key: 'engine1' | 'engine2' | 'kbridge' | 'kfwd';
  name: string;
  description: string;
  threads: number;
  /** Set the root namespace up, return the DUT and a teardown. */
  setUp: (env: Env, a: string, b: string) => { dut: Dut; dstMac: string; teardown: () => void };
}


function engineCase(threads: number, ringConfig = ring): CaseSpec['setUp'] {
  return (env, a, b) => {
    const rt = new Runtime({ threads, poolBuffers: 16384 });
    let g: RunningGraph | undefined;
    const fanout = 1000 + Math.floor(Math.random() * 60000);
    try {
      g = rt.load(
        compile(
          graph(`bench-bridge-${threads}`, () => {
            for (let i = 0; i < threads; i++)
              FromDevice({ device: a, burst: 64, ...(ringConfig ?? {}), ...(threads > 1 ? { fanout } : {}) }, { name: `rx${i}`, thread: i }).to(ToDevice({ device: b, qdiscBypass: true }, `tx${i}`));
          }),
        ),
      );
      rt.start();
    } catch (e) {
      rt.close();
      throw e;
    }
    const running = g;
    const forwarded = () => {
      let n = 0n;
      for (let i = 0; i < threads; i++) n += running.counter(`tx${i}`, 'packets');
      return Number(n);
    };
    return {
      dut: { name: `engine bridge, ${threads} worker(s)${ringConfig ? `, ring ${ringConfig.blocks}x${ringConfig.blockSize}` : ''}`, engineSnapshot: () => ({ cpuNs: rt.workerStats().reduce((s, w) => s + w.cpuNs, 0), forwarded: forwarded(), ...workerTicks() }) },
      dstMac: macOf(env.sinkNs, env.sinkIf),
      teardown: () => {
        try {
          rt.stop();
          const c = running.allCounters();
          const drops = Object.entries(c).flatMap(([el, cs]) => Object.entries(cs).filter(([k, v]) => v > 0n && /drops|too_long|pool_empty|ring_errors/.test(k)).map(([k, v]) => `${el}.${k}=${v}`));
          if (drops.length) console.error(`interfaces bench: engine (${threads} worker(s)) counters: ${drops.join(', ')}`);
          running.remove();
        } finally {
          rt.close();
        }
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
  return { dut: { name: 'Linux bridge' }, dstMac: macOf(env.sinkNs, env.sinkIf), teardown };
};

const kernelForwarding: CaseSpec['setUp'] = (env, a, b) => {
  const dst = DST_IP.join('.');
  const sinkMac = macOf(env.sinkNs, env.sinkIf);
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
    // The destination is a neighbour on the sink's link (a permanent entry with the sink's MAC):
    // the sink receives the frames and drops them (198.19.0.3 is not its address), so no replies.
    sh('ip', ['neigh', 'replace', dst, 'lladdr', sinkMac, 'dev', b, 'nud', 'permanent'], 'kernel forwarding');
  } catch (e) {
    teardown();
    throw e;
  }
  return { dut: { name: 'Linux IP forwarding' }, dstMac: macOf(undefined, a), teardown };
};

const CASES: CaseSpec[] = [
  {
    key: 'engine1',
    name: 'engine L2 bridge veth -> veth (FromDevice -> ToDevice)',
    description: `FromDevice (TPACKET_V3 ring, ${ring ? `${ring.blocks} blocks of ${ring.blockSize} B (--ring)` : 'the default 256 blocks of 64 KiB, 1 ms block timeout'}) -> ToDevice (sendmmsg, qdiscBypass) between the two root-side veth ends, one direction, one worker.`,
    threads: 1,
    setUp: engineCase(1),
  },
  {
    key: 'engine2',
    name: 'engine L2 bridge veth -> veth (FromDevice -> ToDevice)',
    description: 'Two workers, each with its own FromDevice in one PACKET_FANOUT group (hash mode, two sockets) and its own ToDevice (qdiscBypass).',
    threads: 2,
    setUp: engineCase(2),
  },
  {
    key: 'kbridge',
    name: 'Linux bridge veth -> veth',
    description: 'A Linux bridge device (STP off) joining the same two root-side veth ends; same generator, same run.',
    threads: 0,
    setUp: kernelBridge,
  },
  {
    key: 'kfwd',
    name: 'Linux IPv4 forwarding veth -> veth',
    description: 'Addresses on the two root-side veth ends (198.18.0.254/24, 198.19.0.254/24), IPv4 forwarding on for those two interfaces, a permanent neighbour entry for 198.19.0.3 (the sink\'s MAC); frames addressed to the ingress interface\'s MAC.',
    threads: 0,
    setUp: kernelForwarding,
  },
];

// ---- the suite ----

export async function runInterfacesSuite(opts: { runs: number; seconds: number; warmup: number; progress: Progress }): Promise<CaseResult[]> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    console.error('bench interfaces: needs root (network namespaces, veth pairs, AF_PACKET sockets and a bridge device); run it as root, e.g. `sudo npm run bench -- interfaces`');
    process.exit(2);
  }
  const avail = labAvailable();
  if (!avail.ok) {
    console.error(`bench interfaces: cannot build the lab here: ${avail.reason}`);
    process.exit(2);
  }
  const progress = opts.progress;
  const choice = chooseGenerator(progress);
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
  const started = Date.now();
  const measured: { spec: CaseSpec; size: number; m: Measured; generator: string }[] = [];
  try {
    progress('building the lab');
    lab = createLab({ hosts: [{ name: 'gen' }, { name: 'sink' }], links: [{ a: 'gen', b: 'engine' }, { a: 'sink', b: 'engine' }] });
    for (const w of lab.warnings) console.error(`interfaces bench: lab: ${w}`);
    // No IPv6 on the generator's and the sink's interfaces: nothing but the offered frames
    // (no router solicitations, no MLD reports) crosses the path during a trial.
    for (const [host, dev] of [['gen', lab.link(0).a], ['sink', lab.link(1).a]])
      sh('ip', ['netns', 'exec', lab.netns(host), 'sysctl', '-qw', `net.ipv6.conf.${dev}.disable_ipv6=1`], `IPv6 off on ${dev}`);
    const env: Env = {
      lab,
      gen: makeGenerator(lab, lab.link(0).a, choice, tmp),
      genNs: lab.netns('gen'),
      sinkNs: lab.netns('sink'),
      genIf: lab.link(0).a,
      sinkIf: lab.link(1).a,
    };
    const a = lab.link(0).b;
    const b = lab.link(1).b;
    const plan: { spec: CaseSpec; size: number }[] = [];
    for (const size of SIZES)
      for (const spec of CASES) {
        // 1518 B: the engine bridge (one worker) and the kernel bridge beside it.
        if (size !== 64 && spec.key !== 'engine1' && spec.key !== 'kbridge') continue;
        plan.push({ spec, size });
      }
    const sinkNote = "The sink's kernel drops the frames in IP input (198.19.0.3 is not its address)";
    for (const { spec, size } of plan) {
      if ((Date.now() - started) / 1000 > 8 * 60) {
        console.error(`interfaces bench: skipping ${spec.name}, ${size} B: the suite has run 8 minutes`);
        continue;
      }
      progress(`${spec.name}, ${size} B: setting up`);
      const s = spec.setUp(env, a, b);
      teardown = s.teardown;
      await sleep(300); // let the bridge / routes settle
      try {
        const m = await measure(env, s.dut, size, s.dstMac, progress);
        measured.push({ spec, size, m, generator: `${env.gen.note}. ${sinkNote}` });
      } finally {
        teardown = undefined;
        s.teardown();
      }
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    cleanup();
  }
  return toResults(measured, (Date.now() - started) / 1000);
}

const r3 = (n: number) => Math.round(n * 1000) / 1000;

function toResults(measured: { spec: CaseSpec; size: number; m: Measured; generator: string }[], suiteSeconds: number): CaseResult[] {
  const find = (key: CaseSpec['key'], size: number) => measured.find((x) => x.spec.key === key && x.size === size);
  const cpuPerPacket = (t: Trial) => (t.forwarded && t.cpuNs !== undefined ? t.cpuNs / t.forwarded : NaN);
  const results: CaseResult[] = [];
  for (const { spec, size, m, generator } of measured) {
    const zl = m.zeroLossPps / 1e6;
    const warnings = [...m.warnings];
    const cpuFull = cpuPerPacket(m.full);
    const cpuConfirm = cpuPerPacket(m.confirm);
    const extra: Record<string, number | string> = {
      maxDeliveredMpps: r3(m.full.deliveredPps / 1e6),
      offeredMpps: r3(m.full.offeredPps / 1e6),
      lossAtFullLoadPct: m.full.offered > 0 ? Math.round(((m.full.offered - m.full.delivered) / m.full.offered) * 10000) / 100 : 0,
      confirmSeconds: r3(m.confirm.seconds),
      // asked/offered Mpps and pass (+) or loss (-): trafgen's rate mode may fall short of the asked rate.
      searchSteps: m.steps.map((s) => `${(s.pps / 1e6).toFixed(3)}/${(s.offeredPps / 1e6).toFixed(3)}${s.pass ? '+' : '-'}`).join(' ') || 'none (generator-bound)',
      generatorBound: m.generatorBound ? 'yes' : 'no',
    };
    const r: CaseResult = {
      suite: 'interfaces',
      name: spec.name,
      description: `${spec.description} Generator: ${generator}. ${size} B frames (FCS included), 256 UDP flows 198.18.0.1 -> 198.19.0.3; offered = gen tx counters, delivered = sink rx_packets. veth has no line rate; the generator's full rate (offeredMpps) is the practical limit here. Zero-loss rate (Mpps column): binary search (${SEARCH_STEPS} steps of ${TRIAL_S} s; extra.searchSteps lists asked/offered Mpps, + no loss, - loss), confirmed over ${CONFIRM_S} s; the rate reported is what the generator really offered in the confirming trial. CPU ns/pkt: engine worker CPU (cpuNs) over frames forwarded in the full-load trial; it includes kernel time in sendmmsg, which on a veth also runs the sink's receive processing inline (extra.workerCpuInKernelPct).`,
      threads: spec.threads,
      frameBytes: size,
      mpps: stats([zl]),
      gbps: (m.zeroLossPps * size * 8) / 1e9,
      cpuNsPerPacket: Number.isFinite(cpuFull) ? cpuFull : 0,
      warnings,
      extra,
    };
    if (spec.key === 'engine1' || spec.key === 'engine2') {
      extra.cpuNsPerPacketFullLoad = Math.round(cpuFull * 10) / 10;
      extra.cpuNsPerPacketAtZeroLoss = Math.round(cpuConfirm * 10) / 10;
      extra.forwardedFullLoad = m.full.forwarded ?? 0;
      if (m.full.sysShare !== undefined) extra.workerCpuInKernelPct = Math.round(m.full.sysShare * 1000) / 10;
      const kb = find('kbridge', size);
      const ratio = kb && kb.m.zeroLossPps > 0 ? m.zeroLossPps / kb.m.zeroLossPps : NaN;
      if (kb) extra.vsKernelBridge = Math.round(ratio * 100) / 100;
      const kf = find('kfwd', size);
      if (kf && kf.m.zeroLossPps > 0) extra.vsKernelForwarding = Math.round((m.zeroLossPps / kf.m.zeroLossPps) * 100) / 100;
      if (kb) extra.vsKernelBridgeMaxDelivered = Math.round((m.full.deliveredPps / kb.m.full.deliveredPps) * 100) / 100;
      const cpuOk = Number.isFinite(cpuFull) && cpuFull <= CPU_TARGET_NS;
      if (spec.key === 'engine1') {
        r.target = { ratio: 1, note: `zero-loss >= Linux bridge's (measured ${Number.isFinite(ratio) ? ratio.toFixed(2) : '-'}x) and <= ${CPU_TARGET_NS} ns CPU/pkt (measured ${cpuFull.toFixed(0)})` };
        r.met = Number.isFinite(ratio) && ratio >= 1 && cpuOk;
      } else {
        // Two workers against one: throughput (max delivered and zero-loss) and efficiency
        // (packets per engine-CPU-second), side by side in one run.
        const one = find('engine1', size);
        if (one) {
          const scaleMax = m.full.deliveredPps / one.m.full.deliveredPps;
          const scaleZl = one.m.zeroLossPps > 0 ? m.zeroLossPps / one.m.zeroLossPps : NaN;
          const eff = cpuPerPacket(one.m.full) / cpuFull; // (pkts/CPU-s with 2) / (pkts/CPU-s with 1)
          extra.scalingMaxDelivered = Math.round(scaleMax * 100) / 100;
          extra.scalingZeroLoss = Math.round(scaleZl * 100) / 100;
          extra.pktsPerCpuSecondRatio = Math.round(eff * 100) / 100;
          r.target = {
            ratio: SCALING_TARGET,
            note: `>= ${SCALING_TARGET}x one worker's max delivered rate (measured ${scaleMax.toFixed(2)}x; packets per CPU-second ${eff.toFixed(2)}x), <= ${CPU_TARGET_NS} ns CPU/pkt (measured ${cpuFull.toFixed(0)})`,
          };
          r.met = scaleMax >= SCALING_TARGET && cpuOk;
          if (m.generatorBound && one.m.generatorBound) warnings.push('both worker counts are generator-bound: the scaling figure measures the generator, not the engine');
        }
      }
    }
    extra.suiteSeconds = Math.round(suiteSeconds);
    results.push(r);
  }
  return results;
}
