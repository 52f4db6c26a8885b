// A reference longest-prefix match for the FIB tests (one Map per prefix length, longest
// first) and random route tables in the route text IPLookup and LookupIP6Route accept.
// Addresses are bigints (IPv4: 32 bits, IPv6: 128 bits).

import type { Rng } from './rng.js';

export type Width = 32 | 128;

export interface RefRoute {
  key: bigint;
  len: number;
  /** The route as configured. */
  text: string;
  /** The canonical next-hop text the element prints ('via GW dev N', 'dev N', 'nexthop ... nexthop ...'). */
  hop: string;
  /** Output ports of the next hops (one, or several for ECMP). */
  ports: number[];
}

export const mask = (len: number, width: Width) => (len === 0 ? 0n : ((1n << BigInt(len)) - 1n) << BigInt(width - len));

export function addrText(v: bigint, width: Width): string {
  if (width === 32) return [24n, 16n, 8n, 0n].map((s) => Number((v >> s) & 255n)).join('.');
  return Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':');
}

export const prefixText = (key: bigint, len: number, width: Width) => `${addrText(key, width)}/${len}`;

export class RefTable {
  private byLen = new Map<number, Map<bigint, RefRoute>>();
  constructor(readonly width: Width) {}
  get size() {
    let n = 0;
    for (const m of this.byLen.values()) n += m.size;
    return n;
  }
  has(key: bigint, len: number) {
    return this.byLen.get(len)?.has(key) ?? false;
  }
  set(r: RefRoute) {
    let m = this.byLen.get(r.len);
    if (!m) this.byLen.set(r.len, (m = new Map()));
    m.set(r.key, r);
  }
  delete(key: bigint, len: number) {
    return this.byLen.get(len)?.delete(key) ?? false;
  }
  clear() {
    this.byLen.clear();
  }
  routes(): RefRoute[] {
    return this.unsorted().sort((a, b) => (a.key !== b.key ? (a.key < b.key ? -1 : 1) : a.len - b.len));
  }
  /** The routes in no particular order (cheaper, for picking at random). */
  unsorted(): RefRoute[] {
    const all: RefRoute[] = [];
    for (const m of this.byLen.values()) all.push(...m.values());
    return all;
  }
  lookup(addr: bigint): RefRoute | undefined {
    const lens = [...this.byLen.keys()].sort((a, b) => b - a);
    for (const len of lens) {
      const r = this.byLen.get(len)!.get(addr & mask(len, this.width));
      if (r) return r;
    }
    return undefined;
  }
}

// Seeds around which prefixes cluster, so that routes nest (as in real tables).
export function seeds(r: Rng, width: Width, n: number): bigint[] {
  return Array.from({ length: n }, () => (width === 32 ? r.big(32) : (0x2001n << 112n) | r.big(112)));
}

const LEN4 = [0, 1, 4, 8, 8, 12, 16, 16, 17, 19, 20, 22, 23, 24, 24, 24, 24, 25, 26, 28, 30, 31, 32, 32];
const LEN6 = [0, 3, 16, 19, 24, 29, 32, 32, 36, 40, 44, 47, 48, 48, 48, 52, 56, 60, 63, 64, 65, 72, 80, 96, 112, 120, 127, 128];

/** A random route (prefix near one of the seeds) in one of the accepted text forms. */
export function randomRoute(r: Rng, width: Width, s: bigint[], outputs: number, ecmp = true): RefRoute {
  const len = r.pick(width === 32 ? LEN4 : LEN6);
  const base = r.next() < 0.15 ? r.big(width) : r.pick(s) ^ (r.next() < 0.5 ? 0n : r.big(width) >> BigInt(r.int(Math.max(0, len - 6), width)));
  const key = base & mask(len, width);
  const p = len === 0 && r.next() < 0.5 ? 'default' : len === width && r.next() < 0.5 ? addrText(key, width) : prefixText(key, len, width);
  const gw = () => (width === 32 ? `192.0.${r.int(0, 3)}.${r.int(1, 254)}` : `fe80::${r.int(1, 0xffff).toString(16)}`);
  const port = () => r.int(0, outputs - 1);
  const roll = r.next();
  if (ecmp && roll < 0.08) {
    const n = r.int(2, 3);
    const hops = Array.from({ length: n }, () => ({ g: r.next() < 0.7 ? gw() : undefined, o: port() }));
    const text = hops.map((h) => `nexthop ${h.g ? `via ${h.g} ` : ''}dev ${h.o}`).join(' ');
    return { key, len, text: `${p} ${text}`, hop: text, ports: hops.map((h) => h.o) };
  }
  const o = port();
  if (roll < 0.3) return { key, len, text: `${p} ${o}`, hop: `dev ${o}`, ports: [o] };
  const g = gw();
  if (roll < 0.5) return { key, len, text: `${p} ${g} ${o}`, hop: `via ${g} dev ${o}`, ports: [o] };
  if (roll < 0.6) return { key, len, text: `${p} via ${g}`, hop: `via ${g} dev 0`, ports: [0] };
  if (roll < 0.75) return { key, len, text: `${p} dev ${o}`, hop: `dev ${o}`, ports: [o] };
  return { key, len, text: `${p} via ${g} dev ${o}`, hop: `via ${g} dev ${o}`, ports: [o] };
}

/** A table of n routes with unique prefixes. */
export function randomTable(r: Rng, width: Width, n: number, outputs: number, ecmp = true): RefRoute[] {
  const s = seeds(r, width, Math.max(4, Math.ceil(n / 40)));
  const seen = new Set<string>();
  const out: RefRoute[] = [];
  for (let guard = 0; out.length < n && guard < n * 50; guard++) {
    const rt = randomRoute(r, width, s, outputs, ecmp);
    const k = `${rt.key}/${rt.len}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(rt);
  }
  return out;
}

/** Addresses to test: inside random routes (with random host bits), at their edges, and uniform. */
export function testAddresses(r: Rng, width: Width, routes: RefRoute[], n: number): bigint[] {
  const out: bigint[] = [];
  const all = (1n << BigInt(width)) - 1n;
  while (out.length < n) {
    const roll = r.next();
    if (roll < 0.2 || routes.length === 0) {
      out.push(r.big(width));
      continue;
    }
    const rt = r.pick(routes);
    const host = all & ~mask(rt.len, width);
    if (roll < 0.7) out.push(rt.key | (r.big(width) & host));
    else if (roll < 0.8) out.push(rt.key);
    else if (roll < 0.9) out.push(rt.key | host);
    else out.push(((rt.key | host) + 1n) & all);
  }
  return out;
}
