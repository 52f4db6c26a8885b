// `pktgraph serve` (an engine hosting virtual routers) and `pktgraph vr list|show|create|
// start|stop|reconfigure|delete`, which talk to it through its control socket (src/service/client.ts).
import { NoEngineError } from '../control/client.js';
import type { RouterInfoT } from '../service/api.js';
import { Engine, EngineError } from '../service/client.js';
import { CliError } from './errors.js';
import { table } from './format.js';
import { parseParams } from './load.js';
import { bits } from '../service/ports.js';

export interface ServeCommandOptions {
  control?: string;
  threads?: number;
  pool?: number;
  bufferSize?: number;
}

export async function serveCommand(opts: ServeCommandOptions): Promise<void> {
  const { serveEngine } = await import('../service/serve.js');
  const { chooseControlPath } = await import('./run.js');
  const socketPath = await chooseControlPath(opts.control);
  let result;
  try {
    result = await serveEngine({
      socketPath,
      threads: opts.threads,
      poolBuffers: opts.pool,
      bufferSize: opts.bufferSize,
      onReady: ({ path, threads, poolBuffers }) =>
        console.log(`pktgraph: serving an engine (${threads} worker thread${threads === 1 ? '' : 's'}, ${poolBuffers} packet buffers) on the control socket ${path}\n` +
          `pktgraph: try \`pktgraph vr list --control ${path}\`; Ctrl-C, SIGTERM or \`pktgraph vr shutdown --control ${path}\` stops it`),
    });
  } catch (err) {
    throw new CliError((err as Error).message, err);
  }
  const { capacity, available } = result.pool;
  const why = result.reason === 'request' ? 'on request' : `by ${result.reason}`;
  if (available !== capacity) throw new CliError(`stopped ${why}, but ${capacity - available} of ${capacity} packet buffers were not returned to the pool`);
  console.log(`pktgraph: stopped ${why}: every virtual router deleted, every buffer back in the pool (${available} of ${capacity})`);
}

async function call<T>(control: string | undefined, f: (e: Engine) => Promise<T>): Promise<T> {
  const engine = new Engine(control);
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

type ControlOpts = { control?: string; json?: boolean };

export async function vrListCommand(opts: ControlOpts) {
  const list = await call(opts.control, (e) => e.listRouters());
  if (opts.json) return console.log(JSON.stringify(list, null, 2));
  if (!list.length) return console.log('no virtual routers');
  for (const l of table([['NAME', 'STATE', 'ELEMENTS', 'GRAPH'], ...list.map((r) => [r.name, r.state, String(r.elements), sourceText(r)])])) console.log(l);
}

export async function vrShowCommand(name: string, opts: ControlOpts) {
  const r = await call(opts.control, (e) => e.showRouter(name));
  if (opts.json) return console.log(JSON.stringify(r, null, 2));
  console.log(`${r.name}: ${r.state}${r.error ? ` (${r.error})` : ''}`);
  console.log(`  graph:   ${r.graph} from ${sourceText(r)}`);
  console.log(`  created: ${r.created}`);
  if (r.heldPackets !== null) console.log(`  held:    ${r.heldPackets} packets`);
  console.log(`  elements (read them as ${r.name}/ELEMENT.HANDLER):`);
  for (const l of table(r.elementList.map((e) => [`${r.name}/${e.name}`, e.class]), '    ')) console.log(l);
}

export async function vrCreateCommand(name: string, file: string, opts: ControlOpts & { param?: string[]; start?: boolean }) {
  const r = await call(opts.control, (e) => e.createRouter(name, { file, params: parseParams(opts.param ?? []) }, { start: opts.start }));
  console.log(opts.json ? JSON.stringify(r, null, 2) : line(r));
}

export async function vrReconfigureCommand(name: string, file: string, opts: ControlOpts & { param?: string[] }) {
  const r = await call(opts.control, (e) => e.reconfigureRouter(name, { file, params: parseParams(opts.param ?? []) }));
  if (opts.json) return console.log(JSON.stringify(r, null, 2));
  const s = r.swap;
  const dropped = s ? s.dropped.reduce((n, d) => n + d.packets, 0) : 0;
  console.log(
    `${line(r)} with its new graph (${r.elements} elements)` +
      (s ? `; swapped in ${(s.swapNs / 1000).toFixed(1)} us, ${s.taken} element${s.taken === 1 ? '' : 's'} kept ${s.taken === 1 ? 'its' : 'their'} state, ${dropped} packet${dropped === 1 ? '' : 's'} dropped${dropped ? ` (${s.dropped.map((d) => `${d.element} ${d.packets}`).join(', ')})` : ''}` : ''),
  );
}

export async function vrTransitionCommand(op: 'start' | 'stop', name: string, opts: ControlOpts) {
  const r = await call(opts.control, (e) => (op === 'start' ? e.startRouter(name) : e.stopRouter(name)));
  console.log(opts.json ? JSON.stringify(r, null, 2) : line(r));
}

export async function vrDeleteCommand(name: string, opts: ControlOpts) {
  const r = await call(opts.control, (e) => e.deleteRouter(name));
  if (opts.json) return console.log(JSON.stringify(r, null, 2));
  console.log(`virtual router '${r.name}' deleted; ${r.releasedPackets} packet${r.releasedPackets === 1 ? '' : 's'} it held went back to the pool`);
}

export async function vrShutdownCommand(opts: ControlOpts) {
  await call(opts.control, (e) => e.stop());
  if (!opts.json) console.log('the engine is stopping');
}

/** A rate as tc writes it: 10Mbit, 1.5Gbit, 800kbit, 100bit, or a number of bits/s. */
export function parseBitRate(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?(?:e\d+)?)\s*(bit|kbit|mbit|gbit|tbit|k|m|g|t)?(?:\/s|ps)?$/i.exec(text.trim());
  if (!m) throw new CliError(`${what}: '${text}' is not a rate; write it like 10Mbit, 1.5Gbit, 800kbit or a number of bits/s`);
  const scale: Record<string, number> = { '': 1, bit: 1, k: 1e3, kbit: 1e3, m: 1e6, mbit: 1e6, g: 1e9, gbit: 1e9, t: 1e12, tbit: 1e12 };
  return Number(m[1]) * scale[(m[2] ?? '').toLowerCase()];
}

export async function vrShareCommand(name: string, port: string, opts: ControlOpts & { guarantee?: string; limit?: string; weight?: string }) {
  const share = {
    ...(opts.guarantee !== undefined ? { guarantee: parseBitRate(opts.guarantee, '--guarantee') } : {}),
    ...(opts.limit !== undefined ? { limit: parseBitRate(opts.limit, '--limit') } : {}),
    ...(opts.weight !== undefined ? { weight: Number(opts.weight) } : {}),
  };
  const r = await call(opts.control, (e) => e.shareRouter(name, port, share));
  if (opts.json) return console.log(JSON.stringify(r, null, 2));
  console.log(`virtual router '${r.name}' on port ${r.port}: guarantee ${r.guarantee ? bits(r.guarantee) : 'none'}, limit ${r.limit ? bits(r.limit) : "the port's rate"}, weight ${r.weight}`);
}

export async function portAddCommand(name: string, device: string, opts: ControlOpts & { tap?: boolean; rate?: string }) {
  const r = await call(opts.control, (e) => e.addPort(name, device, { ...(opts.tap ? { tap: true } : {}), ...(opts.rate ? { rate: parseBitRate(opts.rate, '--rate') } : {}) }));
  if (opts.json) return console.log(JSON.stringify(r, null, 2));
  console.log(`port '${r.name}' is open on ${r.kind === 'tap' ? 'TAP device' : 'device'} ${r.device} (${bits(r.rate)})`);
}

export async function portDelCommand(name: string, opts: ControlOpts) {
  const r = await call(opts.control, (e) => e.deletePort(name));
  console.log(opts.json ? JSON.stringify(r, null, 2) : `port '${r.name}' is closed`);
}

export async function portListCommand(opts: ControlOpts) {
  const list = await call(opts.control, (e) => e.listPorts());
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
      a.share ? `${a.share.guarantee ? bits(a.share.guarantee) : '-'} / ${a.share.limit ? bits(a.share.limit) : '-'} / ${a.share.weight}` : '-',
      a.share ? `${a.share.sent.packets} pkts, backlog ${a.share.backlog}, drops ${a.share.drops}` : '-',
    ]);
    if (rows.length) for (const l of table([['ROUTER', 'VLAN', 'MACS', 'RING', 'GUARANTEE/LIMIT/WEIGHT', 'SENT'], ...rows], '  ')) console.log(l);
  }
}
