// IPGWOptions and FixIPSrc with crafted packets through pcap files: FromPcap -> CheckIPHeader
// -> element -> ToPcap, bytes checked against references built with test/lib/packets.ts
// (header checksums recomputed by the test). Packets without options pass byte for byte;
// Record Route gets the router's address; Timestamp (flags 0, 1, 3) the time in ms since
// midnight UT, or an overflow count; bad options go to output 1 and ICMPError answers them
// with the pointer IPGWOptions annotated; FixIPSrc rewrites the source of ICMPError's messages
// only, keeping the checksum right.
import t from 'tap';
import { FromPcap, ToPcap, CheckIPHeader, IPGWOptions, Queue, Unqueue, FixIPSrc, ICMPError, Discard, compile, graph } from 'pktgraph';
import { runGraph } from './lib/run.js';
import { pcapFiles, sameBuffers } from './lib/pcapfiles.js';
import { ipv4, udp, icmp4, parseIpv4, verifyIpv4Checksum, verifyL4Checksum, checksum16, ip4, PROTO_ICMP } from './lib/packets.js';

const LINKTYPE_RAW = 101;
const { input, sink, read } = pcapFiles('gwopt', { linktype: LINKTYPE_RAW });

/** A copy of an IPv4 packet with its header checksum recomputed. */
function fixSum(p: Buffer): Buffer {
  const q = Buffer.from(p);
  const hlen = (q[0] & 15) * 4;
  q.writeUInt16BE(0, 10);
  q.writeUInt16BE(checksum16(q.subarray(0, hlen)), 10);
  return q;
}

const ME = '198.18.1.254';
const OTHER = '198.18.2.254';
const udpWith = (options: number[] | undefined, i = 0) =>
  ipv4({ src: '198.18.1.1', dst: '198.18.2.1', id: 100 + i, ttl: 30, options: options ? Buffer.from(options) : undefined, payload: udp({ src: '198.18.1.1', dst: '198.18.2.1', payload: `datagram ${i}` }) });

/** Record Route with `slots` empty address slots and the pointer at slot `used`. */
const rr = (slots: number, used = 0) => [7, 3 + 4 * slots, 4 + 4 * used, ...new Array(4 * slots).fill(0)];
/** Timestamp option with `slots` entries of `size` bytes, pointer at entry `used`, flag, overflow. */
const ts = (size: number, slots: number, used: number, flag: number, overflow = 0, fill: number[] = []) => {
  const body = new Array(size * slots).fill(0);
  fill.forEach((b, i) => (body[i] = b));
  return [68, 4 + size * slots, 5 + size * used, (overflow << 4) | flag, ...body];
};

t.test('IPGWOptions: no options untouched, Record Route and Timestamp filled in, checksums right', async (t) => {
  const plain = Array.from({ length: 50 }, (_, i) => udpWith(undefined, i));
  const withRR = udpWith(rr(3), 1);
  const rrFull = udpWith(rr(2, 2), 2);
  const ts0 = udpWith(ts(4, 2, 0, 0), 3);
  const ts1 = udpWith([1, ...ts(8, 2, 0, 1)], 4); // after a NOP
  const ts3Mine = udpWith(ts(8, 2, 0, 3, 0, [...ip4(OTHER)]), 5);
  const ts3Other = udpWith(ts(8, 2, 0, 3, 0, [198, 18, 9, 9]), 6);
  const tsFull = udpWith(ts(4, 1, 1, 0, 2), 7);
  const rrThenEol = udpWith([...rr(1), 0, 99, 99, 99], 8); // junk after end of list is not read
  const pkts = [...plain.slice(0, 25), withRR, rrFull, ts0, ts1, ts3Mine, ts3Other, tsFull, rrThenEol, ...plain.slice(25)];

  const before = Date.now();
  const s = await runGraph(() => {
    FromPcap({ file: input('ok', pkts) })
      .to(CheckIPHeader())
      .to(IPGWOptions({ address: ME, otherAddresses: [OTHER] }, 'gw'))
      .to(sink('ok'));
  });
  const after = Date.now();
  const got = read('ok');
  t.equal(got.length, pkts.length, 'every packet left on output 0');
  t.equal(s.elements.gw.packets, pkts.length, 'counted in packets');
  t.equal(s.elements.gw.bad_options, 0, 'no bad options');
  t.equal(s.elements.gw.rewritten, 6, 'six packets rewritten (RR, TS flag 0, 1, 3 for us, TS overflow, RR before EOL)');
  t.ok(got.every((p) => verifyIpv4Checksum(p) && verifyL4Checksum(p)), 'every header and UDP checksum right');

  const at = (p: Buffer) => got[pkts.indexOf(p)];
  sameBuffers(t, [...got.slice(0, 25), ...got.slice(25 + 8)], plain, 'packets without options byte for byte');

  // Record Route: our address in the first slot, the pointer moved on.
  const wantRR = Buffer.from(withRR);
  wantRR[20 + 2] = 8;
  ip4(ME).copy(wantRR, 20 + 3);
  t.same(at(withRR), fixSum(wantRR), 'Record Route: address recorded, pointer 4 -> 8');
  t.same(at(rrFull), rrFull, 'a full Record Route is forwarded as it is');
  const wantRR2 = Buffer.from(rrThenEol);
  wantRR2[22] = 8;
  ip4(ME).copy(wantRR2, 23);
  t.same(at(rrThenEol), fixSum(wantRR2), 'Record Route before end of list recorded, the bytes after it untouched');

  const msOfDay = (ms: number) => ms % 86_400_000;
  const timeOk = (v: number) => {
    const lo = msOfDay(before);
    const hi = msOfDay(after);
    return lo <= hi ? v >= lo - 5 && v <= hi + 5 : v >= lo - 5 || v <= hi + 5;
  };
  // Timestamp flag 0: the time in the first slot, pointer 5 -> 9.
  const g0 = at(ts0);
  t.equal(g0[22], 9, 'Timestamp flag 0: pointer 5 -> 9');
  t.ok(timeOk(g0.readUInt32BE(24)), `... the time in ms since midnight UT (${g0.readUInt32BE(24)})`);
  const want0 = Buffer.from(ts0);
  want0[22] = 9;
  g0.copy(want0, 24, 24, 28);
  t.same(g0, fixSum(want0), '... nothing else changed');
  // Flag 1 (after a NOP): our address then the time.
  const g1 = at(ts1);
  t.equal(g1[23], 13, 'Timestamp flag 1: pointer 5 -> 13');
  t.same(g1.subarray(25, 29), ip4(ME), '... our address');
  t.ok(timeOk(g1.readUInt32BE(29)), '... and the time');
  // Flag 3: only when the prespecified address is ours.
  const g3 = at(ts3Mine);
  t.equal(g3[22], 13, 'Timestamp flag 3 for one of our addresses: pointer 5 -> 13');
  t.same(g3.subarray(24, 28), ip4(OTHER), '... the prespecified address kept');
  t.ok(timeOk(g3.readUInt32BE(28)), '... the time after it');
  t.same(at(ts3Other), ts3Other, 'Timestamp flag 3 for another router: untouched');
  // Full: overflow 2 -> 3.
  const wantFull = Buffer.from(tsFull);
  wantFull[23] = (3 << 4) | 0;
  t.same(at(tsFull), fixSum(wantFull), 'a full Timestamp has its overflow count incremented (2 -> 3)');
});

t.test('IPGWOptions: bad options to output 1 with the pointer; ICMPError answers with it', async (t) => {
  const bad: { options: number[]; pointer: number; what: string }[] = [
    { options: [7, 1, 0, 0], pointer: 21, what: 'Record Route with length 1' },
    { options: [7, 15, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0], pointer: 21, what: 'Record Route running past the header' },
    { options: [7, 7, 3, 0, 0, 0, 0, 0], pointer: 22, what: 'Record Route pointer 3' },
    { options: [1, 1, 68, 8, 4, 0, 0, 0, 0, 0, 0, 0], pointer: 24, what: 'Timestamp pointer 4 (after two NOPs)' },
    { options: ts(4, 2, 0, 2), pointer: 23, what: 'Timestamp flag 2' },
    { options: ts(4, 1, 1, 0, 15), pointer: 23, what: 'Timestamp overflow past 15' },
    { options: [1, 1, 1, 130], pointer: 23, what: 'an option without its length byte' },
  ];
  const good = Array.from({ length: 10 }, (_, i) => udpWith(i % 2 ? rr(2) : undefined, i));
  const pkts: Buffer[] = [];
  bad.forEach((b, i) => {
    pkts.push(good[i]);
    pkts.push(udpWith(b.options, 50 + i));
  });
  pkts.push(...good.slice(bad.length));
  const badPkts = bad.map((_, i) => pkts[2 * i + 1]);

  const s = await runGraph(() => {
    const gw = FromPcap({ file: input('bad', pkts) })
      .to(CheckIPHeader())
      .to(IPGWOptions({ address: ME }, 'gw'));
    gw.to(sink('good'));
    gw.out(1).to(sink('raw'));
  });
  t.equal(s.elements.gw.bad_options, bad.length, 'each bad packet counted in bad_options');
  t.equal(s.elements.gw.packets, good.length, 'the good ones in packets');
  sameBuffers(t, read('raw'), badPkts, 'bad packets leave unchanged on output 1');
  t.equal(read('good').length, good.length, 'good ones on output 0');

  // Pulled, as Click's (processing a/ah): output 0 pulled through an Unqueue, bad packets
  // still pushed to output 1 as they are met.
  const sp = await runGraph(() => {
    const gw = FromPcap({ file: input('pulled', pkts) })
      .to(CheckIPHeader())
      .to(Queue({ capacity: 1024 }))
      .to(IPGWOptions({ address: ME }, 'gw'));
    gw.to(Unqueue({})).to(sink('pulled-good'));
    gw.out(1).to(sink('pulled-raw'));
  });
  t.equal(sp.elements.gw.bad_options, bad.length, 'pulled: each bad packet counted in bad_options');
  sameBuffers(t, read('pulled-raw'), badPkts, 'pulled: bad packets leave unchanged on output 1');
  sameBuffers(t, read('pulled-good'), read('good'), 'pulled: the good ones on output 0, as pushed');

  // Through ICMPError(parameterproblem): the pointer comes from the annotation.
  const s2 = await runGraph(() => {
    const gw = FromPcap({ file: input('bad2', pkts) })
      .to(CheckIPHeader())
      .to(IPGWOptions({ address: ME }, 'gw'));
    gw.to(Discard());
    gw.out(1)
      .to(ICMPError({ src: ME, type: 'parameterproblem', pointer: 99, rateLimit: 0 }, 'err'))
      .to(sink('pp'));
  });
  const errs = read('pp');
  t.equal(s2.elements.err.errors, bad.length, 'one parameter problem per bad packet');
  errs.forEach((e, i) => {
    const h = parseIpv4(e);
    const m = e.subarray(h.headerLength);
    t.equal(m[0], 12, `${bad[i].what}: ICMP type 12`);
    t.equal(m[4], bad[i].pointer, `${bad[i].what}: pointer ${bad[i].pointer} (not the configured 99)`);
    t.ok(verifyIpv4Checksum(e) && verifyL4Checksum(e), `${bad[i].what}: checksums right`);
    t.same(m.subarray(8), badPkts[i], `${bad[i].what}: the whole datagram quoted`);
  });

  // Without output 1 they are dropped (and counted).
  const s3 = await runGraph(() => {
    FromPcap({ file: input('bad3', pkts) }).to(CheckIPHeader()).to(IPGWOptions({ address: ME }, 'gw')).to(sink('only'));
  });
  t.same([s3.elements.gw.drops_bad_options, s3.elements.gw.bad_options], [bad.length, 0], 'without output 1: bad packets counted in drops_bad_options');
  t.equal(read('only').length, good.length, '... and dropped');
});

t.test('FixIPSrc rewrites the source of ICMPError messages only, checksum kept right', async (t) => {
  const data = Array.from({ length: 20 }, (_, i) => udpWith(undefined, i));
  const expired = Array.from({ length: 5 }, (_, i) =>
    ipv4({ src: '198.18.1.1', dst: '198.18.2.1', id: 200 + i, ttl: 1, proto: PROTO_ICMP, payload: icmp4({ type: 8, rest: i, payload: 'ping' }) }),
  );
  const fixer = 'fix';
  const s = await runGraph(() => {
    // Errors made with some other router address; FixIPSrc gives them the outgoing interface's.
    FromPcap({ file: input('err', expired) })
      .to(CheckIPHeader())
      .to(ICMPError({ src: '198.18.3.254', type: 'timeexceeded', rateLimit: 0 }))
      .to(FixIPSrc({ address: ME }, fixer))
      .to(sink('fixed'));
    FromPcap({ file: input('data', data) }).to(CheckIPHeader()).to(FixIPSrc({ address: ME }, 'fix2')).to(sink('plain'));
  });
  const errs = read('fixed');
  t.equal(errs.length, expired.length, 'every error passed');
  t.equal(s.elements[fixer].fixed, expired.length, 'counted in fixed');
  t.ok(
    errs.every((e) => parseIpv4(e).src === ME),
    `every error's source is the interface's address (${errs.map((e) => parseIpv4(e).src).join(', ')})`,
  );
  t.ok(errs.every((e) => verifyIpv4Checksum(e) && verifyL4Checksum(e)), 'header and ICMP checksums right');
  sameBuffers(t, read('plain'), data, 'packets without the annotation untouched');
  t.equal(s.elements.fix2.fixed, 0, '... and not counted');

  // A fixed packet through a second FixIPSrc stays as it is: the annotation was cleared.
  const s2 = await runGraph(() => {
    FromPcap({ file: input('err2', expired) })
      .to(CheckIPHeader())
      .to(ICMPError({ src: '198.18.3.254', type: 'timeexceeded', rateLimit: 0 }))
      .to(FixIPSrc({ address: ME }, 'a'))
      .to(FixIPSrc({ address: OTHER }, 'b'))
      .to(sink('twice'));
  });
  t.equal(s2.elements.b.fixed, 0, 'the annotation is cleared once fixed');
  t.ok(read('twice').every((e) => parseIpv4(e).src === ME), 'the first FixIPSrc decided the source');
});

t.test('config errors name the element and field', async (t) => {
  t.throws(
    () => compile(graph('bad', () => void FromPcap({ file: '/dev/null' }).to(IPGWOptions({ address: '1.2.3' } as never, 'gw')).to(Discard()))),
    /gw.*address/,
    'a bad address is refused at compile time',
  );
  t.throws(() => compile(graph('bad2', () => void FromPcap({ file: '/dev/null' }).to(FixIPSrc({} as never, 'fx')).to(Discard()))), /fx.*address/, 'FixIPSrc needs an address');
});
