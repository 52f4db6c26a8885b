// bench/RESULTS.md and bench/plots/*.svg, regenerated from every JSON file in bench/results/:
// per suite, the latest result of each case (a case is suite + name + workers + frame size), the
// runs those results came from (machine, date, command, commit, load average before and after),
// warnings and case descriptions; a headline table at the top; plots of throughput by frame size
// (engine beside the kernel, and the link's theoretical limit where it has one), of engine
// scaling by worker count, of the traffic suite's rate errors by configured rate (in memory and
// on veth beside Linux tc), and of cost and memory by number of virtual routers when such results exist.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, dirname } from 'node:path';
import { loadRuns, isOk, defaultPaths, type BenchPaths, type CaseResult, type SuiteRun } from './lib.js';
import { lineChart, type Series } from './svg.js';

export const caseKey = (c: CaseResult) => `${c.suite}|${c.name}|${c.threads}|${c.frameBytes}`;

export interface LatestCase {
  c: CaseResult;
  run: SuiteRun;
}

/** Older result files lack group and forwarder: infer them from the case. */
function normalise(c: CaseResult, suite: string): CaseResult {
  const n: CaseResult = { ...c, suite: c.suite ?? suite };
  if (!n.forwarder) n.forwarder = /^Linux/.test(n.name) ? 'kernel' : /^Click/.test(n.name) ? 'click' : 'engine';
  if (!n.group && suite === 'interfaces') n.group = /forwarding|router/i.test(n.name) ? 'router' : 'bridge';
  return n;
}

/** The latest result of every case, per suite, in the order the cases were first seen. */
export function latestCases(runs: SuiteRun[]): Map<string, LatestCase[]> {
  const bySuite = new Map<string, Map<string, LatestCase>>();
  const sorted = [...runs].sort((a, b) => a.date.localeCompare(b.date));
  for (const run of sorted) {
    let m = bySuite.get(run.suite);
    if (!m) bySuite.set(run.suite, (m = new Map()));
    for (const raw of run.cases) {
      const c = normalise(raw, run.suite);
      const k = caseKey(c);
      // Re-inserting keeps first-seen order only if we do not delete; Map.set keeps the slot.
      m.set(k, { c, run });
    }
  }
  return new Map([...bySuite].map(([s, m]) => [s, [...m.values()]]));
}

const num = (n: number | undefined, d = 2) => (n !== undefined && Number.isFinite(n) ? n.toFixed(d) : '-');
const unitOf = (c: CaseResult) => (c.extra?.unit as string | undefined) ?? 'Mpps';
const workers = (c: CaseResult) => (c.forwarder && c.forwarder !== 'engine' ? '-' : c.threads === 0 ? '-' : String(c.threads));

function statusCell(c: CaseResult): string {
  const s = c.status ?? 'ok';
  return s === 'ok' ? 'ok' : `**${s}**: ${c.reason ?? ''}`;
}

function versusCell(c: CaseResult): string {
  const parts: string[] = [];
  for (const v of c.versus ?? []) {
    if (v.status === 'ok' && v.ratio !== undefined) parts.push(`${num(v.ratio)}x ${v.name} (${num(v.mpps, 3)})`);
    else if (v.status === 'ok') parts.push(`${v.name}: ${num(v.mpps, 3)} Mpps (no ratio)`);
    else parts.push(`${v.name}: ${v.status}${v.reason ? ` (${v.reason})` : ''}`);
  }
  return parts.join('; ');
}

function latencyCell(c: CaseResult): string {
  const l = c.latency;
  if (!l) return '';
  return `${num(l.p50Us, 1)} / ${num(l.p99Us, 1)} / ${num(l.p999Us, 1)} / ${num(l.maxUs, 1)} at ${num(l.atMpps, 3)} Mpps`;
}

function limitCell(c: CaseResult): string {
  if (c.limitMpps !== undefined && c.limitMpps !== null) return num(c.limitMpps, 3);
  return c.limitNote ?? '';
}

function runLine(r: SuiteRun): string {
  const m = r.machine;
  const after = m.loadAverageAfter ? `, after ${m.loadAverageAfter.join(' ')}` : '';
  return `${r.date}: \`${r.command}\`, commit ${r.commit}; ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}; load average before ${m.loadAverage.join(' ')}${after}; settings ${Object.entries(r.settings).map(([k, v]) => `${k}=${v}`).join(', ')}${r.seconds !== undefined ? `; took ${Math.round(r.seconds)} s` : ''}`;
}

function caseRow(c: CaseResult, run: SuiteRun): string {
  const ok = isOk(c);
  const extra = Object.entries(c.extra ?? {})
    .filter(([k]) => k !== 'unit')
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
  const cells = ok
    ? [
        num(c.mpps!.median, 3), num(c.mpps!.min, 3), num(c.mpps!.max, 3), String(c.mpps!.runs.length),
        c.packets !== undefined ? String(c.packets) : '-', num(c.gbps), c.forwarder && c.forwarder !== 'engine' ? '-' : num(c.cpuNsPerPacket || undefined, 1),
        c.lossPct !== undefined ? num(c.lossPct) : '', latencyCell(c), limitCell(c), versusCell(c),
      ]
    : ['-', '-', '-', '-', '-', '-', '-', '', '', limitCell(c), versusCell(c)];
  const met = c.met === undefined ? '' : c.met ? 'yes' : '**no**';
  return `| ${c.name} | ${workers(c)} | ${c.frameBytes ? `${c.frameBytes} B` : '-'} | ${statusCell(c)} | ${unitOf(c)} | ${cells.join(' | ')} | ${c.target?.note ?? ''} | ${met} | ${run.date} | ${extra} |`;
}

const TABLE_HEAD = [
  '| case | workers | frame | status | unit | median | min | max | runs | packets (median run) | Gbit/s | CPU ns/pkt | loss at full load % | latency p50 / p99 / p99.9 / max (µs) | theoretical limit (Mpps) | side by side (same run) | target | met | measured | other figures |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
];

/** Headline: the 64-byte (or size-less) cases of each suite, with their comparisons. */
function headline(latest: Map<string, LatestCase[]>): string[] {
  const lines = ['| suite | case | workers | frame | result (median) | side by side | measured |', '|---|---|---|---|---|---|---|'];
  for (const [suite, cases] of latest)
    for (const { c, run } of cases) {
      if (c.frameBytes !== 64 && c.frameBytes !== 0) continue;
      // The traffic suite's 64 B cases are its costs; its rates (some at 64 B frames) are in its plots.
      if (suite === 'traffic' && c.group !== 'cost') continue;
      // Engine cases only: the kernel's and Click's figures appear beside them.
      if (c.forwarder && c.forwarder !== 'engine') continue;
      const result = isOk(c) ? `${num(c.mpps!.median, c.mpps!.median < 10 ? 3 : 2)} ${unitOf(c)}` : `${c.status}: ${c.reason ?? ''}`;
      lines.push(`| ${suite} | ${c.name} | ${workers(c)} | ${c.frameBytes ? `${c.frameBytes} B` : '-'} | ${result} | ${versusCell(c)} | ${run.date.slice(0, 16).replace('T', ' ')} |`);
    }
  return lines;
}

export interface Plot {
  file: string;
  title: string;
  svg: string;
}

const seriesLabel = (c: CaseResult) =>
  c.forwarder === 'kernel'
    ? c.name.replace(/ veth.*$/, '')
    : c.forwarder === 'click'
      ? 'Click userlevel'
      : `pktgraph${/AF_XDP/.test(c.name) ? ' AF_XDP' : ''}, ${c.threads} worker${c.threads === 1 ? '' : 's'}`;
// Same order (and so colours) in every plot: the engine by worker count (AF_XDP after AF_PACKET), the kernel, Click.
const seriesRank = (c: CaseResult) => (c.forwarder === 'kernel' ? 100 : c.forwarder === 'click' ? 200 : c.threads + (/AF_XDP/.test(c.name) ? 0.5 : 0));

/** The plots the current results support (none for a kind of result that does not exist). */
export function plots(latest: Map<string, LatestCase[]>): Plot[] {
  const out: Plot[] = [];
  const sub = (cases: LatestCase[]) => {
    const r = cases[cases.length - 1].run;
    return `${r.machine.cpu}, ${r.machine.cores} cores, Linux ${r.machine.kernel}; latest run ${r.date.slice(0, 10)}, commit ${r.commit}`;
  };
  // Throughput by frame size, per interface case group (bridge, router).
  const iface = (latest.get('interfaces') ?? []).filter((x) => isOk(x.c) && x.c.group);
  for (const group of [...new Set(iface.map((x) => x.c.group!))]) {
    const cases = iface.filter((x) => x.c.group === group);
    const rank = seriesRank;
    const bySeries = new Map<string, { rank: number; points: [number, number][] }>();
    for (const { c } of cases) {
      const k = seriesLabel(c);
      const e = bySeries.get(k) ?? { rank: rank(c), points: [] };
      e.points.push([c.frameBytes, c.mpps!.median]);
      bySeries.set(k, e);
    }
    const series: Series[] = [...bySeries].sort((x, y) => x[1].rank - y[1].rank).map(([name, e]) => ({ name, points: e.points }));
    const limits = cases.filter((x) => typeof x.c.limitMpps === 'number');
    if (limits.length) series.push({ name: `theoretical limit (${limits[0].c.limitNote ?? 'link rate'})`, points: limits.map((x) => [x.c.frameBytes, x.c.limitMpps as number]), dashed: true });
    const sizes = [...new Set(cases.map((x) => x.c.frameBytes))].sort((a, b) => a - b);
    const noLimit = limits.length ? '' : ' (veth: no line rate, so no theoretical limit)';
    out.push({
      file: `interfaces-${group}-by-frame-size.svg`,
      title: `Zero-loss throughput by frame size: ${group}${noLimit}`,
      svg: lineChart({ title: `Zero-loss rate by frame size, ${group}${noLimit}`, subtitle: sub(cases), xLabel: 'frame size (bytes, FCS included)', yLabel: 'Mpps (zero loss, RFC 2544)', xTicks: sizes, xLog: sizes.length > 1, series }),
    });
  }
  // Latency against offered load (issue 15), per group at 64 B: p50 and p99 of every case measured
  // at the same offered rates (percentages of the AF_PACKET engine case's zero-loss rate).
  for (const group of [...new Set(iface.map((x) => x.c.group!))]) {
    const cases = iface.filter((x) => x.c.group === group && x.c.frameBytes === 64 && x.c.latencyByLoad?.length).sort((x, y) => seriesRank(x.c) - seriesRank(y.c));
    if (!cases.length) continue;
    const series: Series[] = cases.flatMap(({ c }) => [
      { name: `${seriesLabel(c)}: p50`, points: c.latencyByLoad!.map((l) => [l.atMpps, l.p50Us] as [number, number]) },
      { name: `${seriesLabel(c)}: p99`, points: c.latencyByLoad!.map((l) => [l.atMpps, l.p99Us] as [number, number]), dashed: true },
    ]);
    out.push({
      file: `interfaces-${group}-latency-by-load.svg`,
      title: `Latency against offered load: ${group}, 64 B`,
      svg: lineChart({ title: `Latency against offered load, ${group}, 64 B (p50 solid, p99 dashed)`, subtitle: sub(cases), xLabel: 'offered load (Mpps; 1, 10, 50, 90% of the engine\'s zero-loss rate)', yLabel: 'latency (µs, log scale)', yLog: true, series }),
    });
  }
  // Engine scaling by worker count.
  const eng = (latest.get('engine') ?? []).filter((x) => isOk(x.c));
  const names = [...new Set(eng.map((x) => x.c.name))].filter((n) => new Set(eng.filter((x) => x.c.name === n).map((x) => x.c.threads)).size > 1);
  if (names.length) {
    const series: Series[] = [];
    for (const n of names) {
      const pts = eng.filter((x) => x.c.name === n).map((x) => [x.c.threads, x.c.mpps!.median] as [number, number]).sort((a, b) => a[0] - b[0]);
      series.push({ name: n, points: pts });
      const one = pts.find((p) => p[0] === 1);
      if (one) series.push({ name: `${n}: linear from 1 worker`, points: pts.map(([t]) => [t, one[1] * t]), dashed: true });
    }
    const ticks = [...new Set(eng.map((x) => x.c.threads))].sort((a, b) => a - b);
    out.push({ file: 'engine-scaling.svg', title: 'Engine scaling by worker count', svg: lineChart({ title: 'Engine scaling by worker count (in-memory graphs, 64 B)', subtitle: sub(eng), xLabel: 'worker threads', yLabel: 'Mpps', xTicks: ticks, series }) });
  }
  // Traffic: the worst 1 s window's rate error by configured rate, per element in memory and
  // per shaper on veth (the engine beside Linux tc), with the 1% target.
  const tr = (latest.get('traffic') ?? []).filter((x) => isOk(x.c) && typeof x.c.extra?.configuredMbps === 'number' && typeof x.c.extra?.worstErrorPct === 'number');
  for (const [group, where, key] of [['accuracy', 'in memory', 'element'], ['lab', 'on veth, beside Linux tc', 'shaper']] as const) {
    const cases = tr.filter((x) => x.c.group === group);
    if (!cases.length) continue;
    const bySeries = new Map<string, [number, number][]>();
    for (const { c } of cases) {
      const k = String(c.extra![key] ?? c.name);
      bySeries.set(k, [...(bySeries.get(k) ?? []), [c.extra!.configuredMbps as number, Math.abs(c.extra!.worstErrorPct as number)]]);
    }
    const ticks = [...new Set(cases.map((x) => x.c.extra!.configuredMbps as number))].sort((a, b) => a - b);
    const series: Series[] = [...bySeries].map(([name, points]) => ({ name, points }));
    series.push({ name: 'target: 1%', points: [[ticks[0], 1], [ticks[ticks.length - 1], 1]], dashed: true });
    out.push({
      file: `traffic-accuracy-${group === 'lab' ? 'veth' : 'memory'}.svg`,
      title: `Shaping accuracy ${where}: worst 1 s window`,
      svg: lineChart({ title: `Shaping accuracy ${where}: worst 1 s window's error`, subtitle: sub(cases), xLabel: 'configured rate (Mbit/s)', yLabel: '|achieved - configured| / configured (%)', xTicks: ticks, xLog: ticks.length > 1, series }),
    });
  }
  // Cost by number of virtual routers: only when the vrouters suite has results.
  const vr = (latest.get('vrouters') ?? []).filter((x) => isOk(x.c) && typeof x.c.extra?.vrouters === 'number');
  if (vr.length) {
    const ticks = [...new Set(vr.map((x) => x.c.extra!.vrouters as number))].sort((a, b) => a - b);
    const xLog = ticks.length > 1 && ticks[0] > 0;
    const series: Series[] = [{ name: 'CPU ns per packet', points: vr.map((x) => [x.c.extra!.vrouters as number, x.c.cpuNsPerPacket ?? NaN]) }];
    // The side-by-side cases with longer bursts, one series per burst.
    const bursts = new Map<number, [number, number][]>();
    for (const x of latest.get('vrouters') ?? []) {
      const e = x.c.extra;
      if (!isOk(x.c) || typeof e?.burst !== 'number' || typeof e.routers !== 'number') continue;
      bursts.set(e.burst, [...(bursts.get(e.burst) ?? []), [e.routers, x.c.cpuNsPerPacket ?? NaN]]);
    }
    for (const [b, points] of bursts) series.push({ name: `CPU ns per packet, ${b}-packet bursts`, points: points.sort((p, q) => p[0] - q[0]) });
    out.push({ file: 'vrouters-cost.svg', title: 'Cost by number of virtual routers', svg: lineChart({ title: 'Cost by number of virtual routers', subtitle: sub(vr), xLabel: 'virtual routers', yLabel: 'engine CPU ns per packet', xTicks: ticks, xLog, series }) });
    // Memory: the process's RSS, and what the routers add to the engine without them.
    const mem = vr.filter((x) => typeof x.c.extra?.rssMB === 'number');
    if (mem.length) {
      const at = (key: string) => mem.filter((x) => typeof x.c.extra?.[key] === 'number').map((x): [number, number] => [x.c.extra!.vrouters as number, x.c.extra![key] as number]);
      const memSeries: Series[] = [{ name: 'process RSS', points: at('rssMB') }, { name: 'added by the routers', points: at('routersMB') }, { name: 'target: 512 MB', points: [[ticks[0], 512], [ticks[ticks.length - 1], 512]], dashed: true }];
      out.push({ file: 'vrouters-memory.svg', title: 'Memory by number of virtual routers', svg: lineChart({ title: 'Memory by number of virtual routers', subtitle: sub(mem), xLabel: 'virtual routers', yLabel: 'MB (10^6 bytes)', xTicks: ticks, xLog, series: memSeries }) });
    }
  }
  return out;
}

/** Regenerate the report and the plots from every result file under paths.resultsDir. */
export function writeReport(paths: BenchPaths = defaultPaths): { report: string; plots: string[] } {
  const runs = loadRuns(paths.resultsDir);
  const latest = latestCases(runs);
  const lines: string[] = [
    '# Benchmark results',
    '',
    'Generated by `pktgraph bench` (`npm run bench`) from the JSON files in `bench/results/`; do not edit by hand.',
    'Every figure was measured by the command shown, on the machine shown, at the time shown; a case that was',
    'skipped or failed says so instead of a number. For each case the latest result is shown.',
    '',
    'Conventions: "median/min/max" are over the runs of that case (each run is a full measurement; for the',
    'interface suites a full RFC 2544 search); Gbit/s = Mpps x frame size x 8 with the frame size counting the',
    'Ethernet header, payload and 4-byte FCS (RFC 2544 sizes) but not the 20 bytes of preamble and inter-frame',
    'gap, which the theoretical limit of a link does count (rate / ((size + 20) x 8)); "CPU ns/pkt" is the engine',
    "worker threads' CPU time (user + system) per packet. Runs that disagree by more than 10% are flagged.",
    '',
  ];
  if (latest.size) lines.push('## Headline', '', ...headline(latest), '');
  const ps = plots(latest);
  if (ps.length) {
    mkdirSync(paths.plotsDir, { recursive: true });
    lines.push('## Plots', '');
    for (const p of ps) {
      writeFileSync(join(paths.plotsDir, p.file), p.svg);
      lines.push(`![${p.title}](${relative(dirname(paths.reportFile), join(paths.plotsDir, p.file)).split('\\').join('/')})`, '');
    }
  }
  for (const [suite, cases] of latest) {
    lines.push(`## ${suite}`, '', ...TABLE_HEAD);
    for (const { c, run } of cases) lines.push(caseRow(c, run));
    const usedRuns = [...new Set(cases.map((x) => x.run))];
    lines.push('', 'Runs these results come from:', ...usedRuns.map((r) => `- ${runLine(r)}`));
    const notes = [...new Set(usedRuns.flatMap((r) => r.notes ?? []))];
    if (notes.length) lines.push('', 'Notes:', ...notes.map((n) => `- ${n}`));
    const warnings = cases.flatMap(({ c }) => c.warnings.map((w) => `${c.name}${workers(c) === '-' ? '' : `, ${workers(c)} worker(s)`}${c.frameBytes ? `, ${c.frameBytes} B` : ''}: ${w}`));
    if (warnings.length) lines.push('', 'Warnings:', ...warnings.map((w) => `- ${w}`));
    const seen = new Set<string>();
    const desc: string[] = [];
    for (const { c } of cases) {
      const k = `${c.name}|${c.threads}`;
      if (!c.description || seen.has(k)) continue;
      seen.add(k);
      desc.push(`- **${c.name}**, ${workers(c)} worker(s): ${c.description}`);
    }
    if (desc.length) lines.push('', 'Cases:', ...desc);
    lines.push('');
  }
  if (runs.length) {
    lines.push('## All runs', '', '| date | suite | commit | command | cases |', '|---|---|---|---|---|');
    for (const r of runs) lines.push(`| ${r.date} | ${r.suite} | ${r.commit} | \`${r.command}\` | ${r.cases.length} |`);
    lines.push('');
  }
  mkdirSync(dirname(paths.reportFile), { recursive: true });
  writeFileSync(paths.reportFile, lines.join('\n'));
  return { report: paths.reportFile, plots: ps.map((p) => join(paths.plotsDir, p.file)) };
}
