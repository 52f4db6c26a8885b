// DRRSched and WFQSched, the byte-fair pull schedulers. Their shares depend on the order in which
// they serve busy inputs, not on time, so the share tests run free on one worker (sources, Queues,
// scheduler and Unqueue taking turns; a busy machine changes how many packets pass, not their
// split) and count over hundreds of thousands of packets. The exact order of service is checked on
// the bytes, through pcap files, against a reference model of each algorithm, for several puller
// batch sizes. An input going idle and coming back, and quanta and weights changed while running,
// run on the virtual test clock with RatedUnqueue, so every step moves an exact number of packets.
import t, { type Test } from 'tap';
import { rmSync } from 'node:fs';
import {
  graph,
  compile,
  Runtime,
  HandlerError,
  InfiniteSource,
  Counter,
  Discard,
  Queue,
  Unqueue,
  RatedUnqueue,
  Paint,
  PaintSwitch,
  DRRSched,
  WFQSched,
  FromPcap,
  ToPcap,
  type RunningGraph,
} from 'pktgraph';
import { runGraph, tmpPath as tmpFile } from './lib/run.js';
import { writePcap, readPcap } from './lib/pcap.js';
import { udp4Frame } from './lib/packets.js';

type Kind = 'DRRSched' | 'WFQSched';
const kinds: Kind[] = ['DRRSched', 'WFQSched'];
// The per-input list each takes: quanta (bytes a round) or weights.
const listOf = (kind: Kind) => (kind === 'DRRSched' ? 'quanta' : 'weights');
const sched = (kind: Kind, values: number[], name = 's') => (kind === 'DRRSched' ? DRRSched({ quanta: values }, name) : WFQSched({ weights: values }, name));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const nums = (g: RunningGraph, element: string, handler: string) => g.read(element, handler).split(' ').map(Number);
const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);

// ---------- byte shares of busy inputs ----------

// Each input: a source of packets of one size, painted with the input's number, into a Queue the
// source always keeps full (it pushes 64 a round, the Unqueue takes 32 in all): busy inputs.
// Behind the Unqueue a PaintSwitch counts what left per input.
const shareCases: { sizes: number[]; values: Record<Kind, number[]> }[] = [
  { sizes: [64, 1500], values: { DRRSched: [500, 1500], WFQSched: [1, 3] } },
  { sizes: [64, 512, 1500], values: { DRRSched: [300, 600, 1500], WFQSched: [1, 2, 5] } },
  // Quanta below the packet sizes: most rounds send nothing, and are skipped at once.
  { sizes: [1500, 64], values: { DRRSched: [40, 100], WFQSched: [2, 5] } },
];

for (const kind of kinds)
  for (const { sizes, values } of shareCases) {
    const v = values[kind];
    t.test(`${kind} ${listOf(kind)} [${v}] with packets of ${sizes.join(', ')} bytes: byte shares within 1%`, async (t) => {
      const plan = compile(
        graph('shares', () => {
          const s = sched(kind, v);
          sizes.forEach((length, i) =>
            InfiniteSource({ length, burst: 64 }, `src${i}`)
              .to(Paint({ color: i }))
              .to(Queue({ capacity: 1000 }, `q${i}`))
              .to(s.in(i)),
          );
          const ps = s.to(Unqueue({ burst: 32 }, 'uq')).to(PaintSwitch({}, 'ps'));
          sizes.forEach((_, i) => ps.out(i).to(Counter({}, `c${i}`)).to(Discard()));
        }),
      );
      const rt = new Runtime({ threads: 1, poolBuffers: 8192 });
      try {
        const g = rt.load(plan);
        rt.start();
        await sleep(50);
        // A window after the start (when one queue may still have been filling).
        const p0 = nums(g, 's', 'input_packets');
        const b0 = nums(g, 's', 'input_bytes');
        for (let i = 0; i < 500 && sum(nums(g, 's', 'input_packets')) - sum(p0) < 300_000; i++) await sleep(10);
        const p1 = nums(g, 's', 'input_packets');
        const b1 = nums(g, 's', 'input_bytes');
        const bytes = b1.map((b, i) => b - b0[i]);
        const packets = p1.map((p, i) => p - p0[i]);
        t.ok(sum(packets) >= 300_000, `${sum(packets)} packets in the window`);
        for (const [i, b] of bytes.entries()) {
          const want = v[i] / sum(v);
          const share = b / sum(bytes);
          t.ok(Math.abs(share - want) <= 0.01 * want, `input ${i} (${sizes[i]} B): ${(100 * share).toFixed(3)}% of the bytes (${packets[i]} packets), ${(100 * want).toFixed(3)}% wanted`);
        }
        // The inputs were busy throughout: every queue overflowed.
        for (let i = 0; i < sizes.length; i++) t.ok(g.counter(`q${i}`, 'drops') > 0n, `queue ${i} stayed full`);

        // Stop the puller: what the scheduler says it sent is what left, per input and in all.
        g.write('uq', 'active', 'false');
        await sleep(20);
        const p = nums(g, 's', 'input_packets');
        const b = nums(g, 's', 'input_bytes');
        for (let i = 0; i < sizes.length; i++) {
          t.equal(b[i], p[i] * sizes[i], `input ${i}: bytes are its packets times their size`);
          t.equal(BigInt(p[i]), g.counter(`c${i}`, 'packets'), `input ${i}: packets counted leaving`);
          t.equal(BigInt(b[i]), g.counter(`c${i}`, 'bytes'), `input ${i}: bytes counted leaving`);
        }
        t.equal(g.counter('s', 'packets'), BigInt(sum(p)));
        t.equal(g.counter('s', 'bytes'), BigInt(sum(b)));
        t.equal(g.counter('ps', 'drops_no_output'), 0n);
        rt.stop();
        g.remove();
        t.equal(rt.poolStats().available, 8192, 'every buffer is back in the pool (packets queued and held too)');
      } finally {
        rt.close();
      }
    });
  }

// ---------- the order of service, against reference models ----------

const made: string[] = [];
const tmpPath = (name: string) => {
  const p = tmpFile(name);
  made.push(p);
  return p;
};
t.teardown(() => made.forEach((p) => rmSync(p, { force: true })));

// A deterministic generator (xorshift32) for packet sizes.
function sizesFor(seed: number, n: number): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return 64 + (x % (1500 - 64 + 1));
  });
}

// Frames of exactly `size` bytes saying which input and which packet they are.
const frame = (input: number, seq: number, size: number) => {
  const label = Buffer.from(`in ${input} seq ${seq}`);
  const f = udp4Frame({ src: '198.18.0.1', dst: '198.19.0.1', sport: 1000 + input, payload: Buffer.concat([label, Buffer.alloc(size - 42 - label.length, '.')]) });
  if (f.length !== size) throw new Error(`frame of ${f.length} bytes, ${size} wanted`);
  return f;
};
const labelOf = (b: Buffer) => b.subarray(42).toString().replace(/\.+$/, '');

// Deficit round robin as Shreedhar and Varghese give it, one packet at a time: the order in which
// packets of queues holding everything from the start leave.
function drrOrder(queues: number[][], quanta: number[]): string[] {
  const next = queues.map(() => 0);
  const deficit = queues.map(() => 0);
  const out: string[] = [];
  for (let i = 0; next.some((k, j) => k < queues[j].length); i = (i + 1) % queues.length) {
    const q = queues[i];
    if (next[i] === q.length) continue;
    deficit[i] += quanta[i];
    while (next[i] < q.length && q[next[i]] <= deficit[i]) {
      deficit[i] -= q[next[i]];
      out.push(`in ${i} seq ${next[i]++}`);
    }
    if (next[i] === q.length) deficit[i] = 0;
  }
  return out;
}

// Self-clocked fair queueing: each queue's front packet finishes at its predecessor's finish plus
// its length over the weight (in the element's integer units: 2^40 / weight a byte); the earliest
// finish leaves first, ties by input number.
function scfqOrder(queues: number[][], weights: number[]): string[] {
  const step = weights.map((w) => (1n << 40n) / BigInt(w));
  const next = queues.map(() => 0);
  const finish = queues.map((q, i) => (q.length ? BigInt(q[0]) * step[i] : undefined));
  const out: string[] = [];
  for (;;) {
    let best = -1;
    for (let i = 0; i < queues.length; i++) if (finish[i] !== undefined && (best < 0 || finish[i]! < finish[best]!)) best = i;
    if (best < 0) return out;
    out.push(`in ${best} seq ${next[best]++}`);
    finish[best] = next[best] < queues[best].length ? finish[best]! + BigInt(queues[best][next[best]]) * step[best] : undefined;
  }
}

// Fills a Queue per input from a pcap file while the Unqueue waits, then lets the Unqueue (burst
// `burst`) drain them through the scheduler into a ToPcap; returns the labels in the order sent.
async function drainThrough(t: Test, kind: Kind, values: number[], queues: number[][], burst: number): Promise<string[]> {
  const files = queues.map((sizes, i) => {
    const path = tmpPath(`${kind}-${burst}-in${i}.pcap`);
    writePcap(path, sizes.map((size, seq) => ({ data: frame(i, seq, size) })));
    return path;
  });
  const out = tmpPath(`${kind}-${burst}-out.pcap`);
  const plan = compile(
    graph('order', () => {
      const s = sched(kind, values);
      files.forEach((file, i) => FromPcap({ file }).to(Queue({ capacity: 1000 }, `q${i}`)).to(s.in(i)));
      s.to(Unqueue({ burst, active: false }, 'uq')).to(ToPcap({ file: out }));
    }),
  );
  const rt = new Runtime({ threads: 1, poolBuffers: 2048 });
  try {
    const g = rt.load(plan);
    rt.start();
    const full = () => queues.every((q, i) => g.read(`q${i}`, 'length') === String(q.length));
    for (let i = 0; i < 400 && !full(); i++) await sleep(5);
    t.ok(full(), 'every queue filled before the scheduler runs');
    g.write('uq', 'active', 'true');
    for (let i = 0; i < 400 && !g.drained(); i++) await sleep(5);
    t.ok(g.drained(), 'drained: nothing left held in the scheduler');
    rt.stop();
    g.remove();
    t.equal(rt.poolStats().available, 2048, 'every buffer is back in the pool');
  } finally {
    rt.close();
  }
  return readPcap(out).packets.map((p) => labelOf(p.data));
}

// Three inputs of random sizes (64 to 1500 bytes) and different lengths, so they run empty at
// different times. Quanta below the largest packets make DRR rounds in which nothing is sent.
const queues = [sizesFor(7, 300), sizesFor(11, 200), sizesFor(13, 250)];
const orderCases: { kind: Kind; values: number[]; want: string[] }[] = [
  { kind: 'DRRSched', values: [1500, 700, 300], want: drrOrder(queues, [1500, 700, 300]) },
  { kind: 'DRRSched', values: [64, 2000, 9000], want: drrOrder(queues, [64, 2000, 9000]) },
  { kind: 'WFQSched', values: [5, 2, 1], want: scfqOrder(queues, [5, 2, 1]) },
  { kind: 'WFQSched', values: [1, 1, 1000000], want: scfqOrder(queues, [1, 1, 1000000]) },
];
for (const { kind, values, want } of orderCases)
  t.test(`pcap: ${kind} ${listOf(kind)} [${values}] sends in the reference order, whatever the puller's batch`, async (t) => {
    t.equal(want.length, 750);
    for (const burst of [1, 7, 32, 256]) t.same(await drainThrough(t, kind, values, queues, burst), want, `Unqueue burst ${burst}`);
  });

// ---------- on the virtual clock: idle inputs, live changes ----------

const T0 = 1_000_000_000;
const MS = 1_000_000;
const PER_STEP = 256; // RatedUnqueue at 25600 packets/s sends 256 packets in each 10 ms step

// Input 0 sends 64-byte packets, input 1 1500-byte ones; the scheduler is pulled by a RatedUnqueue
// on the virtual clock. `step()` moves the clock 10 ms and returns the bytes each input sent.
async function onVirtualClock(t: Test, kind: Kind, values: number[], src0Active: boolean) {
  const rt = new Runtime({ threads: 1, poolBuffers: 4096, virtualClockNs: T0 });
  t.teardown(() => rt.close());
  const g = rt.load(
    compile(
      graph('virtual', () => {
        const s = sched(kind, values);
        // A step may be a single round: the sources push more in one than a step takes.
        InfiniteSource({ length: 64, burst: 256, active: src0Active }, 'src0').to(Queue({ capacity: 1000 }, 'q0')).to(s.in(0));
        InfiniteSource({ length: 1500, burst: 256 }, 'src1').to(Queue({ capacity: 1000 }, 'q1')).to(s.in(1));
        s.to(RatedUnqueue({ rate: 100 * PER_STEP, burst: PER_STEP, active: false }, 'ru')).to(Counter({}, 'c')).to(Discard());
      }),
    ),
  );
  rt.start();
  let now = T0;
  rt.setVirtualTime(now);
  const filled = async (q: string) => {
    for (let i = 0; i < 400 && g.read(q, 'length') !== '1000'; i++) await sleep(5);
    t.equal(g.read(q, 'length'), '1000', `${q} is full`);
  };
  await filled('q1');
  if (src0Active) await filled('q0');
  // A step: what `action` sets off (written after the counts are read) and a clock move.
  const run = (advance: number, action = () => {}) => {
    const before = nums(g, 's', 'input_bytes');
    const packets = g.counter('c', 'packets');
    action();
    now += advance;
    rt.setVirtualTime(now);
    t.equal(g.counter('c', 'packets') - packets, BigInt(PER_STEP), 'the step moved one step of packets');
    return nums(g, 's', 'input_bytes').map((b, i) => b - before[i]);
  };
  // The bucket has been full since T0: the first round once active sends a step's worth.
  run(0, () => g.write('ru', 'active', 'true'));
  const step = () => run(10 * MS);
  // Steps until the counts are totalled: the bytes of each input over `n` steps.
  const steps = (n: number) => Array.from({ length: n }, step).reduce((a, b) => a.map((x, i) => x + b[i]));
  return { g, rt, step, steps, filled };
}

// Input 0's share of `bytes` against `want` (0..1): within 1% of the share.
function shareWithin(t: Test, bytes: number[], want: number, what: string) {
  const share = bytes[0] / sum(bytes);
  t.ok(Math.abs(share - want) <= 0.01 * want, `${what}: input 0 had ${(100 * share).toFixed(2)}% of ${sum(bytes)} bytes, ${(100 * want).toFixed(2)}% wanted`);
}

const sharing: Record<Kind, number[]> = { DRRSched: [500, 1500], WFQSched: [1, 3] }; // input 0: a quarter

for (const kind of kinds)
  t.test(`${kind}: an input that goes idle saves up no credit and shares again when it comes back`, async (t) => {
    const { g, step, steps, filled } = await onVirtualClock(t, kind, sharing[kind], false);
    // Input 0 has nothing for 40 steps (10240 packets of input 1, 15 MB): input 1 has everything.
    const alone = steps(40);
    t.same(alone, [0, 40 * PER_STEP * 1500], 'input 1 alone sent every packet');
    // Input 0 comes back with a full queue.
    g.write('src0', 'active', 'true');
    await filled('q0');
    // Had it saved up credit while idle it would take whole steps now; it takes its quarter from
    // the first step on (within a packet of input 1 each step).
    for (let k = 0; k < 5; k++) {
      const b = step();
      t.ok(Math.abs(b[0] - sum(b) / 4) <= 1500, `step ${k} after coming back: input 0 sent ${b[0]} of ${sum(b)} bytes (a quarter: ${sum(b) / 4})`);
    }
    shareWithin(t, steps(40), 0.25, 'the next 40 steps');
    // Idle again, then back again, within the same run.
    g.write('src0', 'active', 'false');
    for (let i = 0; i < 400 && step()[0] > 0; i++);
    t.same(step(), [0, PER_STEP * 1500], 'input 0 drained (its queue and what the scheduler held): input 1 sends everything again');
    g.write('src0', 'active', 'true');
    await filled('q0');
    const b = step();
    t.ok(Math.abs(b[0] - sum(b) / 4) <= 1500, `back again: input 0 sent ${b[0]} of ${sum(b)} bytes`);
  });

const liveChange: Record<Kind, { before: number[]; after: string; readBack: string }> = {
  DRRSched: { before: [1000, 1000], after: '1000,3000', readBack: '1000 3000' },
  WFQSched: { before: [1, 1], after: '1 3', readBack: '1 3' },
};

for (const kind of kinds)
  t.test(`${kind}: ${listOf(kind)} written while running take effect`, async (t) => {
    const { g, rt, step, steps } = await onVirtualClock(t, kind, liveChange[kind].before, true);
    shareWithin(t, steps(40), 0.5, `${listOf(kind)} ${liveChange[kind].before}: equal bytes`);
    g.write('s', listOf(kind), liveChange[kind].after);
    t.equal(g.read('s', listOf(kind)), liveChange[kind].readBack);
    t.same(g.config('s')[listOf(kind)], liveChange[kind].readBack.split(' ').map(Number), 'the config shows the written list');
    step(); // the packets already held and turns already begun follow the old values
    shareWithin(t, steps(40), 0.25, `${listOf(kind)} ${liveChange[kind].readBack}: a quarter for input 0`);

    // Values the field refuses, and lists of the wrong length, change nothing.
    const list = listOf(kind);
    const one = kind === 'DRRSched' ? 'quantum' : 'weight';
    const max = kind === 'DRRSched' ? 1048576 : 1000000;
    t.throws(() => g.write('s', list, '1 0'), new RegExp(`^${list} entry 1 must be from 1 to ${max}, got 0$`));
    t.throws(() => g.write('s', list, `-3 1`), new RegExp(`^${list} entry 0 must be from 1 to ${max}, got -3$`));
    t.throws(() => g.write('s', list, `1 ${max + 1}`), /entry 1 must be from 1/);
    t.throws(() => g.write('s', list, '1 2.5'), new RegExp(`^${list} entry 1 must be a whole number, got '2.5'$`));
    t.throws(() => g.write('s', list, '7'), new RegExp(`^${list} takes one value per input \\(2\\), got 1$`));
    t.throws(() => g.write('s', list, '1 2 3'), HandlerError);
    t.throws(() => g.write('s', list, ''), /got 0$/);
    t.equal(g.read('s', list), liveChange[kind].readBack, `the ${list} are unchanged; '${one}' bounds each`);

    // reset zeroes the counts.
    g.write('s', 'reset', '');
    t.equal(g.read('s', 'input_packets'), '0 0');
    t.equal(g.read('s', 'input_bytes'), '0 0');
    t.equal(g.counter('s', 'packets'), 0n);
    const b = step();
    t.equal(g.read('s', 'input_bytes'), b.join(' '), 'counting goes on from zero');
    t.equal(g.counter('s', 'packets'), BigInt(PER_STEP));
    rt.stop();
  });

for (const kind of kinds)
  t.test(`${kind} pulled a packet at a time keeps the rest in its Queues`, async (t) => {
    // Packets held in the scheduler are out of the queue's sight (its length, its drops): a slow
    // puller asking for one packet at a time must not draw a batch out of every queue.
    const rt = new Runtime({ threads: 1, poolBuffers: 1024, virtualClockNs: T0 });
    t.teardown(() => rt.close());
    const g = rt.load(
      compile(
        graph('slow', () => {
          const s = sched(kind, kind === 'DRRSched' ? [100, 100] : [1, 1]);
          InfiniteSource({ length: 64, limit: 100 }, 'src0').to(Queue({ capacity: 100 }, 'q0')).to(s.in(0));
          InfiniteSource({ length: 1500, limit: 100 }, 'src1').to(Queue({ capacity: 100 }, 'q1')).to(s.in(1));
          s.to(RatedUnqueue({ rate: 100, burst: 1, active: false }, 'ru')).to(Counter({}, 'c')).to(Discard());
        }),
      ),
    );
    rt.start();
    rt.setVirtualTime(T0);
    for (let i = 0; i < 400 && (g.read('q0', 'length') !== '100' || g.read('q1', 'length') !== '100'); i++) await sleep(5);
    g.write('ru', 'active', 'true');
    for (let k = 1; k <= 30; k++) {
      rt.setVirtualTime(T0 + k * 10 * MS); // one packet a step
      const queued = Number(g.read('q0', 'length')) + Number(g.read('q1', 'length'));
      const sent = Number(g.counter('c', 'packets'));
      t.ok(sent >= k && 200 - sent - queued <= 2, `step ${k}: ${sent} sent, ${queued} queued, ${200 - sent - queued} held (at most one per input)`);
    }
    rt.stop();
  });

// ---------- finite supplies, bad configs ----------

for (const kind of kinds)
  t.test(`${kind} delivers every packet of finite sources and drains`, async (t) => {
    const s = await runGraph(() => {
      const s = sched(kind, kind === 'DRRSched' ? [100, 1500, 64] : [1, 7, 2]);
      InfiniteSource({ length: 60, limit: 2000 }).to(Queue({ capacity: 5000 })).to(s.in(0));
      InfiniteSource({ length: 1400, limit: 500 }).to(Queue({ capacity: 5000 })).to(s.in(1));
      InfiniteSource({ length: 80, limit: 0 }).to(Queue({ capacity: 5000 })).to(s.in(2));
      s.to(Unqueue({ burst: 100 })).to(Counter({}, 'c')).to(Discard());
    });
    t.equal(s.elements.c.packets, 2500);
    t.equal(s.elements.c.bytes, 2000 * 60 + 500 * 1400);
    t.equal(s.elements.s.packets, 2500);
    t.equal(s.pool.available, s.pool.capacity);
  });

t.test('bad quanta and weights are compile errors naming the field', async (t) => {
  const build = (make: () => ReturnType<typeof DRRSched>) => () =>
    compile(
      graph('bad', () => {
        const s = make();
        InfiniteSource({}).to(Queue()).to(s.in(0));
        InfiniteSource({}).to(Queue()).to(s.in(1));
        s.to(Unqueue()).to(Discard());
      }),
    );
  t.throws(build(() => DRRSched({ quantum: 0 }, 'drr')), /element 'drr' \(DRRSched\).*config field 'quantum' must be >= 1 \(expected a whole number from 1 to 1048576\), got 0/);
  t.throws(build(() => DRRSched({ quantum: -1500 }, 'drr')), /config field 'quantum' must be >= 1.*got -1500/);
  t.throws(build(() => DRRSched({ quantum: 1.5 }, 'drr')), /config field 'quantum' must be integer/);
  t.throws(build(() => DRRSched({ quanta: [500, 0] }, 'drr')), /element 'drr' \(DRRSched\).*config field 'quanta\.1' must be >= 1/);
  t.throws(build(() => DRRSched({ quanta: [500] }, 'drr')),
    /element 'drr' \(DRRSched\).*config field 'quanta' has 1 entry but the element has 2 input\(s\): give one per input, or leave 'quanta' out for 'quantum' on every input/);
  t.throws(build(() => DRRSched({ quanta: [1, 2, 3] }, 'drr')), /config field 'quanta' has 3 entries but the element has 2 input/);
  t.throws(build(() => WFQSched({ weight: 0 }, 'wfq')), /element 'wfq' \(WFQSched\).*config field 'weight' must be >= 1 \(expected a whole number from 1 to 1000000\), got 0/);
  t.throws(build(() => WFQSched({ weights: [3, -1] }, 'wfq')), /config field 'weights\.1' must be >= 1/);
  t.throws(build(() => WFQSched({ weights: [1, 2000000] }, 'wfq')), /config field 'weights\.1' must be <= 1000000/);
  t.throws(build(() => WFQSched({ weights: [1, 2, 3] }, 'wfq')), /element 'wfq' \(WFQSched\).*config field 'weights' has 3 entries but the element has 2 input/);

  // The plan carries the list filled from the default; the engine checks it again.
  const good = build(() => DRRSched({ quantum: 700 }, 'drr'))();
  const drr = good.elements.find((e) => e.name === 'drr')!;
  t.same(drr.config, { quantum: 700, quanta: [700, 700] }, "'quanta' filled from 'quantum' for the plan");
  const wfq = build(() => WFQSched({}, 'wfq'))().elements.find((e) => e.name === 'wfq')!;
  t.same(wfq.config, { weight: 1, weights: [1, 1] });
  const rt = new Runtime({ threads: 1, poolBuffers: 256 });
  try {
    const withQuanta = (quanta: unknown) => JSON.stringify({ ...good, elements: good.elements.map((e) => (e === drr ? { ...e, config: { ...e.config, quanta } } : e)) });
    t.throws(() => rt.engine.addGraph(withQuanta([700])), /^element 'drr' \(DRRSched\): config field 'quanta' must have one entry per input \(2\), got 1$/);
    t.throws(() => rt.engine.addGraph(withQuanta([700, 0])), /^element 'drr' \(DRRSched\): config field 'quanta' entry 1 must be a whole number from 1 to 1048576 \(as 'quantum'\), got 0$/);
    t.throws(() => rt.engine.addGraph(withQuanta([700, 2.5])), /entry 1 must be a whole number from 1 to 1048576/);
    t.throws(() => rt.engine.addGraph(withQuanta('700 700')), /config field 'quanta' must have one entry per input \(2\), got a string/);
    const g = rt.load(good);
    t.equal(g.read('drr', 'quanta'), '700 700');
    g.remove();
  } finally {
    rt.close();
  }
});
