import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { ApiProxyOptions } from '../proxy/options';
import { callUpstream, UpstreamCallError } from '../proxy/upstream-call';
import { parseProxiedTarget } from '../proxy/upstream-path';
import { readSessionCookies } from '../proxy/session-cookie';
import { readSession, type LoadedSession } from '../proxy/session-source';
import { upstreamAuthHeader } from '../proxy/headers';
import { runProxyReqHook } from '../proxy/request-hook';
import type { HookRequest } from '../proxy/hooks';
import { matchRoute, targetOnRoute, type ResolvedRoute } from '../proxy/routes';
import { hasExpired } from '../proxy/token-expiry';
import { ServerApiError } from './server-api-error';
import { getUpstreamContext } from './upstream-context';
import { pageCarrier, refreshRenderSession, resolveRenderSession, withStore, type SessionCarrier } from './render-session';

export interface ServerApiResponse<T> {
  status: number;
  data: T;
}

/** A client for getServerSideProps: calls API_URL directly with the token from the request's cookie. */
export interface ServerApi {
  /** True when the request carries a session or refresh cookie (not a promise that the API accepts it). */
  readonly hasSession: boolean;
  /**
   * The access token to use, refreshed first when it is missing or about to expire (the new cookies
   * are set on `ctx.res`). Throws ServerApiError('unauthorized') when the refresh token is refused.
   * For server-lib's own use: never put it in props.
   */
  sessionToken(): Promise<string | undefined>;
  get<T = unknown>(path: string): Promise<ServerApiResponse<T>>;
  delete<T = unknown>(path: string): Promise<ServerApiResponse<T>>;
  post<T = unknown>(path: string, body?: unknown): Promise<ServerApiResponse<T>>;
  put<T = unknown>(path: string, body?: unknown): Promise<ServerApiResponse<T>>;
  patch<T = unknown>(path: string, body?: unknown): Promise<ServerApiResponse<T>>;
}

// Pages read more than a login answer; still bounded, so a runaway upstream cannot exhaust memory.
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/**
 * Builds an API path from a template, percent-encoding every interpolated value as one path segment:
 * apiPath`/items/${id}` with id = '../admin' gives '/items/..%2Fadmin', which the client then refuses
 * (an encoded slash), so user input can never reach another upstream path.
 */
export function apiPath(strings: TemplateStringsArray, ...values: Array<string | number>): string {
  return strings.reduce((path, part, i) => path + part + (i < values.length ? encodeURIComponent(String(values[i])) : ''), '');
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0) return null;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new ServerApiError('bad_upstream_response', 502);
  }
}

/**
 * Creates the server-side API client for one request. Options are the proxy's (cookie name, header
 * format, API_URL, refresh): pass the same object given to `createApiProxy`, or nothing for the
 * defaults. An access token about to expire is refreshed on first use, as the proxy route does, and the
 * new cookies are set on `ctx.res`.
 */
export function createServerApi(ctx: { req: IncomingMessage; res: ServerResponse }, options?: ApiProxyOptions): ServerApi {
  return createServerApiFor(pageCarrier(ctx), options);
}

/** The server-side API client for one render, whichever router: its session is read from and applied to `carrier`. */
export function createServerApiFor(carrier: SessionCarrier, options?: ApiProxyOptions): ServerApi {
  const { options: resolved, agent } = getUpstreamContext(options);
  const cookies = readSessionCookies(carrier.req, resolved);
  // The refresh token a 401 may be answered with: the cookie's, or (with a session store) the stored one,
  // read with the session.
  let refreshToken = resolved.sessionStore ? undefined : cookies.refresh;
  let seen: LoadedSession | undefined;
  // The token this page's calls use, and whether one refresh after an upstream 401 is still allowed
  // (a refresh token is there and has not been used by this request yet). Shared by every call.
  let session: Promise<{ token: string | undefined; renewable: boolean }> | undefined;
  let renewed = false;

  async function resolveToken() {
    const state = await resolveRenderSession(carrier, resolved, agent);
    if (state.kind === 'expired') throw new ServerApiError('unauthorized', 401);
    if (state.kind === 'none') return { token: undefined, renewable: false };
    if (resolved.sessionStore) {
      seen = await withStore(() => readSession(carrier.req, resolved));
      refreshToken = seen.refresh;
    }
    return { token: state.accessToken, renewable: refreshToken !== undefined && state.setCookies.length === 0 };
  }
  const current = () => (session ??= resolveToken());
  const sessionToken = async () => (await current()).token;

  // As the proxy route does: an upstream 401 gets one refresh and one retry. The tokens may be opaque
  // (no `exp` to see expiry coming), and a 401 must never end a session whose refresh token still works.
  async function renewAfter401(): Promise<string | undefined> {
    if (!renewed && refreshToken !== undefined) {
      renewed = true;
      session = refreshRenderSession(carrier, resolved, agent, refreshToken, seen).then((state) => {
        if (state.kind !== 'active') throw new ServerApiError('unauthorized', 401);
        return { token: state.accessToken, renewable: false };
      });
    }
    return sessionToken();
  }

  /**
   * One call. `request`: what the hooks are told (the path as the browser would send it after /api);
   * `path`: what goes to `route`'s upstream, after its base path.
   */
  async function send(request: HookRequest, route: ResolvedRoute, path: string, payload: string | undefined, token: string | undefined) {
    const { method } = request;
    let headers: OutgoingHttpHeaders = {
      accept: 'application/json',
      ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
    };
    const hook = resolved.on.proxyReq;
    if (hook) {
      // The same hook, and the same rules, as a request through the proxy route: a request id set there
      // reaches the API from server rendering too; the token is added after it.
      const hooked = await runProxyReqHook(hook, request, headers as IncomingHttpHeaders, resolved.logger, resolved.timeoutMs);
      if (hooked === undefined) throw new ServerApiError('internal_error', 500);
      headers = hooked;
    }
    try {
      return await callUpstream(resolved, agent, {
        method,
        path,
        // A route with its own `url`: that upstream, on its origin's shared agent.
        target: route.upstream === resolved.upstream ? undefined : route.upstream,
        headers: { ...headers, ...(token === undefined ? {} : upstreamAuthHeader(resolved, token)) },
        body: payload,
        maxResponseBytes: MAX_RESPONSE_BYTES,
      });
    } catch (err) {
      if (err instanceof UpstreamCallError) {
        resolved.logger.error(`[next-bff-proxy] server-lib ${err.code} (${method}): ${err.message}`);
        throw ServerApiError.forFailedCall(err.code);
      }
      throw err;
    }
  }

  async function call<T>(method: string, path: string, body?: unknown): Promise<ServerApiResponse<T>> {
    // The same rules as the proxy route: no dot segments, encoded separators or foreign hosts.
    const target = parseProxiedTarget(path, '');
    if (typeof target === 'string' || target.path === '') throw new ServerApiError('bad_path', 400);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    // Routed as the browser's `/api{path}` is: the same upstream, path and token policy.
    const route = matchRoute(resolved.routes, target.path);
    const onRoute = targetOnRoute(route, target);
    const upstreamPath = (onRoute.path === '' && route.basePath === '' ? '/' : onRoute.path) + onRoute.query;
    const request = { method, path: target.path + target.query, route: route.pathPrefix };
    // 'none': the session is not even looked at (no refresh, no retry).
    const { token, renewable } = route.token === 'none' ? { token: undefined, renewable: false } : await current();
    // A token of unknown or opaque expiry was already judged by the render's session (refreshed when due).
    if (route.token === 'required' && (token === undefined || hasExpired(token, undefined))) {
      throw new ServerApiError('unauthorized', 401, { sessionEnded: false });
    }
    let reply = await send(request, route, upstreamPath, payload, token);
    if (reply.status === 401 && renewable) reply = await send(request, route, upstreamPath, payload, await renewAfter401());
    // With a refresh token still good, the session is not over: the cookies stay. A route without the
    // token says nothing about the session.
    if (reply.status === 401) {
      throw new ServerApiError('unauthorized', 401, { sessionEnded: route.token !== 'none' && refreshToken === undefined });
    }
    if (reply.status < 200 || reply.status > 299) throw new ServerApiError('upstream_error', reply.status);
    return { status: reply.status, data: parseJson(reply.body) as T };
  }

  return {
    hasSession: cookies.access !== undefined || cookies.refresh !== undefined || cookies.conflict,
    sessionToken,
    get: (path) => call('GET', path),
    delete: (path) => call('DELETE', path),
    post: (path, body) => call('POST', path, body),
    put: (path, body) => call('PUT', path, body),
    patch: (path, body) => call('PATCH', path, body),
  };
}
