// Elements written in TypeScript (docs/writing-elements.md, "Elements in TypeScript"): for
// control-plane and slow-path protocols. `defineScriptElement` takes a descriptor like
// defineElement's plus the script (init, process, timers, handlers) and registers both: the
// descriptor makes the typed constructor, the compile-time checks and `pktgraph elements`'
// documentation; the plan marks the class `script: true`, so the engine serves it with its
// one native script element (native/script.h), which hands the script copies of its packets
// in batches through a shared-memory ring and sends what the script emits. The runtime
// (src/script/host.ts) runs the script beside the graph.
import { Type, type Static, type TObject, type TProperties } from 'typebox';
import { defineElement, type ElementConstructor, type ElementDescriptor, type GraphContext } from '../graph/descriptor.js';

/** One packet handed to a script: valid only during the process() call (the ring slot is reused after). */
export interface ScriptPacket {
  /** The input port it arrived on. */
  port: number;
  /** Its bytes (a view of the ring slot: copy what must outlive the call). */
  data: Uint8Array;
}

/** What a script sees of its element and the graph around it. */
export interface ScriptContext<C = Record<string, unknown>, St = unknown> {
  /** The element's name in the graph and the graph's name. */
  readonly name: string;
  readonly graph: string;
  /** The element's configuration (defaults filled in; addresses as text). */
  readonly config: C;
  /** What init() returned: the script's state, kept across batches and timers. */
  state: St;
  /** Send bytes out of output `port`: copied into the transmit ring at once, pushed into the
   *  graph by the element's task. False (counted in drops_send_full) when the ring is full. */
  send(port: number, data: Uint8Array): boolean;
  /** Add n (default 1) to one of the descriptor's counters. */
  count(counter: string, n?: number): void;
  /** Arm the named timer (declared in `timers`) to fire in `ms` milliseconds (re-arming moves it). */
  schedule(timer: string, ms: number): void;
  /** Disarm the named timer. */
  cancel(timer: string): void;
  /** Whether the named timer is armed. */
  scheduled(timer: string): boolean;
  /** Milliseconds on the monotonic clock (performance.now()). */
  now(): number;
  /** Read or write a handler of any element of the same graph (e.g. open a Switch). */
  read(element: string, handler: string): string;
  write(element: string, handler: string, value: string): void;
}

export interface ScriptHandler<C, St> {
  doc: string;
  read?: (ctx: ScriptContext<C, St>) => string;
  /** Throw an Error whose message names the handler and the fix for a bad value; state must stay unchanged then. */
  write?: (value: string, ctx: ScriptContext<C, St>) => void;
}

/** The config a script sees: every field present (the compiler filled in the defaults). */
export type ScriptConfig<S extends TObject> = Required<Static<S>>;

/** The script half of a TypeScript element. */
export interface ScriptDefinition<S extends TObject, St> {
  /** Make the state when the graph starts (and arm the first timers); ctx.state is what it returns. */
  init?: (ctx: ScriptContext<ScriptConfig<S>, unknown>) => St;
  /** A batch of packets (1 to 256) from the element's inputs. */
  process?: (batch: readonly ScriptPacket[], ctx: ScriptContext<ScriptConfig<S>, St>) => void;
  /** Named timers, armed with ctx.schedule(name, ms). */
  timers?: Record<string, (ctx: ScriptContext<ScriptConfig<S>, St>) => void>;
  /** Called when the graph is removed (not on a hot replacement, which keeps the script running). */
  stop?: (ctx: ScriptContext<ScriptConfig<S>, St>) => void;
  /** Handlers written in TypeScript, listed and called like any element's. */
  handlers?: Record<string, ScriptHandler<ScriptConfig<S>, St>>;
}

export interface ScriptElementDefinition<S extends TObject, St>
  extends Omit<ElementDescriptor<S>, 'processing' | 'handlers' | 'derived' | 'config' | 'script' | 'liveQuotas'>,
    ScriptDefinition<S, St> {
  config: S;
}

// Counters every TypeScript element has, after its own: the first five and drops_bad_slot
// are the native half's, the rest the script host's. received = handled + drops_ring +
// drops_too_long + what waits in the ring.
export const scriptCounters = {
  received: 'packets pushed into the element',
  drops_ring: 'packets dropped because the script had not emptied the ring (it fell behind)',
  drops_too_long: 'packets dropped because they were longer than snapLength',
  sent: 'packets the script emitted that the element pushed into the graph',
  drops_pool: 'packets the script emitted that were dropped because the packet pool was empty',
  drops_bad_slot: 'transmit slots dropped because their length or port was out of range (never from ctx.send)',
  handled: 'packets the script took from the ring and passed to process()',
  drops_send_full: 'packets the script emitted that were dropped because the transmit ring was full',
  errors: 'process(), timer or handler calls that threw (the batch counts as handled; see the last_error handler)',
} as const;

// Config fields every TypeScript element has, after its own.
const scriptFields = {
  ringSlots: Type.Optional(Type.Integer({
    minimum: 16,
    maximum: 65536,
    default: 1024,
    description: 'slots in each of the two rings (rounded up to a power of two): how far the script may fall behind before packets are dropped',
  })),
  snapLength: Type.Optional(Type.Integer({
    minimum: 64,
    maximum: 9216,
    default: 2048,
    description: 'the longest packet the ring carries, in bytes; longer ones are dropped (drops_too_long)',
  })),
};

const scripts = new Map<string, ScriptDefinition<TObject, unknown>>();

/** The script of a TypeScript element class, if the class is one. */
export function findScript(className: string): ScriptDefinition<TObject, unknown> | undefined {
  return scripts.get(className);
}

/** Register an element written in TypeScript and return its typed constructor. */
export function defineScriptElement<P extends TProperties, St = undefined>(
  def: ScriptElementDefinition<TObject<P>, St>,
): ElementConstructor<TObject<P & typeof scriptFields>> {
  const { init, process, timers, stop, handlers, config, counters, check, plan, quotas, ...rest } = def;
  for (const c of Object.keys(counters))
    if (c in scriptCounters) throw new Error(`TypeScript element '${def.name}': counter '${c}' is one every TypeScript element has; rename it`);
  for (const f of Object.keys(config.properties))
    if (f in scriptFields) throw new Error(`TypeScript element '${def.name}': config field '${f}' is one every TypeScript element has; rename it`);
  const full = Type.Object({ ...config.properties, ...scriptFields }, { additionalProperties: false }) as unknown as TObject<P & typeof scriptFields>;
  type Full = Static<typeof full>;
  const descriptor: ElementDescriptor<TObject<P & typeof scriptFields>> = {
    ...rest,
    processing: 'h/h',
    config: full,
    counters: { ...counters, ...scriptCounters },
    handlers: {
      ...Object.fromEntries(Object.entries(handlers ?? {}).map(([n, h]) => [n, { doc: h.doc, read: !!h.read, write: !!h.write }])),
      last_error: { doc: 'the message of the last error a script call threw (empty if none)', read: true },
    },
    check: check as ((c: Full, p: { inputs: number; outputs: number }, g: GraphContext) => string | undefined) | undefined,
    plan: plan as ((c: Full, p: { inputs: number; outputs: number }, g: GraphContext) => Partial<Full>) | undefined,
    quotas: quotas as ElementDescriptor<TObject<P & typeof scriptFields>>['quotas'],
    script: true,
  };
  const ctor = defineElement(descriptor);
  scripts.set(def.name, { init, process, timers, stop, handlers } as ScriptDefinition<TObject, unknown>);
  return ctor;
}
