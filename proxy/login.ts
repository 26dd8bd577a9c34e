import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResolvedOptions } from './options';
import type { ProxyErrorCode } from './errors';
import { sendJson } from './errors';
import { getClientResponseHeaders } from './headers';
import { BodyReadError, readBoundedBody } from './bounded-body';
import { LoginResponseError, takeTokensFromBody } from './login-response';
import { appendSetCookie, sessionCookies, UnstorableTokenError } from './session-cookie';
import { streamResponse } from './stream-response';
import { rememberIssuedRefreshToken } from './refresh';
import { readSetCookieValue } from './upstream-cookies';
import { expiresAtFrom } from './token-expiry';
import { jwtSubject, startStoredSession } from './store-sessions';
import { isSessionStoreError } from '../session-store/types';
import { runProxyResHook } from './response-hook';
import { trackedRequest } from './request-scope';

export type LoginOutcome = 'sent' | { code: ProxyErrorCode; detail: string };

// These describe the upstream's bytes, which the proxy has changed (decoded, token removed).
const REPRESENTATION_HEADERS = ['content-encoding', 'content-type', 'etag', 'content-md5', 'digest', 'content-range', 'last-modified'];

export interface CapturedLogin {
  /** The Set-Cookie values that store the new session (and clear a previous refresh cookie). */
  cookies: string[];
  /** The answer's JSON without the tokens. */
  body: string;
  /** Every token this login involved: none may appear in what is passed on. */
  secrets: string[];
}

/**
 * Takes the tokens out of a successful login answer (the token from the JSON body, the refresh token from
 * the body or the upstream's cookie) and makes the cookies that hold them. Throws LoginResponseError or
 * UnstorableTokenError when the answer cannot be used. Shared by the proxy route and the login action.
 */
export async function captureLogin(
  req: IncomingMessage,
  options: ResolvedOptions,
  raw: Buffer,
  upstreamSetCookie: string[] | undefined,
  requestSecrets: readonly (string | undefined)[],
): Promise<CapturedLogin> {
  const refresh = options.refresh;
  const { login } = options;
  const taken = takeTokensFromBody(
    raw,
    { access: login.tokenField, refresh: refresh?.tokenField, expiresIn: login.expiresInField, userId: login.userIdField },
    requestSecrets,
  );
  const refreshToken = taken.refreshToken ?? (refresh ? readSetCookieValue(upstreamSetCookie, refresh.upstreamCookieName) : undefined);
  const accessExpiresAt = expiresAtFrom(taken.expiresIn);
  const store = options.sessionStore;
  // A login replaces both cookies: with no refresh token in this answer, a previous user's refresh
  // cookie must not survive, or the next refresh would sign the browser in as that user. (With a store,
  // a new session id replaces the old session altogether.)
  const cookies = store
    ? await startStoredSession(req, options, store, {
        access: taken.token,
        accessExpiresAt,
        refresh: refreshToken,
        userId: taken.userId ?? jwtSubject(taken.token),
      })
    : sessionCookies(req, options, { access: taken.token, accessExpiresAt, refresh: refreshToken ?? null });
  if (refreshToken !== undefined && !store) rememberIssuedRefreshToken(options, refreshToken);
  const secrets = [
    taken.token,
    ...(refreshToken === undefined ? [] : [refreshToken]),
    ...requestSecrets.filter((secret): secret is string => secret !== undefined),
  ];
  return { cookies, body: taken.body, secrets };
}

/**
 * Answers a login: an upstream success has its token (and refresh token, from the body or the
 * upstream's cookie) moved into httpOnly cookies; an upstream refusal passes through unchanged, with no
 * Set-Cookie at all (an existing session stays). Returns 'sent' or why the answer could not be used.
 */
export async function answerLogin(
  req: IncomingMessage,
  res: ServerResponse,
  proxyRes: IncomingMessage,
  options: ResolvedOptions,
  /** The tokens the request's cookies held: never sent to the login endpoint, never passed back. */
  requestSecrets: readonly (string | undefined)[],
): Promise<LoginOutcome> {
  const status = proxyRes.statusCode ?? 502;
  if (status < 200 || status > 299) {
    streamResponse(proxyRes, res, options, requestSecrets, false);
    return 'sent';
  }

  let captured: CapturedLogin;
  try {
    captured = await captureLogin(
      req,
      options,
      await readBoundedBody(proxyRes, options.login.maxResponseBytes),
      proxyRes.headers['set-cookie'],
      requestSecrets,
    );
  } catch (err) {
    if (err instanceof LoginResponseError || err instanceof UnstorableTokenError) return { code: 'bad_login_response', detail: err.reason };
    if (err instanceof BodyReadError && err.reason !== 'cut_off') return { code: 'bad_login_response', detail: err.reason };
    if (isSessionStoreError(err)) return { code: 'session_store_unavailable', detail: err.reason };
    return { code: 'upstream_unavailable', detail: 'login response cut off' };
  }
  const { cookies, body, secrets } = captured;

  // A timeout or a client abort may have answered while the body was read.
  if (res.headersSent || res.destroyed) return 'sent';
  let headers = getClientResponseHeaders(proxyRes.headers, options, { keepLength: false, secrets });
  for (const name of REPRESENTATION_HEADERS) delete headers[name];
  let answerStatus = 200;
  const hook = options.on.proxyRes;
  if (hook) {
    // The head only: the body is the proxy's (the answer without its tokens), never a hook's to read.
    const answer = await runProxyResHook(hook, trackedRequest(res), answerStatus, headers, options);
    if (answer === undefined) return { code: 'internal_error', detail: 'on.proxyRes hook failed' };
    if (res.headersSent || res.destroyed) return 'sent';
    ({ status: answerStatus, headers } = answer);
  }
  appendSetCookie(res, ...cookies);
  sendJson(res, answerStatus, body, headers as Record<string, string | string[] | number>);
  return 'sent';
}
