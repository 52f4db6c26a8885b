// `pktgraph serve`: a long-running engine hosting virtual routers, controlled over the
// owner-only control socket until SIGINT, SIGTERM or an `engine.stop` request. It stops
// cleanly: every router deleted, every buffer back in the pool (checked), the socket removed.
import { Runtime, type EngineOptions } from '../runtime/runtime.js';
import type { ControlResponse } from '../control/protocol.js';
import { asRequest, graphRequest, requestText, startControlServer, type ControlServer } from '../control/server.js';
import { VirtualRouters } from './routers.js';
import { isOperation, type QuotasT } from './api.js';

/**
 * One request to a serving engine: a service operation (`{ op: 'vr.create', args }`), or a
 * handler request on a virtual router's element (read, write, handlers, counters, profile),
 * the router named by `graph` or as the element's prefix (VR/element), or `list`.
 * Never throws: problems become `{ ok: false, error }`.
 */
export async function handleServiceRequest(routers: VirtualRouters, request: unknown): Promise<ControlResponse> {
  try {
    const req = asRequest(request);
    if (isOperation(req.op)) return { ok: true, value: await routers.perform(req.op, req.args ?? {}) };
    if (req.op === 'list') {
      // As `pktgraph list` shows a run's graphs: the loaded routers, elements as VR/element.
      const name = requestText(req, 'graph', false);
      const graphs = name === undefined ? routers.runtime.allGraphs() : [routers.target(name, undefined).graph];
      return { ok: true, value: graphs.map((g) => ({ name: g.name, elements: g.plan.elements.map((e) => ({ name: `${g.name}/${e.name}`, class: e.class })) })) };
    }
    // `pktgraph reconfigure` replaces a `pktgraph run` graph; here the router's state must follow its graph.
    if (req.op === 'replace') throw new Error("this engine hosts virtual routers: replace a router's graph with `pktgraph vr reconfigure NAME FILE` (the vr.reconfigure operation)");
    if (!['read', 'write', 'handlers', 'counters', 'profile'].includes(req.op))
      throw new Error(`unknown op ${JSON.stringify(req.op)}: use read, write, handlers, list, counters, profile, or a service operation (vr.list, vr.create, ...)`);
    const element = requestText(req, 'element', false);
    const graph = requestText(req, 'graph', false);
    // counters and profile of a whole router: `graph` alone, or the element field naming just the router.
    const whole = (req.op === 'counters' || req.op === 'profile') && graph === undefined && element !== undefined && !element.includes('/');
    const t = whole ? routers.target(element, undefined) : routers.target(graph, element);
    if (req.op === 'write') routers.checkWrite(t.graph, t.element, req.handler, req.value);
    const value = graphRequest(t.graph, { ...req, element: t.element });
    if (req.op === 'write') routers.afterWrite(t.graph, t.element);
    return { ok: true, value };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

export interface ServeOptions extends EngineOptions {
  /** Every virtual router's quotas unless its vr.create says otherwise. */
  quotas?: QuotasT;
  /** The control socket's path (resolved by the caller). */
  socketPath: string;
  /** Told once the socket is served. */
  onReady?: (info: { path: string; threads: number; poolBuffers: number }) => void;
}

export interface ServeResult {
  /** What ended it: a signal's name, or 'request' (engine.stop). */
  reason: NodeJS.Signals | 'request';
  pool: { capacity: number; available: number };
}

/** Serve an engine until SIGINT, SIGTERM or an engine.stop request; resolves once it has stopped cleanly. */
export async function serveEngine(options: ServeOptions): Promise<ServeResult> {
  const { socketPath, onReady, quotas, ...engineOptions } = options;
  const runtime = new Runtime(engineOptions);
  let server: ControlServer | undefined;
  let reason: ServeResult['reason'] | undefined;
  let wake: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (wake = resolve));
  const stop = (why: ServeResult['reason']) => {
    reason ??= why;
    wake();
  };
  const onSignal = (sig: NodeJS.Signals) => stop(sig);
  const onExit = () => server?.close();
  process.on('exit', onExit);
  try {
    runtime.start();
    const routers = new VirtualRouters(runtime, () => stop('request'), quotas);
    server = await startControlServer(runtime, socketPath, (req) => handleServiceRequest(routers, req));
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    onReady?.({ path: socketPath, threads: runtime.threads, poolBuffers: runtime.poolStats().capacity });
    await stopped;
    server.close();
    routers.deleteAll();
    runtime.stop();
    const p = runtime.poolStats();
    return { reason: reason!, pool: { capacity: p.capacity, available: p.available } };
  } finally {
    server?.close();
    runtime.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
  }
}
