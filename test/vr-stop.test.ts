// Stopping a virtual router drops, and counts, the traffic that reaches its devices at once
// (issue 11, "stop: traffic to it dropped and counted, state kept"): a `pktgraph serve` router
// bridges two lab veths (h1 -> FromDevice -> Counter -> ToDevice -> h2). Frames h1 sends while
// the router is stopped are counted in FromDevice's drops_stopped and never reach h2, not even
// after the start (nothing waits in the kernel's ring); frames sent after the start are
// forwarded; the Counter keeps its count across stop and start. The same for a router reading
// a TAP device the test's host side writes to (Tap's drops_stopped). Needs root and network
// namespaces (skips with the reason otherwise); run under flock /tmp/pktgraph-lab.lock.
// No rates: every check is a count of tagged frames, waited for with a deadline.
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../src/service/client.js';
import { createLab, labAvailable } from '../src/lab/index.js';
import { delay } from './lib/labtools.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin', 'pktgraph.js');

// h1 sends `count` broadcast frames of EtherType 0x88b5 whose payload is `tag-i`.
const PY_TX = `
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0); s.bind((sys.argv[1], 0))
for i in range(int(sys.argv[3])):
    s.send(b'\\xff' * 6 + b'\\x02\\x00\\x00\\x00\\x00\\x01' + b'\\x88\\xb5' + ('%s-%d;' % (sys.argv[2], i)).encode().ljust(46, b'.'))
    time.sleep(0.002)
`;
// h2 prints the tag of every 0x88b5 frame it receives until one tagged 'end' (or 20 s).
const PY_RX = `
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5)); s.bind((sys.argv[1], 0))
s.settimeout(20)
print('ready', flush=True)
while True:
    data, addr = s.recvfrom(4096)
    if addr[2] == socket.PACKET_OUTGOING: continue
    tag = data[14:].split(b';')[0].decode()
    print(tag, flush=True)
    if tag.startswith('end'): break
`;

const avail = labAvailable();
if (!avail.ok) {
  t.test('a stopped virtual router drops and counts what reaches its devices', { skip: avail.reason }, async () => {});
} else {
  t.test('a stopped virtual router drops and counts what reaches its devices', async (t) => {
    const work = mkdtempSync(join(tmpdir(), 'pktgraph-vrstop-'));
    const lab = createLab({ hosts: [{ name: 'h1' }, { name: 'h2' }], links: [{ a: 'h1', b: 'engine' }, { a: 'h2', b: 'engine' }] });
    const children: ChildProcess[] = [];
    t.teardown(() => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      lab.destroy();
      rmSync(work, { recursive: true, force: true });
    });
    const [h1if, e1, h2if, e2] = [lab.link(0).a, lab.link(0).b, lab.link(1).a, lab.link(1).b];

    const file = join(work, 'bridge.ts');
    writeFileSync(
      file,
      `import { graph, FromDevice, Counter, ToDevice } from 'pktgraph';
export default graph({ name: 'bridge', params: { rx: '', tx: '' } }, (p) => {
  FromDevice({ device: p.rx }, 'rx').to(Counter({}, 'counter')).to(ToDevice({ device: p.tx }, 'tx'));
});
`,
    );
    const tapFile = join(work, 'tap.ts');
    writeFileSync(
      tapFile,
      `import { graph, Idle, Tap, Classifier, Counter, Discard } from 'pktgraph';
export default graph({ name: 'tapr', params: { dev: '' } }, (p) => {
  const c = Idle().to(Tap({ device: p.dev }, 'tap')).to(Classifier({ patterns: ['12/88b5', '-'] }, 'ours'));
  c.out(0).to(Counter({}, 'counter')).to(Discard());
  c.out(1).to(Discard());
});
`,
    );
    const sock = join(work, 'engine.sock');
    const env: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: work };
    delete env.NODE_OPTIONS;
    const serve = spawn(process.execPath, [bin, 'serve', '--control', sock, '--threads', '2', '--pool', '4096'], { cwd: work, env, stdio: 'ignore' });
    children.push(serve);
    const engine = new Engine(sock);
    const waitFor = async (what: string, check: () => Promise<boolean>, seconds = 20) => {
      const deadline = Date.now() + seconds * 1000;
      while (Date.now() < deadline) {
        if (await check().catch(() => false)) return;
        await delay(50);
      }
      throw new Error(`timed out waiting for ${what}`);
    };
    await waitFor('the engine to serve its socket', async () => (await engine.status()) !== undefined);

    // h2's receiver runs for the whole test; its output is every tag h2 got.
    const rx = lab.exec('h2', ['python3', '-c', PY_RX, h2if], { timeoutMs: 60_000 });
    await delay(500);
    const send = (tag: string, n: number) => lab.exec('h1', ['python3', '-c', PY_TX, h1if, tag, String(n)], { timeoutMs: 20_000 });
    const counters = () => engine.counters('vr');
    // At least: the kernel may send other frames on h1's link (IPv6 router solicitations).
    const counted = async () => (await counters()).counter.packets;

    t.equal((await engine.createRouter('vr', { file, params: { rx: e1, tx: e2 } }, { start: true })).state, 'running');
    await send('run1', 20);
    await waitFor('20 frames forwarded', async () => (await counted()) >= 20n);

    t.equal((await engine.stopRouter('vr')).state, 'stopped');
    const atStop = await counters();
    await send('stopped', 50);
    await waitFor('50 frames dropped as stopped', async () => (await counters()).rx.drops_stopped >= 50n);
    const stopped = await counters();
    t.equal(stopped.counter.packets, atStop.counter.packets, 'nothing passed the router while stopped');
    t.equal(stopped.rx.packets, atStop.rx.packets, 'FromDevice pushed nothing while stopped');
    t.equal(stopped.rx.kernel_drops, 0n, 'the kernel dropped nothing: the ring was kept empty');

    t.equal((await engine.startRouter('vr')).state, 'running');
    await send('run2', 20);
    await send('end', 1);
    const got = (await rx).stdout.split('\n').filter((l) => l && l !== 'ready');
    const tags = (prefix: string) => got.filter((l) => l.startsWith(`${prefix}-`));
    t.equal(tags('run1').length, 20, 'the 20 frames before the stop were delivered');
    t.same(tags('stopped'), [], 'no frame sent while stopped was delivered, not even after the start');
    t.equal(tags('run2').length, 20, 'the 20 frames after the start were delivered');
    t.same(got.filter((l) => !/^(run1|stopped|run2|end)-/.test(l)), [], 'h2 got nothing else');
    const end = await counters();
    t.equal(end.rx.drops_stopped, stopped.rx.drops_stopped, 'no drops counted as stopped once started');
    t.ok(end.counter.packets >= atStop.counter.packets + 21n, 'the counter went on from where it was');

    // A TAP device: the host writes the frames (on the root-namespace side of the device).
    const dev = `${lab.prefix}tp`.slice(0, 15);
    t.equal((await engine.createRouter('tp', { file: tapFile, params: { dev } }, { start: true })).state, 'running');
    const hostSend = (tag: string, n: number) => {
      const r = spawnSync('python3', ['-c', PY_TX, dev, tag, String(n)], { encoding: 'utf8', timeout: 20_000 });
      if (r.status !== 0) throw new Error(`sending on ${dev} failed: ${r.stderr}`);
    };
    const tap = async () => await engine.counters('tp');
    hostSend('run1', 20);
    await waitFor('20 frames read from the TAP device', async () => (await tap()).counter.packets === 20n);
    await engine.stopRouter('tp');
    hostSend('stopped', 50);
    await waitFor('50 frames dropped as stopped', async () => (await tap()).tap.drops_stopped >= 50n);
    t.equal((await tap()).counter.packets, 20n, 'nothing passed the TAP router while stopped');
    await engine.startRouter('tp');
    hostSend('run2', 20);
    await waitFor('20 more frames read', async () => (await tap()).counter.packets >= 40n);
    await delay(300); // a stale burst, if any, would show up here
    t.equal((await tap()).counter.packets, 40n, 'after the start only the 20 new frames came through the TAP router');

    await engine.deleteRouter('tp');
    await engine.deleteRouter('vr');
    await engine.stop();
  });
}
