// The traffic suite's settings (from the bench options) and the targets every phase reports
// against (issue 10: within 1% over 1 s; shares within 2% within 100 ms; 20 ns per shaping or
// policing stage, 60 ns for the 1000-leaf hierarchy).
import type { SuiteContext } from '../../harness.js';

export const ACCURACY_TARGET_PCT = 1;
export const SHARE_TOLERANCE = 0.02;
export const CONVERGENCE_TARGET_MS = 100;
export const STAGE_TARGET_NS = 20;
export const HIERARCHY_TARGET_NS = 60;

export const PHASES = ['accuracy', 'convergence', 'cost', 'lab'] as const;
export type Phase = (typeof PHASES)[number];

export interface TrafficSettings {
  quick: boolean;
  phases: Set<Phase>;
  /** In-memory accuracy: configured rates (bits/s) and 1 s windows per rate. */
  memoryRates: number[];
  windows: number;
  /** Lab: shaped rates (bits/s; the host's highest is added when measured) and 1 s windows. */
  labRates: number[];
  labWindows: number;
  /** Convergence: trials per case; samples every `sampleMs`, rates over `windowMs`. */
  convergenceTrials: number;
  sampleMs: number;
  windowMs: number;
  /** --only: keep the cases whose name contains one of these (element names); empty: all. */
  only: string[];
  /** Lab generator: 'engine' (default) or 'trafgen'. */
  generator: 'engine' | 'trafgen';
  /** Cost: runs (with and without the element, alternated), seconds each, warm-up. */
  costRuns: number;
  costSeconds: number;
  warmup: number;
}

/**
 * The token bucket every shaper gets (engine and tc alike), in bytes: 32 frames, or 5 ms of
 * the rate when that is more (Linux's advice for HTB and TBF is at least rate / HZ, 4 ms at
 * HZ 250; a software shaper on a shared machine also rides out its thread being descheduled
 * with it); each element converts it to its own unit and caps it at its own maximum
 * (RatedUnqueue: 256 packets).
 */
export const burstBytes = (bps: number, frameBytes: number) => Math.round(Math.max(32 * frameBytes, (bps / 8) * 0.005));
export const BURST_NOTE = 'a bucket of 32 frames or 5 ms of the rate, whichever is more (capped at the element\'s maximum)';

/** Whether --only keeps a case of this name. */
export const wanted = (s: TrafficSettings, name: string) => !s.only.length || s.only.some((o) => name.includes(o));

export function settingsFrom(ctx: SuiteContext): TrafficSettings {
  const o = ctx.options;
  const phases = new Set((o.other.cases ?? PHASES.join(',')).split(',').map((s) => s.trim()) as Phase[]);
  for (const p of phases) if (!PHASES.includes(p)) throw new Error(`bench traffic: --cases takes ${PHASES.join(', ')} (got '${p}')`);
  const quick = o.quick;
  if (o.other.generator !== undefined && !['engine', 'trafgen'].includes(o.other.generator)) throw new Error(`bench traffic: --generator takes engine or trafgen (got '${o.other.generator}')`);
  return {
    quick,
    phases,
    memoryRates: quick ? [1e6, 1e8, 1e10] : [1e6, 1e7, 1e8, 1e9, 1e10],
    windows: quick ? 1 : 5,
    labRates: quick ? [1e8] : [1e7, 1e8, 5e8],
    labWindows: quick ? 1 : 5,
    only: (o.other.only ?? '').split(',').map((x) => x.trim()).filter(Boolean),
    generator: o.other.generator === 'trafgen' ? 'trafgen' : 'engine',
    convergenceTrials: quick ? 1 : 3,
    sampleMs: 2,
    windowMs: 20,
    costRuns: ctx.runs,
    costSeconds: o.seconds ?? (quick ? 0.5 : 2),
    warmup: ctx.warmup,
  };
}
