// The linkemu suite (issue 14): LinkEmulator's accuracy against what it is configured to do, and
// its cost, on the real clock (the tests check the same on the virtual clock, exactly).
// - bandwidth: a source paced above the rate -> LinkEmulator(rate) -> counter, bits per second
//   over the measured seconds against the configured rate (1 Mbit/s to 1 Gbit/s, 1500 B; paced at 2x
//   by one source per 20k packets/s, so the sources' buckets ride out a late worker; the emulator
//   holds 0.25 s of wire; what was offered is measured beside, and a short input is said);
// - delay and jitter: TimestampStamp -> LinkEmulator -> LatencyMeter (CLOCK_MONOTONIC stamps),
//   the median and percentiles against the configured delay and the jitter distribution's own;
//   jitter cases run a fixed-delay control beside them, whose lateness is the machine's;
// - loss: 1% and 10% random, and Gilbert-Elliott, measured loss against configured (with the
//   binomial bound);
// - cost: CPU ns per packet, a 64-byte source flat out through LinkEmulator minus the same graph
//   without it, pass-through and with delay, jitter and loss at work (pairs back to back);
// - netem side by side, where the kernel has it (probed: a netem qdisc in a fresh network
//   namespace); skipped with the reason otherwise.
import { spawnSync } from 'node:child_process';
import { InfiniteSource, TimestampStamp, LatencyMeter, LinkEmulator, Counter, Discard } from 'pktgraph';
import { stats, type CaseResult } from '../lib.js';
import type { Suite } from '../harness.js';
import { startGraph } from './traffic/accuracy.js';
import { median, nowS, sleep, round } from './traffic/measure.js';

type Emu = Parameters<typeof LinkEmulator>[0];
/** The width of LatencyMeter's histogram buckets, relative: 16 per power of two. */
const BUCKET = 2 ** (1 / 16) - 1;
const base = (name: string, description: string, frameBytes: number): CaseResult => ({ suite: 'linkemu', name, description, threads: 1, frameBytes, forwarder: 'engine', warnings: [] });

/** Seconds of wire time the bandwidth runs' emulator can hold: a paced source starved by a busy
 *  machine for less than this leaves the wire busy (it books departures ahead), so what is
 *  measured is the emulator's rate, not the source's. 1000 packets, the element's default, is
 *  only 12 ms at 1 Gbit/s: a starved worker emptied it and the wire idled. */
const BW_BUFFER_S = 0.25;

/** Packets per second one paced source offers at most: its token bucket is one burst (256
 *  packets) deep, so at this rate it rides out a worker woken 12.8 ms late without losing credit.
 *  One source at 167k packets/s (2 Gbit/s of 1500 B) lost credit after 1.5 ms and, on a busy
 *  machine, offered less than the wire's rate. */
const PPS_PER_SOURCE = 20_000;

/** Bits per second delivered and offered (into the emulator); packets the sources fell short of
 *  their rate; the fewest packets the emulator held at any sample (every 10 ms). */
async function bandwidthRun(rate: number, seconds: number, warmup: number): Promise<{ bps: number; offeredBps: number; shortfall: number; minHeld: number }> {
  const frame = 1500;
  const capacity = Math.max(1000, Math.ceil((BW_BUFFER_S * rate) / (frame * 8)));
  const pps = (2 * rate) / (frame * 8);
  const sources = Math.ceil(pps / PPS_PER_SOURCE);
  const run = startGraph(
    'linkemu-bw',
    () => {
      const x = LinkEmulator({ rate, capacity }, 'x');
      for (let k = 0; k < sources; k++) InfiniteSource({ length: frame, rate: pps / sources, burst: 256 }, `src${k}`).to(x);
      x.to(Counter({}, 'out')).to(Discard());
    },
    1,
    capacity + 8192,
  );
  const shortfall = () => Array.from({ length: sources }, (_, k) => Number(run.g.counter(`src${k}`, 'rate_shortfall'))).reduce((a, b) => a + b, 0);
  try {
    await sleep(warmup * 1000);
    const b0 = Number(run.g.counter('out', 'bytes'));
    const i0 = Number(run.g.counter('x', 'packets'));
    const s0 = shortfall();
    const t0 = nowS();
    let minHeld = Infinity;
    while (nowS() - t0 < seconds) {
      minHeld = Math.min(minHeld, Number(run.g.read('x', 'held')));
      await sleep(10);
    }
    const dt = nowS() - t0;
    return { bps: ((Number(run.g.counter('out', 'bytes')) - b0) * 8) / dt, offeredBps: ((Number(run.g.counter('x', 'packets')) - i0) * frame * 8) / dt, shortfall: shortfall() - s0, minHeld };
  } finally {
    run.close();
  }
}

/** Delay percentiles (ms) of packets through `emu` at `pps`; with `control`, the same through a
 *  LinkEmulator of the fixed `control` delay beside it (same worker, same moments): how late the
 *  machine ran the worker, measured side by side. */
async function delayRun(emu: Emu, pps: number, seconds: number, warmup: number, control?: number) {
  const run = startGraph('linkemu-delay', () => {
    InfiniteSource({ length: 100, rate: pps, burst: 1 }).to(TimestampStamp()).to(LinkEmulator(emu, 'x')).to(LatencyMeter({}, 'lat')).to(Discard());
    if (control !== undefined) InfiniteSource({ length: 100, rate: pps, burst: 1 }).to(TimestampStamp()).to(LinkEmulator({ delay: control }, 'y')).to(LatencyMeter({}, 'ctl')).to(Discard());
  });
  try {
    await sleep(warmup * 1000);
    run.g.write('lat', 'reset', '');
    if (control !== undefined) run.g.write('ctl', 'reset', '');
    await sleep(seconds * 1000);
    const ms = (m: string, h: string) => Number(run.g.read(m, h)) / 1e6;
    const pcts = (m: string) => ({ p50: ms(m, 'p50'), p90: ms(m, 'p90'), p99: ms(m, 'p99'), min: ms(m, 'min'), max: ms(m, 'max'), mean: ms(m, 'mean'), count: Number(run.g.read(m, 'count')) });
    return { ...pcts('lat'), control: control !== undefined ? pcts('ctl') : undefined };
  } finally {
    run.close();
  }
}

async function lossRun(emu: Emu, packets: number): Promise<number> {
  const run = startGraph('linkemu-loss', () => {
    InfiniteSource({ length: 64, limit: packets, burst: 64 }).to(LinkEmulator(emu, 'x')).to(Discard());
  });
  try {
    while (Number(run.g.counter('x', 'packets')) < packets) await sleep(20);
    return Number(run.g.counter('x', 'drops_loss')) / packets;
  } finally {
    run.close();
  }
}

/** Workers' CPU ns per packet reaching the sink, a 64-byte source flat out, with or without the emulator. */
async function costRun(emu: Emu | undefined, seconds: number, warmup: number): Promise<number> {
  const run = startGraph('linkemu-cost', () => {
    const src = InfiniteSource({ length: 64, burst: 64 });
    (emu ? src.to(LinkEmulator(emu, 'x')) : src).to(Discard({}, 'sink'));
  });
  try {
    await sleep(warmup * 1000);
    const cpu = () => run.rt.workerStats().reduce((n, w) => n + w.cpuNs, 0);
    const p0 = Number(run.g.counter('sink', 'packets'));
    const c0 = cpu();
    await sleep(seconds * 1000);
    return (cpu() - c0) / (Number(run.g.counter('sink', 'packets')) - p0);
  } finally {
    run.close();
  }
}

/** Whether this kernel has netem: a netem qdisc on lo in a fresh network namespace (root). */
function netemProbe(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to probe for netem';
  const r = spawnSync('unshare', ['-n', 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms'], { encoding: 'utf8' });
  if (r.status !== 0) return `this kernel has no netem qdisc (tc: ${(r.stderr || r.error?.message || '').trim().split('\n')[0]})`;
  return undefined;
}

export const linkemuSuite: Suite = {
  description: 'LinkEmulator accuracy (bandwidth, delay, jitter, loss) and cost per packet',
  defaultRuns: 3,
  async run(ctx) {
    const cases: CaseResult[] = [];
    const quick = ctx.options.quick;
    const rates = quick ? [10e6, 100e6] : [1e6, 10e6, 100e6, 1e9];
    const delays: { name: string; emu: Emu; want: { p50: number; p90?: number; p99?: number }; note: string }[] = [
      { name: 'delay 1 ms', emu: { delay: 0.001 }, want: { p50: 1 }, note: 'median within 0.5 ms + 5% of 1 ms (+ a histogram bucket)' },
      { name: 'delay 10 ms', emu: { delay: 0.01 }, want: { p50: 10 }, note: 'median within 0.5 ms + 5% of 10 ms (+ a histogram bucket)' },
      { name: 'delay 100 ms', emu: { delay: 0.1 }, want: { p50: 100 }, note: 'median within 0.5 ms + 5% of 100 ms (+ a histogram bucket)' },
      // Uniform 20 ± 5 ms: p50 20, p90 24. Normal (20, 2 ms): p50 20, p90 22.56.
      { name: 'jitter uniform 20 ± 5 ms', emu: { delay: 0.02, jitter: 0.005, jitterReorders: true }, want: { p50: 20, p90: 24 }, note: 'p50 and p90 within 0.5 ms + 5% of 20 and 24 ms (+ a histogram bucket)' },
      { name: 'jitter normal 20 ms, deviation 2 ms', emu: { delay: 0.02, jitter: 0.002, distribution: 'normal', jitterReorders: true }, want: { p50: 20, p90: 22.56 }, note: 'p50 and p90 within 0.5 ms + 5% of 20 and 22.56 ms (+ a histogram bucket; p99 24.65 is where a busy machine adds its scheduling delays)' },
    ];
    const losses: { name: string; emu: Emu; p: number }[] = [
      { name: 'loss 1% random', emu: { loss: 1, seed: 1 }, p: 0.01 },
      { name: 'loss 10% random', emu: { loss: 10, seed: 2 }, p: 0.1 },
      { name: 'loss Gilbert-Elliott p 1%, r 25% (3.85%)', emu: { lossModel: 'gilbert-elliott', geP: 1, geR: 25, seed: 3 }, p: 1 / 26 },
    ];
    const costs: { name: string; emu: Emu }[] = [
      { name: 'cost: pass-through (no impairment)', emu: {} },
      { name: 'cost: delay 100 µs, jitter 10 µs, loss 1%', emu: { delay: 0.0001, jitter: 0.00001, loss: 1, capacity: 16384 } },
    ];
    ctx.progress.plan(rates.length + delays.length + losses.length + costs.length + 1);
    let i = 0;

    for (const rate of rates) {
      ctx.progress.startCase(i++, `bandwidth ${rate / 1e6} Mbit/s`);
      const got: number[] = [];
      let shortfall = 0;
      let minHeld = Infinity;
      const offered: number[] = [];
      for (let r = 0; r < ctx.runs; r++) {
        ctx.progress.step(r + 1, ctx.runs);
        const x = await bandwidthRun(rate, ctx.seconds, ctx.warmup);
        got.push(x.bps);
        offered.push(x.offeredBps);
        shortfall += x.shortfall;
        minHeld = Math.min(minHeld, x.minHeld);
      }
      const errPct = (100 * (median(got) - rate)) / rate;
      const warnings = [];
      const short = offered.filter((o) => o < rate).length;
      if (short) warnings.push(`in ${short} of ${ctx.runs} runs the sources offered less than the rate (${offered.map((o) => (o / 1e6).toFixed(1)).join(', ')} Mbit/s; they fell ${shortfall} packets short: a starved worker), so the wire idled and the rate measured is the input's`);
      else if (minHeld === 0) warnings.push(`the emulator's buffer (${BW_BUFFER_S} s of wire) ran dry at least once: the wire idled for want of input`);
      cases.push({
        ...base(`bandwidth ${rate / 1e6} Mbit/s`, `InfiniteSources of 1500-byte packets (one per ${PPS_PER_SOURCE / 1000}k packets/s) at 2x the rate together -> LinkEmulator(rate, ${BW_BUFFER_S} s of wire held) -> Counter; bits per second delivered over the measured seconds (real clock), beside what was offered.`, 1500),
        mpps: stats(got.map((g) => g / 1e6)),
        target: { note: `within 1% of the configured rate (issue 14: 5%); median error ${errPct.toFixed(3)}%` },
        met: Math.abs(errPct) <= 1,
        extra: { unit: 'Mbit/s', configuredMbps: rate / 1e6, errorPct: round(errPct, 3), offeredMbps: round(median(offered) / 1e6, 3), sourceShortfall: shortfall, fewestHeld: minHeld },
        warnings,
      });
    }

    for (const d of delays) {
      ctx.progress.startCase(i++, d.name);
      const jittered = (d.emu?.jitter ?? 0) > 0;
      const runs: Awaited<ReturnType<typeof delayRun>>[] = [];
      for (let r = 0; r < ctx.runs; r++) {
        ctx.progress.step(r + 1, ctx.runs);
        runs.push(await delayRun(d.emu, 1000, ctx.seconds, ctx.warmup, jittered ? d.emu!.delay : undefined));
      }
      const m = (k: 'p50' | 'p90' | 'p99' | 'min' | 'max' | 'mean') => median(runs.map((x) => x[k]));
      // The fixed-delay control's lateness (its percentile minus its delay) is the machine's.
      const late = (k: 'p50' | 'p90' | 'p99') => (jittered ? median(runs.map((x) => x.control![k])) - 1000 * d.emu!.delay! : undefined);
      // LatencyMeter's percentiles are its buckets' (16 a power of two: up to 4.4% off), so that is allowed on top.
      const miss = (Object.entries(d.want) as [keyof typeof d.want, number][]).map(([k, want]) => ({ k, want, over: Math.abs(m(k) - want) - (0.5 + 0.05 * want + BUCKET * want) })).filter((x) => x.over > 0);
      const warnings = miss.map((x) => {
        const l = late(x.k);
        return l === undefined
          ? `${x.k} ${m(x.k).toFixed(3)} ms is ${x.over.toFixed(3)} ms outside the tolerance of ${x.want} ms; the delay is fixed, so what is over it is how late the machine ran the worker (the fewest, ${m('min').toFixed(3)} ms, is the emulator's own)`
          : `${x.k} ${m(x.k).toFixed(3)} ms is ${x.over.toFixed(3)} ms outside the tolerance of ${x.want} ms; the fixed ${1000 * d.emu!.delay!} ms control beside it was ${l.toFixed(3)} ms late at its ${x.k} at the same moments (${l >= x.over ? 'the machine: that lateness covers the miss' : 'more than the machine\'s lateness explains'})`;
      });
      cases.push({
        ...base(d.name, `InfiniteSource (1000 packets/s) -> TimestampStamp -> LinkEmulator(${JSON.stringify(d.emu)}) -> LatencyMeter: CLOCK_MONOTONIC stamp to arrival, engine included (real clock)${jittered ? `; beside it on the same worker, the same through a fixed ${1000 * d.emu!.delay!} ms LinkEmulator (the control: how late the machine ran the worker)` : ''}.`, 100),
        mpps: stats(runs.map((x) => x.p50)),
        target: { note: d.note },
        met: miss.length === 0,
        extra: {
          unit: 'ms (median)',
          p90: round(m('p90'), 3),
          p99: round(m('p99'), 3),
          min: round(m('min'), 3),
          max: round(m('max'), 3),
          mean: round(m('mean'), 3),
          samples: runs.reduce((s, x) => s + x.count, 0),
          ...(jittered ? { controlLateP50: round(late('p50')!, 3), controlLateP90: round(late('p90')!, 3), controlLateP99: round(late('p99')!, 3) } : {}),
        },
        warnings,
      });
    }

    const lossPackets = quick ? 200_000 : 1_000_000;
    for (const l of losses) {
      ctx.progress.startCase(i++, l.name);
      const got: number[] = [];
      for (let r = 0; r < ctx.runs; r++) {
        ctx.progress.step(r + 1, ctx.runs);
        got.push(await lossRun({ ...l.emu, seed: Number(l.emu?.seed ?? 0) + r }, lossPackets));
      }
      const bound = (4 * Math.sqrt(lossPackets * l.p * (1 - l.p))) / lossPackets;
      const random = l.emu?.lossModel !== 'gilbert-elliott';
      cases.push({
        ...base(l.name, `InfiniteSource (${lossPackets} packets, 64 B) -> LinkEmulator(${JSON.stringify(l.emu)}); share lost.`, 64),
        mpps: stats(got.map((g) => 100 * g)),
        target: { note: random ? `within the binomial bound (4 deviations: ±${(100 * bound).toFixed(3)} points) of ${100 * l.p}%` : `within 10% of p/(p+r) = ${(100 * l.p).toFixed(2)}% (correlated: wider than binomial)` },
        met: got.every((g) => Math.abs(g - l.p) <= (random ? bound : 0.1 * l.p)),
        extra: { unit: '% lost', configuredPct: round(100 * l.p, 3) },
      });
    }

    for (const c of costs) {
      ctx.progress.startCase(i++, c.name);
      const diffs: number[] = [];
      const withNs: number[] = [];
      for (let r = 0; r < ctx.runs; r++) {
        ctx.progress.step(r + 1, ctx.runs);
        const w = await costRun(c.emu, ctx.seconds, ctx.warmup);
        const b = await costRun(undefined, ctx.seconds, ctx.warmup);
        withNs.push(w);
        diffs.push(w - b);
      }
      cases.push({
        ...base(c.name, `InfiniteSource (64 B, flat out) -> LinkEmulator(${JSON.stringify(c.emu)}) -> Discard, minus the same without it, back to back; workers' CPU ns per packet reaching Discard.`, 64),
        mpps: stats(diffs),
        extra: { unit: 'ns/pkt', withNs: round(median(withNs), 1) },
      });
    }

    ctx.progress.startCase(i++, 'netem side by side');
    const missing = netemProbe();
    cases.push({
      ...base('netem side by side', 'The same delays, jitter and loss with Linux netem on a veth pair, beside LinkEmulator.', 0),
      status: 'skipped',
      reason: missing ?? 'this kernel has netem, but the side-by-side measurement is not written yet (it was developed on a kernel without netem)',
      forwarder: 'kernel',
    });
    return { cases, settings: { runs: ctx.runs, seconds: ctx.seconds, warmup: ctx.warmup } };
  },
};
