// The interfaces suite's measurements: a trial (offered and delivered frames from the kernel's
// counters, the engine's CPU), one RFC 2544 run (full load, zero-loss search, confirming trial)
// and the latency at a rate.
import { join, dirname } from 'node:path';
import type { Latency } from '../../lib.js';
import { zeroLossSearch, type SearchResult } from '../../search.js';
import { benchRoot, DRAIN_MS, type Settings } from './settings.js';
import { sleep, counters, type Env } from './topology.js';

export interface Trial {
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

export interface Dut {
  name: string;
  /** CPU ns of the engine's workers and frames forwarded so far (engine cases only). */
  engineSnapshot?: () => { cpuNs: number; forwarded: number; user: number; sys: number; userNs?: number; sysNs?: number };
}

export async function trial(env: Env, dut: Dut, size: number, dstMac: string, pps: number, seconds: number): Promise<Trial> {
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

export const pass = (t: Trial) => t.offered > 0 && t.delivered >= t.offered;

export interface RunMeasure {
  zeroLossPps: number;
  full: Trial;
  confirm?: Trial;
  search: SearchResult;
}

/** One full RFC 2544 measurement: full-load trial, search, confirming trial. */
export async function measureRun(env: Env, dut: Dut, size: number, dstMac: string, s: Settings, step: (detail: string) => void): Promise<RunMeasure> {
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
export async function measureLatency(env: Env, size: number, dstMac: string, pps: number, seconds: number): Promise<Latency> {
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
