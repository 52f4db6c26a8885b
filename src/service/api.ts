// The operations of a pktgraph engine service, declared once: each operation's request and
// answer as typebox schemas with their documentation, and how the HTTP API serves it (method,
// path, group, the role it needs, the request field naming its router). The control socket
// and the HTTP API (http.ts: its routes and /v1/openapi.json are made from this table) validate
// requests against these (checkRequest), the management layer (access.ts) authorises them from
// the `http` entry, and the TypeScript client (Engine) and the CLI are typed from them;
// `operationsDoc()` prints them (the list in docs/virtual-routers.md, kept in step by
// test/vrouter.test.ts).
import { Type, type Static, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { QUOTA_DOCS, QUOTA_NAMES, type QuotaName } from './quotas.js';
import { Value } from 'typebox/value';
import { PORT_NAME_PATTERN } from '../../elements/io/PortDemux.js';

/** A virtual router's name: also its graph's name in the engine and the prefix of its elements (VR/element). */
const ROUTER_NAME_RULE = "1 to 64 letters, digits, '_' or '-' (no '/', ':' or '.': they separate router, element and handler)";
export const RouterName = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: ROUTER_NAME_RULE });
/** A tenant's or a user's name: the same rule as a router's. */
export const TenantName = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: "a tenant: 1 to 64 letters, digits, '_' or '-'" });
export const UserName = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: "a user: 1 to 64 letters, digits, '_' or '-'" });
/** admin: everything (ports, users, tenants, creating routers and assigning them); operator: lifecycle, configuration and routes of its tenant's routers; viewer: reading its tenant's routers. */
export const Role = Type.Union([Type.Literal('admin'), Type.Literal('operator'), Type.Literal('viewer')]);

export const ParamValue = Type.Union([Type.String(), Type.Number(), Type.Boolean()]);

/** Where a virtual router's graph comes from. */
export const RouterSource = Type.Union([
  Type.Object(
    {
      file: Type.String({ minLength: 1, description: 'graph file (.ts or .js) whose default export is a graph, as `pktgraph run` takes it; an absolute path (the engine resolves a relative one against its own directory)' }),
      params: Type.Optional(Type.Record(Type.String(), ParamValue, { description: 'graph parameters, as `-p key=value`' })),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      recipe: Type.Literal('ipRouter', { description: 'a router built by the ipRouter recipe (`pktgraph recipes ipRouter`)' }),
      description: Type.Record(Type.String(), Type.Unknown(), { description: "the recipe's RouterDescription (interfaces, routes, ...)" }),
    },
    { additionalProperties: false },
  ),
]);

/**
 * A virtual router's life: `defined` (compiled and checked; holds nothing in the engine),
 * `running` (its graph loaded and its tasks on the workers), `stopped` (its graph loaded but
 * off the workers, but its device receivers, which drop and count what arrives as
 * `drops_stopped`: state, counters and queued packets kept), `failed` (the engine refused to
 * load its graph; `error` says why; start tries again).
 */
export const RouterState = Type.Union([Type.Literal('defined'), Type.Literal('running'), Type.Literal('stopped'), Type.Literal('failed')]);

/**
 * A virtual router's quotas: the most it may hold of each table and buffer a tenant can fill,
 * so that hitting one hurts only that tenant. Elements declare what they hold of each in their
 * descriptors (`quotas`); a plan whose elements could hold more is refused before it loads.
 */
const quotaField = (description: string) => Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 2 ** 32 }), Type.Null()], { description: `${description}; null: no limit` }));
const quotaFields = {
  routes: quotaField(QUOTA_DOCS.routes),
  nat: quotaField(QUOTA_DOCS.nat),
  neighbours: quotaField(QUOTA_DOCS.neighbours),
  buffers: quotaField(QUOTA_DOCS.buffers),
} satisfies Record<QuotaName, unknown>;
export const Quotas = Type.Object(quotaFields, { additionalProperties: false });
export { QUOTA_NAMES, type QuotaName };

/** One quota: what the router holds (or has reserved, by its configuration) against its limit. */
export const QuotaUse = Type.Object({
  used: Type.Integer({ description: 'routes in its tables now (routes), or what its configuration reserves (nat, neighbours, buffers)' }),
  limit: Type.Union([Type.Integer(), Type.Null()], { description: 'the quota; null: no limit' }),
});

export const RouterInfo = Type.Object({
  name: RouterName,
  state: RouterState,
  source: RouterSource,
  graph: Type.String({ description: 'the name the graph gives itself' }),
  elements: Type.Integer({ description: 'number of elements' }),
  created: Type.String({ description: 'when it was created (ISO 8601)' }),
  tenant: Type.Optional(TenantName),
  error: Type.Optional(Type.String({ description: 'why it failed (state failed)' })),
  pending: Type.Optional(
    Type.Object(
      {
        deadline: Type.Union([Type.String(), Type.Null()], { description: 'when the engine rolls it back unless confirmed (ISO 8601); null: its rollback by deadline failed (rollbackError), so it waits for vr.confirm or vr.rollback' }),
        rollbackError: Type.Optional(Type.String({ description: 'why the rollback by deadline failed' })),
      },
      { description: 'a reconfiguration waiting for confirmation (vr.reconfigure with `confirm`): absent when none is' },
    ),
  ),
});

export const RouterDetail = Type.Object({
  ...RouterInfo.properties,
  elementList: Type.Array(Type.Object({ name: Type.String(), class: Type.String() }), { description: 'every element, addressed as VR/element' }),
  heldPackets: Type.Union([Type.Integer(), Type.Null()], { description: 'packets its elements hold (queues), null while it is not loaded' }),
  quotas: Type.Record(Type.String(), QuotaUse, { description: 'each quota (routes, nat, neighbours, buffers): use against limit' }),
});

export const PoolStats = Type.Object({
  capacity: Type.Integer(),
  available: Type.Integer({ description: 'free buffers (exact while the workers are idle)' }),
  bufferSize: Type.Integer(),
});

/** What a hot reconfiguration of a loaded graph did (RunningGraph.replace). */
export const SwapInfo = Type.Object({
  swapNs: Type.Integer({ description: 'how long the workers were kept off the graph, ns (an upper bound on the forwarding gap)' }),
  taken: Type.Integer({ description: "elements of the new graph that took over an old one's counters and state" }),
  dropped: Type.Array(Type.Object({ element: Type.String(), packets: Type.Integer() }), {
    description: 'per old element, packets it still held that no element of the new graph took over, freed (none where packets wait only in classes that carry them)',
  }),
});

const NameRequest = Type.Object({ name: RouterName }, { additionalProperties: false });
const ElementRequest = { name: RouterName, element: Type.String({ minLength: 1, description: 'the element, as the graph names it (no VR/ prefix)' }) };
const HandlerRequest = { ...ElementRequest, handler: Type.String({ minLength: 1, description: "the handler's name" }) };

/** Which FIB table of a router a route request addresses. */
const RouteTarget = {
  name: RouterName,
  table: Type.Optional(Type.String({ minLength: 1, description: "the FIB element (IPLookup or LookupIP6Route) by name; default: the router's only one for the routes' family" })),
  family: Type.Optional(Type.Union([Type.Literal('ipv4'), Type.Literal('ipv6')], { description: 'the family whose table is meant, when the routes do not say it (route.show, route.load)' })),
};
const RouteLines = Type.Array(Type.String({ minLength: 1 }), {
  minItems: 1,
  description: "routes as IPLookup takes them: 'PREFIX OUTPUT', 'PREFIX GATEWAY OUTPUT', 'PREFIX [via GW] [dev OUTPUT]' or multipath",
});
const RouteText = Type.Optional(
  Type.String({
    minLength: 1,
    description: "instead of the list: the same as one string, one per line ('#' comments): much cheaper to send (and to check) than a list of a million strings",
  }),
);
const RouteChange = Type.Object({
  name: RouterName,
  table: Type.String({ description: 'the FIB element changed' }),
  changed: Type.Optional(Type.Integer({ description: 'routes (or prefixes) the request listed (not for `text` or route.load)' })),
  count: Type.Integer({ description: 'routes in the table afterwards' }),
  ns: Type.Integer({ description: 'time the engine took to check, apply and publish the change, ns' }),
});

/** A shared port's name (FromPort and ToPort name it; PortDemux.ts declares the pattern). */
const PORT_NAME_RULE = "1 to 32 letters, digits, '_' or '-'";
export const PortName = Type.String({ pattern: PORT_NAME_PATTERN, description: PORT_NAME_RULE });
const BitRate = (description: string) => Type.Number({ minimum: 0, maximum: 1e12, description });
const ShareUnit = Type.Union([Type.Literal('bits'), Type.Literal('packets')], { description: "what guarantee and limit count: 'bits' (bits/s) or 'packets' (packets/s)" });

/** A virtual router's bandwidth share on one port (its class in the port's HTBSched). */
export const PortShare = Type.Object({
  unit: ShareUnit,
  guarantee: BitRate('guaranteed rate, bits/s or packets/s (HTB rate; 0: none), kept under contention'),
  limit: BitRate("the most it may send, bits/s or packets/s (HTB ceil; 0: the port's rate), never exceeded"),
  weight: Type.Integer({ minimum: 1, maximum: 10000, description: "its share of the port's spare capacity, against the other routers' weights" }),
});

export const PortAttachmentInfo = Type.Object({
  router: RouterName,
  vlan: Type.Union([Type.Integer(), Type.Null()], { description: 'the VLAN its FromPort claims (0: untagged), null when it only sends on the port' }),
  macs: Type.Array(Type.String(), { description: 'the MAC addresses it claims ([]: every unicast frame of its VLAN nobody else claims)' }),
  ring: Type.Union([Type.Object({ used: Type.Integer(), capacity: Type.Integer(), full: Type.Integer({ description: 'frames dropped because the ring was full' }) }), Type.Null()], {
    description: 'its ingress ring, null when it only sends',
  }),
  share: Type.Union([Type.Object({ ...PortShare.properties, sent: Type.Object({ packets: Type.Integer(), bytes: Type.Integer() }), backlog: Type.Integer(), drops: Type.Integer() }), Type.Null()], {
    description: 'its egress class: the share and what it sent, waits and dropped; null when it only receives',
  }),
});

export const PortInfo = Type.Object({
  name: PortName,
  device: Type.String(),
  kind: Type.Union([Type.Literal('device'), Type.Literal('tap')]),
  rate: Type.Number({ description: "the port's rate, bits/s: what the guarantees share" }),
  attachments: Type.Array(PortAttachmentInfo),
  counters: Type.Object(
    {
      received: Type.Integer({ description: 'frames received from the device' }),
      delivered: Type.Integer({ description: "frames (and broadcast copies) put on routers' rings" }),
      sent: Type.Integer({ description: 'frames the scheduler sent to the device' }),
      unclaimed: Type.Record(Type.String(), Type.Integer(), { description: 'frames nobody claimed, dropped, by reason: vlan, mac, short' }),
      ringFull: Type.Integer({ description: "frames dropped because a router's ring was full" }),
    },
  ),
});

const PortAddRequest = Type.Object(
  {
    name: PortName,
    device: Type.String({ minLength: 1, maxLength: 15, description: 'the interface (AF_PACKET), or with tap the TAP device the engine creates' }),
    tap: Type.Optional(Type.Boolean({ description: 'create (or attach to) a TAP device instead of opening an existing interface' })),
    rate: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1e12, description: "the port's rate in bits/s, shared by the routers' guarantees (default 1e10)" })),
  },
  { additionalProperties: false },
);

export const UserInfo = Type.Object({
  name: UserName,
  role: Role,
  tenant: Type.Optional(TenantName),
  created: Type.String({ description: 'when it was created (ISO 8601)' }),
  tokens: Type.Integer({ description: 'tokens it holds' }),
});
const NewToken = Type.String({ description: 'the bearer token (`Authorization: Bearer TOKEN`): shown once, stored only hashed' });

/** One audit log line (audit.ts). */
export const AuditEntry = Type.Object({
  time: Type.String({ description: 'ISO 8601' }),
  who: Type.String({ description: "the user; 'local' for the owner-only control socket; '-' when no valid token was given; 'engine' for what the engine did by itself (a rollback by deadline)" }),
  role: Type.Union([Role, Type.Null()]),
  tenant: Type.Optional(TenantName),
  what: Type.String({ description: 'the operation (or the HTTP request when it named none)' }),
  target: Type.Optional(Type.String({ description: 'the router or user it named' })),
  result: Type.Union([Type.Literal('ok'), Type.Literal('refused')]),
  status: Type.Optional(Type.Integer({ description: 'the HTTP status of a refusal' })),
  error: Type.Optional(Type.String({ description: 'why it was refused (or why the engine could not do what it meant to)' })),
  reason: Type.Optional(Type.String({ description: 'why the engine acted by itself' })),
  via: Type.Union([Type.Literal('http'), Type.Literal('control'), Type.Literal('engine')]),
  source: Type.Optional(Type.String({ description: "the client's address ('unix' for the local socket)" })),
});

/**
 * How the HTTP API serves an operation and who may run it. `path` is under /v1; `:field`
 * segments fill those request fields, the others come from the query (GET, DELETE) or the JSON
 * body (POST, PUT); a GET changes nothing, every other method is a change (audited). `role`:
 * the least role that may run it (admin > operator > viewer). `router`: the request field that
 * names the virtual router it acts on, whose tenant must be the caller's (admins: any router).
 * `list`: its answer is a list of routers, filtered to the caller's tenant.
 */
export interface HttpRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  group: 'performance' | 'fault' | 'topology' | 'management';
  role: RoleT;
  router?: string;
  list?: boolean;
}

/** Who may replace a router's graph; whoever may, may also confirm or roll back the change. */
const RECONFIGURE_ROLE = 'admin';

/** Every operation: its request, its answer, what it does and how HTTP serves it. */
export const operations = {
  'vr.list': {
    doc: 'every virtual router, in creation order',
    request: Type.Object({}, { additionalProperties: false }),
    answer: Type.Array(RouterInfo),
    http: { method: 'GET', path: '/routers', group: 'topology', role: 'viewer', list: true },
  },
  'vr.show': {
    doc: 'one virtual router, with its elements',
    request: NameRequest,
    answer: RouterDetail,
    http: { method: 'GET', path: '/routers/:name', group: 'topology', role: 'viewer', router: 'name' },
  },
  'vr.create': {
    doc: "define a virtual router: its graph is loaded and compiled first, and a graph that fails to compile or holds more than its quotas changes nothing; `quotas` default to the engine's (`pktgraph serve --quota`); `start` also starts it; `tenant` gives it to a tenant",
    request: Type.Object(
      { name: RouterName, source: RouterSource, start: Type.Optional(Type.Boolean()), tenant: Type.Optional(TenantName), quotas: Type.Optional(Quotas) },
      { additionalProperties: false },
    ),
    answer: RouterInfo,
    http: { method: 'POST', path: '/routers', group: 'topology', role: 'admin', router: 'name' },
  },
  'vr.assign': {
    doc: "give a virtual router to a tenant (null: to none, admins only); the tenant's users see and manage it from then on",
    request: Type.Object({ name: RouterName, tenant: Type.Union([TenantName, Type.Null()]) }, { additionalProperties: false }),
    answer: RouterInfo,
    http: { method: 'PUT', path: '/routers/:name/tenant', group: 'topology', role: 'admin', router: 'name' },
  },
  'vr.start': {
    doc: 'start a defined, failed or stopped virtual router: load its graph into the engine (or put it back on the workers)',
    request: NameRequest,
    answer: RouterInfo,
    http: { method: 'POST', path: '/routers/:name/start', group: 'fault', role: 'operator', router: 'name' },
  },
  'vr.stop': {
    doc: "stop a running virtual router: its tasks leave the workers (its sources stop) but its devices' receivers (FromDevice, Tap), which drop and count what arrives (drops_stopped), so nothing stale is forwarded at the start; tables, counters and queued packets are kept",
    request: NameRequest,
    answer: RouterInfo,
    http: { method: 'POST', path: '/routers/:name/stop', group: 'fault', role: 'operator', router: 'name' },
  },
  'vr.reconfigure': {
    doc: "replace a virtual router's graph: the new one is compiled and checked first (a compile error or an engine refusal changes nothing); a running or stopped router's graph is swapped between batches, elements with the same name and class keeping their counters and state, and it stays running or stopped; a defined or failed one just takes the new graph (a failed one becomes defined). With `confirm`, the change waits for vr.confirm: unless it arrives within that many seconds the engine puts the previous graph back by itself (vr.rollback); while one waits, another reconfiguration of the router is refused",
    request: Type.Object(
      {
        name: RouterName,
        source: RouterSource,
        confirm: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 86400, description: 'seconds to confirm the change in (vr.confirm) before the engine rolls it back by itself' })),
      },
      { additionalProperties: false },
    ),
    answer: Type.Object({
      ...RouterInfo.properties,
      swap: Type.Union([SwapInfo, Type.Null()], { description: 'what the swap did, null when the router had no graph in the engine' }),
    }),
    // Admins only: a graph chooses the devices and files the engine opens (and a graph file is code it runs).
    http: { method: 'PUT', path: '/routers/:name/graph', group: 'topology', role: RECONFIGURE_ROLE, router: 'name' },
  },
  'vr.confirm': {
    doc: 'confirm a reconfiguration waiting for confirmation (vr.reconfigure with `confirm`): it stays, and its deadline is gone; refused (409) when none waits',
    request: NameRequest,
    answer: RouterInfo,
    http: { method: 'POST', path: '/routers/:name/confirm', group: 'topology', role: RECONFIGURE_ROLE, router: 'name' },
  },
  'vr.rollback': {
    doc: 'roll back a reconfiguration waiting for confirmation now, as its deadline would: the previous graph swapped back in (counters, tables and queued packets carried over as by any reconfiguration); refused (409) when none waits',
    request: NameRequest,
    answer: Type.Object({
      ...RouterInfo.properties,
      swap: Type.Union([SwapInfo, Type.Null()], { description: 'what the swap back did, null when the router had no graph in the engine' }),
    }),
    http: { method: 'POST', path: '/routers/:name/rollback', group: 'topology', role: RECONFIGURE_ROLE, router: 'name' },
  },
  'vr.delete': {
    doc: 'delete a virtual router in any state: its graph leaves the engine and every packet it held goes back to the pool',
    request: NameRequest,
    answer: Type.Object({ name: RouterName, releasedPackets: Type.Integer({ description: 'packets it held, now back in the pool' }), pool: PoolStats }),
    http: { method: 'DELETE', path: '/routers/:name', group: 'topology', role: 'admin', router: 'name' },
  },
  'vr.graph': {
    doc: "a virtual router's graph as Graphviz DOT (`dot -Tsvg` draws it)",
    request: NameRequest,
    answer: Type.Object({ dot: Type.String() }),
    http: { method: 'GET', path: '/routers/:name/graph', group: 'topology', role: 'viewer', router: 'name' },
  },
  'vr.counters': {
    doc: "a running or stopped virtual router's counters, per element (or of one `element`), as decimal strings (they are 64-bit)",
    request: Type.Object({ name: RouterName, element: Type.Optional(ElementRequest.element) }, { additionalProperties: false }),
    answer: Type.Record(Type.String(), Type.Union([Type.String(), Type.Record(Type.String(), Type.String())])),
    http: { method: 'GET', path: '/routers/:name/counters', group: 'performance', role: 'viewer', router: 'name' },
  },
  'handler.list': {
    doc: "the handlers of a loaded virtual router's element: name, readable, writable, documentation",
    request: Type.Object(ElementRequest, { additionalProperties: false }),
    answer: Type.Array(Type.Object({ name: Type.String(), read: Type.Boolean(), write: Type.Boolean(), doc: Type.String() })),
    http: { method: 'GET', path: '/routers/:name/elements/:element/handlers', group: 'topology', role: 'viewer', router: 'name' },
  },
  'handler.read': {
    doc: "read a handler of a loaded virtual router's element (as `pktgraph read VR/ELEMENT.HANDLER`)",
    request: Type.Object(HandlerRequest, { additionalProperties: false }),
    answer: Type.String(),
    http: { method: 'GET', path: '/routers/:name/elements/:element/handlers/:handler', group: 'performance', role: 'viewer', router: 'name' },
  },
  'handler.write': {
    doc: "write a handler of a loaded virtual router's element (as `pktgraph write VR/ELEMENT.HANDLER VALUE`)",
    request: Type.Object({ ...HandlerRequest, value: Type.Optional(Type.String({ description: "the value (default: '')" })) }, { additionalProperties: false }),
    answer: Type.Object({}),
    http: { method: 'PUT', path: '/routers/:name/elements/:element/handlers/:handler', group: 'topology', role: 'operator', router: 'name' },
  },
  'vr.quota': {
    doc: "change a virtual router's quotas (the fields given; null lifts one): refused, nothing changed, when it holds more than a new quota already (routes in its tables, or what its graph reserves)",
    request: Type.Object({ name: RouterName, quotas: Quotas }, { additionalProperties: false }),
    answer: Type.Record(Type.String(), QuotaUse),
    http: { method: 'PUT', path: '/routers/:name/quotas', group: 'management', role: 'admin', router: 'name' },
  },
  'route.add': {
    doc: 'add routes for new prefixes to a running or stopped router\'s FIB table (`routes`, or `text`): a prefix already there is refused, naming it; all or nothing, visible to the data path at one instant',
    request: Type.Object({ ...RouteTarget, routes: Type.Optional(RouteLines), text: RouteText }, { additionalProperties: false }),
    answer: RouteChange,
    http: { method: 'POST', path: '/routers/:name/routes', group: 'topology', role: 'operator', router: 'name' },
  },
  'route.replace': {
    doc: 'add routes, each replacing the route of its prefix if there is one; all or nothing, visible at one instant',
    request: Type.Object({ ...RouteTarget, routes: Type.Optional(RouteLines), text: RouteText }, { additionalProperties: false }),
    answer: RouteChange,
    http: { method: 'PUT', path: '/routers/:name/routes', group: 'topology', role: 'operator', router: 'name' },
  },
  'route.del': {
    doc: 'remove the routes of prefixes: a prefix with no route is refused, naming it; all or nothing, visible at one instant',
    request: Type.Object(
      { ...RouteTarget, prefixes: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: "prefixes: 'ADDRESS/LEN', a bare address or 'default'" })), text: RouteText },
      { additionalProperties: false },
    ),
    answer: RouteChange,
    // POST: a DELETE's fields come from the query, too small for a bulk list.
    http: { method: 'POST', path: '/routers/:name/routes/delete', group: 'topology', role: 'operator', router: 'name' },
  },
  'route.load': {
    doc: "the routes of a file the engine reads itself (one per line, '#' comments, gzip when the name ends in .gz), the fast way to program many: `mode` add (new prefixes only, the default), replace, or set (the file becomes the whole table); all or nothing, visible at one instant",
    request: Type.Object(
      {
        ...RouteTarget,
        file: Type.String({ minLength: 1, description: 'an absolute path the engine can read (the client makes a relative one absolute)' }),
        mode: Type.Optional(Type.Union([Type.Literal('add'), Type.Literal('replace'), Type.Literal('set')], { description: 'add (default), replace or set' })),
      },
      { additionalProperties: false },
    ),
    answer: RouteChange,
    // Admins only: the engine reads a path on its own host (as a graph file).
    http: { method: 'POST', path: '/routers/:name/routes/load', group: 'topology', role: 'admin', router: 'name' },
  },
  'route.show': {
    doc: "a router's FIB table: every route sorted by prefix, or with `lookup` the route one address takes",
    request: Type.Object({ ...RouteTarget, lookup: Type.Optional(Type.String({ minLength: 1, description: 'an address to look up in the published table' })) }, { additionalProperties: false }),
    answer: Type.Object({
      name: RouterName,
      table: Type.String(),
      class: Type.String(),
      count: Type.Integer(),
      routes: Type.Optional(Type.Array(Type.String(), { description: "'PREFIX [via GW] dev OUTPUT', sorted by prefix" })),
      lookup: Type.Optional(Type.String({ description: "'[via GW] dev OUTPUT' or 'no route'" })),
    }),
    http: { method: 'GET', path: '/routers/:name/routes', group: 'topology', role: 'viewer', router: 'name' },
  },
  'vr.share': {
    doc: "set a virtual router's bandwidth share on a port while it runs (its class in the port's scheduler), in bits/s or packets/s (`unit`): fields not given stay; a limit below the guarantee, a new unit without the guarantee and limit in it, guarantees adding up to more than the port's rate (one in packets/s counted at full-size frames), or a router that does not send on the port are refused with nothing changed",
    request: Type.Object(
      { name: RouterName, port: PortName, unit: Type.Optional(ShareUnit), guarantee: Type.Optional(PortShare.properties.guarantee), limit: Type.Optional(PortShare.properties.limit), weight: Type.Optional(PortShare.properties.weight) },
      { additionalProperties: false },
    ),
    answer: Type.Object({ name: RouterName, port: PortName, ...PortShare.properties }),
    http: { method: 'PUT', path: '/routers/:name/shares/:port', group: 'performance', role: 'operator', router: 'name' },
  },
  'port.add': {
    doc: "open a port shared by virtual routers: the engine opens the interface (or creates the TAP device) once; routers attach with FromPort (a VLAN and/or MAC addresses) and ToPort (a bandwidth share)",
    request: PortAddRequest,
    answer: PortInfo,
    http: { method: 'POST', path: '/ports', group: 'topology', role: 'admin' },
  },
  'port.del': {
    doc: "close a port; refused while routers are attached to it (naming them), unless `force`: then the routers stay, detached (their FromPort receives nothing, their ToPort drops and counts what they send in drops_port_closed) until they are reconfigured off the port or deleted",
    request: Type.Object({ name: PortName, force: Type.Optional(Type.Boolean({ description: 'close it even while routers are attached' })) }, { additionalProperties: false }),
    answer: Type.Object({ name: PortName, detached: Type.Array(RouterName, { description: 'the routers that were attached (force)' }) }),
    http: { method: 'DELETE', path: '/ports/:name', group: 'topology', role: 'admin' },
  },
  'port.list': {
    doc: "every port with its attachments (claims, rings, shares) and counters (frames nobody claimed, by reason)",
    request: Type.Object({}, { additionalProperties: false }),
    answer: Type.Array(PortInfo),
    // Admins only: a port's attachments name every tenant's routers.
    http: { method: 'GET', path: '/ports', group: 'topology', role: 'admin' },
  },
  'vr.save': {
    doc: "save a virtual router to a file (docs/router-file.md): its configuration (source, parameters and compiled plan, handler-written values folded in) and its state (counters, IPv4 and IPv6 route tables, ARP/ND and NAT tables, each as of one instant); it goes on running. Packets in queues and pending resolutions are not saved",
    request: Type.Object(
      { name: RouterName, file: Type.String({ minLength: 1, description: 'the file to write (replaced whole, never left half-written); an absolute path (the engine resolves a relative one against its own directory)' }) },
      { additionalProperties: false },
    ),
    answer: Type.Object({
      name: RouterName,
      file: Type.String({ description: 'the absolute path written' }),
      state: Type.String({ description: 'the state saved (a failed router is saved as defined)' }),
      bytes: Type.Integer({ description: 'the file size' }),
      imageBytes: Type.Integer({ description: 'state image bytes before compression' }),
      ms: Type.Number({ description: 'how long the save took' }),
    }),
    // It writes a file on the engine's host: admins only.
    http: { method: 'POST', path: '/routers/:name/save', group: 'management', role: 'admin', router: 'name' },
  },
  'vr.restore': {
    doc: "restore a virtual router from a file `vr.save` wrote, on this or another engine (its graph file need not exist: the compiled plan is in the file): same configuration, tables and counters, under its saved name or `name`, given to `tenant` if named; running, stopped or defined as saved, or running with `start: true`, defined with `start: false`. A file that is not a router file, is corrupt or truncated, of another format version or refused by the engine changes nothing",
    request: Type.Object(
      {
        file: Type.String({ minLength: 1, description: 'a file `vr.save` wrote; an absolute path (the engine resolves a relative one against its own directory)' }),
        name: Type.Optional(RouterName),
        start: Type.Optional(Type.Boolean({ description: 'true: running; false: defined (its state kept for the start); absent: as saved' })),
        tenant: Type.Optional(TenantName),
      },
      { additionalProperties: false },
    ),
    answer: Type.Object({ ...RouterInfo.properties, ms: Type.Number({ description: 'how long the restore took' }) }),
    // It reads a file on the engine's host and makes a router: admins only.
    http: { method: 'POST', path: '/routers/restore', group: 'management', role: 'admin', router: 'name' },
  },
  'vr.clone': {
    doc: "copy a virtual router under a new name: its configuration and tables (routes, ARP/ND, NAT) as of now, counters starting at zero; `params` override graph parameters (new MACs, another VLAN), the graph compiled again with them (a router from a file only); the clone is defined, or running with `start` (a clone the engine refuses is not made); it belongs to the original's tenant",
    request: Type.Object(
      {
        name: RouterName,
        newName: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: "the clone's name" }),
        params: Type.Optional(Type.Record(Type.String(), ParamValue, { description: 'graph parameters to override, as `-p key=value`' })),
        start: Type.Optional(Type.Boolean()),
      },
      { additionalProperties: false },
    ),
    answer: RouterInfo,
    // It makes a router, as vr.create does: admins only.
    http: { method: 'POST', path: '/routers/:name/clone', group: 'topology', role: 'admin', router: 'name' },
  },
  'engine.status': {
    doc: 'the engine: worker threads, the packet pool and how many virtual routers are in each state',
    request: Type.Object({}, { additionalProperties: false }),
    answer: Type.Object({
      threads: Type.Integer(),
      pool: PoolStats,
      routers: Type.Record(Type.String(), Type.Integer()),
      state: Type.Optional(
        Type.Object(
          {
            dir: Type.String({ description: 'the state directory' }),
            seq: Type.Integer({ description: 'changes recorded (the last one\'s number)' }),
            snapshotSeq: Type.Integer({ description: 'the last change the snapshot (desired.json) holds' }),
            journalRecords: Type.Integer({ description: 'changes in the current journal' }),
            recovery: Type.Optional(
              Type.Object({
                ms: Type.Number({ description: 'how long coming back took, from reading the state directory to every router in its state' }),
                routers: Type.Integer(),
                ports: Type.Integer(),
                replayed: Type.Integer({ description: 'journal records replayed after the snapshot' }),
                problems: Type.Array(Type.String(), { description: 'routers that came back failed, ports that could not be opened, changes that could not be replayed: one sentence each' }),
              }),
            ),
          },
          { description: 'the desired state kept in the state directory (docs/management.md, "Desired state"); absent without --state' },
        ),
      ),
    }),
    http: { method: 'GET', path: '/engine', group: 'fault', role: 'admin' },
  },
  'engine.stop': {
    doc: 'stop the engine: answer, then delete every virtual router and exit (as SIGTERM does)',
    request: Type.Object({}, { additionalProperties: false }),
    answer: Type.Object({ stopping: Type.Boolean() }),
    http: { method: 'POST', path: '/engine/stop', group: 'fault', role: 'admin' },
  },
  'user.list': {
    doc: 'every user of the management API: role, tenant, how many tokens',
    request: Type.Object({}, { additionalProperties: false }),
    answer: Type.Array(UserInfo),
    http: { method: 'GET', path: '/users', group: 'management', role: 'admin' },
  },
  'user.create': {
    doc: "create a user with its first bearer token (operators and viewers belong to a tenant, admins to none); the answer holds the token, which is stored only hashed",
    request: Type.Object({ name: UserName, role: Role, tenant: Type.Optional(TenantName) }, { additionalProperties: false }),
    answer: Type.Object({ user: UserInfo, token: NewToken }),
    http: { method: 'POST', path: '/users', group: 'management', role: 'admin' },
  },
  'user.token': {
    doc: 'issue another bearer token for a user (its other tokens stay valid)',
    request: Type.Object({ name: UserName }, { additionalProperties: false }),
    answer: Type.Object({ user: UserInfo, token: NewToken }),
    http: { method: 'POST', path: '/users/:name/tokens', group: 'management', role: 'admin' },
  },
  'user.delete': {
    doc: 'delete a user: its tokens stop working at once',
    request: Type.Object({ name: UserName }, { additionalProperties: false }),
    answer: Type.Object({ name: UserName }),
    http: { method: 'DELETE', path: '/users/:name', group: 'management', role: 'admin' },
  },
  'tenant.list': {
    doc: 'every tenant (named by a router or a user) with its routers and users',
    request: Type.Object({}, { additionalProperties: false }),
    answer: Type.Array(Type.Object({ name: TenantName, routers: Type.Array(RouterName), users: Type.Array(UserName) })),
    http: { method: 'GET', path: '/tenants', group: 'management', role: 'admin' },
  },
  'audit.read': {
    doc: 'the audit log: every change and every refusal, oldest first; `limit` the last N (default 1000), `since` only entries at or after an ISO 8601 time',
    request: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000 })), since: Type.Optional(Type.String({ minLength: 1 })) }, { additionalProperties: false }),
    answer: Type.Array(AuditEntry),
    http: { method: 'GET', path: '/audit', group: 'fault', role: 'admin' },
  },
} as const satisfies Record<string, { doc: string; request: TSchema; answer: TSchema; http: HttpRoute }>;

export type OperationName = keyof typeof operations;
export type OperationRequest<O extends OperationName> = Static<(typeof operations)[O]['request']>;
export type OperationAnswer<O extends OperationName> = Static<(typeof operations)[O]['answer']>;
export type RouterSourceT = Static<typeof RouterSource>;
export type QuotasT = Static<typeof Quotas>;
export type RouterStateT = Static<typeof RouterState>;
export type RouterInfoT = Static<typeof RouterInfo>;
export type RouterDetailT = Static<typeof RouterDetail>;
export type PortInfoT = Static<typeof PortInfo>;
export type PortShareT = Static<typeof PortShare>;
export type RoleT = Static<typeof Role>;
export type UserInfoT = Static<typeof UserInfo>;
export type AuditEntryT = Static<typeof AuditEntry>;

/** An operation's HTTP entry (typed loosely: the table's literal types are narrower than HttpRoute). */
export const httpRoute = (op: OperationName): HttpRoute => operations[op].http as HttpRoute;

export const isOperation = (op: unknown): op is OperationName => typeof op === 'string' && Object.hasOwn(operations, op);

const validators: Partial<Record<OperationName, ReturnType<typeof Compile>>> = {};

/** Check a request's arguments against its operation's schema: the first problem as one sentence, or undefined. */
export function checkRequest(op: OperationName, args: unknown): string | undefined {
  // Compiled once an operation: a bulk route request's million strings check in tens of ms
  // (the interpreted Value.Check took 25 s).
  const check = (validators[op] ??= Compile(operations[op].request));
  if (check.Check(args)) return undefined;
  for (const e of check.Errors(args)) {
    const field = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
    const name = field.split('.')[0];
    const value = (args as Record<string, unknown> | undefined)?.[name];
    if ((name === 'name' || name === 'newName') && !op.startsWith('port.') && typeof value === 'string')
      return op.startsWith('user.')
        ? `'${value}' is not a valid user name: use 1 to 64 letters, digits, '_' or '-'`
        : `'${value}' is not a valid virtual router name: use ${ROUTER_NAME_RULE}`;
    // A field the schema does not declare (typebox reports it as its `false` sub-schema).
    if (e.keyword === 'additionalProperties' || e.keyword === 'boolean') return `${op}: unknown field '${field}'`;
    if ((name === 'port' || (op.startsWith('port.') && name === 'name')) && typeof (args as Record<string, unknown>)?.[name] === 'string')
      return `'${(args as Record<string, string>)[name]}' is not a valid port name: use ${PORT_NAME_RULE}`;
    if (field.startsWith('source')) return `${op}: 'source' must be { file, params? } or { recipe: 'ipRouter', description }, got ${JSON.stringify((args as { source?: unknown }).source)}`;
    return `${op}: ${field ? `field '${field}' ` : 'the request '}${e.message}`;
  }
  return `${op}: the request does not match its schema`;
}

/** The operations as Markdown lines: name, what it does, request and answer fields, HTTP method, path and role. */
export function operationsDoc(): string[] {
  const fields = (s: TSchema): string => {
    const props = (s as { properties?: Record<string, TSchema & { description?: string }> }).properties;
    if (!props) return (s as { type?: string }).type === 'array' ? `array of ${fields((s as { items: TSchema }).items)}` : '';
    const required = new Set((s as { required?: string[] }).required ?? []);
    return Object.keys(props).length ? Object.keys(props).map((k) => `\`${k}\`${required.has(k) ? '' : '?'}`).join(', ') : '(none)';
  };
  return Object.entries(operations).map(
    ([op, o]) => `- \`${op}\`: ${o.doc}. Request: ${fields(o.request)}. Answer: ${fields(o.answer)}. HTTP: \`${o.http.method} /v1${o.http.path}\` (${o.http.role}).`,
  );
}

// Monitoring (observe.ts, docs/management.md): endpoints that are not operations of the
// management layer (a text scrape, an event stream, the dashboard's readings), declared here
// for their query fields, answers, roles and the OpenAPI document.
const EventBase = { id: Type.Integer({ description: 'rises by one an event (the SSE id)' }), time: Type.String({ description: 'ISO 8601' }), router: RouterName, tenant: Type.Optional(TenantName) };
export const EngineEvent = Type.Union([
  Type.Object({ ...EventBase, type: Type.Literal('router.state'), from: Type.Union([RouterState, Type.Null()], { description: 'null: just created' }), to: Type.Union([RouterState, Type.Null()], { description: 'null: deleted' }) }),
  Type.Object({ ...EventBase, type: Type.Literal('link'), element: Type.String(), device: Type.String(), from: Type.Union([Type.String(), Type.Null()], { description: 'null: first seen' }), to: Type.String({ description: 'up, down or missing' }) }),
  Type.Object({ ...EventBase, type: Type.Literal('quota'), element: Type.String(), counter: Type.String({ description: 'a counter of refusals by a full table (drops_table_full, table_full, *quota*)' }), hits: Type.Integer({ description: 'refusals since the last look' }), total: Type.Integer() }),
  Type.Object({ ...EventBase, type: Type.Literal('drops.surge'), dropsPerSecond: Type.Number(), share: Type.Number({ description: "drops over what the router's sources send" }), reasons: Type.Record(Type.String(), Type.Number(), { description: 'element.counter -> drops per second' }) }),
  Type.Object({ ...EventBase, type: Type.Literal('drops.normal'), dropsPerSecond: Type.Number() }),
  Type.Object({
    ...EventBase,
    type: Type.Literal('router.rollback'),
    reason: Type.Union([Type.Literal('deadline'), Type.Literal('request')], { description: 'deadline: not confirmed in time; request: vr.rollback' }),
    deadline: Type.String({ description: 'the deadline the change had (ISO 8601)' }),
    error: Type.Optional(Type.String({ description: 'why the rollback failed: the new graph goes on running, its change still waiting for vr.confirm or vr.rollback' })),
  }),
]);
export const RouterRates = Type.Object({
  name: RouterName,
  tenant: Type.Optional(TenantName),
  state: RouterState,
  packetsPerSecond: Type.Number({ description: 'what its sources emit per second' }),
  dropsPerSecond: Type.Number(),
  elements: Type.Record(Type.String(), Type.Object({ packetsPerSecond: Type.Union([Type.Number(), Type.Null()], { description: "its 'packets' counter (else rx + tx) per second; null: it counts no packets" }), dropsPerSecond: Type.Number() })),
  ports: Type.Array(Type.Object({ element: Type.String(), class: Type.String(), device: Type.String(), state: Type.String({ description: 'up, down or missing' }) })),
});
export const Session = Type.Object({
  user: UserName,
  role: Role,
  tenant: Type.Optional(TenantName),
  actions: Type.Array(Type.String(), { description: 'the lifecycle operations its role allows (vr.start, vr.stop, vr.delete)' }),
  intervalMs: Type.Integer({ description: 'how often the engine looks at its routers' }),
});
const ScopeQuery = { tenant: Type.Optional(TenantName) };
const Count = (description: string) => Type.Optional(Type.Integer({ minimum: 0, description }));

export const monitoring = {
  'metrics.scrape': {
    doc: "Prometheus metrics of the caller's routers (an admin's: every router, or ?tenant=, and the engine's series)",
    http: { method: 'GET', path: '/metrics', group: 'performance', role: 'viewer' },
    query: Type.Object(ScopeQuery, { additionalProperties: false }),
    answer: { type: 'text/plain; version=0.0.4', schema: Type.String({ description: 'the Prometheus text format' }) },
  },
  'events.stream': {
    doc: "Server-Sent Events: each event of the caller's routers as it happens (Last-Event-ID or ?after= replays the kept ones after it)",
    http: { method: 'GET', path: '/events', group: 'fault', role: 'viewer' },
    query: Type.Object({ ...ScopeQuery, after: Count('replay the kept events after this id first') }, { additionalProperties: false }),
    answer: { type: 'text/event-stream', schema: EngineEvent },
  },
  'events.recent': {
    doc: "The kept events of the caller's routers (the last 500), oldest first",
    http: { method: 'GET', path: '/events/recent', group: 'fault', role: 'viewer' },
    query: Type.Object({ ...ScopeQuery, limit: Count('at most this many, the newest (default 100)'), after: Count('only those after this id') }, { additionalProperties: false }),
    answer: { type: 'application/json', schema: Type.Array(EngineEvent) },
  },
  'dashboard.session': {
    doc: 'Who the token is and the lifecycle actions its role allows',
    http: { method: 'GET', path: '/dashboard/session', group: 'management', role: 'viewer' },
    query: Type.Object({}, { additionalProperties: false }),
    answer: { type: 'application/json', schema: Session },
  },
  'dashboard.rates': {
    doc: "The caller's routers with their states, packets and drops per second (per router and element) and ports, over the engine's last look",
    http: { method: 'GET', path: '/dashboard/rates', group: 'performance', role: 'viewer' },
    query: Type.Object(ScopeQuery, { additionalProperties: false }),
    answer: { type: 'application/json', schema: Type.Array(RouterRates) },
  },
  'vr.graph.svg': {
    doc: "A router's graph laid out by Graphviz (dot) as SVG, each element a node titled with its name",
    http: { method: 'GET', path: '/routers/:name/graph.svg', group: 'topology', role: 'viewer', router: 'name' },
    query: Type.Object({}, { additionalProperties: false }),
    answer: { type: 'image/svg+xml', schema: Type.String() },
  },
} as const satisfies Record<string, { doc: string; http: HttpRoute; query: TSchema; answer: { type: string; schema: TSchema } }>;

export type MonitoringName = keyof typeof monitoring;
export type EngineEventT = Static<typeof EngineEvent>;
export type RouterRatesT = Static<typeof RouterRates>;
