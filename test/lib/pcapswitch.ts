// A switch element between pcap files, for EtherSwitch and VLANSwitch tests: input i plays
// the frames of inputs[i] when switched on (each FromPcap starts paused), output i is
// written to a pcap file read back at the end.
import type { Test } from 'tap';
import { rmSync } from 'node:fs';
import { graph, compile, Runtime, FromPcap, ToPcap, type RunningGraph, type ElementNode } from 'pktgraph';
import { tmpPath } from './run.js';
import { writePcap, readPcap } from './pcap.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface PcapSwitch {
  rt: Runtime;
  g: RunningGraph;
  outFiles: string[];
  /** Switch input i's source on; resolve once its n frames went through. */
  play(i: number, n: number): Promise<void>;
  /** Remove the graph and read the frames each output received. */
  finish(): Buffer[][];
}

/** `element` makes the switch (named 'sw'); one port per entry of inputs. */
export function pcapSwitch(t: Test, name: string, inputs: Buffer[][], element: () => ElementNode): PcapSwitch {
  const inFiles = inputs.map((frames, i) => {
    const f = tmpPath(`${name}-in${i}.pcap`);
    writePcap(f, frames.map((data) => ({ data })));
    return f;
  });
  const outFiles = inputs.map((_, i) => tmpPath(`${name}-out${i}.pcap`));
  t.teardown(() => {
    for (const f of [...inFiles, ...outFiles]) rmSync(f, { force: true });
  });
  const rt = new Runtime({ threads: 1, poolBuffers: 2048 });
  t.teardown(() => rt.close());
  const g = rt.load(
    compile(
      graph(name, () => {
        const sw = element();
        inFiles.forEach((file, i) => {
          FromPcap({ file, active: false }, `src${i}`).to(sw.in(i));
          sw.out(i).to(ToPcap({ file: outFiles[i] }, `out${i}`));
        });
      }),
    ),
  );
  rt.start();
  return {
    rt,
    g,
    outFiles,
    async play(i, n) {
      g.write(`src${i}`, 'active', 'true');
      const deadline = Date.now() + 5000;
      while (g.counter(`src${i}`, 'packets') < BigInt(n) && Date.now() < deadline) await sleep(5);
      await sleep(30); // the rest of the worker's round
    },
    finish() {
      rt.stop();
      g.remove();
      return outFiles.map((f) => readPcap(f).packets.map((p) => p.data));
    },
  };
}
