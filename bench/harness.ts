// The benchmark harness core: parse the options, run the named suites one after another (each a
// set of cases, each case several runs after a warm-up), note the machine and its load average
// before and after, write one JSON file per suite run and regenerate the report and plots.
// bench/run.ts is the command-line entry (`npm run bench`, `pktgraph bench`); the tests call
// runBench() with their own paths.
import { machine, gitCommit, saveRun, loadAverage, defaultPaths, isOk, type BenchPaths, type CaseResult } from './lib.js';
import { writeReport } from './report.js';
import { makeProgress, type Progress } from './progress.js';
import { join, resolve } from 'node:path';

export interface BenchOptions {
  runs?: number;
  seconds?: number;
  warmup?: number;
  /** Fewer and shorter trials (interface suites). */
  quick: boolean;
  /** Frame sizes for the interface suites. */
  sizes?: number[];
  /** Seconds of one search trial and of the confirming trial (interface suites). */
  trial?: number;
  confirm?: number;
  /** A Click userlevel binary (default: `click` on PATH, if any). */
  click?: string;
  /** A link rate in Gbit/s to compute the theoretical limit from (default: none, veth has none). */
  lineRate?: number;
  /** Skip the latency measurement (interface suites). */
  noLatency: boolean;
  /** Everything else, by name without the dashes (flags as 'true'). */
  other: Record<string, string>;
}

export interface SuiteContext {
  runs: number;
  seconds: number;
  warmup: number;
  options: BenchOptions;
  progress: Progress;
}

export interface SuiteOutput {
  cases: CaseResult[];
  notes?: string[];
  settings?: Record<string, number | string>;
}

export interface Suite {
  description: string;
  defaultRuns: number;
  run(ctx: SuiteContext): Promise<SuiteOutput>;
}

// Suites load their modules only when they run (the interface suite needs root and the lab).
export const suites: Record<string, () => Promise<Suite>> = {
  engine: async () => (await import('./suites/engine.js')).engineSuite,
  fib: async () => (await import('./suites/fib.js')).fibSuite,
  router: async () => (await import('./suites/router.js')).routerSuite,
  interfaces: async () => (await import('./suites/interfaces.js')).interfacesSuite,
  startup: async () => (await import('./suites/startup.js')).startupSuite,
  traffic: async () => (await import('./suites/traffic.js')).trafficSuite,
  vrouters: async () => (await import('./suites/vrouters.js')).vroutersSuite,
  scripts: async () => (await import('./suites/scripts.js')).scriptsSuite,
  plugins: async () => (await import('./suites/plugins.js')).pluginsSuite,
  api: async () => (await import('./suites/api.js')).apiSuite,
  linkemu: async () => (await import('./suites/linkemu.js')).linkemuSuite,
  metrics: async () => (await import('./suites/metrics.js')).metricsSuite,
  scenarios: async () => (await import('./suites/scenarios.js')).scenariosSuite,
  recovery: async () => (await import('./suites/recovery.js')).recoverySuite,
};

export const usage = `usage: pktgraph bench [SUITE...] [options]      (or: npm run bench -- [SUITE...] [options])
suites: ${Object.keys(suites).join(', ')} (default: engine)
  engine      in-memory graphs, 1 and 2 workers (scaling)
  fib         IPv4 (902k) and IPv6 (160k) LPM tables: load time, memory, lookups/s
  router      in-memory IPv4 router path over the full table
  interfaces  veth forwarding, RFC 2544 zero-loss rate by frame size, latency, engine vs the
              Linux kernel (bridge, IP forwarding) and Click when present (needs root)
  startup     whole-process CPU, wall time and memory of the command line, a tiny graph's
              first packet, the 902k router's control socket and steady memory (--routes FILE)
  traffic     shapers, policers, AQM and schedulers: rate accuracy over 1 s windows (1 Mbit/s
              to 10 Gbit/s), convergence after a change, cost per packet, and on veth beside
              Linux tc TBF and HTB (the lab part needs root)
  vrouters    virtual routers in one engine: create/start and delete time, CPU ns per packet
              and memory with 1..1000 routers of 1000 routes, reconfiguration under load
              (packets lost, forwarding gap), bulk route programming (routes/s)
  plugins     a C++ plugin element's CPU ns per packet against the same element built in
  api         HTTP API latency: a route change (p99), vr.list with 1000 routers as an admin
              and as a tenant's operator, a new token's first request (scrypt)
  linkemu     LinkEmulator: bandwidth, delay, jitter and loss measured against the configured
              values, CPU ns per packet; netem side by side where the kernel has it
  metrics     Prometheus scrapes with 1000 routers as an admin and as a tenant's viewer, and
              the forwarding gap (largest queue delay, packets lost) while scraping
  scenarios   lab create and destroy times for scenarios of 10, 50 and 200 nodes (root)
  recovery    serve --state: recovery of 1000 routers x 1000 routes after kill -9 (from the
              journal and from a snapshot), durable single route changes (p99), bulk routes
options:
  --runs N          runs per case (default per suite: 5; interfaces 3)
  --seconds S       measured seconds per run (in-memory suites; default 2)
  --warmup S        warm-up seconds before measuring (default 0.5)
  --quick           interfaces: 64 B only, 1 run, short trials; traffic: fewer rates and windows
  --sizes A,B,...   interfaces: frame sizes (default 64,128,256,512,1024,1280,1518)
  --trial S         interfaces: seconds per search trial (default 1)
  --confirm S       interfaces: seconds of the confirming trial (default 3)
  --line-rate GBPS  interfaces: a link rate for the theoretical limit (veth has none)
  --click PATH      interfaces: Click's userlevel driver (default: click on PATH)
  --no-latency      interfaces: skip the latency measurement
  --cases LIST      interfaces: only these cases (bridge, router, scaling); traffic: only these
                    phases (accuracy, convergence, cost, lab); vrouters: only these groups (cost,
                    reconfigure, routes: bulk route programming, save: save/restore, shares);
                    scripts: only these groups (flood, latency, vrrp: the lab's failover)
  --generator engine  interfaces: the engine's own generator instead of trafgen
  --generator engine-xdp  interfaces: the engine's own generator sending with AF_XDP
  --generator xdp    interfaces: the kernel's XDP live-frames sender (fastest; one flow)
  --sink-drop xdp    interfaces: the sink drops with XDP in the throughput trials (not its IP input)
  --xdp no          interfaces: leave out the engine cases over AF_XDP
  --generator trafgen traffic: trafgen instead of the engine's generator (lab part)
  --only A,B        traffic: only the cases naming one of these (element names: HTBSched,Policer)
  --ring BxS        interfaces: FromDevice ring, blocks x block size
  --tpacket R       interfaces: the engine's FromDevice ring: adaptive (the element's default), 3 (TPACKET_V3 only) or 2 (V2 only)
  --routes FILE / --routes6 FILE / --synthetic   router, fib: route tables
  --lookups N       fib: lookups per measurement (default 20000000)
  --counts A,B,...  vrouters: router counts (default 1,10,100,1000)
  --create-budget S vrouters: stop creating routers after S seconds (default 120; --quick 30)
  --swaps N / --settle MS / --rate PPS   vrouters: reconfiguration under load (20 / 200 / 500000)
  --burst N         vrouters: each router's generator burst, packets a task run (default 32)
  --big-burst N     vrouters: the burst of the side-by-side 1 and most routers cases (default 256)
  --spread-routers N  vrouters: routers the routes cases spread 1000 routes each over (default 1000)
  --save-runs N     vrouters: saves and restores of the router with the full table (default 7; --quick 3)
  --requests N      api: requests per run (default 2000; --quick 300)
  --routers N       api: routers for the vr.list cases; metrics: routers (default 1000; --quick 100);
                    recovery: routers (default 1000)
  --changes N       recovery: single route changes of each kind a run (default 1000; --quick 300)
  --scrapes N / --window MS / --windows N   metrics: scrapes a run (20), gap windows' length (1000)
                    and count of each kind (10; --quick: 5 scrapes, 3 windows)
  --report          run nothing: regenerate RESULTS.md and the plots from bench/results/
  --out DIR         write DIR/results/*.json, DIR/RESULTS.md and DIR/plots/ instead (trial runs
                    that should not become the published results)
Writes bench/results/<date>-<suite>.json, bench/RESULTS.md and bench/plots/*.svg.`;

const valued = new Set(['only', 'out', 'runs', 'seconds', 'warmup', 'sizes', 'trial', 'confirm', 'click', 'line-rate', 'cases', 'generator', 'sink-drop', 'ring', 'tpacket', 'xdp', 'routes', 'routes6', 'lookups', 'counts', 'create-budget', 'swaps', 'settle', 'rate', 'burst', 'big-burst', 'requests', 'routers', 'spread-routers', 'changes', 'scrapes', 'window', 'windows', 'save-runs']);

export class UsageError extends Error {}

export function parseArgs(argv: string[]): { names: string[]; options: BenchOptions; help: boolean } {
  const names: string[] = [];
  const other: Record<string, string> = {};
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') help = true;
    else if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const key = eq > 0 ? a.slice(2, eq) : a.slice(2);
      if (valued.has(key)) {
        const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
        if (v === undefined) throw new UsageError(`--${key} needs a value`);
        other[key] = v;
      } else other[key] = 'true';
    } else names.push(a);
  }
  const positive = (key: string) => {
    if (other[key] === undefined) return undefined;
    const v = Number(other[key]);
    if (!Number.isFinite(v) || v <= 0) throw new UsageError(`--${key} needs a positive number (got '${other[key]}')`);
    return v;
  };
  let sizes: number[] | undefined;
  if (other.sizes !== undefined) {
    sizes = other.sizes.split(',').map((s) => Number(s.trim()));
    if (sizes.some((s) => !Number.isInteger(s) || s < 64 || s > 9018)) throw new UsageError(`--sizes takes frame sizes from 64 to 9018 bytes separated by commas (got '${other.sizes}')`);
  }
  const runs = positive('runs');
  if (runs !== undefined && !Number.isInteger(runs)) throw new UsageError('--runs needs a whole number');
  const options: BenchOptions = {
    runs,
    seconds: positive('seconds'),
    warmup: other.warmup === '0' ? 0 : positive('warmup'),
    quick: other.quick === 'true',
    sizes,
    trial: positive('trial'),
    confirm: positive('confirm'),
    click: other.click,
    lineRate: positive('line-rate'),
    noLatency: other['no-latency'] === 'true',
    other,
  };
  for (const n of names) if (!suites[n]) throw new UsageError(`no suite '${n}'; suites: ${Object.keys(suites).join(', ')}`);
  if (names.length === 0) names.push('engine');
  return { names, options, help };
}

/** The results, report and plots under one folder (--out). */
export function pathsUnder(dir: string): BenchPaths {
  const root = resolve(dir);
  return { resultsDir: join(root, 'results'), reportFile: join(root, 'RESULTS.md'), plotsDir: join(root, 'plots') };
}

export interface BenchRunResult {
  suite: string;
  file: string;
  cases: CaseResult[];
}

/** Run the suites named in argv; write results and the report under `paths`. */
export async function runBench(argv: string[], env: { paths?: BenchPaths; command?: string; log?: (s: string) => void; quiet?: boolean } = {}): Promise<BenchRunResult[]> {
  const { names, options } = parseArgs(argv);
  const paths = env.paths ?? (options.other.out ? pathsUnder(options.other.out) : defaultPaths);
  const log = env.log ?? ((s: string) => console.log(s));
  const out: BenchRunResult[] = [];
  if (options.other.report === 'true') {
    const r = writeReport(paths);
    log(`written: ${r.report}${r.plots.length ? `, ${r.plots.length} plot(s) in ${paths.plotsDir}` : ''}`);
    return out;
  }
  for (const name of names) {
    const suite = await suites[name]();
    const runs = options.runs ?? (options.quick ? 1 : suite.defaultRuns);
    const seconds = options.seconds ?? 2;
    const warmup = options.warmup ?? 0.5;
    const m = machine();
    const date = new Date().toISOString();
    const t0 = Date.now();
    const progress = makeProgress(name, process.stderr, env.quiet);
    let result: SuiteOutput;
    try {
      result = await suite.run({ runs, seconds, warmup, options, progress });
    } finally {
      progress.done();
    }
    m.loadAverageAfter = loadAverage();
    const notes = [...(result.notes ?? [])];
    // A loaded machine makes every figure suspect: say so in the results.
    if (m.loadAverage[0] > m.cores * 0.5) notes.push(`the machine was busy when the suite started (1-minute load average ${m.loadAverage[0]} on ${m.cores} cores): figures may be low and noisy`);
    const command = env.command ?? `pktgraph bench ${argv.join(' ') || name}`;
    const file = saveRun(
      { suite: name, date, command, commit: gitCommit(), machine: m, settings: { runs, seconds, warmup, ...(result.settings ?? {}) }, seconds: (Date.now() - t0) / 1000, cases: result.cases, notes },
      paths,
    );
    const report = writeReport(paths);
    log(`${name} (${m.cpu}, ${m.cores} cores; load average ${m.loadAverage.join(' ')} before, ${m.loadAverageAfter.join(' ')} after)`);
    for (const c of result.cases) log(summaryLine(c));
    for (const n of notes) log(`  note: ${n}`);
    log(`written: ${file}, ${report.report}${report.plots.length ? `, ${report.plots.length} plot(s) in ${paths.plotsDir}` : ''}`);
    out.push({ suite: name, file, cases: result.cases });
  }
  return out;
}

function summaryLine(c: CaseResult): string {
  const who = `${c.name}${c.threads ? `, ${c.threads} worker(s)` : ''}${c.frameBytes ? `, ${c.frameBytes} B` : ''}`;
  if (!isOk(c)) return `  ${who.padEnd(70)} ${c.status}: ${c.reason ?? ''}`;
  const unit = (c.extra?.unit as string | undefined) ?? 'Mpps';
  const s = c.mpps!;
  const cpu = c.cpuNsPerPacket ? `  ${c.cpuNsPerPacket.toFixed(1)} ns/pkt` : '';
  const vs = (c.versus ?? []).map((v) => (v.status !== 'ok' ? `  ${v.name}: ${v.status}` : v.ratio !== undefined ? `  ${v.ratio.toFixed(2)}x ${v.name}` : `  ${v.name}: ${v.mpps} Mpps (no ratio)`)).join('');
  const lat = c.latency ? `  latency p50 ${c.latency.p50Us.toFixed(1)} / p99 ${c.latency.p99Us.toFixed(1)} µs` : '';
  const met = c.met === undefined ? '' : c.met ? '  [target met]' : '  [target MISSED]';
  const lines = [`  ${who.padEnd(70)} ${s.median.toFixed(3).padStart(9)} ${unit} (${s.min.toFixed(3)}-${s.max.toFixed(3)})${cpu}${vs}${lat}${met}`];
  for (const w of c.warnings) lines.push(`    warning: ${w}`);
  return lines.join('\n');
}
