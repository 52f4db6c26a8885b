// The plan: the only contract between TypeScript and the native engine.
// Its schema is documented in docs/plan.md; bump PLAN_VERSION on any incompatible change
// (the engine refuses plans of another version).
export const PLAN_VERSION = 1;
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
  elements: PlanElement[];
  connections: PlanConnection[];
}
