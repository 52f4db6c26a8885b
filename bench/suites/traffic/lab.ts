// The traffic suite's lab: shaping on veth, the engine side by side with Linux tc in the same
// run on the interfaces suite's topology (needs root):
//
//   gen namespace ──veth── root namespace (the shaper under test) ──veth── sink namespace
//   (generator)     0a  0b  engine: FromDevice -> Queue -> shaper -> ToDevice   1b  1a (counted)
//                           Linux:  bridge 0b-1b, a tc qdisc (TBF, HTB) on 1b
//
// Traffic: the engine's FlowSource in a separate process in gen (the interfaces suite's
// generator; --generator trafgen for netsniff-ng's trafgen, installed with apt-get when
// missing; the notes say which) sends 1518 B frames (1514 on the veth) at
// 1.25x the shaped rate, or flat out for the highest rate (0.8x the least of what the Linux
// bridge and the engine delivered unshaped at full load, measured first). Achieved rate =
// the sink interface's received bytes (frames without FCS, as tc and the engine count them) x 8
// over 1 s windows, from /proc/<pid>/net/dev of a process in the sink namespace, read with the
// time beside each read; windows start once frames arrive plus 0.5 s.
// Same settings both sides: rate, a bucket of 32 frames or 1 ms of the rate, a queue of 1000
// frames (engine Queue; TBF limit 1000 x 1514 bytes; HTB's leaf a pfifo of 1000).
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { graph, compile, Runtime, labAvailable, FromDevice, ToDevice, Queue, Unqueue, Discard, type Lab, type RunningGraph } from 'pktgraph';
import { cleanUpOnSignal, stats, type CaseResult, type Comparison } from '../../lib.js';
import type { Progress } from '../../progress.js';
import { buildLab, sh, sleep as msleep, type Env } from '../interfaces/topology.js';
import { chooseGenerator, makeGenerator } from '../interfaces/generator.js';
import { kernelBridge } from '../interfaces/kernel-cases.js';
import { SINK_DISCARD_MAC } from '../interfaces/settings.js';
import { rateElements, inUnit, type RateElement } from './elements.js';
import { windowRates, errorSummary, rateLabel, round, nowS, type Sample } from './measure.js';
import { ACCURACY_TARGET_PCT, burstBytes, BURST_NOTE, wanted, type TrafficSettings } from './settings.js';

const FRAME = 1518;
const BYTES = FRAME - 4;
const QUEUE = 1000;
const OFFER = 1.25;

/** The engine's path without shaping (an Unqueue in the shaper's place), for the full-load trial. */
const UNSHAPED: RateElement = { name: 'Unqueue', needs: [], unit: 'packets', place: 'unqueue', lab: true, setup: 'Unqueue', make: (_r, _b, _f, name) => Unqueue({ burst: 64 }, name), rateHandler: '', rateText: String };

/** The device under test between a and b: started, then torn down. */
interface Shaper {
  key: string;
  name: string;
  forwarder: 'engine' | 'kernel';
  setup: string;
  start(env: Env, a: string, b: string, bps: number): { teardown: () => void; counters?: () => Record<string, number> };
}

function engineShaper(e: RateElement): Shaper {
  return {
    key: `engine-${e.name}`,
    name: `engine ${e.name}`,
    forwarder: 'engine',
    setup: `FromDevice -> ${e.place === 'queue' ? `${e.setup} (leaf queues of ${QUEUE})` : `Queue (${QUEUE}) -> ${e.setup}`} -> ToDevice (qdiscBypass), one worker`,
    start: (_env, a, b, bps) => {
      const rt = new Runtime({ threads: 1, poolBuffers: 16384 });
      let g: RunningGraph;
      try {
        g = rt.load(
          compile(
            graph('traffic-lab', () => {
              const tx = ToDevice({ device: b, qdiscBypass: true }, 'tx');
              const rx = FromDevice({ device: a, burst: 64 }, 'rx');
              const x = e.make(inUnit(e, bps, BYTES), burstBytes(bps, BYTES), BYTES, 'x');
              if (e.place === 'push') {
                rx.to(x);
                x.out(0).to(tx);
                x.out(1).to(Discard({}, 'over'));
              } else if (e.place === 'queue') rx.to(x).to(tx);
              else rx.to(Queue({ capacity: QUEUE }, 'q')).to(x).to(tx);
            }),
          ),
        );
        rt.start();
      } catch (err) {
        rt.close();
        throw err;
      }
      const running = g;
      return {
        counters: () => {
          const out: Record<string, number> = {};
          for (const [el, cs] of Object.entries(running.allCounters())) for (const [k, v] of Object.entries(cs)) if (v > 0n && /drops|shortfall|pool_empty/.test(k)) out[`${el}.${k}`] = Number(v);
          return out;
        },
        teardown: () => {
          try {
            rt.stop();
            running.remove();
          } finally {
            rt.close();
          }
        },
      };
    },
  };
}

/** Linux: a bridge between a and b, and `qdisc(b, bps, burst)` on b (tc commands). */
function kernelShaper(key: string, name: string, setup: string, qdisc: (dev: string, bps: number, burst: number) => string[][]): Shaper {
  return {
    key,
    name,
    forwarder: 'kernel',
    setup,
    start: (env, a, b, bps) => {
      const br = kernelBridge(env, a, b) as { teardown: () => void };
      const teardown = () => {
        spawnSync('tc', ['qdisc', 'del', 'dev', b, 'root'], { stdio: 'ignore' });
        br.teardown();
      };
      try {
        for (const cmd of qdisc(b, bps, burstBytes(bps, BYTES))) sh('tc', cmd, name);
      } catch (err) {
        teardown();
        throw err;
      }
      return { teardown };
    },
  };
}

const tbf = kernelShaper('kernel-tbf', 'Linux tc TBF', `a Linux bridge between the two root-side veth ends, \`tc qdisc ... tbf rate R burst B limit ${QUEUE * BYTES}\` on the egress end`, (dev, bps, burst) => [
  ['qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${Math.round(bps)}bit`, 'burst', String(burst), 'limit', String(QUEUE * BYTES)],
]);

// The same tree as the engine's HTBSched case (elements.ts): the link class at the rate, two
// leaves guaranteed a fifth of it each and ceiling it, all traffic to the first, which borrows.
const htb = kernelShaper('kernel-htb', 'Linux tc HTB', `a Linux bridge between the two root-side veth ends, HTB on the egress end: class 1:1 at the rate R (ceil R) under the root, leaves 1:10 (the default) and 1:20 under it each rate R/5 ceil R (burst = cburst = B), a pfifo of ${QUEUE} under each leaf; all traffic to 1:10, which borrows the rest`, (dev, bps, burst) => {
  const cls = (parent: string, id: string, rate: number) => ['class', 'add', 'dev', dev, 'parent', parent, 'classid', id, 'htb', 'rate', `${Math.round(rate)}bit`, 'ceil', `${Math.round(bps)}bit`, 'burst', String(burst), 'cburst', String(burst)];
  const leaf = (id: string) => ['qdisc', 'add', 'dev', dev, 'parent', `1:${id}`, 'handle', `${id}:`, 'pfifo', 'limit', String(QUEUE)];
  return [['qdisc', 'replace', 'dev', dev, 'root', 'handle', '1:', 'htb', 'default', '10'], cls('1:', '1:1', bps), cls('1:1', '1:10', bps / 5), cls('1:1', '1:20', bps / 5), leaf('10'), leaf('20')];
});

/** Interface counters of `dev` in the namespace of process `pid` (/proc/<pid>/net/dev), read without starting a process. */
function devCounters(pid: number, dev: string): { rxBytes: number; rxPackets: number; txBytes: number; txDropped: number } {
  const line = readFileSync(`/proc/${pid}/net/dev`, 'utf8')
    .split('\n')
    .find((l) => l.trim().startsWith(`${dev}:`));
  if (!line) throw new Error(`traffic bench: no ${dev} in /proc/${pid}/net/dev`);
  const f = line.slice(line.indexOf(':') + 1).trim().split(/\s+/).map(Number);
  return { rxBytes: f[0], rxPackets: f[1], txBytes: f[8], txDropped: f[11] };
}

interface LabOutcome {
  shaper: Shaper;
  bps: number;
  achieved?: number[];
  offeredBps?: number;
  offeredDropped?: number;
  error?: string;
  counters?: Record<string, number>;
}

/** Which qdisc kinds this kernel has (probed on a lab interface). */
function probeQdisc(dev: string, kind: string): string | undefined {
  const r = spawnSync('tc', ['qdisc', 'replace', 'dev', dev, 'root', kind], { encoding: 'utf8' });
  spawnSync('tc', ['qdisc', 'del', 'dev', dev, 'root'], { stdio: 'ignore' });
  return r.status === 0 ? undefined : (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n')[0];
}

export interface LabPhase {
  count: number;
  run(progress: Progress, index: number): Promise<{ cases: CaseResult[]; notes: string[] }>;
}

export function labPhase(s: TrafficSettings): LabPhase {
  // --only picks engine shapers by name; Linux's are always there to compare with.
  const shapers: Shaper[] = [...rateElements.filter((e) => e.lab && wanted(s, e.name)).map(engineShaper), tbf, htb];
  const rateCount = s.labRates.length + 1; // + the highest this host sustains
  return {
    count: rateCount * shapers.length + 1,
    run: async (progress, index) => {
      const notes: string[] = [];
      const why = typeof process.getuid === 'function' && process.getuid() !== 0 ? 'needs root (network namespaces, veth pairs, AF_PACKET sockets, tc)' : (() => {
        const a = labAvailable();
        return a.ok ? undefined : `cannot build the lab here: ${a.reason}`;
      })();
      if (why) return { cases: skippedAll(shapers, s, why), notes: [`lab: skipped: ${why}`] };
      const tmp = mkdtempSync(join(tmpdir(), 'pktgraph-bench-traffic-'));
      let lab: Lab | undefined;
      let holders: ChildProcess[] = [];
      let teardown: (() => void) | undefined;
      const cleanup = () => {
        try {
          teardown?.();
        } catch {}
        teardown = undefined;
        for (const h of holders) h.kill('SIGKILL');
        lab?.destroy();
        rmSync(tmp, { recursive: true, force: true });
      };
      const stopWatching = cleanUpOnSignal('traffic', cleanup);
      const outcomes: LabOutcome[] = [];
      try {
        progress.startCase(index, 'lab: building the lab');
        // The engine's generator unless --generator trafgen: asked for 124 Mbit/s, trafgen sent
        // that much on average over its run, yet TBF, HTB and the engine alike delivered about
        // 17 Mbit/s of a 100 Mbit/s rate on this shared machine: its frames came in bursts that
        // no 1000-frame queue holds. FlowSource paces with a token bucket (bursts of at most 256
        // frames, catching up after a late round). Either way the offered rate is measured.
        const choice =
          s.generator === 'trafgen'
            ? chooseGenerator(progress, false)
            : { kind: 'engine' as const, note: "the engine's FlowSource -> ToDevice in a separate node process in gen (the traffic suite's default; --generator trafgen for netsniff-ng's trafgen, whose paced traffic arrived here in bursts no 1000-frame queue holds, so every shaper fell short alike)" };
        notes.push(`lab generator: ${choice.note}`);
        lab = buildLab();
        const env: Env = { lab, gen: makeGenerator(lab, lab.link(0).a, choice, tmp), genNs: lab.netns('gen'), sinkNs: lab.netns('sink'), genIf: lab.link(0).a, sinkIf: lab.link(1).a };
        const a = lab.link(0).b;
        const b = lab.link(1).b;
        // A process in the sink and one in the gen namespace, whose /proc/<pid>/net/dev show
        // those namespaces' counters (read beside each sample's time, no process started).
        holders = [lab.spawn('sink', ['sleep', '100000'], { stdio: 'ignore' }), lab.spawn('gen', ['sleep', '100000'], { stdio: 'ignore' })];
        await msleep(200);
        const sinkPid = holders[0].pid!;
        const genPid = holders[1].pid!;
        const rx = () => {
          const c = devCounters(sinkPid, env.sinkIf);
          return [c.rxBytes, c.rxPackets];
        };
        const tx = () => devCounters(genPid, env.genIf);
        rx();
        tx();
        for (const kind of ['fq_codel', 'hfsc', 'cake']) {
          const missing = probeQdisc(b, kind);
          notes.push(missing ? `Linux ${kind}: not in this kernel (\`tc qdisc add ... ${kind}\`: ${missing}), so it is not compared` : `Linux ${kind}: present in this kernel (no comparison case yet)`);
        }
        // The highest rate this host sustains: 0.8x the least the bridge and the engine move unshaped.
        progress.step(1, 1, 'full-load trials, unshaped');
        const full = async (): Promise<number> => {
          const [b0] = rx();
          const t0 = nowS();
          const sent = await env.gen.send(FRAME, SINK_DISCARD_MAC, 0, 2);
          const seconds = sent ?? nowS() - t0;
          await msleep(300);
          const [b1] = rx();
          return ((b1 - b0) * 8) / seconds;
        };
        const unshaped: number[] = [];
        for (const dut of [
          () => kernelBridge(env, a, b) as { teardown: () => void },
          () => engineShaper(UNSHAPED).start(env, a, b, 0),
        ]) {
          const d = dut();
          teardown = d.teardown;
          try {
            await msleep(300);
            unshaped.push(await full());
          } finally {
            teardown = undefined;
            d.teardown();
          }
        }
        notes.push("lab: on veth a transmit runs the receiver's path in the sender's thread, so tc's shaping runs in the kernel's softirq work, mostly in the generator's thread (the bridge forwards inline), while the engine's runs in its own worker, which competes with the generator for the CPUs: at the top rate the engine's figure includes that contention");
        const top = Number((0.8 * Math.min(...unshaped)).toPrecision(2));
        notes.push(`lab: unshaped at full load the Linux bridge delivered ${rateLabel(unshaped[0])} and the engine (FromDevice -> Queue -> Unqueue -> ToDevice) ${rateLabel(unshaped[1])} of 1518 B frames; the highest shaped rate is 0.8x the lesser, ${rateLabel(top)}`);
        const rates = [...s.labRates.filter((r) => r < top), top];
        let i = index + 1;
        for (const bps of rates)
          for (const shaper of shapers) {
            progress.startCase(i++, `lab: ${shaper.name} at ${rateLabel(bps)}`);
            const tCase = nowS();
            if (process.env.PG_TRAFFIC_DEBUG) console.error(`\ncase start ${shaper.name} ${bps}`);
            const o: LabOutcome = { shaper, bps };
            outcomes.push(o);
            try {
              const d = shaper.start(env, a, b, bps);
              teardown = d.teardown;
              await msleep(300);
              const pps = OFFER * bps / 8 / BYTES;
              const flatOut = bps >= top;
              const seconds = s.labWindows + 1.2; // from the generator's first frame: 0.5 s before the windows, a margin after
              progress.step(1, 1, `${s.labWindows} windows of 1 s, offered ${flatOut ? 'flat out' : rateLabel(OFFER * bps)}`);
              const [, p0] = rx();
              const d0 = tx().txDropped;
              const sending = env.gen.send(FRAME, SINK_DISCARD_MAC, flatOut ? 0 : pps, seconds);
              // Windows start 0.5 s after the traffic arrives: at least half the rate over 100 ms
              // (not a stray frame; the generator takes a moment to start).
              const tStart = nowS();
              const due = Math.max(2, (0.5 * 0.1 * bps) / 8 / BYTES);
              const recent: [number, number][] = [[tStart, p0]];
              for (;;) {
                await msleep(10);
                const now = nowS();
                recent.push([now, rx()[1]]);
                while (recent.length > 2 && recent[1][0] <= now - 0.1) recent.shift();
                if ((now - recent[0][0] >= 0.09 && recent[recent.length - 1][1] - recent[0][1] >= due) || now - tStart >= 15) break;
              }
              if (process.env.PG_TRAFFIC_DEBUG) console.error(`\n${shaper.name} ${bps}: traffic after ${(nowS() - tStart).toFixed(2)} s, ${rx()[1] - p0} frames`);
              const samples: Sample[] = [];
              const firstSeen = nowS();
              await msleep(500);
              const t0 = nowS();
              const sample = () => samples.push({ t: nowS(), v: [rx()[0], tx().txBytes] });
              while (nowS() < t0 + s.labWindows + 0.05) {
                sample();
                await msleep(50);
              }
              sample();
              if (process.env.PG_TRAFFIC_DEBUG) console.error(samples.map((x) => `${(x.t - t0).toFixed(2)}:${x.v[0]}`).join(' '));
              const tWait = nowS();
              await sending;
              if (process.env.PG_TRAFFIC_DEBUG) console.error(`\nsetup+start ${(firstSeen - tStart).toFixed(2)} s, windows done ${(tWait - tStart).toFixed(2)} s, generator done ${(nowS() - tStart).toFixed(2)} s`);
              // Offered: what the generator's interface sent over the same windows.
              o.offeredBps = windowRates(samples, 1, t0, s.labWindows, 8)[0];
              const d1 = tx().txDropped;
              if (d1 > d0) o.offeredDropped = d1 - d0;
              if (firstSeen - tStart >= 15) throw new Error('the traffic did not reach the sink within 15 s');
              o.achieved = windowRates(samples, 0, t0, 1, 8);
              o.counters = d.counters?.();
            } catch (err) {
              o.error = String((err as Error).message).split('\n')[0].slice(0, 300);
              console.error(`\ntraffic bench: lab: ${shaper.name} at ${rateLabel(bps)}: ${o.error}`);
            } finally {
              const t = teardown;
              teardown = undefined;
              try {
                t?.();
              } catch (err) {
                console.error(`traffic bench: lab: teardown: ${(err as Error).message}`);
              }
              if (process.env.PG_TRAFFIC_DEBUG) console.error(`case took ${(nowS() - tCase).toFixed(2)} s`);
            }
          }
      } finally {
        stopWatching();
        cleanup();
      }
      return { cases: toResults(outcomes, s, shapers), notes };
    },
  };
}

function describe(shaper: Shaper, s: TrafficSettings): string {
  return `${shaper.setup}; ${BURST_NOTE}. The generator in gen (notes) sends 1518 B frames at ${OFFER}x the rate (flat out at the highest rate); achieved = the sink interface's received bytes x 8 over ${s.labWindows} 1 s windows, 0.5 s after the first frames arrive; error = (achieved - configured) / configured.`;
}

function skippedAll(shapers: Shaper[], s: TrafficSettings, reason: string): CaseResult[] {
  return s.labRates.flatMap((bps) =>
    shapers.map((sh): CaseResult => ({ suite: 'traffic', name: `lab veth: ${sh.name} at ${rateLabel(bps)}`, description: describe(sh, s), threads: sh.forwarder === 'engine' ? 1 : 0, frameBytes: FRAME, group: 'lab', forwarder: sh.forwarder, status: 'skipped', reason, warnings: [] })),
  );
}

function toResults(outcomes: LabOutcome[], s: TrafficSettings, shapers: Shaper[]): CaseResult[] {
  const results: CaseResult[] = [];
  for (const o of outcomes) {
    const { shaper, bps } = o;
    const base: CaseResult = { suite: 'traffic', name: `lab veth: ${shaper.name} at ${rateLabel(bps)}`, description: describe(shaper, s), threads: shaper.forwarder === 'engine' ? 1 : 0, frameBytes: FRAME, group: 'lab', forwarder: shaper.forwarder, warnings: [] };
    if (o.error || !o.achieved?.length) {
      results.push({ ...base, status: 'failed', reason: o.error ?? 'no window measured' });
      continue;
    }
    const err = errorSummary(o.achieved, bps);
    const r: CaseResult = {
      ...base,
      mpps: stats(o.achieved.map((x) => x / 1e6)),
      target: { note: `every 1 s window within ${ACCURACY_TARGET_PCT}% of the configured rate (median ${err.medianPct.toFixed(2)}%, worst ${err.worstPct.toFixed(2)}%)` },
      met: Math.abs(err.worstPct) <= ACCURACY_TARGET_PCT,
      extra: { unit: 'Mbit/s', shaper: shaper.name, configuredMbps: bps / 1e6, ...(o.offeredBps ? { offeredMbps: round(o.offeredBps / 1e6, 2) } : {}), ...(o.offeredDropped ? { generatorTxDropped: o.offeredDropped } : {}), medianErrorPct: round(err.medianPct, 3), worstErrorPct: round(err.worstPct, 3), windows: o.achieved.length, ...(o.counters ?? {}) },
    };
    // Said only where it explains a shortfall (with tc inline, the generator's counter can show just the shaped rate).
    if (!r.met && err.medianPct < 0 && o.offeredBps !== undefined && o.offeredBps < bps * 1.02) r.warnings.push(`the generator offered only ${rateLabel(o.offeredBps)} over the windows: the shaper was not always backlogged`);
    if (shaper.forwarder === 'engine') {
      const versus: Comparison[] = [];
      for (const k of shapers.filter((x) => x.forwarder === 'kernel')) {
        const other = outcomes.find((x) => x.shaper === k && x.bps === bps);
        if (!other) continue;
        if (other.error || !other.achieved?.length) versus.push({ name: k.name, status: 'failed', reason: other.error });
        else {
          const om = stats(other.achieved).median;
          const oe = errorSummary(other.achieved, bps);
          versus.push({ name: `${k.name} [Mbit/s; median error ${oe.medianPct.toFixed(2)}%, worst ${oe.worstPct.toFixed(2)}%]`, status: 'ok', mpps: round(om / 1e6, 3), ratio: round(stats(o.achieved).median / om, 3) });
        }
      }
      r.versus = versus;
    }
    results.push(r);
  }
  return results;
}
