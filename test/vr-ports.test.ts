// Ports shared by virtual routers (issue 11, items 3 and 6): one `pktgraph serve` engine opens a
// lab veth as the port 'uplink'; tenants a and b, made from one graph file with the same
// addresses, attach to it on VLANs 10 and 20 (FromPort/ToPort) and each bridges it to a port of
// its own (a veth to its host). Frames are made and read with raw AF_PACKET sockets (the
// kernel here has no VLAN devices), every frame tagged with a text tag, so each check is a
// count of tags:
//   - demux by VLAN: tagged frames from the uplink reach only their VLAN's tenant, untagged;
//     a tenant's frames leave on the uplink tagged with its VLAN only (captures on every side);
//   - broadcasts kept per VLAN; demux by MAC among routers on one VLAN; frames nobody claims
//     counted by reason;
//   - a router attaching and detaching again and again while a tenant forwards: the tenant
//     loses no frame; a tenant reconfigured live ten times under traffic keeps its ring and
//     class (every frame delivered), and a reconfiguration onto a claimed VLAN is refused;
//   - a flooded tenant (an expensive graph, flooded) does not starve another on the same port
//     and worker: the other's delivered count stays >= 90% of what it is alone, and the flood's
//     excess is counted at the flooded router's own ring;
//   - every bad request (a claimed VLAN or MAC, an unknown port, a port in use, a bad share)
//     refused with one sentence and nothing changed (vr.list and port.list compared).
// Needs root and network namespaces (skips with the reason otherwise); run under
// flock /tmp/pktgraph-lab.lock. Lab objects carry the prefix pg-pgp..., removed even on failure.
import t from 'tap';
import { type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLab, labAvailable } from '../src/lab/index.js';
import type { Engine } from '../src/service/client.js';
import { delay } from './lib/labtools.js';
import { BROADCAST, receiveFrames, sendFrames, startEngine, until } from './lib/ports.js';

const TENANT = `import { graph, FromPort, ToPort, FromDevice, ToDevice, Counter } from 'pktgraph';
// A tenant: the shared uplink (its VLAN) bridged to its own device, both ways.
export default graph({ name: 'tenant', params: { vlan: 0, dev: '' } }, (p) => {
  FromPort({ port: 'uplink', vlan: p.vlan }, 'in').to(Counter({}, 'down')).to(ToDevice({ device: p.dev }, 'tx'));
  FromDevice({ device: p.dev }, 'rx').to(Counter({}, 'up')).to(ToPort({ port: 'uplink', vlan: p.vlan }, 'out'));
});
`;
const SINK = `import { graph, FromPort, Counter, Discard } from 'pktgraph';
// A router that only counts what its claim brings: a VLAN and (optionally) one MAC address.
export default graph({ name: 'sink', params: { vlan: 0, mac: '', port: 'uplink' } }, (p) => {
  FromPort({ port: p.port, vlan: p.vlan, macs: p.mac ? [p.mac] : [] }, 'in').to(Counter({}, 'count')).to(Discard());
});
`;
// Each frame copied 64 times and the copies freed: a graph that costs microseconds a frame.
const HEAVY = `import { graph, FromPort, Tee, Discard } from 'pktgraph';
export default graph({ name: 'heavy', params: { vlan: 0 } }, (p) => {
  const tee = FromPort({ port: 'uplink', vlan: p.vlan, burst: 8 }, 'in').to(Tee({}, 'tee'));
  for (let i = 0; i < 64; i++) tee.out(i).to(Discard());
});
`;

const avail = labAvailable();
if (!avail.ok) {
  t.test('ports shared by virtual routers', { skip: avail.reason }, async () => {});
} else {
  t.test('ports shared by virtual routers', async (t) => {
    const work = mkdtempSync(join(tmpdir(), 'pktgraph-ports-'));
    const lab = createLab(
      { hosts: [{ name: 'up' }, { name: 'a' }, { name: 'b' }], links: [{ a: 'up', b: 'engine' }, { a: 'a', b: 'engine' }, { a: 'b', b: 'engine' }] },
      { id: `pgp${randomBytes(1).toString('hex')}` },
    );
    const children: ChildProcess[] = [];
    t.teardown(() => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      lab.destroy();
      rmSync(work, { recursive: true, force: true });
    });
    const [upIf, upEng, aIf, aEng, bIf, bEng] = [lab.link(0).a, lab.link(0).b, lab.link(1).a, lab.link(1).b, lab.link(2).a, lab.link(2).b];
    const files = { tenant: join(work, 'tenant.ts'), sink: join(work, 'sink.ts'), heavy: join(work, 'heavy.ts') };
    writeFileSync(files.tenant, TENANT);
    writeFileSync(files.sink, SINK);
    writeFileSync(files.heavy, HEAVY);
    // No IPv6 on the uplink's far end: its router solicitations would be unclaimed frames too,
    // and the unclaimed counts are checked exactly.
    await lab.exec('up', ['sysctl', '-qw', `net.ipv6.conf.${upIf}.disable_ipv6=1`]);
    const { engine, serve, stderr } = await startEngine(work, 1, children);

    await engine.addPort('uplink', upEng, { rate: 1e9 });
    t.equal((await engine.createRouter('a', { file: files.tenant, params: { vlan: 10, dev: aEng } }, { start: true })).state, 'running');
    t.equal((await engine.createRouter('b', { file: files.tenant, params: { vlan: 20, dev: bEng } }, { start: true })).state, 'running');
    const port = async () => (await engine.listPorts()).find((p) => p.name === 'uplink')!;
    t.same(
      (await port()).attachments.map((x) => [x.router, x.vlan]).sort(),
      [
        ['a', 10],
        ['b', 20],
      ],
      'port list shows both attachments',
    );

    t.test('demux by VLAN, both ways; broadcasts kept per VLAN; unclaimed counted', async (t) => {
      const atA = await receiveFrames(lab, 'a', aIf);
      const atB = await receiveFrames(lab, 'b', bIf);
      const atUp = await receiveFrames(lab, 'up', upIf);
      const before = (await port()).counters;
      // From the uplink: unicast and broadcast on each VLAN, and frames nobody claims.
      await sendFrames(lab, 'up', upIf, 20, 10, '02:00:00:00:0a:01', 'ua');
      await sendFrames(lab, 'up', upIf, 20, 20, '02:00:00:00:0b:01', 'ub');
      await sendFrames(lab, 'up', upIf, 10, 10, BROADCAST, 'bca');
      await sendFrames(lab, 'up', upIf, 10, 20, BROADCAST, 'bcb');
      await sendFrames(lab, 'up', upIf, 15, 30, BROADCAST, 'none30');
      await sendFrames(lab, 'up', upIf, 5, 0, BROADCAST, 'untagged');
      // From each tenant's own side: out on the uplink with the tenant's tag.
      await sendFrames(lab, 'a', aIf, 20, 0, BROADCAST, 'fa');
      await sendFrames(lab, 'b', bIf, 20, 0, BROADCAST, 'fb');
      await until('the unclaimed frames counted', async () => (await port()).counters.unclaimed.vlan - before.unclaimed.vlan >= 20);
      await sendFrames(lab, 'up', upIf, 1, 10, BROADCAST, 'end');
      await sendFrames(lab, 'up', upIf, 1, 20, BROADCAST, 'end');
      await sendFrames(lab, 'a', aIf, 1, 0, BROADCAST, 'end');
      const [a, b, up] = await Promise.all([atA.frames, atB.frames, atUp.frames]);
      const tags = (got: Array<[number, string]>, prefix: string) => got.filter(([, tag]) => tag.startsWith(`${prefix}-`));
      t.equal(tags(a, 'ua').length, 20, 'a got the 20 unicast frames of VLAN 10');
      t.equal(tags(a, 'bca').length, 10, 'a got the 10 broadcasts of VLAN 10');
      t.equal(tags(b, 'ub').length, 20, 'b got the 20 unicast frames of VLAN 20');
      t.equal(tags(b, 'bcb').length, 10, 'b got the 10 broadcasts of VLAN 20');
      t.same(a.filter(([, tag]) => !/^(ua|bca|fa|end)-/.test(tag)), [], "nothing of VLAN 20, 30 or the untagged segment reached a's side");
      t.same(b.filter(([, tag]) => !/^(ub|bcb|fb|end)-/.test(tag)), [], "nothing of VLAN 10, 30 or the untagged segment reached b's side");
      t.ok([...a, ...b].every(([vlan]) => vlan === 0), 'frames reach the tenants untagged');
      t.equal(tags(up, 'fa').length, 20, "a's 20 frames left on the uplink");
      t.equal(tags(up, 'fb').length, 20, "b's 20 frames left on the uplink");
      t.ok(tags(up, 'fa').every(([vlan]) => vlan === 10), "a's frames carry VLAN 10, and only that");
      t.ok(tags(up, 'fb').every(([vlan]) => vlan === 20), "b's frames carry VLAN 20, and only that");
      const after = (await port()).counters;
      t.equal(after.unclaimed.vlan - before.unclaimed.vlan, 20, 'the 15 frames of VLAN 30 and 5 untagged counted as unclaimed (vlan), dropped');
    });

    t.test('demux by MAC among routers on one VLAN', async (t) => {
      const mc = '02:00:00:00:30:0c';
      const md = '02:00:00:00:30:0d';
      await engine.createRouter('c', { file: files.sink, params: { vlan: 30, mac: mc } }, { start: true });
      await engine.createRouter('d', { file: files.sink, params: { vlan: 30, mac: md } }, { start: true });
      const count = async (r: string) => (await engine.counters(r)).count.packets;
      const before = (await port()).counters;
      await sendFrames(lab, 'up', upIf, 30, 30, mc, 'toc');
      await sendFrames(lab, 'up', upIf, 20, 30, md, 'tod');
      await sendFrames(lab, 'up', upIf, 7, 30, BROADCAST, 'bc30');
      await sendFrames(lab, 'up', upIf, 9, 30, '02:00:00:00:30:99', 'nobody');
      await until('the frames counted', async () => (await count('c')) >= 37n && (await count('d')) >= 27n && (await port()).counters.unclaimed.mac - before.unclaimed.mac >= 9);
      await delay(200);
      t.equal(await count('c'), 37n, 'c got its 30 unicast frames and the 7 broadcasts');
      t.equal(await count('d'), 27n, 'd got its 20 unicast frames and the 7 broadcasts');
      t.equal((await port()).counters.unclaimed.mac - before.unclaimed.mac, 9, 'unicast to an address nobody on VLAN 30 claims: counted (mac), dropped');
      t.equal((await engine.counters('a')).in.packets, (await engine.counters('a')).down.packets, 'a untouched');
      await engine.deleteRouter('c');
      await engine.deleteRouter('d');
    });

    /** The tags of `n` frames sent to a on VLAN 10 (1 ms apart) that reached a's side while `meanwhile` ran. */
    const streamToA = async (n: number, tag: string, meanwhile: () => Promise<void>) => {
      const atA = await receiveFrames(lab, 'a', aIf);
      await Promise.all([sendFrames(lab, 'up', upIf, n, 10, '02:00:00:00:0a:01', tag, 0.001), meanwhile()]);
      await sendFrames(lab, 'up', upIf, 1, 10, BROADCAST, 'end');
      return (await atA.frames).filter(([, x]) => x.startsWith(`${tag}-`)).map(([, x]) => x);
    };

    t.test('a router attaching and detaching loses none of another tenant\'s frames', async (t) => {
      const n = 1500;
      let cycles = 0;
      const got = await streamToA(n, 'steady', async () => {
        for (; cycles < 30; cycles++) {
          await engine.createRouter('churn', { file: files.sink, params: { vlan: 40 } }, { start: true });
          await engine.deleteRouter('churn');
        }
      });
      t.equal(cycles, 30, '30 attach/detach cycles ran meanwhile');
      t.equal(new Set(got).size, n, `all ${n} frames of a's steady stream delivered, none twice`);
      t.equal(got.length, n, 'and no more');
    });

    t.test('a tenant reconfigured live keeps its ring and class: none of its frames lost', async (t) => {
      const n = 1000;
      let swaps = 0;
      const got = await streamToA(n, 'swap', async () => {
        for (; swaps < 10; swaps++) {
          const r = await engine.reconfigureRouter('a', { file: files.tenant, params: { vlan: 10, dev: aEng } });
          t.ok(r.swap!.taken >= 4, `swap ${swaps}: FromPort, ToPort and the rest took over (${r.swap!.taken} elements)`);
          await delay(50);
        }
      });
      t.equal(new Set(got).size, n, `all ${n} frames delivered across ${swaps} live reconfigurations`);
      t.same((await port()).attachments.filter((x) => x.router === 'a').length, 1, 'a is attached once');
      // A reconfiguration onto b's VLAN is refused before anything changes.
      await t.rejects(engine.reconfigureRouter('a', { file: files.tenant, params: { vlan: 20, dev: aEng } }), /^VLAN 20 on port uplink is claimed by router b; /);
      t.equal((await port()).attachments.find((x) => x.router === 'a')!.vlan, 10, 'a still claims VLAN 10');
    });

    t.test('a flooded tenant does not starve another on the same port and worker', async (t) => {
      // b's own side receives what b forwards; a is replaced by a router whose graph costs
      // microseconds a frame, flooded.
      await engine.deleteRouter('a');
      await engine.createRouter('heavy', { file: files.heavy, params: { vlan: 10 } }, { start: true });
      const delivered = async (tag: string) => {
        const atB = await receiveFrames(lab, 'b', bIf);
        await sendFrames(lab, 'up', upIf, 1000, 20, '02:00:00:00:0b:01', tag, 0.001);
        await sendFrames(lab, 'up', upIf, 1, 20, BROADCAST, 'end');
        return (await atB.frames).filter(([, x]) => x.startsWith(`${tag}-`)).length;
      };
      const alone = await delivered('alone');
      const heavyBefore = await engine.counters('heavy');
      // The flood: two senders as fast as they go, for as long as b's measurement runs.
      const flood = [0, 1].map(() => sendFrames(lab, 'up', upIf, 400000, 10, '02:00:00:00:0a:01', 'flood', 0));
      await delay(500);
      const loaded = await delivered('loaded');
      const heavy = await engine.counters('heavy');
      await Promise.all(flood);
      t.ok(alone >= 990, `b alone delivered ${alone} of 1000`);
      t.ok(loaded >= 0.9 * alone, `b under a's flood delivered ${loaded} of 1000, at least 90% of ${alone} alone`);
      const excess = heavy.in.drops_ring_full - heavyBefore.in.drops_ring_full;
      t.ok(excess > 0n, `the flood's excess was dropped at the flooded router's own ring (drops_ring_full ${excess})`);
      t.ok(heavy.in.budget_exhausted > 0n, `the flooded router used up its CPU share (budget_exhausted ${heavy.in.budget_exhausted})`);
      t.comment(`heavy router: ${heavy.in.packets - heavyBefore.in.packets} frames processed, ${excess} dropped at its ring`);
      await engine.deleteRouter('heavy');
      await engine.createRouter('a', { file: files.tenant, params: { vlan: 10, dev: aEng } }, { start: true });
    });

    t.test('bad requests are refused with one sentence and change nothing', async (t) => {
      const state = async (e: Engine) => ({ routers: await e.listRouters(), ports: (await e.listPorts()).map((p) => ({ ...p, counters: undefined, attachments: p.attachments.map((x) => ({ ...x, share: x.share && { ...x.share, sent: undefined, backlog: undefined } })) })) });
      const refused = async (what: string, f: () => Promise<unknown>, pattern: RegExp) => {
        const before = await state(engine);
        await t.rejects(f(), pattern, what);
        const after = await state(engine);
        // A create that compiled but failed at start leaves a defined router: delete it, and compare the rest.
        const extra = after.routers.filter((r) => !before.routers.some((b) => b.name === r.name));
        for (const r of extra) await engine.deleteRouter(r.name);
        t.same({ ...after, routers: after.routers.filter((r) => !extra.includes(r)) }, before, `${what}: nothing changed`);
      };
      await refused('a VLAN another router claims', () => engine.createRouter('e', { file: files.sink, params: { vlan: 10 } }, { start: true }), /^VLAN 10 on port uplink is claimed by router a; /);
      await engine.createRouter('m1', { file: files.sink, params: { vlan: 50, mac: '02:00:00:00:50:01' } }, { start: true });
      await refused('a MAC another router claims on the VLAN', () => engine.createRouter('m2', { file: files.sink, params: { vlan: 50, mac: '02:00:00:00:50:01' } }, { start: true }), /^MAC 02:00:00:00:50:01 on VLAN 50 of port uplink is claimed by router m1; /);
      await engine.deleteRouter('m1');
      await refused('an unknown port', () => engine.createRouter('e', { file: files.sink, params: { vlan: 60, port: 'nosuch' } }, { start: true }), /names port 'nosuch', which does not exist/);
      await refused('deleting a port in use', () => engine.deletePort('uplink'), /^port 'uplink' is used by virtual routers a, b; .* or force it \(port del --force\)/);
      await refused('a port name taken', () => engine.addPort('uplink', upEng), /^the name 'uplink' is taken by another port/);
      await refused('a bad port name', () => engine.addPort('up/link', upEng), /^'up\/link' is not a valid port name/);
      await refused('a device that does not exist', () => engine.addPort('ghost', 'pgp-nosuch0'), /^port 'ghost' could not be opened on device 'pgp-nosuch0'/);
      await refused('a limit below the guarantee', () => engine.shareRouter('a', 'uplink', { guarantee: 50e6, limit: 10e6 }), /limit 10Mbit is below the guarantee 50Mbit/);
      await refused('guarantees over the port rate', () => engine.shareRouter('a', 'uplink', { guarantee: 2e9 }), /above its rate of 1Gbit/);
      await refused('a share on an unknown port', () => engine.shareRouter('a', 'nosuch', { guarantee: 1e6 }), /^there is no port named 'nosuch'/);
      await refused('a share for an unknown router', () => engine.shareRouter('zz', 'uplink', { guarantee: 1e6 }), /^there is no virtual router named 'zz'/);
      await refused('a share above the range', () => engine.shareRouter('a', 'uplink', { guarantee: 1e13 }), /field 'guarantee'/);
      // A good share is taken, and shown.
      const s = await engine.shareRouter('b', 'uplink', { guarantee: 100e6, limit: 400e6, weight: 3 });
      t.same(s, { name: 'b', port: 'uplink', unit: 'bits', guarantee: 100e6, limit: 400e6, weight: 3 }, 'a share within the rules is taken');
      t.same((await port()).attachments.find((x) => x.router === 'b')!.share!.weight, 3, 'port list shows it');
      // Packets/s: a new unit with a rate left in the old one, or a guarantee the port cannot carry in full-size frames.
      await refused('a new unit without the limit in it', () => engine.shareRouter('b', 'uplink', { unit: 'packets', guarantee: 1000 }), /share of router 'b' on port uplink is in bits\/s; to change it to packets\/s give the limit in the new unit too/);
      await refused('a packets/s guarantee beyond the port in full-size frames', () => engine.shareRouter('b', 'uplink', { unit: 'packets', guarantee: 1e5, limit: 0 }), /guarantee of 100000 packets\/s .* \(packets\/s counted at full-size frames\), above its rate of 1Gbit/);
      t.same(await engine.shareRouter('b', 'uplink', { unit: 'packets', guarantee: 2000, limit: 10000 }), { name: 'b', port: 'uplink', unit: 'packets', guarantee: 2000, limit: 10000, weight: 3 }, 'a share in packets/s is taken');
      t.match((await port()).attachments.find((x) => x.router === 'b')!.share, { unit: 'packets', guarantee: 2000, limit: 10000 }, 'port list shows it in packets/s');
    });

    t.test('the port closes once its routers are gone', async (t) => {
      await engine.deleteRouter('a');
      await engine.deleteRouter('b');
      t.same(await engine.deletePort('uplink'), { name: 'uplink', detached: [] });
      t.same(await engine.listPorts(), [], 'no ports left');
      const exited = new Promise<number | null>((r) => serve.on('exit', (code) => r(code)));
      await engine.stop();
      t.equal(await exited, 0, `the engine stopped with every buffer back in the pool ${stderr()}`);
    });
  });
}
