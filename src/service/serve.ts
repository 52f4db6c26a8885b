// `pktgraph serve`: a long-running engine hosting virtual routers, controlled over the
// owner-only control socket and, with a state directory, the HTTP API (http.ts: TCP when
// asked, and a Unix socket in the state directory), until SIGINT, SIGTERM or an `engine.stop`
// request. With a state directory it first comes back to what was asked of it before
// (desired.ts) and keeps every change there. It stops cleanly: a last snapshot of the desired
// state, every router deleted, every buffer back in the pool (checked), the sockets removed.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Runtime, type EngineOptions } from '../runtime/runtime.js';
import type { ControlResponse } from '../control/protocol.js';
import { asRequest, graphRequest, requestText, startControlServer, type ControlServer } from '../control/server.js';
import { MAX_SOCKET_PATH } from '../control/path.js';
import { VirtualRouters } from './routers.js';
import { isOperation, type QuotasT } from './api.js';
import { LOCAL_OWNER, Management } from './access.js';
import { AuditLog } from './audit.js';
import { UserStore } from './users.js';
import { DesiredState, type RecoveryReport } from './desired.js';
import type { HttpApi, HttpPlugin } from './http.js';

/**
 * One request to a serving engine: a service operation (`{ op: 'vr.create', args }`), or a
 * handler request on a virtual router's element (read, write, handlers, counters, profile),
 * the router named by `graph` or as the element's prefix (VR/element), or `list`.
 * Never throws: problems become `{ ok: false, error }`.
 */
export async function handleServiceRequest(management: Management, request: unknown): Promise<ControlResponse> {
  const routers = management.routers;
  try {
    const req = asRequest(request);
    // The socket's owner is an admin; its changes are audited as 'local'.
    if (isOperation(req.op)) return { ok: true, value: await management.perform(LOCAL_OWNER, req.op, req.args ?? {}, { via: 'control' }) };
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
    if (req.op === 'write') {
      // A change: through the management layer, so it is audited as the HTTP API's writes are.
      const v = req.value ?? '';
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new Error(`request field 'value' must be a string`);
      const args = { name: t.graph.name, element: t.element!, handler: requestText(req, 'handler', true)!, value: String(v) };
      await management.perform(LOCAL_OWNER, 'handler.write', args, { via: 'control' });
      return { ok: true, value: '' };
    }
    return { ok: true, value: graphRequest(t.graph, { ...req, element: t.element }) };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

export interface ServeOptions extends EngineOptions {
  /** Every virtual router's quotas unless its vr.create says otherwise. */
  quotas?: QuotasT;
  /** The control socket's path (resolved by the caller). */
  socketPath: string;
  /** The state directory (the desired state: ports, routers, routes; users, tokens, the audit log, the HTTP Unix socket); with it the HTTP API is served. */
  stateDir?: string;
  /** Also serve the HTTP API on this TCP address (needs stateDir). */
  http?: { host: string; port: number };
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** With no user yet, create an admin 'admin' and write its token to this file (mode 0600). */
  initAdmin?: string;
  /** Largest HTTP request body, bytes. */
  bodyLimit?: number;
  /** Fastify plugins added to the HTTP API (metrics, events, the dashboard). */
  httpPlugins?: HttpPlugin[];
  version?: string;
  /** Told once the sockets are served. */
  onReady?: (info: { path: string; threads: number; poolBuffers: number; http?: { url?: string; socketPath: string }; initAdmin?: string; recovery?: RecoveryReport }) => void;
}

export interface ServeResult {
  /** What ended it: a signal's name, or 'request' (engine.stop). */
  reason: NodeJS.Signals | 'request';
  pool: { capacity: number; available: number };
}

/** Serve an engine until SIGINT, SIGTERM or an engine.stop request; resolves once it has stopped cleanly. */
export async function serveEngine(options: ServeOptions): Promise<ServeResult> {
  const { socketPath, onReady, quotas, stateDir, http, tls, initAdmin, httpPlugins, version, bodyLimit, ...engineOptions } = options;
  if (http && !stateDir) throw new Error('the HTTP API needs a state directory for its users and audit log: give --state DIR');
  let users: UserStore | undefined;
  let audit: AuditLog | undefined;
  let httpSocket: string | undefined;
  if (stateDir) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    httpSocket = join(stateDir, 'http.sock');
    if (Buffer.byteLength(httpSocket) > MAX_SOCKET_PATH) throw new Error(`the HTTP socket path ${httpSocket} is longer than the ${MAX_SOCKET_PATH} bytes a Unix socket path may have; give a shorter --state DIR`);
    users = new UserStore(stateDir);
    audit = new AuditLog(stateDir);
  }
  const runtime = new Runtime(engineOptions);
  let server: ControlServer | undefined;
  let api: HttpApi | undefined;
  let desired: DesiredState | undefined;
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
    const routers = new VirtualRouters(runtime, () => stop('request'), quotas);
    // What was asked of the engine before, back before any request is taken (desired.ts), and
    // before the workers start: each router's load then waits for no worker round.
    desired = stateDir ? await DesiredState.open(stateDir, routers) : undefined;
    runtime.start();
    const management = new Management(routers, users, audit, desired);
    server = await startControlServer(runtime, socketPath, (req) => handleServiceRequest(management, req));
    let made: string | undefined;
    if (initAdmin && users && users.size === 0) {
      const { token } = (await management.perform(LOCAL_OWNER, 'user.create', { name: 'admin', role: 'admin' }, { via: 'control' })) as { token: string };
      writeFileSync(initAdmin, token + '\n', { mode: 0o600 });
      made = initAdmin;
    }
    if (httpSocket) {
      const { startHttpApi } = await import('./http.js');
      api = await startHttpApi(management, { socketPath: httpSocket, listen: http, tls, plugins: httpPlugins, version, bodyLimit });
    }
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    onReady?.({ path: socketPath, threads: runtime.threads, poolBuffers: runtime.poolStats().capacity, ...(api ? { http: { url: api.url, socketPath: api.socketPath } } : {}), ...(made ? { initAdmin: made } : {}), ...(desired?.report ? { recovery: desired.report } : {}) });
    await stopped;
    await api?.close();
    server.close();
    await desired?.close(); // a last snapshot: the next start reads no journal
    routers.deleteAll();
    runtime.stop();
    const p = runtime.poolStats();
    return { reason: reason!, pool: { capacity: p.capacity, available: p.available } };
  } finally {
    await api?.close().catch(() => {});
    server?.close();
    audit?.close();
    runtime.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
  }
}
