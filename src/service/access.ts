// The management layer: every operation from the control socket or the HTTP API passes here.
// It authorises the caller from the operation's `http` entry in api.ts (role, the field naming
// its router), keeps tenants apart (a router of another tenant is answered as if it did not
// exist, lists are filtered, refusals never name another tenant's routers), runs the user and
// audit operations itself and the rest in VirtualRouters, and writes the audit log (every
// change and every refusal) when the engine has a state directory.
import { checkRequest, httpRoute, isOperation, type OperationName, type RoleT } from './api.js';
import type { AuditLog } from './audit.js';
import type { DesiredState } from './desired.js';
import { HTTP_STATUS, ServiceError, type VirtualRouters } from './routers.js';
import type { Principal, UserStore } from './users.js';

/** Roles by what they may do: each may what the ones below it may. */
export const RANK: Record<RoleT, number> = { viewer: 0, operator: 1, admin: 2 };

/** The owner of the control socket (mode 0600): an admin. */
export const LOCAL_OWNER: Principal = { user: 'local', role: 'admin' };

/** Where a request came in, for the audit log. */
export interface Origin {
  via: 'http' | 'control';
  source?: string;
}

export class Management {
  constructor(
    readonly routers: VirtualRouters,
    readonly users?: UserStore,
    readonly audit?: AuditLog,
    /** The state directory's desired state: a change is answered once it is durable there. */
    readonly desired?: DesiredState,
  ) {
    // A rollback by deadline is the engine's own change: audited as the engine's.
    routers.confirmations.onRollback((n) => {
      if (n.reason !== 'deadline') return; // vr.rollback is audited as its caller's request
      this.audit?.record({
        who: 'engine',
        role: null,
        ...(routers.tenantOf(n.router) ? { tenant: routers.tenantOf(n.router)! } : {}),
        what: 'vr.rollback',
        target: n.router,
        result: n.error === undefined ? 'ok' : 'refused',
        ...(n.error !== undefined ? { error: n.error } : {}),
        reason: `not confirmed by ${n.deadline}`,
        via: 'engine',
      });
      // The router runs its confirmed configuration again: kept as such (it already was, see recordOf).
      if (n.error === undefined && this.routers.has(n.router)) void this.desired?.recordRouter(n.router).catch(() => {});
    });
  }

  /** Run `op` for `who`: authorised, audited, filtered to its tenant. Throws ServiceError. */
  async perform(who: Principal, op: string, args: unknown, origin: Origin): Promise<unknown> {
    const a = (typeof args === 'object' && args !== null ? args : {}) as Record<string, unknown>;
    const route = isOperation(op) ? httpRoute(op) : undefined;
    // What the audit names: the router (its field), else the user or router an operation names.
    const field = route?.router ?? 'name';
    const named = typeof a[field] === 'string' ? (a[field] as string) : undefined;
    try {
      if (!isOperation(op) || !route) throw new ServiceError(`unknown operation ${JSON.stringify(op)}`);
      this.authorise(who, op, a);
      let value = await this.run(op, args ?? {});
      if (route.list && who.role !== 'admin') value = (value as { tenant?: string }[]).filter((r) => r.tenant === who.tenant);
      if (op === 'engine.status' && this.desired) value = { ...(value as object), state: this.desired.status() };
      if (route.method !== 'GET') {
        // Taken in this tick, answered once durable.
        await this.desired?.record(op, args, value);
        this.record(who, op, named, origin);
      }
      return value;
    } catch (err) {
      const e = err instanceof ServiceError ? err : new ServiceError((err as Error).message);
      const refusal = who.role === 'admin' ? e : new ServiceError(this.scrub(e.message, who, named), e.kind);
      this.record(who, op, named, origin, refusal);
      throw refusal;
    }
  }

  /** Throws unless `who` may run `op` with `args`. Checked before the request's fields, so a refusal says the same whatever they hold. */
  private authorise(who: Principal, op: OperationName, a: Record<string, unknown>): void {
    const route = httpRoute(op);
    if (RANK[who.role] < RANK[route.role])
      throw new ServiceError(`${op} needs the ${route.role} role; '${who.user}' is ${who.tenant ? `${who.role} of tenant '${who.tenant}'` : who.role}`, 'forbidden');
    if (who.role === 'admin') return;
    const name = route.router === undefined ? undefined : a[route.router];
    // Another tenant's router and no router at all get the same answer.
    if (typeof name === 'string' && this.routers.tenantOf(name) !== who.tenant)
      throw new ServiceError(`there is no virtual router named '${name}' in tenant '${who.tenant}'`, 'unknown');
  }

  private async run(op: OperationName, args: unknown): Promise<unknown> {
    if (!op.startsWith('user.') && op !== 'audit.read' && op !== 'tenant.list') return this.routers.perform(op, args);
    const problem = checkRequest(op, args);
    if (problem) throw new ServiceError(problem);
    const a = args as { name: string; role: RoleT; tenant?: string; limit?: number; since?: string };
    if (op === 'audit.read') {
      if (!this.audit) throw new ServiceError('this engine keeps no audit log: start it with --state DIR', 'conflict');
      if (a.since !== undefined && Number.isNaN(Date.parse(a.since))) throw new ServiceError(`audit.read: 'since' must be an ISO 8601 time like 2026-12-02T08:00:00Z, got '${a.since}'`);
      return this.audit.read(a.limit, a.since);
    }
    if (op === 'tenant.list') return this.tenants();
    const users = this.users;
    if (!users) throw new ServiceError('this engine keeps no users: start it with --state DIR (or --http)', 'conflict');
    switch (op) {
      case 'user.list':
        return users.list();
      case 'user.create':
        return users.create(a.name, a.role, a.tenant);
      case 'user.token':
        return users.issue(a.name);
      case 'user.delete':
        users.delete(a.name);
        return { name: a.name };
    }
    throw new ServiceError(`unknown operation ${JSON.stringify(op)}`);
  }

  private tenants() {
    const t = new Map<string, { name: string; routers: string[]; users: string[] }>();
    const of = (name: string) => t.get(name) ?? t.set(name, { name, routers: [], users: [] }).get(name)!;
    for (const r of this.routers.owners()) if (r.tenant) of(r.tenant).routers.push(r.name);
    for (const u of this.users?.tenants() ?? []) if (u.tenant) of(u.tenant).users.push(u.name);
    return [...t.values()].sort((x, y) => x.name.localeCompare(y.name));
  }

  /** A refusal's sentence as a tenant's user may read it: other tenants' router names hidden. */
  // The name the caller gave stays as given: hiding it would tell that it exists.
  private scrub(message: string, who: Principal, given: string | undefined): string {
    return message
      .replace(/; there are: [^;]*$/, '')
      .replace(/'([A-Za-z0-9_-]{1,64})'/g, (m, name: string) => {
        const owner = this.routers.tenantOf(name);
        return name === given || owner === undefined || owner === who.tenant ? m : "'(another tenant's router)'";
      });
  }

  /** Audit a change (no `refusal`) or a refusal; also used by the HTTP layer for requests refused before an operation ran. */
  record(who: Principal | undefined, what: string, target: string | undefined, origin: Origin, refusal?: ServiceError, status = refusal && HTTP_STATUS[refusal.kind]): void {
    this.audit?.record({
      who: who?.user ?? '-',
      role: who?.role ?? null,
      ...(who?.tenant ? { tenant: who.tenant } : {}),
      what,
      ...(target !== undefined ? { target } : {}),
      result: refusal ? 'refused' : 'ok',
      ...(status !== undefined ? { status } : {}),
      ...(refusal ? { error: refusal.message } : {}),
      via: origin.via,
      ...(origin.source !== undefined ? { source: origin.source } : {}),
    });
  }
}
