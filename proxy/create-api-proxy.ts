import type { IncomingMessage, ServerResponse } from 'node:http';
import { ProxyConfigError, resolveOptions, type ApiProxyOptions, type ResolvedOptions } from './options';
import { sendError } from './errors';
import { setUpstreamRequestHeaders } from './headers';
import { answerLogout } from './logout';
import { getRawRequestTarget } from './request-info';
import { readSessionToken } from './session-cookie';
import { createUpstream, type Upstream } from './upstream';
import { buildUpstreamPath, parseProxiedTarget } from './upstream-path';
import { runExchange } from './exchange';
import { isCrossSiteRequest } from './csrf';

/** A request handler for a Next API route or a plain `node:http` server. Resolves when the response is done. */
export type ApiProxyHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

function whenClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    if (res.closed) resolve();
    else res.once('close', () => resolve());
  });
}

// `next build` evaluates route modules without the runtime environment; API_URL is not needed then.
function isNextBuild(): boolean {
  return process.env.NEXT_PHASE === 'phase-production-build';
}

/**
 * Creates the proxy. Options are checked here, once: a missing or invalid API_URL is logged now with a
 * message naming it, and every request then gets 500 `config_error` instead of a crash mid-request.
 */
export function createApiProxy(options: ApiProxyOptions = {}): ApiProxyHandler {
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
  const upstream = createUpstream(resolved);
  return async (req, res) => {
    const closed = whenClosed(res);
    try {
      await handleRequest(req, res, resolved, upstream, closed);
    } catch (err) {
      resolved.logger.error(`[next-bff-proxy] internal_error: ${err instanceof Error ? err.name : 'unknown'}`);
      sendError(res, 'internal_error');
    }
    await closed;
  };
}

/** The allowlist (if any) admits this path (after the prefix) and method. */
function isAllowed(options: ResolvedOptions, path: string, method: string): boolean {
  if (!options.allow) return true;
  return options.allow.some(
    (rule) => (path === rule.pathPrefix || path.startsWith(rule.pathPrefix.endsWith('/') ? rule.pathPrefix : `${rule.pathPrefix}/`)) && (!rule.methods || rule.methods.has(method)),
  );
}

async function handleRequest(req: IncomingMessage, res: ServerResponse, options: ResolvedOptions, upstream: Upstream, closed: Promise<void>): Promise<void> {
  const target = parseProxiedTarget(getRawRequestTarget(req), options.pathPrefix);
  if (typeof target === 'string') {
    req.resume();
    sendError(res, target);
    return;
  }
  const method = (req.method ?? 'GET').toUpperCase();
  const isLogout = target.routeKey === options.logout.path;
  const isLogin = target.routeKey === options.login.path;
  if ((isLogin || isLogout) && method !== 'POST') {
    // A login by GET could be forged by a link (login CSRF); logout is the proxy's own POST endpoint.
    req.resume();
    sendError(res, 'method_not_allowed', { allow: 'POST' });
    return;
  }
  // Read before the headers are rewritten: the rewrite removes the browser's Cookie header.
  const token = readSessionToken(req, options);
  if (isCrossSiteRequest(req, options, { hasSession: token !== undefined, isSessionRoute: isLogin || isLogout })) {
    req.resume();
    sendError(res, 'csrf');
    return;
  }
  if (isLogout) {
    await answerLogout(req, res, options, upstream);
    return;
  }
  if (!isLogin && !isAllowed(options, target.path, method)) {
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

  setUpstreamRequestHeaders(req, options, token, isLogin);
  req.headers.host = options.upstream.host;
  req.url = buildUpstreamPath(options.upstreamBasePath, target);
  runExchange(req, res, options, upstream, isLogin, closed);
}
