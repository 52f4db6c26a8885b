// `pktgraph lab create|exec|reboot|modify|show|destroy -f FILE` run as users run them (the CLI in
// a child process), on the examples in configs/scenarios with their lab id replaced by a random
// pgnXX one: each builds, pings end to end and destroys to nothing (ip netns, ip link, the
// engine's socket); create again makes nothing; destroy after a create that failed half-way;
// reboot of one router leaves its neighbours' interfaces as they were; modify of one impairment
// leaves the others, and adding a node touches nothing else; save and restore keep both; an imported VNX scenario runs.
// Needs root and namespaces; skips with the reason otherwise.
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { labAvailable, labObjects, sweep } from '../src/lab/index.js';
import { startCli, repoRoot as root } from './lib/cli.js';
import { until } from './lib/wait.js';

const hasUdhcpc = spawnSync('sh', ['-c', 'command -v udhcpc'], { stdio: 'ignore' }).status === 0;
// A TCP server in the "outside" namespace: on 8000 and 23 it writes each peer's address to a file, says hello and hangs up.
const PY_SERVER = `
import socket, sys, threading
out = open(sys.argv[1], 'a', buffering=1)
def serve(s, port):
    while True:
        c, a = s.accept()
        out.write(f'{port} {a[0]}\\n')
        c.sendall(b'hello\\n')
        c.close()
for port in (8000, 23):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('198.18.41.1', port))
    s.listen()
    threading.Thread(target=serve, args=(s, port), daemon=True).start()
print('ready')
threading.Event().wait()
`;
// An 802.1Q-tagged ARP request: python3 -c PY_TAGGED_ARP IFNAME SRC-MAC VLAN SENDER-IP TARGET-IP.
const PY_TAGGED_ARP = `
import socket, struct, sys
ifname, mac, vlan, spa, tpa = sys.argv[1:6]
src = bytes.fromhex(mac.replace(':', ''))
arp = struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1) + src + socket.inet_aton(spa) + bytes(6) + socket.inet_aton(tpa)
frame = b'\\xff' * 6 + src + struct.pack('!HH', 0x8100, int(vlan)) + struct.pack('!H', 0x0806) + arp
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
s.send(frame)
`;
const readPcap = (file: string) => spawnSync('tcpdump', ['-r', file, '-nn', '-e'], { encoding: 'utf8' }).stdout;
const PY_CLIENT = 'import socket, sys; s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2); print(s.recv(100).decode().strip())';

/** tcpdump's text (-e: with link headers) of what an interface in a namespace saw while \`during\` ran: started and waited for, then
 *  stopped once the text satisfies \`enough\` (or 5 s passed). */
async function capture(ns: string, ifname: string, during: () => Promise<void>, enough: (text: string) => boolean): Promise<string> {
  const file = join(tmpdir(), `pktgraph-scen-${randomBytes(4).toString('hex')}.pcap`);
  const td = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '-i', ifname, '--immediate-mode', '-U', '-n', '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  td.stderr!.on('data', (d) => (err += d));
  try {
    await until(() => err.includes('listening on'), 10_000);
    await during();
    await until(() => enough(readPcap(file)), 5000, 50);
  } finally {
    const exited = new Promise((r) => td.on('close', r));
    td.kill('SIGINT');
    await exited;
  }
  const text = readPcap(file);
  rmSync(file, { force: true });
  return text;
}

const examples = join(root, 'configs', 'scenarios');

const avail = labAvailable();
if (!avail.ok) t.plan(0, `skip: ${avail.reason}`);
else if (spawnSync('ping', ['-V'], { stdio: 'ignore' }).status !== 0) t.plan(0, 'skip: ping (iputils-ping) is not installed; scripts/ensure-test-tools.sh installs it');
else main();

function main() {
  const work = mkdtempSync(join(tmpdir(), 'pktgraph-scen-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));

  // State files and engine sockets go to this test's own TMPDIR.
  const cli = (args: string[]) => startCli(args, { cwd: root, runtimeDir: work, env: { TMPDIR: work } }).done;
  /** An example with a random pgnXX id, written into the work directory. */
  const example = (file: string, edit: (s: string) => string = (s) => s) => {
    const id = `pgn${randomBytes(1).toString('hex')}`;
    const path = join(work, `${id}.yaml`);
    writeFileSync(path, edit(readFileSync(join(examples, file), 'utf8').replace(/^name: \w+$/m, `name: ${id}`)));
    return { id, path, prefix: `pg-${id}-`, socket: join(work, 'pktgraph-labs', `${id}.sock`) };
  };
  const ifindex = (ns: string, ifname: string) => readNs(ns, `/sys/class/net/${ifname}/ifindex`);
  const operstate = (ns: string, ifname: string) => readNs(ns, `/sys/class/net/${ifname}/operstate`);
  const readNs = (ns: string, path: string) => spawnSync('ip', ['netns', 'exec', ns, 'cat', path], { encoding: 'utf8' }).stdout.trim();
  const nothingLeft = (t: Test, lab: { prefix: string; socket: string }) => {
    t.same(labObjects(lab.prefix), { namespaces: [], interfaces: [] }, 'no namespace or interface left (ip netns, ip link)');
    t.notOk(existsSync(lab.socket), "the lab's engine is gone (its socket removed)");
  };
  const cleanup = (lab: { path: string; prefix: string }) => async () => {
    await cli(['lab', 'destroy', '-f', lab.path]);
    sweep(lab.prefix);
  };

  t.test('the VNX-style tutorial: create, ping, create again, reboot r1, destroy', async (t) => {
    const lab = example('tutorial.yaml');
    t.teardown(cleanup(lab));
    const c = await cli(['lab', 'create', '-f', lab.path, '--json']);
    t.equal(c.code, 0, c.stderr);
    const made = JSON.parse(c.stdout);
    t.equal(made.made.length, 10, 'made the engine, 3 nets and 6 nodes');
    const again = JSON.parse((await cli(['lab', 'create', '-f', lab.path, '--json'])).stdout);
    t.same([again.made.length, again.kept.length], [0, 10], 'create again makes nothing and reports everything kept');
    const ping = await cli(['lab', 'exec', '-f', lab.path, '-c', 'ping']);
    t.equal(ping.code, 0, 'every host pings across both pktgraph routers (IPv4 and IPv6)');
    t.equal((ping.stdout.match(/ 0% packet loss/g) ?? []).length, 5, 'five pings, none lost');

    const h1 = `${lab.prefix}h1`;
    const before = { h1: ifindex(h1, 'eth0'), h2: ifindex(`${lab.prefix}h2`, 'eth0'), objs: labObjects(lab.prefix) };
    const rb = await cli(['lab', 'reboot', '-f', lab.path, '-M', 'r1', '--json']);
    t.equal(rb.code, 0, rb.stderr);
    t.same(JSON.parse(rb.stdout).removed, ['node r1']);
    t.same([ifindex(h1, 'eth0'), ifindex(`${lab.prefix}h2`, 'eth0')], [before.h1, before.h2], "r1's neighbours keep their interfaces");
    t.equal(operstate(h1, 'eth0'), 'up', "h1's link stayed up");
    t.same(labObjects(lab.prefix), before.objs, 'the same kernel objects by name after the reboot');
    const after = await cli(['lab', 'exec', '-f', lab.path, '-M', 'h1,h3', '-c', 'ping']);
    t.equal(after.code, 0, 'ping across the rebuilt r1');

    const show = await cli(['lab', 'show', '-f', lab.path, '--json']);
    t.ok(JSON.parse(show.stdout).nodes.every((n: { up: boolean }) => n.up), 'show: every node up');
    const svg = join(work, 'tutorial.svg');
    const draw = await cli(['lab', 'show', '-f', lab.path, '--svg', svg]);
    if (draw.code === 0) t.match(readFileSync(svg, 'utf8'), /<svg[\s\S]*r1/, 'show --svg draws the topology');
    else t.match(draw.stderr, /apt-get install graphviz/, 'show --svg says how to get Graphviz');

    const d = await cli(['lab', 'destroy', '-f', lab.path]);
    t.match(d.stdout, /2 virtual routers, 4 namespaces, \d+ interfaces removed; nothing left/);
    nothingLeft(t, lab);
  });

  t.test('destroy after a create that failed half-way', async (t) => {
    // h3's route has a gateway on no net of h3: the kernel refuses it after h1, h2, r1 and r2 stand.
    const lab = example('tutorial.yaml', (s) => s.replace('{ to: default, via: 198.18.2.1 }\n      - { to: default6, via: "fd00:0:0:2::1" }\n    exec:\n      ping: [ping -c 2 -W 2 198.18.0.2]', '{ to: default, via: 198.18.9.1 }\n    exec:\n      ping: [ping -c 2 -W 2 198.18.0.2]'));
    t.teardown(cleanup(lab));
    const c = await cli(['lab', 'create', '-f', lab.path]);
    t.equal(c.code, 1);
    t.match(c.stderr, /lab create: node 'h3': /, 'the error names the node');
    const half = labObjects(lab.prefix);
    t.ok(half.namespaces.includes(`${lab.prefix}h1`) && !half.namespaces.includes(`${lab.prefix}h3`), 'h1 stands, h3 was removed whole');
    t.ok(existsSync(lab.socket), 'the engine runs with r1 and r2');
    const d = await cli(['lab', 'destroy', '-f', lab.path]);
    t.equal(d.code, 0, d.stderr);
    t.match(d.stdout, /2 virtual routers, 2 namespaces/, 'r1, r2, h1 and h2 removed');
    nothingLeft(t, lab);
  });

  t.test('shaped WAN: one impairment changed live, the others kept; a node added alone', async (t) => {
    const lab = example('shaped-wan.yaml');
    t.teardown(cleanup(lab));
    t.equal((await cli(['lab', 'create', '-f', lab.path])).code, 0);
    const rtt = async () => {
      const r = await cli(['lab', 'exec', '-f', lab.path, '-M', 'a1', '-c', 'ping']);
      const m = /rtt min\/avg\/max\/mdev = ([\d.]+)/.exec(r.stdout);
      return m ? Number(m[1]) : NaN;
    };
    const r0 = await rtt();
    t.ok(r0 >= 30 && r0 < 60, `round trip ${r0} ms over 15 ms each way (at least 30 ms)`);
    const read = async (h: string) => (await cli(['read', `link-wan/${h}`, '--control', lab.socket])).stdout.trim();
    const m = await cli(['lab', 'modify', '-f', lab.path, '--set', 'wan.ab.delay=0.05']);
    t.equal(m.code, 0, m.stderr);
    t.same([await read('ab.delay'), await read('ab.rate'), await read('ab.loss'), await read('ba.delay'), await read('ba.rate')], ['0.05', '20000000', '0.1', '0.015', '20000000'], 'only ab.delay changed');
    const r1 = await rtt();
    t.ok(r1 >= 65 && r1 < 100, `round trip ${r1} ms after ab.delay=0.05 (at least 65 ms)`);
    t.match((await cli(['lab', 'show', '-f', lab.path])).stdout, /"ab":\{"rate":20000000,"delay":0.05,"loss":0.1\}/, 'show prints the changed value');

    // The file with one more host on siteb: modify builds it and nothing else.
    const b1 = ifindex(`${lab.prefix}b1`, 'eth0');
    const ra = ifindex(`${lab.prefix}ra`, 'eth0');
    writeFileSync(lab.path, readFileSync(lab.path, 'utf8').replace('delay: 0.015, loss: 0.1', 'delay: 0.05, loss: 0.1') + '  - name: b2\n    type: host\n    interfaces:\n      - { net: siteb, addresses: [198.18.11.3/24] }\n');
    const add = await cli(['lab', 'modify', '-f', lab.path, '--json']);
    t.equal(add.code, 0, add.stderr);
    t.same(JSON.parse(add.stdout), { lab: lab.id, made: ['node b2 (host, namespace ' + `${lab.prefix}b2)`], kept: [], removed: [] }, 'only b2 made');
    t.same([ifindex(`${lab.prefix}b1`, 'eth0'), ifindex(`${lab.prefix}ra`, 'eth0')], [b1, ra], 'the other nodes untouched');
    t.equal(await read('ab.delay'), '0.05');
    const p = spawnSync('ip', ['netns', 'exec', `${lab.prefix}b2`, 'ping', '-c', '3', '-i', '0.3', '-W', '2', '198.18.11.2'], { encoding: 'utf8' });
    t.equal(p.status, 0, 'b2 reaches b1');

    // save writes the lab as it stands; restore rebuilds it from that file, the change kept.
    const saved = join(work, `${lab.id}-saved.yaml`);
    t.equal((await cli(['lab', 'save', '-f', lab.path, '-o', saved])).code, 0);
    const text = readFileSync(saved, 'utf8');
    t.match(text, /delay: 0\.05/, 'the saved file has the live change');
    t.match(text, /name: b2/, 'and the added node');
    const rs = await cli(['lab', 'restore', '-f', saved]);
    t.equal(rs.code, 0, rs.stderr);
    t.equal(await read('ab.delay'), '0.05', 'restored with the change');
    t.equal(await read('ab.loss'), '0.1', 'and the rest');
    t.equal(spawnSync('ip', ['netns', 'exec', `${lab.prefix}a1`, 'ping', '-c', '3', '-i', '0.3', '-W', '2', '198.18.11.2'], { encoding: 'utf8' }).status, 0, 'a1 reaches b1 across the restored WAN');
    t.equal((await cli(['lab', 'destroy', '-f', lab.path])).code, 0);
    nothingLeft(t, lab);
  });

  t.test('an imported VNX scenario builds, runs its exec sequences and goes', async (t) => {
    const id = `pgn${randomBytes(1).toString('hex')}`;
    const path = join(work, `${id}.yaml`);
    const imp = await cli(['lab', 'import', join(examples, 'vnx-simple.xml'), '--name', id, '-o', path]);
    t.equal(imp.code, 0, 'imported');
    t.match(imp.stderr, /vm h1: type lxc, filesystem, mem ignored/, 'with warnings');
    const lab = { id, path, prefix: `pg-${id}-`, socket: join(work, 'pktgraph-labs', `${id}.sock`) };
    t.teardown(cleanup(lab));
    t.equal((await cli(['lab', 'create', '-f', path])).code, 0);
    const ping = await cli(['lab', 'exec', '-f', path, '-M', 'h2', '-c', 'ping']);
    t.equal(ping.code, 0, 'h2 pings h1 through the Linux router r1 (IPv4 and IPv6)');
    t.match((await cli(['lab', 'exec', '-f', path, '-c', 'hello'])).stdout, /\[h1\] hello from h1/);
    t.equal((await cli(['lab', 'destroy', '-f', path])).code, 0);
    nothingLeft(t, lab);
  });

  t.test('tenant NAT: DHCP leases (one static), ping and TCP through the NAT, a port ACL, the mirror, VLANs on access and trunk ports', { skip: hasUdhcpc ? false : 'udhcpc (Debian package udhcpc) is missing; scripts/ensure-test-tools.sh installs it' }, async (t) => {
    const lab = example('tenant-nat.yaml');
    t.teardown(cleanup(lab));
    const ns = (node: string) => `${lab.prefix}${node}`;
    const inNs = (node: string, args: string[]) => spawnSync('ip', ['netns', 'exec', ns(node), ...args], { encoding: 'utf8', timeout: 30_000 });
    const read = async (h: string) => (await cli(['read', `net-tenant/${h}`, '--control', lab.socket])).stdout.trim();
    const c = await cli(['lab', 'create', '-f', lab.path, '--json']);
    t.equal(c.code, 0, c.stderr);
    const made: string[] = JSON.parse(c.stdout).made;
    t.ok(made.includes('net tenant (switch, nat, DHCP, virtual router net-tenant)'), 'the switch net is a virtual router of the engine');

    // Leases: h1 from the pool, h2 its static binding (by the MAC the file gives it).
    const addr = (node: string) => /inet (198\.18\.40\.\d+)\/24/.exec(inNs(node, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']).stdout)?.[1];
    const a1 = addr('h1')!;
    const a2 = addr('h2');
    t.ok(a1 && Number(a1.split('.')[3]) >= 100 && Number(a1.split('.')[3]) <= 199, `h1 leased ${a1}, inside the pool 198.18.40.100-199`);
    t.equal(a2, '198.18.40.10', "h2 leased its static binding");
    t.ok(made.includes(`dhcp h1 eth0 ${a1}/24`) && made.includes('dhcp h2 eth0 198.18.40.10/24'), 'create reports both leases');
    t.match(inNs('h1', ['ip', 'route', 'show', 'default']).stdout, /default via 198\.18\.40\.1 /, "h1's default route is the gateway (the router option)");
    const show = JSON.parse((await cli(['lab', 'show', '-f', lab.path, '--json'])).stdout);
    const leases = show.nets.find((n: { name: string }) => n.name === 'tenant').leases;
    t.same(
      leases.map((l: { ip: string; mac: string; state: string }) => [l.ip, l.mac, l.state]).sort(),
      [['198.18.40.10', '02:00:00:00:40:0a', 'static'], [a1, readNs(ns('h1'), '/sys/class/net/eth0/address'), 'bound']].sort(),
      'show lists the leases: the static one and h1\'s, by its MAC',
    );
    const again = JSON.parse((await cli(['lab', 'create', '-f', lab.path, '--json'])).stdout);
    t.same(again.made, [], 'create again makes nothing (the leases kept)');

    // Ping and TCP through the NAT: the server sees the gateway's outside address.
    const ping = await cli(['lab', 'exec', '-f', lab.path, '-c', 'ping']);
    t.equal((ping.stdout.match(/ 0% packet loss/g) ?? []).length, 2, `h1 and h2 ping the server through the NAT:\n${ping.stdout}${ping.stderr}`);
    t.equal(inNs('server', ['ip', 'route', 'show', '198.18.40.0/24']).stdout.trim(), '', 'the server has no route to the tenant net');
    const peers = join(work, `${lab.id}-peers.log`);
    const server = spawn('ip', ['netns', 'exec', ns('server'), 'python3', '-u', '-c', PY_SERVER, peers], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.teardown(() => void server.kill('SIGKILL'));
    let ready = '';
    server.stdout!.on('data', (d) => (ready += d));
    t.ok(await until(() => ready.includes('ready'), 10_000), 'the server listens on 8000 and 23');
    const connect = (node: string, port: number) => inNs(node, ['python3', '-c', PY_CLIENT, '198.18.41.1', String(port)]);
    const tcp1 = connect('h1', 8000);
    t.equal(tcp1.stdout.trim(), 'hello', `h1 talks TCP to the server through the NAT ${tcp1.stderr}`);
    t.equal(connect('h1', 23).status, 0, 'h1 reaches port 23 (no ACL on its port)');
    t.equal(connect('h2', 8000).status, 0, 'h2 reaches port 8000');
    const drops0 = Number(await read('sw.drops_acl_in'));
    t.not(connect('h2', 23).status, 0, "h2's port ACL refuses telnet");
    t.ok(Number(await read('sw.drops_acl_in')) > drops0, 'counted in drops_acl_in');
    t.same(readFileSync(peers, 'utf8').trim().split('\n'), ['8000 198.18.41.254', '23 198.18.41.254', '8000 198.18.41.254'], 'the server saw every connection from the NAT address, none on 23 from h2');
    t.match(await read('nat.table'), /198\.18\.41\.254/, 'the NAT table maps them to the uplink address');

    // The mirror: mon sees h1's frames (both ways), not h2's.
    const cap = await capture(ns('mon'), 'eth0', async () => {
      inNs('h1', ['ping', '-c', '2', '-i', '0.2', '-W', '2', '198.18.41.1']);
      inNs('h2', ['ping', '-c', '2', '-i', '0.2', '-W', '2', '198.18.41.1']);
    }, (text) => (text.match(/ICMP echo reply/g) ?? []).length >= 2);
    t.equal((cap.match(new RegExp(`${a1.replace(/\./g, '\\.')} > 198\\.18\\.41\\.1: ICMP echo request`, 'g')) ?? []).length, 2, `mon got h1's two echo requests:\n${cap}`);
    t.equal((cap.match(new RegExp(`198\\.18\\.41\\.1 > ${a1.replace(/\./g, '\\.')}: ICMP echo reply`, 'g')) ?? []).length, 2, "and the replies to h1");
    t.notMatch(cap, /198\.18\.40\.10\b/, "and nothing of h2's");

    // VLANs: h3 (access, VLAN 20) reaches no VLAN 10 host; tr's trunk carries VLAN 20 tagged to it.
    t.not(inNs('h3', ['ping', '-c', '2', '-i', '0.2', '-W', '1', a1]).status, 0, 'h3 on VLAN 20 cannot reach h1 on VLAN 10');
    // This kernel may have no VLAN devices (8021q): tr sends a tagged ARP request itself.
    const trMac = readNs(ns('tr'), '/sys/class/net/eth0/address');
    let sent = { status: -1 as number | null, stderr: '' };
    const tagged = await capture(ns('tr'), 'eth0', async () => {
      sent = inNs('tr', ['python3', '-c', PY_TAGGED_ARP, 'eth0', trMac, '20', '198.18.40.31', '198.18.40.30']);
    }, (text) => /Reply 198\.18\.40\.30 is-at/.test(text));
    t.equal(sent.status, 0, `tr sent a request tagged with VLAN 20 ${sent.stderr}`);
    t.match(tagged, new RegExp(`> ${trMac}, ethertype 802\\.1Q \\(0x8100\\), length \\d+: vlan 20, p 0, ethertype ARP \\(0x0806\\), Reply 198\\.18\\.40\\.30 is-at`), `h3's answer arrives on the trunk tagged with VLAN 20:\n${tagged}`);
    t.notMatch(tagged, /ethertype ARP \(0x0806\), length \d+: Reply 198\.18\.40\.30/, 'and never untagged');

    const d = await cli(['lab', 'destroy', '-f', lab.path]);
    t.equal(d.code, 0, d.stderr);
    t.match(d.stdout, /1 virtual routers, 6 namespaces, \d+ interfaces removed; nothing left/);
    nothingLeft(t, lab);
    t.notOk(spawnSync('ip', ['link', 'show'], { encoding: 'utf8' }).stdout.includes(lab.prefix), 'ip link shows none of its interfaces');
    t.notOk(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.includes(lab.prefix), 'ip netns shows none of its namespaces');
  });

  t.test('malformed file: an error naming the line and field, nothing created', async (t) => {
    const lab = example('tutorial.yaml', (s) => s.replace('198.18.2.3/24', '198.18.2.3/99'));
    const c = await cli(['lab', 'create', '-f', lab.path]);
    t.equal(c.code, 1);
    t.match(c.stderr, new RegExp(`${lab.id}\\.yaml:\\d+: nodes\\.5\\.interfaces\\.0\\.addresses\\.0: `));
    t.same(labObjects(lab.prefix), { namespaces: [], interfaces: [] }, 'nothing created');
  });
}
