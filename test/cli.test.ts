// The `pktgraph` command line, run as users run it: `node bin/pktgraph.js ...` in a child
// process. Covers run (--json, params, plain output), compile, graph, elements, error
// reporting, and graph files outside the repository importing 'pktgraph'.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTarget } from '../src/cli/control.js';
import { ENGINE_LIMITS } from '../src/runtime/native.js';
import { Runtime } from '../src/runtime/runtime.js';
import { startCli, repoRoot as root, pktgraphBin as bin } from './lib/cli.js';

const work = mkdtempSync(join(tmpdir(), 'pktgraph-cli-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

// Children get their own socket directory.
const cli = (args: string[], cwd = root) => startCli(args, { cwd, runtimeDir: work }).done;

const stackTrace = /^\s+at .+\(.*:\d+:\d+\)$|^\s+at .+:\d+:\d+$/m;

// A directory with no package.json anywhere above it: graph files here find 'pktgraph'
// only through the command line's resolve hook.
const outside = join(work, 'outside');
mkdirSync(outside);
writeFileSync(
  join(outside, 'limited.ts'),
  `import { graph, InfiniteSource, Counter, Discard } from 'pktgraph';
export default graph({ name: 'limited', params: { n: 1000 } }, (p) => {
  InfiniteSource({ limit: p.n, length: 100 }, 'src').to(Counter({}, 'c')).to(Discard({}, 'sink'));
});
`,
);
writeFileSync(
  join(outside, 'bad.ts'),
  `import { graph, InfiniteSource, Discard, Counter } from 'pktgraph';
export default graph('bad', () => {
  InfiniteSource({ burst: 9999 }, 'src').to(Discard({}, 'sink'));
  Counter({}, 'lonely').to(Discard());
});
`,
);
writeFileSync(join(outside, 'noexport.ts'), `export const answer = 42;\n`);
writeFileSync(
  join(outside, 'throws.ts'),
  `import { graph } from 'pktgraph';
export default graph('throws', () => {
  throw new Error('the builder broke');
});
`,
);

t.test('run --json on the default config prints one JSON summary', async (t) => {
  const r = await cli(['run', 'configs/default.ts', '--duration', '1', '--json', '--threads', '1', '--no-control']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, '');
  const lines = r.stdout.trim().split('\n');
  t.equal(lines.length, 1, 'exactly one line');
  const s = JSON.parse(lines[0]);
  for (const k of ['packets', 'seconds', 'mpps', 'threads', 'stoppedBy', 'cpuNsPerPacket', 'elements']) t.ok(k in s, `has ${k}`);
  t.equal(s.stoppedBy, 'duration');
  t.equal(s.threads, 1);
  t.ok(s.seconds >= 1 && s.seconds < 5, `ran ${s.seconds} s`);
  t.ok(s.packets > 0 && s.mpps > 0);
  t.ok(s.cpuNsPerPacket > 0);
  t.ok(s.elements.counter.packets > 0);
  t.equal(s.elements.counter.bytes / s.elements.counter.packets, 64, '64-byte packets by default');
});

t.test('-p overrides a graph parameter', async (t) => {
  const [r, bad] = await Promise.all([
    cli(['run', 'configs/default.ts', '--duration', '0.3', '--json', '-t', '1', '--no-control', '-p', 'length=128']),
    cli(['compile', 'configs/default.ts', '-p', 'colour=red']),
  ]);
  t.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  t.equal(s.elements.counter.bytes / s.elements.counter.packets, 128);

  t.equal(bad.code, 1);
  t.match(bad.stderr, /no parameter 'colour'; its parameters are: length, rate/);
});

t.test('a graph file outside the repository importing pktgraph runs until drained', async (t) => {
  const r = await cli(['run', join(outside, 'limited.ts'), '--json', '-t', '1', '--no-control', '-p', 'n=300'], outside);
  t.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  t.equal(s.stoppedBy, 'drained');
  t.equal(s.packets, 300);
  t.equal(s.elements.c.bytes, 30000);
  t.equal(s.cpuNsPerPacket, null, 'no CPU per packet for 300 packets, as the text summary');
  t.match(s.cpuNsPerPacketNote, /^not measured: 300 packets, under the 10000/);
});

t.test('without --json and into a pipe: plain lines each second, then a summary', async (t) => {
  const r = await cli(['run', 'configs/default.ts', '--duration', '1.2', '-t', '1', '--no-control']);
  t.equal(r.code, 0, r.stderr);
  t.notMatch(r.stdout, /\x1b\[/, 'no terminal escapes');
  t.match(r.stdout, /^1\.0 s +[\d.]+ Mpps +[\d.]+ Gbit\/s/m, 'a progress line');
  t.match(r.stdout, /^default: [\d,]+ packets in [\d.]+ s = [\d.]+ Mpps/m, 'the summary');
  t.match(r.stdout, /^ +counter +Counter +packets=\d+ +bytes=\d+$/m, 'per-element counters');
});

t.test('graph problems: exit 1, each problem on its own line naming the element, no stack trace', async (t) => {
  const r = await cli(['run', 'bad.ts', '--no-control'], outside);
  t.equal(r.code, 1);
  t.equal(r.stdout, '');
  t.match(r.stderr, /^ +- element 'src' \(InfiniteSource\) \(defined at bad\.ts:3\): config field 'burst'/m);
  t.match(r.stderr, /^ +- element 'lonely' \(Counter\)/m);
  t.notMatch(r.stderr, stackTrace);

  const debug = await cli(['compile', 'bad.ts', '--debug'], outside);
  t.equal(debug.code, 1);
  t.match(debug.stderr, stackTrace, '--debug shows the stack');
});

t.test('loading problems are one sentence each', async (t) => {
  const cases: [string, RegExp][] = [
    ['missing.ts', /^pktgraph: cannot find the graph file missing\.ts$/],
    ['noexport.ts', /^pktgraph: noexport\.ts does not export a graph/],
    ['throws.ts', /^pktgraph: building graph 'throws' failed: the builder broke$/],
  ];
  const results = await Promise.all(cases.map(([file]) => cli(['compile', file], outside)));
  results.forEach((r, i) => {
    t.equal(r.code, 1, cases[i][0]);
    t.match(r.stderr.trim(), cases[i][1]);
    t.equal(r.stderr.trim().split('\n').length, 1, `${cases[i][0]}: one line`);
  });
});

t.test('compile prints the plan and graph prints DOT', async (t) => {
  const [plan, dot] = await Promise.all([cli(['compile', 'configs/default.ts', '-p', 'length=100']), cli(['graph', 'configs/default.ts'])]);
  t.equal(plan.code, 0, plan.stderr);
  const p = JSON.parse(plan.stdout);
  t.equal(p.format, 'pktgraph-plan');
  t.type(p.version, 'number');
  t.same(p.params, { length: 100, rate: 0 });
  t.same(p.elements.map((e: { name: string }) => e.name), ['source', 'counter', 'sink']);
  t.match(plan.stdout, /\n  "format"/, 'pretty-printed');

  t.equal(dot.code, 0, dot.stderr);
  t.match(dot.stdout, /^digraph "default" \{/);
  t.match(dot.stdout, /"source" -> "counter"/);
  t.match(dot.stdout, /"counter" -> "sink"/);
});

t.test('elements lists and documents the elements', async (t) => {
  const [list, doc, typo] = await Promise.all([cli(['elements']), cli(['elements', 'Counter']), cli(['elements', 'Countr'])]);
  t.equal(list.code, 0, list.stderr);
  t.match(list.stdout, /^ELEMENT +GROUP +SUMMARY$/m);
  t.match(list.stdout, /^Counter +standard +Counts packets/m);
  t.match(list.stdout, /^InfiniteSource +standard/m);
  t.match(list.stdout, /`pktgraph recipes`\.\n$/, 'and points to the recipes');

  t.equal(doc.code, 0, doc.stderr);
  t.match(doc.stdout, /^Counter \(standard\): /);
  t.match(doc.stdout, /Counters[^\n]*:\n +packets +packets passed\n +bytes +bytes passed/);
  t.match(doc.stdout, /^ +reset +w +zero the counts$/m);
  t.match(doc.stdout, /^ +counters +r +every counter/m, 'generic handlers');
  t.match(doc.stdout, /^ +byte_rate +bytes per second/m, 'derived handlers');
  t.match(doc.stdout, /Ports: 1 input, 1 output; processing a\/a/);
  t.notMatch(doc.stdout, /Push cycles/);
  const icmp = await cli(['elements', 'ICMPError']);
  t.match(icmp.stdout, /^Push cycles through it are allowed: its errors may go back to the route lookup .*at most twice\.$/m, 'an element that ends push cycles says why');

  t.equal(typo.code, 1);
  t.match(typo.stderr, /no element named 'Countr'; did you mean 'Counter'\?/);
});

t.test('read without a running engine says so and how to start one', async (t) => {
  const r = await cli(['read', 'counter.packets', '--control', 'nobody']);
  t.equal(r.code, 1);
  t.match(r.stderr, /no pktgraph engine is running with the control socket .*nobody\.sock; start one with `pktgraph run FILE --control nobody`/);
  t.notMatch(r.stderr, stackTrace);
});

t.test('handler targets split at the graph colon and the last dot', async (t) => {
  t.same(parseTarget('counter.packets', true), { graph: undefined, element: 'counter', handler: 'packets' });
  t.same(parseTarget('my.graph:lb/c@1.rate', true), { graph: 'my.graph', element: 'lb/c@1', handler: 'rate' });
  t.same(parseTarget('g:inner/q', false), { graph: 'g', element: 'inner/q' });
  t.throws(() => parseTarget('counter', true), /expected \[GRAPH:\]ELEMENT\.HANDLER/);
  t.throws(() => parseTarget('counter.', true), /expected/);
  t.throws(() => parseTarget(':counter.packets', true), /empty graph name/);
});

t.test("the summary names the queue that dropped packets, and shows no CPU per packet for a handful", async (t) => {
  writeFileSync(
    join(outside, 'overflow.ts'),
    `import { graph, InfiniteSource, Queue, Unqueue, Discard } from 'pktgraph';
export default graph('overflow', () => {
  // Unqueue starts inactive: the queue keeps 100 and drops the other 400.
  InfiniteSource({ limit: 500, length: 60 }, 'src').to(Queue({ capacity: 100 }, 'q')).to(Unqueue({ active: false }, 'pump')).to(Discard({}, 'sink'));
});
`,
  );
  const [r, json] = await Promise.all([
    cli(['run', 'overflow.ts', '-t', '1', '--no-control', '-d', '0.5'], outside),
    cli(['run', 'overflow.ts', '-t', '1', '--no-control', '-d', '0.5', '--json'], outside),
  ]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^overflow: 500 packets in [\d.]+ s/m);
  t.match(r.stdout, /^ {2}1 thread, CPU per packet not shown \(under 10,000 packets\), stopped because the duration ended$/m);
  t.match(r.stdout, /^ {2}dropped 400 packets \(80\.0% of the 500 the sources sent\):\n {4}q +Queue +drops +400 +packets dropped because the queue was full$/m);
  t.equal(json.code, 0, json.stderr);
  t.same(JSON.parse(json.stdout).drops, [{ element: 'q', class: 'Queue', counter: 'drops', packets: 400 }], '--json lists the drops too');
});

t.test('option ranges: --help states what is enforced, and errors name the option', async (t) => {
  const [help, pool, poolHigh, threads, buffer, room] = await Promise.all([
    cli(['run', '--help']),
    cli(['run', 'configs/default.ts', '--pool', '10', '--no-control']),
    cli(['run', 'configs/default.ts', '--pool', String(2 ** 24 + 1), '--no-control']),
    cli(['run', 'configs/default.ts', '--threads', '64', '--no-control']),
    cli(['run', 'configs/default.ts', '--buffer-size', '100', '--no-control']),
    cli(['run', 'configs/default.ts', '-p', 'length=4000', '-d', '0.2', '--no-control']),
  ]);
  t.equal(help.code, 0);
  const helpText = help.stdout.replace(/\s+/g, ' '); // commander wraps long lines
  t.match(helpText, /--pool <n> packet buffers in the pool, 64 to 16777216/);
  t.match(helpText, /--threads <n> worker threads, 1 to 63/);
  t.match(helpText, /--buffer-size <bytes> bytes per packet buffer, headroom included, 256 to 32640/);
  for (const [r, option, range] of [
    [pool, '--pool', '64 to 16777216'],
    [poolHigh, '--pool', '64 to 16777216'],
    [threads, '--threads', '1 to 63'],
    [buffer, '--buffer-size', '256 to 32640'],
  ] as const) {
    t.equal(r.code, 1, option);
    t.match(r.stderr, new RegExp(`option '[^']*${option}[^']*' argument '\\d+' is invalid\\. expected a whole number from ${range}`), `${option}: ${r.stderr.trim()}`);
    t.notMatch(r.stderr, /poolBuffers|bufferSize|engine option/);
  }
  // A packet longer than a buffer: the engine's error, with the option that changes it.
  t.equal(room.code, 1);
  t.match(room.stderr, /config field 'length' \(4000\) exceeds the pool's buffer room of \d+ bytes \(raise the buffer size with --buffer-size BYTES\)/);
});

t.test('the ranges the command line checks are the ones the engine enforces', async (t) => {
  const engine = (o: Record<string, number>) => () => new Runtime({ threads: 1, ...o }).close();
  for (const [option, { min, max }] of Object.entries(ENGINE_LIMITS)) {
    t.throws(engine({ [option]: min - 1 }), new RegExp(`engine option '${option}' must be a whole number from ${min} to ${max}`), `${option} ${min - 1} refused`);
    t.throws(engine({ [option]: max + 1 }), new RegExp(`engine option '${option}'`), `${option} ${max + 1} refused`);
    t.doesNotThrow(engine({ [option]: min }), `${option} ${min} accepted`);
  }
  t.doesNotThrow(engine({ bufferSize: ENGINE_LIMITS.bufferSize.max, poolBuffers: 64 }), 'the largest buffer size accepted');
});

t.test('recipes lists and documents the recipes', async (t) => {
  const [list, doc, typo] = await Promise.all([cli(['recipes']), cli(['recipes', 'ipRouter']), cli(['recipes', 'iprouter2'])]);
  t.equal(list.code, 0, list.stderr);
  t.match(list.stdout, /^RECIPE +SUMMARY\nipRouter +An IPv4 or dual-stack router/m);
  t.equal(doc.code, 0, doc.stderr);
  t.match(doc.stdout, /^ipRouter: /);
  t.match(doc.stdout, /^Description fields:\n {2}interfaces +the interfaces/m);
  t.match(doc.stdout, /^ {2}nat\.forwards\[\]\.to +the inside server/m);
  t.equal(typo.code, 1);
  t.match(typo.stderr, /no recipe named 'iprouter2'; did you mean 'ipRouter'\?/);
});

// A run in a child process, for signals: its output so far, and its end.
function startRun(args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: work };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => (out.stdout += d));
  child.stderr.on('data', (d) => (out.stderr += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  return { child, out, done };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, check: () => boolean, seconds = 60) {
  for (const deadline = Date.now() + seconds * 1000; Date.now() < deadline; await sleep(20)) if (check()) return;
  throw new Error(`timed out waiting for ${what}`);
}

t.test('Ctrl-C and SIGTERM end a run within a second, after its summary, with status 130 and 143', async (t) => {
  for (const [sig, status] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    const run = startRun(['run', 'configs/default.ts', '--threads', '1', '--control', `sig${status}`]);
    // Into a pipe a running graph prints a line a second: the first means the workers run.
    await until('the first tick', () => run.out.stdout.includes('Mpps'));
    const sent = Date.now();
    run.child.kill(sig);
    const end = await run.done;
    t.equal(end.code, status, `${sig}: exit status ${status} ${run.out.stderr}`);
    t.ok(end.at - sent < 1000, `${sig}: ended ${end.at - sent} ms after the signal`);
    t.match(run.out.stdout, /packets in .* s = .* Mpps[\s\S]*stopped because interrupted/, `${sig}: the summary is printed`);
    t.equal(run.out.stderr, '');
    t.notOk(existsSync(join(work, `pktgraph-${process.getuid!()}`, `sig${status}.sock`)), `${sig}: the socket is removed`);
  }
});

t.test('a second Ctrl-C ends a run at once', async (t) => {
  const run = startRun(['run', 'configs/default.ts', '--threads', '1', '--control', 'twice']);
  await until('the first tick', () => run.out.stdout.includes('Mpps'));
  const sent = Date.now();
  run.child.kill('SIGINT');
  run.child.kill('SIGINT');
  const end = await run.done;
  t.equal(end.code, 130, run.out.stderr);
  t.ok(end.at - sent < 1000, `ended ${end.at - sent} ms after the signals`);
  t.notOk(existsSync(join(work, `pktgraph-${process.getuid!()}`, 'twice.sock')), 'the socket is removed');
});

t.test('--duration ends a run whose graph never drains', async (t) => {
  // Ten packets wait in a Queue that RatedUnqueue empties one a second: never drained in time.
  writeFileSync(
    join(outside, 'stuck.ts'),
    `import { graph, InfiniteSource, Queue, RatedUnqueue, Discard } from 'pktgraph';
export default graph('stuck', () => {
  InfiniteSource({ limit: 10 }, 'src').to(Queue({}, 'q')).to(RatedUnqueue({ rate: 1, burst: 1 }, 'u')).to(Discard({}, 'sink'));
});
`,
  );
  const r = await cli(['run', join(outside, 'stuck.ts'), '--threads', '1', '--duration', '1', '--json', '--no-control']);
  t.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  t.equal(s.stoppedBy, 'duration');
  t.ok(s.seconds >= 1 && s.seconds < 1.5, `stopped after ${s.seconds} s`);
  t.ok(s.elements.sink.packets < 10, 'packets were still queued');
});

t.test('a push cycle is a compile error, not a crash', async (t) => {
  writeFileSync(
    join(outside, 'cycle.ts'),
    `import { graph, InfiniteSource, Counter, Tee, Null, Discard } from 'pktgraph';
export default graph('cycle', () => {
  const c = Counter({}, 'c');
  const t = Tee({}, 't');
  InfiniteSource({ limit: 1 }, 'src').to(c).to(t);
  t.out(0).to(Null({}, 'n')).to(c);
  t.out(1).to(Discard({}, 'd'));
});
`,
  );
  const r = await cli(['run', join(outside, 'cycle.ts'), '--threads', '1', '--duration', '1', '--no-control']);
  t.equal(r.code, 1);
  t.match(r.stderr, /^pktgraph: push cycle: 'c' \(Counter\) -> 't' \(Tee\) -> 'n' \(Null\) -> back to 'c' \(defined at .*cycle\.ts:\d+.*\).*put a Queue in the cycle/);
  t.notMatch(r.stderr, stackTrace);
});

t.test('output into a pipe whose reader has gone ends quietly, with the status of SIGPIPE', async (t) => {
  // `pktgraph run ... | head -1`: the reader leaves after the first line.
  const run = startRun(['run', 'configs/default.ts', '--threads', '1', '--control', 'pipe']);
  await until('the first line', () => run.out.stdout.includes('\n'));
  run.child.stdout.destroy();
  const end = await run.done;
  t.equal(end.code, 141, run.out.stderr);
  t.equal(run.out.stderr, '', 'no EPIPE stack trace');
  t.notOk(existsSync(join(work, `pktgraph-${process.getuid!()}`, 'pipe.sock')), 'the socket is removed');
  // `pktgraph graph ... | true`: the reader is gone before anything is written.
  const graph = startRun(['graph', 'configs/default.ts']);
  graph.child.stdout.destroy();
  const g = await graph.done;
  t.equal(g.code, 141, graph.out.stderr);
  t.equal(graph.out.stderr, '');
});

t.test('a worker that never returns (a Tee in a TTL-bounded loop: 2^255 passes) still ends the run within a second', async (t) => {
  // A Tee on a loop that DecIPTTL ends doubles the packets each pass: the source's task never
  // returns. The compiler refuses that loop (the Tee copies packets), so the graph file hides
  // the Tee's copiesPackets fact to get a worker that never returns.
  writeFileSync(
    join(outside, 'storm.ts'),
    `import { graph, InfiniteSource, MarkIPHeader, Counter, Tee, DecIPTTL, Discard } from 'pktgraph';
(Tee.descriptor as { copiesPackets?: string }).copiesPackets = undefined;
export default graph('storm', () => {
  const c = Counter({}, 'c');
  const tee = Tee({}, 't');
  InfiniteSource({ limit: 1, data: '45000014 00000000 40110000 c6120001 c6120002' }, 'src').to(MarkIPHeader({ offset: 0 }, 'mark')).to(c).to(tee);
  for (const k of [0, 1]) {
    const ttl = DecIPTTL({}, 'ttl' + k);
    tee.out(k).to(ttl).to(c);
    ttl.out(1).to(Discard({}, 'expired' + k));
  }
});
`,
  );
  const run = startRun(['run', join(outside, 'storm.ts'), '--threads', '1', '--control', 'storm']);
  await until('the first tick', () => run.out.stdout.includes('Mpps'));
  const sent = Date.now();
  run.child.kill('SIGINT');
  const end = await run.done;
  t.equal(end.code, 1, 'an error, not a crash');
  t.ok(end.at - sent < 1000, `ended ${end.at - sent} ms after Ctrl-C`);
  t.match(run.out.stderr, /^pktgraph: the engine did not stop within \d+ ms: worker 0 is still inside the task of element 'src' \(InfiniteSource\), which has not returned \(a packet loop, or a bug in the element\)/);
  t.notMatch(run.out.stderr, stackTrace);
  t.notOk(existsSync(join(work, `pktgraph-${process.getuid!()}`, 'storm.sock')), 'the socket is removed');
});
