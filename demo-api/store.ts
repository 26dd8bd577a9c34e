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

/** In-memory state of the demo API: items per user and revoked token ids. Gone on restart. */
export class DemoStore {
  private readonly items = new Map<string, DemoItem[]>();
  private readonly revoked = new Set<string>();

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
}
