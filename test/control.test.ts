// The control socket of a running `pktgraph run`: read and write handlers through the
// command line and the client library, errors, socket permissions and clean-up, a live
// socket refused, a stale one replaced, and the default socket path.
import t from 'tap';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { controlRequest } from '../src/control/client.js';
import { controlPath, ensureControlDir } from '../src/control/path.js';
import { spawn } from 'node:child_process';
import { startCli, waitFor } from './lib/cli.js';
import { writeRouteTableGraph } from './lib/tables.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'pktgraph-control-'));
t.teardown(() => {
  rmSync(work, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


const start = (args: string[]) => startCli(args, { cwd: root, runtimeDir: work });

const cli = (args: string[]) => start(args).done;


const finite = join(work, 'finite.ts');
writeFileSync(
  finite,
  `import { graph, InfiniteSource, Discard } from 'pktgraph';
export default graph('finite', () => { InfiniteSource({ limit: 2000 }, 'src').to(Discard({}, 'sink')); });
`,
);

t.test('read and write handlers of a running engine', async (t) => {
  const sock = join(work, 'engine.sock');
  // A paced source leaves the CPU to the commands under test.
  const run = start(['run', 'configs/default.ts', '--threads', '1', '--duration', '30', '--json', '--control', sock, '-p', 'rate=200000']);
  await waitFor('the control socket', async () => {
    if (!existsSync(sock)) return false;
    return (await controlRequest(sock, { op: 'list' }).catch(() => undefined))?.ok === true;
  });

  t.equal(statSync(sock).mode & 0o777, 0o600, 'the socket is owner-only');

  const list = await controlRequest(sock, { op: 'list' });
  t.same(list, {
    ok: true,
    value: [{ name: 'default', elements: [{ name: 'source', class: 'InfiniteSource' }, { name: 'counter', class: 'Counter' }, { name: 'sink', class: 'Discard' }] }],
  });

  const read = await cli(['read', 'counter.packets', '--control', sock]);
  t.equal(read.code, 0, read.stderr);
  t.match(read.stdout, /^\d+\n$/);
  t.ok(Number(read.stdout) > 0, 'packets are flowing');

  const qualified = await cli(['read', 'default:counter.bytes', '--control', sock]);
  t.equal(qualified.code, 0, qualified.stderr);
  t.ok(Number(qualified.stdout) > 0);

  const handlers = await cli(['handlers', 'source', '--control', sock]);
  t.equal(handlers.code, 0, handlers.stderr);
  t.match(handlers.stdout, /^active +rw +read or set whether the source emits$/m);
  t.match(handlers.stdout, /^packets +r /m);

  // Per-element cost, switched on and read from outside while the graph runs.
  const off = await cli(['profile', '--control', sock]);
  t.equal(off.code, 0, off.stderr);
  t.match(off.stdout, /^profile: profiling is off$/m, 'profiling is off until asked for');
  const on = await cli(['profile', '--on', '--control', sock]);
  t.equal(on.code, 0, on.stderr);
  await sleep(300);
  const prof = await cli(['profile', 'default', '--json', '--control', sock]);
  t.equal(prof.code, 0, prof.stderr);
  const p = JSON.parse(prof.stdout) as { enabled: boolean; sourcePackets: number; elements: { name: string; packets: number; selfNs: number }[] };
  t.equal(p.enabled, true);
  t.same(p.elements.map((e) => e.name).sort(), ['counter', 'sink', 'source']);
  t.ok(p.sourcePackets > 0 && p.elements.every((e) => e.packets > 0 && e.selfNs > 0), 'every element was timed');
  const tableOut = await cli(['profile', '--control', sock]);
  t.match(tableOut.stdout, /^ +element +class +calls +packets +self ms/m, 'the table is printed');
  t.match(tableOut.stdout, /^ +counter +Counter /m);
  const both = await cli(['profile', '--on', '--off', '--control', sock]);
  t.equal(both.code, 1, 'two switches at once are refused');
  t.match(both.stderr, /give one of --on, --off and --reset/);
  const stop = await cli(['profile', '--off', '--control', sock]);
  t.equal(stop.code, 0, stop.stderr);
  const after0 = await controlRequest(sock, { op: 'profile' });
  t.ok(after0.ok && (after0.value as { enabled: boolean }).enabled === false, 'profiling is off again');
  const badProfile = await controlRequest(sock, { op: 'profile', value: 'sideways' });
  t.same(badProfile, { ok: false, error: `profile takes 'on', 'off', 'reset' or nothing, got "sideways"` });

  const write = await cli(['write', 'source.active', 'false', '--control', sock]);
  t.equal(write.code, 0, write.stderr);
  t.equal(write.stdout, '');
  const active = await controlRequest(sock, { op: 'read', element: 'source', handler: 'active' });
  t.same(active, { ok: true, value: 'false' });
  await sleep(100); // let packets already in flight arrive
  const before = await controlRequest(sock, { op: 'read', element: 'counter', handler: 'packets' });
  await sleep(300);
  const after = await controlRequest(sock, { op: 'counters', element: 'counter' });
  t.ok(before.ok && after.ok);
  if (before.ok && after.ok) t.equal((after.value as Record<string, string>).packets, before.value, 'the count stopped growing');

  const missing = await cli(['read', 'source.nonexistent', '--control', sock]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /^pktgraph: .*'nonexistent'/);
  const missingLib = await controlRequest(sock, { op: 'read', element: 'nowhere', handler: 'packets' });
  t.same(missingLib, { ok: false, error: "graph 'default' has no element named 'nowhere'" });
  const badOp = await controlRequest(sock, { op: 'explode' as never });
  t.equal(badOp.ok, false);

  const second = await cli(['run', 'configs/default.ts', '--threads', '1', '--duration', '1', '--control', sock]);
  t.equal(second.code, 1, 'a live socket is not taken over');
  t.match(second.stderr, new RegExp(`already serving the control socket ${sock.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*--control`));

  run.child.kill('SIGINT');
  const end = await run.done;
  t.equal(end.code, 130, `Ctrl-C: the shell's status for SIGINT ${end.stderr}`);
  const summary = JSON.parse(end.stdout);
  t.equal(summary.stoppedBy, 'aborted', 'Ctrl-C stops the run and still prints the summary');
  t.notOk(existsSync(sock), 'the socket is removed on exit');
});

t.test('a stale socket file is replaced, and removed after a run that drains', async (t) => {
  const sock = join(work, 'stale.sock');
  // A process that dies without closing its listening socket leaves the file behind.
  await new Promise<void>((resolve) => {
    const p = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    p.on('close', () => resolve());
  });
  t.ok(statSync(sock).isSocket(), 'a stale socket exists');
  const r = await cli(['run', finite, '--threads', '1', '--json', '--control', sock]);
  t.equal(r.code, 0, r.stderr);
  t.equal(JSON.parse(r.stdout).stoppedBy, 'drained');
  t.notOk(existsSync(sock));
});

t.test('control names live in a private per-user directory', async (t) => {
  const saved = process.env.XDG_RUNTIME_DIR;
  process.env.XDG_RUNTIME_DIR = work;
  t.teardown(() => {
    if (saved === undefined) delete process.env.XDG_RUNTIME_DIR;
    else process.env.XDG_RUNTIME_DIR = saved;
  });
  const uid = process.getuid!();
  t.equal(controlPath(undefined), join(work, `pktgraph-${uid}`, 'default.sock'));
  t.equal(controlPath('lab'), join(work, `pktgraph-${uid}`, 'lab.sock'));
  t.equal(controlPath('./here.sock'), './here.sock', 'a value with / is a path');
  t.throws(() => controlPath('a b'), /not valid/);
  const dir = ensureControlDir();
  t.equal(statSync(dir).mode & 0o777, 0o700);
});

t.test('a written config field shows in the config handler', async (t) => {
  const sock = join(work, 'config.sock');
  const run = start(['run', 'configs/default.ts', '--threads', '1', '--duration', '30', '--json', '--control', sock, '-p', 'rate=1000']);
  await waitFor('the control socket', async () => (await controlRequest(sock, { op: 'list' }).catch(() => undefined))?.ok === true);
  const config = async () => JSON.parse((await cli(['read', 'source.config', '--control', sock])).stdout);
  t.match(await config(), { rate: 1000, active: true, limit: -1 }, 'as compiled');
  for (const [handler, value] of [['rate', '2500'], ['active', 'false'], ['limit', '100000000']]) {
    const w = await cli(['write', `source.${handler}`, value, '--control', sock]);
    t.equal(w.code, 0, w.stderr);
  }
  t.match(await config(), { rate: 2500, active: false, limit: 100000000, length: 64 }, 'the written values, typed as in the plan; the rest unchanged');
  const bad = await cli(['write', 'source.rate', 'fast', '--control', sock]);
  t.equal(bad.code, 1, 'a refused write');
  t.match(await config(), { rate: 2500 }, 'leaves config as it was');
  run.child.kill('SIGINT');
  t.equal((await run.done).code, 130, 'ended by Ctrl-C');
});

t.test('without --control a second run takes a free default name and says so; an explicit taken name is an error', async (t) => {
  const dir = join(work, `pktgraph-${process.getuid!()}`);
  const first = start(['run', 'configs/default.ts', '--threads', '1', '--duration', '30', '-p', 'rate=1000', '--json']);
  await waitFor('the first default socket', async () => (await controlRequest(join(dir, 'default.sock'), { op: 'list' }).catch(() => undefined))?.ok === true);
  const second = start(['run', 'configs/default.ts', '--threads', '1', '--duration', '30', '-p', 'rate=2000', '--json']);
  await waitFor('the second default socket', async () => (await controlRequest(join(dir, 'default-2.sock'), { op: 'list' }).catch(() => undefined))?.ok === true);
  const [one, two, taken] = await Promise.all([
    cli(['read', 'source.rate']),
    cli(['read', 'source.rate', '--control', 'default-2']),
    cli(['run', 'configs/default.ts', '--threads', '1', '--duration', '1', '--control', 'default-2']),
  ]);
  t.same([one.stdout.trim(), two.stdout.trim()], ['1000', '2000'], 'each run serves its own socket');
  t.equal(taken.code, 1, 'an explicit name in use is refused');
  t.match(taken.stderr, /^pktgraph: another pktgraph engine is already serving the control socket .*default-2\.sock; stop it or give this one another with --control NAME$/m);
  first.child.kill('SIGINT');
  const a = await first.done;
  t.equal(a.code, 130, a.stderr);
  t.equal(a.stderr, '', 'the first run took the default name silently');
  const lost = await cli(['read', 'source.rate']);
  t.equal(lost.code, 1);
  t.match(lost.stderr, /^pktgraph: no pktgraph engine is running with the control socket .*default\.sock; runs started without --control serve default-2: name one with --control default-2$/m, 'a command without --control points to the run that took another name');
  second.child.kill('SIGINT');
  const b = await second.done;
  t.equal(b.code, 130, b.stderr);
  t.match(b.stderr, /^pktgraph: the default control socket is in use by another run; this one serves 'default-2' \(pktgraph read --control default-2 ELEMENT\.HANDLER\)$/m);
  t.equal(JSON.parse(b.stdout).stoppedBy, 'aborted', 'stdout is still only the JSON summary');
  t.notOk(existsSync(join(dir, 'default.sock')) || existsSync(join(dir, 'default-2.sock')), 'both sockets removed');

  // A stale default socket (its engine died) is reused, not skipped.
  await new Promise<void>((resolve) => {
    const p = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(join(dir, 'default.sock'))}, () => process.kill(process.pid, 'SIGKILL'))`]);
    p.on('close', () => resolve());
  });
  t.ok(statSync(join(dir, 'default.sock')).isSocket(), 'a stale default socket exists');
  const third = start(['run', finite, '--threads', '1', '--json']);
  await waitFor('the run to serve default.sock', async () => (await controlRequest(join(dir, 'default.sock'), { op: 'list' }).catch(() => undefined))?.ok === true || third.child.exitCode !== null);
  const r = await third.done;
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, '', 'no other name was needed');
});

t.test('a socket path too long for the kernel, or in a missing directory: one sentence, before anything starts', async (t) => {
  const long = join(work, 'x'.repeat(120), 'engine.sock');
  const started = Date.now();
  const run = await cli(['run', 'configs/default.ts', '--threads', '1', '--control', long]);
  t.equal(run.code, 1, run.stderr);
  t.match(run.stderr, new RegExp(`^pktgraph: the control socket path ${long} is ${Buffer.byteLength(long)} bytes long, more than the 107 a Unix socket path may have; give a shorter --control PATH\\n$`));
  t.notOk(run.stdout.includes('Mpps'), 'the graph never ran');
  t.ok(Date.now() - started < 20_000, 'no hang');
  const read = await cli(['read', 'counter.packets', '--control', long]);
  t.equal(read.code, 1);
  t.match(read.stderr, /bytes long, more than the 107/, 'the client refuses it too (it would reach a truncated name)');

  const missing = join(work, 'no-such-dir', 'engine.sock');
  const run2 = await cli(['run', 'configs/default.ts', '--threads', '1', '--control', missing]);
  t.equal(run2.code, 1, run2.stderr);
  t.equal(run2.stderr, `pktgraph: cannot open the control socket ${missing}: the directory ${join(work, 'no-such-dir')} does not exist; create it or give --control a path in an existing directory\n`);
  t.notOk(existsSync(join(work, 'no-such-dir')));
});

t.test('a handler answer of many megabytes arrives whole (the timeout is for an engine that does not answer)', async (t) => {
  // 300,000 routes of one /24 each: rt.table is about 8 MB of text.
  const n = 300_000;
  const graphFile = writeRouteTableGraph(work, n);
  const sock = join(work, 'table.sock');
  const run = start(['run', graphFile, '--threads', '1', '--keep-running', '--json', '--control', sock]);
  await waitFor('the control socket', () => existsSync(sock), 60);
  const read = await cli(['read', 'rt.table', '--control', sock]);
  t.equal(read.code, 0, read.stderr);
  const got = read.stdout.split('\n');
  t.equal(got.length, n + 1, 'every route, each on a line of its own (no blank line after the table)');
  t.equal(got[n], '');
  t.equal(got[0], '16.0.0.0/24 dev 0');
  t.equal(got[n - 1], `${16 + ((n - 1) >> 16)}.${((n - 1) >> 8) & 255}.${(n - 1) & 255}.0/24 dev 1`);
  // Through the library too, next to a small request on the same engine.
  const lib = await controlRequest(sock, { op: 'read', element: 'rt', handler: 'table' });
  t.ok(lib.ok && (lib.value as string).trimEnd() === read.stdout.trimEnd(), 'the library gets the same text');
  run.child.kill('SIGTERM');
  const end = await run.done;
  t.equal(end.code, 143, end.stderr);
});

t.test('the client waits for an answer to start, not to end', async (t) => {
  // A peer that answers after 200 ms, slowly: 12 MB of JSON in 24 pieces 50 ms apart (1.2 s
  // in all), against a timeout of 500 ms; and a peer that never answers.
  const { createServer } = await import('node:net');
  const slow = join(work, 'slow.sock');
  const value = 'route\t'.repeat(2_000_000);
  const text = JSON.stringify({ ok: true, value }) + '\n';
  const server = createServer((s) => {
    s.once('data', async () => {
      await sleep(200);
      for (let i = 0; i < 24; i++) {
        s.write(text.slice((i * text.length) / 24, ((i + 1) * text.length) / 24));
        await sleep(50);
      }
    });
  });
  await new Promise<void>((r) => server.listen(slow, r));
  const silent = join(work, 'silent.sock');
  const mute = createServer(() => {});
  await new Promise<void>((r) => mute.listen(silent, r));
  t.teardown(() => {
    server.close();
    mute.close();
  });
  const started = Date.now();
  const got = await controlRequest(slow, { op: 'read', element: 'rt', handler: 'table' }, 500);
  t.ok(got.ok && got.value === value, 'the whole answer, decoded');
  t.ok(Date.now() - started >= 1000, 'it took longer than the timeout');
  await t.rejects(controlRequest(silent, { op: 'list' }, 300), /the engine at .*silent\.sock did not answer within 300 ms/);
});
