// `pktgraph serve` (an engine hosting virtual routers) and `pktgraph vr list|show|create|
// start|stop|reconfigure|save|restore|clone|delete`, `pktgraph user ...` and `pktgraph audit`, which talk to it
// through its control socket or, with --url and a token, its HTTP API (src/service/client.ts):
// the same commands and the same output either way.
import { readFileSync } from 'node:fs';
import { NoEngineError } from '../control/client.js';
import type { OperationAnswer, QuotasT, RouterInfoT } from '../service/api.js';
import { QUOTA_NAMES, type QuotaName } from '../service/quotas.js';
import { Engine, EngineError, remoteEngine } from '../service/client.js';
import { CliError } from './errors.js';
import { table } from './format.js';
import { parseParams } from './load.js';
import { bits, shareRate } from '../service/ports.js';

export interface ServeCommandOptions {
  control?: string;
  threads?: number;
  pool?: number;
  bufferSize?: number;
  quota?: string[];
  http?: string;
  tlsCert?: string;
  tlsKey?: string;
  state?: string;
  initAdmin?: string;
  bodyLimit?: number;
}

/** `--quota routes=1000,buffers=4096` (repeatable): quotas by name, 'none' for no limit. */
export function parseQuotas(list: string[]): QuotasT {
  const out: QuotasT = {};
  for (const item of list.flatMap((l) => l.split(','))) {
    const m = /^([a-z]+)=(\d+|none)$/.exec(item.trim());
    if (!m || !(QUOTA_NAMES as string[]).includes(m[1]))
      throw new CliError(`--quota expects NAME=N or NAME=none with NAME one of ${QUOTA_NAMES.join(', ')}, got '${item}'`);
    out[m[1] as QuotaName] = m[2] === 'none' ? null : Number(m[2]);
  }
  return out;
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
      quotas: parseQuotas(opts.quota ?? []),
      threads: opts.threads,
      poolBuffers: opts.pool,
      bufferSize: opts.bufferSize,
      stateDir,
      http,
      tls,
      initAdmin: opts.initAdmin,
      bodyLimit: opts.bodyLimit,
      // Metrics, events and the dashboard (docs/management.md).
      httpPlugins: [(await import('../service/observe.js')).observe()],
      version: (await import('../runtime/native.js')).packageVersion(),
      onReady: ({ path, threads, poolBuffers, http: api, initAdmin, recovery }) => {
        if (recovery && (recovery.routers || recovery.ports))
          console.log(`pktgraph: came back from ${stateDir} with ${recovery.routers} virtual router${recovery.routers === 1 ? '' : 's'} and ${recovery.ports} port${recovery.ports === 1 ? '' : 's'} in ${Math.round(recovery.ms)} ms`);
        for (const p of recovery?.problems ?? []) console.error(`pktgraph: ${p}`);
        console.log(`pktgraph: serving an engine (${threads} worker thread${threads === 1 ? '' : 's'}, ${poolBuffers} packet buffers) on the control socket ${path}`);
        if (api) console.log(`pktgraph: HTTP API ${api.url ? `on ${api.url} and ` : ''}on the Unix socket ${api.socketPath} (state in ${stateDir})`);
        if (api?.url) console.log(`pktgraph: dashboard on ${api.url}/dashboard/, metrics on ${api.url}/v1/metrics`);
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
  if (r.pending) console.log(`  pending: a reconfiguration waiting for confirmation, ${r.pending.deadline ? `rolled back at ${r.pending.deadline} unless confirmed` : `whose rollback failed (${r.pending.rollbackError}): confirm or roll back`}`);
  if (r.heldPackets !== null) console.log(`  held:    ${r.heldPackets} packets`);
  console.log('  quotas:');
  for (const l of table(Object.entries(r.quotas).map(([q, u]) => [q, `${u.used} of ${u.limit ?? 'no limit'}`]), '    ')) console.log(l);
  console.log(`  elements (read them as ${r.name}/ELEMENT.HANDLER):`);
  for (const l of table(r.elementList.map((e) => [`${r.name}/${e.name}`, e.class]), '    ')) console.log(l);
}

export async function vrCreateCommand(name: string, file: string, opts: ControlOpts & { param?: string[]; start?: boolean; tenant?: string; quota?: string[] }) {
  const quotas = parseQuotas(opts.quota ?? []);
  const r = await call(opts, (e) => e.createRouter(name, { file, params: parseParams(opts.param ?? []) }, { start: opts.start, tenant: opts.tenant, quotas }));
  console.log(opts.json ? JSON.stringify(r, null, 2) : line(r));
}

/** `--confirm 60s`: a duration as 300ms, 60s, 5m or 1h (a bare number: seconds), in seconds (its range is vr.reconfigure's `confirm`). */
export function parseConfirm(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new CliError(`--confirm takes how long to wait for \`pktgraph vr confirm\`, like 300ms, 60s, 5m or 1h, got '${text}'`);
  const unit: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };
  return Number(m[1]) * unit[m[2] ?? 's'];
}

const swapText = (s: OperationAnswer<'vr.reconfigure'>['swap']) => {
  if (!s) return '';
  const dropped = s.dropped.reduce((n, d) => n + d.packets, 0);
  return `; swapped in ${(s.swapNs / 1000).toFixed(1)} us, ${s.taken} element${s.taken === 1 ? '' : 's'} kept ${s.taken === 1 ? 'its' : 'their'} state, ${dropped} packet${dropped === 1 ? '' : 's'} dropped${dropped ? ` (${s.dropped.map((d) => `${d.element} ${d.packets}`).join(', ')})` : ''}`;
};

export async function vrReconfigureCommand(name: string, file: string, opts: ControlOpts & { param?: string[]; confirm?: string }) {
  const confirm = opts.confirm === undefined ? undefined : parseConfirm(opts.confirm);
  const r = await call(opts, (e) => e.reconfigureRouter(name, { file, params: parseParams(opts.param ?? []) }, { confirm }));
  if (opts.json) return console.log(JSON.stringify(r, null, 2));
  console.log(`${line(r)} with its new graph (${r.elements} elements)${swapText(r.swap)}`);
  if (r.pending?.deadline) console.log(`confirm it with \`pktgraph vr confirm ${name}\` by ${r.pending.deadline}, or the engine rolls it back`);
}

export async function vrConfirmCommand(op: 'confirm' | 'rollback', name: string, opts: ControlOpts) {
  if (op === 'confirm') {
    const r = await call(opts, (e) => e.confirmRouter(name));
    return console.log(opts.json ? JSON.stringify(r, null, 2) : `virtual router '${r.name}' keeps its new graph (${r.graph}): confirmed`);
  }
  const r = await call(opts, (e) => e.rollbackRouter(name));
  if (opts.json) return console.log(JSON.stringify(r, null, 2));
  console.log(`${line(r)} with its previous graph (${r.graph}, ${r.elements} elements) back${swapText(r.swap)}`);
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

export async function vrQuotaCommand(name: string, quotas: string[], opts: ControlOpts) {
  const q = parseQuotas(quotas);
  const use = await call(opts, (e) => (quotas.length ? e.setQuotas(name, q) : e.showRouter(name).then((r) => r.quotas)));
  if (opts.json) return console.log(JSON.stringify(use, null, 2));
  for (const l of table([['QUOTA', 'USED', 'LIMIT'], ...Object.entries(use).map(([k, u]) => [k, String(u.used), u.limit === null ? 'none' : String(u.limit)])])) console.log(l);
}

export async function vrShutdownCommand(opts: ControlOpts) {
  await call(opts, (e) => e.stop());
  if (!opts.json) console.log('the engine is stopping');
}

/** A rate as tc writes it: 10Mbit, 1.5Gbit, 800kbit, 100bit, or a number of bits/s. */
export function parseBitRate(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?(?:e\d+)?)\s*(bit|kbit|mbit|gbit|tbit|k|m|g|t)?(?:\/s|ps)?$/i.exec(text.trim());
  if (!m) throw new CliError(`${what}: '${text}' is not a rate; write it like 10Mbit, 1.5Gbit, 800kbit or a number of bits/s`);
  const scale: Record<string, number> = { '': 1, bit: 1, k: 1e3, kbit: 1e3, m: 1e6, mbit: 1e6, g: 1e9, gbit: 1e9, t: 1e12, tbit: 1e12 };
  return Number(m[1]) * scale[(m[2] ?? '').toLowerCase()];
}

/** A share's rate: bits/s as parseBitRate reads them, or packets/s written 5000pps, 20kpps, 1.5Mpps. */
export function parseShareRate(text: string, what: string): { unit: 'bits' | 'packets'; n: number } {
  const m = /^(\d+(?:\.\d+)?(?:e\d+)?)\s*(k|m|g)?pps$/i.exec(text.trim());
  if (!m) {
    try {
      return { unit: 'bits', n: parseBitRate(text, what) };
    } catch {
      throw new CliError(`${what}: '${text}' is not a rate; write it in bits/s like 10Mbit, 1.5Gbit or 800kbit, or in packets/s like 5000pps or 20kpps`);
    }
  }
  return { unit: 'packets', n: Number(m[1]) * { '': 1, k: 1e3, m: 1e6, g: 1e9 }[(m[2] ?? '').toLowerCase()]! };
}

export async function vrShareCommand(name: string, port: string, opts: ControlOpts & { guarantee?: string; limit?: string; weight?: string }) {
  const g = opts.guarantee !== undefined ? parseShareRate(opts.guarantee, '--guarantee') : undefined;
  const l = opts.limit !== undefined ? parseShareRate(opts.limit, '--limit') : undefined;
  // "0" carries no unit: it takes the other one's.
  const units = new Set([g, l].filter((x) => x && x.n !== 0).map((x) => x!.unit));
  if (units.size > 1) throw new CliError(`--guarantee ${opts.guarantee} and --limit ${opts.limit}: give both in bits/s (10Mbit) or both in packets/s (5000pps)`);
  const share = {
    ...(units.size ? { unit: [...units][0] } : {}),
    ...(g ? { guarantee: g.n } : {}),
    ...(l ? { limit: l.n } : {}),
    ...(opts.weight !== undefined ? { weight: Number(opts.weight) } : {}),
  };
  const r = await call(opts, (e) => e.shareRouter(name, port, share));
  if (opts.json) return console.log(JSON.stringify(r, null, 2));
  console.log(`virtual router '${r.name}' on port ${r.port}: guarantee ${r.guarantee ? shareRate(r.guarantee, r.unit) : 'none'}, limit ${r.limit ? shareRate(r.limit, r.unit) : "the port's rate"}, weight ${r.weight}`);
}

export async function portAddCommand(name: string, device: string, opts: ControlOpts & { tap?: boolean; rate?: string }) {
  const r = await call(opts, (e) => e.addPort(name, device, { ...(opts.tap ? { tap: true } : {}), ...(opts.rate ? { rate: parseBitRate(opts.rate, '--rate') } : {}) }));
  if (opts.json) return console.log(JSON.stringify(r, null, 2));
  console.log(`port '${r.name}' is open on ${r.kind === 'tap' ? 'TAP device' : 'device'} ${r.device} (${bits(r.rate)})`);
}

export async function portDelCommand(name: string, opts: ControlOpts & { force?: boolean }) {
  const r = await call(opts, (e) => e.deletePort(name, opts.force ? { force: true } : {}));
  console.log(opts.json ? JSON.stringify(r, null, 2) : `port '${r.name}' is closed${r.detached.length ? `; detached: ${r.detached.join(', ')}` : ''}`);
}

export async function portListCommand(opts: ControlOpts) {
  const list = await call(opts, (e) => e.listPorts());
  if (opts.json) return console.log(JSON.stringify(list, null, 2));
  if (!list.length) return console.log('no ports');
  for (const p of list) {
    const u = p.counters.unclaimed;
    console.log(`${p.name}: ${p.kind} ${p.device}, ${bits(p.rate)}; received ${p.counters.received}, delivered ${p.counters.delivered}, sent ${p.counters.sent}; unclaimed: vlan ${u.vlan}, mac ${u.mac}, short ${u.short}; ring full ${p.counters.ringFull}`);
    const rows = p.attachments.map((a) => [
      a.router,
      a.vlan === null ? '-' : a.vlan ? String(a.vlan) : 'untagged',
      a.macs.join(',') || (a.vlan === null ? '-' : 'any'),
      a.ring ? `${a.ring.used}/${a.ring.capacity} (full ${a.ring.full})` : '-',
      a.share ? `${a.share.guarantee ? shareRate(a.share.guarantee, a.share.unit) : '-'} / ${a.share.limit ? shareRate(a.share.limit, a.share.unit) : '-'} / ${a.share.weight}` : '-',
      a.share ? `${a.share.sent.packets} pkts, backlog ${a.share.backlog}, drops ${a.share.drops}` : '-',
    ]);
    if (rows.length) for (const l of table([['ROUTER', 'VLAN', 'MACS', 'RING', 'GUARANTEE/LIMIT/WEIGHT', 'SENT'], ...rows], '  ')) console.log(l);
  }
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
