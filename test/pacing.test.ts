// Pacing: InfiniteSource, FlowSource and RatedUnqueue hold their rate with a token bucket of
// `burst` packets (native/token_bucket.h). On an engine with a virtual clock (moved only by the
// test, each move returning once the worker ran at the new time; a handler written inside a step,
// so that what the worker does after it counts in that step) the counts are exact: a steady
// rate, a late round caught up within the burst, a long stall reported as `rate_shortfall`, a
// rate change without saved-up credit, and for RatedUnqueue an empty input that is no shortfall.
// Then, on the real clock, packets + rate_shortfall match rate x time whatever the machine's load.
import t, { type Test } from 'tap';
import { compile, graph, Runtime, InfiniteSource, FlowSource, Queue, RatedUnqueue, Counter, Discard, type RunningGraph } from 'pktgraph';

const T0 = 1_000_000_000; // the virtual clock's start, ns
const MS = 1_000_000;

/** An engine on a virtual clock running `build`'s graph; `at(ms)` moves the clock to T0 + ms. */
function virtualEngine(t: Test, build: () => void) {
  const rt = new Runtime({ threads: 1, poolBuffers: 4096, virtualClockNs: T0 });
  t.teardown(() => rt.close());
  const g = rt.load(compile(graph('pacing', build)));
  rt.start();
  rt.setVirtualTime(T0); // the first rounds ran at T0
  const at = (ms: number) => rt.setVirtualTime(T0 + Math.round(ms * MS));
  return { rt, g, at };
}

const num = (g: RunningGraph, el: string, c: string) => Number(g.counter(el, c));

// Runs `steps` and returns the packets counted at `counter` during each.
function deltas(g: RunningGraph, counter: string, steps: (() => void)[]): number[] {
  return steps.map((step) => {
    const before = num(g, counter, 'packets');
    step();
    return num(g, counter, 'packets') - before;
  });
}

for (const source of ['InfiniteSource', 'FlowSource'] as const) {
  t.test(`${source}: steady rate, a late round caught up, a long stall counted, a rate change`, async (t) => {
    const { rt, g, at } = virtualEngine(t, () => {
      const src = source === 'InfiniteSource' ? InfiniteSource({ length: 64, rate: 1000, burst: 32 }, 'src') : FlowSource({ rate: 1000, burst: 32 }, 'src');
      src.to(Counter({}, 'c')).to(Discard());
    });
    t.equal(num(g, 'c', 'packets'), 1, 'one packet at the start (one packet of credit)');

    // Steady: 10 ms steps at 1000/s, 10 packets each, for one virtual second.
    const steady = deltas(g, 'c', Array.from({ length: 100 }, (_, i) => () => at(10 * (i + 1))));
    t.same(new Set(steady), new Set([10]), 'every 10 ms step sent exactly 10 packets');
    t.equal(num(g, 'c', 'packets'), 1001, '1001 packets after one second');
    t.equal(num(g, 'src', 'rate_shortfall'), 0, 'no shortfall');

    // A round 25 ms late: 25 packets of credit, within the burst of 32, all sent in one round.
    t.same(deltas(g, 'c', [() => at(1025)]), [25], 'a round 25 ms late sent the 25 packets it owed');
    t.equal(num(g, 'src', 'rate_shortfall'), 0, '... and lost nothing');

    // A stall of 100 ms: 100 packets owed, a burst (32) sent, 68 counted as shortfall.
    t.same(deltas(g, 'c', [() => at(1125)]), [32], 'after a 100 ms stall one burst went out');
    t.equal(num(g, 'src', 'rate_shortfall'), 68, 'the other 68 packets are the shortfall');
    t.equal(num(g, 'c', 'packets') + num(g, 'src', 'rate_shortfall'), 1 + 1125, 'packets + shortfall = 1 + rate x time');

    // Inactive for a second, then a new rate: no saved-up credit, one packet to start.
    g.write('src', 'active', 'false');
    at(2125);
    t.equal(num(g, 'src', 'rate_shortfall'), 68, 'an inactive source owes nothing');
    g.write('src', 'rate', '4000');
    t.same(deltas(g, 'c', [() => (g.write('src', 'active', 'true'), at(2125)), () => at(2130), () => at(2135)]), [1, 20, 20], 'made active at 4000/s: one packet, then 20 per 5 ms');

    // A rate written while running applies from then on: 0.1 ms at 4000/s is 0.4 of a packet;
    // at 200000/s each 0.1 ms is 20 packets, not 500 (what 0.1 ms of time would be worth if
    // credit were kept as time).
    t.same(deltas(g, 'c', [() => at(2135.1)]), [0], '0.1 ms at 4000/s: less than a packet, nothing sent');
    g.write('src', 'rate', '200000');
    t.same(deltas(g, 'c', [() => at(2135.1), () => at(2135.2), () => at(2135.3)]), [0, 20, 20], 'at 200000/s: 20 packets per 0.1 ms from the change on');
    t.equal(num(g, 'src', 'rate_shortfall'), 68, 'no shortfall from the changes');
    t.equal(g.read('src', 'rate'), '200000');
    rt.stop();
  });
}

t.test('InfiniteSource: a limit stops a paced source; reset starts it with one packet of credit', async (t) => {
  const { rt, g, at } = virtualEngine(t, () => {
    InfiniteSource({ length: 64, rate: 1000, burst: 32, limit: 30 }, 'src').to(Counter({}, 'c')).to(Discard());
  });
  at(20);
  at(40);
  t.equal(num(g, 'c', 'packets'), 30, 'stopped at the limit');
  at(1040);
  t.equal(num(g, 'src', 'rate_shortfall'), 0, 'a finished source owes nothing');
  t.same(deltas(g, 'c', [() => (g.write('src', 'reset', ''), at(1040)), () => at(1050)]), [1, 10], 'after reset: one packet, then the rate');
  rt.stop();
});

t.test('RatedUnqueue: steady, late, a long stall with packets waiting, an empty input, a rate change', async (t) => {
  const { rt, g, at } = virtualEngine(t, () => {
    InfiniteSource({ length: 64, burst: 32, active: false }, 'src').to(Queue({ capacity: 300 }, 'q')).to(RatedUnqueue({ rate: 1000, burst: 16 }, 'ru')).to(Counter({}, 'c')).to(Discard());
  });
  const queued = () => Number(g.read('q', 'length'));
  // An empty input for a second: the bucket stays full (16), and that is no shortfall.
  at(1000);
  t.equal(num(g, 'c', 'packets'), 0, 'nothing to move');
  t.equal(num(g, 'ru', 'rate_shortfall'), 0, 'an empty input is no shortfall');

  // Packets arrive (the source, unpaced, fills the queue): the full bucket passes 16.
  t.same(deltas(g, 'c', [() => (g.write('src', 'active', 'true'), at(1000))]), [16], 'the full bucket passed one burst');
  g.write('src', 'active', 'false');
  at(1000);
  t.ok(queued() > 200, `packets wait in the queue (${queued()})`);

  const steady = deltas(g, 'c', Array.from({ length: 5 }, (_, i) => () => at(1000 + 10 * (i + 1))));
  t.same(steady, [10, 10, 10, 10, 10], 'every 10 ms step moved exactly 10 packets');
  t.same(deltas(g, 'c', [() => at(1062)]), [12], 'a round 12 ms late moved the 12 it owed');
  t.equal(num(g, 'ru', 'rate_shortfall'), 0, 'no shortfall so far');
  t.same(deltas(g, 'c', [() => at(1162)]), [16], 'after a 100 ms stall with packets waiting, one burst moved');
  t.equal(num(g, 'ru', 'rate_shortfall'), 84, 'the other 84 packets are the shortfall');

  // Drain the queue within the burst, then leave the input empty: credit caps, no shortfall.
  let now = 1162;
  for (let i = 0; i < 100 && queued() > 0; i++) at((now += 16));
  t.equal(queued(), 0, 'the queue drained');
  at((now += 500));
  t.equal(num(g, 'ru', 'rate_shortfall'), 84, 'credit capped while the input was empty: no shortfall');

  // A rate change with a full bucket: at most one packet of the old credit is kept.
  g.write('ru', 'rate', '8000');
  at(now);
  t.same(deltas(g, 'c', [() => (g.write('src', 'active', 'true'), at(now)), () => at((now += 1)), () => at((now += 1))]), [1, 8, 8], 'at 8000/s: one packet of the old credit (not 16), then 8 per ms');
  t.equal(num(g, 'ru', 'rate_shortfall'), 84, 'no shortfall from the change');
  rt.stop();
});

t.test('RatedUnqueue: a rate of 0 holds every packet, even with a full bucket', async (t) => {
  const { rt, g, at } = virtualEngine(t, () => {
    InfiniteSource({ length: 64, burst: 32 }, 'src').to(Queue({ capacity: 300 }, 'q')).to(RatedUnqueue({ rate: 0, burst: 16 }, 'ru')).to(Counter({}, 'c')).to(Discard());
  });
  at(1000);
  t.equal(num(g, 'c', 'packets'), 0, 'nothing passed in a second at rate 0');
  t.equal(num(g, 'ru', 'rate_shortfall'), 0, 'and nothing is owed');
  t.same(deltas(g, 'c', [() => (g.write('ru', 'rate', '1000'), at(1000)), () => at(1010)]), [1, 10], 'raised to 1000/s: one packet of the full bucket, then 10 per 10 ms');
  rt.stop();
});

t.test('on the real clock: packets + rate_shortfall = rate x time, and never more', async (t) => {
  const rate = 5000;
  const burst = 32;
  const plan = compile(
    graph('real', () => {
      InfiniteSource({ length: 64, rate, burst }, 'src').to(Counter({}, 'c')).to(Discard());
      InfiniteSource({ length: 64, burst: 32 }, 'flood').to(Queue({ capacity: 512 }, 'q')).to(RatedUnqueue({ rate, burst }, 'ru')).to(Counter({}, 'c2')).to(Discard());
    }),
  );
  const rt = new Runtime({ threads: 1, poolBuffers: 4096 });
  t.teardown(() => rt.close());
  const g = rt.load(plan);
  const t0 = process.hrtime.bigint();
  rt.start();
  await new Promise((r) => setTimeout(r, 2000));
  rt.stop();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const owed = rate * seconds;
  for (const [el, counter, start] of [['src', 'c', 1], ['ru', 'c2', burst]] as const) {
    const sent = num(g, counter, 'packets');
    const late = num(g, el, 'rate_shortfall');
    const msg = `${el}: ${sent} sent (${(sent / seconds).toFixed(0)}/s) + ${late} shortfall in ${seconds.toFixed(3)} s at ${rate}/s`;
    // Credit accrues only while the engine runs, so the sum never exceeds rate x time plus the
    // starting credit; it falls short only by the credit left in the bucket (< a burst) and the
    // time between the start or stop and the worker's first or last round.
    t.ok(sent + late <= owed + start, `${msg}: no more than rate x time`);
    t.ok(sent + late >= owed * 0.9 - burst, `${msg}: about rate x time`);
  }
});
