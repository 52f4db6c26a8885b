// How an operation's request maps onto HTTP (path fields, query or body) and the OpenAPI 3.1
// document served at /v1/openapi.json: both made from the operations table in api.ts, so an
// operation added there appears in the API and its document with nothing else to write.
import type { TSchema } from 'typebox';
import { operations, httpRoute, type OperationName } from './api.js';

type ObjectSchema = TSchema & { properties?: Record<string, TSchema>; required?: string[] };

/** The request fields an operation's path carries (`/routers/:name` -> ['name']). */
export const pathFields = (op: OperationName): string[] => [...httpRoute(op).path.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1]);

/** Whether the other fields travel in the query (GET, DELETE) rather than a JSON body. */
export const inQuery = (op: OperationName): boolean => ['GET', 'DELETE'].includes(httpRoute(op).method);

/** The URL path (under /v1) and the query or body of a request: what the HTTP client sends. */
export function httpRequest(op: OperationName, args: Record<string, unknown>): { method: string; path: string; query: URLSearchParams; body?: Record<string, unknown> } {
  const route = httpRoute(op);
  const fields = new Set(pathFields(op));
  const path = '/v1' + route.path.replace(/:([A-Za-z_]+)/g, (_, f: string) => encodeURIComponent(String(args[f] ?? '')));
  const rest = Object.fromEntries(Object.entries(args).filter(([k, v]) => !fields.has(k) && v !== undefined));
  const query = new URLSearchParams();
  if (inQuery(op)) {
    for (const [k, v] of Object.entries(rest)) query.set(k, typeof v === 'string' ? v : JSON.stringify(v));
    return { method: route.method, path, query };
  }
  return { method: route.method, path, query, body: rest };
}

const ErrorAnswer = {
  type: 'object',
  required: ['error'],
  properties: { error: { type: 'string', description: 'one sentence: what was refused and what to do; nothing was changed' } },
};

/** The OpenAPI 3.1 document of the HTTP API (its schemas are the typebox schemas, which are JSON Schema). */
export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of Object.keys(operations) as OperationName[]) {
    const o = operations[op];
    const route = httpRoute(op);
    const request = o.request as ObjectSchema;
    const props = request.properties ?? {};
    const required = new Set(request.required ?? []);
    const fields = pathFields(op);
    const rest = Object.keys(props).filter((k) => !fields.includes(k));
    const parameters = [
      ...fields.map((f) => ({ name: f, in: 'path', required: true, schema: props[f] })),
      ...(inQuery(op) ? rest.map((f) => ({ name: f, in: 'query', required: required.has(f), schema: props[f] })) : []),
    ];
    const body = !inQuery(op) && rest.length
      ? {
          required: rest.some((f) => required.has(f)),
          content: {
            'application/json': {
              schema: {
                type: 'object',
                additionalProperties: false,
                properties: Object.fromEntries(rest.map((f) => [f, props[f]])),
                required: rest.filter((f) => required.has(f)),
              },
            },
          },
        }
      : undefined;
    const url = '/v1' + route.path.replace(/:([A-Za-z_]+)/g, '{$1}');
    paths[url] ??= {};
    paths[url][route.method.toLowerCase()] = {
      operationId: op,
      summary: o.doc,
      tags: [route.group],
      'x-pktgraph-role': route.role,
      ...(route.router ? { 'x-pktgraph-router-field': route.router } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(body ? { requestBody: body } : {}),
      responses: {
        200: { description: 'done', content: { 'application/json': { schema: o.answer } } },
        default: { description: 'refused (400 invalid, 401 no valid token, 403 not allowed, 404 unknown or not yours, 409 conflict, 413 too large, 429 too many failed logins)', content: { 'application/json': { schema: ErrorAnswer } } },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'pktgraph engine', version, description: 'The operations of a `pktgraph serve` engine: virtual routers, their graphs, handlers and counters, users and the audit log. See docs/management.md.' },
    tags: [
      { name: 'performance', description: 'counters and handler readings' },
      { name: 'fault', description: 'states, lifecycle, the engine and the audit log' },
      { name: 'topology', description: 'virtual routers, their graphs and configuration' },
      { name: 'management', description: 'users, tokens and tenants' },
    ],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a token from `pktgraph user create` (pgt_...)' } } },
    security: [{ bearer: [] }],
    paths,
  };
}
