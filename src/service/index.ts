// The engine service: virtual routers in one engine, the operations on them (api.ts), the
// `pktgraph serve` process (serve.ts), its TypeScript client (client.ts) and the router file
// of vr.save and vr.restore (routerFile.ts).
export { operations, operationsDoc, checkRequest, RouterName, RouterSource, RouterState, RouterInfo, RouterDetail } from './api.js';
export type { OperationName, OperationRequest, OperationAnswer, RouterSourceT, RouterStateT, RouterInfoT, RouterDetailT } from './api.js';
export { VirtualRouters, ServiceError } from './routers.js';
export { serveEngine, handleServiceRequest, type ServeOptions, type ServeResult } from './serve.js';
export { Engine, EngineError } from './client.js';
export { RouterManifest, ROUTER_FILE_MAGIC, ROUTER_FILE_VERSION, decodeRouterFile, encodeRouterFile, type RouterManifestT } from './routerFile.js';
