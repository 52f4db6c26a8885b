// Device faults while the engine runs: the lab's two hosts h1 and h2 are bridged by the
// engine (FromDevice -> ToDevice both ways, as in device.test.ts). The engine-side veth of h1
// goes down, comes back up, is deleted, and is created again under the same name: the
// elements' `state` handlers follow (down, up, missing, up), ping fails and works again, an
// independent pipeline in the same graph keeps counting all along, and when the engine
// stops no packet socket of this process is left open. Needs root; skips otherwise.
import t from 'tap';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { graph, compile, Runtime, FromDevice, ToDevice, InfiniteSource, Counter, Discard } from 'pktgraph';
import { createLab, labAvailable, labObjects, type Lab } from '../src/lab/index.js';
import { twoHostsOnEngine } from './lib/labtools.js';

const avail = labAvailable();
const hasPing = spawnSync('ping', ['-V'], { stdio: 'ignore' }).status === 0;
const hasEthtool = spawnSync('ethtool', ['--version'], { stdio: 'ignore' }).status === 0;
if (!avail.ok) t.plan(0, `skip: ${avail.reason}`);
else if (!hasPing) t.plan(0, 'skip: ping (iputils-ping) is not installed');
else main();

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function ip(args: string[]) {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
}

async function ping(lab: Lab, dst: string, count = 3) {
  const r = await lab.exec('h1', ['ping', '-c', String(count), '-W', '1', '-i', '0.2', dst], { timeoutMs: 15_000 });
  return r.code;
}

/** Inodes of the packet sockets this process has open (/proc/net/packet x /proc/self/fd). */
function ownPacketSockets(): string[] {
  const packet = new Set(
    readFileSync('/proc/net/packet', 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/).pop()!),
  );
  const own: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    let target = '';
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m && packet.has(m[1])) own.push(m[1]);
  }
  return own;
}

function main() {
  t.test('a device that goes down, comes back, disappears and is recreated', async (t) => {
    const lab = createLab(twoHostsOnEngine);
    let rt: Runtime | undefined;
    t.teardown(() => {
      rt?.close();
      lab.destroy();
    });
    const e1 = lab.link(0).b;
    const h1end = lab.link(0).a;
    const e2 = lab.link(1).b;
    t.same(ownPacketSockets(), [], 'no packet socket open before the engine');

    rt = new Runtime({ threads: 2, poolBuffers: 8192 });
    const fanout = 1000 + Math.floor(Math.random() * 60000); // groups are per network namespace: avoid others' ids
    const g = rt.load(
      compile(
        graph('faults', () => {
          // Two sockets in one fanout group on e1 (maybe on two workers): a recreated device
          // needs both reopened, in whichever order their timers run.
          const tx2 = ToDevice({ device: e2 }, 'tx2');
          FromDevice({ device: e1, fanout }, 'rx1').to(tx2);
          FromDevice({ device: e1, fanout }, 'rx1b').to(tx2);
          // tx1 sends through a TX ring (the default): its ring socket is bound again with the other one.
          FromDevice({ device: e2 }, 'rx2').to(ToDevice({ device: e1, method: 'ring' }, 'tx1'));
          InfiniteSource({ length: 64, rate: 20000 }, 'gen').to(Counter({}, 'count')).to(Discard({}, 'sink'));
        }),
      ),
    );
    rt.start();
    t.ok(ownPacketSockets().length >= 4, 'the engine holds its packet sockets while it runs');

    const states = () => ({
      rx1: g.read('rx1', 'state'),
      rx1b: g.read('rx1b', 'state'),
      tx1: g.read('tx1', 'state'),
      rx2: g.read('rx2', 'state'),
      tx2: g.read('tx2', 'state'),
    });
    const waitState = async (want: string, ms = 3000) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        const s = states();
        if (s.rx1 === want && s.rx1b === want && s.tx1 === want) return s;
        await delay(50);
      }
      return states();
    };
    /** The independent pipeline counts on. */
    const counting = async () => {
      const a = g.counter('count', 'packets');
      await delay(300);
      return g.counter('count', 'packets') > a;
    };

    t.same(states(), { rx1: 'up', rx1b: 'up', tx1: 'up', rx2: 'up', tx2: 'up' }, 'every device is up');
    t.equal(g.read('rx1', 'last_error'), '', 'no error yet');
    t.equal(await ping(lab, '198.18.0.2'), 0, 'ping h1 -> h2 through the engine');

    // 1. Down.
    ip(['link', 'set', e1, 'down']);
    let s = await waitState('down');
    t.equal(s.rx1, 'down', 'FromDevice sees the device down');
    t.equal(s.rx1b, 'down', '... both of them');
    t.equal(s.tx1, 'down', 'ToDevice sees the device down');
    t.equal(s.rx2, 'up', "the other device's elements stay up");
    t.match(g.read('rx1', 'last_error'), /the device is down \(ip link set .* up\)/, 'last_error says why');
    t.ok(await counting(), 'the independent pipeline keeps counting');
    t.not(await ping(lab, '198.18.0.2', 2), 0, 'ping fails while the device is down');
    t.ok(await counting(), '... and still counts');

    // 2. Up again.
    ip(['link', 'set', e1, 'up']);
    s = await waitState('up');
    t.same(s, { rx1: 'up', rx1b: 'up', tx1: 'up', rx2: 'up', tx2: 'up' }, 'state up again');
    t.equal(await ping(lab, '198.18.0.2'), 0, 'ping works again');

    // 3. Deleted (the pair goes, with the h1 end), then created again under the same names.
    ip(['link', 'del', e1]);
    s = await waitState('missing');
    t.equal(s.rx1, 'missing', 'FromDevice sees the device missing');
    t.equal(s.rx1b, 'missing', '... both of them');
    t.equal(s.tx1, 'missing', 'ToDevice sees the device missing');
    t.match(g.read('tx1', 'last_error'), /no longer exists/, 'last_error says it is gone');
    t.ok(await counting(), 'the independent pipeline keeps counting');
    ip(['link', 'add', e1, 'type', 'veth', 'peer', 'name', h1end]);
    ip(['link', 'set', h1end, 'netns', lab.netns('h1')]);
    ip(['-n', lab.netns('h1'), 'addr', 'add', '198.18.0.1/24', 'dev', h1end]);
    spawnSync('sysctl', ['-qw', `net.ipv6.conf.${e1}.disable_ipv6=1`]);
    if (hasEthtool) {
      spawnSync('ethtool', ['-K', e1, 'rx', 'off', 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off'], { stdio: 'ignore' });
      spawnSync('ip', ['netns', 'exec', lab.netns('h1'), 'ethtool', '-K', h1end, 'rx', 'off', 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off'], { stdio: 'ignore' });
    }
    ip(['-n', lab.netns('h1'), 'link', 'set', h1end, 'up']);
    ip(['link', 'set', e1, 'up']);
    s = await waitState('up');
    t.same(s, { rx1: 'up', rx1b: 'up', tx1: 'up', rx2: 'up', tx2: 'up' }, 'state up once the device is back');
    t.equal(await ping(lab, '198.18.0.2'), 0, 'ping works through the recreated device');

    rt.stop();
    const c = g.allCounters();
    t.equal(c.rx1.device_faults, 2n, 'FromDevice counted two faults (down, deleted)');
    t.equal(c.tx1.device_faults, 2n, 'ToDevice counted two faults');
    t.ok(c.rx1.reopens >= 1n && c.rx1b.reopens >= 1n, `both FromDevices opened a new socket and ring (${c.rx1.reopens}, ${c.rx1b.reopens}: a fanout group forms again only once both old sockets are closed)`);
    t.equal(c.rx1b.device_faults, 2n, 'the second FromDevice counted two faults');
    t.ok(c.rx1.packets + c.rx1b.packets > 0n, 'frames arrived on e1');
    t.equal(c.tx1.rebinds, 1n, 'ToDevice bound its socket again once');
    t.equal(c.rx2.device_faults + c.tx2.device_faults, 0n, 'no fault on the other device');
    g.remove();
    rt.close();
    rt = undefined;
    t.same(ownPacketSockets(), [], 'no packet socket left open after the engine stops');
    lab.destroy();
    t.same(labObjects(lab.prefix), { namespaces: [], interfaces: [] }, 'the lab left nothing behind');
  });
}
