// Loading graph files: a TypeScript (or JavaScript) module whose default export, or an
// export named `graph`, is a graph definition. TypeScript is compiled by esbuild once and kept
// in a cache (so a graph file is not compiled at every start): a file that imports only
// 'pktgraph' and Node's modules is imported from there directly (compiledDirect), any other
// through the module hooks of resolve-hook.ts, which also let graph files anywhere import
// 'pktgraph'.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire, register as registerHook } from 'node:module';
import { homedir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isGraphDefinition, type GraphDefinition, type ParamValue } from '../graph/graph.js';
import { compile } from '../compiler/compile.js';
import type { Plan } from '../compiler/plan.js';
import { CliError, isGraphError } from './errors.js';
import type { HookData } from './resolve-hook.js';

// Graph files are imported with the hooks registered for the whole process, not in a
// namespace of their own: that would give the graph file its own copy of every module, so
// elements would register in another registry and GraphError be another class. For the same
// reason resolve-hook.ts maps 'pktgraph' to our own entry point, for graph files anywhere; and
// Module._resolveFilename does the same for CommonJS graph files (require(esm) returns the
// very same module instance).
let loaderReady = false;
let tsxReady = false;

/** Where compiled graph files are kept: $PKTGRAPH_CACHE_DIR, else $XDG_CACHE_HOME/pktgraph/ts (~/.cache). */
export function transpileCacheDir(): string {
  if (process.env.PKTGRAPH_CACHE_DIR !== undefined) return process.env.PKTGRAPH_CACHE_DIR;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'pktgraph', 'ts');
}

// The package entry beside this module: dist/bundle/index.js in the bundle the command line
// runs (scripts/build.mjs), src/index.ts or dist/src/index.js one level up otherwise.
const entry = new URL(/\/dist\/bundle\/[^/]+$/.test(import.meta.url) ? './index.js' : '../index.js', import.meta.url);

// esbuild comes with tsx (a dependency); it is loaded only to compile a file not in the cache.
function esbuildModule(): { url: string; version: string } {
  const fromTsx = createRequire(createRequire(import.meta.url).resolve('tsx/package.json'));
  return { url: pathToFileURL(fromTsx.resolve('esbuild')).href, version: (fromTsx('esbuild/package.json') as { version: string }).version };
}

async function setUpLoader() {
  if (loaderReady) return;
  loaderReady = true;
  process.setSourceMapsEnabled(true); // stack traces and call sites in the graph file's own lines
  const esbuild = esbuildModule();
  const data: HookData = { target: entry.href, loader: import.meta.url, esbuild: esbuild.url, esbuildVersion: esbuild.version, cacheDir: transpileCacheDir() };
  registerHook(new URL('./resolve-hook.js', import.meta.url), { data });
  const Module = createRequire(import.meta.url)('node:module') as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
  const resolveFilename = Module._resolveFilename;
  Module._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]) {
    return request === 'pktgraph' ? fileURLToPath(entry) : resolveFilename.call(this, request, ...rest);
  };
}

// The usual graph file, TypeScript that imports only 'pktgraph' and Node's own modules, needs
// no module hooks (they run on a thread of their own: about 50 ms of CPU and 15 MB to start).
// It is compiled once into the cache with its import of 'pktgraph' pointed at our entry, and
// the cached module is imported directly. Returns undefined for any other file (then the hooks
// load it), remembered in the cache as a '.hooks' marker so the check is not repeated.
const STATIC_IMPORT = /(^|[;\s}])(import|export)(\s[^;'"]*?\bfrom\s*|\s*)"([^"]+)"/gm;

async function compiledDirect(path: string): Promise<string | undefined> {
  const dir = transpileCacheDir();
  if (!dir || !/\.m?ts$/.test(path)) return undefined;
  const source = readFileSync(path, 'utf8');
  const esbuild = esbuildModule();
  const key = createHash('sha256').update(`pktgraph-direct-1\0${esbuild.version}\0${entry.href}\0${path}\0${source}`).digest('hex');
  const file = join(dir, `${key}.mjs`);
  if (existsSync(file)) return file;
  if (existsSync(`${file}.hooks`)) return undefined;
  const { transformSync } = (await import(esbuild.url)) as { transformSync: (code: string, options: Record<string, unknown>) => { code: string } };
  let code: string;
  try {
    code = transformSync(source, { loader: 'ts', format: 'esm', target: 'node20', sourcemap: 'inline', sourcefile: path }).code;
  } catch {
    return undefined; // the hooks report it, in their words
  }
  let direct = !/\bimport\s*\(|\brequire\s*\(|\bimport\.meta\b/.test(code);
  code = code.replace(STATIC_IMPORT, (all, pre: string, kw: string, mid: string, spec: string) => {
    if (spec === 'pktgraph') return `${pre}${kw}${mid}"${entry.href}"`;
    if (!spec.startsWith('node:')) direct = false;
    return all;
  });
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    pruneCache(dir);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, direct ? code : '');
    renameSync(tmp, direct ? file : `${file}.hooks`);
  } catch {
    return undefined; // no cache: the hooks load it
  }
  return direct ? file : undefined;
}

// Each edit of a graph file adds an entry: when one is added, entries not written for 30 days
// go (one still in use is compiled again, once).
const CACHE_DAYS = 30;
function pruneCache(dir: string) {
  const old = Date.now() - CACHE_DAYS * 86_400_000;
  for (const f of readdirSync(dir)) {
    try {
      if (statSync(join(dir, f)).mtimeMs < old) unlinkSync(join(dir, f));
    } catch {} // gone already (another process pruning)
  }
}

// CommonJS TypeScript (.cts) is left to tsx, loaded only then.
async function setUpTsx() {
  if (tsxReady) return;
  tsxReady = true;
  const { register } = await import('tsx/esm/api');
  register();
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
  let mod: Record<string, unknown>;
  try {
    const direct = await compiledDirect(path);
    if (direct) {
      process.setSourceMapsEnabled(true);
      mod = await import(pathToFileURL(direct).href);
    } else {
      await setUpLoader();
      if (/\.cts$/.test(path)) await setUpTsx();
      mod = await import(pathToFileURL(path).href);
    }
  } catch (err) {
    if (isGraphError(err)) throw err;
    throw new CliError(`loading the graph file ${file} failed: ${firstUsefulLine(err instanceof Error ? err.message : String(err))}`, err);
  }
  // A file compiled as CommonJS shows up with its exports under `default`.
  const inner = (mod.default ?? {}) as Record<string, unknown>;
  for (const candidate of [mod.default, mod.graph, inner.default, inner.graph]) if (isGraphDefinition(candidate)) return candidate;
  throw new CliError(`${file} does not export a graph: make its default export (or an export named 'graph') the result of graph(...)`);
}

/** Import a module for its side effects (an element package registering its descriptors, for
 *  `pktgraph elements --plugin`): a file, a package folder (its package.json's `exports` '.',
 *  else `main`, else index.ts or index.js), or a package name under ./node_modules. */
export async function loadModule(spec: string): Promise<void> {
  let path = resolvePath(spec);
  if (!existsSync(path) && !/^[./]/.test(spec)) path = resolvePath('node_modules', spec);
  if (!existsSync(path)) throw new CliError(`cannot find the element package ${spec} (give its folder, a module file or a package installed here)`);
  if (statSync(path).isDirectory()) {
    let main: string | undefined;
    try {
      const pkg = JSON.parse(readFileSync(join(path, 'package.json'), 'utf8')) as { exports?: unknown; main?: string };
      const dot = typeof pkg.exports === 'string' ? pkg.exports : (pkg.exports as Record<string, unknown> | undefined)?.['.'];
      main = typeof dot === 'string' ? dot : typeof (dot as { default?: unknown })?.default === 'string' ? (dot as { default: string }).default : pkg.main;
    } catch {}
    const candidates = [main, 'index.ts', 'index.js'].filter((c): c is string => !!c).map((c) => join(path, c));
    const found = candidates.find((c) => existsSync(c));
    if (!found) throw new CliError(`${spec} has no entry module (its package.json's "exports" or "main", or index.ts)`);
    path = found;
  }
  await setUpLoader();
  try {
    await import(pathToFileURL(path).href);
  } catch (err) {
    throw new CliError(`loading the element package ${spec} failed: ${firstUsefulLine(err instanceof Error ? err.message : String(err))}`, err);
  }
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
