// Prometheus metrics of an engine's virtual routers (prom-client): series per router, port and
// element, read at scrape time from the counters' shared memory (RunningGraph's view over the
// native arena: no copy, no call into the engine, the workers never wait). Queue lengths and
// link states come from read handlers, which never pause a graph (only exclusive writes do).
// A scrape is scoped: an admin sees every router and the engine's own series; a tenant's user
// sees only its tenant's routers (docs/management.md, "Metrics").
import { Counter, Gauge, Registry } from 'prom-client';
import { findDescriptor } from '../graph/descriptor.js';
import type { RunningGraph } from '../runtime/runtime.js';
import { isDropCounter } from '../cli/summary.js';
import type { RouterInfoT } from './api.js';
import type { VirtualRouters } from './routers.js';

/** Which routers a caller may see: all (an admin) or one tenant's. */
export type Scope = { all: true } | { tenant: string };

export const visible = (scope: Scope, tenant: string | undefined | null) => 'all' in scope || tenant === scope.tenant;

/** Device elements: the port they serve and which counters are its receive and send side. */
const PORTS: Record<string, { rx?: [string, string]; tx?: [string, string]; state: boolean }> = {
  FromDevice: { rx: ['packets', 'bytes'], state: true },
  ToDevice: { tx: ['packets', 'bytes'], state: true },
  Tap: { rx: ['rx_packets', 'rx_bytes'], tx: ['tx_packets', 'tx_bytes'], state: false },
};

/** A port an element of a router serves: its device, and the element's link state reading (none for Tap: up while loaded). */
export function portOf(cls: string): (typeof PORTS)[string] | undefined {
  return PORTS[cls];
}

/** The reason a drop counter names: drops_no_route -> no_route, kernel_drops -> kernel, drops -> unspecified. */
export function dropReason(counter: string): string {
  if (counter === 'drops') return 'unspecified';
  return counter.startsWith('drops_') ? counter.slice(6) : counter.replace(/_drops$/, '');
}

/** Counters that count what a full per-router table or buffer refused: a quota hit. */
export const isQuotaCounter = (counter: string) => /(^|_)(table_full|quota[a-z_]*)$/.test(counter);

/** Elements whose class has a `length` read handler: a queue (its current length is a gauge). */
const hasLength = (cls: string) => !!findDescriptor(cls)?.handlers?.length?.read;

/** The routers in scope with their loaded graphs (none while defined or failed). */
export async function scopedRouters(routers: VirtualRouters, scope: Scope): Promise<{ info: RouterInfoT; graph?: RunningGraph }[]> {
  const graphs = new Map(routers.runtime.allGraphs().map((g) => [g.name, g]));
  const list = (await routers.perform('vr.list', {})) as RouterInfoT[];
  return list.filter((r) => visible(scope, r.tenant)).map((info) => ({ info, graph: graphs.get(info.name) }));
}

const LABELS = ['router', 'tenant'] as const;
const ELEMENT = [...LABELS, 'element', 'class'] as const;

/** One scrape: a fresh registry filled from the counters as they are now. */
export async function scrape(routers: VirtualRouters, scope: Scope): Promise<{ contentType: string; text: string }> {
  const registry = new Registry();
  const registers = [registry];
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) => new Counter<L>({ name, help, labelNames, registers });
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) => new Gauge<L>({ name, help, labelNames, registers });

  const state = gauge('pktgraph_router_state', 'virtual router state: 1 for its current state (defined, running, stopped, failed)', [...LABELS, 'state']);
  const elements = gauge('pktgraph_router_elements', 'elements in the router graph', LABELS);
  const cpu = counter('pktgraph_router_cpu_seconds_total', "CPU time the router's elements took, seconds, while profiling is on for it (`pktgraph profile`); absent otherwise", LABELS);
  const rPackets = counter('pktgraph_router_source_packets_total', "packets the router's sources emitted or received (elements without inputs)", LABELS);
  const rDrops = counter('pktgraph_router_drops_total', "packets the router's elements dropped, all reasons", LABELS);
  const packets = counter('pktgraph_element_packets_total', "packets an element handled (its 'packets' counter)", ELEMENT);
  const bytes = counter('pktgraph_element_bytes_total', "bytes an element handled (its 'bytes' counter)", ELEMENT);
  const drops = counter('pktgraph_element_drops_total', 'packets an element dropped, by reason (its drops, drops_<reason> and <reason>_drops counters)', [...ELEMENT, 'reason']);
  const other = counter('pktgraph_element_counter_total', "an element's other counters, by name", [...ELEMENT, 'counter']);
  const queue = gauge('pktgraph_queue_length', 'packets in a queue now', ELEMENT);
  const portUp = gauge('pktgraph_port_up', "1 when the router's port (device element) has its link up, 0 when down or missing", [...ELEMENT, 'device', 'state']);
  const portPackets = counter('pktgraph_port_packets_total', 'frames through a port, by direction (rx: from the device)', [...ELEMENT, 'device', 'direction']);
  const portBytes = counter('pktgraph_port_bytes_total', 'bytes through a port, by direction', [...ELEMENT, 'device', 'direction']);

  for (const { info, graph } of await scopedRouters(routers, scope)) {
    const base = { router: info.name, tenant: info.tenant ?? '' };
    state.set({ ...base, state: info.state }, 1);
    elements.set(base, info.elements);
    if (!graph) continue;
    let sources = 0;
    let dropped = 0;
    for (const e of graph.plan.elements) {
      const labels = { ...base, element: e.name, class: e.class };
      const values = graph.counters(e.name);
      for (const [name, v] of Object.entries(values)) {
        const n = Number(v);
        if (name === 'packets') packets.inc(labels, n);
        else if (name === 'bytes') bytes.inc(labels, n);
        else if (isDropCounter(name)) {
          drops.inc({ ...labels, reason: dropReason(name) }, n);
          dropped += n;
        } else other.inc({ ...labels, counter: name }, n);
      }
      if (e.inputs.length === 0) sources += Number(values.packets ?? values.rx_packets ?? 0n);
      if (hasLength(e.class)) queue.set(labels, Number(graph.read(e.name, 'length')));
      const port = portOf(e.class);
      if (port) {
        const device = String(e.config.device);
        const link = port.state ? graph.read(e.name, 'state') : 'up';
        portUp.set({ ...labels, device, state: link }, link === 'up' ? 1 : 0);
        for (const [direction, pair] of [['rx', port.rx], ['tx', port.tx]] as const)
          if (pair) {
            portPackets.inc({ ...labels, device, direction }, Number(values[pair[0]] ?? 0n));
            portBytes.inc({ ...labels, device, direction }, Number(values[pair[1]] ?? 0n));
          }
      }
    }
    rPackets.inc(base, sources);
    rDrops.inc(base, dropped);
    if (graph.isProfiling()) cpu.inc(base, graph.profile().selfNs / 1e9);
  }

  if ('all' in scope) {
    // The engine's own series: shared by every tenant, so an admin's only.
    const runtime = routers.runtime;
    const worker = counter('pktgraph_worker_cpu_seconds_total', "a worker thread's CPU time, seconds", ['worker']);
    const busy = counter('pktgraph_worker_busy_rounds_total', 'worker rounds that moved packets', ['worker']);
    const rounds = counter('pktgraph_worker_rounds_total', 'worker rounds', ['worker']);
    for (const [i, w] of runtime.workerStats().entries()) {
      worker.inc({ worker: String(i) }, w.cpuNs / 1e9);
      rounds.inc({ worker: String(i) }, w.rounds);
      busy.inc({ worker: String(i) }, w.busyRounds);
    }
    const pool = gauge('pktgraph_pool_buffers', 'packet buffers in the pool, by state (capacity, available)', ['state']);
    const p = runtime.poolStats();
    pool.set({ state: 'capacity' }, p.capacity);
    pool.set({ state: 'available' }, p.available);
    counter('pktgraph_pool_alloc_failures_total', 'packet allocations refused because the pool was empty', []).inc(p.allocFailures);
  }
  return { contentType: registry.contentType, text: await registry.metrics() };
}
