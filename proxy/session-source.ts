import type { IncomingMessage } from 'node:http';
import type { ResolvedOptions } from './options';
import { readSessionCookies, type SessionCookies } from './session-cookie';
import { readStoredSession, storeKeyOf } from '../session-store/server-session';
import type { StoredSession } from '../session-store/types';

/** The request's session tokens, wherever they live, and (with a store) where it is kept. */
export interface LoadedSession extends SessionCookies {
  /** With a store: the session's key there (undefined without a live session). */
  storeKey?: string | undefined;
  stored?: StoredSession | undefined;
  /** With a store: the browser holds session cookies that name no live session (ended, expired, or a store that lost it): they are cleared. */
  stale?: boolean;
}

const NONE: LoadedSession = { access: undefined, accessExpiresAt: undefined, refresh: undefined, conflict: false };

/**
 * The request's session: from its cookies (the default), or, with a session store, from the store
 * under the key its session-id cookie names. A request without session cookies never asks the store.
 * Throws SessionStoreError when the store cannot answer (503 `session_store_unavailable`).
 */
export async function readSession(req: IncomingMessage, options: ResolvedOptions): Promise<LoadedSession> {
  const cookies = readSessionCookies(req, options);
  const store = options.sessionStore;
  if (!store || cookies.conflict) return cookies;
  // The access cookie holds the session id; a refresh cookie is a leftover of cookie sessions.
  const held = cookies.access !== undefined || cookies.refresh !== undefined;
  const key = storeKeyOf(cookies.access);
  if (key === undefined) return { ...NONE, stale: held };
  const stored = await readStoredSession(store, key);
  if (stored === undefined) return { ...NONE, stale: true };
  return {
    access: stored.accessToken,
    accessExpiresAt: stored.accessExpiresAt,
    refresh: stored.refreshToken,
    conflict: false,
    storeKey: key,
    stored,
  };
}
