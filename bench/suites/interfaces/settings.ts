// The interfaces suite's settings (from the bench options) and the fixed facts every phase shares:
// addresses, MACs, targets, trial timing.
import { existsSync } from 'node:fs';
import { dirname, join, delimiter } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SuiteContext, BenchOptions } from '../../harness.js';

export const DRAIN_MS = 300;
export const DST_IP = [198, 19, 0, 3];
export const SRC_IP = [198, 18, 0, 1];
export const ALL_SIZES = [64, 128, 256, 512, 1024, 1280, 1518];
/** The engine router's (and Click router's) MAC on the gen side: not the veth's own, so the root
 * namespace's kernel drops the frames as not-for-this-host instead of routing them too. */
export const ROUTER_MAC = '02:50:47:00:00:fe';
/** Where every case's forwarded frames are addressed on the sink's link: not the sink's own MAC,
 * so the sink's kernel counts each frame (rx_packets) and drops it at once as not-for-this-host.
 * On veth, a transmit runs the receiver's path in the sender's thread: addressed to the sink
 * itself, its IP stack's work (300-450 ns a frame) would be charged to the forwarder, engine and
 * kernel alike (docs/interfaces-performance.md). */
export const SINK_DISCARD_MAC = '02:50:47:00:00:5d';
export const CPU_TARGET_NS = 500;
export const SCALING_TARGET = 1.7;
/** Issue 15: AF_XDP's zero-loss rate against Linux forwarding's, and latency against the kernel's
 *  at the same offered rates (1-50% load). */
export const XDP_RATE_TARGET = 2;
export const LATENCY_P50_TARGET = 2;
export const LATENCY_P99_TARGET = 5;
/** bench/ (this file is bench/suites/interfaces/settings.ts). */
export const benchRoot = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

export interface Settings {
  sizes: number[];
  runs: number;
  steps: number;
  trialS: number;
  confirmS: number;
  fullS: number;
  latencyS: number;
  ring?: { blocks: number; blockSize: number };
  /** The engine's FromDevice ring (--tpacket): 'adaptive' (the element's default: V2 and V3 rings switched by rate), 2 or 3 (that ring only). */
  tpacketVersion: 'adaptive' | 2 | 3;
  forceEngineGen: boolean;
  /** The engine's generator sends with AF_XDP (--generator engine-xdp). */
  genXdp: boolean;
  /** The kernel's XDP live-frames sender generates (--generator xdp). */
  kernelXdpGen: boolean;
  /** The sink drops with an XDP program during the throughput trials (--sink-drop xdp), not in its IP input. */
  sinkXdpDrop: boolean;
  /** The engine cases over AF_XDP too (default; --xdp no leaves them out). */
  xdp: boolean;
  click?: string;
  clickReason?: string;
  lineRate?: number;
  latency: boolean;
  groups: Set<string>;
}

export function settingsFrom(ctx: SuiteContext): Settings {
  const o: BenchOptions = ctx.options;
  let ring: Settings['ring'];
  if (o.other.ring) {
    const m = /^(\d+)x(\d+)$/.exec(o.other.ring);
    if (!m) throw new Error('bench interfaces: --ring takes BLOCKSxBYTES, e.g. 256x65536');
    ring = { blocks: Number(m[1]), blockSize: Number(m[2]) };
  }
  const tpacket = o.other.tpacket ?? 'adaptive';
  if (tpacket !== 'adaptive' && tpacket !== '2' && tpacket !== '3') throw new Error(`bench interfaces: --tpacket takes adaptive, 2 or 3 (got '${tpacket}')`);
  const groups = new Set((o.other.cases ?? 'bridge,router,scaling').split(',').map((s) => s.trim()));
  for (const g of groups) if (!['bridge', 'router', 'scaling'].includes(g)) throw new Error(`bench interfaces: --cases takes bridge, router and scaling (got '${g}')`);
  if (o.other.generator !== undefined && !['trafgen', 'engine', 'engine-xdp', 'xdp'].includes(o.other.generator))
    throw new Error(`bench interfaces: --generator takes trafgen, engine, engine-xdp or xdp (got '${o.other.generator}')`);
  if (o.other['sink-drop'] !== undefined && o.other['sink-drop'] !== 'xdp' && o.other['sink-drop'] !== 'stack') throw new Error(`bench interfaces: --sink-drop takes xdp or stack (got '${o.other['sink-drop']}')`);
  if (o.other.xdp !== undefined && o.other.xdp !== 'yes' && o.other.xdp !== 'no') throw new Error(`bench interfaces: --xdp takes yes or no (got '${o.other.xdp}')`);
  const click = findClick(o.click);
  return {
    sizes: o.sizes ?? (o.quick ? [64] : ALL_SIZES),
    runs: ctx.runs,
    steps: o.quick ? 4 : 7,
    trialS: o.trial ?? (o.quick ? 0.5 : 1),
    confirmS: o.confirm ?? (o.quick ? 1 : 3),
    fullS: o.quick ? 1 : 2,
    latencyS: o.quick ? 1 : 3,
    ring,
    tpacketVersion: tpacket === 'adaptive' ? 'adaptive' : tpacket === '2' ? 2 : 3,
    forceEngineGen: o.other.generator === 'engine' || o.other.generator === 'engine-xdp',
    genXdp: o.other.generator === 'engine-xdp',
    kernelXdpGen: o.other.generator === 'xdp',
    sinkXdpDrop: o.other['sink-drop'] === 'xdp',
    xdp: o.other.xdp !== 'no',
    click: click.path,
    clickReason: click.reason,
    lineRate: o.lineRate,
    latency: !o.noLatency,
    groups,
  };
}

/** --click PATH, else `click` on PATH; undefined with the reason when there is none. */
function findClick(given: string | undefined): { path?: string; reason?: string } {
  if (given) return existsSync(given) ? { path: given } : { reason: `--click ${given}: no such file` };
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, 'click');
    if (dir && existsSync(p)) return { path: p };
  }
  return { reason: 'no click binary (none on PATH; give one with --click PATH)' };
}
