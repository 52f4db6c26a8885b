// An L2 bridge between two network devices: every frame received on `a` is sent on `b`
// and every frame received on `b` is sent on `a` (FromDevice -> ToDevice both ways, no
// learning, no filtering). Needs root (AF_PACKET: CAP_NET_RAW).
//
// Try it in a lab (as root): two namespaces h1 (198.18.0.1) and h2 (198.18.0.2), each
// joined by a veth pair to the root namespace, where the engine bridges the two ends:
//
//   pktgraph lab up configs/lab-two-hosts.json        # lab 'demo': engine ends pg-demo-0b, pg-demo-1b
//   pktgraph run configs/bridge.ts -p a=pg-demo-0b -p b=pg-demo-1b
//   pktgraph lab exec h1 -- ping 198.18.0.2           # in another terminal; stops when the bridge stops
//   pktgraph lab down demo
//
// The defaults of `a` and `b` are the engine-side interfaces of that lab, so plain
// `pktgraph run configs/bridge.ts` works too. While it runs, `pktgraph read rxa.state` says
// whether device `a` is up, down or missing; take it down (`ip link set pg-demo-0b down`) and
// up again and the bridge resumes by itself. `-p method=xdp` bridges over AF_XDP instead
// (`pktgraph read rxa.method` says which is in use: AF_PACKET where AF_XDP cannot be used).
import { graph, FromDevice, ToDevice } from 'pktgraph';

export default graph({ name: 'bridge', params: { a: 'pg-demo-0b', b: 'pg-demo-1b', method: 'packet' } }, (p) => {
  if (p.method !== 'packet' && p.method !== 'xdp') throw new Error(`parameter 'method' is '${p.method}': give packet (AF_PACKET) or xdp (AF_XDP)`);
  const xdp = p.method === 'xdp' ? { method: 'xdp' as const } : {};
  FromDevice({ device: String(p.a), ...xdp }, 'rxa').to(ToDevice({ device: String(p.b), ...xdp }, 'txb'));
  FromDevice({ device: String(p.b), ...xdp }, 'rxb').to(ToDevice({ device: String(p.a), ...xdp }, 'txa'));
});
