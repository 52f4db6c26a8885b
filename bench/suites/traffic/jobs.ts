// A unit of the traffic suite's work: one labelled measurement giving one or more results.
import type { CaseResult } from '../../lib.js';

export interface Job {
  label: string;
  /** `step` reports progress within the job (shown beside the label). */
  run(step: (detail: string) => void): Promise<CaseResult | CaseResult[]>;
}
