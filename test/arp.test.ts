// ARPResponder and ARPQuerier with crafted frames: FromPcap -> element -> ToPcap, bytes and
// counters checked. ARPResponder: exact reply bytes (host and proxy entries, the longest
// prefix winning, padding kept), and every kind of drop under its counter. ARPQuerier, driven
// through the Runtime API (sources start paused and are switched on in turn): IP packets to
// unknown next hops give one request each (exact bytes) and are held; a reply releases them
// encapsulated with the learned MAC, in order; `insert` makes a static entry that releases its
// held packets; input-1 frames that teach nothing are counted; per-host and overall queue
// limits; `delete` and `clear`; retries on a short poll interval, then giving up; entry expiry;
// short packets and missing headroom; two workers pushing IP packets and replies at once, every
// packet accounted for; and every buffer back in the pool at the end.
import t, { type Test } from 'tap';
import { rmSync } from 'node:fs';
import {
  graph,
  compile,
  FromPcap,
  ToPcap,
  IPLookup,
  Unstrip,
  ARPResponder,
  ARPQuerier,
  type RunningGraph,
} from 'pktgraph';
import { runGraph, tmpPath } from './lib/run.js';
import { writePcap, readPcap, LINKTYPE_RAW } from './lib/pcap.js';
import { ether, ipv4, udp, mac, ip4, ETH_ARP, ETH_IPV4 } from './lib/packets.js';
import { resolverHarness, tableRows, sameBuffers, sleep, type ResolverConfig, type ResolverHarness } from './lib/resolver.js';

const ME = '02:00:00:00:00:01';
const MY_IP = '10.0.0.1';
const GW = '02:00:00:00:00:fe';
const GW_IP = '10.0.0.254';
const HOST7 = '02:00:00:00:00:07';
const BCAST = 'ff:ff:ff:ff:ff:ff';
const ZERO = '00:00:00:00:00:00';

interface ArpOptions {
  op: number;
  sha: string;
  spa: string;
  tha?: string;
  tpa: string;
  ethSrc?: string;
  ethDst?: string;
  htype?: number;
  ptype?: number;
  minLength?: number;
}

/** An Ethernet ARP frame (42 bytes unless padded). */
function arp(o: ArpOptions): Buffer {
  const a = Buffer.alloc(28);
  a.writeUInt16BE(o.htype ?? 1, 0);
  a.writeUInt16BE(o.ptype ?? 0x0800, 2);
  a[4] = 6;
  a[5] = 4;
  a.writeUInt16BE(o.op, 6);
  mac(o.sha).copy(a, 8);
  ip4(o.spa).copy(a, 14);
  mac(o.tha ?? ZERO).copy(a, 18);
  ip4(o.tpa).copy(a, 24);
  return ether({ src: o.ethSrc ?? o.sha, dst: o.ethDst ?? (o.op === 1 ? BCAST : (o.tha ?? BCAST)), type: ETH_ARP, payload: a, minLength: o.minLength });
}

/** The request ARPQuerier sends for `target`. */
const request = (target: string) => arp({ op: 1, sha: ME, spa: MY_IP, tpa: target, ethDst: BCAST });
/** A reply from (ip, hw) to us. */
const reply = (ip: string, hw: string, to = MY_IP) => arp({ op: 2, sha: hw, spa: ip, tha: ME, tpa: to });

/** An IPv4/UDP packet (no link header) whose payload names it. */
const ipPacket = (dst: string, label: string) => ipv4({ src: MY_IP, dst, payload: udp({ src: MY_IP, dst, payload: label }) });
/** That packet as ARPQuerier sends it to `hw`. */
const framed = (hw: string, ip: Buffer) => ether({ dst: hw, src: ME, type: ETH_IPV4, payload: ip });

// ---------- ARPResponder ----------

t.test('ARPResponder answers requests for its entries and drops the rest under their counters', async (t) => {
  const inFile = tmpPath('arpresp-in.pcap');
  const outFile = tmpPath('arpresp-out.pcap');
  t.teardown(() => {
    rmSync(inFile, { force: true });
    rmSync(outFile, { force: true });
  });
  const A = '02:00:00:00:00:0a';
  const frames = [
    arp({ op: 1, sha: A, spa: '10.0.0.2', tpa: '10.0.0.1' }), // host entry
    arp({ op: 1, sha: A, spa: '10.0.0.2', tpa: '192.168.0.5', minLength: 60 }), // proxy entry, padded frame
    arp({ op: 1, sha: A, spa: '10.0.0.2', tpa: '192.168.0.7', ethDst: '02:00:00:00:00:aa' }), // the /32 wins over the /24
    arp({ op: 1, sha: A, spa: '10.0.0.2', tpa: '10.0.0.9' }), // no entry
    arp({ op: 2, sha: A, spa: '10.0.0.2', tha: ME, tpa: '10.0.0.1' }), // a reply: not a request
    ether({ type: ETH_IPV4, payload: ipPacket('10.0.0.1', 'ip') }), // not ARP
    arp({ op: 1, sha: A, spa: '10.0.0.2', tpa: '10.0.0.1' }).subarray(0, 41), // cut short
    arp({ op: 1, sha: A, spa: '10.0.0.2', tpa: '10.0.0.1', ptype: 0x86dd }), // not IPv4
    arp({ op: 1, sha: A, spa: '10.0.0.2', tpa: '10.0.0.1', htype: 6 }), // not Ethernet
    Buffer.alloc(10, 0xee), // shorter than an Ethernet header
  ];
  writePcap(inFile, frames.map((data) => ({ data })));
  const s = await runGraph(
    () =>
      FromPcap({ file: inFile })
        .to(ARPResponder({ entries: ['10.0.0.1 02:00:00:00:00:01', '192.168.0.0/24 02:00:00:00:00:aa', '192.168.0.7/32 02:00:00:00:00:07'] }, 'resp'))
        .to(ToPcap({ file: outFile })),
    { name: 'arpresp' },
  );
  const want = [
    arp({ op: 2, sha: ME, spa: '10.0.0.1', tha: A, tpa: '10.0.0.2', ethSrc: ME, ethDst: A }),
    arp({ op: 2, sha: '02:00:00:00:00:aa', spa: '192.168.0.5', tha: A, tpa: '10.0.0.2', ethSrc: '02:00:00:00:00:aa', ethDst: A, minLength: 60 }),
    arp({ op: 2, sha: HOST7, spa: '192.168.0.7', tha: A, tpa: '10.0.0.2', ethSrc: HOST7, ethDst: A }),
  ];
  sameBuffers(t, readPcap(outFile).packets.map((p) => p.data), want, 'the replies');
  t.same(s.elements.resp, { replies: 3, drops_not_request: 2, drops_no_entry: 1, drops_malformed: 4 }, 'counters');
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
});

t.test('ARPResponder entries are checked when compiling', async (t) => {
  const build = (entries: string[]) => () =>
    compile(graph('bad', () => FromPcap({ file: 'x.pcap' }).to(ARPResponder({ entries }, 'resp')).to(ToPcap({ file: 'y.pcap' }))));
  t.throws(build(['10.0.0.1']), /10\.0\.0\.1.*ADDRESS\[\/LEN\] \.\.\. MAC/, 'a missing MAC');
  t.throws(build(['10.0.0.1 10.0.0.x 02:00:00:00:00:01']), /ADDRESS\[\/LEN\] \.\.\. MAC/, 'a bad second address');
  t.doesNotThrow(build(['10.0.0.1 10.0.7.0/24 02:00:00:00:00:01']), "Click's several addresses for one MAC");
  t.throws(build(['10.0.0.300 02:00:00:00:00:01']), /not an IPv4 address/, 'a bad address');
  t.throws(build(['10.0.0.0/33 02:00:00:00:00:01']), /at most 32/, 'a bad prefix length');
  t.throws(build(['10.0.0.1 02:00:00:00:01']), /ADDRESS\[\/LEN\] \.\.\. MAC/, 'a short MAC');
  t.throws(build([]), /entries/, 'no entries');
  t.doesNotThrow(build(['198.18.0.0/255.255.255.0 02:00:00:00:00:01']), "Click's dotted netmask");
  t.throws(build(['198.18.0.0/255.0.255.0 02:00:00:00:00:01']), /'\/255\.0\.255\.0': a prefix length is a number at most 32 or a dotted netmask/, 'a netmask whose ones are not together');
});

t.test("ARPResponder takes Click's dotted netmasks (198.18.0.0/255.255.255.0), in entries and in add", async (t) => {
  const inFile = tmpPath('arpresp-mask-in.pcap');
  const outFile = tmpPath('arpresp-mask-out.pcap');
  t.teardown(() => {
    rmSync(inFile, { force: true });
    rmSync(outFile, { force: true });
  });
  const A = '02:00:00:00:00:0a';
  const B = '02:00:00:00:00:0b';
  const targets = ['198.18.0.77', '198.18.1.1', '198.18.2.5', '198.19.255.1', '198.18.3.9'];
  writePcap(inFile, targets.map((tpa) => ({ data: arp({ op: 1, sha: A, spa: '198.18.9.9', tpa }) })));
  const s = await runGraph(
    () =>
      FromPcap({ file: inFile })
        .to(ARPResponder({ entries: ['198.18.0.0/255.255.255.0 02:00:00:00:00:0b', '198.18.1.1 198.19.0.0/255.255.0.0 02:00:00:00:00:0c'] }, 'resp'))
        .to(ToPcap({ file: outFile })),
    { name: 'arpresp-mask' },
  );
  const answer = (tpa: string, hw: string) => arp({ op: 2, sha: hw, spa: tpa, tha: A, tpa: '198.18.9.9', ethSrc: hw, ethDst: A });
  sameBuffers(t, readPcap(outFile).packets.map((p) => p.data), [answer('198.18.0.77', B), answer('198.18.1.1', '02:00:00:00:00:0c'), answer('198.19.255.1', '02:00:00:00:00:0c')], '/255.255.255.0 is /24, /255.255.0.0 is /16');
  t.same([s.elements.resp.replies, s.elements.resp.drops_no_entry], [3, 2]);

  // The add handler parses the same form at run time.
  const h = resolverHarness(t, 'arpresp-mask-add', [], [targets.map((tpa) => arp({ op: 1, sha: A, spa: '198.18.9.9', tpa }))], 'req', () => {
    const r = ARPResponder({ entries: ['198.18.0.1 02:00:00:00:00:0b'] }, 'resp');
    return { ipIn: r.in(0), replyIn: r.in(0), out: r.out(0) };
  });
  h.g.write('resp', 'add', '198.18.2.0/255.255.254.0 02:00:00:00:00:0d');
  t.throws(() => h.g.write('resp', 'add', '198.18.4.0/255.255.0.255 02:00:00:00:00:0d'), /is not an IPv4 address or prefix/, 'a mask with a gap is refused');
  t.same(h.g.read('resp', 'table').split('\n'), ['198.18.0.1/32 02:00:00:00:00:0b', '198.18.2.0/23 02:00:00:00:00:0d', ''], 'the table shows the mask as a length');
  await h.play('req0', targets.length);
  sameBuffers(t, h.output(), [answer('198.18.2.5', '02:00:00:00:00:0d'), answer('198.18.3.9', '02:00:00:00:00:0d')], 'requests in 198.18.2.0/23 answered');
  h.finish(t);
});

t.test('ARPQuerier never asks for 0.0.0.0 (Click drops it: "missing dest IP addr annotation?")', async (t) => {
  const zero = ipPacket('0.0.0.0', 'to nowhere');
  const q = querier(t, 'aq-zero', [[zero, ipPacket('10.0.0.5', 'real'), zero]], [[]], {}, { direct: true });
  await q.play('ip0', 3);
  t.equal(q.g.counter('aq', 'drops_zero_address'), 2n, 'dropped and counted');
  t.equal(q.g.counter('aq', 'requests'), 1n, 'one request, for 10.0.0.5 only');
  sameBuffers(t, q.output(), [request('10.0.0.5')], 'no request for 0.0.0.0 on the wire');
  q.finish(t);
});

t.test("ARPResponder handlers (Click's): table, add, remove, lookup; replies follow the changes", async (t) => {
  const A = '02:00:00:00:00:0a';
  const ask = (tpa: string) => arp({ op: 1, sha: A, spa: '10.0.0.2', tpa });
  const answer = (tpa: string, hw: string) => arp({ op: 2, sha: hw, spa: tpa, tha: A, tpa: '10.0.0.2', ethSrc: hw, ethDst: A });
  const targets = ['10.0.0.1', '192.168.0.5', '192.168.0.7', '172.16.1.1', '10.0.0.3'];
  const h = resolverHarness(t, 'arpresp-handlers', [], [targets.map(ask), targets.map(ask)], 'req', () => {
    const r = ARPResponder({ entries: ['10.0.0.1 192.168.0.0/24 02:00:00:00:00:01', '192.168.0.7/32 02:00:00:00:00:07', '10.0.0.1 02:00:00:00:00:aa'] }, 'resp');
    return { ipIn: r.in(0), replyIn: r.in(0), out: r.out(0) };
  });
  const { g } = h;
  t.same(g.read('resp', 'table').split('\n'), ['10.0.0.1/32 02:00:00:00:00:aa', '192.168.0.7/32 02:00:00:00:00:07', '192.168.0.0/24 02:00:00:00:00:01', ''], "Click's multi-address entries; a later entry for a prefix replaces the earlier one; longest first");
  const lookup = (ip: string) => {
    g.write('resp', 'lookup', ip);
    return g.read('resp', 'lookup_result');
  };
  t.equal(lookup('192.168.0.9'), '02:00:00:00:00:01', 'lookup: the /24');
  t.equal(lookup('192.168.0.7'), '02:00:00:00:00:07', 'lookup: the longest prefix');
  t.equal(lookup('10.0.0.3'), '', 'lookup: no entry, the empty string (as Click)');
  t.throws(() => g.write('resp', 'lookup', '10.0.0'), /lookup: write an IPv4 address/);
  await h.play('req0', targets.length);
  sameBuffers(t, h.output(), [answer('10.0.0.1', '02:00:00:00:00:aa'), answer('192.168.0.5', '02:00:00:00:00:01'), answer('192.168.0.7', HOST7)], 'replies before the changes');

  g.write('resp', 'add', '172.16.0.0/16 10.0.0.3 02:00:00:00:00:0b\n10.0.0.1 02:00:00:00:00:01');
  g.write('resp', 'remove', '192.168.0.7');
  t.throws(() => g.write('resp', 'remove', '192.168.0.7/32'), /remove: 192\.168\.0\.7\/32 not found/, 'removing a missing prefix names it');
  t.throws(() => g.write('resp', 'remove', '192.168.0.0/24\n10.9.9.9'), /10\.9\.9\.9\/32 not found/, 'remove is all or nothing ...');
  t.throws(() => g.write('resp', 'add', '10.0.0.4 02:00:00:00:00:0c\n10.0.0.5 zz'), /add: '10\.0\.0\.5 zz' is not/, '... and so is add');
  t.throws(() => g.write('resp', 'remove', '10.0.0.0/8 x'), /is not 'ADDRESS\[\/LEN\]'/);
  t.same(g.read('resp', 'table').split('\n'), ['10.0.0.1/32 02:00:00:00:00:01', '10.0.0.3/32 02:00:00:00:00:0b', '192.168.0.0/24 02:00:00:00:00:01', '172.16.0.0/16 02:00:00:00:00:0b', ''], 'the table after add and remove (the failed writes changed nothing)');
  t.equal(lookup('10.0.0.4'), '', 'the failed add added nothing');
  await h.play('req1', targets.length);
  sameBuffers(
    t,
    h.output().slice(3),
    [answer('10.0.0.1', '02:00:00:00:00:01'), answer('192.168.0.5', '02:00:00:00:00:01'), answer('192.168.0.7', '02:00:00:00:00:01'), answer('172.16.1.1', '02:00:00:00:00:0b'), answer('10.0.0.3', '02:00:00:00:00:0b')],
    'replies after: the replaced MAC, the /24 for the removed /32, the added entries',
  );
  t.same(g.counters('resp'), { replies: 8n, drops_not_request: 0n, drops_no_entry: 2n, drops_malformed: 0n }, 'counters');
  h.finish(t);
});

// ---------- ARPQuerier ----------

/**
 * An ARPQuerier 'aq' fed by paused sources: each ipSources[i] (raw IPv4 packets) through an
 * IPLookup 'rt' (routes: 10.0.0.0/24 direct, 10.9.0.0/16 via 10.0.0.254) into input 0 (or
 * straight into input 0 with `direct`), and each of arpSources (Ethernet frames) into input 1.
 * Output 0 goes to a pcap file. Sources are named ip0, ip1, ... and arp0, arp1, ...
 */
function querier(t: Test, name: string, ipSources: Buffer[][], arpSources: Buffer[][], config: ResolverConfig = {}, options: { direct?: boolean; unstrip?: number } = {}): ResolverHarness {
  return resolverHarness(t, name, ipSources, arpSources, 'arp', () => {
    const aq = ARPQuerier({ ip: MY_IP, mac: ME, ...config }, 'aq');
    let ipIn = aq.in(0);
    if (!options.direct) {
      const lookup = IPLookup({ routes: ['10.0.0.0/24 dev 0', '10.9.0.0/16 via 10.0.0.254 dev 0'] }, 'rt');
      lookup.out(0).to(aq.in(0));
      ipIn = lookup.in(0);
    } else if (options.unstrip !== undefined) {
      const u = Unstrip({ length: options.unstrip }, 'unstrip');
      u.out(0).to(aq.in(0));
      ipIn = u.in(0);
    }
    return { ipIn, replyIn: aq.in(1), out: aq.out(0) };
  });
}

/** The table handler's lines without the ages: 'IP MAC', 'IP MAC static', 'IP pending HELD'. */
const tableOf = (g: RunningGraph) => tableRows(g, 'aq');

t.test('ARPQuerier holds packets for unknown next hops, asks once, and sends them when the reply comes', async (t) => {
  const p = [
    ipPacket('10.9.1.1', 'p1'), // via the gateway
    ipPacket('10.0.0.7', 'p2'), // direct
    ipPacket('10.9.1.2', 'p3'),
    ipPacket('10.9.1.3', 'p4'),
  ];
  const later = [ipPacket('10.9.2.2', 'p5'), ipPacket('10.0.0.7', 'p6')];
  const q = querier(t, 'aq-basic', [p, later], [[reply(GW_IP, GW)], [reply('10.0.0.7', '02:00:00:00:00:77')]]);
  await q.play('ip0', p.length);
  sameBuffers(t, q.output(), [request(GW_IP), request('10.0.0.7')], 'one request per unknown next hop, exact bytes');
  t.same(tableOf(q.g), ['10.0.0.7 pending 1', '10.0.0.254 pending 3'], 'both addresses pending, with their held packets');
  t.match(q.g.read('aq', 'table'), /^10\.0\.0\.7 pending \d+\.\d{3} 1\n/, 'pending rows carry an age in seconds');
  t.equal(q.rt.engine.graphState(q.g.id).held, 4, 'four packets held');

  await q.play('arp0', 1);
  t.ok(await q.until(() => q.g.counter('aq', 'sent') === 3n), 'the reply released the three packets for the gateway');
  sameBuffers(t, q.output().slice(2), [framed(GW, p[0]), framed(GW, p[2]), framed(GW, p[3])], 'released in order, encapsulated with the gateway MAC');
  t.same(tableOf(q.g), ['10.0.0.7 pending 1', `10.0.0.254 ${GW}`], 'the gateway is learned');
  t.match(q.g.read('aq', 'table'), /10\.0\.0\.254 02:00:00:00:00:fe \d+\.\d{3}\n$/, 'learned rows carry an age in seconds');

  // A static entry for 10.0.0.7 releases p2 (the timer does it on the worker).
  q.g.write('aq', 'insert', `10.0.0.7 ${HOST7}`);
  t.ok(await q.until(() => q.g.counter('aq', 'sent') === 4n), 'insert released the packet held for 10.0.0.7');
  t.same(tableOf(q.g), [`10.0.0.7 ${HOST7} static`, `10.0.0.254 ${GW}`], 'the static entry is listed as such');
  t.throws(() => q.g.write('aq', 'insert', '10.0.0.8'), /IP MAC/, 'insert wants IP and MAC');
  t.throws(() => q.g.write('aq', 'insert', '10.0.0.x 02:00:00:00:00:08'), /IPv4/, 'insert checks the address');
  t.throws(() => q.g.write('aq', 'insert', '10.0.0.8 02:00:00:00:08'), /Ethernet/, 'insert checks the MAC');
  t.throws(() => q.g.write('aq', 'insert', '10.0.0.8 02:00:00:00:00:zz'), /Ethernet/, 'insert wants hex digits');
  t.throws(() => q.g.write('aq', 'insert', '10.0.0.8 02.00.00.00.00.08'), /Ethernet/, 'insert wants colons between the bytes');

  // A reply for the static entry changes nothing; known next hops go out at once.
  await q.play('arp1', 1);
  await q.play('ip1', later.length);
  t.ok(await q.until(() => q.g.counter('aq', 'sent') === 6n), 'known next hops go out at once');
  sameBuffers(
    t,
    q.output(),
    [request(GW_IP), request('10.0.0.7'), framed(GW, p[0]), framed(GW, p[2]), framed(GW, p[3]), framed(HOST7, p[1]), framed(GW, later[0]), framed(HOST7, later[1])],
    'everything output 0 sent',
  );
  const c = q.g.counters('aq');
  t.same(
    c,
    {
      sent: 6n,
      requests: 2n,
      replies: 1n,
      drops_queue_full: 0n,
      drops_unresolved: 0n,
      drops_table_full: 0n,
      drops_no_headroom: 0n,
      drops_short: 0n,
      drops_zero_address: 0n,
      drops_malformed: 0n,
      arp_ignored: 1n,
      pool_empty: 0n,
    },
    'counters (the reply for the static entry ignored)',
  );
  t.equal(q.rt.engine.graphState(q.g.id).held, 0, 'nothing held');
  q.finish(t);
});

t.test('ARPQuerier counts input-1 frames that are malformed or teach nothing', async (t) => {
  const A = '02:00:00:00:00:0a';
  const frames = [
    arp({ op: 1, sha: A, spa: '10.0.0.2', tpa: MY_IP }), // a request: ignored
    reply('10.0.0.3', '02:00:00:00:00:03', '10.0.0.99'), // unknown sender, not for us: ignored
    reply(MY_IP, A), // claims our own address: ignored
    reply('10.0.0.4', '02:00:00:00:00:04'), // for us: learned
    reply('10.0.0.5', '02:00:00:00:00:05').subarray(0, 41), // short
    arp({ op: 2, sha: '01:00:5e:00:00:01', spa: '10.0.0.6', tha: ME, tpa: MY_IP }), // multicast sender
    arp({ op: 2, sha: ZERO, spa: '10.0.0.6', tha: ME, tpa: MY_IP }), // zero sender
    arp({ op: 2, sha: A, spa: '10.0.0.6', tha: ME, tpa: MY_IP, ptype: 0x86dd }), // not IPv4
    ether({ dst: ME, type: ETH_IPV4, payload: ipPacket(MY_IP, 'ip') }), // not ARP
    reply('10.0.0.2', A, '10.0.0.99'), // not for us, but refreshes nothing: ignored
  ];
  const q = querier(t, 'aq-input1', [[ipPacket('10.0.0.4', 'known')]], [frames, [reply('10.0.0.4', '02:00:00:00:00:44', '10.0.0.99')]]);
  await q.play('arp0', frames.length);
  const c = q.g.counters('aq');
  t.equal(c.drops_malformed, 5n, 'short, multicast or zero sender, not IPv4, not ARP');
  t.equal(c.arp_ignored, 4n, 'a request, two unsolicited replies, and one claiming our address');
  t.equal(c.replies, 1n, 'the reply to us was learned');
  t.same(tableOf(q.g), ['10.0.0.4 02:00:00:00:00:04'], 'the table holds the one learned address');
  // A reply from a known address refreshes it even if not addressed to us.
  await q.play('arp1', 1);
  t.same(tableOf(q.g), ['10.0.0.4 02:00:00:00:00:44'], 'a known address is updated by any reply');
  await q.play('ip0', 1);
  t.ok(await q.until(() => q.g.counter('aq', 'sent') === 1n), 'the packet went out at once');
  sameBuffers(t, q.output(), [framed('02:00:00:00:00:44', ipPacket('10.0.0.4', 'known'))], 'with the updated MAC');
  t.equal(q.g.counter('aq', 'requests'), 0n, 'no request was needed');
  q.finish(t);
});

t.test('ARPQuerier bounds the held packets per address and in all; delete and clear drop them', async (t) => {
  const pkts = [
    ...['a1', 'a2', 'a3', 'a4'].map((l) => ipPacket('10.0.0.2', l)),
    ...['b1', 'b2'].map((l) => ipPacket('10.0.0.3', l)),
    ipPacket('10.0.0.4', 'c1'),
  ];
  const q = querier(t, 'aq-limits', [pkts], [[]], { perHost: 2, capacity: 3 }, { direct: true });
  await q.play('ip0', pkts.length);
  t.same(tableOf(q.g), ['10.0.0.2 pending 2', '10.0.0.3 pending 1', '10.0.0.4 pending 0'], 'two held for .2 (per host), one for .3 (overall), none for .4');
  let c = q.g.counters('aq');
  t.equal(c.drops_queue_full, 4n, 'a3, a4 (per host), b2 and c1 (overall) dropped');
  t.equal(c.requests, 3n, 'a request for each address all the same');
  sameBuffers(t, q.output(), [request('10.0.0.2'), request('10.0.0.3'), request('10.0.0.4')], 'the requests');
  t.equal(q.rt.engine.graphState(q.g.id).held, 3, 'three packets held');

  q.g.write('aq', 'delete', '10.0.0.2');
  t.same(tableOf(q.g), ['10.0.0.3 pending 1', '10.0.0.4 pending 0'], 'delete removed the entry');
  t.equal(q.g.counter('aq', 'drops_unresolved'), 2n, 'and dropped its two packets');
  t.throws(() => q.g.write('aq', 'delete', '10.0.0.2'), /no entry/, 'deleting an absent entry is an error');
  t.throws(() => q.g.write('aq', 'delete', 'nonsense'), /IPv4/, 'delete checks the address');
  q.g.write('aq', 'insert', `10.0.0.9 ${HOST7}`);
  q.g.write('aq', 'clear', '');
  t.equal(q.g.read('aq', 'table'), '', 'clear emptied the table, static entries too');
  c = q.g.counters('aq');
  t.equal(c.drops_unresolved, 3n, 'and dropped the last held packet');
  t.equal(q.rt.engine.graphState(q.g.id).held, 0, 'nothing held');
  q.finish(t);
});

t.test('ARPQuerier retries on its poll interval, then gives up and drops the held packets', async (t) => {
  const pkts = [ipPacket('10.0.0.9', 'x1'), ipPacket('10.0.0.9', 'x2')];
  const q = querier(t, 'aq-retry', [pkts], [[]], { pollInterval: 0.1, pendingTimeout: 0.35 }, { direct: true });
  await q.play('ip0', pkts.length);
  t.ok(await q.until(() => q.g.counter('aq', 'drops_unresolved') === 2n), 'given up: both held packets dropped');
  const n = Number(q.g.counter('aq', 'requests'));
  t.ok(n >= 2 && n <= 4, `requests every 0.1 s until 0.35 s: 4 expected (fewer if the timer fires late), got ${n}`);
  sameBuffers(t, q.output(), new Array(n).fill(request('10.0.0.9')), 'each one the same request');
  t.equal(q.g.read('aq', 'table'), '', 'the entry is gone');
  t.equal(q.rt.engine.graphState(q.g.id).held, 0, 'nothing held');
  await sleep(250);
  t.equal(Number(q.g.counter('aq', 'requests')), n, 'no request after giving up');
  q.finish(t);
});

t.test('ARPQuerier entries expire after the timeout; then the address is asked again', async (t) => {
  const first = [ipPacket('10.0.0.5', 'e1')];
  const second = [ipPacket('10.0.0.5', 'e2')];
  const H = '02:00:00:00:00:55';
  const q = querier(t, 'aq-expiry', [first, second], [[reply('10.0.0.5', H)]], { timeout: 0.6 }, { direct: true });
  await q.play('arp0', 1); // learned from an unsolicited reply to us
  await q.play('ip0', 1);
  t.ok(await q.until(() => q.g.counter('aq', 'sent') === 1n), 'sent at once while the entry lives');
  await sleep(800);
  t.equal(q.g.read('aq', 'table'), '', 'the expired entry is no longer listed');
  await q.play('ip1', 1);
  t.same(tableOf(q.g), ['10.0.0.5 pending 1'], 'the packet is held again');
  sameBuffers(t, q.output(), [framed(H, first[0]), request('10.0.0.5')], 'and a new request sent');
  q.finish(t);
});

t.test('ARPQuerier asks again for a learned address in use near the end of its life', async (t) => {
  const H = '02:00:00:00:00:66';
  const pkts = [ipPacket('10.0.0.6', 'r1'), ipPacket('10.0.0.6', 'r2'), ipPacket('10.0.0.6', 'r3')];
  // Entries live 1 s; within the last 0.5 s (pendingTimeout) a packet using one asks again.
  const q = querier(t, 'aq-refresh', [[pkts[0]], [pkts[1]], [pkts[2]]], [[reply('10.0.0.6', H)]], { timeout: 1, pendingTimeout: 0.5 }, { direct: true });
  await q.play('arp0', 1);
  await q.play('ip0', 1);
  await sleep(550);
  await q.play('ip1', 1);
  await q.play('ip2', 1); // within the poll interval of the last request: no other one
  t.ok(await q.until(() => q.g.counter('aq', 'sent') === 3n), 'the packets went out at once');
  sameBuffers(t, q.output(), [framed(H, pkts[0]), framed(H, pkts[1]), request('10.0.0.6'), framed(H, pkts[2])], 'one refresh request after the second packet');
  t.same(tableOf(q.g), [`10.0.0.6 ${H}`], 'the entry is still learned');
  q.finish(t);
});

t.test('ARPQuerier drops short packets and packets without headroom', async (t) => {
  const short = Buffer.from(ipPacket('10.0.0.5', 'short').subarray(0, 19));
  const q1 = querier(t, 'aq-short', [[short, ipPacket('255.255.255.255', 'bcast'), ipPacket('224.1.2.3', 'mcast')]], [[]], {}, { direct: true });
  await q1.play('ip0', 3);
  t.equal(q1.g.counter('aq', 'drops_short'), 1n, 'a 19-byte packet without annotation is short');
  sameBuffers(
    t,
    q1.output(),
    [framed(BCAST, ipPacket('255.255.255.255', 'bcast')), framed('01:00:5e:01:02:03', ipPacket('224.1.2.3', 'mcast'))],
    'broadcast and multicast next hops need no ARP',
  );
  q1.finish(t);

  // Unstrip takes 120 of the 128 bytes of headroom.
  const q2 = querier(t, 'aq-headroom', [[ipPacket('10.0.0.5', 'h')]], [[]], {}, { direct: true, unstrip: 120 });
  await q2.play('ip0', 1);
  t.equal(q2.g.counter('aq', 'drops_no_headroom'), 1n, 'less than 14 bytes of headroom');
  t.equal(q2.g.counter('aq', 'requests'), 0n, 'no request for it');
  q2.finish(t);
});

t.test('ARPQuerier under two workers: IP packets and replies pushed concurrently; every packet accounted for', async (t) => {
  const hosts = 200;
  const hostIp = (i: number) => `10.1.${i >> 8}.${i & 255}`;
  const hostMac = (i: number) => `02:00:00:01:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
  const ipFrames: Buffer[] = [];
  for (let k = 0; k < 10; k++) for (let i = 0; i < hosts; i++) ipFrames.push(ipPacket(hostIp(i), `h${i}-${k}`));
  const replies = Array.from({ length: hosts }, (_, i) => reply(hostIp(i), hostMac(i)));
  const ipFile = tmpPath('aq-mt-ip.pcap');
  const arpFile = tmpPath('aq-mt-arp.pcap');
  const outFile = tmpPath('aq-mt-out.pcap');
  t.teardown(() => {
    for (const f of [ipFile, arpFile, outFile]) rmSync(f, { force: true });
  });
  // Paced (timing: true) so the two inputs overlap: 2000 packets 20 µs apart, 200 replies 200 µs apart (entries expire between them).
  const t0 = 1_700_000_000_000_000_000n;
  writePcap(ipFile, ipFrames.map((data, i) => ({ data, tsNs: t0 + BigInt(i) * 20_000n })), { linktype: LINKTYPE_RAW });
  writePcap(arpFile, replies.map((data, i) => ({ data, tsNs: t0 + BigInt(i) * 200_000n })));
  const repeat = 5;
  const s = await runGraph(
    () => {
      const aq = ARPQuerier({ ip: MY_IP, mac: ME, pollInterval: 0.05, pendingTimeout: 0.5, perHost: 8, timeout: 0.02 }, 'aq');
      FromPcap({ file: ipFile, repeat, timing: true }, { name: 'ip', thread: 0 }).to(aq.in(0));
      FromPcap({ file: arpFile, repeat: 5, timing: true }, { name: 'arp', thread: 1 }).to(aq.in(1));
      aq.out(0).to(ToPcap({ file: outFile }));
    },
    { name: 'aq-mt', threads: 2, timeoutSeconds: 10 },
  );
  const c = s.elements.aq;
  const total = ipFrames.length * repeat;
  t.comment(JSON.stringify(c));
  t.equal(c.sent + c.drops_queue_full + c.drops_unresolved + c.drops_table_full, total, `all ${total} packets sent or dropped under a counter`);
  t.ok(c.sent > 0, `packets were sent (${c.sent})`);
  t.equal(c.replies, hosts * 5, 'every reply was used (learned or refreshed)');
  const out = readPcap(outFile).packets.map((p) => p.data);
  t.equal(out.length, c.sent + c.requests, 'output 0 sent the packets and the requests');
  let bad = 0;
  for (const f of out) {
    if (f.readUInt16BE(12) === ETH_ARP) continue;
    const dst = `10.1.${f[14 + 18]}.${f[14 + 19]}`;
    const i = (f[14 + 18] << 8) | f[14 + 19];
    if (dst !== hostIp(i) || !f.subarray(0, 6).equals(mac(hostMac(i))) || !f.subarray(6, 12).equals(mac(ME))) bad++;
  }
  t.equal(bad, 0, 'every packet went to its host MAC');
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
});

t.test("ARPQuerier with a prefix (Click's IP/LEN): the subnet broadcast goes to ff:ff:ff:ff:ff:ff, not asked for", async (t) => {
  const pkts = ['10.0.0.255', '255.255.255.255', '224.0.0.5', '10.0.0.127', '10.0.0.0'].map((d) => ipPacket(d, `to ${d}`));
  const reqFrom = (ip: string, target: string) => arp({ op: 1, sha: ME, spa: ip, tpa: target, ethDst: BCAST });
  const cases: [string, Record<string, unknown>, Buffer[]][] = [
    ['prefix', { ip: '10.0.0.1/24' }, [framed(BCAST, pkts[0]), framed(BCAST, pkts[1]), framed('01:00:5e:00:00:05', pkts[2]), request('10.0.0.127'), request('10.0.0.0')]],
    ['plain', { ip: '10.0.0.1' }, [request('10.0.0.255'), framed(BCAST, pkts[1]), framed('01:00:5e:00:00:05', pkts[2]), request('10.0.0.127'), request('10.0.0.0')]],
    ['given', { ip: '10.0.0.1/24', broadcast: '10.0.0.127' }, [request('10.0.0.255'), framed(BCAST, pkts[1]), framed('01:00:5e:00:00:05', pkts[2]), framed(BCAST, pkts[3]), request('10.0.0.0')]],
    // A /31 has no broadcast address (RFC 3021): its other address is asked for.
    ['p2p', { ip: '10.0.0.254/31' }, [reqFrom('10.0.0.254', '10.0.0.255'), framed(BCAST, pkts[1]), framed('01:00:5e:00:00:05', pkts[2]), reqFrom('10.0.0.254', '10.0.0.127'), reqFrom('10.0.0.254', '10.0.0.0')]],
  ];
  for (const [name, config, want] of cases) {
    // A request on input 1 (it teaches nothing), so that the input is connected.
    const h = resolverHarness(t, `arpq-bcast-${name}`, [pkts], [[arp({ op: 1, sha: GW, spa: GW_IP, tpa: MY_IP })]], 'arp', () => {
      const aq = ARPQuerier({ mac: ME, pendingTimeout: 0.05, pollInterval: 1, ...(config as { ip: string }) }, 'aq');
      return { ipIn: aq.in(0), replyIn: aq.in(1), out: aq.out(0) };
    });
    await h.play('ip0', pkts.length);
    const hexSorted = (b: Buffer[]) => b.map((x) => x.toString('hex')).sort();
    t.same(hexSorted(h.output()), hexSorted(want), `${name}: broadcasts framed, other addresses asked for`);
    t.equal(h.g.counter('aq', 'requests'), BigInt(want.filter((f) => f.readUInt16BE(12) === ETH_ARP).length), `${name}: requests counted`);
    h.finish(t);
  }
  const build = (ip: string) =>
    compile(
      graph('arpq-plan', () => {
        const aq = ARPQuerier({ ip, mac: ME }, 'aq');
        FromPcap({ file: 'x.pcap' }).to(aq);
        FromPcap({ file: 'z.pcap' }).to(aq.in(1));
        aq.to(ToPcap({ file: 'y.pcap' }));
      }),
    );
  const cfg = build('198.18.4.1/22').elements.find((e) => e.name === 'aq')!.config;
  t.same([cfg.ip, cfg.broadcast], [{ addr: 3323069441, len: 22 }, 3323070463], 'the plan carries the prefix and the derived broadcast address typed (198.18.4.1/22, 198.18.7.255), not text');
  t.throws(() => build('10.0.0.1/33'), /'aq'.*ip/, 'a bad prefix length is refused');
});
