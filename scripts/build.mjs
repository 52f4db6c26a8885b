#!/usr/bin/env node
// Builds pktgraph: the native addon (node-gyp) and the TypeScript (tsc -> dist/).
// Usage: node scripts/build.mjs [native|ts|all]   (default: all)
//        node scripts/build.mjs plugin [DIR]  (an out-of-tree element plugin's package, default
//        the current directory: node-gyp with native/plugin.gypi; `pktgraph plugin-build` runs it)
// The TypeScript is type-checked and compiled by tsc (dist/src, dist/elements: declarations
// and the modules tests and tools may import one by one), then bundled by esbuild into
// dist/bundle/, which the command line and the package entry point load: one bundle starts
// in a fraction of the time Node takes to resolve and compile hundreds of separate modules.
// node-gyp needs Node's headers; we point it at the running node's own install
// (dirname(dirname(process.execPath))), so a fresh machine needs no user config.
// A lock file serialises concurrent builds in one checkout.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { withLock } from './lock.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const what = process.argv[2] ?? 'all';

function fail(message) {
  console.error(`pktgraph build: ${message}`);
  process.exit(1);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (r.error) fail(`could not run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} exited with ${r.status}`);
}

function nodeGypScript() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  for (const c of candidates) if (c && existsSync(c)) return c;
  fail('node-gyp not found: it ships with npm; reinstall npm or run `npm install -g node-gyp@11`');
}

function nodeDir() {
  const nodedir = dirname(dirname(process.execPath));
  if (!existsSync(join(nodedir, 'include', 'node', 'node_api.h')))
    fail(`Node's headers are not in ${nodedir}/include/node; install the Node.js headers for ${process.version}`);
  return nodedir;
}

// A plugin's binding.gyp names its target and sources; plugin.gypi adds the element API
// headers and the engine's flags. Built in the plugin's folder, with no lock of ours.
function buildPlugin(dir) {
  const nodedir = nodeDir();
  const gyp = nodeGypScript();
  if (!existsSync(join(dir, 'binding.gyp'))) fail(`${dir} has no binding.gyp (a plugin package names its target and sources there)`);
  const debug = process.env.PKTGRAPH_DEBUG_BUILD ? ['--debug'] : [];
  run(process.execPath, [gyp, 'configure', `--nodedir=${nodedir}`, ...debug, '--', '-I', join(root, 'native', 'plugin.gypi')], { cwd: dir });
  run(process.execPath, [gyp, 'build', `--nodedir=${nodedir}`, '-j', 'max', ...debug], { cwd: dir });
}

function buildNative() {
  const nodedir = nodeDir();
  const gyp = nodeGypScript();
  const debug = process.env.PKTGRAPH_DEBUG_BUILD ? ['--debug'] : [];
  const sanitize = process.env.PKTGRAPH_SANITIZE ? ['--', '-Dsanitize=1'] : [];
  // configure every time (it is quick) so new element sources are picked up; make stays incremental.
  run(process.execPath, [gyp, 'configure', `--nodedir=${nodedir}`, ...debug, ...sanitize]);
  run(process.execPath, [gyp, 'build', `--nodedir=${nodedir}`, '-j', 'max', ...debug]);
}

function buildTs() {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(tsc)) fail('TypeScript is not installed: run `npm install` first');
  run(process.execPath, [tsc, '-p', 'tsconfig.json']);
}

// One ES module bundle per entry point (the command line, the package entry, the module hook
// load.ts registers), with the code they share split into chunks so the command line and the
// graph files it imports share one element registry. esbuild comes with tsx (a dependency).
async function bundle() {
  const requireFromTsx = createRequire(createRequire(join(root, 'package.json')).resolve('tsx/package.json'));
  const esbuild = await import(requireFromTsx.resolve('esbuild'));
  rmSync(join(root, 'dist', 'bundle'), { recursive: true, force: true }); // no stale chunks
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: { main: 'src/cli/main.ts', index: 'src/index.ts', 'resolve-hook': 'src/cli/resolve-hook.ts' },
    outdir: 'dist/bundle',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: ['tsx', 'tsx/*', 'esbuild'], // tsx registers itself; it is loaded only for graph files
    chunkNames: 'chunk-[hash]', // beside the entries: modules find their neighbours by relative URL
    // CommonJS dependencies (commander) require Node's modules: give each output a require.
    banner: { js: "import { createRequire as __pgRequire } from 'node:module'; const require = __pgRequire(import.meta.url);" },
    // No source maps: Node would read and parse them (megabytes) once graph files turn them on.
    sourcemap: false,
    logLevel: 'warning',
  });
}

// The tests, benchmarks and configs run under tsx, which does not type-check: check them here.
function checkTestTypes() {
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.test.json']);
}

// node-tap compiles its plugin list into its runner; ours drops its TypeScript plugin
// (tsx loads the tests), so rebuild the runner whenever tests are about to run. It reads
// nothing the TypeScript build writes, so it runs beside it: a promise of its exit.
function buildTestRunner() {
  const tap = join(root, 'node_modules', 'tap', 'dist', 'esm', 'run.mjs');
  if (!existsSync(tap)) return Promise.resolve(); // a production install has no tap
  const p = spawn(process.execPath, [tap, 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  return new Promise((res) => {
    p.on('error', (e) => fail(`could not run ${tap} build: ${e.message}`));
    p.on('exit', (code) => (code === 0 ? res() : fail(`${tap} build exited with ${code}`)));
  });
}

// npm runs a dependency's install script even when the dependency is this checkout linked by
// path (`"pktgraph": "file:../.."`, as element packages made by `pktgraph new element` and
// examples/srv6 have it): a checkout already built is not rebuilt for each dependent (that
// would also rewrite dist/ under whatever else is running from it). `npm run build` rebuilds.
const dependent = what === 'all' && process.env.npm_lifecycle_event === 'install' && process.env.INIT_CWD && resolve(process.env.INIT_CWD) !== root;
if (dependent && existsSync(join(root, 'build', 'Release', 'pktgraph.node')) && existsSync(join(root, 'dist', 'bundle', 'main.js'))) {
  console.log(`pktgraph: already built in ${root} (\`npm run build\` there rebuilds it)`);
  process.exit(0);
}

if (what === 'plugin') {
  buildPlugin(resolve(process.argv[3] ?? process.cwd()));
  process.exit(0);
}

await withLock(join(root, '.build.lock'), async () => {
  const runner = what === 'test' ? buildTestRunner() : undefined;
  if (what === 'native' || what === 'all') buildNative();
  if (what === 'ts' || what === 'all' || what === 'test') {
    buildTs();
    await bundle();
  }
  if (what === 'test') checkTestTypes();
  await runner;
}, fail);
