import type { IncomingMessage, ServerResponse } from 'node:http';
import { appendSetCookie, describeSession, resolveSession, type ApiProxyOptions, type SessionInfo } from '../proxy';
import { ServerApiError } from './server-api-error';
import { clearSessionOn } from './session-cookies';
import { getUpstreamContext } from './upstream-context';

/**
 * What `GET /api/session` answers, for getServerSideProps: refreshed when needed, the new cookies (or the
 * cleared ones) set on `ctx.res`. Never the token. Throws ServerApiError when the upstream cannot be
 * reached for a needed refresh.
 */
export async function getSession(ctx: { req: IncomingMessage; res: ServerResponse }, options?: ApiProxyOptions): Promise<SessionInfo> {
  const { options: resolved, agent } = getUpstreamContext(options);
  const session = await resolveSession(ctx.req, resolved, agent);
  if (session.kind === 'failed') throw new ServerApiError(session.code, session.code === 'upstream_timeout' ? 504 : 502);
  if (session.kind === 'expired') clearSessionOn(ctx, resolved);
  if (session.kind === 'active' && !ctx.res.headersSent) appendSetCookie(ctx.res, ...session.setCookies);
  return describeSession(session);
}
