// The per-element cost table: printed by `pktgraph run --profile` after the summary, and by
// `pktgraph profile` for a running graph.
import type { RunSummary } from '../runtime/run.js';
import type { GraphProfile } from '../runtime/runtime.js';
import { si, table } from './format.js';
import { MIN_PACKETS_FOR_CPU } from './summary.js';

const ns = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

/** The profile as lines of text, most expensive element first; none without a profile. */
export function profileLines(s: RunSummary): string[] {
  return s.profile ? profileTable(s.profile, s.cpuNsPerPacket) : [];
}

/** A profile as lines of text; `cpuNsPerPacket`, when known, is the workers' CPU per packet in all. */
export function profileTable(p: GraphProfile, cpuNsPerPacket?: number): string[] {
  if (!p.enabled) return ['profile: profiling is off'];
  const rows = [['element', 'class', 'calls', 'packets', 'self ms', 'ns/call', 'ns/packet', 'ns/source pkt', 'share']];
  for (const e of p.elements)
    rows.push([
      e.name,
      e.class,
      si(e.calls),
      si(e.packets),
      (e.selfNs / 1e6).toFixed(1),
      e.calls > 0 ? ns(e.selfNs / e.calls) : '-',
      e.packets > 0 ? ns(e.nsPerPacket) : '-',
      p.sourcePackets > 0 ? ns(e.nsPerSourcePacket) : '-',
      `${(e.share * 100).toFixed(1)}%`,
    ]);
  const perPacket = p.sourcePackets > 0 ? `${ns(p.selfNs / p.sourcePackets)} ns per source packet in elements` : 'no source packets';
  // The workers' CPU includes idle polling: per packet it means something only over many packets.
  const cpu =
    p.sourcePackets >= MIN_PACKETS_FOR_CPU
      ? `the workers used ${ns(cpuNsPerPacket ?? p.cpuNs / p.sourcePackets)} ns of CPU per packet in all`
      : `the workers' CPU per packet is not shown under ${MIN_PACKETS_FOR_CPU} packets`;
  const lines = [
    `profile: self time per element over ${p.seconds.toFixed(2)} s, most expensive first (${perPacket}; ${cpu})`,
    ...table(rows, '  '),
  ];
  // Self times are timed by the clock; time a worker spent preempted is taken out (an estimate).
  if (p.waitShare >= 0.05)
    lines.push(`  the workers waited for a CPU ${(p.waitShare * 100).toFixed(0)}% of the time (a busy machine); the self times leave that waiting out, in proportion`);
  return lines;
}
