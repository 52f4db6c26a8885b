// `pktgraph serve` (an engine hosting virtual routers) and `pktgraph vr list|show|create|
// start|stop|reconfigure|save|restore|clone|delete`, which talk to it through its control socket (src/service/client.ts).
import { NoEngineError } from '../control/client.js';
import type { RouterInfoT } from '../service/api.js';
import { Engine, EngineError } from '../service/client.js';
import { CliError } from './errors.js';
import { table } from './format.js';
import { parseParams } from './load.js';

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

export async function vrSaveCommand(name: string, file: string, opts: ControlOpts) {
  const r = await call(opts.control, (e) => e.saveRouter(name, file));
  if (opts.json) return console.log(JSON.stringify(r, null, 2));
  console.log(`virtual router '${r.name}' (${r.state}) saved to ${r.file}: ${r.bytes} bytes (${r.imageBytes} bytes of state before compression) in ${r.ms.toFixed(1)} ms`);
}

export async function vrRestoreCommand(file: string, opts: ControlOpts & { name?: string; start?: boolean }) {
  const r = await call(opts.control, (e) => e.restoreRouter(file, { name: opts.name, start: opts.start || undefined }));
  if (opts.json) return console.log(JSON.stringify(r, null, 2));
  console.log(`${line(r)}, restored from ${file} in ${r.ms.toFixed(1)} ms`);
}

export async function vrCloneCommand(name: string, newName: string, opts: ControlOpts & { param?: string[]; start?: boolean }) {
  const params = parseParams(opts.param ?? []);
  const r = await call(opts.control, (e) => e.cloneRouter(name, newName, { params: Object.keys(params).length ? params : undefined, start: opts.start || undefined }));
  if (opts.json) return console.log(JSON.stringify(r, null, 2));
  console.log(`${line(r)}: a clone of '${name}' with its tables`);
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
