// VLANSwitch: frames from pcap files enter its ports one input at a time (each FromPcap
// starts paused and is switched on in turn), each output is written to a pcap file, and the
// test reads back what left each port, byte for byte where tags matter. Checks access and
// trunk ports (tagging, native VLAN, VLANs a port does not carry), per-VLAN learning and
// flooding, the mirror (in and out copies), ACLs in and out (on a trunk they see the tag, as
// tcpdump on that link would), the handlers, compile-time errors, and that every buffer returns
// to the pool. Needs no root.
import t, { type Test } from 'tap';
import { graph, compile, FromPcap, ToPcap, VLANSwitch } from 'pktgraph';
import { pcapSwitch, frame, A, B, C, D, E, BCAST, type PcapSwitch } from './lib/pcapswitch.js';
import { ether, ipv4, udp, tcp, icmp4, PROTO_UDP, PROTO_TCP, PROTO_ICMP, ETH_IPV4 } from './lib/packets.js';

/** The label and the VLAN tag (TCI, or undefined) of a frame that left the switch. */
function seen(b: Buffer): string {
  const tagged = b.readUInt16BE(12) === 0x8100;
  const label = b.subarray(tagged ? 18 : 14).toString().replace(/\.+$/, '').replace(/[^\x20-\x7e]/g, '');
  return tagged ? `${label}@${b.readUInt16BE(14).toString(16)}` : label;
}
function ipFrame(src: string, dst: string, proto: number, vlan?: number): Buffer {
  const payload = proto === PROTO_UDP ? udp({ sport: 1000, dport: 53, src: '10.0.0.1', dst: '10.0.0.2' })
    : proto === PROTO_TCP ? tcp({ sport: 1000, dport: 23, src: '10.0.0.1', dst: '10.0.0.2' })
    : icmp4({ type: 8 });
  return ether({ src, dst, vlan, type: ETH_IPV4, minLength: 60, payload: ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto, payload }) });
}

interface Sw extends PcapSwitch {}

/** The switch between pcap files; finish() also checks every buffer came back. */
function makeSwitch(t: Test, name: string, config: Parameters<typeof VLANSwitch>[0], inputs: Buffer[][]): Sw {
  const s = pcapSwitch(t, name, inputs, () => VLANSwitch(config, 'sw'));
  return {
    ...s,
    finish() {
      const out = s.finish();
      t.equal(s.rt.poolStats().available, s.rt.poolStats().capacity, 'every buffer (originals and copies) back in the pool');
      return out;
    },
  };
}

t.test('access and trunk ports: per-VLAN flooding and learning, tags in and out', async (t) => {
  const s = makeSwitch(
    t,
    'vsw-trunk',
    { ports: [{ vlan: 10 }, { vlan: 20 }, { mode: 'trunk', allowed: [10, 20, 30], nativeVlan: 30 }, { vlan: 10 }] },
    [
      // port 0 (access 10): A broadcasts; a tagged frame is refused; later A -> D; a short frame
      [frame(A, BCAST, 'a-bcast'), frame(A, D, 'a-tagged', 10), frame(A, D, 'a-d'), Buffer.alloc(13, 1)],
      // port 1 (access 20): B broadcasts
      [frame(B, BCAST, 'b-bcast')],
      // port 2 (trunk): D in VLAN 10 (priority 5) to A; D in VLAN 20 to A (unknown there);
      // untagged (native 30, no other port); VLAN 40 (not allowed); VLAN 30 tagged (native: untagged only)
      [frame(D, A, 'd-a', 0xa00a), frame(D, A, 'd-a-20', 20), frame(E, BCAST, 'e-native'), frame(E, BCAST, 'e-40', 40), frame(E, BCAST, 'e-30', 30)],
      // port 3 (access 10): C to A
      [frame(C, A, 'c-a')],
    ],
  );
  await s.play(2, 5); // A unknown: d-a floods VLAN 10, d-a-20 VLAN 20
  await s.play(0, 4); // D known in VLAN 10 on the trunk by now: a-d goes there only
  await s.play(1, 1);
  await s.play(3, 1);
  const rows = s.g.read('sw', 'table').trim().split('\n').map((l) => l.split(' ').slice(0, 3).join(' '));
  t.same(rows, [`${A} 10 0`, `${B} 20 1`, `${C} 10 3`, `${D} 10 2`, `${D} 20 2`, `${E} 30 2`],
    'the table: MAC VLAN port; D learned in both VLANs on the trunk, E in the native VLAN');
  const c = s.g.counters('sw');
  t.equal(c.drops_vlan, 3n, 'a tagged frame on an access port, VLAN 40 and tagged native VLAN 30 on the trunk');
  t.equal(c.drops_flood_none, 1n, 'the native-VLAN broadcast had no other port');
  t.equal(c.drops_short, 1n);
  t.equal(c.flooded, 4n, 'd-a, d-a-20 (A unknown), a-bcast, b-bcast');
  t.equal(c.forwarded, 2n, 'a-d and c-a');
  const out = s.finish().map((frames) => frames.map(seen));
  t.same(out[0], ['d-a', 'c-a'], 'port 0 (access 10) gets VLAN 10 frames untagged');
  t.same(out[1], ['d-a-20'], 'port 1 (access 20) gets only the VLAN 20 flood, untagged; never VLAN 10');
  t.same(out[2], ['a-bcast@a', 'a-d@a', 'b-bcast@14'], 'the trunk gets both VLANs tagged (a-d unicast to D in VLAN 10)');
  t.same(out[3], ['d-a', 'a-bcast'], 'port 3 (access 10) gets the VLAN 10 floods, not VLAN 20');
});

t.test('the priority bits of an arriving tag are kept, and a native VLAN leaves untagged', async (t) => {
  const s = makeSwitch(
    t,
    'vsw-pcp',
    { ports: [{ mode: 'trunk', allowed: [10], nativeVlan: 1 }, { mode: 'trunk', allowed: [10, 1], nativeVlan: 1 }] },
    [[frame(A, B, 'pcp', 0xa00a), frame(A, B, 'native')], []],
  );
  await s.play(0, 2);
  const out = s.finish();
  t.same(out[1].map(seen), ['pcp@a00a', 'native'], 'PCP 5 kept on VLAN 10; the native VLAN untagged both ways');
  t.same(out[1][0], frame(A, B, 'pcp', 0xa00a), 'the tagged frame leaves byte for byte as it came');
});

t.test('mirror (in and out copies) and ACLs in and out, with the handlers', async (t) => {
  const udpAB = ipFrame(A, B, PROTO_UDP);
  const telnet = ipFrame(A, B, PROTO_TCP);
  const ping = ipFrame(A, B, PROTO_ICMP);
  const udpBA = ipFrame(B, A, PROTO_UDP);
  const s = makeSwitch(
    t,
    'vsw-mirror',
    {
      ports: [{ aclIn: ['deny tcp dst port 23', 'allow all'] }, { aclOut: ['deny icmp', 'allow all'] }, {}],
      mirror: { port: 2, sources: [0], direction: 'both' },
    },
    [[udpAB, telnet, ping], [udpBA], [frame(E, BCAST, 'to-mirror')]],
  );
  t.equal(s.g.read('sw', 'vlans'), '0 access 1\n1 access 1\n2 mirror\n');
  t.equal(s.g.read('sw', 'mirror'), '2 0 both\n');
  await s.play(0, 3);
  await s.play(1, 1);
  await s.play(2, 1);
  const c = s.g.counters('sw');
  t.equal(c.drops_acl_in, 1n, "port 0's aclIn dropped the telnet segment");
  t.equal(c.drops_acl_out, 1n, "port 1's aclOut dropped the ping");
  t.equal(c.mirrored, 4n, 'three copies in from port 0, one out to it');
  t.equal(c.drops_mirror_port, 1n, 'a frame arriving on the mirror port is dropped');

  // Handlers: bad writes are refused with a sentence and change nothing.
  t.throws(() => s.g.write('sw', 'port', '2 access 10'), /mirror port/, 'the mirror port cannot be reconfigured while it mirrors');
  t.throws(() => s.g.write('sw', 'port', '1 trunk 5000'), /not a VLAN/);
  t.throws(() => s.g.write('sw', 'port', '7 access 1'), /write 'N access VLAN'/);
  t.throws(() => s.g.write('sw', 'mirror', '2 2 both'), /not a port other than the mirror port/);
  t.equal(s.g.read('sw', 'vlans'), '0 access 1\n1 access 1\n2 mirror\n', 'nothing changed');
  s.g.write('sw', 'mirror', 'off');
  s.g.write('sw', 'port', '1 trunk 1,5 native 1');
  s.g.write('sw', 'port', '2 trunk all');
  t.equal(s.g.read('sw', 'vlans'), '0 access 1\n1 trunk 5 native 1\n2 trunk all\n', 'ports changed through the handler');
  t.equal(s.g.read('sw', 'mirror'), 'off\n');
  const out = s.finish();
  t.same(out[1], [udpAB], 'port 1 got the UDP datagram only');
  t.same(out[0], [udpBA], 'port 0 got the reply');
  t.same(out[2], [udpAB, telnet, ping, udpBA], 'the mirror got what arrived on port 0 (before its ACL) and what left by it');
});

t.test('an ACL on a trunk sees the tag, as tcpdump on that link', async (t) => {
  const ok = ipFrame(A, B, PROTO_UDP, 10);
  const s = makeSwitch(t, 'vsw-trunk-acl', { ports: [{ mode: 'trunk', allowed: [10], aclIn: ['allow vlan 10 and udp', 'deny all'] }, { vlan: 10 }] }, [
    [ok, ipFrame(A, B, PROTO_TCP, 10)],
    [],
  ]);
  await s.play(0, 2);
  t.equal(s.g.counter('sw', 'drops_acl_in'), 1n, 'the TCP segment matched no allow rule');
  const out = s.finish();
  t.equal(out[1].length, 1);
  t.same(out[1][0], Buffer.concat([ok.subarray(0, 12), ok.subarray(16)]), 'the UDP datagram left the access port untagged');
});

t.test('a full table counts what it cannot learn; frames are still switched', async (t) => {
  const s = makeSwitch(t, 'vsw-full', { ports: [{}, {}], capacity: 1 }, [[frame(A, BCAST, 'a'), frame(C, BCAST, 'c')], [frame(B, A, 'b-a')]]);
  await s.play(0, 2);
  await s.play(1, 1);
  t.equal(s.g.counter('sw', 'table_full'), 2n, 'C and B not learned');
  const out = s.finish().map((f) => f.map(seen));
  t.same(out[0], ['b-a'], 'b-a reached A, learned first');
  t.same(out[1], ['a', 'c']);
});

t.test('bad graphs are refused before anything runs, naming the field', async (t) => {
  const build = (config: Parameters<typeof VLANSwitch>[0], n = 2) =>
    compile(
      graph('bad', () => {
        const sw = VLANSwitch(config, 'sw');
        for (let i = 0; i < n; i++) FromPcap({ file: '/dev/null' }, `s${i}`).to(sw.in(i)).out(0);
        for (let i = 0; i < n; i++) sw.out(i).to(ToPcap({ file: '/dev/null' }, `o${i}`));
      }),
    );
  t.throws(() => build({ ports: [{}] }), /'ports' describes 1 port\(s\) but 2 are connected/);
  t.throws(() => build({ ports: [{ aclIn: ['allow tcp dst port'] }, {}] }), /ports\[0\]\.aclIn: rule 0/);
  t.throws(() => build({ ports: [{ aclOut: ['1 udp'] }, {}] }), /ports\[0\]\.aclOut/);
  t.throws(() => build({ ports: [{}, {}], mirror: { port: 5, sources: [0] } }), /mirror\.port 5 is not a port/);
  t.throws(() => build({ ports: [{}, {}], mirror: { port: 1, sources: [1] } }), /mirror port itself/);
  t.throws(() => build({ ports: [{ vlan: 10, allowed: [10] }, {}] }), /ports\[0\] is an access port/);
  t.throws(() => build({ ports: [{ vlan: 5000 }, {}] }), /vlan/);
});

t.test('learned entries carry over a hot reconfiguration, except where the port no longer carries the VLAN', async (t) => {
  const s = pcapSwitch(t, 'vsw-swap', [[frame(A, BCAST, 'a')], [frame(B, BCAST, 'b')]], () => VLANSwitch({ ports: [{ vlan: 5 }, { vlan: 5 }] }, 'sw'));
  await s.play(0, 1);
  await s.play(1, 1);
  t.same(s.g.read('sw', 'table').trim().split('\n').map((l) => l.split(' ').slice(0, 3).join(' ')), [`${A} 5 0`, `${B} 5 1`]);
  const g2 = s.replace(() => VLANSwitch({ ports: [{ vlan: 6 }, { mode: 'trunk', allowed: [5] }] }, 'sw'));
  t.same(g2.read('sw', 'table').trim().split('\n').map((l) => l.split(' ').slice(0, 3).join(' ')), [`${B} 5 1`], "B kept (its port is a trunk carrying VLAN 5); A dropped (its port is now VLAN 6)");
  t.equal(g2.counter('sw', 'flooded'), 2n, 'counters carry over');
  s.finish();
});
