// The package's elements: a graph file imports them like pktgraph's own.
export { __NAME__ } from './src/__NAME__.js';
