// FIB update benchmark: load a full table into a running IPLookup / LookupIP6Route (through its
// `file`, gzip read natively), then time route changes made through the element's handlers, as
// a control plane would make them: single-route replacements, removes and re-adds, new more
// specific routes and host routes (each write one route, applied in place), writes of 100 routes
// at once, and changes of the default route (which touch every slot: a full rebuild).
//
//   node --import tsx bench/fib-updates.ts [--routes FILE] [--routes6 FILE] [--synthetic] [--updates N]
//
// Tables as in bench/fib.ts: --routes / --routes6, else ../shared/data/fib/ipv4-full-902k.txt.gz and
// ipv6-full-160k.txt.gz, else a synthetic table (said in the output). Each write is timed from the
// handler call to its return (the change is visible to the workers when it returns), so the times
// include the handler call itself (about a microsecond; `lookup` writes are timed for comparison).
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, tmpdir } from 'node:os';
import { graph, compile, Runtime, IPLookup, LookupIP6Route, InfiniteSource, Discard } from '../src/index.js';
import { sharedFibDir as shared, synthetic } from './routes.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const OUTPUTS = 256; // the shared tables' next-hop indexes are 0..255: one output each
const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
const us = (ns: number) => `${(ns / 1e3).toFixed(1)} µs`;
const ms = (ns: number) => `${(ns / 1e6).toFixed(2)} ms`;

let seed = 7;
const rnd = () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
};
const int = (n: number) => Math.floor(rnd() * n);

function summary(name: string, times: number[]) {
  const s = [...times].sort((a, b) => a - b);
  const total = times.reduce((a, b) => a + b, 0);
  console.log(
    `  ${name.padEnd(34)} n=${String(times.length).padEnd(5)} median ${us(pct(s, 50)).padStart(9)}  p90 ${us(pct(s, 90)).padStart(9)}  p99 ${us(pct(s, 99)).padStart(10)}  max ${ms(s[s.length - 1]).padStart(9)}  -> ${Math.round((times.length * 1e9) / total)} updates/s`,
  );
}

function run(family: 'IPv4' | 'IPv6', width: 32 | 128, given: string | undefined, sharedName: string, syntheticCount: number) {
  let file: string;
  let source: string;
  let temp: string | undefined;
  if (given) file = source = given;
  else if (!process.argv.includes('--synthetic') && existsSync(join(shared, sharedName))) file = source = join(shared, sharedName);
  else {
    temp = file = join(tmpdir(), `pktgraph-fib-updates-${process.pid}-${width}.txt`);
    writeFileSync(file, synthetic(width, syntheticCount));
    source = `SYNTHETIC table of ${syntheticCount} routes (${process.argv.includes('--synthetic') ? '--synthetic given' : `${sharedName} not found`})`;
  }
  const rt = new Runtime({ threads: 1, poolBuffers: 256 });
  try {
    rt.start();
    const plan = compile(
      graph(`fibupd${width}`, () => {
        const el = InfiniteSource({ limit: 0 }).to((width === 32 ? IPLookup : LookupIP6Route)({ file }, 'rt'));
        for (let i = 0; i < OUTPUTS; i++) el.out(i).to(Discard());
      }),
    );
    const t0 = process.hrtime.bigint();
    const g = rt.load(plan);
    const loadNs = Number(process.hrtime.bigint() - t0);
    const prefixes = g
      .read('rt', 'table')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(0, l.indexOf(' ')));
    console.log(`\n${family}: ${source}`);
    console.log(`  routes ${prefixes.length}, load (read gzip, parse, build, publish) ${ms(loadNs)}, memory ${(Number(g.read('rt', 'memory')) / 2 ** 20).toFixed(2)} MiB`);
    const n = Number(arg('--updates') ?? 3000);
    const timed = (handler: string, value: string) => {
      const a = process.hrtime.bigint();
      g.write('rt', handler, value);
      return Number(process.hrtime.bigint() - a);
    };
    const pick = () => prefixes[int(prefixes.length)];
    const host = (p: string) => {
      // An address inside prefix p (its network address with the last bits changed).
      const [addr] = p.split('/');
      if (width === 32) return addr.replace(/\.\d+$/, `.${1 + int(250)}`);
      return addr.endsWith('::') ? `${addr}${(1 + int(0xfff0)).toString(16)}` : addr;
    };
    const look: number[] = [];
    for (let i = 0; i < 1000; i++) look.push(timed('lookup', host(pick())));
    summary('lookup (handler call, for scale)', look);

    const replace: number[] = [];
    for (let i = 0; i < n; i++) replace.push(timed('add', `${pick()} ${int(OUTPUTS)}`));
    summary('replace one route', replace);

    const removeAdd: number[] = [];
    for (let i = 0; i < n / 2; i++) {
      const p = pick();
      removeAdd.push(timed('remove', p));
      removeAdd.push(timed('add', `${p} ${int(OUTPUTS)}`));
    }
    summary('remove one route, add it back', removeAdd);

    const added: string[] = [];
    const addNew: number[] = [];
    for (let i = 0; i < n; i++) {
      const h = host(pick());
      const p = `${h}/${width}`;
      added.push(p);
      addNew.push(timed('add', `${p} ${int(OUTPUTS)}`));
    }
    summary(`add a new host route (/${width})`, addNew);
    const removeNew: number[] = [];
    for (const p of new Set(added)) removeNew.push(timed('remove', p));
    summary('remove it again', removeNew);

    const batch: number[] = [];
    for (let i = 0; i < 30; i++) {
      const lines = Array.from({ length: 100 }, () => `${pick()} ${int(OUTPUTS)}`);
      batch.push(timed('add', lines.join('\n')));
    }
    const bs = [...batch].sort((a, b) => a - b);
    console.log(`  ${'replace 100 routes in one write'.padEnd(34)} n=${String(batch.length).padEnd(5)} median ${ms(pct(bs, 50)).padStart(9)} per write  -> ${Math.round((100 * 1e9) / pct(bs, 50))} routes/s`);

    const dflt: number[] = [];
    for (let i = 0; i < 5; i++) dflt.push(timed('add', `default ${int(OUTPUTS)}`));
    for (let i = 0; i < 2; i++) dflt.push(timed('remove', 'default'), timed('add', `default ${int(OUTPUTS)}`));
    const ds = [...dflt].sort((a, b) => a - b);
    console.log(`  ${'change the default route'.padEnd(34)} n=${String(dflt.length).padEnd(5)} median ${ms(pct(ds, 50)).padStart(9)} (every slot changes: a full rebuild)`);
    console.log(`  memory after these updates ${(Number(g.read('rt', 'memory')) / 2 ** 20).toFixed(2)} MiB (replaced parts are reclaimed by the next full rebuild)`);
    g.remove();
  } finally {
    rt.close();
    if (temp) rmSync(temp, { force: true });
  }
}

console.log(`fib updates bench: ${new Date().toISOString()}, ${cpus()[0]?.model ?? '?'} x${cpus().length}, node ${process.version}, engine with 1 worker`);
if (process.argv.includes('--help')) {
  console.log('usage: node --import tsx bench/fib-updates.ts [--routes FILE] [--routes6 FILE] [--synthetic] [--updates N]');
  process.exit(0);
}
run('IPv4', 32, arg('--routes'), 'ipv4-full-902k.txt.gz', 901_899);
run('IPv6', 128, arg('--routes6'), 'ipv6-full-160k.txt.gz', 160_147);
