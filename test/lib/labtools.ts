// Helpers for tests that run traffic through a lab (src/lab): ping (with a Python fallback for
// machines without iputils-ping), a TCP transfer checked by length and SHA-256, a host
// interface's MAC address and kernel counters.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createLab, type Lab, type ExecResult, type Topology } from '../../src/lab/index.js';
import { Runtime, type EngineOptions } from 'pktgraph';

// PG_TEST_PYTHON_PING=1 uses the Python ping even where ping is installed (to test it).
export const hasPing = !process.env.PG_TEST_PYTHON_PING && spawnSync('ping', ['-V'], { stdio: 'ignore' }).status === 0;
export const hasEthtool = spawnSync('ethtool', ['--version'], { stdio: 'ignore' }).status === 0;
// AF_XDP sockets here: socket(AF_XDP) fails with EAFNOSUPPORT without CONFIG_XDP_SOCKETS, EPERM without CAP_NET_RAW.
const afXdp = spawnSync('python3', ['-c', 'import socket; socket.socket(44, socket.SOCK_RAW).close()'], { encoding: 'utf8', timeout: 10_000 });
/** Why AF_XDP cannot be tested here, or undefined when it can. */
export const noAfXdp: string | undefined = afXdp.status === 0 ? undefined : `AF_XDP sockets cannot be opened here (socket(AF_XDP) failed: ${(afXdp.stderr ?? '').trim().split('\n').pop()})`;

/** Two hosts, h1 (198.18.0.1/24) and h2 (198.18.0.2/24), each with a link to the engine (its ends lab.link(0).b and lab.link(1).b). */
export const twoHostsOnEngine: Topology = {
  hosts: [{ name: 'h1' }, { name: 'h2' }],
  links: [
    { a: 'h1', b: 'engine', aAddresses: ['198.18.0.1/24'] },
    { a: 'h2', b: 'engine', aAddresses: ['198.18.0.2/24'] },
  ],
};

/** A lab and an engine for one test, both removed when the test ends, even when it fails (the engine first: it holds the lab's devices). */
export function labRuntime(t: { teardown(fn: () => void): void }, topology: Topology, options: EngineOptions): { lab: Lab; rt: Runtime } {
  const lab = createLab(topology);
  const rt = new Runtime(options);
  t.teardown(() => {
    rt.close();
    lab.destroy();
  });
  return { lab, rt };
}

/** A timer that does not keep the test process alive. */
export const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

// An ICMP echo in Python (raw socket, as root): exit 0 when `count` replies came back.
const PY_PING = `
import socket, struct, sys, time, os
dst, count, v6 = sys.argv[1], int(sys.argv[2]), ':' in sys.argv[1]
def csum(b):
    if len(b) % 2: b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
s.settimeout(1.0)
ident, got = os.getpid() & 0xffff, 0
for seq in range(count):
    typ = 128 if v6 else 8
    h = struct.pack('!BBHHH', typ, 0, 0, ident, seq) + b'pktgraph'
    if not v6: h = h[:2] + struct.pack('!H', csum(h)) + h[4:]
    s.sendto(h, (dst, 0))
    end = time.time() + 1.0
    while time.time() < end:
        try: data = s.recv(2048)
        except socket.timeout: break
        icmp = data if v6 else data[(data[0] & 15) * 4:]
        if icmp[0] == (129 if v6 else 0) and struct.unpack('!HH', icmp[4:8]) == (ident, seq): got += 1; break
print('%d received' % got); sys.exit(0 if got == count else 1)
`;

/** Three echo requests from `host` to `dst`; exit code 0 when all three were answered. */
export async function ping(lab: Lab, host: string, dst: string): Promise<ExecResult> {
  if (hasPing) return lab.exec(host, ['ping', ...(dst.includes(':') ? ['-6'] : []), '-c', '3', '-W', '1', '-i', '0.2', dst], { timeoutMs: 15_000 });
  return lab.exec(host, ['python3', '-c', PY_PING, dst, '3'], { timeoutMs: 15_000 });
}

/** The "N received" part of ping's output, for messages. */
export const pingSummary = (r: ExecResult) => r.stdout.split('\n').filter((l) => /received/.test(l)).join('') || r.stderr;

// TCP: a server that reads to the end and prints the length and SHA-256; a client that sends
// `size` bytes of a fixed pseudo-random pattern.
const PY_SERVER = `
import socket, hashlib, sys
srv = socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], int(sys.argv[2]))); srv.listen(1); srv.settimeout(20)
print('ready', flush=True)
c, peer = srv.accept(); c.settimeout(20); h = hashlib.sha256(); n = 0
while True:
    b = c.recv(65536)
    if not b: break
    h.update(b); n += len(b)
print(n, h.hexdigest(), peer[0], flush=True)
`;
const PY_CLIENT = `
import socket, sys
size = int(sys.argv[3])
data = bytes((i * 131 + (i >> 9)) & 255 for i in range(size))
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
c.sendall(data); c.shutdown(socket.SHUT_WR); c.recv(1); c.close()
`;

/** The SHA-256 (hex) of the `size` bytes PY_CLIENT sends. */
export function patternDigest(size: number): string {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 131 + (i >> 9)) & 255;
  return createHash('sha256').update(b).digest('hex');
}

/**
 * Send `size` bytes over TCP from `from` to a server in `to` listening on addr:port (or, through
 * a NAT's port forward, connecting to `connectTo` instead). The result has the bytes received,
 * their SHA-256 and the peer address the server saw.
 */
export async function tcpTransfer(lab: Lab, from: string, to: string, addr: string, port: number, size: number, connectTo: [string, number] = [addr, port]) {
  const server = lab.spawn(to, ['python3', '-c', PY_SERVER, addr, String(port)]);
  let out = '';
  let err = '';
  server.stdout!.on('data', (d) => (out += d));
  server.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<void>((resolve) => server.on('close', () => resolve()));
  const deadline = Date.now() + 10_000;
  while (!out.includes('ready') && Date.now() < deadline && server.exitCode === null) await delay(20);
  if (!out.includes('ready')) throw new Error(`TCP server did not start: ${err}`);
  const client = await lab.exec(from, ['python3', '-c', PY_CLIENT, connectTo[0], String(connectTo[1]), String(size)], { timeoutMs: 30_000 });
  await Promise.race([exited, delay(10_000)]);
  if (server.exitCode === null) server.kill();
  const [n, digest, peer] = (out.trim().split('\n').pop() ?? '').split(' ');
  return { client, received: Number(n), digest, peer, serverErr: err };
}

// Receive one UDP datagram on argv[1]:argv[2], answer it with TTL 1 and print the ICMP error that
// comes back: 'icmp TYPE CODE from ADDRESS'. The kernel queues the error on this socket only if
// the quoted datagram is what it sent, so behind a NAT this proves the error was translated back.
export const PY_TTL1_REPLY = `
import socket, sys, select, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], int(sys.argv[2]))); s.settimeout(5)
print('ready', flush=True)
data, peer = s.recvfrom(100)
print('peer', peer[0], peer[1], flush=True)
s.setsockopt(socket.SOL_IP, 11, 1)  # IP_RECVERR
s.setsockopt(socket.SOL_IP, socket.IP_TTL, 1)
s.sendto(b'a reply that dies on the way', peer)
p = select.poll(); p.register(s, select.POLLERR)
if not p.poll(3000): print('no error', flush=True); sys.exit(0)
msg, anc, flags, addr = s.recvmsg(512, 512, socket.MSG_ERRQUEUE)
for level, typ, d in anc:
    if level == socket.SOL_IP and typ == 11:
        errno_, origin, itype, icode = struct.unpack('IBBB', d[:7])
        print('icmp', itype, icode, 'from', socket.inet_ntoa(d[20:24]), flush=True)
`;

/** The MAC address of interface `ifname` in `host`'s namespace (lower case, colons). */
export function macOf(lab: Lab, host: string, ifname: string): string {
  const r = spawnSync('ip', ['-n', lab.netns(host), '-o', 'link', 'show', 'dev', ifname], { encoding: 'utf8', timeout: 10_000 });
  const m = /link\/ether ([0-9a-f:]{17})/.exec(r.stdout ?? '');
  if (!m) throw new Error(`no MAC address for ${ifname} in ${host}: ${r.stdout}${r.stderr}`);
  return m[1];
}

/** A kernel statistic (rx_packets, tx_packets, rx_dropped, ...) of interface `ifname` in `host`'s namespace. */
export function ifStat(lab: Lab, host: string, ifname: string, stat: string): number {
  const r = spawnSync('ip', ['netns', 'exec', lab.netns(host), 'cat', `/sys/class/net/${ifname}/statistics/${stat}`], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`cannot read ${stat} of ${ifname} in ${host}: ${r.stderr}`);
  return Number(r.stdout.trim());
}

/**
 * Freeze every host's neighbour table: each ARP and neighbour-discovery entry it holds becomes
 * permanent (unresolved ones are deleted), so no host sends reachability probes from then on.
 * Without this, a host that answered a neighbour's ARP request or neighbour solicitation probes
 * that neighbour by unicast about 5 s later (Linux's delay_first_probe_time), and a test that
 * counts the frames one host receives sees them or not depending on how long the steps before
 * took.
 */
export async function freezeNeighbours(lab: Lab, hosts: string[]): Promise<void> {
  for (const host of hosts) {
    const shown = await lab.exec(host, ['ip', '-j', 'neigh', 'show']);
    if (shown.code !== 0) throw new Error(`ip neigh show in ${host}: ${shown.stderr}`);
    const entries = JSON.parse(shown.stdout || '[]') as { dst: string; dev: string; lladdr?: string }[];
    for (const e of entries) {
      const args = e.lladdr ? ['replace', e.dst, 'lladdr', e.lladdr, 'dev', e.dev, 'nud', 'permanent'] : ['del', e.dst, 'dev', e.dev];
      const r = await lab.exec(host, ['ip', 'neigh', ...args]);
      if (r.code !== 0) throw new Error(`ip neigh ${args.join(' ')} in ${host}: ${r.stderr}`);
    }
  }
}
