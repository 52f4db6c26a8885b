// Module hooks for graph files, registered with module.register by load.ts (after tsx's,
// so they run first):
// - 'pktgraph' resolves to this package's own entry point wherever the graph file is
//   (outside this package Node would not find it at all), so graph file and command line
//   share one copy of the element registry;
// - graph files and the TypeScript they import are ES modules: outside a "type": "module"
//   package tsx would take them for CommonJS, which fails for ESM syntax ("cannot require()
//   ES Module in a cycle") or loses file and line in errors.
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

let target = '';
let loader = '';

export async function initialize(data: { target: string; loader: string }) {
  target = data.target;
  loader = data.loader;
}

function isModule(url: string, parentURL: string | undefined): boolean {
  if (!url.startsWith('file:')) return false;
  const path = new URL(url).pathname;
  if (path.includes('/node_modules/') || /\.c[jt]s$/.test(path)) return false;
  return parentURL === loader || /\.tsx?$/.test(path); // a graph file (imported by load.ts) or TypeScript
}

export async function resolve(specifier: string, context: ResolveContext, nextResolve: NextResolve): Promise<ResolveResult> {
  if (specifier === 'pktgraph') return { url: target, format: 'module', shortCircuit: true };
  const result = await nextResolve(specifier, context);
  if ((result.format === 'commonjs' || result.format === 'commonjs-typescript') && isModule(result.url, context.parentURL)) return { ...result, format: 'module' };
  return result;
}
