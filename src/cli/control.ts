// `pktgraph read`, `write`, `handlers`, `list`, `profile` and `reconfigure`: talk to a running `pktgraph run`
// through its control socket.
import { readdirSync } from 'node:fs';
import { controlDir, controlPath } from '../control/path.js';
import { controlRequest, NoEngineError, probeSocket } from '../control/client.js';
import type { ControlRequest, ReplaceResult } from '../control/protocol.js';
import type { GraphProfile, HandlerInfo } from '../runtime/runtime.js';
import { CliError } from './errors.js';
import { table } from './format.js';
import { profileTable } from './profile.js';

export interface Target {
  graph?: string;
  element: string;
  handler?: string;
}

/**
 * `[GRAPH:]ELEMENT.HANDLER` (or `[GRAPH:]ELEMENT` without a handler). Element names may
 * contain '/' and graph names '.', but neither contains ':', and element names have no
 * '.', so the graph ends at the first ':' and the handler starts after the last '.'.
 */
export function parseTarget(spec: string, withHandler: boolean): Target {
  const usage = withHandler ? '[GRAPH:]ELEMENT.HANDLER, like counter.packets' : '[GRAPH:]ELEMENT, like counter';
  const colon = spec.indexOf(':');
  const graph = colon >= 0 ? spec.slice(0, colon) : undefined;
  const rest = colon >= 0 ? spec.slice(colon + 1) : spec;
  if (graph === '') throw new CliError(`'${spec}' has an empty graph name; expected ${usage}`);
  if (!withHandler) {
    if (rest === '') throw new CliError(`expected ${usage}, got '${spec}'`);
    return { graph, element: rest };
  }
  const dot = rest.lastIndexOf('.');
  if (dot <= 0 || dot === rest.length - 1) throw new CliError(`expected ${usage}, got '${spec}'`);
  return { graph, element: rest.slice(0, dot), handler: rest.slice(dot + 1) };
}

/** The default-N names (a second run's free default, see path.ts) that an engine serves. */
async function otherDefaults(): Promise<string[]> {
  let files: string[];
  try {
    files = readdirSync(controlDir());
  } catch {
    return [];
  }
  const names = files.map((f) => /^(default-\d+)\.sock$/.exec(f)?.[1]).filter((n): n is string => n !== undefined);
  const live = await Promise.all(names.map(async (n) => ((await probeSocket(controlPath(n)).catch(() => 'absent')) === 'live' ? n : undefined)));
  return live.filter((n): n is string => n !== undefined).sort((a, b) => Number(a.slice(8)) - Number(b.slice(8)));
}

async function request(control: string | undefined, req: ControlRequest): Promise<unknown> {
  const path = controlPath(control);
  let response;
  try {
    response = await controlRequest(path, req);
  } catch (err) {
    if (err instanceof NoEngineError) {
      const flag = control === undefined ? '' : ` --control ${control}`;
      const others = control === undefined ? await otherDefaults() : [];
      if (others.length) throw new CliError(`${err.message}; runs started without --control serve ${others.join(', ')}: name one with --control ${others[0]}`);
      throw new CliError(`${err.message}; start one with \`pktgraph run FILE${flag}\``);
    }
    throw new CliError((err as Error).message, err);
  }
  if (!response.ok) throw new CliError(response.error);
  return response.value;
}

export async function readCommand(spec: string, opts: { control?: string }) {
  const t = parseTarget(spec, true);
  const value = String(await request(opts.control, { op: 'read', ...t }));
  // Multi-line answers (a routing table) end with their own newline: add none after it.
  process.stdout.write(value.endsWith('\n') ? value : `${value}\n`);
}

export async function writeCommand(spec: string, value: string | undefined, opts: { control?: string }) {
  const t = parseTarget(spec, true);
  await request(opts.control, { op: 'write', ...t, value: value ?? '' });
}

export async function handlersCommand(spec: string, opts: { control?: string }) {
  const t = parseTarget(spec, false);
  const list = (await request(opts.control, { op: 'handlers', ...t })) as HandlerInfo[];
  for (const line of table(list.map((h) => [h.name, `${h.read ? 'r' : ''}${h.write ? 'w' : ''}`, h.doc]))) console.log(line);
}

export async function listCommand(graph: string | undefined, opts: { control?: string }) {
  const graphs = (await request(opts.control, { op: 'list', graph })) as { name: string; elements: { name: string; class: string }[] }[];
  for (const g of graphs) {
    console.log(`${g.name}:`);
    for (const line of table(g.elements.map((e) => [e.name, e.class]), '  ')) console.log(line);
  }
}

export async function profileCommand(graph: string | undefined, opts: { control?: string; on?: boolean; off?: boolean; reset?: boolean; json?: boolean }) {
  const chosen = (['on', 'off', 'reset'] as const).filter((k) => opts[k]);
  if (chosen.length > 1) throw new CliError(`profile: give one of --on, --off and --reset, not ${chosen.map((c) => `--${c}`).join(' and ')}`);
  const p = (await request(opts.control, { op: 'profile', graph, value: chosen[0] ?? '' })) as GraphProfile;
  if (opts.json) console.log(JSON.stringify(p, null, 2));
  else if (chosen[0] === 'off') console.log('profiling is off');
  else for (const line of profileTable(p)) console.log(line);
}

/**
 * `pktgraph reconfigure FILE`: compile the graph file here and have the running engine replace
 * its graph with it (hot reconfiguration: RunningGraph.replace). A plan the engine refuses
 * leaves the running graph untouched and the error names the element and field.
 */
export async function reconfigureCommand(file: string, opts: { control?: string; param?: string[]; graph?: string; json?: boolean }) {
  const plan = await (await import('./load.js')).loadAndCompile(file, opts.param);
  const r = (await request(opts.control, { op: 'replace', graph: opts.graph, plan })) as ReplaceResult;
  if (opts.json) console.log(JSON.stringify(r));
  else {
    console.log(
      `replaced graph '${r.graph}': ${r.taken} element${r.taken === 1 ? '' : 's'} took over their state; the workers were off the graph for ${(r.swapNs / 1e6).toFixed(3)} ms`,
    );
    // Never silent: packets held by elements that carry none were freed with the old graph.
    for (const d of r.dropped) console.log(`  dropped ${d.packets} packet${d.packets === 1 ? '' : 's'} held by '${d.element}' (its class does not carry packets over, or the new graph lacks it)`);
  }
}
