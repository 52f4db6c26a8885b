// The operations layer of a pktgraph engine service: the virtual routers one engine hosts.
// Each is a named instance of a graph (a graph file with parameters, or a recipe), compiled
// and checked before anything changes, loaded into the one shared engine (the worker
// threads are shared) under its own name, so its elements are addressed as VR/element.
// The control socket (serve.ts) and the HTTP API (http.ts) reach `perform` through the
// management layer (access.ts), which authorises each request and audits it.
import { closeSync, openSync, readSync } from 'node:fs';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import type { Plan } from '../compiler/plan.js';
import { findDescriptor } from '../graph/descriptor.js';
import type { GraphDefinition, ParamValue } from '../graph/graph.js';
import type { Runtime, RunningGraph } from '../runtime/runtime.js';
import { packageVersion } from '../runtime/native.js';
import { decodeRouterFile, encodeRouterFile } from './routerFile.js';
import {
  QUOTA_NAMES,
  checkRequest,
  isOperation,
  type OperationAnswer,
  type OperationName,
  type OperationRequest,
  type QuotaName,
  type QuotasT,
  type RouterInfoT,
  type RouterSourceT,
  type RouterStateT,
} from './api.js';
import { Ports, portUses } from './ports.js';
import { Confirmations, type RouterConfig } from './confirm.js';
import { compactPlan } from './compactPlan.js';

/**
 * Why a request was refused, which the HTTP API gives as its status: invalid (400), unauthorized
 * (401: no valid token), forbidden (403: the role does not allow it), unknown (404: no such
 * router or user, or not the caller's), conflict (409: a name taken, a state that does not
 * allow it), limited (429: too many failed logins), unavailable (503: the engine is stopping).
 */
export type RefusalKind = 'invalid' | 'unauthorized' | 'forbidden' | 'unknown' | 'conflict' | 'limited' | 'unavailable';
export const HTTP_STATUS: Record<RefusalKind, number> = { invalid: 400, unauthorized: 401, forbidden: 403, unknown: 404, conflict: 409, limited: 429, unavailable: 503 };

/** A refused request: one sentence; nothing was changed. */
export class ServiceError extends Error {
  override name = 'ServiceError';
  constructor(
    message: string,
    readonly kind: RefusalKind = 'invalid',
  ) {
    super(message);
  }
}
const fail = (msg: string) => new ServiceError(msg);

interface Router {
  name: string;
  state: RouterStateT;
  source: RouterSourceT;
  plan: Plan;
  /** The graph's own name (the plan is loaded under the router's name). */
  graphName: string;
  created: string;
  /** The tenant it belongs to (its operators and viewers manage and see it); none: admins only. */
  tenant?: string;
  graph?: RunningGraph;
  error?: string;
  /** Its quotas, every one set (null: no limit). */
  quotas: Record<QuotaName, number | null>;
  /** Saved state (counters, tables) the graph starts with: a restored or cloned router not started yet. */
  image?: Buffer;
  /** Whether the image's counters are restored too (not for a clone). */
  imageCounters?: boolean;
}

/** The FIB element classes route requests address, with the family of their routes. */
const FIB_FAMILY: Record<string, 'ipv4' | 'ipv6'> = { IPLookup: 'ipv4', LookupIP6Route: 'ipv6' };

/** What a plan's elements hold of each quota, as their descriptors declare (`quotas`): per quota, the total and each element's share. */
function reserved(plan: Plan): Record<QuotaName, { total: number; parts: { element: string; field: string; n: number }[] }> {
  const out = Object.fromEntries(QUOTA_NAMES.map((q) => [q, { total: 0, parts: [] as { element: string; field: string; n: number }[] }])) as ReturnType<typeof reserved>;
  for (const e of plan.elements) {
    const declared = findDescriptor(e.class)?.quotas ?? {};
    for (const [q, how] of Object.entries(declared) as [QuotaName, string | ((c: unknown) => number)][]) {
      const n = typeof how === 'string' ? Number(e.config[how] ?? 0) : how(e.config);
      out[q].total += n;
      out[q].parts.push({ element: e.name, field: typeof how === 'string' ? `${e.class} ${how}` : e.class, n });
    }
  }
  return out;
}

/**
 * A loaded graph's plan with each element's config as the element holds it now: the fields its
 * handlers wrote, and, for an element declaring `liveQuotas`, what its read handler shows
 * (HTBSched's classes added at run time), so quotas count what the router can hold now.
 */
function livePlan(plan: Plan, graph: RunningGraph): Plan {
  return {
    ...plan,
    elements: plan.elements.map((e) => {
      const config = graph.config(e.name);
      const live = findDescriptor(e.class)?.liveQuotas;
      return { ...e, config: live ? live.live(graph.read(e.name, live.read), config as never) : config };
    }),
  };
}

/**
 * A replacement plan as the engine will hold it once a loaded graph's elements hand over their
 * state (an element's `liveQuotas.carry`: HTBSched's classes added at run time), so that a
 * reconfiguration's quota check counts what carries over.
 */
function carriedPlan(plan: Plan, graph: RunningGraph, next: Plan): Plan {
  let live: Plan | undefined;
  return {
    ...next,
    elements: next.elements.map((e) => {
      const carry = findDescriptor(e.class)?.liveQuotas?.carry;
      const i = plan.elements.findIndex((o) => o.name === e.name && o.class === e.class);
      if (!carry || i < 0) return e;
      live ??= livePlan(plan, graph);
      return { ...e, config: carry(plan.elements[i].config as never, live.elements[i].config as never, e.config as never) as Record<string, unknown> };
    }),
  };
}

/** The first routes of route text (its first 4 KB), to tell their family. */
const routeSample = (text: string) => (text.length > 4096 ? text.slice(0, text.lastIndexOf('\n', 4096) + 1) : text).split('\n').map((l) => l.replace(/#.*/, '').trim()).filter((l) => l !== '');

/** The first routes of a route file (its first 4 KB, gzip or not readable: none), to tell their family. */
function firstRoutes(file: string): string[] {
  if (file.endsWith('.gz')) return [];
  const buf = Buffer.alloc(4096);
  let n = 0;
  try {
    const fd = openSync(file, 'r');
    try {
      n = readSync(fd, buf, 0, buf.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return []; // the engine names the file when it cannot read it
  }
  const head = buf.subarray(0, n).toString('latin1');
  return routeSample(n === buf.length ? head.slice(0, head.lastIndexOf('\n') + 1) : head);
}

/** Each route request's write, made once: desired.ts journals the write changeRoutes made (a list joined once, not twice). */
const writes = new WeakMap<object, { handler: string; value: string }>();

/** The handler write on a FIB element that a route request is (changeRoutes; desired.ts journals the same write). */
export function routeWrite(op: 'route.add' | 'route.replace' | 'route.del' | 'route.load', req: OperationRequest<'route.add' | 'route.replace' | 'route.del' | 'route.load'>): { handler: string; value: string } {
  const made = writes.get(req);
  if (made) return made;
  let w: { handler: string; value: string };
  if ('file' in req) w = { handler: 'load', value: `${{ add: 'insert', replace: 'replace', set: 'set' }[req.mode ?? 'add']} ${req.file}` };
  else {
    const lines = ('routes' in req ? req.routes : 'prefixes' in req ? req.prefixes : undefined) ?? [];
    const text = 'text' in req ? req.text : undefined;
    w = { handler: op === 'route.del' ? 'remove' : op === 'route.replace' ? 'replace' : 'insert', value: text ?? lines.join('\n') };
  }
  writes.set(req, w);
  return w;
}

/**
 * The first entry of a route list holding a line break (which would make it several routes),
 * -1 for none: `joined` (the entries joined by '\n') has no '\r' and one '\n' fewer than
 * entries, checked in one pass over it (a regex a route took as long as the native parse).
 */
function brokenEntry(lines: readonly string[], joined: string): number {
  if (joined.indexOf('\r') < 0) {
    let n = 0;
    for (let i = joined.indexOf('\n'); i >= 0; i = joined.indexOf('\n', i + 1)) n++;
    if (n === lines.length - 1) return -1;
  }
  return lines.findIndex((l) => /[\n\r]/.test(l));
}

/**
 * A router as the state directory keeps it (desired.ts): its configuration (source, the plan
 * with handler-written values folded in) and its settings (state, tenant, quotas, shares).
 */
export interface RouterRecord {
  name: string;
  state: RouterStateT;
  source: RouterSourceT;
  graph: string;
  created: string;
  plan: Plan;
  tenant?: string;
  quotas: Record<QuotaName, number | null>;
  shares: ReturnType<Ports['sharesOf']>;
}

/** What each quota's excess is made of, and the fix, for a refusal. */
const QUOTA_WHAT: Record<QuotaName, { holds: string; fix: string }> = {
  routes: { holds: 'routes', fix: 'configure fewer routes' },
  nat: { holds: 'NAT mappings', fix: "lower the IPRewriters' capacity" },
  neighbours: { holds: 'ARP/ND entries', fix: "lower the resolvers' entryCapacity" },
  buffers: { holds: 'packet buffers in its queues', fix: 'lower the queue capacities' },
};

const describe = (err: unknown): string => {
  const problems = (err as { problems?: unknown }).problems;
  if (Array.isArray(problems) && problems.length) return problems.join('; ');
  return err instanceof Error ? err.message : String(err);
};

/** Build and compile a router's graph: every problem becomes one ServiceError naming the router. */
async function compileSource(name: string, source: RouterSourceT): Promise<Plan> {
  const { compile } = await import('../compiler/compile.js');
  let def: GraphDefinition;
  let params: Record<string, ParamValue> = {};
  try {
    if ('file' in source) {
      const { loadGraph } = await import('../cli/load.js');
      def = await loadGraph(resolvePath(source.file));
      params = source.params ?? {};
    } else {
      const { ipRouter } = await import('../recipes/router.js');
      def = ipRouter({ name }, () => source.description as never);
    }
    return compile(def, { params });
  } catch (err) {
    throw new ServiceError(`virtual router '${name}': its graph does not compile: ${describe(err)}`);
  }
}

export class VirtualRouters {
  private readonly routers = new Map<string, Router>();
  /** Names being created (compiling), so two creates of one name cannot both succeed. */
  private readonly creating = new Set<string>();
  /** Set once the engine is stopping: no request is taken after that. */
  private closing = false;

  /** The engine-wide default quotas (`pktgraph serve --quota`), every one set (null: no limit). */
  readonly defaultQuotas: Record<QuotaName, number | null>;

  /** Ports shared by the routers (ports.ts). */
  private readonly ports: Ports;

  /** Reconfigurations waiting for confirmation (confirm.ts): their deadlines put the previous graphs back. */
  readonly confirmations = new Confirmations((name, previous) => this.applyConfig(this.router(name), previous, true));

  /** `onStop`: called (after the answer is sent) when an `engine.stop` request arrives. `quotas`: the engine-wide defaults. */
  constructor(
    readonly runtime: Runtime,
    private readonly onStop: () => void = () => {},
    quotas: QuotasT = {},
  ) {
    this.defaultQuotas = Object.fromEntries(QUOTA_NAMES.map((q) => [q, quotas[q] ?? null])) as Record<QuotaName, number | null>;
    this.ports = new Ports(runtime);
  }

  /** Run one operation, its request checked against its schema first. Throws ServiceError. */
  async perform<O extends OperationName>(op: O, args: OperationRequest<O>): Promise<OperationAnswer<O>>;
  async perform(op: string, args: unknown): Promise<unknown>;
  async perform(op: string, args: unknown): Promise<unknown> {
    if (!isOperation(op)) throw new ServiceError(`unknown operation ${JSON.stringify(op)}`);
    if (this.closing) throw new ServiceError('the engine is stopping; it takes no more requests', 'unavailable');
    const problem = checkRequest(op, args ?? {});
    if (problem) throw new ServiceError(problem);
    const a = (args ?? {}) as { name: string };
    switch (op) {
      case 'vr.list':
        return [...this.routers.values()].map((r) => this.info(r));
      case 'vr.show':
        return this.show(a.name);
      case 'vr.create':
        return this.create(args as OperationRequest<'vr.create'>);
      case 'vr.start':
        return this.start(a.name);
      case 'vr.stop':
        return this.stop(a.name);
      case 'vr.reconfigure':
        return this.reconfigure(args as OperationRequest<'vr.reconfigure'>);
      case 'vr.confirm': {
        const r = this.router(a.name);
        this.confirmations.confirm(a.name);
        return this.info(r);
      }
      case 'vr.rollback': {
        const r = this.router(a.name);
        this.confirmations.rollback(a.name, 'request');
        return { ...this.info(r), swap: swapInfo(r.graph) };
      }
      case 'vr.delete':
        return this.delete(a.name);
      case 'vr.quota':
        return this.setQuotas(args as OperationRequest<'vr.quota'>);
      case 'route.add':
      case 'route.replace':
      case 'route.del':
      case 'route.load':
        return this.changeRoutes(op, args as OperationRequest<'route.add' | 'route.replace' | 'route.del' | 'route.load'>);
      case 'route.show':
        return this.showRoutes(args as OperationRequest<'route.show'>);
      case 'vr.share': {
        const req = args as OperationRequest<'vr.share'>;
        const r = this.router(req.name);
        return this.ports.share(req, r.plan, r.graph, this.loadedPlans(), fail);
      }
      case 'port.add':
        return this.ports.add(args as OperationRequest<'port.add'>, fail);
      case 'port.del':
        return this.ports.del(a.name, this.ports.users(a.name, this.loadedPlans()), (args as OperationRequest<'port.del'>).force === true, fail);
      case 'port.list':
        return this.ports.list(this.loadedPlans());
      case 'vr.assign':
        return this.assign(a.name, (args as OperationRequest<'vr.assign'>).tenant);
      case 'vr.graph':
        return { dot: (await import('../compiler/dot.js')).toDot(this.router(a.name).plan) };
      case 'vr.counters':
      case 'handler.list':
      case 'handler.read':
      case 'handler.write': {
        const h = args as OperationRequest<'handler.write'>;
        const g = this.target(h.name, undefined).graph;
        // Counters are 64-bit: sent as decimal strings so no precision is lost.
        const strings = (c: Record<string, bigint>) => Object.fromEntries(Object.entries(c).map(([k, v]) => [k, v.toString()]));
        if (op === 'handler.write') this.checkWrite(g, h.element, h.handler, h.value ?? '');
        try {
          if (op === 'vr.counters')
            return h.element === undefined ? Object.fromEntries(Object.entries(g.allCounters()).map(([e, c]) => [e, strings(c)])) : strings(g.counters(h.element));
          if (op === 'handler.list') return g.handlers(h.element);
          if (op === 'handler.read') return g.read(h.element, h.handler);
          g.write(h.element, h.handler, h.value ?? '');
        } catch (err) {
          throw new ServiceError(`virtual router '${h.name}': ${describe(err)}`);
        }
        this.afterWrite(g, h.element);
        return {};
      }
      case 'vr.save':
        return this.save(args as OperationRequest<'vr.save'>);
      case 'vr.restore':
        return this.restore(args as OperationRequest<'vr.restore'>);
      case 'vr.clone':
        return this.clone(args as OperationRequest<'vr.clone'>);
      case 'engine.status':
        return this.status();
      case 'engine.stop':
        setImmediate(this.onStop); // after the answer
        return { stopping: true };
    }
    throw new ServiceError(`${op} is not an operation on virtual routers`);
  }

  /** The tenant of a router: a name, null for none, undefined when there is no such router. */
  tenantOf(name: string): string | null | undefined {
    const r = this.routers.get(name);
    return r ? (r.tenant ?? null) : undefined;
  }

  /** Every router's name and tenant, in creation order. */
  owners(): { name: string; tenant?: string }[] {
    return [...this.routers.values()].map((r) => ({ name: r.name, tenant: r.tenant }));
  }

  /** Whether there is a router of this name. */
  has(name: string): boolean {
    return this.routers.has(name);
  }

  /**
   * A router's configuration and settings now (desired.ts keeps them): while a reconfiguration
   * waits for its confirmation, the configuration confirmed before it, so an engine that comes
   * back after a crash runs what was confirmed, as a rollback would.
   */
  recordOf(name: string): RouterRecord {
    const r = this.router(name);
    const c = this.confirmations.confirmed(name, { source: r.source, plan: effectivePlan(r), graphName: r.graphName });
    return { name, state: r.state, source: c.source, graph: c.graphName, created: r.created, plan: c.plan, ...(r.tenant ? { tenant: r.tenant } : {}), quotas: { ...r.quotas }, shares: this.ports.sharesOf(name) };
  }

  /** A router's tables (and counters) now: its graph's state image, or the one it waits to start with. */
  imageOf(name: string): Buffer | undefined {
    const r = this.router(name);
    return r.graph ? r.graph.saveState() : r.image;
  }

  /**
   * Make a router again from what the state directory kept (desired.ts, at recovery): its plan
   * (not compiled again) with its tables from `image`, in the state it was in. A router of that
   * name is replaced: hot, keeping its tables, when it is loaded and no image is given. A refusal
   * (a port gone, a plan this build cannot run) leaves it `failed` with the reason, as a failed
   * start does; the answer says which.
   */
  adopt(rec: RouterRecord, image: Buffer | undefined): RouterInfoT {
    const old = this.routers.get(rec.name);
    this.ports.setShares(rec.name, rec.shares);
    if (old?.graph && !image) {
      const plan = { ...rec.plan, name: rec.name };
      if (JSON.stringify(plan) !== JSON.stringify(old.plan)) {
        old.graph = old.graph.replace(plan);
        old.plan = plan;
      }
      Object.assign(old, { source: rec.source, graphName: rec.graph, tenant: rec.tenant, quotas: { ...rec.quotas } });
      this.syncRouteLimits(old);
      this.ports.applyShares(rec.name, old.plan, old.graph!);
      compactPlan(old.plan);
      return this.settle(old, rec.state);
    }
    // In place (the Map keeps a key's position): the router keeps its place in vr.list.
    old?.graph?.remove();
    const r: Router = { name: rec.name, state: 'defined', source: rec.source, plan: { ...rec.plan, name: rec.name }, graphName: rec.graph, created: rec.created, tenant: rec.tenant, quotas: { ...rec.quotas }, image, imageCounters: false };
    this.routers.set(r.name, r);
    try {
      return this.settle(r, rec.state);
    } finally {
      compactPlan(r.plan);
    }
  }

  /** Bring a router to the state it was kept in (adopt): refusals leave it failed, with the reason. */
  private settle(r: Router, want: RouterStateT): RouterInfoT {
    try {
      if (want === 'defined' && r.graph) {
        r.graph.remove();
        r.graph = undefined;
        r.state = 'defined';
      }
      if ((want === 'running' || want === 'stopped') && r.state !== 'running' && r.state !== 'stopped') this.start(r.name);
      if (want === 'stopped' && r.state === 'running') this.stop(r.name);
      if (want === 'running' && r.state === 'stopped') this.start(r.name);
    } catch (err) {
      r.state = 'failed';
      r.error ??= describe(err);
    }
    return this.info(r);
  }

  /** Set a router's tenant and quotas as kept (adopt's settings without its configuration). */
  resettle(rec: Pick<RouterRecord, 'name' | 'state' | 'tenant' | 'quotas' | 'shares'>): RouterInfoT {
    const r = this.router(rec.name);
    r.tenant = rec.tenant;
    r.quotas = { ...rec.quotas };
    this.ports.setShares(rec.name, rec.shares);
    if (r.graph) {
      this.syncRouteLimits(r);
      this.ports.applyShares(rec.name, r.plan, r.graph);
    }
    return this.settle(r, rec.state);
  }

  private assign(name: string, tenant: string | null): RouterInfoT {
    const r = this.router(name);
    r.tenant = tenant ?? undefined;
    return this.info(r);
  }

  private router(name: string): Router {
    const r = this.routers.get(name);
    if (!r) {
      const known = [...this.routers.keys()];
      throw new ServiceError(`there is no virtual router named '${name}'; ${known.length ? `there are: ${known.join(', ')}` : 'there are none'}`, 'unknown');
    }
    return r;
  }

  private info(r: Router): RouterInfoT {
    const pending = this.confirmations.status(r.name);
    return {
      name: r.name,
      state: r.state,
      source: r.source,
      graph: r.graphName,
      elements: r.plan.elements.length,
      created: r.created,
      ...(r.tenant ? { tenant: r.tenant } : {}),
      ...(r.error ? { error: r.error } : {}),
      ...(pending ? { pending } : {}),
    };
  }

  /**
   * The confirmed configuration of router `name`: the one it ran before a reconfiguration
   * still waiting for confirmation, else the one it runs. What durable state should keep.
   */
  confirmedConfig(name: string): RouterConfig {
    const r = this.router(name);
    return this.confirmations.confirmed(name, { source: r.source, plan: r.plan, graphName: r.graphName });
  }

  show(name: string): OperationAnswer<'vr.show'> {
    const r = this.router(name);
    return {
      ...this.info(r),
      elementList: r.plan.elements.map((e) => ({ name: e.name, class: e.class })),
      heldPackets: r.graph ? this.runtime.engine.graphState(r.graph.id).held : null,
      quotas: this.quotaUse(r),
    };
  }

  /** Each quota's use: routes in its tables now (configured ones while not loaded), what its configuration reserves of the others. */
  private quotaUse(r: Router): Record<QuotaName, { used: number; limit: number | null }> {
    const res = reserved(r.graph ? livePlan(r.plan, r.graph) : r.plan);
    const use = Object.fromEntries(QUOTA_NAMES.map((q) => [q, { used: res[q].total, limit: r.quotas[q] }])) as Record<QuotaName, { used: number; limit: number | null }>;
    if (r.graph) use.routes.used = this.routeCounts(r).reduce((n, t) => n + t.count, 0);
    return use;
  }

  /** Refuse a plan that could hold more than a quota: one sentence naming the elements and the fix (and the handler write `after` which it would). */
  private checkQuotas(name: string, plan: Plan, quotas: Record<QuotaName, number | null>, after?: string): void {
    const res = reserved(plan);
    for (const q of QUOTA_NAMES) {
      const limit = quotas[q];
      if (limit === null || res[q].total <= limit) continue;
      const parts = res[q].parts.filter((p) => p.n > 0).map((p) => `${p.element} ${p.n} (${p.field})`);
      throw new ServiceError(
        `virtual router '${name}': ${after ? `after the write to ${after} ` : ''}its graph may hold ${res[q].total} ${QUOTA_WHAT[q].holds} (${parts.join(', ')}), over its ${q} quota of ${limit}; ${QUOTA_WHAT[q].fix} or raise the quota (vr quota ${name} ${q}=N); nothing was changed`,
      );
    }
  }

  /** The FIB tables of a loaded router (but `except`) with their route counts. */
  private routeCounts(r: Router, except?: string): { element: string; count: number }[] {
    return r.plan.elements.filter((e) => FIB_FAMILY[e.class] && e.name !== except).map((e) => ({ element: e.name, count: Number(r.graph!.read(e.name, 'count')) }));
  }

  /**
   * Bound each FIB table of a loaded router by what the routes quota leaves (its own routes
   * plus the headroom of the whole router), so any change through its handlers, not only route
   * requests, is refused whole beyond the quota.
   */
  private syncRouteLimits(r: Router, counts = this.routeCounts(r), unchanged?: string): void {
    const limit = r.quotas.routes;
    const headroom = limit === null ? null : Math.max(0, limit - counts.reduce((n, t) => n + t.count, 0));
    for (const t of counts) if (t.element !== unchanged) r.graph!.write(t.element, 'max_routes', headroom === null ? 'none' : String(t.count + headroom));
  }

  /**
   * Before a handler write to a router's element: a write to a config field a quota counts (a
   * Queue's `capacity`), or one the element's `liveQuotas` count (HTBSched's `add` and `change`),
   * is refused when the router's graph, as it holds now, would then hold more than a quota.
   */
  checkWrite(graph: RunningGraph, element: string | undefined, handler: string | undefined, value: string | undefined): void {
    const r = this.routers.get(graph.name);
    const e = graph.plan.elements.find((x) => x.name === element);
    if (r?.graph !== graph || !e || !handler) return;
    const d = findDescriptor(e.class);
    const field = d?.handlers?.[handler]?.field ?? handler;
    const limited = (Object.entries(d?.quotas ?? {}) as [QuotaName, unknown][]).filter(([q]) => r.quotas[q] !== null);
    const write = limited.length ? d?.liveQuotas?.writes[handler] : undefined;
    if (!write && !limited.some(([, how]) => how === field)) return;
    const plan = livePlan(r.plan, graph);
    const i = plan.elements.findIndex((x) => x.name === e.name);
    const now = plan.elements[i].config;
    let config: Record<string, unknown> | undefined;
    if (write) config = write(now as never, value ?? '') as Record<string, unknown> | undefined;
    else if (Number.isFinite(Number(value))) config = { ...now, [field]: Number(value) };
    if (!config) return; // not a value the element takes: it refuses it itself
    plan.elements[i] = { ...plan.elements[i], config };
    this.checkQuotas(r.name, plan, r.quotas, `${e.name}.${handler}`);
  }

  /** After a handler write to a router's element: its FIB tables' bounds follow the routes it now holds. */
  afterWrite(graph: RunningGraph, element: string | undefined): void {
    const r = this.routers.get(graph.name);
    if (r?.graph === graph && r.quotas.routes !== null && element && FIB_FAMILY[graph.plan.elements.find((e) => e.name === element)?.class ?? '']) this.syncRouteLimits(r);
  }

  setQuotas(req: OperationRequest<'vr.quota'>): OperationAnswer<'vr.quota'> {
    const r = this.router(req.name);
    const next = { ...r.quotas };
    for (const q of QUOTA_NAMES) if (req.quotas[q] !== undefined) next[q] = req.quotas[q]!;
    this.checkQuotas(req.name, r.graph ? livePlan(r.plan, r.graph) : r.plan, next);
    // A rollback must fit too: the configuration a pending change would go back to.
    const confirmed = this.confirmedConfig(req.name).plan;
    if (confirmed !== r.plan) this.checkQuotas(req.name, confirmed, next);
    if (r.graph && next.routes !== null) {
      const used = this.routeCounts(r).reduce((n, t) => n + t.count, 0);
      if (used > next.routes)
        throw new ServiceError(`virtual router '${req.name}' holds ${used} routes, more than the routes quota of ${next.routes} asked; remove routes first (route del) or ask for more; nothing was changed`);
    }
    r.quotas = next;
    if (r.graph) this.syncRouteLimits(r);
    return this.quotaUse(r);
  }

  /** The FIB element a route request addresses: named, or the router's only one for the family (given, or read from the routes). */
  private fibTable(r: Router, req: { table?: string; family?: 'ipv4' | 'ipv6' }, sample: readonly string[] = []): { element: string; class: string } {
    const fibs = r.plan.elements.filter((e) => FIB_FAMILY[e.class]).map((e) => ({ element: e.name, class: e.class }));
    const list = () => (fibs.length ? `its tables: ${fibs.map((f) => `${f.element} (${f.class})`).join(', ')}` : 'it has no IPLookup or LookupIP6Route element');
    if (req.table !== undefined) {
      const t = fibs.find((f) => f.element === req.table);
      if (!t) throw new ServiceError(`virtual router '${r.name}' has no FIB table '${req.table}'; ${list()}`);
      return t;
    }
    let family = req.family;
    for (let i = 0; family === undefined && i < sample.length && i < 64; i++) {
      const prefix = sample[i].trim().split(/\s+/)[0];
      if (prefix !== 'default') family = prefix.includes(':') ? 'ipv6' : 'ipv4';
    }
    const fit = family ? fibs.filter((f) => FIB_FAMILY[f.class] === family) : fibs;
    if (fit.length === 1) return fit[0];
    if (fit.length === 0) throw new ServiceError(`virtual router '${r.name}' has no ${family === 'ipv6' ? 'IPv6' : 'IPv4'} FIB table; ${list()}`);
    throw new ServiceError(`virtual router '${r.name}' has several ${family ? `${family === 'ipv6' ? 'IPv6' : 'IPv4'} ` : ''}FIB tables (${fit.map((f) => f.element).join(', ')}): name one with 'table' (--table)`);
  }

  /** A router whose graph is in the engine (running or stopped): route requests need its tables. */
  private loaded(name: string): Router & { graph: RunningGraph } {
    const r = this.router(name);
    if (!r.graph) throw new ServiceError(`virtual router '${name}' is ${r.state}: its tables exist once it is started; start it first (vr start ${name})`);
    return r as Router & { graph: RunningGraph };
  }

  /**
   * route.add, replace, del and load: one handler write on the FIB element, which checks the
   * whole change first (all or nothing, within the bound the routes quota leaves) and publishes
   * it at one instant (native/fib/lookup_element.h).
   */
  changeRoutes(op: 'route.add' | 'route.replace' | 'route.del' | 'route.load', req: OperationRequest<'route.add' | 'route.replace' | 'route.del' | 'route.load'>): OperationAnswer<'route.add'> {
    const r = this.loaded(req.name);
    const lines = ('routes' in req ? req.routes : 'prefixes' in req ? req.prefixes : undefined) ?? [];
    const text = 'text' in req ? req.text : undefined;
    if (!('file' in req) && (text === undefined) === (lines.length === 0))
      throw new ServiceError(`${op}: give the ${op === 'route.del' ? 'prefixes' : 'routes'} as '${op === 'route.del' ? 'prefixes' : 'routes'}' (a list) or as 'text' (one per line), one of the two`);
    const { handler, value } = routeWrite(op, req);
    // One entry, one line: a line break inside one would make it several routes.
    const broken = lines.length ? brokenEntry(lines, value) : -1;
    if (broken >= 0) throw new ServiceError(`${op}: route ${broken + 1} (${JSON.stringify(lines[broken])}) contains a line break; give one route per entry`);
    if ('file' in req && !isAbsolute(req.file)) throw new ServiceError(`${op}: the file '${req.file}' must be an absolute path (the engine reads it from its own directory)`);
    const t = this.fibTable(r, req, 'file' in req ? firstRoutes(req.file) : text !== undefined ? routeSample(text) : lines);
    // The other tables' counts, which this write does not change: read only when a quota bounds
    // them (a router's one table then needs no read here, and no bound written after).
    const others = () => this.routeCounts(r, t.element);
    const t0 = process.hrtime.bigint();
    try {
      r.graph.write(t.element, handler, value);
    } catch (err) {
      const msg = (err as Error).message;
      const over = / would make (\d+) routes, more than the table's limit/.exec(msg);
      if (over && r.quotas.routes !== null) {
        const rest = others().reduce((n, c) => n + c.count, 0);
        throw new ServiceError(
          `virtual router '${req.name}': ${op} would make ${rest + Number(over[1])} routes in its tables, over its routes quota of ${r.quotas.routes}; remove routes or raise the quota (vr quota ${req.name} routes=N); nothing was changed`,
        );
      }
      throw new ServiceError(`virtual router '${req.name}' table '${t.element}': ${op} refused, nothing changed: ${msg}`);
    }
    const ns = Number(process.hrtime.bigint() - t0);
    const count = Number(r.graph.read(t.element, 'count'));
    // This table's bound (the quota less the others' routes) is unchanged; the others' follow its count.
    if (r.quotas.routes !== null) {
      const rest = others();
      if (rest.length) this.syncRouteLimits(r, [...rest, { element: t.element, count }], t.element);
    }
    return { name: req.name, table: t.element, ...(lines.length ? { changed: lines.length } : {}), count, ns };
  }

  showRoutes(req: OperationRequest<'route.show'>): OperationAnswer<'route.show'> {
    const r = this.loaded(req.name);
    const t = this.fibTable(r, req, req.lookup ? [req.lookup] : []);
    const count = Number(r.graph.read(t.element, 'count'));
    if (req.lookup !== undefined) {
      try {
        r.graph.write(t.element, 'lookup', req.lookup);
      } catch (err) {
        throw new ServiceError(`virtual router '${req.name}' table '${t.element}': ${(err as Error).message}`);
      }
      return { name: req.name, table: t.element, class: t.class, count, lookup: r.graph.read(t.element, 'lookup_result') };
    }
    const text = r.graph.read(t.element, 'table');
    return { name: req.name, table: t.element, class: t.class, count, routes: text ? text.replace(/\n$/, '').split('\n') : [] };
  }

  async create(req: OperationRequest<'vr.create'>): Promise<RouterInfoT> {
    this.claim(req.name);
    this.creating.add(req.name);
    let plan: Plan;
    try {
      plan = await compileSource(req.name, req.source);
    } finally {
      this.creating.delete(req.name);
    }
    this.claim(req.name);
    const quotas = { ...this.defaultQuotas };
    for (const q of QUOTA_NAMES) if (req.quotas?.[q] !== undefined) quotas[q] = req.quotas[q]!;
    this.checkQuotas(req.name, plan, quotas);
    // The engine knows the graph by the router's name: two routers from one file do not collide.
    const r: Router = { name: req.name, state: 'defined', source: req.source, plan: { ...plan, name: req.name }, graphName: plan.name, created: new Date().toISOString(), tenant: req.tenant, quotas };
    this.routers.set(r.name, r);
    try {
      if (req.start) this.start(r.name);
    } finally {
      compactPlan(r.plan); // after the load, which reads it whole
    }
    return this.info(r);
  }

  start(name: string): RouterInfoT {
    const r = this.router(name);
    if (r.state === 'running') throw new ServiceError(`virtual router '${name}' is already running`, 'conflict');
    if (r.state === 'stopped') {
      r.graph!.setStopped(false);
    } else {
      // defined or failed: load it (with its saved state, if restored or cloned). A refusal
      // leaves nothing in the engine and marks it failed.
      // Port claims and shares are checked first: a collision is refused with nothing changed.
      const problem = this.ports.check(name, r.plan, this.loadedPlans());
      if (problem) throw new ServiceError(problem);
      try {
        r.graph = this.runtime.load(r.plan, { image: r.image, counters: r.imageCounters });
        r.image = undefined;
      } catch (err) {
        r.state = 'failed';
        r.error = describe(err);
        throw new ServiceError(`virtual router '${name}' failed to start: ${r.error}`);
      }
      // Routes from table files are known once loaded: over the quota, it does not start.
      const counts = this.routeCounts(r);
      const used = counts.reduce((n, t) => n + t.count, 0);
      if (r.quotas.routes !== null && used > r.quotas.routes) {
        r.graph.remove();
        r.graph = undefined;
        r.state = 'failed';
        r.error = `its tables hold ${used} routes (${counts.map((t) => `${t.element} ${t.count}`).join(', ')}), over its routes quota of ${r.quotas.routes}; load fewer routes or raise the quota (vr quota ${name} routes=N)`;
        throw new ServiceError(`virtual router '${name}' failed to start: ${r.error}`);
      }
      this.syncRouteLimits(r, counts);
      this.ports.attached(name);
      r.error = undefined;
      this.ports.applyShares(name, r.plan, r.graph!); // shares vr.share set earlier win over its ToPort fields
    }
    r.state = 'running';
    return this.info(r);
  }

  stop(name: string): RouterInfoT {
    const r = this.router(name);
    if (r.state !== 'running') throw new ServiceError(`virtual router '${name}' is ${r.state}, not running; only a running router can be stopped`, 'conflict');
    r.graph!.setStopped(true); // its devices go on reading, dropping and counting what arrives
    r.state = 'stopped';
    return this.info(r);
  }

  /**
   * Hot reconfiguration: compile the new graph first (an error changes nothing), then replace
   * a loaded graph in the engine (applyConfig). With `confirm`, the previous configuration is
   * kept (confirm.ts) and put back unless vr.confirm arrives within that many seconds.
   */
  async reconfigure(req: OperationRequest<'vr.reconfigure'>): Promise<OperationAnswer<'vr.reconfigure'>> {
    const r = this.router(req.name);
    this.confirmations.refuseWhilePending(req.name, 'another reconfiguration');
    const compiled = await compileSource(req.name, req.source);
    if (this.closing) throw new ServiceError('the engine is stopping; it takes no more requests', 'unavailable');
    if (this.routers.get(req.name) !== r) throw new ServiceError(`virtual router '${req.name}' was deleted while its new graph compiled; nothing was changed`, 'conflict');
    this.confirmations.refuseWhilePending(req.name, 'another reconfiguration'); // one may have begun while this compiled
    const previous: RouterConfig = { source: r.source, plan: r.plan, graphName: r.graphName };
    this.applyConfig(r, { source: req.source, plan: { ...compiled, name: req.name }, graphName: compiled.name });
    if (req.confirm !== undefined) this.confirmations.begin(req.name, previous, req.confirm);
    return { ...this.info(r), swap: swapInfo(r.graph) };
  }

  /**
   * Give a router a configuration (a reconfiguration, or a rollback putting the previous one
   * back): its quotas and port claims checked, then a loaded graph replaced in the engine
   * (RunningGraph.replace: refused plans leave the graph it has untouched; a stopped graph's
   * successor starts stopped, so a stopped router stays stopped), or, for a router with
   * nothing loaded, just the new plan kept (a failed one becomes defined).
   */
  private applyConfig(r: Router, config: RouterConfig, rollback = false): void {
    this.checkQuotas(r.name, r.graph ? carriedPlan(r.plan, r.graph, config.plan) : config.plan, r.quotas);
    if (r.graph) {
      const problem = this.ports.check(r.name, config.plan, this.loadedPlans());
      if (problem) throw new ServiceError(problem);
      try {
        r.graph = r.graph.replace(config.plan);
      } catch (err) {
        const state = r.state === 'running' ? 'running' : 'stopped';
        throw new ServiceError(
          rollback
            ? `virtual router '${r.name}': the engine refused its previous graph, so the one it has goes on ${state}: ${describe(err)}`
            : `virtual router '${r.name}': the engine refused the new graph, and the old one goes on ${state} untouched: ${describe(err)}`,
        );
      }
      r.plan = config.plan;
      this.ports.attached(r.name);
      this.syncRouteLimits(r); // its tables carried over; a new one starts bounded too
    } else if (r.state === 'failed') {
      r.state = 'defined';
      r.error = undefined;
    }
    r.plan = compactPlan(config.plan);
    r.source = config.source;
    r.graphName = config.graphName;
  }

  /**
   * Save a router to a file (routerFile.ts, docs/router-file.md): its configuration with the
   * compiled plan, and its state image taken from the engine (each table as of one instant;
   * the router runs on). Written to a temporary file renamed over `file`, so a failed save
   * leaves no half-written file.
   */
  async save(req: OperationRequest<'vr.save'>): Promise<OperationAnswer<'vr.save'>> {
    const t0 = performance.now();
    const r = this.router(req.name);
    const image = r.graph ? r.graph.saveState() : r.image;
    const state = r.state === 'failed' ? 'defined' : r.state;
    const bytes = await encodeRouterFile(
      {
        format: 'pktgraph-router',
        name: r.name,
        state,
        source: r.source,
        graph: r.graphName,
        created: r.created,
        savedAt: new Date().toISOString(),
        pktgraph: packageVersion(),
        plan: effectivePlan(r),
        quotas: r.quotas,
        shares: this.ports.sharesOf(r.name),
      },
      image,
    );
    const file = resolvePath(req.file);
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      await writeFile(tmp, bytes);
      await rename(tmp, file);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw new ServiceError(`virtual router '${r.name}' could not be saved to ${file}: ${(err as Error).message}`);
    }
    return { name: r.name, file, state, bytes: bytes.length, imageBytes: image?.length ?? 0, ms: performance.now() - t0 };
  }

  /**
   * Restore a router from a file vr.save wrote: its plan (no graph file needed) and its state
   * image loaded together, so the graph reaches the workers with its tables and counters. A
   * bad file, a name taken or an engine refusal changes nothing (no router is made).
   */
  async restore(req: OperationRequest<'vr.restore'>): Promise<OperationAnswer<'vr.restore'>> {
    const t0 = performance.now();
    const file = resolvePath(req.file);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      throw new ServiceError(`cannot read router file ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'there is no such file' : (err as Error).message}; nothing was changed`);
    }
    const { manifest: m, image } = await decodeRouterFile(bytes, file).catch((err: Error) => {
      throw new ServiceError(err.message);
    });
    const name = req.name ?? m.name;
    // The quota check reads the element descriptors, which a restore (no graph file compiled) has not loaded yet.
    await import('../../elements/index.js');
    this.claim(name);
    const target = req.start === true ? 'running' : req.start === false ? 'defined' : m.state;
    const quotas = { ...this.defaultQuotas, ...m.quotas }; // saved with it (files before quotas were saved: the engine's)
    const r: Router = { name, state: 'defined', source: m.source, plan: { ...m.plan, name }, graphName: m.graph, created: new Date().toISOString(), tenant: req.tenant, quotas, image, imageCounters: true };
    this.checkQuotas(name, r.plan, r.quotas);
    this.loadNew(r, m.shares ?? [], target, `${file}: the engine refused to restore virtual router '${name}', and nothing was changed`, { image, stopped: target === 'stopped' });
    compactPlan(r.plan);
    return { ...this.info(r), ms: performance.now() - t0 };
  }

  /**
   * A copy of a router under a new name: its plan (compiled again from its graph file when
   * `params` override some) and its tables as of now, counters from zero. Defined, or
   * running with `start`; a clone the engine refuses is not made.
   */
  async clone(req: OperationRequest<'vr.clone'>): Promise<RouterInfoT> {
    const r = this.router(req.name);
    this.claim(req.newName);
    let source = r.source;
    let plan = effectivePlan(r);
    let graphName = r.graphName;
    if (req.params && Object.keys(req.params).length) {
      if (!('file' in source))
        throw new ServiceError(`virtual router '${r.name}' was built by the ${source.recipe} recipe, which takes no parameters: clone it without params, or create the copy from a description`);
      source = { ...source, params: { ...source.params, ...req.params } };
      this.creating.add(req.newName);
      try {
        plan = await compileSource(req.newName, source);
        graphName = plan.name;
      } finally {
        this.creating.delete(req.newName);
      }
      this.claim(req.newName);
      if (this.routers.get(req.name) !== r) throw new ServiceError(`virtual router '${req.name}' was deleted while its clone compiled; nothing was changed`, 'conflict');
    }
    const image = r.graph ? r.graph.saveState() : r.image;
    const c: Router = { name: req.newName, state: 'defined', source, plan: { ...plan, name: req.newName }, graphName, created: new Date().toISOString(), tenant: r.tenant, quotas: { ...r.quotas }, image, imageCounters: false };
    this.checkQuotas(req.newName, c.plan, c.quotas);
    this.loadNew(c, this.ports.sharesOf(r.name), req.start ? 'running' : 'defined', `virtual router '${req.name}' could not be cloned as '${req.newName}', and nothing was changed: the engine refused the clone`, {
      image,
      counters: false,
    });
    compactPlan(c.plan);
    return this.info(c);
  }

  /**
   * A restored or cloned router made: its live shares taken, then (unless it stays defined) its
   * ports checked, the guarantees among them, and its graph loaded with the state image, the
   * shares applied. Any refusal is one sentence and leaves nothing (no router, no shares).
   */
  private loadNew(r: Router, shares: ReturnType<Ports['sharesOf']>, target: RouterStateT, refused: string, options: Parameters<Runtime['load']>[1]): void {
    this.ports.setShares(r.name, shares);
    if (target !== 'defined') {
      const problem = this.ports.check(r.name, r.plan, this.loadedPlans());
      try {
        if (problem) throw new ServiceError(problem);
        try {
          r.graph = this.runtime.load(r.plan, options);
        } catch (err) {
          throw new ServiceError(`${refused}: ${describe(err)}`);
        }
      } catch (err) {
        this.ports.forget(r.name);
        throw err;
      }
      this.ports.applyShares(r.name, r.plan, r.graph);
      r.image = undefined;
      r.state = target;
    }
    this.routers.set(r.name, r);
  }

  /** Refuse a name in use (or being created), for the operations that make a router. */
  private claim(name: string): void {
    if (this.closing) throw new ServiceError('the engine is stopping; it takes no more requests', 'unavailable');
    if (this.routers.has(name) || this.creating.has(name)) throw new ServiceError(`the name '${name}' is taken by another virtual router; choose another or delete that one first`, 'conflict');
  }

  delete(name: string): OperationAnswer<'vr.delete'> {
    const r = this.router(name);
    const held = r.graph ? this.runtime.engine.graphState(r.graph.id).held : 0;
    r.graph?.remove();
    this.routers.delete(name);
    this.ports.forget(name);
    this.confirmations.forget(name);
    return { name, releasedPackets: held, pool: this.pool() };
  }

  /** Delete every router: the engine is stopping, and takes no more requests (a create still compiling is refused). */
  deleteAll(): void {
    this.closing = true;
    for (const name of [...this.routers.keys()]) this.delete(name);
    this.ports.closeAll();
  }

  /** The plans of the routers whose graphs are in the engine (running or stopped), by name. */
  private loadedPlans(): Map<string, Plan> {
    return new Map([...this.routers.values()].filter((r) => r.graph).map((r) => [r.name, r.plan]));
  }

  private pool() {
    const p = this.runtime.poolStats();
    return { capacity: p.capacity, available: p.available, bufferSize: p.bufferSize };
  }

  status(): OperationAnswer<'engine.status'> {
    const routers: Record<string, number> = { defined: 0, running: 0, stopped: 0, failed: 0 };
    for (const r of this.routers.values()) routers[r.state]++;
    return { threads: this.runtime.threads, pool: this.pool(), routers };
  }

  /**
   * The loaded graph a handler request addresses: `graph` names the router, or the element is
   * VR/element (the router's name up to the first '/'). Returns the graph and the element's
   * name inside it.
   */
  target(graph: string | undefined, element: string | undefined): { graph: RunningGraph; element: string | undefined } {
    let name = graph;
    let rest = element;
    if (name === undefined) {
      const slash = element?.indexOf('/') ?? -1;
      if (element === undefined || slash <= 0)
        throw new ServiceError(`name the virtual router: VR/ELEMENT${element === undefined ? '' : ` (got '${element}')`}, like r1/counter.packets`);
      name = element.slice(0, slash);
      rest = element.slice(slash + 1);
    }
    const r = this.router(name);
    if (!r.graph) throw new ServiceError(`virtual router '${name}' is ${r.state}: it has no running graph; start it with \`pktgraph vr start ${name}\``, 'conflict');
    return { graph: r.graph, element: rest };
  }
}

/** What the last swap of a router's graph did (a reconfiguration or rollback just made it), null with no graph in the engine. */
function swapInfo(g: RunningGraph | undefined): OperationAnswer<'vr.reconfigure'>['swap'] {
  return g?.swap ? { swapNs: g.swap.swapNs, taken: g.swap.taken, dropped: g.swap.dropped } : null;
}

/**
 * A router's plan with the config values its handlers changed since it loaded folded in
 * (RunningGraph.writtenConfig: `source.rate` written to 5000), where the value has the
 * plan's type for the field, so a saved or cloned router starts with them.
 */
function effectivePlan(r: Router): Plan {
  const written = r.graph?.writtenConfig() ?? {};
  if (!Object.keys(written).length) return r.plan;
  return {
    ...r.plan,
    elements: r.plan.elements.map((e) => {
      const w = written[e.name];
      if (!w) return e;
      const config = { ...e.config };
      for (const [k, v] of Object.entries(w)) if (typeof v === typeof config[k] && Array.isArray(v) === Array.isArray(config[k])) config[k] = v;
      return { ...e, config };
    }),
  };
}

