// Random and mutated SRv6 packets (byte flips, cut lengths, random SRH fields, random bytes)
// from the well-formed and malformed cases, the same every run (a fixed seed): for
// test/fuzz.test.mjs, and for pktgraph's own test/plugins-sanitized.test.ts, which sends them
// through this plugin built with AddressSanitizer and UndefinedBehaviorSanitizer.
import { bad, good } from './cases.mjs';

/** `count` packets, the same ones every call. */
export function fuzzPackets(count) {
  // xorshift32
  let seed = 0x5eed1234;
  const rand = (n) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const mutate = (base) => {
    const p = Buffer.from(base);
    switch (rand(4)) {
      case 0: // flip a few bytes anywhere
        for (let i = rand(4) + 1; i > 0; i--) p[rand(p.length)] = rand(256);
        return p;
      case 1: // cut it short
        return p.subarray(0, rand(p.length + 1));
      case 2: // random SRH fields (next header, length, type, segments left, last entry)
        if (p.length > 45) for (let i = 40; i < 45; i++) if (rand(2)) p[i] = rand(256);
        return p;
      default: // random bytes
        return Buffer.from(Array.from({ length: rand(120) }, () => rand(256)));
    }
  };
  const bases = [...Object.values(good).map(([p]) => p), ...bad.map(([, p]) => p)];
  return Array.from({ length: count }, () => mutate(bases[rand(bases.length)]));
}
