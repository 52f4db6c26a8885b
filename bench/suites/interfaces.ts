// The interfaces suite: forwarding between real (virtual) interfaces, RFC 2544 style, with the
// engine side by side with the Linux kernel (and Click's userlevel driver when there is a `click`
// binary) on the same topology in the same run. Needs root.
//
//   gen namespace ──veth── root namespace (the device under test) ──veth── sink namespace
//   (generator)      0a  0b   engine / Linux bridge / Linux IP forwarding / Click   1b  1a  (counted)
//
// Two groups of cases, each at every frame size (64, 128, 256, 512, 1024, 1280, 1518 B, FCS
// included; --sizes to choose):
// - bridge: the engine's FromDevice -> ToDevice (one worker; at 64 B also two workers with
//   PACKET_FANOUT), a Linux bridge, Click's FromDevice -> Queue -> ToDevice (bench/click/bridge.click);
// - router: the engine's IPv4 router (FromDevice -> Strip -> CheckIPHeader -> IPLookup -> DecIPTTL
//   -> EtherEncap to SINK_DISCARD_MAC -> ToDevice), Linux IPv4 forwarding, Click's equivalent
//   (bench/click/router.click).
// The engine's bridge and router also run over AF_XDP (FromDevice/ToDevice method 'xdp'; --xdp no
// leaves them out), at the same latency load points as the AF_PACKET case.
//
// Offered load (--generator trafgen, engine, engine-xdp or xdp): netsniff-ng's trafgen on one CPU (installed with apt-get when missing; else the
// engine's FlowSource -> ToDevice in a separate node process in the gen namespace, and the results
// say so); xdp: the kernel sends the frames itself (XDP live frames, interfaces/xdp-gen.c), the
// fastest here. Frames are IPv4/UDP 198.18.0.x -> 198.19.0.3, many flows (trafgen: 256 UDP source
// ports, checksum 0; the engine's generator: 252 source addresses). Offered
// packets are the gen interface's kernel counters (tx_packets + tx_dropped), delivered ones the sink
// interface's rx_packets. A trial sends for a fixed time, waits for the path to drain, and passes
// when delivered >= offered.
//
// Per case and run: a trial at the generator's full rate, then the zero-loss search
// (bench/search.ts: binary search between 0 and the full rate, first guess the rate delivered at
// full load, short trials), then a longer confirming trial at the rate found (stepping down while
// it loses). --runs runs per case (default 3), the median reported. Then the latency, at 1%, 10%,
// 50% and 90% of the zero-loss rate of the group's one-worker engine case (so the kernel and Click
// are measured at the same offered rates as the engine; latencyByLoad) and at the case's own
// zero-loss rate (latency): the engine's generator in gen stamps each frame (TimestampStamp) and a
// separate engine process in sink (bench/suites/latency-sink.ts: FromDevice -> LatencyMeter)
// records the delay from the stamp to the sink's kernel receive time; p50/p99/p99.9/max.
//
// veth has no line rate, so there is no theoretical limit (the results say so); --line-rate GBPS
// computes one for a real link. The engine's CPU time per forwarded packet comes from the
// workers' cpuNs (user + system) in the full-load trial. The lab is torn down on every exit path
// (SIGINT too), with the root-namespace changes (bridge, addresses, per-interface forwarding).
//
// The phases live in bench/suites/interfaces/: settings.ts (options, addresses), topology.ts
// (the lab), generator.ts (trafgen or the engine's generator), trials.ts (a trial, the RFC 2544
// run, latency), engine-cases.ts, kernel-cases.ts, click-cases.ts and cases.ts (the devices under
// test), report.ts (results).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labAvailable, type Lab } from 'pktgraph';
import { cleanUpOnSignal, stats } from '../lib.js';
import type { Suite } from '../harness.js';
import { settingsFrom, ROUTER_MAC, SINK_DISCARD_MAC } from './interfaces/settings.js';
import { buildLab, macOf, napiOn, sleep, type Env } from './interfaces/topology.js';
import { chooseGenerator, makeGenerator, sinkXdpDrop } from './interfaces/generator.js';
import { trial, measureRun, measureLatency } from './interfaces/trials.js';
import { caseSpecs, type CaseSpec } from './interfaces/cases.js';
import { oneLine, toResults, type CaseOutcome } from './interfaces/report.js';

/** Latency load points, percent of the zero-loss rate (issue 15); the zero-loss rate itself too. */
const LATENCY_LOADS = [1, 10, 50, 90];

export const interfacesSuite: Suite = {
  description: 'veth forwarding, RFC 2544 zero-loss rate by frame size, latency, engine vs Linux kernel and Click',
  defaultRuns: 3,
  async run(ctx) {
    if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new Error('bench interfaces: needs root (network namespaces, veth pairs, AF_PACKET sockets and a bridge device); run it as root, e.g. `sudo npm run bench -- interfaces`');
    const avail = labAvailable();
    if (!avail.ok) throw new Error(`bench interfaces: cannot build the lab here: ${avail.reason}`);
    const s = settingsFrom(ctx);
    const progress = ctx.progress;
    const tmp = mkdtempSync(join(tmpdir(), 'pktgraph-bench-if-'));
    const choice = chooseGenerator(progress, s.forceEngineGen, s.genXdp, s.kernelXdpGen ? { tmp } : undefined);
    let lab: Lab | undefined;
    let teardown: (() => void) | undefined;
    const cleanup = () => {
      try {
        teardown?.();
      } catch {}
      teardown = undefined;
      lab?.destroy();
      rmSync(tmp, { recursive: true, force: true });
    };
    const stopWatching = cleanUpOnSignal('interfaces', cleanup);
    const outcomes: CaseOutcome[] = [];
    const reference = new Map<string, number>();
    const plan: { spec: CaseSpec; size: number }[] = [];
    for (const size of s.sizes) for (const spec of caseSpecs(s)) if (!spec.only64 || size === 64) plan.push({ spec, size });
    progress.plan(plan.length);
    try {
      progress.note('building the lab');
      lab = buildLab();
      const env: Env = { lab, gen: makeGenerator(lab, lab.link(0).a, choice, tmp), genNs: lab.netns('gen'), sinkNs: lab.netns('sink'), genIf: lab.link(0).a, sinkIf: lab.link(1).a };
      const a = lab.link(0).b;
      const b = lab.link(1).b;
      if (choice.kind === 'xdp') napiOn(a);
      for (const [i, { spec, size }] of plan.entries()) {
        const label = `${spec.name}${spec.threads ? `, ${spec.threads} worker(s)` : ''}, ${size} B`;
        progress.startCase(i, label);
        if (spec.forwarder === 'click' && !s.click) {
          outcomes.push({ spec, size, runs: [], skipped: s.clickReason });
          continue;
        }
        const o: CaseOutcome = { spec, size, runs: [] };
        outcomes.push(o);
        const dstMac = spec.dst === 'sink' ? SINK_DISCARD_MAC : spec.dst === 'ingress' ? macOf(undefined, a) : ROUTER_MAC;
        try {
          progress.step(0, s.runs, 'setting up');
          const dut = await spec.setUp(env, a, b);
          teardown = dut.teardown;
          await sleep(300); // let the bridge / routes settle
          // Warm-up: a short full-load trial, not counted (ARP/bridge tables, rings, caches).
          progress.step(0, s.runs, 'warm-up');
          // --sink-drop xdp: the sink drops with XDP during the throughput trials only (the
          // latency sink reads the frames with AF_PACKET, which an XDP drop would starve).
          const undrop = s.sinkXdpDrop ? await sinkXdpDrop(lab, env.sinkIf, tmp) : undefined;
          try {
            await trial(env, dut.dut, size, dstMac, 0, 0.5);
            for (let r = 0; r < s.runs; r++) o.runs.push(await measureRun(env, dut.dut, size, dstMac, s, (d) => progress.step(r + 1, s.runs, d)));
          } finally {
            undrop?.();
          }
          const rates = o.runs.map((x) => x.zeroLossPps);
          const median = stats(rates).median;
          // The load points' reference: the group's first one-worker engine case (AF_PACKET,
          // measured first), so AF_XDP, the kernel and Click are measured at the same offered rates.
          if (spec.forwarder === 'engine' && spec.threads === 1 && median > 0 && !reference.has(`${spec.group}/${size}`)) reference.set(`${spec.group}/${size}`, median);
          const ref = reference.get(`${spec.group}/${size}`) ?? median;
          if (s.latency && median > 0) {
            try {
              o.latencyByLoad = [];
              for (const load of LATENCY_LOADS) {
                progress.step(s.runs, s.runs, `latency at ${load}% (${((ref * load) / 100 / 1e6).toFixed(3)} Mpps)`);
                o.latencyByLoad.push({ ...(await measureLatency(env, size, dstMac, (ref * load) / 100, s.latencyS)), loadPct: load });
              }
              progress.step(s.runs, s.runs, `latency at ${(median / 1e6).toFixed(3)} Mpps`);
              o.latency = await measureLatency(env, size, dstMac, median, s.latencyS);
            } catch (e) {
              o.latencyError = oneLine((e as Error).message);
            }
          }
        } catch (e) {
          o.error = oneLine((e as Error).message);
          console.error(`\ninterfaces bench: ${label}: failed: ${o.error}`);
        } finally {
          const t = teardown;
          teardown = undefined;
          try {
            t?.();
          } catch (e) {
            console.error(`interfaces bench: ${label}: teardown: ${(e as Error).message}`);
          }
        }
      }
    } finally {
      stopWatching();
      cleanup();
    }
    const notes = [
      `Generator: ${choice.note}. Frames reach the sink addressed to ${SINK_DISCARD_MAC}, not its own MAC: its kernel counts them and drops them at once` +
        (s.sinkXdpDrop ? " (--sink-drop xdp: in the throughput trials an XDP program on the sink's veth drops them before its stack, so the sink's receive, run in the forwarder's thread on veth, costs the engine and the kernel less; latency trials without it)." : ' (in its IP input: on veth that work runs in the forwarder\'s thread and is counted in the engine\'s CPU per packet).'),
      'veth has no line rate, so no theoretical limit is shown' + (s.lineRate ? `; --line-rate ${s.lineRate} Gbit/s gives the limit column` : '') + "; the generator's full rate (extra.offeredMpps) is the practical ceiling here.",
      s.click ? `Click: ${s.click}` : `Click: skipped (${s.clickReason})`,
    ];
    return { cases: toResults(outcomes, s), notes, settings: { sizes: s.sizes.join(','), searchSteps: s.steps, trialSeconds: s.trialS, confirmSeconds: s.confirmS, fullLoadSeconds: s.fullS, latencySeconds: s.latency ? s.latencyS : 0, generator: choice.xdp ? 'engine-xdp' : choice.kind, sinkDrop: s.sinkXdpDrop ? 'xdp' : 'stack', tpacketVersion: s.tpacketVersion, xdpCases: s.xdp ? 'yes' : 'no' } };
  },
};
