import type { ApiProxyOptions } from '../proxy/options';
import { endStoredUserSessions } from '../proxy/store-sessions';
import { getUpstreamContext } from './upstream-context';
import { withStore } from './render-session';
import { ServerApiError } from './server-api-error';

/**
 * "Sign out everywhere" for a user, from server code (an admin action, a password change): every one of
 * their sessions ends on every instance at once, and the API is told of each one's tokens as logout
 * tells it. Needs a session store (only sessions kept on the server can all be found); resolves with
 * how many sessions ended. The user id is the one sessions were stored under: `login.userIdField`, or
 * the access token's JWT `sub`.
 */
export async function endUserSessions(userId: string, options?: ApiProxyOptions): Promise<number> {
  const { options: resolved, agent } = getUpstreamContext(options);
  const store = resolved.sessionStore;
  if (!store) {
    resolved.logger.error('[next-bff-proxy] config_error: endUserSessions needs a session store (SESSION_STORE_URL or sessionStore)');
    throw new ServerApiError('config_error', 500);
  }
  if (typeof userId !== 'string' || userId === '') throw new ServerApiError('bad_path', 400);
  return withStore(() => endStoredUserSessions(resolved, store, agent, userId));
}
