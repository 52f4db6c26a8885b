// IPClassifier and IPFilter against Debian's tcpdump: generated Ethernet captures (IPv4
// TCP/UDP/ICMP/SCTP/IGMP/AH with options and fragments, IPv4 headers of other versions,
// IPv6 TCP/UDP/ICMPv6 behind extension header chains, VLAN-tagged and double-tagged
// frames, unicast, broadcast and multicast destinations, ARP, 802.3 LLC frames, frames cut
// short anywhere, inside IPv6 addresses and below an Ethernet header) are filtered by
// tcpdump (`tcpdump -O -r IN -w OUT EXPR`) and by FromPcap -> IPClassifier(EXPR, '-') ->
// ToPcap x2 (the frame as tcpdump sees it) and FromPcap -> VLANDecap -> MarkIPHeader ->
// IPClassifier (the usual router front, on the frames it passes); the packets on output 0
// (known by their timestamps) must be exactly tcpdump's. A raw-IP capture checks packets
// without a link header. Also first-match semantics over several patterns, IPFilter rule
// order, Click's rule spellings and counters, random expressions, and compile errors.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { FromPcap, ToPcap, VLANDecap, MarkIPHeader, IPClassifier, IPFilter, Discard, compile, graph, GraphError, Runtime } from 'pktgraph';
import { writePcap, readPcap, DEFAULT_TS_NS, LINKTYPE_RAW } from './lib/pcap.js';
import { ether, ipv4, ipv6, tcp, udp, icmp4, icmp6, ETH_ARP, ETH_IPV6, mac, ip4 } from './lib/packets.js';
import { runGraph, tmpPath } from './lib/run.js';
import { rng } from './lib/rng.js';

const files: string[] = [];
t.teardown(() => {
  if (process.env.IPFILTER_KEEP_FILES) return; // for debugging a disagreement with tcpdump
  for (const f of files) rmSync(f, { force: true });
});
const path = (name: string) => {
  const f = tmpPath(`ipfilter-${name}.pcap`);
  files.push(f);
  return f;
};

// ---------- the capture ----------

const { next: rand, pick, int: randInt } = rng(Number(process.env.IPFILTER_SEED ?? 20261121)); // another seed: IPFILTER_SEED=N
const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => randInt(0, 255)));

const V4 = ['198.18.0.1', '198.18.0.2', '198.18.0.3', '198.18.1.9', '198.19.5.5', '198.19.200.7'];
const V6 = ['fd00::1', 'fd00::2', 'fd12:3456::1', 'fd00:1::5', 'fdff::99'];
const PORTS = [22, 53, 80, 443, 1024, 1500, 2000, 8080, 65535];
const port = () => (rand() < 0.7 ? pick(PORTS) : randInt(1, 65535));
// Destinations: unicast, broadcast, IPv4 and IPv6 multicast, one bit short of broadcast.
const DST_MACS = ['02:00:00:00:00:02', '02:00:00:00:00:02', '02:00:00:00:00:09', 'ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:01', '33:33:00:00:00:01', 'ff:ff:ff:ff:ff:fe'];
const SRC_MACS = ['02:00:00:00:00:01', '02:00:00:00:00:01', '02:00:00:00:00:05', '0a:00:00:00:00:01'];
const macs = () => ({ dst: pick(DST_MACS), src: pick(SRC_MACS) });
const v4addr = () => (rand() < 0.85 ? pick(V4) : `198.${randInt(18, 19)}.${randInt(0, 255)}.${randInt(1, 254)}`);

function ipOptions(): Buffer | undefined {
  const r = rand();
  if (r < 0.6) return undefined;
  // NOPs then End: IHL 6 to 8.
  return Buffer.alloc(4 * randInt(1, 3), 1);
}

function l4v4(proto: number, src: string, dst: string): Buffer {
  const payload = bytes(randInt(0, 180));
  if (proto === 6) {
    const flags = pick([0x02, 0x12, 0x10, 0x18, 0x11, 0x04, 0x14, 0x01, 0x29, 0xc2]);
    return tcp({ sport: port(), dport: port(), flags, src, dst, payload, options: rand() < 0.3 ? Buffer.from([2, 4, 5, 0xb4]) : undefined });
  }
  if (proto === 17) return udp({ sport: port(), dport: port(), src, dst, payload });
  if (proto === 1) return icmp4({ type: pick([0, 3, 8, 8, 11, 5, 13]), code: randInt(0, 3), payload });
  if (proto === 132) {
    const h = Buffer.alloc(12);
    h.writeUInt16BE(port(), 0);
    h.writeUInt16BE(port(), 2);
    return Buffer.concat([h, payload]);
  }
  return Buffer.concat([bytes(8), payload]); // IGMP, GRE, ESP: opaque
}

function frameV4(): Buffer {
  const src = v4addr(), dst = v4addr();
  const proto = pick([6, 6, 6, 17, 17, 1, 1, 132, 2, 47, 50, 51]);
  // AH (51) in front of TCP: what `ip protochain 6` steps over.
  let payload = proto === 51 ? Buffer.concat([Buffer.from([6, randInt(1, 2)]), bytes(2)]) : l4v4(proto, src, dst);
  if (proto === 51) payload = Buffer.concat([payload, bytes((payload[1] + 2) * 4 - 4), l4v4(6, src, dst)]);
  let mf = false, fragOffset = 0;
  const r = rand();
  if (r < 0.1) mf = true; // first fragment
  else if (r < 0.2) {
    fragOffset = randInt(1, 200); // a later fragment: its "ports" are payload bytes
    mf = rand() < 0.5;
    payload = bytes(randInt(8, 120));
  } else if (r < 0.23) {
    payload = payload.subarray(0, randInt(0, 6)); // transport header cut short
    truncated.add(frames.length);
  }
  return ether({
    ...macs(),
    vlan: rand() < 0.15 ? pick([5, 100, 0x2005]) : undefined,
    payload: ipv4({
      src, dst: rand() < 0.05 ? pick(['224.0.0.1', '239.1.2.3', '255.255.255.255']) : dst, proto, payload, mf, fragOffset,
      tos: pick([0, 0, 0xb8, 0x10]), ttl: pick([1, 2, 30, 64, 128, 255]), id: randInt(0, 65535), df: rand() < 0.3, options: ipOptions(),
      version: rand() < 0.05 ? pick([0, 5, 6, 15]) : 4, // tcpdump's `ip` does not look at the version
    }),
  });
}

// IPv6 extension headers (next header first): hop-by-hop, destination options, routing
// ((len + 1) * 8 bytes), fragment (8), AH ((len + 2) * 4).
function extHeaders(last: number): { first: number; bytes: Buffer } {
  const kinds = Array.from({ length: randInt(1, 3) }, () => pick([0, 60, 43, 44, 51]));
  let next = last;
  const parts: Buffer[] = [];
  for (let i = kinds.length - 1; i >= 0; i--) {
    const k = kinds[i];
    let h: Buffer;
    if (k === 44) h = Buffer.concat([Buffer.from([next, 0]), bytes(6)]);
    else if (k === 51) {
      const len = randInt(1, 2);
      h = Buffer.concat([Buffer.from([next, len]), bytes((len + 2) * 4 - 2)]);
    } else {
      const len = randInt(0, 1);
      h = Buffer.concat([Buffer.from([next, len]), Buffer.alloc((len + 1) * 8 - 2, 1)]);
    }
    parts.unshift(h);
    next = k;
  }
  return { first: next, bytes: Buffer.concat(parts) };
}

function frameV6(): Buffer {
  const src = pick(V6), dst = pick(V6);
  const proto = pick([6, 17, 58, 58]);
  let body: Buffer;
  const payload = bytes(randInt(0, 150));
  if (proto === 6) body = tcp({ sport: port(), dport: port(), flags: pick([0x02, 0x12, 0x10]), src, dst, payload });
  else if (proto === 17) body = udp({ sport: port(), dport: port(), src, dst, payload });
  else body = icmp6({ type: pick([128, 129, 135, 136, 1, 2]), src, dst, payload });
  let next = proto;
  const r = rand();
  if (r < 0.15) {
    // A fragment header (first fragment) in front: tcpdump's `tcp` looks through it, `port` does not.
    const fh = Buffer.from([proto, 0, 0, 1, 0, 0, 0, randInt(1, 255)]);
    body = Buffer.concat([fh, body]);
    next = 44;
  } else if (r < 0.4) {
    // A chain of extension headers: what protochain walks.
    const ext = extHeaders(rand() < 0.1 ? 59 : proto);
    body = Buffer.concat([ext.bytes, body]);
    next = ext.first;
  }
  const dstAddr = rand() < 0.08 ? pick(['ff02::1', 'ff05::2']) : dst;
  return ether({ ...macs(), type: ETH_IPV6, vlan: rand() < 0.1 ? 100 : undefined, payload: ipv6({ src, dst: dstAddr, nextHeader: next, payload: body, hopLimit: pick([1, 64, 255]) }) });
}

// 802.3 frames (a length where the type goes) with an LLC header: STP, OSI, SNAP.
function frameLlc(): Buffer {
  const llc = Buffer.concat([Buffer.from(pick([[0x42, 0x42, 0x03], [0xfe, 0xfe, 0x03], [0xaa, 0xaa, 0x03], [0x06, 0x06, 0x03]])), bytes(randInt(20, 60))]);
  return ether({ dst: pick(['01:80:c2:00:00:00', '02:00:00:00:00:02']), src: pick(SRC_MACS), type: llc.length, payload: llc });
}

// Two tags (802.1ad outer, 802.1Q inner) or one 0x9100 tag, then IPv4: only the frame-as-is pipeline sees these as tcpdump does.
function frameStacked(): Buffer {
  const v4 = frameV4();
  const ip = v4.subarray(v4.readUInt16BE(12) === 0x8100 ? 18 : 14);
  const outer = Buffer.alloc(rand() < 0.7 ? 22 : 18);
  mac(pick(DST_MACS)).copy(outer, 0);
  mac(pick(SRC_MACS)).copy(outer, 6);
  if (outer.length === 22) {
    outer.writeUInt32BE(((0x88a8 << 16) | pick([10, 20])) >>> 0, 12);
    outer.writeUInt32BE(((0x8100 << 16) | pick([5, 100])) >>> 0, 16);
  } else outer.writeUInt32BE(((0x9100 << 16) | 7) >>> 0, 12);
  outer.writeUInt16BE(0x0800, outer.length - 2);
  return Buffer.concat([outer, ip]);
}

function frameArp(): Buffer {
  const a = Buffer.alloc(28);
  a.writeUInt16BE(1, 0);
  a.writeUInt16BE(0x0800, 2);
  a[4] = 6;
  a[5] = 4;
  a.writeUInt16BE(pick([1, 2]), 6);
  mac('02:00:00:00:00:01').copy(a, 8);
  ip4(pick(V4)).copy(a, 14);
  ip4(pick(V4)).copy(a, 24);
  return ether({ type: ETH_ARP, payload: a });
}

const frames: Buffer[] = [];
const truncated = new Set<number>(); // frames cut short (tcpdump's optimizer may judge them differently)
const stacked = new Set<number>(); // frames VLANDecap leaves a tag in
for (let i = 0; i < 900; i++) {
  const r = rand();
  const k = frames.length;
  if (r < 0.5) frames.push(frameV4());
  else if (r < 0.75) frames.push(frameV6());
  else if (r < 0.8) frames.push(frameArp());
  else if (r < 0.84) frames.push(frameLlc());
  else if (r < 0.88) {
    frames.push(frameStacked());
    stacked.add(k);
  } else if (r < 0.94) {
    // IPv6 cut short inside its addresses (bytes 8-40 of the header), or anywhere in the frame.
    const f = frameV6();
    const at = f.readUInt16BE(12) === 0x8100 ? 18 : 14;
    frames.push(f.subarray(0, rand() < 0.7 ? at + randInt(8, 39) : randInt(1, f.length - 1)));
    truncated.add(k);
  } else if (r < 0.97) {
    const f = rand() < 0.5 ? frameV4() : frameArp();
    frames.push(f.subarray(0, randInt(1, f.length - 1)));
    truncated.add(k);
  } else {
    // Shorter than an Ethernet header: every type test reads past the end.
    frames.push(bytes(randInt(1, 13)));
    truncated.add(k);
  }
}
const capture = path('capture');
writePcap(capture, frames.map((data) => ({ data })));
const indexOf = (ts: bigint) => Number((ts - DEFAULT_TS_NS) / 1000n);

// The frames the router front (VLANDecap -> MarkIPHeader(14)) passes, and those among them
// it leaves as tcpdump sees them (not those VLANDecap leaves a tag in, which put the network
// header annotation inside that tag).
const typeAt12 = (f: Buffer) => (f.length >= 14 ? f.readUInt16BE(12) : -1);
const passed = new Set(frames.map((f, i) => i).filter((i) => frames[i].length >= ([0x8100, 0x88a8].includes(typeAt12(frames[i])) ? 38 : 34)));
const marked = new Set([...passed].filter((i) => !stacked.has(i)));

// ---------- tcpdump ----------

const haveTcpdump = spawnSync('tcpdump', ['--version'], { encoding: 'utf8' }).status === 0;
const tcpdumpCount = (e: string) => (haveTcpdump ? tcpdumpSelect(e).length : undefined);
const noTcpdump = haveTcpdump ? false : 'tcpdump is not installed (scripts/ensure-test-tools.sh installs it as root): verdicts not checked';

let tdCount = 0;
/**
 * The indexes tcpdump selects from the capture; an expression tcpdump finds rejects everything gives [].
 * By default with `-O` (libpcap's code as generated, not optimised): there a read past the end of a
 * packet rejects it, as here. Optimised, tcpdump may drop or reorder such a read (`port 80 or 443`
 * checks the source port against both before it loads the destination port), so its verdict on a
 * packet cut short inside the fields read depends on the optimizer.
 */
function tcpdumpSelect(expr: string, optimised = false, file = capture): number[] {
  const out = path(`td-${tdCount++}`);
  const r = spawnSync('tcpdump', [...(optimised ? [] : ['-O']), '-r', file, '-w', out, '--', expr], { encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) {
    if (/expression rejects all packets/.test(r.stderr)) return [];
    throw new Error(`tcpdump failed on '${expr}': ${r.stderr.trim()}`);
  }
  return readPcap(out).packets.map((p) => indexOf(p.tsNs));
}

/**
 * Runs a capture through one IPClassifier([expr, '-']) per expression; returns output 0's indexes per expression.
 * `frame`: straight from FromPcap (the frame as tcpdump sees it; the network header follows the
 * link header); `marked`: behind VLANDecap and MarkIPHeader(14), as a router front does it.
 */
async function engineSelect(exprs: string[], pipeline: 'frame' | 'marked' = 'frame', file = capture): Promise<{ sel: number[][]; rest: number[][]; counters: Record<string, Record<string, number>> }> {
  const outs = exprs.map((_, i) => [path(`e${tdCount}-${i}-0`), path(`e${tdCount}-${i}-1`)]);
  tdCount++;
  const s = await runGraph(() => {
    exprs.forEach((e, i) => {
      const src = FromPcap({ file, burst: 64 });
      const front = pipeline === 'frame' ? src : src.to(VLANDecap()).to(MarkIPHeader({ offset: 14 }));
      const c = front.to(IPClassifier({ patterns: [e, '-'] }, `cl${i}`));
      c.out(0).to(ToPcap({ file: outs[i][0] }));
      c.out(1).to(ToPcap({ file: outs[i][1] }));
    });
  }, { timeoutSeconds: 60 });
  return {
    sel: outs.map((o) => readPcap(o[0]).packets.map((p) => indexOf(p.tsNs))),
    rest: outs.map((o) => readPcap(o[1]).packets.map((p) => indexOf(p.tsNs))),
    counters: s.elements,
  };
}

function sameSelection(t: Test, got: number[], want: number[], what: string) {
  const g = new Set(got), w = new Set(want);
  const extra = got.filter((i) => !w.has(i)).slice(0, 5);
  const missing = want.filter((i) => !g.has(i)).slice(0, 5);
  t.ok(extra.length === 0 && missing.length === 0 && got.length === want.length,
    `${what}: ${want.length} packets as tcpdump` + (extra.length || missing.length ? ` (extra ${extra.join(',')}; missing ${missing.join(',')})` : ''));
}

const EXPRESSIONS = [
  'ip', 'ip6', 'arp', 'tcp', 'udp', 'icmp', 'icmp6', 'sctp', 'igmp', 'not ip', 'ip and not tcp', 'esp or ah',
  'host 198.18.0.1', 'src host 198.18.0.1', 'dst host 198.18.0.2', 'host 198.18.0.1 or 198.18.0.2', 'src and dst host 198.18.0.3',
  'src or dst host 198.18.0.3', 'ip host 198.18.0.1', 'arp host 198.18.0.2', 'ip src 198.19.5.5', 'dst 198.18.1.9',
  'net 198.18.0.0/16', 'net 198.19', 'dst net 198.18.0.0 mask 255.255.255.0', 'not net 198.18.0.0/24', 'src net 198.18.0.0/15 and not 198.18.0.1',
  'port 80', 'port 80 or 443', 'tcp port 443', 'udp port 53', 'src port 1024', 'dst port 22', 'portrange 1000-2000', 'tcp dst portrange 20-100',
  'src and dst port 80', 'not port 53', 'sctp port 8080', 'udp src port 65535 or dst port 53',
  'tcp[tcpflags] & (tcp-syn|tcp-ack) != 0', 'tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0', 'tcp[13] = 18',
  'tcp[tcpflags] & (tcp-fin|tcp-rst) != 0', 'not tcp[13] & 2 != 0', 'tcp[tcpflags] & (tcp-ece|tcp-cwr) != 0',
  'icmp[icmptype] == icmp-echo', 'icmp[icmptype] = icmp-echoreply or icmp[icmptype] = icmp-unreach', 'icmp[0] != 8', 'icmp[icmpcode] > 1',
  'icmp6[icmp6type] == icmp6-echo', 'icmp6 and ip6[40] = 135', 'icmp6[0] = icmp6-neighboradvert',
  'ip[0] & 0xf > 5', 'ip[0] & 0xf != 5', 'ip[2:2] - ((ip[0]&0xf)<<2) > 100', 'ip[6:2] & 0x1fff != 0', 'ip[6] & 0x20 != 0', 'ip[8] < 32',
  'ip[1] & 0xfc == 0xb8', 'ip[12:4] = 0xc6120001', 'udp[4:2] > 100', 'tcp[(tcp[12] >> 4) * 4 + 1] > 0x80', 'ip[0] > ip[8]', 'ip[2:2] % 7 = 3',
  'ip[2:2] / 64 >= 2', 'ip[4:2] ^ 0xffff < 0x8000',  '-ip[8] > 0xffffff00 and ip', 'ip6[7] == 1', 'ip6[4:2] > 100',
  'len > 200', 'len <= 100', 'less 80', 'greater 300', 'len - 14 > ip[2:2]',
  'vlan', 'vlan 5', 'vlan and ip', 'vlan 100 and tcp port 80', 'vlan and host 198.18.0.1', 'not vlan', 'vlan and ip6', 'vlan 5 or vlan 100',
  'proto 17', 'ip proto 6', 'ip6 proto 58', 'ip proto \\icmp', 'proto 132', 'ip proto 47', 'ip6 proto \\tcp',
  'ip6 host fd00::1', 'host fd00::2', 'net fd00::/8', 'src net fd12::/16', 'ip6 and tcp', 'ip6 and port 80', 'ip6 and not ip6 dst host fd00::1',
  'dst net fd00:1::/32 or src host fdff::99', 'host fd00::1 and host fd00::2',
  'tcp or udp and not port 53', '(tcp or udp) and host 198.18.0.1', 'not (tcp or icmp)', '! tcp && ! udp', 'tcp || icmp6',
  'host 198.18.0.1 and not port 22', 'not host 198.18.0.1 and not 198.18.0.2', '(ip[0] & 0xf) << 2 > 20', '((tcp))',
  'net 198.18/15', 'net 198.18.0.0/23', 'dst host 198.18.0.2 and src host 198.18.0.1', 'tcp src port 80 or dst port 22', 'port 80 and not 443',
  'icmp6 and icmp6[icmp6type] = icmp6-neighborsolicit', 'ip[ip[0] & 0xf] = 1', 'udp[8:4] = 0', 'tcp[13] = tcp-syn|tcp-ack',
  'ip proto 132 and sctp[0:2] > 1000', 'len >= 0x40 and len < 0100', 'ip and ip[2:2] + 14 < len', 'vlan and vlan', 'igmp[0] != 0',
  'ip6 and ip6[6] == 44', 'tcp and ip6', 'ip6 and (tcp or udp) and port 80', 'arp and not arp src 198.18.0.1', 'rarp or arp dst host 198.18.0.3',
  'tcp[(tcp[12] >> 4) * 4] = 0x47 or udp', 'not (tcp[13] & 2 != 0) and ip', 'ip6 and net fd00::/16 and not ip6 src fd00::1',
];

// The primitives the Click conformance work added (issue 9): link layer, broadcast and
// multicast, protochain, service names, one-port ranges, short masks and abbreviations,
// and the frames where tcpdump looks only at the type field.
const LINK_EXPRESSIONS = [
  'ether host 02:00:00:00:00:01', 'ether src 02:00:00:00:00:05', 'ether dst ff:ff:ff:ff:ff:ff', 'ether src or dst 0a:00:00:00:00:01',
  'ether src and dst 02:00:00:00:00:02', 'ether host 02:00:00:00:00:01 or 02:00:00:00:00:05', 'not ether src 02:00:00:00:00:01',
  'ether dst 33:33:00:00:00:01 and ip6', 'vlan and ether src 02:00:00:00:00:05', 'ether src 02:00:00:00:00:05 and vlan 100',
  'ether broadcast', 'broadcast', 'multicast', 'ether multicast', 'multicast and not broadcast', 'ip multicast', 'ip6 multicast',
  'ip and not ether multicast', 'not multicast', 'vlan and broadcast',
  'ether proto 0x800', 'ether proto \\ip6', 'ether proto \\arp', 'ether proto 0x88a8', 'ether proto \\stp', 'ether proto \\iso',
  'ether proto 6', 'ether proto 0x42 or ether proto 0xaa', 'vlan and ether proto 0x800', 'not ether proto \\ip',
  'ether[0] & 1 != 0', 'ether[12:2] = 0x8100', 'ether[6:4] = 0x00000001', 'link[14] = 0x42', 'ether[12:2] < 1500', 'ether[10:4] & 0xffff = 0x0800',
  'not vlan', 'not ip', 'not arp', 'not (ip or ip6)', 'len < 14', 'less 13 or not vlan', 'vlan or ip', 'not (vlan or ip)', 'not (vlan 5 or vlan 100)', 'not vlan 100',
  'ip and ip[0] >> 4 != 4', 'ip and not ip6', 'ip and tcp and ip[0] & 0xf0 = 0x60', 'ip6 and ip6[0] & 0xf0 != 0x60',
  'protochain 6', 'ip6 protochain 6', 'ip protochain 6', 'ip6 protochain 17', 'protochain 59', 'ip6 protochain 58', 'ip6 protochain 44',
  'ip6 protochain 0', 'ip6 protochain 51', 'not protochain 6', 'ip6 protochain \\tcp', 'protochain 6 and not tcp',
  'tcp portrange 25', 'portrange 80', 'udp portrange 53', 'portrange 1000-1000', 'port smtp', 'port domain', 'tcp port http',
  'port smtp or domain', 'portrange ftp-smtp', 'src port https', 'udp port domain', 'not port domain',
  'net 198.18.0.0 mask 255.255', 'dst net 198.19.0.0 mask 255.255', 'net 198.18.0.0 mask 255.255.255', 'host 198.18', 'net 198', 'host 198.18.0',
  'net 198.18/16', 'ip net 198.19', 'host 3323068417',
  'net fd00::/16', 'src net fd12::/16', 'net fd00::/8', 'ip6 net fd00::/64', 'host fd00::1', 'ip6 dst net ff00::/8', 'dst host ff02::1',
  'net ::/0', 'ip6 and not net fd00::/16',
];

// tcpdump keeps only the left operand's protocol check in binary arithmetic, so these read
// bytes of every packet: on a VLAN-tagged frame, 14 bytes into the frame (in the tag), as
// here; after `vlan`, 18 bytes in, even on an untagged frame.
const QUIRKS = ['0 - ip[8] > 0xffffff00', '1 + tcp[0] > 2 and udp', '3 * ip[8] > 200', '0 | ip6[8] = 0xfd', 'vlan or 0 - ip[8] > 0xffffff00',
  'vlan or 0 - tcp[2:2] < 0xfffffc00', 'vlan or ip or ip6 and ip6[6] = 6', 'not vlan and vlan or ip protochain 6'];

t.test('tcpdump quirk: the right operand of arithmetic has no protocol check', { skip: noTcpdump }, async (t) => {
  const { sel } = await engineSelect(QUIRKS);
  QUIRKS.forEach((e, i) => sameSelection(t, sel[i], tcpdumpSelect(e), `'${e}'`));
});

/** Compares one pipeline's verdicts on `exprs` with tcpdump's (-O, and optimised on frames not cut short). */
async function compareWithTcpdump(t: Test, exprs: string[], pipeline: 'frame' | 'marked') {
  const { sel, rest, counters } = await engineSelect(exprs, pipeline);
  const seen = pipeline === 'frame' ? (_: number) => true : (x: number) => marked.has(x);
  const nseen = pipeline === 'frame' ? frames.length : passed.size;
  const whole = (x: number) => !truncated.has(x) && seen(x);
  let verdicts = 0;
  exprs.forEach((e, i) => {
    const what = `'${e}'${pipeline === 'marked' ? ' behind VLANDecap and MarkIPHeader' : ''}`;
    sameSelection(t, sel[i].filter(seen), tcpdumpSelect(e).filter(seen), what);
    sameSelection(t, sel[i].filter(whole), tcpdumpSelect(e, true).filter(whole), `${what}, optimised tcpdump, packets not cut short`);
    t.equal(sel[i].length + rest[i].length, nseen, `${what}: every packet on output 0 or 1`);
    t.equal(counters[`cl${i}`].packets, nseen, `${what}: packets counted`);
    verdicts += pipeline === 'frame' ? frames.length : marked.size;
  });
  return verdicts;
}

t.test('IPClassifier selects exactly what tcpdump selects', { skip: noTcpdump }, async (t) => {
  t.ok(EXPRESSIONS.length >= 60, `${EXPRESSIONS.length} expressions`);
  const n = (await compareWithTcpdump(t, EXPRESSIONS, 'frame')) + (await compareWithTcpdump(t, EXPRESSIONS, 'marked'));
  t.ok(n > 100_000, `${n} verdicts compared`);
  // The capture has what the expressions need to mean something.
  const count = (e: string) => tcpdumpSelect(e).length;
  for (const e of ['vlan', 'ip[6:2] & 0x1fff != 0', 'ip[0] & 0xf > 5', 'arp', 'ip6 proto 44', 'port 80', 'host 198.18.0.1'])
    t.ok(count(e) > 3, `the capture has packets for '${e}'`);
});

t.test('link layer, protochain, service names and short frames as tcpdump', { skip: noTcpdump }, async (t) => {
  await compareWithTcpdump(t, LINK_EXPRESSIONS, 'frame');
  await compareWithTcpdump(t, LINK_EXPRESSIONS, 'marked');
  // The capture has what the new primitives need to mean something.
  const count = (e: string) => tcpdumpSelect(e).length;
  for (const e of ['ether broadcast', 'multicast and not broadcast', 'ether proto \\stp', 'ip6 protochain 6 and not ip6 proto 6', 'ip protochain 6 and ip proto 51',
    'ip and ip[0] >> 4 != 4', 'ip6 multicast', 'ip multicast', 'vlan and vlan', 'ether[12:2] = 0x9100'])
    t.ok(count(e) > 2, `the capture has packets for '${e}'`);
  t.ok(frames.filter((f) => f.length < 14).length > 5, 'the capture has frames shorter than an Ethernet header');
  // Frames cut inside the IPv6 addresses that tcpdump -O rejects for a /16 (it loads all four words) but a reading of the prefix alone would take.
  const cut = frames.map((f, i) => i).filter((i) => truncated.has(i) && typeAt12(frames[i]) === 0x86dd && frames[i].length < 14 + 24 && frames[i].length >= 14 + 12);
  t.ok(cut.length > 2, `${cut.length} IPv6 frames cut inside the source address`);
});

t.test('packets without a link header: the IP version names the family (raw IP capture)', { skip: noTcpdump }, async (t) => {
  // The IP packets of the capture (and IPv4 headers of other versions), as a raw-IP capture: tcpdump checks the version here too.
  const ipOnly = frames.filter((f, i) => !truncated.has(i) && [0x0800, 0x86dd].includes(typeAt12(f))).map((f) => f.subarray(14));
  const raw = path('raw');
  writePcap(raw, ipOnly.map((data) => ({ data })), { linktype: LINKTYPE_RAW });
  const exprs = ['ip', 'ip6', 'not ip', 'tcp', 'udp and port 53', 'host 198.18.0.1', 'net fd00::/16', 'protochain 6', 'ip multicast', 'ip proto 51', 'port domain', 'len > 100'];
  const { sel, rest } = await engineSelect(exprs, 'frame', raw);
  exprs.forEach((e, i) => {
    sameSelection(t, sel[i], tcpdumpSelect(e, false, raw), `'${e}' on raw IP`);
    t.equal(sel[i].length + rest[i].length, ipOnly.length, `'${e}': every packet on output 0 or 1`);
  });
  t.ok(ipOnly.some((f) => f[0] >> 4 !== 4 && f[0] >> 4 !== 6), 'the raw capture has IP headers of other versions');
  // Link-layer primitives read the MAC header annotation: without one they reject the packet, negated or not.
  const { sel: none } = await engineSelect(['ether src 02:00:00:00:00:01 or not ether src 02:00:00:00:00:01', 'broadcast or not broadcast', 'not ether[0] = 0'], 'frame', raw);
  none.forEach((s, i) => t.equal(s.length, 0, `link-layer expression ${i}: no packet without a link header matches`));
});

t.test('hand-made frames: the cases tcpdump decides by the type field and by what it loads', async (t) => {
  const v6 = ether({ type: ETH_IPV6, payload: ipv6({ src: 'fd00::1', dst: 'fd00::2', nextHeader: 59 }) });
  // IPv4 carrying AH whose length sends libpcap's walk back to the AH itself: tcpdump would never return.
  const ah = Buffer.concat([Buffer.from([51, 3]), Buffer.alloc(18)]);
  const loop = ether({ payload: ipv4({ src: '198.18.0.1', dst: '198.18.0.2', proto: 51, payload: ah }) });
  const hand = [
    Buffer.from('02000000000202000000', 'hex'), // 0: 10 bytes, no type field
    ether({ payload: ipv4({ src: '198.18.0.1', dst: '198.18.0.2', version: 6 }) }), // 1: version 6 under EtherType IPv4
    v6.subarray(0, 14 + 8 + 6), // 2: cut inside the source address, after its first 6 bytes
    loop, // 3
  ];
  const file = path('hand');
  writePcap(file, hand.map((data) => ({ data })));
  const exprs = ['not vlan', 'not ip', 'ip', 'ip6', 'net fd00::/16', 'not net fd00::/16', 'protochain 6', 'not protochain 6'];
  const { sel } = await engineSelect(exprs, 'frame', file);
  const got = Object.fromEntries(exprs.map((e, i) => [e, sel[i]]));
  t.same(got['not vlan'], [1, 2, 3], "'not vlan' rejects a frame without a type field");
  t.same(got['not ip'], [2], "'not ip' too; IPv6 is not ip");
  t.same(got.ip, [1, 3], "'ip' is the EtherType, whatever the version");
  t.same(got.ip6, [2], "'ip6' needs only the EtherType");
  t.same(got['net fd00::/16'], [], 'a /16 still loads the whole address: the cut frame is rejected');
  t.same(got['not net fd00::/16'], [1, 3], 'rejected under not as well');
  t.same(got['protochain 6'], [], 'a looping AH chain ends and rejects');
  t.same(got['not protochain 6'], [1, 2], 'rejected under not as well (frame 1 ends on UDP, frame 2 on no next header)');
  if (haveTcpdump) {
    // tcpdump agrees on the frames it can finish (not on the loop, where it never returns).
    const finite = path('hand-finite');
    writePcap(finite, hand.slice(0, 3).map((data) => ({ data })));
    for (const e of exprs) t.same(tcpdumpSelect(e, false, finite), got[e].filter((i) => i < 3), `'${e}' on frames 0-2: as tcpdump -O`);
  }
});

// Random combinations of primitives.
const ATOMS = [
  'tcp', 'udp', 'icmp', 'icmp6', 'ip', 'ip6', 'arp', 'host 198.18.0.1', 'src host 198.18.0.2', 'dst net 198.19.0.0/16', 'net 198.18.0.0/24',
  'port 80', 'src port 443', 'dst portrange 1000-2000', 'udp port 53', 'tcp[tcpflags] & tcp-syn != 0', 'icmp[icmptype] = icmp-echo',
  'ip[8] > 64', 'ip[0] & 0xf > 5', 'len > 150', 'less 120', 'host fd00::1', 'src net fd12::/16', 'ip6 and ip6[7] < 100', 'proto 17',
  'ip[6:2] & 0x1fff = 0', 'greater 90', 'ip[1] != 0', 'broadcast', 'multicast', 'ether src 02:00:00:00:00:05', 'protochain 6', 'port domain',
  'ether proto 0x800', 'vlan', 'net fd00::/16', 'ether[12:2] > 1500',
];
function randomExpr(depth: number): string {
  if (depth === 0 || rand() < 0.3) return (rand() < 0.2 ? 'not ' : '') + pick(ATOMS);
  const a = randomExpr(depth - 1), b = randomExpr(depth - 1);
  const op = pick(['and', 'or', '&&', '||']);
  const e = rand() < 0.5 ? `(${a}) ${op} (${b})` : `${a} ${op} ${b}`;
  return rand() < 0.15 ? `not (${e})` : e;
}

t.test('random expressions agree with tcpdump', { skip: noTcpdump }, async (t) => {
  const exprs = Array.from({ length: 60 }, (_, i) => (i % 10 === 9 ? `vlan and (${randomExpr(2)})` : randomExpr(3)));
  t.ok(truncated.size > 5, `the capture has ${truncated.size} packets cut short`);
  await compareWithTcpdump(t, exprs, 'frame');
  await compareWithTcpdump(t, exprs, 'marked');
});

t.test('IPClassifier with several patterns: first match wins, the rest dropped and counted', { skip: noTcpdump }, async (t) => {
  const patterns = ['tcp port 80 or 443', 'icmp or icmp6', 'udp', 'host 198.18.0.1', 'vlan 5'];
  const outs = patterns.map((_, i) => path(`multi-${i}`));
  const s = await runGraph(() => {
    const c = FromPcap({ file: capture }).to(IPClassifier({ patterns }, 'multi'));
    outs.forEach((f, i) => c.out(i).to(ToPcap({ file: f })));
  });
  const sets = patterns.map((p) => new Set(tcpdumpSelect(p)));
  const want: number[][] = patterns.map(() => []);
  let unmatched = 0;
  frames.forEach((_, idx) => {
    const k = sets.findIndex((s) => s.has(idx));
    if (k >= 0) want[k].push(idx);
    else unmatched++;
  });
  outs.forEach((f, i) => sameSelection(t, readPcap(f).packets.map((p) => indexOf(p.tsNs)), want[i], `output ${i} ('${patterns[i]}')`));
  t.equal(s.elements.multi.drops_no_match, unmatched, 'drops_no_match counts the packets no pattern matched');
  t.equal(s.elements.multi.packets, frames.length, 'packets counts every packet');
  t.ok(unmatched > 0 && want.every((w) => w.length > 0), 'every output and the drop see packets');
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
});

t.test('IPFilter: rules in order, allow/deny/drop/N, counters', { skip: noTcpdump }, async (t) => {
  const rules = ['deny src host 198.18.0.1', 'allow tcp', '1 udp port 53 or icmp6', 'drop icmp', 'allow ip6', '2 arp'];
  const outs = [0, 1, 2].map((i) => path(`filter-${i}`));
  const s = await runGraph(() => {
    const f = FromPcap({ file: capture }).to(IPFilter({ rules }, 'filter'));
    outs.forEach((o, i) => f.out(i).to(ToPcap({ file: o })));
  });
  const action = [-1, 0, 1, -1, 0, 2];
  const sets = rules.map((r) => new Set(tcpdumpSelect(r.replace(/^\S+\s+/, ''))));
  const want: number[][] = [[], [], []];
  let dropped = 0, noMatch = 0;
  frames.forEach((_, idx) => {
    const k = sets.findIndex((s) => s.has(idx));
    if (k < 0) noMatch++;
    else if (action[k] < 0) dropped++;
    else want[action[k]].push(idx);
  });
  outs.forEach((f, i) => sameSelection(t, readPcap(f).packets.map((p) => indexOf(p.tsNs)), want[i], `output ${i}`));
  t.equal(s.elements.filter.drops_denied, dropped, 'drops_denied counts packets deny/drop rules took');
  t.equal(s.elements.filter.drops_no_match, noMatch, 'drops_no_match counts packets no rule took');
  t.equal(s.elements.filter.packets, frames.length, 'packets counts every packet');
  t.ok(dropped > 0 && noMatch > 0, 'both kinds of drop happen');
});

t.test('the program handler prints the DAG', async (t) => {
  const plan = compile(graph('handler', () => {
    FromPcap({ file: capture, active: false }).to(IPFilter({ rules: ['deny tcp port 22', 'allow tcp[tcpflags] & tcp-syn != 0', 'allow ip6'] }, 'f')).to(Discard());
  }));
  const rt = new Runtime({ threads: 1 });
  try {
    const text = rt.load(plan).read('f', 'program');
    t.match(text, /^entry: node \d+\n/, 'the entry first');
    t.match(text, /13 trans\[1\] 2 & 0 != \? output 0/, 'a node: postfix code, comparison, successors');
    t.match(text, /drop \(rule\)/, 'deny rules drop');
    t.match(text, /drop \(no match\)/, 'no match drops');
    t.match(text, /type0/, 'context values by name');
  } finally {
    rt.close();
  }
});

t.test("Click's rule spellings: true, false, a bare action, no rules", async (t) => {
  const s = await runGraph(() => {
    FromPcap({ file: capture }).to(IPFilter({ rules: [] }, 'none'));
    FromPcap({ file: capture }).to(IPClassifier({ patterns: [] }, 'nopatterns'));
    FromPcap({ file: capture }).to(IPFilter({ rules: ['allow false', 'allow false or true'] }, 'ft')).to(Discard({}, 'ft0'));
    FromPcap({ file: capture }).to(IPFilter({ rules: ['drop tcp', 'allow'] }, 'bare')).to(Discard({}, 'bare0'));
    FromPcap({ file: capture }).to(IPFilter({ rules: ['allow not true', 'drop'] }, 'dropall')).to(Discard({}, 'dropall0'));
    const c = FromPcap({ file: capture }).to(IPClassifier({ patterns: ['false', 'true and ip', 'any'] }, 'cl'));
    [0, 1, 2].forEach((i) => c.out(i).to(Discard({}, `cl${i}`)));
  });
  const e = s.elements;
  const nip = tcpdumpCount('ip');
  t.equal(e.none.drops_no_match, frames.length, 'IPFilter() drops every packet as drops_no_match');
  t.equal(e.nopatterns.drops_no_match, frames.length, 'IPClassifier() drops every packet as drops_no_match');
  t.equal(e.ft0.packets, frames.length, "'allow false or true' takes every packet 'allow false' did not");
  t.equal(e.bare.drops_denied + e.bare0.packets, frames.length, "'allow' alone takes every packet 'drop tcp' left");
  t.ok(e.bare.drops_denied > 0 && e.bare0.packets > 0, 'both rules took packets');
  t.equal(e.dropall.drops_denied, frames.length, "'drop' alone drops every packet");
  t.equal(e.cl0.packets ?? 0, 0, "'false' matches nothing");
  if (nip !== undefined) t.equal(e.cl1.packets, nip, "'true and ip' is 'ip'");
  t.equal((e.cl1.packets ?? 0) + (e.cl2.packets ?? 0), frames.length, "'any' takes the rest");
});

t.test('IPFilter and IPClassifier configs are checked at compile time', async (t) => {
  const bad = (build: () => void, re: RegExp, what: string) => {
    try {
      compile(graph('bad', build));
      t.fail(`${what}: compiled`);
    } catch (e) {
      t.ok(e instanceof GraphError, `${what}: a graph error`);
      t.match((e as Error).message, re, what);
    }
  };
  const src = () => FromPcap({ file: capture });
  bad(() => { src().to(IPClassifier({ patterns: ['ppp host 02:00:00:00:00:01', '-'] }, 'c')).to(Discard()); },
    /element 'c' \(IPClassifier\).*pattern 0 \('ppp host 02:00:00:00:00:01'\): 'ppp' at position 0: 'ppp' is not supported/, 'other link types named');
  bad(() => { const c = src().to(IPClassifier({ patterns: ['tcp and port nosuchservice', '-'] }, 'c')); c.out(0).to(Discard()); c.out(1).to(Discard()); },
    /pattern 0 .*'nosuchservice' at position 13: unknown port 'nosuchservice' \(not in \/etc\/services\)/, 'unknown service name named with its position');
  bad(() => { src().to(IPFilter({ rules: ['allow udp port smtp'] }, 'f')).to(Discard()); }, /'smtp' at position 15: port 'smtp' is tcp/, 'a service of the other protocol');
  bad(() => { src().to(IPFilter({ rules: ['allow ip broadcast'] }, 'f')).to(Discard()); }, /'ip broadcast' needs the network's netmask/, 'ip broadcast refused with the reason');
  bad(() => { src().to(IPFilter({ rules: ['allow vlan and vlan and vlan'] }, 'f')).to(Discard()); }, /at most 2 vlan primitives/, 'three vlan levels');
  bad(() => { src().to(IPFilter({ rules: ['drop tcp', 'allow'] }, 'f')); }, /rule 1 \('allow'\) sends to output 0 but the element has 0 output/, "'allow' needs an output");
  bad(() => { const c = src().to(IPClassifier({ patterns: ['tcp', 'udp'] }, 'c')); c.out(0).to(Discard()); },
    /2 pattern\(s\) but 1 output\(s\)/, 'pattern count must equal outputs');
  bad(() => { src().to(IPFilter({ rules: ['allow tcp', '3 udp'] }, 'f')).to(Discard()); }, /rule 1 \('3 udp'\) sends to output 3 but the element has 1 output/, 'rule output must exist');
  bad(() => { src().to(IPFilter({ rules: ['permit tcp'] }, 'f')).to(Discard()); }, /rule 0 .*starts with allow, deny, drop or an output number/, 'unknown action');
  bad(() => { src().to(IPFilter({ rules: ['allow tcp port 80 )'] }, 'f')).to(Discard()); }, /rule 0 .*'\)' at position 18/, 'stray parenthesis with its position');
  bad(() => { src().to(IPClassifier({ patterns: ['-'], program: 'pgf1 0 -1' }, 'c')).to(Discard()); }, /'program' is filled in by the compiler/, 'program is not for users');
  // A good config carries the program in the plan.
  const plan = compile(graph('good', () => { src().to(IPFilter({ rules: ['allow tcp'] }, 'f')).to(Discard()); }));
  const f = plan.elements.find((e) => e.name === 'f')!;
  t.match(String(f.config.program), /^pgf1 \d+ /, 'the plan carries the compiled program');
});
