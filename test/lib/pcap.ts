// Reading and writing classic pcap files (libpcap format, not pcapng) for the tests:
// an independent implementation to feed FromPcap and to check what ToPcap wrote.
//
// File header (24 bytes): magic u32, version major u16 (2), minor u16 (4), thiszone i32,
// sigfigs u32, snaplen u32, linktype u32. Record header (16 bytes): ts_sec u32,
// ts_frac u32 (microseconds, or nanoseconds with the nanosecond magic), incl_len u32,
// orig_len u32, then incl_len bytes. The magic, read in the writer's byte order, is
// 0xa1b2c3d4 (microseconds) or 0xa1b23c4d (nanoseconds); read in the other order it
// shows which byte order the whole file uses.
import { readFileSync, writeFileSync } from 'node:fs';

export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
/** The timestamp of the first packet when none is given (2023-11-14T22:13:20Z). */
export const DEFAULT_TS_NS = 1_700_000_000_000_000_000n;

export interface PcapPacketIn {
  data: Uint8Array | Buffer;
  /** Timestamp in ns since the epoch (default: 1700000000 s plus 1 µs per packet index; never 0, which the engine reads as "no timestamp"). */
  tsNs?: bigint;
  /** Original length on the wire (default: data.length); larger than data.length for a truncated record. */
  origLen?: number;
}

export interface PcapWriteOptions {
  /** Nanosecond timestamps (magic 0xa1b23c4d); default microseconds. */
  nanosecond?: boolean;
  /** Link type (default 1, Ethernet). */
  linktype?: number;
  /** Snapshot length in the file header (default 65535). Packets are not cut to it here. */
  snaplen?: number;
  /** Write the file big-endian (default little-endian). */
  bigEndian?: boolean;
}

export interface PcapPacket {
  data: Buffer;
  tsNs: bigint;
  origLen: number;
}

export interface PcapFile {
  nanosecond: boolean;
  bigEndian: boolean;
  linktype: number;
  snaplen: number;
  versionMajor: number;
  versionMinor: number;
  packets: PcapPacket[];
}

/** Encode a pcap file in memory. Timestamps are rounded down to microseconds in a microsecond file. */
export function encodePcap(packets: PcapPacketIn[], opts: PcapWriteOptions = {}): Buffer {
  const be = opts.bigEndian ?? false;
  const nano = opts.nanosecond ?? false;
  let total = 24;
  for (const p of packets) total += 16 + p.data.length;
  const out = Buffer.alloc(total);
  const u32 = (v: number, off: number) => (be ? out.writeUInt32BE(v >>> 0, off) : out.writeUInt32LE(v >>> 0, off));
  const u16 = (v: number, off: number) => (be ? out.writeUInt16BE(v, off) : out.writeUInt16LE(v, off));
  u32(nano ? PCAP_MAGIC_NS : PCAP_MAGIC_US, 0);
  u16(2, 4);
  u16(4, 6);
  u32(0, 8);
  u32(0, 12);
  u32(opts.snaplen ?? 65535, 16);
  u32(opts.linktype ?? LINKTYPE_ETHERNET, 20);
  let off = 24;
  packets.forEach((p, i) => {
    const ts = p.tsNs ?? DEFAULT_TS_NS + BigInt(i) * 1000n;
    if (ts < 0n) throw new Error('pcap timestamps must not be negative');
    const sec = ts / 1_000_000_000n;
    if (sec > 0xffffffffn) throw new Error('pcap timestamp beyond 2106');
    const frac = nano ? ts % 1_000_000_000n : (ts % 1_000_000_000n) / 1000n;
    u32(Number(sec), off);
    u32(Number(frac), off + 4);
    u32(p.data.length, off + 8);
    u32(p.origLen ?? p.data.length, off + 12);
    Buffer.from(p.data.buffer, p.data.byteOffset, p.data.length).copy(out, off + 16);
    off += 16 + p.data.length;
  });
  return out;
}

/** Write a pcap file. */
export function writePcap(path: string, packets: PcapPacketIn[], opts: PcapWriteOptions = {}): void {
  writeFileSync(path, encodePcap(packets, opts));
}

/** Decode a pcap file held in memory; throws on a bad magic or a record cut short. */
export function decodePcap(buf: Buffer): PcapFile {
  if (buf.length < 24) throw new Error(`pcap file too short for its header (${buf.length} bytes)`);
  const le = buf.readUInt32LE(0);
  let bigEndian: boolean;
  let nanosecond: boolean;
  if (le === PCAP_MAGIC_US || le === PCAP_MAGIC_NS) {
    bigEndian = false;
    nanosecond = le === PCAP_MAGIC_NS;
  } else {
    const be = buf.readUInt32BE(0);
    if (be !== PCAP_MAGIC_US && be !== PCAP_MAGIC_NS) throw new Error(`not a pcap file: magic 0x${le.toString(16).padStart(8, '0')}`);
    bigEndian = true;
    nanosecond = be === PCAP_MAGIC_NS;
  }
  const u32 = (off: number) => (bigEndian ? buf.readUInt32BE(off) : buf.readUInt32LE(off));
  const u16 = (off: number) => (bigEndian ? buf.readUInt16BE(off) : buf.readUInt16LE(off));
  const file: PcapFile = {
    nanosecond,
    bigEndian,
    versionMajor: u16(4),
    versionMinor: u16(6),
    snaplen: u32(16),
    linktype: u32(20),
    packets: [],
  };
  let off = 24;
  while (off < buf.length) {
    if (off + 16 > buf.length) throw new Error(`pcap record header cut short at offset ${off}`);
    const sec = BigInt(u32(off));
    const frac = BigInt(u32(off + 4));
    const incl = u32(off + 8);
    const orig = u32(off + 12);
    if (off + 16 + incl > buf.length) throw new Error(`pcap record at offset ${off} claims ${incl} bytes, only ${buf.length - off - 16} remain`);
    file.packets.push({
      data: Buffer.from(buf.subarray(off + 16, off + 16 + incl)),
      tsNs: sec * 1_000_000_000n + (nanosecond ? frac : frac * 1000n),
      origLen: orig,
    });
    off += 16 + incl;
  }
  return file;
}

/** Read a pcap file (either byte order, micro- or nanosecond timestamps). */
export function readPcap(path: string): PcapFile {
  return decodePcap(readFileSync(path));
}
