// The control socket: server (started by `pktgraph run`), client and socket paths.
export { startControlServer, handleRequest, type ControlServer } from './server.js';
export { controlRequest, probeSocket, NoEngineError } from './client.js';
export { controlPath, controlDir, ensureControlDir, checkSocketDir, DEFAULT_CONTROL_NAME, MAX_SOCKET_PATH } from './path.js';
export type { ControlRequest, ControlResponse, ControlOp } from './protocol.js';
