// Ctrl-C, SIGTERM and --duration end `pktgraph run` within a second whatever the JavaScript
// thread is doing: stdout into a pipe nobody reads, a large control read in progress, or the
// thread blocked outright (the native exit watchdog, native/exit_watchdog.h). Times are wall
// time on a busy shared machine: each is measured and reported, and checked against a bound
// (well under 5 s) that scheduling noise cannot break but a wait for the reader would.
import t from 'tap';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants as fsc, existsSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { controlRequest } from '../src/control/client.js';
import { writeRouteTableGraph } from './lib/tables.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin', 'pktgraph.js');
const work = mkdtempSync(join(tmpdir(), 'pktgraph-watchdog-'));
const children: ChildProcess[] = [];
t.teardown(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BOUND_MS = 4000;

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
  stderr: string;
}

/** Spawn `node ARGS` with stdout given (a fd, or 'pipe'), stderr collected. */
function start(args: string[], stdout: number | 'pipe' = 'pipe') {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: work };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', stdout, 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<Ended>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, at: Date.now(), stderr })));
  return { child, done, stderr: () => stderr };
}

/** A pipe already full, whose reader never reads: the write end's fd (kept open by the test). */
function fullPipe(name: string): number {
  const fifo = join(work, name);
  execFileSync('mkfifo', [fifo]);
  const reader = openSync(fifo, fsc.O_RDONLY | fsc.O_NONBLOCK);
  const writer = openSync(fifo, fsc.O_WRONLY | fsc.O_NONBLOCK);
  try {
    for (;;) writeSync(writer, Buffer.alloc(4096, 46));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
  }
  t.teardown(() => {
    closeSync(reader);
    closeSync(writer);
  });
  return writer;
}

async function waitFor(what: string, check: () => boolean, seconds = 60) {
  for (const deadline = Date.now() + seconds * 1000; Date.now() < deadline; await sleep(20)) if (check()) return;
  throw new Error(`timed out waiting for ${what}`);
}

t.test('SIGTERM ends a run whose stdout is a pipe nobody reads, with status 143', async (t) => {
  const sock = join(work, 'stuck.sock');
  const run = start([bin, 'run', 'configs/default.ts', '--threads', '1', '--control', sock], fullPipe('stdout-term'));
  await waitFor('the control socket', () => existsSync(sock));
  await sleep(1200); // a tick's line is waiting for the reader
  const sent = Date.now();
  run.child.kill('SIGTERM');
  const end = await run.done;
  t.comment(`ended ${end.at - sent} ms after SIGTERM`);
  t.equal(end.code, 143, end.stderr);
  t.ok(end.at - sent < BOUND_MS, `ended ${end.at - sent} ms after SIGTERM`);
  t.match(end.stderr, /^pktgraph: stdout did not take the summary in time \(its reader is not reading\); ended without it\n$/);
  t.notOk(existsSync(sock), 'the socket is removed');
});

t.test('--duration ends a run whose stdout is a pipe nobody reads, with status 1 and a reason', async (t) => {
  const started = Date.now();
  const run = start([bin, 'run', 'configs/default.ts', '--threads', '1', '--duration', '1', '--no-control'], fullPipe('stdout-duration'));
  const end = await run.done;
  t.comment(`ended ${end.at - started} ms after starting a 1 s run`);
  t.equal(end.code, 1, end.stderr);
  t.match(end.stderr, /stdout did not take the summary in time/);
  t.ok(end.at - started < 1000 + BOUND_MS + 3000, 'start-up, the second, and at most the grace');
});

t.test('SIGTERM during a large control read ends the run within the bound, with status 143', async (t) => {
  // 900,000 routes: rt.table is 19 MB of text, formatted by one native call of a few hundred ms
  // on the JavaScript thread. A client reads it over and over; SIGTERM lands during a read.
  const n = 900_000;
  const graphFile = writeRouteTableGraph(work, n);
  const sock = join(work, 'table.sock');
  const run = start([bin, 'run', graphFile, '--threads', '1', '--keep-running', '--json', '--control', sock]);
  await waitFor('the control socket', () => existsSync(sock));
  let reads = 0;
  let reading = true;
  const reader = (async () => {
    while (reading) {
      const r = await controlRequest(sock, { op: 'read', element: 'rt', handler: 'table' }, 10_000).catch(() => undefined);
      if (!r) break;
      if (r.ok) reads++;
    }
  })();
  await waitFor('a first whole read', () => reads >= 1);
  // The next read's request has gone out; a little later its native call is under way.
  await sleep(100);
  const sent = Date.now();
  run.child.kill('SIGTERM');
  const end = await run.done;
  reading = false;
  await reader;
  t.comment(`ended ${end.at - sent} ms after SIGTERM, after ${reads} whole reads of the table`);
  t.equal(end.code, 143, end.stderr);
  t.ok(end.at - sent < BOUND_MS, `ended ${end.at - sent} ms after SIGTERM`);
  t.notOk(existsSync(sock), 'the socket is removed');
});

// The watchdog itself, in a process whose JavaScript thread is blocked outright (Atomics.wait:
// no handler, timer or output callback runs), as it is inside a long native call.
const blocked = (arm: string) => `
const { createRequire } = require('node:module');
const addon = createRequire(${JSON.stringify(join(root, 'package.json'))})(${JSON.stringify(join(root, 'build', 'Release', 'pktgraph.node'))});
process.on('SIGTERM', () => process.exit(0)); // never runs: the thread is blocked
process.on('SIGINT', () => process.exit(0));
addon.armExitWatchdog(${arm});
process.stdout.write('armed\\n');
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20000);
process.exit(0);
`;

async function armed(arm: string) {
  const child = start(['-e', blocked(arm)]);
  let out = '';
  child.child.stdout!.on('data', (d) => (out += d));
  await waitFor('the watchdog armed', () => out.includes('armed'));
  return child;
}

t.test('the watchdog ends a blocked process a grace after SIGTERM, removing the socket file', async (t) => {
  const sock = join(work, 'blocked.sock');
  writeFileSync(sock, ''); // stands in for the control socket: the watchdog removes what is there
  const child = await armed(`{ graceMs: 300, socketPath: ${JSON.stringify(sock)} }`);
  const sent = Date.now();
  child.child.kill('SIGTERM');
  const end = await child.done;
  t.comment(`ended ${end.at - sent} ms after SIGTERM (grace 300 ms)`);
  t.equal(end.code, 143);
  t.ok(end.at - sent >= 290 && end.at - sent < BOUND_MS, `ended ${end.at - sent} ms after SIGTERM`);
  t.equal(end.stderr, 'pktgraph: still busy 300 ms after SIGTERM (the JavaScript thread is in a long call); ended without the summary\n');
  t.notOk(existsSync(sock), 'the socket file is removed');
});

t.test('a second Ctrl-C ends a blocked process at once', async (t) => {
  const child = await armed('{ graceMs: 10000 }');
  const sent = Date.now();
  child.child.kill('SIGINT');
  await sleep(50);
  child.child.kill('SIGINT');
  const end = await child.done;
  t.comment(`ended ${end.at - sent} ms after the first Ctrl-C (grace 10 s)`);
  t.equal(end.code, 130);
  t.ok(end.at - sent < BOUND_MS, `ended ${end.at - sent} ms after the first Ctrl-C`);
  t.equal(end.stderr, '', 'quietly, as a second Ctrl-C does');
});

t.test("the watchdog ends a blocked process a grace after --duration's end, with status 1", async (t) => {
  const armedAt = Date.now();
  const child = await armed('{ graceMs: 200, durationMs: 300 }');
  const end = await child.done;
  t.comment(`ended ${end.at - armedAt} ms after arming (duration 300 ms, grace 200 ms)`);
  t.equal(end.code, 1);
  t.ok(end.at - armedAt >= 490 && end.at - armedAt < 500 + BOUND_MS, `ended ${end.at - armedAt} ms after arming`);
  t.equal(end.stderr, 'pktgraph: still busy 200 ms after --duration ended (the JavaScript thread is in a long call); ended without the summary\n');
});

t.test('a disarmed watchdog leaves signals to Node', async (t) => {
  const child = start([
    '-e',
    `const addon = require(${JSON.stringify(join(root, 'build', 'Release', 'pktgraph.node'))});
process.on('SIGTERM', () => { console.log('handled'); process.exit(7); });
addon.armExitWatchdog({ graceMs: 100, durationMs: 100 });
addon.disarmExitWatchdog();
console.log('ready');
setTimeout(() => {}, 20000);`,
  ]);
  let out = '';
  child.child.stdout!.on('data', (d) => (out += d));
  await waitFor('ready', () => out.includes('ready'));
  await sleep(400); // past the duration and its grace: a disarmed watchdog does nothing
  t.ok(child.child.exitCode === null, 'still running after the duration and grace');
  child.child.kill('SIGTERM');
  const end = await child.done;
  t.equal(end.code, 7, 'Node handled the signal');
  t.match(out, /handled/);
});
