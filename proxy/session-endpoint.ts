import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResolvedOptions } from './options';
import type { Upstream } from './upstream';
import { sendError, sendJson } from './errors';
import { tokenExpiry } from './token-expiry';
import { applySessionToAnswer, resolveSession, type SessionState } from './refresh';

export interface SessionInfo {
  authenticated: boolean;
  /** When the access token expires (ISO 8601), or null when unknown or not signed in. */
  expiresAt: string | null;
}

/** What a session state says to a page or a browser: never the token. */
export function describeSession(session: SessionState): SessionInfo {
  const exp = session.kind === 'active' ? tokenExpiry(session.accessToken, session.expiresAt) : undefined;
  // A token known to have expired (and no refresh to renew it) is no session, whatever cookie still holds it.
  const authenticated = session.kind === 'active' && (exp === undefined || exp > Date.now() / 1000);
  return { authenticated, expiresAt: authenticated && exp !== undefined ? new Date(exp * 1000).toISOString() : null };
}

/**
 * Answers `GET /api/session` itself: `{"authenticated": bool, "expiresAt": ISO date | null}`, never a
 * token. A session about to expire is refreshed first (its new cookies ride on this answer); a refused
 * refresh clears the cookies and answers unauthenticated; an upstream failure is 502 with cookies kept.
 */
export async function answerSession(
  req: IncomingMessage,
  res: ServerResponse,
  options: ResolvedOptions,
  upstream: Upstream,
): Promise<void> {
  req.resume();
  const session = await resolveSession(req, options, upstream.agent);
  if (res.headersSent || res.destroyed) return;
  const applied = applySessionToAnswer(res, session, false);
  if (applied.kind === 'stop') return sendError(res, applied.code, applied.headers);
  sendJson(res, 200, JSON.stringify(describeSession(session)));
}
