// __NAME__ in a running engine: real packets through the script and back, counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pktgraph = (args) => spawnSync(join(here, '..', 'node_modules', '.bin', 'pktgraph'), args, { encoding: 'utf8', cwd: join(here, '..') });

test('__NAME__ passes long packets and drops short ones, counting both', () => {
  const r = pktgraph(['run', 'test/graph.ts', '--json', '-t', '1', '--no-control']);
  assert.equal(r.status, 0, r.stderr);
  const { elements } = JSON.parse(r.stdout.trim().split('\n').pop());
  // received = handled + drops_ring: the script kept up, so nothing was dropped at the ring
  assert.deepEqual([elements.long.received, elements.long.handled, elements.long.drops_ring], [100, 100, 0]);
  assert.deepEqual([elements.long.passed, elements.long.sent, elements.long_out.packets], [100, 100, 100]);
  assert.deepEqual([elements.short.handled, elements.short.drops_short, elements.short.sent], [30, 30, 0]);
});
