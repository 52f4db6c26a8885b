// The scripts suite: elements written in TypeScript (defineScriptElement; native/script.h).
// - Through JavaScript and back, saturated: an unpaced generator floods a script that sends
//   every packet straight back into the graph; packets/s the script handled and sent (the rest
//   is dropped at the ring, counted), for generator bursts of 1 to 256.
// - Added latency, batch sizes 1 to 256: B packets circle between the script and the native
//   graph (script -> Queue -> Unqueue -> script); each carries the time the script sent it, so
//   each return is one trip out of JavaScript through the engine and back in (the ring, the
//   element's task, the graph, the ring, the wake-up): its p50/p99/max, and the packets/s the B
//   in flight reach. Beside it, the design not taken: the script polling its ring from a 1 ms
//   timer instead of being woken by the engine.
// - VRRP failover (root, namespaces, a bridge; the lab of test/vrrp-lab.test.ts): two pktgraph
//   routers on one link, the master's engine closed; the time until the backup is master,
//   against the RFC's Master_Down_Interval, and the host's pings lost meanwhile.
// `--cases flood,latency,vrrp` picks among the three (default: all); the first two need no
// root and build no lab.
import { graph, compile, Runtime, InfiniteSource, Discard, Counter, Queue, Unqueue, Type, defineScriptElement, setScriptWake, type RunningGraph } from 'pktgraph';
import { stats, type CaseResult } from '../lib.js';
import type { Suite } from '../harness.js';
import { buildLab, teardownLab, labReason, start, ping, received } from '../../test/lib/vrrp-lab.js';
import { sleep, until } from '../../test/lib/wait.js';

// Every packet straight back out.
const Echo = defineScriptElement({
  name: 'BenchScriptEcho',
  group: 'bench',
  summary: 'Bench: sends every packet back out.',
  doc: 'Sends every packet it receives out of output 0, unchanged.',
  inputs: '1',
  outputs: '1',
  config: Type.Object({}),
  counters: {},
  process(batch, ctx) {
    for (const p of batch) ctx.send(0, p.data);
  },
});

// `window` packets circling: each return's trip time (now minus the time stamped at sending).
const Loop = defineScriptElement({
  name: 'BenchScriptLoop',
  group: 'bench',
  summary: 'Bench: keeps window packets circling, timing each trip.',
  doc: 'Sends `window` 64-byte packets at start; each one that comes back is timed (the float64 at byte 16 is when it was sent, performance.now ms) and sent again.',
  inputs: '1',
  outputs: '1',
  config: Type.Object({ window: Type.Integer({ minimum: 1, maximum: 4096, description: 'packets in flight' }) }),
  counters: { trips: 'packets that came back' },
  init(ctx) {
    const p = new Uint8Array(64);
    const v = new DataView(p.buffer);
    v.setFloat64(16, performance.now(), true);
    for (let i = 0; i < ctx.config.window; i++) ctx.send(0, p);
    return { samples: new Float64Array(1 << 20), n: 0, buf: p, view: v, batches: 0, packets: 0 };
  },
  process(batch, ctx) {
    const s = ctx.state;
    const now = performance.now();
    s.batches++;
    s.packets += batch.length;
    for (const pk of batch) {
      const sent = new DataView(pk.data.buffer, pk.data.byteOffset, pk.data.byteLength).getFloat64(16, true);
      if (s.n < s.samples.length) s.samples[s.n++] = now - sent;
    }
    s.view.setFloat64(16, now, true);
    for (let i = 0; i < batch.length; i++) ctx.send(0, s.buf);
  },
  handlers: {
    reset: {
      doc: 'forget the samples',
      write: (_v, ctx) => {
        ctx.state.n = 0;
        ctx.state.batches = 0;
        ctx.state.packets = 0;
      },
    },
    samples: {
      doc: 'trip times so far as JSON: p50, p99, max (µs), count, mean batch',
      read: (ctx) => {
        const s = ctx.state;
        const v = Array.from(s.samples.subarray(0, s.n)).sort((a, b) => a - b);
        const q = (f: number) => (v.length ? v[Math.min(v.length - 1, Math.floor(f * v.length))] * 1000 : 0);
        return JSON.stringify({ p50Us: q(0.5), p99Us: q(0.99), p999Us: q(0.999), maxUs: v.length ? v[v.length - 1] * 1000 : 0, samples: v.length, meanBatch: s.batches ? s.packets / s.batches : 0 });
      },
    },
  },
});

const BATCHES = [1, 4, 16, 64, 256];
const GROUPS = ['flood', 'latency', 'vrrp'];
const n = (g: RunningGraph, el: string, c: string) => Number(g.counter(el, c));

async function flood(burst: number, seconds: number, warmup: number) {
  const rt = new Runtime({ threads: 1, poolBuffers: 16384 });
  try {
    const g = rt.load(compile(graph('bench-script-flood', () => InfiniteSource({ length: 64, burst }, 'src').to(Echo({ ringSlots: 4096, snapLength: 128 }, 'js')).to(Counter({}, 'back')).to(Discard({}, 'sink')))));
    rt.start();
    await sleep(warmup * 1000);
    const at = (): [number, number, number, number] => [performance.now(), n(g, 'js', 'handled'), n(g, 'js', 'received'), n(g, 'back', 'packets')];
    const a = at();
    await sleep(seconds * 1000);
    const b = at();
    const s = (b[0] - a[0]) / 1000;
    return { handledPps: (b[1] - a[1]) / s, receivedPps: (b[2] - a[2]) / s, backPps: (b[3] - a[3]) / s, dropsRing: n(g, 'js', 'drops_ring') };
  } finally {
    rt.close();
  }
}

async function loop(window: number, seconds: number, warmup: number) {
  const rt = new Runtime({ threads: 1, poolBuffers: 16384 });
  try {
    const g = rt.load(
      compile(
        graph('bench-script-loop', () => {
          const js = Loop({ window, ringSlots: 4096, snapLength: 128 }, 'js');
          js.to(Queue({ capacity: 8192 }, 'q')).to(Unqueue({ burst: 256 }, 'u')).to(js);
        }),
      ),
    );
    rt.start();
    await sleep(warmup * 1000);
    g.write('js', 'reset', '');
    const t0 = performance.now();
    const trips0 = n(g, 'js', 'handled');
    await sleep(seconds * 1000);
    const s = (performance.now() - t0) / 1000;
    const pps = (n(g, 'js', 'handled') - trips0) / s;
    return { pps, ...(JSON.parse(g.read('js', 'samples')) as { p50Us: number; p99Us: number; p999Us: number; maxUs: number; samples: number; meanBatch: number }), dropsRing: n(g, 'js', 'drops_ring') };
  } finally {
    rt.close();
  }
}

// Two pktgraph routers (priorities 200 and 100) on the lab's link; once A is master and the host
// pings the virtual address every 20 ms, A's engine is closed: the time until B is master, from
// the crash and from A's last advertisement B heard, and the pings lost.
async function failover(interval: number) {
  const a = start('bench-vrrp-a', 'pgvA', '198.18.0.2', 200, interval);
  const b = start('bench-vrrp-b', 'pgvB', '198.18.0.3', 100, interval);
  let aOpen = true;
  try {
    if (!(await until(() => a.g.read('vrrp', 'state') === 'master' && b.g.read('vrrp', 'state') === 'backup', 20_000))) throw new Error('bench: no master elected in the VRRP lab');
    await sleep(interval * 20);
    const mdi = Number(b.g.read('vrrp', 'master_down_interval'));
    const pings = ping(Math.ceil((mdi + 2000) / 20), 0.02);
    await sleep(500);
    const crashedAt = performance.now();
    a.rt.close();
    aOpen = false;
    if (!(await until(() => b.g.read('vrrp', 'state') === 'master', mdi + 5000))) throw new Error('bench: the backup did not take over');
    const since = Number(b.g.read('vrrp', 'master_since'));
    const out = (await pings).out;
    const sent = Number(/(\d+) packets transmitted/.exec(out)?.[1] ?? 0);
    return { takeoverMs: since - crashedAt, afterLastAdvertMs: since - Number(b.g.read('vrrp', 'last_advert')), mdi, lost: sent - received(out) };
  } finally {
    if (aOpen) a.rt.close();
    b.rt.close();
  }
}

export const scriptsSuite: Suite = {
  description: 'elements written in TypeScript: packets/s through JavaScript and back, added latency for batches of 1 to 256',
  defaultRuns: 3,
  async run(ctx) {
    const cases: CaseResult[] = [];
    const groups = new Set((ctx.options.other.cases ?? GROUPS.join(',')).split(','));
    for (const g of groups) if (!GROUPS.includes(g)) throw new Error(`scripts: --cases takes ${GROUPS.join(', ')}, got '${g}'`);
    ctx.progress.plan((groups.has('flood') ? BATCHES.length : 0) + (groups.has('latency') ? BATCHES.length + 2 : 0) + (groups.has('vrrp') ? 2 : 0));
    let k = 0;
    for (const burst of groups.has('flood') ? BATCHES : []) {
      ctx.progress.startCase(k++, `flood, bursts of ${burst}`);
      const runs = [];
      for (let r = 0; r < ctx.runs; r++) {
        ctx.progress.step(r + 1, ctx.runs);
        runs.push(await flood(burst, ctx.seconds, ctx.warmup));
      }
      const st = stats(runs.map((x) => x.handledPps / 1e6));
      const median = [...runs].sort((a, b) => a.handledPps - b.handledPps)[(runs.length - 1) >> 1];
      cases.push({
        suite: 'scripts',
        name: 'generator -> TypeScript echo -> Discard',
        description: `An unpaced generator (64 B, bursts of ${burst}) into a script that sends every packet back; Mpps the script handled (and sent on), the rest dropped at its ring.`,
        threads: 1,
        frameBytes: 64,
        forwarder: 'engine',
        group: 'flood',
        mpps: st,
        packets: Math.round(median.handledPps * ctx.seconds),
        target: { mpps: 1, note: '>= 1 M packets/s through JavaScript in batches' },
        met: st.median >= 1,
        warnings: [],
        extra: { burst, offeredMpps: Math.round(median.receivedPps / 1e4) / 100, sentOnMpps: Math.round(median.backPps / 1e4) / 100 },
      });
    }
    // The engine wakes the script (ThreadSafeFunction), and beside it the design not taken: the
    // script polling its ring from a 1 ms timer.
    const roundTrips = groups.has('latency') ? [...BATCHES.map((window) => ({ window, pollMs: 0 })), { window: 1, pollMs: 1 }, { window: 64, pollMs: 1 }] : [];
    for (const { window, pollMs } of roundTrips) {
      const polled = pollMs ? `, polled every ${pollMs} ms` : '';
      ctx.progress.startCase(k++, `loop, ${window} in flight${polled}`);
      const runs = [];
      setScriptWake(pollMs ? { pollMs } : {});
      try {
        for (let r = 0; r < ctx.runs; r++) {
          ctx.progress.step(r + 1, ctx.runs);
          runs.push(await loop(window, ctx.seconds, ctx.warmup));
        }
      } finally {
        setScriptWake({});
      }
      const median = [...runs].sort((a, b) => a.p99Us - b.p99Us)[(runs.length - 1) >> 1];
      const p99 = stats(runs.map((x) => x.p99Us)).median;
      cases.push({
        suite: 'scripts',
        name: `TypeScript element round trip${polled}`,
        description: pollMs
          ? `As the round trip with ${window} in flight, but the script polls its ring from a ${pollMs} ms timer instead of being woken by the engine (the design not taken, measured beside it).`
          : `${window} packet(s) circling script -> Queue -> Unqueue -> script: each return is one trip out of JavaScript, through the engine and back in. Latency per trip; Mpps the ${window} in flight reach.`,
        threads: 1,
        frameBytes: 64,
        forwarder: 'engine',
        group: pollMs ? 'latency-polled' : 'latency',
        mpps: stats(runs.map((x) => x.pps / 1e6)),
        latency: { p50Us: median.p50Us, p99Us: median.p99Us, p999Us: median.p999Us, maxUs: median.maxUs, samples: median.samples, atMpps: median.pps / 1e6, method: `script-stamped round trip (performance.now)${polled}` },
        ...(pollMs ? {} : { target: { note: 'p99 added latency < 1 ms' }, met: p99 < 1000 }),
        warnings: [],
        extra: { window, meanBatch: Math.round(median.meanBatch * 10) / 10, p99UsMedianOfRuns: Math.round(p99) },
      });
    }
    const notes = ['One worker; the script runs on the Node.js main thread (woken by a ThreadSafeFunction call once per burst that finds it waiting; the polled cases poll from a 1 ms timer instead).'];
    const why = labReason();
    for (const interval of groups.has('vrrp') ? [100, 20] : []) {
      const name = `VRRP failover, advertisements every ${interval * 10} ms`;
      const description = `Two pktgraph routers (VRRP priorities 200 and 100, one engine each) on a bridge with a host pinging the virtual address every 20 ms; the master's engine is closed: ms until the backup is master (extra: after the last advertisement it heard, the RFC's Master_Down_Interval, pings lost).`;
      if (why) {
        cases.push({ suite: 'scripts', name, description, threads: 1, frameBytes: 0, status: 'skipped', reason: why, warnings: [] });
        continue;
      }
      ctx.progress.startCase(k++, name);
      const runs = [];
      buildLab();
      try {
        for (let r = 0; r < ctx.runs; r++) {
          ctx.progress.step(r + 1, ctx.runs);
          runs.push(await failover(interval));
        }
      } finally {
        teardownLab();
      }
      const st = stats(runs.map((x) => x.takeoverMs));
      const mdi = runs[0].mdi;
      cases.push({
        suite: 'scripts',
        name,
        description,
        threads: 1,
        frameBytes: 0,
        group: 'vrrp',
        mpps: st,
        target: { note: `takeover within the Master_Down_Interval (${mdi.toFixed(1)} ms)` },
        met: st.max <= mdi,
        warnings: [],
        extra: {
          unit: 'ms',
          masterDownIntervalMs: Math.round(mdi * 10) / 10,
          afterLastAdvertMs: Math.round(stats(runs.map((x) => x.afterLastAdvertMs)).median * 10) / 10,
          lostPings: stats(runs.map((x) => x.lost)).median,
        },
      });
    }
    return { cases, notes };
  },
};
