// The native unit tests (test/native/*_test.cc): the hash table (native/hash_table.h), the
// ring (native/ring.h), the FIB's LPM (native/fib/lpm.*), the token bucket
// (native/token_bucket.h), the per-graph state arenas (native/state_arena.*) and a route set saved and restored (native/fib/state.cc), each a C++ program built by scripts/native-tests.mjs plainly and
// with AddressSanitizer and UndefinedBehaviorSanitizer.
// Each program prints an "ok ..." line per group of checks and a total; this test requires
// a clean exit, the groups each unit must run, a non-zero number of checks and no failure.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { buildNativePrograms, nativeBuildSkip } from './lib/native-tests.js';

// A fresh build compiles twelve unit programs and test/plugins-sanitized.test.ts's runner and
// plugins: a few minutes of CPU, longer on a busy machine.
t.setTimeout(900_000);

// The groups each unit prints (the start of its "ok" lines): a program that stopped
// running one fails here.
const groups: Record<string, string[]> = {
  hash_table: ['quota:', 'random operations against std::map: MAC', 'random operations against std::map: IPv4', 'random operations against std::map: IPv6',
    'random operations against std::map: flow', 'probe lengths: MAC', 'probe lengths: flow',
    'HashIndex random operations against std::set: default', 'HashIndex random operations against std::set: clustered',
    'HashIndex random operations against std::set: constant', 'HashIndex: 131072 flow keys'],
  ring: ['single thread: FIFO order', 'single thread: 20000 random bursts on a ring of 64 from counter 4294963200 (across 2^32)',
    '2 producer(s), 2 consumer(s)', '3 producer(s), 1 consumer(s)', '1 producer(s), 3 consumer(s)'],
  lpm: ['empty table', 'IPv4: 300 random', 'IPv4: 6000 random', 'IPv6: 300 random', 'IPv6: 5000 random', 'IPv4: 3000 incremental changes on 300',
    'IPv4: 3000 incremental changes on 5000', 'IPv6: 2000 incremental changes on 300', 'IPv6: 2000 incremental changes on 5000',
    'IPv4: a reader thread', 'IPv6: a reader thread'],
  state_arena: ['outside a scope, blocks come from the heap', 'in a scope, blocks come from its arena', 'nested scopes restore the outer arena',
    'an LPM table built in an arena'],
  token_bucket: ['byte bucket at 1 Mbit/s', 'byte bucket at 100000 Mbit/s', 'packet bucket at 1000 packets/s', 'packet bucket at 10000000000 packets/s',
    'set_rate and set_depth'],
  route_state: ['IPv4 table of 0 routes round-trips', 'IPv4 table of 5000 routes round-trips', 'IPv6 table of 3000 routes round-trips',
    'damaged IPv4 images are refused', 'damaged IPv6 images are refused'],
};

t.test('native unit tests', { skip: nativeBuildSkip() ?? false }, async (t) => {
  // The build also makes what test/plugins-sanitized.test.ts drives (kind 'driver', 'plugin').
  const programs = buildNativePrograms(t)?.filter((p) => p.kind === 'unit');
  if (!programs) return;
  t.same([...new Set(programs.map((p) => p.name))].sort(), Object.keys(groups).sort(), 'one program per unit');
  for (const p of programs) {
    await t.test(`${p.name}${p.sanitized ? ' (AddressSanitizer, UndefinedBehaviorSanitizer)' : ''}`, async (t) => {
      const r = spawnSync(p.bin, [], { encoding: 'utf8', env: { ...process.env, ...p.env }, timeout: 300_000 });
      const lines = (r.stdout ?? '').split('\n');
      for (const l of lines) if (l.startsWith('info ') || l.startsWith('seed ')) t.comment(l);
      t.equal(r.status, 0, `${p.bin} exits with 0${r.signal ? ` (killed by ${r.signal})` : ''}${r.stderr ? `\n${r.stderr.slice(0, 4000)}` : ''}`);
      const oks = lines.filter((l) => l.startsWith('ok ')).map((l) => l.slice(3));
      for (const l of lines.filter((l) => l.startsWith('not ok ') || l.startsWith('FAIL '))) t.fail(l);
      for (const g of groups[p.name] ?? []) t.ok(oks.some((l) => l.startsWith(g)), `ran: ${oks.find((l) => l.startsWith(g)) ?? g}`);
      const total = lines.map((l) => /^(\w+): (\d+) checks, (\d+) failed$/.exec(l)).find((m) => m);
      t.ok(total && total[1] === p.name && Number(total[2]) > 0 && total[3] === '0', `${total?.[0] ?? 'no total line'}`);
    });
  }
});
