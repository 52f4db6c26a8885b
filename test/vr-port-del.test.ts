// A shared port deleted under a router that is sending on it (issue 11): `port del` is refused
// while a router is attached, naming it, and changes nothing; forced, it closes the port while
// the router's ToPort goes on pushing frames from another graph on the workers. The native
// guard (native/port_hub.h: egress_push, close_egress) must keep those pushes off the freed
// scheduler: no crash, every frame the router made afterwards counted in ToPort's
// drops_port_closed (frames made = handed to the port + dropped there, exactly), the router
// still managed (its counters readable, a share on the gone port refused), a new port under the
// same name usable by a new router while the old one stays detached, and in the end every
// buffer back in the pool. Real clock; the checks are counts, never timings.
// Needs root and network namespaces (skips with the reason otherwise); run under
// flock /tmp/pktgraph-lab.lock.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLab, labAvailable } from '../src/lab/index.js';
import { Runtime } from '../src/runtime/runtime.js';
import { VirtualRouters } from '../src/service/routers.js';
import { until } from './lib/ports.js';

const SOURCE = `import { graph, InfiniteSource, ToPort, FromPort, Counter, Discard } from 'pktgraph';
// Paced frames onto the port, and whatever the port brings counted.
export default graph({ name: 'sender', params: { pps: 20000, port: 'wan' } }, (p) => {
  InfiniteSource({ data: 'ff'.repeat(6) + '020000000001' + '88b5', length: 200, rate: p.pps }, 'src')
    .to(ToPort({ port: p.port, guarantee: 1e6 }, 'out'));
  FromPort({ port: p.port }, 'in').to(Counter({}, 'down')).to(Discard());
});
`;

const avail = labAvailable();
if (!avail.ok) {
  t.test('a port deleted under a sending router', { skip: avail.reason }, async () => {});
} else {
  t.test('a port deleted under a sending router', async (t) => {
    const work = mkdtempSync(join(tmpdir(), 'pktgraph-portdel-'));
    const lab = createLab({ hosts: [{ name: 'sink' }], links: [{ a: 'sink', b: 'engine' }] }, { id: `pgp${randomBytes(1).toString('hex')}` });
    const rt = new Runtime({ threads: 2, poolBuffers: 8192 });
    rt.start();
    const vr = new VirtualRouters(rt);
    // The wait helpers' timers are unref'd and the engine holds no handle: keep the process up.
    const alive = setInterval(() => {}, 1000);
    t.teardown(() => {
      clearInterval(alive);
      vr.deleteAll();
      rt.close();
      lab.destroy();
      rmSync(work, { recursive: true, force: true });
    });
    const file = join(work, 'sender.ts');
    writeFileSync(file, SOURCE);
    const dev = lab.link(0).b;
    const counters = async (name: string, element: string) => (await vr.perform('vr.counters', { name, element })) as Record<string, string>;
    const num = async (name: string, element: string, c: string) => Number((await counters(name, element))[c] ?? 0);

    await vr.perform('port.add', { name: 'wan', device: dev, rate: 100e6 });
    await vr.perform('vr.create', { name: 'a', source: { file }, start: true });
    await until('a sends on the port', async () => (await num('a', 'out', 'packets')) > 500);

    const before = JSON.stringify((await vr.perform('port.list', {})).map((p) => ({ ...p, counters: undefined, attachments: p.attachments.map((x) => x.router) })));
    await t.rejects(vr.perform('port.del', { name: 'wan' }), /^port 'wan' is used by virtual router a; delete it \(or reconfigure it off the port\) first, or force it/, 'refused while a is attached, naming it');
    t.equal(JSON.stringify((await vr.perform('port.list', {})).map((p) => ({ ...p, counters: undefined, attachments: p.attachments.map((x) => x.router) }))), before, 'the refusal changed nothing');

    // Forced while a sends: its ToPort keeps pushing from a's graph on the workers.
    t.same(await vr.perform('port.del', { name: 'wan', force: true }), { name: 'wan', detached: ['a'] }, 'forced: closed, a named as detached');
    t.same(await vr.perform('port.list', {}), [], 'the port is gone');
    await until("a's frames to the closed port are dropped and counted", async () => (await num('a', 'out', 'drops_port_closed')) > 2000);
    t.equal((await vr.perform('vr.show', { name: 'a' })).state, 'running', 'a runs on, detached');
    await t.rejects(vr.perform('vr.share', { name: 'a', port: 'wan', guarantee: 2e6 }), /^there is no port named 'wan'/, 'a share on the gone port is refused');
    await t.rejects(vr.perform('vr.reconfigure', { name: 'a', source: { file } }), /names port 'wan', which does not exist/, 'a reconfiguration onto the gone port is refused');

    // The name again, a new port: a new router uses it; a stays on the old, closed one.
    await vr.perform('port.add', { name: 'wan', device: dev, rate: 100e6 });
    await vr.perform('vr.create', { name: 'c', source: { file }, start: true });
    await until('c sends on the new port', async () => (await num('c', 'out', 'packets')) > 500);
    const port = (await vr.perform('port.list', {}))[0];
    t.same(port.attachments.map((x) => x.router), ['c'], 'the new port has c only');
    t.equal(await num('c', 'out', 'drops_port_closed'), 0, 'c drops nothing');
    await t.rejects(vr.perform('vr.share', { name: 'a', port: 'wan', guarantee: 2e6 }), /refused the share of router 'a': .*port 'wan' is closed/, "a share for a on the new port is refused: a is still on the closed one");
    const dropped = await num('a', 'out', 'drops_port_closed');
    await until('a still drops, counted', async () => (await num('a', 'out', 'drops_port_closed')) > dropped + 500);

    // Every frame a made went to the port or was counted as dropped there.
    await vr.perform('vr.stop', { name: 'a' });
    const src = await num('a', 'src', 'packets');
    const out = await counters('a', 'out');
    t.equal(Number(out.packets) + Number(out.drops_port_closed) + Number(out.drops_short) + Number(out.drops_no_headroom), src, `a made ${src} frames: ${out.packets} handed to the port, ${out.drops_port_closed} dropped as the port was closed`);

    await vr.perform('vr.delete', { name: 'a' });
    await vr.perform('vr.delete', { name: 'c' });

    // Again and again, each time as soon as the router sends: the close races its pushes.
    for (let i = 0; i < 10; i++) {
      await vr.perform('port.add', { name: 'wan2', device: dev, rate: 100e6 });
      await vr.perform('vr.create', { name: 's', source: { file, params: { port: 'wan2', pps: 100000 } }, start: true });
      await until(`cycle ${i}: s sends`, async () => (await num('s', 'out', 'packets')) > 0);
      await vr.perform('port.del', { name: 'wan2', force: true });
      await until(`cycle ${i}: s drops`, async () => (await num('s', 'out', 'drops_port_closed')) > 0);
      await vr.perform('vr.delete', { name: 's' });
    }
    t.pass('10 more ports closed under a sending router, no crash');
    t.same(await vr.perform('port.del', { name: 'wan' }), { name: 'wan', detached: [] }, 'the new port closes once c is gone');
    const pool = rt.poolStats();
    t.equal(pool.available, pool.capacity, `every buffer back in the pool (${pool.available} of ${pool.capacity})`);
  });
}
