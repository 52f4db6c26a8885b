// Tap: the element creates a TAP device through /dev/net/tun. The test moves the device into a
// namespace of its own lab (the element's fd keeps working there), gives it 198.18.77.1/24, and
// plays the wire side of a host 198.18.77.2: frames the host stack sends come out of the Tap
// (ARP requests for .2 when something there is pinged), and an ICMP echo request written into
// the Tap is answered by the host stack with an echo reply that comes back out. Also: the
// device exists while the graph runs and is gone after (unless persistent), multi-queue, and
// the errors for a bad name, a device that is not a TAP and a missing CAP_NET_ADMIN.
// Needs root and network namespaces; skips with the reason otherwise.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync, chmodSync } from 'node:fs';
import { graph, compile, Runtime, Tap, FromPcap, ToPcap, Counter, Discard, DropBroadcasts } from 'pktgraph';
import { createLab, labAvailable } from '../src/lab/index.js';
import { tmpPath } from './lib/run.js';
import { writePcap, readPcap, encodePcap } from './lib/pcap.js';
import { ether, ipv4, icmp4, parseIpv4, verifyIpv4Checksum, verifyL4Checksum, ETH_ARP, ETH_IPV4, PROTO_ICMP } from './lib/packets.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const TAP_MAC = '02:00:00:77:00:01';
const PEER_MAC = '02:00:00:77:00:02';
const TAP_IP = '198.18.77.1';
const PEER_IP = '198.18.77.2';
const ECHO_ID = 0x4242;

/** `ip ARGS`, returning the exit code and output. */
function ip(...args: string[]) {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}
const exists = (dev: string, ns?: string) => ip(...(ns ? ['-n', ns] : []), 'link', 'show', 'dev', dev).code === 0;

/** An empty pcap file (a source for the Tap's input that sends nothing). */
function emptyPcap(name: string): string {
  const f = tmpPath(name);
  writeFileSync(f, encodePcap([]));
  return f;
}

async function until(what: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (what()) return true;
    await sleep(20);
  }
  return what();
}

function main() {
  t.test('round trip with the host stack inside a lab namespace', async (t) => {
    const lab = createLab({ hosts: [{ name: 'h' }], links: [] });
    const ns = lab.netns('h');
    const dev = `${lab.prefix}t`;
    const toHost = tmpPath('tap-to-host.pcap');
    const fromHost = tmpPath('tap-from-host.pcap');
    const rt = new Runtime({ threads: 1, poolBuffers: 2048 });
    t.teardown(() => {
      rt.close();
      lab.destroy();
      if (exists(dev)) ip('link', 'del', dev);
      rmSync(toHost, { force: true });
      rmSync(fromHost, { force: true });
    });

    // Three echo requests from the peer to the host, addressed to the TAP's MAC.
    const requests = [1, 2, 3].map((seq) =>
      ether({
        src: PEER_MAC,
        dst: TAP_MAC,
        type: ETH_IPV4,
        payload: ipv4({ src: PEER_IP, dst: TAP_IP, proto: PROTO_ICMP, id: seq, payload: icmp4({ rest: (ECHO_ID << 16) | seq, payload: 'pktgraph tap test' }) }),
      }),
    );
    writePcap(toHost, requests.map((data) => ({ data })));

    t.notOk(exists(dev), 'the device does not exist before the graph is loaded');
    const g = rt.load(
      compile(
        graph('tap', () => {
          const tap = Tap({ device: dev, mac: TAP_MAC, mtu: 1400 }, 'tap');
          FromPcap({ file: toHost, active: false }, 'src').to(tap);
          // DropBroadcasts' output 1 shows which frames Tap marked broadcast or multicast.
          const out = ToPcap({ file: fromHost }, 'out');
          const db = tap.to(Counter({}, 'cnt')).to(DropBroadcasts({}, 'db'));
          db.to(out);
          db.out(1).to(Counter({}, 'group')).to(out);
        }),
      ),
    );
    rt.start();
    const shown = ip('-d', 'link', 'show', 'dev', dev);
    t.equal(shown.code, 0, 'the element created the device');
    t.match(shown.out, /<[^>]*\bUP\b[^>]*>/, 'it is up');
    t.match(shown.out, /mtu 1400/, 'with the MTU asked for');
    t.match(shown.out, new RegExp(`link/ether ${TAP_MAC}`), 'with the MAC asked for');
    t.match(shown.out, /tun type tap pi off/, 'a TAP device without packet information');
    t.equal(g.read('tap', 'mac'), TAP_MAC, 'the mac handler reads it');

    // Into the lab's namespace; the element's fd keeps working there.
    t.equal(ip('link', 'set', 'dev', dev, 'netns', ns).code, 0, 'the device moves into the lab namespace');
    t.notOk(exists(dev), 'it is gone from the root namespace');
    spawnSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${dev}.disable_ipv6=1`]);
    t.equal(ip('-n', ns, 'addr', 'add', `${TAP_IP}/24`, 'dev', dev).code, 0, `${TAP_IP}/24 on the device inside the namespace`);
    t.equal(ip('-n', ns, 'link', 'set', 'dev', dev, 'up').code, 0);

    // The host pings the peer: its stack asks for the peer's MAC through the device.
    // (Without ping, a UDP datagram to the peer makes the stack ask just the same.)
    const hasPing = spawnSync('ping', ['-V'], { stdio: 'ignore' }).status === 0;
    const ping = hasPing
      ? await lab.exec('h', ['ping', '-c', '1', '-W', '1', PEER_IP], { timeoutMs: 10_000 })
      : await lab.exec('h', ['python3', '-c', `import socket, time; socket.socket(2, 2).sendto(b'x', ('${PEER_IP}', 9)); time.sleep(1); raise SystemExit(1)`]);
    t.not(ping.code, 0, 'nobody answers the ping (the engine only records)');
    const arpSeen = await until(() => g.counter('cnt', 'packets') > 0n, 3000);
    t.ok(arpSeen, 'frames came out of the Tap');
    g.write('out', 'flush', '');
    const arps = readPcap(fromHost)
      .packets.map((p) => p.data)
      .filter((f) => f.length >= 42 && f.readUInt16BE(12) === ETH_ARP);
    t.ok(arps.length >= 1, `ARP requests came out (${arps.length})`);
    const a = arps[0];
    t.same(a.subarray(0, 6), Buffer.alloc(6, 0xff), 'to the broadcast address');
    t.equal(a.subarray(6, 12).toString('hex'), TAP_MAC.replace(/:/g, ''), "from the TAP's MAC");
    t.equal(a.readUInt16BE(14 + 6), 1, 'an ARP request');
    t.equal([...a.subarray(14 + 14, 14 + 18)].join('.'), TAP_IP, `sender ${TAP_IP}`);
    t.equal([...a.subarray(14 + 24, 14 + 28)].join('.'), PEER_IP, `asking for ${PEER_IP}`);

    // The peer's MAC is known from now on, so the host answers echo requests at once.
    t.equal(ip('-n', ns, 'neigh', 'replace', PEER_IP, 'lladdr', PEER_MAC, 'dev', dev, 'nud', 'permanent').code, 0);
    g.write('src', 'active', 'true');
    const replies = () => {
      g.write('out', 'flush', '');
      return readPcap(fromHost)
        .packets.map((p) => p.data)
        .filter((f) => f.length >= 42 && f.readUInt16BE(12) === ETH_IPV4 && f[14 + 9] === PROTO_ICMP && f[34] === 0);
    };
    t.ok(await until(() => replies().length >= 3, 5000), 'three echo replies came out of the Tap');
    const got = replies();
    t.same(
      got.map((f) => [f.readUInt16BE(38), f.readUInt16BE(40)]),
      [
        [ECHO_ID, 1],
        [ECHO_ID, 2],
        [ECHO_ID, 3],
      ],
      'with the identifier and sequence numbers of the requests',
    );
    for (const f of got) {
      t.equal(f.subarray(0, 6).toString('hex'), PEER_MAC.replace(/:/g, ''), 'to the peer');
      const h = parseIpv4(f, 14);
      t.same([h.src, h.dst], [TAP_IP, PEER_IP], `from ${TAP_IP} to ${PEER_IP}`);
      t.ok(verifyIpv4Checksum(f, 14) && verifyL4Checksum(f, 14), 'with correct checksums');
      t.equal(f.subarray(42).toString(), 'pktgraph tap test', 'echoing the payload');
    }
    const c = g.counters('tap');
    t.equal(c.tx_packets, 3n, 'three frames written to the device');
    t.equal(c.tx_bytes, BigInt(requests.reduce((n, r) => n + r.length, 0)), 'tx_bytes');
    t.equal(c.rx_packets, g.counter('cnt', 'packets'), 'every frame read went out of the output');
    t.equal(c.rx_bytes, g.counter('cnt', 'bytes'), 'rx_bytes');
    t.equal(c.drops, 0n, 'no drops');

    rt.stop();
    g.write('out', 'flush', '');
    const frames = readPcap(fromHost).packets.map((p) => p.data);
    const group = frames.filter((f) => f.length >= 6 && (f[0] & 1) === 1).length;
    t.ok(group >= 1, `the ARP broadcasts among them (${group})`);
    t.equal(g.counter('group', 'packets'), BigInt(group), "Tap's packet type: exactly the frames to broadcast or multicast addresses were marked so (DropBroadcasts output 1)");
    g.remove();
    t.notOk(exists(dev, ns), 'the device is gone once the graph is removed (not persistent)');
    t.notOk(exists(dev), '... and not back in the root namespace');
    t.equal(rt.poolStats().available, rt.poolStats().capacity, 'every buffer back in the pool');
  });

  t.test('a two-queue device is read by two workers in parallel', async (t) => {
    const lab = createLab({ hosts: [{ name: 'h' }], links: [] });
    const ns = lab.netns('h');
    const dev = `${lab.prefix}q`;
    const rt = new Runtime({ threads: 2, poolBuffers: 2048 });
    t.teardown(() => {
      rt.close();
      lab.destroy();
      if (exists(dev)) ip('link', 'del', dev);
    });
    const none = emptyPcap(`tap-mq-empty-${lab.prefix}.pcap`);
    t.teardown(() => rmSync(none, { force: true }));
    const g = rt.load(compile(graph('tap-mq', () => FromPcap({ file: none }).to(Tap({ device: dev, mac: TAP_MAC, queues: 2 }, 'tap')).to(Discard({}, 'sink')))));
    const tapTasks = g.info.tasks.filter((x) => x.element === 'tap').map((x) => x.worker);
    t.same([...tapTasks].sort(), [0, 1], 'one task per queue, on workers 0 and 1');
    rt.start();
    t.equal(ip('link', 'set', 'dev', dev, 'netns', ns).code, 0, 'the device moves into the lab namespace');
    spawnSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${dev}.disable_ipv6=1`]);
    t.equal(ip('-n', ns, 'addr', 'add', '198.18.78.1/24', 'dev', dev).code, 0);
    t.equal(ip('-n', ns, 'link', 'set', 'dev', dev, 'up').code, 0);
    t.equal(ip('-n', ns, 'neigh', 'replace', '198.18.78.2', 'lladdr', PEER_MAC, 'dev', dev, 'nud', 'permanent').code, 0);
    // 64 UDP flows (source ports 40000-40063) from the host stack: the kernel spreads them over
    // the two queues by flow hash.
    const flows = 64;
    const send = await lab.exec('h', [
      'python3',
      '-c',
      `import socket\nfor p in range(40000, 40000 + ${flows}):\n  s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n  s.bind(('198.18.78.1', p))\n  s.sendto(b'pktgraph multi-queue', ('198.18.78.2', 9))\n  s.close()`,
    ]);
    t.equal(send.code, 0, `the host sent ${flows} datagrams (${send.stderr ?? ''})`);
    const udp = () => g.counter('tap', 'rx_packets');
    t.ok(await until(() => udp() >= BigInt(flows), 3000), `at least ${flows} frames came out of the Tap (${udp()})`);
    // rx_packets per worker: each worker writes its own row of the counter arena.
    const info = g.info;
    const view = new BigUint64Array(info.counters.buffer);
    const el = info.elements.find((e) => e.name === 'tap')!;
    const slot = el.counterBase + el.counters.indexOf('rx_packets');
    const perWorker = [0, 1].map((w) => view[w * info.counters.stride + slot]);
    t.ok(perWorker[0] > 0n && perWorker[1] > 0n, `both workers read frames from the device (worker 0: ${perWorker[0]}, worker 1: ${perWorker[1]})`);
    t.equal(perWorker[0] + perWorker[1], udp(), 'and only the workers did');
    rt.stop();
    g.remove();
    t.notOk(exists(dev, ns), 'the device is gone once the graph is removed');
  });

  t.test('persistent and multi-queue devices', async (t) => {
    const suffix = Math.random().toString(36).slice(2, 7);
    const dev = `pg-${suffix}t`;
    const none = emptyPcap(`tap-empty-${suffix}.pcap`);
    const two = tmpPath(`tap-two-${suffix}.pcap`);
    writePcap(two, [{ data: ether({ payload: Buffer.alloc(50) }) }, { data: ether({ payload: Buffer.alloc(50) }) }]);
    const rt = new Runtime({ threads: 2, poolBuffers: 1024 });
    t.teardown(() => {
      rt.close();
      if (exists(dev)) ip('link', 'del', dev);
      rmSync(none, { force: true });
      rmSync(two, { force: true });
    });
    // Not brought up: it never carries traffic in the root namespace.
    const load = (name: string, cfg: { persist?: boolean; queues?: number }, file = none) =>
      rt.load(compile(graph(name, () => FromPcap({ file }).to(Tap({ device: dev, up: false, ...cfg }, 'tap')).to(Discard()))));
    let g = load('mq', { queues: 2 }, two);
    rt.start();
    const shown = ip('-d', 'link', 'show', 'dev', dev).out;
    t.match(shown, /multi_queue/, 'queues: 2 makes a multi-queue device');
    t.notMatch(shown, /<[^>]*\bUP\b/, 'up: false leaves it down');
    t.ok(await until(() => g.counter('tap', 'drops') === 2n, 3000), 'frames pushed into a device that is down are dropped and counted');
    t.equal(g.counter('tap', 'tx_packets'), 0n, '... none written');
    g.remove();
    t.notOk(exists(dev), 'gone after the graph');

    g = load('persist', { persist: true });
    g.remove();
    t.ok(exists(dev), 'a persistent device survives the graph');
    t.match(ip('-d', 'link', 'show', 'dev', dev).out, /persist on/);
    // Attach to it again (the same flags), then delete it.
    g = load('again', {});
    t.pass('a graph attaches to the existing device');
    g.remove();
    t.equal(ip('link', 'del', dev).code, 0, 'deleted by hand');
  });

  t.test('errors name the device and the remedy', async (t) => {
    t.throws(() => compile(graph('bad1', () => FromPcap({ file: 'x' }).to(Tap({ device: 'bad/name' })).to(Discard()))), /device.*bad\/name.*without '\/'/, 'a name with a slash');
    t.throws(() => compile(graph('bad2', () => FromPcap({ file: 'x' }).to(Tap({ device: 'pg-sixteen-chars' })).to(Discard()))), /device/, 'a name of 16 characters');
    t.throws(() => compile(graph('bad3', () => FromPcap({ file: 'x' }).to(Tap({ device: 'pg-x', mac: '01:00:5e:00:00:01' })).to(Discard()))), /multicast/, 'a multicast MAC');

    const none = emptyPcap(`tap-empty-err-${process.pid}.pcap`);
    chmodSync(none, 0o644);
    t.teardown(() => rmSync(none, { force: true }));
    const rt = new Runtime({ threads: 1, poolBuffers: 256 });
    t.teardown(() => rt.close());
    t.throws(
      () => rt.load(compile(graph('lo', () => FromPcap({ file: none }).to(Tap({ device: 'lo' }, 'tap')).to(Discard())))),
      /TAP device 'lo': the kernel refused it: .*not a TAP device/,
      'an existing device that is not a TAP',
    );
    t.ok(exists('lo'), 'lo is untouched');

    // No /dev/net/tun: hide it under an empty tmpfs in a mount namespace of a child process.
    const dev = `pg-${Math.random().toString(36).slice(2, 7)}n`;
    t.teardown(() => {
      if (exists(dev)) ip('link', 'del', dev);
    });
    const script = `
      import { graph, compile, Runtime, Tap, FromPcap, Discard } from 'pktgraph';
      const rt = new Runtime({ threads: 1, poolBuffers: 256 });
      try { rt.load(compile(graph('t', () => FromPcap({ file: ${JSON.stringify(none)} }).to(Tap({ device: ${JSON.stringify(dev)} })).to(Discard())))); console.log('loaded'); }
      catch (e) { console.log(e.message); }
      rt.close();`;
    const child = (prefix: string[]) =>
      spawnSync('env', ['-i', `PATH=${process.env.PATH ?? '/usr/bin:/bin'}`, 'HOME=/tmp', ...prefix, process.execPath, '--input-type=module', '-e', script], {
        encoding: 'utf8',
        cwd: new URL('..', import.meta.url).pathname,
        timeout: 30_000,
      });
    if (spawnSync('unshare', ['--mount', 'true'], { stdio: 'ignore' }).status !== 0) {
      t.skip('no /dev/net/tun: unshare --mount does not work here', () => {});
    } else {
      const r = child(['unshare', '--mount', 'sh', '-c', 'mount -t tmpfs none /dev/net && exec "$@"', 'sh']);
      t.match(r.stdout, new RegExp(`TAP device '${dev}': there is no /dev/net/tun: load the tun module \\(\`modprobe tun\`\\)`), `${r.stdout}${r.stderr}`);
      t.ok(spawnSync('ls', ['/dev/net/tun']).status === 0, '/dev/net/tun is still there outside the child');
    }

    if (spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status !== 0) return void t.skip('setpriv (util-linux) is missing', () => {});
    const r = child(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']);
    if (!/TAP device|loaded/.test(r.stdout))
      return void t.skip(`cannot run the engine as user nobody here: ${(r.stderr || r.error?.message || '').slice(0, 300)}`, () => {});
    t.match(r.stdout, new RegExp(`TAP device '${dev}': no permission .*CAP_NET_ADMIN; run as root or grant it with \`setcap cap_net_admin\\+ep \\$\\(which node\\)\``), r.stdout);
    t.notOk(exists(dev), 'no device was created');
  });
}

const avail = labAvailable();
if (!avail.ok) {
  t.plan(0, `skip: ${avail.reason}`);
} else {
  main();
}
