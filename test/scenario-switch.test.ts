// Switch nets of lab scenarios (docs/scenarios.md), run as users run them (the CLI in a child
// process): the tenant-nat example (configs/scenarios/tenant-nat.yaml) gets both DHCP leases (one
// from the pool, one static), pings and talks TCP through the NAT (the outside sees the NAT's
// address), and its port ACL, mirror and VLANs on access and trunk ports are checked with tcpdump
// captures; rebooting a DHCP host rebuilds its switch and it leases again; a bridged switch net
// takes a host interface as a port and destroy leaves that
// interface alone. Each lab is destroyed to nothing (ip netns, ip link). Needs root, namespaces,
// ping, tcpdump and python3 (udhcpc for the DHCP one); skips with the reason otherwise.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { labAvailable } from '../src/lab/index.js';
import { until } from './lib/wait.js';
import { scenarioKit } from './lib/scenario-lab.js';

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

const avail = labAvailable();
const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const missing = ['ping', 'tcpdump', 'python3'].filter((c) => !have(c));
if (!avail.ok) t.plan(0, `skip: ${avail.reason}`);
else if (missing.length) t.plan(0, `skip: ${missing.join(', ')} not installed; scripts/ensure-test-tools.sh installs ping and tcpdump`);
else main();

function main() {
  const { work, cli, example, readNs, nothingLeft, cleanup } = scenarioKit(t);

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

    // Rebooting h1 rebuilds it and the switch it is on; it asks for a lease again and gets through.
    const rb = await cli(['lab', 'reboot', '-f', lab.path, '-M', 'h1', '--json']);
    t.equal(rb.code, 0, rb.stderr);
    const rebuilt: string[] = JSON.parse(rb.stdout).made;
    t.ok(rebuilt.includes('net tenant (switch, nat, DHCP, virtual router net-tenant)') && rebuilt.some((m) => /^dhcp h1 eth0 198\.18\.40\.1\d\d\/24$/.test(m)), `reboot -M h1 rebuilt h1 and its switch, and h1 leased again: ${rebuilt.join('; ')}`);
    t.equal(inNs('h1', ['ping', '-c', '2', '-i', '0.2', '-W', '2', '198.18.41.1']).status, 0, 'h1 reaches the server through the NAT again');

    const d = await cli(['lab', 'destroy', '-f', lab.path]);
    t.equal(d.code, 0, d.stderr);
    t.match(d.stdout, /1 virtual routers, 6 namespaces, \d+ interfaces removed; nothing left/);
    nothingLeft(t, lab);
    t.notOk(spawnSync('ip', ['link', 'show'], { encoding: 'utf8' }).stdout.includes(lab.prefix), 'ip link shows none of its interfaces');
    t.notOk(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.includes(lab.prefix), 'ip netns shows none of its namespaces');
  });

  t.test('a bridged switch net: a host interface as a switch port, left in place by destroy', async (t) => {
    const id = `pgn${randomBytes(1).toString('hex')}`;
    // The "host's LAN": a veth pair the test makes (not the lab), its far end in a namespace of its own.
    const [up, outNs] = [`pgx${id}u`, `pgx-${id}-lan`];
    const undo = () => {
      spawnSync('ip', ['netns', 'del', outNs], { stdio: 'ignore' });
      spawnSync('ip', ['link', 'del', up], { stdio: 'ignore' });
    };
    t.teardown(undo);
    for (const cmd of [
      ['netns', 'add', outNs],
      ['link', 'add', up, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outNs],
      ['link', 'set', up, 'up'],
      ['-n', outNs, 'addr', 'add', '198.18.42.1/24', 'dev', 'eth0'],
      ['-n', outNs, 'link', 'set', 'eth0', 'up'],
    ])
      t.equal(spawnSync('ip', cmd, { stdio: 'ignore' }).status, 0, `ip ${cmd.join(' ')}`);
    const path = join(work, `${id}.yaml`);
    const scenario = (bridge: string) =>
      `name: ${id}\nnets:\n  - { name: lan, type: switch, mode: bridged, bridge: ${bridge} }\nnodes:\n  - name: h1\n    type: host\n    interfaces:\n      - { net: lan, addresses: [198.18.42.2/24] }\n`;
    const lab = { id, path, prefix: `pg-${id}-`, socket: join(work, 'pktgraph-labs', `${id}.sock`) };
    t.teardown(cleanup(lab));
    writeFileSync(path, scenario(`pgx${id}z`));
    const missing = await cli(['lab', 'create', '-f', path]);
    t.match(missing.stderr, new RegExp(`net 'lan': mode bridged: there is no host interface 'pgx${id}z'`), 'a missing host interface is named');
    t.equal((await cli(['lab', 'destroy', '-f', path])).code, 0);
    writeFileSync(path, scenario(up));
    const c = await cli(['lab', 'create', '-f', path]);
    t.equal(c.code, 0, c.stderr);
    const p = spawnSync('ip', ['netns', 'exec', `${lab.prefix}h1`, 'ping', '-c', '2', '-i', '0.2', '-W', '2', '198.18.42.1'], { encoding: 'utf8' });
    t.equal(p.status, 0, `h1 reaches the host's LAN through the switch: ${p.stdout}`);
    t.equal((await cli(['lab', 'destroy', '-f', path])).code, 0);
    nothingLeft(t, lab);
    t.equal(spawnSync('ip', ['link', 'show', 'dev', up], { stdio: 'ignore' }).status, 0, 'the bridged host interface is still there');
  });

}
