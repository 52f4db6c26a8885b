// Element descriptors: the TypeScript half of every element. A descriptor names the
// class (the same name the C++ half registers with PG_ELEMENT), documents it, declares
// its ports, push/pull processing, config schema (typebox: types, ranges, defaults and
// field documentation in one place), counters and handlers: the one declaration of each,
// which the plan carries to the C++ half (its `classes`, docs/plan.md). `defineElement` turns a
// descriptor into a typed constructor for graph files. Built-in and out-of-tree
// elements register through the same call.
import { fileURLToPath } from 'node:url';
import type { Static, TObject } from 'typebox';
import type { QuotaName } from '../service/quotas.js';
import { ElementNode, currentScope, type NodeOptions } from './graph.js';

export type ProcessingCode = string; // Click notation: 'a/a', 'h/l', '/h', 'hl/h'

export interface HandlerDoc {
  doc: string;
  read?: boolean;
  write?: boolean;
  /** The config field a write sets, when not the handler's own name (Switch's `switch` sets `output`);
   *  the `config` handler then shows the written value. */
  field?: string;
}

// What a descriptor may compute from counters in TypeScript (no native call).
export interface CounterView {
  value(name: string): bigint;
  rate(name: string): number | undefined; // per second over the last sampling interval
}

export interface DerivedHandler {
  doc: string;
  read: (counters: CounterView) => string;
}

export interface ElementDescriptor<S extends TObject = TObject> {
  /** Class name: the C++ class registered with PG_ELEMENT(...) has the same name. */
  name: string;
  /** Group folder under elements/ (standard, queue, io, ...). */
  group: string;
  /** One line: what the element does. */
  summary: string;
  /** Longer documentation: behaviour, edge cases, drop reasons. */
  doc: string;
  /** Port counts in Click notation: '1', '0', '-' (any number), '1-2', '2-'. */
  inputs: string;
  outputs: string;
  /** Push/pull processing in Click notation ('a' agnostic, 'h' push, 'l' pull). */
  processing: ProcessingCode;
  /** Config schema; optional fields carry their default. */
  config: S;
  /** Counters, in order (the native element's counter indexes), with their meaning. */
  counters: Record<string, string>;
  /** Native handlers (beyond the generic ones every element has). */
  handlers?: Record<string, HandlerDoc>;
  /** What the element holds of its virtual router's quotas (QuotaName, src/service/quotas.ts): per
   *  quota, the config field (a number) or a function of the config giving the most it can
   *  hold. A serving engine checks the sum over a router's graph against its quotas before
   *  loading it, and a write to that field's handler too; the element's own bound (a full
   *  table or queue) then turns anything beyond into a counted drop, never another tenant's
   *  loss. `routes`: the configured routes, and the live table through the `count` handler. */
  quotas?: Partial<Record<QuotaName, (keyof Static<S> & string) | ((config: Static<S>) => number)>>;
  /** For an element whose handlers change what `quotas` counts other than by writing a config
   *  field (HTBSched's `add`, `change`, `remove` of classes): `live` rebuilds its config as the
   *  element holds it now from the text of the read handler `read`, and `writes` gives, per
   *  handler, the config a write of `value` would leave (undefined: the value is not one the
   *  element takes, and the element refuses it itself). A serving engine counts the live config
   *  in a router's quota use and refuses a write that would take the router over a quota. */
  liveQuotas?: {
    read: string;
    live: (text: string, config: Static<S>) => Static<S>;
    /** What a successor of the same name and class holds after a hot reconfiguration to `next`
     *  from the element loaded with `before` and holding `now` (HTBSched: the classes added at
     *  run time carry over), so the reconfiguration's quota check counts it. Default: `next`. */
    carry?: (before: Static<S>, now: Static<S>, next: Static<S>) => Static<S>;
    writes: Record<string, (config: Static<S>, value: string) => Static<S> | undefined>;
  };
  /** Read handlers computed in TypeScript from counters (rates and the like). */
  derived?: Record<string, DerivedHandler>;
  /** Checks across fields, against the port count or the graph around; return an error sentence or undefined. */
  check?: (config: Static<S>, ports: { inputs: number; outputs: number }, graph: GraphContext) => string | undefined;
  /** Fields the compiler derives into the plan once every check has passed (for example a
   *  compiled program): the returned fields replace the config's. */
  plan?: (config: Static<S>, ports: { inputs: number; outputs: number }, graph: GraphContext) => Partial<Static<S>>;
  /** Examples for the documentation. */
  examples?: string[];
  /** Set (to the reason) by an element through which no packet can circle for ever, so a push
   *  cycle through it is allowed (ICMPError: it never answers an ICMP error, as in Click's
   *  router, where its errors go back to the route lookup). The plan carries it to the engine's
   *  cycle check. */
  endsPushCycles?: string;
  /** With endsPushCycles: the element ends a cycle by a hop count (DecIPTTL), so a packet may
   *  go round up to 255 times rather than at most twice (ICMPError). */
  hopLimited?: true;
  /** Set (to how) by an element that can send out more packets than it receives, copies of one
   *  packet (Tee, PaintTee, EtherSwitch's flooding). Each pass round a push cycle through it
   *  multiplies the packets, so a push cycle through it that only a hopLimited element ends
   *  (2^255 packets after DecIPTTL's 255 passes) is refused by the compiler and the engine; one
   *  that ICMPError ends (Click's router: PaintTee's copies become redirects, never answered)
   *  is allowed. */
  copiesPackets?: string;
  /** Set by defineScriptElement (src/script/define.ts): the element's packet handling is a
   *  TypeScript script, served in the engine by the native script element (native/script.h). */
  script?: true;
  /** Out-of-tree C++ elements only: the absolute path of the plugin library (built by
   *  `pktgraph plugin-build`) whose PG_ELEMENT registers this class; the plan names it and the
   *  engine loads it when a graph uses the class. Set it with `pluginLibrary(import.meta.url, ...)`. */
  library?: string;
}

/** The absolute path of a plugin library given relative to the module that declares its
 *  descriptors: `pluginLibrary(import.meta.url, '../build/Release/srv6.node')`. */
export function pluginLibrary(moduleUrl: string, relativePath: string): string {
  return fileURLToPath(new URL(relativePath, moduleUrl));
}

/** What `check` and `plan` may ask about the graph around an element (the compiler answers from
 *  the flattened graph with push and pull resolved). A queue is an element whose input 0 is push
 *  and output 0 pull (Queue, CoDel, FQCoDel): Click's Storage. */
export interface GraphContext {
  /** Click's flow-based router context: the queues nearest downstream of the element's push
   *  `output`, found by following push connections through any other elements; plan names. */
  queuesDownstream(output: number): string[];
  /** The plan name of the queue `name` refers to (looked up in the element's compound first,
   *  then as a full name), or why there is none. */
  findQueue(name: string): { name: string } | { error: string };
  /** The plan name and class of the element `name` refers to (looked up as findQueue does), or
   *  why there is none: for an element that drives another through its handlers (VRRP's gates). */
  findElement(name: string): { name: string; className: string } | { error: string };
}

export interface ElementConstructor<S extends TObject> {
  (config?: Static<S>, options?: NodeOptions | string): ElementNode;
  readonly descriptor: ElementDescriptor<S>;
}

const registry = new Map<string, ElementDescriptor>();

/** Register a descriptor and return its typed constructor. */
export function defineElement<S extends TObject>(descriptor: ElementDescriptor<S>): ElementConstructor<S> {
  const existing = registry.get(descriptor.name);
  if (existing && existing !== (descriptor as unknown as ElementDescriptor)) {
    throw new Error(`element class '${descriptor.name}' is defined twice (groups '${existing.group}' and '${descriptor.group}')`);
  }
  registry.set(descriptor.name, descriptor as unknown as ElementDescriptor);
  const ctor = ((config?: Static<S>, options?: NodeOptions | string) =>
    currentScope('an element constructor (' + descriptor.name + ')').addElement(
      descriptor as unknown as ElementDescriptor,
      (config ?? {}) as Record<string, unknown>,
      typeof options === 'string' ? { name: options } : options ?? {},
    )) as ElementConstructor<S>;
  Object.defineProperty(ctor, 'descriptor', { value: descriptor });
  Object.defineProperty(ctor, 'name', { value: descriptor.name });
  return ctor;
}

export function findDescriptor(className: string): ElementDescriptor | undefined {
  return registry.get(className);
}

export function allDescriptors(): ElementDescriptor[] {
  return [...registry.values()].sort((a, b) => a.name.localeCompare(b.name));
}
