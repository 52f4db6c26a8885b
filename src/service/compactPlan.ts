// A router's plan is kept for as long as the router lives (save, clone, reconfigure, rollback,
// desired state, quotas), but once its graph is loaded the engine holds what the large config
// arrays say (a FIB's routes, typed and as text: about 190 KB of JavaScript heap for 1000 routes,
// 190 MB for a thousand such routers). Those arrays are kept deflated instead (about 9 KB for
// 1000 routes) behind properties that give them back, as they were, whenever they are read:
// JSON.stringify, a spread, a quota count, a save all see the same plan.
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { Plan } from '../compiler/plan.js';

/** Arrays in an element's config with more entries than this are kept deflated (smaller ones cost less than their packing). */
const PACK_ENTRIES = 64;

/** Keep a plan's large config arrays deflated, in place (the plan's other holders see them so too); idempotent. */
export function compactPlan(plan: Plan): Plan {
  for (const e of plan.elements) {
    const config = e.config as Record<string, unknown>;
    const big = Object.keys(config).filter((k) => {
      const d = Object.getOwnPropertyDescriptor(config, k)!;
      return Array.isArray(d.value) && d.value.length > PACK_ENTRIES;
    });
    if (!big.length) continue;
    // One blob per config: a FIB's routes and compiledRoutes compress together.
    // Copied out at its size: zlib's answer is a view of a larger output buffer.
    const packed = new Uint8Array(deflateRawSync(JSON.stringify(big.map((k) => config[k])), { level: 1 }));
    // The arrays inflated last, held weakly: the reads of one task (a JSON.stringify of the
    // plan reads every packed field) share one inflate, and the garbage collector takes them
    // once the task is over (a WeakRef's target lives at least until then).
    let inflated: WeakRef<unknown[]> | undefined;
    const unpacked = () => {
      let all = inflated?.deref();
      if (!all) {
        all = JSON.parse(inflateRawSync(packed).toString()) as unknown[];
        inflated = new WeakRef(all);
      }
      return all;
    };
    big.forEach((k, i) =>
      // Redefining a property keeps its place in the key order: the plan's JSON is unchanged.
      Object.defineProperty(config, k, {
        enumerable: true,
        configurable: true,
        get: () => unpacked()[i],
        set: (value: unknown) => Object.defineProperty(config, k, { value, writable: true, enumerable: true, configurable: true }),
      }),
    );
  }
  return plan;
}
