// RED: the drop probability curve against Click's formula, gentle and not, forced drops, ECN
// marking (bytes and checksums), live parameter changes, the queues the compiler finds, and bad
// configs. The queue RED watches is a "ballast" Queue that nobody pulls, filled to a set length
// beforehand and named in `queues`, so the average is exactly that length while RED's own packets
// go to a Counter or a ToPcap: every count is RED's decision at a known average.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  compile, compound, graph, Runtime, InfiniteSource, FromPcap, ToPcap, Classifier, MarkIPHeader, CheckIP6Header, RED, Queue, Unqueue, Counter, Tee, Discard,
  type RunningGraph,
} from 'pktgraph';
import { udp4Frame, udp6Frame, parseIpv4, parseIpv6, verifyIpv4Checksum } from './lib/packets.js';
import { writePcap, readPcap } from './lib/pcap.js';

const tmp = mkdtempSync(join(tmpdir(), 'pktgraph-red-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

const num = (g: RunningGraph, el: string, c: string) => Number(g.counter(el, c));

async function until(what: string, cond: () => boolean, ms = 20000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A ballast Queue 'ballast' filled with `length` packets and never pulled. */
function ballast(length: number) {
  InfiniteSource({ length: 64, limit: length, burst: 32 }, 'fill').to(Queue({ capacity: length }, 'ballast')).to(Unqueue({ active: false }, 'hold')).to(Discard({}, 'unused'));
}

type REDConfig = Parameters<typeof RED>[0];

/** Pushes n packets through RED watching a ballast of `length`; returns its counts. */
async function atLength(t: Test, cfg: REDConfig, length: number, n: number) {
  const rt = new Runtime({ threads: 1, poolBuffers: 4096 });
  t.teardown(() => rt.close());
  const g = rt.load(
    compile(
      graph('red_curve', () => {
        ballast(length);
        InfiniteSource({ length: 64, limit: n, burst: 32, active: false }, 'src').to(RED({ ...cfg!, queues: ['ballast'] }, 'red')).to(Counter({}, 'passed')).to(Discard());
      }),
    ),
  );
  rt.start();
  await until('the ballast to fill', () => g.read('ballast', 'length') === String(length));
  g.write('src', 'active', 'true');
  const seen = () => num(g, 'passed', 'packets') + num(g, 'red', 'drops_early') + num(g, 'red', 'drops_forced');
  await until(`${n} packets through RED`, () => seen() === n);
  const r = { early: num(g, 'red', 'drops_early'), forced: num(g, 'red', 'drops_forced'), passed: num(g, 'passed', 'packets'), avg: Number(g.read('red', 'avg_queue_size')) };
  rt.close();
  return r;
}

// Click's RED at a steady average: p_b from the thresholds (gentle: from maxP to 1 between maxThresh
// and twice it); after each drop a uniform R in [0, 1) is drawn and the next drop is the N-th packet,
// N the least count with count x p_b > R, so P(N >= k) = max(0, 1 - (k - 1) p_b). The share dropped
// is 1 / E[N]; its sampling error over n packets is about sqrt(Var N / (n / E[N])) / E[N]^2.
function clickShare(c: { minThresh: number; maxThresh: number; maxP: number; gentle?: boolean }, avg: number) {
  const gentle = c.gentle ?? true;
  const kill = gentle && c.maxP < 1 ? 2 * c.maxThresh : c.maxThresh;
  if (avg <= c.minThresh) return { share: 0, pb: 0, forced: false, sd: () => 0 };
  if (avg > kill) return { share: 1, pb: 1, forced: true, sd: () => 0 };
  const pb = avg <= c.maxThresh ? (c.maxP * (avg - c.minThresh)) / (c.maxThresh - c.minThresh) : c.maxP + ((1 - c.maxP) * (avg - c.maxThresh)) / c.maxThresh;
  let e1 = 0;
  let e2 = 0;
  for (let k = 1; (k - 1) * pb < 1; k++) {
    const tail = 1 - (k - 1) * pb; // P(N >= k)
    e1 += tail;
    e2 += (2 * k - 1) * tail;
  }
  const variance = e2 - e1 * e1;
  return { share: 1 / e1, pb, forced: false, sd: (n: number) => Math.sqrt(variance / (n / e1)) / (e1 * e1) };
}

const N = 200_000;

t.test("the drop share follows Click's RED formula along the curve (gentle)", async (t) => {
  const cfg = { minThresh: 10, maxThresh: 30, maxP: 0.1 };
  for (const length of [5, 10, 15, 20, 25, 30, 40, 50, 59, 61]) {
    const r = await atLength(t, cfg, length, N);
    const want = clickShare(cfg, length);
    const share = (r.early + r.forced) / N;
    // 5 standard deviations of the sampling error (a false failure about once in 1.7 million
    // runs; the generator's seed is fixed, so a run repeats, and every level here draws the same
    // random numbers), plus the first 100 packets, whose average (stability 4) is still rising.
    const tol = 5 * want.sd(N) + 100 / N;
    t.ok(Math.abs(share - want.share) <= tol, `length ${length}: p_b ${want.pb.toFixed(3)}, dropped ${(share * 100).toFixed(3)}% (${r.early} early, ${r.forced} forced), Click's formula ${(want.share * 100).toFixed(3)}% +- ${(tol * 100).toFixed(3)}`);
    // (The average, weight 1/16 a packet, passes 60 after about 64 packets.)
    if (want.forced) t.ok(r.forced >= N - 100, `length ${length}: above twice maxThresh every packet but the first ${N - r.forced} is a forced drop`);
    else t.equal(r.forced, 0, `length ${length}: no forced drops`);
    t.ok(Math.abs(r.avg - length) < 0.01, `length ${length}: the average is the length (${r.avg})`);
  }
});

t.test('without gentle, everything above maxThresh is dropped; stability 0 uses the length itself', async (t) => {
  const cfg = { minThresh: 10, maxThresh: 30, maxP: 0.1, gentle: false, stability: 0 };
  const below = await atLength(t, cfg, 30, N);
  const want = clickShare(cfg, 30);
  t.ok(Math.abs((below.early + below.forced) / N - want.share) <= 5 * want.sd(N), `at maxThresh: ${below.early} early drops, Click's ${(want.share * N).toFixed(0)}`);
  t.equal(below.forced, 0, 'at maxThresh nothing is forced');
  const above = await atLength(t, cfg, 31, N);
  t.same([above.forced, above.early, above.passed], [N, 0, 0], 'one above maxThresh: every packet a forced drop, from the first (stability 0)');
});

t.test('ECN: ECN-capable packets are marked CE (checksum fixed) instead of dropped early; others dropped', async (t) => {
  // Per round: IPv4 ECT(0), ECT(1), Not-ECT and IPv6 ECT(0), Not-ECT, 500 rounds, at an average
  // where p_b is 0.4.
  const kinds = [
    { v: 4, tos: 0x02 },
    { v: 4, tos: 0xb9 }, // DSCP 46 with ECT(1)
    { v: 4, tos: 0x00 },
    { v: 6, tos: 0x02 },
    { v: 6, tos: 0x00 },
  ];
  const frames: Buffer[] = [];
  for (let i = 0; i < 500; i++)
    for (const [k, { v, tos }] of kinds.entries()) {
      const f = v === 4 ? udp4Frame({ sport: 1000 + k, dport: i, payload: Buffer.alloc(18) }) : udp6Frame({ sport: 1000 + k, dport: i, payload: Buffer.alloc(18) });
      if (v === 4) {
        f[15] = tos;
        f.writeUInt16BE(0, 24);
        const h = f.subarray(14, 34);
        let s = 0;
        for (let j = 0; j < 20; j += 2) s += h.readUInt16BE(j);
        while (s > 0xffff) s = (s & 0xffff) + (s >> 16);
        f.writeUInt16BE(~s & 0xffff, 24);
      } else {
        f[15] = (f[15] & 0x0f) | ((tos & 0x0f) << 4); // traffic class bits 0-3 (ECN is bits 0-1)
        f[14] = (f[14] & 0xf0) | (tos >> 4);
      }
      frames.push(f);
    }
  writePcap(join(tmp, 'ecn-in.pcap'), frames.map((data) => ({ data })));
  const rt = new Runtime({ threads: 1, poolBuffers: 4096 });
  t.teardown(() => rt.close());
  const g = rt.load(
    compile(
      graph('red_ecn', () => {
        ballast(40);
        const red = RED({ minThresh: 10, maxThresh: 30, maxP: 0.1, ecn: true, queues: ['ballast'] }, 'red');
        const cl = Classifier({ patterns: ['12/0800', '12/86dd'] });
        FromPcap({ file: join(tmp, 'ecn-in.pcap'), active: false }, 'src').to(cl);
        cl.out(0).to(MarkIPHeader({ offset: 14 })).to(red);
        cl.out(1).to(CheckIP6Header({ offset: 14 })).to(red);
        red.to(Counter({}, 'passed')).to(ToPcap({ file: join(tmp, 'ecn-out.pcap') }, 'out'));
      }),
    ),
  );
  rt.start();
  await until('the ballast to fill', () => g.read('ballast', 'length') === '40');
  g.write('src', 'active', 'true');
  await until('every packet decided', () => num(g, 'passed', 'packets') + num(g, 'red', 'drops_early') === frames.length);
  const marks = num(g, 'red', 'marks');
  const dropsEarly = num(g, 'red', 'drops_early');
  rt.close();

  const out = readPcap(join(tmp, 'ecn-out.pcap')).packets.map((p) => p.data);
  const kindOf = (f: Buffer) => f.readUInt16BE(f.readUInt16BE(12) === 0x0800 ? 34 : 54) - 1000;
  const ecnOf = (f: Buffer) => (f.readUInt16BE(12) === 0x0800 ? parseIpv4(f, 14).tos & 3 : parseIpv6(f, 14).trafficClass & 3);
  const byKind = kinds.map((_, k) => out.filter((f) => kindOf(f) === k));
  t.same(byKind.map((l) => l.length).filter((_, k) => kinds[k].tos & 3), [500, 500, 500], 'no ECN-capable packet was dropped');
  const notEct = 1000 - byKind[2].length - byKind[4].length;
  t.equal(notEct, dropsEarly, `the ${dropsEarly} early drops are all Not-ECT packets`);
  const marked = out.filter((f) => ecnOf(f) === 3);
  t.equal(marked.length, marks, `${marks} packets marked CE`);
  // The early decisions fall on any packet: about p_b-spaced among all of them, so the Not-ECT
  // share dropped is about that of the marked ECN-capable packets.
  const share = clickShare({ minThresh: 10, maxThresh: 30, maxP: 0.1 }, 40).share;
  t.ok(Math.abs((marks + dropsEarly) / frames.length - share) < 0.05, `marks + drops ${marks + dropsEarly} of ${frames.length}, about Click's share ${share.toFixed(3)}`);
  t.ok(out.every((f) => f.readUInt16BE(12) !== 0x0800 || verifyIpv4Checksum(f, 14)), 'every IPv4 header checksum is right');
  const dscpKept = byKind[1].every((f) => parseIpv4(f, 14).tos >> 2 === 46);
  t.ok(dscpKept, 'marking kept the DSCP');
  const sent = new Map(frames.map((f) => [`${kindOf(f)}:${f.readUInt16BE(f.readUInt16BE(12) === 0x0800 ? 36 : 56)}`, f]));
  const unchanged = out.filter((f) => ecnOf(f) !== 3).every((f) => sent.get(`${kindOf(f)}:${f.readUInt16BE(f.readUInt16BE(12) === 0x0800 ? 36 : 56)}`)!.equals(f));
  t.ok(unchanged, 'unmarked packets left byte for byte as sent');
  const onlyEcn = marked.every((f) => {
    const orig = sent.get(`${kindOf(f)}:${f.readUInt16BE(f.readUInt16BE(12) === 0x0800 ? 36 : 56)}`)!;
    const diff = [...f.keys()].filter((i) => f[i] !== orig[i]);
    return f.readUInt16BE(12) === 0x0800 ? diff.every((i) => i === 15 || i === 24 || i === 25) : diff.every((i) => i === 15);
  });
  t.ok(onlyEcn, 'a marked packet differs from what was sent only in its ECN bits (and the IPv4 checksum)');

  // tcpdump, an independent reader, agrees: the CE marks, and no bad IPv4 checksum.
  if (spawnSync('tcpdump', ['--version'], { stdio: 'ignore' }).status !== 0) {
    t.comment('tcpdump check skipped: tcpdump is not installed (scripts/ensure-test-tools.sh installs it)');
    return;
  }
  const lines = spawnSync('tcpdump', ['-nn', '-v', '-r', join(tmp, 'ecn-out.pcap')], { encoding: 'utf8' }).stdout.split('\n').filter((l) => / IP6? \(/.test(l));
  t.equal(lines.length, out.length, `tcpdump read the ${out.length} packets`);
  const ce = lines.filter((l) => /\(tos 0x[0-9a-f]*[37b],CE,/.test(l) || /\(class 0x[0-9a-f]*[37bf],/.test(l));
  t.equal(ce.length, marks, `tcpdump sees CE on ${ce.length} packets`);
  t.same(lines.filter((l) => /bad cksum/.test(l)), [], 'tcpdump finds no bad IPv4 header checksum');
});

t.test('ECN: forced drops stay drops for ECN-capable packets', async (t) => {
  const frame = udp4Frame({ payload: Buffer.alloc(18) });
  frame[15] = 0x02;
  writePcap(join(tmp, 'ect.pcap'), Array.from({ length: 1000 }, () => ({ data: frame })));
  const rt = new Runtime({ threads: 1, poolBuffers: 4096 });
  t.teardown(() => rt.close());
  const g = rt.load(
    compile(
      graph('red_forced', () => {
        ballast(61);
        FromPcap({ file: join(tmp, 'ect.pcap'), active: false }, 'src').to(MarkIPHeader({ offset: 14 })).to(RED({ minThresh: 10, maxThresh: 30, maxP: 0.1, ecn: true, stability: 0, queues: ['ballast'] }, 'red')).to(Counter({}, 'passed')).to(Discard());
      }),
    ),
  );
  rt.start();
  await until('the ballast to fill', () => g.read('ballast', 'length') === '61');
  g.write('src', 'active', 'true');
  await until('1000 decisions', () => num(g, 'passed', 'packets') + num(g, 'red', 'drops_forced') + num(g, 'red', 'drops_early') === 1000);
  t.same([num(g, 'red', 'drops_forced'), num(g, 'red', 'marks'), num(g, 'passed', 'packets')], [1000, 0, 0], 'all 1000 forced drops, none marked');
});

t.test('output 1 takes the packets RED would drop; parameters change while running', async (t) => {
  const rt = new Runtime({ threads: 1, poolBuffers: 4096 });
  t.teardown(() => rt.close());
  const g = rt.load(
    compile(
      graph('red_out1', () => {
        ballast(20);
        const red = RED({ minThresh: 10, maxThresh: 30, maxP: 0.1, queues: ['ballast'] }, 'red');
        InfiniteSource({ length: 64, limit: 100_000, active: false }, 'src').to(red).to(Counter({}, 'passed')).to(Discard());
        red.out(1).to(Counter({}, 'rejected')).to(Discard());
      }),
    ),
  );
  rt.start();
  await until('the ballast to fill', () => g.read('ballast', 'length') === '20');
  t.equal(g.read('red', 'queues'), 'ballast\n', 'the queues handler names the ballast');
  g.write('src', 'active', 'true');
  await until('100000 decisions', () => num(g, 'passed', 'packets') + num(g, 'rejected', 'packets') === 100_000);
  const early = num(g, 'red', 'early');
  t.equal(num(g, 'rejected', 'packets'), early, `output 1 got the ${early} early decisions, counted in early`);
  t.same([num(g, 'red', 'drops_early'), num(g, 'red', 'drops_forced')], [0, 0], 'nothing dropped');
  const want = clickShare({ minThresh: 10, maxThresh: 30, maxP: 0.1 }, 20);
  t.ok(Math.abs(early / 100_000 - want.share) < 5 * want.sd(100_000) + 50 / 100_000, `share ${(early / 1000).toFixed(2)}%, Click's ${(want.share * 100).toFixed(2)}%`);

  // Raise minThresh above the length: no more early decisions.
  g.write('red', 'min_thresh', '25');
  t.equal(g.read('red', 'min_thresh'), '25');
  t.equal(g.config('red').minThresh, 25, 'the config handler shows the written minThresh');
  t.throws(() => g.write('red', 'max_thresh', '20'), /must be at least min_thresh/, 'max_thresh below min_thresh is refused');
  t.throws(() => g.write('red', 'max_p', '0'), /max_p/, 'max_p 0 is refused');
  g.write('src', 'reset', '');
  await until('100000 more decisions', () => num(g, 'passed', 'packets') + num(g, 'rejected', 'packets') === 200_000);
  t.equal(num(g, 'red', 'early'), early, 'with min_thresh 25 above the length 20, no packet was rejected');
});

t.test('the compiler finds the queues downstream, as Click does; bad configs name the field', async (t) => {
  const redOf = (build: () => void) => compile(graph('red_flow', build)).elements.find((e) => e.class === 'RED')!.config.queues;
  t.same(
    redOf(() => InfiniteSource().to(RED({ minThresh: 5, maxThresh: 15, maxP: 0.1 })).to(Counter()).to(Queue({}, 'q')).to(Unqueue()).to(Discard())),
    ['q'],
    'through a Counter to the Queue',
  );
  t.same(
    redOf(() => {
      const tee = InfiniteSource().to(RED({ minThresh: 5, maxThresh: 15, maxP: 0.1 })).to(Tee());
      tee.out(0).to(Queue({}, 'q1')).to(Unqueue()).to(Discard());
      tee.out(1).to(Queue({}, 'q2')).to(Unqueue()).to(Discard());
    }),
    ['q1', 'q2'],
    'both queues after a Tee',
  );
  const Shaped = compound({ name: 'Shaped', inputs: 1, outputs: 1 }, ({ input, output }) => {
    input.to(RED({ minThresh: 5, maxThresh: 15, maxP: 0.1, queues: ['q'] }, 'red')).to(Queue({}, 'q')).to(Unqueue()).to(output);
  });
  t.same(
    redOf(() => InfiniteSource().to(Shaped({}, 'up')).to(Discard())),
    ['up/q'],
    "a name in 'queues' is looked up in RED's compound",
  );
  const bad = (cfg: object, build?: (red: ReturnType<typeof RED>) => void) => () =>
    compile(
      graph('red_bad', () => {
        const red = InfiniteSource().to(RED(cfg as never, 'red'));
        if (build) build(red);
        else red.to(Queue({}, 'q')).to(Unqueue()).to(Discard());
      }),
    );
  t.throws(bad({ minThresh: 20, maxThresh: 10, maxP: 0.1 }), /'red' \(RED\).*config field 'minThresh' \(20\) must be at most 'maxThresh' \(10\)/);
  t.throws(bad({ minThresh: 5, maxThresh: 10, maxP: 0 }), /config field 'maxP'/);
  t.throws(bad({ minThresh: 5, maxThresh: 10, maxP: 1.5 }), /config field 'maxP'/);
  t.throws(bad({ minThresh: 5, maxThresh: 10 }), /'maxP' must be given/);
  t.throws(bad({ minThresh: 5, maxThresh: 10, maxP: 0.1 }, (red) => red.to(Discard())), /no queue downstream of output 0/);
  t.throws(bad({ minThresh: 5, maxThresh: 10, maxP: 0.1, queues: ['c'] }, (red) => red.to(Counter({}, 'c')).to(Discard())), /config field 'queues': 'c' \(Counter\) is not a queue/);
  t.throws(bad({ minThresh: 5, maxThresh: 10, maxP: 0.1, queues: ['nope'] }), /config field 'queues': no element 'nope'/);
  t.throws(bad({ minThresh: 5, maxThresh: 10, maxP: 0.1, stability: 17 }), /config field 'stability'/);
});

t.test('the average decays by one step per 20 ms while the queues are empty (virtual clock)', async (t) => {
  const T0 = 1_000_000_000; // 50 ticks of 20 ms exactly
  const rt = new Runtime({ threads: 1, poolBuffers: 4096, virtualClockNs: T0 });
  t.teardown(() => rt.close());
  const g = rt.load(
    compile(
      graph('red_idle', () => {
        ballast(20);
        InfiniteSource({ length: 64, rate: 1000, burst: 1, active: false }, 'src').to(RED({ minThresh: 100, maxThresh: 200, maxP: 0.1, stability: 1, queues: ['ballast'] }, 'red')).to(Discard());
      }),
    ),
  );
  rt.start();
  const at = (ms: number) => rt.setVirtualTime(T0 + ms * 1_000_000);
  at(0);
  g.write('src', 'active', 'true');
  for (let ms = 1; ms <= 60; ms++) at(ms);
  const avg = () => Number(g.read('red', 'avg_queue_size'));
  t.ok(Math.abs(avg() - 20) < 1e-9, `with the ballast at 20 for 60 packets, the average is 20 (${avg()})`);
  g.write('hold', 'active', 'true'); // drain the ballast
  at(61); // the first packet to see the queues empty: one zero sample (weight 1/2)
  t.ok(Math.abs(avg() - 10) < 1e-9, `the first packet at empty queues halved it (${avg()})`);
  const want: [number, number][] = [];
  const got: [number, number][] = [];
  for (let ms = 62; ms <= 160; ms++) {
    at(ms);
    // Ticks are whole 20 ms of the clock: 61 ms is in tick 3 (from T0), so the average halves again at 80, 100, ...
    const steps = 1 + Math.floor(ms / 20) - Math.floor(61 / 20);
    want.push([ms, 20 * 0.5 ** steps]);
    got.push([ms, Number(avg().toPrecision(12))]);
  }
  t.same(got, want.map(([ms, v]) => [ms, Number(v.toPrecision(12))]), 'one more halving at each 20 ms tick, none between');
  rt.stop();
});
