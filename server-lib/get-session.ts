import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiProxyOptions } from '../proxy/options';
import { describeSession, type SessionInfo } from '../proxy/session-endpoint';
import { pageCarrier, resolveRenderSession } from './render-session';
import { getUpstreamContext } from './upstream-context';

/**
 * What `GET /api/session` answers, for getServerSideProps: refreshed when needed, the new cookies (or the
 * cleared ones) set on `ctx.res`. Never the token. Throws ServerApiError when the upstream cannot be
 * reached for a needed refresh.
 */
export async function getSession(ctx: { req: IncomingMessage; res: ServerResponse }, options?: ApiProxyOptions): Promise<SessionInfo> {
  const { options: resolved, agent } = getUpstreamContext(options);
  return describeSession(await resolveRenderSession(pageCarrier(ctx), resolved, agent));
}
