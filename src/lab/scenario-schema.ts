// The scenario file (`pktgraph lab create -f FILE`): its schema, declared once here with
// typebox. docs/scenarios.md explains it; `pktgraph lab schema` prints the JSON Schema editors
// use (configs/scenarios/scenario.schema.json is that output). loadScenario() parses YAML,
// checks it against the schema and then the cross references (nets, nodes, addresses), and
// names the line and field of the first problem.
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { LineCounter, parseDocument, isNode } from 'yaml';
import { checkLabAddress } from './lab.js';
import { VLANSwitch, VLANSwitchPort } from '../../elements/ethernet/VLANSwitch.js';
import { DHCPServer } from '../../elements/ip/DHCPServer.js';
import { etherAddress } from '../graph/types.js';

const Name = (what: string) => Type.String({ pattern: '^[a-z][a-z0-9]{0,7}$', description: `${what}: 1 to 8 characters [a-z0-9], starting with a letter` });

/** One direction of an emulated link: LinkEmulator's fields (elements/*\/LinkEmulator.ts), each optional. */
export const Impairment = Type.Object(
  {
    rate: Type.Optional(Type.Number({ minimum: 0, maximum: 1e12, description: 'bits per second of the wire (0: no limit)' })),
    delay: Type.Optional(Type.Number({ minimum: 0, maximum: 60, description: 'one-way delay, seconds' })),
    jitter: Type.Optional(Type.Number({ minimum: 0, maximum: 60, description: 'jitter, seconds' })),
    loss: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'random loss, percent' })),
    duplicate: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'duplication, percent' })),
    reorder: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'reordering, percent' })),
  },
  { additionalProperties: false, description: 'impairments of one direction of a point-to-point net (pktgraph LinkEmulator in the engine)' },
);
export type ImpairmentT = Static<typeof Impairment>;
/** The impairment fields, in the order LinkEmulator's handlers take them. */
export const IMPAIRMENT_FIELDS = ['rate', 'delay', 'jitter', 'loss', 'duplicate', 'reorder'] as const;

/** A switch net's DHCP server: DHCPServer's config (elements/ip/DHCPServer.ts), its MAC chosen by the lab unless given. */
const { mac: dhcpMac, ...dhcpFields } = DHCPServer.descriptor.config.properties;
export const NetDhcp = Type.Object(
  { ...dhcpFields, mac: Type.Optional(dhcpMac) },
  {
    additionalProperties: false,
    description: "switch nets: a DHCP server on the net, DHCPServer's config (pktgraph elements DHCPServer: address, poolStart, poolEnd, router, dns, leaseTime, offerTime, static); mac is the lab's unless given; in mode nat, router defaults to the gateway",
  },
);

export const Net = Type.Object(
  {
    name: Name('net name'),
    type: Type.Optional(
      Type.Union([Type.Literal('lan'), Type.Literal('p2p'), Type.Literal('switch')], {
        description: "'lan' (a Linux bridge, any number of interfaces; default), 'p2p' (exactly two interfaces) or 'switch' (a VLAN-aware switch in the lab's engine: VLANs, ACLs, a mirror, DHCP, NAT)",
      }),
    ),
    impair: Type.Optional(
      Type.Object(
        { ab: Type.Optional(Impairment), ba: Type.Optional(Impairment) },
        { additionalProperties: false, description: "p2p only: 'ab' from the first attached interface (in node order) to the second, 'ba' back" },
      ),
    ),
    mode: Type.Optional(
      Type.Union([Type.Literal('host-only'), Type.Literal('nat'), Type.Literal('bridged')], {
        description: "switch nets: 'host-only' (default: nothing beyond the net), 'nat' (a gateway masquerading the net behind its address on the 'uplink' net, with IPRewriter) or 'bridged' (a port on the host interface 'bridge')",
      }),
    ),
    vlan: Type.Optional(Type.Integer({ minimum: 1, maximum: 4094, description: "switch nets: the VLAN of the net's DHCP server and NAT gateway (default 1)" })),
    gateway: Type.Optional(Type.String({ description: "mode nat: the gateway's address on the net with its prefix length ('198.18.40.1/24')" })),
    uplink: Type.Optional(
      Type.Object(
        {
          net: Name('the uplink net'),
          address: Type.String({ description: "the gateway's outside address with its prefix length: the address the net's traffic leaves with" }),
          via: Type.Optional(Type.String({ description: 'the next hop beyond the uplink net (default: none; only the uplink net is reached)' })),
        },
        { additionalProperties: false, description: "mode nat: the gateway's outside, a lan net of the scenario standing in for the host's uplink" },
      ),
    ),
    bridge: Type.Optional(Type.String({ pattern: '^[a-zA-Z0-9_.-]{1,15}$', description: 'mode bridged: the existing host interface (root namespace) the switch takes as a port' })),
    mirror: Type.Optional(
      Type.Object(
        {
          to: Name('the node whose interface on this net receives the copies'),
          from: Type.Array(Name('a node whose interface on this net is mirrored'), { minItems: 1 }),
          direction: Type.Optional(Type.Union([Type.Literal('in'), Type.Literal('out'), Type.Literal('both')], { description: "frames arriving at the switch from those nodes ('in'), leaving to them ('out') or both (default)" })),
        },
        { additionalProperties: false, description: 'switch nets: a port mirror' },
      ),
    ),
    dhcp: Type.Optional(NetDhcp),
  },
  { additionalProperties: false },
);

const Address = Type.String({ description: "an address with its prefix length ('198.18.1.1/24', 'fd00:1::1/64'), in 198.18.0.0/15 or fd00::/8" });
export const Interface = Type.Object(
  {
    net: Name('net'),
    name: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9]{0,7}$', description: 'interface name inside a namespace node (default eth0, eth1, ...)' })),
    addresses: Type.Optional(Type.Array(Address, { description: 'IPv4 and IPv6 addresses of the interface' })),
    dhcp: Type.Optional(Type.Boolean({ description: "host and linux-router: ask the net's DHCP server for an IPv4 address (and default route); the lab runs udhcpc in the namespace and waits for the lease" })),
    mac: Type.Optional(etherAddress('the MAC address (default: one derived from the lab, node and interface, stable across rebuilds)')),
    port: Type.Optional(VLANSwitchPort),
  },
  { additionalProperties: false },
);

export const Route = Type.Object(
  {
    to: Type.String({ description: "destination prefix, or 'default' (IPv4) / 'default6' (IPv6)" }),
    via: Type.String({ description: 'next hop address' }),
  },
  { additionalProperties: false },
);

export const Node = Type.Object(
  {
    name: Name('node name'),
    type: Type.Union([Type.Literal('host'), Type.Literal('linux-router'), Type.Literal('pktgraph-router')], {
      description: "'host' (a namespace), 'linux-router' (a namespace forwarding IPv4 and IPv6) or 'pktgraph-router' (a virtual router of the lab's engine)",
    }),
    interfaces: Type.Array(Interface, { minItems: 1, maxItems: 16 }),
    routes: Type.Optional(Type.Array(Route)),
    graph: Type.Optional(
      Type.Object(
        {
          file: Type.String({ description: 'graph file (relative to the scenario file); params dev0, dev1, ... name its interfaces\' devices' }),
          params: Type.Optional(Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()]))),
        },
        { additionalProperties: false, description: 'pktgraph-router: a graph file instead of the default ipRouter' },
      ),
    ),
    exec: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_-]*$' }), Type.Array(Type.String()), { description: 'named command sequences (run with a shell in a namespace node)' })),
  },
  { additionalProperties: false },
);

export const Scenario = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9]{4,6}$', description: 'the lab id, 4 to 6 characters [a-z0-9]: namespaces are pg-NAME-NODE, interfaces pg-NAME-...' }),
    description: Type.Optional(Type.String()),
    settings: Type.Optional(
      Type.Object(
        {
          threads: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, description: "worker threads of the lab's engine (default 1)" })),
          offloads: Type.Optional(Type.Boolean({ description: 'keep checksum and segmentation offloads on lab interfaces (default false)' })),
        },
        { additionalProperties: false },
      ),
    ),
    nets: Type.Array(Net),
    nodes: Type.Array(Node, { minItems: 1 }),
  },
  { additionalProperties: false, description: 'a pktgraph lab scenario (docs/scenarios.md)' },
);
export type ScenarioT = Static<typeof Scenario>;
export type NodeT = Static<typeof Node>;
export type NetT = Static<typeof Net>;

export class ScenarioError extends Error {
  override name = 'ScenarioError';
}

/** The JSON Schema of a scenario file, for editors. */
export function scenarioJsonSchema(): object {
  return { $schema: 'https://json-schema.org/draft/2020-12/schema', title: 'pktgraph lab scenario', ...JSON.parse(JSON.stringify(Scenario)) };
}

/** Parse and check a scenario (YAML, or JSON which is YAML); `file` names it in errors. Throws ScenarioError naming the line and field. */
export function loadScenario(text: string, file = 'scenario'): ScenarioT {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    const e = doc.errors[0];
    const { line } = lc.linePos(e.pos[0]);
    throw new ScenarioError(`${file}:${line}: ${e.message.split('\n')[0]}`);
  }
  const value = doc.toJS() as unknown;
  const lineOf = (path: (string | number)[]): number => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) return lc.linePos(node.range[0]).line;
    }
    return 1;
  };
  const fail = (path: (string | number)[], msg: string): never => {
    throw new ScenarioError(`${file}:${lineOf(path)}: ${path.length ? path.join('.') : '(top)'}: ${msg}`);
  };
  if (!Value.Check(Scenario, value)) {
    const e = [...Value.Errors(Scenario, value)][0];
    const path = e.instancePath.split('/').slice(1).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
    const extra = (e.params as { additionalProperties?: string[] }).additionalProperties;
    if (extra?.length) fail(path, `unknown field '${extra[0]}'`);
    // additionalProperties: false reports the field itself, against the schema `false`.
    if (e.keyword === 'boolean' || /schema is false/.test(e.message)) fail(path, `unknown field '${path[path.length - 1]}' (see docs/scenarios.md for the fields)`);
    const req = (e.params as { requiredProperties?: string[] }).requiredProperties;
    if (req?.length) fail(path, `'${req[0]}' is required`);
    fail(path, e.message);
  }
  const s = value as ScenarioT;
  checkReferences(s, fail);
  return s;
}

function checkReferences(s: ScenarioT, fail: (path: (string | number)[], msg: string) => never) {
  const nets = new Map<string, number>();
  s.nets.forEach((n, i) => {
    if (nets.has(n.name)) fail(['nets', i, 'name'], `net '${n.name}' is defined twice`);
    nets.set(n.name, 0);
    if (n.impair && n.type !== 'p2p') fail(['nets', i, 'impair'], `impairments need a point-to-point net: add type: p2p to net '${n.name}'`);
  });
  const nodes = new Set<string>();
  s.nodes.forEach((n, i) => {
    if (nodes.has(n.name)) fail(['nodes', i, 'name'], `node '${n.name}' is defined twice`);
    nodes.add(n.name);
    const ifnames = new Set<string>();
    n.interfaces.forEach((x, j) => {
      if (!nets.has(x.net)) fail(['nodes', i, 'interfaces', j, 'net'], `no net '${x.net}' (nets: ${[...nets.keys()].join(', ') || 'none'})`);
      nets.set(x.net, nets.get(x.net)! + 1);
      const ifname = x.name ?? `eth${j}`;
      if (ifnames.has(ifname)) fail(['nodes', i, 'interfaces', j, 'name'], `interface '${ifname}' twice in node '${n.name}'`);
      ifnames.add(ifname);
      (x.addresses ?? []).forEach((a, k) => {
        const why = addressProblem(a, true);
        if (why) fail(['nodes', i, 'interfaces', j, 'addresses', k], why);
      });
      if (n.type === 'pktgraph-router' && !n.graph && !(x.addresses ?? []).length)
        fail(['nodes', i, 'interfaces', j], `router '${n.name}' (ipRouter) needs an address on each interface`);
    });
    (n.routes ?? []).forEach((r, k) => {
      if (r.to !== 'default' && r.to !== 'default6') {
        const why = addressProblem(r.to, false);
        if (why) fail(['nodes', i, 'routes', k, 'to'], why);
      }
      const why = addressProblem(r.via, false);
      if (why) fail(['nodes', i, 'routes', k, 'via'], why);
    });
    if (n.graph && n.type !== 'pktgraph-router') fail(['nodes', i, 'graph'], `only a pktgraph-router has a graph (node '${n.name}' is a ${n.type})`);
    if (n.exec && n.type === 'pktgraph-router') fail(['nodes', i, 'exec'], `a pktgraph-router has no shell to run commands in; give exec to hosts and linux-routers`);
  });
  s.nets.forEach((n, i) => {
    if (n.type === 'p2p' && nets.get(n.name) !== 2) fail(['nets', i], `p2p net '${n.name}' joins ${nets.get(n.name)} interfaces; it needs exactly 2 (or make it a lan)`);
    checkSwitchNet(s, n, i, fail);
  });
  s.nodes.forEach((n, i) =>
    n.interfaces.forEach((x, j) => {
      const net = s.nets.find((m) => m.name === x.net)!;
      if (x.port && net.type !== 'switch') fail(['nodes', i, 'interfaces', j, 'port'], `a switch port needs a switch net: add type: switch to net '${net.name}'`);
      if (x.dhcp && n.type === 'pktgraph-router') fail(['nodes', i, 'interfaces', j, 'dhcp'], `a pktgraph-router takes no address by DHCP; give it addresses`);
      if (x.dhcp && !net.dhcp) fail(['nodes', i, 'interfaces', j, 'dhcp'], `net '${net.name}' has no DHCP server: give it dhcp: (and type: switch)`);
      if (x.dhcp && (x.addresses ?? []).some((a) => !a.includes(':'))) fail(['nodes', i, 'interfaces', j, 'addresses'], 'an interface with dhcp: true takes its IPv4 address from the server: give it IPv6 addresses only');
    }),
  );
}

const SWITCH_ONLY = ['mode', 'vlan', 'gateway', 'uplink', 'bridge', 'mirror', 'dhcp'] as const;

/** A switch net's fields, and its VLANSwitch and DHCPServer configs checked by the elements' own checks. */
function checkSwitchNet(s: ScenarioT, n: NetT, i: number, fail: (path: (string | number)[], msg: string) => never) {
  if (n.type !== 'switch') {
    for (const f of SWITCH_ONLY) if (n[f] !== undefined) fail(['nets', i, f], `'${f}' is for switch nets: add type: switch to net '${n.name}'`);
    return;
  }
  const mode = n.mode ?? 'host-only';
  const need: string[] = { nat: ['gateway', 'uplink'], bridged: ['bridge'], 'host-only': [] }[mode];
  for (const f of ['gateway', 'uplink', 'bridge'] as const) {
    if (need.includes(f) && n[f] === undefined) fail(['nets', i], `mode ${mode} needs '${f}'`);
    if (!need.includes(f) && n[f] !== undefined) fail(['nets', i, f], `'${f}' is for mode ${f === 'bridge' ? 'bridged' : 'nat'} (net '${n.name}' is ${mode})`);
  }
  const ipv4 = (path: (string | number)[], a: string | undefined, cidr: boolean) => {
    if (a === undefined) return;
    if (a.includes(':')) fail(path, `'${a}': NAT here is IPv4; give an IPv4 address`);
    const why = addressProblem(a, cidr);
    if (why) fail(path, why);
  };
  ipv4(['nets', i, 'gateway'], n.gateway, true);
  if (n.uplink) {
    const up = s.nets.find((m) => m.name === n.uplink!.net);
    if (!up) fail(['nets', i, 'uplink', 'net'], `no net '${n.uplink.net}' (nets: ${s.nets.map((m) => m.name).join(', ')})`);
    if ((up.type ?? 'lan') !== 'lan') fail(['nets', i, 'uplink', 'net'], `the uplink net '${up.name}' is a ${up.type}; make it a lan (a bridge the gateway's outside joins)`);
    ipv4(['nets', i, 'uplink', 'address'], n.uplink.address, true);
    ipv4(['nets', i, 'uplink', 'via'], n.uplink.via, false);
  }
  const layout = switchLayout(s, n);
  if (n.mirror) {
    for (const [k, who] of [n.mirror.to, ...n.mirror.from].entries()) {
      const at = layout.ends.filter(([node]) => node.name === who).length;
      if (at !== 1) fail(['nets', i, 'mirror', ...(k === 0 ? ['to'] : ['from', k - 1])], `node '${who}' has ${at} interfaces on net '${n.name}'; a mirror names nodes with exactly one there`);
    }
  }
  const sw = layout.config;
  const why = VLANSwitch.descriptor.check!(Value.Default(VLANSwitch.descriptor.config, structuredClone(sw)) as typeof sw, { inputs: sw.ports.length, outputs: sw.ports.length }, undefined as never);
  if (why) {
    const k = /^ports\[(\d+)\]/.exec(why);
    const end = k ? layout.ends[Number(k[1])] : undefined;
    if (end) fail(['nodes', s.nodes.indexOf(end[0]), 'interfaces', end[1], 'port'], why.replace(/^ports\[\d+\]\.?/, '').replace(/^: /, '') || why);
    fail(['nets', i], `its switch: ${why}`);
  }
  if (n.dhcp) {
    const d = layout.dhcp!({ mac: '02:00:00:00:00:01' });
    const bad = DHCPServer.descriptor.check!(Value.Default(DHCPServer.descriptor.config, structuredClone(d)) as typeof d, { inputs: 1, outputs: 1 }, undefined as never);
    if (bad) fail(['nets', i, 'dhcp'], bad);
  }
}

type SwitchPortT = Static<typeof VLANSwitchPort>;

/** How a switch net is laid out on its VLANSwitch: a port per attached interface (in node order),
 *  then the DHCP server's, the NAT gateway's and the bridged host interface's, when there are. */
export function switchLayout(s: ScenarioT, net: NetT) {
  const ends: [NodeT, number][] = [];
  for (const n of s.nodes) n.interfaces.forEach((x, j) => x.net === net.name && ends.push([n, j]));
  const service: SwitchPortT = { vlan: net.vlan ?? 1 };
  const ports: SwitchPortT[] = ends.map(([n, j]) => n.interfaces[j].port ?? {});
  const at = (on: boolean) => (on ? ports.push(service) - 1 : -1);
  const dhcpPort = at(net.dhcp !== undefined);
  const natPort = at(net.mode === 'nat');
  const bridgePort = at(net.mode === 'bridged');
  const portOf = (node: string) => ends.findIndex(([n]) => n.name === node);
  const mirror = net.mirror ? { port: portOf(net.mirror.to), sources: net.mirror.from.map(portOf), direction: net.mirror.direction ?? 'both' } : undefined;
  const gatewayIp = net.gateway?.split('/')[0];
  return {
    ends,
    dhcpPort,
    natPort,
    bridgePort,
    config: { ports, ...(mirror ? { mirror } : {}) },
    /** The DHCPServer config, given the MAC the lab picked (a given one wins). */
    dhcp: net.dhcp ? (lab: { mac: string }) => ({ ...net.dhcp!, mac: net.dhcp!.mac ?? lab.mac, router: net.dhcp!.router ?? gatewayIp ?? '' }) : undefined,
  };
}

/** Why an address (with a prefix length when `cidr`) is not usable in a lab, or undefined. */
function addressProblem(text: string, cidr: boolean): string | undefined {
  if (cidr && !text.includes('/')) return `'${text}' needs a prefix length ('198.18.1.1/24', 'fd00:1::1/64')`;
  try {
    checkLabAddress(text, 'address');
    return undefined;
  } catch (e) {
    return (e as Error).message.replace(/^address: /, '');
  }
}
