// The config fields, handlers and derived default burst of the rate elements (Shaper,
// BandwidthShaper, BandwidthRatedUnqueue, RatedSplitter, BandwidthRatedSplitter); their native
// side is one helper too (rate_limit.h).
import { Type } from 'typebox';

/** The default burst holds this much time at the rate, so credit that accrues between two
 *  worker rounds (microseconds; a preempted worker, longer) is kept rather than lost at high
 *  rates (Linux's HTB sizes its default burst the same way: rate / HZ plus an MTU). */
export const DEFAULT_BURST_SECONDS = 0.001;
/** ... and at least this many packets, or one full-size Ethernet frame's bytes more. */
export const MIN_DEFAULT_BURST_PACKETS = 32;
export const FULL_FRAME_BYTES = 1518;
/** The buffers quota of a byte-rate element (BandwidthShaper, BandwidthRatedUnqueue): packets
 *  pulled beyond its credit wait in it, at most one batch (rate_limit.h's held_, kMaxBatch). */
export const rateLimitQuotas = { buffers: () => 256 };

/** The fields of an element rated in packets per second. */
export const packetRateFields = {
  rate: Type.Number({ exclusiveMinimum: 0, maximum: 1e10, description: 'Packets per second.' }),
  burst: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 1e9,
      description: `Token bucket depth in packets: the most that pass at once after a pause. Default: ${DEFAULT_BURST_SECONDS * 1000} ms of the rate, at least ${MIN_DEFAULT_BURST_PACKETS}.`,
    }),
  ),
};

/** The fields of an element rated in bits per second (Bandwidth*). */
export const bitRateFields = {
  rate: Type.Number({
    exclusiveMinimum: 0,
    maximum: 1e12,
    unit: 'bit/s', // read by the run summary (a shortfall's rates in bits per second)
    description: "Bits per second (Click's Bandwidth elements take bytes per second with units; here a plain number of bits per second, as tc's rates).",
  }),
  burst: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 1e10,
      description: `Token bucket depth in bytes: the most that pass at once after a pause (plus at most one packet). Default: ${DEFAULT_BURST_SECONDS * 1000} ms of the rate plus one ${FULL_FRAME_BYTES}-byte frame and its overhead.`,
    }),
  ),
  overhead: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 1024,
      default: 0,
      description: "Bytes added to each packet's length when it is charged, as tc's overhead: 24 counts an Ethernet frame's preamble, start delimiter, FCS and gap (8 + 4 + 12), so the rate is what the wire carries.",
    }),
  ),
};

/** The plan hook's default burst (the descriptor states no number: the right one follows the rate). */
export const packetBurst = (c: { rate: number; burst?: number }) => ({
  burst: c.burst ?? Math.max(MIN_DEFAULT_BURST_PACKETS, Math.ceil(c.rate * DEFAULT_BURST_SECONDS)),
});
export const byteBurst = (c: { rate: number; burst?: number; overhead?: number }) => ({
  burst: c.burst ?? Math.ceil((c.rate / 8) * DEFAULT_BURST_SECONDS) + FULL_FRAME_BYTES + (c.overhead ?? 0),
});

export const rateHandlers = (unit: string, burstUnit: string) => ({
  rate: { doc: `read or set the rate in ${unit}; it applies from then on, with no burst of credit saved before (at most one ${burstUnit === 'bytes' ? 'byte' : 'packet'}'s)`, read: true, write: true },
  burst: { doc: `read or set the bucket depth in ${burstUnit}; credit beyond a smaller depth is discarded, a larger one grants none`, read: true, write: true },
});
