import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResolvedOAuth2, ResolvedOptions } from './options';
import { sendError, sendJson } from './errors';
import { BodyReadError, readBoundedBody } from './bounded-body';
import { captureLogin } from './login';
import { LoginResponseError } from './login-response';
import { clientSecrets, isClientError, oauth2Request, readOAuthError } from './oauth2';
import { appendSetCookie, UnstorableTokenError } from './session-cookie';
import { callUpstream, UpstreamCallError, type UpstreamReply } from './upstream-call';

// Credentials are a few hundred bytes; this is room for long passphrases, not for a body to stream.
const MAX_CREDENTIALS_BYTES = 16 * 1024;

const SILENT_BODY = Symbol('silent body');

/** The credentials' body, bounded in size and in silence: a body trickled (or stopped) holds no socket past `timeoutMs` between bytes. */
function readBodyInTime(req: IncomingMessage, timeoutMs: number): Promise<Buffer> {
  let timer: NodeJS.Timeout | undefined;
  const restart = () => timer?.refresh();
  const silence = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(SILENT_BODY), timeoutMs);
  });
  req.on('data', restart);
  return Promise.race([readBoundedBody(req, MAX_CREDENTIALS_BYTES), silence]).finally(() => {
    clearTimeout(timer);
    req.off('data', restart);
  });
}

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
 * What a refused password grant tells the browser: the RFC 6749 §5.2 `error` (a registered code) and
 * `error_description` (printable ASCII, and only when it repeats none of the credentials: the user's
 * password, the client's secret), nothing else of the answer. A refusal of the client itself is the
 * proxy's misconfiguration: logged, and a 502 for the browser. Nothing the server wrote is logged.
 */
export function describeGrantRefusal(
  options: ResolvedOptions,
  oauth2: ResolvedOAuth2,
  reply: UpstreamReply,
  credentials: PasswordCredentials,
): { status: number; body: { error: string; error_description?: string } } | undefined {
  const error = readOAuthError(reply.body);
  if (isClientError(error) || reply.status >= 500 || reply.status < 400 || error === undefined) {
    const hint = isClientError(error) ? `${error ?? ''}: check oauth2.clientId, clientSecret and clientAuth` : 'no usable OAuth 2.0 error';
    options.logger.error(`[next-bff-proxy] bad_login_response: the token endpoint answered ${reply.status} (${hint})`);
    return undefined;
  }
  let description: unknown;
  try {
    description = (JSON.parse(reply.body.toString('utf8')) as { error_description?: unknown }).error_description;
  } catch {
    description = undefined;
  }
  const secrets = [credentials.password, ...clientSecrets(oauth2)];
  // RFC 6749 §5.2: error_description is printable ASCII without '"' or '\'.
  const safe =
    typeof description === 'string' &&
    /^[\x20\x21\x23-\x5b\x5d-\x7e]{1,200}$/.test(description) &&
    !secrets.some((secret) => secret !== '' && description.includes(secret))
      ? description
      : undefined;
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
    credentials = parseCredentials(await readBodyInTime(req, options.timeoutMs), req.headers['content-type']);
  } catch (err) {
    if (err === SILENT_BODY) {
      // As for any proxied body: silent for `timeoutMs` gives 408, and the connection is not reused.
      sendError(res, 'request_timeout', { connection: 'close' });
      res.once('finish', () => req.destroy());
      return;
    }
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
    const refusal = describeGrantRefusal(options, oauth2, reply, credentials);
    return refusal ? sendJson(res, refusal.status, JSON.stringify(refusal.body)) : sendError(res, 'bad_login_response');
  }
  try {
    // The password and the client's secret are scrubbed from the answer like the tokens, should the server echo them.
    const captured = await captureLogin(req, options, reply.body, reply.headers['set-cookie'], [
      ...requestSecrets,
      credentials.password,
      ...clientSecrets(oauth2),
    ]);
    appendSetCookie(res, ...captured.cookies);
    sendJson(res, 200, captured.body);
  } catch (err) {
    if (!(err instanceof LoginResponseError || err instanceof UnstorableTokenError)) throw err;
    options.logger.error(`[next-bff-proxy] bad_login_response: ${err.reason}`);
    sendError(res, 'bad_login_response');
  }
}
