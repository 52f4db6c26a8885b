// The tunnel elements with crafted packets: FromPcap -> element(s) -> ToPcap, bytes checked
// against references built here and checksums with test/lib/packets.ts. IPEncap and
// UDPIPEncap headers (incrementing ids, lengths, checksums); GRE and VXLAN encapsulation
// bytes, encap then decap restoring the packets exactly, malformed outer headers dropped
// under their counters; headroom limits; tcpdump decoding the GRE and VXLAN output.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { FromPcap, ToPcap, Unstrip, Queue, Unqueue, CheckIPHeader, Classifier, Discard, IPEncap, UDPIPEncap, GREEncap, GREDecap, VXLANEncap, VXLANDecap, type ElementNode } from 'pktgraph';
import { runGraph, tmpPath } from './lib/run.js';
import { pcapFiles, sameBuffers } from './lib/pcapfiles.js';
import { writePcap, LINKTYPE_RAW, LINKTYPE_ETHERNET } from './lib/pcap.js';
import { ether, ipv4, udp, tcp, verifyIpv4Checksum, verifyL4Checksum, checksum16, PROTO_UDP, PROTO_TCP } from './lib/packets.js';

const { input, sink, read, track, outFile } = pcapFiles('encap', { linktype: LINKTYPE_RAW });

const SRC = '198.18.0.1';
const DST = '198.19.0.1';

/** Inner IPv4 packets of varied sizes and protocols. */
function innerPackets(n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const src = `198.18.1.${i % 250}`;
    const dst = `198.19.2.${(i * 7) % 250}`;
    out.push(
      i % 2
        ? ipv4({ src, dst, proto: PROTO_TCP, id: i, payload: tcp({ src, dst, sport: 1000 + i, dport: 40001, payload: Buffer.alloc(i * 3, i) }) })
        : ipv4({ src, dst, id: i, payload: udp({ src, dst, sport: 2000 + i, dport: 40002, payload: Buffer.alloc(i * 5 + 1, i) }) }),
    );
  }
  return out;
}

/** Inner Ethernet frames (for VXLAN and GRE 0x6558). */
function innerFrames(n: number): Buffer[] {
  return innerPackets(n).map((p, i) => ether({ src: `02:00:00:00:01:${(i % 16).toString(16).padStart(2, '0')}`, dst: '02:00:00:00:00:99', payload: p }));
}

function tcpdump(t: Test, file: string, expect: RegExp) {
  const which = spawnSync('tcpdump', ['--version'], { encoding: 'utf8' });
  if (which.error) {
    t.skip('tcpdump is not installed: decoding not checked', () => {});
    return;
  }
  const r = spawnSync('tcpdump', ['-r', file, '-nn', '-vv'], { encoding: 'utf8', timeout: 10_000 });
  t.equal(r.status, 0, `tcpdump reads ${file}`);
  const text = r.stdout;
  t.match(text, expect, 'tcpdump decodes the tunnel headers');
  t.notMatch(text, /bad cksum|truncated|malformed|\[\|/i, 'tcpdump finds nothing wrong');
}

const greHeader = (proto: number, key?: number) => {
  const h = Buffer.alloc(key === undefined ? 4 : 8);
  if (key !== undefined) {
    h[0] = 0x20;
    h.writeUInt32BE(key >>> 0, 4);
  }
  h.writeUInt16BE(proto, 2);
  return h;
};

/** RFC 7348 source port as VXLANEncap computes it: FNV-1a over the inner flow fields. */
function vxlanSport(f: Buffer): number {
  let h = 2166136261;
  const mix = (b: Buffer) => {
    for (const x of b) h = Math.imul(h ^ x, 16777619) >>> 0;
  };
  mix(f.subarray(0, 14));
  if (f.length >= 34 && f.readUInt16BE(12) === 0x0800 && f[14] >> 4 === 4) {
    const ip = f.subarray(14);
    mix(ip.subarray(9, 10));
    mix(ip.subarray(12, 20));
    const hl = (ip[0] & 15) * 4;
    if ((ip[9] === 6 || ip[9] === 17) && (ip.readUInt16BE(6) & 0x3fff) === 0 && 14 + hl + 4 <= f.length) mix(ip.subarray(hl, hl + 4));
  }
  h = (h ^ (h >>> 16)) >>> 0;
  return 0xc000 | (h & 0x3fff);
}
const vxlanHeader = (vni: number, flags = 0x08) => {
  const h = Buffer.alloc(8);
  h[0] = flags;
  h.writeUIntBE(vni, 4, 3);
  return h;
};

// ---------- IPEncap, UDPIPEncap ----------

t.test('IPEncap prepends a correct IPv4 header with incrementing ids', async (t) => {
  const inner = innerPackets(40);
  const inFile = input('ipip', inner);
  const s = await runGraph(() => {
    FromPcap({ file: inFile }).to(IPEncap({ proto: 4, src: SRC, dst: DST }, 'ipip')).to(sink('ipip'));
    FromPcap({ file: inFile }).to(IPEncap({ proto: 41, src: DST, dst: SRC, tos: 0xb8, ttl: 7, df: true }, 'ipip2')).to(sink('ipip2'));
  });
  const out = read('ipip');
  sameBuffers(t, out, inner.map((p, i) => ipv4({ proto: 4, src: SRC, dst: DST, id: i, payload: p })), 'IP-in-IP');
  sameBuffers(t, read('ipip2'), inner.map((p, i) => ipv4({ proto: 41, src: DST, dst: SRC, tos: 0xb8, ttl: 7, df: true, id: i, payload: p })), 'tos, ttl, df');
  t.ok(out.every((p) => verifyIpv4Checksum(p)), 'outer checksums verify');
  t.equal(s.elements.ipip.packets, 40);
  t.equal(s.elements.ipip.drops_no_headroom, 0);
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
});

t.test('UDPIPEncap prepends IPv4 + UDP with correct lengths and checksums', async (t) => {
  const payloads = [Buffer.alloc(0), Buffer.from('a'), Buffer.from('hello tunnel'), Buffer.alloc(1000, 0xab), ...innerPackets(10)];
  const inFile = input('udpip', payloads);
  const s = await runGraph(() => {
    FromPcap({ file: inFile }).to(UDPIPEncap({ src: SRC, sport: 5000, dst: DST, dport: 6000 }, 'u')).to(sink('udpip'));
    FromPcap({ file: inFile }).to(UDPIPEncap({ src: SRC, sport: 1, dst: DST, dport: 2, checksum: false }, 'u0')).to(sink('udpip0'));
  });
  const out = read('udpip');
  sameBuffers(t, out, payloads.map((p, i) => ipv4({ src: SRC, dst: DST, id: i, payload: udp({ src: SRC, dst: DST, sport: 5000, dport: 6000, payload: p }) })), 'with checksum');
  t.ok(out.every((p) => verifyIpv4Checksum(p) && verifyL4Checksum(p)), 'IP and UDP checksums verify');
  t.ok(out.every((p) => p.readUInt16BE(26) !== 0), 'no zero UDP checksum sent');
  sameBuffers(t, read('udpip0'), payloads.map((p, i) => ipv4({ src: SRC, dst: DST, id: i, payload: udp({ sport: 1, dport: 2, payload: p }) })), 'checksum: false sends 0');
  t.equal(s.elements.u.packets, payloads.length);
});

// ---------- GRE ----------

t.test('GREEncap bytes; GREDecap restores the packets exactly; tcpdump decodes them', async (t) => {
  const inner = innerPackets(30);
  const frames = innerFrames(12);
  const inFile = input('gre', inner);
  const inFrames = input('greeth', frames);
  const s = await runGraph(() => {
    FromPcap({ file: inFile }).to(GREEncap({ src: SRC, dst: DST }, 'enc')).to(sink('gre'));
    FromPcap({ file: inFile }).to(GREEncap({ src: SRC, dst: DST, key: 0xdeadbeef }, 'enck')).to(sink('grek'));
    FromPcap({ file: inFile }).to(GREEncap({ src: SRC, dst: DST })).to(GREDecap({}, 'dec')).to(sink('greback'));
    FromPcap({ file: inFile }).to(GREEncap({ src: SRC, dst: DST, key: 7 })).to(GREDecap({ key: 7 }, 'deck')).to(sink('grekback'));
    FromPcap({ file: inFile }).to(GREEncap({ src: SRC, dst: DST, key: 8 })).to(GREDecap({ key: 7 }, 'wrongkey')).to(sink('grewrong'));
    FromPcap({ file: inFrames }).to(GREEncap({ src: SRC, dst: DST, protocol: 0x6558 }, 'enceth')).to(sink('greeth'));
    FromPcap({ file: inFrames }).to(GREEncap({ src: SRC, dst: DST, protocol: 0x6558 })).to(GREDecap({}, 'deceth')).to(sink('grethback'));
  });
  const out = read('gre');
  sameBuffers(t, out, inner.map((p, i) => ipv4({ proto: 47, src: SRC, dst: DST, id: i, payload: Buffer.concat([greHeader(0x0800), p]) })), 'GRE');
  sameBuffers(t, read('grek'), inner.map((p, i) => ipv4({ proto: 47, src: SRC, dst: DST, id: i, payload: Buffer.concat([greHeader(0x0800, 0xdeadbeef), p]) })), 'GRE with key');
  sameBuffers(t, read('greeth'), frames.map((p, i) => ipv4({ proto: 47, src: SRC, dst: DST, id: i, payload: Buffer.concat([greHeader(0x6558), p]) })), 'GRE over Ethernet');
  t.ok(out.every((p) => verifyIpv4Checksum(p)), 'outer checksums verify');
  sameBuffers(t, read('greback'), inner, 'encap then decap restores the packets');
  sameBuffers(t, read('grekback'), inner, 'with a key too');
  sameBuffers(t, read('grethback'), frames, 'and Ethernet frames');
  t.equal(read('grewrong').length, 0, 'a different key is dropped');
  t.equal(s.elements.wrongkey.drops_key, inner.length);
  t.equal(s.elements.dec.packets, inner.length);
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
  tcpdump(t, outFile('gre'), /GREv0, Flags \[none\], length 33\n\tIP \(.*proto UDP \(17\), length 29\)/);
  tcpdump(t, outFile('grek'), /GREv0, Flags \[key present\], key=0xdeadbeef/);
  // The Ethernet payload (TEB) is decoded through to the inner IP: 47 = 4 (GRE) + 14 + 29.
  tcpdump(t, outFile('greeth'), /GREv0, Flags \[none\], length 47\n\tIP \(.*proto UDP \(17\), length 29\)/);
});

t.test('GREDecap drops malformed outer headers under their counters', async (t) => {
  const payload = ipv4({ src: '198.18.5.5', dst: '198.19.5.5', payload: 'inner' });
  const gre = (hdr: Buffer, o: Parameters<typeof ipv4>[0] = {}) => ipv4({ proto: 47, src: SRC, dst: DST, ...o, payload: Buffer.concat([hdr, payload]) });
  const withCk = () => {
    const h = Buffer.concat([Buffer.from([0x80, 0, 0x08, 0, 0, 0, 0, 0]), payload]);
    h.writeUInt16BE(checksum16(h), 4);
    return h;
  };
  const badCk = Buffer.from(withCk());
  badCk[4] ^= 0xff;
  // PPTP's enhanced GRE (RFC 2637): K set, version 1, protocol 0x880b, payload length and call
  // id in the key field, a sequence number with S, an acknowledgment with A (0x80 in byte 1).
  const pptp = (ack: boolean) => {
    const h = Buffer.from([0x30, ack ? 0x81 : 0x01, 0x88, 0x0b, 0, 5, 0x12, 0x34, 0, 0, 0, 1, ...(ack ? [0, 0, 0, 1] : [])]);
    return ipv4({ proto: 47, src: SRC, dst: DST, payload: Buffer.concat([h, Buffer.from([0xff, 0x03, 0x00, 0x21, 0x45])]) });
  };
  const good = [gre(greHeader(0x0800)), ipv4({ proto: 47, src: SRC, dst: DST, payload: withCk() }), Buffer.concat([gre(greHeader(0x0800)), Buffer.alloc(6)])];
  const bad: Record<string, Buffer[]> = {
    drops_short: [Buffer.alloc(10), ipv4({ proto: 47, src: SRC, dst: DST, payload: Buffer.from([0, 0, 8]) }), ipv4({ proto: 47, src: SRC, dst: DST, payload: Buffer.from([0x20, 0, 8, 0, 1, 2]) })],
    drops_bad_ip: [gre(greHeader(0x0800), { checksum: 0x1234 }), gre(greHeader(0x0800), { version: 6 }), gre(greHeader(0x0800), { totalLength: 500 })],
    drops_fragment: [gre(greHeader(0x0800), { mf: true }), gre(greHeader(0x0800), { fragOffset: 10 })],
    drops_not_gre: [gre(greHeader(0x0800), { proto: 4 }), ipv4({ src: SRC, dst: DST, payload: udp({ src: SRC, dst: DST }) })],
    drops_gre_version_1: [pptp(false), pptp(true)],
    drops_gre_version: [gre(Buffer.from([0, 2, 8, 0])), gre(Buffer.from([0, 7, 8, 0])), gre(Buffer.from([0x40, 0, 8, 0, 0, 0, 0, 0]))],
    drops_gre_checksum: [ipv4({ proto: 47, src: SRC, dst: DST, payload: badCk })],
    drops_key: [gre(greHeader(0x0800, 5))],
  };
  const inFile = input('gremal', [...good, ...Object.values(bad).flat()]);
  const s = await runGraph(() => {
    FromPcap({ file: inFile }).to(GREDecap({}, 'dec')).to(sink('gremal'));
  });
  sameBuffers(t, read('gremal'), [payload, payload, payload], 'good packets decapsulated (padding trimmed, C bit understood)');
  const c = s.elements.dec;
  t.equal(c.packets, good.length);
  for (const [reason, pkts] of Object.entries(bad)) t.equal(c[reason], pkts.length, reason);
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
});

t.test("GREDecap's documented ways to accept keyed and version 1 packets", async (t) => {
  const inner = innerPackets(6);
  const keyed = (key: number, p: Buffer, csum = false) => {
    const h = Buffer.concat([Buffer.from([csum ? 0xa0 : 0x20, 0, 0x08, 0]), csum ? Buffer.alloc(4) : Buffer.alloc(0), Buffer.alloc(4)]);
    h.writeUInt32BE(key, csum ? 8 : 4);
    const g = Buffer.concat([h, p]);
    if (csum) g.writeUInt16BE(checksum16(g), 4);
    return ipv4({ proto: 47, src: SRC, dst: DST, payload: g });
  };
  const v1 = ipv4({ proto: 47, src: SRC, dst: DST, payload: Buffer.from([0x30, 0x01, 0x88, 0x0b, 0, 1, 0, 7, 0, 0, 0, 1, 0xff]) });
  // Keys 42 and 7, a keyless packet, key 42 with the C bit (its key sits 4 bytes later), and PPTP.
  const mixed = [keyed(42, inner[0]), keyed(7, inner[1]), ipv4({ proto: 47, src: SRC, dst: DST, payload: Buffer.concat([greHeader(0x0800), inner[2]]) }), keyed(42, inner[3], true), v1, keyed(42, inner[4])];
  const inFile = input('grekeys', mixed);
  const s = await runGraph(() => {
    // Without a key, every keyed packet is dropped (the default).
    FromPcap({ file: inFile }).to(GREDecap({}, 'nokey')).to(sink('grenokey'));
    // The Classifier of the documentation: key 42 with C clear to a GREDecap for key 42.
    const c = FromPcap({ file: inFile }).to(Classifier({ patterns: ['9/2f 20/20%a0 24/0000002a', '9/2f 21/01%07', '-'] }, 'bykey'));
    c.out(0).to(GREDecap({ key: 42 }, 'key42')).to(sink('grekey42'));
    c.out(1).to(sink('grev1'));
    c.out(2).to(Discard());
  });
  sameBuffers(t, read('grenokey'), [inner[2]], 'without a key only the keyless packet is decapsulated');
  t.equal(s.elements.nokey.drops_key, 4, 'the keyed packets are dropped under drops_key');
  t.equal(s.elements.nokey.drops_gre_version_1, 1, 'PPTP under drops_gre_version_1');
  sameBuffers(t, read('grekey42'), [inner[0], inner[4]], 'the documented Classifier picks key 42 (C clear)');
  t.equal(s.elements.key42.packets, 2);
  sameBuffers(t, read('grev1'), [v1], 'and version 1 packets');
});

// ---------- VXLAN ----------

t.test('VXLANEncap bytes and flow-hash ports; VXLANDecap restores the frames exactly; tcpdump decodes them', async (t) => {
  const frames = innerFrames(40);
  const inFile = input('vx', frames);
  const s = await runGraph(() => {
    FromPcap({ file: inFile }).to(VXLANEncap({ src: SRC, dst: DST, vni: 0x123456 }, 'enc')).to(sink('vx'));
    FromPcap({ file: inFile }).to(VXLANEncap({ src: SRC, dst: DST, vni: 99, dport: 8472, checksum: true }, 'encck')).to(sink('vxck'));
    FromPcap({ file: inFile }).to(VXLANEncap({ src: SRC, dst: DST, vni: 42 })).to(VXLANDecap({ vni: 42 }, 'dec')).to(sink('vxback'));
    FromPcap({ file: inFile }).to(VXLANEncap({ src: SRC, dst: DST, vni: 99, dport: 8472, checksum: true })).to(VXLANDecap({ vni: 99, dport: 8472 }, 'decck')).to(sink('vxckback'));
    FromPcap({ file: inFile }).to(VXLANEncap({ src: SRC, dst: DST, vni: 43 })).to(VXLANDecap({ vni: 42 }, 'wrongvni')).to(sink('vxwrong'));
  });
  const out = read('vx');
  const want = frames.map((f, i) =>
    ipv4({ src: SRC, dst: DST, id: i, payload: udp({ sport: vxlanSport(f), dport: 4789, payload: Buffer.concat([vxlanHeader(0x123456), f]) }) }),
  );
  sameBuffers(t, out, want, 'VXLAN with a zero UDP checksum');
  const ports = out.map((p) => p.readUInt16BE(20));
  t.ok(ports.every((p) => p >= 49152), 'source ports in 49152-65535');
  t.ok(new Set(ports).size > 20, `source ports spread over flows (${new Set(ports).size} distinct of 40)`);
  sameBuffers(
    t,
    read('vxck'),
    frames.map((f, i) => ipv4({ src: SRC, dst: DST, id: i, payload: udp({ src: SRC, dst: DST, sport: vxlanSport(f), dport: 8472, payload: Buffer.concat([vxlanHeader(99), f]) }) })),
    'with a UDP checksum',
  );
  t.ok(read('vxck').every((p) => verifyIpv4Checksum(p) && verifyL4Checksum(p)), 'checksums verify');
  sameBuffers(t, read('vxback'), frames, 'encap then decap restores the frames');
  sameBuffers(t, read('vxckback'), frames, 'also with checksums and another port');
  t.equal(read('vxwrong').length, 0);
  t.equal(s.elements.wrongvni.drops_vni, frames.length, 'another VNI is dropped and counted');
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
  tcpdump(t, outFile('vx'), /VXLAN, flags \[I\] \(0x08\), vni 1193046/);
});

t.test('VXLANEncap gives one flow one source port', async (t) => {
  const f = innerFrames(3);
  const again = [f[0], f[1], f[2], f[0], f[1], f[2]];
  // The same flow with different IP ids and payloads.
  const src = '198.18.9.9';
  const dst = '198.19.9.9';
  const flow = [1, 2, 3].map((i) => ether({ payload: ipv4({ src, dst, id: i, payload: udp({ src, dst, sport: 777, dport: 888, payload: Buffer.alloc(i * 11, i) }) }) }));
  const inFile = input('vxflow', [...again, ...flow]);
  await runGraph(() => {
    FromPcap({ file: inFile }).to(VXLANEncap({ src: SRC, dst: DST, vni: 1 })).to(sink('vxflow'));
  });
  const ports = read('vxflow').map((p) => p.readUInt16BE(20));
  t.same(ports.slice(0, 3), ports.slice(3, 6), 'repeated frames get the same port');
  t.equal(new Set(ports.slice(6)).size, 1, 'packets of one flow share a port');
});

t.test('VXLANDecap drops malformed packets under their counters', async (t) => {
  const frame = innerFrames(1)[0];
  const vx = (o: { vni?: number; flags?: number; dport?: number; ip?: Parameters<typeof ipv4>[0]; ck?: number; inner?: Buffer } = {}) =>
    ipv4({
      src: SRC,
      dst: DST,
      ...o.ip,
      payload: udp({ src: SRC, dst: DST, sport: 50000, dport: o.dport ?? 4789, checksum: o.ck, payload: Buffer.concat([vxlanHeader(o.vni ?? 42, o.flags), o.inner ?? frame]) }),
    });
  const good = [vx(), vx({ ck: 0 }), vx({ flags: 0x0c })];
  const bad: Record<string, Buffer[]> = {
    drops_short: [Buffer.alloc(12), vx({ inner: Buffer.alloc(13) }), (() => {
      const p = vx();
      p.writeUInt16BE(p.length - 20 + 1, 24); // UDP length past the datagram
      return p;
    })()],
    drops_bad_ip: [vx({ ip: { checksum: 1 } }), vx({ ip: { totalLength: 2000 } })],
    drops_not_udp: [vx({ ip: { proto: 6 } }), vx({ ip: { mf: true } })],
    drops_port: [vx({ dport: 4790 })],
    drops_udp_checksum: [vx({ ck: 0x1234 })],
    drops_flags: [vx({ flags: 0 })],
    drops_vni: [vx({ vni: 41 }), vx({ vni: 0x10002a })],
  };
  const inFile = input('vxmal', [...good, ...Object.values(bad).flat()]);
  const s = await runGraph(() => {
    FromPcap({ file: inFile }).to(VXLANDecap({ vni: 42 }, 'dec')).to(sink('vxmal'));
  });
  sameBuffers(t, read('vxmal'), good.map(() => frame), 'good packets decapsulated');
  const c = s.elements.dec;
  t.equal(c.packets, good.length);
  for (const [reason, pkts] of Object.entries(bad)) t.equal(c[reason], pkts.length, reason);
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
});

// ---------- headroom ----------

t.test('encapsulators drop packets without enough headroom', async (t) => {
  const pkts = innerFrames(5);
  const inFile = input('head', pkts);
  const s = await runGraph(() => {
    // 128 bytes of headroom: six 20-byte headers fit, the seventh does not.
    let n: ElementNode = FromPcap({ file: inFile });
    for (let i = 1; i <= 7; i++) n = n.to(IPEncap({ proto: 4, src: SRC, dst: DST }, `ip${i}`));
    n.to(sink('head'));
    // 128 - 92 = 36: exactly room for VXLAN; 93 leaves 35.
    FromPcap({ file: inFile }).to(Unstrip({ length: 92 })).to(VXLANEncap({ src: SRC, dst: DST, vni: 1 }, 'vxfit')).to(sink('vxfit'));
    FromPcap({ file: inFile }).to(Unstrip({ length: 93 })).to(VXLANEncap({ src: SRC, dst: DST, vni: 1 }, 'vxno')).to(sink('vxno'));
    FromPcap({ file: inFile }).to(Unstrip({ length: 105 })).to(GREEncap({ src: SRC, dst: DST }, 'greno')).to(sink('greno'));
    FromPcap({ file: inFile }).to(Unstrip({ length: 101 })).to(UDPIPEncap({ src: SRC, dst: DST, sport: 1, dport: 2 }, 'udpno')).to(sink('udpno'));
  });
  for (let i = 1; i <= 6; i++) t.equal(s.elements[`ip${i}`].packets, pkts.length, `IPEncap ${i} fits`);
  t.equal(s.elements.ip7.drops_no_headroom, pkts.length, 'the seventh has no headroom');
  t.equal(read('head').length, 0);
  t.equal(s.elements.vxfit.packets, pkts.length, '36 bytes are enough for VXLAN');
  t.equal(s.elements.vxno.drops_no_headroom, pkts.length, '35 are not');
  t.equal(s.elements.greno.drops_no_headroom, pkts.length, 'GRE needs 24');
  t.equal(s.elements.udpno.drops_no_headroom, pkts.length, 'UDP/IP needs 28');
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
});

// ---------- pull position, outer Ethernet ----------

t.test('in pull position, and decapsulating at the network-header annotation behind an Ethernet header', async (t) => {
  const inner = innerPackets(50);
  const frames = innerFrames(20);
  const inFile = input('pull', inner);
  const inVx = input('pullvx', frames);
  // Tunnel packets behind an outer Ethernet header, marked by CheckIPHeader at offset 14.
  const outer = inner.map((p, i) => ether({ payload: ipv4({ proto: 47, src: SRC, dst: DST, id: i, payload: Buffer.concat([greHeader(0x0800), p]) }) }));
  const ethFile = tmpPath('encap-etheronly-in.pcap');
  writePcap(ethFile, outer.map((data) => ({ data })), { linktype: LINKTYPE_ETHERNET });
  track(ethFile);
  const s = await runGraph(() => {
    FromPcap({ file: inFile })
      .to(Queue({ capacity: 1000 }))
      .to(GREEncap({ src: SRC, dst: DST, key: 1 }, 'enc'))
      .to(GREDecap({ key: 1 }, 'dec'))
      .to(Unqueue({ burst: 7 }))
      .to(sink('pull'));
    FromPcap({ file: inVx })
      .to(Queue({ capacity: 1000 }))
      .to(VXLANEncap({ src: SRC, dst: DST, vni: 5 }))
      .to(VXLANDecap({ vni: 5 }, 'vxdec'))
      .to(Unqueue({ burst: 5 }))
      .to(sink('pullvx'));
    FromPcap({ file: ethFile }).to(CheckIPHeader({ offset: 14 })).to(GREDecap({}, 'ethdec')).to(sink('ethdec'));
  });
  sameBuffers(t, read('pull'), inner, 'GRE encap and decap pulled');
  sameBuffers(t, read('pullvx'), frames, 'VXLAN encap and decap pulled');
  t.equal(s.elements.enc.packets, inner.length);
  t.equal(s.elements.vxdec.packets, frames.length);
  sameBuffers(t, read('ethdec'), inner, 'the outer Ethernet header is stripped with the tunnel headers');
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
});
