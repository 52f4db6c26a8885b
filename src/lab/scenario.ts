// A lab scenario built on this host (docs/scenarios.md): nets are bridges in the root namespace
// (or, for a point-to-point net with impairments, a virtual router `link-NET` of the lab's
// engine with a LinkEmulator per direction); hosts and Linux routers are namespaces whose
// interfaces are veth pairs, the root end on the net; pktgraph routers are virtual routers
// (ipRouter, or a graph file) of a `pktgraph serve` engine the lab starts, one per lab, opening
// the root ends of their own veth pairs. A switch net is a virtual router `net-NET` of the same
// engine (configs/scenarios/switch.ts: a VLANSwitch on the nodes' root ends, with a DHCP server, a
// NAT gateway onto an uplink net or a bridged host interface); interfaces with `dhcp` get their
// address from busybox's udhcpc, run in the namespace once the switch stands.
//
// Every kernel object is named pg-ID-...: namespaces pg-ID-NODE, root interfaces pg-ID- and 5
// characters of a hash of what they are (names stay stable when nodes or nets are added or
// removed, and fit in 15 characters). Each node is built whole or not at all (a node that fails
// half-way is removed again), so `create` run again finishes what an earlier one left, and
// `destroy` needs nothing but the id: it stops the engine at its known socket and sweeps pg-ID-*.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, openSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { Engine } from '../service/client.js';
import { packageRoot } from '../runtime/native.js';
import { labObjects, removeNamespace, sweep, LabError, LAB_PREFIX } from './lab.js';
import { IMPAIRMENT_FIELDS, switchLayout, type ImpairmentT, type NetT, type NodeT, type ScenarioT } from './scenario-schema.js';

export const labStateDir = () => join(tmpdir(), 'pktgraph-labs');

/** What create, reboot and modify did, for the report. */
export interface Changes {
  made: string[];
  kept: string[];
  removed: string[];
}

const hash5 = (s: string) => createHash('sha1').update(s).digest('hex').slice(0, 5);
/** A locally administered MAC address that depends only on the lab, node and interface: a rebuilt node keeps its MACs, so its neighbours' ARP and ND caches stay right. */
const stableMac = (s: string) => `02:${createHash('sha1').update(s).digest('hex').slice(0, 10).match(/../g)!.join(':')}`;

export class ScenarioLab {
  readonly prefix: string;
  /** The scenario file's directory (graph files are relative to it). */
  constructor(
    public scenario: ScenarioT,
    readonly dir: string,
  ) {
    this.prefix = `${LAB_PREFIX}${scenario.name}-`;
  }
  get id() {
    return this.scenario.name;
  }
  get socket() {
    return join(labStateDir(), `${this.id}.sock`);
  }
  netns(node: string) {
    return `${this.prefix}${node}`;
  }
  /** Root end of a node's interface j (on the net). */
  outer(node: string, j: number) {
    return `${this.prefix}${hash5(`i:${node}/${j}`)}`;
  }
  /** The engine's end of a pktgraph router's interface j (in the root namespace). */
  engineEnd(node: string, j: number) {
    return `${this.prefix}${hash5(`e:${node}/${j}`)}`;
  }
  bridge(net: string) {
    return `${this.prefix}${hash5(`n:${net}`)}`;
  }
  inner(n: NodeT, j: number) {
    return n.interfaces[j].name ?? `eth${j}`;
  }
  /** The lab's end (on the uplink net) and the engine's end of a NAT net's uplink veth pair. */
  uplinkOuter(net: string) {
    return `${this.prefix}${hash5(`u:${net}`)}`;
  }
  uplinkEnd(net: string) {
    return `${this.prefix}${hash5(`U:${net}`)}`;
  }
  private mac(n: NodeT, j: number) {
    return n.interfaces[j].mac ?? stableMac(`${this.prefix}${n.name}/${j}`);
  }
  private needsEngine(s = this.scenario) {
    return s.nodes.some((n) => n.type === 'pktgraph-router') || s.nets.some((n) => n.impair || n.type === 'switch');
  }
  private isEmulated(net: NetT) {
    return net.type === 'p2p' && net.impair !== undefined;
  }
  /** Nets the engine carries (emulated links and switches): the nodes' root ends are its devices, on no bridge. */
  private inEngine(net: NetT) {
    return this.isEmulated(net) || net.type === 'switch';
  }
  /** The two (node, interface) ends of a net, in node order. */
  ends(net: string, s = this.scenario): [NodeT, number][] {
    const out: [NodeT, number][] = [];
    for (const n of s.nodes) n.interfaces.forEach((x, j) => x.net === net && out.push([n, j]));
    return out;
  }

  // ---- the engine ----

  private engine(): Engine {
    return new Engine(this.socket, 60_000);
  }
  private async engineUp(): Promise<boolean> {
    if (!existsSync(this.socket)) return false;
    try {
      await this.engine().status();
      return true;
    } catch {
      return false;
    }
  }
  private async startEngine(ch: Changes) {
    if (await this.engineUp()) return ch.kept.push(`engine ${this.socket}`);
    mkdirSync(labStateDir(), { recursive: true, mode: 0o700 });
    const log = openSync(join(labStateDir(), `${this.id}.engine.log`), 'w');
    const child = spawn(process.execPath, [join(packageRoot(), 'bin', 'pktgraph.js'), 'serve', '--control', this.socket, '--threads', String(this.scenario.settings?.threads ?? 1)], {
      detached: true,
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    child.unref();
    for (let i = 0; i < 200; i++) {
      if (child.exitCode !== null) break;
      if (await this.engineUp()) return ch.made.push(`engine ${this.socket} (pid ${child.pid})`);
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new LabError(`the lab's engine did not start (see ${join(labStateDir(), `${this.id}.engine.log`)})`);
  }

  // ---- create ----

  /** Build what is missing (idempotent). Throws on the first failure, leaving whole nodes only. */
  async create(): Promise<Changes> {
    const ch: Changes = { made: [], kept: [], removed: [] };
    const have = labObjects(this.prefix);
    const ns = new Set(have.namespaces);
    const ifs = new Set(have.interfaces);
    if (this.needsEngine()) await this.startEngine(ch);
    const vrs = this.needsEngine() ? new Map((await this.engine().listRouters()).map((r) => [r.name, r.state])) : new Map<string, string>();
    for (const net of this.scenario.nets) if (!this.inEngine(net)) this.buildBridge(net, ifs, ch);
    for (const node of this.scenario.nodes) {
      if (node.type === 'pktgraph-router') await this.buildRouter(node, ifs, vrs, ch);
      else if (ns.has(this.netns(node.name))) ch.kept.push(`node ${node.name}`);
      else this.buildNamespaceNode(node, ch);
    }
    for (const net of this.scenario.nets) if (this.isEmulated(net)) await this.buildEmulatedNet(net, vrs, ch);
    for (const net of this.scenario.nets) if (net.type === 'switch') await this.buildSwitchNet(net, ifs, vrs, ch);
    for (const node of this.scenario.nodes) node.interfaces.forEach((x, j) => x.dhcp && this.dhcpClient(node, j, ch));
    return ch;
  }

  private buildBridge(net: NetT, ifs: Set<string>, ch: Changes) {
    const br = this.bridge(net.name);
    if (ifs.has(br)) return ch.kept.push(`net ${net.name}`);
    // No IPv6 link-local address on the bridge: the root stack sends nothing into the lab.
    ipBatch(undefined, [`link add ${br} type bridge forward_delay 0`, `link set ${br} addrgenmode none`, `link set ${br} up`], `net '${net.name}'`);
    ch.made.push(`net ${net.name} (bridge ${br})`);
  }

  /** The root-namespace lines that put an interface's root end on its net. */
  private attach(net: string, end: string): string[] {
    const n = this.scenario.nets.find((x) => x.name === net)!;
    return [`link set ${end} addrgenmode none`, ...(this.inEngine(n) ? [] : [`link set ${end} master ${this.bridge(net)}`]), `link set ${end} up`];
  }

  private buildNamespaceNode(node: NodeT, ch: Changes) {
    const ns = this.netns(node.name);
    const what = `node '${node.name}'`;
    try {
      const root = [`netns add ${ns}`];
      node.interfaces.forEach((x, j) => root.push(`link add ${this.outer(node.name, j)} type veth peer name ${this.inner(node, j)} address ${this.mac(node, j)} netns ${ns}`, ...this.attach(x.net, this.outer(node.name, j))));
      ipBatch(undefined, root, what);
      const sysctls = ['net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0'];
      if (node.type === 'linux-router') sysctls.push('net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1');
      const offloads = this.scenario.settings?.offloads ? [] : node.interfaces.map((_, j) => `ethtool -K ${this.inner(node, j)} rx off tx off tso off gso off gro off >/dev/null 2>&1`);
      run('ip', ['netns', 'exec', ns, 'sh', '-c', [`sysctl -qw ${sysctls.join(' ')}`, ...offloads].join('; ')], what);
      const inside = ['link set lo up'];
      node.interfaces.forEach((x, j) => {
        for (const a of x.addresses ?? []) inside.push(`addr add ${a} dev ${this.inner(node, j)}${a.includes(':') ? ' nodad' : ''}`);
        inside.push(`link set ${this.inner(node, j)} up`);
      });
      // Batch lines take no -4/-6: a default route is spelt as its prefix.
      for (const r of node.routes ?? []) inside.push(`route add ${r.to === 'default6' ? '::/0' : r.to === 'default' ? '0.0.0.0/0' : r.to} via ${r.via}`);
      ipBatch(ns, inside, what);
      ch.made.push(`node ${node.name} (${node.type}, namespace ${ns})`);
    } catch (e) {
      this.removeNamespaceNode(node);
      throw e;
    }
  }

  private removeNamespaceNode(node: NodeT) {
    removeNamespace(this.netns(node.name));
    for (let j = 0; j < node.interfaces.length; j++) delLink(this.outer(node.name, j));
  }

  private routerSource(node: NodeT) {
    const devs = Object.fromEntries(node.interfaces.map((_, j) => [`dev${j}`, this.engineEnd(node.name, j)]));
    if (node.graph) return { file: isAbsolute(node.graph.file) ? node.graph.file : resolve(this.dir, node.graph.file), params: { ...devs, ...(node.graph.params ?? {}) } };
    const interfaces = node.interfaces.map((x, j) => {
      const a = x.addresses ?? [];
      return { device: this.engineEnd(node.name, j), name: `if${j}`, ...pick(a.find((v) => !v.includes(':')), 'ipv4'), ...pick(a.find((v) => v.includes(':')), 'ipv6') };
    });
    const routes = (node.routes ?? []).map((r) => `${r.to === 'default6' ? 'default' : r.to} via ${r.via}`);
    return { recipe: 'ipRouter' as const, description: { interfaces, routes } };
  }

  private async buildRouter(node: NodeT, ifs: Set<string>, vrs: Map<string, string>, ch: Changes) {
    const state = vrs.get(node.name);
    if (state === 'running') return ch.kept.push(`node ${node.name}`);
    const what = `node '${node.name}'`;
    try {
      if (state !== undefined) await this.engine().deleteRouter(node.name);
      const lines: string[] = [];
      node.interfaces.forEach((x, j) => {
        const e = this.engineEnd(node.name, j);
        const o = this.outer(node.name, j);
        if (!ifs.has(o)) lines.push(`link add ${o} type veth peer name ${e} address ${this.mac(node, j)}`);
        lines.push(`link set ${e} addrgenmode none`, `link set ${e} up`, ...this.attach(x.net, o));
      });
      ipBatch(undefined, lines, what);
      if (!this.scenario.settings?.offloads) for (let j = 0; j < node.interfaces.length; j++) offloadsOff(this.engineEnd(node.name, j));
      const vr = await this.engine().createRouter(node.name, this.routerSource(node) as never, { start: true });
      if (vr.state !== 'running') throw new LabError(`${what}: its virtual router is ${vr.state}: ${vr.error ?? ''}`);
      ch.made.push(`node ${node.name} (pktgraph-router, virtual router ${node.name})`);
    } catch (e) {
      await this.removeRouter(node);
      throw e instanceof Error && !(e instanceof LabError) ? new LabError(`${what}: ${e.message}`) : e;
    }
  }

  private async removeRouter(node: NodeT) {
    try {
      await this.engine().deleteRouter(node.name);
    } catch {}
    for (let j = 0; j < node.interfaces.length; j++) delLink(this.outer(node.name, j));
  }

  private linkSource(net: NetT) {
    const [[na, ja], [nb, jb]] = this.ends(net.name);
    return { file: join(packageRoot(), 'configs', 'scenarios', 'link.ts'), params: { a: this.outer(na.name, ja), b: this.outer(nb.name, jb), ab: JSON.stringify(net.impair?.ab ?? {}), ba: JSON.stringify(net.impair?.ba ?? {}) } };
  }

  private async buildEmulatedNet(net: NetT, vrs: Map<string, string>, ch: Changes) {
    const name = `link-${net.name}`;
    if (vrs.get(name) === 'running') return ch.kept.push(`net ${net.name}`);
    if (vrs.has(name)) await this.engine().deleteRouter(name);
    const vr = await this.engine().createRouter(name, this.linkSource(net), { start: true });
    if (vr.state !== 'running') throw new LabError(`net '${net.name}': its emulated link is ${vr.state}: ${vr.error ?? ''}`);
    ch.made.push(`net ${net.name} (emulated link, virtual router ${name})`);
  }

  /** A switch net's engine params (configs/scenarios/switch.ts). */
  private switchSource(net: NetT) {
    const l = switchLayout(this.scenario, net);
    const mac = (what: string) => stableMac(`${this.prefix}${net.name}/${what}`);
    const ip = (cidr: string) => cidr.split('/');
    const nat = () => {
      const [inAddr, inPrefix] = ip(net.gateway!);
      const [outAddr, outPrefix] = ip(net.uplink!.address);
      return { inDev: '', inAddr, inPrefix: Number(inPrefix), inMac: mac('gw-in'), outDev: this.uplinkEnd(net.name), outAddr, outPrefix: Number(outPrefix), outMac: mac('gw-out'), upstream: net.uplink!.via ?? '', forward: '' };
    };
    const params = {
      devices: JSON.stringify(l.ends.map(([n, j]) => this.outer(n.name, j))),
      ports: JSON.stringify(l.config.ports),
      mirror: l.config.mirror ? JSON.stringify(l.config.mirror) : '',
      dhcp: l.dhcp ? JSON.stringify(l.dhcp({ mac: mac('dhcp') })) : '',
      dhcpPort: l.dhcpPort,
      nat: net.mode === 'nat' ? JSON.stringify(nat()) : '',
      natPort: l.natPort,
      bridge: net.mode === 'bridged' ? net.bridge! : '',
      bridgePort: l.bridgePort,
    };
    return { file: join(packageRoot(), 'configs', 'scenarios', 'switch.ts'), params };
  }

  private async buildSwitchNet(net: NetT, ifs: Set<string>, vrs: Map<string, string>, ch: Changes) {
    const name = `net-${net.name}`;
    const what = `net '${net.name}'`;
    if (vrs.get(name) === 'running') return ch.kept.push(`net ${net.name}`);
    if (vrs.has(name)) await this.engine().deleteRouter(name);
    if (net.mode === 'bridged' && spawnSync('ip', ['link', 'show', 'dev', net.bridge!], { stdio: 'ignore' }).status !== 0)
      throw new LabError(`${what}: mode bridged: there is no host interface '${net.bridge}' (ip link shows the host's; name one in 'bridge')`);
    if (net.mode === 'nat') {
      const [o, e] = [this.uplinkOuter(net.name), this.uplinkEnd(net.name)];
      const lines = ifs.has(o) ? [] : [`link add ${o} type veth peer name ${e} address ${stableMac(`${this.prefix}${net.name}/gw-out`)}`];
      lines.push(`link set ${e} addrgenmode none`, `link set ${e} up`, ...this.attach(net.uplink!.net, o));
      ipBatch(undefined, lines, what);
      if (!this.scenario.settings?.offloads) offloadsOff(e);
    }
    const vr = await this.engine().createRouter(name, this.switchSource(net), { start: true });
    if (vr.state !== 'running') throw new LabError(`${what}: its switch is ${vr.state}: ${vr.error ?? ''}`);
    ch.made.push(`net ${net.name} (switch${net.mode ? `, ${net.mode}` : ''}${net.dhcp ? ', DHCP' : ''}, virtual router ${name})`);
  }

  private async removeSwitchNet(net: NetT) {
    await this.engine().deleteRouter(`net-${net.name}`).catch(() => {});
    if (net.mode === 'nat') delLink(this.uplinkOuter(net.name));
  }

  /** Run udhcpc on a node's interface unless it has an IPv4 address already; returns once it has
   *  a lease (udhcpc then goes on in the background, renewing), or throws after 10 tries. */
  private dhcpClient(node: NodeT, j: number, ch: Changes) {
    const ns = this.netns(node.name);
    const ifname = this.inner(node, j);
    if (dhcpAddress(ns, ifname)) return ch.kept.push(`dhcp ${node.name} ${ifname}`);
    const logFile = join(labStateDir(), `${this.id}-${node.name}-${ifname}.dhcp.log`);
    const log = openSync(logFile, 'w');
    // Without -f udhcpc forks into the background once bound, and its parent exits: that is the wait.
    const r = spawnSync('ip', ['netns', 'exec', ns, 'udhcpc', '-i', ifname, '-s', join(packageRoot(), 'scripts', 'udhcpc-lab.sh'), '-t', '10', '-T', '1', '-A', '1', '-n', '-x', `hostname:${node.name}`], {
      stdio: ['ignore', log, log],
      timeout: 60_000,
    });
    closeSync(log);
    if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new LabError(`node '${node.name}': dhcp needs ip and udhcpc (apt-get install udhcpc; scripts/ensure-test-tools.sh)`);
    const got = dhcpAddress(ns, ifname);
    if (r.status !== 0 || !got) throw new LabError(`node '${node.name}': ${ifname} got no DHCP lease (udhcpc exit ${r.status ?? r.signal}; its log: ${logFile})`);
    ch.made.push(`dhcp ${node.name} ${ifname} ${got}`);
  }

  // ---- destroy ----

  /** Remove everything of this lab, whatever state it is in; returns what is left (nothing, unless the kernel refused). */
  async destroy(): Promise<{ routers: number; namespaces: number; interfaces: number; left: string[] }> {
    let routers = 0;
    if (await this.engineUp()) {
      const e = this.engine();
      for (const r of await e.listRouters()) {
        await e.deleteRouter(r.name);
        routers++;
      }
      const left = await e.listRouters();
      if (left.length) throw new LabError(`the lab's engine still has routers ${left.map((r) => r.name).join(', ')}`);
      await e.stop().catch(() => {});
      for (let i = 0; i < 100 && existsSync(this.socket); i++) await new Promise((r) => setTimeout(r, 50));
    }
    const removed = sweep(this.prefix);
    rmSync(join(labStateDir(), `${this.id}.engine.log`), { force: true });
    const after = labObjects(this.prefix);
    return { routers, namespaces: removed.namespaces.length, interfaces: removed.interfaces.length, left: [...after.namespaces, ...after.interfaces] };
  }

  // ---- reboot, modify ----

  /** Rebuild some nodes from scratch; their neighbours' interfaces and the nets stay as they are. */
  async reboot(names: string[]): Promise<Changes> {
    const ch: Changes = { made: [], kept: [], removed: [] };
    const nodes = names.map((m) => this.node(m));
    const nets = new Set(nodes.flatMap((n) => n.interfaces.map((x) => x.net)));
    for (const n of nodes) {
      if (n.type === 'pktgraph-router') await this.removeRouter(n);
      else this.removeNamespaceNode(n);
      ch.removed.push(`node ${n.name}`);
    }
    // An emulated net whose end was rebuilt opens the new device again.
    const emulated = this.scenario.nets.filter((x) => nets.has(x.name) && this.isEmulated(x));
    for (const x of emulated) await this.engine().deleteRouter(`link-${x.name}`).catch(() => {});
    // So does a switch net (its DHCP server starts with an empty table: clients renewing get a NAK and ask again).
    for (const x of this.scenario.nets.filter((x) => nets.has(x.name) && x.type === 'switch')) await this.engine().deleteRouter(`net-${x.name}`).catch(() => {});
    const done = await this.create();
    return { made: done.made, kept: [], removed: ch.removed };
  }

  private node0(name: string): NodeT | undefined {
    return this.scenario.nodes.find((x) => x.name === name);
  }

  node(name: string): NodeT {
    const n = this.scenario.nodes.find((x) => x.name === name);
    if (!n) throw new LabError(`lab ${this.id} has no node '${name}' (nodes: ${this.scenario.nodes.map((x) => x.name).join(', ')})`);
    return n;
  }

  /** Set one impairment of one direction of an emulated net, live; the other fields and direction keep their values. */
  async setImpairment(net: string, dir: 'ab' | 'ba', field: (typeof IMPAIRMENT_FIELDS)[number], value: number): Promise<void> {
    const n = this.scenario.nets.find((x) => x.name === net);
    if (!n) throw new LabError(`lab ${this.id} has no net '${net}'`);
    if (!this.isEmulated(n)) throw new LabError(`net '${net}' has no impairments; give it type: p2p and impair: in the scenario, then modify -f with the new file`);
    await this.engine().write(`link-${net}`, dir, field, String(value));
    n.impair![dir] = { ...(n.impair![dir] ?? {}), [field]: value } as ImpairmentT;
  }

  /** Go from this scenario to `next`, touching only what differs: removed nodes and nets go, added ones come, changed nodes are rebuilt, changed impairments are written live. */
  async apply(next: ScenarioT): Promise<Changes> {
    if (next.name !== this.id) throw new LabError(`the new scenario is named '${next.name}', not '${this.id}'; modify changes one lab`);
    const ch: Changes = { made: [], kept: [], removed: [] };
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    const nextNodes = new Map(next.nodes.map((n) => [n.name, n]));
    const nextNets = new Map(next.nets.map((n) => [n.name, n]));
    const rebuild: NodeT[] = [];
    for (const n of this.scenario.nodes) {
      const m = nextNodes.get(n.name);
      if (m && same(m, n)) continue;
      if (n.type === 'pktgraph-router') await this.removeRouter(n);
      else this.removeNamespaceNode(n);
      ch.removed.push(`node ${n.name}`);
      if (m) rebuild.push(m);
    }
    // A switch net is rebuilt with any node on it (its ports are the nodes' devices).
    const touched = new Set([...ch.removed.map((x) => x.slice('node '.length)), ...next.nodes.filter((n) => !this.node0(n.name)).map((n) => n.name)]);
    for (const net of this.scenario.nets) {
      const m = nextNets.get(net.name);
      if (net.type === 'switch') {
        const on = (s: ScenarioT, x: NetT) => s.nodes.some((n) => touched.has(n.name) && n.interfaces.some((i) => i.net === x.name));
        if (m && same(m, net) && !on(this.scenario, net) && !on(next, m)) continue;
        await this.removeSwitchNet(net);
        ch.removed.push(`net ${net.name}`);
        continue;
      }
      const live = m && this.isEmulated(net) && this.isEmulated(m) && same(this.ends(net.name).map(([n, j]) => [n.name, j]), this.ends(m.name, next).map(([n, j]) => [n.name, j]));
      if (m && same(m, net)) continue;
      if (live) {
        for (const dir of ['ab', 'ba'] as const)
          for (const f of IMPAIRMENT_FIELDS) {
            const v = m.impair?.[dir]?.[f];
            if (v !== undefined && v !== net.impair?.[dir]?.[f]) {
              await this.engine().write(`link-${net.name}`, dir, f, String(v));
              ch.made.push(`net ${net.name} ${dir}.${f}=${v}`);
            }
          }
        continue;
      }
      if (this.isEmulated(net)) await this.engine().deleteRouter(`link-${net.name}`).catch(() => {});
      else delLink(this.bridge(net.name));
      ch.removed.push(`net ${net.name}`);
    }
    this.scenario = next;
    const done = await this.create();
    ch.made.push(...done.made);
    return ch;
  }

  // ---- exec, show ----

  /** Run a node's named command sequence in its namespace (each with sh -c); stops at the first failure. */
  execSequence(node: string, name: string): { command: string; code: number; stdout: string; stderr: string }[] {
    const n = this.node(node);
    const seq = n.exec?.[name];
    if (!seq) throw new LabError(`node '${node}' has no command sequence '${name}' (it has: ${Object.keys(n.exec ?? {}).join(', ') || 'none'})`);
    const out = [];
    for (const command of seq) {
      const r = spawnSync('ip', ['netns', 'exec', this.netns(node), 'sh', '-c', command], { encoding: 'utf8', timeout: 120_000 });
      out.push({ command, code: r.status ?? 128, stdout: r.stdout ?? '', stderr: r.stderr ?? r.error?.message ?? '' });
      if (r.status !== 0) break;
    }
    return out;
  }

  /** Each node and net, and whether it stands now. */
  async status(): Promise<{
    nodes: { name: string; type: string; where: string; up: boolean; addresses: string[] }[];
    nets: { name: string; type: string; via: string; up: boolean; impair?: unknown; leases?: Lease[] }[];
    engine?: string;
  }> {
    const have = labObjects(this.prefix);
    const ns = new Set(have.namespaces);
    const ifs = new Set(have.interfaces);
    const engine = (await this.engineUp()) ? this.engine() : undefined;
    const vrs = new Map(engine ? (await engine.listRouters()).map((r) => [r.name, r.state]) : []);
    return {
      engine: engine ? this.socket : undefined,
      nodes: this.scenario.nodes.map((n) => ({
        name: n.name,
        type: n.type,
        where: n.type === 'pktgraph-router' ? `virtual router ${n.name} (${vrs.get(n.name) ?? 'absent'})` : `namespace ${this.netns(n.name)}`,
        up: n.type === 'pktgraph-router' ? vrs.get(n.name) === 'running' : ns.has(this.netns(n.name)),
        addresses: n.interfaces.flatMap((x, j) => {
          const got = x.dhcp && ns.has(this.netns(n.name)) ? dhcpAddress(this.netns(n.name), this.inner(n, j)) : undefined;
          return [...(x.dhcp ? [`${this.inner(n, j)} ${got ?? 'no lease'} (dhcp)`] : []), ...(x.addresses ?? []).map((a) => `${this.inner(n, j)} ${a}`)];
        }),
      })),
      nets: await Promise.all(
        this.scenario.nets.map(async (n) => {
          const vr = this.isEmulated(n) ? `link-${n.name}` : n.type === 'switch' ? `net-${n.name}` : undefined;
          const up = vr ? vrs.get(vr) === 'running' : ifs.has(this.bridge(n.name));
          return {
            name: n.name,
            type: n.type === 'switch' ? `switch ${n.mode ?? 'host-only'}` : (n.type ?? 'lan'),
            via: vr ? `virtual router ${vr}` : `bridge ${this.bridge(n.name)}`,
            up,
            ...(n.impair ? { impair: n.impair } : {}),
            ...(n.dhcp ? { leases: up && engine ? parseLeases(await engine.read(vr!, 'dhcp', 'leases')) : [] } : {}),
          };
        }),
      ),
    };
  }

  /** The topology as Graphviz DOT: nodes as boxes (routers) or ellipses (hosts), nets as points or diamonds. */
  dot(): string {
    const q = (s: string) => JSON.stringify(s);
    const lines = [`graph ${q(this.id)} {`, '  layout=neato; overlap=false; splines=true;'];
    for (const n of this.scenario.nodes) {
      const shape = n.type === 'host' ? 'ellipse' : n.type === 'linux-router' ? 'box' : 'box3d';
      lines.push(`  ${q(`n:${n.name}`)} [label=${q(`${n.name}\n${n.type}`)}, shape=${shape}];`);
    }
    for (const net of this.scenario.nets) {
      const label = net.impair ? `${net.name}\n${describeImpair(net)}` : net.name;
      const shape = net.type === 'p2p' ? 'diamond' : net.type === 'switch' ? 'box' : 'hexagon';
      lines.push(`  ${q(`net:${net.name}`)} [label=${q(net.type === 'switch' ? `${label}\nswitch ${net.mode ?? 'host-only'}${net.dhcp ? ', DHCP' : ''}` : label)}, shape=${shape}, style=filled, fillcolor=lightblue];`);
      if (net.mode === 'nat') lines.push(`  ${q(`net:${net.name}`)} -- ${q(`net:${net.uplink!.net}`)} [label=${q(`NAT ${net.gateway} -> ${net.uplink!.address}`)}, fontsize=9, style=dashed];`);
    }
    for (const n of this.scenario.nodes)
      n.interfaces.forEach((x, j) => lines.push(`  ${q(`n:${n.name}`)} -- ${q(`net:${x.net}`)} [label=${q([this.inner(n, j), ...(x.addresses ?? [])].join('\n'))}, fontsize=9];`));
    lines.push('}');
    return lines.join('\n') + '\n';
  }
}

/** One line of DHCPServer's leases handler. */
export interface Lease {
  ip: string;
  mac: string;
  state: string;
  /** Seconds left (none for a static binding). */
  seconds?: number;
}
const parseLeases = (text: string): Lease[] =>
  text
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length === 4)
    .map(([ip, mac, state, left]) => ({ ip, mac, state, ...(left === '-' ? {} : { seconds: Number(left) }) }));

function describeImpair(net: NetT): string {
  return (['ab', 'ba'] as const)
    .filter((d) => net.impair?.[d])
    .map((d) => `${d}: ${Object.entries(net.impair![d]!).map(([k, v]) => `${k}=${v}`).join(' ')}`)
    .join('\n');
}

const pick = (v: string | undefined, key: string) => (v === undefined ? {} : { [key]: v });

/** Run `ip [-n NS] -batch -` over lines; throws a LabError naming `what` and the failing line. */
function ipBatch(ns: string | undefined, lines: string[], what: string) {
  const r = spawnSync('ip', [...(ns ? ['-n', ns] : []), '-batch', '-'], { input: lines.join('\n') + '\n', encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new LabError(`${what}: cannot run ip: ${r.error.message}`);
  if (r.status !== 0) throw new LabError(`${what}: ${(r.stderr || r.stdout).trim().split('\n').slice(0, 2).join('; ')}`);
}

function run(cmd: string, args: string[], what: string) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.error || r.status !== 0) throw new LabError(`${what}: \`${cmd} ${args.join(' ')}\` failed: ${(r.stderr || r.error?.message || '').trim()}`);
}

function offloadsOff(ifname: string) {
  spawnSync('ethtool', ['-K', ifname, 'rx', 'off', 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off'], { stdio: 'ignore', timeout: 10_000 });
}

/** The IPv4 address (with its prefix length) on an interface in a namespace, or undefined. */
function dhcpAddress(ns: string, ifname: string): string | undefined {
  return /inet (\S+)/.exec(spawnSync('ip', ['-n', ns, '-4', '-o', 'addr', 'show', 'dev', ifname], { encoding: 'utf8', timeout: 10_000 }).stdout ?? '')?.[1];
}

function delLink(ifname: string) {
  spawnSync('ip', ['link', 'del', ifname], { stdio: 'ignore', timeout: 10_000 });
}

export const scenarioDir = (file: string) => dirname(resolve(file));
