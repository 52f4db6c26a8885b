// The interfaces suite's topology: the lab (gen and sink namespaces, each joined to the root
// namespace by a veth pair, the device under test in between), and reading it (MACs, kernel
// counters of an interface).
//
//   gen namespace ──veth── root namespace (the device under test) ──veth── sink namespace
import { spawnSync } from 'node:child_process';
import { createLab, type Lab } from 'pktgraph';
import type { Generator } from './generator.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function sh(cmd: string, args: string[], what: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
  if (r.error || r.status !== 0) throw new Error(`interfaces bench: ${what}: \`${cmd} ${args.join(' ')}\` failed: ${(r.stderr || r.error?.message || '').trim()}`);
  return r.stdout;
}

export function macOf(ns: string | undefined, dev: string): string {
  const out = sh('ip', [...(ns ? ['-n', ns] : []), '-j', 'link', 'show', 'dev', dev], `MAC of ${dev}`);
  return (JSON.parse(out) as { address: string }[])[0].address;
}

/** Kernel counters of one interface inside a namespace (one process for all of them). */
export function counters(ns: string, dev: string, names: string[]): number[] {
  const out = sh('ip', ['netns', 'exec', ns, 'cat', ...names.map((n) => `/sys/class/net/${dev}/statistics/${n}`)], `counters of ${dev}`);
  return out.trim().split(/\s+/).map(Number);
}

export interface Env {
  lab: Lab;
  gen: Generator;
  genNs: string;
  sinkNs: string;
  genIf: string;
  sinkIf: string;
}

/**
 * NAPI on a veth end without an XDP program (GRO on): frames another veth sends with
 * ndo_xdp_xmit (the XDP generator) are dropped uncounted by a peer without it.
 */
export function napiOn(dev: string): void {
  sh('ethtool', ['-K', dev, 'gro', 'on'], `GRO (NAPI) on ${dev} for the XDP generator (ethtool: apt-get install ethtool)`);
}

/** The lab: gen -> engine (root) -> sink, with IPv6 off on the generator's and the sink's interfaces. */
export function buildLab(): Lab {
  const lab = createLab({ hosts: [{ name: 'gen' }, { name: 'sink' }], links: [{ a: 'gen', b: 'engine' }, { a: 'sink', b: 'engine' }] });
  try {
    for (const w of lab.warnings) console.error(`interfaces bench: lab: ${w}`);
    // No IPv6 on the generator's and the sink's interfaces: nothing but the offered frames
    // (no router solicitations, no MLD reports) crosses the path during a trial.
    for (const [host, dev] of [['gen', lab.link(0).a], ['sink', lab.link(1).a]])
      sh('ip', ['netns', 'exec', lab.netns(host), 'sysctl', '-qw', `net.ipv6.conf.${dev}.disable_ipv6=1`], `IPv6 off on ${dev}`);
  } catch (e) {
    lab.destroy();
    throw e;
  }
  return lab;
}
