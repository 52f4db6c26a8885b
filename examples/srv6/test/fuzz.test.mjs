// Random and mutated packets (byte flips, cut lengths, random SRH fields; a fixed seed) through
// SRv6LocalSIDs and SRv6Encap: the engine survives every one, and every packet is accounted
// for, forwarded or dropped under a named reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bad, good } from './cases.mjs';
import { writePcap } from './packets.mjs';
import { runGraph } from './lib.mjs';

// xorshift32: the same packets every run.
let seed = 0x5eed1234;
const rand = (n) => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
};

function mutate(base) {
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
}

test('mutated and random packets: no crash, every one forwarded or dropped under a reason', () => {
  const bases = [...Object.values(good).map(([p]) => p), ...bad.map(([, p]) => p)];
  const packets = Array.from({ length: 5000 }, () => mutate(bases[rand(bases.length)]));
  const dir = mkdtempSync(join(tmpdir(), 'pgx-srv6-fuzz-'));
  try {
    const file = join(dir, 'fuzz.pcap');
    writeFileSync(file, writePcap(packets));
    const c = runGraph('fuzz.ts', [`file=${file}`]).elements;
    assert.equal(c.src.packets, packets.length);
    const drops = (e) => Object.entries(e).filter(([k]) => k.startsWith('drops_')).reduce((a, [, v]) => a + v, 0);
    assert.equal(c.not_local.packets + c.handled.packets + drops(c.sids), packets.length, 'SRv6LocalSIDs: forwarded + dropped');
    assert.equal(c.encapsulated.packets + drops(c.encap), packets.length, 'SRv6Encap: encapsulated + dropped');
    assert.ok(c.handled.packets > 0 && drops(c.sids) > 0, 'both outcomes happened');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
