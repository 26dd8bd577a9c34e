import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerToken, delay, HttpError, listenLocal, pathOf, readJsonObject, sendEmpty, sendJson } from './fixture-http';
import { signJwt, verifyJwt, type JwtClaims } from '../../../demo-api/jwt';
import { RefreshLedger } from './refresh-ledger';

// A NestJS-style auth API (passport-jwt + a "jwt-refresh" strategy): both tokens in the JSON body, the
// refresh token sent back as `Authorization: Bearer` to /auth/refresh. Both are HS256 JWTs signed with
// different secrets, so neither passes for the other. Error bodies have Nest's default shape.

export interface BearerApiUser {
  id: string;
  username: string;
  password: string;
}

export interface BearerRefreshApiOptions {
  /** Seconds until the access JWT's `exp`. @default 60 */
  accessTokenLifetime?: number;
  /** Seconds until the refresh JWT's `exp`. @default 3600 */
  refreshTokenLifetime?: number;
  users?: BearerApiUser[];
  /** Holds every /auth/refresh answer this long (the token is already rotated when the wait starts). @default 0 */
  refreshDelayMs?: number;
  /**
   * Also reject the access token used for logout. Off by default, as in the usual Nest setup: access JWTs
   * are stateless and stay valid until `exp`; logout only kills the refresh tokens.
   */
  revokeAccessTokenOnLogout?: boolean;
}

export interface BearerRefreshApiStats {
  logins: number;
  /** Successful refreshes. */
  refreshCount: number;
  /** Every Bearer token sent to /auth/refresh, in order (refused ones too). */
  refreshTokensPresented: string[];
  /** /auth/refresh answered 401 (no token, not a refresh JWT, reused, revoked, expired). */
  refusedRefreshes: number;
  /** Every /auth/logout call: the Bearer token it carried (null: absent) and the status it got. */
  logoutCalls: Array<{ accessToken: string | null; status: number }>;
  /** Tokens made unusable by logout: the user's live refresh tokens (and the access token, if configured). */
  revoked: Set<string>;
}

export interface RunningBearerRefreshApi {
  url: string;
  close(): Promise<void>;
  stats: BearerRefreshApiStats;
  isAccessTokenValid(token: string): boolean;
  isRefreshTokenValid(token: string): boolean;
}

/** Nest's HttpException bodies. */
function nestError(status: number, message: string, error?: string): HttpError {
  return new HttpError(status, error ? { statusCode: status, message, error } : { statusCode: status, message });
}

const UNAUTHORIZED = nestError(401, 'Unauthorized');
const MALFORMED = nestError(400, 'The body must be a JSON object', 'Bad Request');
const TOO_LARGE = nestError(413, 'request entity too large', 'Payload Too Large');

export async function startBearerRefreshApi(options: BearerRefreshApiOptions = {}): Promise<RunningBearerRefreshApi> {
  const users = options.users ?? [{ id: 'u1', username: 'ada', password: 'lovelace' }];
  const accessLifetime = options.accessTokenLifetime ?? 60;
  const refreshLifetime = options.refreshTokenLifetime ?? 3600;
  const refreshDelayMs = options.refreshDelayMs ?? 0;
  const accessSecret = randomBytes(32).toString('hex');
  const refreshSecret = randomBytes(32).toString('hex');
  const ledger = new RefreshLedger();
  const revokedAccess = new Set<string>();
  const stats: BearerRefreshApiStats = {
    logins: 0,
    refreshCount: 0,
    refreshTokensPresented: [],
    refusedRefreshes: 0,
    logoutCalls: [],
    revoked: new Set(),
  };

  function issue(user: BearerApiUser, session: string): { accessToken: string; refreshToken: string } {
    const now = Math.floor(Date.now() / 1000);
    const access: JwtClaims = { sub: user.id, jti: randomUUID(), username: user.username, iat: now, exp: now + accessLifetime };
    const refresh: JwtClaims = { sub: user.id, jti: randomUUID(), iat: now, exp: now + refreshLifetime };
    const refreshToken = signJwt(refresh, refreshSecret);
    ledger.issue(refreshToken, user.id, session, refreshLifetime);
    return { accessToken: signJwt(access, accessSecret), refreshToken };
  }

  function accessUser(token: string | undefined): BearerApiUser | undefined {
    const claims = token && !revokedAccess.has(token) ? verifyJwt(token, accessSecret) : null;
    return claims ? users.find((candidate) => candidate.id === claims.sub) : undefined;
  }

  function authenticate(req: IncomingMessage): BearerApiUser {
    const user = accessUser(bearerToken(req));
    if (!user) throw UNAUTHORIZED;
    return user;
  }

  async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJsonObject(req, MALFORMED, TOO_LARGE);
    if (typeof body.username !== 'string' || typeof body.password !== 'string')
      throw nestError(400, 'username and password must be strings', 'Bad Request');
    const user = users.find((candidate) => candidate.username === body.username && candidate.password === body.password);
    if (!user) throw UNAUTHORIZED;
    stats.logins += 1;
    sendJson(res, 200, issue(user, randomUUID()));
  }

  async function refresh(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.resume(); // no body expected; one sent anyway is ignored
    const presented = bearerToken(req);
    if (presented !== undefined) stats.refreshTokensPresented.push(presented);
    // The signature and `exp` first (the jwt-refresh strategy), then the one-time exchange.
    const verified = presented !== undefined && verifyJwt(presented, refreshSecret) !== null;
    const result = verified ? ledger.consume(presented) : undefined;
    const user = result?.ok ? users.find((candidate) => candidate.id === result.userId) : undefined;
    if (refreshDelayMs > 0) await delay(refreshDelayMs);
    if (!result?.ok || !user) {
      stats.refusedRefreshes += 1;
      throw UNAUTHORIZED;
    }
    stats.refreshCount += 1;
    sendJson(res, 200, issue(user, result.session));
  }

  function logout(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    const accessToken = bearerToken(req) ?? null;
    const call = { accessToken, status: 401 };
    stats.logoutCalls.push(call);
    const user = accessUser(accessToken ?? undefined);
    if (!user || !accessToken) throw UNAUTHORIZED;
    for (const token of ledger.revokeWhere((userId) => userId === user.id)) stats.revoked.add(token);
    if (options.revokeAccessTokenOnLogout) {
      revokedAccess.add(accessToken);
      stats.revoked.add(accessToken);
    }
    call.status = 204;
    sendEmpty(res, 204);
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req);
    switch (`${req.method ?? 'GET'} ${path}`) {
      case 'POST /auth/login':
        return login(req, res);
      case 'POST /auth/refresh':
        return refresh(req, res);
      case 'POST /auth/logout':
        return logout(req, res);
      case 'GET /me': {
        const user = authenticate(req);
        return sendJson(res, 200, { id: user.id, username: user.username });
      }
      default:
        throw nestError(404, `Cannot ${req.method ?? 'GET'} ${path}`, 'Not Found');
    }
  }

  const listening = await listenLocal(route);
  return {
    ...listening,
    stats,
    isAccessTokenValid: (token) => accessUser(token) !== undefined,
    isRefreshTokenValid: (token) => verifyJwt(token, refreshSecret) !== null && ledger.live(token) !== undefined,
  };
}
