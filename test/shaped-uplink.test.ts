// configs/shaped-uplink.ts in a lab (root): h1 sends UDP to h2 on the guaranteed port and on
// another, both well above the shaped rate, through the engine's HTBSched. Real clock and a real
// kernel peer, so rates are checked with a tolerance that scheduling noise cannot break (15%,
// over 2 s windows; the virtual-clock tests in htbsched.test.ts check the shares exactly): both
// classes backlogged get their guarantees (6 and 4 Mbit/s on the wire), best effort alone gets
// the whole link, and the link never goes over its rate.
import t from 'tap';
import { compile } from 'pktgraph';
import { labAvailable, type Lab } from '../src/lab/index.js';
import { delay, labRuntime, twoHostsOnEngine } from './lib/labtools.js';
import shapedUplink from '../configs/shaped-uplink.js';

// UDP datagrams of 1000 bytes to each port given, paced at `pps` per port, for `seconds`.
const PY_SEND = `
import socket, sys, time
dst, pps, secs, ports = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), [int(p) for p in sys.argv[4:]]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
data, start, n = b'x' * 1000, time.time(), 0
while time.time() - start < secs:
    for p in ports:
        try: s.sendto(data, (dst, p))
        except OSError: pass
    n += 1
    ahead = start + n / pps - time.time()
    if ahead > 0: time.sleep(ahead)
`;

// Wire bits per second of each class over `ms` (bytes counted by the shaper, plus the 24 bytes
// of overhead per packet it is configured with).
async function rates(read: () => string, ms: number): Promise<Record<string, number>> {
  const parse = () => {
    const out: Record<string, [number, number]> = {};
    for (const line of read().trim().split('\n')) out[line.split(' ')[0]] = [Number(/ bytes=(\d+)/.exec(line)![1]), Number(/ packets=(\d+)/.exec(line)![1])];
    return out;
  };
  const a = parse();
  const t0 = process.hrtime.bigint();
  await delay(ms);
  const b = parse();
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return Object.fromEntries(Object.keys(b).map((k) => [k, ((b[k][0] - a[k][0] + 24 * (b[k][1] - a[k][1])) * 8) / secs]));
}

t.test('configs/shaped-uplink.ts: two classes under one ceiling, in a lab', async (t) => {
  const avail = labAvailable();
  if (!avail.ok) return t.skip(`needs a lab: ${avail.reason}`, () => {});
  const { lab, rt } = labRuntime(t, twoHostsOnEngine, { threads: 2, poolBuffers: 8192 });
  const g = rt.load(compile(shapedUplink, { params: { a: lab.link(0).b, b: lab.link(1).b } }));
  rt.start();
  const read = () => g.read('shaper', 'classes');

  // Both classes at 32 Mbit/s each for 6 s: measured over 2 s after 2 s.
  const both = lab.exec('h1', ['python3', '-c', PY_SEND, '198.18.0.2', '4000', '6', '5201', '5202'], { timeoutMs: 20_000 });
  await delay(2000);
  const r = await rates(read, 2000);
  await both;
  const M = 1e6;
  const within = (got: number, want: number) => Math.abs(got - want) / want <= 0.15;
  t.ok(within(r.guaranteed, 6 * M), `guaranteed: ${(r.guaranteed / M).toFixed(2)} Mbit/s, its rate 6 (15%)`);
  t.ok(within(r.besteffort, 4 * M), `best effort: ${(r.besteffort / M).toFixed(2)} Mbit/s, the rest of the link, 4 (15%)`);
  t.ok(r.uplink <= 10 * M * 1.05, `the link: ${(r.uplink / M).toFixed(2)} Mbit/s, at most its 10 (5%)`);

  // Best effort alone borrows the whole link.
  const alone = lab.exec('h1', ['python3', '-c', PY_SEND, '198.18.0.2', '4000', '5', '5202'], { timeoutMs: 20_000 });
  await delay(2000);
  const r2 = await rates(read, 2000);
  await alone;
  t.ok(within(r2.besteffort, 10 * M), `best effort alone: ${(r2.besteffort / M).toFixed(2)} Mbit/s, the whole link, 10 (15%)`);
  t.ok(r2.guaranteed < 0.1 * M, `guaranteed idle: ${(r2.guaranteed / M).toFixed(3)} Mbit/s`);
  const cls = read();
  t.match(cls, /\nbesteffort parent=uplink .* borrowed=[1-9]/, 'best effort borrowed');
  t.ok(g.counters('shaper').drops_full > 0n, 'the excess was dropped at the full leaf queues (drops_full)');
  rt.stop();
});
