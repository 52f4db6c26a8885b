// FromDevice with PACKET_FANOUT on two workers: two FromDevice elements on the same device in
// one fanout group, pinned to worker 0 and worker 1, each counting what it receives. A lab host
// on the other end of the veth sends 20000 UDP datagrams of many flows (source and
// destination ports vary) at a moderate rate to a neighbour with a static ARP entry (so no ARP
// is needed and nothing answers). Both workers must get a share (each more than 10%) and
// together exactly the datagrams sent: none lost, none twice. Needs root and network
// namespaces; skips with the reason otherwise.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { graph, compile, FromDevice, Classifier, Counter, Discard } from 'pktgraph';
import { labAvailable, labObjects } from '../src/lab/index.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const SRC = '198.18.0.1';
const DST = '198.18.0.2';
const DST_MAC = '02:00:00:18:00:02';
const N = 20000;

// In the host: n datagrams from `sockets` sockets (each its own source port) to `ports`
// destination ports, so there are sockets x ports flows; a short pause every 100 datagrams
// keeps the rate moderate (some 20 to 50 thousand per second). Prints the number sent.
const PY_SENDER = `
import socket, sys, time
dst, n, nsock, nports = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
socks = []
for i in range(nsock):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 20000 + i)); socks.append(s)
sent = 0
for i in range(n):
    socks[i % nsock].sendto(b'pktgraph fanout %d' % i, (dst, 30000 + (i * 7) % nports)); sent += 1
    if i % 100 == 99: time.sleep(0.002)
print(sent, flush=True)
`;
import { labRuntime } from './lib/labtools.js';

function main() {
  t.test('a fanout group on two workers shares the flows and loses nothing', async (t) => {
    const { lab, rt } = labRuntime(t, { hosts: [{ name: 'h1' }], links: [{ a: 'h1', b: 'engine', aAddresses: [`${SRC}/24`] }] }, { threads: 2, poolBuffers: 8192 });
    const hostIf = lab.link(0).a;
    const dev = lab.link(0).b;
    // Nothing but the datagrams on the wire: no IPv6 (router solicitations, MLD) from the host,
    // and a permanent neighbour entry so the host never asks for DST's MAC.
    const ns = lab.netns('h1');
    for (const args of [
      ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${hostIf}.disable_ipv6=1`],
      ['-n', ns, 'neigh', 'replace', DST, 'lladdr', DST_MAC, 'dev', hostIf, 'nud', 'permanent'],
    ]) {
      const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
      t.equal(r.status, 0, `ip ${args.join(' ')} ${r.stderr}`);
    }

    const fanout = 1000 + Math.floor(Math.random() * 60000); // groups are per network namespace: avoid others' ids
    const plan = compile(
      graph('fanout', () => {
        // Per worker: the lab's UDP datagrams to DST (EtherType IPv4, protocol 17, destination
        // address) are counted; anything else is counted apart.
        for (const w of [0, 1]) {
          const cl = Classifier({ patterns: ['12/0800 23/11 30/c6120002', '-'] }, `cl${w}`);
          FromDevice({ device: dev, fanout }, { name: `rx${w}`, thread: w }).to(cl);
          cl.out(0).to(Counter({}, `udp${w}`)).to(Discard({}, `sink${w}`));
          cl.out(1).to(Counter({}, `other${w}`)).to(Discard({}, `osink${w}`));
        }
      }),
    );
    t.same(
      plan.elements.filter((e) => e.class === 'FromDevice').map((e) => [e.name, e.thread]),
      [
        ['rx0', 0],
        ['rx1', 1],
      ],
      'the two FromDevice elements are pinned to workers 0 and 1',
    );
    const g = rt.load(plan);
    rt.start();

    const sender = await lab.exec('h1', ['python3', '-c', PY_SENDER, DST, String(N), '64', '97'], { timeoutMs: 60_000 });
    t.equal(sender.code, 0, `the sender ran ${sender.stderr}`);
    t.equal(sender.stdout.trim(), String(N), `it sent ${N} datagrams`);

    // Wait until everything arrived, or nothing more arrives for a second.
    const received = () => g.counter('udp0', 'packets') + g.counter('udp1', 'packets');
    let last = -1n;
    let still = 0;
    while (received() < BigInt(N) && still < 10) {
      const now = received();
      still = now === last ? still + 1 : 0;
      last = now;
      await sleep(100);
    }
    await sleep(300); // the kernel_drops counters are read every 100 ms
    rt.stop();

    const c = g.allCounters();
    const u0 = c.udp0.packets;
    const u1 = c.udp1.packets;
    const sum = u0 + u1;
    const kernelDrops = c.rx0.kernel_drops + c.rx1.kernel_drops;
    const numbers = `worker 0: ${u0}, worker 1: ${u1}, sum ${sum} of ${N} sent; kernel_drops ${c.rx0.kernel_drops} + ${c.rx1.kernel_drops}, pool_empty ${c.rx0.pool_empty} + ${c.rx1.pool_empty}, other frames ${c.other0.packets} + ${c.other1.packets}`;
    t.comment(numbers);
    t.equal(kernelDrops, 0n, `the kernel dropped nothing (${numbers})`);
    t.equal(sum, BigInt(N), `every datagram was received exactly once (${numbers})`);
    t.ok(u0 * 10n > sum, `worker 0 got more than 10% (${numbers})`);
    t.ok(u1 * 10n > sum, `worker 1 got more than 10% (${numbers})`);
    t.equal(c.rx0.packets + c.rx1.packets, sum + c.other0.packets + c.other1.packets, 'every frame received was classified');
    t.equal(c.rx0.drops_ring_error + c.rx1.drops_ring_error + c.rx0.drops_too_long + c.rx1.drops_too_long, 0n, 'no ring errors, no frame too long');
    g.remove();
    t.equal(rt.poolStats().available, rt.poolStats().capacity, 'every buffer back in the pool');

    lab.destroy();
    t.same(labObjects(lab.prefix), { namespaces: [], interfaces: [] }, 'the lab left nothing behind');
  });
}

const avail = labAvailable();
if (!avail.ok) t.plan(0, `skip: ${avail.reason}`);
else main();
