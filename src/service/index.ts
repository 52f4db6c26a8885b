// The engine service: virtual routers in one engine, the operations on them (api.ts), the
// `pktgraph serve` process (serve.ts), its TypeScript client (client.ts) and the router file
// of vr.save and vr.restore (routerFile.ts).
export { operations, operationsDoc, checkRequest, httpRoute, RouterName, RouterSource, RouterState, RouterInfo, RouterDetail, type HttpRoute } from './api.js';
export type { OperationName, OperationRequest, OperationAnswer, RouterSourceT, RouterStateT, RouterInfoT, RouterDetailT } from './api.js';
export { VirtualRouters, ServiceError, HTTP_STATUS, type RefusalKind } from './routers.js';
export { serveEngine, handleServiceRequest, type ServeOptions, type ServeResult } from './serve.js';
export { Engine, EngineError, remoteEngine, type RemoteEngine } from './client.js';
// The management layer and the HTTP API (docs/management.md); the HTTP module (fastify) loads
// only when an API is started, so importing pktgraph stays light.
export { Management, LOCAL_OWNER, type Origin } from './access.js';
export { UserStore, type Principal } from './users.js';
export { AuditLog } from './audit.js';
export { openApiDocument } from './openapi.js';
export type { HttpApi, HttpContext, HttpPlugin, HttpOptions } from './http.js';
export const startHttpApi = async (...args: Parameters<typeof import('./http.js').startHttpApi>) => (await import('./http.js')).startHttpApi(...args);
// Monitoring (metrics, events, the dashboard): a plugin of the HTTP API; prom-client loads with it.
export type { ObservePlugin, ObserveOptions } from './observe.js';
export type { MonitorOptions } from './events.js';
export { monitoring, EngineEvent, RouterRates, Session, type MonitoringName, type EngineEventT, type RouterRatesT } from './api.js';
export const observe = async (...args: Parameters<typeof import('./observe.js').observe>) => (await import('./observe.js')).observe(...args);
export { RouterManifest, ROUTER_FILE_MAGIC, ROUTER_FILE_VERSION, decodeRouterFile, encodeRouterFile, type RouterManifestT } from './routerFile.js';
