// The engine core: sources, counters, queues across threads, pool accounting, and
// plans refused by the native side.
import t from 'tap';
import { graph, compile, InfiniteSource, Counter, Discard, Queue, Unqueue, Runtime, runPlan, Tee, Null, RoundRobinSched, MarkIPHeader, DecIPTTL, type Plan } from 'pktgraph';
import { runGraph } from './lib/run.js';

t.test('a limited source drains through Counter into Discard, every packet counted', async (t) => {
  const s = await runGraph(() => {
    InfiniteSource({ length: 100, limit: 10000, burst: 64 }, 'src').to(Counter({}, 'c')).to(Discard({}, 'sink'));
  });
  t.equal(s.elements.src.packets, 10000);
  t.equal(s.elements.c.packets, 10000);
  t.equal(s.elements.c.bytes, 1_000_000);
  t.equal(s.elements.sink.packets, 10000);
  t.equal(s.packets, 10000);
  t.equal(s.pool.available, s.pool.capacity, 'every buffer is back in the pool');
});

t.test('two threads: a Queue crossed by two workers loses nothing', async (t) => {
  const s = await runGraph(
    () => {
      InfiniteSource({ length: 64, limit: 200000 }, { name: 'src', thread: 0 })
        .to(Queue({ capacity: 100000 }, 'q'))
        .to(Unqueue({ burst: 64 }, { name: 'uq', thread: 1 }))
        .to(Counter({}, 'c'))
        .to(Discard({}, 'sink'));
    },
    { threads: 2, poolBuffers: 150000 },
  );
  t.equal(s.elements.c.packets + s.elements.q.drops, 200000, 'every packet either passed or was dropped by the full queue');
  t.equal(s.elements.q.enqueued, s.elements.c.packets);
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('two independent pipelines on two threads: counts add up', async (t) => {
  const s = await runGraph(
    () => {
      InfiniteSource({ limit: 50000 }, 'a').to(Counter({}, 'ca')).to(Discard());
      InfiniteSource({ limit: 70000 }, 'b').to(Counter({}, 'cb')).to(Discard());
    },
    { threads: 2 },
  );
  t.equal(s.elements.ca.packets, 50000);
  t.equal(s.elements.cb.packets, 70000);
  t.equal(s.packets, 120000);
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('pool accounting: packets left in a queue return to the pool when the graph is removed', async (t) => {
  const plan = compile(
    graph('held', () => {
      InfiniteSource({ limit: 500 }, 'src').to(Queue({ capacity: 1000 }, 'q')).to(Unqueue({ active: false }, 'uq')).to(Discard());
    }),
  );
  const rt = new Runtime({ threads: 1, poolBuffers: 4096 });
  try {
    const g = rt.load(plan);
    rt.start();
    for (let i = 0; i < 400 && g.read('q', 'length') !== '500'; i++) await new Promise((r) => setTimeout(r, 5));
    t.equal(g.read('q', 'length'), '500', 'the queue holds every packet');
    rt.stop();
    t.equal(rt.poolStats().available, 4096 - 500);
    g.remove();
    t.equal(rt.poolStats().available, 4096, 'all buffers back after removal');
  } finally {
    rt.close();
  }
});

t.test('the native side refuses bad plans with a clear error', async (t) => {
  const good = compile(graph('g', () => InfiniteSource({ limit: 1 }, 'src').to(Discard({}, 'd'))));
  const rt = new Runtime({ threads: 1, poolBuffers: 256 });
  try {
    const load = (plan: unknown) => () => rt.engine.addGraph(typeof plan === 'string' ? plan : JSON.stringify(plan));
    t.throws(load('{not json'), /plan is not valid JSON/);
    t.throws(load({ ...good, version: 99 }), /version 99 is not supported/);
    t.throws(load({ ...good, format: 'x' }), /'format' must be "pktgraph-plan"/);
    t.throws(load({ ...good, elements: [{ ...good.elements[0], class: 'NoSuchThing' }, good.elements[1]] }), /no element class 'NoSuchThing'/);
    t.throws(load({ ...good, connections: [] }), /element 'src' \(InfiniteSource\): output 0 is not connected/);
    t.throws(load({ ...good, elements: [{ ...good.elements[0], config: { ...good.elements[0].config, burst: 9999 } }, good.elements[1]] }), /element 'src' \(InfiniteSource\): config field 'burst' must be from 1 to 256, got 9999/);
    t.throws(load({ ...good, elements: [{ ...good.elements[0], config: { ...good.elements[0].config, burst: undefined } }, good.elements[1]] }), /config field 'burst' is missing/);
    t.throws(load({ ...good, elements: [good.elements[0], { ...good.elements[1], inputs: ['pull'] }] }), /\[0\]d is pull|is push but/);
    t.throws(load({ ...good, elements: [good.elements[0], { ...good.elements[1], thread: 5 }] }), /asks for worker thread 5 but the engine has 1/);
    t.throws(load({ ...good, connections: [...good.connections, { from: 'src', fromPort: 0, to: 'd', toPort: 0 }] }), /connected twice/);
    t.throws(load({ ...good, connections: [{ from: 'src', fromPort: 3, to: 'd', toPort: 0 }] }), /has no output 3/);
    // And the engine is still healthy afterwards.
    const g = rt.load(good);
    rt.start();
    for (let i = 0; i < 200 && !g.drained(); i++) await new Promise((r) => setTimeout(r, 5));
    t.equal(g.counter('d', 'packets'), 1n);
  } finally {
    rt.close();
  }
});

t.test('a run with a duration stops on time and reports rates', async (t) => {
  const plan = compile(graph('timed', () => InfiniteSource({}, 'src').to(Discard({}, 'd'))));
  const s = await runPlan(plan, { threads: 1, duration: 0.3, poolBuffers: 4096 });
  t.equal(s.stoppedBy, 'duration');
  t.ok(s.seconds >= 0.3 && s.seconds < 2, `ran ${s.seconds} s`);
  t.ok(s.packets > 1000, `moved ${s.packets} packets`);
  t.ok(s.mpps > 0);
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('handlers are read and written on a running engine', async (t) => {
  const plan = compile(
    graph('h', () => {
      InfiniteSource({ length: 60, rate: 200000 }, 'src').to(Counter({}, 'c')).to(Queue({ capacity: 100 }, 'q')).to(Unqueue({}, 'u')).to(Discard({}, 'd'));
    }),
  );
  const rt = new Runtime({ threads: 2, poolBuffers: 4096 });
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
  try {
    const g = rt.load(plan);
    rt.start();
    await wait(100);
    // Generic handlers every element has.
    t.equal(g.read('q', 'class'), 'Queue');
    t.same(JSON.parse(g.read('q', 'config')), { capacity: 100 });
    t.same(JSON.parse(g.read('q', 'ports')), { inputs: ['push'], outputs: ['pull'] });
    t.match(g.read('q', 'handlers'), /capacity\trw/);
    t.ok(BigInt(JSON.parse(g.read('c', 'counters')).packets) > 0n);
    // Native handlers: a structural write (capacity grows the ring with the graph paused).
    g.write('q', 'capacity', '5000');
    t.equal(g.read('q', 'capacity'), '5000');
    t.throws(() => g.write('q', 'capacity', 'lots'), /capacity must be a whole number, got 'lots'/);
    t.throws(() => g.write('q', 'length', '3'), /read-only/);
    t.throws(() => g.read('q', 'nonsense'), /element 'q' \(Queue\) has no native handler 'nonsense'/);
    t.throws(() => g.read('nobody', 'class'), /graph 'h' has no element named 'nobody'/);
    // Rate and activity of the source.
    t.equal(g.read('src', 'rate'), '200000');
    g.write('src', 'active', 'false');
    await wait(50);
    const before = g.counter('src', 'packets');
    await wait(100);
    t.equal(g.counter('src', 'packets'), before, 'an inactive source emits nothing');
    g.write('src', 'active', 'true');
    await wait(100);
    t.ok(g.counter('src', 'packets') > before, 'and resumes when reactivated');
    // Counter reset and the derived rate handler.
    // (The rate is checked against the counts around the samples, not the source's 200000/s,
    // which a worker descheduled on a busy machine misses: see test/pacing.test.ts.)
    const c0 = g.counter('c', 'packets');
    const t0 = process.hrtime.bigint();
    g.sample();
    await wait(200);
    g.sample();
    const c1 = g.counter('c', 'packets');
    const counted = Number(c1 - c0) / (Number(process.hrtime.bigint() - t0) / 1e9);
    const rate = Number(g.read('c', 'rate'));
    t.ok(rate > 0 && rate <= 300000, `Counter rate ${rate} at most the source's 200000/s (and more than 0)`);
    t.ok(Math.abs(rate - counted) <= counted * 0.15 + 500, `Counter rate ${rate.toFixed(0)} agrees with the counts around the samples (${counted.toFixed(0)}/s)`);
    g.write('c', 'reset', '');
    t.ok(g.counter('c', 'packets') < 20000n, 'reset zeroes the count');
  } finally {
    rt.close();
  }
});

t.test('the native side refuses push and pull cycles in hand-made plans', async (t) => {
  const rt = new Runtime({ threads: 1, poolBuffers: 256 });
  try {
    const load = (plan: Plan) => () => rt.engine.addGraph(JSON.stringify(plan));
    // Compiled without a cycle (t[0] -> n -> end), then n rewired by hand back to c.
    const open = compile(graph('cyc', () => {
      const c = Counter({}, 'c');
      const tee = Tee({}, 't');
      InfiniteSource({ limit: 1 }, 'src').to(c).to(tee);
      tee.out(0).to(Null({}, 'n')).to(Discard({}, 'end'));
      tee.out(1).to(Discard({}, 'd'));
    }));
    const cyclic: Plan = {
      ...open,
      elements: open.elements.filter((e) => e.name !== 'end'),
      connections: open.connections.map((c) => (c.to === 'end' ? { ...c, to: 'c', toPort: 0 } : c)),
    };
    t.throws(load(cyclic), /^plan: push cycle: 'c' \(Counter\) -> 't' \(Tee\) -> 'n' \(Null\) -> back to 'c': .*put a Queue in the cycle/);
    // The engine takes which classes end push cycles from the plan's class facts. (Null does
    // not really end it, and the Tee doubles every packet: the source stays inactive.)
    const ends: Plan = {
      ...cyclic,
      name: 'cyc-ends',
      classes: { ...cyclic.classes, Null: { ...cyclic.classes.Null, endsPushCycles: true, hopLimited: true } },
      elements: cyclic.elements.map((e) => (e.name === 'src' ? { ...e, config: { ...e.config, active: false } } : e)),
    };
    t.throws(load(ends), /^plan: push cycle through a packet-copying element: 't' \(Tee\) -> 'n' \(Null\) -> 'c' \(Counter\) -> back to 't': 't' \(Tee\) copies packets, so each pass round the cycle multiplies them, and 'n' \(Null\) ends the cycle only at the hop limit .*or take 't' out of it$/,
      'with Null said to end push cycles by a hop count, the Tee on the cycle is refused');
    const endsForGood: Plan = { ...ends, classes: { ...ends.classes, Null: { ...ends.classes.Null, hopLimited: undefined } } };
    t.doesNotThrow(load(endsForGood), 'accepted when Null is said to end push cycles outright');
    const notCopying: Plan = { ...ends, name: 'cyc-ends2', classes: { ...ends.classes, Tee: { ...ends.classes.Tee, copiesPackets: undefined } } };
    t.doesNotThrow(load(notCopying), 'and when the Tee is not said to copy packets');

    // A pull cycle: the scheduler's input and output both on one Null.
    const chain = compile(graph('pc', () => {
      InfiniteSource({ limit: 1 }, 'src').to(Queue({}, 'q')).to(RoundRobinSched({}, 'rr')).to(Null({}, 'n')).to(Unqueue({}, 'u')).to(Discard({}, 'd'));
    }));
    const pullCycle: Plan = {
      ...chain,
      elements: chain.elements.filter((e) => e.name === 'rr' || e.name === 'n'),
      connections: [
        { from: 'rr', fromPort: 0, to: 'n', toPort: 0 },
        { from: 'n', fromPort: 0, to: 'rr', toPort: 0 },
      ],
    };
    t.throws(load(pullCycle), /^plan: pull cycle: 'rr' \(RoundRobinSched\) pulls from 'n' \(Null\), which pulls from 'rr' again: .*Unqueue and a Queue/);

    // The engine is unharmed: the plan without the cycle runs.
    const g = rt.load(open);
    rt.start();
    for (let i = 0; i < 200 && !g.drained(); i++) await new Promise((r) => setTimeout(r, 5));
    t.equal(g.counter('end', 'packets'), 1n);
  } finally {
    rt.close();
  }
});

// Last in this file: the worker it wedges spins until the process exits.
t.test('a worker that never returns: stop() gives up in time, names the element, and nothing is freed under it', async (t) => {
  // A Tee in a loop through DecIPTTL: every pass doubles the packets, so the source's task runs
  // for 2^255 passes. The compiler and the engine refuse it (the Tee copies packets); a
  // hand-made plan that hides the Tee's copiesPackets fact is the way left to wedge a worker.
  const built = (back: boolean) => graph('storm', () => {
    const c = Counter({}, 'c');
    const tee = Tee({}, 't');
    InfiniteSource({ limit: 1, data: '45000014 00000000 40110000 c6120001 c6120002' }, 'src').to(MarkIPHeader({ offset: 0 }, 'mark')).to(c).to(tee);
    for (const k of [0, 1]) {
      const ttl = DecIPTTL({}, `ttl${k}`);
      tee.out(k).to(ttl).to(back ? c : Discard({}, `back${k}`));
      ttl.out(1).to(Discard({}, `expired${k}`));
    }
  });
  t.throws(() => compile(built(true)), /push cycle through a packet-copying element: 't' \(Tee\)/);
  const open = compile(built(false));
  const looped: Plan = {
    ...open,
    elements: open.elements.filter((e) => !e.name.startsWith('back')),
    connections: open.connections.map((c) => (c.to.startsWith('back') ? { ...c, to: 'c', toPort: 0 } : c)),
  };
  const storm: Plan = { ...looped, classes: { ...looped.classes, Tee: { ...looped.classes.Tee, copiesPackets: undefined } } };
  const rt = new Runtime({ threads: 1, poolBuffers: 1024 });
  t.throws(() => rt.engine.addGraph(JSON.stringify(looped)), /^plan: push cycle through a packet-copying element: 't' \(Tee\) -> 'ttl0' \(DecIPTTL\) -> 'c' \(Counter\) -> back to 't'/, 'the engine refuses it too');
  const g = rt.load(storm);
  rt.start();
  await new Promise((r) => setTimeout(r, 200));
  const before = g.counter('c', 'packets');
  // A control operation that needs every worker to finish a round gives up too.
  let started = Date.now();
  t.throws(() => g.pause(), /^a worker did not finish its round within \d+ ms: worker 0 is still inside the task of element 'src' \(InfiniteSource\).*the process must exit/);
  t.ok(Date.now() - started < 1000, `pause() gave up after ${Date.now() - started} ms`);
  started = Date.now();
  t.throws(() => rt.stop(), /^the engine did not stop within \d+ ms: worker 0 is still inside the task of element 'src' \(InfiniteSource\)/);
  t.ok(Date.now() - started < 1000, `stop() gave up after ${Date.now() - started} ms`);
  t.ok(g.counter('c', 'packets') > before, 'the loop was still going');
  t.throws(() => rt.start(), /cannot start again/);
  rt.close(); // keeps the graph and the pool the worker still uses: no crash
  // Other engines are unaffected.
  const other = await runPlan(compile(graph('after', () => InfiniteSource({ limit: 100 }, 'src').to(Discard({}, 'd')))), { threads: 1, poolBuffers: 256 });
  t.equal(other.elements.d.packets, 100);
});
