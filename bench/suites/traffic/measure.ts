// The traffic suite's measuring: counters sampled against the clock, and what is computed from
// the samples (rates over fixed windows, errors against a configured rate, the time until
// every class settles within a tolerance of its share). The computing functions are pure, so
// test/bench-traffic.test.ts checks them on made-up samples.

/** Counter values at one time: `t` in seconds (any origin), `v` one value per counter read. */
export interface Sample {
  t: number;
  v: number[];
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const nowS = () => Number(process.hrtime.bigint()) / 1e9;

/**
 * Read `read()` every `everyMs` until `untilS` (nowS() time), with the time of each read. The
 * timestamps are taken beside the reads, so a late timer (a busy event loop) shifts a window's
 * ends but never its rate: rates divide by the times actually between samples.
 */
export async function sampleUntil(read: () => number[], untilS: number, everyMs: number, into: Sample[] = []): Promise<Sample[]> {
  for (;;) {
    into.push({ t: nowS(), v: read() });
    if (into[into.length - 1].t >= untilS) return into;
    await sleep(Math.min(everyMs, Math.max(1, (untilS - nowS()) * 1000)));
  }
}

/** The sample nearest to time t (samples sorted by time). */
function nearest(samples: Sample[], t: number): Sample {
  let lo = 0;
  let hi = samples.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (samples[mid].t < t) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && Math.abs(samples[lo - 1].t - t) <= Math.abs(samples[lo].t - t)) return samples[lo - 1];
  return samples[lo];
}

/**
 * Rates of counter `i` (per second, times `scale`) over consecutive windows of `width` seconds
 * from `start`: each window runs between the samples nearest its ends and divides by the time
 * between those samples. Windows that reach past the last sample are left out.
 */
export function windowRates(samples: Sample[], i: number, start: number, width: number, scale = 1): number[] {
  const out: number[] = [];
  if (samples.length < 2) return out;
  const last = samples[samples.length - 1].t;
  for (let a = start; a + width <= last + width * 0.02; a += width) {
    const s0 = nearest(samples, a);
    const s1 = nearest(samples, a + width);
    if (s1.t <= s0.t) break;
    out.push(((s1.v[i] - s0.v[i]) / (s1.t - s0.t)) * scale);
  }
  return out;
}

export interface ErrorSummary {
  /** Median of the windows' errors, in percent of the configured rate (signed). */
  medianPct: number;
  /** The window error farthest from zero, in percent (signed). */
  worstPct: number;
}

/** Errors of achieved rates against the configured one, percent. */
export function errorSummary(achieved: number[], configured: number): ErrorSummary {
  if (!achieved.length || !(configured > 0)) return { medianPct: NaN, worstPct: NaN };
  const errs = achieved.map((a) => ((a - configured) / configured) * 100);
  const sorted = [...errs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const medianPct = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  const worstPct = errs.reduce((w, e) => (Math.abs(e) > Math.abs(w) ? e : w), 0);
  return { medianPct, worstPct };
}

export interface Convergence {
  /** Seconds after the change until every class is within tolerance (undefined: never). */
  settled: number | undefined;
  /** Of the back-to-back windows from then to the end, the share in which every class stays within tolerance. */
  held: number;
}

/**
 * How classes settle after a change at time `change`. Each class's rate is counter
 * `counters[k]` over windows of `width` seconds; the classes have settled at the end of the
 * first window lying wholly after the change in which every class is within `tolerance` (a
 * fraction) of its target, and in the window after it too (so a rate crossing the target on its
 * way does not count). The answer is at least `width` (the resolution). Then `held` says how
 * steady they stayed: a descheduled worker shows up as a window off target there, not as a
 * later settling time. With `shares` the targets are fractions of the classes' total (what each
 * class gets of the link, whatever the link's own rate did); otherwise rates (per second x `scale`).
 */
export function convergence(samples: Sample[], change: number, counters: number[], targets: number[], width: number, tolerance: number, opts: { scale?: number; shares?: boolean } = {}): Convergence {
  const scale = opts.scale ?? 1;
  const last = samples.length ? samples[samples.length - 1].t : 0;
  const within = (a: Sample, b: Sample) => {
    if (b.t <= a.t) return false;
    const rates = counters.map((c) => ((b.v[c] - a.v[c]) / (b.t - a.t)) * scale);
    const total = rates.reduce((x, y) => x + y, 0);
    return rates.every((rate, k) => {
      const got = opts.shares ? (total > 0 ? rate / total : 0) : rate;
      return Math.abs(got - targets[k]) <= tolerance * targets[k];
    });
  };
  for (const end of samples) {
    if (end.t - width < change || end.t + width > last + width * 0.02) continue;
    const begin = nearest(samples, end.t - width);
    if (begin.t < change - width * 0.02) continue;
    if (!within(begin, end) || !within(end, nearest(samples, end.t + width))) continue;
    let n = 0;
    let ok = 0;
    for (let a = end.t; a + width <= last + width * 0.02; a += width, n++) if (within(nearest(samples, a), nearest(samples, a + width))) ok++;
    return { settled: end.t - change, held: n ? ok / n : 1 };
  }
  return { settled: undefined, held: 0 };
}

/** Median of finite values (NaN when none). */
export function median(values: number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** RFC 2544's frame sizes (FCS included). */
export const FRAME_SIZES = [64, 128, 256, 512, 1024, 1280, 1518];

/**
 * The frame size (FCS included) for a rate: the largest of RFC 2544's sizes that still makes at
 * least `minPps` packets a second, so that one packet more or less in a 1 s window stays far
 * below the 1% target (1 Mbit/s: 64 B; 10 Mbit/s: 512 B; 100 Mbit/s and up: 1518 B). The
 * engine and the kernel count a frame's bytes without its FCS (frame - 4), as rates here do.
 */
export function frameFor(bitsPerSecond: number, minPps = 2000): number {
  const fit = FRAME_SIZES.filter((f) => bitsPerSecond / 8 / (f - 4) >= minPps);
  return fit.length ? fit[fit.length - 1] : FRAME_SIZES[0];
}

export const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

/** '10 Mbit/s', '2.5 Gbit/s'. */
export function rateLabel(bps: number): string {
  if (bps >= 1e9) return `${+(bps / 1e9).toFixed(2)} Gbit/s`;
  if (bps >= 1e6) return `${+(bps / 1e6).toFixed(2)} Mbit/s`;
  return `${+(bps / 1e3).toFixed(2)} kbit/s`;
}
