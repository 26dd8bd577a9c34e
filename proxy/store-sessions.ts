import type http from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { ResolvedOptions, ResolvedSessionStore } from './options';
import { readJwtExpiry } from './jwt';
import { isCookieSafeToken, readSessionCookies, sessionIdCookie, UnstorableTokenError } from './session-cookie';
import { tellUpstreamLogout, withinTimeout } from './upstream-logout';
import { newSessionId, sessionTtlSeconds, storeKeyOf } from '../session-store/server-session';
import { isSessionStoreError, type StoredSession } from '../session-store/types';
import { sharedAgent } from './upstream';

// A token is a header's value upstream: past 16 KiB, servers refuse the request (Node's own limit for
// all headers together is 16 KiB), and the store should not hold what an upstream sends without bound.
const MAX_TOKEN_CHARS = 16 * 1024;

/** A token the store may hold: one a header can carry as it is, of a sane size. */
export function isStorableToken(token: string): boolean {
  return token.length <= MAX_TOKEN_CHARS && isCookieSafeToken(token);
}

export interface LoginTokens {
  access: string;
  accessExpiresAt: number | undefined;
  refresh: string | undefined;
  /** From `login.userIdField`, else the access token's JWT `sub`. */
  userId: string | undefined;
}

/** The user a JWT names (`sub`), if the token is one. */
export function jwtSubject(token: string): string | undefined {
  if (readJwtExpiry(token) === undefined && !/^[\w-]+\.[\w-]+\.[\w-]*$/.test(token)) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
    const sub = typeof payload === 'object' && payload !== null ? (payload as { sub?: unknown }).sub : undefined;
    return typeof sub === 'string' && sub !== '' ? sub : typeof sub === 'number' ? String(sub) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts a stored session for a login: a new random id (never the one the browser held: a login always
 * gets a fresh id, so an id planted before it is worth nothing after), the tokens in the store, and the
 * id's cookie. A session the browser held before is ended. Throws UnstorableTokenError for tokens a
 * header cannot carry or an access token already expired.
 */
export async function startStoredSession(
  req: IncomingMessage,
  options: ResolvedOptions,
  store: ResolvedSessionStore,
  tokens: LoginTokens,
): Promise<string[]> {
  if (!isStorableToken(tokens.access) || (tokens.refresh !== undefined && !isStorableToken(tokens.refresh))) {
    throw new UnstorableTokenError('unsafe_token');
  }
  const exp = readJwtExpiry(tokens.access);
  if (exp !== undefined && exp <= Date.now() / 1000) throw new UnstorableTokenError('expired_token');
  const now = Date.now();
  const session: StoredSession = {
    accessToken: tokens.access,
    accessExpiresAt: tokens.accessExpiresAt,
    refreshToken: tokens.refresh,
    userId: tokens.userId,
    createdAt: now,
    lastSeenAt: now,
  };
  const ttl = sessionTtlSeconds(session, store, now);
  if (ttl <= 0) throw new UnstorableTokenError('expired_token');
  const backend = store.get();
  const previous = storeKeyOf(readSessionCookies(req, options).access);
  if (previous !== undefined) await backend.delete(previous);
  const id = newSessionId();
  const key = storeKeyOf(id);
  if (key === undefined) throw new Error('session id');
  try {
    await backend.set(key, session, ttl);
  } catch (err) {
    // The upstream signed the user in, but no session holds the tokens: they are revoked, not left live.
    if (isSessionStoreError(err)) void tellUpstreamLogout(options, sharedAgent(options.upstream), tokens);
    throw err;
  }
  // The cookie outlives any idle timeout: an active session is renewed in the store, never in the
  // browser, so the cookie lasts as long as the session may (the absolute timeout).
  return [sessionIdCookie(req, options, id, store.absoluteTimeoutSeconds)];
}

/**
 * Ends every session of a user ("sign out everywhere"), on every instance at once, and tells the
 * upstream about each one's tokens. Resolves with how many sessions there were.
 */
export async function endStoredUserSessions(
  options: ResolvedOptions,
  store: ResolvedSessionStore,
  agent: http.Agent,
  userId: string,
): Promise<number> {
  const ended = await store.get().deleteUser(userId);
  const told = ended.map((session) => tellUpstreamLogout(options, agent, { access: session.accessToken, refresh: session.refreshToken }));
  await withinTimeout(options, Promise.all(told));
  return ended.length;
}
