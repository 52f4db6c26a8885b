// The runtime side of an element written in TypeScript: runs its script beside the graph.
// It maps the native script element's two rings (native/script.h has the layout), is woken
// by the engine (a ThreadSafeFunction call, once per burst that finds the script waiting),
// drains the receive ring in batches of up to 256 into process(), copies what the script
// sends into the transmit ring, runs its timers and handlers, and writes its counters into
// the graph's counter arena (the control thread's row), where every reader finds them.
import type { TObject } from 'typebox';
import type { NativeEngine } from '../runtime/native.js';
import type { ScriptContext, ScriptDefinition, ScriptPacket } from './define.js';

const HEADER = 192;
const SLOT_HEADER = 8;
// u32 word indexes of the header fields
const PROD = 0;
const CONS = 16;
const WAKE = 32;
const MAX_BATCH = 256;

// How the script learns that packets arrived: the engine's ThreadSafeFunction call (the
// default), or, for measuring the alternative (`pktgraph bench scripts`), a timer polling the
// ring every pollMs. Scripts attached after the change use it.
let wakeMode: { pollMs?: number } = {};
export function setScriptWake(mode: { pollMs?: number }): void {
  wakeMode = mode;
}

/** What the host needs of the graph it runs in (RunningGraph provides it). */
export interface ScriptGraph {
  readonly id: number;
  readonly name: string;
  read(element: string, handler: string): string;
  write(element: string, handler: string, value: string): void;
  /** Add to one of the element's counters, from this thread. */
  addCounter(element: string, counter: string, n: number): void;
}

interface Ring {
  words: Uint32Array;
  bytes: Uint8Array;
}

export class ScriptHost {
  private graph: ScriptGraph;
  private engine: NativeEngine;
  private rx!: Ring;
  private tx!: Ring;
  private mask = 0;
  private slots = 0;
  private slotBytes = 0;
  private snap = 0;
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private running = false;
  private closed = false;
  private lastError = '';
  private pendingDrain = false;
  private txProd = 0; // the transmit ring's producer index, published by flush()
  readonly ctx: ScriptContext<Record<string, unknown>, unknown>;

  constructor(
    engine: NativeEngine,
    graph: ScriptGraph,
    readonly element: string,
    readonly className: string,
    config: Record<string, unknown>,
    private readonly outputs: number,
    private readonly def: ScriptDefinition<TObject, unknown>,
  ) {
    this.engine = engine;
    this.graph = graph;
    const host = this;
    this.ctx = {
      name: element,
      get graph() {
        return host.graph.name;
      },
      config,
      state: undefined,
      send: (port, data) => this.send(port, data),
      count: (counter, n = 1) => this.graph.addCounter(element, counter, n),
      schedule: (timer, ms) => this.schedule(timer, ms),
      cancel: (timer) => this.cancel(timer),
      scheduled: (timer) => this.timers.has(timer),
      now: () => performance.now(),
      read: (el, h) => this.graph.read(el, h),
      write: (el, h, v) => this.graph.write(el, h, v),
    };
    this.attach();
  }

  private poller: ReturnType<typeof setInterval> | undefined;

  private attach(): void {
    const poll = wakeMode.pollMs;
    const r = this.engine.scriptAttach(this.graph.id, this.element, poll ? () => {} : this.wake);
    if (poll) {
      this.poller = setInterval(() => this.drain(), poll);
      this.poller.unref();
    }
    this.rx = { words: new Uint32Array(r.rx), bytes: new Uint8Array(r.rx) };
    this.tx = { words: new Uint32Array(r.tx), bytes: new Uint8Array(r.tx) };
    this.slots = r.slots;
    this.mask = r.slots - 1;
    this.slotBytes = r.slotBytes;
    this.snap = r.snap;
    this.txProd = this.tx.words[PROD];
  }

  /** Run init() (the graph is starting, or starting again after a stop). */
  start(): void {
    if (this.running || this.closed) return;
    this.running = true;
    this.call(() => {
      this.ctx.state = this.def.init ? this.def.init(this.ctx) : undefined;
    });
    this.drain();
  }

  /** Stop the script (the graph is stopping or going): its stop() hook runs and its timers end. */
  stop(): void {
    if (!this.running) return;
    if (this.def.stop) this.call(() => this.def.stop!(this.ctx));
    this.running = false;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /** The graph is removed: stop, and let the engine forget the wake-up. */
  close(): void {
    this.stop();
    if (this.closed) return;
    this.closed = true;
    if (this.poller) clearInterval(this.poller);
    try {
      this.engine.scriptDetach(this.graph.id, this.element);
    } catch {
      // the graph is already gone
    }
  }

  /** A hot replacement kept this element: the engine moved the rings; go on in the new graph. */
  rebind(graph: ScriptGraph): void {
    this.graph = graph;
  }

  hasHandler(name: string): boolean {
    return name === 'last_error' || Object.hasOwn(this.def.handlers ?? {}, name);
  }

  readHandler(name: string): string {
    if (name === 'last_error') return this.lastError;
    const h = this.def.handlers?.[name];
    if (!h?.read) throw new Error(`handler '${name}' of element '${this.element}' (${this.className}) is not readable`);
    return h.read(this.ctx);
  }

  writeHandler(name: string, value: string): void {
    const h = this.def.handlers?.[name];
    if (!h?.write) throw new Error(`handler '${name}' of element '${this.element}' (${this.className}) is not writable`);
    try {
      h.write(value, this.ctx);
    } finally {
      this.flush();
    }
  }

  // Called by the engine (through the ThreadSafeFunction) when packets reach a waiting script.
  private readonly wake = (): void => this.drain();

  private drain(): void {
    this.pendingDrain = false;
    if (!this.running) return;
    const w = this.rx.words;
    const process = this.def.process;
    // At most a ring's worth per turn, so timers and I/O run between turns of a busy script.
    let budget = this.slots;
    for (;;) {
      const cons = w[CONS];
      if (Atomics.load(w, PROD) === cons) {
        if (this.poller) return; // the timer comes back; the engine need not call
        Atomics.store(w, WAKE, 1);
        if (Atomics.load(w, PROD) === cons) return; // the next packet wakes us
        Atomics.store(w, WAKE, 0);
        continue;
      }
      if (budget <= 0) {
        // wake stays 0, so the engine does not call; come back after the event loop's turn
        if (!this.pendingDrain) {
          this.pendingDrain = true;
          setImmediate(() => this.drain());
        }
        return;
      }
      let n = (Atomics.load(w, PROD) - cons) >>> 0;
      if (n > MAX_BATCH) n = MAX_BATCH;
      const batch: ScriptPacket[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const off = HEADER + ((cons + i) & this.mask) * this.slotBytes;
        const len = w[off >>> 2];
        batch[i] = { port: w[(off >>> 2) + 1], data: this.rx.bytes.subarray(off + SLOT_HEADER, off + SLOT_HEADER + len) };
      }
      if (process) this.call(() => process(batch, this.ctx));
      Atomics.store(w, CONS, (cons + n) >>> 0);
      this.graph.addCounter(this.element, 'handled', n);
      budget -= n;
      if (!this.running) return; // process() stopped it (a handler write)
    }
  }

  private send(port: number, data: Uint8Array): boolean {
    if (!Number.isInteger(port) || port < 0 || port >= this.outputs)
      throw new RangeError(`element '${this.element}' (${this.className}): send to output ${port}, but it has ${this.outputs} output(s) (0 to ${this.outputs - 1})`);
    if (data.length > this.snap)
      throw new RangeError(`element '${this.element}' (${this.className}): a ${data.length}-byte packet is longer than snapLength (${this.snap}); raise snapLength`);
    const w = this.tx.words;
    const prod = this.txProd;
    if (((prod - Atomics.load(w, CONS)) >>> 0) >= this.slots) {
      this.graph.addCounter(this.element, 'drops_send_full', 1);
      return false;
    }
    const off = HEADER + (prod & this.mask) * this.slotBytes;
    w[off >>> 2] = data.length;
    w[(off >>> 2) + 1] = port;
    this.tx.bytes.set(data, off + SLOT_HEADER);
    this.txProd = (prod + 1) >>> 0;
    return true;
  }

  // Publish what the script sent: once per call into it (a batch, a timer, a handler), so a
  // batch of sends costs one atomic store, and the engine sees them together.
  private flush(): void {
    if (this.tx.words[PROD] !== this.txProd) Atomics.store(this.tx.words, PROD, this.txProd);
  }

  private schedule(timer: string, ms: number): void {
    const fn = this.def.timers?.[timer];
    if (!fn) throw new Error(`element '${this.element}' (${this.className}) has no timer '${timer}'; its timers: ${Object.keys(this.def.timers ?? {}).join(', ') || 'none'}`);
    if (!this.running) return;
    this.cancel(timer);
    const t = setTimeout(() => {
      this.timers.delete(timer);
      if (this.running) this.call(() => fn(this.ctx));
    }, Math.max(0, Math.ceil(ms)));
    t.unref(); // the graph's owner decides how long the process lives
    this.timers.set(timer, t);
  }

  private cancel(timer: string): void {
    const t = this.timers.get(timer);
    if (t !== undefined) clearTimeout(t);
    this.timers.delete(timer);
  }

  // A script's error is its own: counted and kept for `last_error`, never the engine's.
  private call(fn: () => void): void {
    try {
      fn();
      this.flush();
    } catch (err) {
      this.flush(); // what it sent before throwing goes out
      this.lastError = err instanceof Error ? err.message : String(err);
      try {
        this.graph.addCounter(this.element, 'errors', 1);
      } catch {
        // the graph went away meanwhile
      }
    }
  }
}
