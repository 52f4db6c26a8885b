// Bandwidth shares of virtual routers on a shared port (issue 11, item 5): two routers send
// paced 1000-byte frames (InfiniteSource -> ToPort) onto one port of 40 Mbit/s opened on a lab
// veth, each offering more than the port can take. The operations layer runs in this process
// on an engine with a virtual clock, moved 1 ms at a time, so the rates are exact however
// busy the machine is. Over one-second windows (after the scheduler's initial burst), from
// the port's per-router counts of what it sent (port.list):
//   - a limit is held (within 5% over a second), and spare capacity goes up to it;
//   - a guarantee is kept under contention (at least 95% of it over a second), even against a
//     contender with ten times the weight;
//   - the port's rate is used in full (within 5%);
//   - `vr.share` changes take effect while the routers run.
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

const SOURCE = `import { graph, InfiniteSource, ToPort } from 'pktgraph';
// Paced 1000-byte broadcast frames onto the port, with the router's share as parameters.
export default graph({ name: 'source', params: { pps: 1000, guarantee: 0, limit: 0, weight: 1, capacity: 1000 } }, (p) => {
  InfiniteSource({ data: 'ff'.repeat(6) + '020000000001' + '88b5', length: 1000, rate: p.pps }, 'src')
    .to(ToPort({ port: 'wan', guarantee: p.guarantee, limit: p.limit, weight: p.weight, capacity: p.capacity }, 'out'));
});
`;
const PORT_RATE = 40e6;

const T0 = 1e15;
const MS = 1e6;

const mbit = (x: number) => `${(x / 1e6).toFixed(2)} Mbit/s`;

const avail = labAvailable();
if (!avail.ok) {
  t.test('bandwidth shares on a shared port', { skip: avail.reason }, async () => {});
} else {
  t.test('bandwidth shares on a shared port', async (t) => {
    const work = mkdtempSync(join(tmpdir(), 'pktgraph-shares-'));
    const lab = createLab({ hosts: [{ name: 'sink' }], links: [{ a: 'sink', b: 'engine' }] }, { id: `pgp${randomBytes(1).toString('hex')}` });
    const rt = new Runtime({ threads: 2, poolBuffers: 16384, virtualClockNs: T0 });
    rt.start();
    const vr = new VirtualRouters(rt);
    t.teardown(() => {
      rt.close();
      lab.destroy();
      rmSync(work, { recursive: true, force: true });
    });
    const file = join(work, 'source.ts');
    writeFileSync(file, SOURCE);
    let now = 0; // virtual ms since T0
    const advance = (ms: number) => {
      for (const end = now + ms; now < end; ) rt.setVirtualTime(T0 + ++now * MS);
    };
    /** Bits per second each router sent on the port over `ms` virtual milliseconds. */
    const rates = async (ms = 1000): Promise<Record<string, number>> => {
      const sent = async () =>
        Object.fromEntries((await vr.perform('port.list', {})).find((x) => x.name === 'wan')!.attachments.map((a) => [a.router, a.share!.sent.bytes]));
      const a = await sent();
      advance(ms);
      const b = await sent();
      return Object.fromEntries(Object.keys(b).map((r) => [r, ((b[r] - (a[r] ?? 0)) * 8) / (ms / 1000)]));
    };
    const share = (name: string, s: { unit?: 'bits' | 'packets'; guarantee?: number; limit?: number; weight?: number }) => vr.perform('vr.share', { name, port: 'wan', ...s });
    await vr.perform('port.add', { name: 'wan', device: lab.link(0).b, rate: PORT_RATE });
    // a offers 60 Mbit/s with 20 guaranteed; b offers 30 with 5 guaranteed and a 10 Mbit/s limit.
    await vr.perform('vr.create', { name: 'a', source: { file, params: { pps: 7500, guarantee: 20e6 } }, start: true });
    await vr.perform('vr.create', { name: 'b', source: { file, params: { pps: 3750, guarantee: 5e6, limit: 10e6 } }, start: true });
    advance(300); // past the initial bursts

    const check = async (what: string, expect: (r: Record<string, number>) => void) => {
      const r = await rates();
      t.comment(`${what}: ${Object.entries(r).map(([k, v]) => `${k} ${mbit(v)}`).join(', ')}`);
      expect(r);
    };
    await check('a 20M guaranteed, b 5M guaranteed and limited to 10M', (r) => {
      t.ok(r.b <= 10e6 * 1.05 && r.b >= 10e6 * 0.95, `b held at its 10 Mbit/s limit: ${mbit(r.b)}`);
      t.ok(r.a >= 20e6 * 0.95, `a kept its 20 Mbit/s guarantee: ${mbit(r.a)}`);
      t.ok(Math.abs(r.a + r.b - PORT_RATE) <= PORT_RATE * 0.05, `the port's 40 Mbit/s used in full: ${mbit(r.a + r.b)}`);
    });

    // A reconfiguration of b keeps its class in the port's scheduler with its waiting frames and
    // its live share (a weight set by vr.share); the queue takes the new graph's capacity. The
    // virtual clock stands still meanwhile, so the counts before and after are exact.
    await share('b', { weight: 2 });
    const classOf = (name: string) => rt.graph('port.wan').read('sched', 'classes').split('\n').find((l) => l.startsWith(`${name} `)) ?? '';
    const queued = (l: string) => l.replace(/.* mode=\S+ /, '');
    const waiting = classOf('b');
    t.match(waiting, / weight=2 match=\d+ leaf capacity=1000 mode=\S+ backlog=(\d{3,}) /, 'b has frames waiting in its class');
    const sentBefore = (await vr.perform('vr.counters', { name: 'b', element: 'out' })) as Record<string, Record<string, string>>;
    const re = await vr.perform('vr.reconfigure', { name: 'b', source: { file, params: { pps: 3750, guarantee: 5e6, limit: 10e6, capacity: 1500 } } });
    t.same(re.swap!.dropped, [], 'no frame dropped by the swap');
    t.equal(queued(classOf('b')), queued(waiting), 'the same frames wait, none sent or lost meanwhile');
    t.match(classOf('b'), / weight=2 match=\d+ leaf capacity=1500 /, "the live share kept, the queue at the new graph's capacity");
    t.same(await vr.perform('vr.counters', { name: 'b', element: 'out' }), sentBefore, "ToPort's counters carried over");
    await share('b', { weight: 1 });

    // Raise b's limit while it runs: the spare 15 Mbit/s is now shared 1:1 (b 12.5, a 27.5).
    t.same(await share('b', { limit: 15e6 }), { name: 'b', port: 'wan', unit: 'bits', guarantee: 5e6, limit: 15e6, weight: 1 });
    advance(100);
    await check('b limited to 15M', (r) => {
      t.ok(r.b <= 15e6 * 1.05, `b within its new 15 Mbit/s limit: ${mbit(r.b)}`);
      t.ok(Math.abs(r.b - 12.5e6) <= 12.5e6 * 0.05, `b got its guarantee and half the spare, 12.5 Mbit/s: ${mbit(r.b)}`);
      t.ok(r.a >= 20e6 * 0.95, `a kept its guarantee: ${mbit(r.a)}`);
    });

    // A contender with ten times the weight cannot take b's guarantee.
    await share('a', { weight: 10 });
    await share('b', { guarantee: 15e6, limit: 0 });
    advance(100);
    await check('b 15M guaranteed, a weight 10', (r) => {
      t.ok(r.b >= 15e6 * 0.95, `b kept its 15 Mbit/s guarantee against a weight of 10: ${mbit(r.b)}`);
      t.ok(r.a >= 20e6 * 0.95, `a kept its 20 Mbit/s guarantee: ${mbit(r.a)}`);
      t.ok(Math.abs(r.a + r.b - PORT_RATE) <= PORT_RATE * 0.05, `the port used in full: ${mbit(r.a + r.b)}`);
    });

    // The share in packets/s while b runs (its 1000-byte frames: 1250 packets/s is 10 Mbit/s):
    // a limit of 1250 packets/s and a guarantee of 625 (a back to weight 1, so b's guarantee and
    // half the spare would be 12.5 Mbit/s, above the limit).
    await share('a', { weight: 1 });
    t.same(await share('b', { unit: 'packets', guarantee: 625, limit: 1250 }), { name: 'b', port: 'wan', unit: 'packets', guarantee: 625, limit: 1250, weight: 1 }, 'the share changed to packets/s');
    advance(100);
    await check('b limited to 1250 packets/s', (r) => {
      t.ok(Math.abs(r.b / 8000 - 1250) <= 1250 * 0.01, `b held at its limit of 1250 packets/s: ${(r.b / 8000).toFixed(1)} packets/s`);
      t.ok(Math.abs(r.a - 30e6) <= 30e6 * 0.02, `a takes the rest, 30 Mbit/s: ${mbit(r.a)}`);
    });
    // The limit raised while it runs: b's guarantee (625/s, 5 Mbit/s) and half the spare 15 Mbit/s is 12.5.
    await share('b', { limit: 2000 });
    advance(100);
    await check('b limited to 2000 packets/s', (r) => {
      t.ok(Math.abs(r.b / 8000 - 1562.5) <= 1562.5 * 0.02, `b at its guarantee and half the spare, 1562.5 packets/s (12.5 Mbit/s), under its new limit: ${(r.b / 8000).toFixed(1)} packets/s`);
      t.ok(Math.abs(r.a + r.b - PORT_RATE) <= PORT_RATE * 0.02, `the port used in full: ${mbit(r.a + r.b)}`);
    });
    await share('b', { unit: 'bits', guarantee: 15e6, limit: 0 }); // back in bits/s, no limit

    // Alone, b sends all it offers (its limit was lifted).
    await vr.perform('vr.delete', { name: 'a' });
    advance(1500); // b's queue, full while it was held back, drains first
    await check('b alone, no limit', (r) => {
      t.ok(r.b >= 30e6 * 0.95 && r.b <= 30e6 * 1.05, `b alone sends what it offers, 30 Mbit/s: ${mbit(r.b)}`);
    });

    // Save carries the quotas and the live share; restore and clone apply them, and a restore
    // whose guarantee the port cannot honour (b still holds its own) is refused, nothing made.
    t.same(await share('b', { guarantee: 30e6, limit: 35e6, weight: 4 }), { name: 'b', port: 'wan', unit: 'bits', guarantee: 30e6, limit: 35e6, weight: 4 }, 'b: 30 Mbit/s guaranteed');
    await vr.perform('vr.quota', { name: 'b', quotas: { routes: 10, buffers: 5000, nat: null } });
    const saved = join(work, 'b.pgvr');
    await vr.perform('vr.save', { name: 'b', file: saved });
    const routers = JSON.stringify(await vr.perform('vr.list', {}));
    await t.rejects(vr.perform('vr.restore', { file: saved, name: 'b2', start: true }), /^virtual router 'b2': its guarantee of 30Mbit on port wan would bring the port's guarantees to 60Mbit, above its rate of 40Mbit; lower a guarantee$/, "a restore beside b: the port cannot honour both guarantees, refused");
    t.equal(JSON.stringify(await vr.perform('vr.list', {})), routers, 'nothing was made');
    const quotasOf = async (name: string) => Object.fromEntries(Object.entries((await vr.perform('vr.show', { name })).quotas).map(([q, u]) => [q, u.limit]));
    const bQuotas = await quotasOf('b');
    t.same(bQuotas, { routes: 10, nat: null, neighbours: null, buffers: 5000 }, "b's quotas as set");
    await vr.perform('vr.delete', { name: 'b' });
    await vr.perform('vr.restore', { file: saved, name: 'b2', start: true });
    t.same(await quotasOf('b2'), bQuotas, 'restored: the same quotas');
    const shareOf = async (name: string) => {
      const s = (await vr.perform('port.list', {}))[0].attachments.find((x) => x.router === name)!.share!;
      return { unit: s.unit, guarantee: s.guarantee, limit: s.limit, weight: s.weight };
    };
    t.same(await shareOf('b2'), { unit: 'bits', guarantee: 30e6, limit: 35e6, weight: 4 }, 'restored: the same share on the port (set live, not in its graph)');
    t.match(rt.graph('port.wan').read('sched', 'classes'), /\nb2 parent=link rate=30000000 ceil=35000000 .* weight=4 /, "the port's scheduler has b2's class with that share");
    await vr.perform('vr.clone', { name: 'b2', newName: 'b3' });
    t.same(await quotasOf('b3'), bQuotas, 'cloned: the same quotas');
    await vr.perform('vr.delete', { name: 'b2' });
    await vr.perform('vr.start', { name: 'b3' });
    t.same(await shareOf('b3'), { unit: 'bits', guarantee: 30e6, limit: 35e6, weight: 4 }, 'cloned: the same share once started');
    await vr.perform('vr.delete', { name: 'b3' });
    await vr.perform('port.del', { name: 'wan' });
    t.same(await vr.perform('port.list', {}), [], 'the port closed');
  });
}
