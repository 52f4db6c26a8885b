// The end-of-run summary of `pktgraph run`: totals, every element's counters, and what the
// totals alone would hide: every element that dropped packets, by reason, and every paced
// element that delivered less than its configured rate.
import type { Plan } from '../compiler/plan.js';
import { findDescriptor } from '../graph/descriptor.js';
import type { RunSummary } from '../runtime/run.js';
import { table } from './format.js';

/**
 * The drop-counter naming convention (docs/writing-elements.md): `drops`, `drops_<reason>`
 * or `<source>_drops` (FromDevice's `kernel_drops`) counts packets dropped.
 */
export function isDropCounter(name: string): boolean {
  return /^drops(_[a-z0-9]+)*$/.test(name) || /^[a-z0-9]+(_[a-z0-9]+)*_drops$/.test(name);
}

/**
 * The counter a paced element (InfiniteSource or FlowSource with a rate, RatedUnqueue) keeps
 * of packets its rate called for but that it did not send because it ran late.
 */
export const SHORTFALL_COUNTER = 'rate_shortfall';

/** Below this many packets, CPU time per packet is mostly start-up and idle polling: not shown. */
export const MIN_PACKETS_FOR_CPU = 10_000;

/** `--json`'s CPU per packet: as the text summary, none (null, with the reason) under
 *  MIN_PACKETS_FOR_CPU packets. */
export function cpuPerPacketJson(s: RunSummary): { cpuNsPerPacket: number | null; cpuNsPerPacketNote?: string } {
  if (s.packets >= MIN_PACKETS_FOR_CPU) return { cpuNsPerPacket: s.cpuNsPerPacket };
  return { cpuNsPerPacket: null, cpuNsPerPacketNote: `not measured: ${s.packets} packets, under the ${MIN_PACKETS_FOR_CPU} it takes for CPU per packet to mean more than start-up and idle polling` };
}

export interface Drop {
  element: string;
  class: string;
  counter: string;
  packets: number;
}

export interface Shortfall {
  element: string;
  class: string;
  /** The configured rate when the run ended, in `unit`: packets per second, or bits per
   *  second for an element whose descriptor's `rate` field says `unit: 'bit/s'` (Bandwidth*). */
  rate: number;
  unit: '/s' | ' bit/s';
  /** Packets it sent, and what it delivered per second over the run (in `unit`). */
  packets: number;
  deliveredRate: number;
  /** Its rate_shortfall counter. */
  shortfall: number;
}

type ConfigOf = (element: string) => Record<string, unknown> | undefined;

const planConfig = (plan: Plan): ConfigOf => {
  const byName = new Map(plan.elements.map((e) => [e.name, e.config]));
  return (name) => byName.get(name);
};

/** Every nonzero drop counter, in plan order. */
export function drops(plan: Plan, s: RunSummary): Drop[] {
  const out: Drop[] = [];
  for (const e of plan.elements)
    for (const [counter, packets] of Object.entries(s.elements[e.name] ?? {}))
      if (packets > 0 && isDropCounter(counter)) out.push({ element: e.name, class: e.class, counter, packets });
  return out;
}

/** Every element with a nonzero rate_shortfall, with its rate (from `configOf`, default the plan's). */
export function shortfalls(plan: Plan, s: RunSummary, configOf: ConfigOf = planConfig(plan)): Shortfall[] {
  const out: Shortfall[] = [];
  for (const e of plan.elements) {
    const c = s.elements[e.name] ?? {};
    const shortfall = c[SHORTFALL_COUNTER] ?? 0;
    if (shortfall <= 0) continue;
    const rate = Number(configOf(e.name)?.rate ?? e.config.rate ?? 0);
    const packets = c.packets ?? 0;
    const bits = (findDescriptor(e.class)?.config.properties?.rate as { unit?: string } | undefined)?.unit === 'bit/s';
    const delivered = bits ? (c.bytes ?? 0) * 8 : packets;
    out.push({ element: e.name, class: e.class, rate, unit: bits ? ' bit/s' : '/s', packets, deliveredRate: s.seconds > 0 ? delivered / s.seconds : 0, shortfall });
  }
  return out;
}

const n = (x: number) => Math.round(x).toLocaleString('en-US');

export function dropLines(plan: Plan, s: RunSummary): string[] {
  const list = drops(plan, s);
  if (!list.length) return [];
  const total = list.reduce((a, d) => a + d.packets, 0);
  const share = s.packets > 0 ? ` (${((100 * total) / s.packets).toFixed(1)}% of the ${n(s.packets)} the sources sent)` : '';
  const rows = list.map((d) => [d.element, d.class, d.counter, n(d.packets), findDescriptor(d.class)?.counters[d.counter] ?? '']);
  return [`  dropped ${n(total)} packets${share}:`, ...table(rows, '    ')];
}

export function shortfallLines(list: Shortfall[]): string[] {
  return list.map(
    (f) =>
      `  ${f.element} (${f.class}) fell behind its rate: configured ${n(f.rate)}${f.unit}, delivered ${n(f.deliveredRate)}${f.unit}; ` +
      `${n(f.shortfall)} packets the rate called for were not sent (${SHORTFALL_COUNTER}: it ran late)`,
  );
}

export function summaryLines(plan: Plan, s: RunSummary, bytes: number | undefined, configOf?: ConfigOf): string[] {
  const gbps = bytes !== undefined && s.seconds > 0 ? `, ${((bytes * 8) / s.seconds / 1e9).toFixed(2)} Gbit/s` : '';
  const how = { drained: 'the graph drained', duration: 'the duration ended', aborted: 'interrupted' }[s.stoppedBy];
  const cpu = s.packets >= MIN_PACKETS_FOR_CPU ? `${s.cpuNsPerPacket.toFixed(1)} ns CPU per packet` : `CPU per packet not shown (under ${n(MIN_PACKETS_FOR_CPU)} packets)`;
  const lines = [
    `${s.graph}: ${n(s.packets)} packets in ${s.seconds.toFixed(2)} s = ${s.mpps.toFixed(2)} Mpps${gbps}`,
    `  ${s.threads} thread${s.threads === 1 ? '' : 's'}, ${cpu}, stopped because ${how}`,
  ];
  const classes = new Map(plan.elements.map((e) => [e.name, e.class]));
  const rows = Object.entries(s.elements).map(([name, counters]) => [
    name,
    classes.get(name) ?? '',
    Object.entries(counters).map(([k, v]) => `${k}=${v}`).join('  '),
  ]);
  lines.push(...table(rows, '  '));
  lines.push(...dropLines(plan, s));
  lines.push(...shortfallLines(shortfalls(plan, s, configOf)));
  if (s.pool.allocFailures > 0) lines.push(`  the packet pool ran empty ${s.pool.allocFailures} times (raise it with --pool)`);
  return lines;
}
