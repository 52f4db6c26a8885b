// The config fields and handlers ARPQuerier and IP6NDSolicitor share (their native side is one
// template too: resolver.h), worded for each protocol's request and reply.
import { Type } from 'typebox';

/** The limits and timers, for a protocol whose requests and replies are called as given. */
export function resolverFields(w: { requests: string; request: string; reply: string }) {
  return {
    capacity: Type.Optional(Type.Integer({ minimum: 1, maximum: 1048576, default: 2048, description: 'Most packets held, in all, while their next hops are resolved.' })),
    perHost: Type.Optional(Type.Integer({ minimum: 1, maximum: 1048576, default: 16, description: 'Most packets held for one unresolved address.' })),
    entryCapacity: Type.Optional(Type.Integer({ minimum: 1, maximum: 65536, default: 4096, description: 'Most addresses in the table (pending, learned and static).' })),
    timeout: Type.Optional(Type.Number({ minimum: 0.001, maximum: 31536000, default: 300, description: `Seconds a learned entry lives after the ${w.reply} that taught it.` })),
    pollInterval: Type.Optional(Type.Number({ minimum: 0.001, maximum: 3600, default: 1, description: `Seconds between ${w.requests} for an address still unresolved.` })),
    pendingTimeout: Type.Optional(
      Type.Number({ minimum: 0.001, maximum: 3600, default: 5, description: `Seconds after the first ${w.request} when an unresolved address is given up and its held packets dropped.` }),
    ),
  };
}

/** What a resolver's config holds of its virtual router's quotas: its table and held packets. */
export const resolverQuotas = { neighbours: 'entryCapacity', buffers: 'capacity' } as const;

export const resolverHandlers = {
  table: { doc: "the entries, sorted by address: 'IP MAC AGE', 'IP MAC static' or 'IP pending AGE HELD'", read: true },
  insert: { doc: "write 'IP MAC': a static entry (packets held for IP are sent)", write: true },
  delete: { doc: 'write an IP: remove its entry (packets held for it are dropped)', write: true },
  clear: { doc: 'write anything: remove every entry (held packets are dropped)', write: true },
};
