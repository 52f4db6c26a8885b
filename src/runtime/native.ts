// Loads the native addon built by `npm install` (build/Release/pktgraph.node).
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What a hot reconfiguration did (Engine::replace_graph). */
export interface ReplaceInfo {
  /** How long the control thread kept the workers off the graph, ns: an upper bound on the forwarding gap (to within a worker round). */
  swapNs: number;
  /** Elements of the new graph that took over an old one's counters and state. */
  taken: number;
  /** Packets old elements still held after the swap, freed with the old graph (classes that carry no packets, or elements the new plan lacks): none in a graph whose packets wait only in classes that carry them (docs/writing-elements.md). */
  dropped: { element: string; packets: number }[];
}

export interface NativeGraphInfo {
  id: number;
  name: string;
  counters: { buffer: ArrayBuffer; rows: number; stride: number };
  elements: { name: string; class: string; counterBase: number; counters: string[] }[];
  tasks: { element: string; worker: number }[];
}

export interface NativeHandlerInfo {
  name: string;
  read: boolean;
  write: boolean;
  exclusive: boolean;
}

export interface NativeEngine {
  start(): void;
  stop(): void;
  close(): void;
  running(): boolean;
  threads(): number;
  /** image: a saveState Buffer whose counters (unless counters is false) and element state the graph starts with; stopped: it starts stopped. */
  addGraph(planJson: string, image?: Buffer, stopped?: boolean, counters?: boolean): NativeGraphInfo;
  /** A graph's counters and element state (vr.save; docs/router-file.md, "State image"). */
  saveState(id: number): Buffer;
  removeGraph(id: number): void;
  /** Hot reconfiguration (Engine::replace_graph): the new graph's info, with the swap's time and how many elements took over. */
  replaceGraph(id: number, planJson: string): NativeGraphInfo & ReplaceInfo;
  pauseGraph(id: number): void;
  resumeGraph(id: number): void;
  setGraphStopped(id: number, stopped: boolean): void;
  handlers(id: number, element: string): NativeHandlerInfo[];
  readHandler(id: number, element: string, handler: string): string;
  writeHandler(id: number, element: string, handler: string, value: string): void;
  graphState(id: number): { hasSources: boolean; sourcesFinished: boolean; held: number; activity: number };
  /** Per-element profiling on or off (native/profile.h); either way the counts restart from zero. */
  setProfiling(id: number, on: boolean): void;
  /**
   * Per element, in the plan's order, summed over the workers: calls, packets, self time as
   * timed (wallNs) and without the time its workers waited for a CPU (selfNs); per worker,
   * the time it ran and waited for a CPU since the profile was zeroed.
   */
  profile(id: number): {
    enabled: boolean;
    elements: { calls: number; packets: number; selfNs: number; wallNs: number }[];
    workers: { runNs: number; waitNs: number }[];
  };
  minRounds(): number;
  /** Tests (an engine made with virtualClockNs): move the workers' clock to `ns` and return once every worker ran a round at that time. */
  setVirtualTime(ns: number): void;
  /** Per worker: cpuNs (its thread's CPU time, exact), userNs and sysNs (the user and kernel shares, sampled by the worker every 10 ms, so their sum trails cpuNs by up to about 10 ms); all 0 while the engine is stopped. */
  workerStats(): { rounds: number; busyRounds: number; cpuNs: number; userNs: number; sysNs: number }[];
  poolStats(): { capacity: number; available: number; bufferSize: number; headroom: number; allocFailures: number };
  /** A TypeScript element's rings (native/script.h has the layout) for its script; `wake` is
   *  called on this thread when packets reach the script waiting on an empty ring. */
  scriptAttach(id: number, element: string, wake: () => void): { rx: ArrayBuffer; tx: ArrayBuffer; slots: number; slotBytes: number; snap: number };
  /** The script no longer listens (the engine stops waking it). */
  scriptDetach(id: number, element: string): void;
}

/**
 * The ranges the addon accepts for the engine options (native/addon.cc checks the same);
 * the command line's options are checked against these, so its help and errors name them.
 */
export const ENGINE_LIMITS = {
  threads: { min: 1, max: 63 },
  poolBuffers: { min: 64, max: 2 ** 24 },
  bufferSize: { min: 256, max: 32640 },
} as const;

export interface EngineOptions {
  threads?: number;
  poolBuffers?: number;
  bufferSize?: number;
  pinThreads?: boolean;
  idleSleepUs?: number;
  /** Tests: workers read a virtual monotonic clock starting at this many ns (>= 1), moved only by setVirtualTime(). */
  virtualClockNs?: number;
}

export interface NativeAddon {
  Engine: new (options?: EngineOptions) => NativeEngine;
  planVersion: number;
  elementClasses(): string[];
  /**
   * `pktgraph run`'s exit watchdog (native/exit_watchdog.h): once Node's SIGINT and SIGTERM
   * handlers are in place, ends the process (removing `socketPath`) when it has not ended
   * itself `graceMs` after a signal (at once after a second) or after `durationMs` from now.
   */
  armExitWatchdog(options: { graceMs: number; durationMs?: number; socketPath?: string }): void;
  disarmExitWatchdog(): void;
  /** The route text parse of IPLookup and LookupIP6Route: the first problem, or the routes
   *  typed, flat (native/addon.cc; elements/lib/routeText.ts makes TypedRoutes of them). */
  parseRoutes(width: 32 | 128, outputs: number, routes: string[]): string | Float64Array;
}

/** A route as the plan carries it (IPLookup's and LookupIP6Route's `compiledRoutes`):
 *  [ADDRESS, LEN, GATEWAY, OUTPUT, GATEWAY, OUTPUT, ...], a GATEWAY, OUTPUT pair per next hop;
 *  addresses typed as in address fields (IPv4 a number, IPv6 16 bytes), GATEWAY null for none. */
export type TypedRoute = (number | number[] | null)[];

let addon: NativeAddon | undefined;

export function packageRoot(): string {
  // dist/src/runtime/native.js or src/runtime/native.ts: walk up to package.json.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'binding.gyp'))) return dir;
    dir = resolve(dir, '..');
  }
  throw new Error('cannot find the pktgraph package root');
}

/** The package's version (package.json), or 'unknown'. */
export function packageVersion(): string {
  try {
    return JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

export function loadNative(): NativeAddon {
  if (addon) return addon;
  const root = packageRoot();
  const candidates = [join(root, 'build', 'Release', 'pktgraph.node'), join(root, 'build', 'Debug', 'pktgraph.node')];
  const path = candidates.find((p) => existsSync(p));
  if (!path) throw new Error('the native engine is not built: run `npm install` (or `npm run build`) in ' + root);
  const require = createRequire(import.meta.url);
  addon = require(path) as NativeAddon;
  return addon;
}
