// The rate elements (Shaper, BandwidthShaper, BandwidthRatedUnqueue, RatedSplitter,
// BandwidthRatedSplitter) on the engine's virtual clock: time moves only when the test moves it,
// and after each move the test lets the worker run at that time until a whole round moved
// nothing more (`settle`), so every count is exact whatever the machine's load. Rates are
// checked over a simulated 1 s window in steady state (a backlog always waiting): packets and
// bytes (plus the per-packet overhead) within one packet of rate x 1 s, and well within 1%.
// Then burst behaviour, a packet larger than the burst, live rate and burst changes without
// saved credit, the splitters' split counts (also with two workers pushing into one splitter),
// a late BandwidthRatedUnqueue's shortfall, and bad configs refused at compile time.
import t, { type Test } from 'tap';
import {
  compile, graph, Runtime, InfiniteSource, FlowSource, Queue, Unqueue, Shaper, BandwidthShaper, BandwidthRatedUnqueue,
  RatedSplitter, BandwidthRatedSplitter, Counter, Discard, type RunningGraph,
} from 'pktgraph';

const T0 = 1_000_000_000; // the virtual clock's start, ns
const MS = 1_000_000;

/**
 * An engine on a virtual clock running `build`'s graph. `at(ms)` moves the clock to T0 + ms and
 * then lets the workers run at that time until the packets counted at `watch` (Counter names)
 * stop changing over a whole round: setVirtualTime returns once a full round ran at the new
 * time, so repeating it at the same time until nothing moves leaves no credit unspent.
 */
function virtualEngine(t: Test, build: () => void, watch: string[], threads = 1) {
  const rt = new Runtime({ threads, poolBuffers: 32768, virtualClockNs: T0 });
  t.teardown(() => rt.close());
  const g = rt.load(compile(graph('shapers', build)));
  const total = () => watch.reduce((s, c) => s + num(g, c, 'packets'), 0);
  rt.start();
  let ns = T0;
  const at = (ms: number) => {
    ns = Math.max(ns, T0 + Math.round(ms * MS));
    let before;
    do {
      before = total();
      rt.setVirtualTime(ns);
    } while (total() !== before);
  };
  at(0);
  return { rt, g, at };
}

const num = (g: RunningGraph, el: string, c: string) => Number(g.counter(el, c));

/** The counts at `el` over `steps` (each a clock move): packets and bytes. */
function over(g: RunningGraph, el: string, steps: () => void) {
  const p0 = num(g, el, 'packets');
  const b0 = num(g, el, 'bytes');
  steps();
  return { packets: num(g, el, 'packets') - p0, bytes: num(g, el, 'bytes') - b0 };
}

/** Moves the clock from `from` ms in steps of `step` ms for one simulated second. */
const oneSecond = (at: (ms: number) => void, from: number, step: number) => () => {
  for (let ms = from + step; ms <= from + 1000 + 1e-9; ms += step) at(ms);
};

const pct = (got: number, want: number) => `${((100 * (got - want)) / want).toFixed(4)}%`;

// A source always ahead of the rate: 256 packets a round into a Queue the rate element drains.
const backlog = (length: number, lengthMax = 0) =>
  lengthMax ? FlowSource({ length, lengthMax, burst: 256 }, 'src') : InfiniteSource({ length, burst: 256 }, 'src');

t.test('Shaper: packets per second over a simulated second, from 1000/s to 10 Mpps (64 B: 512 kbit/s to 5 Gbit/s)', async (t) => {
  for (const rate of [1000, 100_000, 1_000_000, 10_000_000]) {
    const { rt, g, at } = virtualEngine(t, () => {
      backlog(64).to(Queue({ capacity: 4096 })).to(Shaper({ rate }, 's')).to(Unqueue({ burst: 256 })).to(Counter({}, 'c')).to(Discard());
    }, ['c']);
    at(10); // past the initial burst, in steady state
    const got = over(g, 'c', oneSecond(at, 10, 1));
    t.ok(Math.abs(got.packets - rate) <= 1, `${rate}/s: ${got.packets} packets in 1 s (${pct(got.packets, rate)})`);
    t.equal(got.bytes, got.packets * 64, 'bytes counted');
    t.equal(num(g, 's', 'packets'), num(g, 'c', 'packets'), "the Shaper's count is what passed");
    rt.stop();
  }
});

t.test('BandwidthShaper: bits per second over a simulated second, 1 Mbit/s to 100 Gbit/s, with and without overhead', async (t) => {
  const cases = [
    { rate: 1e6, length: 64, overhead: 24 },
    { rate: 10e6, length: 64, lengthMax: 1514, overhead: 0 }, // random sizes
    { rate: 100e6, length: 512, overhead: 24 },
    { rate: 1e9, length: 64, lengthMax: 1514, overhead: 24 },
    { rate: 10e9, length: 1500, overhead: 24 },
    { rate: 100e9, length: 1500, overhead: 0 },
  ];
  for (const { rate, length, lengthMax = 0, overhead } of cases) {
    const { rt, g, at } = virtualEngine(t, () => {
      backlog(length, lengthMax).to(Queue({ capacity: 4096 })).to(BandwidthShaper({ rate, overhead }, 's')).to(Unqueue({ burst: 256 })).to(Counter({}, 'c')).to(Discard());
    }, ['c']);
    at(10);
    const got = over(g, 'c', oneSecond(at, 10, 1));
    const wire = got.bytes + overhead * got.packets;
    const want = rate / 8;
    const sizes = lengthMax ? `${length}-${lengthMax} B` : `${length} B`;
    t.ok(Math.abs(wire - want) <= (lengthMax || length) + overhead, `${rate / 1e6} Mbit/s, ${sizes}, overhead ${overhead}: ${wire} bytes in 1 s (${pct(wire, want)}), within one packet`);
    t.ok(Math.abs(wire - want) < want * 0.001, '... and within 0.1%');
    rt.stop();
  }
});

t.test('BandwidthRatedUnqueue: bits per second over a simulated second; a late round counts its shortfall', async (t) => {
  for (const { rate, length, lengthMax = 0 } of [{ rate: 1e6, length: 64 }, { rate: 1e9, length: 64, lengthMax: 1514 }, { rate: 10e9, length: 1500 }]) {
    const { rt, g, at } = virtualEngine(t, () => {
      backlog(length, lengthMax).to(Queue({ capacity: 4096 })).to(BandwidthRatedUnqueue({ rate }, 'ru')).to(Counter({}, 'c')).to(Discard());
    }, ['c']);
    at(10); // (a first step longer than the burst's 1 ms: some shortfall, rightly)
    const late = num(g, 'ru', 'rate_shortfall');
    const got = over(g, 'c', oneSecond(at, 10, 1));
    t.ok(Math.abs(got.bytes - rate / 8) <= (lengthMax || length), `${rate / 1e6} Mbit/s: ${got.bytes} bytes in 1 s (${pct(got.bytes, rate / 8)})`);
    t.equal(num(g, 'ru', 'rate_shortfall'), late, 'no shortfall in steps within the burst');
    rt.stop();
  }

  // 8 Mbit/s = 1000 B/ms, 1000 B packets, burst 5000 B: a round 100 ms late moves 5 packets
  // (the burst) and counts the other 95 it owed as shortfall. Credit beyond the burst while
  // the input is empty or the element inactive is no shortfall.
  const { rt, g, at } = virtualEngine(t, () => {
    backlog(1000).to(Queue({ capacity: 4096 })).to(BandwidthRatedUnqueue({ rate: 8e6, burst: 5000 }, 'ru')).to(Counter({}, 'c')).to(Discard());
  }, ['c']);
  t.equal(num(g, 'c', 'packets'), 5, 'the full bucket moved one burst at the start');
  t.same([over(g, 'c', () => at(5)).packets, over(g, 'c', () => at(10)).packets], [5, 5], '5 packets per 5 ms');
  t.equal(num(g, 'ru', 'rate_shortfall'), 0, 'no shortfall so far');
  t.same(over(g, 'c', () => at(110)).packets, 5, 'after a 100 ms stall with packets waiting, one burst (5 packets) moved');
  t.equal(num(g, 'ru', 'rate_shortfall'), 95, 'the other 95 packets are the shortfall');
  g.write('ru', 'active', 'false');
  at(1110);
  t.equal(num(g, 'ru', 'rate_shortfall'), 95, 'an inactive element owes nothing');
  t.same(over(g, 'c', () => (g.write('ru', 'active', 'true'), at(1110))).packets, 5, 'made active: the full bucket moves one burst');
  g.write('ru', 'rate', '16000000');
  at(1110); // a round at the time of the write applies it (without, the next step's first round would)
  t.same([1, 2].map((i) => over(g, 'c', () => at(1110 + i)).packets), [2, 2], 'rate written (16 Mbit/s): 2 packets per ms from then on');
  rt.stop();
});

t.test('Shaper: burst after a pause, live rate and burst changes without saved credit', async (t) => {
  const { rt, g, at } = virtualEngine(t, () => {
    InfiniteSource({ length: 64, burst: 256, active: false }, 'src').to(Queue({ capacity: 4096 }, 'q')).to(Shaper({ rate: 1000, burst: 50 }, 's')).to(Unqueue({ burst: 256 })).to(Counter({}, 'c')).to(Discard());
  }, ['c']);
  at(1000); // an empty input for a second: the bucket is full (50)
  t.same(over(g, 'c', () => (g.write('src', 'active', 'true'), at(1000))).packets, 50, 'packets arrive: the full bucket passes one burst at once');
  t.same([1, 2, 3].map((i) => over(g, 'c', () => at(1000 + 10 * i)).packets), [10, 10, 10], 'then exactly 10 per 10 ms');
  t.equal(g.read('s', 'burst'), '50');

  g.write('s', 'rate', '5000');
  at(1030);
  t.same([1, 2].map((i) => over(g, 'c', () => at(1030 + 10 * i)).packets), [50, 50], 'rate written: 50 per 10 ms from then on');
  t.equal(g.read('s', 'rate'), '5000');

  // Idle (no packets) long enough to fill the bucket, then a new rate: at most one packet of
  // the old credit passes, not a burst.
  g.write('src', 'active', 'false');
  let now = 1050;
  while (Number(g.read('q', 'length')) > 0) at((now += 10));
  at((now += 1000));
  g.write('s', 'rate', '2000');
  t.same(over(g, 'c', () => (g.write('src', 'active', 'true'), at(now))).packets, 1, 'a rate written with a full bucket keeps at most one packet of credit');
  t.same(over(g, 'c', () => at((now += 10))).packets, 20, 'then 20 per 10 ms');

  // A smaller burst discards credit beyond it; a larger one grants none.
  g.write('src', 'active', 'false');
  while (Number(g.read('q', 'length')) > 0) at((now += 10));
  at((now += 1000));
  g.write('s', 'burst', '7');
  t.same(over(g, 'c', () => (g.write('src', 'active', 'true'), at(now))).packets, 7, 'burst lowered to 7 with a full bucket: 7 pass at once');
  g.write('s', 'burst', '100');
  t.same(over(g, 'c', () => at(now)).packets, 0, 'raised to 100: no credit granted');
  t.same(over(g, 'c', () => at((now += 30))).packets, 60, '60 accrued in 30 ms all pass (within the new burst)');
  t.throws(() => g.write('s', 'rate', '0'), /rate must be > 0|rate must be more than 0/, 'a zero rate is refused');
  t.throws(() => g.write('s', 'burst', '-1'), /burst must be/, 'a negative burst is refused');
  rt.stop();
});

t.test('BandwidthShaper: a burst in bytes, a packet larger than the burst, the held packet, a rate change', async (t) => {
  // 8 Mbit/s = 1000 B per ms. Burst 3000 B of 1000 B packets: 3 at once, then one per ms.
  {
    const { rt, g, at } = virtualEngine(t, () => {
      backlog(1000).to(Queue({ capacity: 4096 })).to(BandwidthShaper({ rate: 8e6, burst: 3000 }, 's')).to(Unqueue({ burst: 256 })).to(Counter({}, 'c')).to(Discard());
    }, ['c']);
    t.equal(num(g, 'c', 'packets'), 3, 'the full bucket (3000 B) passes 3 packets of 1000 B at once');
    t.same([1, 2, 3].map((i) => over(g, 'c', () => at(i)).packets), [1, 1, 1], 'then one per ms');
    t.same(over(g, 'c', () => at(100)).packets, 3, 'after a pause, no more than the burst');
    t.ok(Number(g.read('s', 'bytes')) > 0, 'bytes counted');
    g.write('s', 'rate', '24000000');
    at(100);
    t.same([101, 102].map((ms) => over(g, 'c', () => at(ms)).packets), [3, 3], 'rate written (24 Mbit/s): 3 packets per ms from then on');
    t.equal(g.read('s', 'rate'), '24000000');
    rt.stop();
  }
  // Burst 1000 B, packets of 1500 B: each still passes (taking the bucket below empty), and the
  // debt is paid before the next: at 0 ms (1000 B of credit, then -500), at 1 ms (500, then
  // -1000), then one per 1.5 ms.
  {
    const { rt, g, at } = virtualEngine(t, () => {
      backlog(1500).to(Queue({ capacity: 4096 })).to(BandwidthShaper({ rate: 8e6, burst: 1000 }, 's')).to(Unqueue({ burst: 256 })).to(Counter({}, 'c')).to(Discard());
    }, ['c']);
    t.equal(num(g, 'c', 'packets'), 1, 'a 1500 B packet passes a 1000 B bucket');
    const counts = Array.from({ length: 6 }, (_, i) => over(g, 'c', () => at(0.5 * (i + 1))).packets);
    t.same(counts, [0, 1, 0, 0, 1, 0], 'each packet goes once its debt is paid');
    const second = over(g, 'c', oneSecond(at, 3, 0.5));
    t.ok(Math.abs(second.bytes - 1_000_000) <= 1500, `1 s: ${second.bytes} bytes (the rate's 1,000,000 within one packet)`);
    t.ok(Number(g.read('s', 'burst')) === 1000);
    rt.stop();
  }
});

t.test('BandwidthShaper holds packets pulled beyond the credit, loses none, and frees them when removed', async (t) => {
  // Random sizes: a pull asks for the credit's worth at the last packet's size, so now and then
  // a few more come than the credit covers; they wait inside (sent = passed + queued + held).
  const { rt, g, at } = virtualEngine(t, () => {
    FlowSource({ length: 64, lengthMax: 1514, burst: 256, limit: 3000 }, 'src').to(Queue({ capacity: 4096 }, 'q')).to(BandwidthShaper({ rate: 80e6 }, 's')).to(Unqueue({ burst: 256 })).to(Counter({}, 'c')).to(Discard());
  }, ['c']);
  const held = () => num(g, 'src', 'packets') - num(g, 'c', 'packets') - Number(g.read('q', 'length'));
  let most = 0;
  for (let ms = 1; ms <= 400 && num(g, 'c', 'packets') < 3000; ms++) {
    at(ms);
    most = Math.max(most, held());
  }
  t.ok(most > 0 && most <= 256, `packets waited inside the shaper (at most ${most} at once, never more than a batch)`);
  t.equal(num(g, 'c', 'packets'), 3000, 'every packet passed, none lost');
  t.equal(held(), 0, 'none held at the end');
  rt.stop();
  g.remove();

  // Removed while packets wait inside: they go back to the pool with the queue's.
  const rt2 = new Runtime({ threads: 1, poolBuffers: 8192, virtualClockNs: T0 });
  t.teardown(() => rt2.close());
  const g2 = rt2.load(compile(graph('held', () => {
    FlowSource({ length: 64, lengthMax: 1514, burst: 256, limit: 3000 }, 'src').to(Queue({ capacity: 4096 }, 'q')).to(BandwidthShaper({ rate: 80e6 }, 's')).to(Unqueue({ burst: 256 })).to(Counter({}, 'c')).to(Discard());
  })));
  rt2.start();
  let inside = 0;
  for (let ms = 1; ms <= 200 && inside === 0; ms++) {
    rt2.setVirtualTime(T0 + ms * MS);
    rt2.setVirtualTime(T0 + ms * MS);
    // Paused (off the worker once pause returns), so the three counts are of one moment: the
    // unpaced source would otherwise move on between the reads.
    g2.pause();
    inside = num(g2, 'src', 'packets') - num(g2, 'c', 'packets') - Number(g2.read('q', 'length'));
    if (inside === 0) g2.resume();
  }
  rt2.stop();
  t.ok(inside > 0, `${inside} packets held inside when the graph is removed`);
  g2.remove();
  t.equal(rt2.poolStats().available, 8192, 'every packet is back in the pool');
});

t.test('RatedSplitter and BandwidthRatedSplitter: the rate to output 0, the rest to output 1', async (t) => {
  for (const rate of [1000, 1_000_000]) {
    const { rt, g, at } = virtualEngine(t, () => {
      const rs = RatedSplitter({ rate }, 'rs');
      InfiniteSource({ length: 64, burst: 256 }, 'src').to(Counter({}, 'in')).to(rs);
      rs.out(0).to(Counter({}, 'c0')).to(Discard());
      rs.out(1).to(Counter({}, 'c1')).to(Discard());
    }, ['c0']);
    at(10);
    const got = over(g, 'c0', oneSecond(at, 10, 1));
    t.ok(Math.abs(got.packets - rate) <= 1, `${rate}/s: ${got.packets} packets to output 0 in 1 s`);
    rt.stop();
    t.equal(num(g, 'in', 'packets'), num(g, 'c0', 'packets') + num(g, 'c1', 'packets'), 'every packet went to one output');
    t.equal(num(g, 'rs', 'packets'), num(g, 'c0', 'packets'));
    t.equal(num(g, 'rs', 'over'), num(g, 'c1', 'packets'), '`over` counts output 1');
    t.equal(num(g, 'rs', 'over_bytes'), 64 * num(g, 'c1', 'packets'));
  }
  for (const { rate, lengthMax, overhead } of [{ rate: 1e6, lengthMax: 0, overhead: 24 }, { rate: 1e9, lengthMax: 1514, overhead: 0 }]) {
    const { rt, g, at } = virtualEngine(t, () => {
      const bs = BandwidthRatedSplitter({ rate, overhead }, 'bs');
      (lengthMax ? FlowSource({ length: 64, lengthMax, burst: 256 }, 'src') : InfiniteSource({ length: 64, burst: 256 }, 'src')).to(Counter({}, 'in')).to(bs);
      bs.out(0).to(Counter({}, 'c0')).to(Discard());
      bs.out(1).to(Counter({}, 'c1')).to(Discard());
    }, ['c0']);
    at(10);
    const got = over(g, 'c0', oneSecond(at, 10, 1));
    const wire = got.bytes + overhead * got.packets;
    t.ok(Math.abs(wire - rate / 8) <= (lengthMax || 64) + overhead, `${rate / 1e6} Mbit/s: ${wire} bytes to output 0 in 1 s (${pct(wire, rate / 8)})`);
    rt.stop();
    t.equal(num(g, 'in', 'packets'), num(g, 'c0', 'packets') + num(g, 'c1', 'packets'), 'every packet went to one output');
    t.equal(num(g, 'in', 'bytes'), num(g, 'bs', 'bytes') + num(g, 'bs', 'over_bytes'), 'bytes split too');
  }
});

t.test('RatedSplitter: a burst, a rate change, and two workers pushing into one splitter hold the rate together', async (t) => {
  {
    const { rt, g, at } = virtualEngine(t, () => {
      const rs = RatedSplitter({ rate: 1000, burst: 40 }, 'rs');
      InfiniteSource({ length: 64, burst: 256 }, 'src').to(rs);
      rs.out(0).to(Counter({}, 'c0')).to(Discard());
      rs.out(1).to(Discard());
    }, ['c0']);
    t.equal(num(g, 'c0', 'packets'), 40, 'the full bucket lets one burst through');
    t.same(over(g, 'c0', () => at(10)).packets, 10, 'then the rate');
    g.write('rs', 'rate', '3000');
    at(10);
    t.same(over(g, 'c0', () => at(20)).packets, 30, 'a new rate from then on');
    rt.stop();
  }
  {
    const { rt, g, at } = virtualEngine(t, () => {
      const rs = RatedSplitter({ rate: 100_000 }, 'rs');
      InfiniteSource({ length: 64, burst: 256 }, { name: 'a', thread: 0 }).to(rs);
      InfiniteSource({ length: 64, burst: 256 }, { name: 'b', thread: 1 }).to(Counter({}, 'cb')).to(rs.in(0));
      rs.out(0).to(Counter({}, 'c0')).to(Discard());
      rs.out(1).to(Discard());
    }, ['c0'], 2);
    at(10);
    const got = over(g, 'c0', oneSecond(at, 10, 1));
    t.ok(Math.abs(got.packets - 100_000) <= 1, `two workers: ${got.packets} packets to output 0 in 1 s at 100000/s`);
    t.ok(num(g, 'cb', 'packets') > 0, 'both sources pushed');
    rt.stop();
  }
});

t.test('bad configs are compile errors naming the element and the field', async (t) => {
  const bad = (make: () => void) => () => compile(graph('bad', make));
  const pull = (el: ReturnType<typeof Shaper>) => InfiniteSource({}).to(Queue()).to(el).to(Unqueue()).to(Discard());
  const push = (el: ReturnType<typeof RatedSplitter>) => {
    InfiniteSource({}).to(el);
    el.out(0).to(Discard());
    el.out(1).to(Discard());
  };
  t.throws(bad(() => pull(Shaper({ rate: 0 }, 's'))), /element 's' \(Shaper\).*config field 'rate' must be > 0/);
  t.throws(bad(() => pull(Shaper({ rate: -5 }, 's'))), /config field 'rate' must be > 0/);
  t.throws(bad(() => pull(Shaper({ rate: 1000, burst: 0 }, 's'))), /element 's' \(Shaper\).*config field 'burst' must be >= 1/);
  t.throws(bad(() => pull(BandwidthShaper({ rate: 0 }, 's'))), /element 's' \(BandwidthShaper\).*config field 'rate' must be > 0/);
  t.throws(bad(() => pull(BandwidthShaper({ rate: 1e6, burst: -1 }, 's'))), /config field 'burst' must be >= 1/);
  t.throws(bad(() => pull(BandwidthShaper({ rate: 1e6, overhead: -4 }, 's'))), /config field 'overhead' must be >= 0/);
  t.throws(bad(() => pull(BandwidthShaper({ rate: 2e12 }, 's'))), /config field 'rate' must be <= 1000000000000/);
  t.throws(bad(() => InfiniteSource({}).to(Queue()).to(BandwidthRatedUnqueue({ rate: -1 }, 'u')).to(Discard())), /element 'u' \(BandwidthRatedUnqueue\).*config field 'rate' must be > 0/);
  t.throws(bad(() => push(RatedSplitter({ rate: 0 }, 'r'))), /element 'r' \(RatedSplitter\).*config field 'rate' must be > 0/);
  t.throws(bad(() => push(BandwidthRatedSplitter({ rate: 1e6, burst: -10 }, 'r'))), /element 'r' \(BandwidthRatedSplitter\).*config field 'burst' must be >= 1/);
  t.throws(bad(() => InfiniteSource({}).to(RatedSplitter({ rate: 10 }, 'r')).to(Discard())), /output 1 of 'r' \(RatedSplitter\).*not connected|'r' \(RatedSplitter\).*output/);

  // The default burst follows the rate (1 ms of it; at least 32 packets, or plus a full frame).
  const plan = compile(graph('defaults', () => {
    pull(Shaper({ rate: 1000 }, 'a'));
    pull(Shaper({ rate: 1e7 }, 'b'));
    pull(BandwidthShaper({ rate: 1e9, overhead: 24 }, 'c'));
  }));
  const burst = (name: string) => plan.elements.find((e) => e.name === name)!.config.burst;
  t.same([burst('a'), burst('b'), burst('c')], [32, 10000, 125000 + 1518 + 24], 'default bursts in the plan');
});

t.test('on the real clock: a BandwidthShaper holds its rate, and the worker sleeps while it waits for credit', async (t) => {
  // 8 Mbit/s of 1000 B packets: 1000 a second. The burst (100 ms) absorbs a descheduled worker, so
  // the tolerance below holds on a busy machine: never more than the rate (plus one packet), and
  // at least 90% of it.
  const rate = 8e6;
  const rt = new Runtime({ threads: 1, poolBuffers: 8192 });
  t.teardown(() => rt.close());
  const g = rt.load(compile(graph('real', () => {
    InfiniteSource({ length: 1000, limit: 4000, burst: 256 }, 'src').to(Queue({ capacity: 4096 }, 'q')).to(BandwidthShaper({ rate, burst: 100_000 }, 's')).to(Unqueue({ burst: 256 })).to(Counter({}, 'c')).to(Discard());
  })));
  rt.start();
  await new Promise((r) => setTimeout(r, 300)); // the first burst is gone
  const cpu0 = rt.workerStats()[0].cpuNs;
  const outer0 = process.hrtime.bigint();
  const b0 = num(g, 'c', 'bytes');
  const inner0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, 1000));
  const inner1 = process.hrtime.bigint();
  const b1 = num(g, 'c', 'bytes');
  const outer1 = process.hrtime.bigint();
  const cpu1 = rt.workerStats()[0].cpuNs;
  // The counter reads fall between the outer time stamps and outside the inner ones.
  const most = (rate / 8) * (Number(outer1 - outer0) / 1e9);
  const least = (rate / 8) * (Number(inner1 - inner0) / 1e9);
  const seconds = Number(outer1 - outer0) / 1e9;
  const msg = `${b1 - b0} bytes in ${seconds.toFixed(3)} s at ${rate / 8} B/s`;
  t.ok(b1 - b0 <= most + 2000, `${msg}: no more than the rate (plus the packets in flight at each end)`);
  t.ok(b1 - b0 >= least * 0.9, `${msg}: about the rate`);
  t.ok(Number(g.read('q', 'length')) > 0, 'packets were waiting all along');
  const busy = (cpu1 - cpu0) / 1e9 / seconds;
  t.ok(busy < 0.5, `the worker used ${(100 * busy).toFixed(1)}% of a CPU: it sleeps until credit is due instead of spinning`);
  rt.stop();
});
