// The control client the Engine uses (src/control/client.ts ControlClient): requests one after
// another share a kept connection, requests in flight together get one each, a connection the
// engine ended is dropped, and a kept connection does not keep the process alive.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlClient, NoEngineError } from '../src/control/client.js';

const work = mkdtempSync(join(tmpdir(), 'pktgraph-control-client-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A peer answering each request line with its connection's number and the request's op, after `delayMs`. */
async function peer(path: string, delayMs = 0) {
  const sockets: Socket[] = [];
  const server: Server = createServer((s) => {
    const n = sockets.push(s);
    let buf = '';
    s.on('data', async (d) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const req = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        await sleep(delayMs);
        s.write(JSON.stringify({ ok: true, value: `${n} ${req.op}` }) + '\n');
      }
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  return {
    connections: () => sockets.length,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

t.test('requests one after another share one connection; concurrent ones get one each', async (t) => {
  const path = join(work, 'a.sock');
  const p = await peer(path, 20);
  const c = new ControlClient(path, 2000);
  for (let i = 0; i < 5; i++) t.same(await c.request({ op: 'list' }), { ok: true, value: '1 list' }, `request ${i + 1} on the first connection`);
  t.equal(p.connections(), 1, 'five requests, one connection');
  const both = await Promise.all([c.request({ op: 'read' }), c.request({ op: 'counters' })]);
  t.same(both.map((r) => (r as { value: string }).value).sort(), ['1 read', '2 counters'], 'two in flight: the kept connection and a new one');
  t.equal(p.connections(), 2);
  c.close();
  await p.close();
});

t.test('a connection the engine ended is dropped: the next request finds the new engine, or none', async (t) => {
  const path = join(work, 'b.sock');
  const first = await peer(path);
  const c = new ControlClient(path, 2000);
  t.same(await c.request({ op: 'list' }), { ok: true, value: '1 list' });
  await first.close();
  await t.rejects(c.request({ op: 'list' }), NoEngineError, 'no engine: NoEngineError, as a new connection says');
  const second = await peer(path);
  t.same(await c.request({ op: 'list' }), { ok: true, value: '1 list' }, 'a new engine on the same socket answers');
  c.close();
  await second.close();
});

t.test('a kept connection does not keep the process alive', async (t) => {
  const path = join(work, 'c.sock');
  const p = await peer(path);
  t.teardown(() => p.close());
  // A child that makes a request and then has nothing left to do must exit by itself.
  const { spawn } = await import('node:child_process');
  const script = `const { ControlClient } = await import(${JSON.stringify(new URL('../src/control/client.ts', import.meta.url).href)});
const r = await new ControlClient(${JSON.stringify(path)}).request({ op: 'list' });
console.log(JSON.stringify(r));`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const code = await Promise.race([new Promise<number | null>((r) => child.on('exit', r)), sleep(20_000).then(() => 'hung' as const)]);
  if (code === 'hung') child.kill('SIGKILL');
  t.equal(code, 0, 'the process exited after its answer');
  t.same(JSON.parse(out), { ok: true, value: '1 list' });
});
