// Confirmed changes ("commit confirmed", docs/virtual-routers.md "Confirmed changes"): a
// reconfiguration given a deadline (vr.reconfigure with `confirm`) runs at once, and unless
// vr.confirm arrives in time the engine puts the previous configuration back by itself
// (hot, as any reconfiguration). Everything about a change waiting for confirmation lives
// here: the previous configuration, the deadline and its timer, and `confirmed(router)`, the
// configuration a router is known to keep (what durable state should hold). The swap itself
// is VirtualRouters' (routers.ts), given as `restore`.
import type { Plan } from '../compiler/plan.js';
import type { RouterSourceT } from './api.js';
import { ServiceError } from './routers.js';

/** A router's configuration: what vr.reconfigure replaces and a rollback puts back. */
export interface RouterConfig {
  source: RouterSourceT;
  plan: Plan;
  /** The name the graph gives itself. */
  graphName: string;
}

/** A rollback done (or tried): for the audit log and the event stream. */
export interface RollbackNotice {
  router: string;
  reason: 'deadline' | 'request';
  /** The deadline the change had (ISO 8601). */
  deadline: string;
  /** Why it failed; the new configuration goes on running, its change still pending. */
  error?: string;
}

interface Pending {
  previous: RouterConfig;
  deadline: Date;
  timer?: NodeJS.Timeout;
  /** Set when a rollback by deadline failed: the change waits for vr.confirm or vr.rollback. */
  rollbackError?: string;
}

export class Confirmations {
  private readonly pending = new Map<string, Pending>();
  private readonly listeners = new Set<(n: RollbackNotice) => void>();

  /** `restore(router, previous)`: put a previous configuration back (throws ServiceError when it cannot). */
  constructor(private readonly restore: (router: string, previous: RouterConfig) => unknown) {}

  /** Call `listener` after every rollback (by deadline or request), done or failed; returns the unsubscribe. */
  onRollback(listener: (n: RollbackNotice) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** What vr.show says of a router's change waiting for confirmation, or undefined. */
  status(router: string): { deadline: string | null; rollbackError?: string } | undefined {
    const p = this.pending.get(router);
    if (!p) return undefined;
    return p.rollbackError === undefined ? { deadline: p.deadline.toISOString() } : { deadline: null, rollbackError: p.rollbackError };
  }

  /**
   * The confirmed configuration of a router whose configuration now is `current`: the one
   * before a change still waiting for confirmation, else `current`.
   */
  confirmed(router: string, current: RouterConfig): RouterConfig {
    return this.pending.get(router)?.previous ?? current;
  }

  /** Refuse (409) a change to a router whose last one still waits for confirmation. */
  refuseWhilePending(router: string, what: string): void {
    const p = this.pending.get(router);
    if (!p) return;
    const until = p.rollbackError === undefined ? `until ${p.deadline.toISOString()}` : `(its rollback failed: ${p.rollbackError})`;
    throw new ServiceError(`virtual router '${router}' has a reconfiguration waiting for confirmation ${until}: confirm it (vr confirm ${router}) or roll it back (vr rollback ${router}) before ${what}; nothing was changed`, 'conflict');
  }

  /** A change to `router` was applied: unless confirmed within `seconds`, `previous` is put back. */
  begin(router: string, previous: RouterConfig, seconds: number): void {
    this.refuseWhilePending(router, 'another');
    const p: Pending = { previous, deadline: new Date(Date.now() + seconds * 1000) };
    p.timer = setTimeout(() => {
      try {
        this.rollback(router, 'deadline');
      } catch {} // the listeners were told (audit, event), and vr.show says it
    }, seconds * 1000);
    p.timer.unref(); // the engine's sockets keep it alive, not a deadline
    this.pending.set(router, p);
  }

  /** vr.confirm: the change stays. */
  confirm(router: string): void {
    const p = this.nothingPending(router, 'confirm');
    clearTimeout(p.timer);
    this.pending.delete(router);
  }

  /** Put the previous configuration back now (vr.rollback, or the deadline); the notice goes to the listeners either way. */
  rollback(router: string, reason: RollbackNotice['reason']): void {
    const p = this.nothingPending(router, 'roll back');
    const notice: RollbackNotice = { router, reason, deadline: p.deadline.toISOString() };
    try {
      this.restore(router, p.previous);
      clearTimeout(p.timer);
      this.pending.delete(router);
    } catch (err) {
      notice.error = (err as Error).message;
      // A refused vr.rollback leaves the deadline running; a refused rollback by deadline leaves none.
      if (reason === 'deadline') {
        p.timer = undefined;
        p.rollbackError = notice.error;
      }
      throw err;
    } finally {
      for (const l of this.listeners) l(notice);
    }
  }

  /** The router is gone (deleted, or the engine stops): its pending change goes with it, never rolled back. */
  forget(router: string): void {
    clearTimeout(this.pending.get(router)?.timer);
    this.pending.delete(router);
  }

  private nothingPending(router: string, what: string): Pending {
    const p = this.pending.get(router);
    if (!p) throw new ServiceError(`virtual router '${router}' has no reconfiguration waiting for confirmation, so there is nothing to ${what}; \`vr reconfigure ${router} FILE --confirm SECONDS\` makes one`, 'conflict');
    return p;
  }
}
