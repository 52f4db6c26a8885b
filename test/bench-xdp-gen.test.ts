// The interfaces bench's XDP generator (bench/suites/interfaces/xdp-gen.c, --generator xdp):
// compiled with cc, run in a lab namespace, its frames must reach the engine's AF_XDP bridge and
// the far host, every one counted (offered = the generator veth's tx_packets + tx_dropped, as the
// suite reads it), at a paced rate close to the one asked for.
// Needs root, network namespaces, AF_XDP and cc (run under the lab lock); skips with the reason otherwise.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { graph, compile, Runtime, FromDevice, ToDevice } from 'pktgraph';
import { labAvailable } from '../src/lab/index.js';
import { noAfXdp } from './lib/labtools.js';
import { xdpTool } from '../bench/suites/interfaces/generator.js';
import { buildLab, counters, napiOn } from '../bench/suites/interfaces/topology.js';

const avail = labAvailable();
const noCc = spawnSync('cc', ['--version'], { stdio: 'ignore' }).status === 0 ? '' : 'no C compiler (cc) to build the generator';
const noEthtool = spawnSync('ethtool', ['--version'], { stdio: 'ignore' }).status === 0 ? '' : 'no ethtool (GRO on the ingress veth)';
const skip = !avail.ok ? avail.reason : noAfXdp || noCc || noEthtool;

t.test('the XDP live-frames generator: paced frames through the AF_XDP bridge, all counted', { skip: skip || undefined }, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'pktgraph-xdp-gen-'));
  const lab = buildLab(); // the suite's own: gen and sink, IPv6 off on their ends (no stray frames)
  const rt = new Runtime({ threads: 1, poolBuffers: 8192 });
  t.teardown(() => {
    rt.close();
    lab.destroy();
    rmSync(tmp, { recursive: true, force: true });
  });
  const [genIf, a, b, sinkIf] = [lab.link(0).a, lab.link(0).b, lab.link(1).b, lab.link(1).a];
  const g = rt.load(compile(graph('xdp-gen-test', () => FromDevice({ device: a, method: 'xdp', xdpFallback: false }, 'rx').to(ToDevice({ device: b, method: 'xdp', xdpFallback: false }, 'tx')))));
  rt.start();

  // Without NAPI on the receiving end (no XDP program, GRO off) veth drops XDP frames uncounted:
  // the generator only works where the suite turns GRO on or an XDP program is attached (here).
  napiOn(a);
  const [tx0, txd0] = counters(lab.netns('gen'), genIf, ['tx_packets', 'tx_dropped']);
  const [rx0] = counters(lab.netns('sink'), sinkIf, ['rx_packets']);
  const r = spawnSync('ip', ['netns', 'exec', lab.netns('gen'), xdpTool(tmp), genIf, '02:50:47:00:00:5d', '64', '20000', '1'], { encoding: 'utf8', timeout: 20_000 });
  t.equal(r.status, 0, `the generator ran (${r.stderr.trim()})`);
  const out = JSON.parse(r.stdout.trim()) as { sent: number; seconds: number };
  t.ok(out.sent >= 15000 && out.sent <= 20100, `paced: ${out.sent} frames in ${out.seconds.toFixed(2)} s at 20000/s asked`);
  await new Promise((r) => setTimeout(r, 300));
  const [tx1, txd1] = counters(lab.netns('gen'), genIf, ['tx_packets', 'tx_dropped']);
  const [rx1] = counters(lab.netns('sink'), sinkIf, ['rx_packets']);
  t.equal(tx1 - tx0 + (txd1 - txd0), out.sent, 'every frame it sent is counted by the generator veth (tx_packets + tx_dropped)');
  t.equal(rx1 - rx0, out.sent, 'every frame crossed the AF_XDP bridge to the far host');
  t.equal(Number(g.counter('rx', 'packets')), out.sent, 'FromDevice (AF_XDP) received each');

  const bad = spawnSync('ip', ['netns', 'exec', lab.netns('gen'), xdpTool(tmp), 'nosuchdev', '02:00:00:00:00:01', '64', '1', '1'], { encoding: 'utf8' });
  t.equal(bad.status, 2, 'a missing device is refused');
  t.match(bad.stderr, /bad device/, '... saying so');
});
