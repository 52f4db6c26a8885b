// The interfaces suite's cases: which devices under test run, in which group (bridge, router,
// scaling), with what description and destination MAC.
import { ROUTER_MAC, SINK_DISCARD_MAC, type Settings } from './settings.js';
import { macOf, type Env } from './topology.js';
import type { Dut } from './trials.js';
import { engineBridge, engineRouter } from './engine-cases.js';
import { kernelBridge, kernelForwarding } from './kernel-cases.js';
import { clickDut } from './click-cases.js';

export interface CaseSpec {
  key: string;
  group: 'bridge' | 'router';
  forwarder: 'engine' | 'kernel' | 'click';
  name: string;
  description: string;
  threads: number;
  /** Only at 64 B (the scaling case). */
  only64?: boolean;
  /** The engine's FromDevice/ToDevice method: AF_PACKET (default) or AF_XDP. */
  method?: 'xdp';
  /** Frames addressed to: SINK_DISCARD_MAC (L2), the ingress veth's MAC (kernel router) or ROUTER_MAC. */
  dst: 'sink' | 'ingress' | 'router';
  setUp: (env: Env, a: string, b: string) => { dut: Dut; teardown: () => void } | Promise<{ dut: Dut; teardown: () => void }>;
}

export function caseSpecs(s: Settings): CaseSpec[] {
  const ringSize = s.ring ? `${s.ring.blocks} blocks of ${s.ring.blockSize} B (--ring)` : '1024 blocks of 16 KiB';
  const ringNote =
    s.tpacketVersion === 3
      ? `TPACKET_V3 only (--tpacket 3), ${ringSize}, 1 ms block timeout`
      : s.tpacketVersion === 2
        ? `TPACKET_V2 only (--tpacket 2), ${ringSize} in 2 KiB slots, adaptive wait`
        : `adaptive (the default): a TPACKET_V2 ring (half the blocks) at low rates and a V3 ring (${ringSize}) at high rates, in one fanout group, switched by rate`;
  const xdpNote = "method 'xdp': AF_XDP sockets, the redirect program attached natively to the ingress veth, copy mode (veth has no zero-copy), xdpFallback false so a case that cannot use AF_XDP fails saying why";
  const specs: CaseSpec[] = [];
  if (s.groups.has('bridge') || s.groups.has('scaling')) {
    if (s.groups.has('bridge'))
      specs.push({ key: 'engine-bridge-1', group: 'bridge', forwarder: 'engine', threads: 1, dst: 'sink', name: 'engine L2 bridge veth -> veth (FromDevice -> ToDevice)', description: `FromDevice (${ringNote}) -> ToDevice (TX ring, qdiscBypass) between the two root-side veth ends, one direction, one worker; frames addressed to ${SINK_DISCARD_MAC} (counted and dropped by the sink).`, setUp: engineBridge(1, s) });
    if (s.groups.has('bridge') && s.xdp)
      specs.push({ key: 'engine-bridge-xdp', group: 'bridge', forwarder: 'engine', threads: 1, method: 'xdp', dst: 'sink', name: 'engine L2 bridge veth -> veth over AF_XDP (FromDevice -> ToDevice)', description: `FromDevice -> ToDevice (${xdpNote}) between the two root-side veth ends, one direction, one worker; frames addressed to ${SINK_DISCARD_MAC}.`, setUp: engineBridge(1, s, 'xdp') });
    if (s.groups.has('scaling'))
      specs.push({ key: 'engine-bridge-2', group: 'bridge', forwarder: 'engine', threads: 2, dst: 'sink', only64: true, name: 'engine L2 bridge veth -> veth (FromDevice -> ToDevice)', description: 'Two workers, each with its own FromDevice in one PACKET_FANOUT group (hash mode) and its own ToDevice (qdiscBypass).', setUp: engineBridge(2, s) });
    if (s.groups.has('bridge')) {
      specs.push({ key: 'kernel-bridge', group: 'bridge', forwarder: 'kernel', threads: 0, dst: 'sink', name: 'Linux bridge veth -> veth', description: `A Linux bridge device (STP off) joining the same two root-side veth ends; same generator, same frames (to ${SINK_DISCARD_MAC}), same run.`, setUp: kernelBridge });
      specs.push({ key: 'click-bridge', group: 'bridge', forwarder: 'click', threads: 0, dst: 'sink', name: 'Click userlevel bridge veth -> veth', description: "Click's userlevel driver on bench/click/bridge.click (FromDevice -> Queue -> ToDevice) between the same two veth ends.", setUp: clickDut(s, 'bridge.click', (_e, a, b) => ({ IN: a, OUT: b })) });
    }
  }
  if (s.groups.has('router')) {
    specs.push({ key: 'engine-router-1', group: 'router', forwarder: 'engine', threads: 1, dst: 'router', name: 'engine IPv4 router veth -> veth', description: `FromDevice (${ringNote}) -> Strip(14) -> CheckIPHeader -> IPLookup (198.19.0.0/24 -> 0) -> DecIPTTL -> EtherEncap (the egress veth's MAC -> ${SINK_DISCARD_MAC}, counted and dropped by the sink) -> ToDevice (qdiscBypass), one worker; frames addressed to ${ROUTER_MAC} (not the ingress veth's own MAC, so the host kernel drops its copy instead of routing it).`, setUp: engineRouter(s) });
    if (s.xdp)
      specs.push({ key: 'engine-router-xdp', group: 'router', forwarder: 'engine', threads: 1, method: 'xdp', dst: 'router', name: 'engine IPv4 router veth -> veth over AF_XDP', description: `The same router graph with FromDevice and ToDevice on AF_XDP (${xdpNote}), one worker.`, setUp: engineRouter(s, 'xdp') });
    specs.push({ key: 'kernel-router', group: 'router', forwarder: 'kernel', threads: 0, dst: 'ingress', name: 'Linux IPv4 forwarding veth -> veth', description: `Addresses on the two root-side veth ends (198.18.0.254/24, 198.19.0.254/24), IPv4 forwarding on for those two interfaces only, a permanent neighbour entry for 198.19.0.3 with ${SINK_DISCARD_MAC} (counted and dropped by the sink); frames addressed to the ingress veth's MAC.`, setUp: kernelForwarding });
    specs.push({
      key: 'click-router', group: 'router', forwarder: 'click', threads: 0, dst: 'router', name: 'Click userlevel IPv4 router veth -> veth',
      description: "Click's userlevel driver on bench/click/router.click (FromDevice -> Strip -> CheckIPHeader -> StaticIPLookup -> DecIPTTL -> EtherEncap -> Queue -> ToDevice).",
      setUp: clickDut(s, 'router.click', (env, _a, b) => ({ IN: _a, OUT: b, SRCMAC: macOf(undefined, b), DSTMAC: SINK_DISCARD_MAC })),
    });
  }
  return specs;
}
