// Start-up and memory: graph files are compiled once and kept in the transpile cache (and a
// changed file is compiled again), TypeScript helpers imported as './x.js' are found, the packet
// pool costs memory only for the packets used, and route files are read block by block.
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runtime, compile, graph, InfiniteSource, IPLookup, Discard, Queue, Unqueue } from 'pktgraph';
import { startCli } from './lib/cli.js';

const work = mkdtempSync(join(tmpdir(), 'pktgraph-startup-test-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

const cli = (args: string[], env: Record<string, string>, cwd = join(work, 'graphs')) => startCli(args, { cwd, runtimeDir: work, env }).done;

const rssBytes = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;

t.test('graph files are compiled once, a changed file again; TypeScript helpers import as .js', async (t) => {
  const cache = join(work, 'cache');
  const dir = join(work, 'graphs');
  mkdirSync(dir);
  writeFileSync(join(dir, 'helper.ts'), `export const packets: number = 7;\n`);
  const file = join(dir, 'g.ts');
  const write = (name: string) =>
    writeFileSync(file, `import { graph, InfiniteSource, Discard } from 'pktgraph';\nimport { packets } from './helper.js';\nexport default graph('${name}', () => {\n  InfiniteSource({ limit: packets }, 'src').to(Discard({}, 'sink'));\n});\n`);
  write('first');
  const env = { PKTGRAPH_CACHE_DIR: cache };
  const a = await cli(['compile', 'g.ts'], env);
  t.equal(a.code, 0, a.stderr);
  t.equal(JSON.parse(a.stdout).name, 'first');
  t.equal(JSON.parse(a.stdout).elements[0].config.limit, 7, "the helper's value, from helper.ts");
  const entries = readdirSync(cache).sort();
  // Importing a file of its own, the graph goes through the module hooks: a marker says so,
  // and the graph and its helper are compiled once each.
  t.same(entries.map((e) => e.replace(/^[0-9a-f]{64}/, 'H')).sort(), ['H.mjs', 'H.mjs', 'H.mjs.hooks'], 'the graph and its helper, and the marker');
  const b = await cli(['compile', 'g.ts'], env);
  t.equal(b.code, 0, b.stderr);
  t.same(readdirSync(cache).sort(), entries, 'the second compile reads the cache and adds nothing');
  // A cache entry is what runs: rewriting one (as a stale cache would be) shows in the output.
  write('second');
  const c = await cli(['compile', 'g.ts'], env);
  t.equal(c.code, 0, c.stderr);
  t.equal(JSON.parse(c.stdout).name, 'second', 'an edited file is compiled again, not taken from the cache');
  t.equal(readdirSync(cache).length, 5, 'a new marker and a new compiled graph; the helper is unchanged');
  // Errors still name the TypeScript's own line (the cached code carries a source map).
  writeFileSync(file, `import { graph, InfiniteSource, Discard } from 'pktgraph';\n\nexport default graph('bad', () => {\n  InfiniteSource({ burst: 9999 }, 'src').to(Discard({}, 'sink'));\n});\n`);
  // This one imports only 'pktgraph': it is compiled into the cache and imported from there, no hooks.
  const before = new Set(readdirSync(cache));
  for (let i = 0; i < 2; i++) {
    const bad = await cli(['compile', 'g.ts'], env);
    t.equal(bad.code, 1);
    t.match(bad.stderr, /element 'src' \(InfiniteSource\) \(defined at .*g\.ts:4\): config field 'burst'/, i ? 'from the cache' : 'compiled');
  }
  const added = readdirSync(cache).filter((e) => !before.has(e));
  t.equal(added.length, 1, 'one compiled module, no marker');
  t.match(readFileSync(join(cache, added[0]), 'utf8'), /from "file:\/\/\/.*index\.js"/, "its import of 'pktgraph' points at the package entry");
  // Entries not written for 30 days go when a new one is written.
  const stale = join(cache, 'f'.repeat(64) + '.mjs');
  writeFileSync(stale, 'export default 1;\n');
  const longAgo = new Date(Date.now() - 40 * 86_400_000);
  utimesSync(stale, longAgo, longAgo);
  writeFileSync(join(dir, 'fresh.ts'), `import { graph, InfiniteSource, Discard } from 'pktgraph';\nexport default graph('fresh', () => { InfiniteSource({ limit: 1 }, 'src').to(Discard({}, 'sink')); });\n`);
  const f = await cli(['compile', 'fresh.ts'], env);
  t.equal(f.code, 0, f.stderr);
  t.notOk(existsSync(stale), 'a stale entry is pruned');
  t.ok(readdirSync(cache).length >= 6, 'recent entries stay');
  const syntax = join(dir, 'syntax.ts');
  writeFileSync(syntax, `export default 1 +;\n`);
  const s = await cli(['compile', 'syntax.ts'], { PKTGRAPH_CACHE_DIR: cache });
  t.equal(s.code, 1);
  t.match(s.stderr.trim(), /^pktgraph: loading the graph file syntax\.ts failed: .*syntax\.ts:1:\d+: ERROR: /);
  t.equal(s.stderr.trim().split('\n').length, 1, 'one line');
});

t.test('the packet pool touches a packet only when first used', async (t) => {
  // 131072 buffers of 2048 bytes: about 290 MB of pool; it must not become resident.
  const before = rssBytes();
  const rt = new Runtime({ threads: 1, poolBuffers: 131072 });
  try {
    const idle = rssBytes() - before;
    t.ok(idle < 16e6, `an idle engine with a 290 MB pool adds ${(idle / 1e6).toFixed(1)} MB resident`);
    t.equal(rt.poolStats().available, 131072, 'every buffer is available');
  } finally {
    rt.close();
  }
  const rt2 = new Runtime({ threads: 1, poolBuffers: 131072 });
  try {
    // Up to 4000 packets in flight (a Queue of 4000): those become resident, not the pool.
    const base = rssBytes();
    const g = rt2.load(compile(graph('hold', () => {
      const q = Queue({ capacity: 4000 }, 'q');
      InfiniteSource({ limit: 4000, burst: 64 }, 'src').to(q);
      q.to(Unqueue({}, 'u')).to(Discard({}, 'sink'));
    })));
    rt2.start();
    const deadline = Date.now() + 10_000;
    while (g.counter('sink', 'packets') < 4000n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    rt2.stop();
    t.equal(g.counter('sink', 'packets'), 4000n, 'every packet went through');
    const grown = rssBytes() - base;
    t.ok(grown < 60e6, `4000 packets in flight at most made ${(grown / 1e6).toFixed(1)} MB resident, not the pool's 290 MB`);
    g.remove();
    t.equal(rt2.poolStats().available, 131072, 'every packet is back');
  } finally {
    rt2.close();
  }
});

t.test('a route file is streamed: a prefix given twice names both lines; a large gzip file loads whole', async (t) => {
  const file = join(work, 'dup.routes');
  writeFileSync(file, '# dup\n10.0.0.0/8 0\n\n192.0.2.0/24 1\n10.0.0.0/8 1\n');
  const rt = new Runtime({ threads: 1, poolBuffers: 256 });
  try {
    const plan = (f: string, routes: string[] = []) =>
      compile(graph('dup', () => {
        const rt = IPLookup({ file: f, routes }, 'rt');
        InfiniteSource({ limit: 0 }, 'src').to(rt);
        rt.out(0).to(Discard());
        rt.out(1).to(Discard());
      }));
    t.throws(() => rt.load(plan(file)), new RegExp(`file '${file}' line 5 \\('10\\.0\\.0\\.0/8 1'\\): prefix 10\\.0\\.0\\.0/8 is also file '${file}' line 2 \\('10\\.0\\.0\\.0/8 0'\\)`));
    writeFileSync(file, '192.0.2.0/24 1\n');
    t.throws(() => rt.load(plan(file, ['192.0.2.0/24 0'])), new RegExp(`line 1 \\('192\\.0\\.2\\.0/24 1'\\): prefix 192\\.0\\.2\\.0/24 is also in 'routes'`));
    // 200k routes (about 3.5 MB of text, many read blocks) through gzip.
    const lines: string[] = [];
    for (let i = 0; i < 200_000; i++) lines.push(`${(i >> 16) + 1}.${(i >> 8) & 255}.${i & 255}.0/24 ${i & 1}`);
    const gz = join(work, 'big.routes.gz');
    writeFileSync(gz, gzipSync(lines.join('\n') + '\n'));
    const g = rt.load(plan(gz));
    t.equal(g.read('rt', 'count'), '200000');
    const i = 65536 + 256 + 3; // 2.1.3.0/24, from the middle of the file
    g.write('rt', 'lookup', '2.1.3.9');
    t.equal(g.read('rt', 'lookup_result'), `dev ${i & 1}`, 'a route from the middle of the file');
    g.remove();
  } finally {
    rt.close();
  }
});

t.test('the compact route set: thousands of adds, replacements and removes after a file load agree with a reference', async (t) => {
  // The set is a sorted array with a map of changes merged into it once they are many (over
  // 1024 + a sixteenth): 6000 changes cross that several times.
  const file = join(work, 'base.routes');
  const prefix = (i: number) => `10.${(i >> 8) & 255}.${i & 255}.0/24`;
  const ref = new Map<number, number>(); // i -> output
  const lines: string[] = [];
  for (let i = 0; i < 8000; i += 2) {
    lines.push(`${prefix(i)} ${i % 3}`);
    ref.set(i, i % 3);
  }
  writeFileSync(file, lines.join('\n') + '\n');
  const rt = new Runtime({ threads: 1, poolBuffers: 256 });
  try {
    const g = rt.load(compile(graph('churn', () => {
      const l = IPLookup({ file }, 'rt');
      InfiniteSource({ limit: 0 }, 'src').to(l);
      for (let o = 0; o < 3; o++) l.out(o).to(Discard());
    })));
    let seed = 7;
    const next = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    for (let w = 0; w < 30; w++) {
      const adds: string[] = [];
      const removes: string[] = [];
      const touched = new Set<number>();
      for (let k = 0; k < 200; k++) {
        const i = next(9000);
        if (touched.has(i)) continue;
        touched.add(i);
        if (ref.has(i) && next(2) === 0) {
          removes.push(prefix(i));
          ref.delete(i);
        } else {
          const out = next(3);
          adds.push(`${prefix(i)} ${out}`);
          ref.set(i, out);
        }
      }
      if (adds.length) g.write('rt', 'add', adds.join('\n'));
      if (removes.length) g.write('rt', 'remove', removes.join('\n'));
    }
    t.equal(g.read('rt', 'count'), String(ref.size), 'count');
    const want = [...ref.keys()].sort((a, b) => a - b).map((i) => `${prefix(i)} dev ${ref.get(i)}`);
    t.same(g.read('rt', 'table').trim().split('\n'), want, 'the table, in prefix order');
    let wrong = 0;
    for (let i = 0; i < 9000; i += 7) {
      g.write('rt', 'lookup', `10.${(i >> 8) & 255}.${i & 255}.1`);
      if (g.read('rt', 'lookup_result') !== (ref.has(i) ? `dev ${ref.get(i)}` : 'no route')) wrong++;
    }
    t.equal(wrong, 0, 'lookups agree');
    g.remove();
  } finally {
    rt.close();
  }
});
