// The fallback traffic generator of the interfaces suite, for machines where netsniff-ng's
// trafgen is missing and cannot be installed: the engine's own FlowSource -> ToDevice, run as a
// separate `node` process inside the generator namespace (so it does not share the engine
// under test's process or workers).
//
//   node --import tsx bench/suites/interfaces-gen.ts DEVICE DST_MAC FRAME_BYTES PPS SECONDS
//
// Sends FRAME_BYTES-byte frames (FCS included, so FRAME_BYTES - 4 on the wire of a veth) of 256
// UDP flows from 198.18.0.x to DST_IP (default 198.19.0.3), at PPS packets per second (0: as fast as
// it can) for SECONDS, then exits. The interfaces suite counts what left with the kernel's counters.
import { graph, compile, runPlan, FlowSource, ToDevice } from 'pktgraph';

const [device, dstEther, frame, pps, seconds, dstIp] = process.argv.slice(2);
if (!device || !dstEther || !frame || pps === undefined || !seconds) {
  console.error('usage: interfaces-gen.ts DEVICE DST_MAC FRAME_BYTES PPS SECONDS [DST_IP]');
  process.exit(2);
}
const rate = Number(pps);
const plan = compile(
  graph('interfaces-gen', () => {
    FlowSource(
      {
        family: 'ipv4',
        protocol: 'udp',
        length: Number(frame) - 4,
        flows: 256,
        srcEther: '02:00:00:00:00:01',
        dstEther,
        srcIp: '198.18.0.1',
        dstIp: dstIp ?? '198.19.0.3',
        rate,
        ...(rate > 0 ? { limit: Math.round(rate * Number(seconds)) } : {}),
        burst: 32,
      },
      'src',
    ).to(ToDevice({ device, qdiscBypass: true }, 'tx'));
  }),
);
const s = await runPlan(plan, { threads: 1, duration: Number(seconds), stopWhenDrained: rate > 0, poolBuffers: 8192 });
console.log(JSON.stringify({ sent: s.elements.tx?.packets ?? 0, drops: s.elements.tx?.drops ?? 0, seconds: s.seconds }));
