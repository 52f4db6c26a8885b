// The IPv6 elements with crafted packets: FromPcap -> element(s) -> ToPcap, bytes checked
// against references built with test/lib/packets.ts, ICMPv6 checksums verified (and read
// back by tcpdump when it is installed). CheckIP6Header on good packets and on each kind of
// malformed one; DecIP6HLIM's decrement and expiry; ICMP6PingResponder's exact reply;
// ICMP6Error (time exceeded after DecIP6HLIM, packet too big with the 1280-byte cap, the
// suppression cases, the rate limit); and CheckIP6Header -> LookupIP6Route -> DecIP6HLIM
// routing by prefix. Only fd00::/8 (unique local) addresses are used.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import {
  FromPcap,
  ToPcap,
  CheckIP6Header,
  DecIP6HLIM,
  ICMP6PingResponder,
  ICMP6Error,
  LookupIP6Route,
  Strip,
  graph,
  compile,
} from 'pktgraph';
import { runGraph } from './lib/run.js';
import { rng } from './lib/rng.js';
import { pcapFiles, sameBuffers } from './lib/pcapfiles.js';
import { LINKTYPE_RAW, LINKTYPE_ETHERNET } from './lib/pcap.js';
import { ether, ipv6, ipv4, udp, icmp6, verifyL4Checksum, parseIpv6, ETH_IPV6, PROTO_ICMPV6, PROTO_UDP } from './lib/packets.js';

// ---------- helpers ----------

const { input, sink, read, outFile } = pcapFiles('ip6el', { linktype: LINKTYPE_RAW });

const haveTcpdump = spawnSync('tcpdump', ['--version'], { stdio: 'ignore' }).status === 0;

/** tcpdump -vv reads the file and finds every ICMPv6 checksum right (at least `n` checked). */
function tcpdumpAgrees(t: Test, tag: string, n: number) {
  if (!haveTcpdump) {
    t.pass(`tcpdump check of ${tag}`, { skip: 'tcpdump is not installed' });
    return;
  }
  const r = spawnSync('tcpdump', ['-r', outFile(tag), '-vv', '-nn'], { encoding: 'utf8' });
  t.equal(r.status, 0, `tcpdump reads ${tag}${r.status ? `: ${r.stderr}` : ''}`);
  t.notMatch(r.stdout, /bad[^\n]*cksum|wrong[^\n]*cksum/i, `tcpdump finds no bad checksum in ${tag}`);
  const ok = (r.stdout.match(/icmp6 sum ok/g) ?? []).length;
  t.ok(ok >= n, `tcpdump checked ${ok} ICMPv6 checksums in ${tag} (at least ${n}) and found them right`);
}

// Addresses: hosts in fd00:1::/48 and fd00:2::/48, the router fd00::1.
const A = 'fd00:1::10';
const B = 'fd00:2::20';
const R = 'fd00::1';

/** IPv6 + ICMPv6 with a correct checksum. */
function icmpPacket(o: { src: string; dst: string; type: number; code?: number; rest?: number; payload?: Buffer | string; hopLimit?: number }): Buffer {
  const { src, dst } = o;
  return ipv6({ src, dst, nextHeader: PROTO_ICMPV6, hopLimit: o.hopLimit, payload: icmp6({ type: o.type, code: o.code, rest: o.rest, payload: o.payload, src, dst }) });
}

/** IPv6 + UDP with a correct checksum. */
function udpPacket(src: string, dst: string, payload: Buffer | string, hopLimit = 64): Buffer {
  return ipv6({ src, dst, hopLimit, nextHeader: PROTO_UDP, payload: udp({ src, dst, payload }) });
}

/** The ICMPv6 error the router sends about `orig` (quoting `quote` bytes of it, default all). */
function errorFor(orig: Buffer, type: number, code: number, rest: number, quote = orig.length): Buffer {
  const dst = parseIpv6(orig).src;
  return icmpPacket({ src: R, dst, type, code, rest, hopLimit: 64, payload: orig.subarray(0, quote) });
}

// ---------- CheckIP6Header ----------

t.test('CheckIP6Header passes good packets and drops each kind of bad one under its counter', async (t) => {
  const good = [
    udpPacket(A, B, 'hello'),
    ipv6({ src: A, dst: B, hopLimit: 1, payload: Buffer.alloc(100, 7) }),
    ipv6({ src: '::', dst: 'fd00:2::1', payload: 'dad' }), // the unspecified source is accepted
    ipv6({ src: A, dst: B, payload: '' }), // a bare 40-byte header
    icmpPacket({ src: A, dst: 'ff02::1', type: 128 }), // a multicast destination is fine
  ];
  const padded = udpPacket(A, B, ''); // 48 bytes, then 12 of padding
  const base = udpPacket(A, B, 'x'.repeat(30));
  const withVersion = (b: Buffer, v: number) => {
    const c = Buffer.from(b);
    c[0] = (v << 4) | (c[0] & 15);
    return c;
  };
  const bad: Record<string, Buffer[]> = {
    drops_short: [base.subarray(0, 39), Buffer.alloc(0), Buffer.alloc(20, 0x60)],
    drops_version: [withVersion(base, 4), withVersion(base, 0), ipv4({ payload: 'x'.repeat(40) })],
    drops_payload_length: [
      ipv6({ src: A, dst: B, payload: 'abc', payloadLength: 4 }), // one more than there is
      ipv6({ src: A, dst: B, payload: 'abc', payloadLength: 65535 }),
    ],
    drops_bad_source: [ipv6({ src: 'ff02::1', dst: B, payload: 'a' }), ipv6({ src: 'ff0e::5', dst: B, payload: 'b' })],
  };
  const all = [...good, Buffer.concat([padded, Buffer.alloc(12)]), ...Object.values(bad).flat()];
  const inFile = input('check', all);
  // The same packets behind an Ethernet header, checked at offset 14.
  const inFile14 = input('check14', all.map((p) => ether({ type: ETH_IPV6, payload: p })), LINKTYPE_ETHERNET);
  const s = await runGraph(() => {
    FromPcap({ file: inFile }).to(CheckIP6Header({}, 'chk')).to(sink('check'));
    FromPcap({ file: inFile14 }).to(CheckIP6Header({ offset: 14 }, 'chk14')).to(sink('check14', { linktype: LINKTYPE_ETHERNET }));
    // The network-header annotation it sets is what DecIP6HLIM works on (an Ethernet file has none).
    FromPcap({ file: inFile14 }).to(CheckIP6Header({ offset: 14 })).to(DecIP6HLIM({}, 'hlim14')).to(sink('hlim14', { linktype: LINKTYPE_ETHERNET }));
  });
  const want = [...good, padded];
  sameBuffers(t, read('check'), want, 'good packets pass unchanged, padding trimmed');
  sameBuffers(t, read('check14'), want.map((p) => ether({ type: ETH_IPV6, payload: p })), 'at offset 14 too');
  for (const name of ['chk', 'chk14']) {
    const c = s.elements[name];
    t.equal(c.packets, want.length, `${name}: packets counts the good ones`);
    for (const [reason, pkts] of Object.entries(bad)) t.equal(c[reason], pkts.length, `${name}: ${reason}`);
  }
  const h = read('hlim14');
  t.equal(s.elements.hlim14.drops_no_header, 0, 'DecIP6HLIM finds the header CheckIP6Header marked');
  t.equal(h.length, want.length - 1, 'all but the hop-limit-1 packet decremented');
  t.same(h.map((p) => p[14 + 7]), want.filter((p) => p[7] > 1).map((p) => p[7] - 1), 'hop limits one less');
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
});

// ---------- DecIP6HLIM ----------

t.test('DecIP6HLIM decrements the hop limit; expired packets to output 1 or dropped', async (t) => {
  const r = rng(8200);
  const live: Buffer[] = [];
  const mixed: Buffer[] = [];
  for (let i = 0; i < 600; i++) {
    const hl = i < 254 ? i + 2 : r.int(2, 255);
    const p = udpPacket(`fd00:1::${(i + 1).toString(16)}`, B, Buffer.alloc(r.int(0, 50), i & 255), hl);
    live.push(p);
    mixed.push(p);
    if (i % 37 === 0) mixed.push(udpPacket(A, B, `expired ${i}`, i % 2));
  }
  const expired = mixed.filter((p) => p[7] <= 1);
  const inFile = input('hlim', mixed);
  const s = await runGraph(() => {
    const two = FromPcap({ file: inFile, burst: 64 }).to(DecIP6HLIM({}, 'two'));
    two.out(0).to(sink('hlim-0'));
    two.out(1).to(sink('hlim-1'));
    FromPcap({ file: inFile }).to(DecIP6HLIM({}, 'one')).to(sink('hlim-only'));
    // An Ethernet file: FromPcap sets no network-header annotation, so there is no header.
    FromPcap({ file: input('hlim-eth', mixed.map((p) => ether({ type: ETH_IPV6, payload: p })), LINKTYPE_ETHERNET) })
      .to(DecIP6HLIM({}, 'nohdr'))
      .to(sink('hlim-nohdr', { linktype: LINKTYPE_ETHERNET }));
  });
  const dec = (p: Buffer) => {
    const c = Buffer.from(p);
    c[7]--;
    return c;
  };
  sameBuffers(t, read('hlim-0'), live.map(dec), 'live packets: hop limit one less, nothing else changed, in order');
  sameBuffers(t, read('hlim-1'), expired, 'hop limits 0 and 1 go to output 1 unchanged');
  t.same([s.elements.two.packets, s.elements.two.expired, s.elements.two.drops_no_header], [live.length, expired.length, 0]);
  sameBuffers(t, read('hlim-only'), live.map(dec), 'with one output, expired packets are dropped');
  t.same([s.elements.one.packets, s.elements.one.drops_expired, s.elements.one.expired], [live.length, expired.length, 0]);
  t.equal(read('hlim-nohdr').length, 0);
  t.equal(s.elements.nohdr.drops_no_header, mixed.length, 'no header annotation: dropped and counted');
  t.equal(s.pool.available, s.pool.capacity);
});

// ---------- ICMP6PingResponder ----------

t.test('ICMP6PingResponder answers echo requests with exact replies; the rest to output 1 or dropped', async (t) => {
  const requests = [
    icmpPacket({ src: A, dst: B, type: 128, rest: 0x12340007, payload: 'ping data', hopLimit: 50 }),
    icmpPacket({ src: 'fd00:1::abcd', dst: R, type: 128, rest: 0xffff0000, payload: Buffer.alloc(57, 0xa5) }), // odd length
    icmpPacket({ src: A, dst: B, type: 128, rest: 1, payload: '' }), // the bare 8-byte header
    icmpPacket({ src: A, dst: B, type: 128, code: 3, rest: 2, payload: 'code not 0' }),
  ];
  const paddedReq = icmpPacket({ src: B, dst: A, type: 128, rest: 0x00420001, payload: 'padded' });
  const replyTo = (req: Buffer) => {
    const h = parseIpv6(req);
    return icmpPacket({ src: h.dst, dst: h.src, type: 129, code: 0, rest: req.readUInt32BE(44), payload: req.subarray(48, 40 + h.payloadLength), hopLimit: 64 });
  };
  const others = [
    udpPacket(A, B, 'not icmp'),
    icmpPacket({ src: A, dst: B, type: 129, payload: 'a reply' }),
    icmpPacket({ src: A, dst: 'ff02::1:ff00:20', type: 135, payload: Buffer.alloc(20) }), // neighbour solicitation
    ipv6({ src: A, dst: B, nextHeader: 0, payload: Buffer.concat([Buffer.from([58, 0, 1, 4, 0, 0, 0, 0]), icmp6({ type: 128, src: A, dst: B })]) }), // extension header first
  ];
  const withChecksum = (p: Buffer, ck: number) => {
    const c = Buffer.from(p);
    c.writeUInt16BE(ck, 42);
    return c;
  };
  const bad: Record<string, Buffer[]> = {
    drops_malformed: [
      ipv6({ src: A, dst: B, nextHeader: PROTO_ICMPV6, payload: Buffer.from([128, 0, 0, 0]) }), // shorter than an echo header
      ipv6({ src: A, dst: B, nextHeader: PROTO_ICMPV6, payload: '' }),
      ipv6({ src: A, dst: B, nextHeader: PROTO_ICMPV6, payload: icmp6({ src: A, dst: B }), payloadLength: 20 }), // past the end
      ipv4({ payload: 'x'.repeat(40) }), // not version 6
    ],
    drops_checksum: [withChecksum(requests[0], 0x1234), withChecksum(requests[1], requests[1].readUInt16BE(42) ^ 0x0100)],
    drops_bad_address: [
      icmpPacket({ src: A, dst: 'ff02::1', type: 128 }), // to a multicast group
      icmpPacket({ src: '::', dst: B, type: 128 }), // from no one
      icmpPacket({ src: 'ff05::2', dst: B, type: 128 }), // from a group
    ],
  };
  const all = [...requests, Buffer.concat([paddedReq, Buffer.alloc(9)]), ...others, ...Object.values(bad).flat()];
  const inFile = input('ping', all);
  const s = await runGraph(() => {
    const ping = FromPcap({ file: inFile }).to(ICMP6PingResponder({}, 'ping'));
    ping.out(0).to(sink('ping-0'));
    ping.out(1).to(sink('ping-1'));
    FromPcap({ file: inFile }).to(ICMP6PingResponder({}, 'ping1')).to(sink('ping-only'));
    FromPcap({ file: input('ping-eth', all.map((p) => ether({ type: ETH_IPV6, payload: p })), LINKTYPE_ETHERNET) }).to(ICMP6PingResponder({}, 'nohdr')).to(sink('ping-nohdr'));
  });
  const replies = [...requests, paddedReq].map(replyTo);
  sameBuffers(t, read('ping-0'), replies, 'echo replies: addresses swapped, hop limit 64, type 129, checksum recomputed, padding trimmed');
  t.equal(read('ping-0').findIndex((p) => !verifyL4Checksum(p)), -1, 'every reply has a right ICMPv6 checksum');
  t.equal(read('ping-0')[0].toString('hex'), replyTo(requests[0]).toString('hex'), 'the first reply byte for byte');
  sameBuffers(t, read('ping-1'), others, 'everything else on output 1, unchanged');
  const c = s.elements.ping;
  t.equal(c.replies, replies.length);
  t.equal(c.not_echo, others.length);
  for (const [reason, pkts] of Object.entries(bad)) t.equal(c[reason], pkts.length, `${reason}`);
  sameBuffers(t, read('ping-only'), replies, 'with one output the others are dropped');
  t.same([s.elements.ping1.drops_not_echo, s.elements.ping1.not_echo], [others.length, 0]);
  t.equal(s.elements.nohdr.drops_no_header, all.length, 'no header annotation: dropped and counted');
  tcpdumpAgrees(t, 'ping-0', replies.length);
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('ICMP6PingResponder sets the destination annotation: LookupIP6Route routes replies to the requester', async (t) => {
  const routes = ['fd00:10::/32 0', 'fd00:20::/32 1', `${R}/128 2`];
  const reqs = Array.from({ length: 40 }, (_, i) =>
    icmpPacket({ src: `fd00:${i % 2 ? 20 : 10}::${(i + 1).toString(16)}`, dst: R, type: 128, rest: i, payload: `seq ${i}` }),
  );
  const inFile = input('pingrt', reqs);
  const s = await runGraph(() => {
    // CheckIP6Header sets the annotation to the router's address (route 2); the reply must reset it.
    const rt = FromPcap({ file: inFile }).to(CheckIP6Header()).to(ICMP6PingResponder({}, 'ping')).to(LookupIP6Route({ routes }, 'rt'));
    for (let o = 0; o < 3; o++) rt.out(o).to(sink(`pingrt-${o}`));
  });
  t.same([0, 1, 2].map((o) => read(`pingrt-${o}`).length), [20, 20, 0], 'replies leave by the requesters\' routes, none by the router\'s');
  t.ok(read('pingrt-1').every((p) => parseIpv6(p).dst.startsWith('fd00:20:')), 'output 1 holds the replies to fd00:20::/32');
  t.equal(s.elements.ping.replies, reqs.length);
  t.equal(s.pool.available, s.pool.capacity);
});

// ---------- ICMP6Error ----------

t.test('ICMP6Error: time exceeded after DecIP6HLIM output 1, exact bytes and checksums', async (t) => {
  const pkts = [
    udpPacket(A, B, 'live', 9),
    udpPacket(A, B, 'expired one', 1),
    icmpPacket({ src: 'fd00:1::77', dst: B, type: 128, rest: 5, payload: 'an echo request is informational', hopLimit: 1 }),
    udpPacket('fd00:3::3', B, Buffer.alloc(33, 3), 0),
    udpPacket(A, B, 'live too', 200),
  ];
  const expired = pkts.filter((p) => p[7] <= 1);
  const inFile = input('te', pkts);
  const s = await runGraph(() => {
    const hlim = FromPcap({ file: inFile }).to(CheckIP6Header()).to(DecIP6HLIM({}, 'hlim'));
    hlim.out(0).to(sink('te-fwd'));
    hlim.out(1).to(ICMP6Error({ src: R, type: 3, code: 0, rateLimit: 0 }, 'te')).to(sink('te-err'));
  });
  const errs = read('te-err');
  sameBuffers(t, errs, expired.map((p) => errorFor(p, 3, 0, 0)), 'one time-exceeded error per expired packet, quoting it whole');
  t.equal(errs.findIndex((p) => !verifyL4Checksum(p)), -1, 'ICMPv6 checksums right');
  t.same(errs.map((p) => parseIpv6(p)), expired.map((p) => ({ version: 6, trafficClass: 0, flowLabel: 0, payloadLength: p.length + 8, nextHeader: 58, hopLimit: 64, src: 'fd00:0:0:0:0:0:0:1', dst: parseIpv6(p).src })), 'IPv6 headers');
  t.equal(read('te-fwd').length, 2);
  t.same([s.elements.te.errors, s.elements.hlim.expired], [expired.length, expired.length]);
  tcpdumpAgrees(t, 'te-err', expired.length);
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('ICMP6Error: packet too big with the MTU, capped at 1280 bytes; suppression cases; rate limit', async (t) => {
  const big = udpPacket(A, B, Buffer.alloc(1452, 0x5a)); // 1500 bytes
  const exactly = udpPacket(A, B, Buffer.alloc(1232 - 48, 0x11)); // quoted whole: the error is 1280 bytes
  const oneMore = udpPacket(A, B, Buffer.alloc(1232 - 48 + 1, 0x22));
  const small = udpPacket('fd00:1::99', B, 'small');
  const paddedSmall = Buffer.concat([small, Buffer.alloc(7)]); // padding is not quoted
  const toGroupPtb = udpPacket(A, 'ff0e::1', 'to a group'); // packet too big is sent for multicast
  const ptbIn = [big, exactly, oneMore, paddedSmall, toGroupPtb];
  const ptbWant = [errorFor(big, 2, 0, 1400, 1232), errorFor(exactly, 2, 0, 1400), errorFor(oneMore, 2, 0, 1400, 1232), errorFor(small, 2, 0, 1400), errorFor(toGroupPtb, 2, 0, 1400)];

  const icmpErr = icmpPacket({ src: A, dst: B, type: 1, code: 4, rest: 0, payload: udpPacket(B, A, 'quoted') });
  const icmpErrBehindHbh = ipv6({
    src: A,
    dst: B,
    nextHeader: 0,
    payload: Buffer.concat([Buffer.from([58, 0, 1, 4, 0, 0, 0, 0]), icmp6({ type: 3, code: 0, rest: 0, payload: 'quoted', src: A, dst: B })]),
  });
  const suppressed: Record<string, Buffer[]> = {
    suppressed_icmp_error: [icmpErr, icmpErrBehindHbh, icmpPacket({ src: A, dst: B, type: 127, payload: 'type 127 is still an error' })],
    suppressed_bad_source: [udpPacket('ff02::1', B, 'from a group'), udpPacket('::', B, 'from no one')],
    suppressed_bad_destination: [udpPacket(A, 'ff02::1', 'to a group'), udpPacket(A, 'ff05::1:3', 'to another group')],
  };
  const answered = [icmpPacket({ src: A, dst: B, type: 128, payload: 'echo request: answered' }), udpPacket(A, B, 'plain')];
  const supIn = [...Object.values(suppressed).flat(), ...answered];
  const rateIn = Array.from({ length: 60 }, (_, i) => udpPacket(A, B, `burst ${i}`));
  const s = await runGraph(() => {
    FromPcap({ file: input('ptb', ptbIn) }).to(ICMP6Error({ src: R, type: 2, mtu: 1400, rateLimit: 0 }, 'ptb')).to(sink('ptb'));
    FromPcap({ file: input('sup', supIn) }).to(ICMP6Error({ src: R, type: 1, code: 3, rateLimit: 0 }, 'sup')).to(sink('sup'));
    FromPcap({ file: input('sup-eth', supIn.map((p) => ether({ type: ETH_IPV6, payload: p })), LINKTYPE_ETHERNET) })
      .to(ICMP6Error({ src: R, type: 1 }, 'nohdr'))
      .to(sink('sup-nohdr'));
    FromPcap({ file: input('pp', [small]) }).to(ICMP6Error({ src: R, type: 4, code: 0, pointer: 6, rateLimit: 0 }, 'pp')).to(sink('pp'));
    FromPcap({ file: input('rate', rateIn) }).to(ICMP6Error({ src: R, type: 3, rateLimit: 5 }, 'rate')).to(sink('rate'));
    FromPcap({ file: input('rate1', rateIn) }).to(ICMP6Error({ src: R, type: 3, rateLimit: 1 }, 'rate1')).to(sink('rate1'));
  });
  const ptb = read('ptb');
  sameBuffers(t, ptb, ptbWant, 'packet too big: MTU 1400 in the header, the offending packet quoted up to 1280 bytes in all');
  t.same(ptb.map((p) => p.length), [1280, 1280, 1280, 48 + small.length, 48 + toGroupPtb.length], 'lengths: capped at 1280');
  t.equal(ptb[0].readUInt32BE(44), 1400, 'the MTU field');
  t.equal(ptb.findIndex((p) => !verifyL4Checksum(p)), -1, 'ICMPv6 checksums right');
  tcpdumpAgrees(t, 'ptb', ptbWant.length);

  sameBuffers(t, read('sup'), answered.map((p) => errorFor(p, 1, 3, 0)), 'port unreachable only for the packets that may have an error');
  for (const [reason, pkts] of Object.entries(suppressed)) t.equal(s.elements.sup[reason], pkts.length, reason);
  t.equal(s.elements.sup.errors, answered.length);
  t.equal(s.elements.nohdr.drops_malformed, supIn.length, 'no network-header annotation: dropped and counted');
  t.equal(read('sup-nohdr').length, 0);

  sameBuffers(t, read('pp'), [errorFor(small, 4, 0, 6)], 'parameter problem carries the pointer');

  const rate = s.elements.rate;
  t.ok(rate.errors >= 5 && rate.errors <= 6, `rateLimit 5: the full bucket's 5 errors (got ${rate.errors})`);
  t.equal(rate.errors + rate.rate_limited, rateIn.length, 'the rest rate-limited');
  t.equal(read('rate').length, rate.errors);
  const rate1 = s.elements.rate1;
  t.ok(rate1.errors >= 1 && rate1.errors <= 2, `rateLimit 1: one error (got ${rate1.errors})`);
  t.equal(rate1.errors + rate1.rate_limited, rateIn.length);
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool (originals freed, errors written)');
});

t.test('ICMP6Error: no error about a packet that came as a link-level multicast, except packet too big (RFC 4443 2.4 e)', async (t) => {
  // The packet-type annotation FromPcap sets from the Ethernet destination survives Strip.
  const pkt = udpPacket(A, B, 'to a link-level group');
  const frames = ['33:33:00:00:00:01', 'ff:ff:ff:ff:ff:ff', '02:00:00:00:00:02'].map((dst) => ether({ dst, type: ETH_IPV6, payload: pkt }));
  const s = await runGraph(() => {
    FromPcap({ file: input('linkcast', frames, LINKTYPE_ETHERNET) }).to(Strip({ length: 14 })).to(CheckIP6Header()).to(ICMP6Error({ src: R, type: 1, code: 3, rateLimit: 0 }, 'unreach')).to(sink('linkcast'));
    FromPcap({ file: input('linkcast-ptb', frames, LINKTYPE_ETHERNET) }).to(Strip({ length: 14 })).to(CheckIP6Header()).to(ICMP6Error({ src: R, type: 2, mtu: 1280, rateLimit: 0 }, 'ptb')).to(sink('linkcast-ptb'));
  });
  sameBuffers(t, read('linkcast'), [errorFor(pkt, 1, 3, 0)], 'port unreachable only about the unicast frame');
  t.equal(s.elements.unreach.suppressed_bad_destination, 2, 'the multicast and broadcast frames counted');
  t.equal(read('linkcast-ptb').length, 3, 'packet too big is sent whatever the link-level destination');
});

t.test('ICMP6Error refuses a source address that is not unicast', async (t) => {
  for (const src of ['ff02::1', '::', 'fd00::zz']) {
    t.throws(
      () => compile(graph('bad', () => FromPcap({ file: '/nonexistent.pcap' }).to(ICMP6Error({ src, type: 3 })).to(ToPcap({ file: '/dev/null' })))),
      /src/,
      `src '${src}' refused`,
    );
  }
});

// ---------- the chain ----------

t.test('CheckIP6Header -> LookupIP6Route -> DecIP6HLIM routes by prefix', async (t) => {
  const r = rng(2460);
  const routes = ['fd00:10::/32 0', 'fd00:20::/32 1', 'fd00:20:8000::/33 2'];
  const hex = () => r.int(0, 0xffff).toString(16);
  interface Sent {
    pkt: Buffer;
    fate: 'forward' | 'expired' | 'bad' | 'noroute';
    out: number;
  }
  const sent: Sent[] = [];
  for (let i = 0; i < 1500; i++) {
    const k = r.int(0, 99);
    const out = r.int(0, 2);
    const third = out === 0 ? hex() : out === 1 ? r.int(0, 0x7fff).toString(16) : r.int(0x8000, 0xffff).toString(16);
    const dst = k < 3 ? `fd00:99::${hex()}` : `fd00:${out === 0 ? 10 : 20}:${third}::${hex()}:${hex()}`;
    const src = k >= 3 && k < 6 ? 'ff02::2' : `fd00:1::${hex()}`;
    const hl = k >= 6 && k < 9 ? 1 : r.int(2, 255);
    let pkt = udpPacket(src, dst, Buffer.alloc(r.int(0, 60), i & 255), hl);
    if (k % 4 === 0) pkt = Buffer.concat([pkt, Buffer.alloc(r.int(1, 20))]); // link-layer padding
    sent.push({ pkt, fate: k < 3 ? 'noroute' : k < 6 ? 'bad' : k < 9 ? 'expired' : 'forward', out });
  }
  const inFile = input('chain', sent.map((x) => x.pkt));
  const s = await runGraph(() => {
    const rt = FromPcap({ file: inFile, burst: 64 }).to(CheckIP6Header({}, 'chk')).to(LookupIP6Route({ routes }, 'rt'));
    for (let o = 0; o < 3; o++) {
      const hlim = rt.out(o).to(DecIP6HLIM({}, `hlim${o}`));
      hlim.out(0).to(sink(`chain-${o}`));
      hlim.out(1).to(ICMP6Error({ src: R, type: 3, rateLimit: 0 }, `te${o}`)).to(sink(`chain-te-${o}`));
    }
  });
  const trimmed = (p: Buffer) => p.subarray(0, 40 + p.readUInt16BE(4));
  for (let o = 0; o < 3; o++) {
    const want = sent
      .filter((x) => x.fate === 'forward' && x.out === o)
      .map((x) => {
        const c = Buffer.from(trimmed(x.pkt));
        c[7]--;
        return c;
      });
    sameBuffers(t, read(`chain-${o}`), want, `output ${o}: its prefix's packets, hop limit - 1, padding gone`);
    t.equal(read(`chain-${o}`).findIndex((p) => !verifyL4Checksum(p)), -1, `output ${o}: UDP checksums still right`);
    const exp = sent.filter((x) => x.fate === 'expired' && x.out === o).map((x) => errorFor(trimmed(x.pkt), 3, 0, 0));
    sameBuffers(t, read(`chain-te-${o}`), exp, `output ${o}: a time-exceeded error per expired packet`);
  }
  const count = (f: Sent['fate']) => sent.filter((x) => x.fate === f).length;
  t.equal(s.elements.chk.drops_bad_source, count('bad'), 'multicast sources dropped by CheckIP6Header');
  t.equal(s.elements.rt.drops_no_route, count('noroute'), 'no route: dropped by LookupIP6Route');
  t.equal([0, 1, 2].reduce((a, o) => a + s.elements[`hlim${o}`].expired, 0), count('expired'));
  t.equal(s.pool.available, s.pool.capacity);
});
