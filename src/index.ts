// pktgraph's public API: the graph language, every built-in element, the compiler and
// the runtime. Graph files import from 'pktgraph'.
export * from '../elements/index.js';
export { graph, compound, GraphError, isGraphDefinition } from './graph/graph.js';
export type { GraphDefinition, NodeOptions, ElementNode, OutputPort, InputPort, CompoundIO, ParamValue } from './graph/graph.js';
export { defineElement, findDescriptor, allDescriptors, pluginLibrary } from './graph/descriptor.js';
export type { ElementDescriptor, ElementConstructor, CounterView } from './graph/descriptor.js';
export * as schema from './graph/types.js';
export { compile, compileBuilder } from './compiler/compile.js';
export { toDot } from './compiler/dot.js';
export { parseFilter, FilterSyntaxError, compileRules, serializeProgram, classifierRules, filterRules } from './filter/index.js';
export { PLAN_VERSION, PLAN_FORMAT } from './compiler/plan.js';
export type { Plan, PlanElement, PlanConnection } from './compiler/plan.js';
export { Runtime, RunningGraph, HandlerError } from './runtime/runtime.js';
export type { EngineOptions, GraphProfile, ElementProfile } from './runtime/runtime.js';
export { Type } from 'typebox';
export { runPlan } from './runtime/run.js';
export type { RunOptions, RunSummary, TickInfo } from './runtime/run.js';
export * from './control/index.js';
export * from './lab/index.js';
export { ipRouter, buildRouter } from './recipes/router.js';
export type { RouterDescription, RouterInterface, RouterOptions, RouterNat, RouterNatForward } from './recipes/router.js';
export * from './service/index.js';
