// The benchmark runner: `npm run bench -- SUITE [--runs N] [--seconds S] [--warmup S]`.
// Runs the named suite, prints a table, writes bench/results/<date>-<suite>.json and
// regenerates bench/RESULTS.md. Suites: engine, router (router also takes --routes FILE or
// --synthetic, see bench/suites/router.ts), interfaces (needs root; takes --quick and
// --generator engine and --ring BLOCKSxBYTES, see bench/suites/interfaces.ts).
import { machine, gitCommit, saveRun, type CaseResult } from './lib.js';
import { runEngineSuite } from './suites/engine.js';
import { runRouterSuite } from './suites/router.js';
import { runInterfacesSuite } from './suites/interfaces.js';

const suites: Record<string, (o: { runs: number; seconds: number; warmup: number; progress: (m: string) => void }) => Promise<CaseResult[]>> = {
  engine: runEngineSuite,
  router: runRouterSuite,
  interfaces: runInterfacesSuite,
};

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) {
    console.error(`bench: --${name} needs a positive number`);
    process.exit(2);
  }
  return v;
}

// Options that take a value (the others, like --synthetic, are flags).
const valued = new Set(['--runs', '--seconds', '--warmup', '--routes', '--generator', '--ring']);
const names = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(i > 0 && valued.has(all[i - 1])));
if (names.length === 0) names.push('engine');
for (const n of names) {
  if (!suites[n]) {
    console.error(`bench: no suite '${n}'; suites: ${Object.keys(suites).join(', ')}`);
    process.exit(2);
  }
}
const runs = arg('runs', 5);
const seconds = arg('seconds', 2);
const warmup = arg('warmup', 0.5);
const tty = process.stderr.isTTY;
for (const suite of names) {
  const m = machine();
  const date = new Date().toISOString();
  const progress = (msg: string) => {
    if (tty) process.stderr.write(`\r\x1b[K[${suite}] ${msg}`);
    else process.stderr.write(`[${suite}] ${msg}\n`);
  };
  const cases = await suites[suite]({ runs, seconds, warmup, progress });
  if (tty) process.stderr.write('\r\x1b[K');
  const command = `npm run bench -- ${process.argv.slice(2).join(' ') || suite}`;
  const file = saveRun({ suite, date, command, commit: gitCommit(), machine: m, settings: { runs, seconds, warmup }, cases });
  console.log(`${suite} (${m.cpu}, ${m.cores} cores)`);
  for (const c of cases) {
    const met = c.met === undefined ? '' : c.met ? '  [target met]' : '  [target MISSED]';
    console.log(`  ${c.name.padEnd(56)} ${String(c.threads).padStart(2)} thr  ${c.mpps.median.toFixed(2).padStart(7)} Mpps (${c.mpps.min.toFixed(2)}-${c.mpps.max.toFixed(2)})  ${c.cpuNsPerPacket.toFixed(1)} ns/pkt${met}`);
    for (const w of c.warnings) console.log(`    warning: ${w}`);
  }
  console.log(`written: ${file} and bench/RESULTS.md`);
}
