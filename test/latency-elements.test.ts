// TimestampStamp and LatencyMeter on real packets: the stamp's bytes and clock, the meter's
// histogram and percentiles against known delays, unstamped / too-short / future stamps, the
// kernel-receive-time (annotation) arrival mode, reset, and a config error.
import t from 'tap';
import { rmSync } from 'node:fs';
import { graph, compile, GraphError, Runtime, FromPcap, ToPcap, InfiniteSource, TimestampStamp, LatencyMeter, Discard } from 'pktgraph';
import { runGraph, tmpPath } from './lib/run.js';
import { udp4Frame } from './lib/packets.js';
import { writePcap, readPcap } from './lib/pcap.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const frame64 = () => udp4Frame({ src: '198.18.0.1', dst: '198.19.0.3', payload: Buffer.alloc(18) }); // 60 bytes

/** A frame carrying a stamp `ns` at byte 42 (the UDP payload). */
function stamped(ns: bigint): Buffer {
  const f = frame64();
  f.write('PGTS', 42, 'latin1');
  f.writeBigUInt64BE(ns, 46);
  return f;
}

/** Run `build` on a Runtime until the pcap source drained; return handler reads and counters. */
async function runAndRead(build: () => void, reads: string[]): Promise<{ h: Record<string, string>; c: Record<string, bigint> }> {
  const rt = new Runtime({ threads: 1, poolBuffers: 1024 });
  try {
    const g = rt.load(compile(graph('lat', build)));
    rt.start();
    for (let i = 0; i < 2000 && !g.drained(); i++) await sleep(5);
    const h: Record<string, string> = {};
    for (const r of reads) h[r] = g.read('lat', r);
    const c = g.counters('lat');
    rt.stop();
    g.remove();
    return { h, c };
  } finally {
    rt.close();
  }
}

t.test('TimestampStamp writes the marker and a monotonic time at the offset; short frames pass unchanged', async (t) => {
  const inFile = tmpPath('stamp-in.pcap');
  const outFile = tmpPath('stamp-out.pcap');
  t.teardown(() => [inFile, outFile].forEach((f) => rmSync(f, { force: true })));
  const short = Buffer.alloc(40, 0xab);
  writePcap(inFile, [{ data: frame64() }, { data: frame64() }, { data: short }, { data: frame64() }]);
  const before = process.hrtime.bigint(); // CLOCK_MONOTONIC on Linux
  const s = await runGraph(() => {
    FromPcap({ file: inFile }, 'src').to(TimestampStamp({}, 'stamp')).to(ToPcap({ file: outFile }, 'out'));
  });
  const after = process.hrtime.bigint();
  t.equal(s.elements.stamp.stamped, 3);
  t.equal(s.elements.stamp.too_short, 1);
  const pk = readPcap(outFile).packets;
  t.equal(pk.length, 4);
  for (const i of [0, 1, 3]) {
    const d = Buffer.from(pk[i].data);
    t.equal(d.subarray(42, 46).toString('latin1'), 'PGTS', `frame ${i} has the marker`);
    const ns = d.readBigUInt64BE(46);
    t.ok(ns >= before && ns <= after, `frame ${i}'s stamp is between the run's start and end on the monotonic clock`);
    t.same(d.subarray(0, 42), frame64().subarray(0, 42), 'headers untouched');
  }
  t.same(Buffer.from(pk[2].data), short, 'the short frame is unchanged');
});

t.test('LatencyMeter: known delays give the percentiles; unstamped and future stamps are counted apart', async (t) => {
  const file = tmpPath('meter.pcap');
  t.teardown(() => rmSync(file, { force: true }));
  const now = process.hrtime.bigint();
  const pkts = [
    ...Array.from({ length: 100 }, () => ({ data: stamped(now - 10_000_000n) })), // 10 ms old
    { data: stamped(now - 1_000_000_000n) }, // 1 s old
    { data: frame64() }, // no stamp
    { data: stamped(now + 3_600_000_000_000n) }, // an hour in the future
    { data: Buffer.alloc(30) }, // too short to carry a stamp
  ];
  writePcap(file, pkts);
  const { h, c } = await runAndRead(() => {
    FromPcap({ file }, 'src').to(LatencyMeter({}, 'lat')).to(Discard({}, 'sink'));
  }, ['count', 'min', 'mean', 'p50', 'p90', 'p99', 'p999', 'max', 'summary', 'histogram']);
  const elapsed = process.hrtime.bigint() - now;
  t.equal(c.packets, 104n, 'every packet passes');
  t.equal(c.measured, 101n);
  t.equal(c.unstamped, 2n);
  t.equal(c.bad_stamp, 1n);
  t.equal(h.count, '101');
  const [min, p50, p99, p999, max] = ['min', 'p50', 'p99', 'p999', 'max'].map((k) => Number(h[k]));
  t.ok(min >= 10e6 && min <= 10e6 + Number(elapsed), `min ${min} ns is the 10 ms delay plus the run's own time`);
  t.ok(p50 >= 10e6 * 0.97 && p50 <= (10e6 + Number(elapsed)) * 1.04, `p50 ${p50} ns is about 10 ms (+ run time)`);
  t.ok(p99 < 0.5e9, `p99 ${p99} ns is among the 10 ms packets (100 of 101)`);
  t.ok(p999 >= 1e9 * 0.97 && p999 <= 1e9 + Number(elapsed), `p99.9 ${p999} ns is the 1 s packet`);
  t.ok(max >= 1e9 && max <= 1e9 + Number(elapsed), `max ${max} ns is exact`);
  t.ok(min <= p50 && p50 <= p99 && p99 <= p999 && p999 <= max, 'percentiles are ordered');
  t.match(h.summary, /^count=101 min=\d+ mean=\d+ p50=\d+ p90=\d+ p99=\d+ p999=\d+ max=\d+$/);
  const buckets = h.histogram.trim().split('\n').map((l) => l.split(' ').map(Number));
  t.equal(buckets.reduce((s, b) => s + b[2], 0), 101, 'the histogram holds every recorded delay');
  for (const [lo, hi, n] of buckets) t.ok(lo <= hi && n > 0, `bucket ${lo}-${hi}`);
  t.ok(buckets.some(([lo, hi]) => lo <= max && hi >= max), 'the largest delay (about 1 s) lies in a listed bucket');
  t.ok(buckets.some(([lo, hi]) => lo <= min && hi >= min), 'so does the smallest (about 10 ms)');
});

t.test("LatencyMeter arrival 'annotation': the receive-time annotation, converted to the monotonic clock", async (t) => {
  const file = tmpPath('meter-anno.pcap');
  t.teardown(() => rmSync(file, { force: true }));
  // The pcap record time (the annotation FromPcap sets) is now on the wall clock; the stamp is
  // 10 ms earlier on the monotonic clock. The delay must come out at 10 ms however long the run takes.
  const mono = process.hrtime.bigint();
  const wall = BigInt(Date.now()) * 1_000_000n;
  writePcap(file, Array.from({ length: 20 }, () => ({ data: stamped(mono - 10_000_000n), tsNs: wall })), { nanosecond: true });
  await sleep(50); // later arrival must not count
  const { h, c } = await runAndRead(() => {
    FromPcap({ file }, 'src').to(LatencyMeter({ arrival: 'annotation' }, 'lat')).to(Discard({}, 'sink'));
  }, ['count', 'p50', 'max']);
  t.equal(c.measured, 20n);
  t.equal(h.count, '20');
  const p50 = Number(h.p50);
  t.ok(p50 >= 8e6 && p50 <= 13e6, `p50 ${p50} ns is about 10 ms (not 60 ms: the time after the annotation is not counted)`);
});

t.test('LatencyMeter on a running engine: stamped generator traffic, then reset', async (t) => {
  const rt = new Runtime({ threads: 1, poolBuffers: 4096 });
  try {
    const g = rt.load(
      compile(
        graph('lat', () => {
          InfiniteSource({ length: 60, rate: 20000, limit: 2000, burst: 16 }, 'src').to(TimestampStamp({}, 'stamp')).to(LatencyMeter({}, 'lat')).to(Discard({}, 'sink'));
        }),
      ),
    );
    rt.start();
    for (let i = 0; i < 2000 && !g.drained(); i++) await sleep(5);
    t.equal(g.read('lat', 'count'), '2000');
    const max = Number(g.read('lat', 'max'));
    t.ok(max < 50e6, `stamp to meter in the same batch: max ${max} ns`);
    t.ok(Number(g.read('lat', 'p50')) <= max);
    g.write('lat', 'reset', '');
    t.equal(g.read('lat', 'count'), '0');
    t.equal(g.read('lat', 'p99'), '0');
    t.equal(g.read('lat', 'max'), '0');
    rt.stop();
    g.remove();
  } finally {
    rt.close();
  }
});

t.test('a bad arrival mode fails at compile time naming the element and field', async (t) => {
  try {
    compile(
      graph('bad', () => {
        InfiniteSource({ length: 60, limit: 1 }).to(LatencyMeter({ arrival: 'later' as 'now' }, 'lat')).to(Discard());
      }),
    );
    t.fail('compiled');
  } catch (e) {
    t.ok(e instanceof GraphError);
    t.match((e as GraphError).problems.join('\n'), /lat.*arrival/);
  }
});
