// Pcap files for element tests: inputs written from packets and ToPcap sinks read back after the
// run, named by the test file's prefix and a tag, and removed when the test file ends; and a
// byte-exact comparison of packet lists that shows the first difference.
import t, { type Test } from 'tap';
import { rmSync } from 'node:fs';
import { ToPcap, type ElementNode } from 'pktgraph';
import { tmpPath } from './run.js';
import { writePcap, readPcap, LINKTYPE_ETHERNET } from './pcap.js';

/**
 * `input(tag, packets)` writes a pcap file and returns its path; `sink(tag)` is a ToPcap element
 * whose packets `read(tag)` returns after the run (its file is `outFile(tag)`); `track(path)` removes another file at the end.
 * `linktype` is the default for both (LINKTYPE_RAW: FromPcap sets the network-header annotation).
 */
export function pcapFiles(prefix: string, defaults: { linktype?: number } = {}) {
  const made: string[] = [];
  t.teardown(() => {
    for (const f of made) rmSync(f, { force: true });
  });
  const linktype = defaults.linktype ?? LINKTYPE_ETHERNET;
  const outFile = (tag: string) => tmpPath(`${prefix}-${tag}-out.pcap`);
  return {
    input(tag: string, packets: Buffer[], type = linktype): string {
      const f = tmpPath(`${prefix}-${tag}-in.pcap`);
      writePcap(f, packets.map((data) => ({ data })), { linktype: type });
      made.push(f);
      return f;
    },
    sink(tag: string, options: { linktype?: number | 'auto'; name?: string } = {}): ElementNode {
      made.push(outFile(tag));
      return ToPcap({ file: outFile(tag), linktype: options.linktype ?? linktype }, options.name ?? `sink_${tag.replace(/[^A-Za-z0-9_]/g, '_')}`);
    },
    read: (tag: string): Buffer[] => readPcap(outFile(tag)).packets.map((p) => p.data),
    /** The file a sink writes (for tcpdump). */
    outFile,
    track(path: string): string {
      made.push(path);
      return path;
    },
  };
}

/** Packet-by-packet equality, reporting the first difference in hex. */
export function sameBuffers(t: Test, got: Buffer[], want: Buffer[], msg: string) {
  t.equal(got.length, want.length, `${msg}: ${want.length} packet(s)`);
  const bad = got.findIndex((g, i) => !want[i] || !g.equals(want[i]));
  t.equal(bad, -1, `${msg}: bytes as expected${bad >= 0 ? ` (first difference at packet ${bad}: got ${got[bad].toString('hex')}, want ${want[bad]?.toString('hex') ?? 'nothing'})` : ''}`);
}
