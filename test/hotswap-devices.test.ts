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
import { labAvailable } from '../src/lab/index.js';
import { noAfXdp, labRuntime } from './lib/labtools.js';
import { PY_TX, startReceiver } from './lib/numbered-frames.js';

const avail = labAvailable();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));


if (!avail.ok) {
  t.test('hot reconfiguration on devices', { skip: avail.reason }, async () => {});
} else {
  // AF_PACKET, and AF_XDP where the kernel has it (the port, its rings and its place in them are
  // the registry's, so the successor reads on where the old element stopped).
  for (const method of ['packet', 'xdp'] as const) {
    t.test(`FromDevice -> ToDevice (${method}) replaced four times under steady traffic: every frame arrives exactly once`, { skip: method === 'xdp' ? (noAfXdp ?? false) : false }, async (t) => {
      const { lab, rt } = labRuntime(t, { hosts: [{ name: 'h1' }, { name: 'h2' }], links: [{ a: 'h1', b: 'engine' }, { a: 'h2', b: 'engine' }] }, { threads: 2, poolBuffers: 8192 });
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
      const rx = await startReceiver(lab, 'h2', lab.link(1).a);
      t.ok(rx.ready, 'the receiver in h2 is ready');

      const N = 40_000;
      const tx = lab.exec('h1', ['python3', '-c', PY_TX, lab.link(0).a, '0', String(N), '20000', '60'], { timeoutMs: 30_000 });
      const swaps: number[] = [];
      for (let i = 0; i < 4; i++) {
        await sleep(300);
        g = g.replace(plan(i % 2 === 0));
        t.equal(g.swap?.taken, 3, `replacement ${i + 1}: rx, c and tx took over`);
        t.same(g.swap?.dropped, [], `replacement ${i + 1}: nothing left behind`);
        swaps.push(g.swap!.swapNs);
      }
      t.match((await tx).stdout, new RegExp(`sent ${N}`), `h1 sent ${N} frames`);
      const got = await rx.result;
      t.ok(got, 'the receiver reported');
      t.equal(got?.count, N, `h2 received ${N} frames`);
      t.equal(got?.distinct, N, 'each number once: none lost, none duplicated');
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
