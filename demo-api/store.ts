import { randomUUID } from 'node:crypto';

export interface DemoUser {
  id: string;
  email: string;
  name: string;
  password: string;
}

export interface DemoItem {
  id: string;
  title: string;
  createdAt: string;
}

/** The demo's one account, shown in the README and on the login page. */
export const DEMO_USERS: readonly DemoUser[] = [{ id: 'u1', email: 'ada@example.com', name: 'Ada Lovelace', password: 'lovelace' }];

/** A refresh token's record: its family (one login), and whether it was already exchanged. */
interface RefreshRecord {
  family: string;
  userId: string;
  usedAt: number | undefined;
  /** The tokens its exchange produced, answered again within the grace period. */
  successor: unknown;
}

/** In-memory state of the demo API: items per user, revoked token ids and refresh families. Gone on restart. */
export class DemoStore {
  private readonly items = new Map<string, DemoItem[]>();
  private readonly revoked = new Set<string>();
  private readonly refreshTokens = new Map<string, RefreshRecord>();
  private readonly revokedFamilies = new Set<string>();

  findUser(email: string, password: string): DemoUser | undefined {
    return DEMO_USERS.find((user) => user.email === email.trim().toLowerCase() && user.password === password);
  }

  userById(id: string): DemoUser | undefined {
    return DEMO_USERS.find((user) => user.id === id);
  }

  listItems(userId: string): DemoItem[] {
    return this.items.get(userId) ?? [];
  }

  addItem(userId: string, title: string): DemoItem {
    const item = { id: randomUUID(), title, createdAt: new Date().toISOString() };
    this.items.set(userId, [...this.listItems(userId), item]);
    return item;
  }

  revoke(tokenId: string): void {
    this.revoked.add(tokenId);
  }

  isRevoked(tokenId: string): boolean {
    return this.revoked.has(tokenId);
  }

  rememberRefreshToken(tokenId: string, family: string, userId: string): void {
    this.refreshTokens.set(tokenId, { family, userId, usedAt: undefined, successor: undefined });
  }

  refreshRecord(tokenId: string): Readonly<RefreshRecord> | undefined {
    return this.refreshTokens.get(tokenId);
  }

  markRefreshTokenUsed(tokenId: string, successor: unknown): void {
    const record = this.refreshTokens.get(tokenId);
    if (record) Object.assign(record, { usedAt: Date.now(), successor });
  }

  revokeFamily(family: string): void {
    this.revokedFamilies.add(family);
  }

  isFamilyRevoked(family: string): boolean {
    return this.revokedFamilies.has(family);
  }
}
