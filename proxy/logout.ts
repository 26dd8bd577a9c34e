import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResolvedOptions } from './options';
import type { Upstream } from './upstream';
import { sendJson } from './errors';
import { upstreamAuthHeader } from './headers';
import { appendSetCookie, clearedSessionCookies, readRefreshToken, readSessionToken } from './session-cookie';
import { callUpstream } from './upstream-call';

/**
 * Answers `POST /api/logout` itself: the session (and refresh) cookies are cleared whatever happens
 * upstream. With `logout.upstreamPath`, the API is told first, with the token and (in the JSON body)
 * the refresh token, so it can revoke both.
 */
export async function answerLogout(req: IncomingMessage, res: ServerResponse, options: ResolvedOptions, upstream: Upstream): Promise<void> {
  // Any request body is of no use here; reading it lets the connection be reused.
  req.resume();
  const token = readSessionToken(req, options);
  const refreshToken = readRefreshToken(req, options);
  const upstreamPath = options.logout.upstreamPath;
  if (upstreamPath !== undefined && (token !== undefined || refreshToken !== undefined)) {
    const body = refreshToken !== undefined && options.refresh ? JSON.stringify({ [options.refresh.bodyField]: refreshToken }) : undefined;
    try {
      const reply = await callUpstream(options, upstream.agent, {
        method: 'POST',
        path: upstreamPath,
        headers: { ...(token === undefined ? {} : upstreamAuthHeader(options, token)), ...(body ? { 'content-type': 'application/json' } : {}) },
        body,
      });
      if (reply.status >= 400 && reply.status !== 401) {
        options.logger.warn(`[next-bff-proxy] upstream logout answered ${reply.status}; the cookie is cleared anyway`);
      }
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      options.logger.warn(`[next-bff-proxy] upstream logout failed (${typeof code === 'string' ? code : 'error'}); the cookie is cleared anyway`);
    }
  }
  if (res.headersSent || res.destroyed) return;
  appendSetCookie(res, ...clearedSessionCookies(req, options));
  sendJson(res, 200, JSON.stringify({ loggedOut: true }));
}
