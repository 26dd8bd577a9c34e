import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerToken, cookieValue, delay, HttpError, listenLocal, pathOf, readJsonObject, sendEmpty, sendJson } from './fixture-http';
import { signJwt, verifyJwt, type JwtClaims } from '../../../demo-api/jwt';
import { RefreshLedger } from './refresh-ledger';

// The API of the "original App Router pattern": the access token in the JSON body, the refresh token only
// in an httpOnly cookie scoped to /auth, which the API itself reads back on /auth/refresh and /auth/logout.

export interface CookieApiUser {
  id: string;
  email: string;
  password: string;
  name: string;
}

export interface CookieRefreshApiOptions {
  /** Seconds until the access JWT's `exp`. @default 60 */
  accessTokenLifetime?: number;
  /** Seconds. @default 3600 */
  refreshTokenLifetime?: number;
  users?: CookieApiUser[];
  /** Holds every /auth/refresh answer this long (the token is already rotated when the wait starts). @default 0 */
  refreshDelayMs?: number;
}

export interface CookieRefreshApiStats {
  logins: number;
  /** Successful refreshes. */
  refreshCount: number;
  /** Every refreshToken cookie value sent to /auth/refresh, in order (refused ones too). */
  refreshTokensPresented: string[];
  /** /auth/refresh answered 401 (no cookie, unknown, reused, revoked, expired). */
  refusedRefreshes: number;
  /** Every /auth/logout call: the tokens it carried (null: absent) and the status it got. */
  logoutCalls: Array<{ accessToken: string | null; refreshToken: string | null; status: number }>;
  /** Access and refresh tokens made unusable by logout. */
  revoked: Set<string>;
}

export interface RunningCookieRefreshApi {
  url: string;
  close(): Promise<void>;
  stats: CookieRefreshApiStats;
  isAccessTokenValid(token: string): boolean;
  /** The refresh token could still be exchanged (issued, unused, not revoked, not expired). */
  isRefreshTokenValid(token: string): boolean;
}

export const REFRESH_COOKIE = 'refreshToken';

function apiError(status: number, code: string, message: string): HttpError {
  return new HttpError(status, { error: { code, message } });
}

const MALFORMED = apiError(400, 'bad_request', 'The body must be a JSON object.');
const TOO_LARGE = apiError(413, 'too_large', 'The body is too large.');
const UNAUTHORIZED = apiError(401, 'unauthorized', 'A valid Bearer access token is required.');

function refreshCookie(token: string): string {
  return `${REFRESH_COOKIE}=${token}; Path=/auth; HttpOnly`;
}

const CLEARED_COOKIE = `${REFRESH_COOKIE}=; Path=/auth; HttpOnly; Max-Age=0`;

export async function startCookieRefreshApi(options: CookieRefreshApiOptions = {}): Promise<RunningCookieRefreshApi> {
  const users = options.users ?? [{ id: 'u1', email: 'ada@example.com', password: 'lovelace', name: 'Ada Lovelace' }];
  const accessLifetime = options.accessTokenLifetime ?? 60;
  const refreshLifetime = options.refreshTokenLifetime ?? 3600;
  const refreshDelayMs = options.refreshDelayMs ?? 0;
  // Per start: tokens of another instance (or an earlier test) are not valid here.
  const secret = randomBytes(32).toString('hex');
  const ledger = new RefreshLedger();
  const revokedAccess = new Set<string>();
  const revokedSessions = new Set<string>();
  const stats: CookieRefreshApiStats = {
    logins: 0,
    refreshCount: 0,
    refreshTokensPresented: [],
    refusedRefreshes: 0,
    logoutCalls: [],
    revoked: new Set(),
  };

  const publicUser = (user: CookieApiUser) => ({ id: user.id, email: user.email, name: user.name });

  function issue(user: CookieApiUser, session: string): { accessToken: string; refreshToken: string } {
    const now = Math.floor(Date.now() / 1000);
    const claims: JwtClaims = { sub: user.id, jti: randomUUID(), sid: session, iat: now, exp: now + accessLifetime };
    const refreshToken = randomBytes(32).toString('base64url');
    ledger.issue(refreshToken, user.id, session, refreshLifetime);
    return { accessToken: signJwt(claims, secret), refreshToken };
  }

  function accessClaims(token: string | undefined): JwtClaims | null {
    const claims = token ? verifyJwt(token, secret) : null;
    if (!claims || !token || revokedAccess.has(token) || revokedSessions.has(String(claims.sid))) return null;
    return claims;
  }

  function authenticate(req: IncomingMessage): CookieApiUser {
    const claims = accessClaims(bearerToken(req));
    const user = claims ? users.find((candidate) => candidate.id === claims.sub) : undefined;
    if (!user) throw UNAUTHORIZED;
    return user;
  }

  async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJsonObject(req, MALFORMED, TOO_LARGE);
    if (typeof body.email !== 'string' || typeof body.password !== 'string')
      throw apiError(400, 'bad_request', 'email and password are required.');
    const user = users.find((candidate) => candidate.email === body.email && candidate.password === body.password);
    if (!user) throw apiError(401, 'invalid_credentials', 'Wrong email or password.');
    stats.logins += 1;
    const tokens = issue(user, randomUUID());
    sendJson(
      res,
      200,
      { data: { accessToken: tokens.accessToken, user: publicUser(user) } },
      { 'set-cookie': refreshCookie(tokens.refreshToken) },
    );
  }

  async function refresh(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.resume(); // any body is ignored: the refresh token comes from the cookie only
    const presented = cookieValue(req, REFRESH_COOKIE);
    if (presented !== undefined) stats.refreshTokensPresented.push(presented);
    const result = presented ? ledger.consume(presented) : ({ ok: false, reason: 'missing' } as const);
    const user = result.ok && !revokedSessions.has(result.session) ? users.find((candidate) => candidate.id === result.userId) : undefined;
    if (refreshDelayMs > 0) await delay(refreshDelayMs);
    if (!result.ok || !user) {
      stats.refusedRefreshes += 1;
      const reason = result.ok ? 'revoked' : result.reason;
      throw apiError(401, `refresh_token_${reason}`, 'The refresh token is not valid.');
    }
    stats.refreshCount += 1;
    const tokens = issue(user, result.session);
    sendJson(res, 200, { data: { accessToken: tokens.accessToken } }, { 'set-cookie': refreshCookie(tokens.refreshToken) });
  }

  /** Needs a valid access token; takes that token's session and the cookie's (if the same user's) with it. */
  function logout(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    const accessToken = bearerToken(req) ?? null;
    const refreshToken = cookieValue(req, REFRESH_COOKIE) ?? null;
    const call = { accessToken, refreshToken, status: 401 };
    stats.logoutCalls.push(call);
    const claims = accessClaims(accessToken ?? undefined);
    if (!claims || !accessToken) throw UNAUTHORIZED;
    const sessions = new Set([String(claims.sid)]);
    const cookieOwner = refreshToken ? ledger.live(refreshToken) : undefined;
    if (cookieOwner?.userId === claims.sub) sessions.add(cookieOwner.session);
    for (const session of sessions) revokedSessions.add(session);
    revokedAccess.add(accessToken);
    stats.revoked.add(accessToken);
    for (const token of ledger.revokeWhere((_userId, session) => sessions.has(session))) stats.revoked.add(token);
    call.status = 204;
    sendEmpty(res, 204, { 'set-cookie': CLEARED_COOKIE });
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    switch (`${req.method ?? 'GET'} ${pathOf(req)}`) {
      case 'POST /auth/login':
        return login(req, res);
      case 'POST /auth/refresh':
        return refresh(req, res);
      case 'DELETE /auth/logout':
        return logout(req, res);
      case 'GET /me':
        return sendJson(res, 200, { data: publicUser(authenticate(req)) });
      default:
        throw apiError(404, 'not_found', 'No such endpoint.');
    }
  }

  const listening = await listenLocal(route);
  return {
    ...listening,
    stats,
    isAccessTokenValid: (token) => accessClaims(token) !== null,
    isRefreshTokenValid: (token) => {
      const owner = ledger.live(token);
      return owner !== undefined && !revokedSessions.has(owner.session);
    },
  };
}
