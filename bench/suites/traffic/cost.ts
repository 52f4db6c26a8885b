// The traffic suite's cost per packet: each element's graph and its baseline (the same graph
// without it, elements.ts says which) run alternately on one worker, a 64-byte source flat out;
// per run, the engine workers' CPU time over the packets reaching the sink. The element's cost
// is the median over the runs of (with - without), each pair measured back to back so that a
// busy spell of the shared machine hits both alike.
import { stats, cpuShare, cpuShareWarning, type CaseResult } from '../../lib.js';
import { costCases, SINK_NAME, type CostCase } from './elements.js';
import { startGraph } from './accuracy.js';
import { median, nowS, sleep, round } from './measure.js';
import type { TrafficSettings } from './settings.js';
import type { Job } from './jobs.js';

interface CostRun {
  /** Drop counters of the element ('drops', 'drops_*') that counted, as 'name=count'. */
  drops: string[];
  nsPerPacket: number;
  mpps: number;
  share: number;
}

async function measure(c: CostCase, withElement: boolean, s: TrafficSettings): Promise<CostRun> {
  const run = startGraph('traffic-cost', () => c.build(withElement), c.threads);
  try {
    await sleep(s.warmup * 1000);
    const cpu = () => run.rt.workerStats().reduce((n, w) => n + w.cpuNs, 0);
    const sunk = () => run.g.elementNames().filter((n) => n.startsWith(SINK_NAME)).reduce((a, n) => a + Number(run.g.counter(n, 'packets')), 0);
    const p0 = sunk();
    const c0 = cpu();
    const t0 = nowS();
    await sleep(s.costSeconds * 1000);
    const p1 = sunk();
    const c1 = cpu();
    const seconds = nowS() - t0;
    const packets = p1 - p0;
    if (packets <= 0) throw new Error(`no packet reached the sink ${withElement ? 'with' : 'without'} ${c.name}`);
    const nsPerPacket = (c1 - c0) / packets;
    const x = run.g.elementNames().includes('x') ? run.g.counters('x') : {};
    const drops = Object.entries(x).filter(([k, v]) => /^drops/.test(k) && v > 0n).map(([k, v]) => `${k}=${v}`);
    return { drops, nsPerPacket, mpps: packets / seconds / 1e6, share: cpuShare({ cpuNsPerPacket: nsPerPacket, packets, seconds }, c.threads) };
  } finally {
    run.close();
  }
}

function costJob(c: CostCase, s: TrafficSettings): Job {
  return {
    label: `cost: ${c.name}`,
    run: async (step) => {
      const withRuns: CostRun[] = [];
      const without: CostRun[] = [];
      for (let r = 0; r < s.costRuns; r++) {
        step(`run ${r + 1}/${s.costRuns}: with`);
        withRuns.push(await measure(c, true, s));
        step(`run ${r + 1}/${s.costRuns}: baseline`);
        without.push(await measure(c, false, s));
      }
      const diffs = withRuns.map((w, i) => w.nsPerPacket - without[i].nsPerPacket);
      const st = stats(diffs);
      const withNs = median(withRuns.map((w) => w.nsPerPacket));
      const baseNs = median(without.map((w) => w.nsPerPacket));
      const warnings: string[] = [];
      const share = median([...withRuns, ...without].map((x) => x.share));
      const sw = cpuShareWarning(share);
      if (sw) warnings.push(sw);
      const dropped = [...new Set(withRuns.flatMap((w) => w.drops.map((d) => d.split('=')[0])))];
      if (dropped.length) warnings.push(`the element dropped packets (${dropped.join(', ')}): the figure is not only its pass-through cost`);
      if (st.runs.length > 1 && st.max - st.min > Math.max(5, Math.abs(st.median))) warnings.push(`the differences disagree across runs (${st.min.toFixed(1)} to ${st.max.toFixed(1)} ns): the machine was noisy`);
      const r: CaseResult = {
        suite: 'traffic',
        name: `cost per packet: ${c.name}`,
        description: `${c.description} Baseline: ${c.baseline}. 64 B frames flat out, ${c.threads === 1 ? 'one worker' : `${c.threads} workers`}; engine CPU ns per packet reaching the Discards with the element minus without it, ${s.costRuns} alternated pair(s) of ${s.costSeconds} s after ${s.warmup} s of warm-up each; the median difference.`,
        threads: c.threads,
        frameBytes: 64,
        group: 'cost',
        forwarder: 'engine',
        mpps: st,
        cpuNsPerPacket: round(withNs, 1),
        warnings,
        extra: { unit: 'ns/pkt', withNs: round(withNs, 1), baselineNs: round(baseNs, 1), mppsWith: round(median(withRuns.map((w) => w.mpps)), 2), mppsBaseline: round(median(without.map((w) => w.mpps)), 2), cpuShare: round(share, 2) },
      };
      if (c.targetNs !== undefined) {
        r.target = { note: `<= ${c.targetNs} ns per packet (measured ${st.median.toFixed(1)})` };
        r.met = st.median <= c.targetNs;
      }
      return r;
    },
  };
}

export function costJobs(s: TrafficSettings): Job[] {
  return costCases.map((c) => costJob(c, s));
}
