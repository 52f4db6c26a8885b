// IPFragmenter and IPReassembler with crafted datagrams (198.18.0.0/15): fragments' bytes,
// offsets, MF flags, copied options and checksums checked and reassembled in the test;
// DF packets to output 1 or dropped; IPFragmenter -> IPReassembler gives the originals back
// byte for byte (also from a pcap file of shuffled, duplicated fragments, raw and behind
// Ethernet headers); overlaps, malformed fragments, the maxBytes limit, datagrams too big for
// a buffer, and an incomplete datagram timing out (Runtime API). Pool fully returned.
import t from 'tap';
import { graph, compile, Runtime, FromPcap, MarkIPHeader, IPFragmenter, IPReassembler } from 'pktgraph';
import { runGraph, tmpPath } from './lib/run.js';
import { pcapFiles, sameBuffers } from './lib/pcapfiles.js';
import { readPcap, LINKTYPE_RAW, LINKTYPE_ETHERNET } from './lib/pcap.js';
import { ether, ipv4, udp, checksum16, verifyIpv4Checksum, PROTO_UDP } from './lib/packets.js';
import { Rng, fragmentSet, validIpv4 } from './lib/fuzz.js';
import { rng } from './lib/rng.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const { input, sink, read } = pcapFiles('frag', { linktype: LINKTYPE_RAW });

const r = rng(7);
const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => r.int(0, 255)));
function shuffle<T>(a: T[]): T[] {
  const b = [...a];
  for (let i = b.length - 1; i > 0; i--) {
    const j = r.int(0, i);
    [b[i], b[j]] = [b[j], b[i]];
  }
  return b;
}

const hl = (ip: Buffer) => (ip[0] & 15) * 4;
const fragOff = (ip: Buffer) => (ip.readUInt16BE(6) & 0x1fff) * 8;
const mfSet = (ip: Buffer) => (ip.readUInt16BE(6) & 0x2000) !== 0;
const key = (ip: Buffer) => `${ip.subarray(12, 20).toString('hex')}/${ip.readUInt16BE(4)}/${ip[9]}`;

// Options: a copied one (loose source route, type 0x83, 7 bytes), a NOP, record route (type 7,
// not copied, 7 bytes), then end-of-list padding: IHL 9 (16 option bytes).
const LSRR = Buffer.from([0x83, 7, 4, 198, 18, 9, 9]);
const RR = Buffer.from([7, 7, 4, 0, 0, 0, 0]);
const OPTS = Buffer.concat([LSRR, Buffer.from([1]), RR]);

let nextId = 100;
function dgram(size: number, o: { df?: boolean; options?: Buffer; src?: string } = {}): Buffer {
  const src = o.src ?? '198.18.0.1';
  const dst = '198.19.0.2';
  const optLen = o.options ? Math.ceil(o.options.length / 4) * 4 : 0;
  return ipv4({ src, dst, id: nextId++, df: o.df, options: o.options, ttl: 33, payload: udp({ src, dst, payload: bytes(size - 28 - optLen) }) });
}

/** Reassembles fragments in the test: payload pieces at their offsets, the first fragment's header. */
function reassemble(frags: Buffer[]): Buffer {
  const sorted = [...frags].sort((a, b) => fragOff(a) - fragOff(b));
  const first = sorted[0];
  const end = Math.max(...sorted.map((f) => fragOff(f) + f.readUInt16BE(2) - hl(f)));
  const out = Buffer.alloc(hl(first) + end);
  first.copy(out, 0, 0, hl(first));
  for (const f of sorted) f.copy(out, hl(first) + fragOff(f), hl(f), f.readUInt16BE(2));
  out.writeUInt16BE(out.length, 2);
  out.writeUInt16BE(first.readUInt16BE(6) & 0x4000, 6);
  out.writeUInt16BE(0, 10);
  out.writeUInt16BE(checksum16(out.subarray(0, hl(out))), 10);
  return out;
}

t.test('IPFragmenter: fragments have the right bytes, offsets, MF, options and checksums', async (t) => {
  const MTU = 576;
  const small = dgram(400);
  const exact = dgram(MTU);
  const big = dgram(1800); // pool buffers hold 1920 bytes of data
  const withOpts = dgram(1601, { options: OPTS });
  const dfBig = dgram(1500, { df: true });
  const dfSmall = dgram(300, { df: true });
  const all = [small, exact, big, withOpts, dfBig, dfSmall];
  const f = input('basic', all);
  const fe = input('basic-eth', all.map((p) => ether({ payload: p })), LINKTYPE_ETHERNET);
  const s = await runGraph(() => {
    const frag = IPFragmenter({ mtu: MTU }, 'frag');
    FromPcap({ file: f }).to(frag).to(sink('basic'));
    frag.out(1).to(sink('basic-df'));
    FromPcap({ file: f }).to(IPFragmenter({ mtu: MTU }, 'fragnodf')).to(sink('nodf'));
    FromPcap({ file: f }).to(IPFragmenter({ mtu: MTU, honorDF: false }, 'fragall')).to(sink('all'));
    FromPcap({ file: fe }).to(MarkIPHeader({ offset: 14 })).to(IPFragmenter({ mtu: MTU }, 'frageth')).to(sink('eth'));
  });
  const out = read('basic');
  t.same(read('basic-df'), [dfBig], 'the large DF packet went to output 1 unchanged');
  t.ok(out[0].equals(small) && out[1].equals(exact), 'packets that fit pass unchanged');
  const frags = out.slice(2);
  const byKey = new Map<string, Buffer[]>();
  for (const p of frags) byKey.set(key(p), [...(byKey.get(key(p)) ?? []), p]);
  t.equal(byKey.size, 3, 'fragments of two datagrams, then the small DF packet');
  t.ok(out[out.length - 1].equals(dfSmall), 'a small DF packet passes');
  for (const orig of [big, withOpts]) {
    const fs = byKey.get(key(orig))!;
    const firstData = (MTU - hl(orig)) & ~7;
    const laterData = (MTU - (orig === withOpts ? 28 : 20)) & ~7;
    t.equal(fs.length, 1 + Math.ceil((orig.length - hl(orig) - firstData) / laterData), `${fs.length} fragments`);
    t.ok(fs.every((p) => p.length <= MTU && p.length === p.readUInt16BE(2)), 'every fragment fits the MTU, total length right');
    t.ok(fs.every((p) => verifyIpv4Checksum(p)), 'every header checksum right');
    t.ok(fs.slice(0, -1).every((p) => mfSet(p) && (p.readUInt16BE(2) - hl(p)) % 8 === 0), 'MF on all but the last, pieces multiples of 8');
    t.notOk(mfSet(fs[fs.length - 1]), 'MF clear on the last');
    let off = 0;
    for (const p of fs) {
      t.equal(fragOff(p), off, `offset ${off}`);
      off += p.readUInt16BE(2) - hl(p);
    }
    t.ok(fs.every((p) => p[8] === 33 && p[9] === PROTO_UDP && p.readUInt16BE(4) === orig.readUInt16BE(4)), 'TTL, protocol, id kept');
    t.ok(reassemble(fs).equals(orig), 'reassembled in the test: the original');
  }
  const of = byKey.get(key(withOpts))!;
  t.ok(of[0].subarray(0, hl(withOpts)).subarray(20).equals(withOpts.subarray(20, hl(withOpts))), 'the first fragment has all options');
  t.ok(
    of.slice(1).every((p) => hl(p) === 28 && p.subarray(20, 28).equals(Buffer.concat([LSRR, Buffer.alloc(1)]))),
    'later fragments carry only the copied option, padded',
  );
  t.same(s.elements.frag, { packets: 3, fragmented: 2, fragments: frags.length - 1, drops_df: 0, drops_malformed: 0, drops_pool_empty: 0 }, 'counters');
  t.equal(s.elements.fragnodf.drops_df, 1, 'without output 1 the DF packet is dropped and counted');
  t.equal(read('nodf').length, out.length, 'and the rest the same');
  t.equal(s.elements.fragall.fragmented, 3, 'honorDF false: the DF packet fragmented too');
  const dfFr = read('all').filter((p) => key(p) === key(dfBig));
  t.ok(dfFr.length > 1 && reassemble(dfFr).equals(dfBig), 'and reassembles to the original');
  const eth = read('eth');
  t.equal(eth.length, out.length, 'behind Ethernet: the same number of packets');
  t.ok(eth.every((p, i) => p.subarray(0, 14).equals(ether({})) && p.subarray(14).equals(out[i])), 'each with the Ethernet header in front');
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
});

t.test('IPFragmenter -> IPReassembler gives the originals back byte for byte', async (t) => {
  const origs = [dgram(100), dgram(1200), dgram(1800, { options: OPTS }), dgram(1880), dgram(69)];
  const f = input('rt', origs);
  const fe = input('rt-eth', origs.map((p) => ether({ payload: p })), LINKTYPE_ETHERNET);
  const s = await runGraph(() => {
    FromPcap({ file: f }).to(IPFragmenter({ mtu: 1000 }, 'frag')).to(sink('frags'));
    FromPcap({ file: f }).to(IPFragmenter({ mtu: 68 }, 'frag68')).to(IPReassembler({}, 're68')).to(sink('rt68'));
    FromPcap({ file: fe })
      .to(MarkIPHeader({ offset: 14 }))
      .to(IPFragmenter({ mtu: 300 }))
      .to(IPReassembler({}, 'reeth'))
      .to(sink('rteth'));
  }, { poolBuffers: 4096 });
  const sortK = (a: Buffer[]) => [...a].sort(Buffer.compare);
  t.same(sortK(read('rt68')).map((b) => b.toString('hex')), sortK(origs).map((b) => b.toString('hex')), 'mtu 68: originals back');
  t.same(s.elements.re68.reassembled, 5, 'all five reassembled (69 > 68)');
  t.same(s.elements.re68.packets, 0, 'none passed through');
  t.same(
    sortK(read('rteth')).map((b) => b.toString('hex')),
    sortK(origs.map((p) => ether({ payload: p }))).map((b) => b.toString('hex')),
    'behind Ethernet: frames back',
  );
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');

  // The fragments, shuffled and with duplicates, from a pcap file.
  const frags = read('frags');
  const isFrag = (p: Buffer) => mfSet(p) || fragOff(p) !== 0;
  const dup = [...frags, ...frags.filter((p, i) => i % 3 === 0 && isFrag(p))];
  const f2 = input('shuf', shuffle(dup));
  const s2 = await runGraph(() => {
    // A duplicate arriving after its datagram completed starts a new one, which times out.
    FromPcap({ file: f2 }).to(IPReassembler({ timeout: 0.5 }, 're')).to(sink('shuf'));
  });
  t.same(sortK(read('shuf')).map((b) => b.toString('hex')), sortK(origs).map((b) => b.toString('hex')), 'shuffled, duplicated: originals back');
  const c = s2.elements.re;
  t.equal(c.reassembled, 3, 'three reassembled');
  t.equal(c.packets, 2, 'two passed through');
  t.equal(c.fragments + c.drops_duplicate, dup.length - 2, 'every fragment held or dropped as a duplicate');
  t.ok(c.drops_duplicate > 0, 'duplicates dropped');
  t.equal(c.drops_overlap + c.drops_memory + c.drops_malformed + c.drops_too_big, 0, 'nothing else dropped');
  t.equal(s2.pool.available, s2.pool.capacity, 'every buffer back in the pool');

  // Two workers pushing halves of the shuffled fragments into one IPReassembler.
  const sh = shuffle(frags);
  const fa = input('half-a', sh.filter((_, i) => i % 2 === 0));
  const fb = input('half-b', sh.filter((_, i) => i % 2 === 1));
  const s3 = await runGraph(
    () => {
      const re = IPReassembler({}, 're2');
      FromPcap({ file: fa }).to(re);
      FromPcap({ file: fb }).to(re);
      re.to(sink('two'));
    },
    { threads: 2 },
  );
  t.same(sortK(read('two')).map((b) => b.toString('hex')), sortK(origs).map((b) => b.toString('hex')), 'two workers: originals back');
  t.equal(s3.elements.re2.reassembled, 3);
  t.equal(s3.pool.available, s3.pool.capacity, 'every buffer back in the pool');
});

t.test('IPReassembler: a first fragment refused (too big, no room) leaves no trace of its datagram', async (t) => {
  // One probe finds a datagram or adds it; a refused first fragment takes its key out again,
  // so the datagram's fragments that come later start it afresh and the others are untouched.
  const src = '198.18.1.1';
  const dst = '198.18.2.2';
  const fr = (id: number, off: number, len: number, mf: boolean) => ipv4({ src, dst, id, fragOffset: off / 8, mf, payload: bytes(len) });
  const a = [fr(20, 0, 16, true), fr(20, 16, 8, false)];
  const b = [fr(21, 0, 16, true), fr(21, 16, 8, false)];
  const c = [fr(22, 0, 16, true), fr(22, 16, 8, false)];
  const pkts = [
    fr(21, 65528, 16, true), // new datagram 21, beyond 65535 bytes: refused
    a[0], // datagram 20 takes the one entry (maxDatagrams 1)
    c[0], // datagram 22: no entry left, refused
    b[0], // 21 again: still no entry
    a[1], // 20 complete: its entry is free
    b[0], b[1], // 21 from the start: reassembled
    c[0], c[1], // then 22
  ];
  const f = input('refused', pkts);
  const s = await runGraph(() => {
    FromPcap({ file: f }).to(IPReassembler({ maxDatagrams: 1, timeout: 0.2 }, 're')).to(sink('refused'));
  });
  const e = s.elements.re;
  t.same([e.drops_too_big, e.oversized, e.drops_memory, e.reassembled], [1, 1, 2, 3], 'one too big, two without room, three reassembled');
  sameBuffers(t, read('refused'), [reassemble(a), reassemble(b), reassemble(c)], 'each datagram whole and right: no refused key was left pointing at an entry');
  t.equal(e.packets + e.fragments_reassembled + e.drops_too_big + e.drops_memory, pkts.length, 'every packet in counted once');
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
});

t.test('IPReassembler: overlaps, malformed fragments, maxBytes, too big', async (t) => {
  const src = '198.18.1.1';
  const dst = '198.18.2.2';
  const fr = (id: number, off: number, len: number, mf: boolean, extra: { src?: string } = {}) =>
    ipv4({ src: extra.src ?? src, dst, id, fragOffset: off / 8, mf, payload: bytes(len) });
  // Datagram 1: an overlapping fragment; datagram 2: a bad MF length; datagram 3 after 1 completes fine.
  const pkts = [
    fr(1, 0, 64, true),
    fr(1, 32, 64, true), // overlaps [0, 64)
    fr(2, 0, 60, true), // MF with 60 bytes: not a multiple of 8
    fr(3, 8, 8, false),
    fr(3, 0, 8, true),
  ];
  const f = input('ovl', pkts);
  // maxBytes: two 3-fragment datagrams of 620-byte fragments with a 2000-byte limit.
  const mem = [
    fr(10, 0, 600, true), // 620 bytes held
    fr(11, 0, 600, true), // 1240
    fr(10, 600, 600, true), // 1860
    fr(11, 600, 600, true), // 2480: over the limit, dropped
    fr(10, 1200, 100, false), // 1980: datagram 10 complete, its bytes freed
    fr(11, 1200, 100, false), // datagram 11 lacks its middle: times out
  ];
  const fm = input('mem', mem);
  const s = await runGraph(() => {
    FromPcap({ file: f }).to(IPReassembler({ timeout: 0.2 }, 'ovl')).to(sink('ovl'));
    FromPcap({ file: fm }).to(IPReassembler({ maxBytes: 2000, timeout: 0.2 }, 'mem')).to(sink('mem'));
  });
  const o = s.elements.ovl;
  t.equal(o.overlaps, 1, 'the overlap dropped the datagram');
  t.equal(o.drops_overlap, 2, 'both its fragments counted: the held one and the offending one');
  t.equal(o.drops_malformed, 1, 'a bad MF fragment is malformed');
  t.equal(o.reassembled, 1, 'datagram 3 reassembled');
  t.equal(read('ovl').length, 1);
  t.equal(read('ovl')[0].length, 36);
  t.ok(verifyIpv4Checksum(read('ovl')[0]));
  const m = s.elements.mem;
  t.equal(m.drops_memory, 1, 'maxBytes enforced');
  t.equal(m.reassembled, 1, 'the datagram that fitted was reassembled');
  t.equal(m.timeouts, 1, 'the other timed out');
  t.equal(m.drops_timeout, 2, 'with its two held fragments');
  for (const [name, c, n] of [['ovl', o, pkts.length], ['mem', m, mem.length]] as const)
    t.equal(c.packets + c.fragments_reassembled + c.drops_overlap + c.drops_duplicate + c.drops_too_big + c.drops_memory + c.drops_malformed + c.drops_timeout, n, `${name}: every packet in counted once`);
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
});

t.test('IPReassembler: an incomplete datagram times out; too big for a buffer (Runtime API)', async (t) => {
  const rt = new Runtime({ threads: 1, poolBuffers: 1024 });
  t.teardown(() => rt.close());
  const ps = rt.poolStats();
  const room = ps.bufferSize - ps.headroom;
  const whole = dgram(1800);
  const f1 = input('to-frags', [whole]);
  const g1 = rt.load(compile(graph('tofrags', () => {
    FromPcap({ file: f1 }).to(IPFragmenter({ mtu: 500 })).to(sink('to-frags'));
  })));
  rt.start();
  const until = async (cond: () => boolean, ms = 3000) => {
    const deadline = Date.now() + ms;
    while (!cond() && Date.now() < deadline) await sleep(5);
    return cond();
  };
  t.ok(await until(() => g1.drained()), 'the fragmenter graph drained');
  g1.write('sink_to_frags', 'flush', '');
  const frags = readPcap(tmpPath('frag-to-frags-out.pcap')).packets.map((p) => p.data);
  t.equal(frags.length, 4, 'four fragments');
  // Too big: fragments of a datagram longer than a pool buffer holds.
  const bigLen = Math.min(room + 100, 65000);
  const bigFr: Buffer[] = [];
  if (room < 65000) {
    const payload = bytes(bigLen - 20);
    for (let off = 0; off < payload.length; off += 1000) {
      const piece = payload.subarray(off, Math.min(off + 1000, payload.length));
      bigFr.push(ipv4({ src: '198.18.7.7', dst: '198.19.7.7', id: 77, fragOffset: off / 8, mf: off + 1000 < payload.length, payload: piece }));
    }
  }
  const f2 = input('to', [...frags.slice(0, 3), ...bigFr]); // the last fragment missing
  const g = rt.load(compile(graph('timeout', () => {
    FromPcap({ file: f2 }).to(IPReassembler({ timeout: 0.3 }, 're')).to(sink('to'));
  })));
  t.ok(await until(() => g.counter('re', 'fragments') >= 3n), 'fragments held');
  const t0 = Date.now();
  t.ok(await until(() => g.counter('re', 'timeouts') === 1n), 'the incomplete datagram timed out');
  const waited = Date.now() - t0;
  t.ok(waited < 1500, `within the timeout (${waited} ms after the fragments were held)`);
  if (bigFr.length) {
    t.equal(g.counter('re', 'oversized'), 1n, 'a datagram larger than a buffer is dropped');
    t.equal(g.counter('re', 'drops_too_big'), BigInt(bigFr.length), 'with every fragment counted');
  }
  t.equal(g.counter('re', 'drops_timeout'), 3n, "the timed-out datagram's three fragments counted");
  t.equal(g.counter('re', 'reassembled'), 0n);
  await sleep(50);
  rt.stop();
  g.remove();
  g1.remove();
  const pool = rt.poolStats();
  t.equal(pool.available, pool.capacity, 'every buffer back in the pool');
});

t.test('IPReassembler: every packet in is counted once (in = out + held + drops) on mixed fragment streams', async (t) => {
  // Shuffled fragment sets (some with a piece lost or doubled, some too big for a buffer) mixed
  // with whole datagrams, overlapping and malformed fragments, fragments past 65535, and one
  // datagram that is never completed: held until the timeout.
  const rr = new Rng(20261202);
  const stream: Buffer[] = [];
  for (let i = 0; i < 150; i++) stream.push(...(rr.chance(0.8) ? fragmentSet(rr) : [validIpv4(rr)]));
  const fr = (id: number, off: number, len: number, mf: boolean) => ipv4({ src: '198.18.9.1', dst: '198.19.9.2', id, fragOffset: off / 8, mf, payload: bytes(len) });
  stream.push(fr(900, 0, 64, true), fr(900, 32, 64, true), fr(900, 64, 8, false)); // an overlap, then a fragment of a datagram already dropped
  stream.push(fr(901, 0, 60, true)); // MF with 60 bytes: malformed
  stream.push(fr(902, 65528, 16, false), fr(902, 0, 8, true)); // past 65535, then its first piece
  stream.push(fr(903, 0, 16, true), fr(903, 0, 16, true)); // a duplicate
  stream.push(fr(904, 0, 64, true), fr(904, 128, 8, false)); // a gap: held
  const f = input('account', stream);
  const rt = new Runtime({ threads: 1, poolBuffers: 4096 });
  t.teardown(() => rt.close());
  const g = rt.load(compile(graph('account', () => {
    FromPcap({ file: f }, 'src').to(IPReassembler({ timeout: 1 }, 're')).to(sink('account'));
  })));
  rt.start();
  const until = async (cond: () => boolean, ms = 5000) => {
    const deadline = Date.now() + ms;
    while (!cond() && Date.now() < deadline) await sleep(5);
    return cond();
  };
  const c = () => g.counters('re');
  const drops = (k: Record<string, bigint>) => Object.entries(k).filter(([n]) => n.startsWith('drops_')).reduce((a, [, v]) => a + v, 0n);
  const held = () => BigInt(rt.engine.graphState(g.id).held);
  t.ok(await until(() => g.counter('src', 'packets') === BigInt(stream.length)), 'the stream was played');
  await sleep(50);
  const mid = c();
  t.ok(held() > 0n, `fragments held before the timeout (${held()})`);
  t.equal(mid.packets + mid.fragments_reassembled + held() + drops(mid), BigInt(stream.length), 'before the timeout: in = passed + reassembled fragments + held + drops');
  t.ok(mid.drops_overlap >= 2n && mid.drops_malformed >= 1n && mid.drops_too_big >= 1n && mid.drops_duplicate >= 1n, 'the crafted drops are among them');
  t.ok(await until(() => g.drained()), 'the graph drains once the incomplete datagrams time out');
  const end = c();
  t.equal(held(), 0n);
  t.ok(end.drops_timeout > 0n, 'timed-out fragments counted');
  t.equal(end.packets + end.fragments_reassembled + drops(end), BigInt(stream.length), 'after the timeout: in = passed + reassembled fragments + drops');
  g.write('sink_account', 'flush', '');
  t.equal(BigInt(read('account').length), end.packets + end.reassembled, 'out = passed + reassembled datagrams');
  rt.stop();
  g.remove();
});
