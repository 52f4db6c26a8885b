// Running a compiled plan to an end: for a duration, until the graph drains (every
// source finished and nothing left in flight), or until aborted. Used by `pktgraph run`,
// `npm start`, the benchmarks and the tests.
import type { Plan } from '../compiler/plan.js';
import { Runtime, type EngineOptions, type GraphProfile, type RunningGraph } from './runtime.js';

export interface RunOptions extends EngineOptions {
  /** Stop after this many seconds (default: run until drained or aborted). */
  duration?: number;
  /** Stop when the graph drains (default true). */
  stopWhenDrained?: boolean;
  /** Called every tickMs with the running graph (counters are sampled just before). */
  onTick?: (tick: TickInfo) => void;
  tickMs?: number;
  /** Called once the graph is running, before any tick (e.g. to open a control socket). */
  onStart?: (runtime: Runtime, graph: RunningGraph) => void | Promise<void>;
  signal?: AbortSignal;
  /** Measure packets over this many seconds after start without counting them (default 0). */
  warmup?: number;
  /** Time every element (RunningGraph.setProfiling); the summary then has a profile. */
  profile?: boolean;
}

export interface TickInfo {
  graph: RunningGraph;
  runtime: Runtime;
  elapsed: number; // seconds since start
  packets: bigint; // source packets so far
  pps: number; // source packets per second over the last tick
}

export interface RunSummary {
  graph: string;
  threads: number;
  packets: number;
  seconds: number;
  mpps: number;
  drained: boolean;
  stoppedBy: 'drained' | 'duration' | 'aborted';
  /** Engine CPU time (all workers) per source packet, in ns. */
  cpuNsPerPacket: number;
  elements: Record<string, Record<string, number>>;
  pool: { capacity: number; available: number; allocFailures: number };
  /** With the profile option: per-element self time over the measured interval. */
  profile?: GraphProfile;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runPlan(plan: Plan, options: RunOptions = {}): Promise<RunSummary> {
  const runtime = new Runtime(options);
  try {
    // A control request may replace the graph while it runs (RunningGraph.replace): each
    // poll follows it to the newest one, whose counters go on from the old one's.
    let graph = runtime.load(plan);
    if (options.profile) graph.setProfiling(true);
    runtime.start();
    if (options.onStart) await options.onStart(runtime, graph);
    const start = process.hrtime.bigint();
    let base = 0n;
    let baseTime = start;
    let baseCpu = runtime.workerStats().reduce((s, w) => s + w.cpuNs, 0);
    const stopWhenDrained = options.stopWhenDrained ?? true;
    const tickMs = options.tickMs ?? 1000;
    const pollMs = 5;
    let nextTick = tickMs;
    let lastTickPackets = 0n;
    let warmedUp = !(options.warmup && options.warmup > 0);
    let stoppedBy: RunSummary['stoppedBy'] = 'aborted';
    for (;;) {
      await sleep(pollMs);
      graph = graph.latest();
      const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
      if (!warmedUp && elapsed >= options.warmup!) {
        warmedUp = true;
        if (options.profile) graph.resetProfile();
        base = graph.sourcePackets();
        baseTime = process.hrtime.bigint();
        baseCpu = runtime.workerStats().reduce((s, w) => s + w.cpuNs, 0);
      }
      if (options.signal?.aborted) {
        stoppedBy = 'aborted';
        break;
      }
      if (options.duration !== undefined && elapsed >= options.duration + (options.warmup ?? 0)) {
        stoppedBy = 'duration';
        break;
      }
      if (stopWhenDrained && graph.drained()) {
        stoppedBy = 'drained';
        break;
      }
      if (elapsed * 1000 >= nextTick) {
        nextTick += tickMs;
        graph.sample();
        const packets = graph.sourcePackets();
        if (options.onTick) options.onTick({ graph, runtime, elapsed, packets, pps: Number(packets - lastTickPackets) / (tickMs / 1000) });
        lastTickPackets = packets;
      }
    }
    // Read CPU time while the workers exist, then stop them, so the packet count and every
    // element counter below are final and agree with each other.
    graph = graph.latest();
    const cpu = runtime.workerStats().reduce((s, w) => s + w.cpuNs, 0) - baseCpu;
    runtime.stop();
    const end = process.hrtime.bigint();
    const packets = graph.sourcePackets() - base;
    const seconds = Number(end - baseTime) / 1e9;
    const profile = options.profile ? graph.profile() : undefined;
    const elements: RunSummary['elements'] = {};
    for (const [name, counters] of Object.entries(graph.allCounters()))
      elements[name] = Object.fromEntries(Object.entries(counters).map(([k, v]) => [k, Number(v)]));
    graph.remove();
    const pool = runtime.poolStats();
    return {
      graph: graph.name,
      threads: runtime.threads,
      packets: Number(packets),
      seconds,
      mpps: seconds > 0 ? Number(packets) / seconds / 1e6 : 0,
      drained: stoppedBy === 'drained',
      stoppedBy,
      cpuNsPerPacket: packets > 0n ? cpu / Number(packets) : 0,
      elements,
      pool: { capacity: pool.capacity, available: pool.available, allocFailures: pool.allocFailures },
      ...(profile ? { profile } : {}),
    };
  } finally {
    runtime.close();
  }
}
