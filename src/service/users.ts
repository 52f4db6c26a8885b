// The users of the management API and their bearer tokens, kept in STATE/users.json (written
// atomically and durably: desired.ts's writeDurably). A token is `pgt_ID_SECRET`: ID finds it, and
// only an scrypt hash of SECRET (node:crypto, with its own salt) is stored, so the file gives
// no one a token. scrypt costs tens of milliseconds by design, so a token verified once is
// remembered in memory by its SHA-256 (never written) until its user is deleted.
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { writeDurably } from './desired.js';
import type { RoleT, UserInfoT } from './api.js';
import { ServiceError } from './routers.js';

/** Who a request comes from: a user with a role (and, for operators and viewers, a tenant). */
export interface Principal {
  user: string;
  role: RoleT;
  tenant?: string;
}

interface StoredToken {
  id: string;
  salt: string;
  hash: string;
  created: string;
}

interface StoredUser {
  name: string;
  role: RoleT;
  tenant?: string;
  created: string;
  tokens: StoredToken[];
}

const FILE_VERSION = 1;
const KEY_BYTES = 32;

const scryptHash = (secret: string, salt: string) =>
  new Promise<Buffer>((resolve, reject) => scrypt(secret, Buffer.from(salt, 'base64url'), KEY_BYTES, (err, key) => (err ? reject(err) : resolve(key))));

export class UserStore {
  private readonly users = new Map<string, StoredUser>();
  /** Token id -> its user's name. */
  private readonly byTokenId = new Map<string, string>();
  /** SHA-256 of a token verified before -> its id (in memory only). */
  private readonly verified = new Map<string, string>();
  readonly file: string;

  constructor(stateDir: string) {
    this.file = join(stateDir, 'users.json');
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new Error(`cannot read the users file ${this.file}: ${(err as Error).message}`);
    }
    let data: { version?: unknown; users?: StoredUser[] };
    try {
      data = JSON.parse(text);
    } catch {
      throw new Error(`the users file ${this.file} is not JSON; restore it from a backup or remove it (and make a new admin with --init-admin)`);
    }
    if (data.version !== FILE_VERSION || !Array.isArray(data.users))
      throw new Error(`the users file ${this.file} is not a version ${FILE_VERSION} users file; restore it from a backup or remove it`);
    for (const u of data.users) this.add(u);
  }

  private add(u: StoredUser) {
    this.users.set(u.name, u);
    for (const t of u.tokens) this.byTokenId.set(t.id, u.name);
  }

  get size(): number {
    return this.users.size;
  }

  list(): UserInfoT[] {
    return [...this.users.values()].map((u) => this.info(u));
  }

  /** Every user's name and tenant (tenant.list). */
  tenants(): { name: string; tenant?: string }[] {
    return [...this.users.values()].map((u) => ({ name: u.name, tenant: u.tenant }));
  }

  private info(u: StoredUser): UserInfoT {
    return { name: u.name, role: u.role, ...(u.tenant ? { tenant: u.tenant } : {}), created: u.created, tokens: u.tokens.length };
  }

  private user(name: string): StoredUser {
    const u = this.users.get(name);
    if (!u) throw new ServiceError(`there is no user named '${name}'`, 'unknown');
    return u;
  }

  async create(name: string, role: RoleT, tenant: string | undefined): Promise<{ user: UserInfoT; token: string }> {
    if (this.users.has(name)) throw new ServiceError(`the user '${name}' exists; delete it first or choose another name`, 'conflict');
    if (role === 'admin' && tenant !== undefined) throw new ServiceError(`user.create: an admin belongs to no tenant; leave 'tenant' out`);
    if (role !== 'admin' && tenant === undefined) throw new ServiceError(`user.create: an ${role} belongs to a tenant; give 'tenant'`);
    const u: StoredUser = { name, role, ...(tenant ? { tenant } : {}), created: new Date().toISOString(), tokens: [] };
    const token = await this.newToken(u);
    this.add(u);
    this.save();
    return { user: this.info(u), token };
  }

  /** Another token for a user. */
  async issue(name: string): Promise<{ user: UserInfoT; token: string }> {
    const u = this.user(name);
    const token = await this.newToken(u);
    this.byTokenId.set(u.tokens[u.tokens.length - 1].id, u.name);
    this.save();
    return { user: this.info(u), token };
  }

  delete(name: string): void {
    const u = this.user(name);
    this.users.delete(name);
    for (const t of u.tokens) this.byTokenId.delete(t.id);
    this.save();
  }

  private async newToken(u: StoredUser): Promise<string> {
    const id = randomBytes(9).toString('base64url');
    const secret = randomBytes(KEY_BYTES).toString('base64url');
    const salt = randomBytes(16).toString('base64url');
    const hash = (await scryptHash(secret, salt)).toString('base64url');
    u.tokens.push({ id, salt, hash, created: new Date().toISOString() });
    return `pgt_${id}_${secret}`;
  }

  /** The principal a bearer token stands for, or undefined when it is not a valid token. */
  async verify(token: string): Promise<Principal | undefined> {
    const digest = createHash('sha256').update(token).digest('base64url');
    const m = /^pgt_([A-Za-z0-9_-]{12})_([A-Za-z0-9_-]{43})$/.exec(token);
    if (!m) return undefined;
    const [, id, secret] = m;
    const known = this.verified.get(digest);
    if (known === undefined) {
      const owner = this.byTokenId.get(id);
      const stored = owner === undefined ? undefined : this.users.get(owner)?.tokens.find((t) => t.id === id);
      if (!stored) return undefined;
      const key = await scryptHash(secret, stored.salt);
      if (!timingSafeEqual(key, Buffer.from(stored.hash, 'base64url'))) return undefined;
      this.verified.set(digest, id);
    }
    // The user is looked up afresh: a deleted user's tokens stop at once.
    const name = this.byTokenId.get(id);
    const u = name === undefined ? undefined : this.users.get(name);
    if (!u) {
      this.verified.delete(digest);
      return undefined;
    }
    return { user: u.name, role: u.role, ...(u.tenant ? { tenant: u.tenant } : {}) };
  }

  private save(): void {
    writeDurably(dirname(this.file), basename(this.file), JSON.stringify({ version: FILE_VERSION, users: [...this.users.values()] }, null, 1) + '\n');
  }
}
