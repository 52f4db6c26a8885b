// Each element's TypeScript descriptor is the one declaration of its ports, processing,
// counters, config ranges and defaults, and push-cycle ending; the plan carries those facts
// once per class (docs/plan.md, `classes`) and the native class takes them from there
// (docs/writing-elements.md). This walks every registered element: each descriptor has a
// native class and each native class a descriptor; each element loads in the engine with a
// minimal valid config, which runs its configure(), where a counter its descriptor does not
// declare is refused; and the counters named in its C++ source are declared. Then
// hand-made plans that disagree with a class's facts are refused with clear messages.
import t from 'tap';
import { readFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import * as elements from '../elements/index.js';
import { allDescriptors, type ElementDescriptor } from '../src/graph/descriptor.js';
import { classFacts as classFactsOf, compile } from '../src/compiler/compile.js';
import type { Plan } from '../src/compiler/plan.js';
import { graph, InfiniteSource, Queue, Unqueue, Discard, Counter, Tee, Null, LatencyMeter, EtherSwitch, VLANClassifier, IPEncap, EtherEncap, IPGWOptions, ICMP6Error, ARPResponder, IPLookup, LookupIP6Route, IPRewriter, Idle, PortDemux, HTBSched, type ElementNode } from '../src/index.js';
import { Runtime } from '../src/runtime/runtime.js';
import { loadNative } from '../src/runtime/native.js';
import { writePcap } from './lib/pcap.js';

const tmp = mkdtempSync(join(tmpdir(), 'pg-descriptors-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

// Required fields (and a few port counts) for a minimal valid config; everything else takes
// the descriptor's defaults.
const minimal: Record<string, Record<string, unknown>> = {
  ARPQuerier: { ip: '198.18.0.1', mac: '02:00:00:00:00:01' },
  ARPResponder: { entries: ['198.18.0.1 02:00:00:00:00:01'] },
  BandwidthMeter: { rates: [1000] },
  CheckLength: { length: 100 },
  Classifier: { patterns: ['-'] },
  BandwidthRatedSplitter: { rate: 1e6 },
  BandwidthRatedUnqueue: { rate: 1e6 },
  BandwidthShaper: { rate: 1e6 },
  EtherEncap: { src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' },
  EtherRewrite: { src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' },
  EtherVLANEncap: { src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' },
  FixIPSrc: { address: '198.18.0.1' },
  FromDevice: { device: 'pg-none0' },
  FromPcap: { file: join(tmp, 'in.pcap') },
  GetIPAddress: { offset: 16 },
  GREEncap: { src: '198.18.0.1', dst: '198.18.0.2' },
  HashSwitch: { offset: 0, length: 4 },
  HostEtherFilter: { mac: '02:00:00:00:00:01' },
  HTBSched: { classes: [{ name: 'link', parent: 'root', rate: 1e6 }] },
  ICMP6Error: { src: 'fd00::1', type: 3 },
  ICMPError: { src: '198.18.0.1', type: 'timeexceeded' },
  IP6NDAdvertiser: { entries: ['fd00::1 02:00:00:00:00:01'] },
  IP6NDSolicitor: { ip: 'fd00::1', mac: '02:00:00:00:00:01' },
  IPClassifier: { patterns: ['-'] },
  Meter: { rates: [1000] },
  IPEncap: { proto: 4, src: '198.18.0.1', dst: '198.18.0.2' },
  IPFilter: { rules: ['allow ip'] },
  IPFragmenter: { mtu: 576 },
  IPGWOptions: { address: '198.18.0.1' },
  IPRewriter: { inputs: [{ kind: 'snat', address: '198.18.0.100', forward: 0, reply: 0 }] },
  Paint: { color: 1 },
  PaintTee: { color: 1 },
  Policer: { cir: 1000, cbs: 1500 },
  RatedUnqueue: { rate: 1000 },
  SetIPAddress: { address: '198.18.0.1' },
  SetIPDSCP: { dscp: 46 },
  Shaper: { rate: 1000 },
  RatedSplitter: { rate: 1000 },
  Tap: { device: 'pg-none0', mac: '02:00:00:00:00:01' },
  ToDevice: { device: 'pg-none0' },
  FromPort: { port: 'desc' },
  ToPort: { port: 'desc' },
  PortDemux: { port: 'desc-alone' },
  ToPcap: { file: join(tmp, 'out.pcap') },
  Truncate: { length: 60 },
  UDPIPEncap: { src: '198.18.0.1', sport: 1, dst: '198.18.0.2', dport: 2 },
  VLANClassifier: { vlans: [10] },
  VLANSwitch: { ports: [{ vlan: 10 }, { mode: 'trunk' }] },
  DHCPServer: { address: '198.18.0.1/24', mac: '02:00:00:00:00:01', poolStart: '198.18.0.100', poolEnd: '198.18.0.199' },
  VXLANDecap: { vni: 1 },
  RED: { minThresh: 5, maxThresh: 15, maxP: 0.1 },
  VXLANEncap: { src: '198.18.0.1', dst: '198.18.0.2', vni: 1 },
  VRRP: { vrid: 7, address: '198.18.0.2', addresses: ['198.18.0.1'] },
};
const portCounts: Record<string, [number, number]> = { EtherSwitch: [2, 2], VLANSwitch: [2, 2], PaintTee: [1, 2], VLANClassifier: [1, 2] };
// They open network devices when loaded (root, CAP_NET_RAW, /dev/net/tun): their counters are
// checked in their source below, and they load in test/device.test.ts and test/tap.test.ts.
// (The source check reads only the element's .cc: shared headers such as filter_program.h
// declare counters for several classes, which the load covers.)
const devices = new Set(['FromDevice', 'ToDevice', 'Tap']);
// RED watches the queues after it, so its outputs drain through one.
const queueAfter = new Set(['RED']);

// The fewest ports a descriptor's count allows, at least one where it allows any.
const fewest = (spec: string) => (spec === '-' ? 1 : Math.max(Number(spec.split('-')[0]), spec === '0' ? 0 : 1));
// Click's processing letter of one port ('h', 'l', 'a'; the last letter repeats).
const letter = (code: string, side: 0 | 1, port: number) => {
  const s = code.split('/')[side] ?? '';
  return s === '' ? 'a' : s[Math.min(port, s.length - 1)];
};

// The element alone, each input fed by a source that sends nothing (through a Queue where the
// input pulls), each output drained (through an Unqueue where it pulls).
function alone(d: ElementDescriptor): Plan {
  const ctor = (elements as Record<string, unknown>)[d.name] as (c: object, n: string) => ElementNode;
  const [nin, nout] = portCounts[d.name] ?? [fewest(d.inputs), fewest(d.outputs)];
  return compile(
    graph(`alone_${d.name}`, () => {
      // FromPort and ToPort attach to a port: its system elements come first in the plan, so
      // the port is open when they load (see src/service/ports.ts).
      if (d.name === 'FromPort' || d.name === 'ToPort') {
        Idle({}, 'port_in').to(PortDemux({ port: 'desc', scheduler: 'port_sched' }, 'port_demux'));
        Idle({}, 'routers').to(HTBSched({ key: 'table_id', classes: [{ name: 'link', parent: 'root', rate: 1e9 }] }, 'port_sched')).to(Unqueue({}, 'port_out')).to(Discard({}, 'port_drop'));
      }
      const e = ctor(minimal[d.name] ?? {}, 'e');
      for (let i = 0; i < nin; i++) {
        const src = InfiniteSource({ limit: 0 }, `src${i}`);
        (letter(d.processing, 0, i) === 'l' ? src.to(Queue({}, `q${i}`)) : src).to(e.in(i));
      }
      for (let o = 0; o < nout; o++) {
        const out = e.out(o);
        const pulled = letter(d.processing, 1, o) === 'l' ? out : queueAfter.has(d.name) ? out.to(Queue({}, `qo${o}`)) : undefined;
        (pulled ? pulled.to(Unqueue({}, `u${o}`)) : out).to(Discard({}, `d${o}`));
      }
    }),
  );
}

t.test('every descriptor has a native class and every native class a descriptor', async (t) => {
  const native = new Set(loadNative().elementClasses());
  const described = new Set(allDescriptors().map((d) => d.name));
  t.ok(described.size > 60, `${described.size} descriptors`);
  // Elements written in TypeScript (defineScriptElement) share one native half, native/script.h.
  const scripts = new Set(allDescriptors().filter((d) => d.script).map((d) => d.name));
  t.ok(scripts.has('VRRP'), 'VRRP is written in TypeScript');
  t.same([...described].filter((n) => !native.has(n) && !scripts.has(n)), [], 'descriptors without a native class');
  t.same([...native].filter((n) => !described.has(n)), [], 'native classes without a descriptor');
});

t.test('every element loads with a minimal config: its native counters are the declared ones', async (t) => {
  writePcap(join(tmp, 'in.pcap'), [{ data: Buffer.alloc(60), tsNs: 0n }]);
  const rt = new Runtime({ threads: 1, poolBuffers: 1024 });
  try {
    for (const d of allDescriptors()) {
      if (devices.has(d.name)) continue;
      let g;
      try {
        const plan = alone(d);
        t.same(plan.classes[d.name].counters, Object.keys(d.counters), `${d.name}: the plan carries its counters in declared order`);
        g = rt.load(plan);
      } catch (err) {
        t.fail(`${d.name} did not load: ${(err as Error).message}`);
        continue;
      }
      t.same(Object.keys(g.counters('e')), Object.keys(d.counters), `${d.name} loads; its counters are its descriptor's`);
      g.remove();
    }
  } finally {
    rt.close();
  }
});

t.test("every counter named in an element's C++ source is declared by its descriptor", async (t) => {
  const root = join(dirname(new URL(import.meta.url).pathname), '..');
  for (const d of allDescriptors()) {
    if (d.script) continue; // its native half is native/script.cc, whose counters every script element declares
    const cc = join(root, 'elements', d.group, `${d.name}.cc`);
    t.ok(existsSync(cc), `${d.name}: elements/${d.group}/${d.name}.cc beside its descriptor`);
    if (!existsSync(cc)) continue;
    const names = [...readFileSync(cc, 'utf8').matchAll(/\bcounter\("(\w+)"\)/g)].map((m) => m[1]);
    const undeclared = [...new Set(names)].filter((n) => !(n in d.counters));
    t.same(undeclared, [], `${d.name}: ${names.length} counter("...") calls, all declared`);
  }
});

t.test('the native side refuses a plan that disagrees with its class facts', async (t) => {
  const good = compile(graph('facts', () => InfiniteSource({ limit: 1 }, 'src').to(Queue({ capacity: 100 }, 'q')).to(Unqueue({}, 'u')).to(Discard({}, 'd'))));
  const rt = new Runtime({ threads: 1, poolBuffers: 256 });
  const load = (plan: unknown) => () => rt.engine.addGraph(JSON.stringify(plan));
  const withQueue = (facts: object, config?: object): Plan => ({
    ...good,
    classes: { ...good.classes, Queue: { ...good.classes.Queue, ...facts } },
    elements: good.elements.map((e) => (e.name === 'q' && config ? { ...e, config: { ...e.config, ...config } } : e)),
  });
  try {
    t.same(good.classes.Queue, {
      inputs: '1', outputs: '1', processing: 'h/l', counters: ['enqueued', 'drops'],
      fields: { capacity: { type: 'integer', minimum: 1, maximum: 16777216 } },
    }, "the plan carries Queue's descriptor facts");
    // Ports: the plan's element against its class.
    t.throws(load({ ...good, elements: good.elements.map((e) => (e.name === 'd' ? { ...e, inputs: ['push', 'push'] } : e)) }),
      /^element 'd' \(Discard\): has 2 input\(s\), the class takes 1$/);
    t.throws(load(withQueue({ processing: 'h/h' })), /^element 'q' \(Queue\): output 0 is pull but the class only supports push there$/);
    t.throws(load(withQueue({ inputs: 'two' })), /^plan: classes\.Queue: bad port count 'two\/1'/);
    t.throws(load(withQueue({ processing: 'push/pull' })), /^plan: classes\.Queue: bad processing 'push\/pull'/);
    // Fields: ranges come from the plan; a field it does not declare is refused.
    t.throws(load(withQueue({}, { capacity: 0 })), /^element 'q' \(Queue\): config field 'capacity' must be from 1 to 16777216, got 0$/);
    t.throws(load(withQueue({ fields: { capacity: { type: 'integer', minimum: 1, maximum: 10 } } })),
      /^element 'q' \(Queue\): config field 'capacity' must be from 1 to 10, got 100$/, "the plan's range is the one checked");
    t.throws(load(withQueue({ fields: {} })), /^element 'q' \(Queue\): config field 'capacity' is not declared by class Queue's descriptor/);
    t.throws(load(withQueue({ fields: { capacity: { type: 'integer', minimum: 'one' } } })), /^plan: classes\.Queue\.fields\.capacity\.minimum must be a number, got "one"$/);
    // Counters: one the native class uses but the descriptor does not declare.
    t.throws(load(withQueue({ counters: ['enqueued'] })),
      /^element 'q' \(Queue\): counter 'drops' is not declared by class Queue's descriptor \(it declares: enqueued\); declare it in Queue\.ts's counters$/);
    // Classes: each class used needs its entry.
    const { Queue: _q, ...noQueue } = good.classes;
    t.throws(load({ ...good, classes: noQueue }), /^element 'q' \(Queue\): the plan's 'classes' has no entry for class 'Queue'/);
    t.throws(load({ ...good, classes: undefined }), /^plan: 'classes' is missing$/);

    // The engine is unharmed; a write handler that sets a field checks the field's range.
    const g = rt.load(good);
    t.throws(() => g.write('q', 'capacity', '0'), /capacity must be from 1 to 16777216, got 0/);
    t.throws(() => g.write('q', 'capacity', 'lots'), /capacity must be a whole number, got 'lots'/);
    g.write('q', 'capacity', '16777216');
    t.equal(g.read('q', 'capacity'), '16777216');
    g.remove();
  } finally {
    rt.close();
  }
});

t.test("a class's facts follow its schema: unions, string values, exclusive bounds, endsPushCycles", async (t) => {
  const { classFacts } = await import('../src/compiler/compile.js');
  const facts = (name: string) => classFacts(allDescriptors().find((d) => d.name === name)!);
  t.same(facts('ICMPError').fields.type, { type: ['integer', 'string'], minimum: 0, maximum: 255, values: ['unreachable', 'redirect', 'timeexceeded', 'parameterproblem'] });
  t.same(facts('ICMPError').fields.code, { type: ['integer', 'string'], minimum: 0, maximum: 255 }, 'a free string branch lists no values');
  t.equal(facts('ICMPError').endsPushCycles, true);
  t.equal(facts('Queue').endsPushCycles, undefined);
  t.same(facts('EtherSwitch').fields.timeout, { type: 'number', exclusiveMinimum: 0, maximum: 31536000 });
  t.same(facts('LatencyMeter').fields.arrival, { type: 'string', values: ['now', 'annotation'] });
  t.same(facts('InfiniteSource').fields.limit, { type: 'integer', minimum: -1 }, 'no maximum declared: the engine takes the exact JSON range');

  // The engine checks those: an exclusive bound, a string value, an unbounded integer.
  const rt = new Runtime({ threads: 1, poolBuffers: 256 });
  try {
    const plan = compile(graph('kinds', () => {
      InfiniteSource({ limit: 1 }, 'src').to(LatencyMeter({}, 'lat')).to(Discard({}, 'd'));
    }));
    const load = (el: string, config: object) => () =>
      rt.engine.addGraph(JSON.stringify({ ...plan, elements: plan.elements.map((e) => (e.name === el ? { ...e, config: { ...e.config, ...config } } : e)) }));
    t.throws(load('lat', { arrival: 'later' }), /^element 'lat' \(LatencyMeter\): config field 'arrival' must be "now" or "annotation", got "later"$/);
    t.throws(load('src', { limit: 2 ** 60 }), /^element 'src' \(InfiniteSource\): config field 'limit' must be an exact integer, at most 2\^53 - 1 in size, got 1\.15\d*e\+18$/);
    t.throws(load('src', { limit: -2 }), /^element 'src' \(InfiniteSource\): config field 'limit' must be at least -1, got -2$/);
    const sw = compile(graph('sw', () => {
      const s = EtherSwitch({}, 'sw');
      InfiniteSource({ limit: 1 }, 'a').to(s.in(0));
      InfiniteSource({ limit: 1 }, 'b').to(s.in(1));
      s.out(0).to(Discard({}, 'x'));
      s.out(1).to(Discard({}, 'y'));
    }));
    t.throws(() => rt.engine.addGraph(JSON.stringify({ ...sw, elements: sw.elements.map((e) => (e.name === 'sw' ? { ...e, config: { ...e.config, timeout: 0 } } : e)) })),
      /^element 'sw' \(EtherSwitch\): config field 'timeout' must be more than 0 and at most 31536000, got 0$/);
  } finally {
    rt.close();
  }
});

t.test("an array field's item count and item range are class facts, checked by the compiler and by the engine", async (t) => {
  const { classFacts } = await import('../src/compiler/compile.js');
  const facts = (name: string) => classFacts(allDescriptors().find((d) => d.name === name)!);
  const vlanId = { type: 'integer', minimum: 0, maximum: 4095 };
  t.same(facts('VLANClassifier').fields.vlans, {
    type: 'array', minItems: 1, maxItems: 4096,
    items: { type: ['integer', 'array'], minimum: 0, maximum: 4095, minItems: 1, items: vlanId },
  }, 'vlans: VLAN ids or non-empty arrays of them');
  t.same(facts('VLANClassifier').fields.tpids, { type: 'array', minItems: 1, maxItems: 4, items: { type: 'integer', minimum: 0x600, maximum: 0xffff } });
  t.same(facts('IPLookup').fields.routes.items, { type: 'string' }, 'an array of strings: items carry their type');

  // The compiler refuses an item out of range, naming the field and the item.
  const vc = (config: object) => graph('vc', () => {
    const c = InfiniteSource({ limit: 1 }, 'src').to(VLANClassifier(config as never, 'vc'));
    c.out(0).to(Discard({}, 'a'));
    c.out(1).to(Discard({}, 'b'));
  });
  t.throws(() => compile(vc({ vlans: [[5, 4096]] })), /element 'vc' \(VLANClassifier\).*vlans/);
  t.throws(() => compile(vc({ vlans: [5], tpids: [0x100] })), /element 'vc' \(VLANClassifier\).*tpids/);

  // The engine checks the plan's item facts again (a hand-made plan), and takes the range from them.
  const good = compile(vc({ vlans: [[5, 6]], tpids: [0x8100, 0x88a8] }));
  const rt = new Runtime({ threads: 1, poolBuffers: 256 });
  try {
    const load = (config: object, fields?: object) => () => rt.engine.addGraph(JSON.stringify({
      ...good,
      classes: { ...good.classes, VLANClassifier: { ...good.classes.VLANClassifier, fields: { ...good.classes.VLANClassifier.fields, ...fields } } },
      elements: good.elements.map((e) => (e.name === 'vc' ? { ...e, config: { ...e.config, ...config } } : e)),
    }));
    rt.load(good).remove(); // the compiled plan loads
    t.throws(load({ vlans: [[5, 4096]] }), /^element 'vc' \(VLANClassifier\): config field 'vlans' item 0 item 1 must be from 0 to 4095, got 4096$/);
    t.throws(load({ vlans: [-1] }), /^element 'vc' \(VLANClassifier\): config field 'vlans' item 0 must be from 0 to 4095, got -1$/);
    t.throws(load({ vlans: [[]] }), /^element 'vc' \(VLANClassifier\): config field 'vlans' item 0 must have at least 1 items, got 0$/);
    t.throws(load({ tpids: [0x8100, 0x100] }), /^element 'vc' \(VLANClassifier\): config field 'tpids' item 1 must be from 1536 to 65535, got 256$/);
    t.throws(load({ tpids: [1, 2, 3, 4, 5].map((i) => 0x8100 + i) }), /^element 'vc' \(VLANClassifier\): config field 'tpids' must have from 1 to 4 items, got 5$/);
    t.throws(load({ vlans: [[5, 6]] }, { vlans: { type: 'array', items: { type: ['integer', 'array'], minimum: 0, maximum: 10, items: { type: 'integer', minimum: 0, maximum: 5 } } } }),
      /^element 'vc' \(VLANClassifier\): config field 'vlans' item 0 item 1 must be from 0 to 5, got 6$/, "the plan's item range is the one checked");
    t.throws(load({ vlans: [9000] }, { vlans: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 10000 } } }),
      /^element 'vc' \(VLANClassifier\): config field 'vlans' item 0 must be at most 4095 \(the engine's limit\), got 9000$/, 'a plan declaring a wider range meets the engine limit');
    t.throws(load({}, { tpids: { type: 'array', minItems: 'one' } }), /^plan: classes\.VLANClassifier\.fields\.tpids\.minItems must be a number, got "one"$/);
  } finally {
    rt.close();
  }
});

// Address fields (src/graph/types.ts; docs/plan.md, "Address fields"): the user writes text, the
// compiler checks it and writes it typed, the class facts carry its kind, and the native getters
// of that kind read it; text, or a value of another kind, in a hand-made plan is refused.
t.test('address fields reach the engine typed, with their kind in the class facts', async (t) => {
  const { classFacts } = await import('../src/compiler/compile.js');
  const facts = (name: string) => classFacts(allDescriptors().find((d) => d.name === name)!);
  t.same(facts('IPEncap').fields.src, { type: 'integer', kind: 'ipv4' });
  t.same(facts('ICMP6Error').fields.src, { type: 'array', kind: 'ipv6' });
  t.same(facts('EtherEncap').fields.dst, { type: 'array', kind: 'mac' });
  t.same(facts('IPGWOptions').fields.otherAddresses, { type: 'array', kind: 'ipv4' }, 'an array of addresses: the kind of its items');
  t.same(facts('ARPQuerier').fields.ip, { type: 'object', kind: 'ipv4prefix' });
  t.same(facts('ARPQuerier').fields.broadcast, { type: ['integer', 'null'], kind: 'ipv4' }, "an address or '' (null)");
  t.same(facts('Tap').fields.mac, { type: ['array', 'null'], kind: 'mac' });
  t.same(facts('FlowSource').fields.srcIp, { type: ['integer', 'array', 'null'], kind: 'ip' });
  // Every field a native getter reads as an address is declared with a kind (the load of every
  // element above reads them all): no descriptor declares an address as a plain string.
  for (const d of allDescriptors())
    for (const [k, f] of Object.entries(classFacts(d).fields))
      if (/^(src|dst|address|ip|mac|broadcast|srcEther|dstEther|srcIp|dstIp|otherAddresses)$/.test(k)) t.ok(f.kind, `${d.name}.${k} has an address kind`);

  const plan = compile(graph('typed', () => {
    InfiniteSource({ limit: 1 }, 'src')
      .to(IPEncap({ proto: 4, src: '198.18.0.1', dst: '198.19.255.254' }, 'encap'))
      .to(EtherEncap({ src: '02:00:00:00:00:01', dst: '0A:bc:00:00:00:FF' }, 'eth'))
      .to(IPGWOptions({ address: '198.18.0.1', otherAddresses: ['198.18.0.2', '10.1.2.3'] }, 'gw'))
      .to(ICMP6Error({ src: 'FD00:0:0::1', type: 1 }, 'icmp6'))
      .to(ARPResponder({ entries: ['198.18.0.1 198.18.7.0/24 02:00:00:00:00:01'] }, 'arpr'))
      .to(Discard({}, 'd'));
  }));
  const config = (n: string) => plan.elements.find((e) => e.name === n)!.config;
  t.equal(config('encap').src, 3323068417, 'IPv4: a number, the first byte most significant');
  t.equal(config('encap').dst, 3323199486);
  t.same(config('eth').dst, [10, 188, 0, 0, 0, 255], 'Ethernet: 6 bytes');
  t.same(config('gw').otherAddresses, [3323068418, 167838211]);
  t.same(config('icmp6').src, [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 'IPv6: 16 bytes');
  t.same(config('arpr').compiledEntries, [
    { prefix: { addr: 3323068417, len: 32 }, mac: [2, 0, 0, 0, 0, 1] },
    { prefix: { addr: 3323070208, len: 24 }, mac: [2, 0, 0, 0, 0, 1] },
  ], "ARPResponder's entries, parsed once by the compiler");

  const rt = new Runtime({ threads: 1, poolBuffers: 256 });
  try {
    const g = rt.load(plan);
    const shown = JSON.parse(g.read('encap', 'config'));
    t.equal(shown.src, '198.18.0.1', "the config handler shows an address in its canonical spelling");
    t.same(JSON.parse(g.read('gw', 'config')).otherAddresses, ['198.18.0.2', '10.1.2.3']);
    t.equal(JSON.parse(g.read('icmp6', 'config')).src, 'fd00::1', 'IPv6 as inet_ntop prints it');
    t.equal(JSON.parse(g.read('eth', 'config')).dst, '0a:bc:00:00:00:ff');
    t.equal(g.read('arpr', 'table'), '198.18.0.1/32 02:00:00:00:00:01\n198.18.7.0/24 02:00:00:00:00:01\n');
    g.remove();

    // Hand-made plans: text where the plan wants a typed address, a value out of range, a
    // kind the getter does not read; each refused naming the element and the field.
    const withConfig = (el: string, c: object, classes = plan.classes) => () =>
      rt.engine.addGraph(JSON.stringify({ ...plan, classes, elements: plan.elements.map((e) => (e.name === el ? { ...e, config: { ...e.config, ...c } } : e)) }));
    t.throws(withConfig('encap', { src: '198.18.0.1' }),
      /^element 'encap' \(IPEncap\): config field 'src' must be an IPv4 address \(typed: a whole number from 0 to 4294967295\), got "198\.18\.0\.1"$/);
    t.throws(withConfig('encap', { dst: 2 ** 32 }), /^element 'encap' \(IPEncap\): config field 'dst' must be an IPv4 address/);
    t.throws(withConfig('eth', { dst: [2, 0, 0, 0, 0] }), /^element 'eth' \(EtherEncap\): config field 'dst' must be an Ethernet address \(typed: an array of 6 bytes\), got \[2,0,0,0,0\]$/);
    t.throws(withConfig('eth', { src: '02:00:00:00:00:01' }), /^element 'eth' \(EtherEncap\): config field 'src' must be an Ethernet address/);
    t.throws(withConfig('icmp6', { src: [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 256] }), /^element 'icmp6' \(ICMP6Error\): config field 'src' must be an IPv6 address/);
    t.throws(withConfig('gw', { otherAddresses: [1, '10.0.0.1'] }), /^element 'gw' \(IPGWOptions\): config field 'otherAddresses\.1' must be an IPv4 address/);
    t.throws(withConfig('arpr', { compiledEntries: [{ prefix: { addr: 1, len: 33 }, mac: [2, 0, 0, 0, 0, 1] }] }),
      /^element 'arpr' \(ARPResponder\): config field 'compiledEntries\.0\.prefix' must be an IPv4 prefix/);
    const ipv6Src = { ...plan.classes, IPEncap: { ...plan.classes.IPEncap, fields: { ...plan.classes.IPEncap.fields, src: { type: 'array', kind: 'ipv6' } } } };
    t.throws(withConfig('encap', {}, ipv6Src as Plan['classes']),
      /^element 'encap' \(IPEncap\): config field 'src' is read as an IPv4 address but class IPEncap's descriptor declares kind 'ipv6' for it .*declare it with ipv4Address\(\) in IPEncap\.ts$/);
    const noKind = { ...plan.classes, IPEncap: { ...plan.classes.IPEncap, fields: { ...plan.classes.IPEncap.fields, src: { type: 'string' } } } };
    t.throws(withConfig('encap', {}, noKind as Plan['classes']), /config field 'src' is read as an IPv4 address but class IPEncap's descriptor declares no address kind/);
    const badKind = { ...plan.classes, IPEncap: { ...plan.classes.IPEncap, fields: { ...plan.classes.IPEncap.fields, src: { type: 'string', kind: 'ipv5' } } } };
    t.throws(withConfig('encap', {}, badKind as Plan['classes']), /^plan: classes\.IPEncap\.fields\.src\.kind must be "ipv4", .*got "ipv5"$/);
  } finally {
    rt.close();
  }
});

t.test('every address field a descriptor declares is read by a typed getter: text in its place is refused', async (t) => {
  const { classFacts } = await import('../src/compiler/compile.js');
  const rt = new Runtime({ threads: 1, poolBuffers: 1024 });
  let fields = 0;
  try {
    for (const d of allDescriptors()) {
      if (devices.has(d.name)) continue;
      for (const [k, f] of Object.entries(classFacts(d).fields)) {
        if (!f.kind) continue;
        fields++;
        const plan = alone(d);
        const e = plan.elements.find((x) => x.name === 'e')!;
        e.config = { ...e.config, [k]: f.type === 'array' && f.kind === 'ipv4' ? ['198.18.0.1'] : '198.18.0.1' };
        t.throws(() => rt.engine.addGraph(JSON.stringify(plan)), new RegExp(`^element 'e' \\(${d.name}\\): config field '${k}(\\.0)?' must be `), `${d.name}.${k} (${f.kind}): text refused`);
      }
    }
  } finally {
    rt.close();
  }
  t.ok(fields >= 20, `${fields} address fields`);
});

t.test('bad address text is a compile error naming the element and the field', async (t) => {
  const one = (make: () => ElementNode) => () => compile(graph('bad', () => InfiniteSource({ limit: 0 }).to(make()).to(Discard())));
  t.throws(one(() => ICMP6Error({ src: 'fd00::g', type: 1 }, 'e')), /element 'e' \(ICMP6Error\).*: config field 'src': 'fd00::g' is not an IPv6 address/);
  t.throws(one(() => ICMP6Error({ src: '1:2:3:4:5:6:7:8:9', type: 1 }, 'e')), /config field 'src': '1:2:3:4:5:6:7:8:9' is not an IPv6 address/);
  t.throws(one(() => IPGWOptions({ address: '198.18.0.1', otherAddresses: ['198.18.0.1', '198.18.0.256'] }, 'e')), /element 'e' \(IPGWOptions\).*config field 'otherAddresses\.1'/);
  t.throws(one(() => IPEncap({ proto: 4, src: '198.18.0.01', dst: '198.18.0.2' }, 'e')), /element 'e' \(IPEncap\).*config field 'src'/);
  t.throws(one(() => EtherEncap({ src: '02:00:00:00:00:1', dst: '02:00:00:00:00:02' }, 'e')), /element 'e' \(EtherEncap\).*config field 'src'/);
  t.throws(one(() => ARPResponder({ entries: ['198.18.0.1 02:00:00:00:00:01'], compiledEntries: [] } as never, 'e')), /'compiledEntries' is filled in by the compiler from 'entries': leave it out/);
});

t.test('IPLookup and LookupIP6Route: routes parsed once at compile time, typed in the plan, checked again at load', async (t) => {
  const plan = compile(graph('routes', () => {
    const rt = InfiniteSource({ limit: 0 }, 'src').to(IPLookup({ routes: ['10.0.0.0/8 via 192.0.2.1 dev 0', 'default dev 1', '198.18.0.0/15 nexthop via 198.18.0.1 dev 0 nexthop dev 1'] }, 'rt'));
    rt.out(0).to(Discard({}, 'a'));
    rt.out(1).to(LookupIP6Route({ routes: ['fd00::/8 fd00::1 0'] }, 'rt6')).to(Discard({}, 'b'));
  }));
  const config = (n: string) => plan.elements.find((e) => e.name === n)!.config;
  t.same(config('rt').compiledRoutes, [
    [167772160, 8, 3221225985, 0],
    [0, 0, null, 1],
    [3323068416, 15, 3323068417, 0, null, 1],
  ], 'each route [ADDRESS, LEN, GATEWAY, OUTPUT, ...], IPv4 addresses as numbers');
  t.same(config('rt6').compiledRoutes, [[[0xfd, ...Array(15).fill(0)], 8, [0xfd, ...Array(14).fill(0), 1], 0]], 'IPv6 addresses as 16 bytes');
  t.throws(() => compile(graph('r', () => InfiniteSource({ limit: 0 }).to(IPLookup({ routes: ['10.0.0.1/8 0'] }, 'e')).to(Discard()))),
    /element 'e' \(IPLookup\).*route 0 \('10\.0\.0\.1\/8 0'\): '10\.0\.0\.1\/8' has bits set beyond its length \(did you mean 10\.0\.0\.0\/8\?\)/);
  t.throws(() => compile(graph('r', () => InfiniteSource({ limit: 0 }).to(IPLookup({ routes: ['10.0.0.0/8 0'], compiledRoutes: [] } as never, 'e')).to(Discard()))),
    /'compiledRoutes' is filled in by the compiler from 'routes': leave it out/);

  const rt = new Runtime({ threads: 1, poolBuffers: 256 });
  try {
    const g = rt.load(plan);
    t.equal(g.read('rt', 'table'), '0.0.0.0/0 dev 1\n10.0.0.0/8 via 192.0.2.1 dev 0\n198.18.0.0/15 nexthop via 198.18.0.1 dev 0 nexthop dev 1\n');
    g.write('rt', 'lookup', '10.9.9.9');
    t.equal(g.read('rt', 'lookup_result'), 'via 192.0.2.1 dev 0');
    t.equal(g.read('rt6', 'table'), 'fd00::/8 via fd00::1 dev 0\n');
    g.remove();
    const load = (routes: unknown[]) => () =>
      rt.engine.addGraph(JSON.stringify({ ...plan, elements: plan.elements.map((e) => (e.name === 'rt' ? { ...e, config: { ...e.config, compiledRoutes: routes } } : e)) }));
    t.throws(load(['10.0.0.0/8 0']), /^element 'rt' \(IPLookup\): config field 'compiledRoutes\.0' must be \[ADDRESS, LEN \(0 to 32\), GATEWAY or null, OUTPUT, \.\.\.\]/, 'route text in the plan is refused');
    t.throws(load([[167772161, 8, null, 0]]), /^element 'rt' \(IPLookup\): config field 'compiledRoutes\.0': 10\.0\.0\.1\/8 has bits set beyond its length$/);
    t.throws(load([[0, 0, null, 2]]), /^element 'rt' \(IPLookup\): config field 'compiledRoutes\.0\.3': output 2 does not exist: the element has 2 output\(s\)$/);
    t.throws(load([[0, 0, '192.0.2.1', 0]]), /^element 'rt' \(IPLookup\): config field 'compiledRoutes\.0\.2' must be an IPv4 address/);
    t.throws(load([[0, 33, null, 0]]), /^element 'rt' \(IPLookup\): config field 'compiledRoutes\.0' must be \[ADDRESS, LEN \(0 to 32\)/);
    t.throws(load([[0, 0, null]]), /config field 'compiledRoutes\.0' must be/, 'a next hop without its output');
    t.throws(load([[0, 0, null, 0], [0, 0, null, 1]]), /^element 'rt' \(IPLookup\): config field 'compiledRoutes\.1': prefix 0\.0\.0\.0\/0 is given twice$/);
  } finally {
    rt.close();
  }
});

t.test("no element's plan carries an address as text: the engine reads every address typed", async (t) => {
  // Address-like text anywhere in a config: a dotted quad, an Ethernet address, an IPv6 address.
  const ADDRESS = /(^|[^\d.])\d{1,3}(\.\d{1,3}){3}($|[^\d.])|\b[0-9a-f]{1,2}(:[0-9a-f]{1,2}){5}\b|[0-9a-f]{0,4}::[0-9a-f]{0,4}|([0-9a-f]{1,4}:){7}[0-9a-f]{1,4}/i;
  // The mini-language text a user wrote (shown by the config handler), parsed once by the
  // compiler into the typed field named beside it, which is what the engine reads; no C++
  // source reads the text field.
  const sources: Record<string, Record<string, string>> = {
    ARPResponder: { entries: 'compiledEntries' },
    IP6NDAdvertiser: { entries: 'compiledEntries' },
    IPLookup: { routes: 'compiledRoutes' },
    LookupIP6Route: { routes: 'compiledRoutes' },
    IPFilter: { rules: 'program' },
    IPClassifier: { patterns: 'program' },
  };
  const texts = (v: unknown, path: string): [string, string][] =>
    typeof v === 'string' ? [[path, v]]
      : Array.isArray(v) ? v.flatMap((x, i) => texts(x, `${path}.${i}`))
        : v && typeof v === 'object' ? Object.entries(v).flatMap(([k, x]) => texts(x, path ? `${path}.${k}` : k)) : [];
  const check = (plan: Plan, what: string) => {
    for (const e of plan.elements) {
      const allowed = sources[e.class] ?? {};
      for (const [path, text] of texts(e.config, ''))
        if (ADDRESS.test(text) && !(path.split('.')[0] in allowed)) t.fail(`${what}: ${e.class}'s plan carries address text in '${path}': ${JSON.stringify(text)}`);
    }
  };
  let walked = 0;
  for (const d of allDescriptors()) {
    check(alone(d), `${d.name} alone`);
    walked++;
    for (const [field, typed] of Object.entries(sources[d.name] ?? {})) {
      const cc = readFileSync(join(dirname(new URL(import.meta.url).pathname), '..', 'elements', d.group, `${d.name}.cc`), 'utf8');
      t.notMatch(cc, new RegExp(`"${field}"`), `${d.name}.cc never reads '${field}': it reads '${typed}'`);
      t.ok(typed in classFactsOf(d).fields, `${d.name} declares '${typed}'`);
    }
  }
  t.ok(walked > 90, `walked ${walked} elements`);
  // Addresses nested in unions of tagged objects (IPRewriter's specs) and in arrays of objects.
  const nat = compile(graph('nat', () => {
    const rw = IPRewriter({ inputs: [
      { kind: 'snat', address: '198.18.2.1', forward: 0, reply: 1 },
      { kind: 'dnat', rules: [{ proto: 'tcp', port: 2222, to: '198.18.1.2', toPort: 22, address: '198.18.2.1' }], forward: 1, reply: 0 },
    ] }, 'nat');
    InfiniteSource({ limit: 0 }, 's0').to(rw.in(0));
    InfiniteSource({ limit: 0 }, 's1').to(rw.in(1));
    rw.out(0).to(Discard({}, 'd0'));
    rw.out(1).to(Discard({}, 'd1'));
  }));
  check(nat, 'IPRewriter with snat and dnat');
  const config = nat.elements.find((e) => e.name === 'nat')!.config as { inputs: { address?: unknown; rules?: { to: unknown; address: unknown }[] }[] };
  t.equal(config.inputs[0].address, 3323068929, "inputs[0].address typed, as every IPv4 address field");
  t.same(config.inputs[1].rules![0], { proto: 'tcp', port: 2222, to: 3323068674, toPort: 22, address: 3323068929 });
  const rt = new Runtime({ threads: 1, poolBuffers: 256 });
  try {
    const g = rt.load(nat);
    const shown = JSON.parse(g.read('nat', 'config'));
    t.equal(shown.inputs[0].address, '198.18.2.1', 'the config handler shows them as text');
    t.same(shown.inputs[1].rules[0], { proto: 'tcp', port: 2222, to: '198.18.1.2', toPort: 22, address: '198.18.2.1' });
    g.remove();
  } finally {
    rt.close();
  }
});

t.test("an object's properties are class facts: arrays of objects are checked whole by the engine", async (t) => {
  const clauses = classFactsOf(allDescriptors().find((d) => d.name === 'Classifier')!).fields.clauses;
  t.same(clauses.items?.items?.properties, {
    offset: { type: 'integer', minimum: 0, maximum: 65535 },
    value: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 0, maximum: 255 } },
    mask: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 0, maximum: 255 } },
    not: { type: 'boolean' },
  }, "Classifier's clauses: each clause's properties with their ranges");
  const unions = classFactsOf(allDescriptors().find((d) => d.name === 'IPRewriter')!).fields.inputs;
  t.notOk(unions.items?.properties, 'a union of objects has no one set of properties');
});
