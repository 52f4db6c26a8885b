// The routers of configs/router-dual-stack.ts and configs/router-ipv4.ts on real interfaces:
// three namespaces h1, h2, h3 on their own subnets (as configs/lab-router.json, with a random
// lab id), each routing through the engine. Through the dual-stack router: ping and ping6
// between the hosts and to the router, a static route, Record Route filled in (ping -R),
// traceroute (or ping -t 1) showing the router's time exceeded, ICMPv6 time exceeded, an
// unrouted network in 198.18.0.0/15 answered with Destination Net Unreachable, and malformed
// IPv4 and IPv6 packets of each kind, injected from h1 with a raw AF_PACKET socket while a ping
// runs, dropped and counted by reason in the router's CheckIPHeader/CheckIP6Header while the
// ping succeeds, and well-formed IPv4 sent to the link-level broadcast and a multicast address
// dropped by DropBroadcasts (after Strip, by FromDevice's packet-type annotation); h3's link at MTU 1280 makes a big ping6 get Packet too big. Through the IPv4 router with h3's link at MTU 1000: a big ping without DF is
// fragmented and answered, and one with DF gets "Frag needed ... mtu = 1000". Needs root and
// network namespaces; skips with the reason otherwise.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile, Runtime, type RunningGraph, type Plan } from 'pktgraph';
import { createLab, labAvailable, labObjects, type Lab, type Topology } from '../src/lab/index.js';
import { shownConfig } from '../src/runtime/runtime.js';
import { ping, pingSummary, hasPing } from './lib/labtools.js';
import dualStack from '../configs/router-dual-stack.js';
import ipv4Router from '../configs/router-ipv4.js';
import { spawnSync } from 'node:child_process';

const hasTraceroute = spawnSync('traceroute', ['--version'], { stdio: 'ignore' }).status === 0;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// From h1: raw frames to the router's MAC, `count` of each malformed kind, 20 ms apart.
const PY_INJECT = `
import socket, struct, sys, time
ifname, dst, count = sys.argv[1], bytes.fromhex(sys.argv[2].replace(':', '')), int(sys.argv[3])
src = bytes.fromhex(open('/sys/class/net/%s/address' % ifname).read().strip().replace(':', ''))
def csum(b):
    if len(b) % 2: b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
def ip4(first=0x45, total=None, sum_ok=True, s='198.18.1.1', d='198.18.2.1', payload=b'\\0' * 8 + b'malformed'):
    total = 20 + len(payload) if total is None else total
    h = struct.pack('!BBHHHBBH4s4s', first, 0, total, 1, 0, 64, 17, 0, socket.inet_aton(s), socket.inet_aton(d))
    c = csum(h) if sum_ok else (csum(h) ^ 0x5555)
    return h[:10] + struct.pack('!H', c) + h[12:] + payload
def ip6(first=0x60, plen=None, payload=b'\\0' * 8 + b'malformed'):
    plen = len(payload) if plen is None else plen
    return struct.pack('!BBHHBB', first, 0, 0, plen, 17, 64) + socket.inet_pton(socket.AF_INET6, 'fd00:1::1') + socket.inet_pton(socket.AF_INET6, 'fd00:2::1') + payload
kinds = [
    (0x0800, ip4(first=0x55)),                  # version 5
    (0x0800, ip4(first=0x44)),                  # IHL 4
    (0x0800, ip4(total=1400)),                  # total length past the packet
    (0x0800, ip4(sum_ok=False)),                # header checksum wrong
    (0x0800, ip4()[:10]),                       # truncated: 10 bytes of header
    (0x0800, ip4(s='255.255.255.255')),         # broadcast source
    (0x0800, ip4(s='224.0.0.5')),               # multicast source
    (0x86dd, ip6(first=0x40)),                  # IPv6 version 4
    (0x86dd, ip6(plen=600)),                    # payload length past the packet
    (0x86dd, ip6()[:30]),                       # truncated IPv6 header
]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind((ifname, 0))
# Well-formed IPv4 sent as link-level broadcast and multicast: DropBroadcasts drops them.
group = [bytes.fromhex('ffffffffffff'), bytes.fromhex('01005e000005')]
for i in range(count):
    for typ, body in kinds:
        s.send(dst + src + struct.pack('!H', typ) + body)
    for g in group:
        s.send(g + src + struct.pack('!H', 0x0800) + ip4())
    time.sleep(0.02)
print('sent', count * (len(kinds) + len(group)), flush=True)
`;

function topology(): Topology {
  const here = dirname(fileURLToPath(import.meta.url));
  const t = JSON.parse(readFileSync(join(here, '..', 'configs', 'lab-router.json'), 'utf8')) as Topology & { id?: string };
  delete t.id; // a random id, so the test never meets a lab someone brought up by hand
  return t;
}

// Addresses as text, as the config handler shows them (the plan holds them typed).
const configOf = (plan: Plan, name: string) => {
  const e = plan.elements.find((x) => x.name === name);
  return e && shownConfig(plan, e);
};

function main() {
  t.test('the dual-stack and IPv4 routers between three namespaces', async (t) => {
    const lab: Lab = createLab(topology());
    const rt = new Runtime({ threads: 2, poolBuffers: 8192 });
    let g: RunningGraph | undefined;
    t.teardown(() => {
      rt.close();
      lab.destroy();
    });
    const devs = { dev0: lab.link(0).b, dev1: lab.link(1).b, dev2: lab.link(2).b };
    const run = (host: string, args: string[], timeoutMs = 15_000) => lab.exec(host, args, { timeoutMs });

    // ---------------- the dual-stack router ----------------
    const plan = compile(dualStack, { params: { ...devs, mtu2: 1280 } });
    t.same(
      plan.elements.filter((e) => e.class === 'FromDevice').map((e) => e.config.device),
      [devs.dev0, devs.dev1, devs.dev2],
      'configs/router-dual-stack.ts compiled with the lab devices as params',
    );
    g = rt.load(plan);
    rt.start();

    for (const [from, to] of [
      ['h1', '198.18.2.1'],
      ['h2', '198.18.3.1'],
      ['h3', '198.18.1.1'],
      ['h1', 'fd00:2::1'],
      ['h3', 'fd00:1::1'],
      ['h2', '198.18.2.254'],
      ['h2', '198.18.1.254'],
      ['h1', 'fd00:1::fe'],
    ]) {
      const r = await ping(lab, from, to);
      t.equal(r.code, 0, `ping ${from} -> ${to} through the router: ${pingSummary(r)}`);
    }
    t.ok(g.allCounters().ping.replies >= 6n, 'the router answered the pings to its own addresses');

    // A static route: 198.18.100.0/24 via h3.
    const addr = await run('h3', ['ip', 'addr', 'add', '198.18.100.1/32', 'dev', 'lo']);
    t.equal(addr.code, 0, `h3 got 198.18.100.1 ${addr.stderr}`);
    const viaStatic = await ping(lab, 'h1', '198.18.100.1');
    t.equal(viaStatic.code, 0, `ping h1 -> 198.18.100.1 over the static route: ${pingSummary(viaStatic)}`);

    if (!hasPing) {
      t.skip('the ICMP error messages need iputils ping (scripts/ensure-test-tools.sh installs it)', () => {});
    } else {
      // Record Route: the router writes its address on each interface a packet leaves by.
      const rr = await run('h1', ['ping', '-c', '1', '-W', '2', '-R', '198.18.2.1']);
      t.equal(rr.code, 0, 'ping -R through the router');
      t.match(rr.stdout, /198\.18\.2\.254/, `Record Route holds the router's address towards h2:\n${rr.stdout}`);
      t.match(rr.stdout, /198\.18\.1\.254/, "... and its address towards h1 (the reply's way back)");
      t.ok(g.allCounters().if1_gwopt.rewritten >= 1n, 'counted in if1_gwopt.rewritten');

      // Time exceeded, from the router's address on h1's side.
      if (hasTraceroute) {
        const tr = await run('h1', ['traceroute', '-n', '-q', '1', '-w', '2', '-m', '4', '198.18.2.1'], 30_000);
        t.equal(tr.code, 0, `traceroute ran ${tr.stderr}`);
        t.match(tr.stdout, /^\s*1\s+198\.18\.1\.254\s/m, `traceroute: hop 1 is the router (its time exceeded):\n${tr.stdout}`);
        t.match(tr.stdout, /^\s*2\s+198\.18\.2\.1\s/m, 'traceroute: hop 2 is h2');
      } else {
        t.comment('traceroute is not installed (Debian package traceroute); checking time exceeded with ping -t 1');
      }
      const te = await run('h1', ['ping', '-c', '1', '-W', '2', '-t', '1', '198.18.3.1']);
      t.match(te.stdout, /From 198\.18\.1\.254 .*Time to live exceeded/, `ping -t 1: Time to live exceeded from the router:\n${te.stdout}`);
      const te6 = await run('h1', ['ping', '-6', '-c', '1', '-W', '2', '-t', '1', 'fd00:3::1']);
      t.match(te6.stdout, /From fd00:1::fe .*Time exceeded/, `ping -6 -t 1: Time exceeded from the router:\n${te6.stdout}`);

      // An unrouted network.
      const un = await run('h1', ['ping', '-c', '1', '-W', '2', '198.19.77.1']);
      t.match(un.stdout, /From 198\.18\.1\.254 .*Destination Net Unreachable/, `ping 198.19.77.1: Destination Net Unreachable from the router:\n${un.stdout}`);
      const un6 = await run('h1', ['ping', '-6', '-c', '1', '-W', '2', 'fd00:77::1']);
      t.match(un6.stdout, /From fd00:1::fe .*(No route|Destination unreachable)/, `ping -6 fd00:77::1: no route, from the router:\n${un6.stdout}`);
      // Packet too big: h3's link has MTU 1280 on the router (IPv6's minimum).
      const big6 = await run('h1', ['ping', '-6', '-c', '1', '-W', '2', '-s', '1300', 'fd00:3::1']);
      t.match(big6.stdout + big6.stderr, /Packet too big: mtu=1280/, `ping -6 -s 1300 to h3 (MTU 1280): Packet too big from the router:\n${big6.stdout}${big6.stderr}`);
      const fits6 = await run('h1', ['ping', '-6', '-c', '1', '-W', '2', '-s', '1200', 'fd00:3::1']);
      t.equal(fits6.code, 0, `ping -6 -s 1200 to h3 fits and is answered: ${pingSummary(fits6)}`);
      const c = g.allCounters();
      t.ok(c.if2_toobig6.errors >= 1n && c.if2_mtu6.too_long >= 1n, 'counted in if2_mtu6.too_long and if2_toobig6.errors');
      t.ok(c.unreachable.errors >= 1n, `counted in unreachable.errors (${c.unreachable.errors})`);
      t.ok(c.if2_timeexceeded.errors >= 1n, `the TTL ran out on the way to h3: counted in if2_timeexceeded.errors (${c.if2_timeexceeded.errors})`);
      t.ok(c.if0_fixsrc.fixed >= 2n, `if0's FixIPSrc gave the errors going back to h1 its address (${c.if0_fixsrc.fixed} fixed)`);
    }

    // Malformed packets from h1 while h1 pings h2: each dropped and counted by reason.
    const n = 5;
    const before = g.allCounters();
    const bg = lab.exec('h1', hasPing ? ['ping', '-c', '12', '-i', '0.2', '-W', '1', '198.18.2.1'] : ['true'], { timeoutMs: 20_000 });
    await sleep(300);
    const routerMac = String(configOf(plan, 'if0_arpq')?.mac);
    t.equal(routerMac, readFileSync(`/sys/class/net/${lab.link(0).b}/address`, 'utf8').trim(), "the router uses its device's own MAC address");
    const inj = await run('h1', ['python3', '-c', PY_INJECT, lab.link(0).a, routerMac, String(n)]);
    t.equal(inj.code, 0, `h1 injected the malformed frames: ${inj.stdout.trim()} ${inj.stderr}`);
    const bgr = await bg;
    if (hasPing) t.equal(bgr.code, 0, `the ping running meanwhile succeeded: ${pingSummary(bgr)}`);
    await sleep(200);
    const after = g.allCounters();
    const d = (el: string, c: string) => Number(after[el][c] - before[el][c]);
    t.same(
      {
        version: d('if0_check', 'drops_version'),
        header_length: d('if0_check', 'drops_header_length'),
        total_length: d('if0_check', 'drops_total_length'),
        checksum: d('if0_check', 'drops_checksum'),
        short: d('if0_check', 'drops_short'),
        bad_source: d('if0_check', 'drops_bad_source'),
      },
      { version: n, header_length: n, total_length: n, checksum: n, short: n, bad_source: 2 * n },
      "IPv4: each kind dropped and counted by reason in if0_check (CheckIPHeader)",
    );
    t.same(
      { version: d('if0_check6', 'drops_version'), payload_length: d('if0_check6', 'drops_payload_length'), short: d('if0_check6', 'drops_short') },
      { version: n, payload_length: n, short: n },
      'IPv6: each kind dropped and counted by reason in if0_check6 (CheckIP6Header)',
    );
    t.same(
      { broadcast: d('if0_nobcast', 'drops_broadcast'), multicast: d('if0_nobcast', 'drops_multicast') },
      { broadcast: n, multicast: n },
      'link-level broadcast and multicast IPv4 dropped after Strip by DropBroadcasts, by the packet type FromDevice took from the kernel',
    );
    t.ok(d('if0_check', 'packets') >= 12, `the ping's requests passed the check meanwhile (${d('if0_check', 'packets')} packets)`);

    rt.stop();
    g.remove();
    g = undefined;

    // ---------------- the IPv4 router, h3's link at MTU 1000 ----------------
    const plan4 = compile(ipv4Router, { params: { ...devs, mtu2: 1000 } });
    t.equal(configOf(plan4, 'if2_frag')?.mtu, 1000, 'configs/router-ipv4.ts compiled with mtu2=1000');
    g = rt.load(plan4);
    rt.start();
    const small = await ping(lab, 'h1', '198.18.3.1');
    t.equal(small.code, 0, `ping h1 -> h3 through the IPv4 router: ${pingSummary(small)}`);
    if (!hasPing) {
      t.skip('fragmentation checks need iputils ping (-s, -M)', () => {});
    } else {
      const big = await run('h1', ['ping', '-c', '2', '-i', '0.3', '-W', '2', '-M', 'dont', '-s', '1400', '198.18.3.1']);
      t.equal(big.code, 0, `a 1428-byte ping without DF to h3 (MTU 1000) is answered: ${pingSummary(big)}`);
      const c1 = g.allCounters();
      t.ok(c1.if2_frag.fragmented >= 2n && c1.if2_frag.fragments >= 4n, `the router fragmented it (${c1.if2_frag.fragmented} datagrams, ${c1.if2_frag.fragments} fragments)`);
      const df = await run('h1', ['ping', '-c', '1', '-W', '2', '-M', 'do', '-s', '1200', '198.18.3.1']);
      t.match(df.stdout + df.stderr, /Frag needed.*mtu = 1000/, `ping -M do -s 1200: Frag needed ... mtu = 1000 from the router:\n${df.stdout}${df.stderr}`);
      t.ok(g.allCounters().if2_needfrag.errors >= 1n, 'counted in if2_needfrag.errors');
    }
    rt.stop();
    const c = g.allCounters();
    t.equal(c.if0_tx.drops + c.if1_tx.drops + c.if2_tx.drops, 0n, 'no send failures');
    g.remove();
    t.equal(rt.poolStats().available, rt.poolStats().capacity, 'every buffer back in the pool');

    lab.destroy();
    t.same(labObjects(lab.prefix), { namespaces: [], interfaces: [] }, 'the lab left nothing behind');
  });
}

const avail = labAvailable();
if (!avail.ok) t.plan(0, `skip: ${avail.reason}`);
else main();
