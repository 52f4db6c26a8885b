// The runtime: an engine (native worker threads and packet pool) and the graphs it runs.
// Everything here is control: counters are read straight from the native arena through
// a BigUint64Array view (no copies, no calls), handlers go through the addon, and the
// drain check tells when a graph with finite sources has finished its work.
import { findDescriptor, type CounterView } from '../graph/descriptor.js';
import { addressText, mapAddresses } from '../graph/types.js';
import type { Plan, PlanElement } from '../compiler/plan.js';
import { findScript } from '../script/define.js';
import { ScriptHost } from '../script/host.js';
import { loadNative, type EngineOptions, type NativeEngine, type NativeGraphInfo, type ReplaceInfo } from './native.js';

export type { EngineOptions, ReplaceInfo } from './native.js';

/** An element's plan config as the `config` handler shows it: address fields, typed in the plan,
 *  in their canonical spelling ('198.18.0.1', 'fd00::1', '02:00:00:00:00:01'), at any depth
 *  where the class's descriptor is at hand (IPRewriter's `inputs`), else at the top level. */
export function shownConfig(plan: Plan, e: PlanElement): Record<string, unknown> {
  const d = findDescriptor(e.class);
  if (d) return mapAddresses(d.config, e.config, addressText) as Record<string, unknown>;
  const fields = plan.classes?.[e.class]?.fields ?? {};
  return Object.fromEntries(Object.entries(e.config).map(([k, v]) => [k, fields[k]?.kind ? addressText(fields[k].kind!, v) : v]));
}

export interface HandlerInfo {
  name: string;
  read: boolean;
  write: boolean;
  doc: string;
}

export class HandlerError extends Error {
  override name = 'HandlerError';
}

/** One element's share of the work while profiling was on (see RunningGraph.profile). */
export interface ElementProfile {
  name: string;
  class: string;
  /** push, pull and run_task calls into the element */
  calls: number;
  /** packets it handled: pushed into it, pulled from it, or (a task) moved by it */
  packets: number;
  /**
   * Exclusive time in ns: its calls' time minus that of the elements they called, less the
   * share of it its worker spent preempted (waiting for a CPU; see waitShare).
   */
  selfNs: number;
  /** The same as timed, preemption included. */
  wallNs: number;
  /** selfNs per packet it handled (0 if none) */
  nsPerPacket: number;
  /** selfNs per packet the graph's sources emitted: what it adds to each packet's cost */
  nsPerSourcePacket: number;
  /** selfNs as a fraction of all elements' selfNs (0 to 1) */
  share: number;
}

export interface GraphProfile {
  /** Whether profiling is on; when off, every figure is zero. */
  enabled: boolean;
  /** Seconds since profiling was switched on or last reset. */
  seconds: number;
  /** Packets the graph's sources emitted in that time. */
  sourcePackets: number;
  /** Sum of the elements' self time, ns. */
  selfNs: number;
  /** CPU time the workers ran in that time, ns (the scheduler's count); selfNs never exceeds it. */
  cpuNs: number;
  /**
   * Share of the workers' runnable time spent waiting for a CPU (other threads had it);
   * the elements' wall times are discounted by it, worker by worker.
   */
  waitShare: number;
  /** Every element, most expensive (selfNs) first. */
  elements: ElementProfile[];
}

interface Sample {
  timeNs: bigint;
  values: bigint[]; // per counter slot, summed over rows
}

export class RunningGraph {
  readonly id: number;
  readonly name: string;
  private readonly view: BigUint64Array;
  private readonly rows: number;
  private readonly stride: number;
  private readonly byName = new Map<string, { plan: PlanElement; base: number; counters: string[] }>();
  private samples: Sample[] = [];
  private drainMark: { activity: number; rounds: number } | undefined;
  private profileStart: { timeNs: bigint; packets: bigint } | undefined;
  private removed = false;
  /** Config fields changed since loading through a write handler of the same name, by element. */
  private readonly written = new Map<string, Record<string, unknown>>();
  /** The scripts of its elements written in TypeScript, by element name. */
  private readonly scripts = new Map<string, ScriptHost>();

  constructor(
    private readonly runtime: Runtime,
    readonly plan: Plan,
    readonly info: NativeGraphInfo,
    /** Set when this graph replaced another (Runtime.replace): what the swap did. */
    readonly swap?: ReplaceInfo,
  ) {
    this.id = info.id;
    this.name = info.name;
    this.view = new BigUint64Array(info.counters.buffer);
    this.rows = info.counters.rows;
    this.stride = info.counters.stride;
    for (const [i, e] of info.elements.entries())
      this.byName.set(e.name, { plan: plan.elements[i], base: e.counterBase, counters: e.counters });
  }

  private get engine(): NativeEngine {
    if (this.removed) throw new Error(`graph '${this.name}' has been removed`);
    return this.runtime.engine;
  }

  elementNames(): string[] {
    return [...this.byName.keys()];
  }

  private element(name: string) {
    const e = this.byName.get(name);
    if (!e) throw new HandlerError(`graph '${this.name}' has no element named '${name}'`);
    return e;
  }

  /**
   * Start the scripts of the graph's TypeScript elements (Runtime.load), or, after a hot
   * replacement, carry on the old graph's scripts for elements of the same name and class (the
   * engine moved their rings) and start the new ones; the old graph's others are stopped.
   */
  startScripts(old?: RunningGraph): void {
    const kept = new Set<string>();
    for (const e of this.plan.elements) {
      if (!this.plan.classes[e.class]?.script) continue;
      const prev = old?.scripts.get(e.name);
      if (prev && prev.className === e.class) {
        prev.rebind(this);
        this.scripts.set(e.name, prev);
        kept.add(e.name);
        continue;
      }
      const host = new ScriptHost(this.runtime.engine, this, e.name, e.class, shownConfig(this.plan, e), e.outputs.length, findScript(e.class)!);
      this.scripts.set(e.name, host);
      host.start();
    }
    for (const [name, host] of old?.scripts ?? []) if (!kept.has(name)) host.close();
  }

  /** Add n to a counter of an element from this thread (TypeScript elements' scripts count so). */
  addCounter(element: string, name: string, n: number): void {
    const e = this.element(element);
    const i = e.counters.indexOf(name);
    if (i < 0) throw new HandlerError(`element '${element}' (${e.plan.class}) has no counter '${name}'; it has: ${e.counters.join(', ')}`);
    // The last row is written by threads other than the workers (native/element.h).
    this.view[(this.rows - 1) * this.stride + e.base + i] += BigInt(n);
  }

  private slot(slot: number): bigint {
    let s = 0n;
    for (let r = 0; r < this.rows; r++) s += this.view[r * this.stride + slot];
    return s;
  }

  /** One counter of one element, summed over the worker threads. */
  counter(element: string, name: string): bigint {
    const e = this.element(element);
    const i = e.counters.indexOf(name);
    if (i < 0) throw new HandlerError(`element '${element}' (${e.plan.class}) has no counter '${name}'; it has: ${e.counters.join(', ') || 'none'}`);
    return this.slot(e.base + i);
  }

  counters(element: string): Record<string, bigint> {
    const e = this.element(element);
    const out: Record<string, bigint> = {};
    e.counters.forEach((n, i) => (out[n] = this.slot(e.base + i)));
    return out;
  }

  allCounters(): Record<string, Record<string, bigint>> {
    const out: Record<string, Record<string, bigint>> = {};
    for (const name of this.byName.keys()) out[name] = this.counters(name);
    return out;
  }

  /** Packets emitted by the graph's sources (elements without inputs). */
  sourcePackets(): bigint {
    let n = 0n;
    for (const [name, e] of this.byName) if (e.plan.inputs.length === 0 && e.counters.includes('packets')) n += this.counter(name, 'packets');
    return n;
  }

  /** Record a snapshot of every counter; rates are computed between the last two. */
  sample(): void {
    const total = this.info.elements.reduce((n, e) => n + e.counters.length, 0);
    const values: bigint[] = new Array(total);
    for (let s = 0; s < total; s++) values[s] = this.slot(s);
    this.samples.push({ timeNs: process.hrtime.bigint(), values });
    if (this.samples.length > 2) this.samples.shift();
  }

  /** Per-second rate of a counter over the last sampling interval, if two samples exist. */
  rate(element: string, name: string): number | undefined {
    if (this.samples.length < 2) return undefined;
    const e = this.element(element);
    const i = e.counters.indexOf(name);
    if (i < 0) return undefined;
    const [a, b] = this.samples;
    const dt = Number(b.timeNs - a.timeNs) / 1e9;
    if (dt <= 0) return undefined;
    return Number(b.values[e.base + i] - a.values[e.base + i]) / dt;
  }

  handlers(element: string): HandlerInfo[] {
    const e = this.element(element);
    const d = findDescriptor(e.plan.class);
    const out: HandlerInfo[] = [
      { name: 'class', read: true, write: false, doc: 'the element class' },
      { name: 'name', read: true, write: false, doc: 'the element name' },
      { name: 'config', read: true, write: false, doc: 'the configuration, as JSON, with defaults filled in' },
      { name: 'ports', read: true, write: false, doc: 'input and output counts and their push/pull processing' },
      { name: 'counters', read: true, write: false, doc: 'every counter, as JSON' },
      { name: 'handlers', read: true, write: false, doc: 'the handlers of this element' },
    ];
    for (const c of e.counters) out.push({ name: c, read: true, write: false, doc: d?.counters[c] ?? 'counter' });
    for (const [n, h] of Object.entries(d?.derived ?? {})) out.push({ name: n, read: true, write: false, doc: h.doc });
    if (this.scripts.has(element))
      for (const [n, h] of Object.entries(d?.handlers ?? {})) out.push({ name: n, read: !!h.read, write: !!h.write, doc: h.doc });
    for (const h of this.engine.handlers(this.id, element)) {
      if (out.some((o) => o.name === h.name)) continue;
      out.push({ name: h.name, read: h.read, write: h.write, doc: d?.handlers?.[h.name]?.doc ?? '' });
    }
    return out;
  }

  read(element: string, handler: string): string {
    const e = this.element(element);
    const d = findDescriptor(e.plan.class);
    switch (handler) {
      case 'class':
        return e.plan.class;
      case 'name':
        return e.plan.name;
      case 'config':
        return JSON.stringify(this.config(element));
      case 'ports':
        return JSON.stringify({ inputs: e.plan.inputs, outputs: e.plan.outputs });
      case 'counters':
        return JSON.stringify(Object.fromEntries(Object.entries(this.counters(element)).map(([k, v]) => [k, v.toString()])));
      case 'handlers':
        return this.handlers(element)
          .map((h) => `${h.name}\t${h.read ? 'r' : ''}${h.write ? 'w' : ''}`)
          .join('\n');
    }
    if (e.counters.includes(handler)) return this.counter(element, handler).toString();
    const derived = d?.derived?.[handler];
    if (derived) {
      const view: CounterView = { value: (n) => this.counter(element, n), rate: (n) => this.rate(element, n) };
      return derived.read(view);
    }
    try {
      const script = this.scripts.get(element);
      if (script?.hasHandler(handler)) return script.readHandler(handler);
      return this.engine.readHandler(this.id, element, handler);
    } catch (err) {
      throw new HandlerError((err as Error).message);
    }
  }

  write(element: string, handler: string, value: string): void {
    const e = this.element(element);
    try {
      const script = this.scripts.get(element);
      if (script?.hasHandler(handler)) return script.writeHandler(handler, value);
      this.engine.writeHandler(this.id, element, handler, value);
    } catch (err) {
      throw new HandlerError((err as Error).message);
    }
    // A handler named after a config field (or declaring the field it sets) updates `config`.
    const field = findDescriptor(e.plan.class)?.handlers?.[handler]?.field ?? handler;
    if (Object.hasOwn(e.plan.config, field)) this.noteWritten(element, handler, field, value);
  }

  /** Config fields written since loading through handlers (the `config` overrides), by element. */
  writtenConfig(): Record<string, Record<string, unknown>> {
    return Object.fromEntries(this.written);
  }

  /**
   * Every element's counters and saved table state, as one image (vr.save; the format is
   * docs/router-file.md's "State image"): each table as of one instant. The graph runs on.
   */
  saveState(): Buffer {
    return this.engine.saveState(this.id);
  }

  /**
   * An element's configuration: the plan's, with the fields written since through a write
   * handler of the same name (`source.rate`). Readable after the graph is removed.
   */
  config(element: string): Record<string, unknown> {
    const e = this.element(element);
    return { ...shownConfig(this.plan, e.plan), ...this.written.get(element) };
  }

  // The value as the element took it: read back when the handler is readable (it may have
  // normalised it), in the type the plan had for the field.
  private noteWritten(element: string, handler: string, field: string, written: string): void {
    let text = written;
    try {
      text = this.engine.readHandler(this.id, element, handler);
    } catch {
      // write-only handler: keep the written text
    }
    const before = this.element(element).plan.config[field];
    let value: unknown = text.trim();
    if (typeof before === 'number' && Number.isFinite(Number(value))) value = Number(value);
    else if (typeof before === 'boolean' && (value === 'true' || value === 'false')) value = value === 'true';
    else if (Array.isArray(before) && before.every((v) => typeof v === 'number')) {
      // A list of numbers (DRRSched's quanta), read back as numbers separated by spaces or commas.
      const list = text.split(/[\s,]+/).filter(Boolean).map(Number);
      if (list.every(Number.isFinite)) value = list;
    }
    this.written.set(element, { ...this.written.get(element), [field]: value });
  }

  /**
   * True once every source has finished, no element holds packets, and no task of the
   * graph did any work across a full round of every worker since the previous call.
   * Call it repeatedly (a few milliseconds apart).
   */
  drained(): boolean {
    const s = this.engine.graphState(this.id);
    if (!s.hasSources || !s.sourcesFinished || s.held !== 0) {
      this.drainMark = undefined;
      return false;
    }
    const rounds = this.engine.minRounds();
    const m = this.drainMark;
    if (!m || m.activity !== s.activity) {
      this.drainMark = { activity: s.activity, rounds };
      return false;
    }
    return rounds >= m.rounds + 2;
  }

  /**
   * Switch per-element profiling on or off (native/profile.h). Either way the counts start
   * again from zero. The graph leaves the workers for a moment (an epoch) while its links
   * are rewired; when off it runs exactly the code it runs unprofiled.
   */
  setProfiling(on: boolean): void {
    this.engine.setProfiling(this.id, on);
    this.profileStart = on ? { timeNs: process.hrtime.bigint(), packets: this.sourcePackets() } : undefined;
  }

  isProfiling(): boolean {
    return this.profileStart !== undefined;
  }

  /** Zero the profile, keeping it on. */
  resetProfile(): void {
    if (!this.profileStart) throw new Error(`profiling is off for graph '${this.name}'; switch it on with setProfiling(true)`);
    this.setProfiling(true);
  }

  /** Where the time went, per element, since profiling was switched on or reset. */
  profile(): GraphProfile {
    const p = this.engine.profile(this.id);
    const start = this.profileStart;
    const sourcePackets = start ? Number(this.sourcePackets() - start.packets) : 0;
    const selfNs = p.elements.reduce((s, e) => s + e.selfNs, 0);
    const elements = p.elements.map((e, i): ElementProfile => ({
      name: this.info.elements[i].name,
      class: this.info.elements[i].class,
      calls: e.calls,
      packets: e.packets,
      selfNs: e.selfNs,
      wallNs: e.wallNs,
      nsPerPacket: e.packets > 0 ? e.selfNs / e.packets : 0,
      nsPerSourcePacket: sourcePackets > 0 ? e.selfNs / sourcePackets : 0,
      share: selfNs > 0 ? e.selfNs / selfNs : 0,
    }));
    elements.sort((a, b) => b.selfNs - a.selfNs);
    const run = p.workers.reduce((s, w) => s + w.runNs, 0);
    const wait = p.workers.reduce((s, w) => s + w.waitNs, 0);
    return {
      enabled: p.enabled,
      seconds: start ? Number(process.hrtime.bigint() - start.timeNs) / 1e9 : 0,
      sourcePackets,
      selfNs,
      cpuNs: p.enabled ? run : 0,
      waitShare: p.enabled && run + wait > 0 ? wait / (run + wait) : 0,
      elements,
    };
  }

  pause(): void {
    this.engine.pauseGraph(this.id);
  }
  resume(): void {
    this.engine.resumeGraph(this.id);
  }
  /**
   * Stop (true) or start (false) the graph's traffic: its tasks and timers leave the workers,
   * except its device receivers' (FromDevice, Tap), which go on reading and drop what arrives,
   * counted as `drops_stopped`, so nothing stale waits in the kernel for the start. Its state
   * (tables, counters, queued packets) stays; a replacement of a stopped graph starts stopped.
   */
  setStopped(stopped: boolean): void {
    this.engine.setGraphStopped(this.id, stopped);
    // Its scripts stop and start with it: a started script begins afresh (init), as after a reboot.
    for (const s of this.scripts.values()) stopped ? s.stop() : s.start();
  }

  /**
   * Hot reconfiguration: replace this running graph by `plan` and return the new graph. The
   * engine loads and initialises the new graph first, with this one still running: a plan it
   * refuses (a bad config, a device it cannot open, state an element cannot take over) throws,
   * naming the element and field, and leaves this graph running untouched. Then, between
   * batches, the workers leave this graph, every element of the new one with the same name and
   * class as one here takes over its counters and its state (queued packets, FIB, ARP/ND, NAT
   * and MAC tables, a source's position, a device's socket: docs/writing-elements.md, "Hot
   * reconfiguration"), and the new graph runs. This object is then removed (its methods throw);
   * use the one returned. A paused graph's replacement starts paused.
   */
  replace(plan: Plan): RunningGraph {
    return this.runtime.replace(this, plan);
  }

  /** The graph that replaced this one, if any (Runtime.replace). */
  successor: RunningGraph | undefined;

  /** This graph, or the newest graph that replaced it (through any number of replacements). */
  latest(): RunningGraph {
    let g: RunningGraph = this;
    while (g.successor) g = g.successor;
    return g;
  }

  /** Mark this graph gone after a replacement (Runtime.replace). */
  retire(successor: RunningGraph): void {
    this.removed = true;
    this.successor = successor;
  }

  /** Take the graph off the engine; every packet it held goes back to the pool. */
  remove(): void {
    if (this.removed) return;
    for (const s of this.scripts.values()) s.close();
    this.runtime.engine.removeGraph(this.id);
    this.removed = true;
    this.runtime.forget(this);
  }
}

// A plan this build can run: its version, and a native class for every element.
// The classes built into the native addon (fixed for a build; plugins' come with a `library`).
let builtinClasses: Set<string> | undefined;

function checkBuild(plan: Plan): void {
  const native = loadNative();
  builtinClasses ??= new Set(native.elementClasses());
  if (plan.version !== native.planVersion)
    throw new Error(`plan version ${plan.version} does not match the engine's ${native.planVersion}; recompile the graph`);
  // A plugin class (its `library` in the plan) is registered when the engine loads the library.
  for (const e of plan.elements)
    if (plan.classes[e.class]?.script) {
      if (!findScript(e.class))
        throw new Error(`element '${e.name}': class '${e.class}' is written in TypeScript, but no script for it is loaded in this process; import the module that defines it (defineScriptElement)`);
    } else if (!plan.classes[e.class]?.library && !builtinClasses.has(e.class))
      throw new Error(`element '${e.name}': class '${e.class}' has a TypeScript descriptor but no native implementation in this build; rebuild with \`npm run build\``);
}

export class Runtime {
  readonly engine: NativeEngine;
  readonly threads: number;
  private readonly graphs = new Map<string, RunningGraph>();
  private closed = false;

  constructor(options: EngineOptions = {}) {
    const native = loadNative();
    this.engine = new native.Engine(options);
    this.threads = this.engine.threads();
  }

  /**
   * Install a compiled plan; the engine checks it again and refuses a bad one. `image`: a
   * saved state (RunningGraph.saveState, vr.restore) its elements start with, counters too
   * unless `counters` is false; `stopped`: it starts stopped (setStopped).
   */
  load(plan: Plan, options: { image?: Buffer; stopped?: boolean; counters?: boolean } = {}): RunningGraph {
    checkBuild(plan);
    const info = this.engine.addGraph(JSON.stringify(plan), options.image, options.stopped ?? false, options.counters ?? true);
    const g = new RunningGraph(this, plan, info);
    this.graphs.set(g.name, g);
    g.startScripts();
    return g;
  }

  /**
   * Hot reconfiguration of a running graph (RunningGraph.replace): the new graph, whose
   * `swap` says how long the workers were off the graph and how many elements took over.
   */
  replace(old: RunningGraph, plan: Plan): RunningGraph {
    if (this.graphs.get(old.name) !== old) throw new Error(`graph '${old.name}' is not running in this engine`);
    checkBuild(plan);
    const info = this.engine.replaceGraph(old.id, JSON.stringify(plan));
    const g = new RunningGraph(this, plan, info, { swapNs: info.swapNs, taken: info.taken, dropped: info.dropped });
    old.retire(g);
    this.graphs.delete(old.name);
    this.graphs.set(g.name, g);
    g.startScripts(old);
    return g;
  }

  graph(name?: string): RunningGraph {
    if (name === undefined) {
      if (this.graphs.size === 1) return [...this.graphs.values()][0];
      throw new HandlerError(
        this.graphs.size === 0 ? 'no graph is running' : `several graphs are running (${[...this.graphs.keys()].join(', ')}): name one as GRAPH:ELEMENT.HANDLER`,
      );
    }
    const g = this.graphs.get(name);
    if (!g) throw new HandlerError(`no graph named '${name}' is running; running: ${[...this.graphs.keys()].join(', ') || 'none'}`);
    return g;
  }

  allGraphs(): RunningGraph[] {
    return [...this.graphs.values()];
  }

  forget(g: RunningGraph) {
    this.graphs.delete(g.name);
  }

  start(): void {
    this.engine.start();
  }
  stop(): void {
    this.engine.stop();
  }
  poolStats() {
    return this.engine.poolStats();
  }
  /** Per worker: rounds, busyRounds, cpuNs (exact thread CPU time) and its userNs/sysNs split (sampled every 10 ms). */
  workerStats() {
    return this.engine.workerStats();
  }

  /** Tests (an engine made with `virtualClockNs`): move the workers' clock to `ns` and return once every worker ran a round at that time. */
  setVirtualTime(ns: number): void {
    this.engine.setVirtualTime(ns);
  }

  /** Stop the workers, remove every graph and free the engine. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.engine.stop();
    for (const g of [...this.graphs.values()]) g.remove();
    this.engine.close();
  }
}
