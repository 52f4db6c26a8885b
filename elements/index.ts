// Every built-in element's descriptor (and typed constructor). Importing this module
// registers them all. One line per element, grouped as the folders are.
export { Counter } from './standard/Counter.js';
export { Discard } from './standard/Discard.js';
export { InfiniteSource } from './standard/InfiniteSource.js';

export { Queue } from './queue/Queue.js';
export { Unqueue } from './queue/Unqueue.js';
