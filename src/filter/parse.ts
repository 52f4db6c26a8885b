// tcpdump (pcap-filter(7)) expressions parsed into a boolean tree of comparisons.
//
// The parser expands every primitive into what libpcap's code generator tests, in the
// same order, so an expression means what it means to tcpdump: `host A` also matches ARP
// and RARP frames naming A, `port` only matches first fragments and finds the transport
// header from the IHL, IPv6 `port` does not chase extension headers while IPv6 `tcp`
// looks through one fragment header, `tcp[...]` is IPv4 only, `and` and `or` have equal
// precedence and associate left to right, and `vlan` shifts every primitive after it to
// the frame inside the tag. Leaves are comparisons of arithmetic over packet bytes and
// per-packet context values (see compile.ts for how they are evaluated).

export class FilterSyntaxError extends Error {
  constructor(
    readonly reason: string,
    readonly token: string,
    readonly position: number,
  ) {
    super(token ? `'${token}' at position ${position}: ${reason}` : `at position ${position}: ${reason}`);
  }
}

/** Per-packet values the evaluator provides (the numbers are part of the program format). */
export const CTX = { len: 0, family: 1, vid0: 2, vid1: 3 } as const;
/** Load bases: the network header, or the IPv4 transport header (network header + 4 * the low nibble of its first byte, as BPF's `ldxb 4*([k]&0xf)`, whatever the packet). */
export const BASE = { net: 0, trans: 1 } as const;
/** Family codes in the `family` context value; the VLAN tag count is added times FAMILY_TAG. */
export const FAMILY = { ip: 4, ip6: 6, arp: 0x0806, rarp: 0x8035 } as const;
export const FAMILY_TAG = 0x10000;

export type Arith =
  | { k: 'num'; v: number }
  | { k: 'ctx'; which: number }
  | { k: 'load'; base: number; off: Arith; size: 1 | 2 | 4 }
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

type TokKind = 'num' | 'addr4' | 'addr6' | 'word' | 'name' | 'op' | 'end';
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
      out.push({ kind: 'addr6', text: m[0], pos: i });
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
// Byte-expression protocols: [family guard, base]. Transport ones are IPv4 first fragments only (as libpcap).
const LOAD_PROTOS = new Set(['ip', 'ip6', 'tcp', 'udp', 'icmp', 'sctp', 'igmp', 'pim', 'vrrp', 'icmp6']);
const QUAL_PROTOS = new Set(['ip', 'ip6', 'arp', 'rarp', 'tcp', 'udp', 'sctp', 'icmp', 'icmp6', 'igmp', 'pim', 'vrrp', 'ah', 'esp']);
const UNSUPPORTED = new Set([
  'ether', 'link', 'ppp', 'slip', 'fddi', 'tr', 'wlan', 'decnet', 'atalk', 'aarp', 'ipx', 'iso', 'esis', 'isis', 'clnp', 'stp',
  'netbeui', 'lat', 'mopdl', 'moprc', 'sca', 'gateway', 'broadcast', 'multicast', 'protochain', 'mpls', 'pppoed', 'pppoes',
  'geneve', 'inbound', 'outbound', 'ifname', 'on', 'rnr', 'rulenum', 'reason', 'rset', 'srnr', 'subrulenum', 'action', 'type',
  'subtype', 'dir', 'ra', 'ta', 'addr1', 'addr2', 'addr3', 'addr4', 'llc', 'atmfield', 'vpi', 'vci', 'lane', 'oamf4', 'oam',
  'metac', 'bcc', 'sc', 'ilmic', 'connectmsg', 'metaconnect', 'hdpc', 'fisu', 'lssu', 'msu', 'sio', 'opc', 'dpc', 'sls',
  'igrp', 'carp', 'heartbeat', 'l1', 'l2', 'iih', 'lsp', 'snp', 'csnp', 'psnp', 'sl', 'mask6', 'gre',
]);

// ---- helpers building conditions ----

const num = (v: number): Arith => ({ k: 'num', v: v >>> 0 });
const ctx = (which: number): Arith => ({ k: 'ctx', which });
const load = (base: number, off: number | Arith, size: 1 | 2 | 4): Arith => ({ k: 'load', base, off: typeof off === 'number' ? num(off) : off, size });
const test = (a: Arith, op: RelOp, b: Arith): Cond => ({ k: 'test', a, op, b });
const and = (a: Cond, b: Cond): Cond => ({ k: 'and', a, b });
const or = (a: Cond, b: Cond): Cond => ({ k: 'or', a, b });
const not = (a: Cond): Cond => ({ k: 'not', a });
const anyOf = (cs: Cond[]): Cond => cs.reduce((x, y) => or(x, y));
const allOf = (cs: Cond[]): Cond => cs.reduce((x, y) => and(x, y));
const masked = (a: Arith, mask: number): Arith => (mask >>> 0 === 0xffffffff ? a : { k: 'bin', op: '&', a, b: num(mask) });

export function parseIPv4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length < 1 || parts.length > 4 || parts.some((p) => !/^[0-9]+$/.test(p) || Number(p) > 255)) return undefined;
  return parts.map(Number);
}

export function parseIPv6(text: string): number[] | undefined {
  let s = text;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    // An embedded IPv4 address (::ffff:198.18.0.1) is two more groups.
    const v4 = parseIPv4(s.slice(lastColon + 1));
    if (!v4 || v4.length !== 4) return undefined;
    s = s.slice(0, lastColon + 1) + ((v4[0] << 8) | v4[1]).toString(16) + ':' + ((v4[2] << 8) | v4[3]).toString(16);
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string) => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]);
  const back = halves.length === 2 ? groups(halves[1]) : [];
  if ([...head, ...back].some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  const total = head.length + back.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const words = [...head, ...new Array(8 - total).fill('0'), ...back].map((g) => parseInt(g, 16));
  const bytes: number[] = [];
  for (const w of words) bytes.push(w >> 8, w & 0xff);
  return bytes;
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
      if (LOAD_PROTOS.has(t.text) && this.isOp(n, '[')) return true;
      if ((t.text === 'ether' || t.text === 'link' || t.text === 'arp' || t.text === 'rarp') && this.isOp(n, '['))
        this.fail(t, `'${t.text}[...]' byte expressions are not supported (the filter sees packets from their network header)`);
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
      if (LOAD_PROTOS.has(t.text) && this.isOp(this.peek(), '[')) return this.byteExpr(t);
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
    if (p === 'ip') {
      this.guards.push(this.family('ip'));
      return load(BASE.net, off, size);
    }
    if (p === 'ip6') {
      this.guards.push(this.family('ip6'));
      return load(BASE.net, off, size);
    }
    if (p === 'icmp6') {
      // libpcap: ip6 with next header 58 (no extension headers), then 40 bytes on.
      this.guards.push(and(this.family('ip6'), test(load(BASE.net, 6, 1), '==', num(58))));
      return load(BASE.net, { k: 'bin', op: '+', a: off, b: num(40) }, size);
    }
    // tcp[], udp[], icmp[] ...: IPv4 with that protocol, first fragment, after the IHL.
    this.guards.push(allOf([this.family('ip'), test(load(BASE.net, 9, 1), '==', num(PROTO_NUMBERS[p])), this.firstFragment()]));
    return load(BASE.trans, off, size);
  }

  // ---- primitives ----

  private family(f: keyof typeof FAMILY): Cond {
    return test(ctx(CTX.family), '==', num(FAMILY[f] + this.vlanDepth * FAMILY_TAG));
  }
  private firstFragment(): Cond {
    return test(masked(load(BASE.net, 6, 2), 0x1fff), '==', num(0));
  }
  // libpcap's `ip6 proto N`: the next header, or one fragment header then N.
  private ip6Proto(n: number): Cond {
    const nxt = load(BASE.net, 6, 1);
    return and(this.family('ip6'), or(test(nxt, '==', num(n)), and(test(nxt, '==', num(44)), test(load(BASE.net, 40, 1), '==', num(n)))));
  }
  private ip4Proto(n: number): Cond {
    return and(this.family('ip'), test(load(BASE.net, 9, 1), '==', num(n)));
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
      this.fail(t, `'${w}' is not supported by IPClassifier/IPFilter (supported: host, net, port, portrange, proto, ip, ip6, arp, rarp, tcp, udp, sctp, icmp, icmp6, igmp, pim, vrrp, ah, esp, vlan, len, less, greater and byte expressions)`);
    if (w === 'less' || w === 'greater') {
      this.next();
      const n = this.next();
      if (n.kind !== 'num') this.fail(n, `'${w}' needs a length in bytes`);
      return test(ctx(CTX.len), w === 'less' ? '<=' : '>=', num(n.value!));
    }
    if (w === 'vlan') {
      this.next();
      const depth = this.vlanDepth;
      if (depth >= 2) this.fail(t, 'at most two vlan primitives (802.1ad + 802.1Q) are supported in one expression');
      const tagged = test(ctx(CTX.family), '>=', num((depth + 1) * FAMILY_TAG));
      let c = tagged;
      if (this.peek().kind === 'num') {
        const id = this.next();
        if (id.value! > 4095) this.fail(id, 'a VLAN id must be from 0 to 4095');
        c = and(tagged, test(ctx(depth === 0 ? CTX.vid0 : CTX.vid1), '==', num(id.value!)));
      }
      this.vlanDepth++;
      return c;
    }
    const q: Quals = {};
    if (QUAL_PROTOS.has(w)) {
      this.next();
      q.proto = w;
      const n = this.peek();
      if (this.isWord(n, 'proto')) {
        this.next();
        return this.protoPrimitive(w, n);
      }
      if (!this.isWord(n, 'src', 'dst', 'host', 'net', 'port', 'portrange')) {
        this.last = undefined;
        return this.protoKeyword(w);
      }
    }
    if (this.isWord(this.peek(), 'proto')) {
      const pt = this.next();
      return this.protoPrimitive(undefined, pt);
    }
    if (this.isWord(this.peek(), 'src', 'dst')) {
      const d = this.next().text as 'src' | 'dst';
      const a = this.peek(), b = this.peek(1);
      if (this.isWord(a, 'or', 'and') && this.isWord(b, d === 'src' ? 'dst' : 'src')) {
        this.next();
        this.next();
        q.dir = a.text === 'or' ? 'src or dst' : 'src and dst';
      } else q.dir = d;
    }
    if (this.isWord(this.peek(), 'host', 'net', 'port', 'portrange')) q.type = this.next().text as Quals['type'];
    const idTok = this.peek();
    if (idTok.kind === 'word' && !q.type && !q.dir && !q.proto) this.fail(idTok, 'unknown primitive or keyword (host names are not supported: give the address)');
    return this.qualifiedId(q);
  }

  private protoPrimitive(proto: string | undefined, at: Tok): Cond {
    const n = this.next();
    let v: number;
    if (n.kind === 'num') v = n.value!;
    else if (n.kind === 'name' && n.text.slice(1) in PROTO_NUMBERS) v = PROTO_NUMBERS[n.text.slice(1)];
    else if (n.kind === 'word' && n.text in PROTO_NUMBERS) this.fail(n, `write '\\${n.text}' (protocol names after 'proto' need a backslash, as in tcpdump)`);
    else this.fail(n, "'proto' needs a protocol number or a name like \\tcp");
    if (v > 255) this.fail(n, 'a protocol number must be from 0 to 255');
    this.last = undefined;
    if (proto === 'ip') return this.ip4Proto(v);
    if (proto === 'ip6') return this.ip6Proto(v);
    if (proto === undefined) return or(this.ip4Proto(v), this.ip6Proto(v));
    this.fail(at, `'${proto} proto' is not valid: use 'ip proto', 'ip6 proto' or 'proto'`);
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
    const type = q.type ?? (this.isOp(this.peek(), '/') || this.isWord(this.peek(), 'mask') ? 'net' : 'host');
    if (type === 'port' || type === 'portrange') return this.portPrimitive(q, type, t);
    if (t.kind === 'addr4' || (t.kind === 'num' && type === 'net')) return this.host4(q, type, t);
    if (t.kind === 'addr6') return this.host6(q, type, t);
    if (t.kind === 'num') this.fail(t, `a ${type} needs an address`);
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
    const text = t.kind === 'num' ? String(t.value) : t.text;
    const parts = t.kind === 'num' ? [t.value!] : parseIPv4(t.text);
    if (!parts || parts.some((p) => p > 255)) this.fail(t, 'not a valid IPv4 address');
    let addr = 0;
    for (let i = 0; i < 4; i++) addr = (addr * 256 + (parts[i] ?? 0)) >>> 0;
    let mask = 0xffffffff;
    if (type === 'host') {
      if (parts.length !== 4) this.fail(t, 'a host address needs four parts (use net for a network)');
    } else {
      mask = parts.length === 4 ? 0xffffffff : (0xffffffff << (32 - 8 * parts.length)) >>> 0;
      if (this.isOp(this.peek(), '/')) {
        this.next();
        const l = this.next();
        if (l.kind !== 'num' || l.value! > 32) this.fail(l, 'a prefix length must be from 0 to 32');
        // An abbreviated address stands for its leading bytes (198.18/15 = 198.18.0.0/15), as in libpcap.
        mask = l.value === 0 ? 0 : (0xffffffff << (32 - l.value!)) >>> 0;
      } else if (this.isWord(this.peek(), 'mask')) {
        this.next();
        const m = this.next();
        const mp = m.kind === 'addr4' ? parseIPv4(m.text) : undefined;
        if (!mp || mp.length !== 4) this.fail(m, "'mask' needs a dotted-quad mask like 255.255.0.0");
        mask = mp.reduce((x, y) => (x * 256 + y) >>> 0, 0);
      }
      if ((addr & ~mask) >>> 0 !== 0) this.fail(t, `non-network bits set in '${text}' for that mask`);
    }
    const proto = q.proto;
    if (proto && !['ip', 'arp', 'rarp'].includes(proto)) this.fail(t, `'${proto} ${type}' is not valid: ${type} takes ip, arp or rarp (or nothing)`);
    const cmp = (off: number) => test(masked(load(BASE.net, off, 4), mask), '==', num(addr & mask));
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
    const words: { off: number; mask: number; value: number }[] = [];
    for (let w = 0; w < 4; w++) {
      const bits = Math.max(0, Math.min(32, plen - 32 * w));
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      const value = ((bytes[4 * w] << 24) | (bytes[4 * w + 1] << 16) | (bytes[4 * w + 2] << 8) | bytes[4 * w + 3]) >>> 0;
      if ((value & ~mask) >>> 0 !== 0) this.fail(t, `non-network bits set in '${t.text}/${plen}'`);
      if (mask) words.push({ off: 4 * w, mask, value });
    }
    const cmp = (base: number) =>
      words.length === 0 ? ({ k: 'true' } as Cond) : allOf(words.map((w) => test(masked(load(BASE.net, base + w.off, 4), w.mask), '==', num(w.value))));
    return and(this.family('ip6'), this.dirCond(q.dir, () => cmp(8), () => cmp(24)));
  }

  private portPrimitive(q: Quals, type: 'port' | 'portrange', t: Tok): Cond {
    if (t.kind === 'word') this.fail(t, 'port names are not supported: give the port number');
    if (t.kind !== 'num' || t.value! > 65535) this.fail(t, 'a port must be a number from 0 to 65535');
    let lo = t.value!, hi = lo;
    if (type === 'portrange') {
      this.expectOp('-');
      const h = this.next();
      if (h.kind !== 'num' || h.value! > 65535) this.fail(h, 'a port must be a number from 0 to 65535');
      hi = h.value!;
      if (hi < lo) [lo, hi] = [hi, lo];
    }
    const proto = q.proto;
    if (proto && !['tcp', 'udp', 'sctp'].includes(proto)) this.fail(t, `illegal qualifier of '${type}': '${proto}' (use tcp, udp, sctp or nothing)`);
    const protos = proto ? [PROTO_NUMBERS[proto]] : [132, 6, 17];
    const portCmp = (base: number, off: number) => {
      const v = load(base, off, 2);
      return type === 'port' ? test(v, '==', num(lo)) : and(test(v, '>=', num(lo)), test(v, '<=', num(hi)));
    };
    const ports = (base: number, at: number) => this.dirCond(q.dir, () => portCmp(base, at), () => portCmp(base, at + 2));
    const v6 = and(this.family('ip6'), and(anyOf(protos.map((p) => test(load(BASE.net, 6, 1), '==', num(p)))), ports(BASE.net, 40)));
    const v4 = and(this.family('ip'), and(anyOf(protos.map((p) => test(load(BASE.net, 9, 1), '==', num(p)))), and(this.firstFragment(), ports(BASE.trans, 0))));
    return or(v6, v4);
  }
}

/** Parses a tcpdump expression; throws FilterSyntaxError naming the token and its position. */
export function parseFilter(text: string): Cond {
  return new Parser(text).parse();
}
