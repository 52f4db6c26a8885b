// Random and mutated packets (fuzz-cases.mjs: byte flips, cut lengths, random SRH fields; a fixed
// seed) through SRv6LocalSIDs and SRv6Encap: the engine survives every one, and every packet is
// accounted for, forwarded or dropped under a named reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fuzzPackets } from './fuzz-cases.mjs';
import { writePcap } from './packets.mjs';
import { runGraph } from './lib.mjs';

test('mutated and random packets: no crash, every one forwarded or dropped under a reason', () => {
  const packets = fuzzPackets(5000);
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
