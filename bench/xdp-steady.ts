// A smaller driver than the interfaces suite for the AF_XDP work of issue 15: one case on the
// suite's topology (gen -> veth -> device under test -> veth -> sink), steady offered loads,
// and per load the engine worker's CPU per forwarded frame (user + system) and the sink's
// delivered count; optionally the latency at chosen rates and a perf profile of the worker.
// Needs root. Run it from two checkouts in turn to compare builds side by side:
//
//   node --import tsx bench/xdp-steady.ts --case bridge-xdp --rates 200000,0 --seconds 3
//        [--latency 10000,100000] [--gen engine-xdp|engine|trafgen|xdp] [--sink-drop xdp] [--perf /tmp/w.data]
//
// --case: bridge-xdp, router-xdp, bridge (AF_PACKET V3), router, kernel-bridge, kernel-router.
// A rate of 0 is the generator's full rate.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { settingsFrom, ROUTER_MAC, SINK_DISCARD_MAC } from './suites/interfaces/settings.js';
import { buildLab, macOf, napiOn, sleep, type Env } from './suites/interfaces/topology.js';
import { chooseGenerator, makeGenerator, sinkXdpDrop } from './suites/interfaces/generator.js';
import { trial, measureLatency } from './suites/interfaces/trials.js';
import { engineBridge, engineRouter } from './suites/interfaces/engine-cases.js';
import { kernelBridge, kernelForwarding } from './suites/interfaces/kernel-cases.js';
import type { SuiteContext } from './harness.js';

const { values: o } = parseArgs({
  options: {
    case: { type: 'string', default: 'bridge-xdp' },
    rates: { type: 'string', default: '200000,0' },
    seconds: { type: 'string', default: '3' },
    latency: { type: 'string', default: '' },
    gen: { type: 'string', default: 'engine-xdp' },
    perf: { type: 'string', default: '' },
    'sink-drop': { type: 'string', default: 'stack' },
  },
});
const s = settingsFrom({ options: { other: {}, quick: true }, runs: 1 } as unknown as SuiteContext);
const cases = {
  'bridge-xdp': { setUp: engineBridge(1, s, 'xdp'), dst: 'sink' },
  'router-xdp': { setUp: engineRouter(s, 'xdp'), dst: 'router' },
  bridge: { setUp: engineBridge(1, s), dst: 'sink' },
  router: { setUp: engineRouter(s), dst: 'router' },
  'kernel-bridge': { setUp: kernelBridge, dst: 'sink' },
  'kernel-router': { setUp: kernelForwarding, dst: 'ingress' },
} as const;
const c = cases[o.case as keyof typeof cases];
if (!c) throw new Error(`--case takes ${Object.keys(cases).join(', ')}`);
const seconds = Number(o.seconds);
const tmp = mkdtempSync(join(tmpdir(), 'pktgraph-xdp-steady-'));
const lab = buildLab();
const choice = o.gen === 'xdp' ? chooseGenerator(undefined as never, true, false, { tmp }) : o.gen === 'trafgen' ? { kind: 'trafgen' as const, note: 'trafgen' } : { kind: 'engine' as const, note: o.gen, xdp: o.gen === 'engine-xdp' };
if (choice.kind === 'xdp') napiOn(lab.link(0).b);
const env: Env = { lab, gen: makeGenerator(lab, lab.link(0).a, choice, tmp), genNs: lab.netns('gen'), sinkNs: lab.netns('sink'), genIf: lab.link(0).a, sinkIf: lab.link(1).a };
const a = lab.link(0).b;
const b = lab.link(1).b;
const dstMac = c.dst === 'sink' ? SINK_DISCARD_MAC : c.dst === 'ingress' ? macOf(undefined, a) : ROUTER_MAC;
let teardown: (() => void) | undefined;
try {
  const dut = await c.setUp(env, a, b);
  teardown = dut.teardown;
  await sleep(300);
  const undrop = o['sink-drop'] === 'xdp' ? await sinkXdpDrop(lab, env.sinkIf, tmp) : undefined;
  await trial(env, dut.dut, 64, dstMac, 0, 0.5); // warm-up
  for (const rate of o.rates.split(',').map(Number)) {
    let perf: ReturnType<typeof spawn> | undefined;
    if (o.perf && rate === Number(o.rates.split(',').at(-1))) {
      const tid = spawnSync('sh', ['-c', `ps -L -o tid=,comm= -p ${process.pid} | awk '$2=="pktgraph-w0"{print $1}'`], { encoding: 'utf8' }).stdout.trim();
      perf = spawn('perf', ['record', '-g', '-t', tid, '-o', o.perf, '--', 'sleep', String(Math.max(1, seconds - 1))], { stdio: 'ignore' });
    }
    const e0 = dut.dut.engineSnapshot?.();
    const t = await trial(env, dut.dut, 64, dstMac, rate, seconds);
    const e1 = dut.dut.engineSnapshot?.();
    if (perf) await new Promise((r) => perf!.on('exit', r));
    const cpu = e0 && e1 && t.forwarded ? { nsPerPkt: Math.round(t.cpuNs! / t.forwarded), userNsPerPkt: e1.userNs !== undefined ? Math.round((e1.userNs - e0.userNs!) / t.forwarded) : undefined, sysNsPerPkt: e1.sysNs !== undefined ? Math.round((e1.sysNs - e0.sysNs!) / t.forwarded) : undefined } : {};
    console.log(JSON.stringify({ case: o.case, rate, offeredMpps: +(t.offeredPps / 1e6).toFixed(4), deliveredMpps: +(t.deliveredPps / 1e6).toFixed(4), lost: t.offered - t.delivered, ...cpu }));
  }
  undrop?.();
  for (const rate of o.latency ? o.latency.split(',').map(Number) : []) {
    const l = await measureLatency(env, 64, dstMac, rate, seconds);
    console.log(JSON.stringify({ case: o.case, latencyAt: rate, atMpps: +l.atMpps.toFixed(4), p50Us: +l.p50Us.toFixed(1), p99Us: +l.p99Us.toFixed(1), p999Us: +l.p999Us.toFixed(1), samples: l.samples }));
  }
} finally {
  teardown?.();
  lab.destroy();
  rmSync(tmp, { recursive: true, force: true });
}
