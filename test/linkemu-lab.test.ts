// LinkEmulator between two namespaces (root; skips otherwise): h1 and h2 on one subnet, the
// engine bridging their veth ends (TPACKET_V2 rings: V3's block timer would add milliseconds)
// through one LinkEmulator per direction. Real clock and real kernel peers: ping sees the two
// one-way delays added (never less than the configured round trip, the fastest within 0.5 ms + 5%
// above it), a live change of one direction's delay shows in the next pings while the other
// direction keeps its own; iperf3 (TCP) through a 20 Mbit/s limit gets what the
// wire leaves after its headers, within 15% (scheduling noise), and never more than the rate.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { compile, graph, Runtime, FromDevice, ToDevice, LinkEmulator } from 'pktgraph';
import { createLab, labAvailable, type Lab } from '../src/lab/index.js';
import { setTimeout as delay } from 'node:timers/promises';
import { twoHostsOnEngine } from './lib/labtools.js';

const hasIperf3 = spawnSync('iperf3', ['--version'], { stdio: 'ignore' }).status === 0;
const hasPing = spawnSync('ping', ['-V'], { stdio: 'ignore' }).status === 0;

/** Round-trip times (ms) of `count` pings from h1 to h2. */
async function rtts(lab: Lab, count: number): Promise<number[]> {
  const r = await lab.exec('h1', ['ping', '-c', String(count), '-i', '0.2', '-W', '2', '198.18.0.2'], { timeoutMs: 30_000 });
  return [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
}

t.test('ping and iperf3 through a LinkEmulator in each direction', async (t) => {
  const avail = labAvailable();
  if (!avail.ok) return t.skip(`needs a lab: ${avail.reason}`, () => {});
  if (!hasPing) return t.skip('needs ping (iputils-ping; scripts/ensure-test-tools.sh installs it)', () => {});
  const lab = createLab(
    twoHostsOnEngine,
    { id: `pgl${Math.random().toString(36).slice(2, 5)}` },
  );
  const rt = new Runtime({ threads: 1, poolBuffers: 8192 });
  t.teardown(() => {
    rt.close();
    lab.destroy();
  });
  const [a, b] = [lab.link(0).b, lab.link(1).b];
  const g = rt.load(
    compile(
      graph('wan', () => {
        FromDevice({ device: a, promisc: true, tpacketVersion: 2 }).to(LinkEmulator({}, 'ab')).to(ToDevice({ device: b }));
        FromDevice({ device: b, promisc: true, tpacketVersion: 2 }).to(LinkEmulator({}, 'ba')).to(ToDevice({ device: a }));
      }),
    ),
  );
  rt.start();
  await delay(200);
  await rtts(lab, 1); // ARP, through the same delays

  // The engine's own round trip first (no delay), then the delays set live: never below the
  // configured round trip, and the fastest echo within 0.5 ms + 5% above it plus the engine's own
  // (a busy machine delays single echoes by whole time slices: the fastest is the one it spared).
  const median = (x: number[]) => [...x].sort((p, q) => p - q)[x.length >> 1];
  const r0 = await rtts(lab, 10);
  t.equal(r0.length, 10, `the engine alone: median round trip ${median(r0)} ms`);
  const within = (x: number[], want: number) => Math.min(...x) >= want && Math.min(...x) - median(r0) - want <= 0.5 + 0.05 * want;
  g.write('ab', 'delay', '0.02');
  g.write('ba', 'delay', '0.01');
  const r1 = await rtts(lab, 10);
  t.equal(r1.length, 10, 'every echo answered');
  t.ok(within(r1, 30), `round trips ${Math.min(...r1)}-${Math.max(...r1)} ms, median ${median(r1)}: 20 + 10 ms configured, never less, the fastest within 0.5 ms + 5% above`);

  g.write('ab', 'delay', '0.05');
  const r2 = await rtts(lab, 10);
  t.ok(within(r2, 60), `after h1->h2's delay became 50 ms: ${Math.min(...r2)}-${Math.max(...r2)} ms, median ${median(r2)} (50 + 10)`);
  t.equal(g.read('ba', 'delay'), '0.01', "the other direction's delay unchanged");

  if (!hasIperf3) return t.skip('iperf3 not installed (apt-get install iperf3): the TCP throughput check skipped', () => {});
  g.write('ab', 'delay', '0.005');
  g.write('ba', 'delay', '0.005');
  g.write('ab', 'rate', '20000000');
  g.write('ab', 'overhead', '24');
  g.write('ab', 'capacity', '200');
  const server = lab.exec('h2', ['iperf3', '-s', '-1', '-B', '198.18.0.2'], { timeoutMs: 30_000 });
  await delay(500);
  const client = await lab.exec('h1', ['iperf3', '-c', '198.18.0.2', '-t', '5', '-O', '1', '-J'], { timeoutMs: 30_000 });
  await server;
  const report = JSON.parse(client.stdout);
  const got = report.end.sum_received.bits_per_second as number;
  // TCP payload per 1500-byte IP packet on the wire: 1448 of 1514 + 24 bytes.
  const goodput = 20e6 * (1448 / 1538);
  t.ok(got <= 20e6 && Math.abs(got - goodput) / goodput < 0.15, `iperf3: ${(got / 1e6).toFixed(2)} Mbit/s of TCP payload through 20 Mbit/s (${(goodput / 1e6).toFixed(2)} after headers, 15%)`);
});
