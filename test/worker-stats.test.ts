// workerStats(): per worker thread, cpuNs (the thread's CPU clock) and its user/system split
// (userNs, sysNs: getrusage(RUSAGE_THREAD) sampled by the worker every 10 ms). A busy graph
// (InfiniteSource -> Discard on every worker) runs for a while; the split is present,
// non-negative, grows, and adds up to about cpuNs.
import t from 'tap';
import { graph, compile, Runtime, InfiniteSource, Discard } from 'pktgraph';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

t.test('userNs and sysNs per worker add up to about cpuNs', async (t) => {
  const rt = new Runtime({ threads: 2, poolBuffers: 4096 });
  t.teardown(() => rt.close());
  const g = rt.load(
    compile(
      graph('worker-stats', () => {
        for (let i = 0; i < 2; i++) InfiniteSource({ data: '00'.repeat(60) }, { name: `src${i}`, thread: i }).to(Discard({}, `sink${i}`));
      }),
    ),
  );
  rt.start();
  await sleep(300);
  const before = rt.workerStats();
  await sleep(500);
  const after = rt.workerStats();
  t.equal(after.length, 2, 'one entry per worker');
  for (const [i, w] of after.entries()) {
    for (const k of ['cpuNs', 'userNs', 'sysNs'] as const) {
      t.type(w[k], 'number', `worker ${i}: ${k} is a number`);
      t.ok(w[k] >= 0, `worker ${i}: ${k} >= 0 (${w[k]})`);
    }
    t.ok(w.userNs > before[i].userNs, `worker ${i}: userNs grows while it forwards`);
    const sum = w.userNs + w.sysNs;
    // The split is sampled every 10 ms: it trails cpuNs by at most about that, never leads it
    // by more than a tick of rounding.
    t.ok(sum <= w.cpuNs + 2e6, `worker ${i}: userNs + sysNs (${sum}) is not more than cpuNs (${w.cpuNs})`);
    t.ok(sum >= w.cpuNs - 30e6, `worker ${i}: userNs + sysNs (${sum}) is within 30 ms of cpuNs (${w.cpuNs})`);
    const dCpu = w.cpuNs - before[i].cpuNs;
    const dSum = sum - (before[i].userNs + before[i].sysNs);
    t.ok(Math.abs(dCpu - dSum) <= 0.1 * dCpu + 30e6, `worker ${i}: over 500 ms the split grew by ${dSum} ns, cpuNs by ${dCpu} ns`);
  }
  t.ok(g.counter('sink0', 'packets') > 0n && g.counter('sink1', 'packets') > 0n, 'both workers forwarded packets');
  rt.stop();
  const stopped = rt.workerStats();
  t.ok(stopped.every((w) => w.cpuNs === 0 && w.userNs === 0 && w.sysNs === 0), 'all 0 once the engine is stopped (as cpuNs)');
});
