// Fuzzing every element that parses packet headers: for each, a graph
//   FromPcap (one or more feeds) -> [preparation] -> Counter -> ELEMENT -> Counter -> ToPcap on every output
// is fed a few thousand packets: valid ones of the kinds the element handles, the same mutated
// (test/lib/fuzz.ts: bit flips, overwritten header bytes, truncation at header boundaries, edge
// lengths, garbage options, fragment fields, VLAN stacks, zero-length and oversized frames) and
// random bytes. Each run checks that the engine neither crashed nor hung (the graph drains within
// a time bound), that every packet in is accounted for (out on some output, counted as dropped,
// or consumed, per the element's own counters), that every buffer is back in the pool, that the
// packets on outputs are as well-formed as the element promises, and that valid packets get
// through (no drop counter swallows everything).
//
//   PG_FUZZ_SEED=N        the run's seed (printed; each element derives its own from it)
//   PG_FUZZ_ITERATIONS=N  packets per element (default 1500)
//   PG_FUZZ_ONLY=A,B      only these elements (test names)
//   PG_FUZZ_KEEP=1        keep the pcap files (input and outputs) for a failing case
//   PG_FUZZ_THREADS=N     workers (default 2; an element's feeds are spread over them)
//
// Under AddressSanitizer: bash scripts/sanitize-test.sh test/fuzz.test.ts
import t, { type Test } from 'tap';
import { rmSync } from 'node:fs';
import * as pg from 'pktgraph';
import { graph, compile, FromPcap, ToPcap, Counter, Strip, MarkIPHeader, type ElementNode } from 'pktgraph';
import { runCompiled, tmpPath } from './lib/run.js';
import { dhcpRequest } from './lib/dhcp.js';
import { writePcap, readPcap, LINKTYPE_RAW, LINKTYPE_ETHERNET } from './lib/pcap.js';
import { ether, ipv4, ipv6, udp, icmp4, checksum16, pseudoHeaderSum, mac, ETH_ARP, ETH_IPV4, ETH_IPV6, PROTO_UDP, PROTO_TCP, PROTO_ICMPV6 } from './lib/packets.js';
import {
  Rng,
  hashString,
  corpus,
  layoutOf,
  validIpv4,
  validIpv6,
  validFrame,
  fragmentSet,
  arpMessage,
  neighborMessage,
  vlanStack,
  hex,
  MACS,
  type Sample,
} from './lib/fuzz.js';

const SEED = Number(process.env.PG_FUZZ_SEED ?? 0x5eed2026) >>> 0;
const ITERATIONS = Math.max(50, Number(process.env.PG_FUZZ_ITERATIONS ?? 1500));
const ONLY = process.env.PG_FUZZ_ONLY ? new Set(process.env.PG_FUZZ_ONLY.split(',')) : undefined;
const KEEP = !!process.env.PG_FUZZ_KEEP;
// Feeds of one element are spread over the workers, so elements pushed from several workers
// (resolvers, EtherSwitch, IPRewriter, ...) are fuzzed with concurrent pushes too.
const THREADS = Math.max(1, Number(process.env.PG_FUZZ_THREADS ?? 2));
t.comment(`fuzz seed ${SEED} (PG_FUZZ_SEED=${SEED} reproduces), ${ITERATIONS} packets per element (PG_FUZZ_ITERATIONS)`);

type Counters = Record<string, number>;
type Link = 'raw' | 'ether';

/** One stream of packets into an input port. */
interface Feed {
  link: Link;
  gen: (r: Rng) => Sample;
  /** Share of the element's packets (default: split evenly). */
  share?: number;
  /** Elements between the source and the element under test. */
  prep?: (src: ElementNode, tag: string) => ElementNode;
  /** Frames get VLAN stacks sometimes. */
  vlan?: boolean;
  validShare?: number;
}

interface Spec {
  name: string;
  element: (name: string) => ElementNode;
  /** Feeds per input port. */
  inputs: Feed[][];
  outputs: number;
  outLink?: Link;
  /** A problem with a packet on output `port`, or undefined when it is fine. */
  check?: (port: number, p: Buffer) => string | undefined;
  /** Accounting: packets in (per input port), out (per output) and the element's counters. */
  balance?: (t: Test, c: Counters, ins: number[], outs: number[]) => void;
  /** Outputs that must carry packets: valid ones get through. */
  mustPass: number[];
  /** A reference model for single-feed specs: the output a packet must leave by, or -1 (dropped). */
  model?: (p: Buffer) => number;
  /** For single-feed specs: the bytes output 0 must carry for each input packet (null: none), in order. */
  expect?: (p: Buffer) => Buffer | null;
  timeoutSeconds?: number;
}

// ---------- packet views ----------

const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
const total = (c: Counters, re: RegExp) => sum(Object.entries(c).filter(([k]) => re.test(k)).map(([, v]) => v));

function ipv4Problem(p: Buffer, off = 0, o: { checksum?: boolean; exactLength?: boolean } = {}): string | undefined {
  if (p.length < off + 20) return `shorter than an IPv4 header (${p.length} bytes)`;
  if (p[off] >> 4 !== 4) return `version ${p[off] >> 4}`;
  const hl = (p[off] & 15) * 4;
  if (hl < 20 || p.length < off + hl) return `IHL ${hl / 4} with ${p.length - off} bytes`;
  const tl = p.readUInt16BE(off + 2);
  if (tl < hl || tl > p.length - off) return `total length ${tl} with ${p.length - off} bytes`;
  if (o.exactLength && tl !== p.length - off) return `total length ${tl} but ${p.length - off} bytes`;
  if ((o.checksum ?? true) && checksum16(p.subarray(off, off + hl)) !== 0) return 'wrong IPv4 header checksum';
  return undefined;
}

function ipv6Problem(p: Buffer, off = 0, exact = true): string | undefined {
  if (p.length < off + 40) return `shorter than an IPv6 header (${p.length} bytes)`;
  if (p[off] >> 4 !== 6) return `version ${p[off] >> 4}`;
  const pl = p.readUInt16BE(off + 4);
  if (exact ? pl + 40 !== p.length - off : pl + 40 > p.length - off) return `payload length ${pl} with ${p.length - off} bytes`;
  return undefined;
}

/** The transport checksum of an IPv4 datagram at 0 (UDP: over its length field; TCP: to the total length) is right. */
function l4v4Ok(p: Buffer, proto: number): boolean {
  const hl = (p[0] & 15) * 4;
  const tl = p.readUInt16BE(2);
  const len = proto === PROTO_UDP ? p.readUInt16BE(hl + 4) : tl - hl;
  const seg = p.subarray(hl, hl + len);
  return checksum16(seg, pseudoHeaderSum(p.subarray(12, 16), p.subarray(16, 20), proto, len)) === 0;
}

function icmp6Ok(p: Buffer, off = 0): boolean {
  const pl = p.readUInt16BE(off + 4);
  return checksum16(p.subarray(off + 40, off + 40 + pl), pseudoHeaderSum(p.subarray(off + 8, off + 24), p.subarray(off + 24, off + 40), PROTO_ICMPV6, pl)) === 0;
}


// ---------- feeds ----------

const raw4 = (gen: (r: Rng) => Buffer = validIpv4) => (r: Rng): Sample => {
  const d = gen(r);
  return { data: d, layout: layoutOf(d, 0, 4) };
};
const raw6 = (gen: (r: Rng) => Buffer = validIpv6) => (r: Rng): Sample => {
  const d = gen(r);
  return { data: d, layout: layoutOf(d, 0, 6) };
};
const eth = (family: 4 | 6 | 0, gen: (r: Rng) => Buffer, type?: number) => (r: Rng): Sample => {
  const l3 = gen(r);
  const et = type ?? (family === 4 ? ETH_IPV4 : family === 6 ? ETH_IPV6 : ETH_ARP);
  return { data: ether({ src: r.pick(MACS.slice(0, 3)), dst: r.pick(MACS), type: et, payload: l3, minLength: r.chance(0.4) ? 60 : 0 }), layout: layoutOf(l3, 14, family) };
};

/**
 * IPv4 elements get three feeds: raw IP (FromPcap sets the network-header annotation at the data),
 * Ethernet frames through Strip + MarkIPHeader (the transport annotation may then point past the
 * end), and Ethernet frames with no network-header annotation at all.
 */
function ip4Feeds(gen: (r: Rng) => Buffer = validIpv4): Feed[] {
  return [
    { link: 'raw', gen: raw4(gen), share: 0.6 },
    { link: 'ether', gen: eth(4, gen), share: 0.3, prep: (s, tag) => s.to(Strip({ length: 14 }, `strip_${tag}`)).to(MarkIPHeader({}, `mark_${tag}`)) },
    { link: 'ether', gen: eth(4, gen), share: 0.1 },
  ];
}
function ip6Feeds(gen: (r: Rng) => Buffer = validIpv6): Feed[] {
  return [
    { link: 'raw', gen: raw6(gen), share: 0.8 },
    { link: 'ether', gen: eth(6, gen), share: 0.2 },
  ];
}
const etherFeed = (kinds?: ('ipv4' | 'ipv6' | 'arp')[]): Feed => ({ link: 'ether', gen: (r) => validFrame(r, kinds), vlan: true });

// Valid inputs for the decapsulators.
function greFrame(r: Rng): Buffer {
  const inner = validIpv4(r);
  const key = r.chance(0.5);
  const csum = r.chance(0.3);
  const seq = r.chance(0.2);
  const flags = (csum ? 0x8000 : 0) | (key ? 0x2000 : 0) | (seq ? 0x1000 : 0);
  const h = Buffer.alloc(4 + (csum ? 4 : 0) + (key ? 4 : 0) + (seq ? 4 : 0));
  h.writeUInt16BE(flags, 0);
  h.writeUInt16BE(r.pick([0x0800, 0x86dd, 0x6558]), 2);
  let o = 4 + (csum ? 4 : 0);
  if (key) h.writeUInt32BE(r.pick([7, 7, 7, 8]), o), (o += 4);
  if (seq) h.writeUInt32BE(r.u32(), o);
  const gre = Buffer.concat([h, inner]);
  if (csum) gre.writeUInt16BE(checksum16(gre), 4);
  return ipv4({ src: '198.18.0.1', dst: '198.18.0.2', proto: 47, payload: gre });
}
function vxlanPacket(r: Rng): Buffer {
  const frame = validFrame(r).data;
  const vx = Buffer.alloc(8);
  vx[0] = 0x08;
  vx.writeUIntBE(r.pick([42, 42, 42, 43]), 4, 3);
  const payload = Buffer.concat([vx, frame]);
  const src = '198.18.0.1';
  const dst = '198.18.0.2';
  return ipv4({ src, dst, proto: PROTO_UDP, payload: udp({ sport: 50000, dport: 4789, payload, ...(r.chance(0.5) ? { src, dst } : {}) }) });
}
/** A client's DHCP message (DISCOVER, REQUEST, DECLINE, RELEASE, INFORM) as IPv4, for DHCPServer. */
function dhcpIpv4(r: Rng): Buffer {
  const f = dhcpRequest({
    type: r.pick([1, 1, 3, 3, 4, 7, 8]),
    chaddr: r.pick(MACS.slice(0, 3)),
    xid: r.u32(),
    ...(r.chance(0.5) ? { requested: `192.0.2.${100 + r.int(5)}` } : {}),
    ...(r.chance(0.5) ? { serverId: r.pick(['192.0.2.1', '192.0.2.9']) } : {}),
    ...(r.chance(0.3) ? { ciaddr: `192.0.2.${100 + r.int(5)}` } : {}),
    broadcast: r.chance(0.5),
  });
  return f.subarray(14);
}
/** IPv4 with options of every kind, for IPGWOptions. */
function optionsIpv4(r: Rng): Buffer {
  const opts = r.pick([
    Buffer.from([7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0]),
    Buffer.from([7, 7, 8, 1, 2, 3, 4]),
    Buffer.from([68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    Buffer.from([68, 20, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    Buffer.from([68, 12, 5, 3, 192, 0, 2, 1, 0, 0, 0, 0]),
    Buffer.from([68, 8, 9, 0xf0, 0, 0, 0, 0]),
    Buffer.from([1, 1, 0x83, 7, 4, 10, 0, 0, 1, 0]),
    Buffer.from([0x94, 4, 0, 0]),
  ]);
  return ipv4({ src: '10.0.0.1', dst: '10.0.0.2', options: opts, payload: udp({ payload: r.bytes(r.int(40)) }) });
}
/** A source of fragments: whole fragment sets (shuffled, sometimes a piece lost or doubled) mixed with whole datagrams. */
function fragmentGen(): (r: Rng) => Buffer {
  let pending: Buffer[] = [];
  return (r) => {
    while (!pending.length) pending = r.chance(0.8) ? fragmentSet(r) : [validIpv4(r)];
    return pending.shift()!;
  };
}

// ---------- the elements ----------

const ETH = 'ether' as const;
const countersFor = (c: Counters, names: string[]) => sum(names.map((n) => c[n] ?? 0));
const defaultDrops = /^(drops_|suppressed_)|^(rate_limited)$/;

const specs: Spec[] = [
  // standard
  {
    name: 'Classifier',
    element: (n) => pg.Classifier({ patterns: ['12/0800 23/11', '12/86dd', '12/0806 20/0001', '14/45%f0', '!12/0800 12/08??'] }, n),
    inputs: [[etherFeed()]],
    outputs: 5,
    outLink: ETH,
    mustPass: [0, 1, 2],
    model: (p) => {
      const at = (o: number, v: number, m = 0xff) => p.length > o && (p[o] & m) === v;
      if (at(12, 0x08) && at(13, 0x00) && at(23, 0x11)) return 0;
      if (at(12, 0x86) && at(13, 0xdd)) return 1;
      if (at(12, 0x08) && at(13, 0x06) && at(20, 0) && at(21, 1)) return 2;
      if (at(14, 0x40, 0xf0)) return 3;
      if (!(at(12, 0x08) && at(13, 0x00)) && at(12, 0x08) && p.length >= 14) return 4;
      return -1;
    },
  },
  { name: 'Strip', element: (n) => pg.Strip({ length: 14 }, n), inputs: [[etherFeed()]], outputs: 1, mustPass: [0], expect: (p) => (p.length >= 14 ? p.subarray(14) : null) },
  {
    name: 'Strip+Unstrip',
    element: (n) => pg.Unstrip({ length: 14 }, n),
    inputs: [[{ ...etherFeed(), prep: (s, tag) => s.to(Strip({ length: 14 }, `strip_${tag}`)) }]],
    outputs: 1,
    mustPass: [0],
    expect: (p) => (p.length >= 14 ? p : null),
  },
  {
    name: 'Unstrip',
    element: (n) => pg.Unstrip({ length: 14 }, n),
    inputs: [[{ ...etherFeed(), prep: (s, tag) => s.to(Strip({ length: 14 }, `strip_${tag}`)) }, { link: 'raw', gen: raw4() }]],
    outputs: 1,
    mustPass: [0],
  },
  {
    name: 'CheckLength',
    element: (n) => pg.CheckLength({ length: 200 }, n),
    inputs: [[etherFeed()]],
    outputs: 2,
    mustPass: [0, 1],
    model: (p) => (p.length <= 200 ? 0 : 1),
  },
  {
    name: 'HashSwitch',
    element: (n) => pg.HashSwitch({ offset: 26, length: 8 }, n),
    inputs: [[etherFeed()]],
    outputs: 3,
    mustPass: [0, 1, 2],
  },
  {
    // Stamps on packets of every length, some with a stale or corrupted marker, then measured.
    name: 'TimestampStamp+LatencyMeter',
    element: (n) => pg.LatencyMeter({ offset: 42 }, n),
    inputs: [
      [
        { ...etherFeed(), prep: (s, tag) => s.to(pg.TimestampStamp({ offset: 42 }, `stamp_${tag}`)) },
        { link: 'ether', gen: (r) => ({ data: Buffer.concat([r.bytes(42), Buffer.from('PGTS'), r.bytes(r.int(16))]), layout: { bounds: [42, 46, 54] } }) },
      ],
    ],
    outputs: 1,
    mustPass: [0],
    balance: (t, c, ins, outs) => t.equal(c.packets, outs[0], 'packets = output'),
  },
  // ip
  {
    name: 'CheckIPHeader',
    element: (n) => pg.CheckIPHeader({}, n),
    inputs: [[{ link: 'raw', gen: raw4() }]],
    outputs: 1,
    mustPass: [0],
    check: (_, p) => ipv4Problem(p, 0, { exactLength: true }) ?? (p.readUInt32BE(12) === 0xffffffff ? 'broadcast source' : p[12] >> 4 === 0xe ? 'multicast source' : undefined),
    model: (p) => {
      if (p.length < 20 || p.length < (p[0] & 15) * 4) return -1;
      const hl = (p[0] & 15) * 4;
      if (p[0] >> 4 !== 4 || hl < 20) return -1;
      const tl = p.readUInt16BE(2);
      if (tl < hl || tl > p.length) return -1;
      if (checksum16(p.subarray(0, hl)) !== 0) return -1;
      if (p.readUInt32BE(12) === 0xffffffff || (p[12] >= 224 && p[12] < 240)) return -1;
      return 0;
    },
  },
  { name: 'MarkIPHeader', element: (n) => pg.MarkIPHeader({}, n), inputs: [[{ link: 'raw', gen: raw4() }]], outputs: 1, mustPass: [0], model: (p) => (p.length >= 20 ? 0 : -1) },
  { name: 'GetIPAddress', element: (n) => pg.GetIPAddress({ offset: 16 }, n), inputs: [[{ link: 'raw', gen: raw4() }]], outputs: 1, mustPass: [0], model: (p) => (p.length >= 20 ? 0 : -1) },
  {
    name: 'DecIPTTL',
    element: (n) => pg.DecIPTTL({}, n),
    inputs: [ip4Feeds()],
    outputs: 2,
    mustPass: [0, 1],
    check: (port, p) => (p.length < 20 ? 'short' : port === 0 && p[8] < 1 ? `TTL ${p[8]} on output 0` : port === 1 && p[8] > 1 ? `TTL ${p[8]} on output 1` : undefined),
    balance: (t, c, ins, outs) => {
      t.equal(c.packets, outs[0], 'packets = output 0');
      t.equal(c.expired, outs[1], 'expired = output 1');
    },
  },
  {
    name: 'IPLookup',
    element: (n) => pg.IPLookup({ routes: ['10.0.0.0/8 0', '192.0.2.0/24 192.0.2.254 1', '198.18.0.0/15 2', '10.1.0.0/16 nexthop via 10.9.0.1 dev 1 nexthop via 10.9.0.2 dev 2'] }, n),
    inputs: [ip4Feeds()],
    outputs: 3,
    mustPass: [0, 1, 2],
  },
  { name: 'SetIPAddress', element: (n) => pg.SetIPAddress({ address: '192.0.2.9' }, n), inputs: [ip4Feeds()], outputs: 1, mustPass: [0] },
  {
    name: 'SetIPChecksum',
    element: (n) => pg.SetIPChecksum({}, n),
    inputs: [[{ link: 'raw', gen: raw4() }]],
    outputs: 1,
    mustPass: [0],
    check: (_, p) => (checksum16(p.subarray(0, (p[0] & 15) * 4)) === 0 ? undefined : 'wrong IPv4 header checksum'),
  },
  {
    name: 'SetIPDSCP',
    element: (n) => pg.SetIPDSCP({ dscp: 46 }, n),
    inputs: [[{ link: 'raw', gen: raw4() }]],
    outputs: 1,
    mustPass: [0],
    check: (_, p) => (p[1] >> 2 !== 46 ? `DSCP ${p[1] >> 2}` : undefined),
  },
  {
    // Remarking by colour: IPv4 and IPv6 headers at the network header (raw IP feeds), with
    // buckets small enough that all three colours occur.
    name: 'Policer',
    element: (n) => pg.Policer({ cir: 1e9, cbs: 3000, ebs: 3000, greenAction: 'dscp', yellowAction: 'dscp', redAction: 'dscp', greenDscp: 46, yellowDscp: 12, redDscp: 0 }, n),
    inputs: [[{ link: 'raw', gen: raw4(), share: 0.5 }, { link: 'raw', gen: raw6(), share: 0.5 }]],
    outputs: 3,
    mustPass: [0],
    check: (port, p) => {
      const want = [46, 12, 0][port];
      const dscp = p[0] >> 4 === 4 ? p[1] >> 2 : ((p[0] & 15) << 2) | (p[1] >> 6);
      return p[0] >> 4 !== 4 && p[0] >> 4 !== 6 ? `version ${p[0] >> 4} on output ${port}` : dscp !== want ? `DSCP ${dscp} on output ${port}` : undefined;
    },
  },
  {
    name: 'SetTCPChecksum',
    element: (n) => pg.SetTCPChecksum({}, n),
    inputs: [ip4Feeds()],
    outputs: 1,
    mustPass: [0],
    check: (_, p) => (p.length >= 20 && p[0] >> 4 === 4 && (p[0] & 15) >= 5 && p[9] === PROTO_TCP && !l4v4Ok(p, PROTO_TCP) ? 'wrong TCP checksum' : undefined),
  },
  {
    name: 'SetUDPChecksum',
    element: (n) => pg.SetUDPChecksum({}, n),
    inputs: [ip4Feeds()],
    outputs: 1,
    mustPass: [0],
    check: (_, p) => (p.length >= 20 && p[0] >> 4 === 4 && (p[0] & 15) >= 5 && p[9] === PROTO_UDP && !l4v4Ok(p, PROTO_UDP) ? 'wrong UDP checksum' : undefined),
  },
  {
    name: 'StripToNetworkHeader',
    element: (n) => pg.StripToNetworkHeader({}, n),
    inputs: [[...ip4Feeds(), { link: 'ether', gen: eth(4, validIpv4), share: 0.3, vlan: true, prep: (s, tag) => s.to(MarkIPHeader({ offset: 14 }, `mark14_${tag}`)) }]],
    outputs: 1,
    mustPass: [0],
  },
  {
    name: 'CheckICMPHeader',
    element: (n) => pg.CheckICMPHeader({}, n),
    inputs: [ip4Feeds((r) => (r.chance(0.7) ? icmpIpv4(r) : validIpv4(r)))],
    outputs: 1,
    mustPass: [0],
    // Like Click's, it trusts the IPv4 header it is given (CheckIPHeader checks the version and checksum).
    check: (_, p) => {
      if (p.length < 20) return `${p.length} bytes`;
      const hl = (p[0] & 15) * 4;
      const tl = p.readUInt16BE(2);
      if (hl < 20 || tl < hl || tl > p.length) return `IHL ${hl / 4}, total length ${tl}, ${p.length} bytes`;
      const m = p.subarray(hl, tl);
      return p[9] !== 1 ? `protocol ${p[9]}` : m.length < 8 ? `${m.length}-byte message` : checksum16(m) !== 0 ? 'wrong ICMP checksum' : undefined;
    },
  },
  {
    name: 'CheckICMPHeader(two outputs)',
    element: (n) => pg.CheckICMPHeader({}, n),
    inputs: [ip4Feeds((r) => (r.chance(0.7) ? icmpIpv4(r) : validIpv4(r)))],
    outputs: 2,
    mustPass: [0, 1],
    balance: (t, c, ins, outs) => {
      t.equal(sum(ins), sum(outs), 'in = output 0 + output 1');
      t.equal(c.rejected, outs[1], 'rejected = output 1');
    },
  },
  {
    name: 'PaintTee',
    element: (n) => pg.PaintTee({ color: 2 }, n),
    inputs: [[{ ...etherFeed(), prep: (s, tag) => s.to(pg.Paint({ color: 2 }, `paint_${tag}`)) }]],
    outputs: 2,
    outLink: ETH,
    mustPass: [0, 1],
    balance: (t, c, ins, outs) => {
      t.equal(outs[0], sum(ins), 'every packet on output 0');
      t.equal(outs[1], c.copies, 'copies = output 1');
      t.equal(c.copies + c.drops_pool_empty, sum(ins), 'a copy of each (or counted in drops_pool_empty)');
    },
  },
  {
    name: 'ICMPPingResponder',
    element: (n) => pg.ICMPPingResponder({}, n),
    inputs: [ip4Feeds()],
    outputs: 2,
    mustPass: [0, 1],
    check: (port, p) => {
      if (port !== 0) return undefined;
      const hl = (p[0] & 15) * 4;
      return p[9] !== 1 ? `protocol ${p[9]} in a reply` : p[hl] !== 0 ? `ICMP type ${p[hl]} in a reply` : p[8] !== 64 ? `TTL ${p[8]}` : undefined;
    },
    balance: (t, c, ins, outs) => {
      t.equal(c.replies, outs[0], 'replies = output 0');
      t.equal(c.not_echo, outs[1], 'not_echo = output 1');
    },
  },
  {
    name: 'ICMPError',
    element: (n) => pg.ICMPError({ src: '192.0.2.1', type: 'timeexceeded', rateLimit: 0 }, n),
    inputs: [ip4Feeds()],
    outputs: 1,
    mustPass: [0],
    // The ICMP header follows the IPv4 header, which has a returned source route at times.
    check: (_, p) => {
      const h = (p[0] & 15) * 4;
      return (
        ipv4Problem(p, 0, { exactLength: true }) ??
        (p[9] !== 1 ? `protocol ${p[9]}` : p.length > 576 ? `${p.length} bytes (over 576)` : p[h] !== 11 ? `ICMP type ${p[h]}` : checksum16(p.subarray(h)) !== 0 ? 'wrong ICMP checksum' : undefined)
      );
    },
    balance: (t, c, ins, outs) => t.equal(c.errors, outs[0], 'errors = output 0'),
  },
  {
    name: 'ICMPError(parameterproblem)',
    element: (n) => pg.ICMPError({ src: '192.0.2.1', type: 'parameterproblem', pointer: 3, rateLimit: 0 }, n),
    inputs: [ip4Feeds()],
    outputs: 1,
    mustPass: [0],
    check: (_, p) => ipv4Problem(p, 0, { exactLength: true }) ?? (checksum16(p.subarray((p[0] & 15) * 4)) !== 0 ? 'wrong ICMP checksum' : undefined),
  },
  ...([
    { link: 'raw', mtu: 576, name: 'IPFragmenter' },
    { link: 'ether', mtu: 576, name: 'IPFragmenter(Ethernet)' },
    // The smallest MTU: a 60-byte header leaves 8 bytes per fragment; DF ignored.
    { link: 'raw', mtu: 68, honorDF: false, name: 'IPFragmenter(mtu 68)' },
  ] as const).map(
    ({ link, mtu, name, ...rest }): Spec => ({
      name,
      element: (n) => pg.IPFragmenter({ mtu, ...rest }, n),
      // The Ethernet feed keeps its header in front (MarkIPHeader at 14): fragments get a copy of it.
      inputs: [[link === 'raw' ? { link: 'raw', gen: raw4() } : { link: 'ether', gen: eth(4, validIpv4), prep: (s, tag) => s.to(MarkIPHeader({ offset: 14 }, `mark_${tag}`)) }]],
      outputs: 2,
      outLink: link,
      mustPass: 'honorDF' in rest ? [0] : [0, 1],
      check: (port, p) => {
        const off = link === 'raw' ? 0 : 14;
        if (port === 1) return undefined;
        const e = ipv4Problem(p, off, { checksum: false });
        if (e) return e;
        const tl = p.readUInt16BE(off + 2);
        return tl > mtu ? `total length ${tl} over the MTU` : undefined;
      },
      balance: (t, c, ins, outs) => {
        t.equal(c.packets + c.fragments, outs[0], 'packets + fragments = output 0');
        t.equal(sum(ins), c.packets + c.fragmented + outs[1] + c.drops_df + c.drops_malformed, 'in = packets + fragmented + output 1 + drops');
      },
    }),
  ),
  {
    name: 'IPReassembler',
    element: (n) => pg.IPReassembler({ timeout: 0.2, maxDatagrams: 64 }, n),
    inputs: [[{ link: 'raw', gen: raw4(fragmentGen()), validShare: 0.6 }]],
    outputs: 1,
    mustPass: [0],
    check: (_, p) => ipv4Problem(p, 0, { checksum: false }) ?? ((p.readUInt16BE(6) & 0x3fff) !== 0 ? 'a fragment on the output' : undefined),
    balance: (t, c, ins, outs) => {
      t.equal(c.packets + c.reassembled, outs[0], 'packets + reassembled = output');
      // Every packet in is counted once: passed, inside a reassembled datagram, or dropped (the
      // graph drained, so nothing is held).
      const drops = total(c, defaultDrops);
      t.equal(sum(ins), c.packets + c.fragments_reassembled + drops, `in (${sum(ins)}) = packets (${c.packets}) + fragments_reassembled (${c.fragments_reassembled}) + drops (${drops})`);
      t.ok(c.reassembled > 0, 'some datagrams were reassembled');
    },
  },
  {
    name: 'IPEncap',
    element: (n) => pg.IPEncap({ proto: 4, src: '198.18.0.1', dst: '198.18.0.2' }, n),
    inputs: [[{ link: 'raw', gen: raw4() }]],
    outputs: 1,
    mustPass: [0],
    model: () => 0,
    check: (_, p) => ipv4Problem(p, 0, { exactLength: true }) ?? (p[9] !== 4 ? `protocol ${p[9]}` : undefined),
  },
  {
    name: 'UDPIPEncap',
    element: (n) => pg.UDPIPEncap({ src: '198.18.0.1', sport: 1000, dst: '198.18.0.2', dport: 2000 }, n),
    inputs: [[{ link: 'raw', gen: raw4() }]],
    outputs: 1,
    mustPass: [0],
    model: () => 0,
    check: (_, p) => ipv4Problem(p, 0, { exactLength: true }) ?? (p[9] !== PROTO_UDP ? `protocol ${p[9]}` : !l4v4Ok(p, PROTO_UDP) ? 'wrong UDP checksum' : undefined),
  },
  {
    name: 'GREEncap',
    element: (n) => pg.GREEncap({ src: '198.18.0.1', dst: '198.18.0.2', key: 7 }, n),
    inputs: [[{ link: 'raw', gen: raw4() }]],
    outputs: 1,
    mustPass: [0],
    model: () => 0,
    check: (_, p) => ipv4Problem(p, 0, { exactLength: true }) ?? (p[9] !== 47 ? `protocol ${p[9]}` : p.readUInt32BE(24) !== 7 ? 'key' : undefined),
  },
  {
    name: 'GREDecap',
    element: (n) => pg.GREDecap({ key: 7 }, n),
    inputs: [[{ link: 'raw', gen: raw4(greFrame), validShare: 0.4 }]],
    outputs: 1,
    mustPass: [0],
  },
  {
    name: 'VXLANEncap',
    element: (n) => pg.VXLANEncap({ src: '198.18.0.1', dst: '198.18.0.2', vni: 42 }, n),
    inputs: [[etherFeed()]],
    outputs: 1,
    mustPass: [0],
    model: (p) => (p.length >= 14 ? 0 : -1),
    check: (_, p) => ipv4Problem(p, 0, { exactLength: true }) ?? (p.readUInt16BE(22) !== 4789 ? 'UDP port' : p.readUIntBE(32, 3) !== 42 ? 'VNI' : undefined),
  },
  {
    // Whatever the frame, encapsulation then decapsulation gives it back unchanged.
    name: 'VXLANEncap+VXLANDecap',
    element: (n) => pg.VXLANDecap({ vni: 42 }, n),
    inputs: [[{ ...etherFeed(), prep: (s, tag) => s.to(pg.VXLANEncap({ src: '198.18.0.1', dst: '198.18.0.2', vni: 42, checksum: true }, `encap_${tag}`)) }]],
    outputs: 1,
    mustPass: [0],
    expect: (p) => (p.length >= 14 ? p : null),
  },
  {
    name: 'GREEncap+GREDecap',
    element: (n) => pg.GREDecap({ key: 9 }, n),
    inputs: [[{ link: 'raw', gen: raw4(), prep: (s, tag) => s.to(pg.GREEncap({ src: '198.18.0.1', dst: '198.18.0.2', key: 9 }, `encap_${tag}`)) }]],
    outputs: 1,
    mustPass: [0],
    expect: (p) => p,
  },
  {
    name: 'VLANEncap+VLANDecap',
    element: (n) => pg.VLANDecap({}, n),
    inputs: [[{ ...etherFeed(), prep: (s, tag) => s.to(pg.VLANEncap({ vlanId: 7 }, `encap_${tag}`)) }]],
    outputs: 1,
    outLink: ETH,
    mustPass: [0],
    expect: (p) => (p.length >= 14 ? p : null),
  },
  {
    name: 'VXLANDecap',
    element: (n) => pg.VXLANDecap({ vni: 42 }, n),
    inputs: [[{ link: 'raw', gen: raw4(vxlanPacket), validShare: 0.4 }]],
    outputs: 1,
    mustPass: [0],
    check: (_, p) => (p.length < 14 ? `inner frame of ${p.length} bytes` : undefined),
  },
  // ip6
  {
    name: 'CheckIP6Header',
    element: (n) => pg.CheckIP6Header({}, n),
    inputs: [[{ link: 'raw', gen: raw6() }]],
    outputs: 1,
    mustPass: [0],
    check: (_, p) => ipv6Problem(p) ?? (p[8] === 0xff ? 'multicast source' : undefined),
    model: (p) => (p.length < 40 || p[0] >> 4 !== 6 || p.readUInt16BE(4) > p.length - 40 || p[8] === 0xff ? -1 : 0),
  },
  {
    name: 'LookupIP6Route',
    element: (n) => pg.LookupIP6Route({ routes: ['2001:db8::/32 0', 'fd00::/8 fe80::1 1', 'fe80::/10 2'] }, n),
    inputs: [ip6Feeds()],
    outputs: 3,
    mustPass: [0, 1, 2],
  },
  {
    name: 'DecIP6HLIM',
    element: (n) => pg.DecIP6HLIM({}, n),
    inputs: [ip6Feeds()],
    outputs: 2,
    mustPass: [0, 1],
    check: (port, p) => (p.length < 40 ? 'short' : port === 0 && p[7] < 1 ? `hop limit ${p[7]} on output 0` : port === 1 && p[7] > 1 ? `hop limit ${p[7]} on output 1` : undefined),
  },
  {
    name: 'ICMP6PingResponder',
    element: (n) => pg.ICMP6PingResponder({}, n),
    inputs: [ip6Feeds((r) => (r.chance(0.5) ? ipv6({ src: '2001:db8::1', dst: '2001:db8::2', nextHeader: PROTO_ICMPV6, payload: echo6(r) }) : validIpv6(r)))],
    outputs: 2,
    mustPass: [0, 1],
    check: (port, p) => (port !== 0 ? undefined : ipv6Problem(p) ?? (p[40] !== 129 ? `ICMPv6 type ${p[40]}` : !icmp6Ok(p) ? 'wrong ICMPv6 checksum' : undefined)),
  },
  {
    name: 'ICMP6Error',
    element: (n) => pg.ICMP6Error({ src: '2001:db8::ff', type: 3, rateLimit: 0 }, n),
    inputs: [ip6Feeds()],
    outputs: 1,
    mustPass: [0],
    check: (_, p) => ipv6Problem(p) ?? (p[6] !== 58 ? `next header ${p[6]}` : p.length > 1280 ? `${p.length} bytes` : p[40] !== 3 ? `type ${p[40]}` : !icmp6Ok(p) ? 'wrong ICMPv6 checksum' : undefined),
    balance: (t, c, ins, outs) => t.equal(c.errors, outs[0], 'errors = output 0'),
  },
  {
    name: 'IP6NDAdvertiser',
    element: (n) => pg.IP6NDAdvertiser({ entries: ['2001:db8::1 02:00:00:00:00:aa', 'fd00::1 02:00:00:00:00:bb'] }, n),
    inputs: [[{ link: 'ether', gen: eth(6, (r) => (r.chance(0.7) ? nsPacket(r) : validIpv6(r))), vlan: true }]],
    outputs: 1,
    outLink: ETH,
    mustPass: [0],
    check: (_, p) =>
      p.length !== 86 ? `${p.length} bytes` : ipv6Problem(p, 14) ?? (p[14 + 40] !== 136 ? `type ${p[54]}` : p[14 + 7] !== 255 ? 'hop limit' : !icmp6Ok(p, 14) ? 'wrong ICMPv6 checksum' : undefined),
    balance: (t, c, ins, outs) => t.equal(c.advertisements, outs[0], 'advertisements = output'),
  },
  {
    name: 'IP6NDSolicitor',
    element: (n) => pg.IP6NDSolicitor({ ip: '2001:db8::ff', mac: '02:00:00:00:00:fe', pollInterval: 0.05, pendingTimeout: 0.3, perHost: 4 }, n),
    inputs: [ip6Feeds(), [{ link: 'ether', gen: eth(6, (r) => (r.chance(0.8) ? naPacket(r) : validIpv6(r))), vlan: true }]],
    outputs: 1,
    outLink: ETH,
    mustPass: [0],
    timeoutSeconds: 30,
    check: (_, p) => (p.length < 14 ? 'short' : p.readUInt16BE(12) !== ETH_IPV6 ? `EtherType ${p.readUInt16BE(12).toString(16)}` : undefined),
    balance: resolverBalance('na_ignored'),
  },
  // ethernet
  { name: 'EtherEncap', element: (n) => pg.EtherEncap({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' }, n), inputs: [[{ link: 'raw', gen: raw4() }]], outputs: 1, outLink: ETH, mustPass: [0], model: () => 0 },
  { name: 'EtherRewrite', element: (n) => pg.EtherRewrite({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' }, n), inputs: [[etherFeed()]], outputs: 1, outLink: ETH, mustPass: [0], model: (p) => (p.length >= 14 ? 0 : -1) },
  {
    name: 'EtherMirror',
    element: (n) => pg.EtherMirror({}, n),
    inputs: [[etherFeed()]],
    outputs: 1,
    outLink: ETH,
    mustPass: [0],
    expect: (p) => (p.length >= 14 ? Buffer.concat([p.subarray(6, 12), p.subarray(0, 6), p.subarray(12)]) : null),
  },
  {
    name: 'HostEtherFilter',
    element: (n) => pg.HostEtherFilter({ mac: '02:00:00:00:00:02', dropOwn: true }, n),
    inputs: [[etherFeed()]],
    outputs: 2,
    outLink: ETH,
    mustPass: [0, 1],
    model: (p) => (p.length < 14 ? -1 : p.subarray(6, 12).equals(mac('02:00:00:00:00:02')) ? 1 : p[0] & 1 || p.subarray(0, 6).equals(mac('02:00:00:00:00:02')) ? 0 : 1),
  },
  {
    name: 'DropBroadcasts',
    element: (n) => pg.DropBroadcasts({}, n),
    inputs: [[etherFeed()]],
    outputs: 1,
    outLink: ETH,
    mustPass: [0],
    // FromPcap types a frame by its destination (6 bytes are enough); broadcast and multicast are dropped.
    model: (p) => (p.length >= 6 && p[0] & 1 ? -1 : 0),
  },
  {
    name: 'VLANClassifier',
    element: (n) => pg.VLANClassifier({ vlans: [10, [20, 21]] }, n),
    inputs: [[{ link: 'ether', gen: (r) => vlanTagged(r) }]],
    outputs: 3,
    outLink: ETH,
    mustPass: [0, 1, 2],
    model: (p) => {
      if (p.length < 14) return -1;
      if (p.readUInt16BE(12) !== 0x8100) return 2;
      if (p.length < 18) return -1;
      const id = p.readUInt16BE(14) & 0xfff;
      return id === 10 ? 0 : id === 20 || id === 21 ? 1 : 2;
    },
  },
  {
    name: 'VLANClassifier(annotation+drop)',
    element: (n) => pg.VLANClassifier({ vlans: [[10, 99], 20], source: 'annotation', unlisted: 'drop', nativeVlan: 20 }, n),
    inputs: [[{ link: 'ether', gen: (r) => vlanTagged(r), prep: (s, tag) => s.to(pg.VLANDecap({}, `decap_${tag}`)) }]],
    outputs: 2,
    outLink: ETH,
    mustPass: [0, 1],
  },
  {
    name: 'VLANDecap+EtherVLANEncap(fromAnnotation)',
    element: (n) => pg.EtherVLANEncap({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02', fromAnnotation: true, nativeVlan: 99 }, n),
    inputs: [[{ link: 'ether', gen: (r) => vlanTagged(r), prep: (s, tag) => s.to(pg.VLANDecap({}, `decap_${tag}`)) }]],
    outputs: 1,
    outLink: ETH,
    mustPass: [0],
    check: (_, p) => (p.length < 14 || ![0x8100, 0x0800].includes(p.readUInt16BE(12)) ? `header ${hex(p.subarray(0, 18))}` : undefined),
  },
  { name: 'Truncate', element: (n) => pg.Truncate({ length: 60 }, n), inputs: [[etherFeed()]], outputs: 1, outLink: ETH, mustPass: [0], expect: (p) => p.subarray(0, 60) },
  {
    name: 'VLANEncap',
    element: (n) => pg.VLANEncap({ vlanId: 100, pcp: 3 }, n),
    inputs: [[etherFeed()]],
    outputs: 1,
    outLink: ETH,
    mustPass: [0],
    model: (p) => (p.length >= 14 ? 0 : -1),
    check: (_, p) => (p.readUInt16BE(12) !== 0x8100 || p.readUInt16BE(14) !== 0x6064 ? `tag ${hex(p.subarray(12, 16))}` : undefined),
  },
  {
    name: 'VLANDecap',
    element: (n) => pg.VLANDecap({}, n),
    inputs: [[{ link: 'ether', gen: (r) => tagged(r), vlan: true }]],
    outputs: 1,
    outLink: ETH,
    mustPass: [0],
    model: (p) => (p.length < 14 ? -1 : p.readUInt16BE(12) === 0x8100 && p.length < 18 ? -1 : 0),
  },
  {
    name: 'VLANDecap+VLANEncap(fromAnnotation)',
    element: (n) => pg.VLANEncap({ fromAnnotation: true, ethertype: 0x88a8 }, n),
    inputs: [[{ link: 'ether', gen: (r) => tagged(r), vlan: true, prep: (s, tag) => s.to(pg.VLANDecap({}, `decap_${tag}`)) }]],
    outputs: 1,
    outLink: ETH,
    mustPass: [0],
  },
  {
    name: 'ARPResponder',
    element: (n) => pg.ARPResponder({ entries: ['10.0.0.1 02:00:00:00:00:aa', '192.0.2.0/24 02:00:00:00:00:bb'] }, n),
    inputs: [[{ link: 'ether', gen: eth(0, (r) => arpMessage(r, { op: r.chance(0.8) ? 1 : 2 })), vlan: true }]],
    outputs: 1,
    outLink: ETH,
    mustPass: [0],
    check: (_, p) => (p.readUInt16BE(12) !== ETH_ARP || p.readUInt16BE(20) !== 2 ? 'not an ARP reply' : undefined),
    balance: (t, c, ins, outs) => t.equal(c.replies, outs[0], 'replies = output'),
  },
  {
    name: 'ARPQuerier',
    element: (n) => pg.ARPQuerier({ ip: '10.0.0.254', mac: '02:00:00:00:00:fe', pollInterval: 0.05, pendingTimeout: 0.3, perHost: 4 }, n),
    inputs: [
      [{ link: 'raw', gen: raw4(), share: 0.8 }, ip4Feeds()[2]],
      [{ link: 'ether', gen: eth(0, (r) => arpMessage(r, { op: r.chance(0.9) ? 2 : 1, tpa: r.chance(0.8) ? '10.0.0.254' : undefined })), vlan: true }],
    ],
    outputs: 1,
    outLink: ETH,
    mustPass: [0],
    timeoutSeconds: 30,
    check: (_, p) => {
      if (p.length < 14) return 'short';
      const ty = p.readUInt16BE(12);
      if (ty === ETH_ARP) return p.length !== 42 ? `ARP request of ${p.length} bytes` : undefined;
      return ty !== ETH_IPV4 ? `EtherType ${ty.toString(16)}` : undefined;
    },
    balance: resolverBalance('arp_ignored'),
  },
  {
    name: 'EtherSwitch',
    element: (n) => pg.EtherSwitch({}, n),
    inputs: [[etherFeed()], [etherFeed()], [etherFeed()]],
    outputs: 3,
    outLink: ETH,
    mustPass: [0, 1, 2],
    balance: (t, c, ins, outs) => {
      t.equal(sum(ins), c.forwarded + c.flooded + c.drops_short + c.drops_same_port, 'in = forwarded + flooded + drops');
      t.equal(sum(outs), c.forwarded + c.flooded * 2 - c.drops_pool_empty, 'out = forwarded + 2 copies per flooded frame');
    },
  },
  {
    name: 'VLANSwitch',
    element: (n) =>
      pg.VLANSwitch(
        {
          ports: [{}, { mode: 'trunk', allowed: [1, 10, 20], nativeVlan: 1, aclIn: ['deny udp port 53', 'allow all'] }, { vlan: 10, aclOut: ['deny tcp port 80', 'allow all'] }, {}],
          mirror: { port: 3, sources: [0, 1], direction: 'both' },
        },
        n,
      ),
    inputs: [[etherFeed()], [etherFeed()], [etherFeed()], [etherFeed()]],
    outputs: 4,
    outLink: ETH,
    mustPass: [0, 1, 3],
    check: (port, p) => (p.length < 14 ? 'shorter than an Ethernet header' : port === 0 && p.readUInt16BE(12) === 0x8100 ? 'a tagged frame on an access port' : undefined),
    balance: (t, c, ins, outs) => {
      const arrived = c.forwarded + c.flooded + c.drops_vlan + c.drops_acl_in + c.drops_same_port + c.drops_flood_none + c.drops_mirror_port + c.drops_short + c.drops_loop;
      t.equal(sum(ins), arrived, 'in = forwarded + flooded + dropped on arrival');
      t.equal(outs[3], c.mirrored, 'the mirror port got the mirrored copies');
    },
  },
  {
    name: 'DHCPServer',
    element: (n) => pg.DHCPServer({ address: '192.0.2.1/24', mac: '02:00:00:00:00:fe', poolStart: '192.0.2.100', poolEnd: '192.0.2.103', router: '192.0.2.1', dns: ['192.0.2.53'], static: [{ mac: MACS[2], ip: '192.0.2.50' }] }, n),
    inputs: [[{ link: 'ether', gen: eth(4, dhcpIpv4) }, etherFeed(['ipv4'])]],
    outputs: 1,
    outLink: ETH,
    mustPass: [0],
    check: (_, p) => ipv4Problem(p, 14) ?? (!l4v4Ok(p.subarray(14), PROTO_UDP) ? 'wrong UDP checksum' : p.readUInt16BE(34) !== 67 ? 'not from port 67' : undefined),
    balance: (t, c, ins, outs) => {
      const handled = c.discovers + c.requests + c.informs + c.declines + c.releases + c.drops_ignored;
      t.equal(sum(ins), handled + c.drops_not_dhcp + c.drops_malformed, 'in = messages handled + dropped');
      t.equal(outs[0], c.offers + c.acks + c.naks, 'out = offers + acks + naks');
      t.equal(c.offers, c.discovers - c.drops_pool_exhausted - c.drops_pool_empty, 'every discover offered unless the pool was exhausted');
    },
  },
  // newer elements
  {
    name: 'IPGWOptions',
    element: (n) => pg.IPGWOptions({ address: '192.0.2.1', otherAddresses: ['192.0.2.2'] }, n),
    inputs: [ip4Feeds((r) => (r.chance(0.6) ? optionsIpv4(r) : validIpv4(r)))],
    outputs: 2,
    mustPass: [0, 1],
    // A bad option goes to output 1, so only packets with options (IHL > 5) can be there.
    check: (port, p) => (port === 1 && (p.length < 20 || (p[0] & 15) <= 5) ? 'no options on output 1' : undefined),
    balance: (t, c, ins, outs) => {
      t.equal(c.packets, outs[0], 'packets = output 0');
      t.equal(c.bad_options, outs[1], 'bad_options = output 1');
    },
  },
  {
    name: 'ICMPError+FixIPSrc',
    element: (n) => pg.FixIPSrc({ address: '198.18.0.77' }, n),
    inputs: [ip4Feeds().map((f, i) => ({ ...f, prep: (s: ElementNode, tag: string) => (f.prep ? f.prep(s, tag) : s).to(pg.ICMPError({ src: '192.0.2.1', type: 'unreachable', code: 'host', rateLimit: 0 }, `err_${tag}${i}`)) }))],
    outputs: 1,
    mustPass: [0],
    check: (_, p) => ipv4Problem(p) ?? (p.readUInt32BE(12) !== 0xc612004d ? 'source not fixed' : undefined),
    balance: (t, c, ins, outs) => t.equal(c.fixed, outs[0], 'fixed = output'),
  },
  {
    name: 'IPClassifier',
    element: (n) => pg.IPClassifier({ patterns: ['tcp port 80 or udp port 53', 'icmp[icmptype] = icmp-echo', 'ip6 and udp', 'src net 10.0.0.0/8 and ip[8] > 1 and tcp[(tcp[12] >> 4) * 4] >= 0', 'vlan or arp or protochain 17 or ether multicast or ether[12:2] < 1500'] }, n),
    inputs: [[etherFeed(), { link: 'ether', gen: (r) => validFrame(r), prep: (s, tag) => s.to(MarkIPHeader({ offset: 14 }, `mark_${tag}`)) }]],
    outputs: 5,
    outLink: ETH,
    mustPass: [0, 1, 2, 3],
  },
  {
    name: 'IPFilter',
    element: (n) => pg.IPFilter({ rules: ['deny src host 10.0.0.1', 'allow tcp', '1 udp port 53 or icmp6', 'drop icmp', 'allow ip6'] }, n),
    inputs: [[etherFeed(), { link: 'ether', gen: (r) => validFrame(r), prep: (s, tag) => s.to(MarkIPHeader({ offset: 14 }, `mark_${tag}`)) }]],
    outputs: 2,
    outLink: ETH,
    mustPass: [0, 1],
  },
  {
    name: 'IPRewriter',
    element: (n) =>
      pg.IPRewriter(
        {
          inputs: [
            { kind: 'snat', address: '198.18.0.100', forward: 0, reply: 1 },
            { kind: 'dnat', rules: [{ proto: 'tcp', port: 2222, to: '10.0.0.2', toPort: 22 }, { proto: 'udp', port: 5000, to: '10.0.0.2' }], forward: 1, reply: 0, pass: 2 },
          ],
        } as never,
        n,
      ),
    inputs: [ip4Feeds(), [{ link: 'raw', gen: raw4() }]],
    outputs: 3,
    mustPass: [0],
  },
  // queues that parse headers: FQCoDel's flow hash, and both ECN-marking (a target of 1 us puts
  // them in their dropping state, so marks and drops happen); pulled by the ToPcap
  ...(['CoDel', 'FQCoDel'] as const).map(
    (kind): Spec => ({
      name: kind,
      element: (n) => (kind === 'CoDel' ? pg.CoDel : pg.FQCoDel)({ ecn: true, target: 0.000001, interval: 0.000002, mtu: 0, ...(kind === 'CoDel' ? { capacity: 100000 } : { limit: 100000 }) }, n),
      inputs: [
        [
          ...ip4Feeds().map((f) => ({ ...f, share: f.share! / 2 })),
          { ...ip6Feeds()[0], share: 0.2 }, // no header annotation: the fallback flow key
          { ...ip6Feeds()[0], share: 0.3, prep: (s, tag) => s.to(pg.CheckIP6Header({}, `mark6_${tag}`)) },
        ],
      ],
      outputs: 1,
      mustPass: [0],
    }),
  ),
];

function echo6(r: Rng): Buffer {
  const m = Buffer.concat([Buffer.from([128, 0, 0, 0, 0, 1, 0, r.int(256)]), r.bytes(r.int(64))]);
  m.writeUInt16BE(checksum16(m, pseudoHeaderSum('2001:db8::1', '2001:db8::2', PROTO_ICMPV6, m.length)), 2);
  return m;
}
function nsPacket(r: Rng): Buffer {
  const src = r.pick(['2001:db8::5', 'fe80::9', '::']);
  const target = r.pick(['2001:db8::1', 'fd00::1', '2001:db8::7']);
  const dst = r.chance(0.5) ? 'ff02::1:ff00:1' : target;
  return ipv6({ src, dst, nextHeader: PROTO_ICMPV6, hopLimit: r.chance(0.9) ? 255 : 64, payload: neighborMessage(r, 135, src, dst, target) });
}
function naPacket(r: Rng): Buffer {
  const target = r.pick(['2001:db8::1', '2001:db8::2', 'fd00::1', 'fd00:1::5', 'fe80::1']);
  const dst = r.chance(0.8) ? '2001:db8::ff' : 'ff02::1';
  return ipv6({ src: target, dst, nextHeader: PROTO_ICMPV6, hopLimit: 255, payload: neighborMessage(r, 136, target, dst, target) });
}
/** Frames with 0-2 tags (802.1Q or 802.1ad) whose VLAN ids come mostly from a few listed ones. */
function vlanTagged(r: Rng): Sample {
  const s = validFrame(r);
  const tags = r.int(3);
  const parts = [s.data.subarray(0, 12)];
  for (let i = 0; i < tags; i++) {
    const tag = Buffer.alloc(4);
    tag.writeUInt16BE(r.chance(0.8) ? 0x8100 : 0x88a8, 0);
    tag.writeUInt16BE((r.int(16) << 12) | (r.chance(0.8) ? r.pick([10, 20, 21, 99]) : r.int(4096)), 2);
    parts.push(tag);
  }
  parts.push(s.data.subarray(12));
  return { data: Buffer.concat(parts), layout: { ...s.layout, l3: (s.layout.l3 ?? 14) + tags * 4, bounds: [...s.layout.bounds, 12, 14, 16, 18] } };
}
/** ICMP messages of the types whose length CheckICMPHeader checks. */
function icmpIpv4(r: Rng): Buffer {
  const type = r.pick([0, 3, 4, 5, 8, 11, 12, 13, 14, 15, 16, 9]);
  const fixed: Record<number, number> = { 13: 12, 14: 12, 15: 0, 16: 0 };
  const quote = ipv4({ src: '198.18.0.2', dst: '198.18.0.1', payload: udp({ payload: r.bytes(r.int(20)) }) });
  const payload = type in fixed ? r.bytes(r.chance(0.8) ? fixed[type] : r.int(20)) : [3, 4, 5, 11, 12].includes(type) ? quote : r.bytes(r.int(64));
  return ipv4({ src: '198.18.0.1', dst: '198.18.0.2', proto: 1, payload: icmp4({ type, code: r.int(4), rest: r.u32(), payload }) });
}
function tagged(r: Rng): Sample {
  const s = validFrame(r);
  const data = vlanStack(r, s.data, r.int(3));
  const tags = (data.length - s.data.length) / 4;
  return { data, layout: { ...s.layout, l3: (s.layout.l3 ?? 14) + tags * 4, bounds: [...s.layout.bounds, 16, 18, 22] } };
}

/** ARPQuerier / IP6NDSolicitor: input 0 is sent or dropped, input 1 consumed; output = sent + requests. */
function resolverBalance(ignored: string) {
  return (t: Test, c: Counters, ins: number[], outs: number[]) => {
    t.equal(outs[0], c.sent + c.requests, 'output = sent + requests');
    t.equal(ins[1], c.replies + c[ignored] + c.drops_malformed, `input 1 = replies + ${ignored} + drops_malformed`);
    t.equal(ins[0], c.sent + countersFor(c, ['drops_queue_full', 'drops_unresolved', 'drops_table_full', 'drops_no_headroom', 'drops_short', 'drops_zero_address']), 'input 0 = sent + drops');
    t.ok(c.replies > 0, 'some replies taught the table');
  };
}

// ---------- the runner ----------

async function fuzzOne(t: Test, spec: Spec) {
  const files: string[] = [];
  let keep = false;
  try {
    keep = !(await fuzzRun(t, spec, files)) && KEEP;
  } finally {
    if (keep) t.comment(`kept ${files.join(' ')}`);
    else for (const f of files) rmSync(f, { force: true });
  }
}

/** One element's run; returns whether every check passed. */
async function fuzzRun(t: Test, spec: Spec, files: string[]): Promise<boolean> {
  const r = new Rng((SEED ^ hashString(spec.name)) >>> 0);
  const tag = spec.name.replace(/[^A-Za-z0-9]/g, '_');
  const inputs: { file: string; packets: Buffer[]; port: number; feed: Feed; name: string }[] = [];
  spec.inputs.forEach((feeds, port) => {
    const shares = feeds.map((f) => f.share ?? 1 / feeds.length);
    feeds.forEach((feed, j) => {
      const n = Math.max(20, Math.round((ITERATIONS * shares[j]) / spec.inputs.length));
      const c = corpus(r, { count: n, valid: feed.gen, vlan: feed.vlan, validShare: feed.validShare });
      const file = tmpPath(`fuzz-${tag}-in${port}-${j}.pcap`);
      writePcap(file, c.packets.map((data) => ({ data })), { linktype: feed.link === 'raw' ? LINKTYPE_RAW : LINKTYPE_ETHERNET });
      files.push(file);
      inputs.push({ file, packets: c.packets, port, feed, name: `in${port}_${j}` });
    });
  });
  const outFiles = Array.from({ length: spec.outputs }, (_, k) => tmpPath(`fuzz-${tag}-out${k}.pcap`));
  files.push(...outFiles);
  const plan = compile(
    graph(`fuzz_${tag}`, () => {
      const el = spec.element('el');
      inputs.forEach((i, k) => {
        let s: ElementNode = FromPcap({ file: i.file, burst: r.pick([1, 7, 32, 64, 256]) }, { name: `src_${i.name}`, thread: k % THREADS });
        if (i.feed.prep) s = i.feed.prep(s, i.name);
        s.to(Counter({}, i.name)).to(el.in(i.port));
      });
      outFiles.forEach((file, k) => el.out(k).to(Counter({}, `out${k}`)).to(ToPcap({ file, linktype: spec.outLink === ETH ? LINKTYPE_ETHERNET : LINKTYPE_RAW })));
    }),
  );
  const started = Date.now();
  let s;
  try {
    s = await runCompiled(plan, { threads: THREADS, timeoutSeconds: spec.timeoutSeconds ?? 20, poolBuffers: 16384 });
  } catch (e) {
    t.fail(`${spec.name} did not finish: ${(e as Error).message} (seed ${SEED}; PG_FUZZ_KEEP=1 keeps the input pcaps)`);
    return false;
  }
  const c = s.elements.el;
  t.comment(`${spec.name}: ${sum(inputs.map((i) => i.packets.length))} packets in ${Date.now() - started} ms; ${Object.entries(c).filter(([, v]) => v).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  const ins = spec.inputs.map((_, port) => sum(inputs.filter((i) => i.port === port).map((i) => s.elements[i.name].packets)));
  const outs = outFiles.map((_, k) => s.elements[`out${k}`].packets);
  let ok = true;
  const must = (cond: boolean, msg: string) => {
    ok = t.ok(cond, msg) && ok;
  };
  must(s.stoppedBy === 'drained', 'the graph drained (no hang)');
  must(s.pool.available === s.pool.capacity, `every buffer back in the pool (${s.pool.capacity - s.pool.available} missing)`);
  must(sum(ins) > 0, 'packets reached the element');
  for (const i of inputs) {
    // Preparation drops (Strip, MarkIPHeader) aside, every packet in the file reached the element.
    const src = s.elements[`src_${i.name}`];
    must(src.packets === i.packets.length, `${i.name}: FromPcap played all ${i.packets.length} packets`);
  }

  // Accounting: per the element's counters, or in = out + drops by default.
  if (spec.balance) {
    const before = t.counts.fail;
    spec.balance(t, c, ins, outs);
    if (t.counts.fail > before) ok = false;
  }
  if (!spec.balance || !['EtherSwitch', 'VLANSwitch', 'DHCPServer', 'IPReassembler', 'IPFragmenter', 'IPFragmenter(Ethernet)', 'IPFragmenter(mtu 68)', 'ARPQuerier', 'IP6NDSolicitor', 'PaintTee'].includes(spec.name)) {
    const drops = total(c, defaultDrops);
    must(sum(ins) === sum(outs) + drops, `in (${sum(ins)}) = out (${sum(outs)}) + drops (${drops}) [${Object.entries(c).filter(([, v]) => v).map(([k, v]) => `${k}=${v}`).join(' ')}]`);
  }
  for (const k of spec.mustPass) must(outs[k] > 0, `output ${k} carried packets (${outs[k]})`);
  for (const [name, v] of Object.entries(c))
    if (defaultDrops.test(name)) must(v < sum(ins), `${name} (${v}) is not a catch-all`);

  if (spec.model) {
    const i = inputs[0];
    const want = new Array(spec.outputs).fill(0);
    for (const p of i.packets) {
      const k = spec.model(p);
      if (k >= 0) want[k]++;
    }
    must(JSON.stringify(outs) === JSON.stringify(want), `outputs ${JSON.stringify(outs)} as the reference model says ${JSON.stringify(want)}`);
  }

  if (spec.expect) {
    const want = inputs[0].packets.map((p) => spec.expect!(p)).filter((p): p is Buffer => p !== null);
    const got = readPcap(outFiles[0]).packets.map((p) => p.data);
    const at = got.findIndex((g, i) => !want[i] || !g.equals(want[i]));
    must(got.length === want.length && at < 0, `output 0 has the expected bytes, in order (${got.length} of ${want.length} packets${at >= 0 ? `; first difference at packet ${at}: got ${hex(got[at].subarray(0, 64))}` : ''})`);
  }

  if (spec.check) {
    let bad = 0;
    for (let k = 0; k < spec.outputs; k++) {
      for (const p of readPcap(outFiles[k]).packets) {
        const problem = spec.check(k, p.data);
        if (problem) {
          if (bad++ < 3) t.comment(`${spec.name} output ${k}: ${problem}: ${hex(p.data.subarray(0, 128))}`);
        }
      }
    }
    must(bad === 0, `every output packet is well-formed (${bad} not)`);
  }
  return ok;
}

for (const spec of specs) {
  if (ONLY && !ONLY.has(spec.name)) continue;
  t.test(spec.name, (t) => fuzzOne(t, spec));
}
