// DHCPv4 messages (RFC 2131/2132) for tests: requests as a client sends them, and a parse of
// the answers a server sends.
import { ether, ipv4, udp, mac, ip4, ipToString, PROTO_UDP, ETH_IPV4 } from './packets.js';

export const DHCP = { DISCOVER: 1, OFFER: 2, REQUEST: 3, DECLINE: 4, ACK: 5, NAK: 6, RELEASE: 7, INFORM: 8 } as const;

export interface DhcpRequest {
  type: number;
  chaddr: string;
  xid?: number;
  ciaddr?: string;
  giaddr?: string;
  broadcast?: boolean;
  requested?: string;
  serverId?: string;
  /** Options as written, replacing the usual ones (malformed messages). */
  rawOptions?: Buffer;
  cookie?: number;
}

/** A client's request in an Ethernet frame from chaddr, 0.0.0.0:68 (or ciaddr) to 255.255.255.255:67. */
export function dhcpRequest(r: DhcpRequest): Buffer {
  const b = Buffer.alloc(240);
  b[0] = 1;
  b[1] = 1;
  b[2] = 6;
  b.writeUInt32BE(r.xid ?? 0x1234, 4);
  if (r.broadcast) b.writeUInt16BE(0x8000, 10);
  ip4(r.ciaddr ?? '0.0.0.0').copy(b, 12);
  ip4(r.giaddr ?? '0.0.0.0').copy(b, 24);
  mac(r.chaddr).copy(b, 28);
  b.writeUInt32BE(r.cookie ?? 0x63825363, 236);
  const opts: number[] = [53, 1, r.type];
  if (r.requested) opts.push(50, 4, ...ip4(r.requested));
  if (r.serverId) opts.push(54, 4, ...ip4(r.serverId));
  opts.push(255);
  const body = Buffer.concat([b, r.rawOptions ?? Buffer.from(opts)]);
  const src = r.ciaddr ?? '0.0.0.0';
  return ether({
    src: r.chaddr,
    dst: 'ff:ff:ff:ff:ff:ff',
    type: ETH_IPV4,
    payload: ipv4({ src, dst: '255.255.255.255', proto: PROTO_UDP, payload: udp({ sport: 68, dport: 67, src, dst: '255.255.255.255', payload: body }) }),
  });
}

export interface DhcpReply {
  dstMac: string;
  srcMac: string;
  srcIp: string;
  dstIp: string;
  sport: number;
  dport: number;
  op: number;
  xid: number;
  ciaddr: string;
  yiaddr: string;
  chaddr: string;
  type: number;
  options: Map<number, Buffer>;
}

const macText = (b: Buffer) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');

/** An answer frame (Ethernet, IPv4 without options, UDP, BOOTP). */
export function parseDhcpReply(f: Buffer): DhcpReply {
  const ip = 14;
  const u = ip + 20;
  const bp = u + 8;
  const options = new Map<number, Buffer>();
  for (let o = bp + 240; o < f.length && f[o] !== 255; ) {
    if (f[o] === 0) {
      o++;
      continue;
    }
    options.set(f[o], f.subarray(o + 2, o + 2 + f[o + 1]));
    o += 2 + f[o + 1];
  }
  return {
    dstMac: macText(f.subarray(0, 6)),
    srcMac: macText(f.subarray(6, 12)),
    srcIp: ipToString(f.subarray(ip + 12, ip + 16)),
    dstIp: ipToString(f.subarray(ip + 16, ip + 20)),
    sport: f.readUInt16BE(u),
    dport: f.readUInt16BE(u + 2),
    op: f[bp],
    xid: f.readUInt32BE(bp + 4),
    ciaddr: ipToString(f.subarray(bp + 12, bp + 16)),
    yiaddr: ipToString(f.subarray(bp + 16, bp + 20)),
    chaddr: macText(f.subarray(bp + 28, bp + 34)),
    type: options.get(53)?.[0] ?? 0,
    options,
  };
}

/** An option holding IPv4 addresses, as text. */
export const optAddrs = (b: Buffer | undefined) => (b ? Array.from({ length: b.length / 4 }, (_, i) => ipToString(b.subarray(4 * i, 4 * i + 4))) : []);
