// Helpers for tests of ports shared by virtual routers (test/vr-ports.test.ts,
// test/vr-shares.test.ts): a `pktgraph serve` engine as a child process with its client, and
// raw AF_PACKET senders and receivers (Python, run in a lab host) of 802.1Q-tagged or untagged
// frames of EtherType 0x88b5 whose payload starts with a text tag ("a-17;"). The kernel has
// no VLAN devices here, so tagged frames are made and read by these.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Lab } from '../../src/lab/index.js';
import { Engine } from '../../src/service/client.js';
import { pktgraphBin } from './cli.js';
import { delay } from './labtools.js';

// argv: interface, count, VLAN (0: untagged), destination MAC, tag, gap between frames (s).
export const PY_TX = `
import socket, sys, time, struct
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0); s.bind((sys.argv[1], 0))
n, vlan, dst, tag, gap = int(sys.argv[2]), int(sys.argv[3]), bytes.fromhex(sys.argv[4].replace(':', '')), sys.argv[5], float(sys.argv[6])
hdr = dst + b'\\x02\\x00\\x00\\x00\\x00\\xfe' + (struct.pack('!HH', 0x8100, vlan) if vlan else b'') + b'\\x88\\xb5'
for i in range(n):
    s.send(hdr + ('%s-%d;' % (tag, i)).encode().ljust(46, b'.'))
    if gap: time.sleep(gap)
`;

// Python: a packet socket on argv[1] that reports VLAN tags (PACKET_AUXDATA), and recv_vlan(s):
// one frame received as (frame, VLAN, EtherType, payload), the VLAN from the frame's tag or, as
// the kernel hands a veth's tag over, from the auxiliary data (0: untagged); None for a frame
// the host sent itself.
export const PY_VLAN_SOCKET = `
import socket, sys, struct
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3)); s.bind((sys.argv[1], 0))
s.setsockopt(263, 8, 1)  # SOL_PACKET, PACKET_AUXDATA
def recv_vlan(s):
    data, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(32))
    if addr[2] == socket.PACKET_OUTGOING: return None
    vlan = 0
    for level, typ, c in anc:
        if level == 263 and typ == 8:
            st, ln, snap, mac, net, tci, tpid = struct.unpack('IIIHHHH', c[:20])
            if st & 0x10: vlan = tci & 0xfff
    et, body = data[12:14], data[14:]
    if et == b'\\x81\\x00':
        vlan = struct.unpack('!H', data[14:16])[0] & 0xfff; et, body = data[16:18], data[18:]
    return data, vlan, et, body
`;

// argv: interface, seconds of silence that end it, a file to create once listening. Prints
// "VLAN TAG" per 0x88b5 frame received (VLAN 0: untagged), until a tag starting with 'end' or
// the silence.
export const PY_RX = `${PY_VLAN_SOCKET}
s.settimeout(float(sys.argv[2]))
open(sys.argv[3], 'w').close()
try:
    while True:
        got = recv_vlan(s)
        if got is None: continue
        data, vlan, et, body = got
        if et != b'\\x88\\xb5': continue
        tag = body.split(b';')[0].decode(errors='replace')
        print(vlan, tag, flush=True)
        if tag.startswith('end'): break
except socket.timeout:
    pass
`;

export const BROADCAST = 'ff:ff:ff:ff:ff:ff';

/** Send `n` frames from a lab host's interface. */
export async function sendFrames(lab: Lab, host: string, dev: string, n: number, vlan: number, dst: string, tag: string, gap = 0.001): Promise<void> {
  const r = await lab.exec(host, ['python3', '-c', PY_TX, dev, String(n), String(vlan), dst, tag, String(gap)], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`sending from ${host} failed: ${r.stderr}`);
}

/**
 * A receiver in a lab host, listening once this resolves; `frames` resolves to [vlan, tag]
 * pairs once it ends (a tag 'end...' or `silence` s without a frame).
 */
export async function receiveFrames(lab: Lab, host: string, dev: string, silence = 10): Promise<{ frames: Promise<Array<[number, string]>> }> {
  const ready = join(mkdtempSync(join(tmpdir(), 'pktgraph-rx-')), 'ready');
  const run = lab.exec(host, ['python3', '-u', '-c', PY_RX, dev, String(silence), ready], { timeoutMs: 120_000 });
  let ended = false;
  void run.finally(() => (ended = true));
  await until(`the receiver on ${host} to listen`, async () => existsSync(ready) || ended);
  rmSync(dirname(ready), { recursive: true, force: true });
  return {
    frames: run.then((r) =>
      r.stdout
        .split('\n')
        .filter((l) => l)
        .map((l) => {
          const [v, tag] = l.split(' ');
          return [Number(v), tag] as [number, string];
        }),
    ),
  };
}

/** `pktgraph serve` in `work` (its socket there), and its client once it answers. */
export async function startEngine(work: string, threads = 2, children: ChildProcess[] = []): Promise<{ engine: Engine; serve: ChildProcess; stderr: () => string }> {
  const sock = join(work, 'engine.sock');
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: work };
  delete env.NODE_OPTIONS;
  const serve = spawn(process.execPath, [pktgraphBin, 'serve', '--control', sock, '--threads', String(threads), '--pool', '16384'], { cwd: work, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  serve.stderr!.on('data', (d) => (err += d));
  children.push(serve);
  const engine = new Engine(sock);
  await until('the engine to serve its socket', async () => (await engine.status()) !== undefined);
  return { engine, serve, stderr: () => err };
}

/** Poll `check` every 50 ms until it holds, or fail after `seconds`. */
export async function until(what: string, check: () => Promise<boolean>, seconds = 20): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await delay(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}
