// ICMPPingResponder and ICMPError with crafted packets: FromPcap -> CheckIPHeader -> element
// -> ToPcap, the bytes checked against references built with test/lib/packets.ts (checksums
// included). Echo replies exactly; time exceeded after DecIPTTL's output 1; destination
// unreachable (net, port), fragmentation needed with the MTU, parameter problem with the
// pointer, redirect with the gateway from the annotation; every suppression counted with
// nothing emitted; the token-bucket rate limit; config checks; and tcpdump's verdict on the
// checksums and its reading of the messages.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import {
  FromPcap,
  ToPcap,
  CheckIPHeader,
  MarkIPHeader,
  DecIPTTL,
  IPLookup,
  SetIPAddress,
  ICMPPingResponder,
  ICMPError,
  Strip,
  graph,
  compile,
} from 'pktgraph';
import { runGraph } from './lib/run.js';
import { pcapFiles, sameBuffers } from './lib/pcapfiles.js';
import { LINKTYPE_ETHERNET } from './lib/pcap.js';
import { ether, ipv4, udp, tcp, icmp4, parseIpv4, verifyIpv4Checksum, verifyL4Checksum, PROTO_ICMP, PROTO_TCP } from './lib/packets.js';

// ---------- helpers ----------

const LINKTYPE_RAW = 101;
const { input, sink, read, outFile } = pcapFiles('icmp', { linktype: LINKTYPE_RAW });

const allChecksumsRight = (pkts: Buffer[]) => pkts.every((p) => verifyIpv4Checksum(p) && verifyL4Checksum(p));

const ROUTER = '192.0.2.1';

/** The ICMP error ICMPError should build about `orig` (RFC 1812: at most 576 bytes in all). */
function icmpErrorRef(
  orig: Buffer,
  o: { type: number; code: number; rest?: number; id: number; src?: string; options?: Buffer; tos?: number; ttl?: number },
): Buffer {
  const total = orig.readUInt16BE(2);
  const hlen = 20 + Math.ceil((o.options?.length ?? 0) / 4) * 4;
  const quote = orig.subarray(0, Math.min(total, orig.length, 576 - hlen - 8));
  return ipv4({
    src: o.src ?? ROUTER,
    dst: parseIpv4(orig).src,
    tos: o.tos ?? 0xc0,
    id: o.id,
    ttl: o.ttl ?? 64,
    options: o.options,
    proto: PROTO_ICMP,
    payload: icmp4({ type: o.type, code: o.code, rest: o.rest ?? 0, payload: quote }),
  });
}

/** A UDP datagram with a correct checksum. */
function udpIp(src: string, dst: string, o: { ttl?: number; payload?: Buffer | string; id?: number; dport?: number } = {}): Buffer {
  return ipv4({ src, dst, ttl: o.ttl, id: o.id, payload: udp({ src, dst, dport: o.dport, payload: o.payload ?? 'payload!' }) });
}

function tcpdumpAvailable(): boolean {
  return spawnSync('tcpdump', ['--version'], { stdio: 'ignore' }).status === 0;
}
const tcpdumpSkip = tcpdumpAvailable() ? false : 'tcpdump is not installed (scripts/ensure-test-tools.sh installs it when run as root with apt-get)';
/** tcpdump -r FILE -vv -nn, one string. */
function tcpdump(file: string): string {
  const r = spawnSync('tcpdump', ['-r', file, '-vv', '-nn'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tcpdump failed: ${r.stderr}`);
  return r.stdout;
}
const BAD_CHECKSUM = /bad cksum|wrong icmp cksum|bad udp cksum|bad tcp cksum|incorrect/i;

// ---------- ICMPPingResponder ----------

type Echo = { src: string; dst: string; id: number; ident: number; seq: number; payload: Buffer; ttl: number; options?: Buffer; df?: boolean; code?: number };
const echoRequest = (e: Echo) =>
  ipv4({ src: e.src, dst: e.dst, id: e.id, ttl: e.ttl, df: e.df, options: e.options, proto: PROTO_ICMP, payload: icmp4({ type: 8, code: e.code, rest: (e.ident << 16) | e.seq, payload: e.payload }) });
const echoReply = (e: Echo) =>
  ipv4({ src: e.dst, dst: e.src, id: e.id, ttl: 64, df: e.df, options: e.options, proto: PROTO_ICMP, payload: icmp4({ type: 0, code: e.code, rest: (e.ident << 16) | e.seq, payload: e.payload }) });

t.test('ICMPPingResponder answers echo requests exactly; other packets to output 1 or dropped', async (t) => {
  const echoes: Echo[] = [];
  for (let i = 0; i < 300; i++) {
    echoes.push({
      src: `10.${i % 7}.${i % 251}.${1 + (i % 200)}`,
      dst: `198.51.100.${1 + (i % 250)}`,
      id: (i * 7919) & 0xffff,
      ident: (i * 31) & 0xffff,
      seq: i,
      ttl: 1 + ((i * 13) % 255),
      df: i % 2 === 0,
      payload: Buffer.from(Array.from({ length: (i * 5) % 90 }, (_, k) => (k * 17 + i) & 0xff)),
      options: i % 10 === 3 ? Buffer.from([1, 1, 1, 0]) : undefined,
    });
  }
  const notEcho = [
    udpIp('10.0.0.1', '10.0.0.2'),
    ipv4({ proto: PROTO_ICMP, payload: icmp4({ type: 0, payload: 'a reply' }) }), // echo reply
    ipv4({ proto: PROTO_ICMP, payload: icmp4({ type: 13, payload: Buffer.alloc(12) }) }), // timestamp
    ipv4({ proto: PROTO_ICMP, mf: true, payload: icmp4({ type: 8, payload: 'first fragment' }) }),
    ipv4({ proto: PROTO_ICMP, fragOffset: 3, payload: Buffer.from([8, 0, 0, 0, 0, 0, 0, 0, 1, 2]) }), // looks like an echo, is not
  ];
  const malformed = [
    ipv4({ proto: PROTO_ICMP, payload: Buffer.from([8, 0, 0xf7, 0xff]) }), // 4-byte ICMP message
    ipv4({ proto: PROTO_ICMP, payload: '' }),
  ];
  const mixed: Buffer[] = [];
  const kinds: string[] = [];
  echoes.forEach((e, i) => {
    mixed.push(echoRequest(e));
    kinds.push('echo');
    if (i % 50 === 0) {
      for (const p of notEcho) (mixed.push(p), kinds.push('other'));
      for (const p of malformed) (mixed.push(p), kinds.push('bad'));
    }
  });
  const nOther = kinds.filter((k) => k === 'other').length;
  const nBad = kinds.filter((k) => k === 'bad').length;
  const inFile = input('ping', mixed);
  const s = await runGraph(() => {
    const two = FromPcap({ file: inFile }).to(CheckIPHeader()).to(ICMPPingResponder({}, 'ping2'));
    two.out(0).to(sink('ping-0'));
    two.out(1).to(sink('ping-1'));
    FromPcap({ file: inFile }).to(CheckIPHeader()).to(ICMPPingResponder({}, 'ping1')).to(sink('ping-only'));
    // The destination annotation follows the reply: a stale one is overwritten.
    const look = FromPcap({ file: inFile })
      .to(CheckIPHeader())
      .to(SetIPAddress({ address: '203.0.113.9' }))
      .to(ICMPPingResponder({}, 'ping3'))
      .to(IPLookup({ routes: ['203.0.113.9/32 1', 'default 0'] }, 'look'));
    look.out(0).to(sink('look-0'));
    look.out(1).to(sink('look-1'));
  });
  const want = echoes.map(echoReply);
  sameBuffers(t, read('ping-0'), want, 'echo replies on output 0');
  sameBuffers(t, read('ping-only'), want, 'echo replies with one output');
  t.ok(allChecksumsRight(read('ping-0')), 'IP and ICMP checksums of every reply right');
  sameBuffers(t, read('ping-1'), mixed.filter((_, i) => kinds[i] === 'other'), 'other packets unchanged on output 1');
  t.same(s.elements.ping2, { replies: 300, drops_not_echo: 0, drops_malformed: nBad, not_echo: nOther }, 'two outputs: counters');
  t.same(s.elements.ping1, { replies: 300, drops_not_echo: nOther, drops_malformed: nBad, not_echo: 0 }, 'one output: counters');
  t.equal(read('look-0').length, 300, 'the destination annotation is the reply destination');
  t.equal(read('look-1').length, 0, 'no reply routed by the stale annotation');
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
});

t.test('ICMPPingResponder keeps a wrong ICMP checksum wrong', async (t) => {
  const good = echoRequest({ src: '10.0.0.1', dst: '10.0.0.2', id: 1, ident: 1, seq: 1, ttl: 9, payload: Buffer.from('abc') });
  const bad = Buffer.from(good);
  bad[20 + 2] ^= 0x10; // ICMP checksum off
  const inFile = input('ping-badck', [bad]);
  await runGraph(() => {
    FromPcap({ file: inFile }).to(CheckIPHeader()).to(ICMPPingResponder()).to(sink('ping-badck'));
  });
  const [out] = read('ping-badck');
  t.ok(verifyIpv4Checksum(out), 'the IP checksum is right');
  t.notOk(verifyL4Checksum(out), 'the ICMP checksum stays wrong');
});

// ---------- ICMPError ----------

t.test('ICMPError: time exceeded for packets DecIPTTL expires', async (t) => {
  const live = Array.from({ length: 50 }, (_, i) => udpIp(`10.1.0.${i + 1}`, '10.2.0.1', { ttl: 2 + i }));
  const expired = [
    udpIp('10.3.0.1', '10.2.0.1', { ttl: 1, id: 77 }),
    udpIp('10.3.0.2', '10.2.0.1', { ttl: 0, payload: Buffer.alloc(1400, 0xab) }), // quoted up to 548 bytes
    ipv4({ src: '10.3.0.3', dst: '10.2.0.1', ttl: 1, options: Buffer.from([1, 1, 1, 0, 7, 3, 4, 0]), payload: 'opts' }),
    ipv4({ src: '10.3.0.4', dst: '10.2.0.1', ttl: 1, proto: PROTO_TCP, payload: tcp({ src: '10.3.0.4', dst: '10.2.0.1' }) }),
    ipv4({ src: '10.3.0.5', dst: '10.2.0.1', ttl: 1, payload: 'abc' }), // fewer than 8 payload bytes: all quoted
    ipv4({ src: '10.3.0.6', dst: '10.2.0.1', ttl: 1, proto: PROTO_ICMP, payload: icmp4({ type: 8, payload: 'ping' }) }), // a query: answered
    ipv4({ src: '10.3.0.7', dst: '10.2.0.1', ttl: 1, mf: true, payload: 'first fragment' }), // offset 0: answered
  ];
  const mixed: Buffer[] = [];
  live.forEach((p, i) => {
    mixed.push(p);
    if (i < expired.length) mixed.push(expired[i]);
  });
  const inFile = input('ttl', mixed);
  const s = await runGraph(() => {
    const ttl = FromPcap({ file: inFile }).to(CheckIPHeader()).to(DecIPTTL({}, 'ttl'));
    ttl.out(0).to(sink('ttl-fwd'));
    ttl.out(1).to(ICMPError({ src: ROUTER, type: 'timeexceeded', code: 'transit' }, 'te')).to(sink('ttl-err'));
  });
  const errs = read('ttl-err');
  sameBuffers(t, errs, expired.map((p, i) => icmpErrorRef(p, { type: 11, code: 0, id: i })), 'time exceeded errors');
  t.ok(allChecksumsRight(errs), 'IP and ICMP checksums right');
  t.equal(errs[1].length, 576, 'a long datagram is quoted up to 576 bytes in all');
  t.equal(read('ttl-fwd').length, live.length, 'live packets forwarded');
  t.same(s.elements.te, {
    errors: expired.length,
    suppressed_icmp_error: 0,
    suppressed_bad_source: 0,
    suppressed_bad_destination: 0,
    suppressed_fragment: 0,
    suppressed_source_routed: 0,
    rate_limited: 0,
    drops_malformed: 0,
    drops_no_buffer: 0,
  });
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool (originals freed)');
});

const unreachableCases = [
  { tag: 'net', config: { type: 'unreachable', code: 'net' } as const, type: 3, code: 0, rest: 0 },
  { tag: 'port', config: { type: 3, code: 'port' } as const, type: 3, code: 3, rest: 0 },
  { tag: 'host', config: { type: 'unreachable', code: 1 } as const, type: 3, code: 1, rest: 0 },
  { tag: 'needfrag', config: { type: 'unreachable', code: 'needfrag', mtu: 1400 } as const, type: 3, code: 4, rest: 1400 },
  { tag: 'param', config: { type: 'parameterproblem', pointer: 8 } as const, type: 12, code: 0, rest: 8 << 24 },
  { tag: 'reass', config: { type: 11, code: 'reassembly' } as const, type: 11, code: 1, rest: 0 },
];

t.test('ICMPError: unreachable (net, port, host), needfrag with the MTU, parameter problem with the pointer', async (t) => {
  const pkts = [
    udpIp('10.0.0.1', '203.0.113.7', { dport: 5678 }),
    udpIp('172.16.5.4', '203.0.113.8', { payload: Buffer.alloc(1472, 1) }),
    ipv4({ src: '10.9.8.7', dst: '203.0.113.9', proto: PROTO_TCP, df: true, payload: tcp({ src: '10.9.8.7', dst: '203.0.113.9', payload: 'GET /' }) }),
  ];
  const inFile = input('unreach', pkts);
  const s = await runGraph(() => {
    for (const c of unreachableCases)
      FromPcap({ file: inFile }).to(CheckIPHeader()).to(ICMPError({ src: ROUTER, ...c.config }, c.tag)).to(sink(`u-${c.tag}`));
  });
  for (const c of unreachableCases) {
    const errs = read(`u-${c.tag}`);
    sameBuffers(t, errs, pkts.map((p, i) => icmpErrorRef(p, { type: c.type, code: c.code, rest: c.rest, id: i })), c.tag);
    t.ok(allChecksumsRight(errs), `${c.tag}: checksums right`);
    t.equal(s.elements[c.tag].errors, pkts.length, `${c.tag}: errors counted`);
  }
  const nf = read('u-needfrag')[0];
  t.equal(nf.readUInt16BE(20 + 6), 1400, 'needfrag: the next-hop MTU in bytes 6-7 of the ICMP header');
  t.equal(read('u-param')[0][20 + 4], 8, 'parameter problem: the pointer in byte 4');
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
});

t.test('ICMPError: redirect names the gateway from the destination annotation', async (t) => {
  const p = udpIp('10.0.0.1', '203.0.113.7');
  const inFile = input('redirect', [p]);
  await runGraph(() => {
    FromPcap({ file: inFile })
      .to(CheckIPHeader())
      .to(SetIPAddress({ address: '10.0.0.254' }))
      .to(ICMPError({ src: ROUTER, type: 'redirect', code: 'host' }))
      .to(sink('redirect'));
  });
  sameBuffers(t, read('redirect'), [icmpErrorRef(p, { type: 5, code: 1, rest: 0x0a0000fe, id: 0 })], 'redirect');
});

t.test("ICMPError: a source-routed datagram's error carries the route back, reversed (Click, RFC 1812 4.3.2.6); tos and ttl", async (t) => {
  const a = (...addrs: string[]) => Buffer.concat(addrs.map((x) => Buffer.from(x.split('.').map(Number))));
  const route = (type: number, ptr: number, ...addrs: string[]) => Buffer.concat([Buffer.from([type, 3 + 4 * addrs.length, ptr]), a(...addrs)]);
  const SSRR = 0x89;
  const LSRR = 0x83;
  const tcpFrom = (options: Buffer, payload: Buffer | string = '') =>
    ipv4({ src: '18.26.4.44', dst: '10.0.0.8', proto: PROTO_TCP, ttl: 0, options, payload: tcp({ src: '18.26.4.44', dst: '10.0.0.8', sport: 20, dport: 80, payload }) });
  // Click's test (ICMPError-sourceroute-01): ssrr{128.4.45.60,128.4.49.61,^1.2.3.4,5.6.7.8} gives
  // ssrr{^128.4.49.61,128.4.45.60}.
  const click = tcpFrom(route(SSRR, 12, '128.4.45.60', '128.4.49.61', '1.2.3.4', '5.6.7.8'));
  const none = tcpFrom(route(LSRR, 4, '198.18.0.9', '198.18.0.10')); // nothing recorded yet
  const done = tcpFrom(Buffer.concat([Buffer.from([1]), route(LSRR, 12, '198.18.1.1', '198.18.2.2')])); // after a NOP; the route complete
  const badPtr = tcpFrom(route(LSRR, 5, '198.18.1.1', '198.18.2.2')); // not a multiple of 4: ignored
  const rr = tcpFrom(Buffer.from([7, 7, 8, 198, 18, 3, 3])); // record route: not a source route
  const big = tcpFrom(route(SSRR, 8, '198.18.4.4', '198.18.5.5'), Buffer.alloc(1400, 7)); // the quote shrinks by the option
  const pkts = [click, none, done, badPtr, rr, big];
  const wanted = [
    route(SSRR, 4, '128.4.49.61', '128.4.45.60'),
    route(LSRR, 4),
    route(LSRR, 4, '198.18.2.2', '198.18.1.1'),
    undefined,
    undefined,
    route(SSRR, 4, '198.18.4.4'),
  ];
  // Parameter problems: a pointer inside the route option (byte 20 on) drops the route; one outside keeps it.
  const paramIn = [click];
  const inFile = input('srcroute', pkts);
  const inParam = input('srcroute-param', paramIn);
  const s = await runGraph(() => {
    FromPcap({ file: inFile }).to(CheckIPHeader()).to(ICMPError({ src: '19.19.19.19', type: 'timeexceeded' }, 'te')).to(sink('srcroute'));
    FromPcap({ file: inFile }).to(CheckIPHeader()).to(ICMPError({ src: '19.19.19.19', type: 'timeexceeded', tos: 0, ttl: 200 }, 'clicklike')).to(sink('srcroute-click'));
    FromPcap({ file: inParam }).to(CheckIPHeader()).to(ICMPError({ src: ROUTER, type: 'parameterproblem', pointer: 22 }, 'pp_in')).to(sink('pp-in'));
    FromPcap({ file: inParam }).to(CheckIPHeader()).to(ICMPError({ src: ROUTER, type: 'parameterproblem', pointer: 8 }, 'pp_out')).to(sink('pp-out'));
    FromPcap({ file: inFile }).to(CheckIPHeader()).to(SetIPAddress({ address: '10.0.0.254' })).to(ICMPError({ src: ROUTER, type: 'redirect', code: 'host' }, 'redir')).to(sink('srcroute-redirect'));
  });
  const te = read('srcroute');
  sameBuffers(t, te, pkts.map((p, i) => icmpErrorRef(p, { type: 11, code: 0, id: i, src: '19.19.19.19', options: wanted[i] })), 'time exceeded: the reversed routes, byte for byte');
  t.ok(allChecksumsRight(te), 'checksums right');
  t.equal(te[0].length - 32, 8 + 60, "Click's case: 68 bytes of ICMP (Click's payload_len) behind a 32-byte header");
  t.equal(te[5].length, 576, 'with a route option the error still stops at 576 bytes');
  sameBuffers(t, read('srcroute-click'), pkts.map((p, i) => icmpErrorRef(p, { type: 11, code: 0, id: i, src: '19.19.19.19', options: wanted[i], tos: 0, ttl: 200 })), 'tos 0, ttl 200: Click\'s header bytes');
  sameBuffers(t, read('pp-in'), [icmpErrorRef(click, { type: 12, code: 0, rest: 22 << 24, id: 0 })], 'a parameter problem inside the route: no route in the error');
  sameBuffers(t, read('pp-out'), [icmpErrorRef(click, { type: 12, code: 0, rest: 8 << 24, id: 0, options: wanted[0] })], 'a parameter problem elsewhere: the route comes back');
  const rd = s.elements.redir;
  sameBuffers(t, read('srcroute-redirect'), [badPtr, rr].map((p, i) => icmpErrorRef(p, { type: 5, code: 1, rest: 0x0a0000fe, id: i })), 'redirects only about datagrams without a (valid) source route');
  t.equal(rd.suppressed_source_routed, 4, 'no redirect about a source-routed datagram (RFC 1812 5.2.7.2), counted');
  if (!tcpdumpSkip) {
    const text = tcpdump(outFile('srcroute'));
    // The IPv4 and ICMP checksums; the quoted TCP ones are the test's (tcpdump takes a source
    // route's last address into the pseudo-header, the test built them with the destination).
    t.notMatch(text, /bad cksum|wrong icmp cksum/i, 'tcpdump -vv finds the error checksums right');
    t.match(text, /length 100, options \(SSRR 128\.4\.49\.61,? 128\.4\.45\.60,EOL\)/, "tcpdump reads the reversed route of Click's case");
  }
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
});

t.test('ICMPError: suppressed cases are counted and nothing is emitted', async (t) => {
  const icmpError = (type: number) =>
    ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: PROTO_ICMP, payload: icmp4({ type, code: 0, rest: 0, payload: udpIp('10.0.0.2', '10.0.0.9').subarray(0, 28) }) });
  const cases: Record<string, Buffer[]> = {
    suppressed_icmp_error: [3, 4, 5, 11, 12].map(icmpError),
    suppressed_bad_source: ['0.0.0.0', '0.1.2.3', '127.0.0.1', '224.0.0.5', '239.1.2.3', '255.255.255.255', '240.0.0.1'].map((src) => udpIp(src, '10.0.0.2')),
    suppressed_bad_destination: ['224.0.0.1', '239.255.255.250', '255.255.255.255'].map((dst) => udpIp('10.0.0.1', dst)),
    suppressed_fragment: [
      ipv4({ src: '10.0.0.1', fragOffset: 1, payload: 'second' }),
      ipv4({ src: '10.0.0.1', fragOffset: 100, mf: true, payload: 'middle' }),
      ipv4({ src: '10.0.0.1', proto: PROTO_ICMP, fragOffset: 2, payload: Buffer.from([8, 0, 0, 0]) }),
    ],
    drops_malformed: [ipv4({ src: '10.0.0.1', proto: PROTO_ICMP, payload: '' })], // no ICMP type to look at
  };
  const all = Object.values(cases).flat();
  const inFile = input('suppress', all);
  // MarkIPHeader, not CheckIPHeader, which would itself drop the multicast and broadcast sources.
  const s = await runGraph(() => {
    FromPcap({ file: inFile }).to(MarkIPHeader()).to(ICMPError({ src: ROUTER, type: 'unreachable', code: 'host' }, 'err')).to(sink('suppress'));
  });
  t.equal(read('suppress').length, 0, 'no error emitted');
  const c = s.elements.err;
  for (const [name, pkts] of Object.entries(cases)) t.equal(c[name], pkts.length, name);
  t.equal(c.errors, 0);
  t.equal(c.rate_limited, 0);
  t.equal(s.pool.available, s.pool.capacity, 'every original freed');
});

t.test('ICMPError: no error about a datagram that came as a link-level broadcast or multicast (RFC 1812 4.3.2.7, as Click)', async (t) => {
  // The packet-type annotation FromPcap sets from the Ethernet destination survives Strip.
  const dgram = udpIp('10.0.0.1', '10.0.0.2');
  const to = ['ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:01', '33:33:00:00:00:01', '02:00:00:00:00:02'];
  const inFile = input('linkcast', to.map((dst) => ether({ dst, payload: dgram })), LINKTYPE_ETHERNET);
  const s = await runGraph(() => {
    FromPcap({ file: inFile }).to(Strip({ length: 14 })).to(MarkIPHeader()).to(ICMPError({ src: ROUTER, type: 'unreachable', code: 'host', rateLimit: 0 }, 'err')).to(sink('linkcast'));
  });
  sameBuffers(t, read('linkcast'), [icmpErrorRef(dgram, { type: 3, code: 1, id: parseIpv4(read('linkcast')[0]).id })], 'one error: about the unicast frame only');
  t.equal(s.elements.err.suppressed_bad_destination, 3, 'the broadcast and the two multicast frames counted');
});

t.test('ICMPError: the rate limit (token bucket of one second, starting full)', async (t) => {
  const burst = Array.from({ length: 1000 }, (_, i) => udpIp(`10.0.${i >> 8}.${i & 0xff}`, '203.0.113.1', { ttl: 1 }));
  const inFile = input('rate', burst);
  const s = await runGraph(() => {
    FromPcap({ file: inFile }).to(CheckIPHeader()).to(ICMPError({ src: ROUTER, type: 'timeexceeded', rateLimit: 10 }, 'limited')).to(sink('rate'));
    FromPcap({ file: inFile }).to(CheckIPHeader()).to(ICMPError({ src: ROUTER, type: 'timeexceeded', rateLimit: 0 }, 'unlimited')).to(sink('rate0'));
    FromPcap({ file: inFile }).to(CheckIPHeader()).to(ICMPError({ src: ROUTER, type: 'timeexceeded' }, 'dflt')).to(sink('rate100'));
  });
  const l = s.elements.limited;
  // A full bucket of 10, plus one token per 100 ms of the run.
  const most = 10 + Math.ceil(s.seconds * 10) + 1;
  t.ok(l.errors >= 10 && l.errors <= most, `rateLimit 10: ${l.errors} errors for 1000 packets (10 to ${most})`);
  t.equal(l.errors + l.rate_limited, 1000, 'the rest counted as rate_limited');
  const got = read('rate');
  sameBuffers(t, got.slice(0, 10), burst.slice(0, 10).map((p, i) => icmpErrorRef(p, { type: 11, code: 0, id: i })), 'the first 10 packets answered');
  t.equal(s.elements.unlimited.errors, 1000, 'rateLimit 0: every packet answered');
  t.ok(s.elements.dflt.errors >= 100 && s.elements.dflt.errors <= 100 + Math.ceil(s.seconds * 100) + 1, `default 100/s: ${s.elements.dflt.errors} errors`);
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
});

t.test('ICMPError: config checks', async (t) => {
  const build = (config: Parameters<typeof ICMPError>[0]) => () =>
    compile(graph('cfg', () => FromPcap({ file: '/nonexistent.pcap' }).to(ICMPError(config)).to(ToPcap({ file: '/tmp/unused.pcap' }))));
  t.throws(build({ src: ROUTER, type: 'unreachable', code: 'transit' }), /code 'transit' is not a code name of ICMP type 3/);
  t.throws(build({ src: ROUTER, type: 'unreachable', code: 'needfrag' }), /needs the next-hop mtu/);
  t.throws(build({ src: ROUTER, type: 7, code: 'net' }), /is not a code name of ICMP type 7/);
  t.throws(build({ src: '300.1.1.1', type: 3 }), /src/);
  t.doesNotThrow(build({ src: ROUTER, type: 'unreachable', code: 'needfrag', mtu: 576 }));
  t.doesNotThrow(build({ src: ROUTER, type: 12, code: 'length', pointer: 3 }));
  t.throws(build({ src: ROUTER, type: 11, ttl: 0 }), /ttl/);
  t.throws(build({ src: ROUTER, type: 11, tos: 256 }), /tos/);
});

t.test('tcpdump reads the replies and errors: right checksums, right text', { skip: tcpdumpSkip }, async (t) => {
  // The outputs of the tests above, still on disk (removed at teardown).
  const expect: [string, RegExp, number][] = [
    ['ping-0', /ICMP echo reply, id \d+, seq \d+/g, 300],
    ['ttl-err', /ICMP time exceeded in-transit/g, 7],
    ['u-net', /ICMP net 203\.0\.113\.\d+ unreachable/g, 3],
    ['u-port', /ICMP 203\.0\.113\.7 udp port 5678 unreachable/g, 1],
    ['u-host', /ICMP host 203\.0\.113\.\d+ unreachable/g, 3],
    ['u-needfrag', /unreachable - need to frag \(mtu 1400\)/g, 3],
    ['u-param', /ICMP parameter problem - octet 8/g, 3],
    ['u-reass', /ICMP ip reassembly time exceeded/g, 3],
    ['redirect', /ICMP redirect 203\.0\.113\.7 to host 10\.0\.0\.254/g, 1],
  ];
  for (const [tag, re, n] of expect) {
    const text = tcpdump(outFile(tag));
    t.equal(text.match(re)?.length ?? 0, n, `${tag}: tcpdump shows ${n} × ${re.source}`);
    t.notMatch(text, BAD_CHECKSUM, `${tag}: tcpdump finds no bad checksum`);
  }
});
