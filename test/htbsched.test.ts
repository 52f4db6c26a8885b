// HTBSched, the hierarchical link-sharing scheduler, on an engine with a virtual clock: the clock
// moves only when the test moves it (1 ms steps), so rates and shares are exact counts whatever
// the machine's load. Sources are unpaced (every leaf stays backlogged, the excess dropped at its
// full queue) and an Unqueue pulls each round; shares are bytes sent per class, read from the
// `classes` handler, over windows after the first 100 ms (the buckets start full). Then: bad
// configurations are compile errors naming the field, handlers are checked the same way, live
// add/remove/change, 1000 leaves keyed by table_id.
import t, { type Test } from 'tap';
import { compile, graph, Runtime, InfiniteSource, FlowSource, Paint, SetTableID, HTBSched, Unqueue, Discard, type RunningGraph } from 'pktgraph';
import type { HTBClass } from '../elements/queue/HTBSched.js';

const T0 = 1_000_000_000;
const MS = 1_000_000;
const LEN = 1000; // bytes per packet

type ClassRow = Record<string, string>;
/** The `classes` handler's lines by class name, `key=value` fields (plus `kind`). */
function classes(g: RunningGraph, el = 'htb'): Map<string, ClassRow> {
  const out = new Map<string, ClassRow>();
  for (const line of g.read(el, 'classes').trim().split('\n')) {
    const [name, ...fields] = line.split(' ');
    const row: ClassRow = {};
    for (const f of fields) {
      const i = f.indexOf('=');
      if (i < 0) row.kind = f;
      else row[f.slice(0, i)] = f.slice(i + 1);
    }
    out.set(name, row);
  }
  return out;
}

/** A virtual-clock engine with an HTBSched named 'htb' fed by one unpaced source per painted
 *  leaf ('src<colour>', inactive when listed in `idle`), pulled by an Unqueue. */
function shaper(t: Test, cls: HTBClass[], paints: number[], opts: { idle?: number[]; dflt?: string } = {}) {
  const rt = new Runtime({ threads: 1, poolBuffers: 16384, virtualClockNs: T0 });
  t.teardown(() => rt.close());
  const g = rt.load(
    compile(
      graph('htb', () => {
        const h = HTBSched({ classes: cls, default: opts.dflt ?? '' }, 'htb');
        for (const c of paints)
          InfiniteSource({ length: LEN, burst: 16, active: !(opts.idle ?? []).includes(c) }, `src${c}`).to(Paint({ color: c })).to(h);
        h.to(Unqueue({ burst: 256 }, 'pump')).to(Discard({}, 'sink'));
      }),
    ),
  );
  rt.start();
  let now = 0; // ms since T0
  rt.setVirtualTime(T0);
  const advance = (ms: number) => {
    for (const end = now + ms; now < end; ) rt.setVirtualTime(T0 + ++now * MS);
  };
  /** Bits per second each class sent over the next `ms` milliseconds. */
  const rates = (ms: number) => {
    const before = classes(g);
    advance(ms);
    const after = classes(g);
    const r: Record<string, number> = {};
    for (const [name, row] of after) r[name] = ((Number(row.bytes) - Number(before.get(name)?.bytes ?? 0)) * 8) / (ms / 1000);
    return r;
  };
  return { rt, g, advance, rates };
}

/** Each expected rate met within `tol` (a fraction). */
function near(t: Test, got: Record<string, number>, want: Record<string, number>, tol: number, what: string) {
  for (const [name, w] of Object.entries(want)) {
    const err = Math.abs(got[name] - w) / w;
    t.ok(err <= tol, `${what}: ${name} ${(got[name] / 1e6).toFixed(3)} Mbit/s, expected ${(w / 1e6).toFixed(3)} (off by ${(err * 100).toFixed(2)}%, at most ${tol * 100}%)`);
  }
}

const M = 1e6;
const uplink = (rate: number): HTBClass => ({ name: 'link', parent: 'root', rate });

t.test('two backlogged classes under one ceiling: each gets its guarantee, the spare is split by weight', async (t) => {
  const { rates } = shaper(t, [uplink(80 * M), { name: 'a', parent: 'link', rate: 40 * M, ceil: 80 * M, match: 1, capacity: 200 }, { name: 'b', parent: 'link', rate: 20 * M, ceil: 80 * M, match: 2, capacity: 200 }], [1, 2]);
  rates(100);
  const r = rates(1000);
  // 40 + 10 and 20 + 10: the 20 Mbit/s spare halved (equal weights).
  near(t, r, { a: 50 * M, b: 30 * M, link: 80 * M }, 0.01, 'over 1 s');
});

t.test('weights share the spare: 3 to 1', async (t) => {
  const { rates } = shaper(t, [uplink(80 * M), { name: 'a', parent: 'link', rate: 16 * M, ceil: 80 * M, weight: 3, match: 1 }, { name: 'b', parent: 'link', rate: 16 * M, ceil: 80 * M, weight: 1, match: 2 }], [1, 2]);
  rates(100);
  near(t, rates(1000), { a: 16 * M + 36 * M, b: 16 * M + 12 * M }, 0.01, 'over 1 s');
});

t.test('an idle class lends everything to its sibling up to its ceil; it reclaims its share when it comes back', async (t) => {
  const { g, rates } = shaper(t, [uplink(80 * M), { name: 'a', parent: 'link', rate: 40 * M, ceil: 70 * M, match: 1 }, { name: 'b', parent: 'link', rate: 20 * M, ceil: 80 * M, match: 2 }], [1, 2], { idle: [2] });
  rates(100);
  const alone = rates(1000);
  near(t, alone, { a: 70 * M }, 0.01, 'b idle, a held to its ceil');
  t.equal(alone.b, 0, 'b sent nothing');
  g.write('htb', 'change', JSON.stringify({ name: 'a', ceil: 80 * M }));
  rates(100);
  near(t, rates(1000), { a: 80 * M }, 0.01, 'ceil raised to the link: a takes it all');

  // b comes back: within 100 ms (simulated) both hold their shares to 2%, and over a second to 1%.
  g.write('src2', 'active', 'true');
  const settle: Record<string, number>[] = [];
  for (let i = 0; i < 10; i++) settle.push(rates(10));
  const first = settle[0];
  t.ok(first.b > 20 * M, `in the first 10 ms b already sends above its rate (${(first.b / 1e6).toFixed(1)} Mbit/s)`);
  near(t, rates(100), { a: 50 * M, b: 30 * M }, 0.02, 'the 100 ms after the first 100');
  near(t, rates(1000), { a: 50 * M, b: 30 * M }, 0.01, 'the next second');
  const row = classes(g);
  t.ok(Number(row.get('b')!.borrowed) > 0 && Number(row.get('a')!.borrowed) > 0, 'both borrowed');
});

t.test('a 3-level tree: guarantees first, spare lent by the nearest parent, then by the link', async (t) => {
  const tree: HTBClass[] = [
    uplink(80 * M),
    { name: 'A', parent: 'link', rate: 48 * M, ceil: 80 * M },
    { name: 'A1', parent: 'A', rate: 24 * M, ceil: 80 * M, match: 1 },
    { name: 'A2', parent: 'A', rate: 8 * M, ceil: 80 * M, match: 2 },
    { name: 'B', parent: 'link', rate: 16 * M, ceil: 80 * M },
    { name: 'B1', parent: 'B', rate: 16 * M, ceil: 80 * M, match: 3 },
  ];
  const { g, rates } = shaper(t, tree, [1, 2, 3]);
  rates(100);
  // A lends its 16 spare to A1 and A2 (8 each); the link's 16 spare goes half to A (4 + 4), half to B.
  near(t, rates(1000), { A1: 36 * M, A2: 20 * M, B1: 24 * M, A: 56 * M, B: 24 * M, link: 80 * M }, 0.01, 'over 1 s');
  t.match(g.read('htb', 'classes'), /^link parent=root .*\nA parent=link .*\nA1 parent=A .*\nA2 parent=A .*\nB parent=link .*\nB1 parent=B .*\n$/, 'classes listed parents first');
});

t.test('unclassified packets go to the default class, or are dropped and counted', async (t) => {
  const cls: HTBClass[] = [uplink(8 * M), { name: 'a', parent: 'link', rate: 4 * M, ceil: 8 * M, match: 1, capacity: 50 }, { name: 'other', parent: 'link', rate: 4 * M, ceil: 8 * M, capacity: 50 }];
  {
    const { g, advance } = shaper(t, cls, [1, 9], { dflt: 'other' });
    advance(200);
    const c = g.counters('htb');
    t.equal(c.drops_unclassified, 0n, 'with a default: none unclassified');
    t.ok(Number(classes(g).get('other')!.packets) > 0, 'paint 9 went to the default class');
    t.ok(c.drops_full > 0n && Number(classes(g).get('a')!.drops) > 0, 'full leaves drop, counted in drops_full and per class');
  }
  {
    const { g, advance } = shaper(t, cls, [1, 9]);
    advance(50);
    t.ok(g.counters('htb').drops_unclassified > 0n, 'without one: dropped as drops_unclassified');
    t.equal(classes(g).get('other')!.packets, '0', 'nothing reached the class without a match');
  }
});

t.test('live: add, change and remove classes, each checked like the configuration', async (t) => {
  const { g, rates } = shaper(t, [uplink(80 * M), { name: 'a', parent: 'link', rate: 40 * M, ceil: 80 * M, match: 1 }], [1, 2]);
  rates(100);
  near(t, rates(500), { a: 80 * M }, 0.01, 'a alone takes the link');
  t.ok(g.counters('htb').drops_unclassified > 0n, 'paint 2 has no class yet: dropped');

  g.write('htb', 'add', JSON.stringify({ name: 'b', parent: 'link', rate: 20 * M, ceil: 80 * M, match: 2 }));
  rates(100);
  near(t, rates(1000), { a: 50 * M, b: 30 * M }, 0.01, 'b added: shares as configured');

  g.write('htb', 'change', JSON.stringify({ name: 'b', rate: 40 * M }));
  rates(100);
  near(t, rates(1000), { a: 40 * M, b: 40 * M }, 0.01, 'b re-rated to 40: the link split evenly');
  t.match(g.read('htb', 'classes'), /\nb parent=link rate=40000000 ceil=80000000 burst=5000 /, 'the new rate (and its default burst) listed');

  // Errors name the class and the field; nothing changes. (b at 30: 10 Mbit/s of the link unguaranteed.)
  g.write('htb', 'change', JSON.stringify({ name: 'b', rate: 30 * M }));
  const refused: [string, string, RegExp][] = [
    ['add', JSON.stringify({ name: 'c', parent: 'link', rate: 2 * M, ceil: M }), /class 'c'.*\.ceil: 1000000 bit\/s is below its rate 2000000/],
    ['add', JSON.stringify({ name: 'c', parent: 'nowhere', rate: M }), /class 'c'.*\.parent: no class 'nowhere'/],
    ['add', JSON.stringify({ name: 'c', parent: 'link', rate: 0 }), /class 'c'\)\.rate: a number above 0/],
    ['add', JSON.stringify({ name: 'c', parent: 'link', rate: M, burst: -1 }), /class 'c'\)\.burst: an integer from 0/],
    ['add', JSON.stringify({ name: 'c', parent: 'link', rate: 20 * M }), /class 'link'.*\.rate: its children's rates add up to 90000000 bit\/s, above its rate 80000000/],
    ['add', JSON.stringify({ name: 'a', parent: 'link', rate: M }), /class 'a'\)\.name: a class of that name exists/],
    ['add', JSON.stringify({ name: 'c', parent: 'link', rate: M, match: 1 }), /class 'c'.*\.match: 1 already selects class 'a'/],
    ['add', JSON.stringify({ name: 'c', parent: 'a', rate: M }), /class 'a'\.match: only a leaf class \(one without children\) has a queue/],
    ['add', '{"name": "c", "parent": "link", "rat": 1}', /unknown field 'rat'/],
    ['add', 'rate=1', /add: not a JSON object/],
    ['change', JSON.stringify({ name: 'a', ceil: 10 * M }), /class 'a'.*\.ceil: 10000000 bit\/s is below its rate 40000000/],
    ['change', JSON.stringify({ name: 'link', rate: 60 * M }), /class 'link'.*children's rates add up to 70000000 bit\/s, above its rate 60000000/],
    ['change', JSON.stringify({ name: 'link', ceil: 90 * M }), /class 'link'.*\.ceil: a class under the root has no parent to borrow from/],
    ['change', JSON.stringify({ name: 'a', parent: 'root' }), /parent: cannot be changed/],
    ['change', JSON.stringify({ name: 'zz', rate: 1 }), /no class 'zz'/],
    ['remove', 'link', /class 'link' has 2 children; remove them first/],
    ['remove', 'zz', /no class 'zz'/],
  ];
  const before = g.read('htb', 'classes').replace(/ mode=.*$/gm, '');
  for (const [h, v, re] of refused) t.throws(() => g.write('htb', h, v), re, `${h} ${v} refused`);
  t.equal(g.read('htb', 'classes').replace(/ mode=.*$/gm, ''), before, 'the refused writes changed nothing');

  // Remove b: its waiting packets are freed and counted; paint 2 is unclassified again.
  const backlog = Number(classes(g).get('b')!.backlog);
  t.ok(backlog > 0, `b has ${backlog} packets waiting`);
  g.write('htb', 'remove', 'b');
  t.equal(g.counters('htb').drops_class_removed, BigInt(backlog), "b's waiting packets counted in drops_class_removed");
  t.notOk(classes(g).has('b'), 'b is gone');
  rates(100);
  near(t, rates(500), { a: 80 * M }, 0.01, 'a alone again');

  // A subtree added live: an inner class, then leaves under it (the first child turns it inner).
  g.write('htb', 'change', JSON.stringify({ name: 'a', rate: 20 * M }));
  g.write('htb', 'add', JSON.stringify({ name: 't', parent: 'link', rate: 40 * M, ceil: 80 * M }));
  g.write('htb', 'add', JSON.stringify({ name: 't2', parent: 't', rate: 20 * M, ceil: 80 * M, match: 2 }));
  t.match(g.read('htb', 'classes'), /\nt parent=link .* inner /, 't is an inner class');
  rates(100);
  near(t, rates(1000), { a: 30 * M, t2: 50 * M }, 0.01, 'a: 20 + 10; t2: 20 + 20 from t + 10 from the link');
  t.equal(g.read('htb', 'classes').split('\n').filter(Boolean).length, 4, 'four classes');
});

t.test('classes in packets/s beside classes in bits/s; a class that starts with no credit', async (t) => {
  // 1000-byte packets: 80 Mbit/s is 10000 packets/s. b is limited to 2500 packets/s (20 Mbit/s)
  // with 1000 packets/s guaranteed; a (bits/s) takes the rest of the link.
  const { g, rates } = shaper(t, [uplink(80 * M), { name: 'a', parent: 'link', rate: 40 * M, ceil: 80 * M, match: 1 }, { name: 'b', parent: 'link', unit: 'packets', rate: 1000, ceil: 2500, match: 2 }], [1, 2]);
  rates(100);
  near(t, rates(1000), { a: 60 * M, b: 20 * M }, 0.01, 'b held to 2500 packets/s (20 Mbit/s of 1000-byte packets), a the rest');
  t.match(g.read('htb', 'classes'), /\nb parent=link unit=packets rate=1000 ceil=2500 burst=2 cburst=3 /, 'listed with its unit; default bursts of 1 ms in packets (at least 2)');

  g.write('htb', 'change', JSON.stringify({ name: 'b', ceil: 5000 }));
  rates(100);
  near(t, rates(1000), { a: 56 * M, b: 24 * M }, 0.01, 'b raised to 5000 packets/s while running: each gets its guarantee (a 40, b 1000 packets/s: 8 Mbit/s) and half the spare 32');
  g.write('htb', 'change', JSON.stringify({ name: 'b', unit: 'bits', rate: 8 * M, ceil: 20 * M }));
  rates(100);
  near(t, rates(1000), { a: 60 * M, b: 20 * M }, 0.01, 'b changed to bits/s: held at 20 Mbit/s');

  const refused: [string, RegExp][] = [
    [JSON.stringify({ name: 'b', unit: 'packets' }), /class 'b'\)\.unit: a change of unit gives the rate \(and the ceil and bursts the class has set\) in the new unit too/],
    [JSON.stringify({ name: 'b', unit: 'packets', rate: 100 }), /\.unit: a change of unit gives the rate/],
    [JSON.stringify({ name: 'b', unit: 'frames', rate: 100 }), /class 'b'\)\.unit: 'bits' .* or 'packets'/],
    [JSON.stringify({ name: 'b', credit: 'none' }), /\.credit: cannot be changed/],
  ];
  const before = g.read('htb', 'classes').replace(/ mode=.*$/gm, '');
  for (const [v, re] of refused) t.throws(() => g.write('htb', 'change', v), re, `change ${v} refused`);
  t.throws(() => g.write('htb', 'add', JSON.stringify({ name: 'c', parent: 'link', unit: 'packets', rate: 2000, ceil: 1000 })), /class 'c'.*\.ceil: 1000 packets\/s is below its rate 2000 packets\/s/, 'a packets/s ceil below its rate refused, in its unit');
  t.equal(g.read('htb', 'classes').replace(/ mode=.*$/gm, ''), before, 'the refused writes changed nothing');
  // Children in packets/s are not summed against a parent in bits/s (they cannot be compared).
  t.doesNotThrow(() => g.write('htb', 'add', JSON.stringify({ name: 'c', parent: 'link', unit: 'packets', rate: 1e6, ceil: 1e6 })), 'a packets/s guarantee beside bits/s ones is not counted against the link in bits/s');
  g.write('htb', 'remove', 'c');

  // A class added with credit 'none' sends nothing above its share at first; one with full
  // buckets (the default) sends its burst at once.
  t.test('credit', async (t) => {
    const { g: g2, rates: r2, advance: advance2 } = shaper(t, [uplink(80 * M), { name: 'a', parent: 'link', rate: 40 * M, ceil: 80 * M, match: 1 }], [1, 2, 3]);
    r2(100);
    g2.write('htb', 'add', JSON.stringify({ name: 'none', parent: 'link', rate: 10 * M, ceil: 10 * M, burst: 100000, cburst: 100000, match: 2, credit: 'none' }));
    g2.write('htb', 'add', JSON.stringify({ name: 'full', parent: 'link', rate: 10 * M, ceil: 10 * M, burst: 100000, cburst: 100000, match: 3 }));
    // Over the first 100 ms at 10 Mbit/s each earns 125 packets of 1000 bytes; full buckets
    // (the default) add their 100000 bytes, 100 packets, sent at once.
    advance2(100);
    const sent = classes(g2);
    t.ok(Number(sent.get('full')!.packets) >= 224, `full buckets (the default): ${sent.get('full')!.packets} packets in the first 100 ms, its burst on top of its rate`);
    t.ok(Number(sent.get('none')!.packets) <= 126, `credit 'none': ${sent.get('none')!.packets} packets in the first 100 ms, its rate and no more`);
  });
});

t.test('1000 leaves in a 3-level tree, keyed by table_id', async (t) => {
  // link (800 Mbit/s) -> 10 tenants (80 each) -> 100 leaves each, with a token guarantee (1 kbit/s)
  // so that they share their tenant's rate by weight (0.8 each); FlowSource's 1000
  // flows have source ports 0..999, which SetTableID makes the table id.
  const cls: HTBClass[] = [uplink(800 * M)];
  for (let i = 0; i < 10; i++) {
    cls.push({ name: `t${i}`, parent: 'link', rate: 80 * M, ceil: 800 * M });
    for (let j = 0; j < 100; j++) cls.push({ name: `t${i}-${j}`, parent: `t${i}`, rate: 1000, ceil: 800 * M, match: i * 100 + j, capacity: 8 });
  }
  const rt = new Runtime({ threads: 1, poolBuffers: 32768, virtualClockNs: T0 });
  t.teardown(() => rt.close());
  const g = rt.load(
    compile(
      graph('htb1000', () => {
        const h = HTBSched({ key: 'table_id', classes: cls }, 'htb');
        FlowSource({ flows: 1000, srcPort: 0, length: LEN, burst: 256 }, 'src').to(SetTableID({ offset: 34 })).to(h);
        h.to(Unqueue({ burst: 256 }, 'pump')).to(Discard({}, 'sink'));
      }),
    ),
  );
  rt.start();
  let now = 0;
  const advance = (ms: number) => {
    for (const end = now + ms; now < end; ) rt.setVirtualTime(T0 + ++now * MS);
  };
  advance(100);
  const before = classes(g);
  advance(1000);
  const after = classes(g);
  const sent = (n: string) => ((Number(after.get(n)!.bytes) - Number(before.get(n)!.bytes)) * 8) / 1;
  near(t, { link: sent('link') }, { link: 800 * M }, 0.01, 'the link over 1 s');
  const tenants = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`t${i}`, sent(`t${i}`)]));
  near(t, tenants, Object.fromEntries(Object.keys(tenants).map((k) => [k, 80 * M])), 0.01, 'each tenant');
  const leaves = [...after.keys()].filter((n) => n.includes('-')).map(sent);
  t.equal(leaves.length, 1000, '1000 leaves');
  const lo = Math.min(...leaves), hi = Math.max(...leaves);
  t.ok(lo >= 0.8 * M * 0.98 && hi <= 0.8 * M * 1.02, `every leaf within 2% of 0.8 Mbit/s (${(lo / 1e6).toFixed(3)} to ${(hi / 1e6).toFixed(3)})`);
  t.equal(g.counters('htb').drops_unclassified, 0n, 'every packet classified');
});

t.test('bad configurations are compile errors naming the class and field; the engine refuses them too', async (t) => {
  const build = (classes: HTBClass[], extra: { default?: string; key?: 'paint' | 'table_id' } = {}) => () =>
    compile(graph('bad', () => InfiniteSource({ limit: 0 }).to(HTBSched({ classes, ...extra }, 'htb')).to(Unqueue()).to(Discard())));
  const link = uplink(10 * M);
  const cases: [string, HTBClass[], RegExp, { default?: string; key?: 'paint' | 'table_id' }?][] = [
    ['ceil below rate', [link, { name: 'a', parent: 'link', rate: 5 * M, ceil: 4 * M }], /classes\[1\] \(class 'a'\)\.ceil: 4000000 bit\/s is below its rate 5000000 bit\/s/],
    ['zero rate', [link, { name: 'a', parent: 'link', rate: 0 }], /config field 'classes\.1\.rate' must be > 0 .*got 0/],
    ['negative burst', [link, { name: 'a', parent: 'link', rate: M, burst: -1 }], /config field 'classes\.1\.burst' must be >= 0 .*got -1/],
    ['no parent', [link, { name: 'a', rate: M } as HTBClass], /config field 'classes\.1\.parent' must be given/],
    ['unknown parent', [link, { name: 'a', parent: 'lnk', rate: M }], /classes\[1\] \(class 'a'\)\.parent: no class 'lnk'/],
    ['a cycle', [link, { name: 'a', parent: 'b', rate: M }, { name: 'b', parent: 'a', rate: M }], /classes\[1\] \(class 'a'\)\.parent: the parents of 'a' go round in a cycle \(a -> b -> a\)/],
    ['duplicate names', [link, { name: 'a', parent: 'link', rate: M }, { name: 'a', parent: 'link', rate: M }], /classes\[2\]\.name: class 'a' is defined twice/],
    ['children over the parent', [link, { name: 'a', parent: 'link', rate: 6 * M }, { name: 'b', parent: 'link', rate: 5 * M }], /classes\[0\] \(class 'link'\)\.rate: its children's rates add up to 11000000 bit\/s, above its rate 10000000/],
    ['borrowing under the root', [{ name: 'link', parent: 'root', rate: M, ceil: 2 * M }], /classes\[0\] \(class 'link'\)\.ceil: a class under the root has no parent to borrow from/],
    ['match on an inner class', [{ ...link, match: 1 }, { name: 'a', parent: 'link', rate: M }], /classes\[0\] \(class 'link'\)\.match: only a leaf class/],
    ['a paint above 255', [link, { name: 'a', parent: 'link', rate: M, match: 256 }], /classes\[1\] \(class 'a'\)\.match: 256 is not a paint colour/],
    ['a match used twice', [link, { name: 'a', parent: 'link', rate: M, match: 7 }, { name: 'b', parent: 'link', rate: M, match: 7 }], /classes\[2\] \(class 'b'\)\.match: table_id 7 already selects class 'a'/, { key: 'table_id' }],
    ['an unknown default', [link, { name: 'a', parent: 'link', rate: M }], /default: no class 'b'/, { default: 'b' }],
    ['an inner default', [link, { name: 'a', parent: 'link', rate: M }], /default: class 'link' has children/, { default: 'link' }],
    ['root as a name', [{ name: 'root', parent: 'root', rate: M }], /classes\[0\]\.name: 'root' is the link itself/],
    [
      'nine levels',
      Array.from({ length: 9 }, (_, i) => ({ name: `c${i}`, parent: i ? `c${i - 1}` : 'root', rate: M })),
      /classes\[8\] \(class 'c8'\)\.parent: the class is 9 levels below the link; at most 8/,
    ],
  ];
  for (const [what, classes, re, extra] of cases) t.throws(build(classes, extra), re, what);

  // A hand-made plan that skips the compiler's checks: the engine checks the same rules.
  const plan = build([link, { name: 'a', parent: 'link', rate: M }])();
  const htb = plan.elements.find((e) => e.name === 'htb')!;
  (htb.config.classes as HTBClass[])[1].ceil = M / 2;
  const rt = new Runtime({ threads: 1 });
  t.teardown(() => rt.close());
  t.throws(() => rt.load(plan), /'htb'.*class 'a'\.ceil: 500000 bit\/s is below its rate 1000000 bit\/s/, 'the engine refuses it, naming the class and field');
});

t.test('two workers: pushes on one, pulls on the other, live changes between; every packet accounted for', async (t) => {
  // Real clock, two threads: the sources run on worker 0 and the Unqueue on worker 1, so the
  // tree is shared under its lock. What is checked holds whatever the timing: every packet
  // queued was sent, is waiting, or was freed with its class, and the link never exceeds its
  // rate by more than its burst.
  const rt = new Runtime({ threads: 2, poolBuffers: 16384 });
  t.teardown(() => rt.close());
  const g = rt.load(
    compile(
      graph('htb2w', () => {
        const h = HTBSched({ classes: [uplink(400 * M), { name: 'a', parent: 'link', rate: 100 * M, ceil: 400 * M, match: 1, capacity: 256 }, { name: 'b', parent: 'link', rate: 100 * M, ceil: 400 * M, match: 2, capacity: 256 }] }, 'htb');
        InfiniteSource({ length: 500, burst: 32 }, { name: 'sa', thread: 0 }).to(Paint({ color: 1 })).to(h);
        InfiniteSource({ length: 500, burst: 32 }, { name: 'sb', thread: 0 }).to(Paint({ color: 2 })).to(h);
        InfiniteSource({ length: 500, burst: 32 }, { name: 'sc', thread: 0 }).to(Paint({ color: 3 })).to(h);
        h.to(Unqueue({ burst: 64 }, { name: 'pump', thread: 1 })).to(Discard({}, 'sink'));
      }),
    ),
  );
  const t0 = process.hrtime.bigint();
  rt.start();
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 25));
    g.write('htb', i % 2 ? 'remove' : 'add', i % 2 ? 'c' : JSON.stringify({ name: 'c', parent: 'link', rate: 100 * M, ceil: 400 * M, match: 3 }));
    g.write('htb', 'change', JSON.stringify({ name: 'b', rate: (i % 2 ? 100 : 150) * M }));
  }
  rt.stop();
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = g.counters('htb');
  const backlog = [...classes(g).values()].reduce((s, r) => s + Number(r.backlog ?? 0), 0);
  t.equal(c.enqueued, c.packets + BigInt(backlog) + c.drops_class_removed, `queued ${c.enqueued} = sent ${c.packets} + waiting ${backlog} + freed with their class ${c.drops_class_removed}`);
  t.equal(BigInt(g.read('htb', 'classes').match(/^link .* packets=(\d+)/)![1]), c.packets, "the link's count is the element's");
  const sentBits = Number(c.bytes) * 8;
  t.ok(sentBits <= 400 * M * secs + 8 * 100_000, `the link held to its rate: ${(sentBits / secs / 1e6).toFixed(1)} Mbit/s over ${secs.toFixed(2)} s, at most 400`);
  t.ok(c.packets > 0n, `${c.packets} packets sent`);
  t.ok(c.drops_class_removed > 0n && c.drops_unclassified > 0n, `c's packets freed with it (${c.drops_class_removed}), and unclassified while it was gone (${c.drops_unclassified})`);
});

t.test('random live changes under traffic: no crash, every refusal a sentence, every packet accounted for', async (t) => {
  // A seeded sequence of adds (under the link or under any class), removes and changes on the
  // virtual clock, one per millisecond, with 40 flows spread over table ids 0..39.
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const rt = new Runtime({ threads: 1, poolBuffers: 16384, virtualClockNs: T0 });
  t.teardown(() => rt.close());
  const g = rt.load(
    compile(
      graph('htbrandom', () => {
        const h = HTBSched({ key: 'table_id', maxClasses: 64, classes: [uplink(100 * M), { name: 'x', parent: 'link', rate: M, match: 0 }] }, 'htb');
        FlowSource({ flows: 40, srcPort: 0, length: 200, burst: 32 }, 'src').to(SetTableID({ offset: 34 })).to(h);
        h.to(Unqueue({ burst: 32 }, 'pump')).to(Discard({}, 'sink'));
      }),
    ),
  );
  rt.start();
  const names = new Set(['link', 'x']);
  const pick = () => [...names][Math.floor(rnd() * names.size)];
  let done = 0;
  let refused = 0;
  let most = 0;
  for (let ms = 1; ms <= 2000; ms++) {
    rt.setVirtualTime(T0 + ms * MS);
    const r = rnd();
    try {
      if (r < 0.45) {
        const name = `c${Math.floor(rnd() * 40)}`;
        const rate = Math.ceil(rnd() * 4) * 0.1 * M;
        const spec = { name, parent: rnd() < 0.5 ? 'link' : pick(), rate, ceil: rate * (1 + Math.floor(rnd() * 5)), capacity: 1 + Math.floor(rnd() * 50), weight: 1 + Math.floor(rnd() * 5) };
        g.write('htb', 'add', JSON.stringify(rnd() < 0.7 ? { ...spec, match: Math.floor(rnd() * 40) } : spec));
        names.add(name);
      } else if (r < 0.7) {
        const name = pick();
        if (name === 'link') continue; // the link stays
        g.write('htb', 'remove', name);
        names.delete(name);
      } else {
        const rate = Math.ceil(rnd() * 8) * 0.1 * M;
        g.write('htb', 'change', JSON.stringify({ name: pick(), rate, ...(rnd() < 0.5 ? { ceil: rate * 2 } : {}), ...(rnd() < 0.3 ? { capacity: 1 + Math.floor(rnd() * 20) } : {}) }));
      }
      done++;
    } catch (e) {
      refused++;
      if (!/^(add|change|remove)\b.*(class|default)/.test((e as Error).message)) t.fail(`an unclear refusal: ${(e as Error).message}`);
    }
    most = Math.max(most, g.read('htb', 'classes').trim().split('\n').length);
  }
  rt.stop();
  t.ok(done > 500 && refused > 100, `${done} changes made, ${refused} refused`);
  t.ok(most >= 5, `up to ${most} classes at once`);
  const c = g.counters('htb');
  const backlog = [...classes(g).values()].reduce((s, r) => s + Number(r.backlog ?? 0), 0);
  t.ok(c.packets > 1000n, `${c.packets} packets sent`);
  t.equal(c.enqueued, c.packets + BigInt(backlog) + c.drops_class_removed, `queued ${c.enqueued} = sent ${c.packets} + waiting ${backlog} + freed with their class ${c.drops_class_removed}`);
});
