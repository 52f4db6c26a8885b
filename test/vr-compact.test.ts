// Routers keep their plans' large config arrays deflated (src/service/compactPlan.ts): the plan
// reads back exactly as compiled (its JSON byte for byte), and everything that reads a router's
// plan after its load gets the same answers: save and restore of a defined router (no state
// image: the table comes from the plan's routes alone), clone, reconfigure and rollback, quota
// counts, the desired-state record. A graph of 300 IPv4 and 100 IPv6 routes; no root needed.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile } from '../src/compiler/compile.js';
import { loadGraph } from '../src/cli/load.js';
import { Runtime } from '../src/runtime/runtime.js';
import { VirtualRouters } from '../src/service/routers.js';
import { compactPlan } from '../src/service/compactPlan.js';
import { decodeRouterFile } from '../src/service/routerFile.js';
import { readFileSync } from 'node:fs';

const work = mkdtempSync(join(tmpdir(), 'pktgraph-vrcompact-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const file = join(work, 'many.ts');
writeFileSync(
  file,
  `import { graph, Idle, IPLookup, LookupIP6Route, Discard } from 'pktgraph';
export default graph({ name: 'many', params: { n: 300, gw: 1 } }, (p) => {
  const v4: string[] = [];
  for (let i = 0; i < p.n; i++) v4.push(\`198.19.\${i >> 2}.\${(i & 3) * 64}/26 via 198.18.\${p.gw}.\${1 + (i % 7)} dev \${i % 2}\`);
  v4.push('default dev 0');
  const v6: string[] = [];
  for (let i = 0; i < 100; i++) v6.push(\`fd00:\${i.toString(16)}::/32 via fd01::\${1 + (i % 5)} dev 0\`);
  const rt = Idle({}, 'in4').to(IPLookup({ routes: v4 }, 'rt'));
  rt.out(0).to(Discard({}, 'd0'));
  rt.out(1).to(Discard({}, 'd1'));
  Idle({}, 'in6').to(LookupIP6Route({ routes: v6 }, 'rt6')).to(Discard({}, 'd6'));
});
`,
);

const table = (vr: VirtualRouters, name: string, el: string) => vr.target(name, el).graph.read(el, 'table');

t.test('a compacted plan reads back as compiled', async (t) => {
  const plan = compile(await loadGraph(file), { params: {} });
  const json = JSON.stringify(plan);
  const rt = plan.elements.find((e) => e.name === 'rt')!;
  const routes = structuredClone(rt.config.compiledRoutes);
  compactPlan(plan);
  t.ok(Object.getOwnPropertyDescriptor(rt.config, 'compiledRoutes')!.get, 'the typed routes are kept packed');
  t.ok(Object.getOwnPropertyDescriptor(rt.config, 'routes')!.get, 'the route text is kept packed');
  t.equal(JSON.stringify(plan), json, 'its JSON is unchanged, key order included');
  t.same(rt.config.compiledRoutes, routes, 'the typed routes read back');
  t.equal(rt.config.compiledRoutes, rt.config.compiledRoutes, 'reads in one task share one inflate');
  t.same({ ...rt.config }, JSON.parse(json).elements.find((e: { name: string }) => e.name === 'rt').config, 'a spread copies the values');
  compactPlan(plan);
  t.equal(JSON.stringify(plan), json, 'compacting again changes nothing');
  rt.config.routes = ['default dev 1'];
  t.same(rt.config.routes, ['default dev 1'], 'a field written becomes a plain value');
  t.equal(Object.getOwnPropertyDescriptor(plan.elements.find((e) => e.name === 'in4')!.config, 'active')?.get, undefined, 'small fields stay plain');
});

t.test('routers with packed plans save, restore, clone, reconfigure and count quotas as before', async (t) => {
  const runtime = new Runtime({ threads: 1, poolBuffers: 4096 });
  const vr = new VirtualRouters(runtime);
  runtime.start();
  t.teardown(() => runtime.close());
  const compiled = JSON.stringify({ ...compile(await loadGraph(file), { params: {} }), name: 'a' });

  await vr.perform('vr.create', { name: 'a', source: { file }, start: true });
  t.equal(JSON.stringify(vr.recordOf('a').plan), compiled, 'the record keeps the compiled plan');
  t.equal(vr.show('a').quotas.routes.used, 401, 'the tables hold every configured route');
  const t4 = table(vr, 'a', 'rt');
  const t6 = table(vr, 'a', 'rt6');
  t.equal(t4.trim().split('\n').length, 301);

  // A defined router has no state image: its save carries only the plan, and the restored
  // router's tables come from the plan's routes.
  await vr.perform('vr.create', { name: 'd', source: { file } });
  t.equal(vr.show('d').quotas.routes.used, 401, 'a defined router counts its configured routes');
  await vr.perform('vr.save', { name: 'd', file: join(work, 'd.pgvr') });
  const saved = await decodeRouterFile(readFileSync(join(work, 'd.pgvr')), 'd.pgvr');
  t.equal(saved.image, undefined, 'no state image');
  t.equal(JSON.stringify({ ...saved.manifest.plan, name: 'a' }), compiled, 'the saved plan is the compiled one');
  await vr.perform('vr.restore', { file: join(work, 'd.pgvr'), name: 'r', start: true });
  t.equal(table(vr, 'r', 'rt'), t4, 'the restored IPv4 table is the original');
  t.equal(table(vr, 'r', 'rt6'), t6, 'the restored IPv6 table is the original');

  await vr.perform('vr.clone', { name: 'd', newName: 'c', start: true });
  t.equal(table(vr, 'c', 'rt'), t4, 'a clone of the defined router has the table');
  await vr.perform('vr.clone', { name: 'a', newName: 'c2', params: { n: 200 }, start: true });
  t.equal(table(vr, 'c2', 'rt'), t4, 'a clone compiled again keeps the running table');
  t.equal((vr.recordOf('c2').plan.elements.find((e) => e.name === 'rt')!.config.compiledRoutes as unknown[]).length, 201, 'and has its own plan');

  // Reconfigure with a confirmation, then roll back: the previous (packed) plan goes back.
  await vr.perform('vr.reconfigure', { name: 'a', source: { file, params: { gw: 2 } }, confirm: 60 });
  await vr.perform('vr.rollback', { name: 'a' });
  t.equal(JSON.stringify(vr.recordOf('a').plan), compiled, 'the rollback restores the compiled plan');
  t.equal(table(vr, 'a', 'rt'), t4, 'and the table carried over');

  // A quota below the configured routes is refused for a defined router (counted from the packed plan).
  await t.rejects(vr.perform('vr.quota', { name: 'd', quotas: { routes: 300 } }), /routes/);
});
