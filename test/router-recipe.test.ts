// The router builder (src/recipes/router.ts) without root: descriptions compile into the
// expected graph (lookup tables with local, connected, reserved, static and no-route entries;
// per-interface elements with the right addresses, MACs and MTUs; every port connected), the
// DOT drawing names them, and bad descriptions are refused with messages naming the interface,
// field or route. With `nat`: the IPRewriter and its helpers sit where they must on the outside
// interface's paths (see the order argued in src/recipes/router.ts), and bad NAT fields are
// refused by name.
import t from 'tap';
import { compile, toDot, ipRouter, graph, buildRouter, type RouterDescription, type Plan } from 'pktgraph';
import { shownConfig } from '../src/runtime/runtime.js';
import dualStack from '../configs/router-dual-stack.js';
import ipv4Router from '../configs/router-ipv4.js';
import natRouter from '../configs/router-nat.js';

const el = (plan: Plan, name: string) => {
  const e = plan.elements.find((x) => x.name === name);
  if (!e) throw new Error(`no element '${name}' in the plan`);
  return { ...e, config: shownConfig(plan, e) }; // addresses as text, as the config handler shows them
};
const build = (d: RouterDescription) => compile(graph('r', () => void buildRouter(d)));

t.test('a dual-stack description compiles into the router graph', async (t) => {
  const plan = compile(dualStack, { params: { dev0: 'nosuch0', dev1: 'nosuch1', dev2: 'nosuch2', mtu2: 1280 } });
  const rt = el(plan, 'rt').config.routes as string[];
  t.same(
    rt.slice(0, 3),
    ['198.18.1.254/32 0', '198.18.2.254/32 0', '198.18.3.254/32 0'],
    "the router's own addresses go to local delivery (output 0)",
  );
  t.ok(rt.includes('198.18.1.0/24 1') && rt.includes('198.18.3.0/24 3'), 'connected networks go to their interface (output i + 1)');
  t.ok(rt.includes('198.18.1.255/32 5') && rt.includes('224.0.0.0/4 5') && rt.includes('127.0.0.0/8 5'), 'broadcast, multicast and loopback to the martians output');
  t.ok(rt.includes('default 4'), 'no default route: the rest is unreachable (output N + 1)');
  t.ok(rt.includes('198.18.100.0/24 via 198.18.3.1 dev 3'), 'the static route resolved to the interface of its gateway');
  const rt6 = el(plan, 'rt6').config.routes as string[];
  t.ok(rt6.includes('fd00:1::fe/128 0') && rt6.includes('fd00:3::/64 3'), 'IPv6: own addresses and connected networks');
  t.ok(rt6.includes('fd00:100::/64 via fd00:3::1 dev 3') && rt6.includes('ff00::/8 5') && rt6.includes('default 4'), 'IPv6: static, multicast and no-route entries');
  t.equal(el(plan, 'if2_frag').config.mtu, 1280, "an interface's MTU sets its IPFragmenter");
  t.equal(el(plan, 'if2_mtu6').config.length, 1280, '... and its IPv6 length check');
  t.equal(el(plan, 'if2_needfrag').config.mtu, 1280, '... and the fragmentation-needed error');
  t.equal(el(plan, 'if0_fixsrc').config.address, '198.18.1.254', 'FixIPSrc gives errors the outgoing interface address');
  t.same(el(plan, 'if1_gwopt').config.otherAddresses, ['198.18.1.254', '198.18.3.254'], "IPGWOptions knows the router's other addresses");
  const mac = el(plan, 'if0_arpq').config.mac as string;
  t.match(mac, /^02:70:67:/, 'a device not present here gets a locally administered MAC');
  t.equal(el(plan, 'if0_rx').config.promisc, true, '... and its FromDevice is promiscuous, behind HostEtherFilter');
  t.equal(el(plan, 'if0_hostfilter').config.mac, mac, 'HostEtherFilter keeps frames for that MAC');
  t.same(el(plan, 'if0_arpr').config.entries, [`198.18.1.254 ${mac}`], 'ARPResponder answers for the interface address');
  t.same(el(plan, 'if0_ndadv').config.entries, [`fd00:1::fe ${mac}`], 'IP6NDAdvertiser too');
  // Each ICMPv6 time exceeded by input interface: its own address.
  t.equal(el(plan, 'if1_timeexceeded6').config.src, 'fd00:2::fe', 'ICMPv6 errors from the address of the interface the packet came in by');
  const dot = toDot(plan);
  t.match(dot, /"if0_check" \[label="if0_check\\n:: CheckIPHeader"\]/, 'the drawing names the elements');
  t.ok((dot.match(/->/g) ?? []).length === plan.connections.length, 'and draws every connection');

  const plan4 = compile(ipv4Router, { params: { dev0: 'nosuch0', dev1: 'nosuch1', dev2: 'nosuch2', mtu2: 1000 } });
  t.notOk(plan4.elements.some((e) => e.name === 'rt6' || e.class === 'IP6NDSolicitor'), 'the IPv4 router has no IPv6 elements');
  t.same(el(plan4, 'if0_classify').config.patterns, ['12/0806 20/0001', '12/0806 20/0002', '12/0800', '-'], 'its classifier: ARP request, ARP reply, IPv4, other');
});

t.test('options: a default route, a given MAC, unchecked checksums, a rate limit', async (t) => {
  const plan = build({
    interfaces: [
      { device: 'a0', ipv4: '198.18.1.1/24', mac: '02:00:00:00:00:0A', name: 'up' },
      { device: 'a1', ipv4: '198.18.2.1/30' },
    ],
    routes: ['default via 198.18.1.2'],
    options: { checksum: false, icmpRateLimit: 7 },
  });
  const rt = el(plan, 'rt').config.routes as string[];
  t.ok(rt.includes('default via 198.18.1.2 dev 1'), 'the default route goes to its gateway');
  t.notOk(rt.includes('default 3'), '... and replaces the unreachable default');
  t.equal(el(plan, 'up_arpq').config.mac, '02:00:00:00:00:0a', 'a given MAC is used (lower case)');
  t.equal(el(plan, 'up_check').config.checksum, false, 'checksum: false reaches CheckIPHeader');
  t.equal(el(plan, 'up_timeexceeded').config.rateLimit, 7, 'icmpRateLimit reaches the ICMP errors');
  t.ok(rt.includes('198.18.2.0/32 4') && rt.includes('198.18.2.3/32 4'), 'a /30: network and broadcast addresses are martians');
});

t.test('bad descriptions are refused, naming what is wrong', async (t) => {
  const bad: [RouterDescription, RegExp, string][] = [
    [{ interfaces: [] }, /at least one interface/, 'no interfaces'],
    [{ interfaces: [{ device: 'a' }] }, /interface 0 \(a\): give an ipv4 or an ipv6/, 'no address'],
    [{ interfaces: [{ device: 'a', ipv4: '198.18.1.1' }] }, /interface 0 \(a\) ipv4: '198.18.1.1' is not an IPv4 address with a prefix length/, 'no prefix length'],
    [{ interfaces: [{ device: 'a', ipv4: '198.18.1.0/24' }] }, /network address; give a host address/, 'the network address'],
    [{ interfaces: [{ device: 'a', ipv6: 'fd00::1/64', mtu: 1000 }] }, /below IPv6's minimum 1280/, 'IPv6 below 1280'],
    [{ interfaces: [{ device: 'a', ipv4: '198.18.1.1/24' }, { device: 'a', ipv4: '198.18.2.1/24' }] }, /device 'a' is used twice/, 'one device twice'],
    [{ interfaces: [{ device: 'a', ipv4: '198.18.1.1/24' }], routes: ['198.18.5.0/24 via 198.18.9.1'] }, /gateway 198\.18\.9\.1 is not in a connected network \(198\.18\.1\.0\/24\)/, 'unreachable gateway'],
    [{ interfaces: [{ device: 'a', ipv4: '198.18.1.1/24' }], routes: ['198.18.5.0/24 198.18.1.2'] }, /expected 'PREFIX via GATEWAY'/, 'route syntax'],
    [{ interfaces: [{ device: 'a', ipv4: '198.18.1.1/24' }], routes: ['198.18.1.0/24 via 198.18.1.2'] }, /already a connected network/, 'a static route over a connected network'],
    [{ interfaces: [{ device: 'a', ipv4: '198.18.1.1/24' }], routes: ['198.18.5.1/24 via 198.18.1.2'] }, /bits set beyond its length/, 'a prefix with host bits (IPLookup refuses it)'],
  ];
  for (const [d, re, what] of bad) t.throws(() => build(d), re, what);
});

t.test('ipRouter passes graph params to the description', async (t) => {
  const def = ipRouter({ name: 'p', params: { dev: 'x0', mtu: 1500 } }, (p) => ({ interfaces: [{ device: p.dev, ipv4: '198.18.1.1/24', mtu: p.mtu }] }));
  const plan = compile(def, { params: { dev: 'y7', mtu: 900 } });
  t.equal(el(plan, 'if0_rx').config.device, 'y7', 'the device param');
  t.equal(el(plan, 'if0_frag').config.mtu, 900, 'the mtu param');
});

t.test('nat: the IPRewriter sits on the outside interface paths', async (t) => {
  const plan = compile(natRouter, { params: { dev0: 'nosuch0', dev1: 'nosuch1', dev2: 'nosuch2' } });
  const links = new Set(plan.connections.map((c) => `${c.from}[${c.fromPort}] -> [${c.toPort}]${c.to}`));
  const linked = (from: string, fromPort: number, to: string, toPort = 0) => links.has(`${from}[${fromPort}] -> [${toPort}]${to}`);
  const nat = el(plan, 'nat');
  t.equal(nat.class, 'IPRewriter', 'one IPRewriter named nat');
  t.same(
    nat.config.inputs,
    [
      { kind: 'snat', address: 3323134206, ports: '1024-65535', preservePort: true, forward: 0, reply: 1, pass: 3 },
      { kind: 'dnat', rules: [{ proto: 'tcp', port: 8080, to: 3323068673, toPort: 80, address: 3323134206 }], forward: 1, reply: 0, pass: 2 },
    ],
    "source NAT to the outside interface's address (198.19.0.254, typed in the plan); the port forward (to 198.18.1.1) on that address",
  );
  // Outside input: checked, reassembled, then nat[1]; nothing from there straight into rt.
  t.ok(linked('up_check', 0, 'nat_reass_in') && linked('nat_reass_in', 0, 'nat', 1), 'outside input: CheckIPHeader -> IPReassembler -> nat[1]');
  t.notOk(plan.elements.some((e) => e.name === 'up_getaddr'), 'no direct path from the outside into rt');
  t.ok(linked('nat', 1, 'nat_getaddr') && linked('nat_getaddr', 0, 'rt'), 'translated inbound packets: GetIPAddress -> rt');
  t.ok(linked('nat', 2, 'nat_local') && linked('nat_local', 0, 'nat_getaddr') && linked('nat_local', 1, 'nat_unsolicited'), "untranslated inbound: only the router's addresses reach rt");
  t.same(el(plan, 'nat_local').config.patterns, ['ip and (dst host 198.18.1.254 or dst host 198.18.2.254 or dst host 198.19.0.254)', '-'], "... all of the router's addresses");
  // Outside output: TTL before the NAT, fragmenter after.
  t.ok(linked('rt', 3, 'up_gwopt') && linked('up_fixsrc', 0, 'up_ttl') && linked('up_ttl', 0, 'nat_reass_out') && linked('nat_reass_out', 0, 'nat', 0), 'outside output: ... FixIPSrc -> DecIPTTL -> IPReassembler -> nat[0]');
  t.ok(linked('nat', 0, 'up_frag') && linked('up_frag', 0, 'up_arpq'), 'nat[0] -> IPFragmenter -> ARPQuerier');
  t.ok(linked('nat', 3, 'nat_own') && linked('nat_own', 0, 'up_frag') && linked('nat_own', 1, 'nat_unmapped'), "unmappable: the router's own packets leave, inside hosts' are dropped");
  t.ok(linked('up_ttl', 1, 'up_timeexceeded') && linked('up_timeexceeded', 0, 'rt'), 'time exceeded before the NAT: straight back to rt');
  t.ok(linked('up_needfrag', 0, 'nat', 1), 'fragmentation needed quotes the translated packet: through nat[1]');
  t.ok(linked('if0_needfrag', 0, 'rt') && linked('if0_check', 0, 'if0_getaddr') && linked('if0_ttl', 0, 'if0_frag'), 'inside interfaces are unchanged');
  const nConn = plan.connections.length;
  const plain = compile(ipRouter({ name: 'plain' }, () => ({ interfaces: [{ device: 'a', ipv4: '198.18.1.254/24' }, { device: 'b', ipv4: '198.19.0.254/24' }] })));
  t.ok(!plain.elements.some((e) => e.class === 'IPRewriter' || e.class === 'IPReassembler'), 'without nat: no NAT elements');
  t.ok(nConn > plain.connections.length, 'every NAT element connected (the compiler checks every port)');

  // Another NAT address: answered by ARP, delivered locally, used by the snat and the forwards.
  const other = build({
    interfaces: [
      { device: 'a0', ipv4: '198.18.1.254/24' },
      { device: 'a1', ipv4: '198.19.0.254/24' },
    ],
    nat: { outside: 'a1', address: '198.19.0.9', ports: '20000-29999', forwards: [{ proto: 'udp', port: 53, to: '198.18.1.5' }], timeouts: { udp: 30, tcp: 600 }, capacity: 1000 },
  });
  const o = el(other, 'nat').config;
  t.match(o, { capacity: 1000, udpTimeout: 30, tcpTimeout: 600 }, 'timeouts and capacity reach the IPRewriter');
  t.match((o.inputs as unknown[])[0], { kind: 'snat', address: 3323133961, ports: '20000-29999' }, 'the given address (198.19.0.9) and ports');
  t.match((o.inputs as unknown[])[1], { rules: [{ proto: 'udp', port: 53, to: 3323068677, toPort: 53, address: 3323133961 }] }, "a forward without a port keeps the public one");
  t.ok((el(other, 'rt').config.routes as string[]).includes('198.19.0.9/32 0'), "the NAT address is one of the router's (local delivery)");
  t.match(el(other, 'if1_arpr').config.entries, [/^198\.19\.0\.254 /, /^198\.19\.0\.9 /], 'ARP answers for it on the outside');
  const noFwd = build({ interfaces: [{ device: 'a0', ipv4: '198.18.1.254/24', ipv6: 'fd00:1::fe/64' }, { device: 'a1', ipv4: '198.19.0.254/24', ipv6: 'fd00:2::fe/64' }], nat: { outside: 'if1' } });
  t.same((el(noFwd, 'nat').config.inputs as unknown[])[1], { kind: 'pass', output: 2 }, 'no forwards: everything unmapped from outside goes to output 2');
  t.ok(noFwd.connections.some((c) => c.from === 'if1_check6' && c.to === 'rt6'), 'IPv6 on the outside interface is routed without translation');
});

t.test('bad nat fields are refused, naming the field', async (t) => {
  const ifs = [
    { device: 'a0', ipv4: '198.18.1.254/24' },
    { device: 'a1', ipv4: '198.19.0.254/24' },
    { device: 'a2', ipv6: 'fd00::1/64' },
  ];
  const bad: [RouterDescription['nat'], RegExp, string][] = [
    [{ outside: 'eth9' }, /nat\.outside: 'eth9' is no interface's name or device; one of if0 \(a0\), if1 \(a1\), if2 \(a2\)/, 'an unknown interface'],
    [{ outside: '' }, /nat\.outside: give the outside interface's name or device/, 'no outside'],
    [{ outside: 'a2' }, /nat\.outside: interface if2 \(a2\) has no ipv4 address/, 'an IPv6-only outside'],
    [{ outside: 'if1', address: '198.19.0.300' }, /nat\.address: '198\.19\.0\.300' is not an IPv4 address/, 'a bad address'],
    [{ outside: 'if1', address: '198.18.1.7' }, /nat\.address: .* inside interface if0's network/, 'an inside address'],
    [{ outside: 'if1', ports: '2000-1000' }, /nat\.ports: '2000-1000' is not 'LOW-HIGH'/, 'a bad port range'],
    [{ outside: 'if1', forwards: [{ proto: 'icmp' as 'tcp', port: 1, to: '198.18.1.1' }] }, /nat\.forwards\[0\]\.proto/, 'a bad forward protocol'],
    [{ outside: 'if1', forwards: [{ proto: 'tcp', port: 70000, to: '198.18.1.1' }] }, /nat\.forwards\[0\]\.port: 70000/, 'a bad forward port'],
    [{ outside: 'if1', forwards: [{ proto: 'tcp', port: 80, to: '198.18.1.1:x' }] }, /nat\.forwards\[0\]\.to: '198\.18\.1\.1:x' is not 'ADDRESS:PORT'/, 'a bad forward target'],
    [{ outside: 'if1', forwards: [{ proto: 'tcp', port: 80, to: '198.19.0.5:80' }] }, /nat\.forwards\[0\]\.to: 198\.19\.0\.5 lies in the outside network/, 'a forward to the outside'],
    [{ outside: 'if1', forwards: [{ proto: 'tcp', port: 80, to: '198.18.1.1' }, { proto: 'tcp', port: 80, to: '198.18.1.2' }] }, /nat\.forwards\[1\]: tcp port 80 is forwarded twice/, 'a port forwarded twice'],
    [{ outside: 'if1', timeouts: { udp: -1 } }, /nat\.timeouts\.udp: -1/, 'a negative timeout'],
    [{ outside: 'if1', timeouts: { sctp: 5 } as Record<string, number> }, /nat\.timeouts\.sctp: unknown timeout/, 'an unknown timeout'],
    [{ outside: 'if1', inside: 'if0' } as unknown as RouterDescription['nat'], /nat\.inside: unknown field/, 'an unknown field'],
  ];
  for (const [nat, re, what] of bad) t.throws(() => build({ interfaces: ifs, nat }), re, what);
  t.throws(() => build({ interfaces: [{ device: 'a0', ipv4: '198.18.1.254/24' }], nat: { outside: 'a0' } }), /nat\.outside: if0 is the only IPv4 interface/, 'no inside interface');
});
