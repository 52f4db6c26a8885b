// FlowSource: frames captured with ToPcap and checked byte for byte against an independent
// build (test/lib/packets.ts), every checksum verified, flows, order, lengths, limits,
// handlers, and bad configs refused by the compiler and by the native side.
import t from 'tap';
import { rmSync } from 'node:fs';
import { graph, compile, runPlan, Runtime, FlowSource, ToPcap, Discard } from 'pktgraph';
import { runGraph, tmpPath } from './lib/run.js';
import { readPcap } from './lib/pcap.js';
import {
  ether,
  ipv4,
  ipv6,
  udp,
  tcp,
  ip4,
  ip6,
  mac,
  verifyIpv4Checksum,
  verifyL4Checksum,
  ETH_IPV4,
  ETH_IPV6,
  PROTO_TCP,
  PROTO_UDP,
  TCP_ACK,
  TCP_SYN,
} from './lib/packets.js';

type Family = 'ipv4' | 'ipv6';
type Protocol = 'udp' | 'tcp';
type FlowConfig = NonNullable<Parameters<typeof FlowSource>[0]>;

const MIN_LENGTH: Record<`${Family}/${Protocol}`, number> = { 'ipv4/udp': 42, 'ipv4/tcp': 54, 'ipv6/udp': 62, 'ipv6/tcp': 74 };
const DEFAULT_IP = { ipv4: ['198.18.0.1', '198.19.0.1'], ipv6: ['fd00::1', 'fd00:1::1'] } as const;

type HasTeardown = { teardown(fn: () => void): void };

let fileCounter = 0;
function tmpFile(t: HasTeardown, name: string): string {
  const path = tmpPath(`flowsource-${name}-${fileCounter++}.pcap`);
  t.teardown(() => rmSync(path, { force: true }));
  return path;
}

/** Run FlowSource (with a limit) into ToPcap and return the frames and the run's counters. */
async function capture(t: HasTeardown, config: FlowConfig, name = 'cap') {
  const file = tmpFile(t, name);
  const summary = await runGraph(() => {
    FlowSource(config, 'src').to(ToPcap({ file }, 'pcap'));
  });
  const frames = readPcap(file).packets.map((p) => p.data);
  return { frames, summary };
}

/** The source address of flow i: the low 32 bits of `base` plus i, wrapping within them. */
function flowAddress(base: Buffer, i: number): Buffer {
  const out = Buffer.from(base);
  const low = out.readUInt32BE(out.length - 4);
  out.writeUInt32BE((low + i) >>> 0, out.length - 4);
  return out;
}

function payloadPattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let k = 0; k < n; k++) b[k] = k & 0xff;
  return b;
}

/** The frame FlowSource should emit, built independently with test/lib/packets.ts. */
function expectedFrame(
  c: { family: Family; protocol: Protocol; src: Buffer; dst: Buffer; srcPort: number; dstPort: number; srcEther: string; dstEther: string; tcpFlags: number },
  p: { flow: number; length: number; id: number; seq: number },
): Buffer {
  const v6 = c.family === 'ipv6';
  const headers = MIN_LENGTH[`${c.family}/${c.protocol}`];
  const payload = payloadPattern(p.length - headers);
  const src = flowAddress(c.src, p.flow);
  const sport = (c.srcPort + (p.flow % 1024)) % 65536;
  const l4 =
    c.protocol === 'udp'
      ? udp({ sport, dport: c.dstPort, payload, src, dst: c.dst })
      : tcp({ sport, dport: c.dstPort, seq: p.seq, ack: c.tcpFlags & TCP_ACK ? 1 : 0, flags: c.tcpFlags, window: 65535, payload, src, dst: c.dst });
  const proto = c.protocol === 'udp' ? PROTO_UDP : PROTO_TCP;
  const l3 = v6
    ? ipv6({ src, dst: c.dst, nextHeader: proto, hopLimit: 64, payload: l4 })
    : ipv4({ src, dst: c.dst, proto, ttl: 64, id: p.id & 0xffff, payload: l4 });
  return ether({ src: c.srcEther, dst: c.dstEther, type: v6 ? ETH_IPV6 : ETH_IPV4, payload: l3 });
}

/** Checks every frame's checksums with packets.ts's verifiers plus a UDP "never 0" check. */
function checksumProblems(frames: Buffer[]): string[] {
  const problems: string[] = [];
  frames.forEach((f, i) => {
    const type = f.readUInt16BE(12);
    if (type === ETH_IPV4 && !verifyIpv4Checksum(f, 14)) problems.push(`frame ${i}: bad IPv4 header checksum`);
    if (!verifyL4Checksum(f, 14)) problems.push(`frame ${i}: bad L4 checksum`);
    const proto = type === ETH_IPV4 ? f[14 + 9] : f[14 + 6];
    const l4 = 14 + (type === ETH_IPV4 ? 20 : 40);
    if (proto === PROTO_UDP && f.readUInt16BE(l4 + 6) === 0) problems.push(`frame ${i}: UDP checksum 0 (none)`);
  });
  return problems;
}

/** Flow index of a frame: source address low 32 bits minus the base's. */
function flowOf(frame: Buffer, base: Buffer): number {
  const v6 = frame.readUInt16BE(12) === ETH_IPV6;
  const low = frame.readUInt32BE(v6 ? 14 + 8 + 12 : 14 + 12);
  return (low - base.readUInt32BE(base.length - 4)) >>> 0;
}

function sourcePort(frame: Buffer): number {
  const v6 = frame.readUInt16BE(12) === ETH_IPV6;
  return frame.readUInt16BE(v6 ? 54 : 34);
}

for (const family of ['ipv4', 'ipv6'] as const) {
  for (const protocol of ['udp', 'tcp'] as const) {
    for (const lengths of ['fixed', 'random'] as const) {
      t.test(`${family}/${protocol}, ${lengths} lengths: every frame matches an independent build and every checksum verifies`, async (t) => {
        const min = Math.max(60, MIN_LENGTH[`${family}/${protocol}`]);
        const flows = 100;
        const n = 3000;
        const config: FlowConfig = { family, protocol, flows, limit: n, burst: 64, length: min, srcPort: 5000, dstPort: 7777 };
        if (lengths === 'random') config.lengthMax = 1514;
        const { frames, summary } = await capture(t, config, `${family}-${protocol}-${lengths}`);
        t.equal(frames.length, n, 'the limit is exact');
        t.equal(summary.elements.src.packets, n);
        t.equal(summary.elements.src.bytes, frames.reduce((s, f) => s + f.length, 0), 'the bytes counter is the sum of frame lengths');
        t.equal(summary.elements.src.pool_empty, 0);
        t.same(checksumProblems(frames), [], 'every IP and L4 checksum verifies');

        const lens = frames.map((f) => f.length);
        if (lengths === 'fixed') {
          t.ok(lens.every((l) => l === min), `every frame is ${min} bytes`);
        } else {
          t.ok(lens.every((l) => l >= min && l <= 1514), `every length is within [${min}, 1514]`);
          const distinct = new Set(lens).size;
          t.ok(distinct > 900, `lengths vary (${distinct} distinct values)`);
          t.ok(lens.some((l) => l % 2 === 1) && lens.some((l) => l % 2 === 0), 'odd and even lengths both occur');
          const mean = lens.reduce((a, b) => a + b, 0) / n;
          const mid = (min + 1514) / 2;
          t.ok(Math.abs(mean - mid) < 40, `the mean length ${mean.toFixed(1)} is near ${mid}`);
        }

        // Byte-for-byte against packets.ts: ids count per packet, TCP sequence numbers count payload bytes.
        const c = {
          family,
          protocol,
          src: family === 'ipv4' ? ip4(DEFAULT_IP.ipv4[0]) : ip6(DEFAULT_IP.ipv6[0]),
          dst: family === 'ipv4' ? ip4(DEFAULT_IP.ipv4[1]) : ip6(DEFAULT_IP.ipv6[1]),
          srcPort: 5000,
          dstPort: 7777,
          srcEther: '02:00:00:00:00:01',
          dstEther: '02:00:00:00:00:02',
          tcpFlags: TCP_ACK,
        };
        const headers = MIN_LENGTH[`${family}/${protocol}`];
        let seq = 0;
        const mismatches: number[] = [];
        frames.forEach((f, k) => {
          const want = expectedFrame(c, { flow: k % flows, length: f.length, id: k, seq });
          seq = (seq + f.length - headers) >>> 0;
          if (!f.equals(want)) mismatches.push(k);
        });
        t.same(mismatches.slice(0, 10), [], 'every frame equals the reference frame');
        t.equal(new Set(frames.map((f) => flowOf(f, c.src))).size, flows, 'the number of distinct flows equals flows');
      });
    }
  }
}

t.test('defaults: 60-byte IPv4/UDP frames from 198.18.0.1:1024 to 198.19.0.1:9', async (t) => {
  const { frames } = await capture(t, { limit: 3 }, 'defaults');
  t.equal(frames.length, 3);
  for (const [i, f] of frames.entries()) {
    t.equal(f.length, 60);
    t.same(f.subarray(0, 6), mac('02:00:00:00:00:02'), 'destination MAC');
    t.same(f.subarray(6, 12), mac('02:00:00:00:00:01'), 'source MAC');
    t.equal(f.readUInt16BE(12), ETH_IPV4);
    t.equal(f[14], 0x45, 'version 4, 20-byte header');
    t.equal(f.readUInt16BE(16), 46, 'total length');
    t.equal(f.readUInt16BE(18), i, 'identification counts from 0');
    t.equal(f.readUInt16BE(20), 0, 'DF clear, no fragment offset');
    t.equal(f[22], 64, 'TTL 64');
    t.equal(f[23], PROTO_UDP);
    t.same(f.subarray(26, 30), ip4('198.18.0.1'));
    t.same(f.subarray(30, 34), ip4('198.19.0.1'));
    t.equal(f.readUInt16BE(34), 1024);
    t.equal(f.readUInt16BE(36), 9);
    t.equal(f.readUInt16BE(38), 26, 'UDP length');
  }
  t.same(checksumProblems(frames), []);
});

t.test('ipv6 defaults: fd00::1 to fd00:1::1, hop limit 64, payload length', async (t) => {
  const { frames } = await capture(t, { family: 'ipv6', length: 62, limit: 2 }, 'v6defaults');
  t.equal(frames.length, 2);
  const f = frames[0];
  t.equal(f.length, 62);
  t.equal(f.readUInt16BE(12), ETH_IPV6);
  t.equal(f.readUInt32BE(14), 0x60000000, 'version 6, traffic class and flow label 0');
  t.equal(f.readUInt16BE(18), 8, 'payload length');
  t.equal(f[20], PROTO_UDP);
  t.equal(f[21], 64, 'hop limit 64');
  t.same(f.subarray(22, 38), ip6('fd00::1'));
  t.same(f.subarray(38, 54), ip6('fd00:1::1'));
  t.same(checksumProblems(frames), []);
});

t.test('TCP flags: SYN without ACK has acknowledgment number 0; sequence numbers count payload bytes', async (t) => {
  const { frames } = await capture(t, { protocol: 'tcp', tcpFlags: TCP_SYN, length: 100, limit: 5 }, 'syn');
  t.equal(frames.length, 5);
  frames.forEach((f, i) => {
    t.equal(f[34 + 13], TCP_SYN, 'flags');
    t.equal(f[34 + 12], 0x50, 'data offset 5');
    t.equal(f.readUInt32BE(34 + 8), 0, 'no acknowledgment number without ACK');
    t.equal(f.readUInt32BE(34 + 4), i * (100 - 54), 'sequence number');
    t.equal(f.readUInt16BE(34 + 14), 65535, 'window');
  });
  t.same(checksumProblems(frames), []);
});

t.test('round-robin: flows cycle in order and each differs in source address and port', async (t) => {
  const flows = 37;
  const base = ip4('10.1.2.3');
  const { frames } = await capture(t, { srcIp: '10.1.2.3', srcPort: 2000, flows, limit: flows * 5 }, 'rr');
  t.equal(frames.length, flows * 5);
  const order = frames.map((f) => flowOf(f, base));
  t.same(order, Array.from({ length: flows * 5 }, (_, k) => k % flows), 'packet k belongs to flow k mod flows');
  t.ok(frames.every((f, k) => sourcePort(f) === 2000 + (k % flows)), 'flow i has source port srcPort + i');
  const tuples = new Set(frames.map((f) => `${f.subarray(26, 30).join('.')}:${sourcePort(f)}`));
  t.equal(tuples.size, flows, 'distinct (address, port) pairs equal flows');
  t.same(checksumProblems(frames), []);
});

t.test('more than 1024 flows: ports repeat every 1024 flows, addresses stay distinct', async (t) => {
  const flows = 3000;
  const base = ip4('198.18.0.1');
  const { frames } = await capture(t, { flows, limit: flows * 2, burst: 256 }, 'many');
  t.equal(frames.length, flows * 2);
  t.equal(new Set(frames.map((f) => flowOf(f, base))).size, flows, 'distinct flows equal flows');
  t.ok(frames.every((f, k) => flowOf(f, base) === k % flows), 'round-robin order');
  t.ok(frames.every((f, k) => sourcePort(f) === 1024 + ((k % flows) % 1024)), 'source port 1024 + (flow mod 1024)');
  t.equal(new Set(frames.map(sourcePort)).size, 1024);
  t.same(checksumProblems(frames), []);
});

t.test('addresses wrap within the low 32 bits and ports wrap past 65535', async (t) => {
  const v4 = await capture(t, { srcIp: '255.255.255.254', srcPort: 65534, flows: 4, limit: 4 }, 'wrap4');
  t.same(
    v4.frames.map((f) => [f.subarray(26, 30).join('.'), sourcePort(f)]),
    [
      ['255.255.255.254', 65534],
      ['255.255.255.255', 65535],
      ['0.0.0.0', 0],
      ['0.0.0.1', 1],
    ],
  );
  t.same(checksumProblems(v4.frames), []);
  const v6 = await capture(t, { family: 'ipv6', protocol: 'tcp', length: 80, srcIp: 'fd00:0:0:5::ffff:fffe', flows: 3, limit: 3 }, 'wrap6');
  t.same(
    v6.frames.map((f) => f.subarray(22, 38)),
    [ip6('fd00:0:0:5::ffff:fffe'), ip6('fd00:0:0:5::ffff:ffff'), ip6('fd00:0:0:5::')],
    'only the low 32 bits change',
  );
  t.same(checksumProblems(v6.frames), []);
});

t.test('random order: every flow is drawn, uniformly enough, and the seed makes runs reproducible', async (t) => {
  const flows = 50;
  const n = 5000;
  const base = ip4('198.18.0.1');
  const cfg: FlowConfig = { flows, order: 'random', seed: 7, limit: n, lengthMax: 300 };
  const a = await capture(t, cfg, 'rand-a');
  const b = await capture(t, cfg, 'rand-b');
  const c = await capture(t, { ...cfg, seed: 8 }, 'rand-c');
  t.equal(a.frames.length, n);
  const order = a.frames.map((f) => flowOf(f, base));
  t.equal(new Set(order).size, flows, 'every flow occurs');
  const counts = new Array(flows).fill(0);
  for (const f of order) counts[f]++;
  t.ok(counts.every((x) => x > 50 && x < 150), `each flow about ${n / flows} times (from ${Math.min(...counts)} to ${Math.max(...counts)})`);
  t.notSame(order.slice(0, 100), Array.from({ length: 100 }, (_, k) => k % flows), 'not round-robin');
  t.ok(
    a.frames.length === b.frames.length && a.frames.every((f, i) => f.equals(b.frames[i])),
    'the same seed gives the same frames',
  );
  t.notSame(c.frames.map((f) => flowOf(f, base)), order, 'another seed gives another sequence');
  t.same(checksumProblems(a.frames), []);
});

/** The destination address of a frame (4 or 16 bytes). */
function dstOf(frame: Buffer): Buffer {
  return frame.readUInt16BE(12) === ETH_IPV6 ? frame.subarray(38, 54) : frame.subarray(30, 34);
}

/** Frames rebuilt independently with the given destination per frame; the indexes that differ. */
function mismatchesWithDst(frames: Buffer[], c: Parameters<typeof expectedFrame>[0], flows: number, dstOfFrame: (k: number) => Buffer): number[] {
  const headers = MIN_LENGTH[`${c.family}/${c.protocol}`];
  let seq = 0;
  const bad: number[] = [];
  frames.forEach((f, k) => {
    const want = expectedFrame({ ...c, dst: dstOfFrame(k) }, { flow: k % flows, length: f.length, id: k, seq });
    seq = (seq + f.length - headers) >>> 0;
    if (!f.equals(want)) bad.push(k);
  });
  return bad;
}

for (const [family, protocol] of [['ipv4', 'udp'], ['ipv4', 'tcp'], ['ipv6', 'udp'], ['ipv6', 'tcp']] as const) {
  t.test(`${family}/${protocol}, dstFlows: packet k goes to dstIp + (k mod dstFlows) on the low 32 bits, checksums right`, async (t) => {
    const flows = 3;
    const dstFlows = 7;
    const n = 500;
    const dstIp = family === 'ipv4' ? '10.255.255.253' : 'fd00:2::ffff:fffd';
    const length = Math.max(60, MIN_LENGTH[`${family}/${protocol}`]);
    const { frames } = await capture(t, { family, protocol, flows, dstFlows, dstIp, length, lengthMax: length + 40, limit: n, burst: 64 }, `dstflows-${family}-${protocol}`);
    t.equal(frames.length, n);
    t.same(checksumProblems(frames), [], 'every IP and L4 checksum verifies');
    const base = family === 'ipv4' ? ip4(dstIp) : ip6(dstIp);
    const want = (k: number) => flowAddress(base, k % dstFlows);
    t.ok(frames.every((f, k) => dstOf(f).equals(want(k))), 'destination of packet k is dstIp + (k mod dstFlows)');
    t.equal(new Set(frames.map((f) => dstOf(f).toString('hex'))).size, dstFlows, 'dstFlows distinct destinations');
    if (family === 'ipv4') t.ok(frames.some((f) => dstOf(f).equals(ip4('11.0.0.3'))), 'the addition carries across octets');
    else t.ok(frames.some((f) => dstOf(f).equals(ip6('fd00:2::3'))), 'the addition wraps within the low 32 bits');
    const c = {
      family,
      protocol,
      src: family === 'ipv4' ? ip4(DEFAULT_IP.ipv4[0]) : ip6(DEFAULT_IP.ipv6[0]),
      dst: base,
      srcPort: 1024,
      dstPort: 9,
      srcEther: '02:00:00:00:00:01',
      dstEther: '02:00:00:00:00:02',
      tcpFlags: TCP_ACK,
    };
    t.same(mismatchesWithDst(frames, c, flows, want).slice(0, 10), [], 'every frame equals the reference frame with its destination');
  });

  t.test(`${family}/${protocol}, dstRandom: uniformly random destinations, checksums right, reproducible`, async (t) => {
    const n = 4096;
    const dstIp = family === 'ipv4' ? '' : 'fd00:3:4:5:6:7:8:9';
    const length = Math.max(60, MIN_LENGTH[`${family}/${protocol}`]);
    const cfg: FlowConfig = { family, protocol, flows: 10, order: 'random', dstRandom: true, dstIp, length, lengthMax: 200, seed: 11, limit: n, burst: 64 };
    const a = await capture(t, cfg, `dstrandom-a-${family}-${protocol}`);
    const b = await capture(t, cfg, `dstrandom-b-${family}-${protocol}`);
    t.equal(a.frames.length, n);
    t.same(checksumProblems(a.frames), [], 'every IP and L4 checksum verifies');
    const dsts = a.frames.map(dstOf);
    t.ok(new Set(dsts.map((d) => d.toString('hex'))).size > n - 5, 'destinations are (almost) all distinct');
    const randomPart = (d: Buffer) => (family === 'ipv4' ? d : d.subarray(8, 16));
    if (family === 'ipv6') t.ok(dsts.every((d) => d.subarray(0, 8).equals(ip6(dstIp).subarray(0, 8))), 'every destination is under the dstIp /64');
    // Uniform: each nibble of the random part takes each of its 16 values about n/16 times.
    const parts = dsts.map(randomPart);
    const nibbles = parts[0].length * 2;
    const skewed: string[] = [];
    for (let j = 0; j < nibbles; j++) {
      const counts = new Array(16).fill(0);
      for (const p of parts) counts[(p[j >> 1] >> (j & 1 ? 0 : 4)) & 15]++;
      if (counts.some((x) => x < n / 16 / 2 || x > (n / 16) * 1.5)) skewed.push(`nibble ${j}: ${counts.join(',')}`);
    }
    t.same(skewed, [], `each of the ${nibbles} random nibbles is spread evenly`);
    t.ok(a.frames.every((f, i) => f.equals(b.frames[i])), 'the same seed gives the same frames');
    // Apart from the destination, each frame is what the reference builds (flows drawn at random).
    const c = {
      family,
      protocol,
      src: family === 'ipv4' ? ip4(DEFAULT_IP.ipv4[0]) : ip6(DEFAULT_IP.ipv6[0]),
      dst: Buffer.alloc(0),
      srcPort: 1024,
      dstPort: 9,
      srcEther: '02:00:00:00:00:01',
      dstEther: '02:00:00:00:00:02',
      tcpFlags: TCP_ACK,
    };
    const headers = MIN_LENGTH[`${family}/${protocol}`];
    const srcBase = c.src;
    let seq = 0;
    const bad: number[] = [];
    a.frames.forEach((f, k) => {
      const want = expectedFrame({ ...c, dst: Buffer.from(dstOf(f)) }, { flow: flowOf(f, srcBase), length: f.length, id: k, seq });
      seq = (seq + f.length - headers) >>> 0;
      if (!f.equals(want)) bad.push(k);
    });
    t.same(bad.slice(0, 10), [], 'every frame equals the reference frame with its destination');
  });
}

t.test('destination defaults: dstFlows 1 and dstRandom false give exactly the frames of before', async (t) => {
  const cfg: FlowConfig = { flows: 50, order: 'random', lengthMax: 300, seed: 3, limit: 1000 };
  const plain = await capture(t, cfg, 'dstdef-plain');
  const explicit = await capture(t, { ...cfg, dstFlows: 1, dstRandom: false }, 'dstdef-explicit');
  t.equal(plain.frames.length, 1000);
  t.ok(plain.frames.every((f, i) => f.equals(explicit.frames[i])), 'identical frames');
  t.ok(plain.frames.every((f) => dstOf(f).equals(ip4('198.19.0.1'))), 'every destination is dstIp');
  const v6 = await capture(t, { family: 'ipv6', protocol: 'tcp', length: 80, dstIp: 'fd00:9::1', flows: 5, limit: 20 }, 'dstdef-v6');
  t.ok(v6.frames.every((f) => dstOf(f).equals(ip6('fd00:9::1'))), 'IPv6: every destination is dstIp');
});

t.test('dstFlows covering the whole IPv4 space, and reset restarting the destination sequence', async (t) => {
  const { frames } = await capture(t, { dstFlows: 4294967296, dstIp: '255.255.255.254', limit: 4 }, 'dstall');
  t.same(frames.map((f) => dstOf(f).join('.')), ['255.255.255.254', '255.255.255.255', '0.0.0.0', '0.0.0.1']);
  t.same(checksumProblems(frames), []);
  const file = tmpFile(t, 'dstreset');
  const plan = compile(graph('dr', () => FlowSource({ dstFlows: 1000, dstIp: '10.0.0.0', limit: 10 }, 'src').to(ToPcap({ file }, 'pcap'))));
  const rt = new Runtime({ threads: 1, poolBuffers: 1024 });
  try {
    const g = rt.load(plan);
    rt.start();
    for (let i = 0; i < 400 && !g.drained(); i++) await new Promise((r) => setTimeout(r, 5));
    g.write('src', 'reset', '');
    for (let i = 0; i < 400 && g.counter('src', 'packets') < 20n; i++) await new Promise((r) => setTimeout(r, 5));
    for (let i = 0; i < 400 && !g.drained(); i++) await new Promise((r) => setTimeout(r, 5));
    rt.stop();
    g.remove();
  } finally {
    rt.close();
  }
  const again = readPcap(file).packets.map((p) => p.data);
  t.equal(again.length, 20);
  t.same(again.map((f) => dstOf(f).join('.')), [...Array(10).keys(), ...Array(10).keys()].map((k) => `10.0.0.${k}`), 'reset starts the destinations again at dstIp');
});

t.test('the limit is exact whatever the burst', async (t) => {
  for (const [limit, burst] of [
    [1, 32],
    [31, 7],
    [1000, 64],
    [4097, 256],
  ]) {
    const { frames, summary } = await capture(t, { limit, burst, flows: 10 }, `limit-${limit}`);
    t.equal(frames.length, limit, `limit ${limit}, burst ${burst}: ${limit} frames`);
    t.equal(summary.elements.src.packets, limit);
  }
});

t.test('handlers: active, rate and limit read and write; reset restarts the same sequence', async (t) => {
  const file = tmpFile(t, 'handlers');
  const plan = compile(
    graph('h', () => {
      FlowSource({ flows: 7, order: 'random', protocol: 'tcp', lengthMax: 200, limit: 20, active: false }, 'src').to(ToPcap({ file }, 'pcap'));
    }),
  );
  const rt = new Runtime({ threads: 1, poolBuffers: 1024 });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  try {
    const g = rt.load(plan);
    rt.start();
    await sleep(50);
    t.equal(g.counter('src', 'packets'), 0n, 'inactive: nothing emitted');
    t.equal(g.read('src', 'active'), 'false');
    t.equal(g.read('src', 'limit'), '20');
    t.equal(g.read('src', 'rate'), '0');
    g.write('src', 'rate', '2000');
    t.equal(g.read('src', 'rate'), '2000');
    t.throws(() => g.write('src', 'rate', 'fast'), /rate must be a number/);
    t.throws(() => g.write('src', 'limit', '-5'), /limit must be at least -1, got -5/);
    const started = Date.now();
    g.write('src', 'active', 'true');
    for (let i = 0; i < 400 && !g.drained(); i++) await sleep(5);
    const elapsed = Date.now() - started;
    t.equal(g.counter('src', 'packets'), 20n, 'the limit stops it');
    t.ok(elapsed >= 7, `20 packets at 2000/s take at least ~10 ms (took ${elapsed} ms)`);
    g.write('src', 'rate', '0');
    g.write('src', 'reset', '');
    for (let i = 0; i < 400 && g.counter('src', 'packets') < 40n; i++) await sleep(5);
    for (let i = 0; i < 400 && !g.drained(); i++) await sleep(5);
    t.equal(g.counter('src', 'packets'), 40n, 'reset: another 20 packets');
    g.write('src', 'limit', '25');
    for (let i = 0; i < 400 && g.counter('src', 'packets') < 45n; i++) await sleep(5);
    t.equal(g.counter('src', 'packets'), 45n, 'a raised limit lets 5 more through');
    rt.stop();
    g.remove();
    const frames = readPcap(file).packets.map((p) => p.data);
    t.equal(frames.length, 45);
    t.ok(frames.slice(0, 20).every((f, i) => f.equals(frames[20 + i])), 'after reset the same 20 frames again (flows, lengths, ids, sequence numbers)');
    t.same(checksumProblems(frames), []);
  } finally {
    rt.close();
  }
});

t.test('bad configs are refused by the compiler, naming the field', async (t) => {
  const cases: [FlowConfig, RegExp][] = [
    [{ family: 'ipv6', protocol: 'tcp', length: 70 }, /config field 'length' must be at least 74 for ipv6\/tcp frames .*got 70/],
    [{ family: 'ipv6' }, /config field 'length' must be at least 62 for ipv6\/udp frames .*got 60/],
    [{ length: 200, lengthMax: 100 }, /config field 'lengthMax' must be 0 .*at least 'length' \(200\), got 100/],
    [{ family: 'ipv6', length: 100, srcIp: '10.0.0.1' }, /config field 'srcIp' must be an IPv6 address \(family is ipv6; empty for fd00::1\), got "10.0.0.1"/],
    [{ dstIp: '1.2.3.256' }, /config field 'dstIp': '1\.2\.3\.256' is not an IPv4 or IPv6 address/],
    [{ dstIp: 'fd00::1' }, /config field 'dstIp' must be an IPv4 address/],
    [{ srcIp: 'example.com' }, /config field 'srcIp'/],
    [{ srcEther: '02:00:00:00:00' }, /config field 'srcEther'/],
    [{ family: 'ipx' as never }, /config field 'family'/],
    [{ order: 'sorted' as never }, /config field 'order'/],
    [{ flows: 0 }, /config field 'flows'/],
    [{ flows: 16777217 }, /config field 'flows'/],
    [{ length: 1515 }, /config field 'length'/],
    [{ srcPort: 70000 }, /config field 'srcPort'/],
    [{ dstFlows: 0 }, /config field 'dstFlows'/],
    [{ dstFlows: 4294967297 }, /config field 'dstFlows'/],
    [{ dstFlows: 2, dstRandom: true }, /config field 'dstRandom' cannot be combined with 'dstFlows' > 1 \(got dstFlows 2\)/],
  ];
  for (const [config, re] of cases) {
    t.throws(() => compile(graph('bad', () => FlowSource(config, 'src').to(Discard()))), re, JSON.stringify(config));
  }
  t.doesNotThrow(() => compile(graph('ok', () => FlowSource({ family: 'ipv6', protocol: 'tcp', length: 74, srcIp: 'fd00::1:2' }, 'src').to(Discard()))));
});

t.test('bad configs are refused by the native side too, naming the element and field', async (t) => {
  const good = compile(graph('g', () => FlowSource({ limit: 1 }, 'src').to(Discard({}, 'd'))));
  const rt = new Runtime({ threads: 1, poolBuffers: 256, bufferSize: 512 });
  try {
    const load = (patch: Record<string, unknown>) => () =>
      rt.engine.addGraph(JSON.stringify({ ...good, elements: [{ ...good.elements[0], config: { ...good.elements[0].config, ...patch } }, good.elements[1]] }));
    t.throws(load({ family: 'ipv6', protocol: 'tcp', length: 60 }), /element 'src' \(FlowSource\): config field 'length' must be at least 74 for ipv6\/tcp/);
    t.throws(load({ length: 100, lengthMax: 99 }), /config field 'lengthMax' must be 0 .*got 99/);
    // Addresses are typed in the plan (the compiler filled in the family's defaults): text is refused.
    t.same([good.elements[0].config.srcIp, good.elements[0].config.dstIp], [3323068417, 3323133953], 'the default addresses, typed');
    t.throws(load({ srcIp: '198.18.0.1' }), /config field 'srcIp' must be an IPv4 or IPv6 address \(typed: .*\), got "198.18.0.1"/);
    const fd00 = [0xfd, ...Array(14).fill(0), 1];
    t.throws(load({ family: 'ipv6', length: 100, srcIp: fd00 }), /config field 'dstIp' must be an IPv6 address \(family is ipv6\)/);
    t.throws(load({ family: 'ipv6', length: 100, dstIp: fd00 }), /config field 'srcIp' must be an IPv6 address \(family is ipv6\)/);
    t.throws(load({ dstIp: [1, 2, 3] }), /config field 'dstIp' must be an IPv4 or IPv6 address/);
    t.throws(load({ srcEther: [2, 0, 0, 0, 0, 256] }), /config field 'srcEther' must be an Ethernet address \(typed: an array of 6 bytes\)/);
    t.throws(load({ dstEther: '02:00:00:00:00:02' }), /config field 'dstEther' must be an Ethernet address/);
    t.throws(load({ family: 'ipx' }), /config field 'family' must be "ipv4" or "ipv6", got "ipx"/);
    t.throws(load({ protocol: 'sctp' }), /config field 'protocol' must be "udp" or "tcp"/);
    t.throws(load({ order: 'shuffled' }), /config field 'order' must be "round-robin" or "random"/);
    t.throws(load({ flows: 16777217 }), /config field 'flows' must be from 1 to 16777216/);
    t.throws(load({ tcpFlags: 256 }), /config field 'tcpFlags'/);
    t.throws(load({ seed: -1 }), /config field 'seed'/);
    t.throws(load({ seed: undefined }), /config field 'seed' is missing/);
    t.throws(load({ burst: 0 }), /config field 'burst' must be from 1 to 256/);
    t.throws(load({ dstFlows: 3, dstRandom: true }), /element 'src' \(FlowSource\): config field 'dstRandom' cannot be combined with 'dstFlows' > 1/);
    t.throws(load({ dstFlows: 4294967297 }), /config field 'dstFlows' must be from 1 to 4294967296/);
    t.throws(load({ dstRandom: 1 }), /config field 'dstRandom'/);
    // With 512-byte buffers (128 of headroom), 1514-byte frames do not fit.
    t.throws(load({ lengthMax: 1514 }), /config field 'lengthMax' \(1514\) exceeds the pool's buffer room of 384 bytes/);
    // And the engine still loads and runs a good plan.
    const g = rt.load(good);
    rt.start();
    for (let i = 0; i < 200 && !g.drained(); i++) await new Promise((r) => setTimeout(r, 5));
    t.equal(g.counter('d', 'packets'), 1n);
  } finally {
    rt.close();
  }
});

t.test('speed (informal): FlowSource -> Discard for 1 s on one thread', async (t) => {
  for (const config of [{ flows: 1000 }, { family: 'ipv6', protocol: 'tcp', length: 74, lengthMax: 1514, flows: 65536, order: 'random' }] as FlowConfig[]) {
    const plan = compile(graph('speed', () => FlowSource(config, 'src').to(Discard({}, 'd'))));
    const s = await runPlan(plan, { threads: 1, duration: 1, poolBuffers: 8192 });
    t.comment(`FlowSource ${JSON.stringify(config)}: ${s.mpps.toFixed(1)} Mpps, ${s.cpuNsPerPacket.toFixed(1)} ns CPU per packet`);
    t.ok(s.packets > 0, 'packets flowed');
    t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
  }
});
