// Hot reconfiguration (RunningGraph.replace, Engine::replace_graph): a running graph replaced by
// a new plan between batches, elements with the same name and class taking over the old ones'
// counters and state. Checked with real packets: steady traffic from a paced generator through
// Queue -> Unqueue on two workers, replaced twice (an extra Counter, changed configs), loses no
// packet (source count = sink count + counted drops, exactly, once drained) and its counters go
// on; queued packets and a finished source's position carry over; a FIB route added by a handler
// and ARP entries survive; and plans the engine refuses (a route to an output the new lookup
// lacks, a device it cannot open, a name taken) leave the old graph running untouched, its state
// compared before and after. Counts are exact (no clock is involved in any check).
import t from 'tap';
import { compile, graph, Runtime, InfiniteSource, Counter, Queue, Unqueue, RatedUnqueue, Discard, IPLookup, ARPQuerier, Idle, FromDevice, CoDel, DRRSched, WFQSched, FQCoDel, IPReassembler, MarkIPHeader, BandwidthShaper, HTBSched, Paint, type ElementNode, type RunningGraph } from 'pktgraph';
import { ether, ipv4, udp } from './lib/packets.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const n = (g: RunningGraph, el: string, c: string) => Number(g.counter(el, c));

async function until(what: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (what()) return true;
    await sleep(5);
  }
  return what();
}

// A UDP datagram to `dst` in an Ethernet frame, as InfiniteSource's hex data.
const frameTo = (dst: string) => ether({ payload: ipv4({ src: '198.18.1.1', dst, payload: udp({ payload: Buffer.alloc(18) }) }) }).toString('hex');

// The pipeline under steady traffic: src (worker 0) -> in -> q -> pump (worker 1) -> out -> [extra] -> sink.
function pipeline(v: { capacity: number; burst: number; extra: boolean; limit: number; rate: number }) {
  return compile(
    graph('hot', () => {
      const out = InfiniteSource({ length: 64, rate: v.rate, limit: v.limit, burst: 32 }, { name: 'src', thread: 0 })
        .to(Counter({}, 'in'))
        .to(Queue({ capacity: v.capacity }, 'q'))
        .to(Unqueue({ burst: v.burst }, { name: 'pump', thread: 1 }))
        .to(Counter({}, 'out'));
      (v.extra ? out.to(Counter({}, 'extra')) : out).to(Discard({}, 'sink'));
    }),
  );
}

t.test('steady traffic through Queue -> Unqueue on two workers, replaced twice: no packet lost, counters go on', async (t) => {
  const rt = new Runtime({ threads: 2, poolBuffers: 32768 });
  t.teardown(() => rt.close());
  const limit = 400_000;
  const A = pipeline({ capacity: 8192, burst: 32, extra: false, limit, rate: 250_000 });
  const B = pipeline({ capacity: 16384, burst: 64, extra: true, limit, rate: 250_000 });
  let g = rt.load(A);
  rt.start();
  t.ok(await until(() => n(g, 'sink', 'packets') > 50_000, 10_000), 'traffic flows');

  const before = n(g, 'in', 'packets');
  const old = g;
  g = g.replace(B);
  t.not(g, old, 'replace returns a new RunningGraph');
  t.throws(() => old.read('q', 'length'), /has been removed/, 'the old one is gone');
  t.equal(g.swap?.taken, 6, 'the six elements the plans share took over (extra is new)');
  t.same(g.swap?.dropped, [], 'no packet was left behind in the old graph');
  t.ok(n(g, 'in', 'packets') >= before, `the counter went on from ${before} (now ${n(g, 'in', 'packets')}), not from zero`);
  t.equal(JSON.parse(g.read('q', 'config')).capacity, 16384, 'the new Queue has the new capacity');
  t.equal(rt.engine.handlers(g.id, 'q').length > 0, true, 'the new graph answers handlers');
  t.ok(await until(() => n(g, 'extra', 'packets') > 10_000, 10_000), 'packets flow through the new extra Counter');

  g = g.replace(A); // and back: extra goes, the rest carries again
  t.equal(g.swap?.taken, 6, 'six took over again');
  t.same(g.swap?.dropped, [], 'none left behind again');
  t.ok(await until(() => g.drained(), 20_000), 'the run drains');

  const src = n(g, 'src', 'packets');
  const drops = n(g, 'q', 'drops');
  t.equal(src, limit, `the source sent its limit of ${limit} once, across both replacements (its position carried)`);
  t.equal(n(g, 'in', 'packets'), src, 'in counted every source packet');
  t.equal(n(g, 'sink', 'packets') + drops, src, `sink (${n(g, 'sink', 'packets')}) + queue drops (${drops}) = source (${src}), exactly`);
  t.equal(n(g, 'out', 'packets'), n(g, 'sink', 'packets'), 'out and sink agree');
  t.equal(n(g, 'q', 'enqueued'), src - drops, 'every packet not dropped was enqueued');
  t.equal(Number(g.read('q', 'length')), 0, 'the queue is empty');
  t.equal(rt.engine.graphState(g.id).held, 0, 'nothing held');
});

// Classes that hold packets and carry them: each between a paced source and a pump slower than
// the source (so packets are always held when the swap comes), under steady traffic, replaced
// three times; every packet is delivered or counted as a drop.
const holders: [string, (extra: boolean) => ElementNode][] = [
  ['CoDel', (extra) => InfiniteSource({ length: 64, rate: 100_000, limit: 60_000 }, { name: 'src', thread: 0 }).to(CoDel({ capacity: extra ? 4000 : 2000 }, 'hold'))],
  [
    'DRRSched over two Queues (quantum 50 B < a 64 B packet, so it holds packets between turns)',
    (extra) => {
      const s = DRRSched({ quanta: extra ? [50, 60] : [50, 50] }, 'hold');
      for (const i of [0, 1]) InfiniteSource({ length: 64, rate: 50_000, limit: 30_000 }, { name: `src${i}`, thread: 0 }).to(Queue({ capacity: 4000 }, `q${i}`)).to(s.in(i));
      return s;
    },
  ],
  [
    'WFQSched over two Queues (it holds what it pulled past the batch)',
    (extra) => {
      const s = WFQSched({ weights: extra ? [1, 2] : [1, 1] }, 'hold');
      for (const i of [0, 1]) InfiniteSource({ length: 64, rate: 50_000, limit: 30_000 }, { name: `src${i}`, thread: 0 }).to(Queue({ capacity: 4000 }, `q${i}`)).to(s.in(i));
      return s;
    },
  ],
  // The same queues and hash (the random seed kept): the queues are swapped in whole.
  ['FQCoDel, its quantum changed', (extra) => InfiniteSource({ length: 64, rate: 100_000, limit: 60_000 }, { name: 'src', thread: 0 }).to(FQCoDel({ quantum: extra ? 3000 : 1514 }, 'hold'))],
  // Another number of queues: each packet joins the queue it hashes to now.
  ['FQCoDel, its number of queues changed', (extra) => InfiniteSource({ length: 64, rate: 100_000, limit: 60_000 }, { name: 'src', thread: 0 }).to(FQCoDel({ flows: extra ? 2048 : 1024 }, 'hold'))],
  ['BandwidthShaper (40 Mbit/s, packets waiting for credit)', (extra) => InfiniteSource({ length: 64, rate: 100_000, limit: 60_000 }, { name: 'src', thread: 0 }).to(Queue({ capacity: 8000 }, 'q0')).to(BandwidthShaper({ rate: extra ? 41e6 : 40e6 }, 'hold'))],
];
for (const [what, make] of holders)
  t.test(`${what}: replaced three times under traffic, every packet delivered or counted`, async (t) => {
    const rt = new Runtime({ threads: 2, poolBuffers: 32768 });
    t.teardown(() => rt.close());
    const plan = (extra: boolean) =>
      compile(
        graph('holder', () => {
          const out = make(extra).to(RatedUnqueue({ rate: 80_000, burst: 8 }, { name: 'pump', thread: 1 })).to(Counter({}, 'out'));
          (extra ? out.to(Counter({}, 'extra')) : out).to(Discard({}, 'sink'));
        }),
      );
    let g = rt.load(plan(false));
    rt.start();
    const sources = g.plan.elements.filter((e) => e.inputs.length === 0).map((e) => e.name);
    const sent = () => sources.reduce((a, e) => a + n(g, e, 'packets'), 0);
    for (let i = 0; i < 3; i++) {
      await sleep(100);
      g = g.replace(plan(i % 2 === 0));
      t.same(g.swap?.dropped, [], `replacement ${i + 1}: no packet left behind`);
    }
    t.ok(await until(() => g.drained(), 20_000), 'drains');
    let drops = 0;
    for (const [el, cs] of Object.entries(g.allCounters())) for (const [c, v] of Object.entries(cs)) if (/^drops/.test(c)) drops += Number(v), void el;
    t.equal(sent(), 60_000, 'the sources sent their limits once');
    t.equal(n(g, 'sink', 'packets') + drops, sent(), `sink (${n(g, 'sink', 'packets')}) + counted drops (${drops}) = sent, exactly`);
  });

t.test('queued packets and a finished source carry over; a ring too small for them keeps what fits and counts the rest', async (t) => {
  const rt = new Runtime({ threads: 1, poolBuffers: 4096 });
  t.teardown(() => rt.close());
  const plan = (capacity: number, active: boolean) =>
    compile(
      graph('held', () => {
        InfiniteSource({ length: 64, limit: 300 }, 'src')
          .to(Queue({ capacity }, 'q'))
          .to(Unqueue({ active }, 'pump'))
          .to(Counter({}, 'out'))
          .to(Discard({}, 'sink'));
      }),
    );
  let g = rt.load(plan(1000, false));
  rt.start();
  t.ok(await until(() => g.read('q', 'length') === '300', 5000), '300 packets wait in the queue (the pump is off)');
  g = g.replace(plan(500, false));
  t.equal(g.read('q', 'length'), '300', 'the new queue holds the same 300 packets');
  t.equal(n(g, 'q', 'enqueued'), 300, 'its enqueued count carried over');
  t.equal(n(g, 'src', 'packets'), 300, 'the source count carried over');
  t.equal(rt.engine.graphState(g.id).held, 300, 'the engine sees them held by the new graph');
  await sleep(50);
  t.equal(n(g, 'src', 'packets'), 300, 'the source, finished before, stays finished (its limit count carried)');
  // Capacity 100: a ring of 128 slots takes the first 128 (the oldest), the other 172 are
  // dropped and counted as the Queue's drops.
  g = g.replace(plan(100, true));
  t.same(g.swap?.dropped, [], 'nothing left behind uncounted');
  t.ok(await until(() => g.drained(), 5000), 'drains once the pump runs');
  t.equal(n(g, 'sink', 'packets'), 128, 'the 128 that fit reached the sink');
  t.equal(n(g, 'q', 'drops'), 172, 'the other 172 are counted as drops');
  t.equal(n(g, 'sink', 'packets') + n(g, 'q', 'drops'), n(g, 'src', 'packets'), 'sink + drops = source, exactly');
});

t.test('IPReassembler: a datagram half reassembled carries over and completes in the new graph; one beyond a smaller table is reported', async (t) => {
  const rt = new Runtime({ threads: 1, poolBuffers: 4096 });
  t.teardown(() => rt.close());
  // Datagram 7's first fragment (payload bytes 0-7, more to come) arrives before the swap, its
  // last (bytes 8-15) after it; datagram 8's first fragment too, when `two`.
  const fragment = (id: number, last: boolean) =>
    ipv4({ src: '198.18.1.1', dst: '198.18.2.1', id, mf: !last, fragOffset: last ? 1 : 0, payload: Buffer.alloc(8, last ? 0xbb : 0xaa) }).toString('hex');
  const plan = (v: { maxDatagrams: number; two: boolean; extra?: boolean }) =>
    compile(
      graph('frag', () => {
        const r = IPReassembler({ maxDatagrams: v.maxDatagrams }, 'reasm');
        InfiniteSource({ data: fragment(7, false), limit: 1 }, 'first').to(MarkIPHeader({}, 'm0')).to(r);
        if (v.two) InfiniteSource({ data: fragment(8, false), limit: 1 }, 'other').to(MarkIPHeader({}, 'm2')).to(r);
        InfiniteSource({ data: fragment(7, true), limit: 1, active: false }, 'last').to(MarkIPHeader({}, 'm1')).to(r);
        const out = r.to(Counter({}, 'out'));
        (v.extra ? out.to(Counter({}, 'extra')) : out).to(Discard({}, 'sink'));
      }),
    );
  let g = rt.load(plan({ maxDatagrams: 64, two: true }));
  rt.start();
  t.ok(await until(() => rt.engine.graphState(g.id).held === 2, 5000), 'two first fragments wait for the rest');
  g = g.replace(plan({ maxDatagrams: 64, two: true, extra: true }));
  t.same(g.swap?.dropped, [], 'both datagrams carried over');
  t.equal(rt.engine.graphState(g.id).held, 2, 'the new reassembler holds both fragments');
  // A table of one: the older datagram (7) carries over, the other is reported.
  g = g.replace(plan({ maxDatagrams: 1, two: true }));
  t.same(g.swap?.dropped, [{ element: 'reasm', packets: 1 }], "the datagram beyond the new table is reported as dropped");
  t.equal(rt.engine.graphState(g.id).held, 1, 'the oldest datagram carried over');
  g.write('last', 'active', 'true');
  t.ok(await until(() => n(g, 'sink', 'packets') === 1, 5000), 'the last fragment completes the datagram in the new graph');
  t.equal(n(g, 'reasm', 'reassembled'), 1, 'counted as reassembled');
  t.equal(rt.engine.graphState(g.id).held, 0, 'nothing held');
});

t.test('HTBSched: classes added and changed at run time carry over with their queued packets and counters; a class the new configuration cannot keep refuses it', async (t) => {
  const rt = new Runtime({ threads: 1, poolBuffers: 4096 });
  t.teardown(() => rt.close());
  // Colour 0 goes to the configured 'base', colour 1 to 't1', a class added at run time.
  const plan = (v: { pump: boolean; baseRate: number; extra?: boolean; gold?: boolean }) =>
    compile(
      graph('htb', () => {
        const h = HTBSched(
          {
            default: 'base',
            classes: [
              { name: 'link', parent: 'root', rate: 100e6 },
              { name: 'base', parent: 'link', rate: v.baseRate, ceil: 100e6, match: 0 },
              ...(v.gold ? [{ name: 'gold', parent: 'link', rate: 1e6, match: 1 }] : []),
            ],
          },
          'shaper',
        );
        InfiniteSource({ length: 64, limit: 300 }, 'src0').to(Paint({ color: 0 }, 'p0')).to(h);
        InfiniteSource({ length: 64, limit: 200, active: false }, 'src1').to(Paint({ color: 1 }, 'p1')).to(h);
        const out = h.to(Unqueue({ active: v.pump }, 'pump')).to(Counter({}, 'out'));
        (v.extra ? out.to(Counter({}, 'extra')) : out).to(Discard({}, 'sink'));
      }),
    );
  let g = rt.load(plan({ pump: false, baseRate: 10e6 }));
  rt.start();
  g.write('shaper', 'add', '{"name":"t1","parent":"link","rate":2e6,"ceil":50e6,"match":1,"capacity":500}');
  g.write('shaper', 'change', '{"name":"link","rate":90e6}');
  g.write('src1', 'active', 'true');
  t.ok(await until(() => rt.engine.graphState(g.id).held === 500, 5000), '500 packets wait in the scheduler (the pump is off)');
  const line = (name: string) => g.read('shaper', 'classes').split('\n').find((l) => l.startsWith(`${name} `)) ?? '';
  t.match(line('t1'), / backlog=200 /);
  t.match(line('base'), / backlog=300 /);

  g = g.replace(plan({ pump: false, baseRate: 20e6, extra: true }));
  t.same(g.swap?.dropped, [], 'no packet left behind');
  t.equal(rt.engine.graphState(g.id).held, 500, 'the new scheduler holds the 500');
  t.match(line('t1'), /^t1 parent=link rate=2000000 ceil=50000000 .* match=1 leaf capacity=500 .* backlog=200 /, 'the class added at run time, with its 200 packets');
  t.match(line('base'), /^base parent=link rate=20000000 .* backlog=300 /, "a configured class the new configuration changes: the new rate, its 300 packets");
  t.match(line('link'), /^link parent=root rate=90000000 ceil=90000000 /, 'a configured class it leaves alone keeps its run-time change');
  t.equal(n(g, 'shaper', 'enqueued'), 500, 'the counters carried over');

  // A new configuration whose class takes t1's match: refused, the old graph untouched.
  const tree = g.read('shaper', 'classes');
  t.throws(() => g.replace(plan({ pump: false, baseRate: 20e6, gold: true })), /shaper.*the classes added, changed or removed at run time \('link', 't1'\) cannot be kept with this configuration: class 't1'.match: 1 already selects class 'gold'/);
  t.equal(g.read('shaper', 'classes'), tree, 'the scheduler is as it was');

  g = g.replace(plan({ pump: true, baseRate: 20e6 }));
  t.same(g.swap?.dropped, []);
  t.ok(await until(() => g.drained(), 5000), 'drains once the pump runs');
  t.equal(n(g, 'sink', 'packets'), 500, 'all 500 delivered');
  t.match(line('t1'), / backlog=0 packets=200 /, 't1 sent its 200');
  t.match(line('base'), / backlog=0 packets=300 /, 'base sent its 300');
});

t.test('a FIB route added by a handler and ARP entries survive; refused plans leave the old graph untouched', async (t) => {
  const rt = new Runtime({ threads: 1, poolBuffers: 4096 });
  t.teardown(() => rt.close());
  const plan = (v: { outputs: 1 | 2; more?: boolean; device?: string; name?: string }) =>
    compile(
      graph(v.name ?? 'router', () => {
        const lookup = IPLookup({ routes: ['198.18.0.0/24 0'] }, 'rt');
        InfiniteSource({ data: frameTo('198.18.5.1'), rate: 20_000 }, 'src').to(lookup);
        lookup.out(0).to(Counter({}, 'c0')).to(Discard({}, 'd0'));
        if (v.outputs === 2) {
          const c1 = lookup.out(1).to(Counter({}, 'c1'));
          (v.more ? c1.to(Counter({}, 'c1b')) : c1).to(Discard({}, 'd1'));
        }
        const aq = ARPQuerier({ ip: '198.18.0.1/24', mac: '02:00:00:00:00:01' }, 'aq');
        Idle({}, 'i0').to(aq.in(0));
        Idle({}, 'i1').to(aq.in(1));
        aq.out(0).to(Discard({}, 'd2'));
        if (v.device) FromDevice({ device: v.device }, 'dev').to(Discard({}, 'd3'));
      }),
    );
  let g = rt.load(plan({ outputs: 2 }));
  rt.start();
  t.ok(await until(() => n(g, 'rt', 'drops_no_route') > 100, 5000), 'no route yet: 198.18.5.1 is dropped, counted');
  g.write('rt', 'add', '198.18.5.0/24 1');
  g.write('aq', 'insert', '198.18.0.7 02:00:00:00:00:07');
  g.write('aq', 'insert', '198.18.0.8 02:00:00:00:00:08');
  t.ok(await until(() => n(g, 'c1', 'packets') > 100, 5000), 'the added route sends them to output 1');
  const table = g.read('rt', 'table');
  const arp = g.read('aq', 'table');
  t.match(table, /198\.18\.5\.0\/24/, 'the route is in the table');

  g = g.replace(plan({ outputs: 2, more: true }));
  t.equal(g.read('rt', 'table'), table, 'the FIB carried over whole, the handler-added route with it');
  t.equal(g.read('rt', 'lookup_result'), 'no lookup yet', 'a fresh element otherwise');
  g.write('rt', 'lookup', '198.18.5.1');
  t.match(g.read('rt', 'lookup_result'), /\b1\b/, 'the new element looks 198.18.5.1 up to output 1');
  t.equal(g.read('aq', 'table'), arp, 'the ARP table carried over (static entries, byte for byte)');
  const c1 = n(g, 'c1', 'packets');
  t.ok(await until(() => n(g, 'c1b', 'packets') > 100, 5000), 'traffic still takes the added route, through the new Counter');
  t.ok(n(g, 'c1', 'packets') > c1, 'c1 goes on counting');

  // Refusals: state before and after compared; the same RunningGraph stays valid.
  const snapshot = () => ({ id: g.id, table: g.read('rt', 'table'), arp: g.read('aq', 'table'), graphs: rt.allGraphs().map((x) => x.name) });
  const state = snapshot();
  const c1Before = n(g, 'c1', 'packets');
  t.throws(() => g.replace(plan({ outputs: 1 })), /element 'rt' \(IPLookup\): cannot take over the running element's state: a route of the running element sends to output 1 but this one has 1 output/, 'a lookup without output 1 cannot take the route to it: refused, naming the element');
  t.throws(() => g.replace(plan({ outputs: 2, device: 'pg-hs-none0' })), /element 'dev' \(FromDevice\)/, 'a device the engine cannot open: refused, naming the element');
  const other = rt.load(plan({ outputs: 2, name: 'other' }));
  t.throws(() => g.replace(plan({ outputs: 2, name: 'other' })), /a graph named 'other' is already running/, 'a name another graph has: refused');
  other.remove();
  t.same(snapshot(), { ...state, graphs: state.graphs }, 'the running graph is untouched: same id, FIB, ARP table, graphs');
  t.ok(await until(() => n(g, 'c1', 'packets') > c1Before + 100, 5000), 'and it still forwards');
  t.doesNotThrow(() => g.read('rt', 'count'), 'its handlers still answer');
});
