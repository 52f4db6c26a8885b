// The TypeScript client of a serving engine (`pktgraph serve`): every operation of api.ts
// as a method, over the control socket. Errors are the engine's one-sentence refusals.
import { isAbsolute, resolve } from 'node:path';
import { controlRequest } from '../control/client.js';
import { controlPath } from '../control/path.js';
import type { ControlRequest } from '../control/protocol.js';
import type { OperationAnswer, OperationName, OperationRequest, RouterSourceT } from './api.js';

/** The engine refused a request (nothing was changed); the message says why. */
export class EngineError extends Error {
  override name = 'EngineError';
}

export class Engine {
  /** The socket path. */
  readonly path: string;

  /** `control`: a NAME (in the per-user socket directory) or a PATH containing '/', as `--control` takes it. */
  constructor(control?: string, private readonly timeoutMs = 30000) {
    this.path = controlPath(control);
  }

  private async send(req: ControlRequest): Promise<unknown> {
    const r = await controlRequest(this.path, req, this.timeoutMs);
    if (!r.ok) throw new EngineError(r.error);
    return r.value;
  }

  /** Any operation of api.ts by name. */
  request<O extends OperationName>(op: O, args: OperationRequest<O>): Promise<OperationAnswer<O>> {
    return this.send({ op, args }) as Promise<OperationAnswer<O>>;
  }

  listRouters() {
    return this.request('vr.list', {});
  }
  showRouter(name: string) {
    return this.request('vr.show', { name });
  }
  /** A graph file (a relative path is taken from this process's directory) with parameters, or `{ recipe: 'ipRouter', description }`. */
  createRouter(name: string, source: RouterSourceT, options: { start?: boolean } = {}) {
    const s = 'file' in source ? { ...source, file: absolute(source.file) } : source;
    return this.request('vr.create', { name, source: s, ...(options.start === undefined ? {} : { start: options.start }) });
  }
  /** Replace a router's graph (hot reconfiguration): the source as createRouter takes it. */
  reconfigureRouter(name: string, source: RouterSourceT) {
    const s = 'file' in source ? { ...source, file: absolute(source.file) } : source;
    return this.request('vr.reconfigure', { name, source: s });
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
  status() {
    return this.request('engine.status', {});
  }
  /** Stop the engine (it deletes every router and exits). */
  stop() {
    return this.request('engine.stop', {});
  }

  /** Read a handler of a router's element: `read('r1', 'counter', 'packets')`. */
  async read(router: string, element: string, handler: string): Promise<string> {
    return String(await this.send({ op: 'read', graph: router, element, handler }));
  }
  async write(router: string, element: string, handler: string, value = ''): Promise<void> {
    await this.send({ op: 'write', graph: router, element, handler, value });
  }
  /** Every counter of a router's elements (or of one element), as bigints. */
  async counters(router: string): Promise<Record<string, Record<string, bigint>>> {
    const c = (await this.send({ op: 'counters', graph: router })) as Record<string, Record<string, string>>;
    return Object.fromEntries(Object.entries(c).map(([e, v]) => [e, Object.fromEntries(Object.entries(v).map(([k, n]) => [k, BigInt(n)]))]));
  }
}

const absolute = (file: string) => (isAbsolute(file) ? file : resolve(file));
/** The options given (undefined ones left out: the schemas refuse them). */
const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
