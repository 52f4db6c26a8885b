// The scenarios suite (issue 14): how long `lab create` and `lab destroy` take for scenarios of
// 10, 50 and 200 nodes, a fifth of them pktgraph routers (virtual routers of the lab's engine,
// ipRouter) on one core LAN, each with a LAN of four hosts (namespaces) behind it. Each run
// builds the scenario, checks one ping from the first LAN to the last across two routers,
// destroys it and checks that nothing is left (ip netns, ip link, the engine's socket).
// The summary's figure (the harness's 'mpps' column, unit 's to create') is the create time; destroy
// times are in extra. Target: 50 nodes created in at most 10 s and destroyed in at most 5 s, nothing left.
// VNX's tutorial reports about 74 s for 6 virtual machines; containerlab takes seconds per container.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { stats, type CaseResult } from '../lib.js';
import type { Suite } from '../harness.js';
import { labAvailable, labObjects, sweep, ScenarioLab, loadScenario, type ScenarioT } from '../../src/lab/index.js';

const SIZES = [10, 50, 200];
const TARGET = { nodes: 50, createS: 10, destroyS: 5 };

/** N nodes: N/5 routers on a core LAN, four hosts on each router's own LAN. */
export function benchScenario(name: string, nodes: number): ScenarioT {
  const routers = Math.max(2, Math.round(nodes / 5));
  const s: ScenarioT = { name, nets: [{ name: 'core' }], nodes: [] };
  for (let r = 0; r < routers; r++) {
    s.nets.push({ name: `lan${r}` });
    const others = [...Array(routers).keys()].filter((o) => o !== r).map((o) => ({ to: `198.18.${o + 1}.0/24`, via: `198.18.0.${o + 1}` }));
    s.nodes.push({ name: `r${r}`, type: 'pktgraph-router', interfaces: [{ net: 'core', addresses: [`198.18.0.${r + 1}/24`] }, { net: `lan${r}`, addresses: [`198.18.${r + 1}.1/24`] }], routes: others });
  }
  for (let h = 0; s.nodes.length < nodes; h++) {
    const r = h % routers;
    s.nodes.push({ name: `h${h}`, type: 'host', interfaces: [{ net: `lan${r}`, addresses: [`198.18.${r + 1}.${10 + Math.floor(h / routers)}/24`] }], routes: [{ to: 'default', via: `198.18.${r + 1}.1` }] });
  }
  return loadScenario(JSON.stringify(s), `bench scenario of ${nodes} nodes`);
}

export const scenariosSuite: Suite = {
  description: 'lab create and destroy times, 10, 50 and 200 nodes',
  defaultRuns: 3,
  async run(ctx) {
    const avail = labAvailable();
    if (!avail.ok) return { cases: SIZES.map((n) => ({ ...base(n), status: 'skipped' as const, reason: avail.reason })) };
    const cases: CaseResult[] = [];
    for (const n of SIZES) {
      const create: number[] = [];
      const destroy: number[] = [];
      const warnings: string[] = [];
      for (let r = 0; r < ctx.runs; r++) {
        ctx.progress.step(r + 1, ctx.runs);
        const id = `pgb${randomBytes(1).toString('hex')}`;
        const s = benchScenario(id, n);
        const lab = new ScenarioLab(s, process.cwd());
        try {
          let t0 = performance.now();
          await lab.create();
          create.push((performance.now() - t0) / 1000);
          const last = s.nodes.filter((x) => x.type === 'host').at(-1)!;
          const ping = spawnSync('ip', ['netns', 'exec', lab.netns('h0'), 'ping', '-c', '1', '-W', '3', last.interfaces[0].addresses![0].split('/')[0]], { encoding: 'utf8' });
          if (ping.status !== 0) warnings.push(`run ${r + 1}: h0 could not ping ${last.name}`);
          t0 = performance.now();
          const d = await lab.destroy();
          destroy.push((performance.now() - t0) / 1000);
          if (d.left.length || existsSync(lab.socket)) warnings.push(`run ${r + 1}: left behind ${d.left.join(', ')}${existsSync(lab.socket) ? ' and the engine socket' : ''}`);
        } finally {
          await lab.destroy().catch(() => {});
          sweep(lab.prefix);
        }
        if (labObjects(lab.prefix).namespaces.length) warnings.push(`run ${r + 1}: namespaces left`);
      }
      const c = stats(create);
      const d = stats(destroy);
      const row: CaseResult = { ...base(n), warnings, mpps: c, extra: { unit: 's to create', createS: round(c.median), createMinS: round(c.min), createMaxS: round(c.max), destroyS: round(d.median), destroyMinS: round(d.min), destroyMaxS: round(d.max) } };
      if (n === TARGET.nodes) {
        row.target = { note: `created in <= ${TARGET.createS} s and destroyed in <= ${TARGET.destroyS} s, nothing left (median ${c.median.toFixed(2)} s / ${d.median.toFixed(2)} s)` };
        row.met = c.median <= TARGET.createS && d.median <= TARGET.destroyS && warnings.length === 0;
      }
      cases.push(row);
    }
    return { cases, notes: [`Create and destroy seconds, median of ${ctx.runs} runs (min-max in the JSON): ${cases.map((x) => `${x.name}: ${x.extra!.createS} s / ${x.extra!.destroyS} s`).join('; ')}.`] };
  },
};

const round = (v: number) => Math.round(v * 1000) / 1000;
const base = (n: number): CaseResult => ({
  suite: 'scenarios',
  name: `${n} nodes`,
  description: `${Math.max(2, Math.round(n / 5))} pktgraph routers on a core LAN, ${n - Math.max(2, Math.round(n / 5))} hosts (namespaces) on their LANs`,
  threads: 1,
  frameBytes: 0,
  forwarder: 'engine',
  warnings: [],
});
