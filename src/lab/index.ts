// Labs: network namespaces and veth pairs for tests and experiments (see lab.ts).
export { createLab, labAvailable, labObjects, sweep, checkLabAddress, Lab, LabError, LAB_PREFIX } from './lab.js';
export type { Topology, LabHost, LabLink, LabRoute, LinkInfo, ExecResult, LabOptions } from './lab.js';
export { ScenarioLab, labStateDir, scenarioDir, type Changes } from './scenario.js';
export { loadScenario, scenarioJsonSchema, ScenarioError, IMPAIRMENT_FIELDS, type ScenarioT, type NodeT, type NetT, type ImpairmentT } from './scenario-schema.js';
