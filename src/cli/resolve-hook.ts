// Module hooks for graph files, registered with module.register by load.ts:
// - 'pktgraph' resolves to this package's own entry point wherever the graph file is
//   (outside this package Node would not find it at all), so graph file and command line
//   share one copy of the element registry;
// - TypeScript (.ts, .mts, .tsx), a graph file's or an element package's (under node_modules
//   too), is compiled to JavaScript by esbuild, once: the result is
//   kept in a cache directory under the hash of the file's path and text, so running or
//   compiling the same graph again costs a file read, not a compiler start. esbuild is loaded
//   only on a miss. Its output carries an inline source map (load.ts turns source maps on),
//   so errors and `defined at FILE:LINE` name the TypeScript's own lines;
// - graph files and the TypeScript they import are ES modules (.cts aside, which load.ts
//   leaves to tsx), and a TypeScript import of './x.js' finds './x.ts' as tsc's nodenext does.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ResolveContext {
  parentURL?: string;
  conditions: string[];
}
interface ResolveResult {
  url: string;
  format?: string | null;
  shortCircuit?: boolean;
}
type NextResolve = (specifier: string, context: ResolveContext) => Promise<ResolveResult>;
interface LoadResult {
  format: string;
  source?: string | ArrayBuffer | Uint8Array;
  shortCircuit?: boolean;
}
type NextLoad = (url: string, context: { format?: string | null }) => Promise<LoadResult>;

export interface HookData {
  /** URL of the package entry 'pktgraph' stands for. */
  target: string;
  /** URL of the module that imports graph files (load.ts). */
  loader: string;
  /** URL of esbuild's entry, and its version (part of the cache key). */
  esbuild: string;
  esbuildVersion: string;
  /** Where compiled files are kept ('' for nowhere). */
  cacheDir: string;
}

let data: HookData = { target: '', loader: '', esbuild: '', esbuildVersion: '', cacheDir: '' };

export async function initialize(d: HookData) {
  data = d;
}

const isTs = (path: string) => /\.(m?ts|tsx)$/.test(path);

function isModule(url: string, parentURL: string | undefined): boolean {
  if (!url.startsWith('file:')) return false;
  const path = new URL(url).pathname;
  if (path.includes('/node_modules/') || /\.c[jt]s$/.test(path)) return false;
  return parentURL === data.loader || /\.tsx?$/.test(path); // a graph file (imported by load.ts) or TypeScript
}

export async function resolve(specifier: string, context: ResolveContext, nextResolve: NextResolve): Promise<ResolveResult> {
  if (specifier === 'pktgraph') return { url: data.target, format: 'module', shortCircuit: true };
  let result: ResolveResult;
  try {
    result = await nextResolve(specifier, context);
  } catch (err) {
    // TypeScript imports name the JavaScript tsc would write ('./x.js' for ./x.ts).
    const parent = context.parentURL;
    if (!parent?.startsWith('file:') || !isTs(new URL(parent).pathname) || !/^\.\.?\//.test(specifier)) throw err;
    const m = /^(.*)\.(m?)js$/.exec(specifier);
    const candidates = m ? [`${m[1]}.${m[2]}ts`, ...(m[2] ? [] : [`${m[1]}.tsx`])] : [`${specifier}.ts`, `${specifier}/index.ts`];
    for (const c of candidates) {
      try {
        result = await nextResolve(c, context);
        break;
      } catch {}
    }
    if (!result!) throw err;
  }
  // TypeScript under node_modules too: element packages (docs/writing-elements.md) ship their
  // descriptors as TypeScript.
  if (result.url.startsWith('file:') && isTs(new URL(result.url).pathname)) return { ...result, format: 'module' };
  if ((result.format === 'commonjs' || result.format === 'commonjs-typescript') && isModule(result.url, context.parentURL)) return { ...result, format: 'module' };
  return result;
}

let esbuild: { transformSync: (code: string, options: Record<string, unknown>) => { code: string } } | undefined;

async function compileTs(path: string, source: string): Promise<string> {
  const key = createHash('sha256').update(`pktgraph-ts-1\0${data.esbuildVersion}\0${path}\0${source}`).digest('hex');
  const cached = data.cacheDir ? join(data.cacheDir, `${key}.mjs`) : '';
  if (cached) {
    try {
      return readFileSync(cached, 'utf8');
    } catch {}
  }
  esbuild ??= (await import(data.esbuild)) as typeof esbuild;
  const out = esbuild!.transformSync(source, {
    loader: path.endsWith('x') ? 'tsx' : 'ts',
    format: 'esm',
    target: 'node20',
    sourcemap: 'inline',
    sourcefile: path,
  }).code;
  if (cached) {
    // Written whole under a temporary name, then renamed: a concurrent reader sees all or nothing.
    try {
      mkdirSync(data.cacheDir, { recursive: true, mode: 0o700 });
      const tmp = `${cached}.${process.pid}.tmp`;
      writeFileSync(tmp, out);
      renameSync(tmp, cached);
    } catch {} // no cache: compiled again next time
  }
  return out;
}

export async function load(url: string, context: { format?: string | null }, nextLoad: NextLoad): Promise<LoadResult> {
  if (!url.startsWith('file:')) return nextLoad(url, context);
  const path = fileURLToPath(url);
  if (!isTs(path)) return nextLoad(url, context);
  return { format: 'module', source: await compileTs(path, readFileSync(path, 'utf8')), shortCircuit: true };
}
