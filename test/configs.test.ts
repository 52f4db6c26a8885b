// The example graphs in configs/: every configs/*.ts module's default export is a graph that
// compiles with its default params (no root, nothing spawned: imported in this process). As
// root, configs/tap-host.ts also runs as its comment says: its TAP device moved into a lab
// namespace, h2 there pings h1 across the engine.
import t from 'tap';
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { compile, isGraphDefinition, Runtime } from 'pktgraph';
import { createLab, labAvailable, labObjects } from '../src/lab/index.js';
import { ping, pingSummary } from './lib/labtools.js';
import tapHost from '../configs/tap-host.js';

const configs = join(dirname(fileURLToPath(import.meta.url)), '..', 'configs');

t.test('every configs/*.ts compiles with its default params', async (t) => {
  const files = readdirSync(configs)
    .filter((f) => f.endsWith('.ts'))
    .sort();
  t.ok(files.length >= 4, `found the example graphs: ${files.join(', ')}`);
  for (const file of files) {
    const mod = (await import(pathToFileURL(join(configs, file)).href)) as { default?: unknown };
    const def = mod.default;
    if (!isGraphDefinition(def)) {
      t.fail(`configs/${file}: the default export is not a graph(...)`);
      continue;
    }
    const plan = compile(def);
    t.ok(plan.elements.length > 0, `configs/${file} compiles: graph '${plan.name}', ${plan.elements.length} elements`);
    t.same(plan.params, def.params, `configs/${file}: the plan records the default params`);
  }
});

t.test('configs/tap-host.ts: a TAP in a lab namespace, bridged to a lab host', async (t) => {
  const avail = labAvailable();
  if (!avail.ok) return t.skip(`needs a lab: ${avail.reason}`, () => {});
  if (spawnSync('ls', ['/dev/net/tun'], { stdio: 'ignore' }).status !== 0) return t.skip('no /dev/net/tun (modprobe tun)', () => {});
  // As configs/lab-tap.json, with a random id: h1 on a veth to the engine, h2 for the TAP.
  const lab = createLab({ hosts: [{ name: 'h1' }, { name: 'h2' }], links: [{ a: 'h1', b: 'engine', aAddresses: ['198.18.0.1/24'] }] });
  const tapDev = `${lab.prefix}t`;
  const rt = new Runtime({ threads: 1, poolBuffers: 2048 });
  t.teardown(() => {
    rt.close();
    lab.destroy();
    spawnSync('ip', ['link', 'del', tapDev], { stdio: 'ignore' });
  });
  // No IPv6 on h1: its router solicitations and MLD reports, sent at any moment, would reach
  // the TAP before h2 brings it up, and a write to a TAP that is down is (rightly) a drop.
  spawnSync('ip', ['netns', 'exec', lab.netns('h1'), 'sysctl', '-qw', `net.ipv6.conf.${lab.link(0).a}.disable_ipv6=1`], { stdio: 'ignore' });
  const g = rt.load(compile(tapHost, { params: { tap: tapDev, dev: lab.link(0).b } }));
  rt.start();
  const ns = lab.netns('h2');
  for (const args of [
    ['link', 'set', tapDev, 'netns', ns],
    ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${tapDev}.disable_ipv6=1`],
    ['-n', ns, 'addr', 'add', '198.18.0.2/24', 'dev', tapDev],
    ['-n', ns, 'link', 'set', tapDev, 'up'],
  ]) {
    const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
    t.equal(r.status, 0, `ip ${args.join(' ')} ${r.stderr}`);
  }
  const p = await ping(lab, 'h2', '198.18.0.1');
  t.equal(p.code, 0, `ping h2 (TAP) -> h1 through the engine: ${pingSummary(p)}`);
  rt.stop();
  const c = g.allCounters();
  t.ok(c.to_host.packets >= 3n && c.from_host.packets >= 3n, `frames both ways (${c.to_host.packets} to the host, ${c.from_host.packets} from it)`);
  t.equal(c.tap.drops + c.tx.drops, 0n, `no drops (tap ${c.tap.drops}, tx ${c.tx.drops})`);
  g.remove();
  t.equal(spawnSync('ip', ['-n', ns, 'link', 'show', tapDev], { stdio: 'ignore' }).status === 0, false, 'the TAP is gone with the graph');
  lab.destroy();
  t.same(labObjects(lab.prefix), { namespaces: [], interfaces: [] }, 'the lab left nothing behind');
});
