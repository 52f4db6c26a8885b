// vr.save, vr.restore and vr.clone (src/service/routers.ts, routerFile.ts; docs/router-file.md)
// across two `pktgraph serve` engines in two directories. A router with IPv4 and IPv6 tables
// programmed through handlers (its config routes send everything to a drop), static ARP and ND
// entries, NAT mappings made by real packets and a handler-set value (its pcap sources
// switched on) is saved; restored on the same engine under a new name and on a second engine
// it is identical (vr show, every table, every counter); started on the second engine it
// forwards the same packets through the restored routes and the restored NAT mappings to
// byte-identical output (no new mapping made). Corrupt, truncated, foreign and future-version
// files, a name taken and a missing file are refused with one sentence and nothing changed.
// A clone with a new MAC parameter carries the tables, starts its counters at zero and has
// the new MAC in its plan. The CLI's save, restore and clone commands run once each.
// No root needed: pcap files in and out.
import t from 'tap';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, EngineError } from '../src/service/client.js';
import { decodeRouterFile } from '../src/service/routerFile.js';
import { LINKTYPE_RAW, readPcap, writePcap } from './lib/pcap.js';
import { ipv4, ipv6, udp, PROTO_UDP } from './lib/packets.js';
import { startCli, waitFor } from './lib/cli.js';

const work = mkdtempSync(join(tmpdir(), 'pktgraph-vrsave-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const dirA = join(work, 'a');
const dirB = join(work, 'b');
mkdirSync(dirA);
mkdirSync(dirB);

// The pcap files are relative paths: each engine reads and writes its own directory's.
const graphFile = join(work, 'saved.ts');
writeFileSync(
  graphFile,
  `import { graph, FromPcap, CheckIPHeader, IPLookup, CheckIP6Header, LookupIP6Route, IPRewriter, ARPQuerier, IP6NDSolicitor, Idle, Counter, ToPcap, Discard } from 'pktgraph';
export default graph({ name: 'saved', params: { mac: '02:00:00:00:00:01', nat: '198.18.2.1' } }, (p) => {
  const rt4 = FromPcap({ file: 'in4.pcap', active: false }, 'in4').to(CheckIPHeader({}, 'check4')).to(IPLookup({ routes: ['default dev 1'] }, 'rt4'));
  const nat = IPRewriter({ inputs: [{ kind: 'snat', address: p.nat, ports: '20000-20999', preservePort: false, forward: 0, reply: 0 }] }, 'nat');
  rt4.out(0).to(Counter({}, 'local4')).to(nat).to(ToPcap({ file: 'out4.pcap', linktype: ${LINKTYPE_RAW} }, 'out4'));
  rt4.out(1).to(Counter({}, 'other4')).to(Discard({}, 'drop4'));
  const rt6 = FromPcap({ file: 'in6.pcap', active: false }, 'in6').to(CheckIP6Header({}, 'check6')).to(LookupIP6Route({ routes: ['::/0 dev 1'] }, 'rt6'));
  rt6.out(0).to(Counter({}, 'local6')).to(ToPcap({ file: 'out6.pcap', linktype: ${LINKTYPE_RAW} }, 'out6'));
  rt6.out(1).to(Counter({}, 'other6')).to(Discard({}, 'drop6'));
  const arp = ARPQuerier({ ip: '198.18.0.254', mac: p.mac }, 'arp');
  Idle({}, 'arpin0').to(arp.in(0));
  Idle({}, 'arpin1').to(arp.in(1));
  arp.to(Discard({}, 'arpout'));
  const nd = IP6NDSolicitor({ ip: 'fd00::fe', mac: p.mac }, 'nd');
  Idle({}, 'ndin0').to(nd.in(0));
  Idle({}, 'ndin1').to(nd.in(1));
  nd.to(Discard({}, 'ndout'));
});
`,
);

// 40 IPv4 flows to 198.18.0.0/24 (routed by a handler-added route), 10 elsewhere (dropped);
// 20 IPv6 packets to fd00:1::/64, 5 elsewhere.
const in4 = Array.from({ length: 50 }, (_, i) =>
  ipv4({ src: `198.19.0.${1 + (i % 7)}`, dst: i < 40 ? `198.18.0.${1 + i}` : `203.0.113.${i}`, proto: PROTO_UDP, payload: udp({ sport: 1000 + i, dport: 53, payload: `v4-${i}` }) }),
);
const in6 = Array.from({ length: 25 }, (_, i) =>
  ipv6({ src: 'fd00:2::1', dst: i < 20 ? `fd00:1::${(i + 1).toString(16)}` : `fd00:9::${i}`, payload: udp({ sport: 2000 + i, dport: 53, payload: `v6-${i}` }) }),
);
for (const d of [dirA, dirB]) {
  writePcap(join(d, 'in4.pcap'), in4.map((data) => ({ data })), { linktype: LINKTYPE_RAW });
  writePcap(join(d, 'in6.pcap'), in6.map((data) => ({ data })), { linktype: LINKTYPE_RAW });
}

// Routes beyond the one that matters, so the tables are more than a line.
const extra4 = Array.from({ length: 3000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24 via 198.18.0.${1 + (i % 200)} dev ${i % 2}`);
const extra6 = Array.from({ length: 500 }, (_, i) => `fd10:${i.toString(16)}::/48 dev ${i % 2}`);

async function serve(dir: string, sock: string) {
  const s = startCli(['serve', '--control', sock, '--threads', '2', '--pool', '4096'], { cwd: dir, runtimeDir: work });
  const engine = new Engine(sock);
  await waitFor('the engine to serve its socket', async () => (await engine.status().catch(() => undefined)) !== undefined);
  t.teardown(async () => {
    await engine.stop().catch(() => {});
    await s.done;
  });
  return engine;
}

/** What must be identical between a router and its restored copy. */
async function snapshot(e: Engine, name: string) {
  const show = await e.showRouter(name);
  const { name: _n, created: _c, ...rest } = show;
  const read = (el: string, h: string) => e.read(name, el, h);
  return {
    show: rest,
    rt4: await read('rt4', 'table'),
    rt6: await read('rt6', 'table'),
    arp: await read('arp', 'table'),
    nd: await read('nd', 'table'),
    nat: (await read('nat', 'table')).replace(/ idle [\d.]+/g, ''),
    counters: await e.counters(name),
  };
}

const list = async (e: Engine) => JSON.stringify(await e.listRouters());

t.test('save, restore on the same and another engine, forward, refuse bad files, clone', async (t) => {
  const a = await serve(dirA, join(work, 'a.sock'));
  const b = await serve(dirB, join(work, 'b.sock'));

  await a.createRouter('orig', { file: graphFile }, { start: true });
  await a.write('orig', 'rt4', 'add', ['198.18.0.0/24 dev 0', ...extra4].join('\n'));
  await a.write('orig', 'rt6', 'add', ['fd00:1::/64 dev 0', ...extra6].join('\n'));
  await a.write('orig', 'arp', 'insert', '198.18.0.7 02:00:00:00:07:07');
  await a.write('orig', 'arp', 'insert', '198.18.0.9 02:00:00:00:09:09');
  await a.write('orig', 'nd', 'insert', 'fd00:1::7 02:00:00:00:07:77');
  await a.write('orig', 'in4', 'active', 'true');
  await a.write('orig', 'in6', 'active', 'true');
  await waitFor('the original to forward its packets', async () => {
    const c = await a.counters('orig');
    return c.local4.packets === 40n && c.other4.packets === 10n && c.local6.packets === 20n && c.other6.packets === 5n && c.out4.packets === 40n && c.out6.packets === 20n;
  });
  await a.stopRouter('orig');
  const before = await snapshot(a, 'orig');
  t.equal(before.rt4.trim().split('\n').length, 3002, 'the original has its handler-added IPv4 routes');
  t.equal(before.nat.trim().split('\n').length, 40, 'and a NAT mapping per IPv4 flow');
  t.equal(before.counters.nat.new_mappings, 40n);

  const file = join(work, 'orig.pgvr');
  const saved = await a.saveRouter('orig', file);
  t.match(saved, { name: 'orig', state: 'stopped', file });
  t.ok(saved.bytes > 100 && saved.imageBytes > saved.bytes, 'the file is compressed');
  t.same(await snapshot(a, 'orig'), before, 'saving changed nothing');
  await t.rejects(a.saveRouter('orig', join(work, 'no', 'such', 'dir.pgvr')), /virtual router 'orig' could not be saved to .*dir\.pgvr: ENOENT/);
  await t.rejects(a.saveRouter('nobody', file), /there is no virtual router named 'nobody'/);

  // The same engine, under a new name: stopped, as saved, and identical.
  const copy = await a.restoreRouter(file, { name: 'copy' });
  t.equal(copy.state, 'stopped');
  t.same(await snapshot(a, 'copy'), before, 'restored under a new name: vr show, every table and counter identical');

  // Bad files and requests: one sentence each, nothing changed on either engine.
  const bytes = readFileSync(file);
  const bad: [string, Buffer | undefined, RegExp, { name?: string }][] = [
    ['truncated', bytes.subarray(0, Math.floor(bytes.length / 2)), /is truncated or corrupt/, { name: 'x1' }],
    ['corrupt', Buffer.from(bytes.map((v, i) => (i === bytes.length - 100 ? v ^ 0x55 : v))), /is truncated or corrupt/, { name: 'x2' }],
    ['future', Buffer.concat([bytes.subarray(0, 8), Buffer.from([2, 0, 0, 0]), bytes.subarray(12)]), /format version 2, and this pktgraph reads version 1 only: restore it with the newer pktgraph/, { name: 'x3' }],
    ['foreign', Buffer.from('not a router at all\n'), /is not a pktgraph router file/, { name: 'x4' }],
    ['taken', bytes, /the name 'orig' is taken/, {}],
    ['missing', undefined, /there is no such file/, { name: 'x5' }],
  ];
  const listA = await list(a);
  const listB = await list(b);
  const statusA = await a.status();
  for (const [what, data, message, opts] of bad) {
    const f = join(work, `${what}.pgvr`);
    if (data) writeFileSync(f, data);
    const err = await a.restoreRouter(f, opts).then(() => undefined, (e: Error) => e);
    t.ok(err instanceof EngineError, `${what}: refused`);
    t.match(err?.message, message, `${what}: says why`);
    t.notMatch(err?.message ?? '', /\n/, `${what}: in one sentence`);
    t.equal(await list(a), listA, `${what}: nothing changed`);
    if (what !== 'taken') await t.rejects(b.restoreRouter(f, opts), message);
  }
  t.same(await a.status(), statusA, 'the engine holds what it held');
  t.equal(await list(b), listB, 'nor did anything change on the other engine');
  t.same(await snapshot(a, 'orig'), before, 'and the original is untouched');

  // Handler-written config is in the saved plan: the sources were switched on.
  const { manifest: saved0 } = await decodeRouterFile(readFileSync(file), 'orig.pgvr');
  t.equal(saved0.plan.elements.find((e) => e.name === 'in4')!.config.active, true, "the handler-set 'active' is saved in the plan");
  // Another engine, another directory: identical, then forwarding with the restored state.
  const other = await b.restoreRouter(file);
  t.equal(other.name, 'orig');
  t.same(await snapshot(b, 'orig'), before, 'restored on another engine: identical');
  await b.startRouter('orig');
  await waitFor('the restored router to forward the same packets', async () => {
    const c = await b.counters('orig');
    return c.out4.packets === 80n && c.out6.packets === 40n && c.other4.packets === 20n && c.other6.packets === 10n;
  });
  const c = await b.counters('orig');
  t.equal(c.nat.new_mappings, 40n, 'the restored NAT mappings translated every flow: none made afresh');
  t.equal(c.nat.rewritten, 80n);
  await b.stopRouter('orig');
  for (const [e, el] of [[a, 'out4'], [a, 'out6'], [b, 'out4'], [b, 'out6']] as const) await e.write('orig', el, 'flush');
  for (const f of ['out4.pcap', 'out6.pcap']) {
    const sent = readPcap(join(dirB, f)).packets.map((p) => p.data.toString('hex'));
    t.same(sent, readPcap(join(dirA, f)).packets.map((p) => p.data.toString('hex')), `${f}: byte for byte what the original sent`);
    t.equal(sent.length, f === 'out4.pcap' ? 40 : 20);
  }
  t.match(readPcap(join(dirB, 'out4.pcap')).packets[0].data.subarray(12, 16).join('.'), '198.18.2.1', 'translated by the NAT');

  // Restored defined (start: false): it keeps the state for its start (the output files are
  // compared already: it replays its input into them).
  t.equal((await a.restoreRouter(file, { name: 'later', start: false })).state, 'defined');
  await a.startRouter('later');
  await a.stopRouter('later');
  t.equal(await a.read('later', 'rt4', 'count'), '3002', 'a router restored defined starts with its tables');
  t.equal(await a.read('later', 'nd', 'table'), before.nd);
  await a.deleteRouter('later');

  // Clone with a new MAC: tables carried, counters from zero, the new MAC in its plan.
  const twin = await a.cloneRouter('orig', 'twin', { params: { mac: '02:00:00:00:00:99' }, start: true });
  t.match(twin, { name: 'twin', state: 'running', source: { file: graphFile, params: { mac: '02:00:00:00:00:99' } } });
  const tw = await snapshot(a, 'twin');
  for (const k of ['rt4', 'rt6', 'arp', 'nd', 'nat'] as const) t.equal(tw[k], before[k], `the clone has the ${k} table`);
  t.equal(tw.counters.local4.packets, 0n, "the clone's counters start at zero");
  t.equal(tw.counters.nat.new_mappings, 0n);
  await a.saveRouter('twin', join(work, 'twin.pgvr'));
  const { manifest } = await decodeRouterFile(readFileSync(join(work, 'twin.pgvr')), 'twin.pgvr');
  const mac = (el: string) => JSON.stringify(manifest.plan.elements.find((e) => e.name === el)!.config.mac);
  const { manifest: om } = await decodeRouterFile(bytes, 'orig.pgvr');
  t.not(mac('arp'), JSON.stringify(om.plan.elements.find((e) => e.name === 'arp')!.config.mac), 'the clone has the new MAC');
  t.equal(mac('arp'), mac('nd'));
  t.match(JSON.stringify(manifest.plan.elements.find((e) => e.name === 'arp')!.config.mac), /153|99/, 'the clone has the new MAC');
  await t.rejects(a.cloneRouter('orig', 'copy'), /the name 'copy' is taken/);
  await t.rejects(a.cloneRouter('nobody', 'x'), /there is no virtual router named 'nobody'/);
  // A clone whose NAT address differs cannot take the mappings: refused, nothing made.
  const listBefore = await list(a);
  const natErr = await a.cloneRouter('orig', 'renat', { params: { nat: '198.18.3.1' }, start: true }).then(() => undefined, (e: Error) => e);
  t.match(natErr?.message, /could not be cloned as 'renat', and nothing was changed: .*element 'nat' \(IPRewriter\): cannot restore its saved state: its source-NAT addresses or port ranges differ/);
  t.equal(await list(a), listBefore, 'the refused clone changed nothing');
  const plain = await a.cloneRouter('orig', 'plain');
  t.equal(plain.state, 'defined', 'a clone is defined unless started');
  await a.startRouter('plain');
  t.equal(await a.read('plain', 'rt4', 'count'), '3002', 'a defined clone starts with the tables');

  // The CLI doors.
  const cli = async (args: string[]) => {
    const r = await startCli([...args, '--control', join(work, 'a.sock')], { cwd: work, runtimeDir: work }).done;
    t.equal(r.code, 0, `pktgraph ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  t.match(await cli(['vr', 'save', 'orig', 'cli.pgvr']), /virtual router 'orig' \(stopped\) saved to .*cli\.pgvr: \d+ bytes/);
  t.match(JSON.parse(await cli(['vr', 'restore', 'cli.pgvr', '--name', 'fromcli', '--start', '--json'])), { name: 'fromcli', state: 'running' });
  t.match(await cli(['vr', 'clone', 'orig', 'clicopy', '-p', 'mac=02:00:00:00:00:42']), /virtual router 'clicopy' is defined: a clone of 'orig'/);
  const refused = await startCli(['vr', 'restore', 'future.pgvr', '--control', join(work, 'a.sock')], { cwd: work, runtimeDir: work }).done;
  t.equal(refused.code, 1);
  t.match(refused.stderr, /format version 2/);
});
