// Small packet builders and checkers for the tests: Ethernet, IPv4 (with a correct header
// checksum), IPv6, UDP and TCP (with correct pseudo-header checksums over IPv4 or IPv6),
// ICMP echo, and verifiers for the checksums. Everything returns plain Buffers, so
// layers nest: ether({ payload: ipv4({ payload: udp({ ... }) }) }).
//
// Addresses are strings ('10.0.0.1', '2001:db8::1', '02:00:00:00:00:01') or bytes.

export type Bytes = Uint8Array | Buffer;
export type Addr = string | Bytes;

export const ETH_IPV4 = 0x0800;
export const ETH_ARP = 0x0806;
export const ETH_VLAN = 0x8100;
export const ETH_IPV6 = 0x86dd;
export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMPV6 = 58;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;

const buf = (b: Bytes | string | undefined): Buffer =>
  b === undefined ? Buffer.alloc(0) : typeof b === 'string' ? Buffer.from(b) : Buffer.from(b.buffer, b.byteOffset, b.length);

// ---------- addresses ----------

/** '02:00:00:00:00:01' (or '-' separated, or 12 hex digits) -> 6 bytes. */
export function mac(a: Addr): Buffer {
  if (typeof a !== 'string') {
    if (a.length !== 6) throw new Error(`a MAC address has 6 bytes, got ${a.length}`);
    return buf(a);
  }
  const hex = a.replace(/[:\-.]/g, '');
  if (!/^[0-9a-fA-F]{12}$/.test(hex)) throw new Error(`bad MAC address '${a}'`);
  return Buffer.from(hex, 'hex');
}

/** '10.0.0.1' -> 4 bytes. */
export function ip4(a: Addr): Buffer {
  if (typeof a !== 'string') {
    if (a.length !== 4) throw new Error(`an IPv4 address has 4 bytes, got ${a.length}`);
    return buf(a);
  }
  const parts = a.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new Error(`bad IPv4 address '${a}'`);
  return Buffer.from(parts.map(Number));
}

/** '2001:db8::1' (also with a trailing dotted IPv4 part) -> 16 bytes. */
export function ip6(a: Addr): Buffer {
  if (typeof a !== 'string') {
    if (a.length !== 16) throw new Error(`an IPv6 address has 16 bytes, got ${a.length}`);
    return buf(a);
  }
  let text = a;
  const groups: number[] = [];
  const tail: number[] = [];
  // A dotted IPv4 tail ('::ffff:1.2.3.4') becomes two groups.
  const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let v4: Buffer | undefined;
  if (m) {
    v4 = ip4(m[2]);
    text = m[1] + '0:0';
  }
  const halves = text.split('::');
  if (halves.length > 2) throw new Error(`bad IPv6 address '${a}'`);
  const parse = (s: string, into: number[]) => {
    if (s === '') return;
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new Error(`bad IPv6 address '${a}'`);
      into.push(parseInt(g, 16));
    }
  };
  parse(halves[0], groups);
  if (halves.length === 2) parse(halves[1], tail);
  const missing = 8 - groups.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) throw new Error(`bad IPv6 address '${a}'`);
  const all = [...groups, ...new Array(missing).fill(0), ...tail];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  if (v4) v4.copy(out, 12);
  return out;
}

/** 4 or 16 bytes back to text ('10.0.0.1', '2001:db8:0:0:0:0:0:1' uncompressed). */
export function ipToString(b: Bytes): string {
  if (b.length === 4) return Array.from(b).join('.');
  if (b.length === 16) {
    const g: string[] = [];
    for (let i = 0; i < 16; i += 2) g.push(((b[i] << 8) | b[i + 1]).toString(16));
    return g.join(':');
  }
  throw new Error(`an address has 4 or 16 bytes, got ${b.length}`);
}

const isV6 = (a: Addr) => (typeof a === 'string' ? a.includes(':') : a.length === 16);
const ipBytes = (a: Addr) => (isV6(a) ? ip6(a) : ip4(a));

// ---------- checksums ----------

/** The 16-bit one's-complement sum of the bytes (not complemented), added to `acc`. */
export function sum16(data: Bytes, acc = 0): number {
  let s = acc;
  const n = data.length;
  for (let i = 0; i + 1 < n; i += 2) s += (data[i] << 8) | data[i + 1];
  if (n & 1) s += data[n - 1] << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** The Internet checksum (RFC 1071) of the bytes: the complement of their one's-complement sum. */
export function checksum16(data: Bytes, acc = 0): number {
  return ~sum16(data, acc) & 0xffff;
}

/** The one's-complement sum of the IPv4 or IPv6 pseudo-header. */
export function pseudoHeaderSum(src: Addr, dst: Addr, proto: number, length: number): number {
  const s = ipBytes(src);
  const d = ipBytes(dst);
  if (s.length !== d.length) throw new Error('source and destination are different IP versions');
  let acc = sum16(s);
  acc = sum16(d, acc);
  if (s.length === 4) {
    acc += proto + length;
  } else {
    acc += (length >>> 16) + (length & 0xffff) + proto;
  }
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  return acc;
}

// ---------- builders ----------

export interface EtherOptions {
  dst?: Addr;
  src?: Addr;
  /** EtherType (default 0x0800, IPv4). */
  type?: number;
  /** An 802.1Q tag: the TCI (PCP, DEI and VLAN id), inserted before the type. */
  vlan?: number;
  payload?: Bytes | string;
  /** Pad the frame with zeros to at least this many bytes (default 0: no padding). */
  minLength?: number;
}

export function ether(o: EtherOptions = {}): Buffer {
  const payload = buf(o.payload);
  const head = Buffer.alloc(o.vlan === undefined ? 14 : 18);
  mac(o.dst ?? '02:00:00:00:00:02').copy(head, 0);
  mac(o.src ?? '02:00:00:00:00:01').copy(head, 6);
  let off = 12;
  if (o.vlan !== undefined) {
    head.writeUInt16BE(ETH_VLAN, 12);
    head.writeUInt16BE(o.vlan & 0xffff, 14);
    off = 16;
  }
  head.writeUInt16BE(o.type ?? ETH_IPV4, off);
  const frame = Buffer.concat([head, payload]);
  if (o.minLength && frame.length < o.minLength) return Buffer.concat([frame, Buffer.alloc(o.minLength - frame.length)]);
  return frame;
}

export interface Ipv4Options {
  src?: Addr;
  dst?: Addr;
  /** Protocol (default 17, UDP). */
  proto?: number;
  ttl?: number;
  tos?: number;
  id?: number;
  /** Don't-fragment flag. */
  df?: boolean;
  /** More-fragments flag. */
  mf?: boolean;
  /** Fragment offset in 8-byte units. */
  fragOffset?: number;
  /** IP options (padded with zeros to a multiple of 4 bytes). */
  options?: Bytes;
  payload?: Bytes | string;
  /** Override the total length field (default: the real length). */
  totalLength?: number;
  /** Override the header checksum (default: the correct one). */
  checksum?: number;
  /** Override the version nibble (default 4). */
  version?: number;
}

export function ipv4(o: Ipv4Options = {}): Buffer {
  const payload = buf(o.payload);
  let options = buf(o.options);
  if (options.length % 4) options = Buffer.concat([options, Buffer.alloc(4 - (options.length % 4))]);
  if (options.length > 40) throw new Error('IPv4 options are at most 40 bytes');
  const hl = 20 + options.length;
  const h = Buffer.alloc(hl);
  h[0] = ((o.version ?? 4) << 4) | (hl / 4);
  h[1] = o.tos ?? 0;
  h.writeUInt16BE(o.totalLength ?? hl + payload.length, 2);
  h.writeUInt16BE(o.id ?? 0, 4);
  h.writeUInt16BE((o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | ((o.fragOffset ?? 0) & 0x1fff), 6);
  h[8] = o.ttl ?? 64;
  h[9] = o.proto ?? PROTO_UDP;
  ip4(o.src ?? '10.0.0.1').copy(h, 12);
  ip4(o.dst ?? '10.0.0.2').copy(h, 16);
  options.copy(h, 20);
  h.writeUInt16BE(o.checksum ?? checksum16(h), 10);
  return Buffer.concat([h, payload]);
}

export interface Ipv6Options {
  src?: Addr;
  dst?: Addr;
  /** Next header (default 17, UDP). */
  nextHeader?: number;
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
  payload?: Bytes | string;
  /** Override the payload length field. */
  payloadLength?: number;
}

export function ipv6(o: Ipv6Options = {}): Buffer {
  const payload = buf(o.payload);
  const h = Buffer.alloc(40);
  h.writeUInt32BE(((6 << 28) | (((o.trafficClass ?? 0) & 0xff) << 20) | ((o.flowLabel ?? 0) & 0xfffff)) >>> 0, 0);
  h.writeUInt16BE(o.payloadLength ?? payload.length, 4);
  h[6] = o.nextHeader ?? PROTO_UDP;
  h[7] = o.hopLimit ?? 64;
  ip6(o.src ?? '2001:db8::1').copy(h, 8);
  ip6(o.dst ?? '2001:db8::2').copy(h, 24);
  return Buffer.concat([h, payload]);
}

export interface UdpOptions {
  sport?: number;
  dport?: number;
  payload?: Bytes | string;
  /** IP source and destination for the pseudo-header checksum (IPv4 or IPv6). Without them the checksum is 0 (none; IPv4 only). */
  src?: Addr;
  dst?: Addr;
  /** Override the checksum. */
  checksum?: number;
  /** Override the length field. */
  length?: number;
}

export function udp(o: UdpOptions = {}): Buffer {
  const payload = buf(o.payload);
  const h = Buffer.alloc(8);
  const len = 8 + payload.length;
  h.writeUInt16BE(o.sport ?? 1234, 0);
  h.writeUInt16BE(o.dport ?? 5678, 2);
  h.writeUInt16BE(o.length ?? len, 4);
  const seg = Buffer.concat([h, payload]);
  let ck = 0;
  if (o.checksum !== undefined) ck = o.checksum;
  else if (o.src !== undefined && o.dst !== undefined) {
    ck = checksum16(seg, pseudoHeaderSum(o.src, o.dst, PROTO_UDP, len));
    if (ck === 0) ck = 0xffff; // 0 means "no checksum"; RFC 768 sends all ones instead
  }
  seg.writeUInt16BE(ck, 6);
  return seg;
}

export interface TcpOptions {
  sport?: number;
  dport?: number;
  seq?: number;
  ack?: number;
  /** Flag bits (TCP_SYN | TCP_ACK ...); default ACK. */
  flags?: number;
  window?: number;
  urgent?: number;
  /** TCP options (padded with zeros to a multiple of 4 bytes). */
  options?: Bytes;
  payload?: Bytes | string;
  /** IP source and destination for the pseudo-header checksum (required unless `checksum` is given). */
  src?: Addr;
  dst?: Addr;
  checksum?: number;
}

export function tcp(o: TcpOptions = {}): Buffer {
  const payload = buf(o.payload);
  let options = buf(o.options);
  if (options.length % 4) options = Buffer.concat([options, Buffer.alloc(4 - (options.length % 4))]);
  const hl = 20 + options.length;
  if (hl > 60) throw new Error('TCP options are at most 40 bytes');
  const h = Buffer.alloc(hl);
  h.writeUInt16BE(o.sport ?? 1234, 0);
  h.writeUInt16BE(o.dport ?? 80, 2);
  h.writeUInt32BE((o.seq ?? 1) >>> 0, 4);
  h.writeUInt32BE((o.ack ?? 0) >>> 0, 8);
  h[12] = (hl / 4) << 4;
  h[13] = o.flags ?? TCP_ACK;
  h.writeUInt16BE(o.window ?? 65535, 14);
  h.writeUInt16BE(o.urgent ?? 0, 18);
  options.copy(h, 20);
  const seg = Buffer.concat([h, payload]);
  let ck: number;
  if (o.checksum !== undefined) ck = o.checksum;
  else {
    if (o.src === undefined || o.dst === undefined) throw new Error('tcp(): give src and dst (IP addresses for the checksum) or checksum');
    ck = checksum16(seg, pseudoHeaderSum(o.src, o.dst, PROTO_TCP, seg.length));
  }
  seg.writeUInt16BE(ck, 16);
  return seg;
}

export interface IcmpOptions {
  /** Type (default: echo request, 8 for ICMPv4 and 128 for ICMPv6). */
  type?: number;
  code?: number;
  /** The 4 bytes after the checksum (echo: identifier and sequence); default id 1, seq 1. */
  rest?: Bytes | number;
  payload?: Bytes | string;
  checksum?: number;
}

function icmpBody(o: IcmpOptions, defType: number): Buffer {
  const h = Buffer.alloc(8);
  h[0] = o.type ?? defType;
  h[1] = o.code ?? 0;
  if (typeof o.rest === 'number') h.writeUInt32BE(o.rest >>> 0, 4);
  else if (o.rest) buf(o.rest).copy(h, 4, 0, 4);
  else h.writeUInt32BE(0x00010001, 4);
  return Buffer.concat([h, buf(o.payload)]);
}

/** ICMPv4 message (checksum over the message only). */
export function icmp4(o: IcmpOptions = {}): Buffer {
  const m = icmpBody(o, 8);
  m.writeUInt16BE(o.checksum ?? checksum16(m), 2);
  return m;
}

/** ICMPv6 message (checksum with the IPv6 pseudo-header). */
export function icmp6(o: IcmpOptions & { src?: Addr; dst?: Addr } = {}): Buffer {
  const m = icmpBody(o, 128);
  let ck: number;
  if (o.checksum !== undefined) ck = o.checksum;
  else {
    if (o.src === undefined || o.dst === undefined) throw new Error('icmp6(): give src and dst (IPv6 addresses for the checksum) or checksum');
    ck = checksum16(m, pseudoHeaderSum(o.src, o.dst, PROTO_ICMPV6, m.length));
  }
  m.writeUInt16BE(ck, 2);
  return m;
}

// ---------- whole frames, for convenience ----------

export interface FrameOptions {
  ethSrc?: Addr;
  ethDst?: Addr;
  vlan?: number;
  src?: Addr;
  dst?: Addr;
  ttl?: number;
  sport?: number;
  dport?: number;
  payload?: Bytes | string;
  minLength?: number;
}

/** Ethernet + IPv4 + UDP with correct checksums. */
export function udp4Frame(o: FrameOptions = {}): Buffer {
  const src = o.src ?? '10.0.0.1';
  const dst = o.dst ?? '10.0.0.2';
  return ether({
    src: o.ethSrc,
    dst: o.ethDst,
    vlan: o.vlan,
    type: ETH_IPV4,
    minLength: o.minLength,
    payload: ipv4({ src, dst, ttl: o.ttl, proto: PROTO_UDP, payload: udp({ sport: o.sport, dport: o.dport, payload: o.payload, src, dst }) }),
  });
}

/** Ethernet + IPv6 + UDP with a correct checksum. */
export function udp6Frame(o: FrameOptions = {}): Buffer {
  const src = o.src ?? '2001:db8::1';
  const dst = o.dst ?? '2001:db8::2';
  return ether({
    src: o.ethSrc,
    dst: o.ethDst,
    vlan: o.vlan,
    type: ETH_IPV6,
    minLength: o.minLength,
    payload: ipv6({ src, dst, hopLimit: o.ttl, nextHeader: PROTO_UDP, payload: udp({ sport: o.sport, dport: o.dport, payload: o.payload, src, dst }) }),
  });
}

// ---------- parsing and verifying ----------

/** The offset of the layer-3 header in an Ethernet frame (after any 802.1Q/802.1ad tags) and its EtherType. */
export function l3Offset(frame: Bytes): { offset: number; type: number } {
  let off = 12;
  if (frame.length < 14) throw new Error(`frame of ${frame.length} bytes is shorter than an Ethernet header`);
  let type = (frame[off] << 8) | frame[off + 1];
  while ((type === 0x8100 || type === 0x88a8) && off + 6 <= frame.length) {
    off += 4;
    type = (frame[off] << 8) | frame[off + 1];
  }
  return { offset: off + 2, type };
}

export interface Ipv4Header {
  version: number;
  ihl: number;
  headerLength: number;
  tos: number;
  totalLength: number;
  id: number;
  df: boolean;
  mf: boolean;
  fragOffset: number;
  ttl: number;
  proto: number;
  checksum: number;
  src: string;
  dst: string;
}

/** Parse the IPv4 header at `offset`. */
export function parseIpv4(b: Bytes, offset = 0): Ipv4Header {
  const h = buf(b).subarray(offset);
  if (h.length < 20) throw new Error('shorter than an IPv4 header');
  const flags = h.readUInt16BE(6);
  return {
    version: h[0] >> 4,
    ihl: h[0] & 15,
    headerLength: (h[0] & 15) * 4,
    tos: h[1],
    totalLength: h.readUInt16BE(2),
    id: h.readUInt16BE(4),
    df: (flags & 0x4000) !== 0,
    mf: (flags & 0x2000) !== 0,
    fragOffset: flags & 0x1fff,
    ttl: h[8],
    proto: h[9],
    checksum: h.readUInt16BE(10),
    src: ipToString(h.subarray(12, 16)),
    dst: ipToString(h.subarray(16, 20)),
  };
}

export interface Ipv6Header {
  version: number;
  trafficClass: number;
  flowLabel: number;
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  src: string;
  dst: string;
}

/** Parse the IPv6 header at `offset` (addresses as uncompressed text). */
export function parseIpv6(b: Bytes, offset = 0): Ipv6Header {
  const h = buf(b).subarray(offset);
  if (h.length < 40) throw new Error('shorter than an IPv6 header');
  const w = h.readUInt32BE(0);
  return {
    version: w >>> 28,
    trafficClass: (w >>> 20) & 0xff,
    flowLabel: w & 0xfffff,
    payloadLength: h.readUInt16BE(4),
    nextHeader: h[6],
    hopLimit: h[7],
    src: ipToString(h.subarray(8, 24)),
    dst: ipToString(h.subarray(24, 40)),
  };
}

/** Whether the IPv4 header at `offset` has a correct header checksum. */
export function verifyIpv4Checksum(b: Bytes, offset = 0): boolean {
  const h = buf(b).subarray(offset);
  if (h.length < 20 || h[0] >> 4 !== 4) return false;
  const hl = (h[0] & 15) * 4;
  if (hl < 20 || hl > h.length) return false;
  return sum16(h.subarray(0, hl)) === 0xffff;
}

/**
 * Whether the UDP, TCP, ICMP or ICMPv6 checksum of the IP packet at `offset` (IPv4 or IPv6,
 * told apart by the version nibble) is correct. The segment extends to the IP length field.
 * IPv6 hop-by-hop, routing and destination-options headers are skipped. A UDP-over-IPv4
 * checksum of 0 (none) counts as correct. Returns false for fragments after the first, for
 * unknown protocols, and for lengths that do not fit the buffer.
 */
export function verifyL4Checksum(b: Bytes, offset = 0): boolean {
  const p = buf(b).subarray(offset);
  if (p.length < 1) return false;
  const version = p[0] >> 4;
  let src: Buffer, dst: Buffer, proto: number, seg: Buffer;
  if (version === 4) {
    if (p.length < 20) return false;
    const hl = (p[0] & 15) * 4;
    const total = p.readUInt16BE(2);
    if (hl < 20 || total < hl || total > p.length) return false;
    if ((p.readUInt16BE(6) & 0x1fff) !== 0) return false;
    src = p.subarray(12, 16);
    dst = p.subarray(16, 20);
    proto = p[9];
    seg = p.subarray(hl, total);
  } else if (version === 6) {
    if (p.length < 40) return false;
    const end = 40 + p.readUInt16BE(4);
    if (end > p.length) return false;
    src = p.subarray(8, 24);
    dst = p.subarray(24, 40);
    proto = p[6];
    let off = 40;
    while (proto === 0 || proto === 43 || proto === 60) {
      if (off + 8 > end) return false;
      const next = p[off];
      off += (p[off + 1] + 1) * 8;
      proto = next;
    }
    if (off > end) return false;
    seg = p.subarray(off, end);
  } else return false;
  if (proto === PROTO_UDP) {
    if (seg.length < 8) return false;
    if (version === 4 && seg.readUInt16BE(6) === 0) return true;
  } else if (proto === PROTO_TCP) {
    if (seg.length < 20) return false;
  } else if (proto === PROTO_ICMP && version === 4) {
    if (seg.length < 4) return false;
    return sum16(seg) === 0xffff;
  } else if (proto === PROTO_ICMPV6 && version === 6) {
    if (seg.length < 4) return false;
  } else return false;
  return sum16(seg, pseudoHeaderSum(src, dst, proto, seg.length)) === 0xffff;
}
