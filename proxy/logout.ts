import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResolvedOptions } from './options';
import type { Upstream } from './upstream';
import { sendJson } from './errors';
import { upstreamAuthHeader } from './headers';
import { appendSetCookie, clearedSessionCookie, readSessionToken } from './session-cookie';
import { callUpstream } from './upstream-call';

/**
 * Answers `POST /api/logout` itself: the cookie is cleared whatever happens upstream. With
 * `logout.upstreamPath`, the API is told first (with the token) so it can revoke it.
 */
export async function answerLogout(req: IncomingMessage, res: ServerResponse, options: ResolvedOptions, upstream: Upstream): Promise<void> {
  // Any request body is of no use here; reading it lets the connection be reused.
  req.resume();
  const token = readSessionToken(req, options);
  const upstreamPath = options.logout.upstreamPath;
  if (upstreamPath !== undefined && token !== undefined) {
    try {
      const reply = await callUpstream(options, upstream.agent, { method: 'POST', path: upstreamPath, headers: upstreamAuthHeader(options, token) });
      if (reply.status >= 400 && reply.status !== 401) {
        options.logger.warn(`[next-bff-proxy] upstream logout answered ${reply.status}; the cookie is cleared anyway`);
      }
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      options.logger.warn(`[next-bff-proxy] upstream logout failed (${typeof code === 'string' ? code : 'error'}); the cookie is cleared anyway`);
    }
  }
  if (res.headersSent || res.destroyed) return;
  appendSetCookie(res, clearedSessionCookie(req, options));
  sendJson(res, 200, JSON.stringify({ loggedOut: true }));
}
