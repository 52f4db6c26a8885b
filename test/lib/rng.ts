// The tests' seeded random numbers: mulberry32 (small, fast, good enough to pick cases and
// mutations), so a failing run is reproduced by its seed.

/** The generator's raw stream: each call the next 32-bit unsigned value. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return (x ^ (x >>> 14)) >>> 0;
  };
}

/** Fractions in [0, 1), integers in [lo, hi], picks from a list and random bigints of `bits` bits. */
export function rng(seed: number) {
  const u32 = mulberry32(seed);
  const next = () => u32() / 4294967296;
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)];
  const big = (bits: number) => {
    let v = 0n;
    for (let i = 0; i < bits; i += 16) v = (v << 16n) | BigInt(int(0, 0xffff));
    return v & ((1n << BigInt(bits)) - 1n);
  };
  return { next, int, pick, big };
}
export type Rng = ReturnType<typeof rng>;
