// LinkEmulator on the engine's virtual clock: time moves only when the test moves it, in steps
// (`at`), and a packet's send and arrival times are the steps at which the source's and the sink's
// counters moved, so every figure is exact to a step whatever the machine's load, and the seeds
// make each run repeat to the packet. Checked: serialisation plus delay per packet, bandwidth
// within 1% with overflow counted and every packet accounted for, the pool full again after the
// drain; uniform and normal jitter distributions (several lanes at once, to get samples per
// step), no reordering under jitter unless asked; loss (random within the binomial bound, and
// Gilbert-Elliott's mean loss and burst length), duplication and reordering rates read from a
// capture; a live change of one parameter leaving the others (handlers, config and traffic);
// hot reconfiguration keeping the packets in flight on their times; two workers pushing at once
// (real clock) with every packet delivered or counted; bad configs and handler values refused
// with the field named, changing nothing.
import t, { type Test } from 'tap';
import { rmSync } from 'node:fs';
import { compile, graph, Runtime, InfiniteSource, FlowSource, LinkEmulator, Counter, ToPcap, Discard, type RunningGraph } from 'pktgraph';
import { readPcap } from './lib/pcap.js';
import { runGraph, tmpPath } from './lib/run.js';

const T0 = 1_000_000_000;
const US = 1_000;
const MS = 1_000_000;
const num = (g: RunningGraph, el: string, c: string) => Number(g.counter(el, c));
type EmuConfig = Parameters<typeof LinkEmulator>[0];

/** An engine on the virtual clock running `build`'s graph; `at(ns)` moves the clock (after T0). */
function virtualEngine(t: Test, build: () => void, poolBuffers = 16384) {
  const rt = new Runtime({ threads: 1, poolBuffers, virtualClockNs: T0 });
  t.teardown(() => rt.close());
  const g = rt.load(compile(graph('linkemu', build)));
  rt.start();
  rt.setVirtualTime(T0);
  return { rt, g, at: (ns: number) => rt.setVirtualTime(T0 + ns) };
}

/**
 * Lanes of source -> LinkEmulator -> Counter, each lane `i` its own seed, sending `length`-byte
 * packets every `periodNs`; the clock moves in `stepNs` steps for `durationNs`. Returns each
 * lane's per-packet delays (arrival step minus send step, first in first out).
 */
function delays(t: Test, lanes: number, emu: (i: number) => EmuConfig, o: { periodNs: number; stepNs: number; durationNs: number; length: number; limit: number }) {
  const { g, at } = virtualEngine(t, () => {
    for (let i = 0; i < lanes; i++)
      InfiniteSource({ length: o.length, rate: 1e9 / o.periodNs, burst: 1, limit: o.limit }, `src${i}`).to(LinkEmulator(emu(i), `le${i}`)).to(Counter({}, `out${i}`)).to(Discard());
  });
  const sent: number[][] = Array.from({ length: lanes }, () => []);
  const got: number[][] = Array.from({ length: lanes }, () => []);
  for (let ns = 0; ns <= o.durationNs; ns += o.stepNs) {
    at(ns);
    for (let i = 0; i < lanes; i++) {
      for (let k = num(g, `src${i}`, 'packets') - sent[i].length; k > 0; k--) sent[i].push(ns);
      for (let k = num(g, `out${i}`, 'packets') - got[i].length; k > 0; k--) got[i].push(ns);
    }
  }
  const d: number[] = [];
  for (let i = 0; i < lanes; i++) for (let k = 0; k < got[i].length; k++) d.push(got[i][k] - sent[i][k]);
  return { d, g, sent, got };
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const sd = (xs: number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
/** Within k standard deviations of a binomial count's mean. */
const binomialOk = (count: number, n: number, p: number, k = 4) => Math.abs(count - n * p) <= k * Math.sqrt(n * p * (1 - p));

t.test('an idle link: each packet takes its serialisation time plus the delay', async (t) => {
  // 1250-byte packets on 10 Mbit/s take 1 ms on the wire; delay 20 ms; one packet every 5 ms.
  const step = 50 * US;
  const { d, g } = delays(t, 1, () => ({ rate: 10e6, delay: 0.02, seed: 1 }), { periodNs: 5 * MS, stepNs: step, durationNs: 600 * MS, length: 1250, limit: 100 });
  t.equal(d.length, 100, 'every packet arrived');
  t.ok(d.every((x) => x >= 21 * MS - step && x <= 21 * MS + step), `delays ${Math.min(...d) / MS}-${Math.max(...d) / MS} ms: 21 ms to within a ${step / US} µs step`);
  t.equal(g.read('le0', 'held'), '0');
  t.equal(num(g, 'le0', 'sent'), 100);
});

t.test('bandwidth: the rate within 1% under overload, overflow counted, every packet accounted for, the pool full after the drain', async (t) => {
  // 1000-byte packets offered at 2000/s (16 Mbit/s) into 10 Mbit/s with room for 100 packets.
  const { rt, g, at } = virtualEngine(t, () => {
    InfiniteSource({ length: 1000, rate: 2000, burst: 4 }, 'src').to(LinkEmulator({ rate: 10e6, delay: 0.005, capacity: 100, seed: 1 }, 'le')).to(Counter({}, 'out')).to(Discard());
  });
  for (let ms = 1; ms <= 500; ms++) at(ms * MS);
  const b0 = num(g, 'out', 'bytes');
  for (let ms = 501; ms <= 1500; ms++) at(ms * MS);
  const bytes = num(g, 'out', 'bytes') - b0;
  t.ok(Math.abs(bytes * 8 - 10e6) / 10e6 < 0.01, `${bytes * 8} bits delivered in 1 s at 10 Mbit/s (${((100 * (bytes * 8 - 10e6)) / 10e6).toFixed(3)}%)`);
  const overflow = num(g, 'le', 'drops_overflow');
  t.ok(overflow > 500, `${overflow} packets over the capacity dropped and counted (about 6 Mbit/s of 16 offered)`);
  t.ok(Number(g.read('le', 'held')) <= 100, `at most the capacity held (${g.read('le', 'held')})`);
  t.ok(Number(g.read('le', 'backlog')) > 0.07, `the wire is booked ${g.read('le', 'backlog')} s ahead (a full buffer: 100 packets of 0.8 ms)`);
  g.write('src', 'active', 'false');
  const held = Number(g.read('le', 'held'));
  t.equal(num(g, 'le', 'packets'), num(g, 'le', 'sent') + held + overflow, 'packets in = sent + held + dropped');
  for (let ms = 1501; ms <= 1700; ms++) at(ms * MS);
  t.equal(g.read('le', 'held'), '0', 'drained');
  t.equal(num(g, 'src', 'packets'), num(g, 'out', 'packets') + overflow, 'every packet delivered or counted');
  const pool = rt.poolStats();
  t.equal(pool.available, pool.capacity, 'every buffer back in the pool');
});

t.test('jitter: uniform in delay ± jitter, and normal with the configured deviation', async (t) => {
  const step = 250 * US;
  const opts = { periodNs: 12.5 * MS, stepNs: step, durationNs: 2100 * MS, length: 100, limit: 160 };
  // Sends are on the step grid and arrivals rounded up to it: half a step off each delay centres them.
  const u = delays(t, 8, (i) => ({ delay: 0.02, jitter: 0.005, seed: 10 + i }), opts).d.map((x) => x - step / 2);
  t.equal(u.length, 8 * 160);
  t.ok(Math.min(...u) >= 15 * MS - step / 2 && Math.max(...u) <= 25 * MS + step / 2, `uniform: all within 20 ± 5 ms (${Math.min(...u) / MS} to ${Math.max(...u) / MS})`);
  t.ok(Math.abs(mean(u) - 20 * MS) < 0.3 * MS, `uniform: mean ${(mean(u) / MS).toFixed(3)} ms`);
  const bins = [0, 0, 0, 0];
  for (const x of u) bins[Math.min(3, Math.max(0, Math.floor((x - 15 * MS) / (2.5 * MS))))]++;
  t.ok(bins.every((b) => Math.abs(b - u.length / 4) < 0.2 * (u.length / 4)), `uniform: quarters of the range hold ${bins.join(', ')} (${u.length / 4} each expected)`);
  t.ok(Math.abs(sd(u) - (5 * MS) / Math.sqrt(3)) < 0.1 * ((5 * MS) / Math.sqrt(3)), `uniform: deviation ${(sd(u) / MS).toFixed(3)} ms (jitter/√3 = ${(5 / Math.sqrt(3)).toFixed(3)})`);

  const n = delays(t, 8, (i) => ({ delay: 0.02, jitter: 0.002, distribution: 'normal', seed: 20 + i }), opts).d.map((x) => x - step / 2);
  t.ok(Math.abs(mean(n) - 20 * MS) < 0.2 * MS, `normal: mean ${(mean(n) / MS).toFixed(3)} ms`);
  t.ok(Math.abs(sd(n) - 2 * MS) < 0.1 * 2 * MS, `normal: deviation ${(sd(n) / MS).toFixed(3)} ms of 2`);
  const within = n.filter((x) => Math.abs(x - 20 * MS) <= 2 * MS).length / n.length;
  t.ok(Math.abs(within - 0.6827) < 0.05, `normal: ${(100 * within).toFixed(1)}% within one deviation (68.3%)`);
});

/** FlowSource (one flow: IPv4 ids count up from 0) -> LinkEmulator -> ToPcap on the virtual clock; the captured ids in order. */
function captured(t: Test, emu: EmuConfig, o: { rate: number; limit: number; ms: number }) {
  const file = tmpPath(`linkemu-${Math.random().toString(36).slice(2)}.pcap`);
  t.teardown(() => rmSync(file, { force: true }));
  const { g, at } = virtualEngine(t, () => {
    FlowSource({ length: 64, rate: o.rate, burst: Math.max(1, Math.ceil(o.rate / 1000)) * 2, limit: o.limit }, 'src').to(LinkEmulator(emu, 'le')).to(ToPcap({ file }, 'cap'));
  });
  for (let ms = 1; ms <= o.ms; ms++) at(ms * MS);
  g.write('cap', 'flush', '');
  const ids = readPcap(file).packets.map((p) => p.data.readUInt16BE(18));
  return { g, ids };
}

t.test('jitter keeps the order unless jitterReorders is set', async (t) => {
  const ordered = captured(t, { delay: 0.01, jitter: 0.005, seed: 5 }, { rate: 2000, limit: 1000, ms: 600 });
  t.equal(ordered.ids.length, 1000);
  t.ok(ordered.ids.every((id, i) => id === i), 'every packet in sending order');
  const mixed = captured(t, { delay: 0.01, jitter: 0.005, jitterReorders: true, seed: 5 }, { rate: 2000, limit: 1000, ms: 600 });
  const late = mixed.ids.filter((id, i) => i > 0 && id < Math.max(...mixed.ids.slice(0, i))).length;
  t.equal(mixed.ids.length, 1000);
  t.ok(late > 300, `with jitterReorders, ${late} packets arrived behind a later one`);
});

t.test('random loss within the binomial bound; Gilbert-Elliott loss in bursts', async (t) => {
  const n = 20000;
  const r = captured(t, { loss: 5, seed: 7 }, { rate: 100000, limit: n, ms: 210 });
  const lost = num(r.g, 'le', 'drops_loss');
  t.ok(binomialOk(lost, n, 0.05), `${lost} of ${n} lost at 5% (expected ${n * 0.05} ± ${(4 * Math.sqrt(n * 0.05 * 0.95)).toFixed(0)})`);
  t.equal(r.ids.length, n - lost, 'the capture holds the rest');
  // netem's gemodel p=1% r=25% (1-h 100%): mean loss p/(p+r) = 3.85%, mean burst 1/r = 4 packets.
  const ge = captured(t, { lossModel: 'gilbert-elliott', geP: 1, geR: 25, seed: 8 }, { rate: 100000, limit: n, ms: 210 });
  const geLost = num(ge.g, 'le', 'drops_loss');
  t.ok(Math.abs(geLost / n - 1 / 26) < 0.15 / 26, `Gilbert-Elliott: ${((100 * geLost) / n).toFixed(2)}% lost (3.85% expected)`);
  const bursts: number[] = [];
  for (let i = 1; i < ge.ids.length; i++) if (ge.ids[i] - ge.ids[i - 1] > 1) bursts.push(ge.ids[i] - ge.ids[i - 1] - 1);
  t.ok(Math.abs(mean(bursts) - 4) < 0.6, `mean burst ${mean(bursts).toFixed(2)} packets (4 expected) over ${bursts.length} bursts`);
  t.equal(ge.ids.length, n - geLost);
});

t.test('duplication and reordering at their rates', async (t) => {
  const n = 5000;
  const dup = captured(t, { duplicate: 10, seed: 9 }, { rate: 100000, limit: n, ms: 60 });
  const copies = num(dup.g, 'le', 'duplicated');
  t.ok(binomialOk(copies, n, 0.1), `${copies} of ${n} duplicated at 10%`);
  t.equal(dup.ids.length, n + copies, 'the capture holds every packet and every copy');
  t.equal(dup.ids.filter((id, i) => i > 0 && id === dup.ids[i - 1]).length, copies, 'each copy right behind its original');

  // One packet a millisecond, 10 ms delay: a packet picked to skip it overtakes the ten before.
  const re = captured(t, { delay: 0.01, reorder: 25, seed: 11 }, { rate: 1000, limit: 2000, ms: 2100 });
  const picked = num(re.g, 'le', 'reordered');
  t.ok(binomialOk(picked, 2000, 0.25), `${picked} of 2000 reordered at 25%`);
  const overtook = re.ids.filter((id, i) => re.ids.slice(i + 1).some((later) => later < id)).length;
  t.equal(overtook, picked, `the capture shows ${overtook} packets arriving ahead of earlier ones`);
  t.equal(re.ids.length, 2000);
});

t.test('a live change of one parameter leaves the others as they were', async (t) => {
  // 1250-byte packets every 2.5 ms into 10 Mbit/s (1 ms on the wire), 20 ms delay, 10% loss.
  const step = 100 * US;
  const { g, at } = virtualEngine(t, () => {
    InfiniteSource({ length: 1250, rate: 400, burst: 1 }, 'src').to(LinkEmulator({ rate: 10e6, delay: 0.02, loss: 10, jitter: 0, capacity: 500, seed: 3 }, 'le')).to(Counter({}, 'out')).to(Discard());
  });
  const before = Object.fromEntries(['rate', 'loss', 'jitter', 'capacity', 'distribution', 'reorder', 'seed'].map((h) => [h, g.read('le', h)]));
  g.write('le', 'delay', '0.005');
  t.same(Object.fromEntries(Object.keys(before).map((h) => [h, g.read('le', h)])), before, 'every other handler reads as before');
  t.equal(g.read('le', 'delay'), '0.005');
  const config = JSON.parse(g.read('le', 'config'));
  t.match(config, { rate: 10e6, delay: 0.005, loss: 10, capacity: 500, seed: 3 }, 'the config handler shows the change and the rest');
  // On traffic (packets in less those lost, matched first in first out with those out).
  let lastIn = 0;
  let lastOut = 0;
  let clock = 0;
  const inTimes: number[] = [];
  const outTimes: number[] = [];
  const watch = (ms: number) => {
    const first = outTimes.length;
    for (const end = clock + ms * MS; clock < end; ) {
      at((clock += step));
      for (const i = num(g, 'le', 'packets') - num(g, 'le', 'drops_loss'); lastIn < i; lastIn++) inTimes.push(clock);
      for (const o = num(g, 'out', 'packets'); lastOut < o; lastOut++) outTimes.push(clock);
    }
    return outTimes.slice(first).map((x, k) => x - inTimes[first + k]);
  };
  watch(30); // the packet sent at the start, before the change, and those behind it
  const d = watch(500);
  t.ok(d.length > 150 && d.every((x) => Math.abs(x - 6 * MS) <= step), `${d.length} packets, each 6 ms (1 ms wire + 5 ms delay) to within a step`);
  const n = num(g, 'le', 'packets');
  t.ok(binomialOk(num(g, 'le', 'drops_loss'), n, 0.1), `loss still 10%: ${num(g, 'le', 'drops_loss')} of ${n}`);
  // Then only the rate: the wire time doubles, the delay and loss stay.
  g.write('le', 'rate', '5000000');
  t.same([g.read('le', 'delay'), g.read('le', 'loss'), g.read('le', 'capacity')], ['0.005', '10', '500']);
  watch(20); // the packets in flight at the change
  const d2 = watch(500).slice(1);
  t.ok(d2.length > 150 && d2.every((x) => Math.abs(x - 7 * MS) <= step), `${d2.length} packets, each 7 ms (2 ms wire + 5 ms delay) to within a step`);
  const n2 = num(g, 'le', 'packets');
  t.ok(binomialOk(num(g, 'le', 'drops_loss'), n2, 0.1), `loss still 10%: ${num(g, 'le', 'drops_loss')} of ${n2}`);
});

t.test('hot reconfiguration keeps the packets in flight with their times, and the new config applies to new ones', async (t) => {
  const build = (delay: number) =>
    compile(graph('linkemu', () => InfiniteSource({ length: 100, rate: 1000, burst: 1, limit: 200 }, 'src').to(LinkEmulator({ delay, seed: 1 }, 'le')).to(Counter({}, 'out')).to(Discard())));
  const rt = new Runtime({ threads: 1, poolBuffers: 4096, virtualClockNs: T0 });
  t.teardown(() => rt.close());
  let g = rt.load(build(0.05));
  rt.start();
  for (let ms = 0; ms <= 100; ms++) rt.setVirtualTime(T0 + ms * MS);
  const held = Number(g.read('le', 'held'));
  t.ok(held >= 49 && held <= 51, `${held} packets in their 50 ms delay at the swap`);
  const out0 = num(g, 'out', 'packets');
  g = g.replace(build(0.01));
  t.same(g.swap?.dropped ?? [], [], 'the swap dropped nothing');
  t.equal(Number(g.read('le', 'held')), held, 'the new element holds them');
  // Those held arrive at their old times (one a millisecond up to 150 ms); new ones after 10 ms,
  // but never ahead of those sent before them (the order floor carries over).
  for (let ms = 101; ms <= 149; ms++) rt.setVirtualTime(T0 + ms * MS);
  t.equal(num(g, 'out', 'packets') - out0, held - 1, 'the held packets left on their old schedule');
  // Packet k is sent at k ms: by 185 ms those sent up to 175 ms (the new 10 ms delay) are out.
  for (let ms = 150; ms <= 185; ms++) rt.setVirtualTime(T0 + ms * MS);
  t.equal(num(g, 'out', 'packets'), 176, 'new packets take the new 10 ms');
  for (let ms = 186; ms <= 320; ms++) rt.setVirtualTime(T0 + ms * MS);
  t.equal(num(g, 'out', 'packets'), 200, 'every packet delivered');
  t.equal(g.read('le', 'delay'), '0.01');
  const pool = rt.poolStats();
  t.equal(pool.available, pool.capacity, 'every buffer back in the pool');
});

t.test('pushed from two workers at once (real clock), every packet is delivered or counted', async (t) => {
  const s = await runGraph(
    () => {
      const le = LinkEmulator({ delay: 0.001, jitter: 0.0005, loss: 1, duplicate: 1, capacity: 100000, seed: 4 }, 'le');
      InfiniteSource({ length: 64, limit: 50000, burst: 64 }, { name: 'a', thread: 0 }).to(le);
      InfiniteSource({ length: 64, limit: 50000, burst: 64 }, { name: 'b', thread: 1 }).to(le);
      le.to(Counter({}, 'out')).to(Discard());
    },
    { threads: 2, poolBuffers: 65536 },
  );
  const le = s.elements.le;
  t.equal(le.packets, 100000);
  t.ok(le.duplicated > 0 && le.drops_loss > 0, 'both impairments at work');
  t.equal(le.packets + le.duplicated, le.sent + le.drops_loss + le.drops_overflow, `in ${le.packets} + copies ${le.duplicated} = sent ${le.sent} + lost ${le.drops_loss} + overflow ${le.drops_overflow}`);
  t.equal(s.elements.out.packets, le.sent);
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
});

t.test('bad configs and handler values are refused, naming the field, and change nothing', async (t) => {
  const bad = (cfg: object) => () => compile(graph('le_bad', () => InfiniteSource().to(LinkEmulator(cfg as never, 'le')).to(Discard())));
  t.throws(bad({ loss: 101 }), /'le' \(LinkEmulator\).*config field 'loss'/);
  t.throws(bad({ delay: -1 }), /config field 'delay'/);
  t.throws(bad({ distribution: 'pareto' }), /config field 'distribution'/);
  t.throws(bad({ capacity: 0 }), /config field 'capacity'/);
  t.throws(bad({ bandwidth: 1 }), /bandwidth/);
  const rt = new Runtime({ threads: 1 });
  t.teardown(() => rt.close());
  const g = rt.load(compile(graph('le_h', () => InfiniteSource({ limit: 0 }).to(LinkEmulator({ loss: 1, delay: 0.01 }, 'le')).to(Discard()))));
  t.throws(() => g.write('le', 'loss', '150'), /loss/);
  t.throws(() => g.write('le', 'delay', 'soon'), /delay/);
  t.throws(() => g.write('le', 'distribution', 'pareto'), /distribution: must be one of uniform, normal/);
  t.throws(() => g.write('le', 'jitterReorders', 'maybe'), /jitterReorders/);
  t.same([g.read('le', 'loss'), g.read('le', 'delay'), g.read('le', 'distribution'), g.read('le', 'jitterReorders')], ['1', '0.01', 'uniform', 'false']);
  g.write('le', 'capacity', '10');
  g.write('le', 'lossModel', 'gilbert-elliott');
  t.same([g.read('le', 'capacity'), g.read('le', 'lossModel'), g.read('le', 'loss')], ['10', 'gilbert-elliott', '1']);
});
