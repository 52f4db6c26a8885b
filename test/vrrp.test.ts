// VRRP (elements/ip/VRRP.ts, RFC 5798 for IPv4) in the engine, without a network: a script
// element injects advertisements (as another router on the link would send them) into a VRRP
// element whose output a collector keeps, and the test checks the bytes VRRP sends (virtual
// MAC, 224.0.0.18, TTL 255, both checksums, the gratuitous ARP), the election (master after the
// Master_Down_Interval, backup on a higher priority or an equal one from a higher address,
// preemption of a lower master, takeover after Skew_Time on a priority-0 advertisement, the
// owner master at once), the gates it opens and closes, the RFC 5798 7.1 checks with their
// named drop counters, and configs refused at compile time. The lab test (vrrp-lab.test.ts)
// runs it against pktgraph and keepalived on real interfaces.
import t from 'tap';
import { compile, graph, Runtime, Switch, Discard, Idle, Type, VRRP, defineScriptElement, type RunningGraph } from 'pktgraph';
import { sleep, until, counterOf } from './lib/wait.js';
import { ether, ipv4, checksum16, pseudoHeaderSum, ETH_ARP } from './lib/packets.js';

const n = counterOf;
// Election timing is checked to the millisecond: poll every 2 ms.
const untilFast = (what: () => boolean, ms: number) => until(what, ms, 2);

// Another router on the link: the `send` handler emits the hex frame written to it.
const Inject = defineScriptElement({
  name: 'TestVrrpInject',
  group: 'test',
  summary: 'Test: sends the frame written to its send handler.',
  doc: 'Write hex to `send`.',
  inputs: '0',
  outputs: '1',
  config: Type.Object({}),
  counters: {},
  handlers: { send: { doc: 'a frame in hex', write: (v, ctx) => void ctx.send(0, Buffer.from(v, 'hex')) } },
});
// The link: keeps every frame VRRP sends, with its arrival time.
const Wire = defineScriptElement({
  name: 'TestVrrpWire',
  group: 'test',
  summary: 'Test: keeps the frames that reach it.',
  doc: '`frames`: JSON list of [ms, hex].',
  inputs: '1',
  outputs: '0',
  config: Type.Object({}),
  counters: {},
  init: () => ({ frames: [] as [number, string][] }),
  process(batch, ctx) {
    for (const p of batch) ctx.state.frames.push([ctx.now(), Buffer.from(p.data).toString('hex')]);
  },
  handlers: { frames: { doc: 'frames kept', read: (ctx) => JSON.stringify(ctx.state.frames) } },
});

const VIP = '198.18.0.1';
const frames = (g: RunningGraph) => (JSON.parse(g.read('wire', 'frames')) as [number, string][]).map(([ms, hex]) => ({ ms, f: Buffer.from(hex, 'hex') }));
const adverts = (g: RunningGraph) => frames(g).filter(({ f }) => f.readUInt16BE(12) === 0x0800 && f[23] === 112);

// An advertisement as another router sends it (fields overridable to break the checks).
function advert(o: { src: string; priority: number; vrid?: number; interval?: number; ttl?: number; version?: number; badSum?: boolean; addresses?: string[]; cut?: number }): string {
  const addrs = o.addresses ?? [VIP];
  const v = Buffer.alloc(8 + 4 * addrs.length);
  v[0] = ((o.version ?? 3) << 4) | 1;
  v[1] = o.vrid ?? 7;
  v[2] = o.priority;
  v[3] = addrs.length;
  v.writeUInt16BE((o.interval ?? 10) & 0x0fff, 4);
  addrs.forEach((a, i) => Buffer.from(a.split('.').map(Number)).copy(v, 8 + 4 * i));
  v.writeUInt16BE(checksum16(v, pseudoHeaderSum(o.src, '224.0.0.18', 112, v.length)) ^ (o.badSum ? 1 : 0), 6);
  const f = ether({ dst: '01:00:5e:00:00:12', src: '00:00:5e:00:01:07', payload: ipv4({ src: o.src, dst: '224.0.0.18', proto: 112, ttl: o.ttl ?? 255, payload: v }) });
  return f.subarray(0, f.length - (o.cut ?? 0)).toString('hex');
}

function load(rt: Runtime, vrrp: Record<string, unknown>) {
  return rt.load(
    compile(
      graph('vrrp', () => {
        Inject({}, 'peer').to(VRRP({ vrid: 7, address: '198.18.0.2', addresses: [VIP], interval: 10, gates: ['gate'], ...vrrp } as Parameters<typeof VRRP>[0], 'vrrp')).to(Wire({}, 'wire'));
        Idle({}, 'idle').to(Switch({ output: -1 }, 'gate')).to(Discard({}, 'sink'));
      }),
    ),
  );
}

t.test('a lone router becomes master after the Master_Down_Interval and advertises as RFC 5798 says', async (t) => {
  const rt = new Runtime({ threads: 1 });
  t.teardown(() => rt.close());
  const t0 = performance.now();
  const g = load(rt, { priority: 100 });
  rt.start();
  t.equal(g.read('vrrp', 'state'), 'backup', 'starts as backup');
  t.equal(g.read('gate', 'switch'), '-1', 'with its gate closed');
  // 3 x 100 ms + (256 - 100) x 100 ms / 256 = 360.9375 ms
  t.equal(g.read('vrrp', 'master_down_interval'), '360.9375', 'Master_Down_Interval with Skew_Time');
  t.ok(await untilFast(() => g.read('vrrp', 'state') === 'master', 3000), 'becomes master');
  const took = Number(g.read('vrrp', 'master_since')) - t0;
  t.ok(took >= 360 && took < 360 + 400, `after the Master_Down_Interval (${took.toFixed(1)} ms)`);
  t.equal(g.read('gate', 'switch'), '0', 'gate open');
  t.ok(await untilFast(() => adverts(g).length >= 3, 2000), 'advertises');
  const [a] = adverts(g);
  const f = a.f;
  t.equal(f.subarray(0, 6).toString('hex'), '01005e000012', 'to the VRRP group MAC');
  t.equal(f.subarray(6, 12).toString('hex'), '00005e000107', 'from the virtual MAC 00:00:5e:00:01:VRID');
  t.equal(f[22], 255, 'TTL 255');
  t.equal(f.subarray(26, 30).join('.'), '198.18.0.2', "from the router's address");
  t.equal(f.subarray(30, 34).join('.'), '224.0.0.18', 'to 224.0.0.18');
  t.equal(checksum16(f.subarray(14, 34)), 0, 'IPv4 header checksum right');
  const v = f.subarray(34);
  t.same([v[0], v[1], v[2], v[3], v.readUInt16BE(4)], [0x31, 7, 100, 1, 10], 'version 3, advertisement, VRID 7, priority 100, one address, interval 10 cs');
  t.equal(v.subarray(8, 12).join('.'), VIP, 'the virtual address');
  t.equal(checksum16(v, pseudoHeaderSum('198.18.0.2', '224.0.0.18', 112, v.length)), 0, 'VRRP checksum right (pseudo-header included)');
  const garp = frames(g).find(({ f }) => f.readUInt16BE(12) === ETH_ARP)?.f;
  t.ok(garp, 'a gratuitous ARP on takeover');
  t.equal(garp!.subarray(0, 6).toString('hex'), 'ffffffffffff', 'broadcast');
  t.equal(garp!.subarray(6, 12).toString('hex'), '00005e000107', 'from the virtual MAC');
  t.equal(garp!.readUInt16BE(20), 1, 'an ARP request');
  t.equal(garp!.subarray(22, 28).toString('hex'), '00005e000107', 'sender MAC: the virtual MAC');
  t.same([garp!.subarray(28, 32).join('.'), garp!.subarray(38, 42).join('.')], [VIP, VIP], 'sender and target: the virtual address');
  const times = adverts(g).map((x) => x.ms);
  const gaps = times.slice(1).map((x, i) => x - times[i]);
  t.ok(gaps.every((d) => d > 80 && d < 300), `every interval (100 ms): ${gaps.map((d) => d.toFixed(0)).join(', ')}`);
  t.equal(n(g, 'vrrp', 'garps_sent'), 1);
  t.equal(n(g, 'vrrp', 'became_master'), 1);
});

t.test('election: higher priority and the address tie-break win; preemption; priority 0; the 7.1 checks', async (t) => {
  const rt = new Runtime({ threads: 1 });
  t.teardown(() => rt.close());
  const g = load(rt, { priority: 100 });
  rt.start();
  t.ok(await untilFast(() => g.read('vrrp', 'state') === 'master', 3000), 'master alone');
  const peer = (o: Parameters<typeof advert>[0]) => g.write('peer', 'send', advert(o));

  peer({ src: '198.18.0.3', priority: 50 });
  await sleep(30);
  t.equal(g.read('vrrp', 'state'), 'master', 'a lower priority does not take over');
  peer({ src: '198.18.0.1', priority: 100 }); // equal priority, lower address than ours (.2)
  await sleep(30);
  t.equal(g.read('vrrp', 'state'), 'master', 'an equal priority from a lower address does not either');
  peer({ src: '198.18.0.3', priority: 100 });
  t.ok(await untilFast(() => g.read('vrrp', 'state') === 'backup', 1000), 'an equal priority from a higher address does');
  t.equal(g.read('vrrp', 'master'), '198.18.0.3', 'the master is known');
  t.equal(g.read('gate', 'switch'), '-1', 'gate closed');

  // Kept as backup by a higher master's advertisements; takes over when they stop.
  const keep = setInterval(() => peer({ src: '198.18.0.3', priority: 200 }), 100);
  await sleep(700);
  clearInterval(keep);
  t.equal(g.read('vrrp', 'state'), 'backup', 'stays backup while the master advertises (700 ms, two Master_Down_Intervals)');
  const last = Number(g.read('vrrp', 'last_advert'));
  t.ok(await untilFast(() => g.read('vrrp', 'state') === 'master', 2000), 'takes over when they stop');
  const gap = Number(g.read('vrrp', 'master_since')) - last;
  // Node's timers round to whole milliseconds, so one may fire up to a millisecond early.
  t.ok(gap >= 359 && gap < 360 + 300, `the Master_Down_Interval after the last advertisement (${gap.toFixed(1)} ms, 360.9 expected)`);

  // Preemption: a lower-priority master is ignored by this backup, which takes over.
  peer({ src: '198.18.0.3', priority: 200 });
  t.ok(await untilFast(() => g.read('vrrp', 'state') === 'backup', 1000), 'backup again');
  const lower = setInterval(() => peer({ src: '198.18.0.3', priority: 50 }), 100);
  const t1 = performance.now();
  const pre = await untilFast(() => g.read('vrrp', 'state') === 'master', 2000);
  clearInterval(lower);
  t.ok(pre, `preempts a master of lower priority (after ${(performance.now() - t1).toFixed(0)} ms)`);

  // A master's priority-0 advertisement (shutting down): the backup takes over after Skew_Time.
  peer({ src: '198.18.0.3', priority: 200 });
  t.ok(await untilFast(() => g.read('vrrp', 'state') === 'backup', 1000), 'backup again');
  const t2 = performance.now();
  peer({ src: '198.18.0.3', priority: 0 });
  t.ok(await untilFast(() => g.read('vrrp', 'state') === 'master', 1000), 'takes over on priority 0');
  const skew = performance.now() - t2;
  t.ok(skew < 300, `after Skew_Time (60.9 ms), not the Master_Down_Interval: ${skew.toFixed(1)} ms`);

  // RFC 5798 7.1: each broken advertisement dropped under its counter, the state unchanged.
  const before = n(g, 'vrrp', 'adverts_received');
  peer({ src: '198.18.0.3', priority: 250, ttl: 254 });
  peer({ src: '198.18.0.3', priority: 250, badSum: true });
  peer({ src: '198.18.0.3', priority: 250, vrid: 8 });
  peer({ src: '198.18.0.3', priority: 250, version: 2 });
  peer({ src: '198.18.0.3', priority: 250, cut: 4 });
  g.write('peer', 'send', ether({ payload: ipv4({ proto: 17, payload: Buffer.alloc(8) }) }).toString('hex'));
  peer({ src: '198.18.0.3', priority: 10, addresses: ['198.18.0.9'] });
  t.ok(await untilFast(() => n(g, 'vrrp', 'handled') === n(g, 'vrrp', 'received') && n(g, 'vrrp', 'adverts_received') === before + 1, 1000), 'all handled');
  t.same(
    ['drops_ttl', 'drops_checksum', 'drops_vrid', 'drops_version', 'drops_short', 'drops_not_vrrp', 'addresses_mismatch'].map((c) => n(g, 'vrrp', c)),
    [1, 1, 1, 1, 1, 1, 1],
    'TTL, checksum, VRID, version, truncation and non-VRRP each dropped and counted; a different address list counted and accepted',
  );
  t.equal(g.read('vrrp', 'state'), 'master', 'none of the broken ones (priority 250) took over');

  // Shutdown: a master hands over with priority 0.
  const sent = adverts(g).length;
  g.write('vrrp', 'enabled', 'false');
  t.ok(await untilFast(() => adverts(g).length > sent, 1000), 'an advertisement on shutdown');
  t.equal(adverts(g).at(-1)!.f[34 + 2], 0, 'with priority 0');
  t.equal(g.read('vrrp', 'state'), 'initialize', 'and it stops');
  t.equal(g.read('gate', 'switch'), '-1', 'gate closed');
  t.throws(() => g.write('vrrp', 'enabled', 'maybe'), /enabled: 'maybe' is not true or false/);
  t.throws(() => g.write('vrrp', 'priority', '255'), /priority: '255' is not a whole number from 1 to 254/);
});

t.test('the owner of the addresses (priority 255) is master at once and ignores the others', async (t) => {
  const rt = new Runtime({ threads: 1 });
  t.teardown(() => rt.close());
  const g = load(rt, { priority: 255, address: VIP });
  rt.start();
  t.ok(await untilFast(() => adverts(g).length >= 1, 200), 'advertises at once, before any Master_Down_Interval');
  t.equal(g.read('vrrp', 'state'), 'master');
  t.equal(adverts(g)[0].f[34 + 2], 255, 'priority 255');
  g.write('peer', 'send', advert({ src: '198.18.0.3', priority: 254 }));
  t.ok(await untilFast(() => n(g, 'vrrp', 'drops_owner') === 1, 1000), 'discards the others (drops_owner)');
  t.equal(g.read('vrrp', 'state'), 'master');
});

t.test('configs the RFC forbids are refused when compiling, naming the field', async (t) => {
  const build = (v: Record<string, unknown>) => () =>
    compile(
      graph('bad', () => {
        Inject({}, 'peer').to(VRRP({ vrid: 7, address: '198.18.0.2', addresses: [VIP], ...v } as Parameters<typeof VRRP>[0], 'vrrp')).to(Wire({}, 'wire'));
        Idle({}, 'idle').to(Switch({ output: -1 }, 'gate')).to(Discard({}, 'sink'));
      }),
    );
  t.throws(build({ priority: 255 }), /'priority' is 255, which only the owner of the virtual addresses may use/);
  t.throws(build({ address: VIP }), /the owner's priority must be 255/);
  t.throws(build({ gates: ['nowhere'] }), /'gates': no element 'nowhere' in the graph/);
  t.throws(build({ gates: ['sink'] }), /'gates': 'sink' is a Discard, not a Switch/);
  t.throws(build({ vrid: 0 }), /vrid/);
});
