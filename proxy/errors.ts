import type { ServerResponse } from 'node:http';
import { mergeSetCookieHeader } from './session-cookie';
import { keepOutOfSharedCaches } from './response-safety';
import { reportProxyError } from './request-scope';

/** The stable codes a client can see in `{"error":{"code":...}}`. */
export type ProxyErrorCode =
  | 'bad_request'
  | 'bad_path'
  | 'not_found'
  | 'method_not_allowed'
  | 'session_expired'
  | 'unauthenticated'
  | 'csrf'
  | 'path_not_allowed'
  | 'payload_too_large'
  | 'config_error'
  | 'upstream_unavailable'
  | 'upstream_timeout'
  | 'bad_upstream_response'
  | 'bad_login_response'
  | 'refresh_unavailable'
  | 'session_store_unavailable'
  | 'request_timeout'
  | 'internal_error';

const STATUS: Record<ProxyErrorCode, number> = {
  bad_request: 400,
  bad_path: 400,
  not_found: 404,
  method_not_allowed: 405,
  session_expired: 401,
  unauthenticated: 401,
  csrf: 403,
  path_not_allowed: 403,
  payload_too_large: 413,
  config_error: 500,
  upstream_unavailable: 502,
  upstream_timeout: 504,
  bad_upstream_response: 502,
  bad_login_response: 502,
  refresh_unavailable: 503,
  session_store_unavailable: 503,
  request_timeout: 408,
  internal_error: 500,
};

// Generic on purpose: what went wrong inside (addresses, upstream messages, stacks) stays in the log.
const MESSAGE: Record<ProxyErrorCode, string> = {
  bad_request: 'The request is malformed.',
  bad_path: 'The request path cannot be forwarded.',
  not_found: 'Not found.',
  method_not_allowed: 'Method not allowed.',
  session_expired: 'The session has expired: please sign in again.',
  unauthenticated: 'Sign in first.',
  csrf: 'The request was refused as a possible cross-site request forgery.',
  path_not_allowed: 'This API path is not available through the proxy.',
  payload_too_large: 'The request body is too large.',
  config_error: 'The API proxy is not configured.',
  upstream_unavailable: 'The API is unavailable.',
  upstream_timeout: 'The API did not answer in time.',
  bad_upstream_response: 'The API sent a response that cannot be passed on.',
  bad_login_response: 'The API sent a login response that cannot be used.',
  refresh_unavailable: 'The session cannot be renewed right now: try again shortly.',
  session_store_unavailable: 'Sessions are unavailable right now: try again shortly.',
  request_timeout: 'The request body did not arrive in time.',
  internal_error: 'Internal error.',
};

function errorBody(code: ProxyErrorCode): string {
  return JSON.stringify({ error: { code, message: MESSAGE[code] } });
}

/**
 * Answers with the JSON error, once. When the response has already started (headers sent), the only
 * honest thing left is to cut the connection so the client sees a truncated response, not a hang.
 */
export function sendError(res: ServerResponse, code: ProxyErrorCode, extraHeaders: Record<string, string> = {}): void {
  if (res.headersSent || res.writableEnded || res.destroyed) {
    if (!res.writableEnded) res.destroy();
    return;
  }
  const body = errorBody(code);
  res.writeHead(STATUS[code], {
    ...extraHeaders,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    // `private` too: an error may carry Set-Cookie (a cleared or renewed session).
    'cache-control': 'private, no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(body);
  reportProxyError(res, code, STATUS[code]);
}

/** Sends a JSON body the proxy made itself (login, logout answers). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string | string[] | number> = {},
): void {
  const own = { ...headers };
  mergeSetCookieHeader(res, own);
  keepOutOfSharedCaches(own);
  res.writeHead(status, {
    ...own,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'private, no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(body);
}
