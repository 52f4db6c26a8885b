// The pacing fields, counters, handlers and derived rate of the traffic sources (InfiniteSource,
// FlowSource); their native side is one helper too (source_pacing.h).
import { Type } from 'typebox';
import type { DerivedHandler } from '../../src/graph/descriptor.js';

/** The config fields, after each source's own. */
export const sourcePacingFields = {
  limit: Type.Optional(Type.Integer({ minimum: -1, default: -1, description: 'Packets to emit in all; -1 for no limit.' })),
  burst: Type.Optional(Type.Integer({ minimum: 1, maximum: 256, default: 32, description: 'Packets per task round (one batch).' })),
  rate: Type.Optional(Type.Number({ minimum: 0, maximum: 1e10, default: 0, description: 'Packets per second; 0 for as fast as possible.' })),
  active: Type.Optional(Type.Boolean({ default: true, description: 'Emit packets (false: wait until the active handler is set).' })),
};

/** The counters, after `packets` and `bytes`. */
export const sourcePacingCounters = {
  pool_empty: 'rounds cut short because the packet pool was empty',
  rate_shortfall: 'packets the configured rate called for that were not sent because the element ran late (catch-up credit beyond the burst was discarded)',
};

/** The handlers; `reset` says what a reset restarts besides the count towards the limit. */
export const sourcePacingHandlers = (reset: string) => ({
  active: { doc: 'read or set whether the source emits', read: true, write: true },
  rate: { doc: 'read or set the rate in packets per second (0: unlimited)', read: true, write: true },
  limit: { doc: 'read or set the packet limit (-1: none)', read: true, write: true },
  reset: { doc: reset, write: true },
});

export const sourcePacingDerived: Record<string, DerivedHandler> = {
  packet_rate: { doc: 'packets per second over the last sampling interval', read: (c) => String(c.rate('packets') ?? 0) },
};
