// Policer: RFC 2697 (srTCM) and RFC 2698 (trTCM) three-colour metering. Packets come from a
// pcap file played at its recorded pace on an engine with a virtual clock (moved only by the
// test, to each arrival time in turn), so every arrival time and bucket level is exact: the
// RFCs' rules are checked on worked sequences (bucket fills, overflow from C into E, packets
// exactly at and one byte over a bucket's level, the colour-aware rules), then colour for colour
// against a reference model (BigInt arithmetic, below) on random arrivals, sizes and colours.
// Each packet's colour is read from the output (or the PaintSwitch output) it left on, through
// ToPcap files. Two sources on two worker threads into one Policer hold the configured green
// rate under the virtual clock (exactly) and on the real clock (bounded by rate x elapsed time).
import t, { type Test } from 'tap';
import { readFileSync, rmSync } from 'node:fs';
import {
  compile,
  graph,
  Runtime,
  FromPcap,
  Classifier,
  Paint,
  PaintSwitch,
  Policer,
  ToPcap,
  InfiniteSource,
  MarkIPHeader,
  Counter,
  Discard,
} from 'pktgraph';
import { writePcap, readPcap, LINKTYPE_RAW } from './lib/pcap.js';
import { ipv4, ipv6, verifyIpv4Checksum } from './lib/packets.js';
import { tmpPath } from './lib/run.js';
import { rng } from './lib/rng.js';

const T0 = 1_000_000_000; // the virtual clock's start, ns
const MS = 1_000_000;
type Colour = 0 | 1 | 2; // green, yellow, red
const G = 0,
  Y = 1,
  R = 2;

interface Arrival {
  t: number; // ns after the first arrival
  size: number; // bytes (the whole frame: these frames have no network header)
  pre?: Colour; // the colour it arrives with (its paint annotation)
}
type PolicerConfig = Parameters<typeof Policer>[0] & object;
interface Change {
  at: number; // applied just before the arrivals at or after this time
  field: string;
  value: string;
}

// ---- the reference model: RFC 2697 section 4 and RFC 2698 section 3, in BigInt ----
// Credit in 1e-9 bit units (a rate of R bit/s adds R per ns; a byte costs 8e9), buckets full at
// the start, credit accrued per batch of simultaneous arrivals, a rate change applying to the
// credit gathered since the previous batch, a smaller burst cutting its bucket, a new mode
// refilling both (the element's documented behaviour).
const UNIT = 8_000_000_000n;
class Model {
  p: Required<Pick<PolicerConfig, 'mode' | 'cir' | 'cbs' | 'ebs' | 'pir' | 'pbs' | 'colorAware'>>;
  c: bigint;
  e: bigint; // E (srTCM) or P (trTCM)
  last = -1;
  constructor(cfg: PolicerConfig) {
    this.p = { mode: 'srtcm', ebs: 0, pir: 0, pbs: 0, colorAware: false, ...cfg } as Model['p'];
    this.c = this.dc();
    this.e = this.d2();
  }
  dc() {
    return BigInt(this.p.cbs) * UNIT;
  }
  d2() {
    return BigInt(this.p.mode === 'trtcm' ? this.p.pbs : this.p.ebs) * UNIT;
  }
  set(field: string, value: string) {
    const before = this.p.mode;
    (this.p as Record<string, unknown>)[field] = field === 'mode' ? value : field === 'colorAware' ? value === 'true' : Number(value);
    if (this.p.mode !== before) {
      this.c = this.dc();
      this.e = this.d2();
    }
    if (this.c > this.dc()) this.c = this.dc();
    if (this.e > this.d2()) this.e = this.d2();
  }
  refill(now: number) {
    if (this.last >= 0 && now <= this.last) return;
    const dt = BigInt(this.last < 0 ? 0 : now - this.last);
    this.last = now;
    const fill = (level: bigint, depth: bigint, add: bigint): [bigint, bigint] => (level + add <= depth ? [level + add, 0n] : [depth, level + add - depth]);
    const [c, over] = fill(this.c, this.dc(), BigInt(this.p.cir) * dt);
    this.c = c;
    this.e = fill(this.e, this.d2(), this.p.mode === 'trtcm' ? BigInt(this.p.pir) * dt : over)[0];
  }
  meter(size: number, preIn: Colour | undefined): Colour {
    const b = BigInt(size) * UNIT;
    const pre = this.p.colorAware ? preIn ?? G : G;
    if (this.p.mode === 'srtcm') {
      if (pre === G && this.c >= b) return (this.c -= b), G;
      if (pre !== R && this.e >= b) return (this.e -= b), Y;
      return R;
    }
    if (pre === R || this.e < b) return R;
    if (pre === Y || this.c < b) return (this.e -= b), Y;
    this.e -= b;
    this.c -= b;
    return G;
  }
  run(arrivals: Arrival[], changes: Change[] = []): Colour[] {
    const todo = [...changes];
    return arrivals.map((a) => {
      while (todo.length && todo[0].at <= a.t) {
        const ch = todo.shift()!;
        this.set(ch.field, ch.value);
      }
      this.refill(a.t);
      return this.meter(a.size, a.pre);
    });
  }
}

// ---- the engine side ----
// A frame of `size` bytes: an experimental EtherType (0x88b5), its colour on arrival at byte 14
// (a Classifier paints it) and its index at bytes 15-18.
function frame(i: number, a: Arrival): Buffer {
  const f = Buffer.alloc(a.size);
  Buffer.from('020000000002020000000001', 'hex').copy(f, 0);
  f.writeUInt16BE(0x88b5, 12);
  f[14] = a.pre ?? 0;
  f.writeUInt32BE(i, 15);
  return f;
}

/** Plays `arrivals` into a Policer (three outputs, or paint + PaintSwitch) on the virtual clock and
 *  returns each packet's colour (undefined: dropped) and the Policer's counters. */
function meter(
  t: Test,
  cfg: PolicerConfig,
  arrivals: Arrival[],
  opts: { route?: 'outputs' | 'paint'; changes?: Change[]; name?: string } = {},
): { colours: (Colour | undefined)[]; counters: Record<string, number> } {
  const name = opts.name ?? 'pol';
  const files = [0, 1, 2].map((c) => tmpPath(`${name}-${c}.pcap`));
  const input = tmpPath(`${name}-in.pcap`);
  t.teardown(() => [input, ...files].forEach((f) => rmSync(f, { force: true })));
  writePcap(
    input,
    arrivals.map((a, i) => ({ data: frame(i, a), tsNs: 1_700_000_000_000_000_000n + BigInt(a.t) })),
    { nanosecond: true },
  );
  const paint = opts.route === 'paint';
  const plan = compile(
    graph(name, () => {
      const cl = FromPcap({ file: input, timing: true, burst: 256 }).to(Classifier({ patterns: ['14/00', '14/01', '-'] }));
      const pol = Policer(paint ? { ...cfg, greenAction: 'paint', yellowAction: 'paint', redAction: 'paint' } : cfg, 'pol');
      for (const c of [0, 1, 2]) cl.out(c).to(Paint({ color: c })).to(pol);
      const out = paint ? pol.to(PaintSwitch()) : pol;
      for (const c of [0, 1, 2]) out.out(c).to(ToPcap({ file: files[c] }));
    }),
  );
  const rt = new Runtime({ threads: 1, poolBuffers: 4096, virtualClockNs: T0 });
  t.teardown(() => rt.close());
  const g = rt.load(plan);
  rt.start();
  const todo = [...(opts.changes ?? [])];
  let last = -1;
  for (const a of arrivals) {
    if (a.t === last) continue;
    while (todo.length && todo[0].at <= a.t) {
      const ch = todo.shift()!;
      g.write('pol', ch.field, ch.value);
    }
    rt.setVirtualTime(T0 + a.t); // the packets due at a.t go through in this round
    last = a.t;
  }
  const counters = Object.fromEntries(Object.entries(g.counters('pol')).map(([k, v]) => [k, Number(v)]));
  rt.stop();
  g.remove(); // ToPcap writes its files out
  const colours: (Colour | undefined)[] = arrivals.map(() => undefined);
  for (const c of [0, 1, 2] as Colour[])
    for (const p of readPcap(files[c]).packets) {
      const i = p.data.readUInt32BE(15);
      if (colours[i] !== undefined) throw new Error(`packet ${i} left twice`);
      colours[i] = c;
    }
  return { colours, counters };
}

const names = ['green', 'yellow', 'red'];
const show = (cs: (Colour | undefined)[]) => cs.map((c) => (c === undefined ? '-' : names[c][0])).join('');

// ---- worked sequences from the RFCs' text ----
t.test('srTCM (RFC 2697), colour-blind: C fills at CIR, its overflow fills E, exact boundaries', async (t) => {
  // CIR 8000 bit/s = 1 byte per ms; CBS 1000, EBS 500 bytes; both buckets start full.
  const cfg: PolicerConfig = { cir: 8000, cbs: 1000, ebs: 500 };
  const arrivals: Arrival[] = [
    // t=0: C=1000, E=500. 500 green (C 500), 500 green (C 0), 500 yellow (E 0), 500 red.
    { t: 0, size: 500 },
    { t: 0, size: 500 },
    { t: 0, size: 500 },
    { t: 0, size: 500 },
    // t=250 ms: C=250 (E does not fill while C is not full): 500 is red (red takes no tokens).
    { t: 250 * MS, size: 500 },
    // t=499 ms: C=499, one byte short of 500: red; t=500 ms: C=500 exactly: green (C 0).
    { t: 499 * MS, size: 500 },
    { t: 500 * MS, size: 500 },
    // Idle to t=3500 ms: C fills to 1000 by t=1500 ms, the next 2000 bytes overflow into E (cap 500).
    // 1000 green (C 0), 500 yellow (E 0), 60 red.
    { t: 3500 * MS, size: 1000 },
    { t: 3500 * MS, size: 500 },
    { t: 3500 * MS, size: 60 },
    // 60 ms later: C=60, E=0: 60 green exactly, then 60 red.
    { t: 3560 * MS, size: 60 },
    { t: 3560 * MS, size: 60 },
  ];
  const want: Colour[] = [G, G, Y, R, R, R, G, G, Y, R, G, R];
  const { colours, counters } = meter(t, { ...cfg, redAction: 'pass' }, arrivals);
  t.equal(show(colours), show(want), 'colours as derived from RFC 2697');
  t.equal(show(new Model(cfg).run(arrivals)), show(want), 'the reference model agrees');
  t.same([counters.green_packets, counters.yellow_packets, counters.red_packets], [5, 2, 5], 'counters per colour');
  t.same([counters.green_bytes, counters.yellow_bytes, counters.red_bytes], [500 + 500 + 500 + 1000 + 60, 500 + 500, 500 * 3 + 60 + 60], 'bytes per colour');
});

t.test('srTCM, colour-aware: a yellow packet never turns green, a red one stays red', async (t) => {
  const cfg: PolicerConfig = { cir: 8000, cbs: 1000, ebs: 500, colorAware: true };
  const arrivals: Arrival[] = [
    // C=1000, E=500: yellow 500 takes from E only (yellow, E 0; C stays 1000).
    { t: 0, size: 500, pre: Y },
    // green 500: green (C 500). red 60: red though C holds 500. yellow 60: E is empty, so red
    // (not green, though C holds 500).
    { t: 1, size: 500, pre: G },
    { t: 2, size: 60, pre: R },
    { t: 3, size: 60, pre: Y },
    // green 500: green exactly (C 0); green 60: C empty, E empty: red.
    { t: 4, size: 500, pre: G },
    { t: 5, size: 60, pre: G },
  ];
  const want: Colour[] = [Y, G, R, R, G, R];
  const { colours } = meter(t, { ...cfg, redAction: 'pass' }, arrivals);
  t.equal(show(colours), show(want), 'colours as derived from RFC 2697 section 4 (colour-aware)');
  t.equal(show(new Model(cfg).run(arrivals)), show(want), 'the reference model agrees');
  const blind = meter(t, { ...cfg, colorAware: false, redAction: 'pass' }, arrivals, { name: 'pol-blind' });
  // Colour-blind: 500 green, 500 green (C 0), 60 and 60 yellow (E 380), 500 red, 60 yellow.
  t.equal(show(blind.colours), 'ggyyry', 'colour-blind, the same packets ignore their paint');
  t.equal(show(new Model({ ...cfg, colorAware: false }).run(arrivals)), 'ggyyry', 'the reference model agrees');
});

t.test('trTCM (RFC 2698), colour-blind and colour-aware', async (t) => {
  // CIR 8000 bit/s (1 byte/ms), CBS 1000; PIR 16000 bit/s (2 bytes/ms), PBS 1500.
  const cfg: PolicerConfig = { mode: 'trtcm', cir: 8000, cbs: 1000, pir: 16000, pbs: 1500 };
  const arrivals: Arrival[] = [
    // C=1000, P=1500: 1000 green (P 500, C 0); 500 yellow (P 0); 60 red.
    { t: 0, size: 1000 },
    { t: 0, size: 500 },
    { t: 0, size: 60 },
    // t=100 ms: C=100, P=200: 200 yellow (P 0, C stays 100); 60 red.
    { t: 100 * MS, size: 200 },
    { t: 100 * MS, size: 60 },
    // t=130 ms: C=130, P=60: 60 green exactly (P 0, C 70).
    { t: 130 * MS, size: 60 },
    // t=160 ms: C=100, P=60: 61 red (one byte over P), then 60 green.
    { t: 160 * MS, size: 61 },
    { t: 160 * MS, size: 60 },
    // Idle 10 s: both full again (C=1000, P=1500): 1000 green, 500 yellow.
    { t: 10_160 * MS, size: 1000 },
    { t: 10_160 * MS, size: 500 },
  ];
  const want: Colour[] = [G, Y, R, Y, R, G, R, G, G, Y];
  const { colours } = meter(t, { ...cfg, redAction: 'pass' }, arrivals);
  t.equal(show(colours), show(want), 'colours as derived from RFC 2698 (colour-blind)');
  t.equal(show(new Model(cfg).run(arrivals)), show(want), 'the reference model agrees');

  const aware: Arrival[] = [
    // C=1000, P=1500: yellow 500 takes from P only (yellow; P 1000, C 1000).
    { t: 0, size: 500, pre: Y },
    // red 60: red whatever the buckets hold. green 1000 (2 ns on): green (P 0, C 0). green 60: P
    // (a few ns of credit) holds less than 60 bytes: red.
    { t: 1, size: 60, pre: R },
    { t: 2, size: 1000, pre: G },
    { t: 3, size: 60, pre: G },
    // 100 ms after the buckets emptied: C=100, P=200: yellow 100: yellow (never green; P 100).
    // green 100 a nanosecond later: green (P and C just above 100 bytes).
    { t: 100 * MS + 2, size: 100, pre: Y },
    { t: 100 * MS + 3, size: 100, pre: G },
  ];
  const wantAware: Colour[] = [Y, R, G, R, Y, G];
  const a = meter(t, { ...cfg, colorAware: true, redAction: 'pass' }, aware, { name: 'pol-aware' });
  t.equal(show(a.colours), show(wantAware), 'colours as derived from RFC 2698 (colour-aware)');
  t.equal(show(new Model({ ...cfg, colorAware: true }).run(aware)), show(wantAware), 'the reference model agrees');
});

// ---- the reference model on random arrivals ----

/** Random arrivals: sizes 60-1514, gaps mostly around the mean packet time at the offered rate,
 *  some simultaneous (one batch, one colour on arrival so that the Classifier keeps their order),
 *  some long idle times that fill the buckets. */
function randomArrivals(seed: number, n: number, meanGapNs: number): Arrival[] {
  const rnd = rng(seed).next;
  const out: Arrival[] = [];
  let now = 0;
  let pre: Colour = G;
  for (let i = 0; i < n; i++) {
    const r = rnd();
    const same = i > 0 && r < 0.15;
    if (!same) {
      now += r < 0.93 ? 1 + Math.floor(rnd() * 2 * meanGapNs) : Math.floor(rnd() * 20 * meanGapNs);
      const q = rnd();
      pre = q < 0.6 ? G : q < 0.85 ? Y : R;
    }
    out.push({ t: i === 0 ? 0 : now, size: 60 + Math.floor(rnd() * 1455), pre });
  }
  return out;
}

const cases: { name: string; cfg: PolicerConfig; route?: 'paint' }[] = [
  { name: 'srTCM colour-blind', cfg: { cir: 7_777_777, cbs: 3000, ebs: 6000 } },
  { name: 'srTCM colour-aware', cfg: { cir: 7_777_777, cbs: 3000, ebs: 6000, colorAware: true } },
  { name: 'trTCM colour-blind', cfg: { mode: 'trtcm', cir: 6_543_210, cbs: 2000, pir: 11_111_111, pbs: 5000 } },
  { name: 'trTCM colour-aware (through paint and PaintSwitch)', cfg: { mode: 'trtcm', cir: 6_543_210, cbs: 2000, pir: 11_111_111, pbs: 5000, colorAware: true }, route: 'paint' },
];
for (const [k, c] of cases.entries()) {
  t.test(`reference model, random arrivals: ${c.name}`, async (t) => {
    // Mean size 787 bytes every 600 us: about 10.5 Mbit/s offered.
    const arrivals = randomArrivals(1000 + k, 1500, 600_000);
    const want = new Model(c.cfg).run(arrivals);
    const { colours, counters } = meter(t, { ...c.cfg, redAction: 'pass' }, arrivals, { route: c.route, name: `pol-rand${k}` });
    const tally = (cs: (Colour | undefined)[]) => [G, Y, R].map((x) => cs.filter((y) => y === x).length);
    t.ok(tally(want).every((x) => x > 50), `every colour is well represented: ${tally(want)}`);
    const first = colours.findIndex((x, i) => x !== want[i]);
    t.equal(first, -1, first < 0 ? `${arrivals.length} packets coloured as the model does` : `packet ${first} (t ${arrivals[first].t} ns, ${arrivals[first].size} B): engine ${colours[first]}, model ${want[first]}`);
    t.same([counters.green_packets, counters.yellow_packets, counters.red_packets], tally(want), 'counters per colour');
    const bytes = [G, Y, R].map((x) => arrivals.reduce((s, a, i) => s + (want[i] === x ? a.size : 0), 0));
    t.same([counters.green_bytes, counters.yellow_bytes, counters.red_bytes], bytes, 'bytes per colour');
  });
}

t.test('handlers: rates, bursts and mode written while running, checked like the config', async (t) => {
  const cfg: PolicerConfig = { cir: 7_777_777, cbs: 3000, ebs: 6000, pir: 9_000_000, pbs: 4000 };
  const arrivals = randomArrivals(77, 1200, 600_000);
  const end = arrivals[arrivals.length - 1].t;
  const changes: Change[] = [
    { at: end * 0.2, field: 'cir', value: '4000000' },
    { at: end * 0.3, field: 'cbs', value: '1500' }, // smaller: C is cut to it
    { at: end * 0.4, field: 'mode', value: 'trtcm' }, // both buckets full again
    { at: end * 0.5, field: 'pir', value: '12000000' },
    { at: end * 0.6, field: 'colorAware', value: 'true' },
    { at: end * 0.7, field: 'mode', value: 'srtcm' },
    { at: end * 0.8, field: 'ebs', value: '0' },
  ];
  const want = new Model(cfg).run(arrivals, changes);
  const { colours } = meter(t, { ...cfg, redAction: 'pass' }, arrivals, { changes, name: 'pol-handlers' });
  const first = colours.findIndex((x, i) => x !== want[i]);
  t.equal(first, -1, first < 0 ? 'every packet coloured as the model does through the changes' : `packet ${first} at ${arrivals[first].t}: engine ${colours[first]}, model ${want[first]}`);

  // Bad writes are refused with the field and the rule, and change nothing.
  const rt = new Runtime({ threads: 1, poolBuffers: 256 });
  t.teardown(() => rt.close());
  const g = rt.load(compile(graph('h', () => InfiniteSource({ limit: 0 }).to(Policer({ cir: 1000, cbs: 100 }, 'pol')).to(Discard()))));
  t.throws(() => g.write('pol', 'mode', 'trtcm'), /pir \(0 bit\/s\) is below cir/, 'trtcm with no peak rate');
  t.throws(() => g.write('pol', 'cbs', '0'), /cbs and ebs are both 0/, 'no burst at all');
  t.throws(() => g.write('pol', 'cir', '0'), /cir/, 'a zero rate');
  t.throws(() => g.write('pol', 'cbs', '-5'), /cbs/, 'a negative burst');
  t.throws(() => g.write('pol', 'redAction', 'explode'), /redAction: 'explode' is not/, 'an unknown action');
  t.throws(() => g.write('pol', 'greenDscp', '64'), /greenDscp/, 'a DSCP out of range');
  t.throws(() => g.write('pol', 'mode', 'tbf'), /mode/, 'an unknown mode');
  g.write('pol', 'pir', '2000');
  g.write('pol', 'pbs', '300');
  g.write('pol', 'mode', 'trtcm');
  t.equal(g.read('pol', 'mode'), 'trtcm', 'with a peak rate and burst set, trtcm is accepted');
  t.throws(() => g.write('pol', 'cir', '3000'), /pir \(2000 bit\/s\) is below cir \(3000 bit\/s\)/, 'cir above pir in trtcm');
  t.equal(g.read('pol', 'cir'), '1000', 'a refused write changed nothing');
  t.equal(g.read('pol', 'tokens'), '100 300', 'a new mode starts both buckets full (C 100, P 300 bytes)');
  t.match(g.read('pol', 'config'), /"mode":"trtcm"/, 'the config handler shows the written mode');
});

t.test('bad configs are compile errors naming the field', async (t) => {
  const bad: [PolicerConfig, RegExp][] = [
    [{ cir: 0, cbs: 1000 }, /config field 'cir' must be >= 1/],
    [{ cir: 1000, cbs: -1 }, /config field 'cbs' must be >= 0/],
    [{ cir: 1000, cbs: 1000, ebs: -1 }, /config field 'ebs' must be >= 0/],
    [{ cir: 1000, cbs: 0, ebs: 0 }, /config fields 'cbs' and 'ebs' are both 0/],
    [{ mode: 'trtcm', cir: 2000, cbs: 1000, pir: 1000, pbs: 1000 }, /config field 'pir' \(1000 bit\/s\) is below 'cir' \(2000 bit\/s\)/],
    [{ mode: 'trtcm', cir: 1000, cbs: 1000, pbs: 1000 }, /config field 'pir' \(0 bit\/s\) is below 'cir'/],
    [{ mode: 'trtcm', cir: 1000, cbs: 0, pir: 1000, pbs: 1000 }, /config field 'cbs' is 0: mode 'trtcm'/],
    [{ mode: 'trtcm', cir: 1000, cbs: 1000, pir: 1000, pbs: 0 }, /config field 'pbs' is 0: mode 'trtcm'/],
    [{ cir: 1000, cbs: 1000, greenAction: 'mark' as 'paint' }, /config field 'greenAction' must be/],
    [{ cir: 1000, cbs: 1000, redDscp: 64 }, /config field 'redDscp' must be <= 63/],
  ];
  for (const [cfg, msg] of bad)
    t.throws(() => compile(graph('bad', () => InfiniteSource().to(Policer(cfg, 'pol')).to(Discard()))), new RegExp(`element 'pol' \\(Policer\\).*${msg.source}`), msg.source);
  t.throws(
    () => compile(graph('bad', () => { const p = InfiniteSource().to(Policer({ cir: 1000, cbs: 1000 }, 'pol')); for (let i = 0; i < 4; i++) p.out(i).to(Discard()); })),
    /pol/,
    'four outputs are refused',
  );
});

t.test('actions: drop, DSCP remarking of IPv4 and IPv6, two outputs, the length metered', async (t) => {
  // Raw IP packets (FromPcap sets the network header): CIR 8000 bit/s, CBS 100, EBS 100, all at
  // once: green, yellow, red in turn for packets of 100 bytes.
  const mk = (v: 4 | 6, tos: number) => (v === 4 ? ipv4({ tos, payload: Buffer.alloc(80) }) : ipv6({ trafficClass: tos, payload: Buffer.alloc(60) }));
  const pkts = [mk(4, 0x01), mk(4, 0x02), mk(4, 0x03), mk(6, 0x01), mk(6, 0x02), mk(6, 0x03)];
  t.ok(pkts.every((p) => p.length === 100), '100-byte packets');
  const input = tmpPath('pol-dscp-in.pcap');
  const out = [tmpPath('pol-dscp-0.pcap'), tmpPath('pol-dscp-1.pcap')];
  t.teardown(() => [input, ...out].forEach((f) => rmSync(f, { force: true })));
  writePcap(input, pkts.map((data, i) => ({ data, tsNs: 1_700_000_000_000_000_000n + BigInt(i < 3 ? 0 : 10 * MS) })), { nanosecond: true, linktype: LINKTYPE_RAW });
  // The IPv6 packets come 10 ms after the IPv4 ones; CIR 80 Mbit/s refills 100 kB in 10 ms, so
  // they meet full buckets again.
  const plan = compile(
    graph('dscp', () => {
      const pol = FromPcap({ file: input, timing: true }).to(Policer({ cir: 80_000_000, cbs: 100, ebs: 100, greenAction: 'dscp', yellowAction: 'dscp', redAction: 'dscp', greenDscp: 46, yellowDscp: 12, redDscp: 0 }, 'pol'));
      pol.out(0).to(ToPcap({ file: out[0], linktype: 101 }));
      pol.out(1).to(ToPcap({ file: out[1], linktype: 101 }));
    }),
  );
  const rt = new Runtime({ threads: 1, poolBuffers: 256, virtualClockNs: T0 });
  t.teardown(() => rt.close());
  const g = rt.load(plan);
  rt.start();
  rt.setVirtualTime(T0);
  rt.setVirtualTime(T0 + 10 * MS);
  const c = g.counters('pol');
  rt.stop();
  g.remove();
  const green = readPcap(out[0]).packets.map((p) => p.data);
  const other = readPcap(out[1]).packets.map((p) => p.data);
  t.equal(green.length, 2, 'two green packets on output 0');
  t.equal(other.length, 4, 'yellow and red share output 1 (two outputs)');
  const dscpOf = (p: Buffer) => (p[0] >> 4 === 4 ? p[1] : ((p[0] & 0xf) << 4) | (p[1] >> 4));
  t.same(green.map(dscpOf), [(46 << 2) | 1, (46 << 2) | 1], 'green: DSCP 46 (EF), ECN bits kept');
  t.same(other.map(dscpOf), [(12 << 2) | 2, 3, (12 << 2) | 2, 3], 'yellow: DSCP 12 (AF12), red: DSCP 0; ECN kept');
  t.ok([...green, ...other].filter((p) => p[0] >> 4 === 4).every((p) => verifyIpv4Checksum(p)), 'IPv4 header checksums still valid');
  t.same([...green, ...other].filter((p) => p[0] >> 4 === 6).map((p) => p.readUInt32BE(0) & 0xfffff), [0, 0, 0], 'IPv6 flow label untouched');
  t.equal(Number(c.green_bytes), 200, 'metered bytes: the IP packets');

  // Drops by colour, a DSCP remark without an IP header, and the metered length after MarkIPHeader.
  const eth = tmpPath('pol-eth-in.pcap');
  t.teardown(() => rmSync(eth, { force: true }));
  const ethFrame = (payload: Buffer, type: number) => Buffer.concat([Buffer.from('020000000002020000000001', 'hex'), Buffer.from([type >> 8, type & 0xff]), payload]);
  writePcap(eth, [0, 1, 2, 3].map((i) => ({ data: ethFrame(ipv4({ payload: Buffer.alloc(80) }), 0x0800), tsNs: 1_700_000_000_000_000_000n })), { nanosecond: true });
  const rt2 = new Runtime({ threads: 1, poolBuffers: 256, virtualClockNs: T0 });
  t.teardown(() => rt2.close());
  const g2 = rt2.load(
    compile(
      graph('drops', () => {
        const p = Policer({ cir: 8000, cbs: 100, ebs: 100, yellowAction: 'drop', redAction: 'drop' }, 'pol');
        FromPcap({ file: eth, timing: true }).to(MarkIPHeader({ offset: 14 })).to(p).to(Counter({}, 'c')).to(Discard());
        const q = Policer({ cir: 8000, cbs: 200, greenAction: 'dscp' }, 'nohdr');
        FromPcap({ file: eth, timing: true }).to(q).to(Discard());
      }),
    ),
  );
  rt2.start();
  rt2.setVirtualTime(T0);
  const k = (el: string, n: string) => Number(g2.counter(el, n));
  t.same([k('pol', 'green_packets'), k('pol', 'yellow_packets'), k('pol', 'red_packets')], [1, 1, 2], 'after MarkIPHeader 100-byte IP packets meter green, yellow, red, red');
  t.same([k('pol', 'drops_green'), k('pol', 'drops_yellow'), k('pol', 'drops_red'), k('c', 'packets')], [0, 1, 2, 1], 'yellow and red dropped and counted by colour');
  t.same([k('nohdr', 'green_packets'), k('nohdr', 'drops_no_header'), k('nohdr', 'drops_red')], [1, 1, 3], 'with no network header a 114-byte frame is metered whole (CBS 200: one green); the green one is dropped for want of an IP header to remark');
  rt2.stop();
});

t.test('two sources on two workers into one Policer hold the configured green rate (virtual clock)', async (t) => {
  // Each source sends 1000-byte packets at 1000/s (8 Mbit/s); the Policer's CIR is 8 Mbit/s with
  // CBS 10000 bytes: green is CBS + CIR x time, not twice it.
  const rt = new Runtime({ threads: 2, poolBuffers: 4096, virtualClockNs: T0 });
  t.teardown(() => rt.close());
  const g = rt.load(
    compile(
      graph('two', () => {
        const pol = Policer({ cir: 8_000_000, cbs: 10000, ebs: 0 }, 'pol');
        InfiniteSource({ length: 1000, rate: 1000, burst: 32 }, { name: 'a', thread: 0 }).to(Counter({}, 'ca')).to(pol);
        InfiniteSource({ length: 1000, rate: 1000, burst: 32 }, { name: 'b', thread: 1 }).to(Counter({}, 'cb')).to(pol);
        pol.to(Discard());
      }),
    ),
  );
  rt.start();
  for (let ms = 0; ms <= 1000; ms++) rt.setVirtualTime(T0 + ms * MS);
  const k = (el: string, n: string) => Number(g.counter(el, n));
  rt.stop();
  t.same([k('ca', 'packets'), k('cb', 'packets')], [1001, 1001], 'each worker pushed 1001 packets (one at the start, 1000 in the second)');
  // Green: the 10 packets of the full bucket, then 1000 bytes of credit per ms = 1 packet per ms.
  const green = k('pol', 'green_packets');
  t.ok(green >= 1009 && green <= 1011, `green ${green} packets = CBS + CIR x 1 s (1010), not twice it`);
  t.equal(k('pol', 'green_packets') + k('pol', 'red_packets'), 2002, 'every packet metered');
  t.equal(k('pol', 'drops_red'), k('pol', 'red_packets'), 'red dropped (the default)');
});

t.test('two workers on the real clock: green never exceeds CBS + CIR x elapsed time', async (t) => {
  const cir = 80_000_000; // 10 MB/s
  const cbs = 1_000_000; // 100 ms of credit: a worker descheduled that long loses none
  const rt = new Runtime({ threads: 2, poolBuffers: 16384 });
  t.teardown(() => rt.close());
  const g = rt.load(
    compile(
      graph('real', () => {
        const pol = Policer({ cir, cbs, ebs: 0, redAction: 'pass' }, 'pol');
        InfiniteSource({ length: 100 }, { name: 'a', thread: 0 }).to(Counter({}, 'ca')).to(pol);
        InfiniteSource({ length: 100 }, { name: 'b', thread: 1 }).to(Counter({}, 'cb')).to(pol);
        pol.to(Discard());
      }),
    ),
  );
  const t0 = process.hrtime.bigint();
  rt.start();
  await new Promise((r) => setTimeout(r, 1000));
  rt.stop();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const k = (el: string, n: string) => Number(g.counter(el, n));
  const green = k('pol', 'green_bytes');
  const limit = cbs + (cir / 8) * seconds;
  t.ok(k('ca', 'packets') > 10000 && k('cb', 'packets') > 10000, `both workers pushed (${k('ca', 'packets')}, ${k('cb', 'packets')})`);
  t.ok(green <= limit, `green ${green} bytes <= CBS + CIR x ${seconds.toFixed(3)} s = ${limit.toFixed(0)}`);
  // The sources always offer more than CIR, so green is about the limit; the lower bound leaves
  // room for a busy machine (credit beyond CBS is lost while both workers are descheduled).
  t.ok(green >= limit * 0.5, `green ${green} bytes is about the limit (at least half)`);
  t.equal(k('pol', 'green_packets') + k('pol', 'red_packets'), k('ca', 'packets') + k('cb', 'packets'), 'every packet metered once');
});
