// RFC 2544 throughput: the highest rate a device forwards without loss, found by binary search
// between a passing and a failing rate, then confirmed by a longer trial. Pure logic over a
// trial function, so it is tested against simulated devices (test/bench-harness.test.ts) and
// driven by real trials in the interface suites.

export interface TrialOutcome {
  /** No frame lost. */
  pass: boolean;
  /** The rate the generator really offered (it may fall short of the asked rate). */
  offeredPps: number;
}

/** Offer `pps` packets per second for one trial. */
export type TrialFn = (pps: number) => Promise<TrialOutcome> | TrialOutcome;

export interface SearchOptions {
  /** Lowest rate of interest (> 0: tried first when the maximum fails; 0: nothing below it is tried). */
  min: number;
  /** Highest rate: the generator's full rate. */
  max: number;
  /** The outcome at `max` when it is already known (a full-load trial), so it is not repeated. */
  maxOutcome?: TrialOutcome;
  /** Most bisection trials (default 7). */
  steps?: number;
  /** Stop bisecting once the bracket is narrower than this fraction of max (default 0.01). */
  resolution?: number;
  /** The first rate to try inside the bracket (e.g. what the device delivered at full load); default the midpoint. */
  guess?: number;
  /** The longer confirming trial; default: none (the search result stands). */
  confirm?: TrialFn;
  /** Factors applied one after another while the confirming trial loses (default 0.9, 0.9, 0.5, 0.5). */
  stepDown?: number[];
}

export interface SearchStep {
  phase: 'max' | 'min' | 'search' | 'confirm';
  askedPps: number;
  offeredPps: number;
  pass: boolean;
}

export interface SearchResult {
  /** The zero-loss rate found (0 when nothing passed). */
  pps: number;
  /** Nothing was lost at the maximum: the device is at least as fast as the generator. */
  atMaximum: boolean;
  /** Even the minimum (or every rate tried) lost frames. */
  belowMinimum: boolean;
  /** Whether a confirming trial passed at `pps` (undefined when no confirm function was given). */
  confirmed?: boolean;
  steps: SearchStep[];
  notes: string[];
}

export async function zeroLossSearch(trial: TrialFn, opts: SearchOptions): Promise<SearchResult> {
  if (!(opts.max > 0) || !(opts.min >= 0) || opts.min > opts.max) throw new Error(`zeroLossSearch: need 0 <= min <= max and max > 0 (min ${opts.min}, max ${opts.max})`);
  const steps: SearchStep[] = [];
  const notes: string[] = [];
  const run = async (phase: SearchStep['phase'], fn: TrialFn, pps: number) => {
    const o = await fn(pps);
    steps.push({ phase, askedPps: pps, offeredPps: o.offeredPps, pass: o.pass });
    // A rate the generator did not reach was not tried: what it offered was.
    return { ...o, tried: Math.min(pps, o.offeredPps > 0 ? o.offeredPps : pps) };
  };
  const top = opts.maxOutcome ?? (await run('max', trial, opts.max));
  let lo = 0; // highest rate seen passing
  let hi = opts.max; // lowest rate seen failing
  let atMaximum = false;
  let belowMinimum = false;
  if (top.pass) {
    atMaximum = true;
    lo = Math.min(opts.max, top.offeredPps > 0 ? top.offeredPps : opts.max);
    notes.push('no loss at the maximum rate: the device is at least as fast as the generator');
  } else {
    hi = Math.min(opts.max, top.offeredPps > 0 ? top.offeredPps : opts.max);
    if (opts.min > 0) {
      const m = await run('min', trial, opts.min);
      if (m.pass) lo = m.tried;
      else {
        belowMinimum = true;
        notes.push(`loss already at the minimum rate ${opts.min} pps`);
      }
    }
    if (!belowMinimum) {
      const maxSteps = opts.steps ?? 7;
      const resolution = (opts.resolution ?? 0.01) * opts.max;
      for (let s = 0; s < maxSteps && hi - lo > resolution; s++) {
        const next = s === 0 && opts.guess !== undefined && opts.guess > lo && opts.guess < hi ? opts.guess : (lo + hi) / 2;
        const r = await run('search', trial, next);
        if (r.pass) lo = Math.max(lo, r.tried);
        else hi = Math.min(hi, r.tried);
        // Noise can make a rate below a passing one fail: keep the bracket ordered.
        if (hi < lo) hi = lo;
      }
      if (lo === 0) belowMinimum = true;
    }
  }
  let pps = lo;
  let confirmed: boolean | undefined;
  if (opts.confirm && pps > 0) {
    const factors = opts.stepDown ?? [0.9, 0.9, 0.5, 0.5];
    confirmed = false;
    for (let i = 0; ; i++) {
      const c = await run('confirm', opts.confirm, pps);
      if (c.pass) {
        confirmed = true;
        pps = c.tried;
        break;
      }
      if (i >= factors.length) break;
      notes.push(`the confirming trial at ${Math.round(pps)} pps lost frames; stepping down to ${Math.round(pps * factors[i])} pps`);
      pps *= factors[i];
    }
    if (!confirmed) {
      notes.push('no rate passed the confirming trial');
      pps = 0;
    }
  }
  return { pps, atMaximum, belowMinimum: belowMinimum || pps === 0, confirmed, steps, notes };
}
