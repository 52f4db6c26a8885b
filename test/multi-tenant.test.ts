// configs/multi-tenant.ts run as its comment says (configs/lab-multi-tenant.json, with a random
// lab id): three tenant routers with the same networks (198.18.0.0/24 behind each, 198.19.0.2/24
// on the uplink) share the port 'uplink', split by VLAN 101, 102, 103, each with a bandwidth
// guarantee. The upstream host has no VLAN devices (the kernel here has none), so a raw-socket
// gateway answers there: ARP for 198.19.0.1 and ICMP echo, on the VLAN the frame came on, and it
// logs the VLAN of every frame it answers. Checks: each tenant's host pings its own router and,
// through it and the shared uplink, the upstream gateway; the gateway saw each tenant's
// frames on that tenant's VLAN only; ARP for the routers' shared address 198.19.0.2 is
// answered once per claimed VLAN, by that VLAN's router, and not on an unclaimed VLAN (counted);
// the port lists the three attachments with their guarantees. Needs root (skips otherwise);
// run under flock /tmp/pktgraph-lab.lock.
import t from 'tap';
import { type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab, labAvailable, type Topology } from '../src/lab/index.js';
import { delay, ping, pingSummary } from './lib/labtools.js';
import { PY_VLAN_SOCKET, startEngine } from './lib/ports.js';

const configs = join(dirname(fileURLToPath(import.meta.url)), '..', 'configs');

// The upstream gateway 198.19.0.1 (MAC 02:00:00:00:99:01) on every VLAN, for argv[2] seconds;
// first it asks, on each VLAN in argv[3], who has 198.19.0.2. Prints "arp VLAN MAC" per
// answer it gets, "ping VLAN SRCMAC" per echo request it answers.
const PY_GATEWAY = `${PY_VLAN_SOCKET}
import time
s.settimeout(0.05)
ME, MYIP = bytes.fromhex('020000009901'), socket.inet_aton('198.19.0.1')
def tag(v): return struct.pack('!HH', 0x8100, v)
def csum(b):
    if len(b) % 2: b += b'\\0'
    x = sum(struct.unpack('!%dH' % (len(b) // 2), b)); x = (x >> 16) + (x & 0xffff); x += x >> 16
    return ~x & 0xffff
for v in [int(x) for x in sys.argv[3].split(',')]:
    arp = struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1) + ME + MYIP + b'\\0' * 6 + socket.inet_aton('198.19.0.2')
    s.send(b'\\xff' * 6 + ME + tag(v) + b'\\x08\\x06' + arp)
end = time.time() + float(sys.argv[2])
while time.time() < end:
    try: got = recv_vlan(s)
    except socket.timeout: continue
    if got is None: continue
    data, vlan, et, body = got
    src = data[6:12]
    if et == b'\\x08\\x06' and len(body) >= 28:
        op = struct.unpack('!H', body[6:8])[0]
        if op == 2: print('arp', vlan, body[8:14].hex(':'), flush=True)
        elif op == 1 and body[24:28] == MYIP:
            rep = struct.pack('!HHBBH', 1, 0x0800, 6, 4, 2) + ME + MYIP + body[8:14] + body[14:18]
            s.send(src + ME + tag(vlan) + b'\\x08\\x06' + rep)
    elif et == b'\\x08\\x00' and len(body) >= 28 and body[9] == 1 and body[16:20] == MYIP:
        ihl = (body[0] & 15) * 4
        icmp = bytearray(body[ihl:])
        if icmp[0] != 8: continue
        icmp[0] = 0; icmp[2:4] = b'\\0\\0'; icmp[2:4] = struct.pack('!H', csum(bytes(icmp)))
        ip = bytearray(body[:ihl]); ip[12:16], ip[16:20] = body[16:20], body[12:16]
        s.send(src + ME + tag(vlan) + b'\\x08\\x00' + bytes(ip) + bytes(icmp))
        print('ping', vlan, src.hex(':'), flush=True)
`;

const avail = labAvailable();
if (!avail.ok) {
  t.test('configs/multi-tenant.ts: three tenants with the same networks on one uplink split by VLAN', { skip: avail.reason }, async () => {});
} else {
  t.test('configs/multi-tenant.ts: three tenants with the same networks on one uplink split by VLAN', async (t) => {
    const work = mkdtempSync(join(tmpdir(), 'pktgraph-mt-'));
    const topology = JSON.parse(readFileSync(join(configs, 'lab-multi-tenant.json'), 'utf8')) as Topology & { id?: string };
    delete topology.id;
    const lab = createLab(topology, { id: `pgp${randomBytes(1).toString('hex')}` });
    const children: ChildProcess[] = [];
    t.teardown(() => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      lab.destroy();
      rmSync(work, { recursive: true, force: true });
    });
    const { engine } = await startEngine(work, 2, children);
    const file = join(configs, 'multi-tenant.ts');
    await engine.addPort('uplink', lab.link(0).b, { rate: 100e6 });
    const tenants = [
      { name: 't1', vlan: 101, guarantee: 40e6, lan: lab.link(1).b },
      { name: 't2', vlan: 102, guarantee: 30e6, lan: lab.link(2).b },
      { name: 't3', vlan: 103, guarantee: 20e6, lan: lab.link(3).b },
    ];
    for (const x of tenants)
      t.equal((await engine.createRouter(x.name, { file, params: { lan: x.lan, vlan: x.vlan, guarantee: x.guarantee } }, { start: true })).state, 'running', `${x.name} runs`);

    const port = (await engine.listPorts())[0];
    t.same(
      port.attachments.map((a) => [a.router, a.vlan, a.share?.guarantee]).sort(),
      tenants.map((x) => [x.name, x.vlan, x.guarantee]),
      'the uplink lists the three tenants with their VLANs and guarantees',
    );

    const gw = lab.exec('up', ['python3', '-u', '-c', PY_GATEWAY, lab.link(0).a, '12', '101,102,103,104'], { timeoutMs: 30_000 });
    await delay(1500);
    for (const x of tenants) {
      const own = await ping(lab, x.name, '198.18.0.254');
      t.equal(own.code, 0, `${x.name} pings its own router 198.18.0.254: ${pingSummary(own)}`);
      const up = await ping(lab, x.name, '198.19.0.1');
      t.equal(up.code, 0, `${x.name} pings the upstream gateway through the shared uplink: ${pingSummary(up)}`);
    }
    const log = (await gw).stdout.split('\n').filter(Boolean).map((l) => l.split(' '));
    const arp = log.filter((l) => l[0] === 'arp');
    t.same(arp.map((l) => l[1]).sort(), ['101', '102', '103'], 'who-has 198.19.0.2 answered once on each tenant VLAN, not on VLAN 104');
    t.equal(new Set(arp.map((l) => l[2])).size, 3, 'by three different routers (MACs)');
    const pings = log.filter((l) => l[0] === 'ping');
    for (const x of tenants) {
      const mine = arp.find((l) => l[1] === String(x.vlan))?.[2];
      const seen = pings.filter((l) => l[2] === mine);
      t.ok(seen.length >= 3, `the gateway answered ${seen.length} echo requests from ${x.name}'s router`);
      t.ok(seen.every((l) => l[1] === String(x.vlan)), `all of them on VLAN ${x.vlan} only`);
    }
    const counters = (await engine.listPorts())[0].counters;
    t.ok(counters.unclaimed.vlan >= 1, `the ARP request on VLAN 104, which nobody claims, counted as unclaimed: ${JSON.stringify(counters.unclaimed)}`);
    for (const x of tenants) await engine.deleteRouter(x.name);
    await engine.deletePort('uplink');
    await engine.stop();
  });
}
