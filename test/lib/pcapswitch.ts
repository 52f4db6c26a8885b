// A switch element between pcap files, for EtherSwitch and VLANSwitch tests: input i plays
// the frames of inputs[i] when switched on (each FromPcap starts paused), output i is
// written to a pcap file read back at the end. Also the hosts' addresses and the labelled
// frames both tests send.
import type { Test } from 'tap';
import { rmSync } from 'node:fs';
import { graph, compile, Runtime, FromPcap, ToPcap, type RunningGraph, type ElementNode, type Plan } from 'pktgraph';
import { tmpPath } from './run.js';
import { writePcap, readPcap } from './pcap.js';
import { ether } from './packets.js';
import { sleep, until } from './wait.js';

export const A = '02:00:00:00:00:0a';
export const B = '02:00:00:00:00:0b';
export const C = '02:00:00:00:00:0c';
export const D = '02:00:00:00:00:0d';
export const E = '02:00:00:00:00:0e';
export const BCAST = 'ff:ff:ff:ff:ff:ff';

/** A 60-byte (64 tagged) frame whose payload names it, so outputs can be compared by label. */
export function frame(src: string, dst: string, label: string, vlan?: number): Buffer {
  return ether({ src, dst, vlan, type: 0x88b5, payload: Buffer.from(label.padEnd(46, '.')) });
}

export interface PcapSwitch {
  rt: Runtime;
  /** The running graph (the new one after replace). */
  g: RunningGraph;
  outFiles: string[];
  /** Switch input i's source on; resolve once its n frames went through. */
  play(i: number, n: number): Promise<void>;
  /** Hot-reconfigure onto the same files around another switch (its sources paused again). */
  replace(element: () => ElementNode): RunningGraph;
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
  const plan = (element: () => ElementNode): Plan =>
    compile(
      graph(name, () => {
        const sw = element();
        inFiles.forEach((file, i) => {
          FromPcap({ file, active: false }, `src${i}`).to(sw.in(i));
          sw.out(i).to(ToPcap({ file: outFiles[i] }, `out${i}`));
        });
      }),
    );
  const rt = new Runtime({ threads: 1, poolBuffers: 2048 });
  t.teardown(() => rt.close());
  const s: PcapSwitch = {
    rt,
    g: rt.load(plan(element)),
    outFiles,
    async play(i, n) {
      s.g.write(`src${i}`, 'active', 'true');
      await until(() => s.g.counter(`src${i}`, 'packets') >= BigInt(n), 5000);
      await sleep(30); // the rest of the worker's round
    },
    replace(element) {
      s.g = s.g.replace(plan(element));
      return s.g;
    },
    finish() {
      rt.stop();
      s.g.remove();
      return outFiles.map((f) => readPcap(f).packets.map((p) => p.data));
    },
  };
  rt.start();
  return s;
}
