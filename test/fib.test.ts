// The LPM tables (native/fib) against a reference longest-prefix match, through the
// elements' handlers: random IPv4 and IPv6 tables (small ones with an 8-bit root, large ones
// with a 16-bit root), random addresses and the edges of every kind of prefix, adds, removes
// and whole-table replacements interleaved on a running engine, long sequences of single-route
// changes (applied in place) checked around every change, and memory that grows with the routes
// (an empty table costs about a kilobyte).
import t, { type Test } from 'tap';
import { graph, compile, Runtime, IPLookup, LookupIP6Route, InfiniteSource, Discard, type RunningGraph } from 'pktgraph';
import { RefTable, randomTable, randomRoute, seeds, testAddresses, addrText, prefixText, type RefRoute, type Width } from './lib/fibref.js';
import { rng } from './lib/rng.js';
import { parseIPv6 } from '../src/util/address.js';

const OUTPUTS = 4;

function load(rt: Runtime, width: Width, routes: string[], name: string): RunningGraph {
  const plan = compile(
    graph(name, () => {
      const el = (width === 32 ? IPLookup : LookupIP6Route)({ routes }, 'rt');
      InfiniteSource({ limit: 0 }).to(el);
      for (let i = 0; i < OUTPUTS; i++) el.out(i).to(Discard());
    }),
  );
  return rt.load(plan);
}

// Look every address up through the handlers; returns the number of disagreements (reports a few).
function check(t: Test, g: RunningGraph, ref: RefTable, addrs: bigint[], tag: string): number {
  let bad = 0;
  for (const a of addrs) {
    const text = addrText(a, ref.width);
    g.write('rt', 'lookup', text);
    const got = g.read('rt', 'lookup_result');
    const r = ref.lookup(a);
    const want = r ? r.hop : 'no route';
    if (got !== want && bad++ < 3) t.fail(`${tag}: ${text}: got '${got}', the reference says '${want}' (${r ? prefixText(r.key, r.len, ref.width) : '-'})`);
  }
  return bad;
}

const canonicalTable = (ref: RefTable) => ref.routes().map((r) => `${prefixText(r.key, r.len, ref.width)} ${r.hop}`);
function tableLines(g: RunningGraph, width: Width): string[] {
  // Normalise the native (RFC 5952) IPv6 text to the uncompressed form the reference prints.
  return g
    .read('rt', 'table')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      if (width === 32) return l;
      const [p, ...rest] = l.split(' ');
      const [addr, len] = p.split('/');
      return `${addrText(parseIPv6(addr)!, 128)}/${len} ${rest.join(' ')}`;
    });
}

for (const width of [32, 128] as Width[]) {
  const fam = width === 32 ? 'IPv4' : 'IPv6';

  t.test(`${fam}: random tables agree with the reference`, async (t) => {
    const rt = new Runtime({ threads: 1, poolBuffers: 256 });
    try {
      const r = rng(width * 1000 + 7);
      // Small tables (8-bit root) and one large table (16-bit root, more than 4096 routes).
      const sizes = [0, 1, 3, 20, 200, 1500, 6000];
      let total = 0;
      for (const n of sizes) {
        const routes = randomTable(r, width, n, OUTPUTS);
        const ref = new RefTable(width);
        routes.forEach((x) => ref.set(x));
        const g = load(rt, width, routes.map((x) => x.text), `fib${width}-${n}`);
        t.equal(g.read('rt', 'count'), String(routes.length), `${n} routes loaded`);
        const addrs = testAddresses(r, width, routes, n >= 1500 ? 3000 : 800);
        total += addrs.length;
        t.equal(check(t, g, ref, addrs, `${n} routes`), 0, `${n} routes: ${addrs.length} lookups agree`);
        t.same(tableLines(g, width), canonicalTable(ref), `${n} routes: the table handler lists every route`);
        g.remove();
      }
      t.comment(`${total} lookups checked`);
    } finally {
      rt.close();
    }
  });

  t.test(`${fam}: default and host routes`, async (t) => {
    const rt = new Runtime({ threads: 1, poolBuffers: 256 });
    try {
      const host = width === 32 ? '198.18.0.7' : 'fd00::7';
      const net = width === 32 ? '198.18.0.0/15' : 'fd00::/8';
      const gw = width === 32 ? '192.0.2.1' : 'fe80::1';
      const near = width === 32 ? ['198.18.0.6', '198.18.0.8'] : ['fd00::6', 'fd00::8'];
      const g = load(rt, width, [`default via ${gw}`, `${net} dev 1`, `${host} 2`], `edges${width}`);
      const look = (a: string) => {
        g.write('rt', 'lookup', a);
        return g.read('rt', 'lookup_result');
      };
      t.equal(look(host), 'dev 2', 'the host route');
      for (const a of near) t.equal(look(a), 'dev 1', `${a}: the covering prefix`);
      t.equal(look(width === 32 ? '8.8.8.8' : '2001:db8::1'), `via ${gw} dev 0`, 'everything else: the default route');
      g.write('rt', 'remove', 'default');
      t.equal(look(width === 32 ? '8.8.8.8' : '2001:db8::1'), 'no route', 'no default route: no route');
      g.write('rt', 'add', width === 32 ? '0.0.0.0/0 3' : '::/0 3');
      t.equal(look(width === 32 ? '255.255.255.255' : 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), 'dev 3', 'the last address');
      t.equal(look(width === 32 ? '0.0.0.0' : '::'), 'dev 3', 'the first address');
      g.write('rt', 'add', `${host}/${width} via ${gw} dev 1`);
      t.equal(look(host), `via ${gw} dev 1`, 'add replaces the route of an existing prefix');
      t.throws(() => g.write('rt', 'lookup', 'nonsense'), /'nonsense' is not an IPv[46] address/);
    } finally {
      rt.close();
    }
  });

  t.test(`${fam}: adds, removes and replacements interleaved on a running engine`, async (t) => {
    const rt = new Runtime({ threads: 2, poolBuffers: 1024 });
    try {
      rt.start();
      const r = rng(width + 99);
      const s = seeds(r, width, 30);
      const ref = new RefTable(width);
      const g = load(rt, width, [], `live${width}`);
      let bad = 0;
      for (let step = 0; step < 40; step++) {
        const roll = r.next();
        if (roll < 0.55) {
          // Add a few routes in one write (new prefixes or replacements).
          const add: RefRoute[] = [];
          for (let k = r.int(1, 60); k > 0; k--) add.push(randomRoute(r, width, s, OUTPUTS));
          const seen = new Map<string, RefRoute>();
          for (const x of add) seen.set(`${x.key}/${x.len}`, x); // the last one wins, as in the element
          g.write('rt', 'add', add.map((x) => x.text).join('\n'));
          for (const x of seen.values()) ref.set(x);
        } else if (roll < 0.9) {
          const all = ref.routes();
          const gone = all.filter(() => r.next() < 0.3).slice(0, 40);
          if (gone.length === 0) continue;
          g.write('rt', 'remove', gone.map((x) => prefixText(x.key, x.len, width)).join('\n'));
          for (const x of gone) ref.delete(x.key, x.len);
        } else {
          const fresh = randomTable(r, width, r.int(0, 300), OUTPUTS);
          g.write('rt', 'set', fresh.map((x) => x.text).join('\n'));
          ref.clear();
          fresh.forEach((x) => ref.set(x));
        }
        t.equal(g.read('rt', 'count'), String(ref.size), `step ${step}: count`);
        bad += check(t, g, ref, testAddresses(r, width, ref.routes(), 150), `step ${step}`);
      }
      t.equal(bad, 0, 'every lookup after every change agrees with the reference');
      t.same(tableLines(g, width), canonicalTable(ref), 'the final table');
      // A failed change changes nothing.
      const before = g.read('rt', 'table');
      t.throws(() => g.write('rt', 'add', `${width === 32 ? '10.0.0.0/8' : 'fd00::/8'} 1\nbogus 1`), /route 2 \('bogus 1'\): 'bogus' is not an IPv[46] address/);
      t.throws(() => g.write('rt', 'remove', width === 32 ? '203.0.113.0/24' : '2001:db8:ffff::/48'), /no route for/);
      t.equal(g.read('rt', 'table'), before, 'a refused add or remove leaves the table as it was');
    } finally {
      rt.close();
    }
  });

  // Single-route writes are applied in place (path copying, LpmTable::update); this drives
  // long sequences of them, plus some multi-route writes and refused removes, over a small
  // table (8-bit root) and a large one (16-bit root), checking lookups around every change.
  for (const [size, steps] of [
    [300, 700],
    [6000, 1200],
  ] as const) {
    t.test(`${fam}: ${steps} interleaved single adds, removes and replacements on ${size} routes agree with the reference after every change`, async (t) => {
      const rt = new Runtime({ threads: 1, poolBuffers: 256 });
      try {
        const r = rng(width * 31 + size);
        const base = randomTable(r, width, size, OUTPUTS);
        const s = seeds(r, width, Math.max(4, Math.ceil(size / 40)));
        const ref = new RefTable(width);
        base.forEach((x) => ref.set(x));
        const g = load(rt, width, base.map((x) => x.text), `seq${width}-${size}`);
        const all = (1n << BigInt(width)) - 1n;
        const hostMask = (len: number) => all >> BigInt(len);
        // A route for the prefix (key, len) with a random next hop in one of the text forms.
        const routeFor = (key: bigint, len: number): RefRoute => {
          const x = randomRoute(r, width, s, OUTPUTS);
          const text = x.text.slice(x.text.indexOf(' ') + 1);
          return { ...x, key, len, text: `${prefixText(key, len, width)} ${text}` };
        };
        // Addresses around a prefix: its first and last, inside, and just outside on both sides.
        const around = (key: bigint, len: number) => {
          const last = key | hostMask(len);
          return [key, last, key | (r.big(width) & hostMask(len)), (last + 1n) & all, (key - 1n) & all];
        };
        let bad = 0;
        let refused = 0;
        const kinds = { add: 0, nested: 0, covering: 0, replace: 0, remove: 0, defaults: 0, hosts: 0, multi: 0 };
        for (let step = 0; step < steps; step++) {
          const routes = ref.unsorted();
          const roll = r.next();
          const probe: bigint[] = [];
          if (roll < 0.25 || routes.length === 0) {
            const x = randomRoute(r, width, s, OUTPUTS);
            g.write('rt', 'add', x.text);
            ref.set(x);
            probe.push(...around(x.key, x.len));
            kinds.add++;
          } else if (roll < 0.35) {
            // A longer prefix inside an existing route, or a shorter one covering it.
            const o = r.pick(routes);
            const nested = r.next() < 0.6;
            const len = nested ? r.int(Math.min(o.len + 1, width), width) : r.int(0, o.len);
            const key = nested ? (o.key | (r.big(width) & hostMask(o.len))) & ~hostMask(len) & all : o.key & ~hostMask(len) & all;
            const x = routeFor(key, len);
            g.write('rt', 'add', x.text);
            ref.set(x);
            probe.push(...around(key, len), ...around(o.key, o.len));
            if (nested) kinds.nested++;
            else kinds.covering++;
          } else if (roll < 0.4) {
            // The default route or a host route, added or removed.
            const isDefault = r.next() < 0.5;
            const o = r.pick(routes);
            const key = isDefault ? 0n : r.next() < 0.5 ? o.key | (r.big(width) & hostMask(o.len)) : r.big(width);
            const len = isDefault ? 0 : width;
            const k = key & ~hostMask(len) & all;
            if (ref.has(k, len) && r.next() < 0.5) {
              g.write('rt', 'remove', isDefault ? 'default' : addrText(k, width));
              ref.delete(k, len);
            } else {
              const x = routeFor(k, len);
              g.write('rt', 'add', x.text);
              ref.set(x);
            }
            probe.push(...around(k, len));
            if (isDefault) kinds.defaults++;
            else kinds.hosts++;
          } else if (roll < 0.6) {
            const o = r.pick(routes);
            const x = routeFor(o.key, o.len);
            g.write('rt', 'add', x.text);
            ref.set(x);
            probe.push(...around(o.key, o.len));
            kinds.replace++;
          } else if (roll < 0.85) {
            const o = r.pick(routes);
            g.write('rt', 'remove', prefixText(o.key, o.len, width));
            ref.delete(o.key, o.len);
            probe.push(...around(o.key, o.len));
            kinds.remove++;
          } else if (roll < 0.9) {
            // Removing a route that is not there is refused and changes nothing.
            const x = randomRoute(r, width, s, OUTPUTS);
            if (ref.has(x.key, x.len)) continue;
            const before = g.read('rt', 'count');
            t.throws(() => g.write('rt', 'remove', prefixText(x.key, x.len, width)), /no route for/, `step ${step}: removing an absent route is refused`);
            if (g.read('rt', 'count') !== before) bad++;
            probe.push(...around(x.key, x.len));
            refused++;
          } else {
            // Several changes in one write: some adds, some replacements; then some removes in one write.
            const add = Array.from({ length: r.int(2, 8) }, () => {
              if (r.next() < 0.5) return randomRoute(r, width, s, OUTPUTS);
              const o = r.pick(routes);
              return routeFor(o.key, o.len);
            });
            const seen = new Map<string, RefRoute>();
            for (const x of add) seen.set(`${x.key}/${x.len}`, x);
            g.write('rt', 'add', add.map((x) => x.text).join('\n'));
            for (const x of seen.values()) ref.set(x);
            const gone = ref.unsorted().filter(() => r.next() < 0.002).slice(0, 6);
            if (gone.length) {
              g.write('rt', 'remove', gone.map((x) => prefixText(x.key, x.len, width)).join('\n'));
              gone.forEach((x) => ref.delete(x.key, x.len));
            }
            for (const x of [...seen.values(), ...gone]) probe.push(...around(x.key, x.len));
            kinds.multi++;
          }
          probe.push(...testAddresses(r, width, routes, 8));
          bad += check(t, g, ref, probe, `step ${step}`);
          if (step % 100 === 99 && g.read('rt', 'count') !== String(ref.size)) bad++;
        }
        t.comment(`changes: ${JSON.stringify(kinds)}, ${refused} refused removes`);
        t.equal(bad, 0, 'every lookup around every change agrees with the reference');
        t.equal(check(t, g, ref, testAddresses(r, width, ref.routes(), 3000), 'final'), 0, 'the final table agrees on 3000 more addresses');
        t.same(tableLines(g, width), canonicalTable(ref), 'the table handler lists the final routes');
        t.ok(kinds.defaults > 0 && kinds.hosts > 0 && kinds.nested > 0 && kinds.covering > 0 && refused > 0, 'every kind of change was exercised');
      } finally {
        rt.close();
      }
    });
  }

  // A table configured in the plan is built in its graph's arena (native/state_arena.h); routes
  // added later by the handler rebuild it on the heap, past the small table's 8-bit root to the
  // 16-bit one, and a hot reconfiguration hands the table to a successor graph, the old graph
  // (and its arena) going away while the table it built lives on.
  t.test(`${fam}: a configured small table grows through the add handler to a large one and survives its graph's replacement`, async (t) => {
    const rt = new Runtime({ threads: 1, poolBuffers: 1024 });
    try {
      rt.start();
      const r = rng(width + 41);
      const ref = new RefTable(width);
      const first = randomTable(r, width, 300, OUTPUTS);
      first.forEach((x) => ref.set(x));
      let g = load(rt, width, first.map((x) => x.text), `grow${width}`);
      let bad = check(t, g, ref, testAddresses(r, width, ref.routes(), 400), 'as configured');
      const more = randomTable(r, width, 6000, OUTPUTS).filter((x) => !ref.has(x.key, x.len));
      for (let i = 0; i < more.length; i += 1500) {
        const chunk = more.slice(i, i + 1500);
        g.write('rt', 'add', chunk.map((x) => x.text).join('\n'));
        chunk.forEach((x) => ref.set(x));
        bad += check(t, g, ref, testAddresses(r, width, ref.routes(), 300), `${ref.size} routes`);
      }
      t.ok(ref.size > 4096, `grown to ${ref.size} routes (a large table's root)`);
      t.equal(g.read('rt', 'count'), String(ref.size), 'the count');
      // The successor takes the table; then the old graph is freed, and more changes follow.
      g = g.replace(
        compile(
          graph(`grow${width}`, () => {
            const el = (width === 32 ? IPLookup : LookupIP6Route)({ routes: [] }, 'rt');
            InfiniteSource({ limit: 0 }).to(el);
            for (let k = 0; k < OUTPUTS; k++) el.out(k).to(Discard());
          }),
        ),
      );
      bad += check(t, g, ref, testAddresses(r, width, ref.routes(), 400), 'after the replacement');
      const gone = ref.routes().slice(0, 200);
      g.write('rt', 'remove', gone.map((x) => prefixText(x.key, x.len, width)).join('\n'));
      gone.forEach((x) => ref.delete(x.key, x.len));
      bad += check(t, g, ref, testAddresses(r, width, ref.routes(), 400), 'after removes on the successor');
      t.equal(bad, 0, 'every lookup agrees with the reference');
      t.same(tableLines(g, width), canonicalTable(ref), 'the final table');
    } finally {
      rt.close();
    }
  });

  t.test(`${fam}: memory grows with the routes; an empty table costs about a kilobyte`, async (t) => {
    const rt = new Runtime({ threads: 1, poolBuffers: 256 });
    try {
      const r = rng(width + 5);
      const g = load(rt, width, [], `mem${width}`);
      const mem = () => Number(g.read('rt', 'memory'));
      const empty = mem();
      t.ok(empty < 4096, `empty: ${empty} bytes`);
      const sizes: number[] = [empty];
      for (const n of [100, 1000, 10000]) {
        g.write('rt', 'set', randomTable(r, width, n, OUTPUTS, false).map((x) => x.text).join('\n'));
        sizes.push(mem());
      }
      t.comment(`memory for 0, 100, 1000, 10000 routes: ${sizes.join(', ')} bytes`);
      for (let i = 1; i < sizes.length; i++) t.ok(sizes[i] > sizes[i - 1], `more routes, more memory (${sizes[i - 1]} -> ${sizes[i]})`);
      t.ok(sizes[3] < 10000 * 200, 'under 200 bytes a route at 10000 routes');
    } finally {
      rt.close();
    }
  });
}
