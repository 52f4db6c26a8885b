// VRRP version 3 for IPv4 (RFC 5798), written in TypeScript: the worked example of an element
// whose packet handling is a script (src/script/define.ts). It lives here, beside the built-in
// elements, so every user has it and `pktgraph elements` documents it; it uses nothing but the
// public defineScriptElement, exactly as an out-of-tree element package would.
import { Type } from 'typebox';
import { defineScriptElement, type ScriptContext } from '../../src/script/define.js';
import { ipv4Address } from '../../src/graph/types.js';
import { parseIPv4 } from '../../src/util/address.js';

const PROTO_VRRP = 112;
const GROUP = 0xe0000012; // 224.0.0.18
const GROUP_MAC = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x12];

const config = Type.Object({
  vrid: Type.Integer({ minimum: 1, maximum: 255, description: 'the virtual router identifier (VRID); the virtual MAC is 00:00:5e:00:01:VRID' }),
  priority: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 255, default: 100, description: 'election priority: higher wins; 255 only for the owner of the virtual addresses' }),
  ),
  address: ipv4Address("this router's own address on the link: the advertisements' source, and the tie-break between equal priorities"),
  addresses: Type.Array(ipv4Address('a virtual address'), { minItems: 1, maxItems: 32, description: 'the virtual IPv4 addresses the master answers for' }),
  interval: Type.Optional(Type.Integer({ minimum: 1, maximum: 4095, default: 100, description: 'advertisement interval in centiseconds (100: 1 s)' })),
  preempt: Type.Optional(Type.Boolean({ default: true, description: 'a backup with a higher priority than the master takes over (preempt mode)' })),
  gates: Type.Optional(
    Type.Array(Type.String(), {
      default: [],
      maxItems: 16,
      description: 'Switch elements set to output 0 while this router is master and to -1 (drop) otherwise: the paths that answer ARP and traffic for the virtual addresses',
    }),
  ),
});

type State = {
  state: 'initialize' | 'backup' | 'master';
  enabled: boolean;
  priority: number;
  masterAdverInterval: number; // centiseconds, learned from the master
  masterAddress: string;
  lastAdvertAt: number; // ms, the master's last advertisement we accepted
  masterSince: number; // ms, when we last became master
  ipId: number;
};
type Ctx = ScriptContext<{ vrid: number; priority: number; address: string; addresses: string[]; interval: number; preempt: boolean; gates: string[] }, State>;

/** The one's-complement sum of 16-bit words (RFC 1071), folded. */
function sum16(b: Uint8Array, from: number, to: number, acc = 0): number {
  for (let i = from; i + 1 < to; i += 2) acc += (b[i] << 8) | b[i + 1];
  if ((to - from) & 1) acc += b[to - 1] << 8;
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  return acc;
}
const put32 = (b: Uint8Array, at: number, v: number) => new DataView(b.buffer, b.byteOffset).setUint32(at, v >>> 0);
const get32 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint32(at);
const vmac = (vrid: number) => [0x00, 0x00, 0x5e, 0x00, 0x01, vrid];

// The VRRP checksum covers the IPv4 pseudo-header and the VRRP message (RFC 5798 5.2.8).
function vrrpChecksum(b: Uint8Array, src: number, dst: number, off: number, len: number): number {
  const pseudo = new Uint8Array(12);
  put32(pseudo, 0, src);
  put32(pseudo, 4, dst);
  pseudo[9] = PROTO_VRRP;
  pseudo[10] = len >> 8;
  pseudo[11] = len & 0xff;
  return ~sum16(b, off, off + len, sum16(pseudo, 0, 12)) & 0xffff;
}

function advertisement(ctx: Ctx, priority: number): Uint8Array {
  const c = ctx.config;
  const n = c.addresses.length;
  const vlen = 8 + 4 * n;
  const f = new Uint8Array(14 + 20 + vlen);
  f.set(GROUP_MAC, 0);
  f.set(vmac(c.vrid), 6);
  f[12] = 0x08;
  // IPv4: TTL 255, protocol 112, to 224.0.0.18 (RFC 5798 5.1.1)
  const ip = 14;
  f[ip] = 0x45;
  f[ip + 1] = 0xc0; // precedence: network control
  f[ip + 2] = (20 + vlen) >> 8;
  f[ip + 3] = (20 + vlen) & 0xff;
  ctx.state.ipId = (ctx.state.ipId + 1) & 0xffff;
  f[ip + 4] = ctx.state.ipId >> 8;
  f[ip + 5] = ctx.state.ipId & 0xff;
  f[ip + 8] = 255;
  f[ip + 9] = PROTO_VRRP;
  const src = parseIPv4(c.address)!;
  put32(f, ip + 12, src);
  put32(f, ip + 16, GROUP);
  const ipsum = ~sum16(f, ip, ip + 20) & 0xffff;
  f[ip + 10] = ipsum >> 8;
  f[ip + 11] = ipsum & 0xff;
  // VRRP: version 3, type 1 (advertisement), VRID, priority, count, max advert interval
  const v = ip + 20;
  f[v] = 0x31;
  f[v + 1] = c.vrid;
  f[v + 2] = priority;
  f[v + 3] = n;
  f[v + 4] = (c.interval >> 8) & 0x0f;
  f[v + 5] = c.interval & 0xff;
  c.addresses.forEach((a, i) => put32(f, v + 8 + 4 * i, parseIPv4(a)!));
  const sum = vrrpChecksum(f, src, GROUP, v, vlen);
  f[v + 6] = sum >> 8;
  f[v + 7] = sum & 0xff;
  return f;
}

// A gratuitous ARP request for one virtual address from the virtual MAC (RFC 5798 6.4.1).
function gratuitousArp(vrid: number, address: number): Uint8Array {
  const f = new Uint8Array(60);
  f.fill(0xff, 0, 6);
  f.set(vmac(vrid), 6);
  f.set([0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01], 12);
  f.set(vmac(vrid), 22);
  put32(f, 28, address);
  put32(f, 38, address);
  return f;
}

const skewCs = (s: State) => ((256 - s.priority) * s.masterAdverInterval) / 256;
const masterDownCs = (s: State) => 3 * s.masterAdverInterval + skewCs(s);

function advertise(ctx: Ctx, priority = ctx.state.priority): void {
  if (ctx.send(0, advertisement(ctx, priority))) ctx.count('adverts_sent');
}

function setGates(ctx: Ctx, open: boolean): void {
  for (const g of ctx.config.gates) ctx.write(g, 'switch', open ? '0' : '-1');
}

function becomeMaster(ctx: Ctx): void {
  const s = ctx.state;
  ctx.cancel('masterDown');
  setGates(ctx, true);
  advertise(ctx);
  for (const a of ctx.config.addresses) if (ctx.send(0, gratuitousArp(ctx.config.vrid, parseIPv4(a)!))) ctx.count('garps_sent');
  ctx.schedule('adver', ctx.config.interval * 10);
  s.state = 'master';
  s.masterSince = ctx.now();
  s.masterAddress = ctx.config.address;
  ctx.count('became_master');
}

function becomeBackup(ctx: Ctx, masterDownMs = masterDownCs(ctx.state) * 10): void {
  const s = ctx.state;
  ctx.cancel('adver');
  setGates(ctx, false);
  ctx.schedule('masterDown', masterDownMs);
  if (s.state !== 'backup') ctx.count('became_backup');
  s.state = 'backup';
}

// The Startup event (RFC 5798 6.4.1).
function startup(ctx: Ctx): void {
  const s = ctx.state;
  s.masterAdverInterval = ctx.config.interval;
  s.masterAddress = '';
  if (s.priority === 255) becomeMaster(ctx);
  else becomeBackup(ctx);
}

// The Shutdown event: a master hands over at once with priority 0; then Initialize.
function shutdown(ctx: Ctx): void {
  const s = ctx.state;
  ctx.cancel('adver');
  ctx.cancel('masterDown');
  if (s.state === 'master') advertise(ctx, 0);
  setGates(ctx, false);
  s.state = 'initialize';
}

// One received advertisement, checked as RFC 5798 7.1 says; acted on as 6.4.2 and 6.4.3 say.
function receive(ctx: Ctx, f: Uint8Array): void {
  const c = ctx.config;
  const s = ctx.state;
  if (f.length < 14 + 20 || f[12] !== 0x08 || f[13] !== 0x00 || f[14] >> 4 !== 4 || f[14 + 9] !== PROTO_VRRP) return ctx.count('drops_not_vrrp');
  const ihl = (f[14] & 0x0f) * 4;
  const total = (f[16] << 8) | f[17];
  if (ihl < 20 || total < ihl + 8 || 14 + total > f.length) return ctx.count('drops_short');
  if (f[14 + 8] !== 255) return ctx.count('drops_ttl');
  const v = 14 + ihl;
  const vlen = total - ihl;
  if (f[v] >> 4 !== 3 || (f[v] & 0x0f) !== 1) return ctx.count('drops_version');
  if (f[v + 1] !== c.vrid) return ctx.count('drops_vrid');
  const count = f[v + 3];
  if (8 + 4 * count > vlen) return ctx.count('drops_short');
  const src = get32(f, 14 + 12);
  if (vrrpChecksum(f, src, get32(f, 14 + 16), v, vlen) !== 0) return ctx.count('drops_checksum');
  if (s.priority === 255) return ctx.count('drops_owner');
  ctx.count('adverts_received');
  const mine = new Set(c.addresses.map((a) => parseIPv4(a)!));
  let same = count === mine.size;
  for (let i = 0; i < count && same; i++) same = mine.has(get32(f, v + 8 + 4 * i));
  if (!same) ctx.count('addresses_mismatch');
  if (!s.enabled || s.state === 'initialize') return;
  const priority = f[v + 2];
  const interval = ((f[v + 4] & 0x0f) << 8) | f[v + 5];
  const from = [24, 16, 8, 0].map((k) => (src >>> k) & 0xff).join('.');
  if (s.state === 'backup') {
    if (priority === 0) return ctx.schedule('masterDown', skewCs(s) * 10);
    if (!c.preempt || priority >= s.priority) {
      s.masterAdverInterval = interval || c.interval;
      s.masterAddress = from;
      s.lastAdvertAt = ctx.now();
      ctx.schedule('masterDown', masterDownCs(s) * 10);
    }
    return; // a lower priority while preempting: discarded, our timer runs on
  }
  // master
  if (priority === 0) {
    advertise(ctx);
    return ctx.schedule('adver', c.interval * 10);
  }
  const ours = parseIPv4(c.address)!;
  if (priority > s.priority || (priority === s.priority && src > ours)) {
    s.masterAdverInterval = interval || c.interval;
    s.masterAddress = from;
    s.lastAdvertAt = ctx.now();
    becomeBackup(ctx);
    return;
  }
  // A lower master (one we preempted, or a split): answer at once rather than at our next
  // interval (as keepalived does), so it steps down and the link's switches learn the virtual
  // MAC on our port again without waiting an interval.
  advertise(ctx);
  ctx.schedule('adver', c.interval * 10);
}

export const VRRP = defineScriptElement({
  name: 'VRRP',
  group: 'ip',
  summary: 'VRRP version 3 for IPv4 (RFC 5798): elects a master among routers sharing virtual addresses; written in TypeScript.',
  doc: `A Virtual Router Redundancy Protocol router for one virtual router (\`vrid\`) on one link, as
RFC 5798 specifies for IPv4. Input 0 takes the link's VRRP advertisements (Ethernet frames, IPv4
protocol 112; a Classifier pattern \`12/0800 23/70\` selects them). Output 0 sends this router's
advertisements (from the virtual MAC 00:00:5e:00:01:VRID to 01:00:5e:00:00:12, IPv4 from
\`address\` to 224.0.0.18, TTL 255, with the RFC's checksum over the pseudo-header) and
gratuitous ARP requests: connect it to the link's ToDevice.

Election: a router starts as backup (or master at once when it owns the addresses: priority
255, \`address\` among \`addresses\`). A backup that hears no acceptable advertisement for the
Master_Down_Interval (3 x the master's interval + Skew_Time, Skew_Time = (256 - priority) x
interval / 256) becomes master: it advertises every \`interval\` and sends a gratuitous ARP
request for each virtual address from the virtual MAC. A master that hears a higher priority
(or the same one from a higher address) becomes backup. With \`preempt\` (the default) a backup
ignores a master of lower priority and so takes over after the Master_Down_Interval; without,
it follows any master. A master that hears a lower priority advertises at once (as keepalived
does) rather than at its next interval, so the other steps down and the link's switches learn
the virtual MAC on its port again without delay. A priority-0 advertisement (a master shutting
down) makes backups take over after Skew_Time. Advertisements are checked as RFC 5798 7.1 says (TTL 255, version 3,
whole message, checksum, VRID; an owner discards all) and dropped under a named counter
otherwise; an address list that differs from ours is counted (\`addresses_mismatch\`) and still
accepted, as the RFC says.

The data path stays native: the element opens its \`gates\` (Switch elements, by name) while it
is master and closes them otherwise, so the graph answers ARP for the virtual addresses
(ARPResponder with the virtual MAC) and accepts traffic for them only on the master, as the RFC
requires of a backup. The \`enabled\` handler written \`false\` is the RFC's Shutdown event (a
master sends priority 0, so a backup takes over at once); \`true\` is Startup. Stopping the graph
(\`vr stop\`) or removing it is a crash to the others: they take over after the
Master_Down_Interval. Deliberately not done: accept mode (a master that is not the owner never
accepts packets addressed to the virtual addresses beyond what its gates pass), IPv6, and
authentication (VRRPv3 has none).`,
  inputs: '1',
  outputs: '1',
  config,
  counters: {
    adverts_sent: 'advertisements sent',
    adverts_received: 'advertisements accepted (passed the checks of RFC 5798 7.1)',
    garps_sent: 'gratuitous ARP requests sent on becoming master',
    became_master: 'times this router became master',
    became_backup: 'times this router became backup',
    addresses_mismatch: 'accepted advertisements whose address list differs from ours (a misconfiguration, RFC 5798 7.1)',
    drops_not_vrrp: 'packets dropped because they were not IPv4 protocol 112 in Ethernet',
    drops_short: 'advertisements dropped because they were truncated or their lengths disagreed',
    drops_ttl: 'advertisements dropped because their TTL was not 255 (sent from off the link)',
    drops_version: 'advertisements dropped because they were not VRRP version 3 type 1',
    drops_vrid: "advertisements dropped because they were another virtual router's (VRID)",
    drops_checksum: 'advertisements dropped because their checksum was wrong',
    drops_owner: 'advertisements dropped because this router owns the addresses (priority 255)',
  },
  check(c, _ports, graph) {
    const own = c.addresses.includes(c.address);
    const p = c.priority ?? 100;
    if (own && p !== 255) return `config field 'priority' is ${p} but 'address' ${c.address} is one of the virtual addresses: the owner's priority must be 255 (RFC 5798 5.2.4); set priority 255 or give the router an address of its own`;
    if (!own && p === 255) return `config field 'priority' is 255, which only the owner of the virtual addresses may use, but 'address' ${c.address} is not among them; use 1 to 254, or add it to 'addresses'`;
    for (const g of c.gates ?? []) {
      const found = graph.findElement(g);
      if ('error' in found) return `config field 'gates': ${found.error}; name the Switch elements that pass traffic for the virtual addresses`;
      if (found.className !== 'Switch') return `config field 'gates': '${g}' is a ${found.className}, not a Switch; name the Switch elements that pass traffic for the virtual addresses`;
    }
    return undefined;
  },
  // The gates by their names in the plan (a VRRP inside a compound names its neighbours).
  plan: (c, _ports, graph) => ({ gates: (c.gates ?? []).map((g) => (graph.findElement(g) as { name: string }).name) }),
  init(ctx) {
    const state: State = { state: 'initialize', enabled: true, priority: ctx.config.priority, masterAdverInterval: ctx.config.interval, masterAddress: '', lastAdvertAt: 0, masterSince: 0, ipId: 0 };
    ctx.state = state;
    startup(ctx as unknown as Ctx);
    return state;
  },
  process(batch, ctx) {
    for (const p of batch) receive(ctx as Ctx, p.data);
  },
  timers: {
    adver(ctx) {
      advertise(ctx as unknown as Ctx);
      ctx.schedule('adver', ctx.config.interval * 10);
    },
    masterDown(ctx) {
      if (ctx.state.state === 'backup') becomeMaster(ctx as unknown as Ctx);
    },
  },
  stop(ctx) {
    // The graph is going or stopping: close the gates; the others see a crash and take over.
    ctx.state.state = 'initialize';
  },
  handlers: {
    state: { doc: 'initialize, backup or master', read: (ctx) => ctx.state.state },
    master: { doc: "the master's address as last known (ours when master; empty if none yet)", read: (ctx) => ctx.state.masterAddress },
    master_since: { doc: 'when this router last became master, ms on the monotonic clock (performance.now; 0 if never)', read: (ctx) => String(ctx.state.masterSince) },
    last_advert: { doc: "when the master's last accepted advertisement arrived, ms on the monotonic clock (performance.now)", read: (ctx) => String(ctx.state.lastAdvertAt) },
    master_down_interval: { doc: 'the Master_Down_Interval now, in ms (3 x the master\'s interval + Skew_Time)', read: (ctx) => String(masterDownCs(ctx.state) * 10) },
    priority: {
      doc: 'read or set the priority (1 to 254; 255 stays with the owner); a master that lowers it below a backup loses the next election',
      read: (ctx) => String(ctx.state.priority),
      write(value, ctx) {
        const p = Number(value.trim());
        const owner = ctx.config.priority === 255;
        if (owner) throw new Error(`priority: this router owns the virtual addresses, so its priority stays 255`);
        if (!Number.isInteger(p) || p < 1 || p > 254) throw new Error(`priority: '${value}' is not a whole number from 1 to 254`);
        ctx.state.priority = p;
      },
    },
    enabled: {
      doc: "read or set whether VRRP runs: 'false' is RFC 5798's Shutdown (a master sends priority 0), 'true' its Startup",
      read: (ctx) => String(ctx.state.enabled),
      write(value, ctx) {
        const v = value.trim();
        if (v !== 'true' && v !== 'false') throw new Error(`enabled: '${value}' is not true or false`);
        const on = v === 'true';
        if (on === ctx.state.enabled) return;
        ctx.state.enabled = on;
        if (on) startup(ctx as unknown as Ctx);
        else shutdown(ctx as unknown as Ctx);
      },
    },
  },
  examples: [
    `// On the link 'eth0' with address 198.18.0.2, sharing 198.18.0.1 as VRID 7:
const rx = FromDevice({ device: 'eth0', promisc: true }).to(Classifier({ patterns: ['12/0806 20/0001', '12/0800 23/70', '12/0800', '-'] }));
const tx = ToDevice({ device: 'eth0' });
rx.out(1).to(VRRP({ vrid: 7, priority: 200, address: '198.18.0.2', addresses: ['198.18.0.1'], gates: ['arp_gate', 'ip_gate'] })).to(tx);
rx.out(0).to(Switch({ output: -1 }, 'arp_gate')).to(ARPResponder({ entries: ['198.18.0.1 00:00:5e:00:01:07'] })).to(tx);`,
  ],
});
