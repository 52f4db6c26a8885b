// Loading graph files: a TypeScript (or JavaScript) module whose default export, or an
// export named `graph`, is a graph definition. tsx compiles TypeScript on the fly; the
// resolve hook lets graph files anywhere import 'pktgraph'.
import { existsSync, statSync } from 'node:fs';
import { createRequire, register as registerHook } from 'node:module';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isGraphDefinition, type GraphDefinition, type ParamValue } from '../graph/graph.js';
import { compile } from '../compiler/compile.js';
import type { Plan } from '../compiler/plan.js';
import { CliError, isGraphError } from './errors.js';

// Graph files are imported with tsx registered for the whole process (tsx compiles
// TypeScript on the fly), not with tsImport: its namespace would give the graph file its
// own copy of every module, so elements would register in another registry and GraphError
// be another class. For the same reason resolve-hook.ts maps 'pktgraph' to our own entry
// point, for graph files anywhere; and Module._resolveFilename does the same for CommonJS
// graph files (require(esm) returns the very same module instance).
let loaderReady = false;

async function setUpLoader() {
  if (loaderReady) return;
  loaderReady = true;
  const entry = new URL('../index.js', import.meta.url);
  const { register: registerTsx } = await import('tsx/esm/api'); // loaded lazily: other commands start faster
  registerTsx();
  registerHook(new URL('./resolve-hook.js', import.meta.url), { data: { target: entry.href, loader: import.meta.url } });
  const Module = createRequire(import.meta.url)('node:module') as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
  const resolveFilename = Module._resolveFilename;
  Module._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]) {
    return request === 'pktgraph' ? fileURLToPath(entry) : resolveFilename.call(this, request, ...rest);
  };
}

// esbuild's messages start with "Transform failed with 1 error:"; the useful part follows.
function firstUsefulLine(message: string): string {
  const lines = message.split('\n').map((l) => l.trim()).filter(Boolean);
  if (lines.length > 1 && /^Transform failed/.test(lines[0])) return lines[1];
  return lines[0] ?? message;
}

export async function loadGraph(file: string): Promise<GraphDefinition> {
  const path = resolvePath(file);
  if (!existsSync(path)) throw new CliError(`cannot find the graph file ${file}`);
  if (statSync(path).isDirectory()) throw new CliError(`${file} is a directory, not a graph file`);
  await setUpLoader();
  let mod: Record<string, unknown>;
  try {
    mod = await import(pathToFileURL(path).href);
  } catch (err) {
    if (isGraphError(err)) throw err;
    throw new CliError(`loading the graph file ${file} failed: ${firstUsefulLine(err instanceof Error ? err.message : String(err))}`, err);
  }
  // A file compiled as CommonJS shows up with its exports under `default`.
  const inner = (mod.default ?? {}) as Record<string, unknown>;
  for (const candidate of [mod.default, mod.graph, inner.default, inner.graph]) if (isGraphDefinition(candidate)) return candidate;
  throw new CliError(`${file} does not export a graph: make its default export (or an export named 'graph') the result of graph(...)`);
}

/** Parse `-p KEY=VALUE` options into graph parameter overrides. */
export function parseParams(list: string[]): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new CliError(`-p expects KEY=VALUE, got '${item}'`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** Build and compile a graph; GraphErrors pass through (listed by the caller), anything else becomes one sentence. */
export function compileGraph(def: GraphDefinition, params: Record<string, ParamValue>): Plan {
  try {
    return compile(def, { params });
  } catch (err) {
    if (isGraphError(err)) throw err;
    throw new CliError(`building graph '${def.name}' failed: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}

export async function loadAndCompile(file: string, params: string[] = []): Promise<Plan> {
  return compileGraph(await loadGraph(file), parseParams(params));
}
