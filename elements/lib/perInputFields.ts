// A setting every input of a scheduler has (DRRSched's quantum, WFQSched's weight): one field
// for all inputs and a list overriding it input by input, checked against the port count at
// compile time and filled in for the plan, so the native side reads only the list (byte_sched.h).
import { Type, type TArray, type TInteger, type TOptional } from 'typebox';
import type { DerivedHandler, HandlerDoc } from '../../src/graph/descriptor.js';

/** The buffers quota of a byte scheduler (DRRSched, WFQSched): the packets each input has pulled
 *  ahead of its turn wait in it, at most 32 per input (byte_sched.h's kCapacity). */
export function perInputQuotas(s: PerInputSpec) {
  return { buffers: (c: Record<string, unknown>) => 32 * ((c[s.list] as unknown[] | undefined)?.length ?? 0) };
}

export interface PerInputSpec<One extends string = string, List extends string = string> {
  one: One; // the field every input takes: 'quantum'
  list: List; // the list, one entry per input: 'quanta'
  minimum: number;
  maximum: number;
  default: number;
  description: string; // what one value means: 'Bytes an input may send per round.'
}

/** The two config fields: `one` (the default for every input) and `list` (one per input; [] for none). */
export function perInputFields<One extends string, List extends string>(s: PerInputSpec<One, List>) {
  const range = { minimum: s.minimum, maximum: s.maximum };
  return {
    [s.one]: Type.Optional(Type.Integer({ ...range, default: s.default, description: `${s.description} Every input's, unless '${s.list}' is given.` })),
    [s.list]: Type.Optional(
      Type.Array(Type.Integer(range), {
        default: [],
        maxItems: 65536,
        description: `One value per input, in input order, instead of '${s.one}'; [] (the default): every input takes '${s.one}'.`,
      }),
    ),
  } as { [K in One]: TOptional<TInteger> } & { [K in List]: TOptional<TArray<TInteger>> };
}

/** The compile-time check: a list given has one entry per input. */
export function perInputCheck(s: PerInputSpec, config: Record<string, unknown>, inputs: number): string | undefined {
  const values = config[s.list] as number[];
  if (values.length && values.length !== inputs)
    return `config field '${s.list}' has ${values.length} entr${values.length === 1 ? 'y' : 'ies'} but the element has ${inputs} input(s): give one per input, or leave '${s.list}' out for '${s.one}' on every input`;
  return undefined;
}

/** The plan's list: the one given, or `one` repeated for every input. */
export function perInputPlan(s: PerInputSpec, config: Record<string, unknown>, inputs: number): Record<string, number[]> {
  const values = config[s.list] as number[];
  return { [s.list]: values.length ? values : Array.from({ length: inputs }, () => config[s.one] as number) };
}

/** What a byte scheduler counts, in all and per input (byte_sched.h's add_served_handlers): its
 *  counters, the per-input count and reset handlers, and the derived rates. */
export const servedCounters = { packets: 'packets sent, from every input', bytes: 'bytes sent, from every input' };
export const servedHandlers: Record<string, HandlerDoc> = {
  input_packets: { doc: 'packets sent from each input, separated by spaces', read: true },
  input_bytes: { doc: 'bytes sent from each input, separated by spaces', read: true },
  reset: { doc: 'zero the counts (per input and in all)', write: true },
};
export const servedDerived: Record<string, DerivedHandler> = {
  rate: { doc: 'packets per second over the last sampling interval', read: (c) => String(c.rate('packets') ?? 0) },
  byte_rate: { doc: 'bytes per second over the last sampling interval', read: (c) => String(c.rate('bytes') ?? 0) },
};
