// The queue group's schedulers and rate limiting: RatedUnqueue, PrioSched, RoundRobinSched.
import t, { type Test } from 'tap';
import { rmSync } from 'node:fs';
import {
  graph,
  compile,
  runPlan,
  Runtime,
  HandlerError,
  InfiniteSource,
  Counter,
  Discard,
  Queue,
  Unqueue,
  Paint,
  PaintSwitch,
  RatedUnqueue,
  PrioSched,
  RoundRobinSched,
  FromPcap,
  ToPcap,
  type RunSummary,
} from 'pktgraph';
import { runGraph, tmpPath as tmpFile } from './lib/run.js';
import { writePcap, readPcap } from './lib/pcap.js';
import { udp4Frame } from './lib/packets.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Run a graph that never drains for `seconds`; the summary's pool is read after the graph was removed.
async function runFor(build: () => void, seconds: number, poolBuffers = 8192): Promise<RunSummary> {
  const s = await runPlan(compile(graph('sched', build)), { threads: 1, duration: seconds, poolBuffers });
  if (s.stoppedBy !== 'duration') throw new Error(`expected the run to last ${seconds} s, it stopped by ${s.stoppedBy}`);
  return s;
}

// n sources painted 0..n-1, each into its own Queue, the queues into `sched`, then an
// Unqueue and a PaintSwitch to count per input.
function painted(sched: ReturnType<typeof PrioSched>, sources: { rate?: number; limit?: number; burst?: number }[], unqueueBurst = 32) {
  sources.forEach((o, i) =>
    InfiniteSource({ length: 64, burst: 64, ...o }, `src${i}`)
      .to(Paint({ color: i }))
      .to(Queue({ capacity: 1000 }, `q${i}`))
      .to(sched.in(i)),
  );
  const ps = sched.to(Unqueue({ burst: unqueueBurst }, 'uq')).to(PaintSwitch({}, 'ps'));
  sources.forEach((_, i) => ps.out(i).to(Counter({}, `c${i}`)).to(Discard()));
}

// ---------- RatedUnqueue ----------

// The bursts below are larger than the default so that a worker descheduled for a few tens
// of milliseconds on a busy test machine does not lose tokens (the bucket caps what builds up).
t.test('RatedUnqueue holds the rate over a second, within 10%', async (t) => {
  const s = await runFor(() => {
    InfiniteSource({ length: 64, rate: 20000 }, 'src').to(Queue({ capacity: 500 }, 'q')).to(RatedUnqueue({ rate: 3000, burst: 100 }, 'ru')).to(Counter({}, 'c')).to(Discard());
  }, 1.0);
  const expected = 3000 * s.seconds;
  const got = s.elements.c.packets;
  t.ok(Math.abs(got - expected) <= expected * 0.1, `${got} packets in ${s.seconds.toFixed(3)} s, expected about ${expected.toFixed(0)}`);
  t.equal(s.elements.ru.packets, got);
  t.ok(s.elements.q.drops > 0, 'the queue overflowed: the limit was the rate, not the supply');
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('RatedUnqueue drains a finite supply at its rate', async (t) => {
  const start = process.hrtime.bigint();
  const s = await runGraph(() => {
    InfiniteSource({ length: 100, limit: 600 }, 'src').to(Queue({ capacity: 1000 })).to(RatedUnqueue({ rate: 2000, burst: 8 }, 'ru')).to(Counter({}, 'c')).to(Discard());
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  t.equal(s.elements.c.packets, 600);
  t.equal(s.elements.c.bytes, 60000);
  t.ok(seconds >= 0.27 && seconds < 1.5, `600 packets at 2000/s took ${seconds.toFixed(3)} s (about 0.3 expected)`);
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('RatedUnqueue: the rate handler changes the rate of a running graph', async (t) => {
  const plan = compile(
    graph('rated', () => {
      InfiniteSource({ length: 64, rate: 20000 }, 'src').to(Queue({ capacity: 500 })).to(RatedUnqueue({ rate: 1000, burst: 256 }, 'ru')).to(Counter({}, 'c')).to(Discard());
    }),
  );
  const rt = new Runtime({ threads: 1, poolBuffers: 4096 });
  try {
    const g = rt.load(plan);
    rt.start();
    // Rate over a window, measured with the clock around the counter reads.
    const measure = async (ms: number) => {
      const c0 = g.counter('c', 'packets');
      const t0 = process.hrtime.bigint();
      await sleep(ms);
      const c1 = g.counter('c', 'packets');
      const t1 = process.hrtime.bigint();
      return Number(c1 - c0) / (Number(t1 - t0) / 1e9);
    };
    await sleep(50);
    t.equal(g.read('ru', 'rate'), '1000');
    const slow = await measure(400);
    t.ok(Math.abs(slow - 1000) <= 100, `about 1000/s at first: ${slow.toFixed(0)}`);
    g.write('ru', 'rate', '5000');
    t.equal(g.read('ru', 'rate'), '5000');
    await sleep(30);
    const fast = await measure(400);
    t.ok(Math.abs(fast - 5000) <= 500, `about 5000/s after the write: ${fast.toFixed(0)}`);
    g.write('ru', 'rate', '0');
    await sleep(30);
    const held = g.counter('c', 'packets');
    await sleep(100);
    t.equal(g.counter('c', 'packets'), held, 'rate 0 holds every packet');
    t.throws(() => g.write('ru', 'rate', 'fast'), HandlerError);
    t.throws(() => g.write('ru', 'rate', '-5'), /rate must be from 0 to/);
    t.equal(g.read('ru', 'rate'), '0');
    rt.stop();
    g.remove();
    t.equal(rt.poolStats().available, 4096, 'every buffer is back in the pool (queued packets too)');
  } finally {
    rt.close();
  }
});

t.test('RatedUnqueue needs a rate', async (t) => {
  t.throws(() => compile(graph('g', () => InfiniteSource({}).to(Queue()).to(RatedUnqueue({} as never, 'ru')).to(Discard()))), /element 'ru' \(RatedUnqueue\).*'rate' must be given/);
});

// ---------- PrioSched ----------

t.test('PrioSched: with both inputs always full, only input 0 is served', async (t) => {
  const s = await runFor(() => painted(PrioSched({}, 'prio'), [{}, {}]), 0.3);
  t.ok(s.elements.c0.packets > 10000, `input 0 got ${s.elements.c0.packets}`);
  t.equal(s.elements.c1.packets, 0, 'input 1 starves');
  t.equal(s.elements.ps.drops_no_output, 0);
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('PrioSched: a lower-priority input gets what the higher ones leave', async (t) => {
  // Input 0 carries 5000 packets/s, inputs 1 and 2 are always full: input 0 loses nothing,
  // input 1 gets the rest of every batch, input 2 nothing.
  const s = await runFor(() => painted(PrioSched({}, 'prio'), [{ rate: 5000, burst: 4 }, {}, {}]), 0.4);
  t.equal(s.elements.q0.drops, 0, 'input 0 never overflows');
  t.ok(s.elements.c0.packets >= s.elements.src0.packets - 64, `input 0: ${s.elements.c0.packets} of ${s.elements.src0.packets} passed`);
  t.ok(s.elements.c1.packets > 10000, `input 1 got ${s.elements.c1.packets}`);
  t.equal(s.elements.c2.packets, 0, 'input 2 starves');
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('PrioSched: packets of input 1 leave only once input 0 is empty', async (t) => {
  const plan = compile(
    graph('prio', () => {
      const prio = PrioSched({}, 'prio');
      InfiniteSource({ limit: 300 }, 'a').to(Paint({ color: 0 })).to(Queue({}, 'q0')).to(prio.in(0));
      InfiniteSource({ limit: 300 }, 'b').to(Paint({ color: 1 })).to(Queue({}, 'q1')).to(prio.in(1));
      const ps = prio.to(RatedUnqueue({ rate: 10000, burst: 8, active: false }, 'ru')).to(PaintSwitch());
      ps.out(0).to(Counter({}, 'c0')).to(Discard());
      ps.out(1).to(Counter({}, 'c1')).to(Discard());
    }),
  );
  const rt = new Runtime({ threads: 1, poolBuffers: 2048 });
  try {
    const g = rt.load(plan);
    rt.start();
    for (let i = 0; i < 400 && (g.read('q0', 'length') !== '300' || g.read('q1', 'length') !== '300'); i++) await sleep(5);
    t.equal(g.read('q1', 'length'), '300', 'both queues are full before the scheduler runs');
    g.write('ru', 'active', 'true');
    let violations = 0;
    let samples = 0;
    while (g.counter('c1', 'packets') < 300n) {
      const c1 = g.counter('c1', 'packets');
      const c0 = g.counter('c0', 'packets');
      samples++;
      if (c1 > 0n && c0 < 300n) violations++;
      await sleep(1);
      if (samples > 5000) break;
    }
    t.ok(samples > 5, `sampled ${samples} times`);
    t.equal(violations, 0, 'input 1 was never served while input 0 had packets');
    t.equal(g.counter('c0', 'packets'), 300n);
    t.equal(g.counter('c1', 'packets'), 300n);
    rt.stop();
    g.remove();
    t.equal(rt.poolStats().available, 2048);
  } finally {
    rt.close();
  }
});

// ---------- RoundRobinSched ----------

t.test('RoundRobinSched: two always-full inputs share 50/50', async (t) => {
  const s = await runFor(() => painted(RoundRobinSched({}, 'rr'), [{}, {}]), 0.3);
  const [a, b] = [s.elements.c0.packets, s.elements.c1.packets];
  t.ok(a + b > 10000, `${a + b} packets`);
  t.ok(Math.abs(a - b) <= 32, `split ${a} / ${b}`);
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('RoundRobinSched: three inputs and an odd batch size still share equally', async (t) => {
  const s = await runFor(() => painted(RoundRobinSched({}, 'rr'), [{}, {}, {}], 31), 0.3);
  const c = [s.elements.c0.packets, s.elements.c1.packets, s.elements.c2.packets];
  const total = c.reduce((x, y) => x + y, 0);
  t.ok(total > 10000, `${total} packets`);
  for (const [i, n] of c.entries()) t.ok(Math.abs(n - total / 3) <= 31, `input ${i}: ${n} of ${total}`);
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('RoundRobinSched fills the batch from the other inputs when one runs short', async (t) => {
  // Input 1 is light (3000/s): it loses nothing, input 0 takes the remaining room.
  const s = await runFor(() => painted(RoundRobinSched({}, 'rr'), [{}, { rate: 3000, burst: 4 }]), 0.4);
  t.equal(s.elements.q1.drops, 0, 'the light input never overflows');
  t.ok(s.elements.c1.packets >= s.elements.src1.packets - 64, `input 1: ${s.elements.c1.packets} of ${s.elements.src1.packets}`);
  t.ok(s.elements.c0.packets > 10 * s.elements.c1.packets, `input 0 used the rest: ${s.elements.c0.packets}`);
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('RoundRobinSched and PrioSched deliver every packet of finite sources', async (t) => {
  const s = await runGraph(() => {
    const rr = RoundRobinSched({}, 'rr');
    InfiniteSource({ length: 60, limit: 2000 }).to(Queue({ capacity: 5000 })).to(rr.in(0));
    InfiniteSource({ length: 70, limit: 500 }).to(Queue({ capacity: 5000 })).to(rr.in(1));
    InfiniteSource({ length: 80, limit: 0 }).to(Queue({ capacity: 5000 })).to(rr.in(2));
    rr.to(Unqueue({ burst: 100 })).to(Counter({}, 'crr')).to(Discard());
    const prio = PrioSched({}, 'prio');
    InfiniteSource({ length: 60, limit: 1500 }).to(Queue({ capacity: 5000 })).to(prio.in(0));
    InfiniteSource({ length: 70, limit: 700 }).to(Queue({ capacity: 5000 })).to(prio.in(1));
    prio.to(Unqueue({ burst: 256 })).to(Counter({}, 'cprio')).to(Discard());
  });
  t.equal(s.elements.crr.packets, 2500);
  t.equal(s.elements.crr.bytes, 2000 * 60 + 500 * 70);
  t.equal(s.elements.cprio.packets, 2200);
  t.equal(s.elements.cprio.bytes, 1500 * 60 + 700 * 70);
  t.equal(s.pool.available, s.pool.capacity);
});

// ---------- order, checked on the bytes through pcap files ----------

// Temporary pcap files, removed when the tests end.
const made: string[] = [];
const tmpPath = (name: string) => {
  const p = tmpFile(name);
  made.push(p);
  return p;
};
t.teardown(() => made.forEach((p) => rmSync(p, { force: true })));

const frame = (flow: number, i: number) => udp4Frame({ sport: 1000 + flow, payload: Buffer.from(`flow ${flow} seq ${i}`.padEnd(24, '.')) });

// Two pcap files of n packets each fill two Queues while the Unqueue waits; then the
// Unqueue (burst 32) drains them through `sched` into a ToPcap. Returns the output frames.
async function drainThrough(t: Test, kind: 'prio' | 'rr', n: number): Promise<Buffer[]> {
  const files = [0, 1].map((f) => {
    const path = tmpPath(`${kind}-in${f}.pcap`);
    writePcap(path, Array.from({ length: n }, (_, i) => ({ data: frame(f, i) })));
    return path;
  });
  const out = tmpPath(`${kind}-out.pcap`);
  const plan = compile(
    graph(kind, () => {
      const sched = kind === 'prio' ? PrioSched({}, 'sched') : RoundRobinSched({}, 'sched');
      files.forEach((file, f) => FromPcap({ file }).to(Queue({ capacity: 1000 }, `q${f}`)).to(sched.in(f)));
      sched.to(Unqueue({ burst: 32, active: false }, 'uq')).to(ToPcap({ file: out }));
    }),
  );
  const rt = new Runtime({ threads: 1, poolBuffers: 2048 });
  try {
    const g = rt.load(plan);
    rt.start();
    const full = () => g.read('q0', 'length') === String(n) && g.read('q1', 'length') === String(n);
    for (let i = 0; i < 400 && !full(); i++) await sleep(5);
    t.ok(full(), 'both queues filled before the scheduler runs');
    g.write('uq', 'active', 'true');
    for (let i = 0; i < 400 && !g.drained(); i++) await sleep(5);
    rt.stop();
    g.remove();
    t.equal(rt.poolStats().available, 2048, 'every buffer is back in the pool');
  } finally {
    rt.close();
  }
  return readPcap(out).packets.map((p) => p.data);
}

const label = (b: Buffer) => b.subarray(42).toString().replace(/\.+$/, '');

t.test('pcap: PrioSched sends all of input 0, in order, before any of input 1', async (t) => {
  const got = await drainThrough(t, 'prio', 300);
  const want = [0, 1].flatMap((f) => Array.from({ length: 300 }, (_, i) => `flow ${f} seq ${i}`));
  t.same(got.map(label), want);
});

t.test('pcap: RoundRobinSched alternates equal shares of each batch, each input in order', async (t) => {
  const got = await drainThrough(t, 'rr', 300);
  // Batches of 32: 16 from input 0 then 16 from input 1; the last batch has 12 of each.
  const want: string[] = [];
  const next = [0, 0];
  while (next[0] < 300 || next[1] < 300)
    for (const f of [0, 1]) for (let k = 0; k < 16 && next[f] < 300; k++) want.push(`flow ${f} seq ${next[f]++}`);
  t.same(got.map(label), want);
});
