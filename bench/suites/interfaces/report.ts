// The interfaces suite's report: each case's runs to a result (median zero-loss rate, CPU per
// packet, latency, warnings), side by side with the kernel and Click, against the targets.
import { stats, spreadWarning, gbitPerSecond, lineRateMpps, type CaseResult, type Comparison, type Latency } from '../../lib.js';
import { CPU_TARGET_NS, SCALING_TARGET, XDP_RATE_TARGET, LATENCY_P50_TARGET, LATENCY_P99_TARGET, type Settings } from './settings.js';
import type { Trial, RunMeasure } from './trials.js';
import type { CaseSpec } from './cases.js';

export interface CaseOutcome {
  spec: CaseSpec;
  size: number;
  runs: RunMeasure[];
  latency?: Latency;
  latencyError?: string;
  /** At LATENCY_LOADS of the reference zero-loss rate (interfaces.ts). */
  latencyByLoad?: (Latency & { loadPct: number })[];
  error?: string;
  skipped?: string;
}

/** The line of a (possibly multi-line, stack-trace) message that says what went wrong. */
export function oneLine(message: string): string {
  const lines = message.split('\n').map((l) => l.trim()).filter(Boolean);
  const first = lines[0] ?? message;
  const cause = lines.find((l) => /^\w*Error:/.test(l));
  return cause && cause !== first ? `${first.replace(/:$/, '')}: ${cause}`.slice(0, 400) : first.slice(0, 400);
}

/** Median of the finite values, NaN when there is none. */
function medianFinite(values: number[]): number {
  const v = values.filter(Number.isFinite);
  return v.length ? stats(v).median : NaN;
}

const r3 = (n: number) => Math.round(n * 1000) / 1000;
const r1 = (n: number) => Math.round(n * 10) / 10;

export function toResults(outcomes: CaseOutcome[], s: Settings): CaseResult[] {
  const results: CaseResult[] = [];
  const cpuPerPacket = (t: Trial | undefined) => (t && t.forwarded && t.cpuNs !== undefined ? t.cpuNs / t.forwarded : NaN);
  const medianRun = (o: CaseOutcome) => [...o.runs].sort((x, y) => x.zeroLossPps - y.zeroLossPps)[(o.runs.length - 1) >> 1];
  const ok = (o: CaseOutcome | undefined) => !!o && !o.error && !o.skipped && o.runs.length > 0;
  const find = (key: string, size: number) => outcomes.find((x) => x.spec.key === key && x.size === size);
  for (const o of outcomes) {
    const { spec, size } = o;
    const base: CaseResult = {
      suite: 'interfaces',
      name: spec.name,
      description: `${spec.description} ${size} B frames (FCS included). Zero-loss rate: binary search (${s.steps} trials of ${s.trialS} s between 0 and the generator's full rate), confirmed over ${s.confirmS} s; median of ${s.runs} run(s).`,
      threads: spec.threads,
      frameBytes: size,
      group: spec.group,
      forwarder: spec.forwarder,
      limitMpps: s.lineRate ? r3(lineRateMpps(s.lineRate, size)) : null,
      limitNote: s.lineRate ? `${s.lineRate} Gbit/s link (--line-rate)` : 'veth: none',
      warnings: [],
    };
    if (!ok(o)) {
      results.push({ ...base, status: o.skipped ? 'skipped' : 'failed', reason: o.skipped ?? o.error ?? 'no run finished' });
      continue;
    }
    const st = stats(o.runs.map((r) => r.zeroLossPps / 1e6));
    const m = medianRun(o);
    const warnings: string[] = [];
    const sw = spreadWarning('zero-loss rate', st, 'Mpps', 3);
    if (sw) warnings.push(sw);
    const bound = o.runs.filter((r) => r.search.atMaximum).length;
    // Which cases the generator still bounds (issue 15): said in every result, not only in warnings.
    if (bound) warnings.push(`generator-bound in ${bound} of ${o.runs.length} run(s): no loss at the generator's full rate, so the zero-loss rate is at least the rate reported`);
    for (const n of new Set(o.runs.flatMap((r) => r.search.notes).filter((n) => !/no loss at the maximum/.test(n)))) warnings.push(n);
    if (st.median === 0) warnings.push(`frames were lost at every rate tried (${o.runs.flatMap((x) => x.search.steps).map((x) => (x.offeredPps / 1e6).toFixed(3)).join(', ')} Mpps): no zero-loss rate was found`);
    if (o.latencyError) warnings.push(`latency not measured: ${o.latencyError}`);
    const lossAtFull = stats(o.runs.map((r) => (r.full.offered > 0 ? ((r.full.offered - r.full.delivered) / r.full.offered) * 100 : 0)));
    const extra: Record<string, number | string> = {
      maxDeliveredMpps: r3(stats(o.runs.map((r) => r.full.deliveredPps / 1e6)).median),
      offeredMpps: r3(stats(o.runs.map((r) => r.full.offeredPps / 1e6)).median),
      generatorBound: `${bound} of ${o.runs.length} run(s)`,
      searchTrials: m.search.steps.map((x) => `${(x.askedPps / 1e6).toFixed(3)}/${(x.offeredPps / 1e6).toFixed(3)}${x.pass ? '+' : '-'}`).join(' '),
    };
    const r: CaseResult = {
      ...base,
      status: 'ok',
      mpps: st,
      packets: m.confirm?.delivered,
      gbps: gbitPerSecond(st.median, size),
      lossPct: Math.round(lossAtFull.median * 100) / 100,
      warnings,
      extra,
    };
    if (o.latency && o.latency.atMpps < st.median * 0.9)
      warnings.push(`latency measured at ${o.latency.atMpps.toFixed(3)} Mpps, below the zero-loss rate: the engine's generator (which stamps the frames) did not reach ${st.median.toFixed(3)} Mpps here`);
    if (o.latencyByLoad?.length) {
      r.latencyByLoad = o.latencyByLoad.map((l) => ({ ...l, p50Us: r1(l.p50Us), p99Us: r1(l.p99Us), p999Us: r1(l.p999Us), maxUs: r1(l.maxUs), atMpps: r3(l.atMpps) }));
      // p50 / p99 / p99.9 µs at each load, for the results table.
      extra.latencyByLoad = r.latencyByLoad.map((l) => `${l.loadPct}% (${l.atMpps} Mpps): ${l.p50Us} / ${l.p99Us} / ${l.p999Us}`).join('; ');
    }
    if (o.latency) r.latency = { ...o.latency, p50Us: r1(o.latency.p50Us), p99Us: r1(o.latency.p99Us), p999Us: r1(o.latency.p999Us), maxUs: r1(o.latency.maxUs), atMpps: r3(o.latency.atMpps) };
    if (spec.forwarder === 'engine') {
      const cpu = medianFinite(o.runs.map((x) => cpuPerPacket(x.full)));
      if (Number.isFinite(cpu)) r.cpuNsPerPacket = r1(cpu);
      const zl = cpuPerPacket(m.confirm);
      if (Number.isFinite(zl)) extra.cpuNsPerPacketAtZeroLoss = r1(zl);
      if (m.full.sysShare !== undefined) {
        extra.workerCpuInKernelPct = r1(m.full.sysShare * 100);
        // The user/system split of the workers' CPU time (engine's userNs/sysNs, else /proc ticks).
        if (r.cpuNsPerPacket !== undefined) {
          r.cpuUserNsPerPacket = r1(r.cpuNsPerPacket * (1 - m.full.sysShare));
          r.cpuSysNsPerPacket = r1(r.cpuNsPerPacket * m.full.sysShare);
        }
      }
      // Side by side: the kernel (and Click) in the same group, at the same size, this run.
      const versus: Comparison[] = [];
      const kernelKey = spec.group === 'bridge' ? 'kernel-bridge' : 'kernel-router';
      const clickKey = spec.group === 'bridge' ? 'click-bridge' : 'click-router';
      for (const [key, label] of [[kernelKey, spec.group === 'bridge' ? 'Linux bridge' : 'Linux IP forwarding'], [clickKey, 'Click']] as const) {
        const other = find(key, size);
        if (!other) continue;
        if (!ok(other)) versus.push({ name: label, status: other.skipped ? 'skipped' : 'failed', reason: other.skipped ?? other.error });
        else {
          const om = stats(other.runs.map((x) => x.zeroLossPps / 1e6)).median;
          versus.push({ name: label, status: 'ok', mpps: r3(om), ratio: om > 0 ? Math.round((st.median / om) * 100) / 100 : undefined });
          if (bound && other.runs.every((x) => x.search.atMaximum)) warnings.push(`both this case and ${label} are generator-bound: the ratio compares the generator's rates, not the forwarders`);
        }
      }
      r.versus = versus;
      // Latency beside the kernel's at the same offered rates: p50 and p99 ratios per load point.
      const kernelLat = find(kernelKey, size)?.latencyByLoad;
      if (o.latencyByLoad?.length && kernelLat?.length) {
        const ratios = o.latencyByLoad.flatMap((l) => {
          const k = kernelLat.find((x) => x.loadPct === l.loadPct);
          return k && k.p50Us > 0 && k.p99Us > 0 ? [{ load: l.loadPct, p50: l.p50Us / k.p50Us, p99: l.p99Us / k.p99Us }] : [];
        });
        extra.latencyVsKernel = ratios.map((x) => `${x.load}%: p50 ${x.p50.toFixed(1)}x, p99 ${x.p99.toFixed(1)}x`).join('; ');
        // Target: p50 <= 2x and p99 <= 5x the kernel's at low and medium load (1-50%).
        const low = ratios.filter((x) => x.load <= 50);
        if (low.length) extra.latencyTarget = low.every((x) => x.p50 <= LATENCY_P50_TARGET && x.p99 <= LATENCY_P99_TARGET) ? 'met' : 'missed';
      }
      const kernel = versus.find((v) => v.name.startsWith('Linux'));
      const cpuOk = r.cpuNsPerPacket !== undefined && r.cpuNsPerPacket <= CPU_TARGET_NS;
      if (spec.method === 'xdp' && size === 64) {
        // AF_XDP (issue 15): <= 500 ns CPU a packet and at least twice the kernel's zero-loss rate.
        const ratio = kernel?.ratio;
        r.target = { ratio: XDP_RATE_TARGET, note: `zero-loss >= ${XDP_RATE_TARGET}x ${kernel?.name ?? 'the kernel'}'s (measured ${ratio !== undefined ? `${ratio.toFixed(2)}x` : '-'}) and <= ${CPU_TARGET_NS} ns CPU/pkt (measured ${r.cpuNsPerPacket ?? '-'})` };
        r.met = ratio !== undefined && ratio >= XDP_RATE_TARGET && cpuOk;
      } else if (spec.threads === 1 && size === 64) {
        const ratio = kernel?.ratio;
        r.target = { ratio: 1, note: `zero-loss >= ${kernel?.name ?? 'the kernel'}'s (measured ${ratio !== undefined ? `${ratio.toFixed(2)}x` : '-'})${spec.group === 'bridge' ? ` and <= ${CPU_TARGET_NS} ns CPU/pkt (measured ${r.cpuNsPerPacket ?? '-'})` : ''}` };
        r.met = ratio !== undefined && ratio >= 1 && (spec.group !== 'bridge' || cpuOk);
      }
      if (spec.threads === 2) {
        const one = find('engine-bridge-1', size);
        if (ok(one)) {
          const oneMax = stats(one!.runs.map((x) => x.full.deliveredPps)).median;
          const scaleMax = stats(o.runs.map((x) => x.full.deliveredPps)).median / oneMax;
          // (packets per CPU-second with two workers) / (with one).
          const eff = medianFinite(one!.runs.map((x) => cpuPerPacket(x.full))) / (r.cpuNsPerPacket ?? NaN);
          extra.scalingMaxDelivered = Math.round(scaleMax * 100) / 100;
          if (Number.isFinite(eff)) extra.pktsPerCpuSecondRatio = Math.round(eff * 100) / 100;
          r.target = { ratio: SCALING_TARGET, note: `>= ${SCALING_TARGET}x one worker's max delivered rate (measured ${scaleMax.toFixed(2)}x; packets per CPU-second ${Number.isFinite(eff) ? eff.toFixed(2) : '-'}x), <= ${CPU_TARGET_NS} ns CPU/pkt` };
          r.met = scaleMax >= SCALING_TARGET && cpuOk;
          if (bound && one!.runs.every((x) => x.search.atMaximum)) warnings.push('both worker counts are generator-bound: the scaling figure measures the generator, not the engine');
        }
      }
    }
    results.push(r);
  }
  return results;
}
