// Route tables for the benchmarks (bench/fib.ts, the router suite): reading a table file
// (`prefix/len nexthop-index` per line, gzip when the name ends in .gz), where the shared
// real tables live (../shared/data/fib/ from the project's root, see its README), and the
// synthetic fallback with the real tables' prefix-length mix.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The shared real tables' folder (may be absent). */
export const sharedFibDir = join(root, '..', 'shared', 'data', 'fib');

export function readTable(path: string): string {
  const raw = readFileSync(path);
  return (path.endsWith('.gz') ? gunzipSync(raw) : raw).toString('latin1');
}

// Prefix-length mix of the real tables (fractions), for the synthetic fallback.
export const MIX4: [number, number][] = [[8, 0.00002], [12, 0.0005], [14, 0.002], [16, 0.014], [18, 0.01], [19, 0.02], [20, 0.035], [21, 0.04], [22, 0.12], [23, 0.1], [24, 0.55], [25, 0.01], [28, 0.005], [32, 0.003]];
export const MIX6: [number, number][] = [[16, 0.0001], [20, 0.0005], [28, 0.005], [29, 0.03], [32, 0.14], [36, 0.03], [40, 0.05], [44, 0.06], [46, 0.02], [47, 0.01], [48, 0.45], [56, 0.02], [64, 0.02], [128, 0.002]];

// Real tables cluster: most long prefixes sit inside a few tens of thousands of allocations
// (IPv4 /16s, IPv6 /32s). The synthetic tables draw prefixes longer than the allocation
// inside a pool of allocations, and shorter ones by masking an allocation.
export function synthetic(width: 32 | 128, n: number): string {
  let seed = 42;
  const rnd = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const bits = (k: number) => {
    let v = 0n;
    for (let i = 0; i < k; i += 16) v = (v << 16n) | BigInt(Math.floor(rnd() * 65536));
    return v & ((1n << BigInt(k)) - 1n);
  };
  const W = BigInt(width);
  const alloc = width === 32 ? 16 : 32;
  const pool = Array.from({ length: width === 32 ? 30000 : 20000 }, () =>
    width === 32 ? (BigInt(1 + Math.floor(rnd() * 222)) << 24n) | (bits(8) << 16n) : (0x2000n << 112n) | (bits(19) << 96n),
  );
  const mix = width === 32 ? MIX4 : MIX6;
  const total = mix.reduce((a, [, f]) => a + f, 0);
  const seen = new Set<string>();
  const lines: string[] = [];
  while (lines.length < n) {
    let x = rnd() * total;
    let len = mix[mix.length - 1][0];
    for (const [l, f] of mix) if ((x -= f) < 0) { len = l; break; }
    const base = pool[Math.floor(rnd() * pool.length)];
    const key = len <= alloc ? base & (((1n << BigInt(len)) - 1n) << (W - BigInt(len))) : base | (bits(len - alloc) << (W - BigInt(len)));
    let text: string;
    if (width === 32) text = `${[24n, 16n, 8n, 0n].map((sh) => Number((key >> sh) & 255n)).join('.')}/${len}`;
    else text = `${Array.from({ length: 8 }, (_, i) => Number((key >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':')}/${len}`;
    if (seen.has(text)) continue;
    seen.add(text);
    lines.push(`${text} ${Math.floor(rnd() * 256)}`);
  }
  return lines.join('\n');
}
