import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResolvedOAuth2, ResolvedOptions } from './options';
import { sendError, sendJson } from './errors';
import { BodyReadError, readBoundedBody } from './bounded-body';
import { captureLogin } from './login';
import { LoginResponseError } from './login-response';
import { isClientError, oauth2Request, readOAuthError } from './oauth2';
import { appendSetCookie, UnstorableTokenError } from './session-cookie';
import { callUpstream, UpstreamCallError, type UpstreamReply } from './upstream-call';

// Credentials are a few hundred bytes; this is room for long passphrases, not for a body to stream.
const MAX_CREDENTIALS_BYTES = 16 * 1024;

export interface PasswordCredentials {
  username: string;
  password: string;
}

/**
 * `{username, password}` from whatever the browser or action sent, or undefined when either is missing.
 * A login form's `email` field stands for the username when there is no `username` (most identity
 * servers take the email address as the username).
 */
export function readPasswordCredentials(value: unknown): PasswordCredentials | undefined {
  const fields = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const username = fields.username ?? fields.email;
  const password = fields.password;
  if (typeof username !== 'string' || typeof password !== 'string' || username === '' || password === '') return undefined;
  return { username, password };
}

function parseCredentials(body: Buffer, contentType: string | undefined): PasswordCredentials | undefined {
  const type = (contentType ?? '').split(';', 1)[0]?.trim().toLowerCase();
  const text = body.toString('utf8');
  if (type === 'application/x-www-form-urlencoded') return readPasswordCredentials(Object.fromEntries(new URLSearchParams(text)));
  if (type !== 'application/json') return undefined;
  try {
    return readPasswordCredentials(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** RFC 6749 §4.3: the resource owner password credentials grant at the token endpoint, with the client's authentication. */
export function requestPasswordGrant(
  options: ResolvedOptions,
  oauth2: ResolvedOAuth2,
  agent: http.Agent,
  credentials: PasswordCredentials,
): Promise<UpstreamReply> {
  return callUpstream(options, agent, {
    method: 'POST',
    path: oauth2.token.path,
    target: oauth2.token.target,
    ...oauth2Request(oauth2, { grant_type: 'password', ...credentials, scope: oauth2.scope }),
    maxResponseBytes: options.login.maxResponseBytes,
  });
}

/**
 * What a refused password grant tells the browser: the RFC 6749 §5.2 `error` and `error_description`
 * (both the server's words for the user's mistake), nothing else of the answer. A refusal of the client
 * itself is the proxy's misconfiguration: logged, and a 502 for the browser.
 */
export function describeGrantRefusal(
  options: ResolvedOptions,
  reply: UpstreamReply,
): { status: number; body: { error: string; error_description?: string } } | undefined {
  const error = readOAuthError(reply.body);
  if (isClientError(error) || reply.status >= 500 || reply.status < 400 || error === undefined) {
    options.logger.error(
      `[next-bff-proxy] bad_login_response: the token endpoint answered ${reply.status}${error ? ` ${error}` : ''}${isClientError(error) ? ': check oauth2.clientId, clientSecret and clientAuth' : ''}`,
    );
    return undefined;
  }
  let description: unknown;
  try {
    description = (JSON.parse(reply.body.toString('utf8')) as { error_description?: unknown }).error_description;
  } catch {
    description = undefined;
  }
  // RFC 6749 §5.2: error_description is printable ASCII without '"' or '\'.
  const safe = typeof description === 'string' && /^[\x20\x21\x23-\x5b\x5d-\x7e]{1,200}$/.test(description) ? description : undefined;
  return { status: reply.status === 401 ? 401 : 400, body: { error, ...(safe ? { error_description: safe } : {}) } };
}

/**
 * Answers `POST /api/login` with the password grant (oauth2.login 'password'): the browser's
 * `{"username","password"}` (JSON or a form) becomes the token request, and the answer's tokens become
 * the session's cookies, as any login's do.
 */
export async function answerPasswordLogin(
  req: IncomingMessage,
  res: ServerResponse,
  options: ResolvedOptions,
  oauth2: ResolvedOAuth2,
  agent: http.Agent,
  requestSecrets: readonly (string | undefined)[],
): Promise<void> {
  let credentials: PasswordCredentials | undefined;
  try {
    credentials = parseCredentials(await readBoundedBody(req, MAX_CREDENTIALS_BYTES), req.headers['content-type']);
  } catch (err) {
    if (err instanceof BodyReadError && err.reason === 'too_large') return sendError(res, 'payload_too_large', { connection: 'close' });
    return sendError(res, 'bad_request', { connection: 'close' });
  }
  if (!credentials) return sendError(res, 'bad_request');
  let reply: UpstreamReply;
  try {
    reply = await requestPasswordGrant(options, oauth2, agent, credentials);
  } catch (err) {
    const code = err instanceof UpstreamCallError ? err.code : 'upstream_unavailable';
    options.logger.error(`[next-bff-proxy] ${code} (login): token endpoint`);
    return sendError(res, code);
  }
  if (res.headersSent || res.destroyed) return;
  if (reply.status < 200 || reply.status > 299) {
    const refusal = describeGrantRefusal(options, reply);
    return refusal ? sendJson(res, refusal.status, JSON.stringify(refusal.body)) : sendError(res, 'bad_login_response');
  }
  try {
    const captured = captureLogin(req, options, reply.body, reply.headers['set-cookie'], requestSecrets);
    appendSetCookie(res, ...captured.cookies);
    sendJson(res, 200, captured.body);
  } catch (err) {
    if (!(err instanceof LoginResponseError || err instanceof UnstorableTokenError)) throw err;
    options.logger.error(`[next-bff-proxy] bad_login_response: ${err.reason}`);
    sendError(res, 'bad_login_response');
  }
}
