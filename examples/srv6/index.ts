// The SRv6 plugin's elements: import them into a graph file like the built-in ones.
export { SRv6Encap } from './src/SRv6Encap.js';
export { SRv6LocalSIDs } from './src/SRv6LocalSIDs.js';
