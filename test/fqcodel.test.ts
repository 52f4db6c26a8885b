// FQCoDel (RFC 8290) on the virtual clock (the clock moves a millisecond at a time and every rate
// is exact): a sparse flow beside a bulk one that overloads the link goes out within the
// millisecond it arrived and loses nothing, while the bulk flow queues and CoDel drops from it;
// two backlogged flows of different packet sizes get the same bytes (deficit round-robin, within
// 1%); over the total limit, packets go from the fattest flow; bad configs name the field. Then,
// on the real clock and two workers, CoDel and FQCoDel pushed on one and pulled on the other lose
// no packet uncounted.
import t, { type Test } from 'tap';
import { compile, graph, Runtime, InfiniteSource, FlowSource, MarkIPHeader, FQCoDel, CoDel, RatedUnqueue, Unqueue, Classifier, Counter, Discard, type RunningGraph } from 'pktgraph';
import { udp4Frame } from './lib/packets.js';
import { runGraph } from './lib/run.js';

const T0 = 1_000_000_000;
const MS = 1_000_000;
const num = (g: RunningGraph, el: string, c: string) => Number(g.counter(el, c));

/** A UDP flow from port `sport`, frames of `length` bytes, as InfiniteSource's data. */
const flow = (sport: number, length: number) => udp4Frame({ sport, dport: 9, payload: Buffer.alloc(length - 42) }).toString('hex');

/** Flows by source port into `queue`, pulled at `link` packets/s; counters 'a_out', 'b_out'. */
function twoFlows(t: Test, a: { length: number; rate: number }, b: { length: number; rate: number }, link: number, queue: () => ReturnType<typeof FQCoDel>) {
  const rt = new Runtime({ threads: 1, poolBuffers: 16384, virtualClockNs: T0 });
  t.teardown(() => rt.close());
  const g = rt.load(
    compile(
      graph('fq', () => {
        const mark = MarkIPHeader({ offset: 14 });
        InfiniteSource({ data: flow(1, a.length), length: a.length, rate: a.rate, burst: 64 }, 'a').to(mark);
        InfiniteSource({ data: flow(2, b.length), length: b.length, rate: b.rate, burst: 64 }, 'b').to(mark);
        const cl = Classifier({ patterns: ['34/0001', '34/0002'] });
        mark.to(queue()).to(RatedUnqueue({ rate: link, burst: 64 }, 'link')).to(cl);
        cl.out(0).to(Counter({}, 'a_out')).to(Discard());
        cl.out(1).to(Counter({}, 'b_out')).to(Discard());
      }),
    ),
  );
  rt.start();
  rt.setVirtualTime(T0);
  return { rt, g, at: (ms: number) => rt.setVirtualTime(T0 + ms * MS) };
}

for (const kind of ['FQCoDel', 'CoDel'] as const) {
  t.test(`a sparse flow beside a bulk one: ${kind === 'FQCoDel' ? 'no delay and no drops for the sparse flow' : 'CoDel alone (control): the sparse flow waits in the same queue'}`, async (t) => {
    // Bulk: 1000-byte packets at 2000/s; sparse: 100 bytes at 20/s; the link takes 1000/s.
    const { rt, g, at } = twoFlows(t, { length: 1000, rate: 2000 }, { length: 100, rate: 20 }, 1000, () =>
      kind === 'FQCoDel' ? FQCoDel({ seed: 7 }, 'q') : CoDel({ capacity: 10000 }, 'q'),
    );
    let worstLag = 0;
    for (let ms = 1; ms <= 3000; ms++) {
      at(ms);
      // A sparse packet sent in this millisecond's round has left by its end, or waits.
      worstLag = Math.max(worstLag, num(g, 'b', 'packets') - num(g, 'b_out', 'packets'));
    }
    const sparseSent = num(g, 'b', 'packets');
    const sparseOut = num(g, 'b_out', 'packets');
    const bulkSent = num(g, 'a', 'packets');
    const bulkOut = num(g, 'a_out', 'packets');
    if (kind === 'FQCoDel') {
      t.equal(worstLag, 0, 'every sparse packet left within the millisecond it arrived');
      t.equal(sparseOut, sparseSent, `all ${sparseSent} sparse packets delivered`);
      t.ok(num(g, 'q', 'drops_delay') > 20, `CoDel dropped ${num(g, 'q', 'drops_delay')} bulk packets`);
      // The link: 1000/s for 3 s, plus at most its burst (64) of credit saved at the start.
      t.ok(bulkOut + sparseOut >= 3000 && bulkOut + sparseOut <= 3065, `the bulk flow got the rest of the link (${bulkOut} of ${bulkSent} sent)`);
      t.ok(Number(g.read('q', 'length')) > 100, `the bulk flow queues (${g.read('q', 'length')} packets)`);
      t.ok(num(g, 'q', 'new_flow_count') >= sparseSent, `each sparse packet found its queue empty and came in as a new flow (${num(g, 'q', 'new_flow_count')})`);
    } else {
      t.ok(worstLag >= 5, `in one FIFO, sparse packets waited behind the bulk (up to ${worstLag} at once)`);
    }
    rt.stop();
  });
}

t.test('two backlogged flows of different packet sizes share the link by bytes (DRR), within 1%', async (t) => {
  // 1500-byte packets at 2000/s and 300-byte ones at 10000/s: 3 MB/s each, into a link of 3000
  // packets/s (about 750 kB/s each when shared fairly by bytes).
  const { rt, g, at } = twoFlows(t, { length: 1500, rate: 2000 }, { length: 300, rate: 10000 }, 3000, () => FQCoDel({ seed: 7, limit: 4000 }, 'q'));
  for (let ms = 1; ms <= 500; ms++) at(ms);
  const a0 = num(g, 'a_out', 'bytes');
  const b0 = num(g, 'b_out', 'bytes');
  for (let ms = 501; ms <= 3000; ms++) at(ms);
  const a = num(g, 'a_out', 'bytes') - a0;
  const b = num(g, 'b_out', 'bytes') - b0;
  t.ok(Math.abs(a - b) / ((a + b) / 2) < 0.01, `bytes over 2.5 s: ${a} (1500-byte packets) and ${b} (300-byte packets), ${((100 * Math.abs(a - b)) / ((a + b) / 2)).toFixed(2)}% apart`);
  t.ok(num(g, 'q', 'drops_delay') + num(g, 'q', 'drops_overflow') > 0, 'both flows were over their share: packets were dropped');
  rt.stop();
});

t.test('over the total limit, packets are dropped from the fattest flow', async (t) => {
  const rt = new Runtime({ threads: 1, poolBuffers: 4096 });
  t.teardown(() => rt.close());
  const g = rt.load(
    compile(
      graph('fq_limit', () => {
        const mark = MarkIPHeader({ offset: 14 });
        InfiniteSource({ data: flow(1, 200), length: 200, limit: 300 }, 'fat').to(mark);
        InfiniteSource({ data: flow(2, 200), length: 200, limit: 20, active: false }, 'thin').to(mark);
        const cl = Classifier({ patterns: ['34/0001', '34/0002'] });
        mark.to(FQCoDel({ limit: 100, seed: 7 }, 'q')).to(Unqueue({ active: false }, 'pump')).to(cl);
        cl.out(0).to(Counter({}, 'fat_out')).to(Discard());
        cl.out(1).to(Counter({}, 'thin_out')).to(Discard());
      }),
    ),
  );
  rt.start();
  const until = async (cond: () => boolean) => {
    for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  };
  await until(() => num(g, 'fat', 'packets') === 300 && Number(g.read('q', 'length')) <= 100);
  g.write('thin', 'active', 'true');
  await until(() => num(g, 'thin', 'packets') === 20);
  await new Promise((r) => setTimeout(r, 50));
  t.ok(Number(g.read('q', 'length')) <= 100, `at most the limit held (${g.read('q', 'length')})`);
  g.write('pump', 'active', 'true');
  await until(() => Number(g.read('q', 'length')) === 0);
  t.equal(num(g, 'thin_out', 'packets'), 20, 'the thin flow lost nothing');
  t.equal(num(g, 'fat_out', 'packets') + num(g, 'q', 'drops_overflow'), 300, `the fat flow lost ${num(g, 'q', 'drops_overflow')} (all the overflow drops)`);
  t.equal(num(g, 'q', 'drops_delay'), 0, 'no sojourn drops on the real clock here');
  rt.stop();
});

t.test('handlers and bad configs', async (t) => {
  const bad = (cfg: object) => () => compile(graph('fq_bad', () => InfiniteSource().to(FQCoDel(cfg as never, 'q')).to(RatedUnqueue({ rate: 1 })).to(Discard())));
  t.throws(bad({ flows: 0 }), /'q' \(FQCoDel\).*config field 'flows'/);
  t.throws(bad({ target: 0.2 }), /config field 'target' \(0\.2 s\) must be less than 'interval' \(0\.1 s\)/);
  t.throws(bad({ quantum: 10 }), /config field 'quantum'/);
  t.throws(bad({ limit: 0 }), /config field 'limit'/);
  const rt = new Runtime({ threads: 1 });
  t.teardown(() => rt.close());
  const g = rt.load(compile(graph('fq_h', () => InfiniteSource({ limit: 0 }).to(FQCoDel({}, 'q')).to(RatedUnqueue({ rate: 1 })).to(Discard()))));
  g.write('q', 'quantum', '3000');
  t.equal(g.read('q', 'quantum'), '3000');
  t.throws(() => g.write('q', 'quantum', '1'), /quantum/);
  t.throws(() => g.write('q', 'interval', '0.001'), /interval: must be more than target/);
  t.same([g.read('q', 'new_flows_len'), g.read('q', 'old_flows_len'), g.read('q', 'length')], ['0', '0', '0']);
});

t.test('pushed on one worker and pulled on another, every packet is delivered or counted (CoDel and FQCoDel)', async (t) => {
  for (const kind of ['CoDel', 'FQCoDel'] as const) {
    const s = await runGraph(
      () => {
        const q = kind === 'CoDel' ? CoDel({ capacity: 512 }, 'q') : FQCoDel({ limit: 512, seed: 3 }, 'q');
        FlowSource({ flows: 64, length: 64, limit: 2_000_000 }, { name: 'src', thread: 0 }).to(q).to(Unqueue({}, { name: 'pump', thread: 1 })).to(Counter({}, 'out')).to(Discard());
      },
      { threads: 2, timeoutSeconds: 60, poolBuffers: 8192 },
    );
    const q = s.elements.q;
    const lost = (q.drops_full ?? 0) + (q.drops_overflow ?? 0) + q.drops_delay;
    t.equal(s.elements.out.packets + lost, 2_000_000, `${kind}: ${s.elements.out.packets} delivered + ${lost} dropped (counted) = the 2,000,000 sent`);
  }
});
