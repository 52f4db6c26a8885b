// DHCPServer through pcap files on a virtual clock: each phase's requests are a FromPcap
// switched on in turn, the answers are written to one pcap file and parsed back. Checks the
// DORA exchange and its options, where answers go (RFC 2131 4.1), static bindings, a request
// for another server, NAK, lease expiry on the engine clock, renewal, release, decline, pool
// exhaustion, the leases handler, malformed and non-DHCP input, compile-time errors, and
// that every buffer returns to the pool. Needs no root.
import t from 'tap';
import { rmSync } from 'node:fs';
import { graph, compile, Runtime, FromPcap, ToPcap, DHCPServer } from 'pktgraph';
import { tmpPath } from './lib/run.js';
import { writePcap, readPcap } from './lib/pcap.js';
import { verifyIpv4Checksum, verifyL4Checksum, udp4Frame } from './lib/packets.js';
import { dhcpRequest, parseDhcpReply, optAddrs, DHCP, type DhcpReply } from './lib/dhcp.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const T0 = 1_000_000_000;
const S = 1_000_000_000;

const SERVER = '192.168.56.1';
const SMAC = '02:00:00:00:56:01';
const C1 = '02:00:00:00:00:c1';
const C2 = '02:00:00:00:00:c2';
const C3 = '02:00:00:00:00:c3'; // static
const C4 = '02:00:00:00:00:c4';
const C5 = '02:00:00:00:00:c5';
const C6 = '02:00:00:00:00:c6';
const C7 = '02:00:00:00:00:c7';

const config = {
  address: `${SERVER}/24`,
  mac: SMAC,
  poolStart: '192.168.56.100',
  poolEnd: '192.168.56.102',
  router: SERVER,
  dns: ['192.168.56.53', '192.168.56.54'],
  leaseTime: 60,
  static: [{ mac: C3, ip: '192.168.56.50' }],
};

t.test('DHCPServer: offers, acks, naks, expiry, renew, release, decline, exhaustion, malformed input', async (t) => {
  const bad = dhcpRequest({ type: DHCP.DISCOVER, chaddr: C1 });
  const truncated = bad.subarray(0, 14 + 20 + 8 + 100);
  const badCookie = dhcpRequest({ type: DHCP.DISCOVER, chaddr: C1, cookie: 0x01020304 });
  const overrun = dhcpRequest({ type: DHCP.DISCOVER, chaddr: C1, rawOptions: Buffer.from([53, 1, 1, 12, 40, 0x61]) });
  const noType = dhcpRequest({ type: DHCP.DISCOVER, chaddr: C1, rawOptions: Buffer.from([12, 1, 0x61, 255]) });
  const badType = dhcpRequest({ type: 9, chaddr: C1 });
  const phases: Buffer[][] = [
    // 0: discovers (c2 asks for broadcast answers; c3 has a static binding)
    [dhcpRequest({ type: DHCP.DISCOVER, chaddr: C1, xid: 1 }), dhcpRequest({ type: DHCP.DISCOVER, chaddr: C2, xid: 2, broadcast: true }), dhcpRequest({ type: DHCP.DISCOVER, chaddr: C3, xid: 3 })],
    // 1: c1 takes its offer; c2 takes another server's; c3 its static address; c1 asks (INIT-REBOOT) for an address not its own
    [
      dhcpRequest({ type: DHCP.REQUEST, chaddr: C1, xid: 4, requested: '192.168.56.100', serverId: SERVER }),
      dhcpRequest({ type: DHCP.REQUEST, chaddr: C2, xid: 5, requested: '192.168.56.101', serverId: '192.168.56.9' }),
      dhcpRequest({ type: DHCP.REQUEST, chaddr: C3, xid: 6, requested: '192.168.56.50', serverId: SERVER }),
      dhcpRequest({ type: DHCP.REQUEST, chaddr: C1, xid: 7, requested: '192.168.56.77' }),
    ],
    // 2 (61 s later: c1's lease expired): c4 gets a never-used address; c1 renews from its ciaddr (nobody took it)
    [dhcpRequest({ type: DHCP.DISCOVER, chaddr: C4, xid: 8 }), dhcpRequest({ type: DHCP.REQUEST, chaddr: C1, xid: 9, ciaddr: '192.168.56.100' })],
    // 3: c1 releases; c4 declines its offer; c5 and c6 fill the pool; c7 finds none; malformed and non-DHCP frames
    [
      dhcpRequest({ type: DHCP.RELEASE, chaddr: C1, xid: 10, ciaddr: '192.168.56.100', serverId: SERVER }),
      dhcpRequest({ type: DHCP.DECLINE, chaddr: C4, xid: 11, requested: '192.168.56.102', serverId: SERVER }),
      dhcpRequest({ type: DHCP.DISCOVER, chaddr: C5, xid: 12 }),
      dhcpRequest({ type: DHCP.DISCOVER, chaddr: C6, xid: 13 }),
      dhcpRequest({ type: DHCP.DISCOVER, chaddr: C7, xid: 14 }),
      truncated,
      badCookie,
      overrun,
      noType,
      badType,
      udp4Frame({ dport: 53 }),
      dhcpRequest({ type: DHCP.OFFER, chaddr: C7, xid: 15 }),
    ],
  ];
  const inFiles = phases.map((frames, i) => {
    const f = tmpPath(`dhcp-in${i}.pcap`);
    writePcap(f, frames.map((data) => ({ data })));
    return f;
  });
  const outFile = tmpPath('dhcp-out.pcap');
  t.teardown(() => {
    for (const f of [...inFiles, outFile]) rmSync(f, { force: true });
  });
  const rt = new Runtime({ threads: 1, poolBuffers: 1024, virtualClockNs: T0 });
  t.teardown(() => rt.close());
  const g = rt.load(
    compile(
      graph('dhcp', () => {
        const d = DHCPServer(config, 'dhcp');
        inFiles.forEach((file, i) => FromPcap({ file, active: false }, `src${i}`).to(d));
        d.to(ToPcap({ file: outFile }, 'out'));
      }),
    ),
  );
  rt.start();
  rt.setVirtualTime(T0);
  const play = async (i: number) => {
    g.write(`src${i}`, 'active', 'true');
    const deadline = Date.now() + 5000;
    while (g.counter(`src${i}`, 'packets') < BigInt(phases[i].length) && Date.now() < deadline) await sleep(5);
    await sleep(30);
  };

  await play(0);
  await play(1);
  t.equal(
    g.read('dhcp', 'leases'),
    '192.168.56.50 02:00:00:00:00:c3 static -\n192.168.56.100 02:00:00:00:00:c1 bound 60\n',
    'leases: the static binding and c1 bound for 60 s (c2 chose another server: its offer withdrawn)',
  );
  rt.setVirtualTime(T0 + 61 * S);
  await sleep(50);
  t.match(g.read('dhcp', 'leases'), /192\.168\.56\.100 02:00:00:00:00:c1 expired 0\n/, "c1's lease expired on the engine clock");
  await play(2);
  await play(3);
  t.equal(
    g.read('dhcp', 'leases'),
    [
      '192.168.56.50 02:00:00:00:00:c3 static -',
      '192.168.56.100 02:00:00:00:00:c5 offered 30',
      '192.168.56.101 02:00:00:00:00:c6 offered 30',
      '192.168.56.102 02:00:00:00:00:c4 declined 60',
      '',
    ].join('\n'),
    'leases after release, decline and two more offers',
  );
  const c = g.counters('dhcp');
  t.same(
    {
      discovers: c.discovers,
      offers: c.offers,
      requests: c.requests,
      acks: c.acks,
      naks: c.naks,
      releases: c.releases,
      declines: c.declines,
      other_server: c.other_server,
      drops_pool_exhausted: c.drops_pool_exhausted,
      drops_malformed: c.drops_malformed,
      drops_not_dhcp: c.drops_not_dhcp,
      drops_ignored: c.drops_ignored,
    },
    {
      discovers: 7n,
      offers: 6n,
      requests: 5n,
      acks: 3n,
      naks: 1n,
      releases: 1n,
      declines: 1n,
      other_server: 1n,
      drops_pool_exhausted: 1n,
      drops_malformed: 5n,
      drops_not_dhcp: 1n,
      drops_ignored: 1n,
    },
    'counters by message and by reason',
  );
  rt.stop();
  g.remove();
  t.equal(rt.poolStats().available, rt.poolStats().capacity, 'every buffer back in the pool');

  const frames = readPcap(outFile).packets.map((p) => p.data);
  for (const f of frames) {
    t.ok(verifyIpv4Checksum(f, 14) && verifyL4Checksum(f, 14), 'IPv4 and UDP checksums are right');
    t.ok(f.length >= 14 + 20 + 8 + 300, 'BOOTP part at least 300 bytes');
  }
  const r: DhcpReply[] = frames.map(parseDhcpReply);
  const summary = r.map((x) => `${x.xid} ${x.type} ${x.yiaddr} ${x.dstMac} ${x.dstIp}:${x.dport}`);
  t.same(
    summary,
    [
      `1 ${DHCP.OFFER} 192.168.56.100 ${C1} 192.168.56.100:68`,
      `2 ${DHCP.OFFER} 192.168.56.101 ff:ff:ff:ff:ff:ff 255.255.255.255:68`,
      `3 ${DHCP.OFFER} 192.168.56.50 ${C3} 192.168.56.50:68`,
      `4 ${DHCP.ACK} 192.168.56.100 ${C1} 192.168.56.100:68`,
      `6 ${DHCP.ACK} 192.168.56.50 ${C3} 192.168.56.50:68`,
      `7 ${DHCP.NAK} 0.0.0.0 ff:ff:ff:ff:ff:ff 255.255.255.255:68`,
      `8 ${DHCP.OFFER} 192.168.56.102 ${C4} 192.168.56.102:68`,
      `9 ${DHCP.ACK} 192.168.56.100 ${C1} 192.168.56.100:68`,
      `12 ${DHCP.OFFER} 192.168.56.100 ${C5} 192.168.56.100:68`,
      `13 ${DHCP.OFFER} 192.168.56.101 ${C6} 192.168.56.101:68`,
    ],
    'answers in order: xid, type, address, where sent (RFC 2131 4.1)',
  );
  const offer = r[0];
  t.equal(offer.srcMac, SMAC);
  t.equal(offer.srcIp, SERVER);
  t.equal(offer.op, 2, 'BOOTREPLY');
  t.equal(offer.chaddr, C1);
  t.same(optAddrs(offer.options.get(54)), [SERVER], 'option 54: server identifier');
  t.same(optAddrs(offer.options.get(1)), ['255.255.255.0'], 'option 1: subnet mask');
  t.same(optAddrs(offer.options.get(3)), [SERVER], 'option 3: router');
  t.same(optAddrs(offer.options.get(6)), ['192.168.56.53', '192.168.56.54'], 'option 6: DNS servers');
  t.equal(offer.options.get(51)?.readUInt32BE(0), 60, 'option 51: lease time');
  t.equal(offer.options.get(58)?.readUInt32BE(0), 30, 'option 58: T1');
  t.equal(offer.options.get(59)?.readUInt32BE(0), 52, 'option 59: T2');
  t.equal(r[7].ciaddr, '192.168.56.100', 'the renewal ACK carries the ciaddr');
  t.same([...r[5].options.keys()].sort((a, b) => a - b), [53, 54], 'a NAK carries only its type and the server identifier');
});

t.test('DHCPServer: bad configs are refused naming the field', async (t) => {
  const build = (over: Record<string, unknown>) =>
    compile(graph('bad', () => FromPcap({ file: '/dev/null' }).to(DHCPServer({ ...config, ...over } as typeof config)).to(ToPcap({ file: '/dev/null' }))));
  t.throws(() => build({ poolStart: '192.168.56.200', poolEnd: '192.168.56.100' }), /poolStart 192.168.56.200 is after poolEnd/);
  t.throws(() => build({ poolEnd: '192.168.57.10' }), /not inside the subnet/);
  t.throws(() => build({ address: '192.168.56.1' }), /prefix length/);
  t.throws(() => build({ router: '10.0.0.1' }), /router 10.0.0.1 is not inside the subnet/);
  t.throws(() => build({ static: [{ mac: C1, ip: '192.168.56.5' }, { mac: C1, ip: '192.168.56.6' }] }), /static\[1\]: MAC .* bound twice/);
  t.throws(() => build({ static: [{ mac: C1, ip: SERVER }] }), /server's own address/);
  t.throws(() => build({ leaseTime: 5 }), /leaseTime/);
});

t.test('DHCPServer: leases carry over a hot reconfiguration', async (t) => {
  const inFile = tmpPath('dhcp-swap-in.pcap');
  const outFile = tmpPath('dhcp-swap-out.pcap');
  t.teardown(() => {
    for (const f of [inFile, outFile]) rmSync(f, { force: true });
  });
  writePcap(inFile, [
    { data: dhcpRequest({ type: DHCP.DISCOVER, chaddr: C1, xid: 1 }) },
    { data: dhcpRequest({ type: DHCP.REQUEST, chaddr: C1, xid: 2, requested: '192.168.56.100', serverId: SERVER }) },
    { data: dhcpRequest({ type: DHCP.DISCOVER, chaddr: C2, xid: 3 }) },
  ]);
  const plan = (over: Record<string, unknown>, active: boolean) =>
    compile(
      graph('dhcp-swap', () => {
        FromPcap({ file: inFile, active }, 'src').to(DHCPServer({ ...config, ...over } as typeof config, 'dhcp')).to(ToPcap({ file: outFile }, 'out'));
      }),
    );
  const rt = new Runtime({ threads: 1, poolBuffers: 256, virtualClockNs: T0 });
  t.teardown(() => rt.close());
  const g = rt.load(plan({}, true));
  rt.start();
  rt.setVirtualTime(T0);
  const deadline = Date.now() + 5000;
  while (g.counter('dhcp', 'offers') < 2n && Date.now() < deadline) await sleep(5);
  await sleep(30);
  const before = g.read('dhcp', 'leases');
  t.equal(before, `192.168.56.50 ${C3} static -\n192.168.56.100 ${C1} bound 60\n192.168.56.101 ${C2} offered 30\n`);
  // The new pool starts at .101: c1's lease at .100 is outside it and goes, c2's offer stays.
  const g2 = g.replace(plan({ poolStart: '192.168.56.101', poolEnd: '192.168.56.110', dns: [] }, false));
  t.equal(g2.read('dhcp', 'leases'), `192.168.56.50 ${C3} static -\n192.168.56.101 ${C2} offered 30\n`, 'the offer in the new pool carried over; the lease outside it did not');
  const g3 = g2.replace(plan({ poolStart: '192.168.56.101', poolEnd: '192.168.56.110', static: [{ mac: C3, ip: '192.168.56.101' }] }, false));
  t.equal(g3.read('dhcp', 'leases'), `192.168.56.101 ${C3} static -\n`, 'an address now statically bound is not carried over');
  t.equal(g3.counter('dhcp', 'offers'), 2n, 'counters carry over');
  rt.stop();
  g3.remove();
  t.equal(rt.poolStats().available, rt.poolStats().capacity, 'every buffer back in the pool');
});
