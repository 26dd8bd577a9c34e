import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResolvedOptions } from './options';
import type { Upstream } from './upstream';
import { sendJson } from './errors';
import { upstreamAuthHeader } from './headers';
import { forgetRotationsTo, needsRefresh, refreshTokens } from './refresh';
import { appendSetCookie, clearedSessionCookies, readSessionCookies, type SessionCookies } from './session-cookie';
import { callUpstream } from './upstream-call';

/**
 * What the upstream logout is given to revoke: a usable access token and the refresh token. A browser
 * drops an expired access cookie, so after expiry only the refresh token is left; it is exchanged first
 * (single flight, like any refresh) so the upstream gets an access token it accepts, and then the new
 * refresh token to revoke. A refresh token the upstream refuses is already dead: nothing is left to revoke.
 */
async function tokensToRevoke({ access, refresh, conflict }: SessionCookies, options: ResolvedOptions, upstream: Upstream) {
  if (conflict || refresh === undefined || !needsRefresh(access, options)) return conflict ? undefined : { access, refresh };
  const outcome = await refreshTokens(options, upstream.agent, refresh);
  if (outcome.kind === 'rejected') return undefined;
  if (outcome.kind === 'failed') return { access, refresh };
  return { access: outcome.tokens.access, refresh: outcome.tokens.refresh ?? refresh };
}

/**
 * Answers `POST /api/logout` itself: the session (and refresh) cookies are cleared whatever happens
 * upstream. With `logout.upstreamPath`, the API is told first, with the token and (in the JSON body)
 * the refresh token, so it can revoke both. A failed upstream logout is logged, never shown.
 */
export async function answerLogout(req: IncomingMessage, res: ServerResponse, options: ResolvedOptions, upstream: Upstream): Promise<void> {
  // Any request body is of no use here; reading it lets the connection be reused.
  req.resume();
  const upstreamPath = options.logout.upstreamPath;
  const cookies = readSessionCookies(req, options);
  const tokens = upstreamPath === undefined ? undefined : await tokensToRevoke(cookies, options, upstream);
  // The session ends here for this process too: no late request may get its tokens back.
  forgetRotationsTo(options, [cookies.access, cookies.refresh, tokens?.access, tokens?.refresh]);
  if (upstreamPath !== undefined && tokens && (tokens.access !== undefined || tokens.refresh !== undefined)) {
    const { access, refresh } = tokens;
    const body = refresh !== undefined && options.refresh ? JSON.stringify({ [options.refresh.bodyField]: refresh }) : undefined;
    try {
      const reply = await callUpstream(options, upstream.agent, {
        method: 'POST',
        path: upstreamPath,
        headers: { ...(access === undefined ? {} : upstreamAuthHeader(options, access)), ...(body ? { 'content-type': 'application/json' } : {}) },
        body,
      });
      if (reply.status < 200 || reply.status > 299) {
        options.logger.warn(`[next-bff-proxy] upstream logout answered ${reply.status}: the tokens may still be valid upstream; the cookies are cleared anyway`);
      }
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      options.logger.warn(`[next-bff-proxy] upstream logout failed (${typeof code === 'string' ? code : 'error'}); the cookies are cleared anyway`);
    }
  }
  if (res.headersSent || res.destroyed) return;
  appendSetCookie(res, ...clearedSessionCookies(req, options));
  sendJson(res, 200, JSON.stringify({ loggedOut: true }));
}
