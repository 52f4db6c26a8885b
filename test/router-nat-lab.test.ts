// configs/router-nat.ts (ipRouter with `nat`) on real interfaces, in the lab of
// configs/lab-router-nat.json (with a random id): h1 (198.18.1.1) and h2 (198.18.2.1) inside on
// two interfaces, `outside` (198.19.0.1) with no route to the inside at all, so only NAT lets it
// answer. With the outside link at MTU 1000: both inside hosts ping the outside host through
// the NAT and 1 MB / 200 kB TCP transfers from each arrive intact with the router's outside
// address as the peer; the port forward (8080 -> h1:80) carries a transfer to h1 and h1 sees the
// outside host as the peer; the outside host pings the router's outside address (not NAT
// traffic) and its unsolicited packets to an inside host are dropped; errors the router makes
// about NATed flows come out right, each checked by the kernel that must accept them (it
// does only when the quoted packet is exactly what it sent): ping -t 1 from inside gets the
// router's time exceeded, ping -M do -s 1200 gets Frag needed (mtu = 1000) through nat[1], a
// reply from outside whose TTL runs out on the inside link gets a time exceeded through nat[0]
// quoting the reply as sent; a 3000-byte ping is fragmented by h1, reassembled before the NAT,
// refragmented to 1000 bytes after it, and its fragmented replies reassembled on the way in.
// Needs root and network namespaces; skips with the reason otherwise.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { compile, Runtime } from 'pktgraph';
import { createLab, labAvailable, labObjects, type Lab, type Topology } from '../src/lab/index.js';
import { ping, pingSummary, patternDigest, hasEthtool, hasPing, delay, tcpTransfer, PY_TTL1_REPLY } from './lib/labtools.js';
import natRouter from '../configs/router-nat.js';

const here = dirname(fileURLToPath(import.meta.url));
const hasTraceroute = spawnSync('traceroute', ['--version'], { stdio: 'ignore' }).status === 0;
const OUT = '198.19.0.1';
const NAT = '198.19.0.254';

function main() {
  t.test('configs/router-nat.ts: two inside networks behind NAT, one outside', async (t) => {
    const topo = JSON.parse(readFileSync(join(here, '..', 'configs', 'lab-router-nat.json'), 'utf8')) as Topology & { id?: string };
    delete topo.id; // a random id, so the test never meets a lab someone brought up by hand
    const lab = createLab(topo);
    // 4 KB buffers: reassembled 3028-byte datagrams must fit one.
    const rt = new Runtime({ threads: 2, poolBuffers: 8192, bufferSize: 4096 });
    t.teardown(() => {
      rt.close();
      lab.destroy();
    });
    const run = (host: string, args: string[], timeoutMs = 15_000) => lab.exec(host, args, { timeoutMs });
    const params = { dev0: lab.link(0).b, dev1: lab.link(1).b, dev2: lab.link(2).b, mtu2: 1000 };
    const plan = compile(natRouter, { params });
    t.same(
      plan.elements.filter((e) => e.class === 'FromDevice').map((e) => e.config.device),
      [params.dev0, params.dev1, params.dev2],
      'configs/router-nat.ts compiled with the lab devices as params',
    );
    const g = rt.load(plan);
    rt.start();

    // ---- both inside networks get out; the router's outside address answers the outside ----
    for (const [from, to] of [
      ['h1', OUT],
      ['h2', OUT],
      ['h1', '198.18.2.1'],
      ['outside', NAT],
    ]) {
      const r = await ping(lab, from, to);
      t.equal(r.code, 0, `ping ${from} -> ${to}: ${pingSummary(r)}`);
    }
    const table = g.read('nat', 'table');
    t.match(table, new RegExp(`^icmp 198\\.18\\.1\\.1:\\d+ ${OUT.replace(/\./g, '\\.')} => 198\\.19\\.0\\.254:\\d+ `, 'm'), `h1's ping made an ICMP mapping to the NAT address:\n${table}`);
    t.match(table, /^icmp 198\.18\.2\.1:\d+ 198\.19\.0\.1 => 198\.19\.0\.254:\d+ /m, "... and h2's");
    t.notMatch(table, /198\.18\.2\.1:\d+ 198\.18\.1\.1/, 'inside-to-inside traffic is routed without NAT');
    t.ok(g.counter('ping', 'replies') >= 3n, "the router answered the outside host's ping (not NAT traffic)");

    // Unsolicited: the outside host sends straight to an inside address through the router.
    const before = g.counter('nat_unsolicited', 'packets');
    await run('outside', ['ip', 'route', 'add', '198.18.0.0/16', 'via', NAT]);
    const uns = await ping(lab, 'outside', '198.18.1.1');
    t.not(uns.code, 0, 'the outside host cannot reach an inside host that did not talk to it');
    t.ok(g.counter('nat_unsolicited', 'packets') >= before + 3n, 'its pings counted in nat_unsolicited');

    if (!hasPing) {
      t.skip('the ICMP error checks need iputils ping (scripts/ensure-test-tools.sh installs it)', () => {});
    } else {
      // Time exceeded before the NAT: quotes the packet as h2 sent it, from h2's side of the router.
      const te = await run('h2', ['ping', '-c', '1', '-W', '2', '-t', '1', OUT]);
      t.match(te.stdout, /From 198\.18\.2\.254 .*Time to live exceeded/, `ping -t 1 from h2: time exceeded from the router:\n${te.stdout}`);
      if (hasTraceroute) {
        const tr = await run('h1', ['traceroute', '-n', '-q', '1', '-w', '2', '-m', '4', OUT], 30_000);
        t.match(tr.stdout, /^\s*1\s+198\.18\.1\.254\s/m, `traceroute: hop 1 is the router:\n${tr.stdout}`);
        t.match(tr.stdout, /^\s*2\s+198\.19\.0\.1\s/m, "hop 2 the outside host (its port unreachable translated back by the NAT)");
      } else {
        t.comment('traceroute is not installed (Debian package traceroute); time exceeded checked with ping -t 1 only');
      }
      // Fragmentation needed after the NAT: quotes the translated echo; nat[1] translates it back.
      const df = await run('h1', ['ping', '-c', '1', '-W', '2', '-M', 'do', '-s', '1200', OUT]);
      t.match(df.stdout + df.stderr, /From 198\.18\.1\.254 .*Frag needed.*mtu = 1000/, `ping -M do -s 1200 (outside MTU 1000): Frag needed through the NAT:\n${df.stdout}${df.stderr}`);
      t.ok(g.counter('up_needfrag', 'errors') >= 1n, 'counted in up_needfrag.errors');
      // A big ping: fragments reassembled before the NAT both ways, refragmented after it.
      const big = await run('h1', ['ping', '-c', '2', '-i', '0.3', '-W', '2', '-M', 'dont', '-s', '3000', OUT]);
      t.equal(big.code, 0, `a 3028-byte ping through the NAT is answered: ${pingSummary(big)}`);
      const c = g.allCounters();
      t.ok(c.nat_reass_out.reassembled >= 2n && c.nat_reass_in.reassembled >= 2n, `reassembled on the way out (${c.nat_reass_out.reassembled}) and in (${c.nat_reass_in.reassembled})`);
      t.ok(c.up_frag.fragments >= 8n, `refragmented to the outside MTU (${c.up_frag.fragments} fragments)`);
    }

    // A reply whose TTL runs out on the inside link: the router's time exceeded goes out through
    // nat[0], which translates the quoted reply back to what the outside host sent.
    const srv = lab.spawn('outside', ['python3', '-c', PY_TTL1_REPLY, OUT, '7000']);
    let srvOut = '';
    srv.stdout!.on('data', (d) => (srvOut += d));
    srv.stderr!.on('data', (d) => (srvOut += d));
    const srvDone = new Promise<void>((r) => srv.on('close', () => r()));
    for (let i = 0; i < 250 && !srvOut.includes('ready'); i++) await delay(20);
    await run('h2', ['python3', '-c', `import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'hello', ('${OUT}', 7000))`]);
    await Promise.race([srvDone, delay(8000)]);
    if (srv.exitCode === null) srv.kill();
    t.match(srvOut, /peer 198\.19\.0\.254 \d+/, `the outside host got h2's datagram from the NAT address ${srvOut}`);
    t.match(srvOut, /icmp 11 0 from 198\.19\.0\.254/, 'its TTL-1 reply expired at the router: time exceeded, quoting the reply as sent');
    t.ok(g.counter('if1_timeexceeded', 'errors') >= 1n, 'made on the inside link (if1_timeexceeded)');

    if (!hasEthtool) {
      t.skip('TCP transfers: ethtool is missing, so the lab cannot turn checksum offloads off', () => {});
    } else {
      const size = 1_000_000;
      const r1 = await tcpTransfer(lab, 'h1', 'outside', OUT, 5001, size);
      t.equal(r1.client.code, 0, `TCP h1 -> outside finished ${r1.client.stderr}`);
      t.equal(r1.received, size, `1 MB arrived outside ${r1.serverErr}`);
      t.equal(r1.digest, patternDigest(size), '... intact (SHA-256)');
      t.equal(r1.peer, NAT, "the outside host saw the router's outside address as its peer");
      const r2 = await tcpTransfer(lab, 'h2', 'outside', OUT, 5003, 200_000);
      t.equal(r2.received, 200_000, `200 kB from h2 (the other inside network) arrived outside ${r2.client.stderr}${r2.serverErr}`);
      t.equal(r2.digest, patternDigest(200_000), '... intact');
      t.equal(r2.peer, NAT, '... from the NAT address too');
      t.match(g.read('nat', 'table'), /^tcp 198\.18\.2\.1:\d+ 198\.19\.0\.1:5003 => 198\.19\.0\.254:\d+ 198\.19\.0\.1:5003 out 0 reply 1 /m, 'the table holds the TCP mapping');

      const f = await tcpTransfer(lab, 'outside', 'h1', '198.18.1.1', 80, 200_000, [NAT, 8080]);
      t.equal(f.client.code, 0, `TCP outside -> ${NAT}:8080 finished ${f.client.stderr}`);
      t.equal(f.received, 200_000, `the port forward carried 200 kB to h1:80 ${f.serverErr}`);
      t.equal(f.digest, patternDigest(200_000), '... intact');
      t.equal(f.peer, OUT, 'h1 saw the outside host as its peer (destination NAT only)');
    }

    rt.stop();
    const c = g.allCounters();
    t.ok(c.nat.new_mappings >= (hasEthtool ? 5n : 2n), `the NAT made mappings (${c.nat.new_mappings})`);
    const natDrops = ['drops_bad_ip', 'drops_truncated', 'drops_fragment', 'drops_no_port', 'drops_table_full', 'drops_conflict'].reduce((s, k) => s + c.nat[k], 0n);
    t.equal(natDrops, 0n, 'no malformed packets, unreassembled fragments, port or table exhaustion at the NAT');
    t.equal(c.nat_unmapped.packets, 0n, "nothing from the inside was left unmapped (and dropped)");
    t.equal(c.if0_tx.drops + c.if1_tx.drops + c.up_tx.drops, 0n, 'no send failures');
    g.remove();
    t.equal(rt.poolStats().available, rt.poolStats().capacity, 'every buffer back in the pool');

    lab.destroy();
    t.same(labObjects(lab.prefix), { namespaces: [], interfaces: [] }, 'the lab left nothing behind');
  });
}

const avail = labAvailable();
if (!avail.ok) t.plan(0, `skip: ${avail.reason}`);
else main();
