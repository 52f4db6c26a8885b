// The plan: the only contract between TypeScript and the native engine.
// Its schema is documented in docs/plan.md; bump PLAN_VERSION on any incompatible change
// (the engine refuses plans of another version).
import type { AddressKind } from '../graph/types.js';

export const PLAN_VERSION = 3;
export const PLAN_FORMAT = 'pktgraph-plan';

export type PortProcessing = 'push' | 'pull';

export interface PlanElement {
  name: string;
  class: string;
  config: Record<string, unknown>;
  inputs: PortProcessing[];
  outputs: PortProcessing[];
  thread?: number;
  site?: string;
}

/** One config field's type and range, from the descriptor's schema: what the native getters
 *  (`conf.integer("capacity")`) and write handlers check a value against. */
export interface PlanField {
  /** JSON type, or the types of a union ('integer', 'number', 'string', 'boolean', 'array', 'object'). */
  type: string | string[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  /** The strings a string field may be (an enum, or a union's string literals). */
  values?: string[];
  /** An array field's (or a union's array branch's) item count bounds and its items' facts
   *  (VLANClassifier's `vlans`: items are VLAN ids 0 to 4095, or arrays of them). */
  minItems?: number;
  maxItems?: number;
  items?: PlanField;
  /** An object field's (or an array's object items') properties, each with its facts in the
   *  same form (Classifier's `clauses`: each clause's offset, value and mask bytes). */
  properties?: Record<string, PlanField>;
  /** An address field's kind (src/graph/types.ts): the plan holds its typed form (for an array
   *  field, each item's), which the native getters of that kind read (docs/plan.md). */
  kind?: AddressKind;
}

/** The descriptor's facts the native side needs, once per element class used in the graph. */
export interface PlanClass {
  inputs: string;
  outputs: string;
  processing: string;
  /** Counter names in declared order: the native element's counter indexes. */
  counters: string[];
  /** Present (true) when the descriptor sets endsPushCycles. */
  endsPushCycles?: true;
  /** Present (true) when the descriptor sets hopLimited: it ends push cycles by a hop count. */
  hopLimited?: true;
  /** Present (true) when the descriptor sets copiesPackets: a push cycle through it must pass
   *  an element that ends push cycles and is not hopLimited. */
  copiesPackets?: true;
  /** An out-of-tree class: the absolute path of the plugin library that holds its C++ half,
   *  which the engine loads before building the graph (the descriptor's `library`). */
  library?: string;
  fields: Record<string, PlanField>;
}

export interface PlanConnection {
  from: string;
  fromPort: number;
  to: string;
  toPort: number;
}

export interface Plan {
  format: typeof PLAN_FORMAT;
  version: number;
  name: string;
  params: Record<string, string | number | boolean>;
  classes: Record<string, PlanClass>;
  elements: PlanElement[];
  connections: PlanConnection[];
}
