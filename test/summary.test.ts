// `pktgraph run`'s summary at the formatting level, from a compiled plan and counter sets
// made by hand: paced elements short of their rate (the rate_shortfall counter), drops
// named by reason, and CPU per packet shown only when enough packets were handled.
// (test/counter-names.test.ts checks drops from a real run.)
import t from 'tap';
import { compile } from '../src/compiler/compile.js';
import { graph, InfiniteSource, Queue, RatedUnqueue, BandwidthRatedUnqueue, Discard, Counter } from '../src/index.js';
import type { RunSummary } from '../src/runtime/run.js';
import { MIN_PACKETS_FOR_CPU, cpuPerPacketJson, shortfalls, summaryLines } from '../src/cli/summary.js';

const plan = compile(
  graph('paced', () => {
    InfiniteSource({ rate: 50_000 }, 'source').to(Queue({ capacity: 100 }, 'q')).to(RatedUnqueue({ rate: 10_000, burst: 16 }, 'pace')).to(Counter({}, 'c')).to(Discard({}, 'sink'));
  }),
);

function summary(packets: number, elements: RunSummary['elements']): RunSummary {
  return {
    graph: 'paced',
    threads: 2,
    packets,
    seconds: 5,
    mpps: packets / 5 / 1e6,
    drained: false,
    stoppedBy: 'duration',
    cpuNsPerPacket: 1234.5,
    elements,
    pool: { capacity: 4096, available: 4096, allocFailures: 0 },
  };
}

t.test('each element with a nonzero rate_shortfall gets a line: its rate, what it delivered, the shortfall', async (t) => {
  // The source made 117,060 of the 250,000 its rate called for in 5 s; the pace element 40,000 of 50,000.
  const s = summary(117_060, {
    source: { packets: 117_060, bytes: 7_491_840, pool_empty: 0, rate_shortfall: 132_940 },
    q: { enqueued: 117_060, drops: 77_060 },
    pace: { packets: 40_000, rate_shortfall: 10_000 },
    c: { packets: 40_000, bytes: 2_560_000 },
    sink: { packets: 40_000, bytes: 2_560_000 },
  });
  const lines = summaryLines(plan, s, undefined);
  const text = lines.join('\n');
  t.match(text, /^ {2}source \(InfiniteSource\) fell behind its rate: configured 50,000\/s, delivered 23,412\/s; 132,940 packets the rate called for were not sent/m);
  t.match(text, /^ {2}pace \(RatedUnqueue\) fell behind its rate: configured 10,000\/s, delivered 8,000\/s; 10,000 packets/m);
  t.match(text, /^ {2}dropped 77,060 packets \(65\.8% of the 117,060 the sources sent\):\n {4}q +Queue +drops +77,060 +packets dropped because the queue was full$/m);
  t.match(text, /2 threads, 1234\.5 ns CPU per packet/, 'enough packets: CPU per packet shown');

  // A rate written while running (the config handler's value) is the one reported.
  const written = shortfalls(plan, s, (name) => (name === 'pace' ? { rate: 9_000 } : undefined));
  t.same(
    written.map((f) => [f.element, f.rate, f.deliveredRate, f.shortfall]),
    [
      ['source', 50_000, 23_412, 132_940],
      ['pace', 9_000, 8_000, 10_000],
    ],
  );
});

t.test("a Bandwidth element's shortfall line gives its rates in bits per second", async (t) => {
  const bw = compile(graph('bw', () => InfiniteSource({}, 'source').to(Queue({}, 'q')).to(BandwidthRatedUnqueue({ rate: 1e9 }, 'pace')).to(Discard({}, 'sink'))));
  // 500 MB in 5 s: 800 Mbit/s of the 1 Gbit/s configured.
  const s = summary(400_000, { pace: { packets: 400_000, bytes: 500_000_000, rate_shortfall: 1000 } });
  t.match(summaryLines(bw, s, undefined).join('\n'), /^ {2}pace \(BandwidthRatedUnqueue\) fell behind its rate: configured 1,000,000,000 bit\/s, delivered 800,000,000 bit\/s; 1,000 packets/m);
});

t.test('no shortfall, no drops: no such lines', async (t) => {
  const s = summary(250_000, {
    source: { packets: 250_000, bytes: 16_000_000, pool_empty: 0, rate_shortfall: 0 },
    q: { enqueued: 250_000, drops: 0 },
    pace: { packets: 50_000 },
    c: { packets: 50_000, bytes: 3_200_000 },
    sink: { packets: 50_000, bytes: 3_200_000 },
  });
  const text = summaryLines(plan, s, 16_000_000).join('\n');
  t.notMatch(text, /fell behind|dropped/);
  t.match(text, /^paced: 250,000 packets in 5\.00 s = 0\.05 Mpps, 0\.03 Gbit\/s$/m);
});

t.test('CPU per packet is not shown for a handful of packets', async (t) => {
  const few = summary(MIN_PACKETS_FOR_CPU - 1, { source: { packets: MIN_PACKETS_FOR_CPU - 1, bytes: 0, pool_empty: 0 } });
  const text = summaryLines(plan, few, undefined).join('\n');
  t.match(text, /2 threads, CPU per packet not shown \(under 10,000 packets\), stopped because the duration ended/);
  t.notMatch(text, /ns CPU per packet/);
  t.same(cpuPerPacketJson(few), {
    cpuNsPerPacket: null,
    cpuNsPerPacketNote: `not measured: ${MIN_PACKETS_FOR_CPU - 1} packets, under the ${MIN_PACKETS_FOR_CPU} it takes for CPU per packet to mean more than start-up and idle polling`,
  }, '--json agrees: null, with the reason');
  const many = summary(MIN_PACKETS_FOR_CPU, { source: { packets: MIN_PACKETS_FOR_CPU, bytes: 0, pool_empty: 0 } });
  t.same(cpuPerPacketJson(many), { cpuNsPerPacket: many.cpuNsPerPacket }, 'and the figure from 10,000 packets');
});
