// The fallback traffic generator of the interfaces suite, for machines where netsniff-ng's
// trafgen is missing and cannot be installed: the engine's own FlowSource -> ToDevice, run as a
// separate `node` process inside the generator namespace (so it does not share the engine
// under test's process or workers).
//
//   node --import tsx bench/suites/interfaces-gen.ts DEVICE DST_MAC FRAME_BYTES PPS SECONDS [DST_IP] [--stamp] [--xdp]
//
// --stamp: TimestampStamp writes a monotonic send time into each frame's UDP payload (byte 42)
// for the latency measurement (bench/suites/latency-sink.ts reads it at the sink).
// --xdp: ToDevice sends through an AF_XDP socket (method 'xdp', no fallback) instead of the
// AF_PACKET TX ring.
// Sends FRAME_BYTES-byte frames (FCS included, so FRAME_BYTES - 4 on the wire of a veth) of 252
// UDP flows from 198.18.0.1-252 (not .254, the kernel router's own address, nor .255, the subnet's
// broadcast: the kernel drops both as martian sources) to DST_IP (default 198.19.0.3), at PPS packets per second (0: as fast as
// it can) for SECONDS, then exits. The interfaces suite counts what left with the kernel's counters.
import { graph, compile, runPlan, FlowSource, TimestampStamp, ToDevice } from 'pktgraph';

const stampArg = process.argv.includes('--stamp');
const xdpArg = process.argv.includes('--xdp');
const [device, dstEther, frame, pps, seconds, dstIp] = process.argv.slice(2).filter((a) => a !== '--stamp' && a !== '--xdp');
if (!device || !dstEther || !frame || pps === undefined || !seconds) {
  console.error('usage: interfaces-gen.ts DEVICE DST_MAC FRAME_BYTES PPS SECONDS [DST_IP]');
  process.exit(2);
}
const rate = Number(pps);
const plan = compile(
  graph('interfaces-gen', () => {
    const src = FlowSource(
      {
        family: 'ipv4',
        protocol: 'udp',
        length: Number(frame) - 4,
        flows: 252,
        srcEther: '02:00:00:00:00:01',
        dstEther,
        srcIp: '198.18.0.1',
        dstIp: dstIp ?? '198.19.0.3',
        rate,
        ...(rate > 0 ? { limit: Math.round(rate * Number(seconds)) } : {}),
        // Paced, the burst is also how much a round may catch up after the worker was
        // descheduled (FlowSource's token bucket): 256 rides out about 1 ms at 250k/s.
        burst: rate > 0 ? 256 : 32,
      },
      'src',
    );
    const tx = ToDevice({ device, ...(xdpArg ? { method: 'xdp' as const, xdpFallback: false } : { qdiscBypass: true }) }, 'tx');
    if (stampArg) src.to(TimestampStamp({ offset: 42 }, 'stamp')).to(tx);
    else src.to(tx);
  }),
);
const s = await runPlan(plan, { threads: 1, duration: Number(seconds), stopWhenDrained: rate > 0, poolBuffers: 8192 });
console.log(JSON.stringify({ sent: s.elements.tx?.packets ?? 0, drops: s.elements.tx?.drops ?? 0, seconds: s.seconds }));
