import { cookies, headers } from 'next/headers';
import { redirect } from 'next/navigation';
import type { ApiProxyOptions, ResolvedOptions } from '../proxy/options';
import { isCrossSiteRequest } from '../proxy/csrf';
import { describeSession, type SessionInfo } from '../proxy/session-endpoint';
import { createServerApiFor, type ServerApi } from '../server-lib/server-api';
import { ServerApiError } from '../server-lib/server-api-error';
import { resolveRenderSession, type SessionCarrier } from '../server-lib/render-session';
import { getUpstreamContext } from '../server-lib/upstream-context';
import { headersOnlyRequest } from './node-request';
import { parseOwnSetCookie } from './set-cookie';

/** The server-side API client of a server component or server action. The token never leaves it. */
export type AppServerApi = Omit<ServerApi, 'sessionToken'>;

/** The render session of a server component or a server action. */
export interface AppCarrier extends SessionCarrier {
  /** A server action (a POST): it can set cookies, and it is checked against cross-site forgery. */
  readonly isServerAction: boolean;
}

/**
 * A server action may have been posted by another site: the route's CSRF policy (Fetch Metadata, then
 * Origin/Referer) runs on it too, beyond Next's own Origin-against-Host check, which lets through a
 * post without Origin, a cross-site Sec-Fetch-Site and a scheme mismatch. (`csrf.requireHeader` does not
 * apply: Next's client sends no custom header with an action.)
 */
export function isForgedAction(carrier: AppCarrier, options: ResolvedOptions, hasSession: boolean, isSessionRoute: boolean): boolean {
  // Login and logout are checked wherever they run; the API client only in a (possible) action.
  return (
    (isSessionRoute || carrier.isServerAction) &&
    isCrossSiteRequest(carrier.req, options, { hasSession, isSessionRoute, isServerAction: true })
  );
}

/**
 * The session of the request being rendered, read through `headers()` and written through `cookies()`.
 * A server action (or a route handler) can set cookies; a server component cannot (Next throws), so
 * there a refreshed token serves this render only: see `createSessionProxy` for refreshing before the
 * render, in `proxy.ts`, so the browser gets the new cookies with the page.
 */
export async function appCarrier(): Promise<AppCarrier> {
  const [headerList, cookieStore] = await Promise.all([headers(), cookies()]);
  // Next posts a server action with a `Next-Action` header (a plain form carries its id in the body
  // instead, and reaches Next's action handler without it: such a post is still treated as an action
  // by the checks below through its method).
  const postedByNext = headerList.has('next-action');
  const isServerAction = postedByNext || headerList.get('content-type')?.startsWith('multipart/form-data') === true;
  const req = headersOnlyRequest(headerList as unknown as Headers);
  req.method = isServerAction ? 'POST' : 'GET';
  return {
    req,
    isServerAction,
    // Only Next's own action posts unlock refreshing in a render: a GET may carry a multipart Content-Type
    // too (a no-cors request from a sibling site can), and a render that cannot store a rotation must not
    // start one. A plain-form action still sets the cookies of a refresh its expired token needs.
    readOnly: !postedByNext,
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
  const carrier = await appCarrier();
  const api = createServerApiFor(carrier, options);
  const resolved = getUpstreamContext(options).options;
  if (isForgedAction(carrier, resolved, api.hasSession, false)) {
    resolved.logger.warn('[next-bff-proxy] csrf: a server action from another site was refused');
    throw new ServerApiError('csrf', 403);
  }
  return withoutToken(api);
}

/** The client without `sessionToken`: a server component or action never handles the token itself. */
function withoutToken(api: ServerApi): AppServerApi {
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

/** A path on this site: never `//host`, `https://…`, `javascript:` or a backslash trick (no open redirect). */
const LOCAL_PATH = /^\/(?![/\\])[^\s\\]*$/;

/**
 * Redirects to the login page (Next's `redirect`, which throws), with `?next=<returnTo>` when given.
 * `loginPath` must be a path on this site: anything else is a programming error, thrown as such.
 */
export function redirectToLogin(returnTo?: string, loginPath = '/login'): never {
  if (!LOCAL_PATH.test(loginPath)) throw new TypeError('redirectToLogin: loginPath must be a path on this site, such as /login');
  redirect(returnTo === undefined ? loginPath : `${loginPath}?next=${encodeURIComponent(returnTo)}`);
}

/** The client with every call sending the visitor to the login page when the API no longer accepts the session. */
function redirectingWhenUnauthorized(api: ServerApi, options: RequireSessionOptions): AppServerApi {
  const guarded = async <R>(call: () => Promise<R>): Promise<R> => {
    try {
      return await call();
    } catch (err) {
      if (err instanceof ServerApiError && err.code === 'unauthorized') redirectToLogin(options.returnTo, options.loginPath);
      throw err;
    }
  };
  return {
    hasSession: api.hasSession,
    get: <T>(path: string) => guarded(() => api.get<T>(path)),
    delete: <T>(path: string) => guarded(() => api.delete<T>(path)),
    post: <T>(path: string, body?: unknown) => guarded(() => api.post<T>(path, body)),
    put: <T>(path: string, body?: unknown) => guarded(() => api.put<T>(path, body)),
    patch: <T>(path: string, body?: unknown) => guarded(() => api.patch<T>(path, body)),
  };
}

/**
 * For a server component that needs a session: the API client, or a redirect to the login page when
 * there is no session or it cannot be renewed, now or at any later call (a session revoked elsewhere
 * answers 401). Any other API failure is thrown as a ServerApiError.
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
  return redirectingWhenUnauthorized(api, options);
}
