// The IPv4 elements with crafted packets: FromPcap -> element(s) -> ToPcap, bytes and
// checksums checked against test/lib/packets.ts. CheckIPHeader on good packets and on each
// kind of malformed one (each drop under its counter); MarkIPHeader; DecIPTTL's incremental
// checksum against a full recomputation over many random headers, expired packets to
// output 1 or dropped; EtherEncap's bytes; GetIPAddress and SetIPAddress steering an
// IPLookup; SetIPDSCP; SetIPChecksum, SetUDPChecksum and SetTCPChecksum repairing broken
// checksums; and the router's fast path as one chain.
import t from 'tap';
import {
  FromPcap,
  ToPcap,
  Strip,
  Unstrip,
  IPLookup,
  CheckIPHeader,
  MarkIPHeader,
  DecIPTTL,
  EtherEncap,
  GetIPAddress,
  SetIPAddress,
  SetIPDSCP,
  SetIPChecksum,
  SetUDPChecksum,
  SetTCPChecksum,
  Queue,
  Unqueue,
  Discard,
  type ElementNode,
} from 'pktgraph';
import { runGraph } from './lib/run.js';
import { rng, type Rng } from './lib/rng.js';
import { pcapFiles, sameBuffers } from './lib/pcapfiles.js';
import {
  ether,
  ipv4,
  udp,
  tcp,
  mac,
  checksum16,
  sum16,
  pseudoHeaderSum,
  verifyIpv4Checksum,
  verifyL4Checksum,
  ETH_IPV4,
  PROTO_TCP,
  PROTO_UDP,
} from './lib/packets.js';

// ---------- helpers ----------

const { input, sink, read } = pcapFiles('ipel');

const randomAddr = (r: Rng, first?: number) => [first ?? r.int(1, 223), r.int(0, 255), r.int(0, 255), r.int(0, 255)].join('.');
const randomBytes = (r: Rng, n: number) => Buffer.from(Array.from({ length: n }, () => r.int(0, 255)));

/** A random valid IPv4 header (with options sometimes) over a short UDP payload. */
function randomIp(r: Rng, ttl: number): Buffer {
  const src = randomAddr(r);
  const dst = randomAddr(r);
  return ipv4({
    src,
    dst,
    ttl,
    tos: r.int(0, 255),
    id: r.int(0, 65535),
    df: r.next() < 0.5,
    options: r.next() < 0.25 ? Buffer.concat([Buffer.from([1, 1, 1]), randomBytes(r, 4 * r.int(0, 9) + 1)]) : undefined,
    payload: udp({ src, dst, payload: randomBytes(r, r.int(0, 40)) }),
  });
}

const headerLength = (ip: Buffer) => (ip[0] & 15) * 4;
/** The header checksum a full recomputation gives. */
function fullChecksum(ip: Buffer): number {
  const h = Buffer.from(ip.subarray(0, headerLength(ip)));
  h.writeUInt16BE(0, 10);
  return checksum16(h);
}

// ---------- CheckIPHeader ----------

t.test('CheckIPHeader passes good packets and drops each kind of bad one under its counter', async (t) => {
  const good = [
    ipv4({ payload: udp({ src: '10.0.0.1', dst: '10.0.0.2', payload: 'hello' }) }),
    ipv4({ src: '198.18.0.1', dst: '198.19.0.1', ttl: 1, payload: Buffer.alloc(100, 7) }),
    ipv4({ options: Buffer.from([1, 1, 1, 0, 7, 7, 4, 0]), payload: 'with options' }), // IHL 7
    ipv4({ src: '0.0.0.0', dst: '255.255.255.255', payload: 'dhcp' }), // 0.0.0.0 is accepted
    ipv4({ payload: '' }), // a bare 20-byte header
  ];
  const padded = ipv4({ payload: udp({ src: '10.0.0.1', dst: '10.0.0.2' }) }); // 28 bytes, then 18 of padding
  const base = ipv4({ payload: 'x'.repeat(30) });
  const withIhl = (b: Buffer, ihl: number) => {
    const c = Buffer.from(b);
    c[0] = (c[0] & 0xf0) | ihl;
    return c;
  };
  const bad: Record<string, Buffer[]> = {
    drops_short: [
      base.subarray(0, 19),
      Buffer.alloc(0),
      ipv4({ options: Buffer.alloc(8) }).subarray(0, 24), // IHL 7 (28 bytes), only 24 there
    ],
    drops_version: [ipv4({ version: 6, payload: 'v6' }), ipv4({ version: 0 })],
    drops_header_length: [withIhl(base, 4), withIhl(base, 0)],
    drops_total_length: [
      ipv4({ payload: 'abc', totalLength: 24 }), // one more than there is
      ipv4({ payload: 'abc', totalLength: 19 }), // less than the header
      ipv4({ options: Buffer.alloc(4), payload: 'abcd', totalLength: 22 }), // less than a 24-byte header
    ],
    drops_checksum: [ipv4({ payload: 'abc', checksum: 0x1234 }), (() => {
      const c = Buffer.from(base);
      c[8] ^= 1; // TTL changed, checksum not updated
      return c;
    })()],
    drops_bad_source: [
      ipv4({ src: '255.255.255.255', payload: 'a' }),
      ipv4({ src: '224.0.0.1', payload: 'b' }),
      ipv4({ src: '239.255.255.255', payload: 'c' }),
    ],
  };
  const all = [...good, Buffer.concat([padded, Buffer.alloc(18)]), ...Object.values(bad).flat()];
  const inFile = input('check', all);
  // The same packets behind an Ethernet header, checked at offset 14.
  const inFile14 = input('check14', all.map((p) => Buffer.concat([ether({}), p])));
  const s = await runGraph(() => {
    FromPcap({ file: inFile }).to(CheckIPHeader({}, 'chk')).to(sink('check'));
    FromPcap({ file: inFile }).to(CheckIPHeader({ checksum: false }, 'nock')).to(sink('nock'));
    FromPcap({ file: inFile14 }).to(CheckIPHeader({ offset: 14 }, 'chk14')).to(sink('check14'));
  });
  const want = [...good, padded];
  sameBuffers(t, read('check'), want, 'good packets pass unchanged, padding trimmed');
  sameBuffers(t, read('check14'), want.map((p) => Buffer.concat([ether({}), p])), 'at offset 14 too');
  t.ok(read('check').every((p) => verifyIpv4Checksum(p)), 'every passed header has a right checksum');
  for (const name of ['chk', 'chk14']) {
    const c = s.elements[name];
    t.equal(c.packets, want.length, `${name}: packets counts the good ones`);
    for (const [reason, pkts] of Object.entries(bad)) t.equal(c[reason], pkts.length, `${name}: ${reason}`);
  }
  const n = s.elements.nock;
  t.equal(n.drops_checksum, 0, 'checksum: false does not check checksums');
  t.equal(n.packets, want.length + bad.drops_checksum.length, 'and passes the packets with bad checksums');
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
});

// ---------- MarkIPHeader ----------

t.test('MarkIPHeader marks the header at its offset without checking; short packets dropped', async (t) => {
  const frames = [
    ether({ payload: ipv4({ ttl: 9, payload: 'one' }) }),
    ether({ payload: ipv4({ ttl: 9, payload: 'two', checksum: 0xbeef }) }), // not checked
    ether({ payload: ipv4({ ttl: 9 }) }).subarray(0, 33), // one byte short of offset + 20
  ];
  const inFile = input('mark', frames);
  const s = await runGraph(() => {
    FromPcap({ file: inFile }).to(MarkIPHeader({ offset: 14 }, 'mark')).to(DecIPTTL({}, 'ttl')).to(sink('mark'));
    // The default offset is 0: on an Ethernet frame it marks the wrong bytes.
    FromPcap({ file: inFile }).to(MarkIPHeader({}, 'mark0')).to(sink('mark0'));
  });
  const out = read('mark');
  t.equal(out.length, 2);
  t.same(out.map((p) => p[14 + 8]), [8, 8], 'DecIPTTL found the header MarkIPHeader marked');
  t.ok(verifyIpv4Checksum(out[0], 14), 'the checksum of the good header stays right');
  t.equal(s.elements.mark.drops_short, 1);
  t.equal(s.elements.mark0.drops_short, 0, 'offset 0: every frame is at least 20 bytes');
  t.equal(read('mark0').length, 3);
});

// ---------- DecIPTTL ----------

t.test('DecIPTTL: TTL and incremental checksum match a full recomputation over random headers', async (t) => {
  const r = rng(1624);
  const live = Array.from({ length: 3000 }, (_, i) => randomIp(r, i < 256 ? Math.max(2, i) : r.int(2, 255)));
  // Headers whose checksum field sits at the edges (0x0000, 0xffff and around), found by search.
  for (let i = 0; i < 200000 && live.length < 3100; i++) {
    const p = randomIp(r, r.int(2, 255));
    const ck = p.readUInt16BE(10);
    if (ck <= 0x0101 || ck >= 0xfefe) live.push(p);
  }
  const expired = [ipv4({ ttl: 1, payload: 'one' }), ipv4({ ttl: 0, payload: 'zero' })];
  const mixed: Buffer[] = [];
  live.forEach((p, i) => {
    mixed.push(p);
    if (i % 97 === 0) mixed.push(expired[i % 2]);
  });
  const nExpired = mixed.length - live.length;
  const inFile = input('ttl', mixed);
  const s = await runGraph(() => {
    const two = FromPcap({ file: inFile, burst: 64 }).to(MarkIPHeader()).to(DecIPTTL({}, 'ttl2'));
    two.out(0).to(sink('ttl-0'));
    two.out(1).to(sink('ttl-1'));
    FromPcap({ file: inFile, burst: 64 }).to(MarkIPHeader()).to(DecIPTTL({}, 'ttl1')).to(sink('ttl-only'));
    // Without a network-header annotation there is nothing to decrement.
    FromPcap({ file: inFile }).to(DecIPTTL({}, 'nohdr')).to(sink('nohdr'));
  });
  const out = read('ttl-0');
  t.equal(out.length, live.length, 'every live packet on output 0, in order');
  let badTtl = 0;
  let badCk = 0;
  let badRest = 0;
  out.forEach((p, i) => {
    const orig = live[i];
    if (p[8] !== orig[8] - 1) badTtl++;
    if (p.readUInt16BE(10) !== fullChecksum(p) || !verifyIpv4Checksum(p)) badCk++;
    const a = Buffer.from(p);
    const b = Buffer.from(orig);
    a[8] = b[8] = a[10] = b[10] = a[11] = b[11] = 0;
    if (!a.equals(b)) badRest++;
  });
  t.equal(badTtl, 0, 'TTL one less on every packet');
  t.equal(badCk, 0, 'checksum equal to a full recomputation on every packet');
  t.equal(badRest, 0, 'no other byte changed');
  t.ok(live.length - 3000 > 10, `edge checksums included (${live.length - 3000})`);
  sameBuffers(t, read('ttl-1'), mixed.filter((p) => p[8] <= 1), 'TTL 0 and 1 go to output 1 unchanged');
  t.same([s.elements.ttl2.packets, s.elements.ttl2.expired, s.elements.ttl2.drops_no_header], [live.length, nExpired, 0]);
  t.equal(read('ttl-only').length, live.length, 'with one output, expired packets are dropped');
  t.same([s.elements.ttl1.packets, s.elements.ttl1.drops_expired, s.elements.ttl1.expired], [live.length, nExpired, 0]);
  t.equal(read('nohdr').length, 0);
  t.equal(s.elements.nohdr.drops_no_header, mixed.length, 'no header annotation: dropped and counted');
  t.equal(s.pool.available, s.pool.capacity);
});

// ---------- EtherEncap ----------

t.test('EtherEncap prepends the configured header; without headroom drops and counts', async (t) => {
  const r = rng(14);
  const ips = Array.from({ length: 50 }, () => randomIp(r, 64));
  const inFile = input('encap', ips);
  const src = '02:00:00:00:aa:01';
  const dst = '0a:1b:2c:3d:4e:5f';
  const s = await runGraph(() => {
    FromPcap({ file: inFile }).to(EtherEncap({ type: 0x0800, src, dst }, 'encap')).to(sink('encap'));
    FromPcap({ file: inFile }).to(EtherEncap({ type: 0x86dd, src: dst, dst: src }, 'encap6')).to(sink('encap6'));
    // 128 bytes of headroom to start with: 115 taken leaves 13, one short of 14.
    FromPcap({ file: inFile }).to(Unstrip({ length: 115 })).to(EtherEncap({ src, dst }, 'tight')).to(sink('tight'));
    FromPcap({ file: inFile }).to(Unstrip({ length: 114 })).to(EtherEncap({ src, dst }, 'fits')).to(sink('fits'));
  });
  sameBuffers(t, read('encap'), ips.map((p) => ether({ src, dst, type: ETH_IPV4, payload: p })), 'Ethernet header then the packet');
  sameBuffers(t, read('encap6'), ips.map((p) => ether({ src: dst, dst: src, type: 0x86dd, payload: p })), 'another type and addresses');
  t.equal(read('tight').length, 0);
  t.equal(s.elements.tight.drops_no_headroom, ips.length, '13 bytes of headroom: dropped and counted');
  t.equal(read('fits').length, ips.length, '14 bytes of headroom are enough');
  t.equal(s.elements.encap.drops_no_headroom, 0);
  t.ok(read('encap').every((p) => p.subarray(0, 6).equals(mac(dst))));
});

// ---------- GetIPAddress, SetIPAddress ----------

t.test('GetIPAddress and SetIPAddress set the annotation that IPLookup routes on', async (t) => {
  const routes = ['10.1.0.0/16 1', '10.2.0.0/16 2', 'default 0'];
  // Source in 10.2/16, destination in 10.1/16: the header routes to 1, the source address to 2.
  const pkts = Array.from({ length: 20 }, (_, i) => ether({ payload: ipv4({ src: `10.2.0.${i + 1}`, dst: `10.1.0.${i + 1}`, payload: 'x' }) }));
  const short = Buffer.alloc(29, 0); // ends before offset 26 + 4
  const inFile = input('getip', [...pkts, short]);
  const lookup = (tag: string, head: ElementNode) => {
    const rt = head.to(IPLookup({ routes }, `rt_${tag}`));
    for (let o = 0; o < 3; o++) rt.out(o).to(sink(`${tag}-${o}`));
  };
  const s = await runGraph(() => {
    lookup('hdr', FromPcap({ file: input('getip-hdr', pkts) }));
    lookup('dst', FromPcap({ file: inFile }).to(GetIPAddress({ offset: 30 }, 'get_dst')));
    lookup('src', FromPcap({ file: inFile }).to(GetIPAddress({ offset: 26 }, 'get_src')));
    lookup('set', FromPcap({ file: inFile }).to(SetIPAddress({ address: '10.2.3.4' })));
    lookup('set0', FromPcap({ file: inFile }).to(GetIPAddress({ offset: 30 })).to(SetIPAddress({ address: '192.0.2.1' })));
  });
  const counts = (tag: string) => [0, 1, 2].map((o) => read(`${tag}-${o}`).length);
  t.same(counts('hdr'), [0, 20, 0], 'without an annotation IPLookup routes on the header destination');
  t.same(counts('dst'), [0, 20, 0], 'GetIPAddress(30) copies the destination: the same routes');
  t.same(counts('src'), [0, 0, 20], 'GetIPAddress(26) copies the source: the annotation wins over the header');
  t.equal(s.elements.get_src.drops_short, 1, 'a packet ending before offset + 4 dropped and counted');
  t.equal(s.elements.get_dst.drops_short, 1);
  t.same(counts('set'), [0, 0, 21], 'SetIPAddress(10.2.3.4) sends everything (the short one too) to output 2');
  t.same(counts('set0'), [20, 0, 0], 'the last annotation written wins');
  sameBuffers(t, read('src-2'), pkts, 'the packets themselves are unchanged');
});

// ---------- SetIPDSCP ----------

t.test('SetIPDSCP sets the DSCP bits, keeps ECN, and keeps the checksum right', async (t) => {
  const r = rng(46);
  const ips = Array.from({ length: 500 }, () => randomIp(r, r.int(1, 255)));
  const inFile = input('dscp', ips);
  const s = await runGraph(() => {
    FromPcap({ file: inFile }).to(MarkIPHeader()).to(SetIPDSCP({ dscp: 46 }, 'ef')).to(sink('dscp46'));
    FromPcap({ file: inFile }).to(MarkIPHeader()).to(SetIPDSCP({ dscp: 0 })).to(sink('dscp0'));
    FromPcap({ file: inFile }).to(SetIPDSCP({ dscp: 10 }, 'nohdr')).to(sink('dscp-nohdr'));
  });
  for (const [tag, dscp] of [['dscp46', 46], ['dscp0', 0]] as const) {
    const out = read(tag);
    t.equal(out.length, ips.length);
    t.equal(out.findIndex((p, i) => p[1] !== ((dscp << 2) | (ips[i][1] & 3))), -1, `DSCP ${dscp} set, ECN bits kept`);
    t.equal(out.findIndex((p) => p.readUInt16BE(10) !== fullChecksum(p)), -1, 'checksum equal to a full recomputation');
    t.equal(out.findIndex((p, i) => !p.subarray(12).equals(ips[i].subarray(12)) || p[8] !== ips[i][8]), -1, 'nothing else changed');
  }
  t.equal(s.elements.nohdr.drops_no_header, ips.length, 'no header annotation: dropped and counted');
  t.equal(s.elements.ef.drops_no_header, 0);
});

// ---------- Set*Checksum ----------

t.test('SetIPChecksum, SetUDPChecksum and SetTCPChecksum fix broken checksums; malformed packets counted', async (t) => {
  const r = rng(1071);
  const udps: Buffer[] = [];
  const tcps: Buffer[] = [];
  for (let i = 0; i < 200; i++) {
    const src = randomAddr(r);
    const dst = randomAddr(r);
    const payload = randomBytes(r, r.int(0, 60)); // odd and even lengths
    udps.push(ipv4({ src, dst, proto: PROTO_UDP, checksum: r.int(0, 65535), payload: udp({ src, dst, payload, checksum: r.int(0, 65535) }) }));
    tcps.push(
      ipv4({
        src,
        dst,
        proto: PROTO_TCP,
        checksum: r.int(0, 65535),
        options: i % 5 === 0 ? Buffer.from([1, 1, 1, 1]) : undefined,
        payload: tcp({ src, dst, payload, seq: r.int(0, 2 ** 31), checksum: r.int(0, 65535), options: i % 3 === 0 ? Buffer.from([2, 4, 5, 0xb4]) : undefined }),
      }),
    );
  }
  // A UDP datagram whose checksum comes out as 0: sent as 0xffff.
  {
    const src = '10.9.8.7';
    const dst = '10.6.5.4';
    const seg = udp({ src, dst, payload: Buffer.alloc(6), checksum: 0 });
    const s0 = sum16(seg, pseudoHeaderSum(src, dst, PROTO_UDP, seg.length));
    seg.writeUInt16BE(~s0 & 0xffff, 8); // makes the whole sum 0xffff, so the checksum 0
    udps.push(ipv4({ src, dst, proto: PROTO_UDP, payload: seg }));
  }
  const zeroUdp = udps.length - 1;
  const frag = (p: Buffer, bits: number) => {
    const c = Buffer.from(p);
    c.writeUInt16BE(bits, 6);
    return c;
  };
  const malformedUdp: Record<string, Buffer[]> = {
    drops_bad_header: [ipv4({ proto: PROTO_UDP, payload: Buffer.alloc(8), totalLength: 40 }), ipv4({ proto: PROTO_UDP, payload: Buffer.alloc(8), totalLength: 10 })],
    drops_not_udp: [tcps[0]],
    drops_fragment: [frag(udps[0], 0x2000), frag(udps[1], 0x0004)],
    drops_short: [ipv4({ proto: PROTO_UDP, payload: Buffer.alloc(7) }), ipv4({ proto: PROTO_UDP, payload: udp({ payload: 'abc', length: 12 }) })],
  };
  const malformedTcp: Record<string, Buffer[]> = {
    drops_bad_header: [ipv4({ proto: PROTO_TCP, payload: Buffer.alloc(20), totalLength: 41 })],
    drops_not_tcp: [udps[0], udps[1]],
    drops_fragment: [frag(tcps[0], 0x2000)],
    drops_short: [ipv4({ proto: PROTO_TCP, payload: Buffer.alloc(19) })],
  };
  const udpIn = input('udpck', [...udps, ...Object.values(malformedUdp).flat()]);
  const tcpIn = input('tcpck', [...tcps, ...Object.values(malformedTcp).flat()]);
  const ipIn = input('ipck', [...udps, Buffer.from([0x44, ...Buffer.alloc(30)]), Buffer.concat([Buffer.from([0x4f]), Buffer.alloc(40)])]);
  const s = await runGraph(() => {
    FromPcap({ file: udpIn }).to(MarkIPHeader()).to(SetIPChecksum()).to(SetUDPChecksum({}, 'udpck')).to(sink('udpck'));
    FromPcap({ file: tcpIn }).to(MarkIPHeader()).to(SetIPChecksum()).to(SetTCPChecksum({}, 'tcpck')).to(sink('tcpck'));
    FromPcap({ file: ipIn }).to(MarkIPHeader()).to(SetIPChecksum({}, 'ipck')).to(sink('ipck'));
    FromPcap({ file: ipIn }).to(SetIPChecksum({}, 'ipnohdr')).to(SetUDPChecksum({}, 'udpnohdr')).to(sink('nohdr'));
    FromPcap({ file: tcpIn }).to(SetTCPChecksum({}, 'tcpnohdr')).to(sink('nohdr2'));
  });
  const u = read('udpck');
  t.equal(u.length, udps.length, 'every well-formed UDP packet passes');
  t.equal(u.findIndex((p) => !verifyIpv4Checksum(p) || !verifyL4Checksum(p)), -1, 'IPv4 and UDP checksums right');
  t.equal(u[zeroUdp].readUInt16BE(26), 0xffff, 'a computed UDP checksum of 0 is sent as 0xffff');
  const tc = read('tcpck');
  t.equal(tc.length, tcps.length, 'every well-formed TCP packet passes');
  t.equal(tc.findIndex((p) => !verifyIpv4Checksum(p) || !verifyL4Checksum(p)), -1, 'IPv4 and TCP checksums right');
  const fixedOnly = (got: Buffer[], want: Buffer[], ckAt: (p: Buffer) => number) =>
    got.findIndex((p, i) => {
      const a = Buffer.from(p);
      const b = Buffer.from(want[i]);
      for (const o of [10, ckAt(a)]) a[o] = b[o] = a[o + 1] = b[o + 1] = 0;
      return !a.equals(b);
    });
  t.equal(fixedOnly(u, udps, (p) => headerLength(p) + 6), -1, 'only the checksum fields changed (UDP)');
  t.equal(fixedOnly(tc, tcps, (p) => headerLength(p) + 16), -1, 'only the checksum fields changed (TCP)');
  for (const [reason, pkts] of Object.entries(malformedUdp)) t.equal(s.elements.udpck[reason], pkts.length, `SetUDPChecksum ${reason}`);
  for (const [reason, pkts] of Object.entries(malformedTcp)) t.equal(s.elements.tcpck[reason], pkts.length, `SetTCPChecksum ${reason}`);
  t.equal(s.elements.udpck.drops_no_header, 0);
  t.equal(read('ipck').length, udps.length);
  t.equal(s.elements.ipck.drops_bad_header, 2, 'SetIPChecksum: IHL 4 and a header past the end dropped');
  t.equal(s.elements.ipnohdr.drops_no_header, udps.length + 2, 'no header annotation: dropped and counted');
  t.equal(s.elements.tcpnohdr.drops_no_header, tcps.length + 5);
  t.equal(s.pool.available, s.pool.capacity);
});

// ---------- the router's fast path ----------

t.test('fast path: Strip -> CheckIPHeader -> IPLookup -> DecIPTTL -> EtherEncap per output', async (t) => {
  const r = rng(2026);
  const routes = ['198.18.0.0/16 0', '198.19.0.0/16 1', '198.19.128.0/17 2'];
  const macs = ['02:00:00:00:01:00', '02:00:00:00:01:01', '02:00:00:00:01:02'];
  const router = '02:00:00:00:00:fe';
  const outputOf = (dst: string) => {
    const [, b, c] = dst.split('.').map(Number);
    return b === 18 ? 0 : c >= 128 ? 2 : 1;
  };
  interface Sent {
    frame: Buffer;
    ip: Buffer;
    fate: 'forward' | 'expired' | 'bad' | 'noroute';
    out: number;
  }
  const sent: Sent[] = [];
  for (let i = 0; i < 2000; i++) {
    const src = `198.18.${r.int(0, 255)}.${r.int(1, 254)}`;
    const k = r.int(0, 99);
    const dst = k < 2 ? `203.0.113.${r.int(1, 254)}` : `198.${r.int(18, 19)}.${r.int(0, 255)}.${r.int(1, 254)}`;
    const ttl = k >= 2 && k < 5 ? 1 : r.int(2, 255);
    const payload = Buffer.alloc(r.int(4, 80));
    payload.writeUInt32BE(i, 0);
    let ip = ipv4({ src, dst, ttl, id: i, payload: udp({ src, dst, sport: i, payload }) });
    let fate: Sent['fate'] = k < 2 ? 'noroute' : ttl <= 1 ? 'expired' : 'forward';
    if (k >= 5 && k < 8) {
      ip = Buffer.from(ip);
      ip[11] ^= 0x40; // a wrong checksum
      fate = 'bad';
    }
    const frame = ether({ src: '02:00:00:00:00:01', dst: router, payload: ip, minLength: 60 }); // short frames padded
    sent.push({ frame, ip, fate, out: outputOf(dst) });
  }
  const inFile = input('chain', sent.map((s) => s.frame));
  const s = await runGraph(() => {
    const rt = FromPcap({ file: inFile, burst: 64 }).to(Strip({ length: 14 })).to(CheckIPHeader({}, 'chk')).to(IPLookup({ routes }, 'rt'));
    for (let o = 0; o < 3; o++) {
      const ttl = rt.out(o).to(DecIPTTL({}, `ttl${o}`));
      ttl.out(0).to(EtherEncap({ type: 0x0800, src: router, dst: macs[o] })).to(sink(`chain-${o}`));
      ttl.out(1).to(sink(`chain-expired-${o}`));
    }
  });
  let total = 0;
  for (let o = 0; o < 3; o++) {
    const want = sent.filter((x) => x.fate === 'forward' && x.out === o);
    const got = read(`chain-${o}`);
    total += got.length;
    t.equal(got.length, want.length, `output ${o}: ${want.length} frames`);
    const wrong = got.findIndex((g, i) => {
      const w = want[i];
      const ip = Buffer.from(w.ip);
      ip[8]--;
      ip.writeUInt16BE(fullChecksum(ip), 10);
      return !g.equals(ether({ src: router, dst: macs[o], type: ETH_IPV4, payload: ip }));
    });
    t.equal(wrong, -1, `output ${o}: new Ethernet header, TTL - 1, padding gone, the rest unchanged`);
    t.equal(got.findIndex((g) => !verifyIpv4Checksum(g, 14) || !verifyL4Checksum(g, 14)), -1, `output ${o}: IPv4 and UDP checksums right`);
    const exp = read(`chain-expired-${o}`);
    sameBuffers(t, exp, sent.filter((x) => x.fate === 'expired' && x.out === o).map((x) => x.ip), `output ${o}: expired packets unchanged on DecIPTTL's output 1`);
  }
  const count = (f: Sent['fate']) => sent.filter((x) => x.fate === f).length;
  t.equal(total, count('forward'));
  t.equal(s.elements.chk.drops_checksum, count('bad'), 'bad checksums dropped by CheckIPHeader');
  t.equal(s.elements.rt.drops_no_route, count('noroute'), 'no route: dropped by IPLookup');
  t.equal([0, 1, 2].reduce((a, o) => a + s.elements[`ttl${o}`].expired, 0), count('expired'));
  t.equal(s.pool.available, s.pool.capacity);
});

// ---------- agnostic elements in pull position, and fuzzing ----------

t.test('the agnostic elements work in pull position (between a Queue and an Unqueue)', async (t) => {
  const r = rng(7);
  const ips = Array.from({ length: 300 }, (_, i) => randomIp(r, i % 10 === 0 ? 1 : 64));
  const bad = [ipv4({ payload: 'x', checksum: 1 }), Buffer.alloc(10)];
  const inFile = input('pull', [...ips, ...bad]);
  const src = '02:00:00:00:00:01';
  const dst = '02:00:00:00:00:02';
  const s = await runGraph(() => {
    // DecIPTTL rejects in pull position too: its output 1 (push) gets the expired packets.
    const ttl = FromPcap({ file: inFile }).to(Queue({ capacity: 1000 })).to(CheckIPHeader({}, 'chk')).to(DecIPTTL({}, 'ttl'));
    ttl.out(1).to(sink('pull-expired'));
    ttl
      .to(SetIPDSCP({ dscp: 8 }))
      .to(SetIPChecksum())
      .to(SetUDPChecksum())
      .to(GetIPAddress({ offset: 16 }))
      .to(SetIPAddress({ address: '10.0.0.1' }))
      .to(EtherEncap({ src, dst }))
      .to(Unqueue({ burst: 7 }))
      .to(sink('pull'));
  });
  const out = read('pull');
  const live = ips.filter((p) => p[8] > 1);
  t.equal(out.length, live.length, 'the good packets come through');
  sameBuffers(t, read('pull-expired'), ips.filter((p) => p[8] <= 1), 'the expired ones leave DecIPTTL on output 1, unchanged and in order');
  t.same([s.elements.ttl.packets, s.elements.ttl.expired, s.elements.ttl.drops_expired], [live.length, ips.length - live.length, 0]);
  t.equal(s.elements.chk.drops_checksum, 1);
  t.equal(s.elements.chk.drops_short, 1);
  t.equal(out.findIndex((p, i) => p[14 + 1] >> 2 !== 8 || !verifyIpv4Checksum(p, 14) || !verifyL4Checksum(p, 14) || !p.subarray(0, 6).equals(mac(dst)) || p.length !== live[i].length + 14 || p[14 + 8] !== live[i][8] - 1), -1, 'each element did its work');
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('random and mutated packets through every parsing element: no crash, every buffer accounted for', async (t) => {
  const r = rng(99);
  const seeds = [
    ipv4({ payload: udp({ src: '10.0.0.1', dst: '10.0.0.2', payload: 'fuzz' }) }),
    ipv4({ proto: PROTO_TCP, options: Buffer.from([1, 1, 1, 1]), payload: tcp({ src: '10.0.0.1', dst: '10.0.0.2', payload: 'fuzz' }) }),
  ];
  const pkts: Buffer[] = [];
  for (let i = 0; i < 4000; i++) {
    if (i % 4 === 0) {
      pkts.push(randomBytes(r, r.int(0, 80)));
      continue;
    }
    const p = Buffer.from(seeds[i % 2]);
    for (let k = r.int(1, 4); k > 0; k--) p[r.int(0, Math.min(p.length - 1, 40))] = r.int(0, 255);
    if (i % 3 === 0) p[0] = 0x40 | r.int(0, 15);
    pkts.push(i % 5 === 0 ? p.subarray(0, r.int(0, p.length)) : p);
  }
  const inFile = input('fuzz', pkts);
  const s = await runGraph(() => {
    const chain = (head: ElementNode, tag: string) => {
      const ttl = head.to(SetIPDSCP({ dscp: 3 })).to(SetIPChecksum()).to(DecIPTTL({}, `ttl_${tag}`));
      ttl.out(1).to(Discard({}, `exp_${tag}`));
      ttl.out(0).to(SetUDPChecksum()).to(Discard({}, `end_${tag}`));
    };
    chain(FromPcap({ file: inFile }).to(MarkIPHeader()), 'mark');
    chain(FromPcap({ file: inFile }).to(CheckIPHeader({ checksum: false }, 'chk')), 'chk');
    FromPcap({ file: inFile }).to(MarkIPHeader()).to(SetTCPChecksum()).to(Discard());
    FromPcap({ file: inFile }).to(Strip({ length: 30 })).to(SetIPChecksum()).to(SetTCPChecksum()).to(DecIPTTL()).to(Discard());
    FromPcap({ file: inFile }).to(GetIPAddress({ offset: 16 })).to(IPLookup({ routes: ['default 0'] })).to(Discard());
  });
  t.ok(s.elements.chk.packets > 0 && s.elements.chk.packets < pkts.length, `CheckIPHeader passed ${s.elements.chk.packets} of ${pkts.length}`);
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
});
