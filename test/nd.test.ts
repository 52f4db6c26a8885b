// IP6NDAdvertiser and IP6NDSolicitor with crafted frames: FromPcap -> element -> ToPcap,
// bytes checked against references built here (ICMPv6 checksums computed and verified).
// IP6NDAdvertiser: exact advertisement bytes (with and without a source link-layer address
// option, and for duplicate address detection), and every kind of drop under its counter.
// IP6NDSolicitor, driven through the Runtime API (sources start paused and are switched on in
// turn): one solicitation per unknown next hop (exact bytes: solicited-node address and MAC),
// multicast next hops sent at once, packets held and released in order when an advertisement
// arrives on input 1; `insert`, `delete`; input-1 frames counted; retries and give-up; every
// buffer back in the pool. Generated solicitations and advertisements are also checked with
// tcpdump when it is installed.
import t, { type Test } from 'tap';
import { rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { graph, compile, FromPcap, ToPcap, IP6NDAdvertiser, IP6NDSolicitor, type RunningGraph } from 'pktgraph';
import { runGraph, tmpPath } from './lib/run.js';
import { writePcap, readPcap } from './lib/pcap.js';
import { ether, ipv6, udp, icmp6, mac, ip6, checksum16, pseudoHeaderSum, ETH_IPV6, ETH_IPV4, PROTO_ICMPV6 } from './lib/packets.js';
import { resolverHarness, tableRows, sameBuffers, type ResolverConfig, type ResolverHarness } from './lib/resolver.js';

const ME = '02:00:00:00:00:01';
const MY_IP = 'fd00::1';
const GW = '02:00:00:00:00:fe';
const GW_IP = 'fd00::fe';
const HOST7 = '02:00:00:00:00:07';
const H7_IP = 'fd00::7';
const ALL_NODES_MAC = '33:33:00:00:00:01';

interface NdOptions {
  type: 135 | 136;
  ethSrc: string;
  ethDst: string;
  src: string;
  dst: string;
  target: string;
  flags?: number;
  /** A link-layer address option: [option type, MAC]. */
  option?: [number, string];
  hopLimit?: number;
  badChecksum?: boolean;
}

/** An Ethernet frame carrying a Neighbor Solicitation (135) or Advertisement (136). */
function nd(o: NdOptions): Buffer {
  const m = Buffer.alloc(o.option ? 32 : 24);
  m[0] = o.type;
  m[4] = o.flags ?? 0;
  ip6(o.target).copy(m, 8);
  if (o.option) {
    m[24] = o.option[0];
    m[25] = 1;
    mac(o.option[1]).copy(m, 26);
  }
  let ck = checksum16(m, pseudoHeaderSum(o.src, o.dst, PROTO_ICMPV6, m.length));
  if (o.badChecksum) ck ^= 0x5555;
  m.writeUInt16BE(ck, 2);
  return ether({ src: o.ethSrc, dst: o.ethDst, type: ETH_IPV6, payload: ipv6({ src: o.src, dst: o.dst, nextHeader: PROTO_ICMPV6, hopLimit: o.hopLimit ?? 255, payload: m }) });
}

/** The solicited-node multicast address (and its MAC) of an IPv6 address. */
function solicitedNode(addr: string): { ip: string; mac: string } {
  const a = ip6(addr);
  const h = (i: number) => a[i].toString(16).padStart(2, '0');
  return { ip: `ff02::1:ff${h(13)}:${h(14)}${h(15)}`, mac: `33:33:ff:${h(13)}:${h(14)}:${h(15)}` };
}

/** The solicitation IP6NDSolicitor sends for `target`. */
function solicitation(target: string): Buffer {
  const sn = solicitedNode(target);
  return nd({ type: 135, ethSrc: ME, ethDst: sn.mac, src: MY_IP, dst: sn.ip, target, option: [1, ME] });
}
/** An advertisement from (ip, hw) to us. */
const advert = (ip: string, hw: string, o: Partial<NdOptions> = {}) =>
  nd({ type: 136, ethSrc: hw, ethDst: ME, src: ip, dst: MY_IP, target: ip, flags: 0x60, option: [2, hw], ...o });

/** True when the ICMPv6 checksum of the IPv6 packet at offset 14 of an Ethernet frame is right. */
function icmp6ChecksumOk(f: Buffer): boolean {
  const ip = f.subarray(14);
  const len = ip.readUInt16BE(4);
  const m = ip.subarray(40, 40 + len);
  const src = ip.subarray(8, 24);
  const dst = ip.subarray(24, 40);
  return checksum16(m, pseudoHeaderSum(src, dst, PROTO_ICMPV6, len)) === 0;
}

/** An IPv6/UDP packet (no link header) whose payload names it. */
const ipPacket = (dst: string, label: string) => ipv6({ src: MY_IP, dst, payload: udp({ src: MY_IP, dst, payload: label }) });
/** That packet as IP6NDSolicitor sends it to `hw`. */
const framed = (hw: string, ip: Buffer) => ether({ dst: hw, src: ME, type: ETH_IPV6, payload: ip });

/** Run tcpdump -vv -nn over the frames; undefined (with the reason) when tcpdump is missing. */
function tcpdump(t: Test, name: string, frames: Buffer[]): string | undefined {
  const probe = spawnSync('tcpdump', ['--version'], { encoding: 'utf8' });
  if (probe.error) return undefined;
  const f = tmpPath(`${name}-tcpdump.pcap`);
  t.teardown(() => rmSync(f, { force: true }));
  writePcap(f, frames.map((data) => ({ data })));
  const r = spawnSync('tcpdump', ['-r', f, '-vv', '-nn'], { encoding: 'utf8' });
  return r.stdout;
}

// ---------- IP6NDAdvertiser ----------

t.test('IP6NDAdvertiser answers solicitations for its entries and drops the rest under their counters', async (t) => {
  const inFile = tmpPath('ndadv-in.pcap');
  const outFile = tmpPath('ndadv-out.pcap');
  t.teardown(() => {
    rmSync(inFile, { force: true });
    rmSync(outFile, { force: true });
  });
  const A = '02:00:00:00:00:0a';
  const A_IP = 'fd00::a';
  const OTHER = '02:00:00:00:00:0b';
  const sn1 = solicitedNode(MY_IP);
  const ns = (target: string, o: Partial<NdOptions> = {}) =>
    nd({ type: 135, ethSrc: A, ethDst: solicitedNode(target).mac, src: A_IP, dst: solicitedNode(target).ip, target, option: [1, A], ...o });
  const frames = [
    ns(MY_IP), // with a source link-layer address option
    ns('fd00::2:1', { option: undefined, ethSrc: OTHER }), // without: the frame's source
    ns(MY_IP, { src: '::', option: undefined }), // duplicate address detection
    ns(MY_IP, { hopLimit: 64 }), // routed: bad hop limit
    ns(MY_IP, { badChecksum: true }),
    ns('fd00::99'), // no entry
    ether({ src: A, dst: ME, type: ETH_IPV6, payload: ipv6({ src: A_IP, dst: MY_IP, nextHeader: PROTO_ICMPV6, payload: icmp6({ src: A_IP, dst: MY_IP, payload: 'ping' }) }) }), // an echo request
    ether({ src: A, dst: ME, type: ETH_IPV4, payload: Buffer.alloc(28) }), // not IPv6
    ns(MY_IP).subarray(0, 70), // cut short
    Buffer.alloc(10, 0xee), // shorter than an Ethernet header
  ];
  writePcap(inFile, frames.map((data) => ({ data })));
  const s = await runGraph(
    () =>
      FromPcap({ file: inFile })
        .to(IP6NDAdvertiser({ entries: [`${MY_IP} ${ME}`, `fd00::2:1 ${HOST7}`] }, 'adv'))
        .to(ToPcap({ file: outFile })),
    { name: 'ndadv' },
  );
  const want = [
    nd({ type: 136, ethSrc: ME, ethDst: A, src: MY_IP, dst: A_IP, target: MY_IP, flags: 0x60, option: [2, ME] }),
    nd({ type: 136, ethSrc: HOST7, ethDst: OTHER, src: 'fd00::2:1', dst: A_IP, target: 'fd00::2:1', flags: 0x60, option: [2, HOST7] }),
    nd({ type: 136, ethSrc: ME, ethDst: ALL_NODES_MAC, src: MY_IP, dst: 'ff02::1', target: MY_IP, flags: 0x20, option: [2, ME] }),
  ];
  t.same(sn1, { ip: 'ff02::1:ff00:0001', mac: '33:33:ff:00:00:01' }, 'the solicited-node address of fd00::1 (reference helper)');
  const got = readPcap(outFile).packets.map((p) => p.data);
  sameBuffers(t, got, want, 'the advertisements');
  t.ok(got.every(icmp6ChecksumOk), 'every advertisement has a correct ICMPv6 checksum');
  t.same(
    s.elements.adv,
    { advertisements: 3, drops_not_solicitation: 2, drops_hop_limit: 1, drops_checksum: 1, drops_no_entry: 1, drops_malformed: 2 },
    'counters',
  );
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
  const dump = tcpdump(t, 'ndadv', got);
  if (dump === undefined) t.pass('advertisements cross-checked with tcpdump', { skip: 'tcpdump is not installed' });
  else {
    t.equal((dump.match(/neighbor advertisement/g) ?? []).length, 3, 'tcpdump decodes three advertisements');
    t.equal((dump.match(/icmp6 sum ok/g) ?? []).length, 3, 'tcpdump finds every checksum right');
    t.notMatch(dump, /bad/i, 'tcpdump reports nothing bad');
    t.match(dump, /tgt is fd00::1, Flags \[solicited, override\]/, 'flags Solicited and Override');
    t.match(dump, /destination link-address option \(2\), length 8 \(1\): 02:00:00:00:00:07/, 'the target link-layer address option');
  }
});

t.test('IP6NDAdvertiser rejects a malformed entry', async (t) => {
  t.throws(() => compile(graph('ndadv-bad', () => FromPcap({ file: '/nonexistent' }).to(IP6NDAdvertiser({ entries: ['fd00::1'] })).to(ToPcap({ file: '/dev/null' })))), /ADDRESS MAC/);
});

// ---------- IP6NDSolicitor ----------

/** IP6NDSolicitor 'nds': each of ipSources (raw IPv6) into input 0, each of ndSources (Ethernet)
 * into input 1, output 0 to a pcap file. Sources are ip0, ip1, ... and nd0, nd1, ... */
function solicitor(t: Test, name: string, ipSources: Buffer[][], ndSources: Buffer[][], config: ResolverConfig = {}): ResolverHarness {
  return resolverHarness(t, name, ipSources, ndSources, 'nd', () => {
    const s = IP6NDSolicitor({ ip: MY_IP, mac: ME, ...config }, 'nds');
    return { ipIn: s.in(0), replyIn: s.in(1), out: s.out(0) };
  });
}

/** The table handler's lines without the ages. */
const tableOf = (g: RunningGraph) => tableRows(g, 'nds');

t.test('IP6NDSolicitor holds packets for unknown next hops, solicits once, and sends them when the advertisement comes', async (t) => {
  const p = [ipPacket(GW_IP, 'p1'), ipPacket(H7_IP, 'p2'), ipPacket(GW_IP, 'p3'), ipPacket('ff02::1:2', 'mcast'), ipPacket(GW_IP, 'p4')];
  const later = [ipPacket(GW_IP, 'p5'), ipPacket(H7_IP, 'p6')];
  const q = solicitor(t, 'nds-basic', [p, later], [[advert(GW_IP, GW)], [advert(H7_IP, '02:00:00:00:00:77')]]);
  await q.play('ip0', p.length);
  const first = q.output();
  sameBuffers(t, first, [framed('33:33:00:01:00:02', p[3]), solicitation(GW_IP), solicitation(H7_IP)], 'the multicast packet at once, then one solicitation per unknown next hop');
  t.ok(first.slice(1).every(icmp6ChecksumOk), 'solicitation checksums are right');
  t.equal(first[1].subarray(0, 6).toString('hex'), '3333ff0000fe', 'to the solicited-node MAC');
  t.same(tableOf(q.g), [`${H7_IP} pending 1`, `${GW_IP} pending 3`], 'both addresses pending, with their held packets');
  t.equal(q.rt.engine.graphState(q.g.id).held, 4, 'four packets held');

  await q.play('nd0', 1);
  t.ok(await q.until(() => q.g.counter('nds', 'sent') === 4n), 'the advertisement released the three packets for the gateway');
  sameBuffers(t, q.output().slice(3), [framed(GW, p[0]), framed(GW, p[2]), framed(GW, p[4])], 'released in order, encapsulated with the gateway MAC');
  t.same(tableOf(q.g), [`${H7_IP} pending 1`, `${GW_IP} ${GW}`], 'the gateway is learned');

  q.g.write('nds', 'insert', `${H7_IP} ${HOST7}`);
  t.ok(await q.until(() => q.g.counter('nds', 'sent') === 5n), 'insert released the packet held for fd00::7');
  t.same(tableOf(q.g), [`${H7_IP} ${HOST7} static`, `${GW_IP} ${GW}`], 'the static entry is listed as such');
  t.throws(() => q.g.write('nds', 'insert', 'fd00::8'), /IP MAC/, 'insert wants IP and MAC');
  t.throws(() => q.g.write('nds', 'insert', '10.0.0.8 02:00:00:00:00:08'), /IPv6/, 'insert checks the address');

  await q.play('nd1', 1); // for the static entry: ignored
  await q.play('ip1', later.length);
  t.ok(await q.until(() => q.g.counter('nds', 'sent') === 7n), 'known next hops go out at once');
  sameBuffers(
    t,
    q.output().slice(6),
    [framed(HOST7, p[1]), framed(GW, later[0]), framed(HOST7, later[1])],
    'the rest of output 0',
  );
  t.same(
    q.g.counters('nds'),
    {
      sent: 7n,
      requests: 2n,
      replies: 1n,
      drops_queue_full: 0n,
      drops_unresolved: 0n,
      drops_table_full: 0n,
      drops_no_headroom: 0n,
      drops_short: 0n,
      drops_zero_address: 0n,
      drops_malformed: 0n,
      na_ignored: 1n,
      pool_empty: 0n,
    },
    'counters',
  );
  q.g.write('nds', 'delete', GW_IP);
  t.same(tableOf(q.g), [`${H7_IP} ${HOST7} static`], 'delete removed the gateway');
  q.g.write('nds', 'clear', '');
  t.same(tableOf(q.g), [], 'clear emptied the table');
  t.equal(q.rt.engine.graphState(q.g.id).held, 0, 'nothing held');

  const dump = tcpdump(t, 'nds-basic', first.slice(1));
  if (dump === undefined) t.pass('solicitations cross-checked with tcpdump', { skip: 'tcpdump is not installed' });
  else {
    t.equal((dump.match(/neighbor solicitation, length 32, who has/g) ?? []).length, 2, 'tcpdump decodes two solicitations');
    t.equal((dump.match(/icmp6 sum ok/g) ?? []).length, 2, 'tcpdump finds every checksum right');
    t.notMatch(dump, /bad/i, 'tcpdump reports nothing bad');
    t.match(dump, /fd00::1 > ff02::1:ff00:fe: \[icmp6 sum ok\] ICMP6, neighbor solicitation, length 32, who has fd00::fe/, 'to the solicited-node address');
    t.match(dump, /source link-address option \(1\), length 8 \(1\): 02:00:00:00:00:01/, 'the source link-layer address option');
  }
  q.finish(t);
});

t.test('IP6NDSolicitor counts input-1 frames that are malformed or teach nothing', async (t) => {
  const A = '02:00:00:00:00:0a';
  const frames = [
    nd({ type: 135, ethSrc: A, ethDst: ME, src: 'fd00::2', dst: MY_IP, target: MY_IP, option: [1, A] }), // a solicitation: ignored
    advert('fd00::3', '02:00:00:00:00:03', { dst: 'fd00::99' }), // unknown, not for us: ignored
    advert(MY_IP, A), // claims our own address: ignored
    advert('fd00::4', '02:00:00:00:00:04'), // for us: learned
    advert('fd00::5', '02:00:00:00:00:05', { hopLimit: 254 }), // bad hop limit
    advert('fd00::6', '02:00:00:00:00:06', { badChecksum: true }), // bad checksum
    advert('fd00::6', '02:00:00:00:00:06', { option: [2, '01:00:5e:00:00:01'] }), // multicast link-layer address
    ether({ dst: ME, type: ETH_IPV4, payload: Buffer.alloc(28) }), // not IPv6
  ];
  const q = solicitor(t, 'nds-input1', [[ipPacket('fd00::4', 'known')]], [frames]);
  await q.play('nd0', frames.length);
  const c = q.g.counters('nds');
  t.equal(c.drops_malformed, 3n, 'bad hop limit, bad checksum, multicast link-layer address');
  t.equal(c.na_ignored, 4n, 'a solicitation, an unsolicited advertisement, one for our address, an IPv4 frame');
  t.equal(c.replies, 1n, 'the advertisement to us was learned');
  t.same(tableOf(q.g), ['fd00::4 02:00:00:00:00:04'], 'the table holds the one learned address');
  await q.play('ip0', 1);
  t.ok(await q.until(() => q.g.counter('nds', 'sent') === 1n), 'the packet went out at once');
  sameBuffers(t, q.output(), [framed('02:00:00:00:00:04', ipPacket('fd00::4', 'known'))], 'with the learned MAC');
  t.equal(q.g.counter('nds', 'requests'), 0n, 'no solicitation was needed');
  q.finish(t);
});

t.test('IP6NDSolicitor bounds held packets, retries on its poll interval, then gives up', async (t) => {
  const pkts = [ipPacket('fd00::99', 'a'), ipPacket('fd00::99', 'b'), ipPacket('fd00::99', 'c')];
  const q = solicitor(t, 'nds-retry', [pkts], [[]], { pollInterval: 0.1, pendingTimeout: 0.35, perHost: 2 });
  await q.play('ip0', pkts.length);
  t.equal(q.g.counter('nds', 'drops_queue_full'), 1n, 'the third packet is beyond perHost');
  t.ok(await q.until(() => q.g.counter('nds', 'drops_unresolved') === 2n), 'given up: both held packets dropped');
  const n = Number(q.g.counter('nds', 'requests'));
  t.ok(n >= 2 && n <= 4, `solicitations every 0.1 s until 0.35 s: 4 expected (fewer if the timer fires late), got ${n}`);
  const out = q.output();
  sameBuffers(t, out, Array.from({ length: n }, () => solicitation('fd00::99')), 'every retry is the same solicitation');
  t.same(tableOf(q.g), [], 'the address is gone from the table');
  t.equal(q.rt.engine.graphState(q.g.id).held, 0, 'nothing held');
  q.finish(t);
});
