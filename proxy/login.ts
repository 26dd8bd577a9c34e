import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResolvedOptions } from './options';
import type { ProxyErrorCode } from './errors';
import { sendJson } from './errors';
import { getClientResponseHeaders } from './headers';
import { readJwtExpiry } from './jwt';
import { BodyReadError, readBoundedBody } from './bounded-body';
import { LoginResponseError, takeTokenFromLoginBody } from './login-response';
import { appendSetCookie, isCookieSafeToken, sessionCookie } from './session-cookie';
import { streamResponse } from './stream-response';

export type LoginOutcome = 'sent' | { code: ProxyErrorCode; detail: string };

// These describe the upstream's bytes, which the proxy has changed (decoded, token removed).
const REPRESENTATION_HEADERS = ['content-encoding', 'content-type', 'etag', 'content-md5', 'digest', 'content-range', 'last-modified'];

/** The cookie lifetime: the JWT's own expiry when it has one, else the configured one (or a session cookie). */
function cookieMaxAge(token: string, options: ResolvedOptions): number | undefined {
  const exp = readJwtExpiry(token);
  if (exp === undefined) return options.cookie.maxAgeSeconds;
  const remaining = Math.floor(exp - Date.now() / 1000);
  if (remaining <= 0) throw new LoginResponseError('expired_token');
  return remaining;
}

/**
 * Answers a login: an upstream success has its token moved from the JSON body into the httpOnly
 * cookie; an upstream refusal passes through unchanged, with no Set-Cookie at all (an existing
 * session stays). Returns 'sent' or why the login answer could not be used.
 */
export async function answerLogin(req: IncomingMessage, res: ServerResponse, proxyRes: IncomingMessage, options: ResolvedOptions): Promise<LoginOutcome> {
  const status = proxyRes.statusCode ?? 502;
  if (status < 200 || status > 299) {
    streamResponse(proxyRes, res, options);
    return 'sent';
  }

  let cookie: string;
  let body: string;
  try {
    const raw = await readBoundedBody(proxyRes, options.login.maxResponseBytes);
    const taken = takeTokenFromLoginBody(raw, options.login.tokenField);
    if (!isCookieSafeToken(taken.token)) throw new LoginResponseError('unsafe_token');
    try {
      cookie = sessionCookie(req, options, taken.token, cookieMaxAge(taken.token, options));
    } catch (err) {
      if (err instanceof LoginResponseError) throw err;
      throw new LoginResponseError('unsafe_token');
    }
    body = taken.body;
  } catch (err) {
    if (err instanceof LoginResponseError) return { code: 'bad_login_response', detail: err.reason };
    if (err instanceof BodyReadError && err.reason !== 'cut_off') return { code: 'bad_login_response', detail: err.reason };
    return { code: 'upstream_unavailable', detail: 'login response cut off' };
  }

  // A timeout or a client abort may have answered while the body was read.
  if (res.headersSent || res.destroyed) return 'sent';
  const headers = getClientResponseHeaders(proxyRes.headers, options, { keepLength: false });
  for (const name of REPRESENTATION_HEADERS) delete headers[name];
  appendSetCookie(res, cookie);
  sendJson(res, 200, body, headers as Record<string, string | string[] | number>);
  return 'sent';
}
