// The hypervisor connection modes of configs/ on real interfaces, with a real DHCP client
// (busybox's udhcpc, from Debian; scripts/ensure-test-tools.sh installs it):
// - host-only (configs/vswitch-host-only.ts): two "VM" namespaces get addresses from the
//   DHCPServer, ping each other and the host's TAP; one renews (SIGUSR1) and releases
//   (SIGUSR2), and the server's lease table and counters follow;
// - NAT (configs/vswitch-nat.ts): a VM gets an address and a default route by DHCP and pings
//   an outside namespace through the IPRewriter, which has no route back to it;
// - bridged (configs/vswitch-bridged.ts): two VMs and a "LAN" namespace on one segment.
// Each lab is destroyed to nothing. Needs root, network namespaces and udhcpc; skips with the
// reason otherwise.
import t, { type Test } from 'tap';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile, Runtime } from 'pktgraph';
import { createLab, labAvailable, labObjects, type Lab } from '../src/lab/index.js';
import { ping, pingSummary } from './lib/labtools.js';
import hostOnly from '../configs/vswitch-host-only.js';
import natMode from '../configs/vswitch-nat.js';
import bridged from '../configs/vswitch-bridged.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const hasUdhcpc = spawnSync('sh', ['-c', 'command -v udhcpc'], { stdio: 'ignore' }).status === 0;

const dir = mkdtempSync(join(tmpdir(), 'pgw-dhcp-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

// udhcpc's event script: logs each event with what it got, configures the address (and the
// default route, when given one), or takes it away.
const script = join(dir, 'event.sh');
writeFileSync(
  script,
  `#!/bin/sh
echo "$1 ip=$ip subnet=$subnet router=$router lease=$lease" >> "$PGW_LOG"
case "$1" in
  bound|renew)
    ip addr replace "$ip/$subnet" dev "$interface"
    [ -n "$router" ] && ip route replace default via "$router" dev "$interface"
    ;;
  deconfig)
    ip addr flush dev "$interface"
    ip link set "$interface" up
    ;;
esac
exit 0
`,
  { mode: 0o755 },
);

/** Starts udhcpc in the foreground on a host's interface; its events go to a log. */
function dhcpClient(lab: Lab, host: string, ifname: string, once: boolean): { child: ChildProcess; log: string } {
  const log = join(dir, `${lab.id}-${host}.log`);
  const args = ['udhcpc', '-f', '-i', ifname, '-s', script, '-t', '10', '-T', '1', '-A', '1', ...(once ? ['-q', '-n'] : [])];
  const child = lab.spawn(host, ['env', `PGW_LOG=${log}`, ...args]);
  child.stdout?.resume();
  child.stderr?.resume();
  return { child, log };
}
const logOf = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
async function until(what: () => boolean, ms = 15000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (what()) return true;
    await sleep(50);
  }
  return what();
}
const addrOf = (lab: Lab, host: string, ifname: string) =>
  /inet (\S+)\//.exec(spawnSync('ip', ['-n', lab.netns(host), '-4', 'addr', 'show', 'dev', ifname], { encoding: 'utf8' }).stdout)?.[1];

/** A lab and a runtime, torn down even when the test fails; done() also checks the lab left
 *  nothing behind. */
function setup(t: Test, topology: Parameters<typeof createLab>[0], id: string) {
  const lab = createLab(topology, { id });
  const rt = new Runtime({ threads: 1, poolBuffers: 4096 });
  const clients: ChildProcess[] = [];
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    for (const c of clients) c.kill('SIGKILL');
    rt.close();
    lab.destroy();
  };
  t.teardown(stop);
  return {
    lab,
    rt,
    clients,
    done() {
      stop();
      t.same(labObjects(lab.prefix), { namespaces: [], interfaces: [] }, 'the lab left nothing behind');
    },
  };
}

function main() {
  t.test('host-only: DHCP leases to udhcpc, ping between VMs and to the host, renew, release', async (t) => {
    const s = setup(t, { hosts: [{ name: 'vm1' }, { name: 'vm2' }, { name: 'host' }], links: [{ a: 'vm1', b: 'engine' }, { a: 'vm2', b: 'engine' }] }, 'pgwho');
    const { lab, rt, clients } = s;
    const tap = `${lab.prefix}tap`;
    const g = rt.load(compile(hostOnly, { params: { vm0: lab.link(0).b, vm1: lab.link(1).b, hostTap: tap, leaseTime: 600 } }));
    rt.start();
    // The host's side: the TAP into the 'host' namespace with the host's address.
    for (const cmd of [
      ['link', 'set', tap, 'netns', lab.netns('host')],
      ['-n', lab.netns('host'), 'addr', 'add', '198.18.56.1/24', 'dev', tap],
      ['-n', lab.netns('host'), 'link', 'set', tap, 'up'],
    ])
      t.equal(spawnSync('ip', cmd, { stdio: 'ignore' }).status, 0, `ip ${cmd.join(' ')}`);

    const c1 = dhcpClient(lab, 'vm1', lab.link(0).a, false);
    clients.push(c1.child);
    const c2 = dhcpClient(lab, 'vm2', lab.link(1).a, true);
    clients.push(c2.child);
    t.ok(await until(() => /^bound /m.test(logOf(c1.log)) && /^bound /m.test(logOf(c2.log))), `both clients bound:\n${logOf(c1.log)}${logOf(c2.log)}`);
    const a1 = addrOf(lab, 'vm1', lab.link(0).a);
    const a2 = addrOf(lab, 'vm2', lab.link(1).a);
    t.match(a1, /^198\.18\.56\.1\d\d$/, `vm1 got ${a1} from the pool`);
    t.match(a2, /^198\.18\.56\.1\d\d$/, `vm2 got ${a2} from the pool`);
    t.not(a1, a2, 'different addresses');
    t.match(logOf(c1.log), /subnet=255\.255\.255\.0 router= lease=600/, 'the mask and lease time options, no router (host-only)');
    const leases = g.read('dhcp', 'leases');
    t.match(leases, new RegExp(`^${a1!.replace(/\./g, '\\.')} \\S+ bound \\d+$`, 'm'), `the lease table holds vm1's lease:\n${leases}`);
    t.match(leases, new RegExp(`^${a2!.replace(/\./g, '\\.')} \\S+ bound \\d+$`, 'm'), "... and vm2's");

    const p12 = await ping(lab, 'vm1', a2!);
    t.equal(p12.code, 0, `vm1 pings vm2 through the switch: ${pingSummary(p12)}`);
    const ph = await ping(lab, 'vm2', '198.18.56.1');
    t.equal(ph.code, 0, `vm2 pings the host's TAP: ${pingSummary(ph)}`);

    const before = g.counters('dhcp');
    c1.child.kill('SIGUSR1'); // renew
    t.ok(await until(() => /^renew /m.test(logOf(c1.log))), `vm1 renewed:\n${logOf(c1.log)}`);
    const mid = g.counters('dhcp');
    t.ok(mid.acks > before.acks, `the server acknowledged the renewal (${before.acks} -> ${mid.acks} acks)`);
    t.ok(await until(() => addrOf(lab, 'vm1', lab.link(0).a) === a1), 'vm1 kept its address');
    c1.child.kill('SIGUSR2'); // release
    t.ok(await until(() => g.counter('dhcp', 'releases') === 1n), 'the server freed the released lease');
    t.notMatch(g.read('dhcp', 'leases'), new RegExp(`^${a1!.replace(/\./g, '\\.')} .* bound`, 'm'), "vm1's lease is no longer bound");
    const c = g.counters('dhcp');
    t.equal(c.drops_malformed + c.drops_pool_exhausted + c.naks, 0n, 'no malformed requests, no exhaustion, no NAK');
    t.equal(g.counter('sw', 'drops_vlan') + g.counter('sw', 'drops_short'), 0n);

    s.done();
  });

  t.test('NAT: a VM gets an address and a route by DHCP and reaches the outside through IPRewriter', async (t) => {
    const s = setup(
      t,
      {
        hosts: [{ name: 'vm1' }, { name: 'vm2' }, { name: 'wan' }],
        links: [{ a: 'vm1', b: 'engine' }, { a: 'vm2', b: 'engine' }, { a: 'wan', b: 'engine', aAddresses: ['198.18.2.2/24'] }],
      },
      'pgwnat',
    );
    const { lab, rt, clients } = s;
    const g = rt.load(compile(natMode, { params: { vm0: lab.link(0).b, vm1: lab.link(1).b, outDev: lab.link(2).b } }));
    rt.start();
    const c1 = dhcpClient(lab, 'vm1', lab.link(0).a, true);
    clients.push(c1.child);
    t.ok(await until(() => /^bound /m.test(logOf(c1.log))), `vm1 bound:\n${logOf(c1.log)}`);
    t.match(logOf(c1.log), /router=198\.18\.1\.254/, 'the router option names the gateway');
    const p = await ping(lab, 'vm1', '198.18.2.2');
    t.equal(p.code, 0, `vm1 pings the outside through NAT: ${pingSummary(p)}`);
    t.match(g.read('nat', 'table'), /198\.18\.2\.254/, 'the NAT table maps vm1 to the uplink address');
    s.done();
  });

  t.test('bridged: two VMs and the LAN on one segment', async (t) => {
    const s = setup(
      t,
      {
        hosts: [{ name: 'vm1' }, { name: 'vm2' }, { name: 'lan' }],
        links: [
          { a: 'vm1', b: 'engine', aAddresses: ['198.18.0.1/24'] },
          { a: 'vm2', b: 'engine', aAddresses: ['198.18.0.2/24'] },
          { a: 'lan', b: 'engine', aAddresses: ['198.18.0.3/24'] },
        ],
      },
      'pgwbr',
    );
    const { lab, rt } = s;
    const g = rt.load(compile(bridged, { params: { vm0: lab.link(0).b, vm1: lab.link(1).b, uplink: lab.link(2).b } }));
    rt.start();
    for (const [h, dst] of [
      ['vm1', '198.18.0.3'],
      ['vm2', '198.18.0.3'],
      ['vm1', '198.18.0.2'],
    ]) {
      const p = await ping(lab, h, dst);
      t.equal(p.code, 0, `${h} pings ${dst}: ${pingSummary(p)}`);
    }
    const table = g.read('sw', 'table');
    t.equal(table.trim().split('\n').length, 3, `the switch learned the three hosts in VLAN 1:\n${table}`);
    s.done();
  });
}

const avail = labAvailable();
if (!avail.ok) t.plan(0, `skip: ${avail.reason}`);
else if (!hasUdhcpc) t.plan(0, 'skip: udhcpc (Debian package udhcpc) is missing; scripts/ensure-test-tools.sh installs it as root');
else main();
