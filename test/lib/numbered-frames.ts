import type { Lab } from '../../src/lab/index.js';

// Numbered test frames through a lab, counted at the far end: a sender and a receiver, Python
// scripts run inside a namespace (python3 -c SCRIPT ARGS...). Frames are of ethertype 0x88b5 with a
// 32-bit number after the Ethernet header, so the receiver can tell a lost frame from a repeated one.

// The sender: frames of ethertype 0x88b5 and SIZE bytes (no FCS) numbered FIRST..FIRST+N-1 at RATE frames/s.
export const PY_TX = `
import socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0); s.bind((sys.argv[1], 0))
first, n, rate, size = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
head = b'\\x02\\x50\\x47\\x00\\x00\\x02' + b'\\x02\\x50\\x47\\x00\\x00\\x01' + b'\\x88\\xb5'
pad = bytes(size - 18)
t0 = time.time()
for i in range(n):
    s.send(head + struct.pack('!I', first + i) + pad)
    if i % 50 == 49:
        d = t0 + (i + 1) / rate - time.time()
        if d > 0: time.sleep(d)
print('sent', n, flush=True)
`;
// The receiver: count the 0x88b5 frames received (and the distinct numbers) until IDLE seconds (default 2) pass without one.
export const PY_RX = `
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5)); s.bind((sys.argv[1], 0))
s.setsockopt(socket.SOL_SOCKET, 33, 256 << 20)  # SO_RCVBUFFORCE: a burst must not overflow this counter
s.settimeout(float(sys.argv[2]) if len(sys.argv) > 2 else 2)
print('ready', flush=True)
count, seen = 0, set()
try:
    while True:
        data, addr = s.recvfrom(2048)
        if addr[2] == socket.PACKET_OUTGOING: continue
        count += 1; seen.add(struct.unpack('!I', data[14:18])[0])
except socket.timeout:
    pass
print('got', count, len(seen), flush=True)
`;

/** Starts the receiver in `host` on `device` and waits (up to 5 s) until it is ready; `result`
 *  resolves when it has seen no frame for `idleS` seconds: frames received and distinct numbers
 *  (undefined if it printed no result). */
export async function startReceiver(lab: Lab, host: string, device: string, idleS = 2): Promise<{ ready: boolean; result: Promise<{ count: number; distinct: number } | undefined> }> {
  const rx = lab.spawn(host, ['python3', '-c', PY_RX, device, String(idleS)]);
  let out = '';
  rx.stdout!.on('data', (d) => (out += d));
  const result = new Promise<{ count: number; distinct: number } | undefined>((r) =>
    rx.on('close', () => {
      const m = /got (\d+) (\d+)/.exec(out);
      r(m ? { count: Number(m[1]), distinct: Number(m[2]) } : undefined);
    }),
  );
  for (let i = 0; i < 100 && !out.includes('ready'); i++) await new Promise((r) => setTimeout(r, 50));
  return { ready: out.includes('ready'), result };
}
