// IPLookup and LookupIP6Route with real packets: FromPcap -> lookup -> ToPcap per output,
// every packet checked against a reference longest-prefix match (ECMP: a member's output,
// the same for every packet of a flow), short packets and packets without a route dropped
// and counted, route changes made through the handlers on a running engine before and
// while traffic flows, routes from a file, the gateway written to the destination
// annotation (and read by a second lookup), and route errors at compile and load time.
import t, { type Test } from 'tap';
import { rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { graph, compile, runPlan, Runtime, type RunOptions, IPLookup, LookupIP6Route, FromPcap, ToPcap, InfiniteSource, Discard, type Plan } from 'pktgraph';
import { runCompiled, tmpPath } from './lib/run.js';
import { writePcap, readPcap } from './lib/pcap.js';
import { ether, ipv4, ipv6, udp, ETH_IPV6 } from './lib/packets.js';
import { RefTable, randomTable, randomRoute, seeds, testAddresses, addrText, prefixText, type RefRoute, type Width } from './lib/fibref.js';
import { rng, type Rng } from './lib/rng.js';
import { parseIP } from '../src/util/address.js';

const OUTPUTS = 4;

interface Sent {
  data: Buffer;
  dst: bigint;
  src: bigint;
}

// Packet i carries i in its UDP payload, so every packet is unique.
function packets(r: Rng, width: Width, dsts: bigint[]): Sent[] {
  return dsts.map((dst, i) => {
    const src = width === 32 ? BigInt(r.int(0, 7)) | (198n << 24n) | (18n << 16n) : (0xfd00n << 112n) | BigInt(r.int(0, 7));
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(i, 0);
    const s = addrText(src, width);
    const d = addrText(dst, width);
    const data =
      width === 32
        ? ether({ payload: ipv4({ src: s, dst: d, payload: udp({ payload }) }) })
        : ether({ type: ETH_IPV6, payload: ipv6({ src: s, dst: d, payload: udp({ payload, src: s, dst: d }) }) });
    return { data, dst, src };
  });
}

const Lookup = (width: Width) => (width === 32 ? IPLookup : LookupIP6Route);

interface Pipeline {
  files: string[];
  input: string;
}

function pipeline(width: Width, tag: string, sent: Buffer[], routes: string[], opts: { active?: boolean; repeat?: number; file?: string } = {}): Pipeline {
  const input = tmpPath(`${tag}-in.pcap`);
  writePcap(input, sent.map((data) => ({ data })));
  const el = FromPcap({ file: input, burst: 64, active: opts.active ?? true, repeat: opts.repeat ?? 1 }, `src_${tag}`).to(
    Lookup(width)({ routes, file: opts.file ?? '' }, `rt_${tag}`),
  );
  const files: string[] = [];
  for (let i = 0; i < OUTPUTS; i++) {
    const f = tmpPath(`${tag}-out${i}.pcap`);
    files.push(f);
    el.out(i).to(ToPcap({ file: f }, `sink_${tag}_${i}`));
  }
  return { files, input };
}

// Every routed packet is on an output of its route, in order; ECMP flows stay on one output.
function verify(t: Test, width: Width, tag: string, p: Pipeline, sent: Sent[], ref: RefTable, counters: Record<string, number>, extraShort = 0) {
  const where = new Map<number, number>();
  let misordered = 0;
  p.files.forEach((f, o) => {
    let last = -1;
    for (const pk of readPcap(f).packets) {
      const id = pk.data.readUInt32BE(pk.data.length - 8);
      where.set(id, o);
      if (id <= last) misordered++;
      last = id;
    }
  });
  let bad = 0;
  let noRoute = 0;
  const flows = new Map<string, number>();
  sent.forEach((s, i) => {
    const r = ref.lookup(s.dst);
    const got = where.get(i);
    if (!r) {
      noRoute++;
      if (got !== undefined && bad++ < 3) t.fail(`${tag}: packet ${i} to ${addrText(s.dst, width)} has no route but came out of ${got}`);
      return;
    }
    if (got === undefined || !r.ports.includes(got)) {
      if (bad++ < 3) t.fail(`${tag}: packet ${i} to ${addrText(s.dst, width)}: route ${prefixText(r.key, r.len, width)} (${r.hop}), came out of ${got ?? 'nowhere'}`);
      return;
    }
    const flow = `${s.src}>${s.dst}`;
    const prev = flows.get(flow);
    if (prev !== undefined && prev !== got && bad++ < 3) t.fail(`${tag}: flow ${flow} took outputs ${prev} and ${got}`);
    flows.set(flow, got);
  });
  t.equal(bad, 0, `${tag}: ${sent.length} packets on their route's output`);
  t.equal(misordered, 0, `${tag}: in arrival order on every output`);
  t.equal(counters.drops_no_route, noRoute, `${tag}: drops_no_route counts the ${noRoute} packets without a route`);
  t.equal(counters.drops_short, extraShort, `${tag}: drops_short`);
}

const cleanup = (ps: Pipeline[]) => ps.forEach((p) => [p.input, ...p.files].forEach((f) => rmSync(f, { force: true })));

/** Stable destinations: host routes to outputs 0-2 that the tests of route changes under traffic never change. */
function stableHosts(r: Rng, width: Width) {
  const s = seeds(r, width, 16);
  const stable = new Map<bigint, number>();
  while (stable.size < 48) stable.set(r.pick(s) ^ r.big(width < 64 ? 12 : 40), stable.size % 3);
  return { s, stable, hostRoutes: [...stable].map(([a, o]) => `${addrText(a, width)} dev ${o}`), stableDst: [...stable.keys()] };
}

/**
 * Packets to `dsts` (a pcap, repeated) through a Lookup with `routes` into Discards d0-d3, run
 * on two workers while `onStart` changes the table; then checked: `stable` destinations on
 * their outputs, the rest on 3, none unrouted, every buffer back.
 */
function stableRun(t: Test, tag: string, r: Rng, width: Width, routes: string[], stable: Map<bigint, number>, dsts: bigint[], repeat: number) {
  const want = [0, 0, 0, 0];
  for (const d of dsts) want[stable.get(d) ?? 3] += repeat;
  const input = tmpPath(`${tag}-in.pcap`);
  writePcap(input, packets(r, width, dsts).map((x) => ({ data: x.data })));
  t.teardown(() => rmSync(input, { force: true }));
  const plan = compile(
    graph(tag, () => {
      const el = FromPcap({ file: input, repeat, burst: 64 }).to(Lookup(width)({ routes }, 'rt'));
      for (let i = 0; i < OUTPUTS; i++) el.out(i).to(Discard({}, `d${i}`));
    }),
  );
  const run = async (onStart: NonNullable<RunOptions['onStart']>) => {
    const summary = await runPlan(plan, { threads: 2, poolBuffers: 4096, duration: 30, onStart });
    t.equal(summary.stoppedBy, 'drained');
    const got = [0, 1, 2, 3].map((i) => summary.elements[`d${i}`].packets);
    t.same(got, want, 'every packet on its output: the stable hosts on 0-2, everything else on 3');
    t.equal(summary.elements.rt.drops_no_route, 0, 'no packet without a route');
    t.equal(summary.pool.available, summary.pool.capacity, 'every buffer back in the pool');
  };
  return { run, total: BigInt(dsts.length * repeat) };
}

for (const width of [32, 128] as Width[]) {
  const fam = width === 32 ? 'IPv4' : 'IPv6';

  t.test(`${fam}: packets through random tables go where the reference says`, async (t) => {
    const r = rng(width * 31 + 1);
    const cases = [5, 300, 5000].map((n, k) => {
      const routes = randomTable(r, width, n, OUTPUTS);
      const ref = new RefTable(width);
      routes.forEach((x) => ref.set(x));
      const sent = packets(r, width, testAddresses(r, width, routes, 1500));
      // Flows repeat (ECMP must keep them on one output).
      sent.push(...packets(r, width, sent.slice(0, 200).map((s) => s.dst)).map((p, i) => ({ ...p, data: p.data })));
      return { tag: `${fam}-rand${k}`, routes, ref, sent };
    });
    // Renumber the ids of the repeated packets (packets() numbers from 0 each call).
    for (const c of cases) c.sent.forEach((s, i) => s.data.writeUInt32BE(i, s.data.length - 8));
    // A few packets too short for the header: dropped and counted.
    const short = Buffer.from(cases[0].sent[0].data.subarray(0, 14 + (width === 32 ? 19 : 39)));
    const pipes: Pipeline[] = [];
    const plan = compile(
      graph(`pk${width}`, () => {
        for (const c of cases) pipes.push(pipeline(width, c.tag, [...c.sent.map((s) => s.data), short, short], c.routes.map((x) => x.text)));
      }),
    );
    const summary = await runCompiled(plan, { threads: 2, poolBuffers: 8192 });
    cases.forEach((c, k) => verify(t, width, c.tag, pipes[k], c.sent, c.ref, summary.elements[`rt_${c.tag}`], 2));
    t.equal(summary.pool.available, summary.pool.capacity, 'every buffer back in the pool');
    cleanup(pipes);
  });

  t.test(`${fam}: routes changed through the handlers on a running engine, then traffic`, async (t) => {
    const r = rng(width * 7 + 3);
    const s = seeds(r, width, 20);
    const ref = new RefTable(width);
    const initial = randomTable(r, width, 100, OUTPUTS);
    initial.forEach((x) => ref.set(x));
    // The changes are drawn first (to know the final table and write the packets for it),
    // then made through the handlers once the engine runs, before the source is activated.
    const changes: { handler: 'add' | 'remove'; value: string }[] = [];
    for (let step = 0; step < 20; step++) {
      if (r.next() < 0.6) {
        const add: RefRoute[] = [];
        for (let k = r.int(1, 20); k > 0; k--) add.push(randomRoute(r, width, s, OUTPUTS));
        changes.push({ handler: 'add', value: add.map((x) => x.text).join('\n') });
        for (const x of add) ref.set(x);
      } else {
        const gone = ref.routes().filter(() => r.next() < 0.2);
        if (!gone.length) continue;
        changes.push({ handler: 'remove', value: gone.map((x) => prefixText(x.key, x.len, width)).join('\n') });
        gone.forEach((x) => ref.delete(x.key, x.len));
      }
    }
    const sent = packets(r, width, testAddresses(r, width, ref.routes(), 2000));
    const pipes: Pipeline[] = [];
    const plan = compile(
      graph(`live${width}`, () => pipes.push(pipeline(width, `${fam}-live`, sent.map((x) => x.data), initial.map((x) => x.text), { active: false }))),
    );
    let routedBefore = -1;
    const summary = await runPlan(plan, {
      threads: 2,
      poolBuffers: 4096,
      duration: 20,
      onStart: async (_rt, g) => {
        for (const c of changes) g.write(`rt_${fam}-live`, c.handler, c.value);
        routedBefore = Number(g.read(`rt_${fam}-live`, 'count'));
        g.write(`src_${fam}-live`, 'active', 'true');
      },
    });
    t.equal(routedBefore, ref.size, `${changes.length} changes made, ${ref.size} routes`);
    t.equal(summary.stoppedBy, 'drained');
    verify(t, width, `${fam}-live`, pipes[0], sent, ref, summary.elements[`rt_${fam}-live`]);
    cleanup(pipes);
  });

  t.test(`${fam}: tables replaced again and again while traffic flows`, async (t) => {
    const r = rng(width * 13 + 5);
    const a = randomTable(r, width, 3000, OUTPUTS);
    const b = randomTable(r, width, 200, OUTPUTS);
    const sent = packets(r, width, testAddresses(r, width, [...a, ...b], 1000));
    const input = tmpPath(`swap${width}-in.pcap`);
    writePcap(input, sent.map((x) => ({ data: x.data })));
    const REPEAT = 3000;
    const plan = compile(
      graph(`swap${width}`, () => {
        const el = FromPcap({ file: input, repeat: REPEAT, burst: 64 }).to(Lookup(width)({ routes: a.map((x) => x.text) }, 'rt'));
        for (let i = 0; i < OUTPUTS; i++) el.out(i).to(Discard({}, `d${i}`));
      }),
    );
    let swaps = 0;
    const seen: bigint[] = [];
    const summary = await runPlan(plan, {
      threads: 2,
      poolBuffers: 4096,
      duration: 25,
      onStart: async (_rt, g) => {
        const texts = [b.map((x) => x.text).join('\n'), a.map((x) => x.text).join('\n')];
        for (; swaps < 60; swaps++) {
          g.write('rt', 'set', texts[swaps % 2]);
          seen.push(g.sourcePackets());
          await new Promise((res) => setTimeout(res, 1));
        }
      },
    });
    t.equal(summary.stoppedBy, 'drained');
    const total = sent.length * REPEAT;
    const out = [0, 1, 2, 3].reduce((n, i) => n + summary.elements[`d${i}`].packets, 0);
    t.equal(out + summary.elements.rt.drops_no_route, total, `${swaps} table swaps: every packet routed or counted`);
    const during = seen.filter((n) => n > 0n && n < BigInt(total)).length;
    t.ok(during >= 2, `${during} of the swaps happened while packets were flowing`);
    t.equal(summary.pool.available, summary.pool.capacity, 'every buffer back in the pool');
    rmSync(input, { force: true });
  });

  t.test(`${fam}: single routes added, removed and replaced while traffic flows: no packet lost or misrouted`, async (t) => {
    // Host routes for stable destinations go to outputs 0-2 and are never changed; every other
    // route (the default and the ones changed, clustered around the stable hosts so that the
    // changes rewrite the nodes holding them) goes to output 3, through a changing gateway. So
    // outputs 0-2 get exactly the stable packets, output 3 all the others, and nothing is
    // unrouted, whatever state of the table a packet meets.
    const r = rng(width * 17 + 3);
    const { s, stable, hostRoutes, stableDst } = stableHosts(r, width);
    const gw = () => (width === 32 ? `192.0.2.${r.int(1, 254)}` : `fe80::${r.int(1, 0xffff).toString(16)}`);
    const start = [`default via ${gw()} dev 3`, ...hostRoutes];
    const byPrefix = new Map<string, RefRoute>();
    while (byPrefix.size < 400) {
      const x = randomRoute(r, width, s, 1, false);
      if (x.len > 0 && !(x.len === width && stable.has(x.key))) byPrefix.set(`${x.key}/${x.len}`, x);
    }
    const changing = [...byPrefix.values()];
    const live = new Set<number>();
    changing.forEach((x, i) => {
      if (i % 2) {
        start.push(`${prefixText(x.key, x.len, width)} via ${gw()} dev 3`);
        live.add(i);
      }
    });
    const dsts = [...Array.from({ length: 300 }, () => r.pick(stableDst)), ...testAddresses(r, width, changing, 700)];
    const { run, total } = stableRun(t, `upd${width}`, r, width, start, stable, dsts, 10000);
    let writes = 0;
    let during = 0;
    await run(async (_rt, g) => {
        for (; writes < 20000; writes++) {
          const i = r.int(0, changing.length - 1);
          const p = prefixText(changing[i].key, changing[i].len, width);
          if (live.has(i) && r.next() < 0.5) {
            g.write('rt', 'remove', p);
            live.delete(i);
          } else {
            g.write('rt', 'add', `${p} via ${gw()} dev 3`); // a new route, or a new gateway for it
            live.add(i);
          }
          if (writes % 50 === 49) {
            const n = g.sourcePackets();
            if (n > 0n && n < total) during += 50;
            if (n >= total) break;
            await new Promise((res) => setImmediate(res));
          }
        }
    });
    t.ok(during >= 500, `${during} of ${writes} single-route writes happened while packets were flowing`);
  });

  t.test(`${fam}: tables swapped back to back while traffic flows: replaced tables freed after the workers' rounds, never before`, async (t) => {
    // A route write does not wait for the workers' round: the table it replaced is retired and
    // freed once they have moved past it (native/engine.cc, retire). Whole tables (set) and
    // multi-route changes (add, remove: a patched copy) are published back to back, with no
    // pause, so many retired tables are pending at once. Host routes for the stable
    // destinations (outputs 0-2) are in every table and outrank every other route (all to
    // output 3), so any packet on the wrong output, or unrouted, read a table already freed.
    const r = rng(width * 19 + 7);
    const { s, stable, hostRoutes, stableDst } = stableHosts(r, width);
    const base = [`default dev 3`, ...hostRoutes];
    const filler = new Map<string, string>();
    while (filler.size < 5000) {
      const x = randomRoute(r, width, s, 1, false);
      if (x.len > 0 && x.len < width) filler.set(prefixText(x.key, x.len, width), `${prefixText(x.key, x.len, width)} dev 3`);
    }
    const fill = [...filler.values()];
    const dsts = [...Array.from({ length: 300 }, () => r.pick(stableDst)), ...Array.from({ length: 700 }, () => r.big(width))];
    const { run, total } = stableRun(t, `retire${width}`, r, width, base, stable, dsts, 30000);
    const texts = [base.join('\n'), [...base, ...fill].join('\n')];
    let writes = 0;
    let during = 0;
    let rss0 = 0;
    let grown = 0;
    await run(async (_rt, g) => {
        rss0 = process.memoryUsage().rss;
        for (; writes < 2000; writes++) {
          // A round of four: the whole table with the filler, 125 filler routes removed, the same
          // added back, the base table alone.
          const k = writes % 4;
          const part = fill.slice(((writes >> 2) % 40) * 125, ((writes >> 2) % 40) * 125 + 125);
          if (k === 0 || k === 3) g.write('rt', 'set', texts[k === 0 ? 1 : 0]);
          else if (k === 1) g.write('rt', 'remove', part.map((l) => l.split(' ')[0]).join('\n'));
          else g.write('rt', 'add', part.join('\n'));
          if (writes % 20 === 19) {
            const n = g.sourcePackets();
            if (n > 0n && n < total) during += 20;
            if (n >= total) break;
            await new Promise((res) => setImmediate(res));
          }
        }
        grown = process.memoryUsage().rss - rss0;
    });
    t.ok(during >= 200, `${during} of ${writes} table writes happened while packets were flowing`);
    // Three writes in four replace a table with the filler in it (over 4096 routes: a 16-bit
    // root, 256 KB alone): kept, the 200 writes or more above would add over 37 MB; freed, the
    // process grows by a few tables at most.
    t.ok(grown < 32 * 2 ** 20, `resident memory grew ${(grown / 2 ** 20).toFixed(1)} MB over ${writes} writes: the replaced tables were freed`);
  });

  t.test(`${fam}: routes from a file and from the config together`, async (t) => {
    const r = rng(width + 11);
    const routes = randomTable(r, width, 400, OUTPUTS);
    const file = tmpPath(`routes${width}.txt`);
    const [inFile, inConfig] = [routes.slice(0, 300), routes.slice(300)];
    writeFileSync(file, `# routes for the test\n\n${inFile.map((x, i) => (i % 5 === 0 ? `  ${x.text}   # comment` : x.text)).join('\n')}\n`);
    const ref = new RefTable(width);
    routes.forEach((x) => ref.set(x));
    const sent = packets(r, width, testAddresses(r, width, routes, 1500));
    const pipes: Pipeline[] = [];
    const plan = compile(graph(`file${width}`, () => pipes.push(pipeline(width, `${fam}-file`, sent.map((x) => x.data), inConfig.map((x) => x.text), { file }))));
    const summary = await runCompiled(plan, { threads: 1 });
    verify(t, width, `${fam}-file`, pipes[0], sent, ref, summary.elements[`rt_${fam}-file`]);
    // A bad line names the file and the line.
    writeFileSync(file, `default 0\n\n# x\n${width === 32 ? '10.0.0.1/8 1' : 'fd00::1/8 1'}\n`);
    const rt = new Runtime({ threads: 1, poolBuffers: 256 });
    try {
      const bad = compile(graph(`badfile${width}`, () => InfiniteSource({ limit: 0 }).to(Lookup(width)({ file }, 'rt')).to(Discard())));
      t.throws(
        () => rt.load(bad),
        new RegExp(`element 'rt' \\(${width === 32 ? 'IPLookup' : 'LookupIP6Route'}\\): file '${file}' line 4 \\('${width === 32 ? '10.0.0.1/8 1' : 'fd00::1/8 1'}'\\): '.*' has bits set beyond its length \\(did you mean ${width === 32 ? '10.0.0.0/8' : 'fd00::/8'}\\?\\)`),
      );
      // A gzip file is read natively; a corrupt, truncated or not-gzip one fails the load naming the file.
      const gzFile = tmpPath(`routes${width}.txt.gz`);
      t.teardown(() => rmSync(gzFile, { force: true }));
      const gzText = `# gzip\n${routes.map((x) => x.text).join('\n')}\n`;
      const gzPlan = compile(
        graph(`gz${width}`, () => {
          const el = InfiniteSource({ limit: 0 }).to(Lookup(width)({ file: gzFile }, 'rt'));
          for (let i = 0; i < OUTPUTS; i++) el.out(i).to(Discard());
        }),
      );
      writeFileSync(gzFile, Buffer.concat([gzipSync(gzText.slice(0, 200)), gzipSync(gzText.slice(200))])); // two members, as cat a.gz b.gz
      const g = rt.load(gzPlan);
      t.equal(g.read('rt', 'count'), String(routes.length), 'every route of the gzip file loaded');
      let wrong = 0;
      for (const a of testAddresses(r, width, routes, 300)) {
        g.write('rt', 'lookup', addrText(a, width));
        const want = ref.lookup(a)?.hop ?? 'no route';
        if (g.read('rt', 'lookup_result') !== want) wrong++;
      }
      t.equal(wrong, 0, 'lookups in the table from the gzip file agree with the reference');
      g.remove();
      const packed = gzipSync(gzText);
      const corrupt = Buffer.from(packed);
      for (let i = 20; i < 40; i++) corrupt[i] ^= 0xa5;
      writeFileSync(gzFile, corrupt);
      t.throws(() => rt.load(gzPlan), new RegExp(`file '${gzFile}': corrupt gzip data`), 'a corrupt gzip file');
      writeFileSync(gzFile, packed.subarray(0, packed.length >> 1));
      t.throws(() => rt.load(gzPlan), new RegExp(`file '${gzFile}': the gzip data is truncated`), 'a truncated gzip file');
      writeFileSync(gzFile, gzText);
      t.throws(() => rt.load(gzPlan), new RegExp(`file '${gzFile}': not gzip data`), 'a plain file named .gz');
      const missing = compile(graph(`miss${width}`, () => InfiniteSource({ limit: 0 }).to(Lookup(width)({ file: '/nonexistent/routes.txt' }, 'rt')).to(Discard())));
      t.throws(() => rt.load(missing), /file '\/nonexistent\/routes.txt' cannot be opened/);
    } finally {
      rt.close();
    }
    rmSync(file, { force: true });
    cleanup(pipes);
  });

  t.test(`${fam}: the gateway goes into the destination annotation, which a second lookup reads`, async (t) => {
    const gw = width === 32 ? '192.0.2.77' : 'fe80::77';
    const dsts = width === 32 ? ['8.8.8.8', '198.18.5.5', '10.1.2.3'] : ['2001:db8::1', 'fd00::5', '2a00::1'];
    const r = rng(3);
    const sent = packets(r, width, dsts.map((d) => parseIP(d)!.addr));
    const input = tmpPath(`anno${width}-in.pcap`);
    writePcap(input, sent.map((x) => ({ data: x.data })));
    const files = [0, 1].map((i) => tmpPath(`anno${width}-out${i}.pcap`));
    const plan = compile(
      graph(`anno${width}`, () => {
        const second = FromPcap({ file: input })
          .to(Lookup(width)({ routes: [`default via ${gw} dev 0`] }, 'first'))
          .to(Lookup(width)({ routes: [`${gw} 1`, 'default 0'] }, 'second'));
        second.out(0).to(ToPcap({ file: files[0] }));
        second.out(1).to(ToPcap({ file: files[1] }));
      }),
    );
    await runCompiled(plan);
    t.equal(readPcap(files[0]).packets.length, 0, 'nothing looked up by its own destination');
    t.equal(readPcap(files[1]).packets.length, dsts.length, 'every packet looked up by the gateway the first lookup set');
    for (const f of [input, ...files]) rmSync(f, { force: true });
  });

  t.test(`${fam}: ECMP spreads flows over the members and keeps each flow on one`, async (t) => {
    const dst = parseIP(width === 32 ? '198.18.1.1' : 'fd00::1')!.addr;
    const sent: Sent[] = [];
    for (let i = 0; i < 800; i++) {
      const src = width === 32 ? (198n << 24n) | (19n << 16n) | BigInt(i % 400) : (0xfd01n << 112n) | BigInt(i % 400);
      const s = addrText(src, width);
      const d = addrText(dst, width);
      const payload = Buffer.alloc(8);
      payload.writeUInt32BE(i, 0);
      const data =
        width === 32
          ? ether({ payload: ipv4({ src: s, dst: d, payload: udp({ payload }) }) })
          : ether({ type: ETH_IPV6, payload: ipv6({ src: s, dst: d, payload: udp({ payload, src: s, dst: d }) }) });
      sent.push({ data, dst, src });
    }
    const route = `default nexthop dev 0 nexthop dev 1 nexthop via ${width === 32 ? '192.0.2.9' : 'fe80::9'} dev 2 nexthop dev 3`;
    const ref = new RefTable(width);
    ref.set({ key: 0n, len: 0, text: route, hop: '', ports: [0, 1, 2, 3] });
    const pipes: Pipeline[] = [];
    const plan = compile(graph(`ecmp${width}`, () => pipes.push(pipeline(width, `${fam}-ecmp`, sent.map((x) => x.data), [route]))));
    const summary = await runCompiled(plan);
    verify(t, width, `${fam}-ecmp`, pipes[0], sent, ref, summary.elements[`rt_${fam}-ecmp`]);
    const counts = pipes[0].files.map((f) => readPcap(f).packets.length);
    t.comment(`400 flows, 2 packets each, over 4 members: ${counts.join(', ')}`);
    t.ok(counts.every((c) => c >= 100), 'every member carries a fair share of the flows');
    cleanup(pipes);
  });

  t.test(`${fam}: bad routes are refused at compile time and at load time, naming the element and the route`, async (t) => {
    const cls = width === 32 ? 'IPLookup' : 'LookupIP6Route';
    const v4 = width === 32;
    const BAD: [string[], string][] = [
      [[v4 ? '10.0.0.0/33 1' : 'fd00::/129 1'], `route 0 \\('${v4 ? '10.0.0.0/33' : 'fd00::/129'} 1'\\): prefix length '${v4 ? 33 : 129}' must be a number from 0 to ${width}`],
      [['default 1', v4 ? '10.0.0.1/8 1' : 'fd00::1/8 1'], `route 1 \\('.*'\\): '.*' has bits set beyond its length \\(did you mean ${v4 ? '10.0.0.0/8' : 'fd00::/8'}\\?\\)`],
      [[v4 ? '300.0.0.0/8 1' : 'fd00:::/8 1'], `route 0 \\('.*'\\): '.*' is not an IPv${v4 ? 4 : 6} address`],
      [['default 2'], `route 0 \\('default 2'\\): output 2 does not exist: the element has 2 output\\(s\\)`],
      [['default'], `route 0 \\('default'\\): no next hop: expected 'PREFIX OUTPUT'`],
      [['default via'], `route 0 \\('default via'\\): 'via' needs a gateway address`],
      [['default via 1 dev 0'], `route 0 \\('default via 1 dev 0'\\): gateway '1' is not an IPv${v4 ? 4 : 6} address`],
      [['default dev x'], `route 0 \\('default dev x'\\): output 'x' must be a number`],
      [['default bogus 1 2'], `route 0 \\('default bogus 1 2'\\): unexpected 'bogus'`],
      [['default nexthop dev 0 dev 1'], `route 0 \\('default nexthop dev 0 dev 1'\\): unexpected 'dev'`],
      [['default 0', 'default 1'], `route 1 \\('default 1'\\): prefix ${v4 ? '0.0.0.0/0' : '::/0'} is also route 0 \\('default 0'\\)`],
      [[''], `route 0 \\(''\\): empty route`],
    ];
    const build = (routes: string[]) =>
      graph(`bad${width}`, () => {
        const el = InfiniteSource({ limit: 0 }).to(Lookup(width)({ routes }, 'rt'));
        el.out(0).to(Discard());
        el.out(1).to(Discard());
      });
    const good = compile(build(['default 0']));
    const rt = new Runtime({ threads: 1, poolBuffers: 256 });
    try {
      for (const [routes, message] of BAD)
        t.throws(() => compile(build(routes)), new RegExp(`element 'rt' \\(${cls}\\).*: ${message}`), `compile: ${routes.join(' | ')}`);
      // The load reads the routes the compiler parsed, typed (compiledRoutes), never the text;
      // it checks them again (test/descriptors.test.ts has every case for IPLookup).
      const plan: Plan = structuredClone(good);
      const rtConfig = (c: Record<string, unknown>) => (plan.elements.find((e) => e.name === 'rt')!.config = c);
      rtConfig({ routes: ['default 0'], file: '' });
      t.throws(() => rt.load(plan), new RegExp(`^element 'rt' \\(${cls}\\): config field 'compiledRoutes' is missing$`), 'load: route text alone is refused');
      const host = v4 ? 167772161 : [0xfd, ...Array(14).fill(0), 1];
      rtConfig({ routes: [], file: '', compiledRoutes: [[host, 8, null, 0]] });
      t.throws(() => rt.load(plan), new RegExp(`^element 'rt' \\(${cls}\\): config field 'compiledRoutes\\.0': ${v4 ? '10\\.0\\.0\\.1/8' : 'fd00::1/8'} has bits set beyond its length$`), 'load: typed routes are checked again');
      rtConfig({ routes: [], file: '', compiledRoutes: [[v4 ? 0 : Array(16).fill(0), 0, v4 ? [192, 0, 2, 1] : 3221225985, 1]] });
      t.throws(() => rt.load(plan), new RegExp(`^element 'rt' \\(${cls}\\): config field 'compiledRoutes\\.0\\.2' must be an IPv${v4 ? 4 : 6} address`), "load: a gateway of the other family's form is refused");
      const ok = ['default 0', v4 ? '10.0.0.0/8 192.0.2.1 1' : 'fd00::/8 fe80::1 1', v4 ? '10.1.0.0/16 via 192.0.2.1' : 'fd01::/16 via fe80::1', v4 ? '10.2.0.0/16 dev 1' : 'fd02::/16 dev 1', v4 ? '10.3.0.1 nexthop via 192.0.2.1 dev 0 nexthop dev 1' : 'fd03::1 nexthop via fe80::1 dev 0 nexthop dev 1'];
      t.doesNotThrow(() => rt.load(compile(build(ok))).remove(), 'every accepted form loads');
    } finally {
      rt.close();
    }
  });
}

