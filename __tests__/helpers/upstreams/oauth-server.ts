import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import OAuth2Server from '@node-oauth/oauth2-server';
import { delay, HttpError, listenLocal, mediaType, pathOf, readBody, readJsonObject, sendEmpty, sendJson } from './fixture-http';
import { OAuthStore, type OAuthClientConfig, type OAuthUserConfig, type StoredToken } from './oauth-model';

// A real OAuth 2.0 authorization + resource server built on @node-oauth/oauth2-server: password and
// refresh_token grants with rotation, Bearer-protected resources, and RFC 7009 revocation (which the
// library does not have, so it is written here on top of the same model).

export interface OAuthServerOptions {
  /** Seconds. @default 60 */
  accessTokenLifetime?: number;
  /** Seconds. @default 3600 */
  refreshTokenLifetime?: number;
  clients?: OAuthClientConfig[];
  users?: OAuthUserConfig[];
  /** Holds every refresh-grant answer this long (the token is already rotated when the wait starts). @default 0 */
  refreshDelayMs?: number;
  /** Passed to the library: `{ password: false }` lets a public client use that grant with client_id alone. @default {} (all required) */
  requireClientAuthentication?: Record<string, boolean>;
  /** Resources answer in the demo API's shapes (`{user}`, `{items}`, `{item}`), so the demo app can run on this server. @default false */
  demoApiShapes?: boolean;
}

export interface OAuthServerStats {
  /** Token endpoint requests per `grant_type` (`(none)` when absent), answered or refused. */
  tokenRequests: Record<string, number>;
  /** Every `refresh_token` presented to the token endpoint, in order (refused ones too). */
  refreshTokensPresented: string[];
  /** Refresh-grant requests answered with an error (reused, unknown, expired, bad client...). */
  refusedRefreshes: number;
  /** Every revocation request that passed client authentication (unknown tokens too), in order. */
  revoked: Array<{ token: string; hint: string | undefined; found: 'access_token' | 'refresh_token' | null }>;
  /** How the last token request tried to authenticate its client; null before the first. */
  lastTokenRequestAuth: 'basic' | 'post' | 'none' | null;
}

export interface RunningOAuthServer {
  url: string;
  close(): Promise<void>;
  stats: OAuthServerStats;
  /** The token is issued, not revoked and not expired. */
  isAccessTokenValid(token: string): boolean;
}

const { Request, Response, OAuthError } = OAuth2Server;

function oauthError(status: number, error: string, description: string, headers: Record<string, string> = {}): HttpError {
  return new HttpError(status, { error, error_description: description }, headers);
}

const TOO_LARGE = oauthError(413, 'invalid_request', 'The body is too large.');

/** The library wants single-valued headers; Node gives arrays only for a few (set-cookie), joined here. */
function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers))
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  return flat;
}

/**
 * An application/x-www-form-urlencoded body as an object. A parameter sent twice is invalid_request
 * (RFC 6749 §3.2); the library, handed an object, could not tell. Another content type gives `{}` and
 * the library refuses it with its own message.
 */
async function readForm(req: IncomingMessage): Promise<Record<string, string>> {
  const raw = await readBody(req, TOO_LARGE);
  if (mediaType(req) !== 'application/x-www-form-urlencoded') return {};
  const form: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(raw.toString('utf8'))) {
    if (Object.hasOwn(form, name)) throw oauthError(400, 'invalid_request', `Invalid request: \`${name}\` is included more than once`);
    form[name] = value;
  }
  return form;
}

/** The credentials of `Authorization: Basic` as the library's basic-auth reads them (no URL-decoding), or null. */
function basicCredentials(header: string | undefined): { id: string; secret: string } | null {
  const match = /^ *basic +([A-Za-z0-9._~+/-]+=*) *$/i.exec(header ?? '');
  const pair = match?.[1] ? /^([^:]*):(.*)$/.exec(Buffer.from(match[1], 'base64').toString()) : null;
  return pair ? { id: pair[1] ?? '', secret: pair[2] ?? '' } : null;
}

function writeLibraryAnswer(res: ServerResponse, response: OAuth2Server.Response): void {
  sendJson(res, response.status ?? 200, response.body, { ...(response.headers ?? {}) });
}

/** An error from the library as its own JSON (`{ error, error_description }`), with the headers it set (WWW-Authenticate). */
function libraryError(err: unknown, response: OAuth2Server.Response): HttpError {
  if (!(err instanceof OAuthError)) return oauthError(500, 'server_error', 'Internal error.');
  return oauthError(err.code, err.name, err.message, { ...(response.headers ?? {}) });
}

export async function startOAuthServer(options: OAuthServerOptions = {}): Promise<RunningOAuthServer> {
  const store = new OAuthStore(
    options.clients ?? [{ id: 'bff', secret: 's3cret-client', grants: ['password', 'refresh_token'] }],
    options.users ?? [{ username: 'ada', password: 'lovelace', id: 'u1' }],
  );
  const server = new OAuth2Server({
    model: store.model(),
    accessTokenLifetime: options.accessTokenLifetime ?? 60,
    refreshTokenLifetime: options.refreshTokenLifetime ?? 3600,
    alwaysIssueNewRefreshToken: true,
    requireClientAuthentication: options.requireClientAuthentication ?? {},
  });
  const refreshDelayMs = options.refreshDelayMs ?? 0;
  const stats: OAuthServerStats = {
    tokenRequests: {},
    refreshTokensPresented: [],
    refusedRefreshes: 0,
    revoked: [],
    lastTokenRequestAuth: null,
  };
  const items = new Map<string, Array<Record<string, unknown>>>();
  let nextItem = 1;

  function libraryRequest(req: IncomingMessage, body: Record<string, string>): OAuth2Server.Request {
    const query = Object.fromEntries(new URL(req.url ?? '/', 'http://fixture').searchParams);
    return new Request({ method: req.method ?? 'GET', headers: flatHeaders(req.headers), query, body });
  }

  async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = await readForm(req);
    const grantType = form.grant_type ?? '(none)';
    stats.tokenRequests[grantType] = (stats.tokenRequests[grantType] ?? 0) + 1;
    stats.lastTokenRequestAuth = basicCredentials(req.headers.authorization) ? 'basic' : form.client_secret ? 'post' : 'none';
    const isRefresh = grantType === 'refresh_token';
    if (isRefresh && form.refresh_token !== undefined) stats.refreshTokensPresented.push(form.refresh_token);
    const response = new Response();
    try {
      await server.token(libraryRequest(req, form), response);
    } catch (err) {
      if (isRefresh) {
        stats.refusedRefreshes += 1;
        if (refreshDelayMs > 0) await delay(refreshDelayMs);
      }
      throw libraryError(err, response);
    }
    if (isRefresh && refreshDelayMs > 0) await delay(refreshDelayMs);
    writeLibraryAnswer(res, response);
  }

  /** RFC 7009. The client authenticates as at the token endpoint; an unknown token is still 200 (§2.2). */
  async function revoke(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (mediaType(req) !== 'application/x-www-form-urlencoded') {
      req.resume();
      throw oauthError(400, 'invalid_request', 'Invalid request: content must be application/x-www-form-urlencoded');
    }
    const form = await readForm(req);
    const basic = basicCredentials(req.headers.authorization);
    const credentials = basic ?? (form.client_id && form.client_secret ? { id: form.client_id, secret: form.client_secret } : null);
    const client = credentials ? store.findClient(credentials.id, credentials.secret) : null;
    if (!client) {
      // RFC 6749 §5.2: 401, with a challenge for the scheme the client tried.
      throw oauthError(
        401,
        'invalid_client',
        'Invalid client: client is invalid',
        basic ? { 'WWW-Authenticate': 'Basic realm="Service"' } : {},
      );
    }
    if (!form.token) throw oauthError(400, 'invalid_request', 'Missing parameter: `token`');
    const hint = form.token_type_hint;
    // The hint only orders the lookup (§2.1); an unknown hint is ignored.
    const kinds = hint === 'access_token' ? (['access_token', 'refresh_token'] as const) : (['refresh_token', 'access_token'] as const);
    let found: 'access_token' | 'refresh_token' | null = null;
    let stored: StoredToken | undefined;
    for (const kind of kinds) {
      stored = (kind === 'access_token' ? store.accessTokens : store.refreshTokens).get(form.token);
      if (stored) {
        found = kind;
        break;
      }
    }
    if (stored && stored.client.id !== client.id) throw oauthError(400, 'unauthorized_client', 'The token was issued to another client.');
    stats.revoked.push({ token: form.token, hint, found });
    // A refresh token takes its whole grant with it (§2.1 SHOULD); an access token goes alone.
    if (stored && found === 'refresh_token') store.revokeGrant(stored.grant);
    if (stored && found === 'access_token') store.accessTokens.delete(form.token);
    sendEmpty(res, 200, { 'cache-control': 'no-store' });
  }

  async function authenticate(req: IncomingMessage): Promise<StoredToken> {
    const response = new Response();
    try {
      // The body is never a token carrier here (a JSON body's `access_token` field would count as one).
      return (await server.authenticate(libraryRequest(req, {}), response)) as StoredToken;
    } catch (err) {
      req.resume();
      throw libraryError(err, response);
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    switch (`${req.method ?? 'GET'} ${pathOf(req)}`) {
      case 'POST /oauth/token':
        return token(req, res);
      case 'POST /oauth/revoke':
        return revoke(req, res);
      case 'GET /me': {
        const { user } = await authenticate(req);
        if (options.demoApiShapes) return sendJson(res, 200, { user: { id: user.id, name: user.username, email: user.username } });
        return sendJson(res, 200, { id: user.id, username: user.username });
      }
      case 'GET /items': {
        const { user } = await authenticate(req);
        const list = items.get(user.id) ?? [];
        return sendJson(res, 200, options.demoApiShapes ? { items: list } : list);
      }
      case 'POST /items': {
        const { user } = await authenticate(req);
        const malformed = oauthError(400, 'invalid_request', 'The body must be a JSON object.');
        const item = { ...(await readJsonObject(req, malformed, TOO_LARGE)), id: `item-${nextItem++}` };
        items.set(user.id, [...(items.get(user.id) ?? []), item]);
        return sendJson(res, 201, options.demoApiShapes ? { item } : item);
      }
      default:
        req.resume();
        throw new HttpError(404, { error: 'not_found' });
    }
  }

  const listening = await listenLocal(route);
  return { ...listening, stats, isAccessTokenValid: (token: string) => store.isAccessTokenValid(token) };
}
