// configs/nat-gateway.ts on real interfaces, in the lab of configs/lab-nat.json (with a random
// id): `inside` (198.18.1.1, default route via the gateway's 198.18.1.254) and `outside`
// (198.18.2.2, no route to the inside at all, so only NAT lets it answer), each joined by a
// veth pair to the root namespace where the engine runs the gateway. Ping through the NAT and
// to both gateway addresses; ICMP errors through the NAT both ways, checked by the hosts'
// own kernels (a port unreachable from outside reaches the inside host's UDP socket, a time
// exceeded about an inbound reply reaches the outside host's socket: each only if the quoted
// packet was translated back exactly); time exceeded and net unreachable from the gateway; a
// 1 MB TCP transfer from inside to a server outside arrives intact and the server sees the
// gateway's outside address as its peer; a port forward lets the outside host reach a server
// inside; the NAT's table and counters agree. Needs root and network namespaces; skips with
// the reason otherwise.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from 'pktgraph';
import { labAvailable, labObjects, type Lab, type Topology } from '../src/lab/index.js';
import { ping, pingSummary, patternDigest, hasEthtool, hasPing, delay, tcpTransfer, PY_TTL1_REPLY, labRuntime } from './lib/labtools.js';
import natGateway from '../configs/nat-gateway.js';

const here = dirname(fileURLToPath(import.meta.url));

// A connected UDP socket sends to a closed port; prints 'refused' when the port unreachable
// reaches it (ECONNREFUSED), 'timeout' otherwise.
const PY_UDP_REFUSED = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect((sys.argv[1], int(sys.argv[2]))); s.settimeout(1)
for i in range(3):
    try:
        s.send(b'anyone there?'); s.recv(100); print('answered'); break
    except ConnectionRefusedError: print('refused'); break
    except socket.timeout: pass
else: print('timeout')
`;

function main() {
  t.test('configs/nat-gateway.ts between an inside and an outside namespace', async (t) => {
    const topo = JSON.parse(readFileSync(join(here, '..', 'configs', 'lab-nat.json'), 'utf8')) as Topology & { id?: string };
    delete topo.id; // a random id, so the test never meets a lab someone brought up by hand
    const { lab, rt } = labRuntime(t, topo, { threads: 2, poolBuffers: 8192 });
    const params = { inDev: lab.link(0).b, outDev: lab.link(1).b, forward: 'tcp 8080 198.18.1.1 5002' };
    const plan = compile(natGateway, { params });
    t.same(
      plan.elements.filter((e) => e.class === 'FromDevice').map((e) => e.config.device),
      [params.inDev, params.outDev],
      'configs/nat-gateway.ts compiled with the lab devices as params',
    );
    const g = rt.load(plan);
    rt.start();

    const p1 = await ping(lab, 'inside', '198.18.2.2');
    t.equal(p1.code, 0, `ping inside -> outside through the NAT: ${pingSummary(p1)}`);
    const p2 = await ping(lab, 'inside', '198.18.1.254');
    t.equal(p2.code, 0, `ping inside -> the gateway's inside address: ${pingSummary(p2)}`);
    const p3 = await ping(lab, 'outside', '198.18.2.254');
    t.equal(p3.code, 0, `ping outside -> the gateway's outside address: ${pingSummary(p3)}`);
    t.match(g.read('nat', 'table'), /^icmp 198\.18\.1\.1:\d+ 198\.18\.2\.2 => 198\.18\.2\.254:\d+ 198\.18\.2\.2 out 0 reply 1 /m, 'the ping made an ICMP mapping');

    // A port unreachable from the outside host about a translated datagram: the inside
    // host's kernel reports it on the connected socket only if the quoted datagram is
    // exactly what that socket sent (addresses and ports rewritten back).
    const refused = await lab.exec('inside', ['python3', '-c', PY_UDP_REFUSED, '198.18.2.2', '9'], { timeoutMs: 10_000 });
    t.match(refused.stdout, /refused/, `a UDP datagram to a closed port outside: the port unreachable came back through the NAT ${refused.stdout}${refused.stderr}`);
    t.ok(g.counter('nat', 'icmp_errors_rewritten') >= 1n, 'the NAT rewrote that ICMP error');

    // A reply that expires at the gateway after translation: the time exceeded goes back
    // through nat[0], quoting the reply as the outside host sent it.
    const srv = lab.spawn('outside', ['python3', '-c', PY_TTL1_REPLY, '198.18.2.2', '7000']);
    let srvOut = '';
    srv.stdout!.on('data', (d) => (srvOut += d));
    srv.stderr!.on('data', (d) => (srvOut += d));
    const srvDone = new Promise<void>((r) => srv.on('close', () => r()));
    for (let i = 0; i < 250 && !srvOut.includes('ready'); i++) await delay(20);
    await lab.exec('inside', ['python3', '-c', "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'hello', ('198.18.2.2', 7000))"]);
    await Promise.race([srvDone, delay(8000)]);
    t.match(srvOut, /peer 198\.18\.2\.254 \d+/, `the outside host got the datagram from the gateway's address ${srvOut}`);
    t.match(srvOut, /icmp 11 0 from 198\.18\.2\.254/, "its TTL-1 reply expired at the gateway: time exceeded, quoting the reply as sent");

    if (hasPing) {
      const ttl = await lab.exec('inside', ['ping', '-c', '1', '-W', '2', '-t', '1', '198.18.2.2'], { timeoutMs: 10_000 });
      t.match(ttl.stdout, /From 198\.18\.1\.254.*Time to live exceeded/i, 'TTL 1 from the inside: time exceeded from the gateway');
      const unr = await lab.exec('inside', ['ping', '-c', '1', '-W', '2', '198.19.0.1'], { timeoutMs: 10_000 });
      t.match(unr.stdout, /From 198\.18\.1\.254.*Destination Net Unreachable/i, 'no route out (no upstream): net unreachable from the gateway');
    } else {
      t.skip('time exceeded and net unreachable: iputils ping is not installed', () => {});
    }

    if (!hasEthtool) {
      t.skip('TCP transfers: ethtool is missing, so the lab cannot turn checksum offloads off', () => {});
    } else {
      const size = 1_000_000;
      const r = await tcpTransfer(lab, 'inside', 'outside', '198.18.2.2', 5001, size);
      t.equal(r.client.code, 0, `TCP client inside -> outside finished ${r.client.stderr}`);
      t.equal(r.received, size, `1 MB arrived outside ${r.serverErr}`);
      t.equal(r.digest, patternDigest(size), '... intact (SHA-256)');
      t.equal(r.peer, '198.18.2.254', "the server saw the gateway's outside address as its peer");
      t.match(g.read('nat', 'table'), /^tcp 198\.18\.1\.1:\d+ 198\.18\.2\.2:5001 => 198\.18\.2\.254:\d+ 198\.18\.2\.2:5001 out 0 reply 1 /m, 'the table holds the TCP mapping');

      const f = await tcpTransfer(lab, 'outside', 'inside', '198.18.1.1', 5002, 200_000, ['198.18.2.254', 8080]);
      t.equal(f.client.code, 0, `TCP client outside -> the gateway's port 8080 finished ${f.client.stderr}`);
      t.equal(f.received, 200_000, `the port forward carried 200 kB to the inside server ${f.serverErr}`);
      t.equal(f.digest, patternDigest(200_000), '... intact');
      t.equal(f.peer, '198.18.2.2', 'the inside server saw the outside host (destination NAT only)');
    }

    rt.stop();
    const c = g.allCounters();
    t.ok(c.nat.new_mappings >= (hasEthtool ? 3n : 1n), `the NAT made mappings (${c.nat.new_mappings})`);
    t.ok(c.nat.rewritten > (hasEthtool ? 500n : 5n), `and rewrote packets (${c.nat.rewritten})`);
    const natDrops = ['drops_bad_ip', 'drops_truncated', 'drops_fragment', 'drops_no_port', 'drops_table_full', 'drops_conflict'].reduce((s, k) => s + c.nat[k], 0n);
    t.equal(natDrops, 0n, 'no malformed packets, fragments, port or table exhaustion at the NAT');
    const checkDrops = (e: string) => Object.entries(c[e]).reduce((s, [k, v]) => (k.startsWith('drops_') ? s + v : s), 0n);
    t.equal(checkDrops('check_in') + checkDrops('check_out'), 0n, 'no bad IP headers');
    t.equal(c.tx_in.drops + c.tx_out.drops, 0n, 'no send failures');
    g.remove();
    t.equal(rt.poolStats().available, rt.poolStats().capacity, 'every buffer back in the pool');

    lab.destroy();
    t.same(labObjects(lab.prefix), { namespaces: [], interfaces: [] }, 'the lab left nothing behind');
  });
}

const avail = labAvailable();
if (!avail.ok) t.plan(0, `skip: ${avail.reason}`);
else main();
