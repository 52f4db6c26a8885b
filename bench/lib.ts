// Shared pieces of the benchmark harness: the machine description, statistics over repeated
// runs, the figures every case reports, and the results files (one JSON per suite run under
// bench/results/; bench/RESULTS.md and bench/plots/*.svg regenerated from all of them by
// bench/report.ts). Paths are injectable (BenchPaths) so the tests write to a temporary folder.
import { execSync } from 'node:child_process';
import { cpus, loadavg, totalmem, release } from 'node:os';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const benchDir = dirname(fileURLToPath(import.meta.url));
export const resultsDir = join(benchDir, 'results');

/** Where a run's JSON goes and where the report and plots are written. */
export interface BenchPaths {
  resultsDir: string;
  reportFile: string;
  plotsDir: string;
}

export const defaultPaths: BenchPaths = {
  resultsDir,
  reportFile: join(benchDir, 'RESULTS.md'),
  plotsDir: join(benchDir, 'plots'),
};

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  /** 1, 5 and 15 minute load averages when the suite started. */
  loadAverage: number[];
  /** The same when it finished (older result files lack it). */
  loadAverageAfter?: number[];
}

export const loadAverage = () => loadavg().map((l) => Math.round(l * 100) / 100);

export function machine(): Machine {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    loadAverage: loadAverage(),
  };
}

export function gitCommit(): string {
  try {
    const sha = execSync('git rev-parse --short HEAD', { cwd: benchDir, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const dirty = execSync('git status --porcelain --untracked-files=no', { cwd: benchDir, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    return dirty ? `${sha}+dirty` : sha;
  } catch {
    return 'unknown';
  }
}

export interface Stats {
  median: number;
  min: number;
  max: number;
  runs: number[];
  /** (max - min) / median, as a fraction. */
  spread: number;
}

export function stats(values: number[]): Stats {
  if (values.length === 0) throw new Error('stats: no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], runs: values, spread: median ? (sorted[sorted.length - 1] - sorted[0]) / median : 0 };
}

/** Runs that disagree by more than this (max - min over the median) get a warning. */
export const SPREAD_LIMIT = 0.1;

export function spreadWarning(what: string, s: Stats, unit: string, digits = 2): string | undefined {
  if (s.runs.length < 2 || s.spread <= SPREAD_LIMIT) return undefined;
  return `${what}: runs disagree by ${(s.spread * 100).toFixed(0)}% (min ${s.min.toFixed(digits)}, max ${s.max.toFixed(digits)} ${unit})`;
}

/**
 * Ethernet overhead convention: a frame's size counts the Ethernet header, payload and the
 * 4-byte FCS (RFC 2544's frame sizes 64..1518); "Gbit/s" is Mpps x that size x 8. The
 * preamble, start delimiter and inter-frame gap (20 bytes per frame) are not counted in Gbit/s,
 * but they are in a link's theoretical frame rate: rate / ((size + 20) x 8).
 */
export const WIRE_OVERHEAD_BYTES = 20;
export const gbitPerSecond = (mpps: number, frameBytes: number) => (mpps * 1e6 * frameBytes * 8) / 1e9;
/** A link's theoretical maximum frame rate in Mpps at a frame size (FCS included). */
export const lineRateMpps = (linkGbps: number, frameBytes: number) => (linkGbps * 1e9) / ((frameBytes + WIRE_OVERHEAD_BYTES) * 8) / 1e6;

export interface Latency {
  /** Microseconds. */
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  samples: number;
  /** The rate the stamped traffic was offered at, Mpps. */
  atMpps: number;
  method: string;
}

/** A comparison with another forwarder measured in the same run. */
export interface Comparison {
  name: string;
  /** 'ok': measured (mpps and ratio set); otherwise why not. */
  status: 'ok' | 'skipped' | 'failed';
  mpps?: number;
  /** This case's median over the other's. */
  ratio?: number;
  reason?: string;
}

export interface CaseResult {
  suite: string;
  name: string;
  description: string;
  threads: number;
  frameBytes: number;
  /** 'ok' unless the case was skipped or failed (then no figures, and `reason`). Absent: ok. */
  status?: 'ok' | 'skipped' | 'failed';
  reason?: string;
  /** Plot grouping (e.g. 'bridge', 'router'), and who forwards ('engine', 'kernel', 'click'). */
  group?: string;
  forwarder?: string;
  /** Mpps over the runs (absent when skipped or failed). */
  mpps?: Stats;
  /** Packets counted in the median run. */
  packets?: number;
  /** Gbit/s at the median, see WIRE_OVERHEAD_BYTES for what is counted. */
  gbps?: number;
  /** Engine CPU time per packet in the median run (ns); absent for the kernel. */
  cpuNsPerPacket?: number;
  /** User and system shares of it, when the engine reports them. */
  cpuUserNsPerPacket?: number;
  cpuSysNsPerPacket?: number;
  /** Loss at full offered load, percent. */
  lossPct?: number;
  latency?: Latency;
  /** Latency at fractions of a zero-loss rate (interfaces: the group's one-worker engine case's, so
   * the engine and the kernel are measured at the same offered rates), lowest load first. */
  latencyByLoad?: (Latency & { loadPct: number })[];
  /** Theoretical limit of the link at this frame size (Mpps), or null with limitNote saying why. */
  limitMpps?: number | null;
  limitNote?: string;
  versus?: Comparison[];
  target?: { mpps?: number; ratio?: number; note: string };
  met?: boolean;
  warnings: string[];
  extra?: Record<string, number | string>;
}

export interface SuiteRun {
  suite: string;
  date: string;
  command: string;
  commit: string;
  machine: Machine;
  settings: Record<string, number | string>;
  /** Seconds the suite took. */
  seconds?: number;
  cases: CaseResult[];
  /** Run-level notes (e.g. the generator used, Click skipped). */
  notes?: string[];
}

export const isOk = (c: CaseResult) => (c.status ?? 'ok') === 'ok' && c.mpps !== undefined;

export function runFileName(run: SuiteRun): string {
  return `${run.date.replace(/[:.]/g, '-')}-${run.suite}.json`;
}

/** Write one run's JSON; returns the file. (The caller regenerates the report.) */
export function saveRun(run: SuiteRun, paths: BenchPaths = defaultPaths): string {
  mkdirSync(paths.resultsDir, { recursive: true });
  const file = join(paths.resultsDir, runFileName(run));
  writeFileSync(file, JSON.stringify(run, null, 2) + '\n');
  return file;
}

export function loadRuns(dir: string = resultsDir): SuiteRun[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as SuiteRun);
}

/**
 * How much of their threads' time the engine's workers actually ran during a measured run:
 * CPU ns per packet x packets / (seconds x threads). Below 1 the machine was busy (other
 * processes took the CPU): Mpps is then low by that factor, CPU ns per packet much less so.
 */
export function cpuShare(r: { cpuNsPerPacket: number; packets: number; seconds: number }, threads: number): number {
  return r.seconds > 0 && threads > 0 ? (r.cpuNsPerPacket * r.packets) / (r.seconds * 1e9 * threads) : NaN;
}

/** The warning for a share below 90%, if any. */
export function cpuShareWarning(share: number): string | undefined {
  if (!Number.isFinite(share) || share >= 0.9) return undefined;
  return `the workers ran only ${Math.round(share * 100)}% of the measured time (other processes had the CPU): Mpps is low by about that factor; CPU ns/pkt is the steadier figure`;
}

/** While a lab is up: Ctrl-C or SIGTERM runs `cleanup` (namespaces, helpers, files) and exits
 *  with 130, so an interrupted suite leaves nothing behind. Returns the function that stops
 *  watching (call it, then clean up, in the suite's `finally`). */
export function cleanUpOnSignal(suite: string, cleanup: () => void): () => void {
  const onSignal = (sig: NodeJS.Signals) => {
    console.error(`\nbench ${suite}: ${sig}: tearing the lab down`);
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return () => {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  };
}
