// The plugin paths of test/plugins.test.ts and the SRv6 plugin's packet parsing, under
// AddressSanitizer and UndefinedBehaviorSanitizer. scripts/native-tests.mjs builds, with the
// sanitizers and as it builds the native unit tests, the engine without Node
// (test/native/plan_runner.cc) and three plugin libraries: the test plugin (PluginCounter,
// Thrower), examples/srv6's, and test/fixtures/plugin/Clash.cc. This test compiles the plans,
// points their plugin classes at those libraries, and runs them all in one plan_runner process,
// as graphs of one engine: any sanitizer error ends it (abort_on_error), which fails the test.
// Checked: a plugin element counts every packet; a plugin built against another element API
// version, a file that is no plugin and a missing one are refused with their sentence and never
// mapped, a plugin redefining a built-in class is refused; a plugin throwing in configure fails
// that plan only, and the same class configured otherwise runs after it; 5000 random and
// mutated SRH packets (examples/srv6/test/fuzz-cases.mjs) through SRv6LocalSIDs and SRv6Encap
// are each forwarded or dropped under a named reason.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { compile, Counter, Discard, graph, InfiniteSource, type Plan } from 'pktgraph';
import { buildNativePrograms, nativeBuildSkip } from './lib/native-tests.js';
import { compilePlugin, notAPlugin, passDescriptor, passSource, pktgraphCli, staleHeaders } from './fixtures/plugin/build.js';
import { PluginCounter, Thrower } from './fixtures/plugin/index.js';

// A fresh build compiles the runner (the engine's core) and the plugins with the sanitizers.
t.setTimeout(900_000);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'pgx-plugins-san-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

interface Outcome {
  plan: string;
  error?: string;
  drained?: boolean;
  counters?: Record<string, Record<string, number>>;
  plugins: string[];
}

t.test('plugins under AddressSanitizer and UndefinedBehaviorSanitizer', { skip: nativeBuildSkip() ?? false }, async (t) => {
  const programs = buildNativePrograms(t);
  if (!programs) return;
  const find = (kind: string, name: string) => programs.find((p) => p.kind === kind && p.name === name && p.sanitized)!;
  const runner = find('driver', 'plan_runner');
  const testPlugin = find('plugin', 'pg_test_plugin').bin;
  const clash = find('plugin', 'clash').bin;
  const srv6 = find('plugin', 'srv6').bin;

  // Plans as the compiler makes them, their plugin classes pointed at the sanitized libraries.
  const plans: string[] = [];
  const add = (name: string, plan: Plan, library?: string) => {
    for (const c of Object.values(plan.classes)) if (c.library && library) c.library = library;
    const file = join(work, `${plans.length}-${name}.json`);
    writeFileSync(file, JSON.stringify(plan));
    plans.push(file);
  };
  const chain = (name: string, middle: () => ReturnType<typeof PluginCounter>, limit = 1000) =>
    compile(graph(name, () => InfiniteSource({ length: 80, limit }, 'src').to(middle()).to(Counter({}, 'builtin')).to(Discard({}, 'sink'))));

  add('use', chain('use', () => PluginCounter({}, 'plugin')), testPlugin);
  const stale = compilePlugin(work, 'stale', passSource('StalePass'), { include: staleHeaders(work) });
  add('stale', chain('stale', () => passDescriptor('StalePass', stale)({}, 'x')));
  add('plain', chain('plain', () => passDescriptor('NotAPlugin', notAPlugin(work))({}, 'x')));
  add('missing', chain('missing', () => passDescriptor('MissingPlugin', join(work, 'nowhere.so'))({}, 'x')));
  add('clash', chain('clash', () => passDescriptor('ClashPass', clash)({}, 'x')));
  add('throws', chain('throws', () => Thrower({ fail: true }, 'thrower'), 10), testPlugin);
  add('fine', chain('fine', () => Thrower({}, 'thrower'), 10), testPlugin);
  // examples/srv6's fuzz graph, on its own packets; the plan made by the command line, which
  // resolves the package's `pktgraph` import to this checkout (it needs no npm install there).
  const srv6Dir = join(root, 'examples', 'srv6', 'test');
  const { fuzzPackets } = (await import(pathToFileURL(join(srv6Dir, 'fuzz-cases.mjs')).href)) as { fuzzPackets: (n: number) => Buffer[] };
  const { writePcap } = (await import(pathToFileURL(join(srv6Dir, 'packets.mjs')).href)) as { writePcap: (p: Buffer[]) => Buffer };
  const packets = fuzzPackets(5000);
  const pcap = join(work, 'fuzz.pcap');
  writeFileSync(pcap, writePcap(packets));
  const compiled = pktgraphCli(['compile', join(srv6Dir, 'graphs', 'fuzz.ts'), '-p', `file=${pcap}`]);
  t.equal(compiled.status, 0, `pktgraph compile examples/srv6/test/graphs/fuzz.ts: ${compiled.stderr}`);
  add('srv6-fuzz', JSON.parse(compiled.stdout) as Plan, srv6);

  const r = spawnSync(runner.bin, plans, { encoding: 'utf8', env: { ...process.env, ...runner.env }, timeout: 600_000 });
  t.equal(r.status, 0, `${runner.bin} exits with 0${r.signal ? ` (killed by ${r.signal})` : ''}${r.stderr ? `\n${r.stderr.slice(0, 6000)}` : ''}`);
  const out = new Map<string, Outcome>();
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const o = JSON.parse(line) as Outcome;
    out.set(o.plan.replace(/^.*\/\d+-(.*)\.json$/, '$1'), o);
  }
  t.equal(out.size, plans.length, 'every plan ran');
  const ran = (name: string) => {
    const o = out.get(name);
    t.ok(o?.counters && o.drained, `${name}: loaded and drained${o?.error ? ` (${o.error})` : ''}`);
    return o?.counters ?? {};
  };
  const refused = (name: string, why: RegExp) => t.match(out.get(name)?.error, why, `${name}: refused`);

  const use = ran('use');
  t.same(use.plugin, { packets: 1000, bytes: 80000 }, 'the plugin element counted every packet and byte');
  t.same(use.builtin, use.plugin, 'the built-in Counter after it saw the same');

  const version = pktgraphCli(['plugin-config', '--api-version']).stdout.trim();
  refused('stale', new RegExp(`plugin ${stale.replace(/[.]/g, '\\.')} was built against element API version 999 but this engine has version ${version}; rebuild it`));
  refused('plain', /is not a pktgraph element plugin \(it carries no element API version\)/);
  refused('missing', /plugin library .*nowhere\.so does not exist .*npm install/);
  refused('clash', /defines element class 'Counter', which is built into the engine; rename/);
  const mapped = out.get('srv6-fuzz')?.plugins ?? [];
  t.notOk(mapped.some((f) => f === stale || f.endsWith('/plain.so')), `the refused libraries were never mapped (mapped: ${mapped.join(', ')})`);

  refused('throws', /thrower.*Thrower refused to start, as its config asked \(fail: true\)/);
  t.equal(ran('fine').thrower?.packets, 10, 'the same class configured without fail runs after it');

  const c = ran('srv6-fuzz');
  const drops = (e: Record<string, number> = {}) => Object.entries(e).filter(([k]) => k.startsWith('drops_')).reduce((a, [, v]) => a + v, 0);
  t.equal(c.src?.packets, packets.length, 'every fuzzed packet was read');
  t.equal((c.not_local?.packets ?? 0) + (c.handled?.packets ?? 0) + drops(c.sids), packets.length, 'SRv6LocalSIDs: each forwarded or dropped under a reason');
  t.equal((c.encapsulated?.packets ?? 0) + drops(c.encap), packets.length, 'SRv6Encap: each encapsulated or dropped under a reason');
  t.ok((c.handled?.packets ?? 0) > 0 && drops(c.sids) > 0, 'both outcomes happened');
});
