// The TypeScript client of a serving engine (`pktgraph serve`): every operation of api.ts
// as a method, over the control socket or, given a URL and a token, the HTTP API (the request
// mapped onto HTTP by the same table: openapi.ts httpRequest). Errors are the engine's
// one-sentence refusals.
import { readFileSync } from 'node:fs';
import { request as httpRequestRaw } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isAbsolute, resolve } from 'node:path';
import { ControlClient } from '../control/client.js';
import { controlPath } from '../control/path.js';
import type { ControlRequest } from '../control/protocol.js';
import type { OperationAnswer, OperationName, OperationRequest, QuotasT, RouterSourceT } from './api.js';
import { httpRequest } from './openapi.js';

/** Which FIB table of a router a route call addresses (default: its only one for the routes' family). */
export interface RouteTableOptions {
  table?: string;
  family?: 'ipv4' | 'ipv6';
}

/** The engine refused a request (nothing was changed); the message says why. */
export class EngineError extends Error {
  override name = 'EngineError';
  /** The HTTP status, over HTTP. */
  status?: number;
}

/** A remote engine's HTTP API: `url` (http://HOST:PORT, https://..., or unix:/PATH/http.sock), a bearer token, and for https a CA certificate (PEM) to trust. */
export interface RemoteEngine {
  url: string;
  token: string;
  ca?: string | Buffer;
}

/** One request to the HTTP API: the answer's JSON, or EngineError with the engine's sentence. */
function httpCall(remote: RemoteEngine, op: OperationName, args: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
  const r = httpRequest(op, args);
  const body = r.body === undefined ? undefined : JSON.stringify(r.body);
  const query = r.query.size ? `?${r.query}` : '';
  const unix = remote.url.startsWith('unix:') ? remote.url.slice(5) : undefined;
  const base = unix ? undefined : new URL(remote.url);
  const headers: Record<string, string> = { authorization: `Bearer ${remote.token}`, accept: 'application/json' };
  if (body !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
  const options = {
    method: r.method,
    headers,
    timeout: timeoutMs,
    ...(unix ? { socketPath: unix, path: r.path + query } : { hostname: base!.hostname.replace(/^\[|\]$/g, ''), port: base!.port, path: base!.pathname.replace(/\/$/, '') + r.path + query }),
    ...(remote.ca ? { ca: remote.ca } : {}),
  };
  const where = unix ? `the engine's HTTP socket ${unix}` : `the engine at ${remote.url}`;
  return new Promise((resolveAnswer, reject) => {
    const req = (base?.protocol === 'https:' ? httpsRequest : httpRequestRaw)(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let value: unknown;
        try {
          value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          return reject(new Error(`${where} answered ${res.statusCode} with a body that is not JSON`));
        }
        if (res.statusCode !== undefined && res.statusCode < 300) return resolveAnswer(value);
        const e = new EngineError((value as { error?: string }).error ?? `${where} answered ${res.statusCode}`);
        e.status = res.statusCode;
        reject(e);
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${where} did not answer within ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? new Error(`no pktgraph engine answers at ${unix ?? remote.url} (${err.code})`) : new Error(`cannot talk to ${where}: ${err.message}`)),
    );
    req.end(body);
  });
}

export class Engine {
  /** The control socket's path (when not remote). */
  readonly path?: string;
  readonly remote?: RemoteEngine;
  /** Its connections to the control socket, kept between requests. */
  private readonly control?: ControlClient;

  /** `control`: a NAME (in the per-user socket directory) or a PATH containing '/', as `--control` takes it; or a remote engine's URL and token. */
  constructor(control?: string | RemoteEngine, private readonly timeoutMs = 30000) {
    if (typeof control === 'object') this.remote = control;
    else {
      this.path = controlPath(control);
      this.control = new ControlClient(this.path, timeoutMs);
    }
  }

  /** Close the connections kept to the control socket (they keep no process alive; a later request opens one again). */
  close(): void {
    this.control?.close();
  }

  /** Where it talks to, for messages. */
  get where(): string {
    return this.remote?.url ?? this.path!;
  }

  private async send(req: ControlRequest): Promise<unknown> {
    const r = await this.control!.request(req);
    if (!r.ok) throw new EngineError(r.error);
    return r.value;
  }

  /** Any operation of api.ts by name. */
  request<O extends OperationName>(op: O, args: OperationRequest<O>): Promise<OperationAnswer<O>> {
    if (this.remote) return httpCall(this.remote, op, args as Record<string, unknown>, this.timeoutMs) as Promise<OperationAnswer<O>>;
    return this.send({ op, args }) as Promise<OperationAnswer<O>>;
  }

  listRouters() {
    return this.request('vr.list', {});
  }
  showRouter(name: string) {
    return this.request('vr.show', { name });
  }
  /** A graph file (a relative path is taken from this process's directory) with parameters, or `{ recipe: 'ipRouter', description }`; `tenant` gives it to a tenant; `quotas` (default: the engine's). */
  createRouter(name: string, source: RouterSourceT, options: { start?: boolean; tenant?: string; quotas?: QuotasT } = {}) {
    const s = 'file' in source ? { ...source, file: absolute(source.file) } : source;
    return this.request('vr.create', {
      name,
      source: s,
      ...(options.start === undefined ? {} : { start: options.start }),
      ...(options.tenant === undefined ? {} : { tenant: options.tenant }),
      ...(options.quotas ? { quotas: options.quotas } : {}),
    });
  }
  /** Change a router's quotas (the ones given; null lifts one). */
  setQuotas(name: string, quotas: QuotasT) {
    return this.request('vr.quota', { name, quotas });
  }
  /** Routes for new prefixes (an existing prefix is refused); all or nothing, visible at one
   *  instant. A list, or one string of routes one per line (much cheaper for very many). */
  addRoutes(name: string, routes: string[] | string, options: RouteTableOptions = {}) {
    return this.request('route.add', { name, ...options, ...(typeof routes === 'string' ? { text: routes } : { routes }) });
  }
  /** Routes added or replacing their prefix's route; all or nothing, visible at one instant. */
  replaceRoutes(name: string, routes: string[] | string, options: RouteTableOptions = {}) {
    return this.request('route.replace', { name, ...options, ...(typeof routes === 'string' ? { text: routes } : { routes }) });
  }
  /** Remove the routes of these prefixes (a missing one is refused); all or nothing. */
  deleteRoutes(name: string, prefixes: string[] | string, options: RouteTableOptions = {}) {
    return this.request('route.del', { name, ...options, ...(typeof prefixes === 'string' ? { text: prefixes } : { prefixes }) });
  }
  /** The routes of a file the engine reads itself (a relative path is taken from this process's directory): the fast way to program many. */
  loadRoutes(name: string, file: string, options: RouteTableOptions & { mode?: 'add' | 'replace' | 'set' } = {}) {
    return this.request('route.load', { name, ...options, file: absolute(file) });
  }
  /** A table's routes, or with `lookup` the route an address takes. */
  showRoutes(name: string, options: RouteTableOptions & { lookup?: string } = {}) {
    return this.request('route.show', { name, ...options });
  }
  /** Replace a router's graph (hot reconfiguration): the source as createRouter takes it; `confirm`: seconds to confirm it in (confirmRouter) before the engine rolls it back. */
  reconfigureRouter(name: string, source: RouterSourceT, options: { confirm?: number } = {}) {
    const s = 'file' in source ? { ...source, file: absolute(source.file) } : source;
    return this.request('vr.reconfigure', { name, source: s, ...defined(options) });
  }
  /** Keep a reconfiguration that waits for confirmation. */
  confirmRouter(name: string) {
    return this.request('vr.confirm', { name });
  }
  /** Roll back a reconfiguration that waits for confirmation, now. */
  rollbackRouter(name: string) {
    return this.request('vr.rollback', { name });
  }
  /** Save a router (configuration and state) to a file the engine writes (a relative path is taken from this process's directory). */
  saveRouter(name: string, file: string) {
    return this.request('vr.save', { name, file: absolute(file) });
  }
  /** Restore a router from a file vr.save wrote: under its saved name or `name`; `start` true: running, false: defined, absent: as saved. */
  restoreRouter(file: string, options: { name?: string; start?: boolean } = {}) {
    return this.request('vr.restore', { file: absolute(file), ...defined(options) });
  }
  /** Copy a router under a new name with its tables; `params` override graph parameters (new MACs, another VLAN). */
  cloneRouter(name: string, newName: string, options: { params?: Record<string, string | number | boolean>; start?: boolean } = {}) {
    return this.request('vr.clone', { name, newName, ...defined(options) });
  }
  startRouter(name: string) {
    return this.request('vr.start', { name });
  }
  stopRouter(name: string) {
    return this.request('vr.stop', { name });
  }
  deleteRouter(name: string) {
    return this.request('vr.delete', { name });
  }
  /** Set a router's bandwidth share on a port (bits/s, or packets/s with unit 'packets'; fields not given stay). */
  shareRouter(name: string, port: string, share: { unit?: 'bits' | 'packets'; guarantee?: number; limit?: number; weight?: number }) {
    return this.request('vr.share', { name, port, ...share });
  }
  addPort(name: string, device: string, options: { tap?: boolean; rate?: number } = {}) {
    return this.request('port.add', { name, device, ...options });
  }
  /** Close a port; `force`: even while routers are attached (they stay, detached). */
  deletePort(name: string, options: { force?: boolean } = {}) {
    return this.request('port.del', { name, ...options });
  }
  listPorts() {
    return this.request('port.list', {});
  }
  status() {
    return this.request('engine.status', {});
  }
  /** Stop the engine (it deletes every router and exits). */
  stop() {
    return this.request('engine.stop', {});
  }

  /** Read a handler of a router's element: `read('r1', 'counter', 'packets')`. */
  async read(router: string, element: string, handler: string): Promise<string> {
    return this.request('handler.read', { name: router, element, handler });
  }
  async write(router: string, element: string, handler: string, value = ''): Promise<void> {
    await this.request('handler.write', { name: router, element, handler, value });
  }
  /** Every counter of a router's elements, as bigints. */
  async counters(router: string): Promise<Record<string, Record<string, bigint>>> {
    const c = (await this.request('vr.counters', { name: router })) as Record<string, Record<string, string>>;
    return Object.fromEntries(Object.entries(c).map(([e, v]) => [e, Object.fromEntries(Object.entries(v).map(([k, n]) => [k, BigInt(n)]))]));
  }
}

const absolute = (file: string) => (isAbsolute(file) ? file : resolve(file));
/** The options given (undefined ones left out: the schemas refuse them). */
const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

/** A remote engine from `--url`, a token from `--token-file` or PKTGRAPH_TOKEN, and `--cacert` (or PKTGRAPH_CACERT): undefined without a URL. */
export function remoteEngine(opts: { url?: string; tokenFile?: string; cacert?: string }, env: NodeJS.ProcessEnv = process.env): RemoteEngine | undefined {
  const url = opts.url ?? env.PKTGRAPH_URL;
  if (url === undefined) return undefined;
  if (!/^(https?:\/\/|unix:\/)/.test(url)) throw new Error(`--url must be http://HOST:PORT, https://HOST:PORT or unix:/PATH/http.sock, got '${url}'`);
  let token = env.PKTGRAPH_TOKEN;
  if (opts.tokenFile !== undefined) {
    try {
      token = readFileSync(opts.tokenFile, 'utf8').trim();
    } catch (err) {
      throw new Error(`cannot read the token file ${opts.tokenFile}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
  }
  if (!token) throw new Error(`--url ${url} needs a token: set PKTGRAPH_TOKEN or give --token-file FILE`);
  const caFile = opts.cacert ?? env.PKTGRAPH_CACERT;
  let ca: Buffer | undefined;
  if (caFile !== undefined) {
    try {
      ca = readFileSync(caFile);
    } catch (err) {
      throw new Error(`cannot read the CA certificate ${caFile}: ${(err as Error).message}`);
    }
  }
  return { url, token, ...(ca ? { ca } : {}) };
}
