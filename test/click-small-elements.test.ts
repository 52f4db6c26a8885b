// The small Click elements translated configs reach for (Idle, Truncate, PaintTee,
// StripToNetworkHeader, CheckICMPHeader, SetVLANAnno, EtherVLANEncap), the VLAN demultiplexer
// VLANClassifier, InfiniteSource's empty packet and ToPcap's link type, driven by pcap files and
// checked byte for byte, with every drop reason counted and tcpdump reading what ToPcap wrote.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import {
  graph,
  compile,
  FromPcap,
  InfiniteSource,
  Idle,
  Truncate,
  Paint,
  PaintTee,
  Classifier,
  MarkIPHeader,
  Strip,
  StripToNetworkHeader,
  CheckICMPHeader,
  SetVLANAnno,
  EtherVLANEncap,
  VLANEncap,
  VLANDecap,
  VLANClassifier,
  Queue,
  Unqueue,
  type ElementNode,
} from 'pktgraph';
import { runGraph } from './lib/run.js';
import { pcapFiles, sameBuffers } from './lib/pcapfiles.js';
import { readPcap, LINKTYPE_RAW, LINKTYPE_ETHERNET } from './lib/pcap.js';
import { ether, ipv4, icmp4, udp4Frame, mac, ETH_IPV4, PROTO_ICMP } from './lib/packets.js';

const { input, sink, read, outFile } = pcapFiles('clicksmall');
const raw = { linktype: LINKTYPE_RAW };
const sorted = (b: Buffer[]) => b.map((x) => x.toString('hex')).sort();
const problems = (build: () => void) => {
  try {
    compile(graph('bad', build));
    return '';
  } catch (e) {
    return String(e);
  }
};
// Packets of every length from 0 to 80, each byte distinct enough to notice a shift.
const lengths = Array.from({ length: 81 }, (_, len) => Buffer.from(Array.from({ length: len }, (_, i) => (i * 7 + len) & 0xff)));

t.test('Idle frees what is pushed into it and never emits', async (t) => {
  const f = input('idle', lengths.slice(0, 20));
  const s = await runGraph(() => {
    FromPcap({ file: f }).to(Idle({}, 'idle_in'));
    Idle({}, 'idle_push').to(sink('idle-push'));
    Idle({}, 'idle_pull').to(Queue({ capacity: 10 }, 'idle_q')).to(Unqueue()).to(sink('idle-pull'));
  });
  t.equal(s.elements.idle_in.drops, 20, 'every pushed packet counted in drops');
  t.same([read('idle-push').length, read('idle-pull').length], [0, 0], 'nothing came out of an Idle');
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
});

t.test('Truncate cuts packets to at most its length, in push and pull position', async (t) => {
  const f = input('trunc', lengths);
  const s = await runGraph(() => {
    FromPcap({ file: f }).to(Truncate({ length: 20 })).to(sink('trunc20'));
    FromPcap({ file: f }).to(Queue({ capacity: 100 })).to(Truncate({ length: 33 })).to(Unqueue({ burst: 7 })).to(sink('trunc33'));
    FromPcap({ file: f }).to(Truncate({ length: 0 })).to(sink('trunc0'));
  });
  sameBuffers(t, read('trunc20'), lengths.map((p) => p.subarray(0, 20)), 'length 20');
  sameBuffers(t, read('trunc33'), lengths.map((p) => p.subarray(0, 33)), 'length 33, pulled');
  sameBuffers(t, read('trunc0'), lengths.map(() => Buffer.alloc(0)), 'length 0: empty packets, none dropped');
  t.equal(s.pool.available, s.pool.capacity);
});

t.test("Truncate's extraLength (Click's EXTRA_LENGTH): ToPcap records the original length; tcpdump reads it", async (t) => {
  const frames = Array.from({ length: 6 }, (_, i) => udp4Frame({ src: '198.18.0.1', dst: '198.18.1.1', sport: 2000 + i, dport: 9, payload: 'x'.repeat(20 + 30 * i) }));
  const f = input('extra', frames);
  await runGraph(() => {
    FromPcap({ file: f }).to(Truncate({ length: 60 })).to(sink('extra-on'));
    FromPcap({ file: f }).to(Truncate({ length: 60, extraLength: false })).to(sink('extra-off'));
    // Cut twice: the annotation adds up; and a capture's own missing bytes come through FromPcap.
    FromPcap({ file: f }).to(Truncate({ length: 80 })).to(Truncate({ length: 50 })).to(sink('extra-twice'));
  });
  const on = readPcap(outFile('extra-on')).packets;
  sameBuffers(t, on.map((p) => p.data), frames.map((x) => x.subarray(0, 60)), 'the first 60 bytes kept');
  t.same(on.map((p) => p.origLen), frames.map((x) => x.length), 'extraLength (the default): each record keeps the original length');
  t.same(readPcap(outFile('extra-off')).packets.map((p) => p.origLen), frames.map((x) => Math.min(60, x.length)), 'extraLength false: the packet is just shorter');
  t.same(readPcap(outFile('extra-twice')).packets.map((p) => [p.data.length, p.origLen]), frames.map((x) => [50, x.length]), 'two cuts add up');
  // A file of cut records read back and written again keeps the original lengths (FromPcap
  // puts a record's missing bytes in the annotation).
  await runGraph(() => FromPcap({ file: outFile('extra-on') }).to(sink('extra-again')));
  t.same(readPcap(outFile('extra-again')).packets.map((p) => [p.data.length, p.origLen]), frames.map((x) => [60, x.length]), 'FromPcap -> ToPcap keeps them');
  const which = spawnSync('tcpdump', ['--version'], { encoding: 'utf8' });
  if (which.error) {
    t.skip('tcpdump is not installed: its reading not checked', () => {});
    return;
  }
  const r = spawnSync('tcpdump', ['-r', outFile('extra-on'), '-nn', '-e'], { encoding: 'utf8', timeout: 10_000 });
  t.equal(r.status, 0, 'tcpdump reads it');
  t.same(r.stdout.trim().split('\n').map((l) => Number(/, length (\d+): /.exec(l)?.[1])), frames.map((x) => x.length), "tcpdump shows each frame's whole length");
});

t.test('PaintTee copies the packets painted its colour to output 1', async (t) => {
  // Byte 0 chooses the paint: 1 or 3.
  const frames = Array.from({ length: 100 }, (_, i) => Buffer.from([i % 3 === 0 ? 1 : 3, i, 0xaa, 0x55, i ^ 0xff]));
  const f = input('ptee', frames);
  const s = await runGraph(() => {
    const pt = PaintTee({ color: 1 }, 'pt');
    const c = FromPcap({ file: f }).to(Classifier({ patterns: ['0/01', '-'] }));
    c.out(0).to(Paint({ color: 1 })).to(pt);
    c.out(1).to(Paint({ color: 3 })).to(pt);
    pt.to(sink('ptee0'));
    pt.out(1).to(sink('ptee1'));
  });
  t.same(sorted(read('ptee0')), sorted(frames), 'output 0: every packet');
  sameBuffers(t, read('ptee1'), frames.filter((x) => x[0] === 1), 'output 1: copies of the paint-1 packets, in order');
  t.same([s.elements.pt.copies, s.elements.pt.drops_pool_empty], [34, 0]);
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('StripToNetworkHeader strips any link header to the network header, or moves back to it', async (t) => {
  const ips = Array.from({ length: 12 }, (_, i) => ipv4({ src: '198.18.0.1', dst: '198.18.1.1', id: i, payload: Buffer.alloc(i, i) }));
  const tag = (p: Buffer, tags: number) => {
    let f = ether({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02', type: ETH_IPV4, payload: p });
    for (let k = 0; k < tags; k++) f = Buffer.concat([f.subarray(0, 12), Buffer.from([0x81, 0x00, 0x00, 10 + k]), f.subarray(12)]);
    return f;
  };
  const frames = ips.map((p, i) => tag(p, i % 3)); // 0, 1 or 2 tags
  const f = input('s2n', frames);
  const rawFile = input('s2n-raw', ips, LINKTYPE_RAW);
  const s = await runGraph(() => {
    const c = FromPcap({ file: f }).to(Classifier({ patterns: ['12/0800', '12/8100 16/0800', '12/8100 16/8100'] }));
    const out = sink('s2n', raw);
    [14, 18, 22].forEach((off, k) => c.out(k).to(MarkIPHeader({ offset: off })).to(StripToNetworkHeader({}, `s2n${k}`)).to(out));
    // Too far (past the header): moves back.
    FromPcap({ file: f }).to(Classifier({ patterns: ['12/0800'] }, 'c_back')).to(MarkIPHeader({ offset: 14 })).to(Strip({ length: 30 })).to(StripToNetworkHeader({}, 's2n_back')).to(sink('s2n-back', raw));
    // Raw IP from FromPcap: already at its network header.
    FromPcap({ file: rawFile }).to(StripToNetworkHeader({}, 's2n_raw')).to(sink('s2n-raw', raw));
    // No network header at all.
    FromPcap({ file: f }).to(StripToNetworkHeader({}, 's2n_none')).to(sink('s2n-none'));
  });
  t.same(sorted(read('s2n')), sorted(ips), 'the IPv4 packets, whatever the tags before them');
  sameBuffers(t, read('s2n-back'), ips.filter((_, i) => i % 3 === 0 && ips[i].length >= 16), 'moved back over the bytes stripped past the header');
  sameBuffers(t, read('s2n-raw'), ips, 'raw IP unchanged');
  t.equal(read('s2n-none').length, 0);
  t.equal(s.elements.s2n_none.drops_no_header, frames.length, 'packets without the annotation dropped and counted');
  t.equal(s.elements.s2n0.drops_no_header + s.elements.s2n1.drops_no_header + s.elements.s2n2.drops_no_header, 0);
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('CheckICMPHeader checks lengths by type and the checksum, and names each reason', async (t) => {
  const pkt = (m: Buffer, o: Parameters<typeof ipv4>[0] = {}) => ipv4({ src: '198.18.0.1', dst: '198.18.1.1', proto: PROTO_ICMP, payload: m, ...o });
  const quote = ipv4({ src: '198.18.1.1', dst: '198.18.2.2', payload: Buffer.alloc(8, 7) }); // 28 bytes
  const good = [
    pkt(icmp4({ payload: 'ping payload' })),
    pkt(icmp4({ type: 0, payload: Buffer.alloc(0) })), // echo reply, header only
    pkt(icmp4({ type: 3, code: 1, rest: 0, payload: quote })), // unreachable quoting 28 bytes
    pkt(icmp4({ type: 11, rest: 0, payload: Buffer.concat([quote, Buffer.alloc(20, 1)]) })),
    pkt(icmp4({ type: 13, payload: Buffer.alloc(12, 3) })), // timestamp: exactly 20
    pkt(icmp4({ type: 15, payload: Buffer.alloc(0) })), // information request: exactly 8
    Buffer.concat([pkt(icmp4({ payload: 'padded' })), Buffer.alloc(10, 0xee)]), // trailing bytes past the total length
  ];
  const goodEcho = icmp4({ payload: 'x' });
  const badSum = Buffer.from(goodEcho);
  badSum[2] ^= 1;
  const bad = {
    no_header: [Buffer.alloc(19, 0x45), pkt(icmp4({}), { totalLength: 200 })],
    not_icmp: [ipv4({ proto: 17, payload: Buffer.alloc(8) })],
    fragment: [pkt(icmp4({ payload: Buffer.alloc(16) }), { mf: true }), pkt(Buffer.alloc(16), { fragOffset: 3 })],
    bad_length: [
      pkt(icmp4({}).subarray(0, 7)),
      pkt(icmp4({ type: 3, rest: 0, payload: quote.subarray(0, 27) })),
      pkt(icmp4({ type: 14, payload: Buffer.alloc(16) })),
      pkt(icmp4({ type: 16, payload: Buffer.alloc(1) })),
    ],
    bad_checksum: [pkt(badSum), pkt(Buffer.alloc(8))],
  };
  const all = [...good, ...Object.values(bad).flat()];
  const f = input('icmp', all, LINKTYPE_RAW);
  const s = await runGraph(() => {
    FromPcap({ file: f }).to(CheckICMPHeader({}, 'chk')).to(sink('icmp-ok', raw));
    const two = FromPcap({ file: f }).to(Queue({ capacity: 100 })).to(CheckICMPHeader({}, 'chk2'));
    two.to(Unqueue()).to(sink('icmp-ok2', raw));
    two.out(1).to(sink('icmp-bad2', raw));
  });
  sameBuffers(t, read('icmp-ok'), good, 'valid messages pass, in order');
  for (const [reason, list] of Object.entries(bad)) t.equal(s.elements.chk[`drops_${reason}`], list.length, `drops_${reason}`);
  t.equal(s.elements.chk.rejected, 0);
  sameBuffers(t, read('icmp-ok2'), good, 'two outputs, pulled: valid messages on output 0');
  sameBuffers(t, read('icmp-bad2'), Object.values(bad).flat(), 'invalid ones on output 1, unchanged');
  t.equal(s.elements.chk2.rejected, Object.values(bad).flat().length);
  t.equal(s.elements.chk2.drops_bad_checksum, 0, 'nothing dropped when output 1 takes them');
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('SetVLANAnno and EtherVLANEncap: tags from the annotation or the config, the native VLAN untagged', async (t) => {
  const ips = Array.from({ length: 6 }, (_, i) => ipv4({ src: '198.18.0.1', dst: '198.18.1.1', id: i, payload: Buffer.alloc(4, i) }));
  const f = input('vlanenc', ips, LINKTYPE_RAW);
  const src = '02:00:00:00:00:01';
  const dst = '02:00:00:00:00:02';
  const s = await runGraph(() => {
    FromPcap({ file: f }).to(SetVLANAnno({ vlanId: 10, pcp: 5 })).to(EtherVLANEncap({ src, dst, fromAnnotation: true })).to(sink('anno'));
    FromPcap({ file: f }).to(EtherVLANEncap({ src, dst, vlanId: 20, pcp: 1, type: 0x0800 })).to(sink('fixed'));
    FromPcap({ file: f }).to(EtherVLANEncap({ src, dst })).to(sink('native0'));
    FromPcap({ file: f }).to(EtherVLANEncap({ src, dst, nativeVlan: -1 })).to(sink('prio'));
    FromPcap({ file: f }).to(EtherVLANEncap({ src, dst, vlanId: 30, nativeVlan: 30 })).to(sink('native30'));
    FromPcap({ file: f }).to(EtherVLANEncap({ src, dst, fromAnnotation: true, nativeVlan: -1 })).to(sink('noanno'));
    // The whole TCI, then VLANEncap turns the annotation into a tag on an Ethernet frame.
    FromPcap({ file: f }).to(EtherVLANEncap({ src, dst })).to(SetVLANAnno({ vlanTci: 0xb00b })).to(VLANEncap({ fromAnnotation: true })).to(sink('tci'));
  });
  const hdr = (tci: number | null) => Buffer.concat([mac(dst), mac(src), tci === null ? Buffer.from([0x08, 0x00]) : Buffer.from([0x81, 0x00, tci >> 8, tci & 0xff, 0x08, 0x00])]);
  sameBuffers(t, read('anno'), ips.map((p) => Buffer.concat([hdr((5 << 13) | 10), p])), 'TCI from SetVLANAnno');
  sameBuffers(t, read('fixed'), ips.map((p) => Buffer.concat([hdr((1 << 13) | 20), p])), 'TCI from the config');
  sameBuffers(t, read('native0'), ips.map((p) => Buffer.concat([hdr(null), p])), 'VLAN 0 is the native VLAN by default (Click): untagged');
  sameBuffers(t, read('prio'), ips.map((p) => Buffer.concat([hdr(0), p])), 'nativeVlan -1: VLAN 0 tagged');
  sameBuffers(t, read('native30'), ips.map((p) => Buffer.concat([hdr(null), p])), 'the native VLAN goes untagged');
  sameBuffers(t, read('noanno'), ips.map((p) => Buffer.concat([hdr(0), p])), 'no annotation: TCI 0');
  sameBuffers(t, read('tci'), ips.map((p) => Buffer.concat([mac(dst), mac(src), Buffer.from([0x81, 0x00, 0xb0, 0x0b, 0x08, 0x00]), p])), 'vlanTci whole, as VLANEncap reads it');
  t.match(problems(() => FromPcap({ file: f }).to(SetVLANAnno({ vlanTci: 5, vlanId: 3 }, 'sva')).to(Idle())), /sva.*give either vlanTci or vlanId, not both/);
  t.match(problems(() => FromPcap({ file: f }).to(EtherVLANEncap({ src, dst, vlanId: 3, fromAnnotation: true }, 'eve')).to(Idle())), /eve.*leave vlanId and pcp unset/);
  t.equal(s.pool.available, s.pool.capacity);
});

// Click's test/ethernet/EtherVLANEncap-01.clicktest, with VLANDecap + Strip(14) for its
// StripEtherVLANHeader (which also leaves the tag in the VLAN annotation).
t.test("EtherVLANEncap and SetVLANAnno as in Click's EtherVLANEncap-01 test", async (t) => {
  const src = '01:01:01:01:01:01';
  const dst = '02:02:02:02:02:02';
  const strip = (n: ElementNode) => n.to(VLANDecap()).to(Strip({ length: 14 }));
  await runGraph(() => {
    const a = () => InfiniteSource({ data: 'aaabacad', limit: 1 }).to(EtherVLANEncap({ type: 0x0800, src, dst, vlanId: 1 }));
    a().to(sink('click-a'));
    const c = () => strip(a()).to(EtherVLANEncap({ type: 0x0800, src, dst, fromAnnotation: true }));
    c().to(sink('click-c'));
    const e = () => strip(c()).to(EtherVLANEncap({ type: 0x0800, src, dst, fromAnnotation: true, nativeVlan: 1 }));
    e().to(sink('click-e'));
    strip(e()).to(SetVLANAnno({ vlanTci: 2, pcp: 1 })).to(EtherVLANEncap({ type: 0x0800, src, dst, fromAnnotation: true, nativeVlan: 1 })).to(sink('click-f'));
  });
  const h = (x: string) => [Buffer.from(x.replace(/ /g, ''), 'hex')];
  sameBuffers(t, read('click-a'), h('02020202 02020101 01010101 81000001 0800aaab acad'), 'a: VLAN 1');
  sameBuffers(t, read('click-c'), h('02020202 02020101 01010101 81000001 0800aaab acad'), 'c: the tag taken off and put back from the annotation');
  sameBuffers(t, read('click-e'), h('02020202 02020101 01010101 0800aaab acad'), 'e: the native VLAN 1 untagged');
  sameBuffers(t, read('click-f'), h('02020202 02020101 01010101 81002002 0800aaab acad'), 'f: SetVLANAnno(2, 1) gives TCI 0x2002');
});

t.test("VLANEncap's and EtherVLANEncap's tag handlers (Click's vlan_id, vlan_pcp, ethertype) change the tag while the graph runs", async (t) => {
  const { Runtime } = await import('pktgraph');
  const frames = Array.from({ length: 3 }, (_, i) => udp4Frame({ src: '198.18.0.1', dst: '198.18.1.1', sport: 3000 + i, dport: 9, payload: 'tag' }));
  const f = input('tagh', frames);
  const plan = compile(
    graph('tagh', () => {
      FromPcap({ file: f, active: false }, 'a').to(VLANEncap({ vlanId: 10, pcp: 1 }, 'tag')).to(sink('tagh-vlan'));
      FromPcap({ file: f, active: false }, 'b').to(Strip({ length: 14 })).to(EtherVLANEncap({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02', vlanId: 10 }, 'etag')).to(sink('tagh-ether'));
    }),
  );
  const rt = new Runtime({ threads: 1, poolBuffers: 256 });
  const g = rt.load(plan);
  rt.start();
  try {
    t.same(['vlanId', 'pcp', 'dei', 'ethertype'].map((h) => g.read('tag', h)), ['10', '1', 'false', '33024'], 'the handlers read the config');
    g.write('tag', 'vlanId', '20');
    g.write('tag', 'pcp', '5');
    g.write('tag', 'dei', 'true');
    g.write('tag', 'ethertype', String(0x88a8));
    g.write('etag', 'vlanId', '4094');
    g.write('etag', 'pcp', '7');
    g.write('etag', 'type', String(0x86dd));
    t.throws(() => g.write('tag', 'vlanId', '4096'), /vlanId must be from 0 to 4095, got 4096/, 'the range is the field\'s');
    t.throws(() => g.write('tag', 'ethertype', '34000'), /ethertype must be 0x8100 \(33024, 802\.1Q\) or 0x88a8/);
    t.same(JSON.parse(g.read('tag', 'config')), { vlanId: 20, pcp: 5, dei: true, nativeVlan: -1, ethertype: 0x88a8, fromAnnotation: false }, 'config shows what was written');
    g.write('a', 'active', 'true');
    g.write('b', 'active', 'true');
    for (let i = 0; i < 200 && !(g.counter('sink_tagh_vlan', 'packets') === 3n && g.counter('sink_tagh_ether', 'packets') === 3n); i++) await new Promise((r) => setTimeout(r, 10));
  } finally {
    g.remove();
    rt.close();
  }
  const tag = (tpid: number, tci: number) => Buffer.from([tpid >> 8, tpid & 0xff, tci >> 8, tci & 0xff]);
  sameBuffers(t, read('tagh-vlan'), frames.map((x) => Buffer.concat([x.subarray(0, 12), tag(0x88a8, (5 << 13) | (1 << 12) | 20), x.subarray(12)])), 'VLANEncap: the written TPID, PCP, DEI and id');
  sameBuffers(t, read('tagh-ether'), frames.map((x) => Buffer.concat([mac('02:00:00:00:00:02'), mac('02:00:00:00:00:01'), tag(0x8100, (7 << 13) | 4094), Buffer.from([0x86, 0xdd]), x.subarray(14)])), 'EtherVLANEncap: the written PCP, id and EtherType');
});

t.test('EtherVLANEncap drops a packet without headroom for the header', async (t) => {
  const f = input('vlanroom', [ipv4({ payload: 'x' })], LINKTYPE_RAW);
  const s = await runGraph(() => {
    // Each 18-byte header uses headroom: 7 of them fit in 128 bytes, the 8th does not.
    let n: ElementNode = FromPcap({ file: f });
    for (let i = 0; i < 8; i++) n = n.to(EtherVLANEncap({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02', vlanId: 5 }, `e${i}`));
    n.to(sink('vlanroom'));
  });
  t.equal(read('vlanroom').length, 0);
  t.equal(s.elements.e7.drops_no_headroom, 1, 'the eighth header did not fit: dropped and counted');
});

t.test('VLANClassifier switches on the outer VLAN id: tagged, untagged, double-tagged, short', async (t) => {
  const tagged = (tpid: number, tci: number, inner: Buffer) => Buffer.concat([inner.subarray(0, 12), Buffer.from([tpid >> 8, tpid & 0xff, tci >> 8, tci & 0xff]), inner.subarray(12)]);
  const base = udp4Frame({ src: '198.18.0.1', dst: '198.18.1.1', payload: 'vlan' });
  const fr = {
    untagged: base,
    v10: tagged(0x8100, (3 << 13) | 10, base), // the priority is ignored
    v20: tagged(0x8100, 20, base),
    v21: tagged(0x8100, 0x1000 | 21, base), // DEI set
    v99: tagged(0x8100, 99, base),
    qq10in20: tagged(0x8100, 10, tagged(0x8100, 20, base)),
    ad20in10: tagged(0x88a8, 20, tagged(0x8100, 10, base)),
  };
  const short = [base.subarray(0, 13), fr.v10.subarray(0, 17), Buffer.alloc(0)];
  const frames = [...Object.values(fr), ...Object.values(fr), ...short];
  const f = input('vc', frames);
  const fq = input('vc-q', frames.filter((x) => x !== fr.ad20in10));
  const twice = (l: Buffer[]) => [...l, ...l];
  const s = await runGraph(() => {
    const vc = FromPcap({ file: f }).to(VLANClassifier({ vlans: [10, [20, 21]] }, 'vc'));
    [0, 1, 2].forEach((k) => vc.out(k).to(sink(`vc${k}`)));
    const vd = FromPcap({ file: f }).to(VLANClassifier({ vlans: [10, [20, 21]], unlisted: 'drop', nativeVlan: 21, tpids: [0x8100, 0x88a8] }, 'vd'));
    [0, 1].forEach((k) => vd.out(k).to(sink(`vd${k}`)));
    // The annotation: VLANDecap takes the outer 802.1Q tag off into it (no 802.1ad frame here:
    // whether VLANDecap takes those is its own option).
    const va = FromPcap({ file: fq }).to(VLANDecap()).to(VLANClassifier({ vlans: [[10], 20], source: 'annotation' }, 'va'));
    [0, 1, 2].forEach((k) => va.out(k).to(sink(`va${k}`)));
  });
  sameBuffers(t, read('vc0'), twice([fr.v10, fr.qq10in20]), 'VLAN 10, and a 10-over-20 double tag by its outer tag');
  sameBuffers(t, read('vc1'), twice([fr.v20, fr.v21]), 'VLANs 20 and 21 share output 1');
  sameBuffers(t, read('vc2'), twice([fr.untagged, fr.v99, fr.ad20in10]), 'the default output: untagged, unlisted, and 802.1ad (not a tag by default)');
  t.same([s.elements.vc.drops_short, s.elements.vc.drops_unlisted], [3, 0], 'frames shorter than 14, or tagged and shorter than 18');
  sameBuffers(t, read('vd0'), twice([fr.v10, fr.qq10in20]), "unlisted 'drop', 802.1ad accepted: VLAN 10");
  sameBuffers(t, read('vd1'), twice([fr.untagged, fr.v20, fr.v21, fr.ad20in10]), 'untagged frames are native VLAN 21; the 802.1ad frame by its outer id 20');
  t.same([s.elements.vd.drops_short, s.elements.vd.drops_unlisted], [3, 2], 'VLAN 99 dropped and counted');
  const untag = (x: Buffer) => Buffer.concat([x.subarray(0, 12), x.subarray(16)]);
  sameBuffers(t, read('va0'), twice([untag(fr.v10), untag(fr.qq10in20)]), 'annotation source: VLAN 10');
  sameBuffers(t, read('va1'), twice([untag(fr.v20)]), 'annotation source: VLAN 20');
  sameBuffers(t, read('va2'), twice([fr.untagged, untag(fr.v21), untag(fr.v99)]), 'annotation source: the rest');
  t.equal(s.elements.va.drops_short, 0, 'the annotation source reads no bytes');
  t.equal(s.pool.available, s.pool.capacity);
  t.match(problems(() => FromPcap({ file: f }).to(VLANClassifier({ vlans: [10, 20] }, 'vx')).to(Idle())), /vx.*1 output\(s\) but needs 3/);
  t.match(problems(() => {
    const v = FromPcap({ file: f }).to(VLANClassifier({ vlans: [10, [20, 10]], unlisted: 'drop' }, 'vy'));
    v.to(Idle());
    v.out(1).to(Idle());
  }), /vy.*VLAN 10 is listed for output 0 and again for output 1/);
});

t.test('InfiniteSource: empty packets, and length pads or cuts data as Click LENGTH does', async (t) => {
  const s = await runGraph(() => {
    InfiniteSource({ data: '', limit: 5 }, 'empty').to(sink('is-empty'));
    InfiniteSource({ data: 'aabbcc', length: 0, limit: 3 }).to(sink('is-len0'));
    InfiniteSource({ data: 'aabb', length: 4, limit: 2 }).to(sink('is-pad'));
    InfiniteSource({ data: 'aabbcc', length: 2, limit: 2 }).to(sink('is-cut'));
    InfiniteSource({ data: 'aabbcc', limit: 2 }).to(sink('is-data'));
    InfiniteSource({ limit: 2 }).to(sink('is-default'));
  });
  sameBuffers(t, read('is-empty'), Array(5).fill(Buffer.alloc(0)), "data '': zero-length packets");
  t.same([s.elements.empty.packets, s.elements.empty.bytes], [5, 0]);
  sameBuffers(t, read('is-len0'), Array(3).fill(Buffer.alloc(0)), 'length 0: zero-length packets');
  sameBuffers(t, read('is-pad'), Array(2).fill(Buffer.from('aabb0000', 'hex')), 'padded with zeros');
  sameBuffers(t, read('is-cut'), Array(2).fill(Buffer.from('aabb', 'hex')), 'cut');
  sameBuffers(t, read('is-data'), Array(2).fill(Buffer.from('aabbcc', 'hex')), 'data as it is by default');
  sameBuffers(t, read('is-default'), Array(2).fill(Buffer.alloc(64)), 'no data: 64 zero bytes');
});

t.test("ToPcap's link type follows what it receives: raw IP stays raw IP, tcpdump agrees", async (t) => {
  const frames = Array.from({ length: 4 }, (_, i) => udp4Frame({ src: '198.18.0.1', dst: '198.18.1.1', sport: 1000 + i, dport: 53, payload: 'abcd' }));
  const eth = input('lt-eth', frames);
  const rawIn = input('lt-raw', frames.map((x) => x.subarray(14)), LINKTYPE_RAW);
  const auto = (tag: string) => sink(tag, { linktype: 'auto' });
  const s = await runGraph(() => {
    FromPcap({ file: eth }).to(auto('lt-eth'));
    FromPcap({ file: eth }).to(Strip({ length: 14 })).to(auto('lt-strip'));
    FromPcap({ file: rawIn }).to(auto('lt-raw'));
    FromPcap({ file: eth }).to(MarkIPHeader({ offset: 14 })).to(StripToNetworkHeader()).to(auto('lt-s2n'));
    FromPcap({ file: eth }).to(Strip({ length: 14 })).to(EtherVLANEncap({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02', vlanId: 7 })).to(auto('lt-reencap'));
    InfiniteSource({ data: frames[0].toString('hex'), limit: 2 }).to(auto('lt-gen'));
    FromPcap({ file: rawIn }).to(Idle()); // a sink that gets nothing:
    Idle().to(auto('lt-none'));
    FromPcap({ file: rawIn }).to(sink('lt-fixed', { linktype: 228 }));
  });
  t.ok(s);
  const want: Record<string, number> = { 'lt-eth': LINKTYPE_ETHERNET, 'lt-strip': LINKTYPE_RAW, 'lt-raw': LINKTYPE_RAW, 'lt-s2n': LINKTYPE_RAW, 'lt-reencap': LINKTYPE_ETHERNET, 'lt-gen': LINKTYPE_ETHERNET, 'lt-none': LINKTYPE_ETHERNET, 'lt-fixed': 228 };
  for (const [tag, lt] of Object.entries(want)) t.equal(readPcap(outFile(tag)).linktype, lt, `${tag}: link type ${lt}`);
  sameBuffers(t, read('lt-strip'), frames.map((x) => x.subarray(14)), 'the stripped packets');
  const which = spawnSync('tcpdump', ['--version'], { encoding: 'utf8' });
  if (which.error) {
    t.skip('tcpdump is not installed: its reading not checked', () => {});
    return;
  }
  for (const tag of ['lt-strip', 'lt-raw', 'lt-eth', 'lt-reencap']) {
    const r = spawnSync('tcpdump', ['-r', outFile(tag), '-nn', '-e'], { encoding: 'utf8', timeout: 10_000 });
    t.equal(r.status, 0, `tcpdump reads ${tag}`);
    const lines = r.stdout.trim().split('\n');
    t.equal(lines.length, 4, `${tag}: 4 packets`);
    t.ok(lines.every((l) => /198\.18\.0\.1\.100\d > 198\.18\.1\.1\.53: /.test(l)), `${tag}: tcpdump decodes every packet as IPv4/UDP`);
    if (tag === 'lt-reencap') t.ok(lines.every((l) => /vlan 7/.test(l)), 'with its VLAN tag');
    t.notMatch(r.stdout, /truncated|malformed|\[\|/i, 'tcpdump finds nothing wrong');
  }
});
