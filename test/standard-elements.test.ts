// The standard group's routing and annotation elements on real packets: Tee, Print,
// Paint, PaintSwitch, Switch, RoundRobinSwitch, HashSwitch, SetTimestamp, Null.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import {
  graph,
  compile,
  GraphError,
  Runtime,
  HandlerError,
  InfiniteSource,
  Counter,
  Discard,
  Queue,
  Unqueue,
  Tee,
  Print,
  Paint,
  PaintSwitch,
  Switch,
  RoundRobinSwitch,
  HashSwitch,
  SetTimestamp,
  Null,
  FromPcap,
  ToPcap,
} from 'pktgraph';
import { runGraph, tmpPath as tmpFile } from './lib/run.js';
import { udp4Frame } from './lib/packets.js';
import { writePcap, readPcap, DEFAULT_TS_NS } from './lib/pcap.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function problems(build: () => void): string {
  try {
    compile(graph('g', build));
  } catch (e) {
    if (e instanceof GraphError) return e.problems.join('\n');
    throw e;
  }
  throw new Error('compile succeeded but a problem was expected');
}

// ---------- Null ----------

t.test('Null passes every packet and byte, in push and in pull position', async (t) => {
  const s = await runGraph(() => {
    InfiniteSource({ length: 90, limit: 3000, burst: 64 }, 'a').to(Null()).to(Null()).to(Counter({}, 'c')).to(Discard());
    InfiniteSource({ length: 50, limit: 2000 }, 'b')
      .to(Queue({ capacity: 4000 }))
      .to(Null({}, 'pulled'))
      .to(Counter({}, 'cp'))
      .to(Unqueue())
      .to(Discard());
  });
  t.equal(s.elements.c.packets, 3000);
  t.equal(s.elements.c.bytes, 3000 * 90);
  t.equal(s.elements.cp.packets, 2000);
  t.equal(s.elements.cp.bytes, 2000 * 50);
  t.equal(s.pool.available, s.pool.capacity);
});

// ---------- Tee ----------

t.test('Tee sends every packet to every output', async (t) => {
  const s = await runGraph(() => {
    const tee = InfiniteSource({ length: 77, limit: 5000, burst: 64 }, 'src').to(Tee({}, 'tee'));
    tee.out(0).to(Counter({}, 'c0')).to(Discard());
    tee.out(1).to(Counter({}, 'c1')).to(Discard());
    tee.out(2).to(Counter({}, 'c2')).to(Discard());
  });
  for (const c of ['c0', 'c1', 'c2']) {
    t.equal(s.elements[c].packets, 5000, `${c} packets`);
    t.equal(s.elements[c].bytes, 5000 * 77, `${c} bytes`);
  }
  t.equal(s.elements.tee.packets, 5000);
  t.equal(s.elements.tee.copies, 10000);
  t.equal(s.elements.tee.drops_pool_empty, 0);
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('Tee with one output forwards without copying', async (t) => {
  const s = await runGraph(() => {
    InfiniteSource({ limit: 1000 }, 'src').to(Tee({}, 'tee')).to(Counter({}, 'c')).to(Discard());
  });
  t.equal(s.elements.c.packets, 1000);
  t.equal(s.elements.tee.copies, 0);
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('Tee counts copies it cannot make when the pool is empty', async (t) => {
  // 64 buffers in all; the source takes 48 per batch, leaving at most 16 for copies.
  const s = await runGraph(
    () => {
      const tee = InfiniteSource({ length: 60, limit: 4800, burst: 48 }, 'src').to(Tee({}, 'tee'));
      tee.out(0).to(Counter({}, 'c0')).to(Discard());
      tee.out(1).to(Counter({}, 'c1')).to(Discard());
    },
    { poolBuffers: 64 },
  );
  t.equal(s.elements.c0.packets, 4800, 'every original goes out of output 0');
  t.ok(s.elements.tee.drops_pool_empty > 0, `missed ${s.elements.tee.drops_pool_empty} copies`);
  t.equal(s.elements.c1.packets + s.elements.tee.drops_pool_empty, 4800, 'each packet was either copied or counted');
  t.equal(s.elements.tee.copies, s.elements.c1.packets);
  t.equal(s.pool.available, s.pool.capacity);
});

// ---------- Paint and PaintSwitch ----------

t.test('Paint + PaintSwitch route by colour; colours without an output are dropped', async (t) => {
  const s = await runGraph(() => {
    const ps = PaintSwitch({}, 'ps');
    InfiniteSource({ length: 60, limit: 300 }, 'a').to(Paint({ color: 0 })).to(ps);
    InfiniteSource({ length: 70, limit: 500, burst: 17 }, 'b').to(Paint({ color: 2 })).to(ps);
    InfiniteSource({ length: 80, limit: 100 }, 'c').to(Paint({ color: 7 })).to(ps);
    InfiniteSource({ length: 90, limit: 50 }, 'd').to(Paint({ color: 255 })).to(ps);
    ps.out(0).to(Counter({}, 'c0')).to(Discard());
    ps.out(1).to(Counter({}, 'c1')).to(Discard());
    ps.out(2).to(Counter({}, 'c2')).to(Discard());
  });
  t.equal(s.elements.c0.packets, 300);
  t.equal(s.elements.c0.bytes, 300 * 60);
  t.equal(s.elements.c1.packets, 0);
  t.equal(s.elements.c2.packets, 500);
  t.equal(s.elements.c2.bytes, 500 * 70);
  t.equal(s.elements.ps.drops_no_output, 150);
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('PaintSwitch splits mixed batches: Paint in pull position after a shared queue', async (t) => {
  // Two sources paint differently and meet in one Queue; Unqueue pulls mixed batches.
  const s = await runGraph(() => {
    const q = Queue({ capacity: 10000 }, 'q');
    InfiniteSource({ length: 61, limit: 3000, burst: 7 }, 'a').to(Paint({ color: 1 })).to(q);
    InfiniteSource({ length: 62, limit: 2000, burst: 5 }, 'b').to(Paint({ color: 0 })).to(q);
    const ps = q.to(Null()).to(Unqueue({ burst: 256 })).to(PaintSwitch({}, 'ps'));
    ps.out(0).to(Counter({}, 'c0')).to(Discard());
    ps.out(1).to(Counter({}, 'c1')).to(Discard());
  });
  t.equal(s.elements.c0.packets, 2000);
  t.equal(s.elements.c0.bytes, 2000 * 62);
  t.equal(s.elements.c1.packets, 3000);
  t.equal(s.elements.c1.bytes, 3000 * 61);
  t.equal(s.elements.ps.drops_no_output, 0);
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('Paint in pull position repaints what it pulls', async (t) => {
  const s = await runGraph(() => {
    const ps = InfiniteSource({ limit: 1000 }, 'src')
      .to(Paint({ color: 0 }))
      .to(Queue({ capacity: 2000 }))
      .to(Paint({ color: 1 }))
      .to(Unqueue())
      .to(PaintSwitch({}, 'ps'));
    ps.out(0).to(Counter({}, 'c0')).to(Discard());
    ps.out(1).to(Counter({}, 'c1')).to(Discard());
  });
  t.equal(s.elements.c0.packets, 0);
  t.equal(s.elements.c1.packets, 1000);
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('Paint checks its colour', async (t) => {
  t.match(problems(() => InfiniteSource({}, 's').to(Paint({ color: 256 }, 'p')).to(Discard())), /element 'p' \(Paint\).*config field 'color'/);
  t.match(problems(() => InfiniteSource({}, 's').to(Paint({} as never, 'p')).to(Discard())), /element 'p' \(Paint\).*'color' must be given/);
});

// ---------- Switch ----------

t.test('Switch sends everything to the configured output; -1 drops', async (t) => {
  const s = await runGraph(() => {
    const sw = InfiniteSource({ length: 66, limit: 1200 }, 'src').to(Switch({ output: 1 }, 'sw'));
    sw.out(0).to(Counter({}, 'c0')).to(Discard());
    sw.out(1).to(Counter({}, 'c1')).to(Discard());
    sw.out(2).to(Counter({}, 'c2')).to(Discard());
    const off = InfiniteSource({ limit: 700 }, 'src2').to(Switch({ output: -1 }, 'off'));
    off.to(Counter({}, 'never')).to(Discard());
  });
  t.equal(s.elements.c0.packets, 0);
  t.equal(s.elements.c1.packets, 1200);
  t.equal(s.elements.c1.bytes, 1200 * 66);
  t.equal(s.elements.c2.packets, 0);
  t.equal(s.elements.sw.drops, 0);
  t.equal(s.elements.never.packets, 0);
  t.equal(s.elements.off.drops, 700);
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('Switch: an output past the connected outputs is a compile-time error naming the element', async (t) => {
  const msg = problems(() => {
    const sw = InfiniteSource({}, 'src').to(Switch({ output: 2 }, 'sw'));
    sw.out(0).to(Discard());
    sw.out(1).to(Discard());
  });
  t.match(msg, /element 'sw' \(Switch\).*config field 'output' is 2 but the element has 2 output\(s\)/);
  // The engine refuses it too, for plans not made by the compiler.
  const plan = compile(
    graph('g', () => {
      const sw = InfiniteSource({ limit: 1 }, 'src').to(Switch({}, 'sw'));
      sw.out(0).to(Discard());
    }),
  );
  const bad = structuredClone(plan);
  bad.elements.find((e) => e.name === 'sw')!.config.output = 1;
  const rt = new Runtime({ threads: 1, poolBuffers: 256 });
  try {
    t.throws(() => rt.load(bad), /element 'sw' \(Switch\): config field 'output' is 1 but the element has 1 output/);
  } finally {
    rt.close();
  }
});

t.test('Switch: the switch handler moves packets between outputs on a running engine', async (t) => {
  const plan = compile(
    graph('sw', () => {
      const sw = InfiniteSource({ length: 64, rate: 50000, burst: 16 }, 'src').to(Switch({}, 'sw'));
      sw.out(0).to(Counter({}, 'c0')).to(Discard());
      sw.out(1).to(Counter({}, 'c1')).to(Discard());
      sw.out(2).to(Counter({}, 'c2')).to(Discard());
    }),
  );
  const rt = new Runtime({ threads: 1, poolBuffers: 4096 });
  try {
    const g = rt.load(plan);
    rt.start();
    const waitFor = async (cond: () => boolean, what: string) => {
      for (let i = 0; i < 400 && !cond(); i++) await sleep(5);
      t.ok(cond(), what);
    };
    await waitFor(() => g.counter('c0', 'packets') > 100n, 'packets reach output 0');
    t.equal(g.read('sw', 'switch'), '0');
    t.equal(g.counter('c2', 'packets'), 0n);

    g.write('sw', 'switch', '2');
    t.equal(g.read('sw', 'switch'), '2');
    await waitFor(() => g.counter('c2', 'packets') > 0n, 'packets reach output 2 after the write');
    const c0 = g.counter('c0', 'packets');
    await waitFor(() => g.counter('c2', 'packets') > 200n, 'output 2 keeps receiving');
    t.equal(g.counter('c0', 'packets'), c0, 'output 0 receives nothing more');
    t.equal(g.counter('c1', 'packets'), 0n, 'output 1 never received anything');

    g.write('sw', 'switch', '-1');
    await waitFor(() => g.counter('sw', 'drops') > 100n, 'packets are dropped at -1');
    const c2 = g.counter('c2', 'packets');
    await sleep(20);
    t.equal(g.counter('c2', 'packets'), c2, 'nothing reaches output 2 at -1');

    t.throws(() => g.write('sw', 'switch', '3'), HandlerError, 'an output past the last is refused');
    t.throws(() => g.write('sw', 'switch', '3'), /switch must be from 0 to 2, got 3/);
    t.throws(() => g.write('sw', 'switch', 'one'), /switch must be a whole number/);
    t.throws(() => g.write('sw', 'switch', '-2'), /switch/);
    t.equal(g.read('sw', 'switch'), '-1', 'a refused write changes nothing');
    t.same(JSON.parse(g.read('sw', 'config')), { output: -1 }, "the config handler shows the output written through 'switch'");

    g.write('sw', 'switch', '1');
    await waitFor(() => g.counter('c1', 'packets') > 50n, 'packets reach output 1');
    rt.stop();
    const total = g.counter('c0', 'packets') + g.counter('c1', 'packets') + g.counter('c2', 'packets') + g.counter('sw', 'drops');
    t.equal(total, g.counter('src', 'packets'), 'every packet went somewhere');
    g.remove();
    t.equal(rt.poolStats().available, 4096, 'every buffer is back in the pool');
  } finally {
    rt.close();
  }
});

// ---------- RoundRobinSwitch ----------

t.test('RoundRobinSwitch deals packets out in turn', async (t) => {
  const s = await runGraph(() => {
    const rr = InfiniteSource({ length: 64, limit: 1000, burst: 64 }, 'src').to(RoundRobinSwitch({}, 'rr'));
    rr.out(0).to(Counter({}, 'c0')).to(Discard());
    rr.out(1).to(Counter({}, 'c1')).to(Discard());
    rr.out(2).to(Counter({}, 'c2')).to(Discard());
  });
  t.equal(s.elements.c0.packets, 334);
  t.equal(s.elements.c1.packets, 333);
  t.equal(s.elements.c2.packets, 333);
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('RoundRobinSwitch keeps turns across batches smaller than the number of outputs', async (t) => {
  const s = await runGraph(() => {
    const rr = InfiniteSource({ length: 64, limit: 700, burst: 3 }, 'src').to(RoundRobinSwitch({}, 'rr'));
    for (let i = 0; i < 7; i++) rr.out(i).to(Counter({}, `c${i}`)).to(Discard());
  });
  for (let i = 0; i < 7; i++) t.equal(s.elements[`c${i}`].packets, 100, `output ${i}`);
  t.equal(s.pool.available, s.pool.capacity);
});

// ---------- HashSwitch ----------

const flowHex = (i: number, minLength = 64) => udp4Frame({ src: `10.1.0.${i + 1}`, dst: '10.2.0.1', sport: 1000 + i, minLength }).toString('hex');

t.test('HashSwitch keeps each flow on one output and drops short packets', async (t) => {
  // Flow sizes with distinct subset sums: each output's count must be a sum of whole flows.
  const sizes = [100, 200, 400, 800, 1600];
  const s = await runGraph(() => {
    const hs = HashSwitch({ offset: 26, length: 8 }, 'hs');
    sizes.forEach((n, i) => InfiniteSource({ data: flowHex(i), limit: n, burst: 13 }, `f${i}`).to(hs));
    InfiniteSource({ length: 33, limit: 77 }, 'short').to(hs);
    hs.out(0).to(Counter({}, 'c0')).to(Discard());
    hs.out(1).to(Counter({}, 'c1')).to(Discard());
  });
  const isSubsetSum = (v: number) => [...Array(1 << sizes.length).keys()].some((m) => sizes.reduce((a, n, i) => (m & (1 << i) ? a + n : a), 0) === v);
  t.ok(isSubsetSum(s.elements.c0.packets), `output 0 got whole flows (${s.elements.c0.packets})`);
  t.equal(s.elements.c0.packets + s.elements.c1.packets, 3100);
  t.equal(s.elements.hs.drops_short, 77);
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('HashSwitch spreads many flows over its outputs', async (t) => {
  const flows = 64;
  const s = await runGraph(() => {
    const hs = HashSwitch({ offset: 26, length: 8 }, 'hs');
    for (let i = 0; i < flows; i++) InfiniteSource({ data: flowHex(i), limit: 10 }, `f${i}`).to(hs);
    for (let o = 0; o < 4; o++) hs.out(o).to(Counter({}, `c${o}`)).to(Discard());
  });
  let total = 0;
  for (let o = 0; o < 4; o++) {
    const n = s.elements[`c${o}`].packets;
    total += n;
    t.equal(n % 10, 0, `output ${o} got whole flows`);
    t.ok(n >= 40, `output ${o} got ${n / 10} of ${flows} flows`);
  }
  t.equal(total, flows * 10);
  t.equal(s.elements.hs.drops_short, 0);
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('HashSwitch: packets exactly offset + length long are hashed, one shorter dropped', async (t) => {
  const s = await runGraph(() => {
    const hs = HashSwitch({ offset: 10, length: 4 }, 'hs');
    InfiniteSource({ length: 14, limit: 100 }, 'ok').to(hs);
    InfiniteSource({ length: 13, limit: 50 }, 'short').to(hs);
    hs.to(Counter({}, 'c')).to(Discard());
  });
  t.equal(s.elements.c.packets, 100);
  t.equal(s.elements.hs.drops_short, 50);
  t.equal(s.pool.available, s.pool.capacity);
});

// ---------- Print and SetTimestamp (in a child process, to capture stderr) ----------

// One child process runs every Print graph (independent pipelines of one graph), so the
// process start-up is paid once; each test below reads its own labelled lines.
interface ChildRun {
  stderr: string;
  status: number | null;
  before: bigint;
  after: bigint;
  summary: { stoppedBy: string; pool: { capacity: number; available: number }; elements: Record<string, Record<string, number>> };
}
let child: ChildRun | undefined;
function printRun(): ChildRun {
  if (child) return child;
  const body = `
    InfiniteSource({ data: '00112233445566778899aabbccddeeff', length: 20, limit: 3 }, 'src').to(Print({ label: 'in', maxLength: 10 }, 'p')).to(Discard());
    InfiniteSource({ length: 1234, limit: 2 }, 'a').to(Print({ contents: false }, 'bare')).to(Discard());
    InfiniteSource({ data: 'ff', length: 3, limit: 40, burst: 8 }, 'b').to(SetTimestamp()).to(Print({ label: 'ts' }, 'stamped')).to(Discard());
    InfiniteSource({ data: 'abcd', length: 2, limit: 5 }, 'c').to(Queue({}, 'q')).to(SetTimestamp()).to(Paint({ color: 3 })).to(Print({ label: 'pulled', maxLength: 0 }, 'pp')).to(Unqueue()).to(Counter({}, 'cpull')).to(Discard());
    InfiniteSource({ length: 1500, limit: 600, burst: 256 }, 'd').to(Print({ label: 'big', maxLength: 1500 }, 'pbig')).to(Discard());`;
  const code = `import { graph, compile, runPlan, InfiniteSource, Print, SetTimestamp, Paint, Queue, Unqueue, Discard, Counter } from 'pktgraph';
const plan = compile(graph('print', () => { ${body} }));
const s = await runPlan(plan, { threads: 1, duration: 20, poolBuffers: 1024 });
process.stdout.write(JSON.stringify({ stoppedBy: s.stoppedBy, pool: s.pool, elements: s.elements }));`;
  const before = BigInt(Date.now()) * 1_000_000n;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: process.cwd(), encoding: 'utf8', timeout: 20000, maxBuffer: 64 << 20 });
  const after = BigInt(Date.now()) * 1_000_000n;
  child = { stderr: r.stderr, status: r.status, before, after, summary: r.status === 0 ? JSON.parse(r.stdout) : undefined };
  return child;
}
const printed = (prefix: string) => printRun().stderr.split('\n').filter((l) => l.startsWith(prefix));

t.test('Print runs in a child process that drains and returns every buffer', async (t) => {
  const r = printRun();
  t.equal(r.status, 0, r.stderr.slice(0, 2000));
  t.equal(r.summary.stoppedBy, 'drained');
  t.equal(r.summary.pool.available, r.summary.pool.capacity);
  t.equal(r.summary.elements.p.packets, 3);
  t.equal(r.summary.elements.pbig.packets, 600);
});

t.test('Print writes one line per packet: label, length and hex bytes', async (t) => {
  t.same(printed('in'), Array(3).fill('in:   20 | 00112233 44556677 8899'));
});

t.test('Print without a label or contents prints just the length', async (t) => {
  t.same(printed('1234'), ['1234', '1234']);
});

t.test('Print shows the timestamp SetTimestamp set, within the run', async (t) => {
  const r = printRun();
  const stamped = printed('ts: ');
  t.equal(stamped.length, 40);
  for (const l of stamped) {
    const m = /^ts: (\d+)\.(\d{9}):    3 \| ff0000$/.exec(l);
    t.ok(m, `line format: '${l}'`);
    if (!m) break;
    const ns = BigInt(m[1]) * 1_000_000_000n + BigInt(m[2]);
    if (ns < r.before || ns > r.after) t.fail(`timestamp ${ns} outside the run [${r.before}, ${r.after}]`);
  }
});

t.test('Print, SetTimestamp and Paint work in pull position; maxLength 0 prints no bytes', async (t) => {
  const lines = printed('pulled');
  t.equal(lines.length, 5);
  for (const l of lines) t.match(l, /^pulled: \d+\.\d{9}:    2$/);
  t.equal(printRun().summary.elements.cpull.packets, 5);
});

t.test('Print: batches of long lines (several buffer flushes) lose nothing', async (t) => {
  const lines = printed('big');
  t.equal(lines.length, 600);
  const expected = 'big: 1500 |' + ' 00000000'.repeat(375);
  t.ok(lines.every((l) => l === expected), 'every line complete');
});

// ---------- byte-level checks through pcap files ----------

const seqFrame = (i: number, flow = 0, extra = 0) =>
  udp4Frame({ src: `10.1.${flow >> 8}.${flow & 255}`, dst: '10.2.0.1', sport: 1000 + flow, payload: Buffer.from(`seq ${i} flow ${flow}`.padEnd(20 + extra, '.')) });

// Temporary pcap files, removed when the tests end.
const made: string[] = [];
const tmpPath = (name: string) => {
  const p = tmpFile(name);
  made.push(p);
  return p;
};
t.teardown(() => made.forEach((p) => rmSync(p, { force: true })));

function pcapIn(name: string, frames: Buffer[], firstTsNs = DEFAULT_TS_NS): string {
  const path = tmpPath(name);
  writePcap(path, frames.map((data, i) => ({ data, tsNs: firstTsNs + BigInt(i) * 1000n })), { nanosecond: true });
  return path;
}
const hexes = (file: string) => readPcap(file).packets.map((p) => p.data.toString('hex'));
const hexOf = (frames: Buffer[]) => frames.map((f) => f.toString('hex'));

t.test('pcap: Null and Tee copy identical bytes and timestamps to every output, in order', async (t) => {
  const frames = Array.from({ length: 500 }, (_, i) => seqFrame(i, i % 7, i % 50));
  const input = pcapIn('tee-in.pcap', frames);
  const outs = [0, 1, 2].map((i) => tmpPath(`tee-out${i}.pcap`));
  const s = await runGraph(() => {
    const tee = FromPcap({ file: input, burst: 64 }).to(Null()).to(Tee({}, 'tee'));
    outs.forEach((f, i) => tee.out(i).to(ToPcap({ file: f, nanosecond: true })));
  });
  t.equal(s.elements.tee.copies, 1000);
  const want = readPcap(input).packets;
  for (const f of outs) {
    const got = readPcap(f).packets;
    t.same(got.map((p) => p.data.toString('hex')), hexOf(frames), `${f}: same bytes, same order`);
    t.same(got.map((p) => p.tsNs), want.map((p) => p.tsNs), `${f}: same timestamps (annotations copied)`);
  }
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('pcap: Paint + PaintSwitch keep each coloured stream whole and in order', async (t) => {
  const a = Array.from({ length: 300 }, (_, i) => seqFrame(i, 1));
  const b = Array.from({ length: 200 }, (_, i) => seqFrame(i, 2, 10));
  const c = Array.from({ length: 50 }, (_, i) => seqFrame(i, 3));
  const [ia, ib, ic] = [pcapIn('ps-a.pcap', a), pcapIn('ps-b.pcap', b), pcapIn('ps-c.pcap', c)];
  const [o0, o1] = [tmpPath('ps-o0.pcap'), tmpPath('ps-o1.pcap')];
  const s = await runGraph(() => {
    const ps = PaintSwitch({}, 'ps');
    FromPcap({ file: ia, burst: 7 }).to(Paint({ color: 1 })).to(ps);
    FromPcap({ file: ib, burst: 5 }).to(Paint({ color: 0 })).to(ps);
    FromPcap({ file: ic }).to(Paint({ color: 2 })).to(ps);
    ps.out(0).to(ToPcap({ file: o0 }));
    ps.out(1).to(ToPcap({ file: o1 }));
  });
  t.same(hexes(o0), hexOf(b));
  t.same(hexes(o1), hexOf(a));
  t.equal(s.elements.ps.drops_no_output, 50);
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('pcap: Switch sends the stream, unchanged, to its output', async (t) => {
  const frames = Array.from({ length: 100 }, (_, i) => seqFrame(i));
  const input = pcapIn('sw-in.pcap', frames);
  const outs = [tmpPath('sw-o0.pcap'), tmpPath('sw-o1.pcap')];
  await runGraph(() => {
    const sw = FromPcap({ file: input }).to(Switch({ output: 1 }));
    outs.forEach((f, i) => sw.out(i).to(ToPcap({ file: f })));
  });
  t.same(hexes(outs[0]), []);
  t.same(hexes(outs[1]), hexOf(frames));
});

t.test('pcap: RoundRobinSwitch sends packet i to output i mod n, in order', async (t) => {
  const frames = Array.from({ length: 1000 }, (_, i) => seqFrame(i));
  const input = pcapIn('rr-in.pcap', frames);
  const outs = [0, 1, 2].map((i) => tmpPath(`rr-o${i}.pcap`));
  await runGraph(() => {
    const rr = FromPcap({ file: input, burst: 50 }).to(RoundRobinSwitch());
    outs.forEach((f, i) => rr.out(i).to(ToPcap({ file: f })));
  });
  outs.forEach((f, k) => t.same(hexes(f), hexOf(frames.filter((_, i) => i % 3 === k)), `output ${k}`));
});

t.test('pcap: HashSwitch keeps every flow on one output, in order, and drops short packets', async (t) => {
  const flows = 40;
  const frames: Buffer[] = [];
  for (let i = 0; i < 20; i++) for (let f = 0; f < flows; f++) frames.push(seqFrame(i, f));
  const withShort = [...frames.slice(0, 100), Buffer.alloc(20, 0xee), ...frames.slice(100), Buffer.alloc(33, 1)];
  const input = pcapIn('hs-in.pcap', withShort);
  const outs = [0, 1, 2].map((i) => tmpPath(`hs-o${i}.pcap`));
  const s = await runGraph(() => {
    const hs = FromPcap({ file: input, burst: 64 }).to(HashSwitch({ offset: 26, length: 8 }, 'hs'));
    outs.forEach((f, i) => hs.out(i).to(ToPcap({ file: f })));
  });
  t.equal(s.elements.hs.drops_short, 2);
  const flowOf = (h: string) => Buffer.from(h, 'hex').readUInt16BE(34) - 1000; // UDP source port
  const seen = new Map<number, number>();
  let total = 0;
  outs.forEach((f, k) => {
    const got = hexes(f);
    total += got.length;
    t.ok(got.length > 0, `output ${k} got ${got.length} packets`);
    for (const h of got) {
      const flow = flowOf(h);
      if (seen.has(flow) && seen.get(flow) !== k) t.fail(`flow ${flow} on outputs ${seen.get(flow)} and ${k}`);
      seen.set(flow, k);
    }
    // Within one output, packets keep the input order.
    const want = hexOf(frames).filter((h) => got.includes(h));
    t.same(got, want, `output ${k} keeps the input order`);
  });
  t.equal(seen.size, flows);
  t.equal(total, frames.length);
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('pcap: SetTimestamp stamps packets with times within the run', async (t) => {
  const frames = Array.from({ length: 200 }, (_, i) => seqFrame(i));
  const input = pcapIn('ts-in.pcap', frames);
  const out = tmpPath('ts-out.pcap');
  const before = BigInt(Date.now()) * 1_000_000n;
  await runGraph(() => {
    FromPcap({ file: input, burst: 16 }).to(SetTimestamp()).to(ToPcap({ file: out, nanosecond: true }));
  });
  const after = BigInt(Date.now()) * 1_000_000n;
  const got = readPcap(out).packets;
  t.same(got.map((p) => p.data.toString('hex')), hexOf(frames));
  t.ok(got.every((p) => p.tsNs >= before && p.tsNs <= after), 'every timestamp falls between the start and the end of the run');
  t.ok(got.every((p, i) => i === 0 || p.tsNs >= got[i - 1].tsNs), 'timestamps never go backwards');
});
