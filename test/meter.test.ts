// Meter and BandwidthMeter (Click's): the stream goes to the output of the first rate its
// averaged arrival rate is below (an EWMA over 1 ms epochs, alpha 1/16). Packets come from a pcap
// file played at its recorded pace on a virtual clock moved to each arrival time, and a model of
// the average in the test says, batch by batch, which output each batch must take.
import t, { type Test } from 'tap';
import { rmSync } from 'node:fs';
import { compile, graph, Runtime, FromPcap, Meter, BandwidthMeter, Counter, Discard, InfiniteSource } from 'pktgraph';
import { writePcap } from './lib/pcap.js';
import { tmpPath } from './lib/run.js';
import { rng } from './lib/rng.js';

const T0 = 1_000_000_000;
const MS = 1_000_000;

/** The EWMA of Click's RateEWMA as the element documents it: per 1 ms epoch, alpha 1/16. */
class Model {
  avg = 0;
  current = 0;
  epoch = 0;
  constructor(readonly rates: number[]) {}
  batch(now: number, amount: number): number {
    const e = Math.floor(now / MS);
    if (e > this.epoch) {
      this.avg += (this.current - this.avg) / 16;
      this.current = 0;
      const idle = e - this.epoch - 1;
      if (idle) this.avg = idle > 100000 ? 0 : this.avg * Math.pow(15 / 16, idle);
      this.epoch = e;
    }
    const perSecond = this.avg * 1000;
    const out = this.rates.findIndex((r) => perSecond < r);
    this.current += amount;
    return out < 0 ? this.rates.length : out;
  }
}

interface Burst {
  t: number; // ns after the start
  sizes: number[];
}

/** Plays `bursts` into the meter and returns the output each burst left on, and its `rate` handler at the end. */
function play(t: Test, name: string, make: (n: string) => ReturnType<typeof Meter>, nout: number, bursts: Burst[]): { outs: number[]; rate: number } {
  const file = tmpPath(`${name}.pcap`);
  t.teardown(() => rmSync(file, { force: true }));
  writePcap(
    file,
    bursts.flatMap((b) => b.sizes.map((s) => ({ data: Buffer.alloc(s), tsNs: 1_700_000_000_000_000_000n + BigInt(b.t) }))),
    { nanosecond: true },
  );
  const rt = new Runtime({ threads: 1, poolBuffers: 4096, virtualClockNs: T0 });
  t.teardown(() => rt.close());
  const g = rt.load(
    compile(
      graph(name, () => {
        const m = FromPcap({ file, timing: true, burst: 256 }).to(make('m'));
        for (let o = 0; o < nout; o++) m.out(o).to(Counter({}, `c${o}`)).to(Discard());
      }),
    ),
  );
  rt.start();
  const outs: number[] = [];
  const counts = () => Array.from({ length: nout }, (_, o) => Number(g.counter(`c${o}`, 'packets')));
  let before = counts().map(() => 0); // the packets due at the start may pass before the first step
  for (const b of bursts) {
    rt.setVirtualTime(T0 + b.t);
    const delta = counts().map((c, o) => c - before[o]);
    const used = delta.flatMap((d, o) => (d ? [o] : []));
    if (used.length !== 1 || delta[used[0]] !== b.sizes.length) throw new Error(`burst at ${b.t}: ${delta} (${b.sizes.length} packets)`);
    outs.push(used[0]);
    before = counts();
  }
  const rate = Number(g.read('m', 'rate'));
  rt.stop();
  return { outs, rate };
}

t.test('Meter: a steady 10000 packets/s crosses 5000 after 11 epochs, and falls back when it stops', async (t) => {
  // 10 packets every ms for 30 ms, a pause of 20 ms, then 10 per ms again.
  const bursts: Burst[] = [];
  for (let ms = 0; ms < 30; ms++) bursts.push({ t: ms * MS, sizes: Array(10).fill(60) });
  for (let ms = 50; ms < 60; ms++) bursts.push({ t: ms * MS, sizes: Array(10).fill(60) });
  const { outs } = play(t, 'meter-steady', (n) => Meter({ rates: [5000] }, n), 2, bursts);
  // The average after k ended epochs of 10 packets is 10 (1 - (15/16)^k) per epoch: below 5
  // (5000/s) for k <= 10; the batch at ms k sees k epochs ended.
  t.same(outs.slice(0, 30), [...Array(11).fill(0), ...Array(19).fill(1)], 'output 0 for the first 11 batches (0-10 ms), output 1 from 11 ms on');
  // After 30 ms the average is near 10/epoch; 20 idle epochs (one of them the last counted) bring it
  // to about 10 x (15/16)^20 = 2.8 per epoch: below 5000/s, so output 0 again.
  t.equal(outs[30], 0, 'after 20 ms without packets the rate is below 5000/s again');
  const model = new Model([5000]);
  t.same(outs, bursts.map((b) => model.batch(T0 + b.t, b.sizes.length)), 'every batch where the model sends it');
});

t.test('Meter and BandwidthMeter against the model on random arrivals, three outputs', async (t) => {
  for (const [kind, rates] of [['Meter', [4000, 9000]], ['BandwidthMeter', [2_000_000, 5_000_000]]] as const) {
    const rnd = rng(kind.length).next;
    const bursts: Burst[] = [];
    let now = 0;
    for (let i = 0; i < 600; i++) {
      // The file plays relative to its first packet: the first burst is at 0.
      if (i > 0) now += rnd() < 0.9 ? Math.floor(rnd() * 1.5 * MS) + 1 : Math.floor(rnd() * 30 * MS);
      const n = Math.floor(rnd() * 16) + 1;
      bursts.push({ t: now, sizes: Array.from({ length: n }, () => 60 + Math.floor(rnd() * 1400)) });
    }
    const make = (n: string) => (kind === 'Meter' ? Meter({ rates: [...rates] }, n) : BandwidthMeter({ rates: [...rates] }, n));
    const { outs, rate } = play(t, `meter-${kind}`, make, 3, bursts);
    const model = new Model([...rates]);
    const want = bursts.map((b) => model.batch(T0 + b.t, kind === 'Meter' ? b.sizes.length : b.sizes.reduce((s, x) => s + x, 0)));
    t.ok([0, 1, 2].every((o) => want.filter((x) => x === o).length > 20), `${kind}: every output used (${[0, 1, 2].map((o) => want.filter((x) => x === o).length)})`);
    const first = outs.findIndex((o, i) => o !== want[i]);
    t.equal(first, -1, first < 0 ? `${kind}: ${bursts.length} batches where the model sends them` : `${kind}: batch ${first}: engine ${outs[first]}, model ${want[first]}`);
    t.ok(Math.abs(rate - model.avg * 1000) <= 1e-6 * rate, `${kind}: the rate handler reads the average as of the last batch (${rate}, model ${model.avg * 1000})`);
  }
});

t.test('bad rates are compile errors naming the field', async (t) => {
  const build = (rates: number[], nout: number) => () =>
    compile(graph('bad', () => { const m = InfiniteSource().to(Meter({ rates }, 'm')); for (let o = 0; o < nout; o++) m.out(o).to(Discard()); }));
  t.throws(build([], 1), /element 'm' \(Meter\).*rates/, 'no rate');
  t.throws(build([0], 2), /element 'm' \(Meter\).*rates/, 'a zero rate');
  t.throws(build([5000, 5000], 3), /config field 'rates': rate 2 \(5000\) must be above rate 1 \(5000\)/, 'rates not increasing');
  t.throws(build([5000], 3), /config field 'rates' has 1 rate\(s\), which need 2 outputs, but 3 are connected/, 'outputs not rates + 1');
});
