import { randomBytes } from 'node:crypto';
import type { SessionLock, SessionStore, StoredSession } from './types';

/**
 * A SessionStore in this process's memory, for tests only: one process, nothing shared, nothing kept
 * across a restart (the very things a store is for). It follows the Redis store's contract (TTLs, the
 * user index, the lock), so store mode can be tried without a Redis server.
 */
export function createMemoryStore(): SessionStore {
  const sessions = new Map<string, { session: StoredSession; until: number }>();
  const users = new Map<string, Set<string>>();
  const locks = new Map<string, { token: string; until: number }>();
  const live = (key: string) => {
    const entry = sessions.get(key);
    if (entry && entry.until <= Date.now()) sessions.delete(key);
    return sessions.get(key);
  };
  const heldLock = (key: string) => {
    const lock = locks.get(key);
    if (lock && lock.until <= Date.now()) locks.delete(key);
    return locks.get(key);
  };
  return {
    async get(key) {
      return live(key)?.session;
    },
    async set(key, session, ttlSeconds) {
      sessions.set(key, { session, until: Date.now() + ttlSeconds * 1000 });
      if (session.userId !== undefined) users.set(session.userId, (users.get(session.userId) ?? new Set()).add(key));
    },
    async update(key, session, ttlSeconds) {
      if (!live(key)) return false;
      sessions.set(key, { session, until: Date.now() + ttlSeconds * 1000 });
      return true;
    },
    async delete(key) {
      const entry = live(key);
      sessions.delete(key);
      return entry?.session;
    },
    async keysOfUser(userId) {
      return [...(users.get(userId) ?? [])].filter((key) => live(key));
    },
    async deleteUser(userId) {
      const keys = [...(users.get(userId) ?? [])];
      users.delete(userId);
      return keys.flatMap((key) => {
        const entry = live(key);
        sessions.delete(key);
        return entry ? [entry.session] : [];
      });
    },
    async lock(key, ttlMs) {
      if (heldLock(key)) return undefined;
      const token = randomBytes(8).toString('hex');
      locks.set(key, { token, until: Date.now() + ttlMs });
      const lock: SessionLock = {
        async renew(ms) {
          if (heldLock(key)?.token !== token) return false;
          locks.set(key, { token, until: Date.now() + ms });
          return true;
        },
        async release() {
          if (heldLock(key)?.token === token) locks.delete(key);
        },
      };
      return lock;
    },
  };
}
