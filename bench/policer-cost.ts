// Policer's cost per packet at 64 B on one worker: InfiniteSource -> [stage] -> Discard against
// InfiniteSource -> Discard, alternated run by run, CPU ns per packet (the worker's thread CPU
// time over packets), medians; the stage's cost is the difference of the medians.
// Then the same with two workers, each with its own source, into one shared Policer (its lock
// taken by both, once per batch) against two sources into Discard.
// Run: flock /tmp/pktgraph-bench.lock npx tsx bench/policer-cost.ts [runs] [seconds]
import { graph, compile, runPlan, InfiniteSource, Discard, Policer, type ElementNode } from 'pktgraph';

const FRAME = '020000000002' + '020000000001' + '0800' + '45000032000000004011ee93c6120001c6130001' + '04000009001e6f81' + '00'.repeat(22);
const runs = Number(process.argv[2] ?? 5);
const seconds = Number(process.argv[3] ?? 2);

// Each stage: packets in, colours as the settings make them.
const stages: [string, (() => ElementNode) | null][] = [
  ['baseline (no stage)', null],
  ['srTCM blind, all green (cir 1 Tbit/s)', () => Policer({ cir: 1e12, cbs: 100000, ebs: 100000 }, 'pol')],
  ["srTCM blind, green and red (overload keeps E empty), red 'pass' (cir 10 Gbit/s)", () => Policer({ cir: 10e9, cbs: 1500, ebs: 1500, redAction: 'pass' }, 'pol')],
  ["trTCM aware, mixed, 'paint' every colour", () => Policer({ mode: 'trtcm', cir: 10e9, cbs: 1500, pir: 15e9, pbs: 3000, colorAware: true, greenAction: 'paint', yellowAction: 'paint', redAction: 'paint' }, 'pol')],
  ["srTCM blind, green and red, three outputs", () => Policer({ cir: 10e9, cbs: 1500, ebs: 1500, redAction: 'pass' }, 'pol')],
];

stages.push(['two workers, two sources into Discard', null], ['two workers, two sources into one srTCM Policer, all green', () => Policer({ cir: 1e12, cbs: 100000, ebs: 100000 }, 'pol')]);
const threadsOf = (name: string) => (name.startsWith('two workers') ? 2 : 1);

const plans = stages.map(([name, make], i) =>
  compile(
    graph(`policer-cost-${i}`, () => {
      const srcs = Array.from({ length: threadsOf(name) }, (_, w) => InfiniteSource({ data: FRAME, burst: 64 }, { name: `src${w}`, thread: w }));
      if (!make) return void srcs.forEach((s) => s.to(Discard()));
      const p = make();
      srcs.forEach((s) => s.to(p));
      if (name.includes('three outputs')) for (let o = 0; o < 3; o++) p.out(o).to(Discard());
      else p.to(Discard());
    }),
  ),
);
const ns: number[][] = stages.map(() => []);
const colours: string[] = stages.map(() => '');
for (let r = 0; r < runs; r++)
  for (const [i, plan] of plans.entries()) {
    const s = await runPlan(plan, { threads: threadsOf(stages[i][0]), duration: seconds, warmup: 0.5, stopWhenDrained: false, poolBuffers: 16384 });
    ns[i].push(s.cpuNsPerPacket);
    const c = s.elements.pol;
    const all = c ? c.green_packets + c.yellow_packets + c.red_packets : 0;
    if (c) colours[i] = [`green`, `yellow`, `red`].map((k) => `${k} ${((100 * c[`${k}_packets`]) / all).toFixed(0)}%`).join(', ');
  }
const median = (a: number[]) => [...a].sort((x, y) => x - y)[(a.length - 1) >> 1];
const base = (i: number) => median(ns[threadsOf(stages[i][0]) === 1 ? 0 : stages.findIndex(([n]) => n === 'two workers, two sources into Discard')]);
console.log(`${new Date().toISOString()}, ${runs} alternated runs of ${seconds} s, 64 B frames`);
for (const [i, [name]] of stages.entries())
  console.log(`${name}\n  ${median(ns[i]).toFixed(2)} ns/packet${stages[i][1] ? `, stage ${(median(ns[i]) - base(i)).toFixed(2)} ns` : ''} (runs ${ns[i].map((x) => x.toFixed(2)).join(' ')})${colours[i] ? `; ${colours[i]}` : ''}`);
