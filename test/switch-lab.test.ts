// The learning switch of configs/learning-switch.ts on real interfaces: three namespaces h1,
// h2 and h3, each joined to the root namespace by a veth pair, all in 198.18.0.0/24 and
// fd00:18::/64; the engine runs EtherSwitch across the three root-side ends (FromDevice ->
// input i, output i -> ToDevice). Ping works between every pair, a 1 MB TCP transfer from h1
// to h3 arrives intact, the switch's table lists each host's MAC address on its port, and
// once learned, unicast traffic between h1 and h2 is forwarded to h2's port only: none of it
// reaches h3. Before that last check every host's neighbour table is frozen (entries made
// permanent): otherwise ARP and IPv6 neighbour-unreachability probes that the earlier pings set
// off, about 5 s later, send unicast frames to h3 during the check or not, depending on how long
// the steps before took on a busy machine. Needs root and network namespaces; skips with the
// reason otherwise.
import t from 'tap';
import { compile } from 'pktgraph';
import { labAvailable, labObjects, type Lab } from '../src/lab/index.js';
import { ping, pingSummary, tcpTransfer, patternDigest, macOf, hasEthtool, delay, freezeNeighbours, labRuntime } from './lib/labtools.js';
import learningSwitch from '../configs/learning-switch.js';

/** Unlike delay(), keeps the process alive while it waits. */
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// In h3: count the frames between two MAC addresses (either direction) that reach its
// interface, and every frame, for `seconds`; prints 'ready', then 'pair=N all=M'.
const PY_SNIFF = `
import socket, sys, time
ifname, a, b, seconds = sys.argv[1], bytes.fromhex(sys.argv[2].replace(':', '')), bytes.fromhex(sys.argv[3].replace(':', '')), float(sys.argv[4])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3)); s.bind((ifname, 0)); s.settimeout(0.1)
print('ready', flush=True)
pair = every = 0; end = time.time() + seconds
while time.time() < end:
    try: data, addr = s.recvfrom(4096)
    except socket.timeout: continue
    if addr[2] == socket.PACKET_OUTGOING: continue
    every += 1
    if {data[0:6], data[6:12]} == {a, b}: pair += 1
print('pair=%d all=%d' % (pair, every), flush=True)
`;

// In h1: n UDP datagrams to addr:9, paced (a short pause every 50).
const PY_UDP = `
import socket, sys, time
addr, n = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    s.sendto(b'pktgraph switch test %d' % i, (addr, 9))
    if i % 50 == 49: time.sleep(0.002)
`;

function main() {
  t.test('a three-port learning switch between three namespaces', async (t) => {
    const hosts = ['h1', 'h2', 'h3'];
    const { lab, rt } = labRuntime(t, {
      hosts: hosts.map((name) => ({ name })),
      links: hosts.map((h, i) => ({ a: h, b: 'engine', aAddresses: [`198.18.0.${i + 1}/24`, `fd00:18::${i + 1}/64`] })),
    }, { threads: 2, poolBuffers: 8192 });
    const dev = (i: number) => lab.link(i).b;
    const hostIf = (i: number) => lab.link(i).a;
    const macs = hosts.map((h, i) => macOf(lab, h, hostIf(i)));

    const plan = compile(learningSwitch, { params: { dev0: dev(0), dev1: dev(1), dev2: dev(2) } });
    t.same(
      plan.elements.filter((e) => e.class === 'FromDevice').map((e) => e.config.device),
      [dev(0), dev(1), dev(2)],
      'configs/learning-switch.ts compiled with the lab devices as params',
    );
    const g = rt.load(plan);
    rt.start();

    // Ping between every pair, IPv4 and IPv6.
    for (const [a, b] of [
      [0, 1],
      [0, 2],
      [1, 2],
    ]) {
      const p4 = await ping(lab, hosts[a], `198.18.0.${b + 1}`);
      t.equal(p4.code, 0, `ping ${hosts[a]} -> ${hosts[b]} (IPv4) through the switch: ${pingSummary(p4)}`);
      const p6 = await ping(lab, hosts[b], `fd00:18::${a + 1}`);
      t.equal(p6.code, 0, `ping ${hosts[b]} -> ${hosts[a]} (IPv6) through the switch: ${pingSummary(p6)}`);
    }

    if (!hasEthtool) {
      t.skip('TCP transfer: ethtool is missing, so the lab cannot turn checksum offloads off', () => {});
    } else {
      const size = 1_000_000;
      const r = await tcpTransfer(lab, 'h1', 'h3', '198.18.0.3', 5001, size);
      t.equal(r.client.code, 0, `TCP client h1 -> h3 finished ${r.client.stderr}`);
      t.equal(r.received, size, `1 MB arrived at h3 ${r.serverErr}`);
      t.equal(r.digest, patternDigest(size), '... intact (SHA-256)');
    }

    // The table: each host's MAC on its own port.
    const table = g.read('sw', 'table');
    const entries = new Map(
      table
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' '))
        .map(([mac, port]) => [mac, Number(port)]),
    );
    macs.forEach((mac, i) => t.equal(entries.get(mac), i, `table: ${hosts[i]}'s MAC ${mac} on port ${i}`));
    t.equal(entries.size, 3, `the table holds the three hosts and nothing else:\n${table}`);

    // Learned: unicast between h1 and h2 goes to port 1 (and back to port 0) only. From here on
    // no host probes its neighbours, so the only unicast frames are the test's own.
    await freezeNeighbours(lab, hosts);
    await sleep(100); // answers to probes sent just before the freeze are delivered by now
    const sniff = lab.spawn('h3', ['python3', '-c', PY_SNIFF, hostIf(2), macs[0], macs[1], '3']);
    let sniffed = '';
    let sniffErr = '';
    sniff.stdout!.on('data', (d) => (sniffed += d));
    sniff.stderr!.on('data', (d) => (sniffErr += d));
    const sniffDone = new Promise<void>((r) => sniff.on('close', () => r()));
    const deadline = Date.now() + 5000;
    while (!sniffed.includes('ready') && Date.now() < deadline && sniff.exitCode === null) await delay(20);
    t.ok(sniffed.includes('ready'), `the sniffer in h3 started ${sniffErr}`);

    const before = g.allCounters();
    const n = 1000;
    const udp = await lab.exec('h1', ['python3', '-c', PY_UDP, '198.18.0.2', String(n)]);
    t.equal(udp.code, 0, `h1 sent ${n} UDP datagrams to h2 ${udp.stderr}`);
    const p = await ping(lab, 'h2', '198.18.0.1');
    t.equal(p.code, 0, 'and h2 pinged h1');
    await Promise.race([sniffDone, delay(8000)]);
    await sleep(200);
    const after = g.allCounters();
    const d = (el: string, c: string) => after[el][c] - before[el][c];

    const m = /pair=(\d+) all=(\d+)/.exec(sniffed);
    t.ok(m, `the sniffer reported: ${sniffed} ${sniffErr}`);
    if (m) t.equal(Number(m[1]), 0, `no frame between h1 and h2 reached h3's interface (it saw ${m[2]} frames in all)`);
    t.ok(d('sw', 'forwarded') >= BigInt(n + 6), `the switch forwarded the unicast frames (${d('sw', 'forwarded')} forwarded, ${d('sw', 'flooded')} flooded)`);
    t.ok(d('tx1', 'packets') >= BigInt(n), `they went out on h2's port (${d('tx1', 'packets')} frames)`);
    t.ok(
      d('tx2', 'packets') <= d('sw', 'flooded'),
      `h3's port got only flooded frames (${d('tx2', 'packets')} sent to h3, ${d('sw', 'flooded')} flooded)`,
    );
    t.ok(d('tx2', 'packets') < BigInt(n / 10), `... a few at most, not the ${n} datagrams`);

    rt.stop();
    const c = g.allCounters();
    t.equal(c.tx0.drops + c.tx1.drops + c.tx2.drops, 0n, 'no send failures');
    t.equal(c.rx0.kernel_drops + c.rx1.kernel_drops + c.rx2.kernel_drops, 0n, 'no kernel drops');
    t.equal(c.sw.drops_short + c.sw.drops_pool_empty + c.sw.table_full, 0n, 'no short frames, no missed flood copies, the table never full');
    g.remove();
    t.equal(rt.poolStats().available, rt.poolStats().capacity, 'every buffer back in the pool');

    lab.destroy();
    t.same(labObjects(lab.prefix), { namespaces: [], interfaces: [] }, 'the lab left nothing behind');
  });
}

const avail = labAvailable();
if (!avail.ok) t.plan(0, `skip: ${avail.reason}`);
else main();
