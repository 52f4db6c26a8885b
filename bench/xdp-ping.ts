// Ping round trips through the engine's AF_XDP bridge (one worker) in a two-host lab, at a
// given interval: with echoes closer than FromDevice's busy-poll window (200 us) the worker
// is spinning when they arrive; further apart it wakes from poll(). Root.
// --kernel: a Linux bridge joins the two ends instead (the kernel's round trip, same path).
//   node --import tsx bench/xdp-ping.ts INTERVAL_S COUNT [--kernel]
import { spawnSync } from 'node:child_process';
import { graph, compile, Runtime, FromDevice, ToDevice, createLab } from 'pktgraph';

const [interval, count] = process.argv.slice(2);
const kernel = process.argv.includes('--kernel');
const lab = createLab({ hosts: [{ name: 'h1' }, { name: 'h2' }], links: [{ a: 'h1', b: 'engine', aAddresses: ['198.18.0.1/24'] }, { a: 'h2', b: 'engine', aAddresses: ['198.18.0.2/24'] }] });
const rt = new Runtime({ threads: 1, poolBuffers: 8192 });
try {
  const [a, b] = [lab.link(0).b, lab.link(1).b];
  if (kernel) {
    const br = `${lab.prefix}br`;
    for (const args of [['link', 'add', br, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0'], ['link', 'set', a, 'master', br], ['link', 'set', b, 'master', br], ['link', 'set', br, 'up']]) spawnSync('ip', args);
  } else {
    rt.load(compile(graph('xdp-ping', () => {
      FromDevice({ device: a, method: 'xdp', xdpFallback: false }, 'rxa').to(ToDevice({ device: b, method: 'xdp', xdpFallback: false }, 'txb'));
      FromDevice({ device: b, method: 'xdp', xdpFallback: false }, 'rxb').to(ToDevice({ device: a, method: 'xdp', xdpFallback: false }, 'txa'));
    })));
    rt.start();
  }
  spawnSync('ip', ['netns', 'exec', lab.netns('h1'), 'ping', '-c', '3', '-i', '0.2', '198.18.0.2'], { encoding: 'utf8' }); // ARP, warm
  const r = spawnSync('ip', ['netns', 'exec', lab.netns('h1'), 'ping', '-c', count, '-i', interval, '198.18.0.2'], { encoding: 'utf8' });
  const rtts = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).sort((x, y) => x - y);
  const q = (p: number) => rtts[Math.min(rtts.length - 1, Math.floor(p * rtts.length))];
  console.log(JSON.stringify({ kernel, interval, n: rtts.length, p50Ms: q(0.5), p90Ms: q(0.9), summary: r.stdout.trim().split('\n').slice(-2).join('; ') }));
} finally {
  rt.close();
  if (kernel) spawnSync('ip', ['link', 'del', `${lab.prefix}br`]);
  lab.destroy();
}
