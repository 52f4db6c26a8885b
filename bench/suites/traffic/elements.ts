// The traffic suite's elements: how each rate element, scheduler and traffic-management stage is
// placed in a benchmark graph, configured from a rate in bits per second, re-rated while
// running, and what its cost is measured against. Every phase (accuracy, convergence, cost, lab)
// takes its elements from here, so an element that lands is added in this one file. Configs
// follow each element's descriptor (elements/<group>/<Name>.ts).
import { InfiniteSource, Queue, Unqueue, Discard, RatedUnqueue, RoundRobinSched, PrioSched, RoundRobinSwitch, type ElementNode } from 'pktgraph';

/** A 64-byte Ethernet/IPv4/UDP frame (198.18.0.1 -> 198.19.0.1), checksums right (as the engine suite's). */
export const IPV4_UDP_64 = '020000000002' + '020000000001' + '0800' + '45000032000000004011ee93c6120001c6130001' + '04000009001e6f81' + '00'.repeat(22);

/**
 * A rate element: what its rate counts, where it sits, how it is made and re-rated.
 * - 'unqueue': pull in, push out (after a Queue, in Unqueue's place);
 * - 'pull': pull in and out (between a Queue and an Unqueue);
 * - 'push': push in, the conforming rate out of output 0 (the rest out of output 1).
 */
export interface RateElement {
  name: string;
  unit: 'packets' | 'bits' | 'bytes';
  place: 'unqueue' | 'pull' | 'push';
  /** What the case descriptions say about its configuration. */
  setup: string;
  /** The element, with `rate` in its own unit, a bucket of `burstBytes`, for frames of `frameBytes`. */
  make(rate: number, burstBytes: number, frameBytes: number, name: string): ElementNode;
  /** The handler that sets the rate while running, and the text for `rate` (its own unit). */
  rateHandler: string;
  rateText(rate: number): string;
}

/** A rate in bits per second in an element's unit, for frames of `frameBytes` bytes. */
export function inUnit(e: { unit: RateElement['unit'] }, bps: number, frameBytes: number): number {
  return e.unit === 'bits' ? bps : e.unit === 'bytes' ? bps / 8 : bps / 8 / frameBytes;
}

const clampBurst = (packets: number) => Math.max(1, Math.min(256, Math.round(packets)));

export const rateElements: RateElement[] = [
  {
    name: 'RatedUnqueue',
    unit: 'packets',
    place: 'unqueue',
    setup: 'RatedUnqueue (packets per second: the bit rate / (8 x frame bytes)), burst = the bucket in whole frames (at most 256)',
    make: (rate, burstBytes, frameBytes, name) => RatedUnqueue({ rate, burst: clampBurst(burstBytes / frameBytes) }, name),
    rateHandler: 'rate',
    rateText: (rate) => String(rate),
  },
];

/** A scheduler between backlogged classes: their shares when every class has packets. */
export interface SchedElement {
  name: string;
  setup: string;
  /** The scheduler for classes of these weights (one input each, in order). */
  make(weights: number[], name: string): ElementNode;
  /** Each class's share (fractions of the link) when all are backlogged with equal frames. */
  shares(weights: number[]): number[];
}

export const schedElements: SchedElement[] = [
  {
    name: 'RoundRobinSched',
    setup: 'RoundRobinSched (equal shares; weights do not apply)',
    make: (_w, name) => RoundRobinSched({}, name),
    shares: (w) => w.map(() => 1 / w.length),
  },
];

/**
 * A cost case: the graph with the element and the baseline without it, one worker, a 64-byte
 * source flat out; the cost is the difference of engine CPU ns per packet reaching `sink`.
 */
export interface CostCase {
  name: string;
  description: string;
  /** What the baseline graph is. */
  baseline: string;
  /** The target in ns per packet (20 per shaping or policing stage, 60 for the 1000-leaf hierarchy). */
  targetNs?: number;
  build(withElement: boolean): void;
}

const SINK = 'sink';
const source = () => InfiniteSource({ data: IPV4_UDP_64, burst: 32 }, 'src');

/** source -> Queue -> X -> Unqueue -> Discard against source -> Queue -> Unqueue -> Discard. */
export function pullCost(name: string, make: () => ElementNode, description: string, targetNs?: number): CostCase {
  return {
    name,
    description,
    baseline: 'InfiniteSource -> Queue -> Unqueue -> Discard',
    targetNs,
    build: (w) => {
      const q = source().to(Queue({ capacity: 1024 }, 'q'));
      (w ? q.to(make()) : q).to(Unqueue({ burst: 32 }, 'pump')).to(Discard({}, SINK));
    },
  };
}

/** source -> Queue -> X (in Unqueue's place) -> Discard against source -> Queue -> Unqueue -> Discard. */
export function unqueueCost(name: string, make: () => ElementNode, description: string, targetNs?: number): CostCase {
  return {
    name,
    description,
    baseline: 'InfiniteSource -> Queue -> Unqueue -> Discard',
    targetNs,
    build: (w) => {
      source().to(Queue({ capacity: 1024 }, 'q')).to(w ? make() : Unqueue({ burst: 32 }, 'pump')).to(Discard({}, SINK));
    },
  };
}

/** source -> X -> Discard (every output to a Discard) against source -> Discard. */
export function pushCost(name: string, make: () => ElementNode, outputs: number, description: string, targetNs?: number): CostCase {
  return {
    name,
    description,
    baseline: 'InfiniteSource -> Discard',
    targetNs,
    build: (w) => {
      if (!w) {
        source().to(Discard({}, SINK));
        return;
      }
      const x = source().to(make());
      x.out(0).to(Discard({}, SINK));
      for (let o = 1; o < outputs; o++) x.out(o).to(Discard({}, `${SINK}${o}`));
    },
  };
}

/** source -> X (a queue) -> Unqueue -> Discard against source -> Queue -> Unqueue -> Discard. */
export function queueCost(name: string, make: () => ElementNode, description: string, targetNs?: number): CostCase {
  return {
    name,
    description,
    baseline: 'InfiniteSource -> Queue -> Unqueue -> Discard',
    targetNs,
    build: (w) => {
      source().to(w ? make() : Queue({ capacity: 1024 }, 'q')).to(Unqueue({ burst: 32 }, 'pump')).to(Discard({}, SINK));
    },
  };
}

/**
 * A scheduler over `inputs` Queues fed in turn by a RoundRobinSwitch, against the same graph
 * with RoundRobinSched (Click's simplest scheduler) in its place: the extra cost of the
 * scheduler's decisions over plain round robin.
 */
export function schedCost(name: string, make: () => ElementNode, inputs: number, description: string, targetNs?: number): CostCase {
  return {
    name,
    description,
    baseline: `the same graph with RoundRobinSched in the scheduler's place (InfiniteSource -> RoundRobinSwitch -> ${inputs} Queues -> RoundRobinSched -> Unqueue -> Discard)`,
    targetNs,
    build: (w) => {
      const sw = source().to(RoundRobinSwitch({}, 'split'));
      const s = w ? make() : RoundRobinSched({}, 'rr');
      for (let i = 0; i < inputs; i++) sw.out(i).to(Queue({ capacity: 256 }, `q${i}`)).to(s.in(i));
      s.to(Unqueue({ burst: 32 }, 'pump')).to(Discard({}, SINK));
    },
  };
}

export const costCases: CostCase[] = [
  unqueueCost('RatedUnqueue', () => RatedUnqueue({ rate: 1e10, burst: 32 }, 'x'), 'RatedUnqueue at 10^10 packets/s (never the bottleneck: the cost of its token bucket per batch) in place of Unqueue.', 20),
  pullCost('RoundRobinSched (1 input)', () => RoundRobinSched({}, 'x'), 'RoundRobinSched with one input between the Queue and the Unqueue: what a round-robin stage adds per packet.'),
  pullCost('PrioSched (1 input)', () => PrioSched({}, 'x'), 'PrioSched with one input between the Queue and the Unqueue: what a strict-priority stage adds per packet.'),
  schedCost('PrioSched (8 inputs)', () => PrioSched({}, 'x'), 8, 'PrioSched over 8 backlogged Queues fed in turn (input 0 drains first, then the others).'),
];

export const SINK_NAME = SINK;
