// __NAME__ in a running engine: real packets through the plugin, counted.
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
  assert.deepEqual(elements.long, { packets: 100, bytes: 10000, drops_short: 0 });
  assert.deepEqual(elements.short, { packets: 0, bytes: 0, drops_short: 30 });
});

test('pktgraph elements documents __NAME__', () => {
  const r = pktgraph(['elements', '__NAME__', '--plugin', '.']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /drops_short/);
});
