// The operations layer of a pktgraph engine service: the virtual routers one engine hosts.
// Each is a named instance of a graph (a graph file with parameters, or a recipe), compiled
// and checked before anything changes, loaded into the one shared engine (the worker
// threads are shared) under its own name, so its elements are addressed as VR/element.
// The control socket (serve.ts) and the HTTP API (http.ts) reach `perform` through the
// management layer (access.ts), which authorises each request and audits it.
import { readFileSync } from 'node:fs';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import type { Plan } from '../compiler/plan.js';
import type { GraphDefinition, ParamValue } from '../graph/graph.js';
import type { Runtime, RunningGraph } from '../runtime/runtime.js';
import { packageRoot } from '../runtime/native.js';
import { decodeRouterFile, encodeRouterFile } from './routerFile.js';
import { checkRequest, isOperation, type OperationAnswer, type OperationName, type OperationRequest, type RouterInfoT, type RouterSourceT, type RouterStateT } from './api.js';

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
  /** Saved state (counters, tables) the graph starts with: a restored or cloned router not started yet. */
  image?: Buffer;
  /** Whether the image's counters are restored too (not for a clone). */
  imageCounters?: boolean;
}

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

  /** `onStop`: called (after the answer is sent) when an `engine.stop` request arrives. */
  constructor(
    readonly runtime: Runtime,
    private readonly onStop: () => void = () => {},
  ) {}

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
      case 'vr.delete':
        return this.delete(a.name);
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
        try {
          if (op === 'vr.counters')
            return h.element === undefined ? Object.fromEntries(Object.entries(g.allCounters()).map(([e, c]) => [e, strings(c)])) : strings(g.counters(h.element));
          if (op === 'handler.list') return g.handlers(h.element);
          if (op === 'handler.read') return g.read(h.element, h.handler);
          g.write(h.element, h.handler, h.value ?? '');
          return {};
        } catch (err) {
          throw new ServiceError(`virtual router '${h.name}': ${describe(err)}`);
        }
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
    return {
      name: r.name,
      state: r.state,
      source: r.source,
      graph: r.graphName,
      elements: r.plan.elements.length,
      created: r.created,
      ...(r.tenant ? { tenant: r.tenant } : {}),
      ...(r.error ? { error: r.error } : {}),
    };
  }

  show(name: string): OperationAnswer<'vr.show'> {
    const r = this.router(name);
    return {
      ...this.info(r),
      elementList: r.plan.elements.map((e) => ({ name: e.name, class: e.class })),
      heldPackets: r.graph ? this.runtime.engine.graphState(r.graph.id).held : null,
    };
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
    // The engine knows the graph by the router's name: two routers from one file do not collide.
    const r: Router = { name: req.name, state: 'defined', source: req.source, plan: { ...plan, name: req.name }, graphName: plan.name, created: new Date().toISOString(), tenant: req.tenant };
    this.routers.set(r.name, r);
    if (req.start) this.start(r.name);
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
      try {
        r.graph = this.runtime.load(r.plan, { image: r.image, counters: r.imageCounters });
        r.image = undefined;
      } catch (err) {
        r.state = 'failed';
        r.error = describe(err);
        throw new ServiceError(`virtual router '${name}' failed to start: ${r.error}`);
      }
      r.error = undefined;
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
   * a loaded graph in the engine (RunningGraph.replace: refused plans leave the old one
   * untouched; a stopped graph's successor starts stopped, so a stopped router stays stopped),
   * or, for a router with nothing loaded, just keep the new plan.
   */
  async reconfigure(req: OperationRequest<'vr.reconfigure'>): Promise<OperationAnswer<'vr.reconfigure'>> {
    const r = this.router(req.name);
    const compiled = await compileSource(req.name, req.source);
    if (this.closing) throw new ServiceError('the engine is stopping; it takes no more requests', 'unavailable');
    if (this.routers.get(req.name) !== r) throw new ServiceError(`virtual router '${req.name}' was deleted while its new graph compiled; nothing was changed`, 'conflict');
    const plan: Plan = { ...compiled, name: req.name };
    let swap: OperationAnswer<'vr.reconfigure'>['swap'] = null;
    if (r.graph) {
      let g: RunningGraph;
      try {
        g = r.graph.replace(plan);
      } catch (err) {
        throw new ServiceError(`virtual router '${req.name}': the engine refused the new graph, and the old one goes on ${r.state === 'running' ? 'running' : 'stopped'} untouched: ${describe(err)}`);
      }
      r.graph = g;
      swap = g.swap ? { swapNs: g.swap.swapNs, taken: g.swap.taken, dropped: g.swap.dropped } : null;
    } else if (r.state === 'failed') {
      r.state = 'defined';
      r.error = undefined;
    }
    r.plan = plan;
    r.source = req.source;
    r.graphName = compiled.name;
    return { ...this.info(r), swap };
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
      { format: 'pktgraph-router', name: r.name, state, source: r.source, graph: r.graphName, created: r.created, savedAt: new Date().toISOString(), pktgraph: version(), plan: effectivePlan(r) },
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
    this.claim(name);
    const target = req.start === true ? 'running' : req.start === false ? 'defined' : m.state;
    const r: Router = { name, state: 'defined', source: m.source, plan: { ...m.plan, name }, graphName: m.graph, created: new Date().toISOString(), tenant: req.tenant, image, imageCounters: true };
    if (target !== 'defined') {
      try {
        r.graph = this.runtime.load(r.plan, { image, stopped: target === 'stopped' });
      } catch (err) {
        throw new ServiceError(`${file}: the engine refused to restore virtual router '${name}', and nothing was changed: ${describe(err)}`);
      }
      r.image = undefined;
      r.state = target;
    }
    this.routers.set(name, r);
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
    const c: Router = { name: req.newName, state: 'defined', source, plan: { ...plan, name: req.newName }, graphName, created: new Date().toISOString(), tenant: r.tenant, image, imageCounters: false };
    if (req.start) {
      try {
        c.graph = this.runtime.load(c.plan, { image, counters: false });
      } catch (err) {
        throw new ServiceError(`virtual router '${req.name}' could not be cloned as '${req.newName}', and nothing was changed: the engine refused the clone: ${describe(err)}`);
      }
      c.image = undefined;
      c.state = 'running';
    }
    this.routers.set(c.name, c);
    return this.info(c);
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
    return { name, releasedPackets: held, pool: this.pool() };
  }

  /** Delete every router: the engine is stopping, and takes no more requests (a create still compiling is refused). */
  deleteAll(): void {
    this.closing = true;
    for (const name of [...this.routers.keys()]) this.delete(name);
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

let pkgVersion: string | undefined;
/** pktgraph's version, written into router files. */
function version(): string {
  try {
    pkgVersion ??= String(JSON.parse(readFileSync(`${packageRoot()}/package.json`, 'utf8')).version);
  } catch {
    pkgVersion = 'unknown';
  }
  return pkgVersion;
}
