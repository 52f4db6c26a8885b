// The plugins suite: what being an out-of-tree C++ plugin costs an element. The built-in Counter
// and PluginCounter (the very same source compiled into test/fixtures/plugin's library) each
// in a chain of CHAIN copies between a generator and Discard, on one worker, the two chains
// alternated run by run in one process; a generator -> Discard baseline run beside them is
// subtracted, so the figure is each element's own CPU ns per packet; the plugin's against the
// built-in's of the same round. Target: within 2%.
import { compile, Counter, Discard, graph, InfiniteSource, runPlan, type Plan } from 'pktgraph';
import { buildTestPlugin } from '../../test/fixtures/plugin/build.js';
import { PluginCounter } from '../../test/fixtures/plugin/index.js';
import { stats, type CaseResult } from '../lib.js';
import type { Suite } from '../harness.js';

// Long enough that the elements, not the generator, are most of the cost (Counter is cheap).
const CHAIN = 64;
const TARGET = 1.02;

function chainPlan(name: string, element: (i: number) => ReturnType<typeof Counter> | undefined): Plan {
  return compile(graph(name, () => {
    let last = InfiniteSource({ length: 64, burst: 64 }, { name: 'src', thread: 0 });
    for (let i = 0; i < CHAIN; i++) {
      const e = element(i);
      if (e) last = last.to(e);
    }
    last.to(Discard({}, 'sink'));
  }));
}

export const pluginsSuite: Suite = {
  description: 'a C++ plugin element against the same element built in',
  defaultRuns: 7,
  async run(ctx) {
    buildTestPlugin();
    const kinds = [
      { key: 'baseline', name: 'generator -> Discard', plan: chainPlan('plugins-baseline', () => undefined) },
      { key: 'builtin', name: `generator -> ${CHAIN} x Counter (built in) -> Discard`, plan: chainPlan('plugins-builtin', (i) => Counter({}, `c${i}`)) },
      { key: 'plugin', name: `generator -> ${CHAIN} x PluginCounter (plugin) -> Discard`, plan: chainPlan('plugins-plugin', (i) => PluginCounter({}, `c${i}`)) },
    ];
    const cpu: Record<string, number[]> = { baseline: [], builtin: [], plugin: [] };
    const mpps: Record<string, number[]> = { baseline: [], builtin: [], plugin: [] };
    ctx.progress.plan(1);
    ctx.progress.startCase(0, 'baseline, built-in and plugin chains, alternated');
    for (let r = 0; r < ctx.runs; r++) {
      ctx.progress.step(r + 1, ctx.runs);
      // Alternate the order too, so a slow stretch of the machine does not favour one kind.
      for (const k of r % 2 ? [...kinds].reverse() : kinds) {
        const s = await runPlan(k.plan, { threads: 1, duration: ctx.seconds, warmup: ctx.warmup, stopWhenDrained: false, poolBuffers: 16384 });
        cpu[k.key].push(s.cpuNsPerPacket);
        mpps[k.key].push(s.mpps);
      }
    }
    // Per element, run by run: (chain - baseline of the same round) / CHAIN.
    const perElement = (key: string) => cpu[key].map((v, i) => (v - cpu.baseline[i]) / CHAIN);
    const builtin = stats(perElement('builtin'));
    const plugin = stats(perElement('plugin'));
    // Paired by round (the two ran seconds apart), then the median over the rounds.
    const ratios = stats(perElement('plugin').map((v, i) => v / perElement('builtin')[i]));
    const ratio = ratios.median;
    const cases: CaseResult[] = kinds.map((k): CaseResult => ({
      suite: 'plugins',
      name: k.name,
      description: k.key === 'baseline' ? 'the chains without their elements' : `${CHAIN} elements in a chain, one worker, 64-byte packets in bursts of 64`,
      threads: 1,
      frameBytes: 64,
      forwarder: 'engine',
      mpps: stats(mpps[k.key]),
      cpuNsPerPacket: stats(cpu[k.key]).median,
      warnings: [],
      extra: k.key === 'baseline' ? undefined : { nsPerElement: Math.round((k.key === 'plugin' ? plugin : builtin).median * 1000) / 1000 },
    }));
    const p = cases[2];
    p.extra = { ...p.extra, ratio: Math.round(ratio * 1000) / 1000 };
    p.target = { ratio: TARGET, note: `within 2% of the built-in element (measured ${((ratio - 1) * 100).toFixed(1)}%)` };
    p.met = ratio <= TARGET;
    return {
      cases,
      notes: [
        `Per element: built in ${builtin.median.toFixed(3)} ns (runs ${builtin.min.toFixed(3)}-${builtin.max.toFixed(3)}), plugin ${plugin.median.toFixed(3)} ns (${plugin.min.toFixed(3)}-${plugin.max.toFixed(3)}); plugin / built in, round by round: median ${ratio.toFixed(3)} (${ratios.min.toFixed(3)}-${ratios.max.toFixed(3)}).`,
      ],
    };
  },
};
