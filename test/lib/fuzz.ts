// Fuzzing helpers: a seeded random generator, corpora of valid packets of each family
// (built with ./packets.ts), mutators that break them the ways the wire does (bit flips,
// overwritten header bytes, truncation at header boundaries, length and fragment fields set to
// edge values, garbage options, VLAN stacks, zero-length and oversized frames) and pure random
// bytes. Everything is a function of the seed, so a failing run is reproduced by its seed.
import { ether, ipv4, ipv6, udp, tcp, icmp4, icmp6, mac, ip6, checksum16, pseudoHeaderSum, ETH_ARP, ETH_IPV4, ETH_IPV6, PROTO_ICMP, PROTO_TCP, PROTO_UDP, PROTO_ICMPV6 } from './packets.js';
import { mulberry32 } from './rng.js';

/** mulberry32 (./rng.ts) with the mutators' picks; deterministic per seed. */
export class Rng {
  readonly u32: () => number;
  constructor(seed: number) {
    this.u32 = mulberry32(seed);
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : this.u32() % n;
  }
  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)];
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

/** A stable 32-bit hash of a string (FNV-1a), to derive one seed per element from the run's seed. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h >>> 0;
}

/** Where a packet's headers start, so mutations can aim at them. */
export interface Layout {
  /** Offset of the IPv4/IPv6 (or ARP) header, when there is one. */
  l3?: number;
  /** 4, 6, or 0 for ARP / other. */
  family?: 4 | 6 | 0;
  /** Offsets where a header ends (truncation points). */
  bounds: number[];
}

export interface Sample {
  data: Buffer;
  layout: Layout;
}

// Addresses drawn from small sets, so that lookups, tables and reassembly keys collide.
export const V4_ADDRS = ['10.0.0.1', '10.0.0.2', '10.1.2.3', '192.0.2.1', '198.18.0.1', '198.19.255.254', '0.0.0.0', '127.0.0.1', '224.0.0.5', '255.255.255.255', '240.0.0.1'];
export const V6_ADDRS = ['2001:db8::1', '2001:db8::2', 'fd00::1', 'fd00:1::5', 'fe80::1', '::', '::1', 'ff02::1', 'ff02::1:ff00:2'];
export const MACS = ['02:00:00:00:00:01', '02:00:00:00:00:02', '02:00:00:00:00:03', 'ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:05', '33:33:00:00:00:01', '00:00:00:00:00:00'];

const v4 = (r: Rng) => (r.chance(0.8) ? r.pick(V4_ADDRS.slice(0, 6)) : r.pick(V4_ADDRS));
const v6 = (r: Rng) => (r.chance(0.8) ? r.pick(V6_ADDRS.slice(0, 5)) : r.pick(V6_ADDRS));

/** A valid IPv4 datagram: UDP, TCP, ICMP echo or error, with options or as a fragment sometimes. */
export function validIpv4(r: Rng): Buffer {
  const src = v4(r);
  const dst = v4(r);
  const pay = r.bytes(r.pick([0, 1, 7, 8, 18, 64, 200, 600, 1400]));
  const kind = r.int(6);
  let proto = PROTO_UDP;
  let l4: Buffer;
  if (kind === 0 || kind === 1) l4 = udp({ src, dst, payload: pay, sport: r.pick([53, 1234, 4789, 40000]), dport: r.pick([53, 4789, 5678]) });
  else if (kind === 2) {
    proto = PROTO_TCP;
    l4 = tcp({ src, dst, payload: pay, flags: r.int(64) });
  } else if (kind === 3) {
    proto = PROTO_ICMP;
    l4 = icmp4({ type: 8, payload: pay });
  } else if (kind === 4) {
    proto = PROTO_ICMP;
    // An ICMP error quoting another datagram.
    l4 = icmp4({ type: r.pick([3, 11, 12, 0]), code: r.int(5), payload: ipv4({ src: dst, dst: src, payload: udp({ payload: r.bytes(8) }) }) });
  } else {
    proto = r.pick([4, 41, 47, 50, 132, 255]);
    l4 = pay;
  }
  const opts =
    r.chance(0.15)
      ? r.pick([
          Buffer.from([7, 7, 4, 0, 0, 0, 0]), // record route with room
          Buffer.from([68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0]), // timestamp
          Buffer.from([1, 1, 1, 0]), // NOPs
          Buffer.from([0x83, 7, 4, 10, 0, 0, 1]), // loose source route (copied)
        ])
      : undefined;
  const frag = r.chance(0.15);
  return ipv4({
    src,
    dst,
    proto,
    ttl: r.pick([0, 1, 2, 64, 255]),
    tos: r.int(256),
    id: r.int(65536),
    df: !frag && r.chance(0.3),
    mf: frag && r.chance(0.6),
    fragOffset: frag ? r.pick([0, 1, 8, 100, 8191]) : 0,
    options: opts,
    payload: frag ? l4.subarray(0, Math.max(8, l4.length & ~7)) : l4,
  });
}

/** Fragments of one UDP datagram (for IPReassembler), in a shuffled order, sometimes one lost or doubled. */
export function fragmentSet(r: Rng): Buffer[] {
  const src = v4(r);
  const dst = v4(r);
  const id = r.int(65536);
  // 3000 and 9000 bytes do not fit one pool buffer once reassembled (drops_too_big).
  const body = udp({ src, dst, payload: r.bytes(r.pick([24, 100, 600, 1600, 1600, 3000, 9000])) });
  const step = body.length > 2000 ? r.pick([512, 1400]) : r.pick([8, 16, 64, 512]);
  const out: Buffer[] = [];
  for (let off = 0; off < body.length; off += step) {
    const piece = body.subarray(off, off + step);
    out.push(ipv4({ src, dst, id, proto: PROTO_UDP, mf: off + step < body.length, fragOffset: off / 8, payload: piece }));
  }
  if (r.chance(0.2)) out.splice(r.int(out.length), 1);
  if (out.length && r.chance(0.2)) out.push(out[r.int(out.length)]);
  for (let i = out.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** A valid IPv6 packet: UDP, TCP, ICMPv6 echo, errors, Neighbor Solicitation/Advertisement, extension headers. */
export function validIpv6(r: Rng): Buffer {
  const src = v6(r);
  const dst = v6(r);
  const pay = r.bytes(r.pick([0, 1, 8, 40, 200, 1200]));
  const kind = r.int(7);
  let nh = PROTO_UDP;
  let l4: Buffer;
  let hop = r.pick([0, 1, 2, 64, 255]);
  if (kind <= 1) l4 = udp({ src, dst, payload: pay });
  else if (kind === 2) {
    nh = PROTO_TCP;
    l4 = tcp({ src, dst, payload: pay });
  } else if (kind === 3) {
    nh = PROTO_ICMPV6;
    l4 = icmp6({ src, dst, type: r.pick([128, 129, 1, 3]), payload: pay });
  } else if (kind === 4) {
    nh = PROTO_ICMPV6;
    hop = 255;
    l4 = neighborMessage(r, 135, src, dst);
  } else if (kind === 5) {
    nh = PROTO_ICMPV6;
    hop = 255;
    l4 = neighborMessage(r, 136, src, dst);
  } else {
    // A chain of 1-4 extension headers (hop-by-hop, routing, fragment, destination options) in
    // front of UDP or ICMPv6, for the elements that walk them.
    const last = r.chance(0.5) ? PROTO_UDP : PROTO_ICMPV6;
    let inner = last === PROTO_UDP ? udp({ src, dst, payload: pay }) : icmp6({ src, dst, type: r.pick([128, 1, 3]), payload: pay });
    let next = last;
    for (let n = r.range(1, 4); n > 0; n--) {
      const type = r.pick([0, 43, 44, 60]);
      const ext = type === 44 ? Buffer.alloc(8) : Buffer.alloc(8 * r.range(1, 3));
      ext[0] = next;
      if (type === 44) ext.writeUInt16BE(r.chance(0.7) ? 0 : r.int(65536) & ~6, 2);
      else ext[1] = ext.length / 8 - 1;
      if (type === 0 || type === 60) (ext[2] = 1), (ext[3] = ext.length - 4); // PadN over the rest
      inner = Buffer.concat([ext, inner]);
      next = type;
    }
    nh = next;
    l4 = inner;
  }
  return ipv6({ src, dst, nextHeader: nh, hopLimit: hop, payload: l4 });
}

/** An NS (135) or NA (136) ICMPv6 message with a link-layer address option and a correct checksum. */
export function neighborMessage(r: Rng, type: 135 | 136, src: string, dst: string, target?: string): Buffer {
  const m = Buffer.alloc(24);
  m[0] = type;
  if (type === 136) m[4] = r.pick([0x60, 0x20, 0x40, 0xe0]);
  ip6(target ?? v6(r)).copy(m, 8);
  // Options: usually one link-layer address option, sometimes none, several, or others (nonce,
  // MTU, unknown), sometimes with a zero or oversized length.
  const opts: Buffer[] = [];
  const n = r.chance(0.7) ? 1 : r.int(4);
  for (let i = 0; i < n; i++) {
    const kind = i === 0 && r.chance(0.8) ? (type === 135 ? 1 : 2) : r.pick([1, 2, 5, 14, 200]);
    const o = Buffer.alloc(kind === 1 || kind === 2 ? 8 : 8 * r.range(1, 2));
    o[0] = kind;
    o[1] = r.chance(0.95) ? o.length / 8 : r.pick([0, 2, 255]);
    if (kind === 1 || kind === 2) mac(r.pick(MACS.slice(0, 3))).copy(o, 2);
    opts.push(o);
  }
  const body = Buffer.concat([m, ...opts]);
  body.writeUInt16BE(checksum16(body, pseudoHeaderSum(src, dst, PROTO_ICMPV6, body.length)), 2);
  return body;
}

/** An Ethernet/IPv4 ARP message (request or reply). */
export function arpMessage(r: Rng, o: { op?: number; sha?: string; spa?: string; tha?: string; tpa?: string } = {}): Buffer {
  const a = Buffer.alloc(28);
  a.writeUInt16BE(1, 0);
  a.writeUInt16BE(ETH_IPV4, 2);
  a[4] = 6;
  a[5] = 4;
  a.writeUInt16BE(o.op ?? r.pick([1, 2]), 6);
  mac(o.sha ?? r.pick(MACS.slice(0, 3))).copy(a, 8);
  Buffer.from((o.spa ?? v4(r)).split('.').map(Number)).copy(a, 14);
  mac(o.tha ?? r.pick(MACS)).copy(a, 18);
  Buffer.from((o.tpa ?? v4(r)).split('.').map(Number)).copy(a, 24);
  return a;
}

/** A valid Ethernet frame carrying IPv4, IPv6 or ARP (`kinds` limits the choice), padded to 60 bytes sometimes. */
export function validFrame(r: Rng, kinds: ('ipv4' | 'ipv6' | 'arp')[] = ['ipv4', 'ipv6', 'arp']): Sample {
  const kind = r.pick(kinds);
  const payload = kind === 'ipv4' ? validIpv4(r) : kind === 'ipv6' ? validIpv6(r) : arpMessage(r);
  const type = kind === 'ipv4' ? ETH_IPV4 : kind === 'ipv6' ? ETH_IPV6 : ETH_ARP;
  const data = ether({ src: r.pick(MACS.slice(0, 3)), dst: r.pick(MACS), type, payload, minLength: r.chance(0.5) ? 60 : 0 });
  return { data, layout: layoutOf(payload, 14, kind === 'ipv4' ? 4 : kind === 'ipv6' ? 6 : 0) };
}

/** Header boundaries of an L3 packet at `l3` in a frame. */
export function layoutOf(l3pkt: Buffer, l3: number, family: 4 | 6 | 0): Layout {
  const bounds = [0, 1, 6, 12, 13, 14, l3];
  if (family === 4 && l3pkt.length >= 20) {
    const hl = (l3pkt[0] & 15) * 4;
    bounds.push(l3 + 1, l3 + 19, l3 + 20, l3 + hl, l3 + hl + 1, l3 + hl + 4, l3 + hl + 8, l3 + hl + 20);
  } else if (family === 6) bounds.push(l3 + 1, l3 + 39, l3 + 40, l3 + 41, l3 + 44, l3 + 48, l3 + 64);
  else bounds.push(l3 + 8, l3 + 27, l3 + 28);
  return { l3, family, bounds: bounds.filter((b) => b >= 0) };
}

const EDGE16 = [0, 1, 2, 7, 8, 19, 20, 21, 39, 40, 41, 0x7fff, 0x8000, 0xfffe, 0xffff];
const EDGE8 = [0, 1, 0x7f, 0x80, 0xfe, 0xff];

/** One random mutation of a packet (a copy: the input is not changed). */
export function mutate(r: Rng, s: Sample): Buffer {
  let d = Buffer.from(s.data);
  const l3 = s.layout.l3 ?? 0;
  const headerSpan = Math.min(d.length, l3 + 64);
  const op = r.int(12);
  switch (op) {
    case 0: {
      // Bit flips, mostly in the headers.
      const n = r.range(1, 4);
      for (let i = 0; i < n && d.length; i++) {
        const at = r.chance(0.8) && headerSpan > 0 ? r.int(headerSpan) : r.int(d.length);
        d[at] ^= 1 << r.int(8);
      }
      return d;
    }
    case 1: {
      // Header bytes overwritten with edge values or random ones.
      const n = r.range(1, 6);
      for (let i = 0; i < n && headerSpan; i++) d[r.int(headerSpan)] = r.chance(0.5) ? r.pick(EDGE8) : r.int(256);
      return d;
    }
    case 2:
      // Truncation at a header boundary (or one byte either side).
      return d.subarray(0, Math.max(0, Math.min(d.length, r.pick(s.layout.bounds) + r.range(-1, 1))));
    case 3:
      return d.subarray(0, r.int(d.length + 1));
    case 4: {
      // Length fields set to edge values: IPv4 total length / IHL, IPv6 payload length, UDP length.
      if (s.layout.family === 4 && d.length >= l3 + 20) {
        if (r.chance(0.5)) d.writeUInt16BE(r.chance(0.5) ? r.pick(EDGE16) : (d.length - l3 + r.range(-3, 3)) & 0xffff, l3 + 2);
        else d[l3] = (d[l3] & 0xf0) | r.int(16);
        const hl = (d[l3] & 15) * 4;
        if (r.chance(0.3) && d.length >= l3 + hl + 6) d.writeUInt16BE(r.pick(EDGE16), l3 + hl + 4);
      } else if (s.layout.family === 6 && d.length >= l3 + 40) {
        d.writeUInt16BE(r.chance(0.5) ? r.pick(EDGE16) : (d.length - l3 - 40 + r.range(-3, 3)) & 0xffff, l3 + 4);
      } else if (d.length >= l3 + 6) d.writeUInt16BE(r.pick(EDGE16), l3 + r.pick([0, 2, 4]));
      return d;
    }
    case 5: {
      // IPv4 options: a larger IHL with garbage (or near-valid) option bytes.
      if (s.layout.family !== 4 || d.length < l3 + 20) return mutateBytes(r, d);
      const ihl = r.range(6, 15);
      const opt = r.chance(0.5) ? r.bytes((ihl - 5) * 4) : optionGarbage(r, (ihl - 5) * 4);
      const rest = d.subarray(l3 + 20);
      const h = Buffer.from(d.subarray(0, l3 + 20));
      h[l3] = (h[l3] & 0xf0) | ihl;
      d = Buffer.concat([h, opt, rest]);
      if (r.chance(0.7)) d.writeUInt16BE(Math.min(0xffff, d.length - l3), l3 + 2);
      fixIpv4Checksum(d, l3, r);
      return d;
    }
    case 6: {
      // Fragment fields and flags.
      if (s.layout.family === 4 && d.length >= l3 + 20) {
        d.writeUInt16BE(r.pick([0x2000, 0x4000, 0x6000, 0x8000, 0x0001, 0x1fff, 0x3fff, 0xffff, r.int(65536)]), l3 + 6);
        fixIpv4Checksum(d, l3, r);
      } else if (s.layout.family === 6 && d.length >= l3 + 40) {
        // A fragment header in front of the payload.
        const fh = Buffer.from([d[l3 + 6], 0, r.int(256), r.int(256), 0, 0, 0, r.int(256)]);
        d = Buffer.concat([d.subarray(0, l3 + 40), fh, d.subarray(l3 + 40)]);
        d[l3 + 6] = 44;
        d.writeUInt16BE((d.length - l3 - 40) & 0xffff, l3 + 4);
      } else return mutateBytes(r, d);
      return d;
    }
    case 7:
      // Version / protocol / next header / EtherType to other values.
      if (d.length > l3 + 9) {
        if (s.layout.family === 4) d[l3 + r.pick([0, 9])] = r.chance(0.5) ? r.int(256) : r.pick([1, 6, 17, 47, 0x45, 0x65]);
        else if (s.layout.family === 6) d[l3 + r.pick([0, 6, 7])] = r.int(256);
        else d[l3 + r.int(8)] = r.int(256);
        if (s.layout.family === 4) fixIpv4Checksum(d, l3, r);
      }
      if (l3 >= 14 && d.length >= l3 && r.chance(0.3)) d.writeUInt16BE(r.pick([0x0800, 0x86dd, 0x0806, 0x8100, 0x88a8, 0x0000, 0xffff]), l3 - 2);
      return d;
    case 8:
      // Extra bytes after the datagram (link padding) or a frame grown to nearly the buffer size.
      return Buffer.concat([d, r.bytes(r.chance(0.8) ? r.range(1, 40) : r.range(100, Math.max(100, 1900 - d.length)))]);
    case 9:
      // A valid checksum over damaged bytes (so damage gets past checksum checks).
      mutateBytes(r, d);
      if (s.layout.family === 4) fixIpv4Checksum(d, l3, r, true);
      return d;
    default:
      return mutateBytes(r, d);
  }
}

function mutateBytes(r: Rng, d: Buffer): Buffer {
  const n = r.range(1, 8);
  for (let i = 0; i < n && d.length; i++) d[r.int(d.length)] = r.int(256);
  return d;
}

/** Option bytes that look like options: types 0/1/7/68/131/137/148 with lengths and pointers at edge values. */
function optionGarbage(r: Rng, n: number): Buffer {
  const b = Buffer.alloc(n);
  let i = 0;
  while (i < n) {
    const t = r.pick([0, 1, 7, 68, 0x83, 0x89, 0x94, 0x82, r.int(256)]);
    b[i++] = t;
    if (t === 0 || t === 1) continue;
    if (i < n) b[i++] = r.pick([0, 1, 2, 3, 4, 5, 8, 11, 39, 40, 255, r.int(n + 4)]);
    if (i < n) b[i++] = r.pick([0, 1, 3, 4, 5, 8, 9, 40, 41, 255]);
    if (i < n && t === 68) b[i++] = r.int(256);
  }
  return b;
}

/** Recompute the IPv4 header checksum (half the time, or always), bounded by the packet. */
export function fixIpv4Checksum(d: Buffer, l3: number, r: Rng, always = false): void {
  if (!always && r.chance(0.5)) return;
  const hl = (d[l3] & 15) * 4;
  if (hl < 20 || d.length < l3 + hl) return;
  d.writeUInt16BE(0, l3 + 10);
  d.writeUInt16BE(checksum16(d.subarray(l3, l3 + hl)), l3 + 10);
}

/** A stack of 0-4 VLAN tags (802.1Q or 802.1ad) inserted after the addresses of a frame. */
export function vlanStack(r: Rng, frame: Buffer, tags = r.int(5)): Buffer {
  if (frame.length < 12) return frame;
  const parts = [frame.subarray(0, 12)];
  for (let i = 0; i < tags; i++) {
    const t = Buffer.alloc(4);
    t.writeUInt16BE(r.pick([0x8100, 0x88a8]), 0);
    t.writeUInt16BE(r.int(65536), 2);
    parts.push(t);
  }
  parts.push(frame.subarray(12));
  return Buffer.concat(parts);
}

/** Odd sizes and random bytes: 0, 1, 13, 14 bytes, random lengths, nearly buffer-sized. */
export function randomPacket(r: Rng): Buffer {
  const len = r.pick([0, 1, 2, 13, 14, 19, 20, 39, 40, 41, 59, 60, r.int(128), r.int(1600), r.range(1500, MAX_PACKET)]);
  const b = r.bytes(len);
  // Half the time, a plausible first byte (IPv4 / IPv6 version) so parsers get further.
  if (len && r.chance(0.5)) b[0] = r.pick([0x45, 0x46, 0x4f, 0x60, 0x40]);
  return b;
}

/** The largest packet: the engine's default buffer (2048 bytes) less its 128 bytes of headroom. */
export const MAX_PACKET = 1920;

export interface CorpusOptions {
  count: number;
  /** Makes one valid sample. */
  valid: (r: Rng) => Sample;
  /** Share of valid samples left unmutated (default 0.3). */
  validShare?: number;
  /** Share of pure random packets (default 0.12). */
  randomShare?: number;
  /** Frames get 0-4 VLAN tags some of the time (Ethernet corpora). */
  vlan?: boolean;
}

/** A corpus: valid samples, mutated ones and random bytes, in a random order; returns the packets and how many are unmutated valid ones. */
export function corpus(r: Rng, o: CorpusOptions): { packets: Buffer[]; valid: number } {
  const packets: Buffer[] = [];
  let valid = 0;
  const vs = o.validShare ?? 0.3;
  const rs = o.randomShare ?? 0.12;
  while (packets.length < o.count) {
    const x = r.u32() / 0x100000000;
    if (x < vs) {
      packets.push(o.valid(r).data);
      valid++;
    } else if (x < 1 - rs) {
      const s = o.valid(r);
      let d = mutate(r, s);
      if (r.chance(0.3)) d = mutate(r, { data: d, layout: s.layout });
      if (o.vlan && r.chance(0.2)) d = vlanStack(r, d);
      packets.push(d);
    } else packets.push(randomPacket(r));
  }
  // Some fixed shapes every run has.
  packets.push(Buffer.alloc(0), Buffer.alloc(1), Buffer.alloc(MAX_PACKET, 0xff));
  // FromPcap ends playback at a record larger than a pool buffer holds: cut there.
  return { packets: packets.map((p) => (p.length > MAX_PACKET ? p.subarray(0, MAX_PACKET) : p)), valid };
}

export function hex(b: Buffer): string {
  return b.toString('hex');
}
