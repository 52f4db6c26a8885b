// The benchmark harness (bench/): the RFC 2544 zero-loss search on simulated lossy devices,
// result files round-tripping into RESULTS.md, the SVG plots (well-formed XML with their series),
// and short smoke runs of the engine and vrouters suites into a temporary folder. Quick: no real benchmark.
import t from 'tap';
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { zeroLossSearch, type TrialFn } from '../bench/search.js';
import { saveRun, loadRuns, stats, type SuiteRun, type CaseResult, type BenchPaths } from '../bench/lib.js';
import { writeReport } from '../bench/report.js';
import { lineChart, niceTicks } from '../bench/svg.js';
import { runBench, parseArgs, pathsUnder, UsageError } from '../bench/harness.js';

function tempPaths(t: { teardown(fn: () => void): void }): BenchPaths {
  const dir = mkdtempSync(join(tmpdir(), 'pktgraph-bench-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return { resultsDir: join(dir, 'results'), reportFile: join(dir, 'RESULTS.md'), plotsDir: join(dir, 'plots') };
}

/** A device that loses frames above `threshold` pps; the generator reaches at most `genMax`. */
function device(threshold: number, genMax = Infinity, noise = 0): { trial: TrialFn; asked: number[] } {
  let seed = 7;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const asked: number[] = [];
  return {
    asked,
    trial: (pps) => {
      asked.push(pps);
      const offered = Math.min(pps, genMax);
      return { pass: offered <= threshold * (1 + noise * rnd()), offeredPps: offered };
    },
  };
}

t.test('zero-loss search finds a known threshold', async (t) => {
  const d = device(370_000);
  const r = await zeroLossSearch(d.trial, { min: 0, max: 1_000_000, steps: 20, resolution: 0.001 });
  t.ok(r.pps <= 370_000, `never above the threshold (${r.pps})`);
  t.ok(r.pps >= 370_000 - 1_000, `within the resolution of it (${r.pps})`);
  t.notOk(r.atMaximum);
  t.notOk(r.belowMinimum);
  t.equal(r.steps[0].phase, 'max', 'the maximum is tried first');
  t.ok(r.steps.length <= 21, 'at most 1 + steps trials');
});

t.test('zero-loss search: few steps, a first guess, and the known outcome at the maximum', async (t) => {
  const d = device(600_000);
  const r = await zeroLossSearch(d.trial, { min: 0, max: 1_000_000, maxOutcome: { pass: false, offeredPps: 1_000_000 }, guess: 590_000, steps: 4 });
  t.equal(d.asked[0], 590_000, 'the guess is the first trial; the maximum is not repeated');
  t.equal(d.asked.length, 4);
  t.ok(r.pps >= 590_000 && r.pps <= 600_000, `${r.pps}`);
});

t.test('zero-loss search with noise stays near the threshold', async (t) => {
  for (const threshold of [123_456, 500_000, 987_000]) {
    const d = device(threshold, Infinity, 0.01);
    const r = await zeroLossSearch(d.trial, { min: 0, max: 1_000_000, steps: 20, resolution: 0.001 });
    t.ok(r.pps <= threshold * 1.011 && r.pps >= threshold * 0.97, `threshold ${threshold}: found ${Math.round(r.pps)}`);
  }
});

t.test('zero-loss search edge cases: threshold above the maximum, below the minimum, generator shortfall', async (t) => {
  const above = await zeroLossSearch(device(2_000_000).trial, { min: 0, max: 1_000_000 });
  t.ok(above.atMaximum, 'no loss at the maximum');
  t.equal(above.pps, 1_000_000);
  t.equal(above.steps.length, 1, 'nothing to search');

  const below = await zeroLossSearch(device(50_000).trial, { min: 100_000, max: 1_000_000 });
  t.ok(below.belowMinimum);
  t.equal(below.pps, 0, 'no rate reported when even the minimum loses');
  t.same(below.steps.map((s) => s.phase), ['max', 'min']);

  const zero = await zeroLossSearch(device(0).trial, { min: 0, max: 1_000_000, steps: 5 });
  t.equal(zero.pps, 0, 'a device that loses everything');
  t.ok(zero.belowMinimum);

  // The generator only reaches 400k: asked 1M, offered 400k, no loss -> at the maximum it can offer.
  const short = await zeroLossSearch(device(700_000, 400_000).trial, { min: 0, max: 1_000_000 });
  t.ok(short.atMaximum);
  t.equal(short.pps, 400_000, 'the offered rate, not the asked one');

  // A rate the generator falls short of counts as the rate it did offer.
  const d = device(300_000, 450_000);
  const r = await zeroLossSearch(d.trial, { min: 0, max: 1_000_000, maxOutcome: { pass: false, offeredPps: 450_000 }, steps: 10 });
  t.ok(d.asked.every((a) => a <= 450_000), 'the bracket starts at what the generator offered');
  t.ok(r.pps <= 300_000 && r.pps > 290_000, `${r.pps}`);

  await t.rejects(zeroLossSearch(d.trial, { min: 5, max: 1 }), /min <= max/);
  await t.rejects(zeroLossSearch(d.trial, { min: 0, max: 0 }), /max > 0/);
});

t.test('zero-loss search: the confirming trial steps down while it loses', async (t) => {
  // Short trials pass up to 500k, the longer confirming trial only up to 400k.
  const d = device(500_000);
  const long = device(400_000);
  const r = await zeroLossSearch(d.trial, { min: 0, max: 1_000_000, steps: 12, confirm: long.trial });
  t.ok(r.confirmed);
  // About 500k found; 450k and 405k (two 10% steps) still lose; the halving to 202.5k passes.
  t.ok(r.pps <= 400_000 && r.pps >= 500_000 * 0.9 * 0.9 * 0.5 * 0.98, `stepped down to ${Math.round(r.pps)}`);
  t.ok(long.asked.length >= 2, 'the first confirming trial failed');
  t.match(r.notes.join('\n'), /stepping down/);

  const never = await zeroLossSearch(d.trial, { min: 0, max: 1_000_000, confirm: device(1).trial });
  t.equal(never.confirmed, false);
  t.equal(never.pps, 0, 'nothing confirmed: no rate');
  t.match(never.notes.join('\n'), /no rate passed the confirming trial/);
});

// ---- results -> report -> plots ----

const machine = { cpu: 'Test CPU 3000', cores: 2, memoryGiB: 4, kernel: '6.1.0-test', node: 'v20.0.0', loadAverage: [0.11, 0.22, 0.33], loadAverageAfter: [0.44, 0.55, 0.66] };

function ifCase(name: string, forwarder: string, threads: number, size: number, mpps: number, extra: Partial<CaseResult> = {}): CaseResult {
  return { suite: 'interfaces', name, description: `${name} at ${size}`, threads, frameBytes: size, group: 'bridge', forwarder, status: 'ok', mpps: stats([mpps, mpps * 1.01, mpps * 0.99]), packets: 1234567, gbps: (mpps * size * 8) / 1000, limitMpps: null, limitNote: 'veth: none', warnings: [], ...extra };
}

function fixtureRuns(): SuiteRun[] {
  const engine: SuiteRun = {
    suite: 'engine', date: '2026-01-02T03:04:05.000Z', command: 'pktgraph bench engine', commit: 'abc1234', machine, settings: { runs: 3, seconds: 2, warmup: 0.5 },
    cases: [
      { suite: 'engine', name: 'generator -> Discard', description: 'in memory', threads: 1, frameBytes: 64, mpps: stats([101.5, 99.25, 100.75]), packets: 200000000, gbps: 51.2, cpuNsPerPacket: 9.87, warnings: [] },
      { suite: 'engine', name: 'generator -> Discard', description: 'two', threads: 2, frameBytes: 64, mpps: stats([190.25, 201.5, 199.125]), packets: 400000000, gbps: 102, cpuNsPerPacket: 10.1, warnings: ['throughput: runs disagree by 11% (min 1, max 2 Mpps)'] },
    ],
  };
  const iface: SuiteRun = {
    suite: 'interfaces', date: '2026-01-02T04:00:00.000Z', command: 'pktgraph bench interfaces --sizes 64,1518', commit: 'abc1234', machine, settings: { runs: 3 }, notes: ['Click: skipped (no click binary)'],
    cases: [
      ifCase('engine L2 bridge', 'engine', 1, 64, 0.4321, {
        cpuNsPerPacket: 456.7,
        lossPct: 4.25,
        latency: { p50Us: 12.5, p99Us: 48.25, p999Us: 96.5, maxUs: 210.75, samples: 9999, atMpps: 0.43, method: 'stamps' },
        versus: [{ name: 'Linux bridge', status: 'ok', mpps: 0.2876, ratio: 1.5 }, { name: 'Click', status: 'skipped', reason: 'no click binary' }],
      }),
      ifCase('engine L2 bridge', 'engine', 1, 1518, 0.3811),
      ifCase('Linux bridge veth -> veth', 'kernel', 0, 64, 0.2876),
      ifCase('Linux bridge veth -> veth', 'kernel', 0, 1518, 0.2555),
      { suite: 'interfaces', name: 'Click userlevel bridge veth -> veth', description: 'click', threads: 0, frameBytes: 64, group: 'bridge', forwarder: 'click', status: 'skipped', reason: 'Click: skipped (no click binary)', warnings: [] },
    ],
  };
  return [engine, iface];
}

/** A small XML well-formedness check: tags nest and close, attributes are quoted, entities known. */
function xmlProblems(xml: string): string[] {
  const problems: string[] = [];
  const stack: string[] = [];
  let i = 0;
  let roots = 0;
  const text = (s: string) => {
    for (const m of s.matchAll(/&([^;\s]*);?/g)) if (!/^(amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+)$/i.test(m[1]) || !m[0].endsWith(';')) problems.push(`bad entity ${m[0]}`);
    if (s.includes('<')) problems.push('stray <');
  };
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    if (lt < 0) {
      text(xml.slice(i));
      break;
    }
    text(xml.slice(i, lt));
    if (xml.startsWith('<?', lt)) {
      const e = xml.indexOf('?>', lt);
      if (e < 0) return [...problems, 'unclosed <?'];
      i = e + 2;
      continue;
    }
    if (xml.startsWith('<!--', lt)) {
      const e = xml.indexOf('-->', lt);
      if (e < 0) return [...problems, 'unclosed comment'];
      i = e + 3;
      continue;
    }
    const gt = xml.indexOf('>', lt);
    if (gt < 0) return [...problems, 'unclosed tag'];
    const tag = xml.slice(lt + 1, gt);
    i = gt + 1;
    if (tag.startsWith('/')) {
      const name = tag.slice(1).trim();
      const open = stack.pop();
      if (open !== name) problems.push(`</${name}> closes <${open}>`);
      continue;
    }
    const selfClosing = tag.endsWith('/');
    const body = selfClosing ? tag.slice(0, -1) : tag;
    const m = /^([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_][\w:.-]*="[^"<]*")*)\s*$/.exec(body);
    if (!m) {
      problems.push(`malformed tag <${tag.slice(0, 60)}>`);
      continue;
    }
    const names = [...m[2].matchAll(/([\w:.-]+)="/g)].map((a) => a[1]);
    if (new Set(names).size !== names.length) problems.push(`duplicate attribute in <${m[1]}>`);
    for (const a of m[2].matchAll(/="([^"]*)"/g)) text(a[1]);
    if (stack.length === 0) roots++;
    if (!selfClosing) stack.push(m[1]);
  }
  if (stack.length) problems.push(`unclosed <${stack.join('>, <')}>`);
  if (roots !== 1) problems.push(`${roots} root elements`);
  return problems;
}

t.test('the XML checker itself rejects broken documents', async (t) => {
  t.same(xmlProblems('<a><b x="1"/>t &amp; u</a>'), []);
  t.ok(xmlProblems('<a><b></a>').length);
  t.ok(xmlProblems('<a x=1></a>').length);
  t.ok(xmlProblems('<a>&nope;</a>').length);
  t.ok(xmlProblems('<a></a><b></b>').length);
});

t.test('result files round-trip into RESULTS.md and the plots', async (t) => {
  const paths = tempPaths(t);
  for (const r of fixtureRuns()) saveRun(r, paths);
  const files = readdirSync(paths.resultsDir);
  t.equal(files.length, 2, 'one JSON per run');
  const back = loadRuns(paths.resultsDir);
  t.same(back, fixtureRuns().sort((a, b) => a.date.localeCompare(b.date)), 'JSON round-trips');
  const out = writeReport(paths);
  const md = readFileSync(out.report, 'utf8');
  // Figures from the files, formatted.
  for (const s of ['100.750', '99.250', '101.500', '199.125', '0.432', '456.7', '4.25', '12.5 / 48.3 / 96.5 / 210.8', '1.50x Linux bridge (0.288)', 'Click: skipped (no click binary)', '200000000'])
    t.ok(md.includes(s), `RESULTS.md contains ${s}`);
  t.match(md, /\| Click userlevel bridge veth -> veth \| - \| 64 B \| \*\*skipped\*\*: Click: skipped \(no click binary\) \| Mpps \| - \| - \|/, 'a skipped case says so instead of a number');
  t.match(md, /Test CPU 3000, 2 cores, .*Linux 6\.1\.0-test.*load average before 0\.11 0\.22 0\.33, after 0\.44 0\.55 0\.66/, 'machine and load average');
  t.match(md, /`pktgraph bench interfaces --sizes 64,1518`, commit abc1234/, 'command and commit');
  t.match(md, /runs disagree by 11%/, 'warnings are listed');
  t.match(md, /## Headline/);
  t.match(md, /veth: none/, 'no theoretical limit on veth, said');
  // Latest per case: a newer engine run replaces the 1-worker figure only.
  const newer = { ...fixtureRuns()[0], date: '2026-01-03T00:00:00.000Z', cases: [{ ...fixtureRuns()[0].cases[0], mpps: stats([77.125]) }] };
  saveRun(newer, paths);
  const md2 = readFileSync(writeReport(paths).report, 'utf8');
  t.ok(md2.includes('77.125') && !md2.includes('| 100.750 |'), 'the latest result of a case is shown');
  t.ok(md2.includes('199.125'), 'cases absent from the newer run keep their latest result');
  // Plots.
  const plots = readdirSync(paths.plotsDir).sort();
  t.same(plots, ['engine-scaling.svg', 'interfaces-bridge-by-frame-size.svg'], 'no virtual-router plot without such results');
  t.ok(md2.includes('](plots/interfaces-bridge-by-frame-size.svg)'), 'the report links its plots');
  const svg = readFileSync(join(paths.plotsDir, 'interfaces-bridge-by-frame-size.svg'), 'utf8');
  t.same(xmlProblems(svg), [], 'the frame-size plot is well-formed XML');
  t.match(svg, /<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  t.match(svg, /data-name="pktgraph, 1 worker"/, 'engine series');
  t.match(svg, /data-name="Linux bridge"/, 'kernel series');
  t.equal((svg.match(/<polyline/g) ?? []).length, 2, 'two lines (Click was skipped: no series)');
  t.match(svg, />1518</, 'frame-size ticks');
  const scaling = readFileSync(join(paths.plotsDir, 'engine-scaling.svg'), 'utf8');
  t.same(xmlProblems(scaling), [], 'the scaling plot is well-formed XML');
  t.match(scaling, /data-name="generator -&gt; Discard"/, 'series names are escaped');
  t.match(scaling, /linear from 1 worker/);
});

t.test('the SVG writer: ticks, escaping, legend, errors', async (t) => {
  t.same(niceTicks(0, 9.3), [0, 2, 4, 6, 8, 10]);
  t.same(niceTicks(0, 0.43), [0, 0.1, 0.2, 0.3, 0.4, 0.5]);
  const svg = lineChart({ title: 'A & B <test>', xLabel: 'x', yLabel: 'y', series: [{ name: 's"1', points: [[1, 2], [2, 4]] }, { name: 'ref', points: [[1, 3], [2, 3]], dashed: true }] });
  t.same(xmlProblems(svg), []);
  t.match(svg, /A &amp; B &lt;test&gt;/);
  t.match(svg, /s&quot;1/);
  t.match(svg, /stroke-dasharray/);
  t.throws(() => lineChart({ title: 'empty', xLabel: 'x', yLabel: 'y', series: [{ name: 'none', points: [] }] }), /no points/);
});

t.test('options: sizes, runs, unknown suites', async (t) => {
  const p = parseArgs(['interfaces', '--sizes', '64,1518', '--runs', '2', '--quick', '--click', '/x/click']);
  t.same(p.names, ['interfaces']);
  t.same(p.options.sizes, [64, 1518]);
  t.equal(p.options.runs, 2);
  t.equal(p.options.quick, true);
  t.equal(p.options.click, '/x/click');
  t.same(parseArgs([]).names, ['engine']);
  t.throws(() => parseArgs(['nosuch']), /no suite 'nosuch'/);
  t.ok((() => { try { parseArgs(['nosuch']); } catch (e) { return e instanceof UsageError; } return false; })(), 'a UsageError');
  t.throws(() => parseArgs(['engine', '--sizes', '10']), /frame sizes/);
  t.throws(() => parseArgs(['engine', '--runs', '1.5']), /whole number/);
  t.throws(() => parseArgs(['engine', '--runs']), /needs a value/);
  t.equal(parseArgs(['engine', '--out', '/tmp/x']).options.other.out, '/tmp/x');
  t.same(pathsUnder('/tmp/x'), { resultsDir: '/tmp/x/results', reportFile: '/tmp/x/RESULTS.md', plotsDir: '/tmp/x/plots' }, '--out puts everything under one folder');
});

t.test('smoke: a short engine suite run writes its JSON, report and scaling plot', async (t) => {
  const paths = tempPaths(t);
  const logs: string[] = [];
  const out = await runBench(['engine', '--runs', '1', '--seconds', '0.2', '--warmup', '0.05'], { paths, quiet: true, log: (s) => logs.push(s), command: 'test smoke' });
  t.equal(out.length, 1);
  t.ok(existsSync(out[0].file));
  const run = JSON.parse(readFileSync(out[0].file, 'utf8')) as SuiteRun;
  t.equal(run.suite, 'engine');
  t.equal(run.command, 'test smoke');
  t.match(run.date, /^\d{4}-\d\d-\d\dT/);
  t.type(run.commit, 'string');
  for (const k of ['cpu', 'cores', 'kernel', 'loadAverage', 'loadAverageAfter'] as const) t.ok(run.machine[k] !== undefined, `machine.${k}`);
  t.equal(run.settings.runs, 1);
  t.ok(run.cases.length >= 4);
  for (const c of run.cases) {
    t.ok(c.mpps && c.mpps.median > 0 && c.mpps.runs.length === 1, `${c.name}/${c.threads}: Mpps measured`);
    t.ok(c.packets! > 0, 'packets');
    t.ok(c.gbps! > 0, 'Gbit/s');
    t.ok(c.cpuNsPerPacket! > 0, 'CPU ns per packet');
    t.ok(Array.isArray(c.warnings));
  }
  t.ok(existsSync(paths.reportFile), 'RESULTS.md written to the given path');
  t.ok(existsSync(join(paths.plotsDir, 'engine-scaling.svg')), 'scaling plot written');
  t.ok(logs.some((l) => l.includes('generator -> Discard')), 'a summary line per case');
});

t.test('smoke: a short vrouters suite run creates, measures and deletes routers, swaps a graph under load, saves and restores one, and plots cost and memory', async (t) => {
  const paths = tempPaths(t);
  // A small table in the shared tables' format for the save and restore cases.
  const table = join(dirname(paths.resultsDir), 'small-table.txt');
  writeFileSync(table, Array.from({ length: 2000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24 ${i % 7}`).join('\n') + '\n');
  const out = await runBench(['vrouters', '--runs', '1', '--counts', '1,3', '--seconds', '0.2', '--warmup', '0.05', '--swaps', '2', '--settle', '100', '--save-runs', '2', '--routes', table], { paths, quiet: true, log: () => {}, command: 'test vrouters' });
  const run = JSON.parse(readFileSync(out[0].file, 'utf8')) as SuiteRun;
  const c = (name: string) => run.cases.find((x) => x.name === name)!;
  for (const n of [1, 3]) {
    t.equal(c(`cost with ${n} virtual router(s)`).extra!.vrouters, n, `${n} routers created and measured`);
    t.ok(c(`cost with ${n} virtual router(s)`).cpuNsPerPacket! > 0, 'their packets went through the FIB and were counted');
    t.ok(c(`RSS with ${n} virtual router(s)`).mpps!.median > 0, 'RSS');
  }
  t.type(c('cost with 3 virtual router(s)').extra!.versusOne, 'number', 'cost beside one router');
  t.equal(c('cost with 3 virtual router(s), burst 256').extra!.routers, 3, 'the most routers again with longer bursts');
  t.ok(c('cost with 1 virtual router(s), burst 256').cpuNsPerPacket! > 0);
  t.equal(c('create and start one virtual router').mpps!.runs.length, 8, 'every create timed (1 + 3, then 1 + 3 with longer bursts)');
  t.equal(c('delete one virtual router').mpps!.runs.length, 8, 'every delete timed');
  const lost = c('reconfiguration: packets lost');
  t.ok((lost.extra!.sent as number) > 0, 'traffic during the swaps');
  t.equal(lost.mpps!.median, 0, 'no packet lost across the swaps');
  t.equal(c('reconfiguration: forwarding gap').mpps!.runs.length, 2, 'one gap per swap');
  const save = c('save one virtual router with the full table');
  t.equal(save.mpps!.runs.length, 2, 'every save timed');
  t.equal(save.extra!.routes, 2001, "the saved router's routes (the table and a default)");
  t.equal(c('restore one virtual router with the full table').mpps!.runs.length, 2, 'every restore timed (each checked to hold every route)');
  for (const f of ['vrouters-cost.svg', 'vrouters-memory.svg']) t.same(xmlProblems(readFileSync(join(paths.plotsDir, f), 'utf8')), [], `${f} written, well-formed`);
  const cost = readFileSync(join(paths.plotsDir, 'vrouters-cost.svg'), 'utf8');
  t.match(cost, /data-name="CPU ns per packet"/);
  t.match(cost, /data-name="CPU ns per packet, 256-packet bursts"/, 'the longer bursts beside');
  t.match(readFileSync(join(paths.plotsDir, 'vrouters-memory.svg'), 'utf8'), /data-name="added by the routers"/);
});

t.test('smoke: a short api suite run times route changes and lists through the HTTP API', async (t) => {
  const paths = tempPaths(t);
  const out = await runBench(['api', '--runs', '1', '--requests', '40', '--routers', '20'], { paths, quiet: true, log: () => {}, command: 'test api' });
  const run = JSON.parse(readFileSync(out[0].file, 'utf8')) as SuiteRun;
  const c = (name: string) => run.cases.find((x) => x.name === name)!;
  const change = c('route change (p99)');
  t.equal(change.extra!.requests, 40, 'every route change answered 200');
  t.ok(change.mpps!.median >= (change.extra!.p50 as number), 'p99 at least p50');
  t.match(change.target?.note, /<= 5 ms p99/);
  t.ok(c('handler read beside the route changes (p99)').mpps!.median > 0, 'a read beside each change');
  t.equal(c('vr.list with 20 routers as admin (p99)').extra!.answered, 20, 'the admin sees every router');
  t.equal(c('vr.list with 20 routers as a tenant operator (p99)').extra!.answered, 2, 'a tenant operator its own (filtered)');
  t.equal(c('first request with a new token').mpps!.runs.length, 5, 'five new tokens');
});

t.test('smoke: a short metrics suite run scrapes 20 routers and watches the probe router', async (t) => {
  const paths = tempPaths(t);
  const out = await runBench(['metrics', '--runs', '1', '--routers', '20', '--scrapes', '2', '--windows', '1', '--window', '300'], { paths, quiet: true, log: () => {}, command: 'test metrics' });
  const run = JSON.parse(readFileSync(out[0].file, 'utf8')) as SuiteRun;
  const c = (name: string) => run.cases.find((x) => x.name === name)!;
  const admin = c('scrape with 20 routers as the admin');
  t.ok(admin.mpps!.median > 0 && (admin.extra!.series as number) > 20 * 20, `${admin.extra!.series} series for 20 routers and the probe`);
  t.match(admin.target?.note, /<= 200 ms/);
  t.ok((c("scrape with 20 routers as a tenant's viewer").extra!.series as number) < (admin.extra!.series as number), "a tenant's viewer gets fewer series");
  const gap = c('forwarding gap while scraping');
  t.equal(gap.extra!.lost, 0, 'the probe lost nothing');
  t.ok((gap.extra!.scrapes as number) >= 1, 'scrapes during the scraping window');
});

t.test('progress: plain lines off a terminal, a redrawn bar on one', async (t) => {
  const { makeProgress } = await import('../bench/progress.js');
  const plain: string[] = [];
  const p = makeProgress('demo', { isTTY: false, write: (s: string) => plain.push(s) });
  p.plan(2);
  p.startCase(0, 'first case');
  p.step(1, 3, 'detail');
  p.startCase(1, 'second case');
  p.step(3, 3);
  p.done();
  t.equal(plain.length, 2);
  t.match(plain[0], /^\[demo\] case 1\/2, run 1\/3, 00:00 elapsed, ETA --:--: first case \(detail\)\n$/);
  t.match(plain[1], /^\[demo\] case 2\/2, run 3\/3, 00:00 elapsed, ETA \d\d:\d\d: second case\n$/);
  const tty: string[] = [];
  const q = makeProgress('demo', { isTTY: true, columns: 200, write: (s: string) => tty.push(s) });
  q.plan(4);
  q.startCase(2, 'third');
  q.step(1, 2);
  q.done();
  t.match(tty[0], /^\r\x1b\[K#{10}\.{10} \[demo\] case 3\/4, run 1\/2/, 'a bar half full (2 of 4 cases done), redrawn in place');
  t.equal(tty[tty.length - 1], '\r\x1b[K', 'cleared at the end');
});

t.test('`pktgraph bench` reaches the harness (help and a usage error; nothing is run)', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const bin = join(import.meta.dirname, '..', 'bin', 'pktgraph.js');
  const help = spawnSync(process.execPath, [bin, 'bench', '--help'], { encoding: 'utf8', timeout: 60_000 });
  t.equal(help.status, 0, help.stderr);
  t.match(help.stdout, /usage: pktgraph bench \[SUITE\.\.\.\]/);
  t.match(help.stdout, /--sizes/);
  const bad = spawnSync(process.execPath, [bin, 'bench', 'nosuch'], { encoding: 'utf8', timeout: 60_000 });
  t.equal(bad.status, 2);
  t.match(bad.stderr, /no suite 'nosuch'; suites: engine, fib, router, interfaces/);
});
