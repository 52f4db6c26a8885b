// `pktgraph serve` (an engine hosting virtual routers) and `pktgraph vr list|show|create|
// start|stop|reconfigure|save|restore|clone|delete`, `pktgraph user ...` and `pktgraph audit`, which talk to it
// through its control socket or, with --url and a token, its HTTP API (src/service/client.ts):
// the same commands and the same output either way.
import { readFileSync } from 'node:fs';
import { NoEngineError } from '../control/client.js';
import type { RouterInfoT } from '../service/api.js';
import { Engine, EngineError, remoteEngine } from '../service/client.js';
import { CliError } from './errors.js';
import { table } from './format.js';
import { parseParams } from './load.js';

export interface ServeCommandOptions {
  control?: string;
  threads?: number;
  pool?: number;
  bufferSize?: number;
  http?: string;
  tlsCert?: string;
  tlsKey?: string;
  state?: string;
  initAdmin?: string;
  bodyLimit?: number;
}

/** `--http [ADDR:]PORT` (127.0.0.1 unless an address is given; [::1]:PORT for IPv6). */
export function parseListen(spec: string): { host: string; port: number } {
  const m = /^(?:(\[[0-9A-Fa-f:.]+\]|[^:\[\]]+):)?(\d{1,5})$/.exec(spec.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new CliError(`--http takes [ADDR:]PORT, like 8080 or 0.0.0.0:8080 or [::1]:8080, got '${spec}'`);
  return { host: m[1]?.replace(/^\[|\]$/g, '') ?? '127.0.0.1', port };
}

/** The default state directory: $XDG_STATE_HOME/pktgraph (~/.local/state/pktgraph). */
async function defaultStateDir(): Promise<string> {
  const { homedir } = await import('node:os');
  const { join } = await import('node:path');
  return join(process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'pktgraph');
}

const readPem = (file: string, what: string) => {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new CliError(`cannot read the TLS ${what} ${file}: ${(err as Error).message}`);
  }
};

export async function serveCommand(opts: ServeCommandOptions): Promise<void> {
  const { serveEngine } = await import('../service/serve.js');
  const { chooseControlPath } = await import('./run.js');
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) throw new CliError('TLS needs both --tls-cert FILE and --tls-key FILE');
  if (opts.tlsCert && !opts.http) throw new CliError('--tls-cert and --tls-key are for the HTTP API: give --http [ADDR:]PORT too');
  const http = opts.http === undefined ? undefined : parseListen(opts.http);
  const tls = opts.tlsCert ? { cert: readPem(opts.tlsCert, 'certificate'), key: readPem(opts.tlsKey!, 'key') } : undefined;
  const stateDir = opts.state ?? (http || opts.initAdmin ? await defaultStateDir() : undefined);
  const socketPath = await chooseControlPath(opts.control);
  let result;
  try {
    result = await serveEngine({
      socketPath,
      threads: opts.threads,
      poolBuffers: opts.pool,
      bufferSize: opts.bufferSize,
      stateDir,
      http,
      tls,
      initAdmin: opts.initAdmin,
      bodyLimit: opts.bodyLimit,
      version: (await import('../runtime/native.js')).packageVersion(),
      onReady: ({ path, threads, poolBuffers, http: api, initAdmin }) => {
        console.log(`pktgraph: serving an engine (${threads} worker thread${threads === 1 ? '' : 's'}, ${poolBuffers} packet buffers) on the control socket ${path}`);
        if (api) console.log(`pktgraph: HTTP API ${api.url ? `on ${api.url} and ` : ''}on the Unix socket ${api.socketPath} (state in ${stateDir})`);
        if (initAdmin) console.log(`pktgraph: made the user 'admin' and wrote its token to ${initAdmin}`);
        console.log(`pktgraph: try \`pktgraph vr list --control ${path}\`; Ctrl-C, SIGTERM or \`pktgraph vr shutdown --control ${path}\` stops it`);
      },
    });
  } catch (err) {
    throw new CliError((err as Error).message, err);
  }
  const { capacity, available } = result.pool;
  const why = result.reason === 'request' ? 'on request' : `by ${result.reason}`;
  if (available !== capacity) throw new CliError(`stopped ${why}, but ${capacity - available} of ${capacity} packet buffers were not returned to the pool`);
  console.log(`pktgraph: stopped ${why}: every virtual router deleted, every buffer back in the pool (${available} of ${capacity})`);
}

/** Where a command talks to: the control socket, or with --url (or PKTGRAPH_URL) an engine's HTTP API. */
export interface ConnectOpts {
  control?: string;
  url?: string;
  tokenFile?: string;
  cacert?: string;
}

/** The engine a command talks to, as its options say. */
export function engineFor(opts: ConnectOpts): Engine {
  let remote;
  try {
    remote = remoteEngine(opts);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  if (remote && opts.control !== undefined) throw new CliError('give --control (a local engine) or --url (a remote one), not both');
  return new Engine(remote ?? opts.control);
}

/** Run `f` on the engine; its refusals and a missing engine become one CliError sentence. */
export async function call<T>(opts: ConnectOpts, f: (e: Engine) => Promise<T>): Promise<T> {
  const engine = engineFor(opts);
  const control = opts.control;
  try {
    return await f(engine);
  } catch (err) {
    if (err instanceof NoEngineError) throw new CliError(`${err.message}; start one with \`pktgraph serve${control === undefined ? '' : ` --control ${control}`}\``);
    if (err instanceof EngineError) throw new CliError(err.message);
    throw new CliError((err as Error).message, err);
  }
}

const sourceText = (r: RouterInfoT) =>
  'file' in r.source ? [r.source.file, ...Object.entries(r.source.params ?? {}).map(([k, v]) => `-p ${k}=${v}`)].join(' ') : `recipe ${r.source.recipe}`;

const line = (r: RouterInfoT) => `virtual router '${r.name}' is ${r.state}`;

type ControlOpts = ConnectOpts & { json?: boolean };

export async function vrListCommand(opts: ControlOpts) {
  const list = await call(opts, (e) => e.listRouters());
  if (opts.json) return console.log(JSON.stringify(list, null, 2));
  if (!list.length) return console.log('no virtual routers');
  for (const l of table([['NAME', 'STATE', 'ELEMENTS', 'GRAPH'], ...list.map((r) => [r.name, r.state, String(r.elements), sourceText(r)])])) console.log(l);
}

export async function vrShowCommand(name: string, opts: ControlOpts) {
  const r = await call(opts, (e) => e.showRouter(name));
  if (opts.json) return console.log(JSON.stringify(r, null, 2));
  console.log(`${r.name}: ${r.state}${r.error ? ` (${r.error})` : ''}`);
  console.log(`  graph:   ${r.graph} from ${sourceText(r)}`);
  console.log(`  created: ${r.created}`);
  if (r.heldPackets !== null) console.log(`  held:    ${r.heldPackets} packets`);
  console.log(`  elements (read them as ${r.name}/ELEMENT.HANDLER):`);
  for (const l of table(r.elementList.map((e) => [`${r.name}/${e.name}`, e.class]), '    ')) console.log(l);
}

export async function vrCreateCommand(name: string, file: string, opts: ControlOpts & { param?: string[]; start?: boolean; tenant?: string }) {
  const r = await call(opts, (e) => e.createRouter(name, { file, params: parseParams(opts.param ?? []) }, { start: opts.start, tenant: opts.tenant }));
  console.log(opts.json ? JSON.stringify(r, null, 2) : line(r));
}

export async function vrReconfigureCommand(name: string, file: string, opts: ControlOpts & { param?: string[] }) {
  const r = await call(opts, (e) => e.reconfigureRouter(name, { file, params: parseParams(opts.param ?? []) }));
  if (opts.json) return console.log(JSON.stringify(r, null, 2));
  const s = r.swap;
  const dropped = s ? s.dropped.reduce((n, d) => n + d.packets, 0) : 0;
  console.log(
    `${line(r)} with its new graph (${r.elements} elements)` +
      (s ? `; swapped in ${(s.swapNs / 1000).toFixed(1)} us, ${s.taken} element${s.taken === 1 ? '' : 's'} kept ${s.taken === 1 ? 'its' : 'their'} state, ${dropped} packet${dropped === 1 ? '' : 's'} dropped${dropped ? ` (${s.dropped.map((d) => `${d.element} ${d.packets}`).join(', ')})` : ''}` : ''),
  );
}

export async function vrSaveCommand(name: string, file: string, opts: ControlOpts) {
  const r = await call(opts, (e) => e.saveRouter(name, file));
  if (opts.json) return console.log(JSON.stringify(r, null, 2));
  console.log(`virtual router '${r.name}' (${r.state}) saved to ${r.file}: ${r.bytes} bytes (${r.imageBytes} bytes of state before compression) in ${r.ms.toFixed(1)} ms`);
}

export async function vrRestoreCommand(file: string, opts: ControlOpts & { name?: string; start?: boolean }) {
  const r = await call(opts, (e) => e.restoreRouter(file, { name: opts.name, start: opts.start || undefined }));
  if (opts.json) return console.log(JSON.stringify(r, null, 2));
  console.log(`${line(r)}, restored from ${file} in ${r.ms.toFixed(1)} ms`);
}

export async function vrCloneCommand(name: string, newName: string, opts: ControlOpts & { param?: string[]; start?: boolean }) {
  const params = parseParams(opts.param ?? []);
  const r = await call(opts, (e) => e.cloneRouter(name, newName, { params: Object.keys(params).length ? params : undefined, start: opts.start || undefined }));
  if (opts.json) return console.log(JSON.stringify(r, null, 2));
  console.log(`${line(r)}: a clone of '${name}' with its tables`);
}

export async function vrTransitionCommand(op: 'start' | 'stop', name: string, opts: ControlOpts) {
  const r = await call(opts, (e) => (op === 'start' ? e.startRouter(name) : e.stopRouter(name)));
  console.log(opts.json ? JSON.stringify(r, null, 2) : line(r));
}

export async function vrDeleteCommand(name: string, opts: ControlOpts) {
  const r = await call(opts, (e) => e.deleteRouter(name));
  if (opts.json) return console.log(JSON.stringify(r, null, 2));
  console.log(`virtual router '${r.name}' deleted; ${r.releasedPackets} packet${r.releasedPackets === 1 ? '' : 's'} it held went back to the pool`);
}

export async function vrShutdownCommand(opts: ControlOpts) {
  await call(opts, (e) => e.stop());
  if (!opts.json) console.log('the engine is stopping');
}

export async function vrAssignCommand(name: string, tenant: string | undefined, opts: ControlOpts & { none?: boolean }) {
  if ((tenant === undefined) === !opts.none) throw new CliError('vr assign takes a TENANT, or --none to give the router to no tenant');
  const r = await call(opts, (e) => e.request('vr.assign', { name, tenant: tenant ?? null }));
  console.log(opts.json ? JSON.stringify(r, null, 2) : `virtual router '${r.name}' belongs to ${r.tenant ? `tenant '${r.tenant}'` : 'no tenant (admins only)'}`);
}

export async function userListCommand(opts: ControlOpts) {
  const list = await call(opts, (e) => e.request('user.list', {}));
  if (opts.json) return console.log(JSON.stringify(list, null, 2));
  if (!list.length) return console.log('no users');
  for (const l of table([['NAME', 'ROLE', 'TENANT', 'TOKENS', 'CREATED'], ...list.map((u) => [u.name, u.role, u.tenant ?? '-', String(u.tokens), u.created])])) console.log(l);
}

/** `user create` and `user token` print the token alone (for `> FILE`), or JSON. */
export async function userCreateCommand(name: string, opts: ControlOpts & { role: 'admin' | 'operator' | 'viewer'; tenant?: string }) {
  const r = await call(opts, (e) => e.request('user.create', { name, role: opts.role, ...(opts.tenant === undefined ? {} : { tenant: opts.tenant }) }));
  console.log(opts.json ? JSON.stringify(r, null, 2) : r.token);
}

export async function userTokenCommand(name: string, opts: ControlOpts) {
  const r = await call(opts, (e) => e.request('user.token', { name }));
  console.log(opts.json ? JSON.stringify(r, null, 2) : r.token);
}

export async function userDeleteCommand(name: string, opts: ControlOpts) {
  const r = await call(opts, (e) => e.request('user.delete', { name }));
  console.log(opts.json ? JSON.stringify(r, null, 2) : `user '${name}' deleted; its tokens no longer work`);
}

export async function auditCommand(opts: ControlOpts & { limit?: number; since?: string }) {
  const list = await call(opts, (e) => e.request('audit.read', { ...(opts.limit === undefined ? {} : { limit: opts.limit }), ...(opts.since === undefined ? {} : { since: opts.since }) }));
  for (const a of list) console.log(JSON.stringify(a));
}
