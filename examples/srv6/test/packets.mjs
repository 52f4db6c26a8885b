// Packet bytes for the tests: IPv4 and IPv6 UDP packets and SRv6 packets (RFC 8754 SRH), built
// field by field so the tests state what they send and what they expect back.

export function ip4(text) {
  return Buffer.from(text.split('.').map(Number));
}

export function ip6(text) {
  const [head, tail = ''] = text.split('::');
  const words = (s) => (s ? s.split(':').map((w) => parseInt(w, 16)) : []);
  const h = words(head), t = text.includes('::') ? words(tail) : [];
  const all = [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  const b = Buffer.alloc(16);
  all.forEach((w, i) => b.writeUInt16BE(w, i * 2));
  return b;
}

function udp(payload) {
  const u = Buffer.alloc(8 + payload.length);
  u.writeUInt16BE(4000, 0);
  u.writeUInt16BE(5000, 2);
  u.writeUInt16BE(u.length, 4);
  payload.copy(u, 8);
  return u;
}

function checksum(b) {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += (b[i] << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}

export function ipv4Udp(src, dst, size = 40, tos = 0) {
  const body = udp(Buffer.alloc(size, 0xab));
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h[1] = tos;
  h.writeUInt16BE(20 + body.length, 2);
  h[8] = 64;
  h[9] = 17;
  ip4(src).copy(h, 12);
  ip4(dst).copy(h, 16);
  h.writeUInt16BE(checksum(h), 10);
  return Buffer.concat([h, body]);
}

export function ipv6Header(src, dst, next, payloadLength, hopLimit = 64, tc = 0) {
  const h = Buffer.alloc(40);
  h.writeUInt32BE(((6 << 28) | (tc << 20)) >>> 0, 0);
  h.writeUInt16BE(payloadLength, 4);
  h[6] = next;
  h[7] = hopLimit;
  ip6(src).copy(h, 8);
  ip6(dst).copy(h, 24);
  return h;
}

export function ipv6Udp(src, dst, size = 40, tc = 0) {
  const body = udp(Buffer.alloc(size, 0xcd));
  return Buffer.concat([ipv6Header(src, dst, 17, body.length, 64, tc), body]);
}

/** An SRH: `list` in SRH order (Segment List[0] first, the path's last segment). Fields may be
 *  overridden to make malformed headers. */
export function srh(next, list, { segmentsLeft = list.length - 1, lastEntry = list.length - 1, hdrExtLen = 2 * list.length } = {}) {
  const h = Buffer.alloc(8 + 16 * list.length);
  h[0] = next;
  h[1] = hdrExtLen;
  h[2] = 4;
  h[3] = segmentsLeft;
  h[4] = lastEntry;
  list.forEach((s, i) => ip6(s).copy(h, 8 + 16 * i));
  return h;
}

/** An IPv6 packet to `dst` carrying `srhBytes` (or none) and then `inner` of protocol `innerProto`. */
export function srv6(src, dst, srhBytes, inner, innerProto, hopLimit = 64) {
  const rest = srhBytes ? Buffer.concat([srhBytes, inner]) : inner;
  return Buffer.concat([ipv6Header(src, dst, srhBytes ? 43 : innerProto, rest.length, hopLimit), rest]);
}

/** The packets of a pcap file (microsecond or nanosecond, either byte order). */
export function readPcap(bytes) {
  const le = bytes.readUInt32LE(0) === 0xa1b2c3d4 || bytes.readUInt32LE(0) === 0xa1b23c4d;
  const u32 = (o) => (le ? bytes.readUInt32LE(o) : bytes.readUInt32BE(o));
  const out = [];
  for (let o = 24; o + 16 <= bytes.length; ) {
    const incl = u32(o + 8);
    out.push(bytes.subarray(o + 16, o + 16 + incl));
    o += 16 + incl;
  }
  return out;
}

export const hex = (b) => b.toString('hex');

/** A pcap file (microseconds, raw IP link type 101) holding `packets`. */
export function writePcap(packets) {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(65535, 16);
  head.writeUInt32LE(101, 20);
  const records = packets.map((p) => {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(p.length, 8);
    r.writeUInt32LE(p.length, 12);
    return Buffer.concat([r, p]);
  });
  return Buffer.concat([head, ...records]);
}
