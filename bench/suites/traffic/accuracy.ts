// The traffic suite's in-memory accuracy: a paced source a little above the configured rate -> Queue
// (1000 packets, so the shaper always has packets waiting) -> the rate element in its natural
// place -> Discard, one worker, the real clock (the source on a worker of its own made 10 Gbit/s
// worse here, not better: about 3 Gbit/s instead of 9.4-10, each packet then allocated on one
// core and freed on the other). The Discard's byte counter is sampled every 50 ms; the achieved
// rate over each 1 s window (after a 0.5 s warm-up that empties the element's initial burst and
// fills the queue) is compared with the configured one.
import { graph, compile, Runtime, InfiniteSource, Queue, Unqueue, Discard, type RunningGraph } from 'pktgraph';
import { stats, type CaseResult } from '../../lib.js';
import { rateElements, inUnit, IPV4_UDP_64, type RateElement } from './elements.js';
import { sampleUntil, windowRates, errorSummary, frameFor, rateLabel, nowS, sleep, round } from './measure.js';
import { ACCURACY_TARGET_PCT, burstBytes, BURST_NOTE, type TrafficSettings } from './settings.js';
import type { Job } from './jobs.js';

/** The source's rate for a shaped rate of `pps`: 10% more, plus 2000/s so the queue fills fast at low rates. */
export const offered = (pps: number) => pps * 1.1 + 2000;
export const OFFERED_NOTE = 'paced at 1.1x the rate + 2000 packets/s';
export const QUEUE_CAPACITY = 1000;

/** An engine on one worker running `build`'s graph; close() takes it down. */
export function startGraph(name: string, build: () => void, threads = 1, poolBuffers = 16384): { rt: Runtime; g: RunningGraph; close: () => void } {
  const rt = new Runtime({ threads, poolBuffers });
  try {
    const g = rt.load(compile(graph(name, build)));
    rt.start();
    return { rt, g, close: () => rt.close() };
  } catch (e) {
    rt.close();
    throw e;
  }
}

/** source (paced at `srcPps`) -> Queue -> the element (at `rate` in its unit) -> ... -> Discard 'sink', by the element's place. */
export function shapedPath(e: RateElement, rate: number, burst: number, frameBytes: number, srcPps: number) {
  const sink = Discard({}, 'sink');
  const x = e.make(rate, burst, frameBytes - 4, 'x');
  if (e.place === 'push' && (e.workers ?? 1) > 1) {
    // Sources on several workers, together at srcPps, into the one element ('src' is the first).
    const n = e.workers!;
    for (let w = 0; w < n; w++) InfiniteSource({ data: IPV4_UDP_64, length: frameBytes - 4, rate: srcPps / n, burst: 256 }, { name: w ? `src${w}` : 'src', thread: w }).to(x);
    x.out(0).to(sink);
    x.out(1).to(Discard({}, 'over'));
    return;
  }
  const src = InfiniteSource({ data: IPV4_UDP_64, length: frameBytes - 4, rate: srcPps, burst: 256 }, 'src');
  if (e.place === 'push') {
    src.to(x);
    x.out(0).to(sink);
    x.out(1).to(Discard({}, 'over'));
  } else if (e.place === 'queue') src.to(x).to(Unqueue({ burst: 256 }, 'pump')).to(sink);
  else {
    src.to(Queue({ capacity: QUEUE_CAPACITY }, 'q')).to(x);
    (e.place === 'pull' ? x.to(Unqueue({ burst: 256 }, 'pump')) : x).to(sink);
  }
}

/** The path as the case descriptions say it. */
export function pathText(e: RateElement): string {
  if (e.place === 'push') return `${e.setup}, the rest to another Discard`;
  if (e.place === 'queue') return `${e.setup} (its leaf queues in the Queue's place) -> Unqueue`;
  return `Queue (${QUEUE_CAPACITY}) -> ${e.setup}${e.place === 'pull' ? ' -> Unqueue' : ''}`;
}

function accuracyJob(e: RateElement, bps: number, s: TrafficSettings): Job {
  return {
    label: `accuracy: ${e.name} at ${rateLabel(bps)}`,
    run: async (step) => {
      const frame = frameFor(bps);
      const bytes = frame - 4;
      const burst = burstBytes(bps, bytes);
      const srcPps = offered(bps / 8 / bytes);
      const base: CaseResult = {
        suite: 'traffic',
        name: `accuracy in memory: ${e.name} at ${rateLabel(bps)}`,
        description: `InfiniteSource (${frame} B frames, ${OFFERED_NOTE}) -> ${pathText(e)} -> Discard, ${(e.workers ?? 1) > 1 ? `${e.workers} workers` : 'one worker'}, real clock; ${BURST_NOTE}. Achieved = Discard's bytes (frames without FCS) x 8 over each of ${s.windows} 1 s windows after a 0.5 s warm-up; error = (achieved - configured) / configured.`,
        threads: e.workers ?? 1,
        frameBytes: frame,
        group: 'accuracy',
        forwarder: 'engine',
        warnings: [],
      };
      const workers = e.workers ?? 1;
      const run = startGraph(`traffic-accuracy`, () => shapedPath(e, inUnit(e, bps, bytes), burst, frame, srcPps), workers);
      try {
        step('warm-up');
        await sleep(500);
        step(`${s.windows} windows of 1 s`);
        const t0 = nowS();
        const sources = run.g.elementNames().filter((n) => /^src\d*$/.test(n));
        const samples = await sampleUntil(() => [Number(run.g.counter('sink', 'bytes')), sources.reduce((a, n) => a + Number(run.g.counter(n, 'bytes')), 0)], t0 + s.windows + 0.05, 50);
        const achieved = windowRates(samples, 0, t0, 1, 8);
        const offeredBps = windowRates(samples, 1, t0, s.windows, 8)[0] ?? NaN;
        const err = errorSummary(achieved, bps);
        const counters = run.g.counters('x');
        const shortfall = counters.rate_shortfall;
        const r: CaseResult = {
          ...base,
          mpps: stats(achieved.map((a) => a / 1e6)),
          target: { note: `every 1 s window within ${ACCURACY_TARGET_PCT}% of the configured rate (median ${err.medianPct.toFixed(3)}%, worst ${err.worstPct.toFixed(3)}%)` },
          met: Math.abs(err.worstPct) <= ACCURACY_TARGET_PCT,
          extra: {
            unit: 'Mbit/s',
            element: e.name,
            configuredMbps: bps / 1e6,
            medianErrorPct: round(err.medianPct, 3),
            worstErrorPct: round(err.worstPct, 3),
            windows: achieved.length,
            offeredMbps: round(offeredBps / 1e6, 3),
            ...(shortfall !== undefined ? { rateShortfall: Number(shortfall) } : {}),
          },
        };
        // A push element passes at most what arrives: a source that fell behind (a busy machine) is not the element's error.
        if (!r.met && offeredBps < bps * 1.02) r.warnings.push(`the source offered only ${rateLabel(offeredBps)} over the windows (it ran late: the machine was busy), so the element was not always over its rate`);
        if (shortfall !== undefined && shortfall > 0n) r.warnings.push(`${e.name} counted ${shortfall} packets of rate_shortfall (it ran late, the machine was busy)`);
        return r;
      } finally {
        run.close();
      }
    },
  };
}

export function accuracyJobs(s: TrafficSettings): Job[] {
  return rateElements.flatMap((e) => s.memoryRates.map((bps) => accuracyJob(e, bps, s)));
}
