// Out-of-tree C++ elements (native/plugin.cc, docs/writing-elements.md): a plugin library built by
// `pktgraph plugin-build` is loaded when a plan names it, and its elements count, handle and
// profile like built-in ones; a plugin built against another element API version, a file that is
// no plugin and a plugin reusing a built-in class name are refused with one sentence and never
// loaded; a plugin element throwing in configure fails its own graph only.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile, Counter, Discard, graph, InfiniteSource, runPlan, Runtime } from 'pktgraph';
import { buildTestPlugin, clashSource, compilePlugin, notAPlugin, passDescriptor, passSource, pktgraphCli as cli, pluginDir, staleHeaders } from './fixtures/plugin/build.js';
import { PluginCounter, Thrower } from './fixtures/plugin/index.js';

// The first run builds the test plugin with node-gyp.
t.setTimeout(300_000);
const work = mkdtempSync(join(tmpdir(), 'pgx-plugins-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

buildTestPlugin();

function chain(name: string, middle: () => ReturnType<typeof PluginCounter>, limit = 1000) {
  return compile(graph(name, () => {
    InfiniteSource({ length: 80, limit }, 'src').to(middle()).to(Counter({}, 'builtin')).to(Discard({}, 'sink'));
  }));
}

t.test('a plugin element runs with real packets: counters, handlers and profiling like a built-in one', async (t) => {
  const plan = chain('plugin_use', () => PluginCounter({}, 'plugin'));
  t.match(plan.classes.PluginCounter, { library: join(pluginDir, 'build', 'Release', 'pg_test_plugin.node') }, 'the plan names the library');
  t.notOk('library' in plan.classes.Counter, 'built-in classes name none');
  const s = await runPlan(plan, { threads: 1, profile: true });
  t.same(s.elements.plugin, { packets: 1000, bytes: 80000 }, 'the plugin counted every packet and byte');
  t.same(s.elements.builtin, s.elements.plugin, 'the built-in Counter after it saw the same');
  const prof = s.profile?.elements.find((e) => e.name === 'plugin');
  t.ok(prof && prof.packets === 1000, 'profiled like any element');

  const rt = new Runtime({ threads: 1 });
  t.teardown(() => rt.close());
  rt.start();
  const g = rt.load(chain('plugin_handlers', () => PluginCounter({}, 'plugin'), 500));
  for (let i = 0; i < 100 && !g.drained(); i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(g.read('plugin', 'packets'), '500', 'a counter read handler');
  t.equal(g.read('plugin', 'count'), '500', 'a derived handler from the descriptor');
  g.write('plugin', 'reset', '');
  t.equal(g.counter('plugin', 'packets'), 0n, "the plugin's own write handler zeroed it");
  t.equal(g.counter('builtin', 'packets'), 500n);
});

t.test('a running graph with a plugin element is replaced live, its counters carried over like a built-in\'s', async (t) => {
  const rt = new Runtime({ threads: 1 });
  t.teardown(() => rt.close());
  rt.start();
  const make = () => compile(graph('plugin_swap', () => {
    InfiniteSource({ length: 64, rate: 20000 }, 'src').to(PluginCounter({}, 'plugin')).to(Discard({}, 'sink'));
  }));
  const old = rt.load(make());
  await new Promise((r) => setTimeout(r, 100));
  const g = old.replace(make());
  const carried = g.counter('plugin', 'packets');
  t.ok(carried > 0n, 'the new element starts from the old one\'s count');
  await new Promise((r) => setTimeout(r, 100));
  t.ok(g.counter('plugin', 'packets') > carried, 'and goes on counting');
});

t.test('a plugin built against another element API version is refused, never loaded', async (t) => {
  const so = compilePlugin(work, 'stale', passSource('StalePass'), { include: staleHeaders(work) });
  const Stale = passDescriptor('StalePass', so);
  const rt = new Runtime({ threads: 1 });
  t.teardown(() => rt.close());
  const version = cli(['plugin-config', '--api-version']).stdout.trim();
  t.throws(() => rt.load(chain('stale', () => Stale({}, 'stale'))), {
    message: new RegExp(`plugin ${so.replace(/[.]/g, '\\.')} was built against element API version 999 but this engine has version ${version}; rebuild it`),
  });
  t.notOk(readFileSync('/proc/self/maps', 'utf8').includes(so), 'the library was never mapped');
  const ok = rt.load(chain('after_stale', () => PluginCounter({}, 'plugin'), 10));
  t.ok(ok, 'the engine loads other graphs as before');
});

t.test('a file that is no plugin, and a plugin redefining a built-in class, are refused', async (t) => {
  const rt = new Runtime({ threads: 1 });
  t.teardown(() => rt.close());
  const NotPlugin = passDescriptor('NotAPlugin', notAPlugin(work));
  t.throws(() => rt.load(chain('plain', () => NotPlugin({}, 'x'))), { message: /is not a pktgraph element plugin \(it carries no element API version\)/ });
  const missing = passDescriptor('MissingPlugin', join(work, 'nowhere.so'));
  t.throws(() => rt.load(chain('missing', () => missing({}, 'x'))), { message: /plugin library .*nowhere\.so does not exist .*npm install/ });
  const clash = compilePlugin(work, 'clash', clashSource());
  const Clash = passDescriptor('ClashPass', clash);
  t.throws(() => rt.load(chain('clash', () => Clash({}, 'x'))), { message: /defines element class 'Counter', which is built into the engine; rename/ });
});

t.test('a plugin element throwing in configure fails its own graph only', async (t) => {
  const rt = new Runtime({ threads: 1 });
  t.teardown(() => rt.close());
  rt.start();
  const steady = rt.load(compile(graph('steady', () => {
    InfiniteSource({ length: 64, rate: 20000 }, 'src').to(PluginCounter({}, 'plugin')).to(Discard());
  })));
  await new Promise((r) => setTimeout(r, 100));
  const before = steady.counter('plugin', 'packets');
  t.ok(before > 0n, 'the first graph runs');
  const failing = compile(graph('failing', () => {
    InfiniteSource({ length: 64, limit: 10 }).to(Thrower({ fail: true }, 'thrower')).to(Discard());
  }));
  t.throws(() => rt.load(failing), { message: /thrower.*Thrower refused to start, as its config asked \(fail: true\)/ });
  await new Promise((r) => setTimeout(r, 100));
  t.ok(steady.counter('plugin', 'packets') > before, 'the first graph keeps running');
  t.same(rt.allGraphs().map((g) => g.name), ['steady'], 'nothing of the failed graph stays');
  const fine = rt.load(compile(graph('fine', () => {
    InfiniteSource({ length: 64, limit: 10 }).to(Thrower({}, 'thrower')).to(Discard());
  })));
  for (let i = 0; i < 100 && !fine.drained(); i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(fine.counter('thrower', 'packets'), 10n, 'the same class configured without fail works');
});

t.test('pktgraph elements documents a plugin package\'s elements beside the built-in ones', async (t) => {
  const list = cli(['elements', '--plugin', pluginDir]);
  t.equal(list.status, 0, list.stderr);
  t.match(list.stdout, /PluginCounter\s+test-plugin\s+The built-in Counter built as a plugin/);
  t.match(list.stdout, /Thrower\s+test-plugin/);
  t.match(list.stdout, /Counter\s+standard/);
  const doc = cli(['elements', 'Thrower', '--plugin', pluginDir]);
  t.equal(doc.status, 0, doc.stderr);
  t.match(doc.stdout, /fail\s+true or false\s+default false\s+throw in configure/);
  const none = cli(['elements', '--plugin', join(work, 'no-such-package')]);
  t.not(none.status, 0);
  t.match(none.stderr, /cannot find the element package/);
});
