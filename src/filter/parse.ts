// tcpdump (pcap-filter(7)) expressions parsed into a boolean tree of comparisons.
//
// The parser expands every primitive into what libpcap's code generator tests, in the
// same order, so an expression means what it means to tcpdump: `host A` also matches ARP
// and RARP frames naming A, `port` only matches first fragments and finds the transport
// header from the IHL, IPv6 `port` does not chase extension headers while IPv6 `tcp`
// looks through one fragment header, `tcp[...]` is IPv4 only, `and` and `or` have equal
// precedence and associate left to right, and `vlan` shifts every primitive after it to
// the frame inside the tag. Protocol tests look only at the EtherType (no IP version
// check), and every load tcpdump makes is made here too, even one a mask makes
// pointless (`net fd00::/16` reads all four words of the address), because a load past
// the end rejects the packet. Leaves are comparisons of arithmetic over packet bytes and
// per-packet context values (see compile.ts for how they are evaluated).
import { readFileSync } from 'node:fs';
import { ipv6Bytes, parseIPv6 as parseIPv6Value } from '../util/address.js';

export class FilterSyntaxError extends Error {
  constructor(
    readonly reason: string,
    readonly token: string,
    readonly position: number,
  ) {
    super(token ? `'${token}' at position ${position}: ${reason}` : `at position ${position}: ${reason}`);
  }
}

/**
 * Per-packet values the evaluator provides (the numbers are part of the program format):
 * `len`, the frame length; `type0..2`, the 16-bit type field after 0, 1 and 2 VLAN tags (the
 * EtherType or a tag's TPID: the bytes tcpdump reads at 12, 16 and 20); `vid0..1`, the VLAN
 * id of the first and second tag. Every value but `len` can be missing (the frame is too
 * short to hold it), and a comparison reading a missing value fails like a load past the end.
 */
export const CTX = { len: 0, type0: 1, type1: 2, type2: 3, vid0: 4, vid1: 5 } as const;
/**
 * Load bases: the network header; the IPv4 transport header (network header + 4 * the low
 * nibble of its first byte, as BPF's `ldxb 4*([k]&0xf)`, whatever the packet); the link
 * header (the Ethernet header from the MAC header annotation, with a tag VLANDecap moved
 * into the VLAN annotation put back in place, as tcpdump saw the frame).
 */
export const BASE = { net: 0, trans: 1, link: 2 } as const;
/** The EtherTypes of the families. */
export const ETHERTYPE = { ip: 0x0800, ip6: 0x86dd, arp: 0x0806, rarp: 0x8035 } as const;
/** The tag protocol identifiers tcpdump's `vlan` accepts, in its order. */
const TPIDS = [0x8100, 0x88a8, 0x9100];
/** The deepest VLAN nesting an expression may step into. */
const MAX_VLAN_DEPTH = 2;

export type Arith =
  | { k: 'num'; v: number }
  | { k: 'ctx'; which: number }
  // `depth`: the VLAN tags the primitive stepped into; a network or transport load is from
  // the frame's 14 + 4 * depth, as tcpdump reads it, whatever tags the frame really has.
  | { k: 'load'; base: number; off: Arith; size: 1 | 2 | 4; depth: number }
  // tcpdump's protochain walk over the IPv4 (4) or IPv6 (6) header chain, stopping at `v`:
  // the protocol it ends on (see filter_program.h).
  | { k: 'chain'; family: 4 | 6; v: number; depth: number }
  | { k: 'bin'; op: BinOp; a: Arith; b: Arith }
  | { k: 'neg'; a: Arith };
export type BinOp = '+' | '-' | '*' | '/' | '%' | '&' | '|' | '^' | '<<' | '>>';
export type RelOp = '==' | '!=' | '<' | '<=' | '>' | '>=';

export type Cond =
  | { k: 'true' }
  | { k: 'false' }
  | { k: 'test'; a: Arith; op: RelOp; b: Arith }
  | { k: 'and' | 'or'; a: Cond; b: Cond }
  | { k: 'not'; a: Cond };

// ---- lexer ----

type TokKind = 'num' | 'addr4' | 'addr6' | 'mac' | 'word' | 'name' | 'op' | 'end';
interface Tok {
  kind: TokKind;
  text: string;
  pos: number;
  value?: number;
}

const OPS = ['&&', '||', '!=', '==', '<=', '>=', '<<', '>>', '(', ')', '[', ']', ':', '!', '=', '<', '>', '&', '|', '+', '-', '*', '/', '%', '^'];

function lex(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  let brackets = 0; // inside [...] a colon separates offset and size, never an IPv6 address
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const rest = src.slice(i);
    let m: RegExpMatchArray | null;
    if (brackets === 0 && (m = rest.match(/^[0-9a-fA-F]*:[0-9a-fA-F:.]*/)) && m[0].includes(':') && /^[0-9a-fA-F:.]+$/.test(m[0]) && m[0].length > 1) {
      // Six groups of one or two hex digits is an Ethernet address (tcpdump's lexer agrees).
      out.push({ kind: /^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}$/.test(m[0]) ? 'mac' : 'addr6', text: m[0], pos: i });
      i += m[0].length;
      continue;
    }
    if ((m = rest.match(/^0[xX][0-9a-fA-F]+/))) {
      out.push({ kind: 'num', text: m[0], pos: i, value: parseInt(m[0].slice(2), 16) });
      i += m[0].length;
      continue;
    }
    if ((m = rest.match(/^[0-9]+(\.[0-9]+)*/))) {
      if (/^[0-9]+(\.[0-9]+)*[A-Za-z_]/.test(rest)) {
        const w = rest.match(/^[0-9A-Za-z_.]+/)![0];
        throw new FilterSyntaxError('not a number or address (host names are not supported: give the address)', w, i);
      }
      const t = m[0];
      if (t.includes('.')) out.push({ kind: 'addr4', text: t, pos: i });
      else {
        const v = t.length > 1 && t[0] === '0' ? parseInt(t, 8) : parseInt(t, 10);
        if (!Number.isFinite(v) || v > 0xffffffff || (t[0] === '0' && /[89]/.test(t)))
          throw new FilterSyntaxError('not a valid 32-bit number', t, i);
        out.push({ kind: 'num', text: t, pos: i, value: v });
      }
      i += t.length;
      continue;
    }
    if ((m = rest.match(/^[A-Za-z_][A-Za-z0-9_]*((-[A-Za-z]|\.[A-Za-z0-9_])[A-Za-z0-9_]*)*/))) {
      out.push({ kind: 'word', text: m[0], pos: i });
      i += m[0].length;
      continue;
    }
    if ((m = rest.match(/^\\[A-Za-z][A-Za-z0-9]*/))) {
      out.push({ kind: 'name', text: m[0], pos: i });
      i += m[0].length;
      continue;
    }
    const op = OPS.find((o) => rest.startsWith(o));
    if (!op) throw new FilterSyntaxError('unexpected character', c, i);
    if (op === '[') brackets++;
    if (op === ']') brackets = Math.max(0, brackets - 1);
    out.push({ kind: 'op', text: op, pos: i });
    i += op.length;
  }
  out.push({ kind: 'end', text: '', pos: src.length });
  return out;
}

// ---- names ----

const PROTO_NUMBERS: Record<string, number> = {
  icmp: 1, igmp: 2, tcp: 6, udp: 17, esp: 50, ah: 51, icmp6: 58, pim: 103, vrrp: 112, sctp: 132,
};
// Which families a protocol keyword covers (libpcap: icmp, igmp, vrrp are IPv4 only; icmp6 IPv6 only).
const PROTO_FAMILIES: Record<string, ('ip' | 'ip6')[]> = {
  icmp: ['ip'], igmp: ['ip'], vrrp: ['ip'], icmp6: ['ip6'],
  tcp: ['ip', 'ip6'], udp: ['ip', 'ip6'], sctp: ['ip', 'ip6'], esp: ['ip', 'ip6'], ah: ['ip', 'ip6'], pim: ['ip', 'ip6'],
};
const NAMED_CONSTANTS: Record<string, number> = {
  icmptype: 0, icmpcode: 1, icmp6type: 0, icmp6code: 1, tcpflags: 13,
  'tcp-fin': 0x01, 'tcp-syn': 0x02, 'tcp-rst': 0x04, 'tcp-push': 0x08, 'tcp-ack': 0x10, 'tcp-urg': 0x20, 'tcp-ece': 0x40, 'tcp-cwr': 0x80,
  'icmp-echoreply': 0, 'icmp-unreach': 3, 'icmp-sourcequench': 4, 'icmp-redirect': 5, 'icmp-echo': 8, 'icmp-routeradvert': 9,
  'icmp-routersolicit': 10, 'icmp-timxceed': 11, 'icmp-paramprob': 12, 'icmp-tstamp': 13, 'icmp-tstampreply': 14,
  'icmp-ireq': 15, 'icmp-ireqreply': 16, 'icmp-maskreq': 17, 'icmp-maskreply': 18,
  'icmp6-destinationunreach': 1, 'icmp6-packettoobig': 2, 'icmp6-timeexceeded': 3, 'icmp6-parameterproblem': 4,
  'icmp6-echo': 128, 'icmp6-echoreply': 129, 'icmp6-multicastlistenerquery': 130, 'icmp6-multicastlistenerreportv1': 131,
  'icmp6-multicastlistenerdone': 132, 'icmp6-routersolicit': 133, 'icmp6-routeradvert': 134, 'icmp6-neighborsolicit': 135,
  'icmp6-neighboradvert': 136, 'icmp6-redirect': 137,
};
// `ether proto \NAME`: libpcap's table of Ethernet types and LLC SAPs.
const ETHER_PROTO_NAMES: Record<string, number> = {
  aarp: 0x80f3, arp: 0x0806, atalk: 0x809b, decnet: 0x6003, ip: 0x0800, ip6: 0x86dd, lat: 0x6004, loopback: 0x9000,
  mopdl: 0x6001, moprc: 0x6002, rarp: 0x8035, sca: 0x6007, iso: 0xfe, stp: 0x42, ipx: 0xe0, netbeui: 0xf0,
};
// Types libpcap matches through 802.2 LLC/SNAP encapsulations as well (IPX, AppleTalk, AARP): not supported.
const LLC_SPECIAL = new Set([0xe0, 0x809b, 0x80f3]);
// LLC SAPs libpcap checks in both DSAP and SSAP (OSI, IP over 802.2, NetBEUI).
const LLC_BOTH_SAPS = new Set([0xfe, 0x06, 0xf0]);

// ---- services (port names) ----

/** Where tcpdump (getaddrinfo) finds service names; a test may point it elsewhere. */
export const SERVICES_FILE = { path: '/etc/services' };
let services: { path: string; tcp: Map<string, number>; udp: Map<string, number> } | undefined;

/** The TCP and UDP ports of a service name, read from the services table once (names and aliases, the first entry winning, as getaddrinfo). */
function serviceTable(): { tcp: Map<string, number>; udp: Map<string, number> } {
  if (services && services.path === SERVICES_FILE.path) return services;
  let text: string;
  try {
    text = readFileSync(SERVICES_FILE.path, 'utf8');
  } catch {
    throw new Error(`port names need the services table ${SERVICES_FILE.path}, which cannot be read (on Debian it comes with the netbase package): install it or give the port number`);
  }
  const tcp = new Map<string, number>(), udp = new Map<string, number>();
  for (const line of text.split('\n')) {
    const fields = line.replace(/#.*/, '').trim().split(/\s+/);
    const m = fields.length >= 2 ? /^([0-9]+)\/(tcp|udp)$/.exec(fields[1]) : null;
    if (!m) continue;
    const table = m[2] === 'tcp' ? tcp : udp;
    for (const name of [fields[0], ...fields.slice(2)]) if (!table.has(name)) table.set(name, Number(m[1]));
  }
  services = { path: SERVICES_FILE.path, tcp, udp };
  return services;
}

/** libpcap's pcap_nametoport: the port and its protocol (6, 17, or undefined for both when TCP and UDP agree). */
function servicePort(name: string): { port: number; proto: number | undefined } | undefined {
  const { tcp, udp } = serviceTable();
  const t = tcp.get(name), u = udp.get(name);
  if (t !== undefined) return { port: t, proto: u === t ? undefined : 6 };
  if (u !== undefined) return { port: u, proto: 17 };
  return undefined;
}

// Byte-expression protocols: [family guard, base]. Transport ones are IPv4 first fragments only (as libpcap).
const LOAD_PROTOS = new Set(['ip', 'ip6', 'tcp', 'udp', 'icmp', 'sctp', 'igmp', 'pim', 'vrrp', 'icmp6']);
const QUAL_PROTOS = new Set(['ip', 'ip6', 'arp', 'rarp', 'tcp', 'udp', 'sctp', 'icmp', 'icmp6', 'igmp', 'pim', 'vrrp', 'ah', 'esp']);
const UNSUPPORTED = new Set([
  'ppp', 'slip', 'fddi', 'tr', 'wlan', 'decnet', 'atalk', 'aarp', 'ipx', 'iso', 'esis', 'isis', 'clnp', 'stp',
  'netbeui', 'lat', 'mopdl', 'moprc', 'sca', 'gateway', 'mpls', 'pppoed', 'pppoes',
  'geneve', 'inbound', 'outbound', 'ifname', 'on', 'rnr', 'rulenum', 'reason', 'rset', 'srnr', 'subrulenum', 'action', 'type',
  'subtype', 'dir', 'ra', 'ta', 'addr1', 'addr2', 'addr3', 'addr4', 'llc', 'atmfield', 'vpi', 'vci', 'lane', 'oamf4', 'oam',
  'metac', 'bcc', 'sc', 'ilmic', 'connectmsg', 'metaconnect', 'hdpc', 'fisu', 'lssu', 'msu', 'sio', 'opc', 'dpc', 'sls',
  'igrp', 'carp', 'heartbeat', 'l1', 'l2', 'iih', 'lsp', 'snp', 'csnp', 'psnp', 'sl', 'mask6', 'gre',
]);

// ---- helpers building conditions ----

const num = (v: number): Arith => ({ k: 'num', v: v >>> 0 });
const ctx = (which: number): Arith => ({ k: 'ctx', which });
const load = (base: number, off: number | Arith, size: 1 | 2 | 4, depth = 0): Arith => ({ k: 'load', base, off: typeof off === 'number' ? num(off) : off, size, depth });
const test = (a: Arith, op: RelOp, b: Arith): Cond => ({ k: 'test', a, op, b });
const and = (a: Cond, b: Cond): Cond => ({ k: 'and', a, b });
const or = (a: Cond, b: Cond): Cond => ({ k: 'or', a, b });
const not = (a: Cond): Cond => ({ k: 'not', a });
const anyOf = (cs: Cond[]): Cond => cs.reduce((x, y) => or(x, y));
const allOf = (cs: Cond[]): Cond => cs.reduce((x, y) => and(x, y));
const masked = (a: Arith, mask: number): Arith => (mask >>> 0 === 0xffffffff ? a : { k: 'bin', op: '&', a, b: num(mask) });

// IPv4 in tcpdump's filter syntax, deliberately not the shared parser (src/util/address.ts):
// partial forms (`net 10.1`) and leading zeros read as decimal, as libpcap reads them.
export function parseIPv4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length < 1 || parts.length > 4 || parts.some((p) => !/^[0-9]+$/.test(p) || Number(p) > 255)) return undefined;
  return parts.map(Number);
}

// IPv6 as libpcap reads it (through inet_pton): the project's one IPv6 parser.
export function parseIPv6(text: string): number[] | undefined {
  const v = parseIPv6Value(text);
  return v === undefined ? undefined : ipv6Bytes(v);
}

interface Quals {
  proto?: string;
  dir?: 'src' | 'dst' | 'src or dst' | 'src and dst';
  type?: 'host' | 'net' | 'port' | 'portrange';
}

// ---- parser ----

class Parser {
  private toks: Tok[];
  private i = 0;
  private vlanDepth = 0; // tags the primitives parsed so far have stepped into (libpcap's offset shift)
  private last: Quals | undefined; // the qualifiers a bare id inherits (`host a or b`)

  constructor(readonly src: string) {
    this.toks = lex(src);
  }

  private peek(n = 0): Tok {
    return this.toks[Math.min(this.i + n, this.toks.length - 1)];
  }
  private next(): Tok {
    return this.toks[this.i < this.toks.length - 1 ? this.i++ : this.i];
  }
  private isOp(t: Tok, ...ops: string[]) {
    return t.kind === 'op' && ops.includes(t.text);
  }
  private isWord(t: Tok, ...ws: string[]) {
    return t.kind === 'word' && ws.includes(t.text);
  }
  private fail(t: Tok, reason: string): never {
    throw new FilterSyntaxError(t.kind === 'end' ? `${reason} (the expression ended)` : reason, t.text, t.pos);
  }
  private expectOp(op: string): Tok {
    const t = this.next();
    if (!this.isOp(t, op)) this.fail(t, `expected '${op}'`);
    return t;
  }

  parse(): Cond {
    if (this.peek().kind === 'end') this.fail(this.peek(), 'empty expression');
    const c = this.expr();
    const t = this.peek();
    if (t.kind !== 'end') this.fail(t, 'unexpected token: expected and, or, or the end of the expression');
    return c;
  }

  // and/or: equal precedence, left to right (pcap-filter(7)).
  private expr(): Cond {
    let c = this.unary();
    for (;;) {
      const t = this.peek();
      if (this.isWord(t, 'and') || this.isOp(t, '&&')) {
        this.next();
        c = and(c, this.unary());
      } else if (this.isWord(t, 'or') || this.isOp(t, '||')) {
        this.next();
        c = or(c, this.unary());
      } else return c;
    }
  }

  private unary(): Cond {
    const t = this.peek();
    if (this.isWord(t, 'not') || this.isOp(t, '!')) {
      this.next();
      return not(this.unary());
    }
    return this.term();
  }

  private term(): Cond {
    const t = this.peek();
    if (this.isOp(t, '(')) {
      // Either a parenthesised arithmetic operand of a comparison or a parenthesised expression.
      const save = this.i, saveDepth = this.vlanDepth, saveLast = this.last;
      try {
        return this.relation();
      } catch (e) {
        if (!(e instanceof FilterSyntaxError)) throw e;
        this.i = save;
        this.vlanDepth = saveDepth;
        this.last = saveLast;
      }
      this.next();
      const c = this.expr();
      this.expectOp(')');
      return c;
    }
    if (this.startsRelation()) return this.relation();
    return this.primitive();
  }

  private startsRelation(): boolean {
    const t = this.peek(), n = this.peek(1);
    if (this.isOp(t, '-')) return true;
    if (t.kind === 'num') return n.kind === 'op' && !['(', ')', '!', '&&', '||'].includes(n.text);
    if (t.kind === 'word') {
      if (t.text === 'len') return true;
      if (t.text in NAMED_CONSTANTS) return true;
      if ((LOAD_PROTOS.has(t.text) || t.text === 'ether' || t.text === 'link') && this.isOp(n, '[')) return true;
      if ((t.text === 'arp' || t.text === 'rarp') && this.isOp(n, '['))
        this.fail(t, `'${t.text}[...]' byte expressions are not supported: use ether[...] with the offset from the Ethernet header`);
    }
    return false;
  }

  // ---- comparisons: arith relop arith ----

  private guards: Cond[] = [];

  private relation(): Cond {
    this.guards = [];
    const a = this.arith(0);
    const t = this.next();
    const ops: Record<string, RelOp> = { '=': '==', '==': '==', '!=': '!=', '<': '<', '<=': '<=', '>': '>', '>=': '>=' };
    if (t.kind !== 'op' || !(t.text in ops)) this.fail(t, 'expected a comparison (=, ==, !=, <, <=, >, >=)');
    const b = this.arith(0);
    const cmp = test(a, ops[t.text], b);
    const gs = this.guards;
    this.guards = [];
    // Every protocol a byte expression reads from must be present (deduplicated, in order).
    const seen = new Set<string>();
    const unique = gs.filter((g) => {
      const key = JSON.stringify(g);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    return unique.length ? and(allOf(unique), cmp) : cmp;
  }

  // Precedence climbing; levels low to high: | ^, &, << >>, + -, * / %.
  private static LEVELS: string[][] = [['|', '^'], ['&'], ['<<', '>>'], ['+', '-'], ['*', '/', '%']];

  private arith(level: number): Arith {
    if (level >= Parser.LEVELS.length) return this.arithUnary();
    let a = this.arith(level + 1);
    for (;;) {
      const t = this.peek();
      if (!(t.kind === 'op' && Parser.LEVELS[level].includes(t.text))) return a;
      this.next();
      // libpcap keeps only the left operand's protocol checks (gen_arth drops the right
      // one's): `0 - ip[8] > 1` reads byte 8 of any packet's network header.
      const kept = this.guards.length;
      const b = this.arith(level + 1);
      this.guards.length = kept;
      if ((t.text === '/' || t.text === '%') && b.k === 'num' && b.v === 0) this.fail(t, 'division by zero');
      a = { k: 'bin', op: t.text as BinOp, a, b };
    }
  }

  private arithUnary(): Arith {
    const t = this.peek();
    if (this.isOp(t, '-')) {
      this.next();
      return { k: 'neg', a: this.arithUnary() };
    }
    return this.arithAtom();
  }

  private arithAtom(): Arith {
    const t = this.next();
    if (this.isOp(t, '(')) {
      const a = this.arith(0);
      this.expectOp(')');
      return a;
    }
    if (t.kind === 'num') return num(t.value!);
    if (t.kind === 'word') {
      if (t.text === 'len') return ctx(CTX.len);
      if (t.text in NAMED_CONSTANTS) return num(NAMED_CONSTANTS[t.text]);
      if ((LOAD_PROTOS.has(t.text) || t.text === 'ether' || t.text === 'link') && this.isOp(this.peek(), '[')) return this.byteExpr(t);
      if (UNSUPPORTED.has(t.text)) this.fail(t, `'${t.text}' is not supported in byte expressions`);
    }
    this.fail(t, 'expected a number, len, a named constant or a byte expression like ip[0] or tcp[13:1]');
  }

  private byteExpr(proto: Tok): Arith {
    this.expectOp('[');
    const off = this.arith(0);
    let size: 1 | 2 | 4 = 1;
    if (this.isOp(this.peek(), ':')) {
      this.next();
      const s = this.next();
      if (s.kind !== 'num' || ![1, 2, 4].includes(s.value!)) this.fail(s, 'the size of a byte expression must be 1, 2 or 4');
      size = s.value as 1 | 2 | 4;
    }
    this.expectOp(']');
    const p = proto.text;
    // The link header does not move with `vlan` (libpcap's OR_LINKHDR), and needs no family.
    if (p === 'ether' || p === 'link') return load(BASE.link, off, size);
    if (p === 'ip') {
      this.guards.push(this.family('ip'));
      return this.nload(BASE.net, off, size);
    }
    if (p === 'ip6') {
      this.guards.push(this.family('ip6'));
      return this.nload(BASE.net, off, size);
    }
    if (p === 'icmp6') {
      // libpcap: ip6 with next header 58 (no extension headers), then 40 bytes on.
      this.guards.push(and(this.family('ip6'), test(this.nload(BASE.net, 6, 1), '==', num(58))));
      return this.nload(BASE.net, { k: 'bin', op: '+', a: off, b: num(40) }, size);
    }
    // tcp[], udp[], icmp[] ...: IPv4 with that protocol, first fragment, after the IHL.
    this.guards.push(allOf([this.family('ip'), test(this.nload(BASE.net, 9, 1), '==', num(PROTO_NUMBERS[p])), this.firstFragment()]));
    return this.nload(BASE.trans, off, size);
  }

  // ---- primitives ----

  // A load from the network or transport header of the packet inside the tags stepped into so far.
  private nload(base: number, off: number | Arith, size: 1 | 2 | 4): Arith {
    return load(base, off, size, this.vlanDepth);
  }

  // The type field after `vlanDepth` tags: what libpcap's gen_linktype compares.
  private family(f: keyof typeof ETHERTYPE): Cond {
    return this.etherType(ETHERTYPE[f]);
  }
  private etherType(t: number): Cond {
    return test(ctx(CTX.type0 + this.vlanDepth), '==', num(t));
  }
  private firstFragment(): Cond {
    return test(masked(this.nload(BASE.net, 6, 2), 0x1fff), '==', num(0));
  }
  // libpcap's `ip6 proto N`: the next header, or one fragment header then N.
  private ip6Proto(n: number): Cond {
    const nxt = this.nload(BASE.net, 6, 1);
    return and(this.family('ip6'), or(test(nxt, '==', num(n)), and(test(nxt, '==', num(44)), test(this.nload(BASE.net, 40, 1), '==', num(n)))));
  }
  private ip4Proto(n: number): Cond {
    return and(this.family('ip'), test(this.nload(BASE.net, 9, 1), '==', num(n)));
  }
  private protoKeyword(p: string): Cond {
    switch (p) {
      case 'ip':
      case 'ip6':
      case 'arp':
      case 'rarp':
        return this.family(p);
    }
    const n = PROTO_NUMBERS[p];
    const fams = PROTO_FAMILIES[p];
    const parts: Cond[] = [];
    if (fams.includes('ip')) parts.push(this.ip4Proto(n));
    if (fams.includes('ip6')) parts.push(this.ip6Proto(n));
    return anyOf(parts);
  }

  private primitive(): Cond {
    const t = this.peek();
    if (t.kind === 'end') this.fail(t, 'expected a primitive');
    if (t.kind === 'op') this.fail(t, 'expected a primitive');
    if (t.kind !== 'word') return this.bareId();
    const w = t.text;
    if (UNSUPPORTED.has(w))
      this.fail(t, `'${w}' is not supported by IPClassifier/IPFilter (supported: host, net, port, portrange, proto, protochain, ip, ip6, arp, rarp, tcp, udp, sctp, icmp, icmp6, igmp, pim, vrrp, ah, esp, ether, broadcast, multicast, vlan, len, less, greater, true, false and byte expressions)`);
    if (w === 'true' || w === 'false') {
      // Click's constants (tcpdump has none).
      this.next();
      this.last = undefined;
      return { k: w };
    }
    if (w === 'less' || w === 'greater') {
      this.next();
      const n = this.next();
      if (n.kind !== 'num') this.fail(n, `'${w}' needs a length in bytes`);
      return test(ctx(CTX.len), w === 'less' ? '<=' : '>=', num(n.value!));
    }
    if (w === 'vlan') {
      this.next();
      const depth = this.vlanDepth;
      if (depth >= MAX_VLAN_DEPTH) this.fail(t, `at most ${MAX_VLAN_DEPTH} vlan primitives (802.1ad + 802.1Q) are supported in one expression`);
      // libpcap: the type field is one of the TPIDs, then the id from the tag's TCI.
      const type = ctx(CTX.type0 + depth);
      let c = anyOf(TPIDS.map((tpid) => test(type, '==', num(tpid))));
      if (this.peek().kind === 'num') {
        const id = this.next();
        if (id.value! > 4095) this.fail(id, 'a VLAN id must be from 0 to 4095');
        c = and(c, test(ctx(CTX.vid0 + depth), '==', num(id.value!)));
      }
      this.vlanDepth++;
      this.last = undefined;
      return c;
    }
    if (w === 'broadcast' || w === 'multicast') {
      this.next();
      this.last = undefined;
      return w === 'broadcast' ? this.etherBroadcast() : this.etherMulticast();
    }
    if (w === 'ether' || w === 'link') return this.etherPrimitive();
    const q: Quals = {};
    if (QUAL_PROTOS.has(w)) {
      this.next();
      q.proto = w;
      const n = this.peek();
      if (this.isWord(n, 'proto', 'protochain')) {
        this.next();
        return n.text === 'proto' ? this.protoPrimitive(w, n) : this.protochain(w, n);
      }
      if (this.isWord(n, 'broadcast', 'multicast')) {
        this.next();
        this.last = undefined;
        return this.ipCast(w, n);
      }
      if (!this.isWord(n, 'src', 'dst', 'host', 'net', 'port', 'portrange')) {
        this.last = undefined;
        return this.protoKeyword(w);
      }
    }
    if (this.isWord(this.peek(), 'proto', 'protochain')) {
      const pt = this.next();
      return pt.text === 'proto' ? this.protoPrimitive(undefined, pt) : this.protochain(undefined, pt);
    }
    if (this.isWord(this.peek(), 'src', 'dst')) q.dir = this.direction();
    if (this.isWord(this.peek(), 'host', 'net', 'port', 'portrange')) q.type = this.next().text as Quals['type'];
    const idTok = this.peek();
    if (idTok.kind === 'word' && !q.type && !q.dir && !q.proto) {
      // A bare name after a qualified primitive takes its qualifiers (`port smtp or domain`).
      if (this.last) return this.qualifiedId({ ...this.last });
      this.fail(idTok, 'unknown primitive or keyword (host names are not supported: give the address)');
    }
    return this.qualifiedId(q);
  }

  private direction(): Quals['dir'] {
    const d = this.next().text as 'src' | 'dst';
    const a = this.peek(), b = this.peek(1);
    if (this.isWord(a, 'or', 'and') && this.isWord(b, d === 'src' ? 'dst' : 'src')) {
      this.next();
      this.next();
      return a.text === 'or' ? 'src or dst' : 'src and dst';
    }
    return d;
  }

  // ---- link layer ----

  // `ether [src|dst|...] [host] MAC`, `ether proto N`, `ether broadcast|multicast`.
  private etherPrimitive(): Cond {
    const t = this.next();
    const n = this.peek();
    if (this.isWord(n, 'proto')) {
      this.next();
      this.last = undefined;
      return this.etherProto(this.next());
    }
    if (this.isWord(n, 'broadcast', 'multicast')) {
      this.next();
      this.last = undefined;
      return n.text === 'broadcast' ? this.etherBroadcast() : this.etherMulticast();
    }
    const q: Quals = { proto: 'ether' };
    if (this.isWord(this.peek(), 'src', 'dst')) q.dir = this.direction();
    if (this.isWord(this.peek(), 'host')) {
      this.next();
      q.type = 'host';
    } else if (this.isWord(this.peek(), 'net', 'port', 'portrange')) this.fail(this.peek(), `'${t.text} ${this.peek().text}' is not valid: ${t.text} takes host, proto, broadcast or multicast`);
    if (this.peek().kind !== 'mac' && !q.dir && !q.type) this.fail(t, `'${t.text}' needs host, src, dst, proto, broadcast, multicast or [offset]`);
    return this.qualifiedId(q);
  }

  // libpcap's gen_bcmp: compare the 6 bytes at `off` as a word at off + 2, then a half-word at off.
  private macAt(off: number, mac: number[]): Cond {
    const w = ((mac[2] << 24) | (mac[3] << 16) | (mac[4] << 8) | mac[5]) >>> 0;
    return and(test(load(BASE.link, off + 2, 4), '==', num(w)), test(load(BASE.link, off, 2), '==', num((mac[0] << 8) | mac[1])));
  }

  private etherHost(q: Quals, t: Tok): Cond {
    const mac = t.text.split(':').map((x) => parseInt(x, 16));
    return this.dirCond(q.dir, () => this.macAt(6, mac), () => this.macAt(0, mac));
  }

  private etherBroadcast(): Cond {
    return this.macAt(0, [255, 255, 255, 255, 255, 255]);
  }

  private etherMulticast(): Cond {
    return test(masked(load(BASE.link, 0, 1), 1), '!=', num(0));
  }

  // `ip multicast`, `ip6 multicast`; `ip broadcast` needs the netmask, which tcpdump refuses too when it has none.
  private ipCast(proto: string, t: Tok): Cond {
    if (t.text === 'broadcast') {
      if (proto === 'ip')
        this.fail(t, "'ip broadcast' needs the network's netmask, which a filter here (like tcpdump reading a file) does not know: write 'ip dst host 255.255.255.255' or test the host part with ip[16:4]");
      this.fail(t, `'${proto} broadcast' is not valid: use 'ether broadcast' (or 'broadcast')`);
    }
    if (proto === 'ip') return and(this.family('ip'), test(this.nload(BASE.net, 16, 1), '>=', num(224)));
    if (proto === 'ip6') return and(this.family('ip6'), test(this.nload(BASE.net, 24, 1), '==', num(255)));
    this.fail(t, `'${proto} multicast' is not valid: use 'ether multicast', 'ip multicast' or 'ip6 multicast'`);
  }

  // libpcap's gen_ether_linktype: an EtherType, or an 802.2 LLC SAP when at most 1500.
  private etherProto(n: Tok): Cond {
    let v: number;
    if (n.kind === 'num') v = n.value!;
    else if (n.kind === 'name' && n.text.slice(1) in ETHER_PROTO_NAMES) v = ETHER_PROTO_NAMES[n.text.slice(1)];
    else if (n.kind === 'word' && n.text in ETHER_PROTO_NAMES) this.fail(n, `write '\\${n.text}' (protocol names after 'proto' need a backslash, as in tcpdump)`);
    else this.fail(n, `'ether proto' needs an EtherType or a name like \\arp (${Object.keys(ETHER_PROTO_NAMES).join(', ')})`);
    if (v > 0xffff) this.fail(n, 'an EtherType must be from 0 to 0xffff');
    if (LLC_SPECIAL.has(v)) this.fail(n, 'IPX, AppleTalk and AARP (matched by tcpdump in 802.2 LLC and SNAP frames too) are not supported: compare ether[...] bytes');
    const type = ctx(CTX.type0 + this.vlanDepth);
    if (v > 1500) return test(type, '==', num(v));
    // An 802.3 frame (a length, not a type) whose LLC header names the SAP.
    const llc = 14 + 4 * this.vlanDepth;
    const sap = LLC_BOTH_SAPS.has(v) ? test(load(BASE.link, llc, 2), '==', num((v << 8) | v)) : test(load(BASE.link, llc, 1), '==', num(v));
    return and(not(test(type, '>', num(1500))), sap);
  }

  // ---- IP protocols ----

  private protoPrimitive(proto: string | undefined, at: Tok): Cond {
    const v = this.protoNumber(this.next());
    this.last = undefined;
    if (proto === 'ip') return this.ip4Proto(v);
    if (proto === 'ip6') return this.ip6Proto(v);
    if (proto === undefined) return or(this.ip4Proto(v), this.ip6Proto(v));
    this.fail(at, `'${proto} proto' is not valid: use 'ip proto', 'ip6 proto' or 'proto'`);
  }

  private protoNumber(n: Tok): number {
    let v: number;
    if (n.kind === 'num') v = n.value!;
    else if (n.kind === 'name' && n.text.slice(1) in PROTO_NUMBERS) v = PROTO_NUMBERS[n.text.slice(1)];
    else if (n.kind === 'word' && n.text in PROTO_NUMBERS) this.fail(n, `write '\\${n.text}' (protocol names after 'proto' need a backslash, as in tcpdump)`);
    else this.fail(n, "'proto' needs a protocol number or a name like \\tcp");
    if (v > 255) this.fail(n, 'a protocol number must be from 0 to 255');
    return v;
  }

  // libpcap's gen_protochain: walk IPv6 extension headers (hop-by-hop, destination options,
  // routing, fragment) and AH (IPv4 too) until the protocol is N, no next header, or another
  // protocol; natively, in one node (filter_program.h, protochain()).
  private protochain(proto: string | undefined, at: Tok): Cond {
    const v = this.protoNumber(this.next());
    this.last = undefined;
    const chain = (f: 'ip' | 'ip6') => and(this.family(f), test({ k: 'chain', family: f === 'ip' ? 4 : 6, v, depth: this.vlanDepth }, '==', num(v)));
    if (proto === 'ip' || proto === 'ip6') return chain(proto);
    if (proto === undefined) return or(chain('ip'), chain('ip6'));
    this.fail(at, `'${proto} protochain' is not valid: use 'ip protochain', 'ip6 protochain' or 'protochain'`);
  }

  // A bare id inherits the previous primitive's qualifiers (`host a or b`, `port 80 or 443`).
  private bareId(): Cond {
    const t = this.peek();
    if (this.last) return this.qualifiedId({ ...this.last });
    // As in tcpdump, only a value after a qualified one may stand alone.
    this.fail(t, 'a bare value needs a qualifier before it (host, net, port, portrange, proto, ...)');
  }

  private qualifiedId(q: Quals): Cond {
    const t = this.next();
    this.last = { ...q };
    if (t.kind === 'mac') {
      // tcpdump wants `ether` here; Click takes a bare Ethernet address (`src 0:1:2:3:4:5`).
      if (q.type && q.type !== 'host') this.fail(t, `an Ethernet address after '${q.type}': use 'ether host'`);
      if (q.proto && q.proto !== 'ether') this.fail(t, `an Ethernet address after '${q.proto}': use 'ether host'`);
      return this.etherHost(q, t);
    }
    if (q.proto === 'ether') this.fail(t, t.kind === 'end' ? `expected an Ethernet address (the expression ended)` : "expected an Ethernet address like 02:00:00:00:00:01");
    const type = q.type ?? (this.isOp(this.peek(), '/') || this.isWord(this.peek(), 'mask') ? 'net' : 'host');
    if (type === 'port' || type === 'portrange') return this.portPrimitive(q, type, t);
    if (t.kind === 'addr4' || t.kind === 'num') return this.host4(q, type, t);
    if (t.kind === 'addr6') return this.host6(q, type, t);
    if (t.kind === 'end') this.fail(t, `expected an address after '${type}'`);
    this.fail(t, t.kind === 'word' ? 'host names are not supported: give the address' : `expected an address after '${type}'`);
  }

  private dirCond(dir: Quals['dir'], src: () => Cond, dst: () => Cond): Cond {
    switch (dir) {
      case 'src':
        return src();
      case 'dst':
        return dst();
      case 'src and dst':
        return and(src(), dst());
      default:
        return or(src(), dst());
    }
  }

  private host4(q: Quals, type: 'host' | 'net', t: Tok): Cond {
    let addr: number, mask: number;
    if (t.kind === 'num') {
      // libpcap: a number is a 32-bit host address, or for `net` a network number moved up to
      // the top byte (`net 10` is 10.0.0.0/8).
      addr = t.value! >>> 0;
      mask = 0xffffffff;
      if (type === 'net')
        while (addr && (addr & 0xff000000) === 0) {
          addr = (addr << 8) >>> 0;
          mask = (mask << 8) >>> 0;
        }
    } else {
      const parts = parseIPv4(t.text);
      if (!parts) this.fail(t, 'not a valid IPv4 address');
      // An abbreviated address stands for its leading bytes (198.18 = 198.18.0.0/16), host or net, as in libpcap.
      addr = 0;
      for (let i = 0; i < 4; i++) addr = (addr * 256 + (parts[i] ?? 0)) >>> 0;
      mask = (0xffffffff << (32 - 8 * parts.length)) >>> 0;
    }
    if (this.isOp(this.peek(), '/') || this.isWord(this.peek(), 'mask')) {
      if (t.kind !== 'addr4') this.fail(this.peek(), `a network with '${this.peek().text}' needs a dotted address (${t.text}.0/...)`);
      if (type !== 'net') this.fail(this.peek(), `'${this.peek().text}' is for networks: use 'net'`);
      if (this.isOp(this.next(), '/')) {
        const l = this.next();
        if (l.kind !== 'num' || l.value! > 32) this.fail(l, 'a prefix length must be from 0 to 32');
        mask = l.value === 0 ? 0 : (0xffffffff << (32 - l.value!)) >>> 0;
      } else {
        const m = this.next();
        const mp = m.kind === 'addr4' || m.kind === 'num' ? parseIPv4(m.text) : undefined;
        if (!mp) this.fail(m, "'mask' needs a dotted mask like 255.255.0.0 (or 255.255)");
        // A short mask stands for its leading bytes, as the address does (libpcap).
        mask = mp.reduce((x, y) => (x * 256 + y) >>> 0, 0);
        mask = mp.length === 4 ? mask : (mask * 2 ** (32 - 8 * mp.length)) >>> 0;
      }
      if ((addr & ~mask) >>> 0 !== 0) this.fail(t, `non-network bits set in '${t.text}' for that mask`);
    }
    const proto = q.proto;
    if (proto && !['ip', 'arp', 'rarp'].includes(proto)) this.fail(t, `'${proto} ${type}' is not valid: ${type} takes ip, arp or rarp (or nothing)`);
    const cmp = (off: number) => test(masked(this.nload(BASE.net, off, 4), mask), '==', num(addr & mask));
    const ipPart = () => and(this.family('ip'), this.dirCond(q.dir, () => cmp(12), () => cmp(16)));
    const arpPart = (f: 'arp' | 'rarp') => and(this.family(f), this.dirCond(q.dir, () => cmp(14), () => cmp(24)));
    if (proto === 'ip') return ipPart();
    if (proto === 'arp' || proto === 'rarp') return arpPart(proto);
    // libpcap: an IPv4 host or net also names ARP and RARP sender/target addresses.
    return or(ipPart(), or(arpPart('arp'), arpPart('rarp')));
  }

  private host6(q: Quals, type: 'host' | 'net', t: Tok): Cond {
    const bytes = parseIPv6(t.text);
    if (!bytes) this.fail(t, 'not a valid IPv6 address');
    let plen = 128;
    if (type === 'net') {
      if (this.isOp(this.peek(), '/')) {
        this.next();
        const l = this.next();
        if (l.kind !== 'num' || l.value! > 128) this.fail(l, 'an IPv6 prefix length must be from 0 to 128');
        plen = l.value!;
      }
      if (this.isWord(this.peek(), 'mask')) this.fail(this.peek(), "IPv6 networks take '/LEN', not 'mask'");
    }
    if (q.proto && q.proto !== 'ip6') this.fail(t, `'${q.proto} ${type}' with an IPv6 address: use 'ip6 ${type}' or no qualifier`);
    // libpcap's gen_hostop6 loads all four words, masked ones too: a packet cut short
    // inside the address is rejected even by a /16.
    const words = [0, 1, 2, 3].map((w) => {
      const bits = Math.max(0, Math.min(32, plen - 32 * w));
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      const value = ((bytes[4 * w] << 24) | (bytes[4 * w + 1] << 16) | (bytes[4 * w + 2] << 8) | bytes[4 * w + 3]) >>> 0;
      if ((value & ~mask) >>> 0 !== 0) this.fail(t, `non-network bits set in '${t.text}/${plen}'`);
      return { off: 4 * w, mask, value };
    });
    const cmp = (base: number) => allOf(words.map((w) => test(masked(this.nload(BASE.net, base + w.off, 4), w.mask), '==', num(w.value))));
    return and(this.family('ip6'), this.dirCond(q.dir, () => cmp(8), () => cmp(24)));
  }

  private portPrimitive(q: Quals, type: 'port' | 'portrange', t: Tok): Cond {
    const proto = q.proto;
    if (proto && !['tcp', 'udp', 'sctp'].includes(proto)) this.fail(t, `illegal qualifier of '${type}': '${proto}' (use tcp, udp, sctp or nothing)`);
    let realProto: number | undefined; // a service name's own protocol (libpcap's real_proto)
    const number = (tok: Tok, text = tok.text): number => {
      if (tok.kind === 'num') {
        if (tok.value! > 65535) this.fail(tok, 'a port must be a number from 0 to 65535');
        return tok.value!;
      }
      if (tok.kind !== 'word') this.fail(tok, tok.kind === 'end' ? 'a port must be a number from 0 to 65535' : 'expected a port number or a service name');
      let sp;
      try {
        sp = servicePort(text);
      } catch (e) {
        this.fail(tok, (e as Error).message);
      }
      if (!sp) this.fail(tok, `unknown port '${text}' (not in ${SERVICES_FILE.path}): give the port number`);
      // libpcap: both protocols when TCP and UDP agree; a range of names of different protocols takes both.
      realProto = realProto === undefined || realProto === sp.proto ? sp.proto : undefined;
      return sp.port;
    };
    let lo: number, hi: number;
    if (type === 'portrange' && t.kind === 'word') {
      // `portrange smtp-domain`: libpcap splits a name range at its first '-'.
      const dash = t.text.indexOf('-');
      if (dash < 0) this.fail(t, "a port range is 'LOW-HIGH' (numbers or service names)");
      lo = number(t, t.text.slice(0, dash));
      const r1 = realProto;
      hi = number(t, t.text.slice(dash + 1));
      if (r1 !== realProto) realProto = undefined;
    } else {
      lo = number(t);
      hi = lo;
      // `portrange 25` is the one port, as in libpcap.
      if (type === 'portrange' && this.isOp(this.peek(), '-')) {
        this.next();
        hi = number(this.next());
      }
    }
    if (hi < lo) [lo, hi] = [hi, lo];
    if (realProto !== undefined && proto && PROTO_NUMBERS[proto] !== realProto)
      this.fail(t, `${type === 'port' ? 'port' : 'port in range'} '${t.text}' is ${realProto === 6 ? 'tcp' : 'udp'}`);
    const protos = proto ? [PROTO_NUMBERS[proto]] : realProto !== undefined ? [realProto] : [132, 6, 17];
    const portCmp = (base: number, off: number) => {
      const v = this.nload(base, off, 2);
      return type === 'port' ? test(v, '==', num(lo)) : and(test(v, '>=', num(lo)), test(v, '<=', num(hi)));
    };
    const ports = (base: number, at: number) => this.dirCond(q.dir, () => portCmp(base, at), () => portCmp(base, at + 2));
    const v6 = and(this.family('ip6'), and(anyOf(protos.map((p) => test(this.nload(BASE.net, 6, 1), '==', num(p)))), ports(BASE.net, 40)));
    const v4 = and(this.family('ip'), and(anyOf(protos.map((p) => test(this.nload(BASE.net, 9, 1), '==', num(p)))), and(this.firstFragment(), ports(BASE.trans, 0))));
    return or(v6, v4);
  }
}

/** Parses a tcpdump expression; throws FilterSyntaxError naming the token and its position. */
export function parseFilter(text: string): Cond {
  return new Parser(text).parse();
}
