// Compiles parsed filter rules into the decision DAG the native IPClassifier and IPFilter
// evaluate (elements/lib/filter_program.h).
//
// Each node is one comparison `LHS op RHS`, where both sides are small postfix programs
// over 32-bit unsigned values (constants, bounds-checked loads from the network,
// transport or link header, per-packet context values, arithmetic, tcpdump's protochain
// walk); a node has three successors: comparison true, false, and `fail` (a load ran past
// the end of the packet, a context value the frame is too short to hold, or a division by
// zero). As in BPF, where such a load rejects the whole filter, `fail` leads to the
// next rule, whatever the enclosing and/or/not. Rules are chained in order: a rule's false
// and fail exits enter the next rule, the last one's drop. Nodes are emitted children
// first (every successor has a smaller index, so evaluation always ends) and identical
// nodes are shared.
import { CTX, FilterSyntaxError, parseFilter, type Arith, type Cond, type RelOp } from './parse.js';

export const OP = { const: 0, load: 1, ctx: 2, add: 3, sub: 4, mul: 5, div: 6, mod: 7, and: 8, or: 9, xor: 10, shl: 11, shr: 12, neg: 13, chain: 14 } as const;
export const CMP: Record<RelOp, number> = { '==': 0, '!=': 1, '<': 2, '<=': 3, '>': 4, '>=': 5 };
/** The leaf output meaning "drop". */
export const DROP_OUTPUT = 65535;
/** The leaf output meaning "dropped by a rule" (IPFilter's deny/drop). */
export const DROP_RULE_OUTPUT = 65534;
/** The most nodes and code words a program may have (the native side checks the same). */
export const MAX_NODES = 65536;
export const MAX_CODE = 1 << 20;
/** The deepest evaluation stack a node's code may need (the native side has this many slots). */
export const MAX_STACK = 16;

const BINOPS: Record<string, number> = { '+': OP.add, '-': OP.sub, '*': OP.mul, '/': OP.div, '%': OP.mod, '&': OP.and, '|': OP.or, '^': OP.xor, '<<': OP.shl, '>>': OP.shr };

export interface FilterNode {
  code: number[];
  /** How many code words compute the left operand (the rest the right one). */
  lhsLen: number;
  cmp: number;
  yes: number;
  no: number;
  fail: number;
}
export interface FilterProgram {
  nodes: FilterNode[];
  entry: number;
}

/** A successor: a node index (>= 0) or a leaf, -(output + 1). */
export const leaf = (output: number) => -(output + 1);

function fold(a: Arith): Arith {
  if (a.k === 'bin') {
    const x = fold(a.a), y = fold(a.b);
    if (x.k === 'num' && y.k === 'num' && !((a.op === '/' || a.op === '%') && y.v === 0)) return { k: 'num', v: evalBin(a.op, x.v, y.v) };
    return { ...a, a: x, b: y };
  }
  if (a.k === 'neg') {
    const x = fold(a.a);
    return x.k === 'num' ? { k: 'num', v: -x.v >>> 0 } : { k: 'neg', a: x };
  }
  if (a.k === 'load') return { ...a, off: fold(a.off) };
  return a;
}

/** 32-bit unsigned arithmetic as BPF (and the native evaluator) does it. */
export function evalBin(op: string, x: number, y: number): number {
  switch (op) {
    case '+': return (x + y) >>> 0;
    case '-': return (x - y) >>> 0;
    case '*': return Number((BigInt(x) * BigInt(y)) & 0xffffffffn);
    case '/': return Math.floor(x / y) >>> 0;
    case '%': return x % y >>> 0;
    case '&': return (x & y) >>> 0;
    case '|': return (x | y) >>> 0;
    case '^': return (x ^ y) >>> 0;
    case '<<': return y >= 32 ? 0 : (x << y) >>> 0;
    case '>>': return y >= 32 ? 0 : x >>> y;
  }
  throw new Error(`unknown operator ${op}`);
}

function emit(a: Arith, out: number[]): number {
  // Returns the stack depth the code needs.
  switch (a.k) {
    case 'num':
      out.push(OP.const, a.v >>> 0);
      return 1;
    case 'ctx':
      out.push(OP.ctx | (a.which << 8));
      return 1;
    case 'load': {
      const d = emit(a.off, out);
      out.push(OP.load | (a.base << 8) | (a.depth << 12) | (a.size << 16));
      return d;
    }
    case 'neg': {
      const d = emit(a.a, out);
      out.push(OP.neg);
      return d;
    }
    case 'chain':
      out.push(OP.const, a.v, OP.chain | (a.family << 8) | (a.depth << 12));
      return 1;
    case 'bin': {
      const d1 = emit(a.a, out);
      const d2 = emit(a.b, out);
      out.push(BINOPS[a.op]);
      return Math.max(d1, d2 + 1);
    }
  }
}

export class ProgramTooLarge extends Error {}

class Builder {
  nodes: FilterNode[] = [];
  private unique = new Map<string, number>();
  private codeWords = 0;

  node(t: Extract<Cond, { k: 'test' }>, yes: number, no: number, fail: number): number {
    // The outcome does not matter, but a read past the end still would (it rejects): keep
    // the test only if it reads the packet.
    if (yes === no && yes === fail) return yes;
    if (yes === no && !readsPacket(t.a) && !readsPacket(t.b)) return yes;
    const code: number[] = [];
    const d1 = emit(fold(t.a), code);
    const lhsLen = code.length;
    const d = Math.max(d1, emit(fold(t.b), code) + 1);
    if (d > MAX_STACK) throw new ProgramTooLarge(`an arithmetic expression nests too deeply (at most ${MAX_STACK} levels)`);
    const n: FilterNode = { code, lhsLen, cmp: CMP[t.op], yes, no, fail };
    const key = JSON.stringify(n);
    const seen = this.unique.get(key);
    if (seen !== undefined) return seen;
    if (this.nodes.length >= MAX_NODES || this.codeWords + code.length > MAX_CODE)
      throw new ProgramTooLarge(`the expressions need more than ${MAX_NODES} tests`);
    this.codeWords += code.length;
    this.nodes.push(n);
    this.unique.set(key, this.nodes.length - 1);
    return this.nodes.length - 1;
  }

  gen(c: Cond, yes: number, no: number, fail: number): number {
    switch (c.k) {
      case 'true':
        return yes;
      case 'false':
        return no;
      case 'not':
        return this.gen(c.a, no, yes, fail);
      case 'and':
        return this.gen(c.a, this.gen(c.b, yes, no, fail), no, fail);
      case 'or':
        return this.gen(c.a, yes, this.gen(c.b, yes, no, fail), fail);
      case 'test':
        return this.node(c, yes, no, fail);
    }
  }
}


// Whether evaluating `a` can fail (a load or a context value the packet may lack).
function readsPacket(a: Arith): boolean {
  switch (a.k) {
    case 'load':
    case 'chain':
      return true;
    case 'ctx':
      return a.which !== CTX.len;
    case 'bin':
      return readsPacket(a.a) || readsPacket(a.b) || a.op === '/' || a.op === '%';
    case 'neg':
      return readsPacket(a.a);
    default:
      return false;
  }
}

export interface FilterRule {
  /** The parsed condition; undefined matches every packet. */
  cond: Cond | undefined;
  /** Output index, or DROP_OUTPUT. */
  output: number;
}

/** Builds the program for rules tried in order; a packet no rule takes is dropped. */
export function compileRules(rules: FilterRule[]): FilterProgram {
  const b = new Builder();
  let next = leaf(DROP_OUTPUT);
  for (let i = rules.length - 1; i >= 0; i--) {
    const r = rules[i];
    next = r.cond ? b.gen(r.cond, leaf(r.output), next, next) : leaf(r.output);
  }
  return prune({ nodes: b.nodes, entry: next });
}

// ---- path pruning ----
//
// Rules repeat tests (every `port` checks the family and the protocol; consecutive rules
// check them again). A test that an earlier test on the path already decides is skipped:
// the same comparison again, or `X == K2` after `X == K` held (or failed, with K2 == K).
// The same code reads the same bytes, so a test that succeeded once cannot fail on a read
// later. Nodes reached with different knowledge are copied, within a budget; past it the
// unpruned program is kept.

interface Fact {
  lhs: string; // the left operand's code
  node: string; // the whole comparison
  k: number | undefined; // the constant of an == or != comparison
  eq: boolean | undefined; // whether lhs == k is known true or false
  outcome: boolean;
}

function constRhs(n: FilterNode): number | undefined {
  const rhs = n.code.slice(n.lhsLen);
  return rhs.length === 2 && rhs[0] === OP.const ? rhs[1] : undefined;
}

function decided(n: FilterNode, facts: Fact[]): boolean | undefined {
  const lhs = n.code.slice(0, n.lhsLen).join(',');
  const whole = `${n.cmp}:${n.code.join(',')}`;
  const k = constRhs(n);
  for (const f of facts) {
    if (f.node === whole) return f.outcome;
    if (f.lhs !== lhs || k === undefined || f.k === undefined || f.eq === undefined || (n.cmp !== CMP['=='] && n.cmp !== CMP['!='])) continue;
    let eq: boolean | undefined;
    if (f.eq) eq = k === f.k; // X == f.k: X == k exactly when k == f.k
    else if (k === f.k) eq = false; // X != f.k
    if (eq !== undefined) return n.cmp === CMP['=='] ? eq : !eq;
  }
  return undefined;
}

function factOf(n: FilterNode, outcome: boolean): Fact {
  const k = constRhs(n);
  const isEq = n.cmp === CMP['=='] || n.cmp === CMP['!='];
  return {
    lhs: n.code.slice(0, n.lhsLen).join(','),
    node: `${n.cmp}:${n.code.join(',')}`,
    k: isEq ? k : undefined,
    eq: isEq && k !== undefined ? (n.cmp === CMP['=='] ? outcome : !outcome) : undefined,
    outcome,
  };
}

const MAX_FACTS = 12;

export function prune(p: FilterProgram): FilterProgram {
  const budget = Math.min(MAX_NODES, Math.max(64, p.nodes.length * 4));
  const out: FilterNode[] = [];
  const unique = new Map<string, number>();
  const memo = new Map<string, number>();
  class OverBudget {}
  const walk = (t: number, facts: Fact[]): number => {
    if (t < 0) return t;
    const n = p.nodes[t];
    const d = decided(n, facts);
    if (d !== undefined) return walk(d ? n.yes : n.no, facts);
    const key = `${t}|${facts.map((f) => `${f.node}=${f.outcome}`).join(';')}`;
    const seen = memo.get(key);
    if (seen !== undefined) return seen;
    const keep = facts.length >= MAX_FACTS ? facts.slice(1) : facts;
    const yes = walk(n.yes, [...keep, factOf(n, true)]);
    const no = walk(n.no, [...keep, factOf(n, false)]);
    const fail = walk(n.fail, facts);
    let r: number;
    if (yes === no && yes === fail) r = yes;
    else {
      const m: FilterNode = { ...n, yes, no, fail };
      const k = JSON.stringify(m);
      const u = unique.get(k);
      if (u !== undefined) r = u;
      else {
        if (out.length >= budget) throw new OverBudget();
        out.push(m);
        r = out.length - 1;
        unique.set(k, r);
      }
    }
    memo.set(key, r);
    return r;
  };
  try {
    const entry = walk(p.entry, []);
    return out.length <= p.nodes.length * 4 ? { nodes: out, entry } : p;
  } catch (e) {
    if (e instanceof OverBudget) return p;
    throw e;
  }
}

/** The program as the native side reads it: `pgf1 NODES ENTRY`, then per node `CMP YES NO FAIL NCODE CODE...`. */
export function serializeProgram(p: FilterProgram): string {
  const parts: (number | string)[] = ['pgf1', p.nodes.length, p.entry];
  for (const n of p.nodes) parts.push(n.cmp, n.yes, n.no, n.fail, n.code.length, ...n.code);
  return parts.join(' ');
}

/** Parses one expression and reports a problem as one sentence (for descriptor checks), or undefined. */
export function filterError(expr: string): string | undefined {
  try {
    parseFilter(expr);
    return undefined;
  } catch (e) {
    if (e instanceof FilterSyntaxError) return e.message;
    throw e;
  }
}

export { parseFilter, FilterSyntaxError };
