// Ports shared by virtual routers, for the operations layer (routers.ts). A port is an
// interface the engine opens once, in a system graph of its own (loaded as `port.NAME`, a name
// no router can take): FromDevice (or Tap) -> PortDemux on ingress, HTBSched -> ToDevice (or
// the same Tap) on egress. Routers attach with FromPort (a claim: VLAN and/or MACs) and ToPort
// (a bandwidth share: one HTBSched class per router, named after it, under the class `link`).
// Claims and shares are checked here against the other routers first, so a refusal is one
// sentence and changes nothing; the native side (native/port_hub.h, HTBSched) checks again.
import type { Plan, PlanElement } from '../compiler/plan.js';
import type { Runtime, RunningGraph } from '../runtime/runtime.js';
import type { OperationAnswer, OperationRequest, PortInfoT, PortShareT } from './api.js';

export const DEFAULT_PORT_RATE = 1e10;
const LINK_CLASS = 'link';
/** The port's link class saves up to 20 ms of its rate (HTBSched's default is 1 ms): a worker kept off its CPU for a few ms would lose the link's capacity otherwise. */
const LINK_BURST_SECONDS = 0.02;

interface Port {
  name: string;
  device: string;
  kind: 'device' | 'tap';
  rate: number;
  graph: RunningGraph;
}

/** What a router's plan claims on ports: FromPort claims and ToPort shares, by port. */
export interface PortUse {
  element: string;
  port: string;
  kind: 'FromPort' | 'ToPort';
  vlan: number;
  macs: string[];
  share?: PortShareT;
}

const mac = (v: unknown) => (Array.isArray(v) ? v.map((b: number) => b.toString(16).padStart(2, '0')).join(':') : String(v).toLowerCase());
const segment = (vlan: number) => (vlan ? `VLAN ${vlan}` : 'the untagged segment');
export const bits = (n: number) => (n >= 1e9 && n % 1e6 === 0 ? `${n / 1e9}Gbit` : n >= 1e6 && n % 1e3 === 0 ? `${n / 1e6}Mbit` : `${n}bit`);
/** A share's rate in its unit: 10Mbit, or 5000 packets/s. */
export const shareRate = (n: number, unit: PortShareT['unit']) => (unit === 'packets' ? `${n} packets/s` : bits(n));
/**
 * The bits/s a guarantee in packets/s may take of a port's rate: full-size frames (1518 bytes
 * and an 802.1Q tag), so guarantees in either unit that fit the port's rate can all be kept.
 */
export const PACKET_GUARANTEE_BITS = 1522 * 8;
const guaranteeBits = (s: PortShareT) => (s.unit === 'packets' ? s.guarantee * PACKET_GUARANTEE_BITS : s.guarantee);

/** The ports a plan's FromPort and ToPort elements use, with their claims and shares. */
export function portUses(plan: Plan): PortUse[] {
  const out: PortUse[] = [];
  for (const e of plan.elements as PlanElement[]) {
    if (e.class !== 'FromPort' && e.class !== 'ToPort') continue;
    const c = e.config as { port: string; vlan?: number; macs?: unknown[]; unit?: PortShareT['unit']; guarantee?: number; limit?: number; weight?: number };
    out.push({
      element: e.name,
      port: c.port,
      kind: e.class,
      vlan: c.vlan ?? 0,
      macs: (c.macs ?? []).map(mac),
      ...(e.class === 'ToPort' ? { share: { unit: c.unit ?? 'bits', guarantee: c.guarantee ?? 0, limit: c.limit ?? 0, weight: c.weight ?? 1 } } : {}),
    });
  }
  return out;
}

export class Ports {
  private readonly ports = new Map<string, Port>();
  /** Live shares set by vr.share, by router then port: they win over the graph's ToPort fields. */
  private readonly shares = new Map<string, Map<string, PortShareT>>();
  /** Routers left attached to a port a forced port.del closed, by router: the ports' names. Their claims hold nothing on a port opened again under the name. */
  private readonly detached = new Map<string, Set<string>>();

  private isDetached(router: string, port: string): boolean {
    return this.detached.get(router)?.has(port) ?? false;
  }

  /** The loaded routers (by their plans) attached to port `name`, the detached ones left out. */
  users(name: string, loaded: Map<string, Plan>): string[] {
    return [...loaded].filter(([r, plan]) => !this.isDetached(r, name) && portUses(plan).some((u) => u.port === name)).map(([r]) => r).sort();
  }

  constructor(private readonly runtime: Runtime) {}

  has(name: string): boolean {
    return this.ports.has(name);
  }

  private port(name: string, fail: (msg: string) => Error): Port {
    const p = this.ports.get(name);
    if (!p) {
      const known = [...this.ports.keys()];
      throw fail(`there is no port named '${name}'; ${known.length ? `there are: ${known.join(', ')}` : 'there are none'} (add one with \`pktgraph port add ${name} DEVICE\`)`);
    }
    return p;
  }

  async add(req: OperationRequest<'port.add'>, fail: (msg: string) => Error): Promise<PortInfoT> {
    if (this.ports.has(req.name)) throw fail(`the name '${req.name}' is taken by another port; choose another or delete that one first`);
    const kind = req.tap ? 'tap' : 'device';
    const rate = req.rate ?? DEFAULT_PORT_RATE;
    const { FromDevice, ToDevice, Tap, PortDemux, HTBSched, Unqueue, Idle } = await import('../../elements/index.js');
    const { graph } = await import('../graph/graph.js');
    const { compile } = await import('../compiler/compile.js');
    const def = graph({ name: `port.${req.name}` }, () => {
      const demux = PortDemux({ port: req.name, scheduler: 'sched', link: LINK_CLASS }, 'demux');
      // ToPort pushes into the scheduler from the routers' graphs; Idle only fills its input.
      const burst = Math.min(1073741824, Math.max(3028, Math.ceil((rate / 8) * LINK_BURST_SECONDS)));
      const sched = Idle({}, 'routers').to(HTBSched({ key: 'table_id', classes: [{ name: LINK_CLASS, parent: 'root', rate, burst, cburst: burst }] }, 'sched'));
      if (kind === 'tap') {
        const tap = Tap({ device: req.device }, 'dev');
        sched.to(Unqueue({}, 'tx')).to(tap);
        tap.to(demux);
      } else {
        FromDevice({ device: req.device, promisc: true }, 'rx').to(demux);
        sched.to(ToDevice({ device: req.device }, 'tx'));
      }
    });
    let g: RunningGraph;
    try {
      g = this.runtime.load(compile(def));
    } catch (err) {
      throw fail(`port '${req.name}' could not be opened on ${kind === 'tap' ? 'TAP device' : 'device'} '${req.device}': ${(err as Error).message}`);
    }
    this.ports.set(req.name, { name: req.name, device: req.device, kind, rate, graph: g });
    return this.info(this.ports.get(req.name)!, new Map());
  }

  /**
   * `users`: the loaded routers attached to the port (by their plans). With `force` it closes
   * anyway: the native side (native/port_hub.h) detaches them safely, their frames to the port
   * dropped and counted (ToPort drops_port_closed) until they leave it.
   */
  del(name: string, users: string[], force: boolean, fail: (msg: string) => Error): OperationAnswer<'port.del'> {
    const p = this.port(name, fail);
    if (users.length && !force)
      throw fail(
        `port '${name}' is used by virtual router${users.length > 1 ? 's' : ''} ${users.join(', ')}; delete ${users.length > 1 ? 'them' : 'it'} (or reconfigure ${users.length > 1 ? 'them' : 'it'} off the port) first, or force it (port del --force), which leaves ${users.length > 1 ? 'them' : 'it'} detached`,
      );
    p.graph.remove();
    this.ports.delete(name);
    for (const r of users) this.detached.set(r, new Set([...(this.detached.get(r) ?? []), name]));
    return { name, detached: users };
  }

  closeAll(): void {
    for (const p of this.ports.values()) p.graph.remove();
    this.ports.clear();
  }

  /**
   * Before router `router` loads `plan`: every port it names exists, its claims collide with
   * no other loaded router's (`others`: their plans), and the guarantees on each port still fit
   * its rate. Returns the problem as one sentence, or undefined.
   */
  check(router: string, plan: Plan, others: Map<string, Plan>): string | undefined {
    const uses = portUses(plan);
    for (const u of uses) {
      if (!this.ports.has(u.port))
        return `virtual router '${router}': element '${u.element}' (${u.kind}) names port '${u.port}', which does not exist; add it with \`pktgraph port add ${u.port} DEVICE\``;
    }
    const sends = new Map<string, number>();
    for (const u of uses) {
      if (u.kind === 'ToPort') {
        if (sends.has(u.port)) return `virtual router '${router}': elements '${sends.get(u.port)}' and '${u.element}' both send on port '${u.port}'; one ToPort per port (the router's share is one class)`;
        sends.set(u.port, 0);
        continue;
      }
      for (const [other, op] of others) {
        if (other === router || this.isDetached(other, u.port)) continue;
        for (const o of portUses(op)) {
          if (o.kind !== 'FromPort' || o.port !== u.port || o.vlan !== u.vlan) continue;
          if (!u.macs.length && !o.macs.length)
            return `${u.vlan ? `VLAN ${u.vlan}` : 'The untagged segment'} on port ${u.port} is claimed by router ${other}; choose another VLAN, or give each router its own MAC addresses`;
          const both = u.macs.find((m) => o.macs.includes(m));
          if (both) return `MAC ${both} on ${segment(u.vlan)} of port ${u.port} is claimed by router ${other}; give the router another address`;
        }
      }
    }
    for (const u of uses) {
      if (u.kind !== 'ToPort') continue;
      const share = this.shareOf(router, u);
      const sum = this.guaranteed(u.port, others, router) + guaranteeBits(share);
      const rate = this.ports.get(u.port)!.rate;
      if (sum > rate)
        return `virtual router '${router}': its guarantee of ${shareRate(share.guarantee, share.unit)} on port ${u.port} would bring the port's guarantees to ${bits(sum)}${share.unit === 'packets' ? ' (packets/s counted at full-size frames)' : ''}, above its rate of ${bits(rate)}; lower a guarantee`;
    }
    return undefined;
  }

  private shareOf(router: string, u: PortUse): PortShareT {
    return this.shares.get(router)?.get(u.port) ?? u.share!;
  }

  /** The guarantees on a port of the loaded routers (but `except`), bits/s (packets/s at full-size frames). */
  private guaranteed(port: string, loaded: Map<string, Plan>, except: string): number {
    let sum = 0;
    for (const [r, plan] of loaded) {
      if (r === except || this.isDetached(r, port)) continue;
      for (const u of portUses(plan)) if (u.kind === 'ToPort' && u.port === port) sum += guaranteeBits(this.shareOf(r, u));
    }
    return sum;
  }

  /** After a router's graph loaded: apply the live shares vr.share set before (its ToPort made the class from its fields). */
  applyShares(router: string, plan: Plan, graph: RunningGraph): void {
    for (const [port, share] of this.shares.get(router) ?? []) {
      const u = portUses(plan).find((x) => x.kind === 'ToPort' && x.port === port);
      // Checked when vr.share set them (and the guarantees again before this load): a refusal
      // here (the class changed by hand) keeps the graph's own share.
      if (u)
        try {
          graph.write(u.element, 'share', JSON.stringify(share));
        } catch {}
    }
  }

  /** The live shares vr.share set for a router, by port (for vr.save, vr.clone and the state directory). */
  sharesOf(router: string): ({ port: string } & PortShareT)[] {
    return [...(this.shares.get(router) ?? [])].map(([port, s]) => ({ port, ...s }));
  }

  /** A new router (restored, cloned or recovered) takes these live shares (checked like any when it loads). */
  setShares(router: string, shares: ({ port: string } & PortShareT)[]): void {
    if (!shares.length) return void this.shares.delete(router);
    this.shares.set(router, new Map(shares.map(({ port, ...s }) => [port, s])));
  }

  /** A router was deleted: its live shares go with it. */
  forget(router: string): void {
    this.shares.delete(router);
    this.detached.delete(router);
  }

  /** A router's graph was loaded or replaced: its FromPort and ToPort attached to the ports open now. */
  attached(router: string): void {
    this.detached.delete(router);
  }

  /** vr.share: `plan` is the router's, `graph` its graph when it is in the engine, `others` the loaded routers' plans. */
  share(req: OperationRequest<'vr.share'>, plan: Plan, graph: RunningGraph | undefined, others: Map<string, Plan>, fail: (msg: string) => Error): OperationAnswer<'vr.share'> {
    const p = this.port(req.port, fail);
    const u = portUses(plan).find((x) => x.kind === 'ToPort' && x.port === req.port);
    if (!u) throw fail(`virtual router '${req.name}' does not send on port '${req.port}' (its graph has no ToPort naming it), so it has no share there`);
    const cur = this.shareOf(req.name, u);
    const next: PortShareT = { unit: req.unit ?? cur.unit, guarantee: req.guarantee ?? cur.guarantee, limit: req.limit ?? cur.limit, weight: req.weight ?? cur.weight };
    // A rate kept in the old unit would change its meaning: 10e6 bit/s is not 10e6 packets/s.
    const kept = next.unit !== cur.unit ? (['guarantee', 'limit'] as const).filter((k) => cur[k] && req[k] === undefined) : [];
    if (kept.length)
      throw fail(
        `vr.share: the share of router '${req.name}' on port ${req.port} is in ${cur.unit === 'packets' ? 'packets/s' : 'bits/s'}; to change it to ${next.unit === 'packets' ? 'packets/s' : 'bits/s'} give the ${kept.join(' and the ')} in the new unit too (0 for none)`,
      );
    if (next.limit && next.limit < next.guarantee)
      throw fail(`vr.share: the limit ${shareRate(next.limit, next.unit)} is below the guarantee ${shareRate(next.guarantee, next.unit)} for router '${req.name}' on port ${req.port}; a limit must be at least the guarantee`);
    if (graph) {
      const sum = this.guaranteed(req.port, others, req.name) + guaranteeBits(next);
      if (sum > p.rate)
        throw fail(
          `vr.share: a guarantee of ${shareRate(next.guarantee, next.unit)} for router '${req.name}' would bring port ${req.port}'s guarantees to ${bits(sum)}${next.unit === 'packets' ? ' (packets/s counted at full-size frames)' : ''}, above its rate of ${bits(p.rate)}; lower a guarantee`,
        );
      try {
        graph.write(u.element, 'share', JSON.stringify(next)); // ToPort changes its class
      } catch (err) {
        throw fail(`vr.share: port ${req.port} refused the share of router '${req.name}': ${(err as Error).message}`);
      }
    }
    if (!this.shares.has(req.name)) this.shares.set(req.name, new Map());
    this.shares.get(req.name)!.set(req.port, next);
    return { name: req.name, port: req.port, ...next };
  }

  list(loaded: Map<string, Plan>): PortInfoT[] {
    return [...this.ports.values()].map((p) => this.info(p, loaded));
  }

  private info(p: Port, loaded: Map<string, Plan>): PortInfoT {
    const g = p.graph;
    const d = g.counters('demux');
    const num = (v: bigint | undefined) => Number(v ?? 0n);
    const rings = new Map<string, { used: number; capacity: number; full: number; vlan: number; macs: string[] }>();
    for (const line of g.read('demux', 'attachments').split('\n')) {
      const m = /^(\S+) vlan=(\d+) macs=(\S+) element=\S+ ring=(\d+)\/(\d+) ring_full=(\d+)$/.exec(line);
      if (m) rings.set(m[1], { vlan: Number(m[2]), macs: m[3] === '-' ? [] : m[3].split(','), used: Number(m[4]), capacity: Number(m[5]), full: Number(m[6]) });
    }
    const classes = new Map<string, Record<string, string>>();
    for (const line of g.read('sched', 'classes').split('\n')) {
      const [name, ...kv] = line.split(' ');
      if (name && name !== LINK_CLASS) classes.set(name, Object.fromEntries(kv.filter((x) => x.includes('=')).map((x) => x.split('=') as [string, string])));
    }
    const routers = [...new Set([...rings.keys(), ...classes.keys()])];
    const attachments = routers.map((router) => {
      const r = rings.get(router);
      const c = classes.get(router);
      const plan = loaded.get(router);
      const u = plan && portUses(plan).find((x) => x.kind === 'ToPort' && x.port === p.name);
      const share = c && (u ? this.shareOf(router, u) : { unit: c.unit === 'packets' ? ('packets' as const) : ('bits' as const), guarantee: Number(c.rate), limit: Number(c.ceil), weight: Number(c.weight) });
      return {
        router,
        vlan: r ? r.vlan : null,
        macs: r ? r.macs : [],
        ring: r ? { used: r.used, capacity: r.capacity, full: r.full } : null,
        share: c && share ? { ...share, sent: { packets: Number(c.packets), bytes: Number(c.bytes) }, backlog: Number(c.backlog), drops: Number(c.drops) } : null,
      };
    });
    const txName = p.kind === 'tap' ? 'sched' : 'tx';
    return {
      name: p.name,
      device: p.device,
      kind: p.kind,
      rate: p.rate,
      attachments,
      counters: {
        received: num(d.frames),
        delivered: num(d.delivered),
        sent: num(g.counters(txName).packets),
        unclaimed: { vlan: num(d.drops_unclaimed_vlan), mac: num(d.drops_unclaimed_mac), short: num(d.drops_short) },
        ringFull: num(d.drops_ring_full),
      },
    };
  }
}
