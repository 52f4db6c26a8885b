// `pktgraph reconfigure FILE --control X` against a running `pktgraph run`: the graph is replaced
// live (an extra Counter, a changed Queue) and the run's summary, from the new graph, counts every
// packet the source sent exactly once; a graph file the engine refuses (a device it cannot open)
// or the compiler refuses (an unknown field) is an error naming the element, and the run goes on.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { controlRequest } from '../src/control/client.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin', 'pktgraph.js');
const work = mkdtempSync(join(tmpdir(), 'pktgraph-reconf-'));
const sock = join(work, 'engine.sock');
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: work };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void (child.exitCode === null && child.kill('SIGKILL')));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

// Enough packets at 20k/s to outlast the reconfigurations on a loaded machine (the run ends when
// the source has sent them); once the checks are done the source is unpaced to finish at once.
const LIMIT = 1_200_000;
const file = (name: string, body: string) => {
  const f = join(work, `${name}.ts`);
  writeFileSync(f, `import { graph, InfiniteSource, Counter, Queue, Unqueue, Discard, FromDevice } from 'pktgraph';\nexport default graph('live', () => {\n${body}\n});\n`);
  return f;
};
const pipeline = (capacity: number, extra: string) =>
  `  InfiniteSource({ length: 64, rate: 20000, limit: ${LIMIT} }, { name: 'src', thread: 0 }).to(Counter({}, 'counter')).to(Queue({ capacity: ${capacity} }, 'q')).to(Unqueue({}, { name: 'pump', thread: 1 }))${extra}.to(Discard({}, 'sink'));`;
const A = file('a', pipeline(1000, ''));
const B = file('b', pipeline(4000, `.to(Counter({}, 'extra'))`));
const bad = file('bad', pipeline(1000, '') + `\n  FromDevice({ device: 'pg-rc-none0' }, 'dev').to(Discard({}, 'd'));`);
const typo = file('typo', pipeline(1000, '').replace('capacity:', 'capacty:'));

t.test('a running graph reconfigured live: every packet counted once, refusals change nothing', async (t) => {
  const run = cli(['run', A, '--threads', '2', '--json', '--control', sock]);
  const deadline = Date.now() + 20_000;
  while ((await controlRequest(sock, { op: 'list' }).catch(() => undefined))?.ok !== true) {
    if (Date.now() > deadline) throw new Error('the control socket never came up');
    await sleep(50);
  }
  const r = await cli(['reconfigure', B, '--control', sock]);
  t.equal(r.code, 0, `reconfigure succeeds: ${r.stderr}`);
  t.match(r.stdout, /^replaced graph 'live': 5 elements took over their state; the workers were off the graph for \d+\.\d{3} ms\n$/, 'it says what took over and how long the swap took');
  const list = await controlRequest(sock, { op: 'list' });
  t.ok(list.ok && JSON.stringify(list.value).includes('"extra"'), 'the running graph now has the extra Counter');

  const refused = await cli(['reconfigure', bad, '--control', sock]);
  t.not(refused.code, 0, 'a device the engine cannot open: refused');
  t.match(refused.stderr, /element 'dev' \(FromDevice\)/, 'the error names the element');
  const typoed = await cli(['reconfigure', typo, '--control', sock]);
  t.not(typoed.code, 0, 'a config typo: refused before reaching the engine');
  t.match(typoed.stderr, /element 'q' \(Queue\).*unknown config field 'capacty'/, 'the compiler names the element and the field');
  const still = await controlRequest(sock, { op: 'list' });
  t.ok(still.ok && JSON.stringify(still.value).includes('"extra"') && !JSON.stringify(still.value).includes('"dev"'), 'the running graph is the one reconfigured before');

  const unpaced = await controlRequest(sock, { op: 'write', element: 'src', handler: 'rate', value: '0' });
  t.ok(unpaced.ok, 'the source unpaced to finish its limit now');
  const done = await run;
  t.equal(done.code, 0, `the run ends by itself: ${done.stderr}`);
  const summary = JSON.parse(done.stdout);
  t.equal(summary.drained, true, 'drained');
  t.equal(summary.packets, LIMIT, 'the source sent its limit once, across the replacement');
  t.equal(summary.elements.counter.packets, LIMIT, 'the counter, carried over, counted them all');
  t.equal(summary.elements.sink.packets + summary.elements.q.drops, LIMIT, 'sink + queue drops = source, exactly');
  t.ok(summary.elements.extra.packets > 0 && summary.elements.extra.packets <= LIMIT, 'the summary is the new graph\'s: it has the extra Counter');
});
