// CoDel (RFC 8289) on the virtual clock: a source paced at twice the rate a RatedUnqueue pulls
// (one packet a millisecond) builds a standing queue; the clock moves a millisecond at a time, so
// every pull's time is known, and the times CoDel drops (or marks) are checked exactly against the
// RFC's control law: dropping starts an interval after sojourn times reached the target, then the
// k-th drop is the first dequeue at or after drop_next, which advances by interval / sqrt(k).
// Then: leaving the dropping state when the queue drains, resuming with the count carried over,
// drop-tail at the capacity, bad configs.
import t, { type Test } from 'tap';
import { compile, graph, Runtime, InfiniteSource, MarkIPHeader, CoDel, RatedUnqueue, Counter, Discard, type RunningGraph } from 'pktgraph';
import { udp4Frame } from './lib/packets.js';

const T0 = 1_000_000_000; // the virtual clock's start, ns
const MS = 1_000_000;
const INTERVAL = 100 * MS;

const num = (g: RunningGraph, el: string, c: string) => Number(g.counter(el, c));

/** Source at 2000/s into CoDel, pulled at 1000/s, on a virtual clock; `at(ms)` moves it. */
function standingQueue(t: Test, codel: Parameters<typeof CoDel>[0], ecn = false) {
  const rt = new Runtime({ threads: 1, poolBuffers: 8192, virtualClockNs: T0 });
  t.teardown(() => rt.close());
  const frame = udp4Frame({ payload: Buffer.alloc(1000 - 42) });
  frame[15] = ecn ? 0x02 : 0x00; // ECT(0) or Not-ECT (the checksum is not checked here)
  const g = rt.load(
    compile(
      graph('codel', () => {
        InfiniteSource({ data: frame.toString('hex'), length: frame.length, rate: 2000, burst: 32 }, 'src')
          .to(MarkIPHeader({ offset: 14 }))
          .to(CoDel(codel, 'codel'))
          .to(RatedUnqueue({ rate: 1000, burst: 1 }, 'link'))
          .to(Counter({}, 'out'))
          .to(Discard());
      }),
    ),
  );
  rt.start();
  rt.setVirtualTime(T0);
  let now = 0;
  const at = (ms: number) => {
    now = ms;
    rt.setVirtualTime(T0 + ms * MS);
  };
  return { rt, g, at, now: () => now };
}

/** Steps the clock 1 ms at a time to `until` ms, returning the times (ns) `counter` went up, once per unit. */
function eventTimes(g: RunningGraph, at: (ms: number) => void, from: number, until: number, counter: string): number[] {
  const times: number[] = [];
  let seen = num(g, 'codel', counter);
  for (let ms = from; ms <= until; ms++) {
    at(ms);
    const c = num(g, 'codel', counter);
    for (; seen < c; seen++) times.push(T0 + ms * MS);
  }
  return times;
}

/** Checks drop (or mark) times against the control law; returns the count reached. */
function checkControlLaw(t: Test, times: number[], what: string) {
  t.ok(times.length > 20, `${times.length} ${what} in the standing queue`);
  // After the first, drop_next = d1 + interval / sqrt(1); the k-th comes at the first dequeue (a
  // whole millisecond) at or after it, and drop_next moves on by interval / sqrt(k).
  let next = times[0] + INTERVAL;
  const late: string[] = [];
  for (let k = 2; k <= times.length; k++) {
    const want = T0 + Math.ceil((next - T0) / MS) * MS;
    if (times[k - 1] !== want) late.push(`#${k} at ${(times[k - 1] - T0) / MS} ms, the law says ${(want - T0) / MS} ms`);
    next += Math.floor(INTERVAL / Math.sqrt(k));
  }
  t.same(late, [], `all ${what} came when the control law interval/sqrt(count) said (the ${times.length}th at ${(times[times.length - 1] - T0) / MS} ms)`);
}

t.test('drops under a standing queue follow the RFC 8289 control law', async (t) => {
  const { rt, g, at } = standingQueue(t, { capacity: 10000 });
  const times = eventTimes(g, at, 1, 3000, 'drops_delay');
  // The queue grows one packet a millisecond, so the head packet's sojourn is about half the
  // time elapsed: it reaches the 5 ms target at about 10 ms, and dropping starts one interval
  // (100 ms) later.
  const first = (times[0] - T0) / MS;
  t.ok(first >= 105 && first <= 115, `the first drop at ${first} ms: an interval after sojourn times reached the target`);
  checkControlLaw(t, times, 'drops');
  t.equal(g.read('codel', 'dropping'), 'true', 'still dropping');
  t.equal(Number(g.read('codel', 'count')), times.length, 'count is the drops since dropping began');
  t.equal(num(g, 'codel', 'drops_full'), 0, 'the queue never filled');
  t.equal(num(g, 'codel', 'marks'), 0, 'no marks without ecn');
  t.equal(num(g, 'out', 'packets'), 3001, 'the link still sent one packet a millisecond (and one at the start)');
  rt.stop();
});

t.test('with ecn, ECN-capable packets are marked on the same schedule instead of dropped', async (t) => {
  const { rt, g, at } = standingQueue(t, { capacity: 10000, ecn: true }, true);
  const times = eventTimes(g, at, 1, 3000, 'marks');
  checkControlLaw(t, times, 'marks');
  t.equal(num(g, 'codel', 'drops_delay'), 0, 'nothing dropped');
  t.equal(num(g, 'out', 'packets'), 3001, 'every marked packet delivered: one a millisecond, and one at the start');
  rt.stop();
});

t.test('dropping ends when the queue drains, and resumes with the count carried over', async (t) => {
  const { rt, g, at } = standingQueue(t, { capacity: 10000 });
  const first = eventTimes(g, at, 1, 1500, 'drops_delay');
  t.equal(Number(g.read('codel', 'count')), first.length);
  // Stop the source and drain fast: the queue empties and dropping ends.
  g.write('src', 'active', 'false');
  g.write('link', 'rate', '100000');
  let ms = 1500;
  while (Number(g.read('codel', 'length')) > 0) at(++ms);
  at(++ms);
  t.equal(g.read('codel', 'dropping'), 'false', 'dropping ended once the queue drained');
  const countThen = Number(g.read('codel', 'count'));
  // A standing queue again soon after (well within 16 intervals): dropping resumes at the drop
  // rate reached before, count = count - lastcount (lastcount was 1, where the episode began).
  g.write('link', 'rate', '1000');
  g.write('src', 'active', 'true');
  const drops = num(g, 'codel', 'drops_delay');
  const restart = ms;
  while (num(g, 'codel', 'drops_delay') === drops && ms < restart + 400) at(++ms);
  t.ok(ms - restart >= 105 && ms - restart <= 115, `dropping resumed ${ms - restart} ms after the restart`);
  t.equal(Number(g.read('codel', 'count')), countThen - 1, `the count restarted from ${countThen} - 1, not from 1`);
  rt.stop();
});

t.test('drop-tail at the capacity; bad configs name the field', async (t) => {
  const { rt, g, at } = standingQueue(t, { capacity: 50, interval: 1, target: 0.5 });
  for (let ms = 1; ms <= 200; ms++) at(ms);
  const length = Number(g.read('codel', 'length'));
  t.ok(length >= 49 && length <= 50, `the queue holds its capacity (${length}: the link may just have taken one)`);
  t.ok(num(g, 'codel', 'drops_full') > 100, `${num(g, 'codel', 'drops_full')} dropped at the tail`);
  t.equal(num(g, 'codel', 'drops_delay'), 0, 'sojourn (50 ms) below the target: nothing dropped at the head');
  t.throws(() => g.write('codel', 'target', '2'), /target: must be less than interval/);
  g.write('codel', 'target', '0.01');
  t.equal(g.read('codel', 'target'), '0.01');
  rt.stop();

  const bad = (cfg: object) => () => compile(graph('codel_bad', () => InfiniteSource().to(CoDel(cfg as never, 'q')).to(RatedUnqueue({ rate: 1 })).to(Discard())));
  t.throws(bad({ target: 0.1, interval: 0.1 }), /'q' \(CoDel\).*config field 'target' \(0\.1 s\) must be less than 'interval' \(0\.1 s\)/);
  t.throws(bad({ target: 0 }), /config field 'target'/);
  t.throws(bad({ capacity: 0 }), /config field 'capacity'/);
});
