// The traffic benchmark's arithmetic (bench/suites/traffic/measure.ts) on made-up counter
// samples: rates over 1 s windows between uneven sample times, errors against a configured
// rate, the time until classes settle on their rates or shares (and how steady they stay), and
// the frame size per rate.
// (The suite itself is a benchmark, run by `npm run bench -- traffic`; nothing here runs it.)
import t from 'tap';
import { windowRates, errorSummary, convergence, frameFor, rateLabel, type Sample } from '../bench/suites/traffic/measure.js';

/** Samples every `dt` s of counters growing at `rates(t)` per second (integrated step by step). */
function samples(dt: number, until: number, rates: (t: number) => number[], jitter = 0): Sample[] {
  const out: Sample[] = [];
  let v = rates(0).map(() => 0);
  let last = 0;
  for (let i = 0; ; i++) {
    const t = Math.min(until, i * dt + (i > 0 ? jitter * Math.sin(i) : 0));
    const r = rates(last);
    v = v.map((x, k) => x + r[k] * (t - last));
    out.push({ t, v });
    last = t;
    if (t >= until) return out;
  }
}

t.test('windowRates: exact rates over uneven sample times, windows past the end left out', async (t) => {
  const s = samples(0.05, 3.02, () => [1000], 0.01);
  const w = windowRates(s, 0, 0, 1);
  t.equal(w.length, 3, 'three whole windows in 3.02 s');
  for (const r of w) t.ok(Math.abs(r - 1000) < 1e-6, `rate ${r} is 1000 whatever the sample times`);
  t.same(windowRates(s, 0, 0, 1, 8).map(Math.round), [8000, 8000, 8000], 'scaled (bytes to bits)');
  // A rate that halves after 1.5 s: the second window straddles it.
  const h = samples(0.01, 3, (x) => [x < 1.5 ? 1000 : 500]);
  t.same(windowRates(h, 0, 0, 1).map(Math.round), [1000, 750, 500]);
  t.same(windowRates([{ t: 0, v: [0] }], 0, 0, 1), [], 'one sample: no window');
});

t.test('errorSummary: median and the worst window, signed', async (t) => {
  const e = errorSummary([99, 101, 100.5, 97, 100], 100);
  t.equal(e.medianPct, 0);
  t.equal(e.worstPct, -3, 'the window farthest from the rate, with its sign');
  t.same(errorSummary([], 100), { medianPct: NaN, worstPct: NaN });
});

t.test('convergence: rates settle after a change, and shares of a link', async (t) => {
  // A rate dropping from 1000 to 500 at t = 1, reached linearly over 50 ms.
  const ramp = (x: number) => (x < 1 ? 1000 : x < 1.05 ? 1000 - ((x - 1) / 0.05) * 500 : 500);
  const s = samples(0.002, 1.6, (x) => [ramp(x)]);
  const c = convergence(s, 1, [0], [500], 0.02, 0.02);
  t.ok(c.settled! > 0.05 && c.settled! < 0.08, `settles once a whole 20 ms window lies past the ramp (${c.settled})`);
  t.equal(c.held, 1, 'and holds');
  const now = convergence(samples(0.002, 1.6, (x) => [x < 1 ? 1000 : 500]), 1, [0], [500], 0.02, 0.02);
  t.ok(now.settled! >= 0.02 && now.settled! < 0.025, `a change that takes effect at once measures one window (${now.settled})`);
  t.same(convergence(s, 1, [0], [400], 0.02, 0.02), { settled: undefined, held: 0 }, 'never within 2% of 400');
  // A dip after settling (a descheduled worker) does not move the settling time; it shows in held.
  const dip = samples(0.002, 1.6, (x) => [x < 1 ? 1000 : x > 1.2 && x < 1.21 ? 100 : 500]);
  const d = convergence(dip, 1, [0], [500], 0.02, 0.02);
  t.ok(d.settled! < 0.025, `settled at once (${d.settled})`);
  t.ok(d.held > 0.9 && d.held < 1, `one or two windows of the ~29 after it off (held ${d.held})`);
  // Crossing the target on the way is not settling: it must hold for the next window too.
  const cross = samples(0.002, 1.6, (x) => [x < 1 ? 1000 : x < 1.02 ? 500 : x < 1.06 ? 700 : 500]);
  t.ok(convergence(cross, 1, [0], [500], 0.02, 0.02).settled! >= 0.08, 'a target touched for one window before an overshoot is not settled');
  // Shares: class 1 joins at t = 1; the link's total wobbles, the split is what counts.
  const link = (x: number) => 1000 * (1 + 0.2 * Math.sin(x * 40));
  const two = samples(0.002, 1.6, (x) => (x < 1 ? [link(x), 0] : x < 1.03 ? [link(x) * 0.8, link(x) * 0.2] : [link(x) / 2, link(x) / 2]));
  const sh = convergence(two, 1, [0, 1], [0.5, 0.5], 0.02, 0.02, { shares: true });
  t.ok(sh.settled! > 0.03 && sh.settled! < 0.06, `shares settle once the split is even (${sh.settled})`);
  t.equal(convergence(two, 1, [0, 1], [500, 500], 0.02, 0.02).settled, undefined, 'the wobbling link never holds absolute rates within 2%');
});

t.test('frameFor and rateLabel', async (t) => {
  t.equal(frameFor(1e6), 64, '1 Mbit/s: 64 B frames (2083 packets/s)');
  t.equal(frameFor(1e7), 512, '10 Mbit/s: 512 B');
  t.equal(frameFor(1e8), 1518);
  t.equal(frameFor(1e10), 1518);
  t.equal(frameFor(1e3), 64, 'below every size: the smallest');
  t.equal(rateLabel(1e7), '10 Mbit/s');
  t.equal(rateLabel(2.5e9), '2.5 Gbit/s');
});
