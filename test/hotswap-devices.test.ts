// Hot reconfiguration of graphs on devices: a successor FromDevice/ToDevice on the same device
// keeps the running element's sockets and rings, and a Tap keeps the device's queue, so no frame
// is lost or seen twice at the device. A lab (h1 -- engine -- h2): h1 sends numbered frames at a
// steady rate into the engine's FromDevice, which forwards them to h2 through ToDevice; the
// forwarding graph is replaced four times meanwhile (an extra Counter, a changed burst), and h2
// must receive every frame exactly once. A Tap's device keeps its ifindex across a replacement
// (a single-queue TAP cannot be opened twice, so the replacement succeeding shows the queue moved),
// and a successor that would change its settings is refused, the old graph untouched. The
// forwarding case runs over AF_PACKET and over AF_XDP.
// Needs root and network namespaces; skips with the reason otherwise. Run under the lab lock.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { graph, compile, Runtime, FromDevice, ToDevice, Counter, Tap, Idle, Discard } from 'pktgraph';
import { createLab, labAvailable } from '../src/lab/index.js';
import { noAfXdp } from './lib/labtools.js';

const avail = labAvailable();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// h1: send N frames of ethertype 0x88b5 numbered 0..N-1 at RATE frames/s on a device.
const PY_TX = `
import socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0); s.bind((sys.argv[1], 0))
n, rate = int(sys.argv[2]), float(sys.argv[3])
head = b'\\x02\\x50\\x47\\x00\\x00\\x02' + b'\\x02\\x50\\x47\\x00\\x00\\x01' + b'\\x88\\xb5'
t0 = time.time()
for i in range(n):
    s.send(head + struct.pack('!I', i) + bytes(42))
    if i % 50 == 49:
        d = t0 + (i + 1) / rate - time.time()
        if d > 0: time.sleep(d)
print('sent', n, flush=True)
`;
// h2: count the 0x88b5 frames received (and the distinct numbers) until 2 s pass without one.
const PY_RX = `
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5)); s.bind((sys.argv[1], 0))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.settimeout(2)
print('ready', flush=True)
count, seen = 0, set()
try:
    while True:
        data, addr = s.recvfrom(2048)
        if addr[2] == socket.PACKET_OUTGOING: continue
        count += 1; seen.add(struct.unpack('!I', data[14:18])[0])
except socket.timeout:
    pass
print('got', count, len(seen), flush=True)
`;

if (!avail.ok) {
  t.test('hot reconfiguration on devices', { skip: avail.reason }, async () => {});
} else {
  // AF_PACKET, and AF_XDP where the kernel has it (the port, its rings and its place in them are
  // the registry's, so the successor reads on where the old element stopped).
  for (const method of ['packet', 'xdp'] as const) {
    t.test(`FromDevice -> ToDevice (${method}) replaced four times under steady traffic: every frame arrives exactly once`, { skip: method === 'xdp' ? (noAfXdp ?? false) : false }, async (t) => {
      const lab = createLab({ hosts: [{ name: 'h1' }, { name: 'h2' }], links: [{ a: 'h1', b: 'engine' }, { a: 'h2', b: 'engine' }] });
      const rt = new Runtime({ threads: 2, poolBuffers: 8192 });
      t.teardown(() => {
        rt.close();
        lab.destroy();
      });
      const e1 = lab.link(0).b;
      const e2 = lab.link(1).b;
      const plan = (variant: boolean) =>
        compile(
          graph('fwd', () => {
            const m = method === 'xdp' ? { method, xdpFallback: false } : {};
            const rx = FromDevice({ device: e1, burst: variant ? 64 : 32, ...m }, { name: 'rx', thread: 0 }).to(Counter({}, 'c'));
            (variant ? rx.to(Counter({}, 'extra')) : rx).to(ToDevice({ device: e2, ...m }, 'tx'));
          }),
        );
      let g = rt.load(plan(false));
      rt.start();
      const rx = lab.spawn('h2', ['python3', '-c', PY_RX, lab.link(1).a]);
      let rxOut = '';
      rx.stdout!.on('data', (d) => (rxOut += d));
      const rxDone = new Promise<void>((r) => rx.on('close', () => r()));
      for (let i = 0; i < 100 && !rxOut.includes('ready'); i++) await sleep(50);
      t.match(rxOut, /ready/, 'the receiver in h2 is ready');

      const N = 40_000;
      const tx = lab.exec('h1', ['python3', '-c', PY_TX, lab.link(0).a, String(N), '20000'], { timeoutMs: 30_000 });
      const swaps: number[] = [];
      for (let i = 0; i < 4; i++) {
        await sleep(300);
        g = g.replace(plan(i % 2 === 0));
        t.equal(g.swap?.taken, 3, `replacement ${i + 1}: rx, c and tx took over`);
        t.same(g.swap?.dropped, [], `replacement ${i + 1}: nothing left behind`);
        swaps.push(g.swap!.swapNs);
      }
      t.match((await tx).stdout, new RegExp(`sent ${N}`), `h1 sent ${N} frames`);
      await rxDone;
      const m = /got (\d+) (\d+)/.exec(rxOut);
      t.ok(m, 'the receiver reported');
      t.equal(Number(m![1]), N, `h2 received ${N} frames`);
      t.equal(Number(m![2]), N, 'each number once: none lost, none duplicated');
      t.equal(Number(g.counter('rx', 'kernel_drops')), 0, 'the kernel dropped none at the receive ring');
      t.ok(Number(g.counter('c', 'packets')) >= N, 'the counter went on across the replacements (it also saw the hosts\' own frames)');
      t.comment(`swap times: ${swaps.map((s) => `${(s / 1e3).toFixed(0)} µs`).join(', ')}`);
    });
  }

  t.test('a Tap keeps its device across a replacement; a successor changing its settings is refused', async (t) => {
    const dev = `pg-hs${process.pid % 10000}`;
    const rt = new Runtime({ threads: 1, poolBuffers: 1024 });
    t.teardown(() => {
      rt.close();
      spawnSync('ip', ['link', 'del', dev], { stdio: 'ignore' });
    });
    const plan = (mtu: number, extra: boolean) =>
      compile(
        graph('tapg', () => {
          const out = Idle({}, 'idle').to(Tap({ device: dev, mtu, up: false }, 'tap')).to(Counter({}, 'c'));
          (extra ? out.to(Counter({}, 'extra')) : out).to(Discard({}, 'sink'));
        }),
      );
    let g = rt.load(plan(1500, false));
    rt.start();
    const ifindex = () => readFileSync(`/sys/class/net/${dev}/ifindex`, 'utf8').trim();
    const before = ifindex();
    g = g.replace(plan(1500, true));
    t.equal(g.swap?.taken, 4, 'idle, tap, c and sink took over');
    t.equal(ifindex(), before, 'the same device (ifindex): its queue was kept, not opened again');
    t.throws(() => g.replace(plan(1400, true)), /element 'tap' \(Tap\): device 'pg-hs\d+' is the running element's, whose queues a hot reconfiguration keeps as they are: keep its mtu/, 'a changed mtu is refused, naming the element and what to keep');
    t.equal(ifindex(), before, 'the device is untouched');
    t.equal(readFileSync(`/sys/class/net/${dev}/mtu`, 'utf8').trim(), '1500', 'its MTU too');
    rt.close();
    await sleep(50);
    t.notOk(spawnSync('ip', ['link', 'show', dev], { stdio: 'ignore' }).status === 0, 'the device went away with the graph: the kept queue was closed once, at the end');
  });
}
