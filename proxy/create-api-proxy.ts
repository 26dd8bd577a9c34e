import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiProxyOptions, ResolvedOptions } from './options';
import { ProxyConfigError, resolveOptions } from './resolve-options';
import { sendError } from './errors';
import { buildUpstreamRequestHeaders, withUpstreamToken } from './headers';
import { answerLogout, answerLogoutEverywhere } from './logout';
import { readSession, type LoadedSession } from './session-source';
import { isSessionStoreError } from '../session-store/types';
import { logThrottled } from './log-throttle';
import { answerPasswordLogin } from './password-login';
import { getRawRequestTarget } from './request-info';
import { appendSetCookie, clearedSessionCookies, readSessionCookies } from './session-cookie';
import { applySessionToAnswer, needsRefresh, refreshSession } from './refresh';
import { answerSession } from './session-endpoint';
import { createRouteUpstreams, type RouteUpstreams } from './route-upstreams';
import { buildUpstreamPath, parseProxiedTarget } from './upstream-path';
import { runExchange } from './exchange';
import { isCrossSiteRequest } from './csrf';
import { readBodyFraming } from './request-framing';
import { isEnded } from './refresh-memory';
import { whenClosed } from './when-closed';
import { runProxyReqHook } from './request-hook';
import { errorName } from './hooks';
import { trackRequest, type TrackedRequest } from './request-scope';
import { matchRoute, targetOnRoute } from './routes';
import { hasExpired } from './token-expiry';

/** A request handler for a Next API route or a plain `node:http` server. Resolves when the response is done. */
export type ApiProxyHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** What a transport cannot do, so the policy can refuse or adapt rather than forward something else. */
export interface TransportTraits {
  /**
   * The answer's framing headers are dropped by the transport (Next's route handlers drop
   * Content-Length, Content-Encoding and Transfer-Encoding): the upstream is asked for `identity`.
   */
  identityEncoding: boolean;
  /** The body of a GET or HEAD is never read (Next's route handlers): such a request is refused. */
  dropsGetBody: boolean;
  /** Requests go upstream through http-proxy (the Pages route), or straight through the same pass. */
  viaHttpProxy: boolean;
  /**
   * The body stream may end before its Content-Length (Next cuts a body read through proxy.ts at
   * `proxyClientMaxBodySize`); Node's own parser never ends one short.
   */
  bodyMayEndShort: boolean;
}

const NODE_TRANSPORT: TransportTraits = { identityEncoding: false, dropsGetBody: false, viaHttpProxy: true, bodyMayEndShort: false };

// `next build` evaluates route modules without the runtime environment; API_URL is not needed then.
function isNextBuild(): boolean {
  return process.env.NEXT_PHASE === 'phase-production-build';
}

/**
 * Creates the proxy. Options are checked here, once: a missing or invalid API_URL is logged now with a
 * message naming it, and every request then gets 500 `config_error` instead of a crash mid-request.
 */
export function createApiProxy(options: ApiProxyOptions = {}): ApiProxyHandler {
  return createRequestHandler(options, NODE_TRANSPORT);
}

/** The one request policy, for a transport that presents its requests as Node's `req` and `res`. */
export function createRequestHandler(options: ApiProxyOptions, transport: TransportTraits): ApiProxyHandler {
  let resolved: ResolvedOptions;
  try {
    resolved = resolveOptions(options);
  } catch (err) {
    if (!(err instanceof ProxyConfigError)) throw err;
    const logger = options.logger ?? console;
    const message = `[next-bff-proxy] config_error: ${err.message}`;
    // Logged once: now, or (during `next build`, where it is expected) at the first request.
    let logged = !isNextBuild();
    if (logged) logger.error(message);
    return async (req, res) => {
      if (!logged) {
        logged = true;
        logger.error(message);
      }
      req.resume();
      sendError(res, 'config_error');
      await whenClosed(res);
    };
  }
  const upstreams = createRouteUpstreams(resolved, { viaHttpProxy: transport.viaHttpProxy });
  return async (req, res) => {
    const closed = whenClosed(res);
    try {
      await handleRequest(req, res, resolved, upstreams, closed, transport);
    } catch (err) {
      if (isSessionStoreError(err)) {
        logThrottled(resolved.logger, 'error', 'store-down', `[next-bff-proxy] session_store_unavailable: ${err.reason}`);
        req.resume();
        sendError(res, 'session_store_unavailable', { 'retry-after': '1' });
      } else {
        resolved.logger.error(`[next-bff-proxy] internal_error: ${errorName(err)}`);
        sendError(res, 'internal_error');
      }
    }
    await closed;
  };
}

/** The allowlist (if any) admits this path (after the prefix) and method. */
function isAllowed(options: ResolvedOptions, path: string, method: string): boolean {
  if (!options.allow) return true;
  return options.allow.some(
    (rule) =>
      (path === rule.pathPrefix || path.startsWith(rule.pathPrefix.endsWith('/') ? rule.pathPrefix : `${rule.pathPrefix}/`)) &&
      (!rule.methods || rule.methods.has(method)),
  );
}

// RFC 9110 §9.2.2: idempotent methods, which may be retried when a connection fails before an answer.
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'DELETE']);

async function handleRequest(
  req: IncomingMessage,
  res: ServerResponse,
  options: ResolvedOptions,
  upstreams: RouteUpstreams,
  closed: Promise<void>,
  transport: TransportTraits,
): Promise<void> {
  const rawTarget = getRawRequestTarget(req);
  const method = (req.method ?? 'GET').toUpperCase();
  // Only with a hook that asks for it: without hooks, a request costs nothing more.
  const tracked: TrackedRequest | undefined =
    options.on.proxyRes || options.on.error
      ? trackRequest(res, options.on, options.logger, { method, path: rawTarget, route: undefined })
      : undefined;
  const target = parseProxiedTarget(rawTarget, options.pathPrefix);
  if (typeof target === 'string') {
    req.resume();
    sendError(res, target);
    return;
  }
  if (tracked) tracked.path = target.path + target.query;
  const framing = readBodyFraming(req.headers);
  if (framing === 'invalid') {
    // Nothing of this body is read or forwarded, and the connection is not reused: where its framing
    // is in doubt, so is the start of the next request on it.
    sendError(res, 'bad_request', { connection: 'close' });
    return;
  }
  if (transport.dropsGetBody && framing !== 'none' && (method === 'GET' || method === 'HEAD') && req.headers['content-length'] !== '0') {
    // Next never reads the body of a GET or HEAD sent to a route handler: forwarding the headers
    // without it would leave the upstream waiting for bytes that never come.
    sendError(res, 'bad_request', { connection: 'close' });
    return;
  }
  const route = routeOf(target.routeKey, options);
  const allowedMethods =
    route === 'login' || route === 'logout' || route === 'logout-everywhere' ? ['POST'] : route === 'session' ? ['GET', 'HEAD'] : undefined;
  if (allowedMethods && !allowedMethods.includes(method)) {
    // A login by GET could be forged by a link (login CSRF); logout and session are the proxy's own.
    req.resume();
    sendError(res, 'method_not_allowed', { allow: allowedMethods.join(', ') });
    return;
  }

  // Read before the headers are rewritten: the rewrite removes the browser's Cookie header. (With a
  // session store these are the session id; the tokens are read below, only where they are used.)
  const held = readSessionCookies(req, options);
  const hasSession = held.access !== undefined || held.refresh !== undefined || held.conflict;
  if (
    isCrossSiteRequest(req, options, {
      hasSession,
      isSessionRoute: route === 'login' || route === 'logout' || route === 'logout-everywhere',
    })
  ) {
    req.resume();
    sendError(res, 'csrf');
    return;
  }
  if (route === 'logout') return answerLogout(req, res, options, upstreams.main);
  if (route === 'logout-everywhere') return answerLogoutEverywhere(req, res, options, upstreams.main);
  if (route === 'login' && options.login.passwordGrant && options.oauth2) {
    return answerPasswordLogin(req, res, options, options.oauth2, upstreams.main.agent, [held.access, held.refresh]);
  }
  if (route === 'session') return answerSession(req, res, options, upstreams.main);
  if (route !== 'login' && !isAllowed(options, target.path, method)) {
    req.resume();
    sendError(res, 'path_not_allowed');
    return;
  }
  const declaredLength = Number(req.headers['content-length']);
  if (options.maxRequestBodyBytes !== undefined && declaredLength > options.maxRequestBodyBytes) {
    // Refused before a byte is read; the connection closes rather than drain a body we will not use.
    sendError(res, 'payload_too_large', { connection: 'close' });
    return;
  }
  // After `allow`, which judges the path as the client sent it. A login is API_URL's, whatever the table says.
  const apiRoute = route === 'login' ? options.routes.fallback : matchRoute(options.routes, target.path);
  if (tracked) tracked.route = apiRoute.pathPrefix;
  // 'none': the session stays out of this request entirely (no token, no refresh, no retry).
  const usesSession = route !== 'login' && apiRoute.token !== 'none';
  const cookies: LoadedSession = usesSession ? await readSession(req, options) : held;
  let token = usesSession ? cookies.access : undefined;
  const refreshToken = usesSession ? cookies.refresh : undefined;
  // Two cookies of one name: neither is trusted. (Or, with a store, an id naming no live session.) The
  // request goes on without a session, and the answer clears what can be cleared.
  if (cookies.conflict || cookies.stale) appendSetCookie(res, ...clearedSessionCookies(req, options));

  let refreshed = false;
  if (usesSession && refreshToken !== undefined && needsRefresh(token, options, cookies.accessExpiresAt)) {
    // Refresh before forwarding: the request carries the new token, the answer the new cookies.
    // With a store, `cookies` is the session as this request read it: a refresh another instance finished
    // since is then used, not repeated.
    const session = await refreshSession(req, options, upstreams.main.agent, refreshToken, () => closed, cookies);
    // The client went away during the refresh: nothing is left to answer or forward.
    if (res.destroyed) {
      req.resume();
      return;
    }
    const applied = applySessionToAnswer(res, session, true);
    if (applied.kind === 'stop') {
      req.resume();
      return sendError(res, applied.code, applied.headers);
    }
    token = applied.accessToken;
    refreshed = true;
  }
  if (apiRoute.token === 'required' && (token === undefined || hasExpired(token, refreshed ? undefined : cookies.accessExpiresAt))) {
    // Nothing the upstream could accept: it is not asked.
    req.resume();
    return sendError(res, 'unauthenticated');
  }

  // A login carries no session upstream: the old token has no business there, and an answer echoing
  // it would not be scrubbed of it.
  const sentToken = usesSession ? token : undefined;
  const identity = route === 'login' || transport.identityEncoding;
  let headers = buildUpstreamRequestHeaders(req, options, { identity, host: apiRoute.upstream.host });
  const proxyReqHook = options.on.proxyReq;
  if (proxyReqHook) {
    const request = { method, path: target.path + target.query, route: apiRoute.pathPrefix };
    const hooked = await runProxyReqHook(
      proxyReqHook,
      request,
      headers,
      options.logger,
      options.timeoutMs,
      identity ? ['accept-encoding'] : [],
    );
    if (res.destroyed) {
      req.resume();
      return;
    }
    if (hooked === undefined) {
      req.resume();
      return sendError(res, 'internal_error');
    }
    headers = hooked;
  }
  // The token last: no hook can set or see it.
  req.headers = withUpstreamToken(headers, options, sentToken);
  req.url = buildUpstreamPath(apiRoute.basePath, targetOnRoute(apiRoute, target));
  // Only a request without a body can be sent a second time (a streamed body is never replayed):
  // after a refresh, or after a stale keep-alive socket.
  const bodyless = framing === 'none' || (framing === 'length' && req.headers['content-length'] === '0');
  const canRetry = usesSession && !refreshed && refreshToken !== undefined && bodyless;
  runExchange(req, res, options, upstreams.of(apiRoute), {
    isLogin: route === 'login',
    closed,
    secrets: [token, refreshToken, held.access, held.refresh],
    replayable: IDEMPOTENT_METHODS.has(method) && bodyless,
    hasBody: !bodyless,
    declaredLength: transport.bodyMayEndShort && framing === 'length' && !bodyless ? Number(req.headers['content-length']) : undefined,
    sentToken: sentToken !== undefined || canRetry,
    refreshAfter401: canRetry ? () => refreshSession(req, options, upstreams.main.agent, refreshToken, () => closed, cookies) : undefined,
    sessionEnded: refreshToken === undefined ? undefined : () => isEnded(options, refreshToken),
    route: apiRoute,
  });
}

/** Which of the proxy's own routes the path names, if any. */
function routeOf(routeKey: string, options: ResolvedOptions): 'login' | 'logout' | 'logout-everywhere' | 'session' | 'proxied' {
  if (routeKey === options.login.path) return 'login';
  if (routeKey === options.logout.path) return 'logout';
  // Only sessions in a store can all be found and ended; with cookie sessions the path is the API's.
  if (options.sessionStore && routeKey === options.logout.everywherePath) return 'logout-everywhere';
  if (options.session && routeKey === options.session.path) return 'session';
  return 'proxied';
}
