// FromDevice and ToDevice over AF_PACKET, with the lab (src/lab): two namespaces h1 and h2,
// each joined to the root namespace by a veth pair; the engine bridges the two root-side
// ends (FromDevice -> ToDevice both ways). Ping and a 1 MB TCP transfer from h1 to h2 must
// go through the engine. Needs root and network namespaces; skips with the reason otherwise.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { graph, compile, Runtime, FromDevice, ToDevice } from 'pktgraph';
import { createLab, labAvailable, labObjects, sweep } from '../src/lab/index.js';
import { hasPing, hasEthtool, delay, ping, tcpTransfer, patternDigest, labRuntime } from './lib/labtools.js';

const avail = labAvailable();
if (!avail.ok) {
  t.test('devices in namespaces', { skip: avail.reason }, async () => {});
} else {
  main();
}

// VLAN: h1 sends three 802.1Q frames (VLAN 10) on a device; h2 prints the first 0x88b5 frame's
// tag and payload as its kernel delivered them.
const PY_VLAN_TX = `
import socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0); s.bind((sys.argv[1], 0))
f = b'\\xff' * 6 + b'\\x02\\x00\\x00\\x00\\x00\\x01' + struct.pack('!HHH', 0x8100, 10, 0x88b5) + b'pktgraph' + bytes(40)
for i in range(3): s.send(f); time.sleep(0.05)
`;
const PY_VLAN_RX = `
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3)); s.bind((sys.argv[1], 0))
s.setsockopt(263, 8, 1)  # SOL_PACKET, PACKET_AUXDATA
s.settimeout(5)
print('ready', flush=True)
while True:
    data, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(32))
    if addr[2] == socket.PACKET_OUTGOING or data[12:14] != b'\\x88\\xb5': continue
    tci = 'none'
    for lvl, typ, d in anc:
        if lvl == 263 and typ == 8:
            status, _, _, _, _, vtci, _ = struct.unpack('IIIHHHH', d[:20])
            if status & 16: tci = str(vtci & 0xfff)
    print('got tci=%s payload=%s' % (tci, data[14:22].hex()), flush=True); break
`;

// Config checks need no device: they fail at compile time.
t.test('ToDevice ring and FromDevice version configs are checked at compile time', async (t) => {
  t.throws(() => compile(graph('bad-ring', () => FromDevice({ device: 'lo' }).to(ToDevice({ device: 'lo', ringFrameSize: 300 })))), /'ringFrameSize' is 300: give a power of two/);
  t.throws(() => compile(graph('bad-method', () => FromDevice({ device: 'lo' }).to(ToDevice({ device: 'lo', method: 'mmap' as 'ring' })))), /method/);
  t.throws(() => compile(graph('bad-version', () => FromDevice({ device: 'lo', tpacketVersion: 1 }).to(ToDevice({ device: 'lo' })))), /tpacketVersion/);
  const plan = compile(graph('ok', () => FromDevice({ device: 'lo' }).to(ToDevice({ device: 'lo' }, 'tx'))));
  const tx = plan.elements.find((e) => e.name === 'tx')!;
  t.match(tx.config, { method: 'ring', ringFrames: 1024, ringFrameSize: 0, qdiscBypass: false }, 'ToDevice defaults: a TX ring sized from the MTU');
});

function main() {
  t.test('a missing device is a clear configuration error', async (t) => {
    const rt = new Runtime({ threads: 1, poolBuffers: 1024 });
    t.teardown(() => rt.close());
    t.throws(
      () => rt.load(compile(graph('missing-rx', () => FromDevice({ device: 'pg-nosuchdev0' }, 'rx').to(ToDevice({ device: 'lo' }))))),
      /device 'pg-nosuchdev0' does not exist \(ip link show\)/,
      'FromDevice names the device and the command to list devices',
    );
    t.throws(
      () => rt.load(compile(graph('missing-tx', () => FromDevice({ device: 'lo' }).to(ToDevice({ device: 'pg-nosuchdev1' }, 'tx'))))),
      /device 'pg-nosuchdev1' does not exist \(ip link show\)/,
      'ToDevice names the device and the command to list devices',
    );
  });

  t.test('without CAP_NET_RAW the error names the capability and the remedy', async (t) => {
    if (spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status !== 0) return t.skip('setpriv (util-linux) is missing', () => {});
    // Load a graph as user nobody in a child process (the package resolves itself from the repository).
    const script = `
      import { graph, compile, Runtime, FromDevice, ToDevice } from 'pktgraph';
      const rt = new Runtime({ threads: 1, poolBuffers: 256 });
      for (const [n, build] of [['rx', () => FromDevice({ device: 'lo' }).to(ToDevice({ device: 'lo' }))]]) {
        try { rt.load(compile(graph(n, build))); console.log('loaded'); } catch (e) { console.log(e.message); }
      }
      rt.close();`;
    // `env -i`: the child gets none of the test runner's hooks (NODE_OPTIONS), which would write as nobody.
    const args = ['-i', `PATH=${process.env.PATH ?? '/usr/bin:/bin'}`, 'HOME=/tmp', 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
    const r = spawnSync('env', [...args, process.execPath, '--input-type=module', '-e', script], {
      encoding: 'utf8',
      cwd: new URL('..', import.meta.url).pathname,
      timeout: 30_000,
    });
    if (!/device 'lo'|loaded/.test(r.stdout))
      return t.skip(`cannot run the engine as user nobody here (the repository may not be readable by it): ${(r.stderr || r.error?.message || '').slice(0, 300)}`, () => {});
    t.match(r.stdout, /device 'lo': no permission to open a packet socket: AF_PACKET needs CAP_NET_RAW; run as root or grant it with `setcap cap_net_raw\+ep \$\(which node\)`/, `${r.stdout}${r.stderr}`);
  });

  t.test('the engine bridges two namespaces: ping and TCP go through it', async (t) => {
    const { lab, rt } = labRuntime(t, {
      hosts: [{ name: 'h1' }, { name: 'h2' }],
      links: [
        { a: 'h1', b: 'engine', aAddresses: ['198.18.0.1/24', 'fd00:18::1/64'] },
        { a: 'h2', b: 'engine', aAddresses: ['198.18.0.2/24', 'fd00:18::2/64'] },
      ],
    }, { threads: 2, poolBuffers: 8192 });
    const fanout = 1000 + Math.floor(Math.random() * 60000); // groups are per network namespace: avoid others' ids
    const e1 = lab.link(0).b;
    const e2 = lab.link(1).b;

    // A device that exists but is down.
    const down = createLab({ hosts: [{ name: 'd' }], links: [{ a: 'd', b: 'engine' }] }, { id: `${lab.id}d` });
    t.teardown(() => down.destroy());
    spawnSync('ip', ['link', 'set', down.link(0).b, 'down']);
    t.throws(
      () => rt.load(compile(graph('down', () => FromDevice({ device: down.link(0).b }).to(ToDevice({ device: e1 }))))),
      new RegExp(`device '${down.link(0).b}': the device is down \\(ip link set ${down.link(0).b} up\\)`),
      'a device that is down is named with the remedy',
    );
    down.destroy();

    // Without the engine, h1 cannot reach h2.
    const before = await lab.exec('h1', ['ping', '-c', '1', '-W', '1', '198.18.0.2'], { timeoutMs: 5000 }).catch(() => undefined);
    if (hasPing) t.not(before?.code, 0, 'no path from h1 to h2 before the engine runs');

    const g = rt.load(
      compile(
        graph('bridge', () => {
          // The h1 side is read by two sockets in one fanout group (hash mode), maybe on two
          // workers, both pushing into one ToDevice, which sends through its TX ring (a worker
          // that finds the ring taken sends with sendmmsg); the other direction uses sendmmsg only.
          const tx2 = ToDevice({ device: e2, method: 'ring' }, 'tx2');
          FromDevice({ device: e1, fanout }, 'rx1').to(tx2);
          FromDevice({ device: e1, fanout }, 'rx1b').to(tx2);
          // h2 -> h1: a TPACKET_V2 receive ring (a slot per frame) and sendmmsg.
          FromDevice({ device: e2, tpacketVersion: 2 }, 'rx2').to(ToDevice({ device: e1, method: 'sendmmsg' }, 'tx1'));
        }),
      ),
    );
    rt.start();

    const p4 = await ping(lab, 'h1', '198.18.0.2');
    t.equal(p4.code, 0, `ping h1 -> h2 over IPv4 through the engine: ${p4.stdout.split('\n').filter((l) => /received/.test(l)).join('') || p4.stderr}`);
    const p6 = await ping(lab, 'h2', 'fd00:18::1');
    t.equal(p6.code, 0, `ping h2 -> h1 over IPv6 through the engine: ${p6.stdout.split('\n').filter((l) => /received/.test(l)).join('') || p6.stderr}`);

    if (!hasEthtool) {
      t.skip('TCP transfer: ethtool is missing, so the lab cannot turn checksum offloads off', () => {});
    } else {
      const size = 1_000_000;
      const want = patternDigest(size);
      const r4 = await tcpTransfer(lab, 'h1', 'h2', '198.18.0.2', 5001, size);
      t.equal(r4.client.code, 0, `TCP client (IPv4) finished ${r4.client.stderr}`);
      t.equal(r4.received, size, `1 MB arrived over IPv4 ${r4.serverErr}`);
      t.equal(r4.digest, want, '... intact (SHA-256)');
      const r6 = await tcpTransfer(lab, 'h2', 'h1', 'fd00:18::1', 5002, size);
      t.equal(r6.client.code, 0, `TCP client (IPv6) finished ${r6.client.stderr}`);
      t.equal(r6.received, size, `1 MB arrived over IPv6 ${r6.serverErr}`);
      t.equal(r6.digest, want, '... intact (SHA-256)');
    }

    rt.stop();
    const c = g.allCounters();
    t.ok(c.rx1.packets + c.rx1b.packets > 0n && c.rx2.packets > 0n, `both directions received (${c.rx1.packets}+${c.rx1b.packets} and ${c.rx2.packets} frames)`);
    t.equal(c.tx2.packets, c.rx1.packets + c.rx1b.packets, 'every frame received on h1 side (once, by one socket of the fanout group) was sent to h2');
    t.equal(c.tx1.packets, c.rx2.packets, 'every frame received on h2 side was sent to h1');
    t.equal(c.tx1.drops + c.tx2.drops, 0n, 'no send failures');
    t.equal(c.tx2.drops_ring_full, 0n, 'the TX ring never ran out of slots');
    t.equal(c.tx1.drops_too_long + c.tx2.drops_too_long + c.rx1.drops_too_long + c.rx1b.drops_too_long + c.rx2.drops_too_long, 0n, 'no frame too long');
    t.equal(c.rx1.drops_ring_error + c.rx1b.drops_ring_error + c.rx2.drops_ring_error, 0n, 'no ring errors');
    t.equal(c.rx1.csum_not_ready + c.rx1b.csum_not_ready + c.rx2.csum_not_ready, 0n, 'every checksum filled in (the lab turned offloads off)');
    g.remove();
    t.equal(rt.poolStats().available, rt.poolStats().capacity, 'every buffer back in the pool');

    lab.destroy();
    const left = labObjects(lab.prefix);
    t.same(left, { namespaces: [], interfaces: [] }, 'the lab left no namespace or interface behind');
    const links = spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' }).stdout;
    const netns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    t.notOk(links.includes(lab.prefix), 'ip -o link shows none of its interfaces');
    t.notOk(netns.includes(lab.prefix), 'ip netns list shows none of its namespaces');
  });

  t.test('VLAN tags: restoreVlan puts the tag the kernel took off back into the frame', async (t) => {
    const { lab, rt } = labRuntime(t, { hosts: [{ name: 'h1' }, { name: 'h2' }], links: [{ a: 'h1', b: 'engine' }, { a: 'h2', b: 'engine' }] }, { threads: 1, poolBuffers: 4096 });
    rt.start();
    // h1 sends 802.1Q frames (VLAN 10, EtherType 0x88b5 inside) on its veth; h2 reports the tag
    // its kernel found (PACKET_AUXDATA: the kernel takes tags off received frames).
    // Both ring layouts: TPACKET_V3 (the default) and V2, which reads tags from its own header.
    for (const [restoreVlan, tpacketVersion] of [[true, 3], [false, 3], [true, 2]] as const) {
      const g = rt.load(
        compile(
          graph(`vlan-${restoreVlan}-v${tpacketVersion}`, () => {
            FromDevice({ device: lab.link(0).b, restoreVlan, promisc: restoreVlan, tpacketVersion }, 'rx').to(ToDevice({ device: lab.link(1).b }, 'tx'));
          }),
        ),
      );
      // A packet socket's membership raises the promiscuity count (`ip -d link`), not the PROMISC flag.
      const promisc = () => !/promiscuity 0\b/.test(spawnSync('ip', ['-d', 'link', 'show', lab.link(0).b], { encoding: 'utf8' }).stdout);
      t.equal(promisc(), restoreVlan, `the device is in promiscuous mode only when asked (promisc: ${restoreVlan})`);
      const rx = lab.spawn('h2', ['python3', '-c', PY_VLAN_RX, lab.link(1).a]);
      let out = '';
      rx.stdout!.on('data', (d) => (out += d));
      const done = new Promise<void>((r) => rx.on('close', () => r()));
      const deadline = Date.now() + 5000;
      while (!out.includes('ready') && Date.now() < deadline && rx.exitCode === null) await delay(20);
      const tx = await lab.exec('h1', ['python3', '-c', PY_VLAN_TX, lab.link(0).a]);
      t.equal(tx.code, 0, `tagged frames sent ${tx.stderr}`);
      await Promise.race([done, delay(6000)]);
      const line = out.split('\n').find((l) => l.startsWith('got')) ?? '(nothing received)';
      if (restoreVlan) t.equal(line, 'got tci=10 payload=706b746772617068', `restoreVlan (TPACKET_V${tpacketVersion}): h2 receives the frame with VLAN 10`);
      else t.equal(line, 'got tci=none payload=706b746772617068', 'default: the tag is in the annotation only, so the frame leaves untagged');
      const c = g.allCounters();
      t.ok(c.rx.packets >= 1n, `FromDevice received the frames (${c.rx.packets})`);
      g.remove();
      t.notOk(promisc(), 'promiscuous mode ends with the graph');
    }
  });

  t.test('lab: a link between two namespaces, routes, exec, and a complete teardown', async (t) => {
    const lab = createLab({
      hosts: [{ name: 'a', routes: [{ to: '198.19.7.0/24', via: '198.18.5.2' }, { to: 'fd00:77::/64', via: 'fd00:5::2' }] }, { name: 'b' }],
      links: [{ a: 'a', b: 'b', aAddresses: ['198.18.5.1/30', 'fd00:5::1/64'], bAddresses: ['198.18.5.2/30', 'fd00:5::2/64'], mtu: 1400 }],
    });
    t.teardown(() => lab.destroy());
    t.match(lab.link(0).a, /^pg-[a-z0-9]{4}-0a$/, 'interface names carry the prefix');
    t.ok(lab.link(0).a.length <= 15);
    t.same(labObjects(lab.prefix), { namespaces: [`${lab.prefix}a`, `${lab.prefix}b`], interfaces: [] }, 'two namespaces, nothing in the root namespace');
    const routes = await lab.exec('a', ['ip', 'route', 'show', '198.19.7.0/24']);
    t.match(routes.stdout, /198\.19\.7\.0\/24 via 198\.18\.5\.2/, 'IPv4 route installed');
    const routes6 = await lab.exec('a', ['ip', '-6', 'route', 'show', 'fd00:77::/64']);
    t.match(routes6.stdout, /fd00:77::\/64 via fd00:5::2/, 'IPv6 route installed');
    const link = await lab.exec('b', ['ip', '-o', 'link', 'show', lab.link(0).b]);
    t.match(link.stdout, /mtu 1400/, 'MTU set');
    const p6 = await ping(lab, 'a', 'fd00:5::2');
    t.equal(p6.code, 0, 'IPv6 works at once (no duplicate address detection)');
    const fail = await lab.exec('a', ['false']);
    t.equal(fail.code, 1, 'exec reports the exit code');
    lab.destroy();
    t.same(labObjects(lab.prefix), { namespaces: [], interfaces: [] }, 'nothing left');

    // A run that crashed leaves its lab behind: sweep() with its prefix removes it.
    const crashed = createLab({ hosts: [{ name: 'x' }], links: [{ a: 'x', b: 'engine' }] });
    t.teardown(() => crashed.destroy());
    t.throws(() => createLab({ hosts: [{ name: 'y' }], links: [] }, { id: crashed.id }), /is in use/, 'a lab id in use is refused');
    const removed = sweep(crashed.prefix);
    t.same(removed, { namespaces: [`${crashed.prefix}x`], interfaces: [crashed.link(0).b] }, 'sweep found the leftovers');
    t.same(labObjects(crashed.prefix), { namespaces: [], interfaces: [] }, 'sweep removed them');
  });

  t.test('the lab refuses addresses outside 198.18.0.0/15 and fd00::/8', async (t) => {
    t.throws(() => createLab({ hosts: [{ name: 'x' }], links: [{ a: 'x', b: 'engine', aAddresses: ['10.0.0.1/24'] }] }), /outside 198\.18\.0\.0\/15/);
    t.throws(() => createLab({ hosts: [{ name: 'x' }], links: [{ a: 'x', b: 'engine', aAddresses: ['2001:db8::1/64'] }] }), /outside fd00::\/8/);
    t.throws(() => createLab({ hosts: [{ name: 'x', routes: [{ to: '198.18.0.0/24', via: '192.0.2.1' }] }], links: [] }), /outside/);
    t.throws(() => createLab({ hosts: [{ name: 'engine' }], links: [] }), /reserved/);
  });
}
