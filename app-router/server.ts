import { cookies, headers } from 'next/headers';
import { redirect } from 'next/navigation';
import type { ApiProxyOptions } from '../proxy/options';
import { describeSession, type SessionInfo } from '../proxy/session-endpoint';
import { createServerApiFor, type ServerApi } from '../server-lib/server-api';
import { ServerApiError } from '../server-lib/server-api-error';
import { resolveRenderSession, type SessionCarrier } from '../server-lib/render-session';
import { getUpstreamContext } from '../server-lib/upstream-context';
import { headersOnlyRequest } from './node-request';
import { parseOwnSetCookie } from './set-cookie';

/** The server-side API client of a server component or server action. The token never leaves it. */
export type AppServerApi = Omit<ServerApi, 'sessionToken'>;

/**
 * The session of the request being rendered, read through `headers()` and written through `cookies()`.
 * A server action (or a route handler) can set cookies; a server component cannot (Next throws), so
 * there a refreshed token serves this render only: see `createSessionProxy` for refreshing before the
 * render, in `proxy.ts`, so the browser gets the new cookies with the page.
 */
export async function appCarrier(): Promise<SessionCarrier> {
  const [headerList, cookieStore] = await Promise.all([headers(), cookies()]);
  return {
    req: headersOnlyRequest(headerList as unknown as Headers),
    setCookies(list) {
      try {
        for (const header of list) cookieStore.set(parseOwnSetCookie(header));
        return true;
      } catch {
        // "Cookies can only be modified in a Server Action or Route Handler."
        return false;
      }
    },
    whenDone: () => Promise.resolve(),
  };
}

/**
 * The API client for a server component or a server action: it calls API_URL directly with the
 * session's token (refreshed first when about to expire), as the Pages route's `createServerApi` does.
 * Pass the options given to `createRouteHandlers`, or nothing for the defaults.
 */
export async function getServerApi(options?: ApiProxyOptions): Promise<AppServerApi> {
  const api = createServerApiFor(await appCarrier(), options);
  return { hasSession: api.hasSession, get: api.get, delete: api.delete, post: api.post, put: api.put, patch: api.patch };
}

/** What `GET /api/session` answers, for a server component: `{ authenticated, expiresAt }`, never the token. */
export async function getSession(options?: ApiProxyOptions): Promise<SessionInfo> {
  const { options: resolved, agent } = getUpstreamContext(options);
  return describeSession(await resolveRenderSession(await appCarrier(), resolved, agent));
}

export interface RequireSessionOptions {
  /** The path of the page, carried to the login page as `?next=` so the login can come back to it. */
  returnTo?: string;
  /** @default '/login' */
  loginPath?: string;
  /** The options given to `createRouteHandlers`. */
  apiOptions?: ApiProxyOptions;
}

/** Redirects to the login page (Next's `redirect`, which throws), with `?next=<returnTo>` when given. */
export function redirectToLogin(returnTo?: string, loginPath = '/login'): never {
  redirect(returnTo === undefined ? loginPath : `${loginPath}?next=${encodeURIComponent(returnTo)}`);
}

/**
 * For a server component that needs a session: the API client, or a redirect to the login page when
 * there is no session or it cannot be renewed. Any other API failure is thrown as a ServerApiError.
 */
export async function requireSession(options: RequireSessionOptions = {}): Promise<AppServerApi> {
  const carrier = await appCarrier();
  const api = createServerApiFor(carrier, options.apiOptions);
  if (!api.hasSession) redirectToLogin(options.returnTo, options.loginPath);
  let token: string | undefined;
  try {
    token = await api.sessionToken();
  } catch (err) {
    if (err instanceof ServerApiError && err.code === 'unauthorized') redirectToLogin(options.returnTo, options.loginPath);
    throw err;
  }
  if (token === undefined) redirectToLogin(options.returnTo, options.loginPath);
  return { hasSession: api.hasSession, get: api.get, delete: api.delete, post: api.post, put: api.put, patch: api.patch };
}
