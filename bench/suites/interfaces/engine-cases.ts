// The interfaces suite's engine cases: the engine's bridge (one or two workers) and IPv4 router,
// run in this process, with their CPU time and forwarded counts.
import { readdirSync, readFileSync } from 'node:fs';
import { graph, compile, Runtime, FromDevice, ToDevice, Strip, CheckIPHeader, IPLookup, DecIPTTL, EtherEncap, type RunningGraph } from 'pktgraph';
import { SINK_DISCARD_MAC, type Settings } from './settings.js';
import { macOf } from './topology.js';
import type { Dut } from './trials.js';
import type { CaseSpec } from './cases.js';

/**
 * User and system CPU ticks of this process's engine worker threads (named pktgraph-w<i>), from
 * /proc: the system share is time in the kernel (sendmmsg, and the veth transmit and the sink's
 * receive processing it runs inline), which workerStats' cpuNs counts together with user time.
 */
function workerTicks(): { user: number; sys: number } {
  let user = 0;
  let sys = 0;
  try {
    for (const t of readdirSync('/proc/self/task')) {
      try {
        const stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
        const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        if (!comm.startsWith('pktgraph-w')) continue;
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        user += Number(f[11]);
        sys += Number(f[12]);
      } catch {}
    }
  } catch {}
  return { user, sys };
}

/** An engine graph forwarding a -> b in this process, with its CPU and forwarded counts. */
function engineDut(name: string, threads: number, build: () => void, sentBy: string[]): { dut: Dut; teardown: () => void } {
  const rt = new Runtime({ threads, poolBuffers: 16384 });
  let g: RunningGraph;
  try {
    g = rt.load(compile(graph(`bench-${name.replace(/\W+/g, '-')}`, build)));
    rt.start();
  } catch (e) {
    rt.close();
    throw e;
  }
  const running = g;
  const forwarded = () => sentBy.reduce((n, el) => n + Number(running.counter(el, 'packets')), 0);
  return {
    dut: {
      name,
      engineSnapshot: () => {
        // userNs/sysNs: present in newer engines' workerStats; used when there.
        const ws = rt.workerStats() as { cpuNs: number; userNs?: number; sysNs?: number }[];
        const split = ws.every((w) => typeof w.userNs === 'number' && typeof w.sysNs === 'number');
        return {
          cpuNs: ws.reduce((s, w) => s + w.cpuNs, 0),
          forwarded: forwarded(),
          ...workerTicks(),
          ...(split ? { userNs: ws.reduce((s, w) => s + w.userNs!, 0), sysNs: ws.reduce((s, w) => s + w.sysNs!, 0) } : {}),
        };
      },
    },
    teardown: () => {
      try {
        rt.stop();
        const c = running.allCounters();
        const drops = Object.entries(c).flatMap(([el, cs]) => Object.entries(cs).filter(([k, v]) => v > 0n && /drops|pool_empty/.test(k)).map(([k, v]) => `${el}.${k}=${v}`));
        if (drops.length) console.error(`\ninterfaces bench: ${name}: counters: ${drops.join(', ')}`);
        running.remove();
      } finally {
        rt.close();
      }
    },
  };
}

/** FromDevice's and ToDevice's method fields for a case: AF_PACKET as configured, or AF_XDP (no fallback). */
const rxMethod = (s: Settings, method?: 'xdp') => (method === 'xdp' ? { method: 'xdp' as const, xdpFallback: false } : { tpacketVersion: s.tpacketVersion, ...(s.ring ?? {}) });
const txMethod = (method?: 'xdp') => (method === 'xdp' ? { method: 'xdp' as const, xdpFallback: false } : { qdiscBypass: true });

export function engineBridge(threads: number, s: Settings, method?: 'xdp'): CaseSpec['setUp'] {
  return (_env, a, b) => {
    const fanout = 1000 + Math.floor(Math.random() * 60000);
    return engineDut(
      `engine bridge${method ? ' (AF_XDP)' : ''}, ${threads} worker(s)`,
      threads,
      () => {
        for (let i = 0; i < threads; i++)
          FromDevice({ device: a, burst: 64, ...rxMethod(s, method), ...(threads > 1 ? { fanout } : {}) }, { name: `rx${i}`, thread: i }).to(ToDevice({ device: b, ...txMethod(method) }, `tx${i}`));
      },
      Array.from({ length: threads }, (_, i) => `tx${i}`),
    );
  };
}

export function engineRouter(s: Settings, method?: 'xdp'): CaseSpec['setUp'] {
  return (env, a, b) => {
    const sinkMac = SINK_DISCARD_MAC;
    const ownMac = macOf(undefined, b);
    return engineDut(
      `engine IPv4 router${method ? ' (AF_XDP)' : ''}, 1 worker`,
      1,
      () => {
        const rt = IPLookup({ routes: ['198.19.0.0/24 0'] }, 'rt');
        FromDevice({ device: a, burst: 64, ...rxMethod(s, method) }, { name: 'rx', thread: 0 }).to(Strip({ length: 14 }, 'strip')).to(CheckIPHeader({}, 'check')).to(rt);
        rt.out(0)
          .to(DecIPTTL({}, 'ttl'))
          .to(EtherEncap({ type: 0x0800, src: ownMac, dst: sinkMac }, 'encap'))
          .to(ToDevice({ device: b, ...txMethod(method) }, 'tx'));
      },
      ['tx'],
    );
  };
}
