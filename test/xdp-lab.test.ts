// AF_XDP (FromDevice/ToDevice `method: 'xdp'`) in a lab: ping (a lone echo answered within a
// millisecond on an idle link) and a 1 MB TCP transfer through
// the engine's bridge (configs/bridge.ts with method=xdp) and through the IPv4 router (ipRouter
// with `method: 'xdp'` interfaces); the fallback to AF_PACKET with its one-line reason, and the
// refusal with xdpFallback false; the XDP program gone after the graph is removed and after a
// kill -9 of an engine process; and a program left behind the old way (netlink, forced with
// PKTGRAPH_XDP_NETLINK=1) reported and replaced by the next engine.
// Needs root, network namespaces and AF_XDP (run under the lab lock); skips with the reason otherwise.
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { graph, compile, Runtime, FromDevice, ToDevice, ipRouter } from 'pktgraph';
import { createLab, labAvailable, type Lab } from '../src/lab/index.js';
import { ping, pingSummary, tcpTransfer, patternDigest, delay, hasPing, noAfXdp, labRuntime, twoHostsOnEngine } from './lib/labtools.js';
import { until } from './lib/wait.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const MB = 1 << 20;

const hasSetpriv = spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status === 0;

const avail = labAvailable();
if (!avail.ok) t.test('AF_XDP in a lab', { skip: avail.reason }, async () => {});
else if (noAfXdp) t.test('AF_XDP in a lab', { skip: noAfXdp }, async () => {});
else main();

/** The XDP program on a device (root namespace): its name, or '' when none. */
function xdpProgram(device: string): string {
  const r = spawnSync('ip', ['-d', 'link', 'show', 'dev', device], { encoding: 'utf8', timeout: 10_000 });
  return /prog\/xdp id \d+ name (\S+)/.exec(r.stdout ?? '')?.[1] ?? '';
}

function twoHosts(): Lab {
  return createLab(twoHostsOnEngine);
}

/** configs/bridge.ts over AF_XDP in a separate engine process (killed by the caller). */
function bridgeProcess(lab: Lab, env: NodeJS.ProcessEnv = {}, prefix: string[] = []): { child: ChildProcess; stderr: () => string } {
  const argv = [...prefix, process.execPath, join(root, 'bin', 'pktgraph.js'), 'run', join(root, 'configs', 'bridge.ts'), '-p', `a=${lab.link(0).b}`, '-p', `b=${lab.link(1).b}`, '-p', 'method=xdp', '-t', '1', '-d', '60'];
  const child = spawn(argv[0], argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  return { child, stderr: () => err };
}

function main() {
  t.test('the engine bridge over AF_XDP: ping, 1 MB of TCP, the program gone when the graph is removed', async (t) => {
    const lab = twoHosts();
    const rt = new Runtime({ threads: 1, poolBuffers: 8192 });
    t.teardown(() => {
      rt.close();
      lab.destroy();
    });
    const [e1, e2] = [lab.link(0).b, lab.link(1).b];
    const strict = { method: 'xdp', xdpFallback: false } as const;
    const g = rt.load(
      compile(
        graph('xdp-bridge', () => {
          FromDevice({ device: e1, ...strict }, 'rx1').to(ToDevice({ device: e2, ...strict }, 'tx2'));
          FromDevice({ device: e2, ...strict }, 'rx2').to(ToDevice({ device: e1, ...strict }, 'tx1'));
        }),
      ),
    );
    rt.start();
    t.match(g.read('rx1', 'method'), /^xdp \(native XDP, (copy mode|zero-copy), queue 0\)$/, 'FromDevice receives through AF_XDP with native XDP on the veth');
    t.match(g.read('tx2', 'method'), /^xdp \(/, 'ToDevice sends through AF_XDP');
    t.equal(xdpProgram(e1), 'pktgraph_xsk', 'the redirect program is attached to the device');

    const p = await ping(lab, 'h1', '198.18.0.2');
    t.equal(p.code, 0, `ping through the AF_XDP bridge: ${pingSummary(p)}`);
    if (hasPing) {
      // The idle worker waits in poll() on the AF_XDP socket: each echo, after 100 ms of silence,
      // goes through at once. The median of 15 round trips (two passes through the engine), so a
      // few pings delayed by other processes on a busy machine do not decide it.
      const r = await lab.exec('h1', ['ping', '-n', '-c', '15', '-W', '1', '-i', '0.1', '198.18.0.2'], { timeoutMs: 20_000 });
      const times = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
      t.equal(times.length, 15, 'every echo answered');
      t.ok(times[7] < 1.0, `median round trip through the AF_XDP bridge ${times[7]} ms (< 1 ms; all: ${times.join(', ')} ms)`);
    }
    const x = await tcpTransfer(lab, 'h1', 'h2', '198.18.0.2', 5001, MB);
    t.equal(x.received, MB, `1 MB of TCP arrived (${x.serverErr || 'ok'})`);
    t.equal(x.digest, patternDigest(MB), 'byte for byte');
    const c = g.allCounters();
    t.ok(c.rx1.packets > 700n && c.tx2.packets === c.rx1.packets, `the segments went through the engine (rx1 ${c.rx1.packets}, tx2 ${c.tx2.packets})`);
    t.equal(c.rx1.kernel_drops + c.tx2.drops + c.tx2.drops_ring_full, 0n, 'nothing dropped');
    g.remove();
    t.equal(xdpProgram(e1), '', 'the program is detached when the graph is removed');
    t.equal(xdpProgram(e2), '', '... on both devices');
  });

  t.test('the IPv4 router over AF_XDP: ping and 1 MB of TCP between two subnets', async (t) => {
    const { lab, rt } = labRuntime(t, {
      hosts: [
        { name: 'h1', routes: [{ to: 'default', via: '198.18.1.254' }] },
        { name: 'h2', routes: [{ to: 'default', via: '198.18.2.254' }] },
      ],
      links: [
        { a: 'h1', b: 'engine', aAddresses: ['198.18.1.1/24'] },
        { a: 'h2', b: 'engine', aAddresses: ['198.18.2.1/24'] },
      ],
    }, { threads: 1, poolBuffers: 8192 });
    const router = ipRouter({ name: 'xdp-router' }, () => ({
      interfaces: [
        { device: lab.link(0).b, ipv4: '198.18.1.254/24', method: 'xdp' },
        { device: lab.link(1).b, ipv4: '198.18.2.254/24', method: 'xdp' },
      ],
    }));
    const g = rt.load(compile(router));
    rt.start();
    t.match(g.read('if0_rx', 'method'), /^xdp \(/, `the router's interfaces use AF_XDP (${g.read('if0_rx', 'method')})`);
    const p = await ping(lab, 'h1', '198.18.2.1');
    t.equal(p.code, 0, `ping through the router: ${pingSummary(p)}`);
    const x = await tcpTransfer(lab, 'h1', 'h2', '198.18.2.1', 5002, MB);
    t.equal(x.received, MB, `1 MB of TCP arrived (${x.serverErr || 'ok'})`);
    t.equal(x.digest, patternDigest(MB), 'byte for byte');
    t.equal(x.peer, '198.18.1.1', 'routed, not translated');
    g.remove();
    t.equal(xdpProgram(lab.link(0).b), '', 'the program is detached when the graph is removed');
  });

  t.test('where AF_XDP cannot be used: AF_PACKET with the reason, or a refusal with xdpFallback false', async (t) => {
    const lab = twoHosts();
    const rt = new Runtime({ threads: 1, poolBuffers: 4096 });
    t.teardown(() => {
      rt.close();
      lab.destroy();
    });
    const e1 = lab.link(0).b;
    // A veth has one queue: queue 5 cannot be bound.
    t.throws(
      () => rt.load(compile(graph('strict', () => void FromDevice({ device: e1, method: 'xdp', queue: 5, xdpFallback: false }, 'rx').to(ToDevice({ device: lab.link(1).b }, 'tx'))))),
      new RegExp(`device '${e1}': AF_XDP cannot be used: .*queue 5.*no such queue.*xdpFallback is false`),
      'refused, naming the device, the reason and the setting',
    );
    t.equal(xdpProgram(e1), '', 'nothing left attached by the refused graph');
    const g = rt.load(compile(graph('fallback', () => void FromDevice({ device: e1, method: 'xdp', queue: 5 }, 'rx').to(ToDevice({ device: lab.link(1).b }, 'tx')))));
    t.match(g.read('rx', 'method'), /^packet \(adaptive: TPACKET_V2 at low rates, V3 at high\), AF_XDP not used: .*queue 5/, 'with the fallback it receives with AF_PACKET and says why');
    g.remove();
  });

  t.test('without CAP_BPF and CAP_NET_ADMIN (only CAP_NET_RAW): the bridge says why and falls back to AF_PACKET', { skip: hasSetpriv ? false : 'setpriv (util-linux) is missing: it drops the capabilities' }, async (t) => {
    const lab = twoHosts();
    t.teardown(() => lab.destroy());
    const e1 = lab.link(0).b;
    const b = bridgeProcess(lab, {}, ['setpriv', '--inh-caps=-all', '--bounding-set=-all,+net_raw', '--']);
    t.teardown(() => void b.child.kill('SIGKILL'));
    t.ok(await until(() => /receiving with AF_PACKET instead[\s\S]*receiving with AF_PACKET instead/.test(b.stderr()), 30_000, 50), 'both FromDevices said why and fell back');
    t.match(b.stderr(), /FromDevice\): device '[^']+': AF_XDP cannot be used: no permission to create a BPF map: .*CAP_BPF and CAP_NET_ADMIN/, `one sentence with the reason: ${b.stderr().split('\n')[0]}`);
    t.equal(xdpProgram(e1), '', 'no program attached');
    await delay(500); // the rings are open once the lines are written; give the engine time to start its worker
    const p = await ping(lab, 'h1', '198.18.0.2');
    t.equal(p.code, 0, `the bridge forwards over AF_PACKET: ${pingSummary(p)}`);
    b.child.kill('SIGKILL');
  });

  t.test('after a kill -9 of the engine: its program is gone; a netlink-attached leftover is reported and replaced', async (t) => {
    const lab = twoHosts();
    const kids: ChildProcess[] = [];
    t.teardown(() => {
      for (const k of kids) k.kill('SIGKILL');
      for (const l of [lab.link(0).b, lab.link(1).b]) spawnSync('ip', ['link', 'set', 'dev', l, 'xdp', 'off'], { stdio: 'ignore' });
      lab.destroy();
    });
    const e1 = lab.link(0).b;

    // Attached through a BPF link: the kernel detaches it when the killed process's fds close.
    const a = bridgeProcess(lab);
    kids.push(a.child);
    t.ok(await until(() => xdpProgram(e1) === 'pktgraph_xsk', 30_000, 50), `the engine attached its program (${a.stderr() || 'no stderr'})`);
    a.child.kill('SIGKILL');
    t.ok(await until(() => xdpProgram(e1) === '', 5_000, 50), 'gone within 5 s of the kill -9');

    // Attached the netlink way (as on kernels without XDP links): it outlives the process ...
    const b = bridgeProcess(lab, { PKTGRAPH_XDP_NETLINK: '1' });
    kids.push(b.child);
    t.ok(await until(() => xdpProgram(e1) === 'pktgraph_xsk', 30_000, 50), `attached the netlink way (${b.stderr() || 'no stderr'})`);
    b.child.kill('SIGKILL');
    await new Promise((r) => b.child.once('exit', r));
    t.equal(xdpProgram(e1), 'pktgraph_xsk', 'a netlink-attached program stays after the kill -9');

    // ... and the next engine reports it, replaces it, and forwards.
    const c = bridgeProcess(lab);
    kids.push(c.child);
    t.ok(await until(() => /removed a leftover pktgraph XDP program/.test(c.stderr()), 30_000, 50), 'the leftover is reported');
    t.match(c.stderr(), new RegExp(`device '${e1}': removed a leftover pktgraph XDP program \\(id \\d+\\) from an engine that did not stop cleanly`), c.stderr().split('\n')[0]);
    t.ok(await until(() => xdpProgram(e1) === 'pktgraph_xsk', 10_000, 50), 'and replaced by the new engine\'s');
    const p = await ping(lab, 'h1', '198.18.0.2');
    t.equal(p.code, 0, `the new engine forwards: ${pingSummary(p)}`);
    c.child.kill('SIGKILL');
    t.ok(await until(() => xdpProgram(e1) === '', 5_000, 50), "the new engine's program goes with it");
  });
}
