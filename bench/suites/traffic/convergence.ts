// The traffic suite's convergence, in memory on the real clock, counters sampled every few ms:
// - rate change: a rate element shaping a backlogged queue is re-rated through its handler
//   (1 Gbit/s -> 500 Mbit/s, then back); the time until the achieved rate over a 20 ms window,
//   and the window after it, is within 2% of the new rate; then how many of the later windows
//   (to 0.5 s after the change) stayed within (a descheduled worker shows there);
// - new contender: two classes (Paint 0 and 1, each a paced source above the link -> Queue)
//   under a scheduler, the link a rate element at 1 Gbit/s; class 1's source starts while
//   class 0 has the link to itself; the time until each class's share of what the link sent is
//   within 2% of its due (counted per class after the link by PaintSwitch -> Discard).
// The answer's resolution is the window (20 ms): a change that takes effect at once measures
// about one window.
import { InfiniteSource, Queue, Discard, Paint, PaintSwitch, Unqueue, type ElementNode } from 'pktgraph';
import { stats, type CaseResult } from '../../lib.js';
import { rateElements, schedElements, inUnit, IPV4_UDP_64, type RateElement, type SchedElement } from './elements.js';
import { sampleUntil, convergence, nowS, sleep, rateLabel, type Sample, type Convergence } from './measure.js';
import { startGraph, shapedPath, pathText, offered, OFFERED_NOTE, QUEUE_CAPACITY } from './accuracy.js';
import { SHARE_TOLERANCE, CONVERGENCE_TARGET_MS, burstBytes, BURST_NOTE, type TrafficSettings } from './settings.js';
import type { Job } from './jobs.js';

const FRAME = 1518;
const BYTES = FRAME - 4;
const HIGH = 1e9;
const LOW = 5e8;
const OBSERVE_S = 0.5;

/** One figure over the trials: the settling times (ms), and how steady the classes stayed after. */
function timesResult(base: CaseResult, trials: Convergence[], what: string): CaseResult {
  const settled = trials.filter((c) => c.settled !== undefined).map((c) => c.settled! * 1000);
  const unsettled = trials.length - settled.length;
  const r: CaseResult = { ...base, warnings: [] };
  if (!settled.length) return { ...r, status: 'failed', extra: { unit: 'ms', trials: trials.length }, reason: `${what}: never within ${SHARE_TOLERANCE * 100}% for two windows running in the ${OBSERVE_S * 1000} ms observed after the change (${trials.length} trial(s))` };
  const st = stats(settled);
  const held = Math.min(...trials.filter((c) => c.settled !== undefined).map((c) => c.held));
  r.mpps = st;
  r.target = { note: `within ${SHARE_TOLERANCE * 100}% in <= ${CONVERGENCE_TARGET_MS} ms (median ${st.median.toFixed(0)} ms, worst ${unsettled ? 'never settled' : `${st.max.toFixed(0)} ms`})` };
  r.met = unsettled === 0 && st.max <= CONVERGENCE_TARGET_MS;
  r.extra = { unit: 'ms', trials: trials.length, heldPct: Math.round(held * 100), ...(unsettled ? { unsettled } : {}) };
  if (unsettled) r.warnings.push(`${unsettled} of ${trials.length} trial(s) never settled within ${SHARE_TOLERANCE * 100}% in the ${OBSERVE_S * 1000} ms observed`);
  if (held < 0.9) r.warnings.push(`after settling, ${Math.round((1 - held) * 100)}% of the windows (worst trial) were off by more than ${SHARE_TOLERANCE * 100}% again: a worker descheduled by the busy machine shows up so`);
  return r;
}

function rateChangeJob(e: RateElement, s: TrafficSettings): Job {
  return {
    label: `convergence: ${e.name} rate change`,
    run: async (step) => {
      const base: CaseResult = {
        suite: 'traffic',
        name: `convergence: ${e.name} re-rated ${rateLabel(HIGH)} <-> ${rateLabel(LOW)}`,
        description: `InfiniteSource (${FRAME} B, ${OFFERED_NOTE} of ${rateLabel(HIGH)}) -> ${pathText(e)} -> Discard, ${(e.workers ?? 1) > 1 ? `${e.workers} workers` : 'one worker'}, real clock; the rate written through its \`${e.rateHandler}\` handler from ${rateLabel(HIGH)} to ${rateLabel(LOW)} and back, ${s.convergenceTrials} time(s) each way; Discard's bytes sampled every ${s.sampleMs} ms; time from the write until the rate over a ${s.windowMs} ms window, and the window after it, is within ${SHARE_TOLERANCE * 100}% of the new rate (the resolution is one window); heldPct: the share of the back-to-back windows after that which stayed within (worst trial).`,
        threads: e.workers ?? 1,
        frameBytes: FRAME,
        group: 'convergence',
        forwarder: 'engine',
        warnings: [],
      };
      const run = startGraph('traffic-rate-change', () => shapedPath(e, inUnit(e, HIGH, BYTES), burstBytes(HIGH, BYTES), FRAME, offered(HIGH / 8 / BYTES)), e.workers ?? 1);
      const times: Convergence[] = [];
      try {
        await sleep(500);
        for (let trial = 0; trial < s.convergenceTrials; trial++)
          for (const to of [LOW, HIGH]) {
            step(`trial ${trial + 1}: to ${rateLabel(to)}`);
            const samples: Sample[] = [];
            const read = () => [Number(run.g.counter('sink', 'bytes'))];
            await sampleUntil(read, nowS() + 0.1, s.sampleMs, samples);
            const change = nowS();
            run.g.write('x', e.rateHandler, e.rateText(inUnit(e, to, BYTES), burstBytes(to, BYTES)));
            await sampleUntil(read, change + OBSERVE_S, s.sampleMs, samples);
            times.push(convergence(samples, change, [0], [to], s.windowMs / 1000, SHARE_TOLERANCE, { scale: 8 }));
          }
      } finally {
        run.close();
      }
      return timesResult(base, times, 'the achieved rate');
    },
  };
}

/** Two classes under `sched`, the link at HIGH; class 1 starts after class 0 has the link alone. */
function contenderJob(sched: SchedElement, link: RateElement, s: TrafficSettings): Job {
  const fractions = sched.shares;
  const shares = fractions.map((f) => f * HIGH);
  const burst = burstBytes(HIGH, BYTES);
  const linkText = sched.kind === 'link' ? `${sched.setup}, the link at ${rateLabel(HIGH)} (${BURST_NOTE}) -> Unqueue` : `${sched.setup} -> the link, ${link.setup} at ${rateLabel(HIGH)} (${BURST_NOTE})`;
  return {
    label: `convergence: ${sched.name} new contender`,
    run: async (step) => {
      const base: CaseResult = {
        suite: 'traffic',
        name: `convergence: ${sched.name}, a new contender (weights ${sched.weights.join(':')})`,
        description: `Two classes, each InfiniteSource (${FRAME} B, ${OFFERED_NOTE} of the link) -> Paint(class) -> ${sched.kind === 'link' ? '' : `Queue (${QUEUE_CAPACITY}) -> `}${linkText} -> PaintSwitch -> a Discard per class; one worker, real clock. Class 1's source is switched on (its \`active\` handler) while class 0 has the link alone; counters sampled every ${s.sampleMs} ms; time until each class's share of what the link sent, over a ${s.windowMs} ms window and the window after it, is within ${SHARE_TOLERANCE * 100}% of its due (${fractions.map((f) => `${+(f * 100).toFixed(1)}%`).join(', ')}: ${shares.map(rateLabel).join(', ')}) (the link's own accuracy is the accuracy cases'); heldPct as for the rate changes; ${s.convergenceTrials} trial(s).`,
        threads: 1,
        frameBytes: FRAME,
        group: 'convergence',
        forwarder: 'engine',
        warnings: [],
      };
      const times: Convergence[] = [];
      for (let trial = 0; trial < s.convergenceTrials; trial++) {
        step(`trial ${trial + 1}`);
        const run = startGraph('traffic-contender', () => {
          const sc = sched.make('sched', HIGH, burst);
          fractions.forEach((_, k) => {
            const painted = InfiniteSource({ data: IPV4_UDP_64, length: BYTES, rate: offered(HIGH / 8 / BYTES), burst: 256, active: k === 0 }, `src${k}`).to(Paint({ color: k }, `paint${k}`));
            if (sched.kind === 'link') painted.to(sc);
            else painted.to(Queue({ capacity: QUEUE_CAPACITY }, `q${k}`)).to(sc.in(k));
          });
          let out: ElementNode;
          if (sched.kind === 'link') out = sc.to(Unqueue({ burst: 256 }, 'pump'));
          else {
            const x = sc.to(link.make(inUnit(link, HIGH, BYTES), burst, BYTES, 'link'));
            out = link.place === 'pull' ? x.to(Unqueue({ burst: 256 }, 'pump')) : x;
          }
          const ps = out.to(PaintSwitch({}, 'classes'));
          fractions.forEach((_, k) => ps.out(k).to(Discard({}, `sink${k}`)));
        });
        try {
          await sleep(500);
          const read = () => fractions.map((_, k) => Number(run.g.counter(`sink${k}`, 'bytes')));
          const samples: Sample[] = [];
          await sampleUntil(read, nowS() + 0.1, s.sampleMs, samples);
          const change = nowS();
          for (let k = 1; k < fractions.length; k++) run.g.write(`src${k}`, 'active', 'true');
          await sampleUntil(read, change + OBSERVE_S, s.sampleMs, samples);
          times.push(convergence(samples, change, fractions.map((_, k) => k), fractions, s.windowMs / 1000, SHARE_TOLERANCE, { shares: true }));
        } finally {
          run.close();
        }
      }
      return timesResult(base, times, 'the class shares');
    },
  };
}

export function convergenceJobs(s: TrafficSettings): Job[] {
  // The link under a pull scheduler: a bit-rate element where there is one, else RatedUnqueue.
  const link = rateElements.find((e) => e.name === 'BandwidthRatedUnqueue') ?? rateElements.find((e) => e.name === 'RatedUnqueue')!;
  return [...rateElements.map((e) => rateChangeJob(e, s)), ...schedElements.map((sc) => contenderJob(sc, link, s))];
}
