// The engine suite: packets generated in memory, moved through small graphs, counted.
// No devices; what it measures is the engine's own per-packet cost.
import { graph, compile, runPlan, InfiniteSource, Discard, Counter, Classifier, Strip, Idle, EtherSwitch, VLANSwitch, type GraphDefinition } from 'pktgraph';
import { stats, spreadWarning, gbitPerSecond, cpuShare, cpuShareWarning, type CaseResult } from '../lib.js';
import type { Suite } from '../harness.js';

// A 64-byte Ethernet/IPv4/UDP frame (198.18.0.1 -> 198.19.0.1), checksums right.
const IPV4_UDP_64 =
  '020000000002' + '020000000001' + '0800' +
  '45000032000000004011ee93c6120001c6130001' +
  '04000009001e6f81' + '00'.repeat(22);

interface EngineCase {
  name: string;
  description: string;
  threads: number;
  frameBytes: number;
  build: () => GraphDefinition;
  target?: { mpps?: number; note: string };
}

// One pipeline per thread, each pinned to its own worker: independent work.
function pipelines(threads: number, body: (i: number) => void): () => GraphDefinition {
  return () => graph(`bench-${threads}`, () => { for (let i = 0; i < threads; i++) body(i); });
}

function discardPipeline(i: number) {
  InfiniteSource({ data: IPV4_UDP_64, burst: 64 }, { name: `src${i}`, thread: i }).to(Discard({}, `sink${i}`));
}

function classifierPipeline(i: number) {
  const c = Classifier({ patterns: ['12/0806 20/0001', '12/0806 20/0002', '12/0800', '-'] }, `cl${i}`);
  InfiniteSource({ data: IPV4_UDP_64, burst: 64 }, { name: `src${i}`, thread: i }).to(c);
  c.out(0).to(Discard({}, `arpq${i}`));
  c.out(1).to(Discard({}, `arpr${i}`));
  c.out(2).to(Strip({ length: 14 }, `strip${i}`)).to(Counter({}, `count${i}`)).to(Discard({}, `sink${i}`));
  c.out(3).to(Discard({}, `other${i}`));
}

// A two-port switch: frames from port 0 to an unknown destination leave by port 1 (a flood to
// one port: no copies), so this is the switch's per-frame lookup, learning and split.
// VLANSwitch: port 0 a trunk, the frames tagged VLAN 10; port 1 an access port of VLAN 10, so
// each frame is also untagged on the way.
const VLAN10_UDP_68 = IPV4_UDP_64.slice(0, 24) + '8100000a' + IPV4_UDP_64.slice(24);
function switchPipeline(vlan: boolean) {
  return (i: number) => {
    const sw = vlan ? VLANSwitch({ ports: [{ mode: 'trunk', allowed: [10] }, { vlan: 10 }] }, `sw${i}`) : EtherSwitch({}, `sw${i}`);
    InfiniteSource({ data: vlan ? VLAN10_UDP_68 : IPV4_UDP_64, burst: 64 }, { name: `src${i}`, thread: i }).to(sw.in(0));
    Idle({}, `idle${i}`).to(sw.in(1));
    sw.out(0).to(Discard({}, `back${i}`));
    sw.out(1).to(Discard({}, `sink${i}`));
  };
}

export const engineCases: EngineCase[] = [
  { name: 'generator -> Discard', description: 'InfiniteSource (64 B frames, burst 64) straight into Discard.', threads: 1, frameBytes: 64, build: pipelines(1, discardPipeline), target: { mpps: 40, note: '>= 40 Mpps (Click ~15)' } },
  { name: 'generator -> Discard', description: 'Two independent pipelines, one per worker.', threads: 2, frameBytes: 64, build: pipelines(2, discardPipeline), target: { note: '>= 1.8x one thread' } },
  { name: 'generator -> Classifier -> Strip -> Counter -> Discard', description: 'Classifier with four patterns (ARP query, ARP reply, IPv4, other); IPv4 frames go on through Strip(14) and Counter.', threads: 1, frameBytes: 64, build: pipelines(1, classifierPipeline), target: { mpps: 25, note: '>= 25 Mpps' } },
  { name: 'generator -> Classifier -> Strip -> Counter -> Discard', description: 'Two independent pipelines, one per worker.', threads: 2, frameBytes: 64, build: pipelines(2, classifierPipeline), target: { note: '>= 1.8x one thread' } },
  { name: 'generator -> EtherSwitch (2 ports) -> Discard', description: 'A learning bridge: each frame learned, looked up and sent to the other port.', threads: 1, frameBytes: 64, build: pipelines(1, switchPipeline(false)) },
  { name: 'generator -> VLANSwitch (trunk -> access) -> Discard', description: 'The VLAN-aware switch: each frame tagged VLAN 10 on a trunk, learned and looked up in its VLAN, untagged for the access port.', threads: 1, frameBytes: 68, build: pipelines(1, switchPipeline(true)) },
];

export const engineSuite: Suite = {
  description: 'in-memory graphs, one and two workers',
  defaultRuns: 5,
  async run(ctx) {
    const results: CaseResult[] = [];
    ctx.progress.plan(engineCases.length);
    for (const [i, c] of engineCases.entries()) {
      ctx.progress.startCase(i, `${c.name}, ${c.threads} worker(s)`);
      const plan = compile(c.build());
      const runs: { mpps: number; cpu: number; packets: number; share: number }[] = [];
      for (let r = 0; r < ctx.runs; r++) {
        ctx.progress.step(r + 1, ctx.runs);
        // runPlan runs the warm-up first and does not count it.
        const s = await runPlan(plan, { threads: c.threads, duration: ctx.seconds, warmup: ctx.warmup, stopWhenDrained: false, poolBuffers: 16384 });
        runs.push({ mpps: s.mpps, cpu: s.cpuNsPerPacket, packets: s.packets, share: cpuShare(s, c.threads) });
      }
      const st = stats(runs.map((r) => r.mpps));
      const median = [...runs].sort((a, b) => a.mpps - b.mpps)[(runs.length - 1) >> 1];
      const warnings: string[] = [];
      const w = spreadWarning('throughput', st, 'Mpps');
      if (w) warnings.push(w);
      const share = stats(runs.map((r) => r.share)).median;
      const sw = cpuShareWarning(share);
      if (sw) warnings.push(sw);
      const result: CaseResult = {
        suite: 'engine',
        name: c.name,
        description: c.description,
        threads: c.threads,
        frameBytes: c.frameBytes,
        forwarder: 'engine',
        mpps: st,
        packets: median.packets,
        gbps: gbitPerSecond(st.median, c.frameBytes),
        cpuNsPerPacket: stats(runs.map((r) => r.cpu)).median,
        warnings,
        extra: { cpuShare: Math.round(share * 100) / 100 },
      };
      if (c.target) {
        result.target = c.target;
        if (c.target.mpps !== undefined) result.met = st.median >= c.target.mpps;
      }
      results.push(result);
    }
    // Scaling: two threads against one, per pipeline kind.
    for (const r of results) {
      if (r.threads !== 2) continue;
      const one = results.find((o) => o.name === r.name && o.threads === 1);
      if (!one) continue;
      const ratio = r.mpps!.median / one.mpps!.median;
      r.extra = { ...(r.extra ?? {}), scaling: Math.round(ratio * 100) / 100 };
      r.target = { ratio: 1.8, note: `>= 1.8x one thread (measured ${ratio.toFixed(2)}x)` };
      r.met = ratio >= 1.8;
    }
    return { cases: results };
  },
};
