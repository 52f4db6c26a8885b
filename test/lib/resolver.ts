// The harness shared by the ARPQuerier and IP6NDSolicitor tests: a resolver element fed by
// paused pcap sources (raw IP packets into input 0, Ethernet frames into input 1), its output 0
// written to a pcap file, driven through the Runtime API; plus frame comparison and the table
// handler's rows without their ages.
import type { Test } from 'tap';
import { rmSync } from 'node:fs';
import { graph, compile, Runtime, FromPcap, ToPcap, type RunningGraph, type InputPort, type OutputPort } from 'pktgraph';
import { tmpPath } from './run.js';
import { writePcap, readPcap, LINKTYPE_RAW } from './pcap.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The resolver elements' shared config fields. */
export type ResolverConfig = Partial<{ capacity: number; perHost: number; timeout: number; pollInterval: number; pendingTimeout: number; entryCapacity: number }>;

export interface ResolverHarness {
  rt: Runtime;
  g: RunningGraph;
  /** Switch source `src` on and wait until its n packets went through. */
  play(src: string, n: number): Promise<void>;
  /** The frames output 0 sent so far (flushes the sink). */
  output(): Buffer[];
  /** Wait until a condition holds (or 3 s pass). */
  until(cond: () => boolean): Promise<boolean>;
  /** Stop, remove the graph, and check that every buffer is back in the pool. */
  finish(t: Test): void;
}

/** The element wiring a test supplies: the input-0 and input-1 ports the sources push into, and output 0. */
export interface ResolverPorts {
  ipIn: InputPort;
  replyIn: InputPort;
  out: OutputPort;
}

/**
 * A graph `name` built by `wire` (which makes the element under test and returns its ports),
 * with one paused FromPcap per entry of ipSources (raw IP, named ip0, ip1, ...) and of
 * replySources (Ethernet, named `${replyTag}0`, ...), and output 0 into a ToPcap 'out'.
 */
export function resolverHarness(
  t: Test,
  name: string,
  ipSources: Buffer[][],
  replySources: Buffer[][],
  replyTag: string,
  wire: () => ResolverPorts,
): ResolverHarness {
  const files: string[] = [];
  const pcap = (tag: string, frames: Buffer[], raw: boolean) => {
    const f = tmpPath(`${name}-${tag}.pcap`);
    writePcap(
      f,
      frames.map((data) => ({ data })),
      raw ? { linktype: LINKTYPE_RAW } : {},
    );
    files.push(f);
    return f;
  };
  const ipFiles = ipSources.map((frames, i) => pcap(`ip${i}`, frames, true));
  const replyFiles = replySources.map((frames, i) => pcap(`${replyTag}${i}`, frames, false));
  const outFile = tmpPath(`${name}-out.pcap`);
  files.push(outFile);
  t.teardown(() => {
    for (const f of files) rmSync(f, { force: true });
  });
  const rt = new Runtime({ threads: 1, poolBuffers: 1024 });
  t.teardown(() => rt.close());
  const g = rt.load(
    compile(
      graph(name, () => {
        const ports = wire();
        ipFiles.forEach((file, i) => FromPcap({ file, active: false }, `ip${i}`).to(ports.ipIn));
        replyFiles.forEach((file, i) => FromPcap({ file, active: false }, `${replyTag}${i}`).to(ports.replyIn));
        ports.out.to(ToPcap({ file: outFile }, 'out'));
      }),
    ),
  );
  rt.start();
  const until = async (cond: () => boolean) => {
    const deadline = Date.now() + 3000;
    while (!cond() && Date.now() < deadline) await sleep(5);
    return cond();
  };
  return {
    rt,
    g,
    until,
    async play(src, n) {
      g.write(src, 'active', 'true');
      await until(() => g.counter(src, 'packets') >= BigInt(n));
      await sleep(30); // the rest of the worker's round
    },
    output() {
      g.write('out', 'flush', '');
      return readPcap(outFile).packets.map((p) => p.data);
    },
    finish(t) {
      rt.stop();
      g.remove();
      const pool = rt.poolStats();
      t.equal(pool.available, pool.capacity, 'every buffer back in the pool');
    },
  };
}

/** The table handler's lines without the ages: 'IP MAC', 'IP MAC static', 'IP pending HELD'. */
export const tableRows = (g: RunningGraph, element: string) =>
  g
    .read(element, 'table')
    .split('\n')
    .filter((l) => l)
    .map((l) => {
      const w = l.split(' ');
      if (w[1] === 'pending') return `${w[0]} pending ${w[3]}`;
      return w[2] === 'static' ? l : `${w[0]} ${w[1]}`;
    });

export { sameBuffers } from './pcapfiles.js';
