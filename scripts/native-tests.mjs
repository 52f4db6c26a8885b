#!/usr/bin/env node
// Builds the native unit tests: one program per unit (test/native/NAME_test.cc, plus the
// engine sources it tests), each built twice with the addon's compiler flags, plainly and
// with AddressSanitizer and UndefinedBehaviorSanitizer, into build/native-tests/. Each source
// is compiled once per variant into an object the programs that use it share, on every CPU,
// and again only when this script, it or a header it includes changed.
// test/native-units.test.ts runs them (so `npm test` does).
// Beside them, built with the sanitizers only, what test/plugins-sanitized.test.ts drives: the
// engine without Node (test/native/plan_runner.cc, a `driver`: it takes plan files) and plugin
// libraries (`plugin`: the test plugin, examples/srv6's, one redefining a built-in class), so the
// plugin paths and the SRv6 plugin's packet parsing run under them too.
//   node scripts/native-tests.mjs            build; print one JSON line listing the programs
//                                            (name, sanitized, bin, env to run it with, and
//                                            kind: 'unit', 'driver' or 'plugin')
//   node scripts/native-tests.mjs run        build, then run each unit and print its output
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withLock } from './lock.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'build', 'native-tests');

// The units: the test program and the engine sources it links.
const units = [
  { name: 'hash_table', sources: ['test/native/hash_table_test.cc'] },
  { name: 'ring', sources: ['test/native/ring_test.cc'] },
  { name: 'lpm', sources: ['test/native/lpm_test.cc', 'native/fib/lpm.cc', 'native/state_arena.cc'] },
  { name: 'token_bucket', sources: ['test/native/token_bucket_test.cc'] },
  { name: 'state_arena', sources: ['test/native/state_arena_test.cc', 'native/state_arena.cc', 'native/fib/lpm.cc'] },
  { name: 'route_state', sources: ['test/native/route_state_test.cc', 'native/fib/state.cc', 'native/fib/routes.cc', 'native/fib/lpm.cc', 'native/state_arena.cc'], libs: ['-lz'] },
];

// plan_runner: the engine's core and the built-in elements the sanitized plans use; -rdynamic
// exports the element API to the plugins it loads, as the addon does (native/plugin.cc).
const engineCore = ['element', 'engine', 'graph', 'json', 'plugin', 'pool', 'profile', 'script', 'state', 'state_arena'].map((f) => `native/${f}.cc`);
const builtins = ['standard/InfiniteSource', 'standard/Counter', 'standard/Discard', 'standard/Tee', 'io/FromPcap'].map((e) => `elements/${e}.cc`);
const drivers = [{ name: 'plan_runner', sources: ['test/native/plan_runner.cc', ...engineCore, ...builtins], libs: ['-rdynamic', '-ldl'] }];
const plugins = [
  { name: 'pg_test_plugin', sources: ['test/fixtures/plugin/PluginCounter.cc', 'test/fixtures/plugin/Thrower.cc'] },
  { name: 'clash', sources: ['test/fixtures/plugin/Clash.cc'] },
  { name: 'srv6', sources: ['examples/srv6/src/SRv6Encap.cc', 'examples/srv6/src/SRv6LocalSIDs.cc'] },
];

// binding.gyp's flags (C++20, warnings, -march) at -O2; the sanitizer build at -O1 like
// the addon's (binding.gyp, sanitize=1: it compiles in a third of the time of -O2 -g),
// stopping at the first error.
const flags = ['-std=c++20', '-O2', '-march=x86-64-v3', '-Wall', '-Wextra', '-Wno-unused-parameter', '-Wno-missing-field-initializers', '-pthread', '-Inative', '-Ielements/lib'];
const variants = [
  { suffix: '', flags: [] },
  { suffix: '-san', flags: ['-O1', '-fsanitize=address,undefined', '-fno-sanitize-recover=undefined', '-fno-omit-frame-pointer'] },
];
// The environment the sanitized programs run with: stop at the first error of either.
const sanitizerEnv = { ASAN_OPTIONS: 'abort_on_error=1:halt_on_error=1', UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1' };

// Whether `target` is newer than this script (its flags), `inputs` and every header g++ -MMD
// listed in `target`.d when it last compiled it (objects only: a link reads no headers).
function upToDate(target, inputs, depFile) {
  if (!existsSync(target) || (depFile && !existsSync(depFile))) return false;
  const built = statSync(target).mtimeMs;
  const deps = depFile ? readFileSync(depFile, 'utf8').replace(/\\\n/g, ' ').split(/\s+/).slice(1).filter((f) => f && !f.endsWith(':')) : [];
  return [fileURLToPath(import.meta.url), ...inputs.map((f) => resolve(root, f)), ...deps].every((f) => existsSync(f) && statSync(f).mtimeMs <= built);
}

// A plugin's compiler flags are any plugin's (`pktgraph plugin-config --cflags`: the element API
// headers, PG_PLUGIN, the engine's flags), asked once.
let pluginFlags;
function pluginCflags() {
  if (pluginFlags) return pluginFlags;
  const r = spawnSync(process.execPath, [join(root, 'bin', 'pktgraph.js'), 'plugin-config', '--cflags'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pktgraph plugin-config --cflags failed (build the TypeScript first: npm run build:ts): ${r.stderr}`);
  return (pluginFlags = r.stdout.trim().split(/\s+/));
}

function gxx(args) {
  return new Promise((res) => {
    const p = spawn('g++', args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    p.on('error', (e) => res(`could not run g++: ${e.message}`));
    p.on('exit', (code) => res(code === 0 ? null : `g++ ${args.join(' ')} exited with ${code}`));
  });
}

// Runs the jobs (functions returning an error or null) on as many compilers as there are CPUs.
async function runAll(jobs) {
  const errors = [];
  const todo = [...jobs];
  await Promise.all(Array.from({ length: availableParallelism() }, async () => {
    for (let job; (job = todo.shift()); ) {
      const e = await job();
      if (e) errors.push(e);
    }
  }));
  if (errors.length) throw new Error(errors.join('\n'));
}

// Builds what is out of date; returns the programs. Each source is compiled once per variant
// into build/native-tests/obj/VARIANT/, and the units and the driver that share it (the LPM,
// the state arena) link that one object; the objects compile in parallel, then the links.
async function build() {
  const sanitized = variants.filter((v) => v.suffix !== '');
  const programs = [
    ...units.flatMap((unit) => variants.map((variant) => ({ unit, variant, kind: 'unit', bin: join(out, unit.name + variant.suffix) }))),
    ...drivers.flatMap((unit) => sanitized.map((variant) => ({ unit, variant, kind: 'driver', bin: join(out, unit.name + variant.suffix) }))),
    ...plugins.flatMap((unit) => sanitized.map((variant) => ({ unit, variant, kind: 'plugin', bin: join(out, `${unit.name}${variant.suffix}.so`) }))),
  ].map((p) => ({ ...p, name: p.unit.name, sanitized: p.variant.suffix !== '' }));
  // A plugin's sources compile with the plugin flags, the others with the engine's.
  const objectOf = (p, source) => join(out, 'obj', `${p.variant.suffix.slice(1) || 'plain'}${p.kind === 'plugin' ? '-plugin' : ''}`, source.replace(/\.cc$/, '.o'));
  const objects = new Map(); // object path -> its compile job, one per (flags, source)
  for (const p of programs) {
    for (const source of p.unit.sources) {
      const o = objectOf(p, source);
      if (objects.has(o) || upToDate(o, [source], `${o}.d`)) continue;
      mkdirSync(dirname(o), { recursive: true });
      const base = p.kind === 'plugin' ? pluginCflags() : flags;
      objects.set(o, () => gxx([...base, ...p.variant.flags, '-MMD', '-MF', `${o}.d`, '-c', '-o', o, source]));
    }
  }
  await runAll(objects.values());
  await runAll(programs.flatMap((p) => {
    const objs = p.unit.sources.map((s) => objectOf(p, s));
    if (upToDate(p.bin, objs)) return [];
    const base = p.kind === 'plugin' ? [...pluginCflags(), '-shared'] : flags;
    return [() => gxx([...base, ...p.variant.flags, '-o', p.bin, ...objs, ...(p.unit.libs ?? [])])];
  }));
  return programs.map(({ name, sanitized, kind, bin }) => ({ name, sanitized, kind, bin, env: sanitized ? sanitizerEnv : {} }));
}

try {
  // Two tests build at once when tap runs them in parallel: the second waits, then finds all built.
  mkdirSync(out, { recursive: true });
  const programs = await withLock(join(out, '.lock'), build, (m) => { throw new Error(m); });
  if (process.argv[2] === 'run') {
    let failed = 0;
    for (const p of programs.filter((p) => p.kind === 'unit')) {
      console.log(`# ${p.bin}`);
      const r = spawnSync(p.bin, [], { stdio: 'inherit', env: { ...process.env, ...p.env } });
      if (r.status !== 0) failed++;
    }
    process.exit(failed ? 1 : 0);
  }
  console.log(JSON.stringify(programs));
} catch (e) {
  console.error(`native-tests: ${e.message}`);
  process.exit(1);
}
