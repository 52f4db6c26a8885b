// The router suite: a whole IPv4 forwarding path in memory, over a full Internet table.
// FlowSource (64 B IPv4/UDP frames, random destinations) -> Strip(14) -> CheckIPHeader ->
// IPLookup (full table) -> DecIPTTL -> EtherEncap -> Discard, one thread; and the path of
// Click's two-interface IP router (its mk-ip-router): Classifier (ARP/IP) -> Paint -> Strip ->
// CheckIPHeader -> GetIPAddress -> IPLookup -> per output DropBroadcasts -> PaintTee ->
// IPGWOptions -> FixIPSrc -> DecIPTTL -> IPFragmenter -> ARPQuerier -> Discard, with gateways
// resolved by ARPQuerier.
//
// The table: `--routes FILE` (`prefix/len nexthop-index` per line, gzip when it ends in .gz),
// else ../shared/data/fib/ipv4-full-902k.txt.gz when present (and `--synthetic` not given),
// else a synthetic table with the real table's prefix-length mix (bench/routes.ts; the case
// descriptions say which). It is rewritten into a temporary plain file of `PREFIX OUTPUT`
// lines with output = next-hop index mod 4 (each IPLookup output needs a connection; all
// four go to the same DecIPTTL), and the file is removed afterwards.
//
// IPLookup reads the file in configure, inside Runtime.load, which runPlan does before it
// starts the workers and the clock, and the first `--warmup` seconds are not counted
// either: the table load is outside the measured window. It is timed separately (once per
// case) and reported in `extra.tableLoadSeconds`.
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  graph, compile, runPlan, Runtime, FlowSource, Strip, CheckIPHeader, IPLookup, DecIPTTL, EtherEncap, Discard, Classifier, DropBroadcasts,
  GetIPAddress, IPGWOptions, FixIPSrc, IPFragmenter, ARPQuerier, Tee, Paint, PaintTee, type Plan, type RunningGraph,
} from 'pktgraph';
import { stats, spreadWarning, gbitPerSecond, cpuShare, cpuShareWarning, type CaseResult } from '../lib.js';
import type { Suite, SuiteContext, BenchOptions } from '../harness.js';
import { readTable, sharedFibDir, synthetic } from '../routes.js';

const OUTPUTS = 4;
const FRAME = 64;
const POOL = 16384;
const SHARED_V4 = 'ipv4-full-902k.txt.gz';
const SYNTHETIC_ROUTES = 901_899;


interface Table {
  file: string; // temporary plain `PREFIX OUTPUT` file
  gatewayFile: string; // the same routes as `PREFIX GATEWAY OUTPUT`, gateway 198.18.<output>.1
  routes: number;
  source: string; // what it came from, for the descriptions
  hasDefault: boolean;
}

/** Write the route table as `PREFIX OUTPUT` lines (output = next hop mod OUTPUTS) to a temporary file. */
export function prepareTable(opts: BenchOptions): Table {
  const given = opts.other.routes;
  const syntheticGiven = opts.other.synthetic === 'true';
  const sharedPath = join(sharedFibDir, SHARED_V4);
  let text: string;
  let source: string;
  if (given) {
    text = readTable(given);
    source = `the table in ${given}`;
  } else if (!syntheticGiven && existsSync(sharedPath)) {
    text = readTable(sharedPath);
    source = `the real full IPv4 table ../shared/data/fib/${SHARED_V4}`;
  } else {
    text = synthetic(32, SYNTHETIC_ROUTES);
    source = `a SYNTHETIC table of ${SYNTHETIC_ROUTES} routes with the real table's prefix-length mix (${syntheticGiven ? '--synthetic given' : `${SHARED_V4} not found`})`;
  }
  const out: string[] = [];
  let hasDefault = false;
  for (const line of text.split('\n')) {
    const s = line.trim();
    if (!s || s.startsWith('#')) continue;
    const [prefix, hop] = s.split(/\s+/);
    const n = Number(hop);
    if (!prefix || !Number.isInteger(n) || n < 0) throw new Error(`router bench: bad route line ${JSON.stringify(s)} in ${source}`);
    if (prefix === '0.0.0.0/0' || prefix === 'default') hasDefault = true;
    out.push(`${prefix} ${n % OUTPUTS}`);
  }
  const file = join(tmpdir(), `pktgraph-bench-router-${process.pid}.routes`);
  writeFileSync(file, out.join('\n') + '\n');
  const gatewayFile = join(tmpdir(), `pktgraph-bench-router-${process.pid}.gw.routes`);
  writeFileSync(gatewayFile, out.map((l) => { const [p, o] = l.split(' '); return `${p} ${gatewayOf(Number(o))} ${o}`; }).join('\n') + '\n');
  return { file, gatewayFile, routes: out.length, source, hasDefault };
}

interface RouterCase {
  name: string;
  description: string;
  withDefault: boolean;
  /** Click's two-interface router path (ARP, options, fragmenter) rather than the short one. */
  full?: boolean;
}

const ROUTER_IP = '198.18.255.254';
const ROUTER_MAC = '02:00:00:00:00:02';
const gatewayOf = (output: number) => `198.18.${output}.1`;
const gatewayMac = (output: number) => `02:00:00:00:01:${output.toString(16).padStart(2, '0')}`;

function buildFullPlan(table: Table): Plan {
  return compile(
    graph('router-full', () => {
      const cls = Classifier({ patterns: ['12/0806 20/0001', '12/0806 20/0002', '12/0800', '-'] }, 'cls');
      FlowSource({ family: 'ipv4', protocol: 'udp', length: FRAME, flows: 1024, dstRandom: true, burst: 64, dstEther: ROUTER_MAC }, { name: 'src', thread: 0 }).to(cls);
      const rt = IPLookup({ file: table.gatewayFile, routes: ['default 198.18.0.1 0'] }, 'rt');
      cls.out(0).to(Discard({}, 'arp_requests'));
      cls.out(3).to(Discard({}, 'other'));
      // Packets arrive on an interface none of the outputs leads to, so PaintTee copies none
      // (a copy would be an ICMP redirect in Click's router).
      cls.out(2).to(Paint({ color: OUTPUTS }, 'paint')).to(Strip({ length: 14 }, 'strip')).to(CheckIPHeader({}, 'check')).to(GetIPAddress({ offset: 16 }, 'getaddr')).to(rt);
      // ARP replies go to every querier, as in Click's router (the source sends none here).
      const replies = cls.out(1).to(Tee({}, 'arp_replies'));
      const sink = Discard({}, 'sink');
      for (let o = 0; o < OUTPUTS; o++) {
        const arpq = ARPQuerier({ ip: ROUTER_IP, mac: ROUTER_MAC }, `arpq${o}`);
        const paintTee = PaintTee({ color: o }, `painttee${o}`);
        rt.out(o).to(DropBroadcasts({}, `nobcast${o}`)).to(paintTee);
        paintTee.out(1).to(Discard({}, `redirect${o}`));
        paintTee
          .to(IPGWOptions({ address: ROUTER_IP }, `gwopt${o}`))
          .to(FixIPSrc({ address: ROUTER_IP }, `fixsrc${o}`))
          .to(DecIPTTL({}, `ttl${o}`))
          .to(IPFragmenter({ mtu: 1500 }, `frag${o}`))
          .to(arpq);
        replies.out(o).to(arpq.in(1));
        arpq.to(o === 0 ? sink : Discard({}, `sink${o}`));
      }
    }),
  );
}

/** The gateways' ARP entries, written as static entries once the graph runs (before the warm-up ends). */
function resolveGateways(g: RunningGraph): void {
  for (let o = 0; o < OUTPUTS; o++) g.write(`arpq${o}`, 'insert', `${gatewayOf(o)} ${gatewayMac(o)}`);
}

function buildPlan(table: Table, withDefault: boolean): Plan {
  return compile(
    graph('router', () => {
      const rt = IPLookup({ file: table.file, routes: withDefault ? ['default 0'] : [] }, 'rt');
      FlowSource({ family: 'ipv4', protocol: 'udp', length: FRAME, flows: 1024, dstRandom: true, burst: 64 }, { name: 'src', thread: 0 })
        .to(Strip({ length: 14 }, 'strip'))
        .to(CheckIPHeader({}, 'check'))
        .to(rt);
      const ttl = DecIPTTL({}, 'ttl');
      for (let o = 0; o < OUTPUTS; o++) rt.out(o).to(ttl);
      ttl.to(EtherEncap({ type: 0x0800, src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' }, 'encap')).to(Discard({}, 'sink'));
    }),
  );
}

/** Seconds Runtime.load takes for the plan (IPLookup reading and building the table). */
function timeLoad(plan: Plan): number {
  const rt = new Runtime({ threads: 1, poolBuffers: POOL });
  try {
    const t0 = process.hrtime.bigint();
    const g = rt.load(plan);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    g.remove();
    return seconds;
  } finally {
    rt.close();
  }
}

export const routerSuite: Suite = {
  description: 'in-memory IPv4 router path over the full table',
  defaultRuns: 5,
  run: async (ctx) => ({ cases: await runRouterSuite(ctx) }),
};

async function runRouterSuite(opts: SuiteContext): Promise<CaseResult[]> {
  opts.progress.note('preparing the route table');
  const table = prepareTable(opts.options);
  const tableNote = `${table.routes} routes from ${table.source}, outputs = next-hop index mod ${OUTPUTS}, all four into one DecIPTTL`;
  const path = `FlowSource (${FRAME} B IPv4/UDP frames, 1024 flows, dstRandom: uniformly random 32-bit destinations) -> Strip(14) -> CheckIPHeader -> IPLookup (${tableNote}) -> DecIPTTL -> EtherEncap -> Discard, one thread`;
  const cases: RouterCase[] = [
    {
      name: 'IPv4 router path, 902k table, random destinations',
      description: `${path}. Destinations without a route (unallocated space) are dropped by IPLookup (drops_no_route); extra.hitRate is the share that was routed and forwarded. Table load (in Runtime.load, before the clock starts) is not measured; extra.tableLoadSeconds times it once.`,
      withDefault: false,
    },
    {
      name: "IPv4 router path, Click's two-interface router elements, 902k table + default route",
      description: `FlowSource (${FRAME} B IPv4/UDP frames, 1024 flows, random destinations) -> Classifier (ARP request / ARP reply / IPv4 / other) -> Paint -> Strip(14) -> CheckIPHeader -> GetIPAddress(16) -> IPLookup (${table.routes} routes from ${table.source} with gateways 198.18.<output>.1, output = next-hop index mod ${OUTPUTS}, plus a default route) -> per output DropBroadcasts -> PaintTee -> IPGWOptions -> FixIPSrc -> DecIPTTL -> IPFragmenter(1500) -> ARPQuerier (the four gateways written as static entries at start, inside the warm-up) -> Discard, one thread: the element path of Click's two-interface IP router (mk-ip-router), in memory.`,
      withDefault: true,
      full: true,
    },
    {
      name: 'IPv4 router path, 902k table + default route',
      description: `${path}, plus a default route (output 0), so every lookup hits and every packet goes through DecIPTTL and EtherEncap: the full forwarding cost per packet with the same random destinations (those outside the table's prefixes take the default route).`,
      withDefault: true,
    },
  ];
  const results: CaseResult[] = [];
  opts.progress.plan(cases.length);
  try {
    for (const [ci, c] of cases.entries()) {
      opts.progress.startCase(ci, c.name);
      if (c.withDefault && table.hasDefault) throw new Error('router bench: the table already has a default route');
      const plan = c.full ? buildFullPlan(table) : buildPlan(table, c.withDefault);
      opts.progress.step(0, opts.runs, 'timing the table load');
      const loadSeconds = timeLoad(plan);
      const mpps: number[] = [];
      const cpu: number[] = [];
      const packets: number[] = [];
      const shares: number[] = [];
      let hitRate = 0;
      const warnings: string[] = [];
      for (let r = 0; r < opts.runs; r++) {
        opts.progress.step(r + 1, opts.runs);
        const s = await runPlan(plan, { threads: 1, duration: opts.seconds, warmup: opts.warmup, stopWhenDrained: false, poolBuffers: POOL, ...(c.full ? { onStart: (_r: Runtime, g: RunningGraph) => resolveGateways(g) } : {}) });
        mpps.push(s.mpps);
        cpu.push(s.cpuNsPerPacket);
        packets.push(s.packets);
        shares.push(cpuShare(s, 1));
        const e = s.elements;
        const checked = e.check?.packets ?? 0;
        const noRoute = e.rt?.drops_no_route ?? 0;
        hitRate = checked > 0 ? (checked - noRoute) / checked : 0;
        const bad = Object.entries(e.check ?? {}).filter(([k, v]) => k.startsWith('drops_') && v > 0);
        const arpq = Array.from({ length: OUTPUTS }, (_, o) => e[`arpq${o}`] ?? {});
        const delivered = c.full ? arpq.reduce((n, q) => n + (q.sent ?? 0), 0) : (e.sink?.packets ?? 0);
        // The full path: packets held by the queriers at the end, or dropped while the gateways
        // were still unresolved in the first moments of the warm-up, are not lost.
        const excused = c.full ? arpq.reduce((n, q) => n + Object.entries(q).filter(([k]) => k.startsWith('drops_')).reduce((m, [, v]) => m + v, 0), 0) : 0;
        const lost = (e.src?.packets ?? 0) - noRoute - delivered - excused;
        if (r === 0) {
          if (bad.length) warnings.push(`CheckIPHeader dropped packets: ${bad.map(([k, v]) => `${k} ${v}`).join(', ')}`);
          if (e.ttl?.expired || e.ttl?.drops_no_header || e.encap?.drops_no_headroom || e.rt?.drops_short)
            warnings.push(`packets dropped after the lookup: ${JSON.stringify({ ttl: e.ttl, encap: e.encap, rt_short: e.rt?.drops_short })}`);
          if (c.full ? Math.abs(lost) > 256 * OUTPUTS : lost !== 0) warnings.push(`${lost} packets neither routed to the sink nor counted as drops_no_route`);
          if (c.withDefault && noRoute > 0) warnings.push(`${noRoute} packets without a route despite the default route`);
        }
      }
      const st = stats(mpps);
      const sw = spreadWarning('throughput', st, 'Mpps');
      if (sw) warnings.push(sw);
      const share = stats(shares).median;
      const shw = cpuShareWarning(share);
      if (shw) warnings.push(shw);
      const target = { mpps: 15, note: c.full ? ">= 15 Mpps (Click's two-interface router ~3.3-3.6)" : '>= 15 Mpps (Click ~4.5-5)' };
      results.push({
        suite: 'router',
        name: c.name,
        description: c.description,
        threads: 1,
        frameBytes: FRAME,
        forwarder: 'engine',
        mpps: st,
        packets: packets[mpps.indexOf([...mpps].sort((a, b) => a - b)[(mpps.length - 1) >> 1])],
        gbps: gbitPerSecond(st.median, FRAME),
        cpuNsPerPacket: stats(cpu).median,
        target,
        met: st.median >= target.mpps,
        warnings,
        extra: {
          routes: table.routes + (c.withDefault ? 1 : 0),
          table: table.source,
          hitRate: Math.round(hitRate * 10000) / 10000,
          forwardedMppsMedian: Math.round(st.median * hitRate * 100) / 100,
          tableLoadSeconds: Math.round(loadSeconds * 1000) / 1000,
          cpuShare: Math.round(share * 100) / 100,
        },
      });
    }
  } finally {
    rmSync(table.file, { force: true });
    rmSync(table.gatewayFile, { force: true });
  }
  return results;
}
