import { clearedSessionCookies, readSessionCookies, UnstorableTokenError } from '../proxy/session-cookie';
import type { ApiProxyOptions } from '../proxy/options';
import { captureLogin } from '../proxy/login';
import { isSessionStoreError } from '../session-store/types';
import { LoginResponseError } from '../proxy/login-response';
import { endSession } from '../proxy/logout';
import { callUpstream, UpstreamCallError, type UpstreamReply } from '../proxy/upstream-call';
import { clientSecrets } from '../proxy/oauth2';
import { describeGrantRefusal, readPasswordCredentials, requestPasswordGrant } from '../proxy/password-login';
import { getUpstreamContext } from '../server-lib/upstream-context';
import { ServerApiError } from '../server-lib/server-api-error';
import { appCarrier, isForgedAction } from './server';

export type LoginResult =
  /** Signed in: the cookies are set; `data` is the API's answer without the tokens. */
  | { ok: true; data: unknown }
  /** The API refused (its status and JSON answer, if any), or could not be used (`error`): no cookie changed. */
  | { ok: false; status: number; data?: unknown; error?: { code: string; message: string } };

const BAD_LOGIN = 'The API sent a login response that cannot be used.';

// The headers of the browser's request worth passing on to a login (the API may record the device).
const PASSED_HEADERS = ['user-agent', 'accept-language'];

function failure(code: string, message: string, status: number): LoginResult {
  return { ok: false, status, error: { code, message } };
}

function parseJson(body: Buffer): unknown {
  try {
    return body.length === 0 ? null : (JSON.parse(body.toString('utf8')) as unknown);
  } catch {
    return null;
  }
}

/**
 * Signs in from a server action: `POST {API_URL}{login.path}` with `credentials` as JSON, and the same
 * capture rules as `POST /api/login` through the route (the token, and the refresh token, from the
 * answer into httpOnly cookies set through `cookies()`). Returns the answer without its tokens: what a
 * server action returns reaches the browser, so a token never may.
 */
export async function login(credentials: unknown, options?: ApiProxyOptions): Promise<LoginResult> {
  let context;
  try {
    context = getUpstreamContext(options);
  } catch {
    return failure('config_error', 'The API proxy is not configured.', 500);
  }
  const { options: resolved, agent } = context;
  const carrier = await appCarrier();
  const held = readSessionCookies(carrier.req, resolved);
  if (isForgedAction(carrier, resolved, true, true)) {
    resolved.logger.warn('[next-bff-proxy] csrf: a login action from another site was refused');
    return failure('csrf', 'The request was refused as a possible cross-site request forgery.', 403);
  }
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json', 'accept-encoding': 'identity' };
  for (const name of PASSED_HEADERS) {
    const value = carrier.req.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  let reply: UpstreamReply;
  const oauth2 = resolved.login.passwordGrant ? resolved.oauth2 : undefined;
  const grant = oauth2 && readPasswordCredentials(credentials);
  if (oauth2 && !grant) return failure('bad_request', 'A username and a password are required.', 400);
  try {
    reply =
      oauth2 && grant
        ? await requestPasswordGrant(resolved, oauth2, agent, grant)
        : await callUpstream(resolved, agent, {
            method: 'POST',
            path: resolved.login.path,
            headers,
            body: JSON.stringify(credentials ?? {}),
            maxResponseBytes: resolved.login.maxResponseBytes,
          });
  } catch (err) {
    const code = err instanceof UpstreamCallError ? err.code : 'upstream_unavailable';
    resolved.logger.error(`[next-bff-proxy] login action ${code}`);
    const failed = ServerApiError.forFailedCall(code);
    return failure(code, failed.message, failed.status);
  }
  if (oauth2 && grant && (reply.status < 200 || reply.status > 299)) {
    const refusal = describeGrantRefusal(resolved, oauth2, reply, grant);
    return refusal ? { ok: false, status: refusal.status, data: refusal.body } : failure('bad_login_response', BAD_LOGIN, 502);
  }
  if (reply.status < 200 || reply.status > 299) return { ok: false, status: reply.status, data: parseJson(reply.body) };
  try {
    const secrets = [held.access, held.refresh, ...(oauth2 && grant ? [grant.password, ...clientSecrets(oauth2)] : [])];
    const captured = await captureLogin(carrier.req, resolved, reply.body, reply.headers['set-cookie'], secrets);
    if (!carrier.setCookies(captured.cookies))
      return failure('internal_error', 'Login must run in a server action or a route handler.', 500);
    return { ok: true, data: JSON.parse(captured.body) as unknown };
  } catch (err) {
    if (isSessionStoreError(err))
      return failure('session_store_unavailable', 'Sessions are unavailable right now: try again shortly.', 503);
    if (err instanceof LoginResponseError || err instanceof UnstorableTokenError) {
      resolved.logger.error(`[next-bff-proxy] bad_login_response: ${err.reason}`);
      return failure('bad_login_response', BAD_LOGIN, 502);
    }
    throw err;
  }
}

/**
 * Signs out from a server action, as `POST /api/logout` does: the session ends at once in this process,
 * the API is told with `logout.upstreamPath`, and the cookies are cleared through `cookies()` whatever
 * the API answers. `{ loggedOut: false }`: nothing was ended (not configured, or posted by another site).
 */
export async function logout(options?: ApiProxyOptions): Promise<{ loggedOut: boolean }> {
  let context;
  try {
    context = getUpstreamContext(options);
  } catch {
    return { loggedOut: false };
  }
  const { options: resolved, agent } = context;
  const carrier = await appCarrier();
  if (isForgedAction(carrier, resolved, true, true)) {
    resolved.logger.warn('[next-bff-proxy] csrf: a logout action from another site was refused');
    return { loggedOut: false };
  }
  try {
    await endSession(carrier.req, resolved, agent);
  } catch (err) {
    // The store cannot delete the session now: saying it ended would be false (a copy of the cookie would still work).
    if (isSessionStoreError(err)) return { loggedOut: false };
    throw err;
  }
  return { loggedOut: carrier.setCookies(clearedSessionCookies(carrier.req, resolved)) };
}
