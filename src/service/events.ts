// The engine's monitor: every `intervalMs` it reads each router's state, its counters (from
// shared memory, as metrics.ts does) and its ports' link states, and turns what changed into
// events (router state changes, link up/down, quota hits, drop surges) and rates (packets and
// drops per second, per router and per element) for the dashboard. Subscribers get the events
// their scope may see; the last `keep` are kept for late subscribers and the dashboard. The
// events' and rates' schemas are in api.ts (EngineEvent, RouterRates).
import { isDropCounter } from '../cli/summary.js';
import { isQuotaCounter, portOf, scopedRouters, visible, type Scope } from './metrics.js';
import type { VirtualRouters } from './routers.js';
import type { EngineEventT, RouterRatesT, RouterStateT } from './api.js';

type EngineEvent = EngineEventT;
type Body<E> = E extends unknown ? Omit<E, 'id' | 'time' | 'router' | 'tenant'> : never;
type RouterRates = RouterRatesT;

export interface MonitorOptions {
  /** How often to look, ms (default 500). */
  intervalMs?: number;
  /** Events kept for late subscribers (default 500). */
  keep?: number;
  /** A router drops "a surge" at or above this many packets a second ... (default 1000; it ends below half of both) */
  surgeDropsPerSecond?: number;
  /** ... and this share of what its sources emitted (default 0.1). */
  surgeShare?: number;
}

interface Seen {
  tenant?: string;
  state: string;
  timeNs: bigint;
  /** counter totals by element.counter */
  totals: Map<string, bigint>;
  links: Map<string, string>;
  surge: boolean;
}

/** Packets an element handled: its 'packets' counter, else rx + tx (Tap), else none (a Queue counts 'enqueued'). */
const packetCounters = (c: Record<string, bigint>) => (c.packets !== undefined ? c.packets : c.rx_packets !== undefined ? c.rx_packets + (c.tx_packets ?? 0n) : undefined);

export class Monitor {
  private readonly seen = new Map<string, Seen>();
  private readonly recentEvents: EngineEvent[] = [];
  private readonly subscribers = new Set<{ scope: Scope; send: (e: EngineEvent) => void }>();
  private rates: RouterRates[] = [];
  private nextId = 1;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private busy = false;
  readonly intervalMs: number;
  private readonly keep: number;
  private readonly surgeRate: number;
  private readonly surgeShare: number;

  constructor(
    private readonly routers: VirtualRouters,
    options: MonitorOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 500;
    this.keep = options.keep ?? 500;
    this.surgeRate = options.surgeDropsPerSecond ?? 1000;
    this.surgeShare = options.surgeShare ?? 0.1;
  }

  start(): this {
    this.timer ??= setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
    // Rollbacks are told as they happen, not found by looking.
    this.unsubscribe ??= this.routers.confirmations.onRollback((n) => {
      this.emit(n.router, this.routers.tenantOf(n.router) ?? undefined, { type: 'router.rollback', reason: n.reason, deadline: n.deadline, ...(n.error !== undefined ? { error: n.error } : {}) });
    });
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.subscribers.clear();
  }

  /** Events the scope may see, oldest first, after `afterId` (for a reconnecting stream). */
  recent(scope: Scope, limit = this.keep, afterId = 0): EngineEvent[] {
    return this.recentEvents.filter((e) => e.id > afterId && visible(scope, e.tenant)).slice(-limit);
  }

  /** The routers' rates over the last interval, filtered to the scope. */
  currentRates(scope: Scope): RouterRates[] {
    return this.rates.filter((r) => visible(scope, r.tenant));
  }

  /** Call `send` with every new event the scope may see; returns the unsubscribe. */
  subscribe(scope: Scope, send: (e: EngineEvent) => void): () => void {
    const s = { scope, send };
    this.subscribers.add(s);
    return () => this.subscribers.delete(s);
  }

  private emit(router: string, tenant: string | undefined, body: Body<EngineEvent>): void {
    const e = { id: this.nextId++, time: new Date().toISOString(), router, ...(tenant ? { tenant } : {}), ...body } as EngineEvent;
    this.recentEvents.push(e);
    if (this.recentEvents.length > this.keep) this.recentEvents.shift();
    for (const s of this.subscribers) if (visible(s.scope, tenant)) s.send(e);
  }

  /** Look once: compare every router with what was seen last, emit what changed, update the rates. */
  async tick(): Promise<void> {
    if (this.busy) return; // a slow look is not stacked on another
    this.busy = true;
    try {
      const now = process.hrtime.bigint();
      const current = await scopedRouters(this.routers, { all: true });
      const names = new Set<string>();
      const rates: RouterRates[] = [];
      for (const { info, graph } of current) {
        names.add(info.name);
        const before = this.seen.get(info.name);
        const tenant = info.tenant;
        if (!before || before.state !== info.state) this.emit(info.name, tenant, { type: 'router.state', from: (before?.state ?? null) as RouterStateT | null, to: info.state });
        const seen: Seen = { tenant, state: info.state, timeNs: now, totals: new Map(), links: new Map(), surge: before?.surge ?? false };
        const r: RouterRates = { name: info.name, ...(tenant ? { tenant } : {}), state: info.state, packetsPerSecond: 0, dropsPerSecond: 0, elements: {}, ports: [] };
        const dt = before ? Number(now - before.timeNs) / 1e9 : 0;
        const perSecond = (key: string, v: bigint) => {
          const old = before?.totals.get(key);
          return old === undefined || dt <= 0 || v < old ? 0 : Number(v - old) / dt;
        };
        const reasons: Record<string, number> = {};
        if (graph) {
          for (const e of graph.plan.elements) {
            const c = graph.counters(e.name);
            let elementDrops = 0;
            for (const [name, v] of Object.entries(c)) {
              const key = `${e.name}.${name}`;
              seen.totals.set(key, v);
              if (isDropCounter(name)) {
                const rate = perSecond(key, v);
                elementDrops += rate;
                if (rate > 0) reasons[key] = rate;
              }
              const old = before?.totals.get(key);
              if (isQuotaCounter(name) && old !== undefined && v > old) this.emit(info.name, tenant, { type: 'quota', element: e.name, counter: name, hits: Number(v - old), total: Number(v) });
            }
            const pk = packetCounters(c);
            if (pk !== undefined) seen.totals.set(`${e.name}.*packets`, pk);
            const pps = pk === undefined ? null : perSecond(`${e.name}.*packets`, pk);
            r.elements[e.name] = { packetsPerSecond: pps, dropsPerSecond: elementDrops };
            if (e.inputs.length === 0) r.packetsPerSecond += pps ?? 0;
            r.dropsPerSecond += elementDrops;
            const port = portOf(e.class);
            if (port) {
              const device = String(e.config.device);
              const link = port.state ? graph.read(e.name, 'state') : 'up';
              seen.links.set(e.name, link);
              r.ports.push({ element: e.name, class: e.class, device, state: link });
              const was = before?.links.get(e.name) ?? null;
              if (was !== link) this.emit(info.name, tenant, { type: 'link', element: e.name, device, from: was, to: link });
            }
          }
        }
        // A surge: many drops a second, and a good share of what the sources send (a router that
        // drops by design, a filter, has a low share or a steady rate: it would not end).
        const share = r.packetsPerSecond > 0 ? r.dropsPerSecond / r.packetsPerSecond : r.dropsPerSecond > 0 ? 1 : 0;
        // Hysteresis: a surge ends only below half the thresholds, so a rate near them does not flap.
        const k = seen.surge ? 0.5 : 1;
        const surging = r.dropsPerSecond >= k * this.surgeRate && share >= k * this.surgeShare;
        if (surging && !seen.surge) this.emit(info.name, tenant, { type: 'drops.surge', dropsPerSecond: Math.round(r.dropsPerSecond), share: +share.toFixed(3), reasons: Object.fromEntries(Object.entries(reasons).map(([k, v]) => [k, Math.round(v)])) });
        if (!surging && seen.surge && before) this.emit(info.name, tenant, { type: 'drops.normal', dropsPerSecond: Math.round(r.dropsPerSecond) });
        seen.surge = surging;
        this.seen.set(info.name, seen);
        rates.push(r);
      }
      for (const [name, s] of this.seen)
        if (!names.has(name)) {
          this.seen.delete(name);
          this.emit(name, s.tenant, { type: 'router.state', from: s.state as RouterStateT, to: null });
        }
      this.rates = rates;
    } finally {
      this.busy = false;
    }
  }
}
