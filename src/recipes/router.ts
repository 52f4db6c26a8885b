// An IPv4 / dual-stack router for N interfaces, built from a short description, in the spirit
// of Click's two-interface IP router (Click's mk-ip-router), generalised to N interfaces and
// IPv6. Per interface:
//
//   FromDevice -> HostEtherFilter -> Classifier: ARP request -> ARPResponder -> ToDevice
//                                                ARP reply   -> ARPQuerier[1]
//                                                IPv4 -> Strip(14) -> DropBroadcasts -> CheckIPHeader -> GetIPAddress -> rt
//                                                Neighbor Solicitation  -> IP6NDAdvertiser -> ToDevice
//                                                Neighbor Advertisement -> IP6NDSolicitor[1]
//                                                IPv6 -> Strip(14) -> Paint(i) -> CheckIP6Header -> rt6
//                                                other -> Discard (counted)
//   rt[i+1]  -> IPGWOptions -> FixIPSrc -> DecIPTTL -> IPFragmenter(mtu) -> ARPQuerier -> ToDevice
//               [1] parameter problem      [1] time exceeded  [1] fragmentation needed   (ICMPError -> rt)
//   rt6[i+1] -> DecIP6HLIM -> CheckLength(mtu) -> IP6NDSolicitor -> ToDevice
//               [1] time exceeded  [1] packet too big (ICMP6Error -> rt6)
//
// and shared: rt (IPLookup) with output 0 the router's own addresses (ICMPPingResponder, its
// replies back into rt; other local traffic dropped and counted in `local_other`), 1..N the
// interfaces (connected networks and static routes), N+1 no route (ICMPError net unreachable,
// unless a default route exists), N+2 addresses never forwarded (0/8, 127/8, 224/4, 240/4, the
// connected networks' network and broadcast addresses), dropped and counted in `martians`; rt6
// (LookupIP6Route) the same for IPv6 (ICMP6Error no route; ff00::/8, fe80::/10, ::/128, ::1 never
// forwarded).
//
// DropBroadcasts sits on the IPv4 input path after Strip, as in Click's routers: it reads the
// packet-type annotation FromDevice set, which survives stripping, so an IPv4 packet received as
// a link-level broadcast or multicast is neither forwarded nor delivered (RFC 1812 5.3.4; the
// recipe forwards no IP multicast). ICMPv6 time exceeded and no-route errors come from the
// address of the interface the packet came in by (its paint, set on input); packet too big from
// the outgoing interface's. Replies from the router itself (ping) pass the output path like any
// packet, so they leave with TTL 63.
//
// NAT (optional, `nat`, IPv4 only; IPv6 is routed without translation): one IPRewriter `nat`
// for the outside interface O, with the snat spec on input 0 and the reply/port-forward spec on
// input 1. Output 0 leads out of O, 1 in (re-looked up by rt), 2 gets what O received that is
// not NAT traffic, 3 what the router itself sends out of O (its ping replies and errors).
//
//   O in:  ... CheckIPHeader -> IPReassembler -> nat[1]  (replies, port forwards, else output 2)
//   nat[1] -> GetIPAddress -> rt                         (translated: to the inside host)
//   nat[2] -> IPClassifier(dst is the router) -> GetIPAddress -> rt;  else nat_unsolicited
//   rt[O+1] -> IPGWOptions -> FixIPSrc -> DecIPTTL -> IPReassembler -> nat[0] -> IPFragmenter -> ARPQuerier
//   nat[3] -> IPClassifier(src is the router) -> IPFragmenter;  else nat_unmapped (inside hosts'
//             packets NAT cannot map: other protocols, ICMP errors about unknown flows)
//   O's fragmentation needed -> nat[1]
//
// Why this order: DecIPTTL (and its time exceeded) comes before the NAT, so an error about an
// inside host's packet quotes it as the host sent it; errors the router sends out of O about
// packets that were translated on their way in (a reply whose TTL ran out on an inside link)
// pass nat[0], which translates the quoted packet back to what the outside host sent. The
// fragmenter comes after the NAT (the NAT cannot map later fragments: the reassemblers in front
// of it make whole datagrams), so its fragmentation-needed error quotes the translated packet
// and goes through nat[1], back to the inside host. The outside interface carries no transit
// traffic other than NAT's: what arrives there for neither a mapping, a port forward nor one of
// the router's addresses is dropped (counted in nat_unsolicited).
import { readFileSync } from 'node:fs';
import { formatIPv4, formatIPv6, maskOf, parseIPv4, parseIPv6, parseMac, parsePrefix } from '../util/address.js';
import { parsePortRange } from '../../elements/ip/IPRewriter.js';
import { graph, type GraphDefinition, type ElementNode, type OutputPort, type ParamValue } from '../graph/graph.js';
import {
  FromDevice,
  ToDevice,
  FromPort,
  ToPort,
  HostEtherFilter,
  Classifier,
  ARPResponder,
  ARPQuerier,
  DropBroadcasts,
  Strip,
  Paint,
  PaintSwitch,
  Discard,
  CheckIPHeader,
  GetIPAddress,
  IPLookup,
  ICMPPingResponder,
  ICMPError,
  IPGWOptions,
  FixIPSrc,
  DecIPTTL,
  IPFragmenter,
  CheckIP6Header,
  LookupIP6Route,
  DecIP6HLIM,
  CheckLength,
  ICMP6Error,
  ICMP6PingResponder,
  IP6NDAdvertiser,
  IP6NDSolicitor,
  IPRewriter,
  IPReassembler,
  IPClassifier,
} from '../../elements/index.js';

// The description's fields are documented once, in router.doc.ts (`pktgraph recipes ipRouter`,
// docs/recipes.md), checked against these types.
/** An interface on a port shared by virtual routers (pktgraph port add): FromPort and ToPort. */
export interface RouterPortAttachment {
  /** The port's name. */
  name: string;
  /** The 802.1Q VLAN ID the interface claims and tags with (default 0: untagged). */
  vlan?: number;
  /** The router's bandwidth share on the port, bits/s (ToPort's guarantee, limit, weight). */
  guarantee?: number;
  limit?: number;
  weight?: number;
}

export interface RouterInterface {
  /** The device (AF_PACKET), or leave it out and give `port`. */
  device?: string;
  /** Instead of a device: a shared port; the interface claims its VLAN and MAC there. */
  port?: RouterPortAttachment;
  ipv4?: string;
  ipv6?: string;
  mtu?: number;
  mac?: string;
  name?: string;
  /** The device's FromDevice/ToDevice method: 'packet' (AF_PACKET, the default) or 'xdp' (AF_XDP). */
  method?: 'packet' | 'xdp';
}

export interface RouterOptions {
  icmpRateLimit?: number;
  checksum?: boolean;
}

export interface RouterNatForward {
  proto: 'tcp' | 'udp';
  port: number;
  to: string;
}

export interface RouterNat {
  outside: string;
  address?: string;
  ports?: string;
  forwards?: RouterNatForward[];
  timeouts?: { tcp?: number; tcpTransitory?: number; udp?: number; icmp?: number };
  capacity?: number;
}

export interface RouterDescription {
  interfaces: RouterInterface[];
  routes?: string[];
  nat?: RouterNat;
  options?: RouterOptions;
}

class RouterError extends Error {
  override name = 'RouterError';
}

// ---- addresses, as bigints of 32 or 128 bits (parsed by src/util/address.ts) ----

const parse4 = (s: string): bigint | undefined => {
  const v = parseIPv4(s);
  return v === undefined ? undefined : BigInt(v);
};
const parse6 = parseIPv6;
const format4 = formatIPv4;
const format6 = formatIPv6;

interface Net {
  width: 32 | 128;
  addr: bigint; // the router's address
  len: number;
  net: bigint; // network address
}

const inNet = (n: Net, a: bigint) => (a & maskOf(n.width, n.len)) === n.net;
const fmt = (width: number, v: bigint) => (width === 32 ? format4(v) : format6(v));

function parseIfAddress(text: string, width: 32 | 128, what: string): Net {
  const p = parsePrefix(text.trim(), { width });
  if (typeof p === 'string' || p.len < 1)
    throw new RouterError(`${what}: '${text}' is not an ${width === 32 ? 'IPv4' : 'IPv6'} address with a prefix length (like ${width === 32 ? "'198.18.1.254/24'" : "'fd00:1::fe/64'"})`);
  return { width, addr: p.addr, len: p.len, net: p.net };
}

/** The device's own MAC address, if it exists here; else a locally administered one derived from its name. */
function deviceMac(device: string): { mac: string; own: boolean } {
  try {
    const mac = readFileSync(`/sys/class/net/${device}/address`, 'utf8').trim().toLowerCase();
    if (parseMac(mac) !== undefined && mac !== '00:00:00:00:00:00') return { mac, own: true };
  } catch {
    // not here (compiled on another machine, or the lab is not up yet)
  }
  let h = 2166136261;
  for (const c of device) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  const b = [0x02, 0x70, 0x67, (h >>> 16) & 255, (h >>> 8) & 255, h & 255];
  return { mac: b.map((x) => x.toString(16).padStart(2, '0')).join(':'), own: false };
}

interface Iface {
  index: number;
  name: string;
  device: string;
  port?: RouterPortAttachment;
  v4?: Net;
  v6?: Net;
  mtu: number;
  mac: string;
  promisc: boolean;
  xdp: boolean;
}

function checkDescription(d: RouterDescription): Iface[] {
  if (!d || !Array.isArray(d.interfaces) || d.interfaces.length === 0) throw new RouterError('a router needs at least one interface: { interfaces: [{ device, ipv4, ipv6?, mtu? }, ...] }');
  const names = new Set<string>();
  const devices = new Set<string>();
  return d.interfaces.map((x, index) => {
    const port = x.port;
    const what = `interface ${index} (${port ? `port ${port.name ?? '?'}` : x.device ?? '?'})`;
    if (port !== undefined && x.device !== undefined) throw new RouterError(`${what}: give a device or a port, not both`);
    if (port !== undefined && (typeof port.name !== 'string' || !port.name)) throw new RouterError(`interface ${index}: give its port's name`);
    if (port === undefined && (typeof x.device !== 'string' || !x.device)) throw new RouterError(`interface ${index}: give its device (or a port)`);
    // A port interface is told apart by its port and VLAN (one claim per VLAN and port).
    const device = port ? `port:${port.name}.${port.vlan ?? 0}` : x.device!;
    if (devices.has(device)) throw new RouterError(`${what}: ${port ? `port '${port.name}' VLAN ${port.vlan ?? 0}` : `device '${device}'`} is used twice`);
    devices.add(device);
    const name = x.name ?? `if${index}`;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new RouterError(`${what}: name '${name}': letters, digits and '_', starting with a letter`);
    if (names.has(name)) throw new RouterError(`${what}: name '${name}' is used twice`);
    names.add(name);
    if (!x.ipv4 && !x.ipv6) throw new RouterError(`${what}: give an ipv4 or an ipv6 address (or both)`);
    const v4 = x.ipv4 ? parseIfAddress(x.ipv4, 32, `${what} ipv4`) : undefined;
    const v6 = x.ipv6 ? parseIfAddress(x.ipv6, 128, `${what} ipv6`) : undefined;
    if (v4 && v4.len < 31 && (v4.addr === v4.net || v4.addr === (v4.net | ~maskOf(32, v4.len) & 0xffffffffn)))
      throw new RouterError(`${what}: ${x.ipv4} is the network's ${v4.addr === v4.net ? 'network' : 'broadcast'} address; give a host address`);
    const mtu = x.mtu ?? 1500;
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new RouterError(`${what}: mtu ${mtu} is not from 68 to 65535`);
    if (v6 && mtu < 1280) throw new RouterError(`${what}: mtu ${mtu} is below IPv6's minimum 1280; lower it only on IPv4-only interfaces`);
    let mac = x.mac;
    let promisc = false;
    if (mac !== undefined) {
      if (parseMac(mac) === undefined) throw new RouterError(`${what}: mac '${mac}' is not like 02:00:00:00:00:01`);
      promisc = true; // frames to a MAC the device does not own: see them all, HostEtherFilter keeps ours
    } else {
      const m = deviceMac(device);
      mac = m.mac;
      promisc = !m.own;
    }
    if (x.method !== undefined && x.method !== 'packet' && x.method !== 'xdp') throw new RouterError(`${what}: method '${String(x.method)}': give 'packet' (AF_PACKET) or 'xdp' (AF_XDP)`);
    if (x.method === 'xdp' && port) throw new RouterError(`${what}: method 'xdp' is for a device; a port's frames come from its own FromDevice`);
    return { index, name, device, port, v4, v6, mtu, mac: mac.toLowerCase(), promisc, xdp: x.method === 'xdp' };
  });
}

interface Routes {
  v4: string[];
  v6: string[];
  default4: boolean;
  default6: boolean;
}

function staticRoutes(d: RouterDescription, ifs: Iface[]): Routes {
  const out: Routes = { v4: [], v6: [], default4: false, default6: false };
  for (const r of d.routes ?? []) {
    const m = /^\s*(\S+)\s+via\s+(\S+)\s*$/.exec(r);
    if (!m) throw new RouterError(`route '${r}': expected 'PREFIX via GATEWAY' or 'default via GATEWAY'`);
    const [, prefix, gw] = m;
    const v6 = gw.includes(':');
    const width = v6 ? 128 : 32;
    const g = v6 ? parse6(gw) : parse4(gw);
    if (g === undefined) throw new RouterError(`route '${r}': gateway '${gw}' is not an IPv${v6 ? 6 : 4} address`);
    const i = ifs.find((x) => {
      const n = v6 ? x.v6 : x.v4;
      return n && inNet(n, g) && n.addr !== g;
    });
    if (!i) throw new RouterError(`route '${r}': gateway ${gw} is not in a connected network (${ifs.map((x) => (v6 ? x.v6 : x.v4) && `${fmt(width, (v6 ? x.v6 : x.v4)!.net)}/${(v6 ? x.v6 : x.v4)!.len}`).filter(Boolean).join(', ') || 'none'})`);
    if (prefix === 'default') {
      if (v6) out.default6 = true;
      else out.default4 = true;
    } else {
      if (typeof parsePrefix(prefix, { width, bareAddress: true }) === 'string') throw new RouterError(`route '${r}': prefix '${prefix}' is not an IPv${v6 ? 6 : 4} prefix (the gateway is IPv${v6 ? 6 : 4})`);
    }
    (v6 ? out.v6 : out.v4).push(`${prefix} via ${gw} dev ${i.index + 1}`);
  }
  return out;
}

interface Nat {
  o: Iface;
  address: string;
  /** Set when the NAT address is not the outside interface's own. */
  extra?: string;
  ports: string;
  rules: { proto: 'tcp' | 'udp'; port: number; to: string; toPort: number; address: string }[];
  timeouts: Record<string, number>;
  capacity?: number;
}

function checkNat(d: RouterDescription, ifs: Iface[]): Nat | undefined {
  const n = d.nat;
  if (n === undefined) return undefined;
  if (!n || typeof n !== 'object') throw new RouterError("nat: expected { outside: 'if1', address?, ports?, forwards?, timeouts?, capacity? }");
  const known = ['outside', 'address', 'ports', 'forwards', 'timeouts', 'capacity'];
  for (const k of Object.keys(n)) if (!known.includes(k)) throw new RouterError(`nat.${k}: unknown field (known: ${known.join(', ')})`);
  const choices = ifs.map((x) => `${x.name} (${x.device})`).join(', ');
  if (typeof n.outside !== 'string' || !n.outside) throw new RouterError(`nat.outside: give the outside interface's name or device: one of ${choices}`);
  const o = ifs.find((x) => x.name === n.outside) ?? ifs.find((x) => x.device === n.outside);
  if (!o) throw new RouterError(`nat.outside: '${n.outside}' is no interface's name or device; one of ${choices}`);
  if (!o.v4) throw new RouterError(`nat.outside: interface ${o.name} (${o.device}) has no ipv4 address; NAT is IPv4 only`);
  if (!ifs.some((x) => x !== o && x.v4)) throw new RouterError(`nat.outside: ${o.name} is the only IPv4 interface; NAT needs an inside one too`);
  let address = format4(o.v4.addr);
  let extra: string | undefined;
  if (n.address !== undefined) {
    const a = typeof n.address === 'string' ? parse4(n.address) : undefined;
    if (a === undefined) throw new RouterError(`nat.address: '${n.address}' is not an IPv4 address`);
    const other = ifs.find((x) => x !== o && x.v4?.addr === a);
    if (other) throw new RouterError(`nat.address: ${n.address} is interface ${other.name}'s address; use the outside interface's or another one routed to the router`);
    const inside = ifs.find((x) => x !== o && x.v4 && inNet(x.v4, a));
    if (inside) throw new RouterError(`nat.address: ${n.address} lies in inside interface ${inside.name}'s network; give an outside address`);
    const top = a >> 24n;
    if (top === 0n || top === 127n || top >= 224n || (o.v4.len < 31 && inNet(o.v4, a) && (a === o.v4.net || a === (o.v4.net | (~maskOf(32, o.v4.len) & 0xffffffffn)))))
      throw new RouterError(`nat.address: ${n.address} is not a unicast host address`);
    address = format4(a);
    if (a !== o.v4.addr) extra = address;
  }
  const ports = n.ports ?? '1024-65535';
  if (typeof ports !== 'string' || !parsePortRange(ports))
    throw new RouterError(`nat.ports: '${ports}' is not 'LOW-HIGH' with 1 <= LOW <= HIGH <= 65535 (like '1024-65535')`);
  const own = new Set(ifs.filter((x) => x.v4).map((x) => x.v4!.addr));
  const seen = new Set<string>();
  const rules = (n.forwards ?? []).map((f, i) => {
    const what = `nat.forwards[${i}]`;
    if (!f || (f.proto !== 'tcp' && f.proto !== 'udp')) throw new RouterError(`${what}.proto: '${f?.proto}' is neither 'tcp' nor 'udp'`);
    if (!Number.isInteger(f.port) || f.port < 1 || f.port > 65535) throw new RouterError(`${what}.port: ${f.port} is not a port from 1 to 65535`);
    if (seen.has(`${f.proto} ${f.port}`)) throw new RouterError(`${what}: ${f.proto} port ${f.port} is forwarded twice`);
    seen.add(`${f.proto} ${f.port}`);
    const m = typeof f.to === 'string' ? /^([^:]+)(?::(\d{1,5}))?$/.exec(f.to) : null;
    const to = m ? parse4(m[1]) : undefined;
    const toPort = m?.[2] !== undefined ? Number(m[2]) : f.port;
    if (!m || to === undefined || toPort < 1 || toPort > 65535) throw new RouterError(`${what}.to: '${f.to}' is not 'ADDRESS:PORT' or 'ADDRESS' (like '198.18.1.10:80')`);
    if (own.has(to)) throw new RouterError(`${what}.to: ${m[1]} is the router's own address; forward to an inside host`);
    if (inNet(o.v4!, to)) throw new RouterError(`${what}.to: ${m[1]} lies in the outside network (${format4(o.v4!.net)}/${o.v4!.len}); forward to an inside host`);
    return { proto: f.proto, port: f.port, to: format4(to), toPort, address };
  });
  const timeouts: Record<string, number> = {};
  const names: Record<string, string> = { tcp: 'tcpTimeout', tcpTransitory: 'tcpTransitoryTimeout', udp: 'udpTimeout', icmp: 'icmpTimeout' };
  for (const [k, v] of Object.entries(n.timeouts ?? {})) {
    if (!(k in names)) throw new RouterError(`nat.timeouts.${k}: unknown timeout (known: ${Object.keys(names).join(', ')})`);
    if (typeof v !== 'number' || !(v >= 0.001 && v <= 31536000)) throw new RouterError(`nat.timeouts.${k}: ${v} is not a number of seconds from 0.001 to 31536000`);
    timeouts[names[k]] = v;
  }
  if (n.capacity !== undefined && (!Number.isInteger(n.capacity) || n.capacity < 1 || n.capacity > 2097152))
    throw new RouterError(`nat.capacity: ${n.capacity} is not a number of mappings from 1 to 2097152`);
  return { o, address, extra, ports, rules, timeouts, capacity: n.capacity };
}

/**
 * Add a router's elements to the graph being built (call inside `graph(...)`). Returns the two
 * lookup elements (rt6 only when some interface has an IPv6 address).
 */
export function buildRouter(d: RouterDescription): { rt?: ElementNode; rt6?: ElementNode } {
  const ifs = checkDescription(d);
  const routes = staticRoutes(d, ifs);
  const nat = checkNat(d, ifs);
  const rate = d.options?.icmpRateLimit ?? 100;
  const n = ifs.length;
  const has4 = ifs.some((x) => x.v4);
  const has6 = ifs.some((x) => x.v6);
  if (routes.v4.length && !has4) throw new RouterError('IPv4 routes given but no interface has an IPv4 address');
  if (routes.v6.length && !has6) throw new RouterError('IPv6 routes given but no interface has an IPv6 address');
  const LOCAL = 0;
  const UNREACH = n + 1;
  const MARTIAN = n + 2;

  // ---- shared IPv4 routing ----
  let rt: ElementNode | undefined;
  if (has4) {
    const table: string[] = [];
    const seen = new Set<string>();
    const add = (prefix: string, out: number) => {
      if (seen.has(prefix)) return; // the first wins (own addresses before connected networks)
      seen.add(prefix);
      table.push(`${prefix} ${out}`);
    };
    for (const x of ifs) if (x.v4) add(`${format4(x.v4.addr)}/32`, LOCAL);
    if (nat?.extra) add(`${nat.extra}/32`, LOCAL);
    for (const x of ifs) {
      if (!x.v4 || x.v4.len >= 31) continue;
      add(`${format4(x.v4.net)}/32`, MARTIAN);
      add(`${format4(x.v4.net | (~maskOf(32, x.v4.len) & 0xffffffffn))}/32`, MARTIAN);
    }
    for (const p of ['0.0.0.0/8', '127.0.0.0/8', '224.0.0.0/4', '240.0.0.0/4']) add(p, MARTIAN);
    for (const x of ifs) if (x.v4) add(`${format4(x.v4.net)}/${x.v4.len}`, x.index + 1);
    const statics = routes.v4.filter((r) => {
      const p = r.split(' ')[0];
      if (seen.has(p)) throw new RouterError(`route '${r.replace(/ dev \d+$/, '')}': ${p} is already a connected network or a reserved prefix`);
      seen.add(p);
      return true;
    });
    if (!routes.default4) table.push(`default ${UNREACH}`);
    rt = IPLookup({ routes: [...table, ...statics] }, 'rt');
    const ping = rt.out(LOCAL).to(ICMPPingResponder({}, 'ping'));
    ping.to(rt);
    ping.out(1).to(Discard({}, 'local_other'));
    const firstV4 = ifs.find((x) => x.v4)!.v4!;
    // The source is fixed on the way out (FixIPSrc), so any router address does here.
    rt.out(UNREACH).to(ICMPError({ src: format4(firstV4.addr), type: 'unreachable', code: 'net', rateLimit: rate }, 'unreachable')).to(rt);
    rt.out(MARTIAN).to(Discard({}, 'martians'));
  }

  // ---- NAT (IPv4) ----
  let rw: ElementNode | undefined;
  let natOwn: ElementNode | undefined; // the router's own packets out of O (nat[3])
  if (nat) {
    rw = IPRewriter(
      {
        inputs: [
          { kind: 'snat', address: nat.address, ports: nat.ports, forward: 0, reply: 1, pass: 3 },
          nat.rules.length ? { kind: 'dnat', rules: nat.rules, forward: 1, reply: 0, pass: 2 } : { kind: 'pass', output: 2 },
        ],
        ...nat.timeouts,
        ...(nat.capacity !== undefined ? { capacity: nat.capacity } : {}),
      },
      'nat',
    );
    // Translated inbound packets, and those for the router itself: looked up again by rt.
    const natIn = GetIPAddress({ offset: 16 }, 'nat_getaddr');
    natIn.to(rt!);
    rw.out(1).to(natIn);
    const mine = [...ifs.filter((x) => x.v4).map((x) => format4(x.v4!.addr)), ...(nat.extra ? [nat.extra] : [])];
    // What arrived on O that is not NAT traffic: only the router's own addresses take it.
    const local = rw.out(2).to(IPClassifier({ patterns: [`ip and (${mine.map((a) => `dst host ${a}`).join(' or ')})`, '-'] }, 'nat_local'));
    local.to(natIn);
    local.out(1).to(Discard({}, 'nat_unsolicited'));
    // What nat[0] cannot map: the router's own packets leave as they are, inside hosts' are dropped.
    natOwn = rw.out(3).to(IPClassifier({ patterns: [`ip and (${mine.map((a) => `src host ${a}`).join(' or ')})`, '-'] }, 'nat_own'));
    natOwn.out(1).to(Discard({}, 'nat_unmapped'));
  }

  // ---- shared IPv6 routing ----
  let rt6: ElementNode | undefined;
  let te6: ElementNode | undefined;
  if (has6) {
    const table: string[] = [];
    const seen = new Set<string>();
    const add = (prefix: string, out: number) => {
      if (seen.has(prefix)) return;
      seen.add(prefix);
      table.push(`${prefix} ${out}`);
    };
    for (const x of ifs) if (x.v6) add(`${format6(x.v6.addr)}/128`, LOCAL);
    for (const p of ['ff00::/8', 'fe80::/10', '::/128', '::1/128']) add(p, MARTIAN);
    for (const x of ifs) if (x.v6) add(`${format6(x.v6.net)}/${x.v6.len}`, x.index + 1);
    const statics = routes.v6.filter((r) => {
      const p = r.split(' ')[0];
      if (seen.has(p)) throw new RouterError(`route '${r.replace(/ dev \d+$/, '')}': ${p} is already a connected network or a reserved prefix`);
      seen.add(p);
      return true;
    });
    if (!routes.default6) table.push(`default ${UNREACH}`);
    rt6 = LookupIP6Route({ routes: [...table, ...statics] }, 'rt6');
    const ping6 = rt6.out(LOCAL).to(ICMP6PingResponder({}, 'ping6'));
    ping6.to(rt6);
    ping6.out(1).to(Discard({}, 'local_other6'));
    rt6.out(MARTIAN).to(Discard({}, 'martians6'));
    // ICMPv6 errors from the address of the interface the packet came in by (its paint).
    const firstV6 = ifs.find((x) => x.v6)!.v6!;
    const src6 = (x: Iface) => format6((x.v6 ?? firstV6).addr);
    const un6 = rt6.out(UNREACH).to(PaintSwitch({}, 'unreachable6'));
    te6 = PaintSwitch({}, 'timeexceeded6');
    for (const x of ifs) {
      un6.out(x.index).to(ICMP6Error({ src: src6(x), type: 1, code: 0, rateLimit: rate }, `${x.name}_unreachable6`)).to(rt6);
      te6.out(x.index).to(ICMP6Error({ src: src6(x), type: 3, code: 0, rateLimit: rate }, `${x.name}_timeexceeded6`)).to(rt6);
    }
  }

  // ---- per interface ----
  for (const x of ifs) {
    const nm = (s: string) => `${x.name}_${s}`;
    const p = x.port;
    const tx = p
      ? ToPort({ port: p.name, vlan: p.vlan ?? 0, guarantee: p.guarantee ?? 0, limit: p.limit ?? 0, weight: p.weight ?? 1 }, nm('tx'))
      : ToDevice({ device: x.device, ...(x.xdp ? { method: 'xdp' as const } : {}) }, nm('tx'));
    const patterns: string[] = [];
    const outs: ((port: OutputPort) => void)[] = [];
    if (x.v4) {
      const addr = format4(x.v4.addr);
      const outside = nat?.o === x;
      // With the prefix, the subnet's broadcast address goes to ff:ff:ff:ff:ff:ff (Click's ARPQuerier).
      const arpq = ARPQuerier({ ip: `${addr}/${x.v4.len}`, mac: x.mac }, nm('arpq'));
      arpq.to(tx);
      patterns.push('12/0806 20/0001', '12/0806 20/0002', '12/0800');
      outs.push(
        (c) => void c.to(ARPResponder({ entries: [`${addr} ${x.mac}`, ...(outside && nat?.extra ? [`${nat.extra} ${x.mac}`] : [])] }, nm('arpr'))).to(tx),
        (c) => void c.to(arpq.in(1)),
        (c) => {
          const checked = c
            .to(Strip({ length: 14 }, nm('strip')))
            .to(DropBroadcasts({}, nm('nobcast')))
            .to(CheckIPHeader({ checksum: d.options?.checksum ?? true }, nm('check')));
          // Outside: replies and port forwards are translated before the lookup.
          if (outside) checked.to(IPReassembler({}, 'nat_reass_in')).to(rw!.in(1));
          else checked.to(GetIPAddress({ offset: 16 }, nm('getaddr'))).to(rt!);
        },
      );
      // Forwarding path out of this interface.
      const gw = rt!.out(x.index + 1).to(IPGWOptions({ address: addr, otherAddresses: ifs.filter((y) => y.v4 && y !== x).map((y) => format4(y.v4!.addr)) }, nm('gwopt')));
      gw.out(1).to(ICMPError({ src: addr, type: 'parameterproblem', rateLimit: rate }, nm('paramproblem'))).to(rt!);
      const ttl = gw.to(FixIPSrc({ address: addr }, nm('fixsrc'))).to(DecIPTTL({}, nm('ttl')));
      ttl.out(1).to(ICMPError({ src: addr, type: 'timeexceeded', code: 'transit', rateLimit: rate }, nm('timeexceeded'))).to(rt!);
      const frag = IPFragmenter({ mtu: x.mtu }, nm('frag'));
      if (outside) {
        // After DecIPTTL (errors quote what the inside host sent), before the fragmenter.
        ttl.to(IPReassembler({}, 'nat_reass_out')).to(rw!.in(0));
        rw!.out(0).to(frag);
        natOwn!.to(frag);
      } else {
        ttl.to(frag);
      }
      // Outside, the error quotes the translated packet: nat[1] translates it back.
      frag.out(1).to(ICMPError({ src: addr, type: 'unreachable', code: 'needfrag', mtu: x.mtu, rateLimit: rate }, nm('needfrag'))).to(outside ? rw!.in(1) : rt!);
      frag.to(arpq.in(0));
    } else if (rt) {
      // An IPv6-only interface still owns an IPv4 lookup output: nothing is routed there.
      rt.out(x.index + 1).to(Discard({}, nm('no_ipv4')));
    }
    if (x.v6) {
      const addr6 = format6(x.v6.addr);
      const nds = IP6NDSolicitor({ ip: addr6, mac: x.mac }, nm('ndsol'));
      nds.to(tx);
      patterns.push('12/86dd 20/3a 54/87', '12/86dd 20/3a 54/88', '12/86dd');
      outs.push(
        (c) => void c.to(IP6NDAdvertiser({ entries: [`${addr6} ${x.mac}`] }, nm('ndadv'))).to(tx),
        (c) => void c.to(nds.in(1)),
        (c) =>
          void c
            .to(Strip({ length: 14 }, nm('strip6')))
            .to(Paint({ color: x.index }, nm('paint6')))
            .to(CheckIP6Header({}, nm('check6')))
            .to(rt6!),
      );
      const hlim = rt6!.out(x.index + 1).to(DecIP6HLIM({}, nm('hlim')));
      hlim.out(1).to(te6!);
      const mtu6 = hlim.to(CheckLength({ length: x.mtu }, nm('mtu6')));
      mtu6.out(1).to(ICMP6Error({ src: addr6, type: 2, mtu: x.mtu, rateLimit: rate }, nm('toobig6'))).to(rt6!);
      mtu6.to(nds.in(0));
    } else if (rt6) {
      rt6.out(x.index + 1).to(Discard({}, nm('no_ipv6')));
    }
    patterns.push('-');
    outs.push((c) => void c.to(Discard({}, nm('other'))));
    // On a shared port the interface claims its VLAN and its MAC address (as a NIC's virtual function).
    const cl = (p ? FromPort({ port: p.name, vlan: p.vlan ?? 0, macs: [x.mac] }, nm('rx')) : FromDevice({ device: x.device, promisc: x.promisc, ...(x.xdp ? { method: 'xdp' as const } : {}) }, nm('rx')))
      .to(HostEtherFilter({ mac: x.mac }, nm('hostfilter')))
      .to(Classifier({ patterns }, nm('classify')));
    outs.forEach((f, k) => f(cl.out(k)));
  }
  return { rt, rt6 };
}

/**
 * A router graph from a description, with graph parameters: `describe` gets the parameters
 * (defaults overridden by `pktgraph run -p KEY=VALUE`) and returns the description.
 *
 *   export default ipRouter({ name: 'r', params: { dev0: 'eth0', dev1: 'eth1' } }, (p) => ({
 *     interfaces: [{ device: p.dev0, ipv4: '198.18.1.254/24' }, { device: p.dev1, ipv4: '198.18.2.254/24' }],
 *     routes: ['198.18.8.0/24 via 198.18.2.1'],
 *     nat: { outside: 'if1', forwards: [{ proto: 'tcp', port: 8080, to: '198.18.1.10:80' }] }, // optional
 *   }));
 */
export function ipRouter<P extends Record<string, ParamValue>>(
  options: { name: string; params?: P; doc?: string },
  describe: (params: P) => RouterDescription,
): GraphDefinition<P> {
  return graph(options, (p) => {
    buildRouter(describe(p));
  });
}
