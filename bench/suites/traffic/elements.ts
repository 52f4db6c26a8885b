// The traffic suite's elements: how each rate element, scheduler and traffic-management stage is
// placed in a benchmark graph, configured from a rate in bits per second, re-rated while
// running, and what its cost is measured against. Every phase (accuracy, convergence, cost, lab)
// takes its elements from here, so an element is added in this one file; configs follow each
// element's descriptor (elements/<group>/<Name>.ts). An element this build does not have (not
// merged yet) is looked up by name and left out, listed in the results' notes.
import * as pg from 'pktgraph';
import { InfiniteSource, FlowSource, Queue, Unqueue, Discard, RatedUnqueue, RoundRobinSched, PrioSched, RoundRobinSwitch, type ElementNode, type NodeOptions } from 'pktgraph';

/** A 64-byte Ethernet/IPv4/UDP frame (198.18.0.1 -> 198.19.0.1), checksums right (as the engine suite's). */
export const IPV4_UDP_64 = '020000000002' + '020000000001' + '0800' + '45000032000000004011ee93c6120001c6130001' + '04000009001e6f81' + '00'.repeat(22);

type Ctor = (config?: Record<string, unknown>, options?: NodeOptions | string) => ElementNode;

/** The constructor of element class `name` in this build, or undefined. */
export function elementClass(name: string): Ctor | undefined {
  const c = (pg as unknown as Record<string, unknown>)[name];
  return typeof c === 'function' && pg.findDescriptor(name) ? (c as Ctor) : undefined;
}

/** Element `name` with `config` (only called for classes `needs` lists, checked present first). */
const el = (name: string, config: Record<string, unknown>, options: NodeOptions | string): ElementNode => elementClass(name)!(config, options);

/**
 * A rate element: what its rate counts, where it sits, how it is made and re-rated.
 * - 'unqueue': pull in, push out (after a Queue, in Unqueue's place);
 * - 'pull': pull in and out (between a Queue and whatever pulls);
 * - 'queue': push in, pull out (in the Queue's place: it holds the packets itself);
 * - 'push': push in, the conforming rate out of output 0 (the rest out of output 1).
 */
export interface RateElement {
  name: string;
  /** Element classes it needs (it is left out when one is missing). */
  needs: string[];
  unit: 'packets' | 'bits';
  place: 'unqueue' | 'pull' | 'queue' | 'push';
  /** What the case descriptions say about its configuration. */
  setup: string;
  /** Compared with Linux tc on veth (shapers of a device's egress). */
  lab: boolean;
  /** Push elements: sources on this many workers push into the one element (default 1). */
  workers?: number;
  /** The element, at `rate` in its own unit, with a bucket of `burstBytes`, for packets of `packetBytes`. */
  make(rate: number, burstBytes: number, packetBytes: number, name: string): ElementNode;
  /** The handler that sets the rate while running, and its text for `rate` (its own unit). */
  rateHandler: string;
  rateText(rate: number, burstBytes: number): string;
}

/** A rate in bits per second in an element's unit, for packets of `packetBytes` bytes. */
export function inUnit(e: { unit: RateElement['unit'] }, bps: number, packetBytes: number): number {
  return e.unit === 'bits' ? bps : bps / 8 / packetBytes;
}

const packets = (burstBytes: number, packetBytes: number) => Math.max(1, Math.round(burstBytes / packetBytes));

/** HTBSched as a shaped link: class 'link' at the rate under the root, two leaves under it
 *  (guaranteed a fifth of the link each, ceiling the whole link), every packet to leaf 'a'. */
function htbLink(rate: number, burst: number, name: string): ElementNode {
  const leaf = (n: string, match: number) => ({ name: n, parent: 'link', rate: rate / 5, ceil: rate, burst, cburst: burst, match });
  return el('HTBSched', { default: 'a', classes: [{ name: 'link', parent: 'root', rate, burst, cburst: burst }, leaf('a', 0), leaf('b', 1)] }, name);
}

const allRateElements: RateElement[] = [
  {
    name: 'RatedUnqueue', needs: ['RatedUnqueue'], unit: 'packets', place: 'unqueue', lab: true,
    setup: 'RatedUnqueue (packets per second: the bit rate / (8 x packet bytes); burst in packets, at most 256)',
    make: (rate, burst, size, name) => RatedUnqueue({ rate, burst: Math.min(256, packets(burst, size)) }, name),
    rateHandler: 'rate', rateText: (rate) => String(rate),
  },
  {
    name: 'Shaper', needs: ['Shaper'], unit: 'packets', place: 'pull', lab: true,
    setup: 'Shaper (packets per second: the bit rate / (8 x packet bytes); burst in packets)',
    make: (rate, burst, size, name) => el('Shaper', { rate, burst: packets(burst, size) }, name),
    rateHandler: 'rate', rateText: (rate) => String(rate),
  },
  {
    name: 'BandwidthShaper', needs: ['BandwidthShaper'], unit: 'bits', place: 'pull', lab: true,
    setup: 'BandwidthShaper (bits per second; burst in bytes)',
    make: (rate, burst, _size, name) => el('BandwidthShaper', { rate, burst }, name),
    rateHandler: 'rate', rateText: (rate) => String(rate),
  },
  {
    name: 'BandwidthRatedUnqueue', needs: ['BandwidthRatedUnqueue'], unit: 'bits', place: 'unqueue', lab: true,
    setup: 'BandwidthRatedUnqueue (bits per second; burst in bytes)',
    make: (rate, burst, _size, name) => el('BandwidthRatedUnqueue', { rate, burst }, name),
    rateHandler: 'rate', rateText: (rate) => String(rate),
  },
  {
    name: 'RatedSplitter', needs: ['RatedSplitter'], unit: 'packets', place: 'push', lab: false,
    setup: 'RatedSplitter (packets per second; burst in packets), output 0 counted',
    make: (rate, burst, size, name) => el('RatedSplitter', { rate, burst: packets(burst, size) }, name),
    rateHandler: 'rate', rateText: (rate) => String(rate),
  },
  {
    name: 'BandwidthRatedSplitter', needs: ['BandwidthRatedSplitter'], unit: 'bits', place: 'push', lab: false,
    setup: 'BandwidthRatedSplitter (bits per second; burst in bytes), output 0 counted',
    make: (rate, burst, _size, name) => el('BandwidthRatedSplitter', { rate, burst }, name),
    rateHandler: 'rate', rateText: (rate) => String(rate),
  },
  {
    name: 'Policer (srTCM)', needs: ['Policer'], unit: 'bits', place: 'push', lab: false,
    setup: "Policer, RFC 2697 colour-blind (cir = the rate, cbs = the bucket, ebs 0: nothing yellow; red 'pass' to output 1), green (output 0) counted",
    make: (rate, burst, _size, name) => el('Policer', { cir: Math.round(rate), cbs: burst, ebs: 0, redAction: 'pass' }, name),
    rateHandler: 'cir', rateText: (rate) => String(Math.round(rate)),
  },
  {
    name: 'Policer (srTCM), 2 workers', needs: ['Policer'], unit: 'bits', place: 'push', lab: false, workers: 2,
    setup: "one Policer, RFC 2697 colour-blind as above, pushed into by two sources on two workers (each at half the offered rate): its buckets are shared, so the pair is held to the rate",
    make: (rate, burst, _size, name) => el('Policer', { cir: Math.round(rate), cbs: burst, ebs: 0, redAction: 'pass' }, name),
    rateHandler: 'cir', rateText: (rate) => String(Math.round(rate)),
  },
  {
    name: 'HTBSched', needs: ['HTBSched'], unit: 'bits', place: 'queue', lab: true,
    setup: "HTBSched: class 'link' at the rate under the root, leaves 'a' and 'b' under it (each guaranteed a fifth of the link, ceiling the link; burst = cburst = the bucket), every packet to leaf 'a', which borrows the rest",
    make: (rate, burst, _size, name) => htbLink(rate, burst, name),
    rateHandler: 'change', rateText: (rate, burst) => JSON.stringify({ name: 'link', rate, burst, cburst: burst }),
  },
];

/** A scheduler between backlogged classes: their shares when every class has packets. */
export interface SchedElement {
  name: string;
  needs: string[];
  setup: string;
  /** The class weights the case gives it. */
  weights: number[];
  /** 'sched': a pull scheduler over one Queue per class, a link element after it; 'link': it
   *  classifies by paint, queues and holds the link's rate itself (HTBSched). */
  kind: 'sched' | 'link';
  /** The scheduler (for 'link', at `linkBps` with buckets of `burstBytes`), classes in order. */
  make(name: string, linkBps: number, burstBytes: number): ElementNode;
  /** Each class's share (fractions of the link) when all are backlogged with equal frames. */
  shares: number[];
}

const allSchedElements: SchedElement[] = [
  { name: 'RoundRobinSched', needs: ['RoundRobinSched'], setup: 'RoundRobinSched (equal shares)', weights: [1, 1], kind: 'sched', make: (name) => RoundRobinSched({}, name), shares: [0.5, 0.5] },
  { name: 'DRRSched', needs: ['DRRSched'], setup: 'DRRSched (quanta 1514 and 4542 bytes: shares 1:3)', weights: [1, 3], kind: 'sched', make: (name) => el('DRRSched', { quanta: [1514, 3 * 1514] }, name), shares: [0.25, 0.75] },
  { name: 'WFQSched', needs: ['WFQSched'], setup: 'WFQSched (weights 1 and 3)', weights: [1, 3], kind: 'sched', make: (name) => el('WFQSched', { weights: [1, 3] }, name), shares: [0.25, 0.75] },
  {
    name: 'HTBSched', needs: ['HTBSched'], setup: "HTBSched: class 'link' at the link's rate, leaf 0 guaranteed a quarter, leaf 1 three quarters, both ceiling the link (leaf 0 alone borrows it all)", weights: [1, 3], kind: 'link',
    make: (name, bps, burst) =>
      el('HTBSched', { classes: [{ name: 'link', parent: 'root', rate: bps, burst, cburst: burst }, ...[0.25, 0.75].map((f, k) => ({ name: `c${k}`, parent: 'link', rate: bps * f, ceil: bps, burst, cburst: burst, match: k }))] }, name),
    shares: [0.25, 0.75],
  },
];

const present = (needs: string[]) => needs.every((n) => elementClass(n));
export const rateElements = allRateElements.filter((e) => present(e.needs));
export const schedElements = allSchedElements.filter((e) => present(e.needs));

/**
 * A cost case: the graph with the element and the baseline without it, a 64-byte source flat
 * out; the cost is the difference of engine CPU ns per packet reaching `sink`.
 */
export interface CostCase {
  name: string;
  needs: string[];
  description: string;
  /** What the baseline graph is. */
  baseline: string;
  /** Workers (one pipeline each, sharing the element). */
  threads: number;
  /** The target in ns per packet (20 per shaping or policing stage, 60 for the 1000-leaf hierarchy). */
  targetNs?: number;
  build(withElement: boolean): void;
}

const SINK = 'sink';
export const SINK_NAME = SINK;
const source = (name = 'src', thread?: number) => InfiniteSource({ data: IPV4_UDP_64, burst: 32 }, thread === undefined ? name : { name, thread });
type Opts = { needs?: string[]; targetNs?: number };
const needsOf = (name: string, o: Opts) => o.needs ?? [name.split(' ')[0]];

/** source -> Queue -> X -> Unqueue -> Discard against source -> Queue -> Unqueue -> Discard. */
function pullCost(name: string, make: () => ElementNode, description: string, o: Opts = {}): CostCase {
  return {
    name, needs: needsOf(name, o), description, threads: 1, targetNs: o.targetNs,
    baseline: 'InfiniteSource -> Queue -> Unqueue -> Discard',
    build: (w) => {
      const q = source().to(Queue({ capacity: 1024 }, 'q'));
      (w ? q.to(make()) : q).to(Unqueue({ burst: 32 }, 'pump')).to(Discard({}, SINK));
    },
  };
}

/** source -> Queue -> X (in Unqueue's place) -> Discard against source -> Queue -> Unqueue -> Discard. */
function unqueueCost(name: string, make: () => ElementNode, description: string, o: Opts = {}): CostCase {
  return {
    name, needs: needsOf(name, o), description, threads: 1, targetNs: o.targetNs,
    baseline: 'InfiniteSource -> Queue -> Unqueue -> Discard',
    build: (w) => void source().to(Queue({ capacity: 1024 }, 'q')).to(w ? make() : Unqueue({ burst: 32 }, 'pump')).to(Discard({}, SINK)),
  };
}

/** `threads` sources (one per worker) -> X -> Discard (every output to a Discard) against sources -> Discard. */
function pushCost(name: string, make: () => ElementNode, outputs: number, description: string, o: Opts & { threads?: number } = {}): CostCase {
  const threads = o.threads ?? 1;
  return {
    name, needs: needsOf(name, o), description, threads, targetNs: o.targetNs,
    baseline: threads > 1 ? `${threads} InfiniteSources, one per worker, -> Discard` : 'InfiniteSource -> Discard',
    build: (w) => {
      const srcs = Array.from({ length: threads }, (_, i) => source(`src${i}`, threads > 1 ? i : undefined));
      if (!w) return void srcs.forEach((s, i) => s.to(Discard({}, i ? `${SINK}${i}` : SINK)));
      const x = make();
      srcs.forEach((s) => s.to(x));
      x.out(0).to(Discard({}, SINK));
      for (let k = 1; k < outputs; k++) x.out(k).to(Discard({}, `${SINK}${k}`));
    },
  };
}

/** source -> X (a queue) -> Unqueue -> Discard against source -> Queue -> Unqueue -> Discard. */
function queueCost(name: string, make: () => ElementNode, description: string, o: Opts & { src?: () => ElementNode } = {}): CostCase {
  const src = o.src ?? (() => source());
  return {
    name, needs: needsOf(name, o), description, threads: 1, targetNs: o.targetNs,
    baseline: `${o.src ? 'the same source' : 'InfiniteSource'} -> Queue -> Unqueue -> Discard`,
    build: (w) => void src().to(w ? make() : Queue({ capacity: 1024 }, 'q')).to(Unqueue({ burst: 32 }, 'pump')).to(Discard({}, SINK)),
  };
}

/**
 * A scheduler over `inputs` Queues fed in turn by a RoundRobinSwitch, against the same graph
 * with RoundRobinSched (Click's simplest scheduler) in its place: the extra cost of the
 * scheduler's decisions over plain round robin.
 */
function schedCost(name: string, make: () => ElementNode, inputs: number, description: string, o: Opts = {}): CostCase {
  return {
    name, needs: needsOf(name, o), description, threads: 1, targetNs: o.targetNs,
    baseline: `the same graph with RoundRobinSched in the scheduler's place (InfiniteSource -> RoundRobinSwitch -> ${inputs} Queues -> RoundRobinSched -> Unqueue -> Discard)`,
    build: (w) => {
      const sw = source().to(RoundRobinSwitch({}, 'split'));
      const s = w ? make() : RoundRobinSched({}, 'rr');
      for (let i = 0; i < inputs; i++) sw.out(i).to(Queue({ capacity: 256 }, `q${i}`)).to(s.in(i));
      s.to(Unqueue({ burst: 32 }, 'pump')).to(Discard({}, SINK));
    },
  };
}

/** 1000 UDP flows (source ports 1024-2023), 64 B, table_id = the source port (SetTableID at offset 34). */
const thousandFlows = () => FlowSource({ flows: 1000, burst: 32 }, 'src').to(el('SetTableID', { offset: 34 }, 'tid'));

/** HTBSched, 3 levels: 'link' -> 10 classes -> 100 leaves each (1000, matched by table_id 1024-2023); rates far above the load. */
function htb1000(): ElementNode {
  const classes: Record<string, unknown>[] = [{ name: 'link', parent: 'root', rate: 1e12 }];
  for (let m = 0; m < 10; m++) {
    classes.push({ name: `m${m}`, parent: 'link', rate: 1e11 });
    for (let l = 0; l < 100; l++) classes.push({ name: `l${m}.${l}`, parent: `m${m}`, rate: 1e9, match: 1024 + m * 100 + l });
  }
  return el('HTBSched', { key: 'table_id', classes, maxClasses: 2048 }, 'x');
}

const STAGE = 20;
const allCostCases: CostCase[] = [
  unqueueCost('RatedUnqueue', () => RatedUnqueue({ rate: 1e10, burst: 32 }, 'x'), 'RatedUnqueue at 10^10 packets/s (never the bottleneck: the cost of its token bucket) in place of Unqueue.', { targetNs: STAGE }),
  pullCost('Shaper', () => el('Shaper', { rate: 1e10 }, 'x'), 'Shaper at 10^10 packets/s (never the bottleneck) between the Queue and the Unqueue.', { targetNs: STAGE }),
  pullCost('BandwidthShaper', () => el('BandwidthShaper', { rate: 1e12 }, 'x'), 'BandwidthShaper at 1 Tbit/s (never the bottleneck) between the Queue and the Unqueue.', { targetNs: STAGE }),
  unqueueCost('BandwidthRatedUnqueue', () => el('BandwidthRatedUnqueue', { rate: 1e12 }, 'x'), 'BandwidthRatedUnqueue at 1 Tbit/s (never the bottleneck) in place of Unqueue.', { targetNs: STAGE }),
  pushCost('RatedSplitter', () => el('RatedSplitter', { rate: 1e10 }, 'x'), 2, 'RatedSplitter at 10^10 packets/s (every packet within the rate) between the source and Discard.', { targetNs: STAGE }),
  pushCost('BandwidthRatedSplitter', () => el('BandwidthRatedSplitter', { rate: 1e12 }, 'x'), 2, 'BandwidthRatedSplitter at 1 Tbit/s (every packet within the rate) between the source and Discard.', { targetNs: STAGE }),
  pushCost('Policer srTCM, colour-blind, all green', () => el('Policer', { cir: 1e12, cbs: 100000, ebs: 100000 }, 'x'), 1, 'Policer, RFC 2697 colour-blind at 1 Tbit/s: every packet green and passed.', { needs: ['Policer'], targetNs: STAGE }),
  pushCost('Policer trTCM, colour-aware, mixed colours painted', () => el('Policer', { mode: 'trtcm', cir: 10e9, cbs: 1500, pir: 15e9, pbs: 3000, colorAware: true, greenAction: 'paint', yellowAction: 'paint', redAction: 'paint' }, 'x'), 3, 'Policer, RFC 2698 colour-aware, cir 10 Gbit/s, pir 15 Gbit/s, small buckets: the flat-out source is over both, so packets are green, yellow and red, each painted and sent to its colour\'s output.', { needs: ['Policer'], targetNs: STAGE }),
  pushCost('Policer srTCM shared by 2 workers', () => el('Policer', { cir: 1e12, cbs: 100000, ebs: 100000 }, 'x'), 1, 'One Policer (RFC 2697 colour-blind at 1 Tbit/s, all green) pushed into by two sources on two workers: its buckets are shared under a lock taken once per batch.', { needs: ['Policer'], targetNs: STAGE, threads: 2 }),
  {
    name: 'RED', needs: ['RED'], threads: 1,
    description: 'RED (minThresh 5, maxThresh 50, maxP 0.02) before the Queue, watching it (the queue stays short: nothing dropped, the cost of averaging and deciding).',
    baseline: 'InfiniteSource -> Queue -> Unqueue -> Discard',
    build: (w) => void (w ? source().to(el('RED', { minThresh: 5, maxThresh: 50, maxP: 0.02 }, 'x')) : source()).to(Queue({ capacity: 1024 }, 'q')).to(Unqueue({ burst: 32 }, 'pump')).to(Discard({}, SINK)),
  },
  queueCost('CoDel', () => el('CoDel', { capacity: 1024 }, 'x'), 'CoDel (capacity 1024, target 5 ms, interval 100 ms) in place of the Queue (sojourn times stay far below target: the cost of stamping and checking).'),
  queueCost('FQCoDel', () => el('FQCoDel', {}, 'x'), 'FQCoDel (1024 flow queues, quantum 1514) in place of the Queue, fed 1000 UDP flows (FlowSource, 64 B) hashed by their 5-tuple.', { src: () => FlowSource({ flows: 1000, burst: 32 }, 'src') }),
  schedCost('DRRSched (8 inputs)', () => el('DRRSched', {}, 'x'), 8, 'DRRSched (quantum 1514 bytes each) over 8 backlogged Queues fed in turn.'),
  schedCost('WFQSched (8 inputs)', () => el('WFQSched', {}, 'x'), 8, 'WFQSched (weight 1 each) over 8 backlogged Queues fed in turn.'),
  pullCost('RoundRobinSched (1 input)', () => RoundRobinSched({}, 'x'), 'RoundRobinSched with one input between the Queue and the Unqueue: what a round-robin stage adds per packet.'),
  pullCost('PrioSched (1 input)', () => PrioSched({}, 'x'), 'PrioSched with one input between the Queue and the Unqueue: what a strict-priority stage adds per packet.'),
  schedCost('PrioSched (8 inputs)', () => PrioSched({}, 'x'), 8, 'PrioSched over 8 backlogged Queues fed in turn (input 0 drains first, then the others).'),
  queueCost(
    'HTBSched, 3 levels, 1000 leaves',
    htb1000,
    "HTBSched with a 3-level tree (the link, 10 classes, 100 leaves under each: 1000 leaves, key 'table_id', every rate far above the load) in place of the Queue, fed 1000 UDP flows (FlowSource, 64 B) whose source port SetTableID makes the table_id, one flow per leaf.",
    { needs: ['HTBSched', 'SetTableID'], targetNs: 60, src: thousandFlows },
  ),
];
export const costCases = allCostCases.filter((c) => present(c.needs));

/** What this build lacks, for the notes. */
export function missingElements(): string[] {
  const names = new Set([...allRateElements, ...allSchedElements, ...allCostCases].flatMap((x) => x.needs));
  return [...names].filter((n) => !elementClass(n)).sort();
}
