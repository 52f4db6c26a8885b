// FromPcap and ToPcap: files in every flavour played through the engine and written back,
// checked byte for byte and timestamp for timestamp against an independent reader
// (test/lib/pcap.ts) and against tcpdump.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { graph, compile, runPlan, Runtime, FromPcap, ToPcap, Queue, Discard, Counter } from 'pktgraph';
import { runGraph } from './lib/run.js';
import { writePcap, readPcap, encodePcap, DEFAULT_TS_NS, LINKTYPE_RAW, type PcapPacketIn } from './lib/pcap.js';
import { udp4Frame, udp6Frame, ipv4, udp, verifyIpv4Checksum, verifyL4Checksum, l3Offset } from './lib/packets.js';

/** A fresh directory under the system's temporary directory, removed when the test ends. */
function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'pktgraph-pcap-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** `n` distinct UDP frames of assorted sizes (60 to 1514 bytes) with nanosecond timestamps. */
function samplePackets(n: number, opts: { microsecond?: boolean; start?: bigint } = {}): PcapPacketIn[] {
  const out: PcapPacketIn[] = [];
  let ts = opts.start ?? 1_712_345_678_000_000_000n;
  for (let i = 0; i < n; i++) {
    const size = [60, 64, 128, 577, 1000, 1514][i % 6];
    const v6 = i % 5 === 4;
    const payloadLen = Math.max(8, size - 14 - (v6 ? 40 : 20) - 8);
    const payload = Buffer.alloc(payloadLen, i & 0xff);
    payload.writeUInt32BE(i, 0);
    const data = v6
      ? udp6Frame({ sport: 1000 + i, dport: 9999, payload })
      : udp4Frame({ src: `10.0.${(i >> 8) & 255}.${i & 255}`, dst: '192.0.2.1', sport: 1000 + i, payload });
    // Irregular gaps, with sub-microsecond digits unless the file is microsecond.
    ts += BigInt(1 + ((i * 7919) % 100_000)) * 1000n + (opts.microsecond ? 0n : BigInt((i * 37) % 1000));
    out.push({ data, tsNs: ts });
  }
  return out;
}

function hasTcpdump(): boolean {
  return spawnSync('tcpdump', ['--version'], { stdio: 'ignore' }).status === 0;
}

t.test('round trip: every input flavour comes out with the same bytes and timestamps', async (t) => {
  const dir = tempDir(t);
  for (const bigEndian of [false, true]) {
    for (const nanosecond of [false, true]) {
      const label = `${bigEndian ? 'big' : 'little'}-endian ${nanosecond ? 'ns' : 'µs'}`;
      const pkts = samplePackets(300, { microsecond: !nanosecond });
      const inFile = join(dir, `in-${bigEndian}-${nanosecond}.pcap`);
      const outFile = join(dir, `out-${bigEndian}-${nanosecond}.pcap`);
      writePcap(inFile, pkts, { bigEndian, nanosecond });
      const s = await runGraph(() => {
        FromPcap({ file: inFile, burst: 7 }, 'src').to(Counter({}, 'c')).to(ToPcap({ file: outFile, nanosecond: true }, 'sink'));
      });
      const bytes = pkts.reduce((a, p) => a + p.data.length, 0);
      t.equal(s.elements.src.packets, 300, `${label}: packets counted`);
      t.equal(s.elements.src.bytes, bytes, `${label}: bytes counted`);
      t.equal(s.elements.src.truncated, 0);
      t.equal(s.elements.src.bad_records, 0);
      t.equal(s.elements.sink.packets, 300);
      t.equal(s.elements.sink.bytes, bytes);
      t.equal(s.elements.sink.write_errors, 0);
      t.equal(s.pool.available, s.pool.capacity, `${label}: every buffer back in the pool`);
      const out = readPcap(outFile);
      t.equal(out.nanosecond, true);
      t.equal(out.linktype, 1);
      t.equal(out.snaplen, 65535);
      t.equal(out.versionMajor, 2);
      t.equal(out.versionMinor, 4);
      t.equal(out.packets.length, 300);
      let same = 0;
      let sameTs = 0;
      for (let i = 0; i < 300; i++) {
        if (out.packets[i].data.equals(Buffer.from(pkts[i].data)) && out.packets[i].origLen === pkts[i].data.length) same++;
        if (out.packets[i].tsNs === pkts[i].tsNs) sameTs++;
      }
      t.equal(same, 300, `${label}: every packet's bytes unchanged, in order`);
      t.equal(sameTs, 300, `${label}: every timestamp exact to the ${nanosecond ? 'nanosecond' : 'microsecond'}`);
    }
  }
});

t.test('a microsecond output file keeps the microseconds of nanosecond timestamps', async (t) => {
  const dir = tempDir(t);
  const pkts = samplePackets(50);
  const inFile = join(dir, 'in.pcap');
  const outFile = join(dir, 'out.pcap');
  writePcap(inFile, pkts, { nanosecond: true, bigEndian: true });
  await runGraph(() => {
    FromPcap({ file: inFile }, 'src').to(ToPcap({ file: outFile }, 'sink'));
  });
  const out = readPcap(outFile);
  t.equal(out.nanosecond, false);
  t.same(
    out.packets.map((p) => p.tsNs),
    pkts.map((p) => (p.tsNs! / 1000n) * 1000n),
  );
});

t.test('the packets FromPcap emits are the packets in the file (checksums intact)', async (t) => {
  const dir = tempDir(t);
  const pkts = samplePackets(30);
  const inFile = join(dir, 'in.pcap');
  const outFile = join(dir, 'out.pcap');
  writePcap(inFile, pkts);
  await runGraph(() => {
    FromPcap({ file: inFile }).to(ToPcap({ file: outFile }));
  });
  for (const p of readPcap(outFile).packets) {
    const { offset, type } = l3Offset(p.data);
    if (type === 0x0800) t.ok(verifyIpv4Checksum(p.data, offset), 'IPv4 header checksum');
    t.ok(verifyL4Checksum(p.data, offset), 'UDP checksum');
  }
});

t.test('repeat plays the file that many times', async (t) => {
  const dir = tempDir(t);
  const pkts = samplePackets(40);
  const inFile = join(dir, 'in.pcap');
  const outFile = join(dir, 'out.pcap');
  writePcap(inFile, pkts, { nanosecond: true });
  const s = await runGraph(() => {
    FromPcap({ file: inFile, repeat: 3, burst: 16 }, 'src').to(ToPcap({ file: outFile, nanosecond: true }, 'sink'));
  });
  t.equal(s.elements.src.packets, 120);
  t.equal(s.elements.sink.packets, 120);
  const out = readPcap(outFile).packets;
  t.equal(out.length, 120);
  t.ok(
    out.every((p, i) => p.data.equals(Buffer.from(pkts[i % 40].data)) && p.tsNs === pkts[i % 40].tsNs),
    'three copies of the file, in order, with the recorded timestamps',
  );
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('truncated records are emitted with their captured bytes and counted; ToPcap cuts to snaplen', async (t) => {
  const dir = tempDir(t);
  const full = samplePackets(20);
  // Every other record captured only its first 42 bytes of the packet.
  const pkts = full.map((p, i) => (i % 2 ? { data: p.data.subarray(0, 42), tsNs: p.tsNs, origLen: p.data.length } : p));
  const inFile = join(dir, 'in.pcap');
  const outFile = join(dir, 'out.pcap');
  const cutFile = join(dir, 'cut.pcap');
  writePcap(inFile, pkts, { snaplen: 65535 });
  const s = await runGraph(() => {
    FromPcap({ file: inFile }, 'src').to(ToPcap({ file: outFile, nanosecond: true }, 'sink'));
  });
  t.equal(s.elements.src.truncated, 10);
  t.equal(s.elements.src.packets, 20);
  t.equal(s.elements.src.bytes, pkts.reduce((a, p) => a + p.data.length, 0), 'bytes counts the captured bytes');
  const out = readPcap(outFile).packets;
  t.ok(out.every((p, i) => p.data.equals(Buffer.from(pkts[i].data))), 'captured bytes unchanged');
  const origLen = (i: number) => pkts[i].origLen ?? pkts[i].data.length;
  t.ok(out.every((p, i) => p.origLen === origLen(i)), "the original lengths come through (the missing bytes ride in the extra-length annotation, as Click's FromDump)");

  // ToPcap's snaplen: records keep the original length.
  const s2 = await runGraph(() => {
    FromPcap({ file: inFile }, 'src').to(ToPcap({ file: cutFile, snaplen: 100 }, 'sink'));
  });
  const cut = readPcap(cutFile);
  t.equal(cut.snaplen, 100);
  t.ok(
    cut.packets.every((p, i) => p.data.equals(Buffer.from(pkts[i].data).subarray(0, 100)) && p.origLen === origLen(i)),
    'cut to 100 bytes, original lengths recorded',
  );
  t.equal(s2.elements.sink.bytes, s.elements.src.bytes, 'ToPcap counts original bytes');
  t.equal(s2.pool.available, s2.pool.capacity);
});

t.test('a file cut short mid-record: the whole records are played, the bad one counted, no crash', async (t) => {
  const dir = tempDir(t);
  const pkts = samplePackets(10);
  const whole = encodePcap(pkts);
  const cases: [string, Buffer, number][] = [
    ['cut inside the last packet', whole.subarray(0, whole.length - 5), 9],
    ['cut inside the last record header', whole.subarray(0, whole.length - pkts[9].data.length - 6), 9],
    ['cut right after the first record header', whole.subarray(0, 24 + 16), 0],
  ];
  for (const [label, bytes, good] of cases) {
    const inFile = join(dir, 'cut.pcap');
    const outFile = join(dir, 'out.pcap');
    writeFileSync(inFile, bytes);
    const s = await runGraph(() => {
      FromPcap({ file: inFile, repeat: 5 }, 'src').to(ToPcap({ file: outFile, nanosecond: true }, 'sink'));
    });
    t.equal(s.elements.src.packets, good, `${label}: ${good} packets`);
    t.equal(s.elements.src.bad_records, 1, `${label}: one bad record, and no further passes`);
    t.equal(s.pool.available, s.pool.capacity);
    const out = readPcap(outFile).packets;
    t.equal(out.length, good);
    t.ok(out.every((p, i) => p.data.equals(Buffer.from(pkts[i].data))));
  }
});

t.test('a record larger than a pool buffer ends the playback (bad_records)', async (t) => {
  const dir = tempDir(t);
  const pkts = samplePackets(5);
  pkts.splice(3, 0, { data: Buffer.alloc(4000, 0xab), tsNs: DEFAULT_TS_NS });
  const inFile = join(dir, 'big.pcap');
  writePcap(inFile, pkts);
  const s = await runGraph(() => {
    FromPcap({ file: inFile }, 'src').to(Discard({}, 'd'));
  });
  t.equal(s.elements.src.packets, 3, 'the three records before it');
  t.equal(s.elements.src.bad_records, 1);
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('a file with no records finishes at once; so does a raw-IP file through', async (t) => {
  const dir = tempDir(t);
  const empty = join(dir, 'empty.pcap');
  const emptyOut = join(dir, 'empty-out.pcap');
  writePcap(empty, []);
  const s = await runGraph(() => {
    FromPcap({ file: empty, repeat: 1000000 }, 'src').to(ToPcap({ file: emptyOut }, 'sink'));
  });
  t.equal(s.elements.src.packets, 0);
  t.equal(s.elements.src.bad_records, 0);
  const eo = readPcap(emptyOut);
  t.equal(eo.packets.length, 0, 'ToPcap wrote a valid empty file');

  const raw = join(dir, 'raw.pcap');
  const rawOut = join(dir, 'raw-out.pcap');
  const pkts = [0, 1, 2].map((i) => ({ data: ipv4({ payload: udp({ sport: i, src: '10.0.0.1', dst: '10.0.0.2', payload: 'x'.repeat(i) }) }) }));
  writePcap(raw, pkts, { linktype: LINKTYPE_RAW });
  await runGraph(() => {
    FromPcap({ file: raw }, 'src').to(ToPcap({ file: rawOut, linktype: LINKTYPE_RAW }, 'sink'));
  });
  const ro = readPcap(rawOut);
  t.equal(ro.linktype, LINKTYPE_RAW);
  t.ok(ro.packets.length === 3 && ro.packets.every((p, i) => p.data.equals(pkts[i].data)));
});

t.test('many packets: the 256 KiB write buffer fills and flushes many times without losing a record', async (t) => {
  const dir = tempDir(t);
  const pkts = samplePackets(6000);
  const inFile = join(dir, 'in.pcap');
  const outFile = join(dir, 'out.pcap');
  writePcap(inFile, pkts, { nanosecond: true });
  const s = await runGraph(() => {
    FromPcap({ file: inFile, burst: 256 }, 'src').to(ToPcap({ file: outFile, nanosecond: true }, 'sink'));
  });
  t.equal(s.elements.sink.packets, 6000);
  const inBytes = readFileSync(inFile);
  const outBytes = readFileSync(outFile);
  t.ok(outBytes.length > 4 * 256 * 1024, `output is ${outBytes.length} bytes`);
  t.ok(inBytes.equals(outBytes), 'the output file is byte-identical to the little-endian nanosecond input');
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('pull mode: ToPcap behind a Queue runs its own task', async (t) => {
  const dir = tempDir(t);
  const pkts = samplePackets(500);
  const inFile = join(dir, 'in.pcap');
  const outFile = join(dir, 'out.pcap');
  writePcap(inFile, pkts, { nanosecond: true });
  const s = await runGraph(
    () => {
      FromPcap({ file: inFile }, { name: 'src', thread: 0 })
        .to(Queue({ capacity: 1000 }, 'q'))
        .to(ToPcap({ file: outFile, nanosecond: true, burst: 64 }, { name: 'sink', thread: 1 }));
    },
    { threads: 2 },
  );
  t.equal(s.elements.q.drops, 0);
  t.equal(s.elements.sink.packets, 500);
  const out = readPcap(outFile).packets;
  t.ok(out.length === 500 && out.every((p, i) => p.data.equals(Buffer.from(pkts[i].data)) && p.tsNs === pkts[i].tsNs));
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('a pool too small for the file: rounds are cut short (pool_empty) and no packet is lost', async (t) => {
  const dir = tempDir(t);
  const pkts = samplePackets(3000);
  const inFile = join(dir, 'in.pcap');
  const outFile = join(dir, 'out.pcap');
  writePcap(inFile, pkts, { nanosecond: true });
  const s = await runGraph(
    () => {
      // One worker: the sink drains 8 packets a round while the source wants 64.
      FromPcap({ file: inFile, burst: 64 }, 'src')
        .to(Queue({ capacity: 100000 }, 'q'))
        .to(ToPcap({ file: outFile, nanosecond: true, burst: 8 }, 'sink'));
    },
    { threads: 1, poolBuffers: 64 },
  );
  t.ok(s.elements.src.pool_empty > 0, `the source ran out of buffers ${s.elements.src.pool_empty} times`);
  t.equal(s.elements.src.packets, 3000);
  t.equal(s.elements.q.drops, 0);
  const out = readPcap(outFile).packets;
  t.ok(out.length === 3000 && out.every((p, i) => p.data.equals(Buffer.from(pkts[i].data)) && p.tsNs === pkts[i].tsNs), 'every packet, in order');
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('timing replays at the recorded pace', async (t) => {
  const dir = tempDir(t);
  const base = 1_700_000_000_000_000_000n;
  const pkts = [0n, 100n, 200n, 300n].map((ms) => ({ data: udp4Frame(), tsNs: base + ms * 1_000_000n }));
  const inFile = join(dir, 'in.pcap');
  const outFile = join(dir, 'out.pcap');
  writePcap(inFile, pkts, { nanosecond: true });
  const began = performance.now();
  const s = await runGraph(() => {
    FromPcap({ file: inFile, timing: true, repeat: 2 }, 'src').to(ToPcap({ file: outFile, nanosecond: true }, 'sink'));
  });
  // Wall time around the whole run (the summary's clock starts just after the workers do).
  const took = (performance.now() - began) / 1000;
  t.equal(s.elements.sink.packets, 8);
  t.ok(took >= 0.6 * 0.995, `two passes of 300 ms each took ${took.toFixed(3)} s (each pass starts its own pace)`);
  t.ok(took < 5, 'and not much longer');
  const out = readPcap(outFile).packets;
  t.same(
    out.map((p) => p.tsNs),
    [...pkts, ...pkts].map((p) => p.tsNs),
    'the timestamp annotation is the recorded time, not the replay time',
  );
});

t.test('handlers: active pauses FromPcap; flush writes ToPcap buffer to the file', async (t) => {
  const dir = tempDir(t);
  const pkts = samplePackets(100);
  const inFile = join(dir, 'in.pcap');
  const outFile = join(dir, 'out.pcap');
  writePcap(inFile, pkts, { nanosecond: true });
  const plan = compile(
    graph('handlers', () => {
      FromPcap({ file: inFile, active: false }, 'src').to(ToPcap({ file: outFile, nanosecond: true }, 'sink'));
    }),
  );
  const rt = new Runtime({ threads: 1, poolBuffers: 1024 });
  try {
    const g = rt.load(plan);
    t.ok(existsSync(outFile), 'the output file exists once the graph is loaded');
    t.equal(readPcap(outFile).packets.length, 0, 'with a valid header and no records');
    rt.start();
    await new Promise((r) => setTimeout(r, 50));
    t.equal(g.read('src', 'active'), 'false');
    t.equal(g.counter('src', 'packets'), 0n, 'inactive: nothing played');
    t.notOk(g.drained(), 'an inactive source has not finished');
    g.write('src', 'active', 'true');
    for (let i = 0; i < 400 && !g.drained(); i++) await new Promise((r) => setTimeout(r, 5));
    t.equal(g.counter('sink', 'packets'), 100n);
    t.equal(readPcap(outFile).packets.length, 0, 'the records wait in the buffer');
    g.write('sink', 'flush', '');
    const out = readPcap(outFile).packets;
    t.equal(out.length, 100, 'flush wrote them');
    t.ok(out.every((p, i) => p.data.equals(Buffer.from(pkts[i].data))));
    rt.stop();
    g.remove();
    t.equal(readPcap(outFile).packets.length, 100, 'removing the graph writes nothing twice');
    t.equal(rt.poolStats().available, 1024);
  } finally {
    rt.close();
  }
});

t.test('bad files: compile succeeds, loading fails with an error naming the file and the problem', async (t) => {
  const dir = tempDir(t);
  const good = encodePcap(samplePackets(3));
  const files: [string, Buffer | undefined, RegExp][] = [
    ['missing.pcap', undefined, /cannot open it: No such file or directory/],
    ['badmagic.pcap', Buffer.concat([Buffer.from('GIF89a..'), good.subarray(8)]), /bad magic number 0x38464947/],
    ['short.pcap', good.subarray(0, 10), /too short for a pcap file header \(10 bytes/],
    ['pcapng.pcap', Buffer.from('0a0d0d0a1c0000004d3c2b1a01000000ffffffffffffffff1c000000', 'hex'), /pcapng/],
    ['wifi.pcap', encodePcap(samplePackets(1), { linktype: 105 }), /unsupported link type 105/],
  ];
  for (const [name, bytes, problem] of files) {
    const file = join(dir, name);
    if (bytes) writeFileSync(file, bytes);
    const plan = compile(graph('bad', () => FromPcap({ file }, 'src').to(Discard())));
    t.equal(plan.elements[0].class, 'FromPcap', `${name}: compiles`);
    const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    await t.rejects(runPlan(plan, { threads: 1, poolBuffers: 256 }), new RegExp(`element 'src' \\(FromPcap\\): pcap file '${escaped}'`), `${name}: names the element and the file`);
    await t.rejects(runPlan(plan, { threads: 1, poolBuffers: 256 }), problem, `${name}: says what is wrong`);
  }
  // A directory is not a pcap file.
  const plan = compile(graph('dir', () => FromPcap({ file: dir }, 'src').to(Discard())));
  await t.rejects(runPlan(plan, { threads: 1, poolBuffers: 256 }), /not a regular file/);

  // ToPcap into a directory that does not exist.
  const outFile = join(dir, 'no', 'such', 'dir', 'out.pcap');
  const inFile = join(dir, 'ok.pcap');
  writeFileSync(inFile, good);
  const plan2 = compile(graph('badout', () => FromPcap({ file: inFile }).to(ToPcap({ file: outFile }, 'sink'))));
  const rt = new Runtime({ threads: 1, poolBuffers: 256 });
  try {
    t.throws(() => rt.load(plan2), { message: new RegExp(`element 'sink' \\(ToPcap\\): pcap file '.*out\\.pcap': cannot create it: No such file or directory`) });
    if (existsSync('/dev/full'))
      t.throws(() => rt.load(compile(graph('full', () => FromPcap({ file: inFile }).to(ToPcap({ file: '/dev/full' }, 'sink'))))), {
        message: /element 'sink' \(ToPcap\): pcap file '\/dev\/full': cannot write its header: No space left on device/,
      });
  } finally {
    rt.close();
  }

  // The file name is required by the schema.
  t.throws(() => compile(graph('nofile', () => FromPcap({} as never, 'src').to(Discard()))), /file/);
});

const tcpdumpSkip = hasTcpdump() ? false : 'tcpdump is not installed (scripts/ensure-test-tools.sh installs it when run as root with apt-get)';
t.test('tcpdump reads what ToPcap writes', { skip: tcpdumpSkip }, async (t) => {
  const dir = tempDir(t);
  const pkts = samplePackets(200);
  const inFile = join(dir, 'in.pcap');
  for (const nanosecond of [false, true]) {
    const outFile = join(dir, `out-${nanosecond}.pcap`);
    writePcap(inFile, pkts, { nanosecond: true, bigEndian: true });
    await runGraph(() => {
      FromPcap({ file: inFile }).to(ToPcap({ file: outFile, nanosecond, snaplen: 200 }));
    });
    const r = spawnSync('tcpdump', ['-r', outFile, '-nn', '-tt', ...(nanosecond ? ['--time-stamp-precision=nano'] : [])], { encoding: 'utf8' });
    t.equal(r.status, 0, `tcpdump exits cleanly (${r.stderr.trim()})`);
    t.match(r.stderr, /link-type EN10MB \(Ethernet\), snapshot length 200/);
    const lines = r.stdout.trim().split('\n');
    t.equal(lines.length, 200, `${nanosecond ? 'ns' : 'µs'}: tcpdump shows 200 packets`);
    const first = pkts[0].tsNs!;
    const frac = nanosecond ? (first % 1_000_000_000n).toString().padStart(9, '0') : ((first % 1_000_000_000n) / 1000n).toString().padStart(6, '0');
    t.equal(lines[0], `${first / 1_000_000_000n}.${frac} IP 10.0.0.0.1000 > 192.0.2.1.5678: UDP, length ${60 - 14 - 20 - 8}`);
    t.match(lines[4], /IP6 2001:db8::1\.1004 > 2001:db8::2\.9999: UDP, length 938/);
  }
  // And tcpdump's own verdict on the checksums of whole packets.
  const whole = join(dir, 'whole.pcap');
  await runGraph(() => {
    FromPcap({ file: inFile }).to(ToPcap({ file: whole }));
  });
  const v = execFileSync('tcpdump', ['-r', whole, '-nn', '-vv'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  t.equal(v.match(/\[udp sum ok\]/g)?.length, 200, 'tcpdump finds every UDP checksum correct');
  t.notMatch(v, /bad|truncated|\[\|/i, 'and nothing bad, cut or malformed');
});
