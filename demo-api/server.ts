import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { signJwt, verifyJwt, type JwtClaims } from './jwt';
import { DemoStore, type DemoUser } from './store';

export interface DemoApiOptions {
  /** HS256 signing secret. */
  secret: string;
  /** Access-token lifetime. @default 900 */
  accessTokenTtlSeconds?: number;
  /** Refresh-token lifetime. @default 86400 */
  refreshTokenTtlSeconds?: number;
  /**
   * How long an already-exchanged refresh token still gets the same answer (for a second instance of the
   * BFF that raced the first). 0: any reuse revokes the whole family. @default 0
   */
  refreshGraceSeconds?: number;
  /** Pads every access token with a claim of this many characters (to try tokens too large for a cookie). @default 0 */
  tokenPaddingBytes?: number;
  /** One line per request; never a token or a body. @default console.log */
  log?: (line: string) => void;
}

const MAX_JSON_BYTES = 16 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_JSON_BYTES) throw new HttpError(413, 'too_large', 'The body is too large.');
    chunks.push(chunk);
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new HttpError(400, 'bad_json', 'The body must be a JSON object.');
}

function publicUser(user: DemoUser) {
  return { id: user.id, email: user.email, name: user.name };
}

/** The demo upstream: a token-header REST API like the ones this project puts behind a BFF. */
export function createDemoApi(options: DemoApiOptions): http.Server {
  const store = new DemoStore();
  const ttl = options.accessTokenTtlSeconds ?? 900;
  const refreshTtl = options.refreshTokenTtlSeconds ?? 86_400;
  const graceMs = (options.refreshGraceSeconds ?? 0) * 1000;
  const log = options.log ?? ((line: string) => console.log(line));

  /** An access token and a refresh token of one family (one login and its rotations). */
  function issueTokens(user: DemoUser, family: string) {
    const now = Math.floor(Date.now() / 1000);
    const access: JwtClaims = { sub: user.id, jti: randomUUID(), fam: family, iat: now, exp: now + ttl };
    if (options.tokenPaddingBytes) access.pad = 'x'.repeat(options.tokenPaddingBytes);
    const refresh: JwtClaims = { sub: user.id, jti: randomUUID(), fam: family, typ: 'refresh', iat: now, exp: now + refreshTtl };
    store.rememberRefreshToken(refresh.jti, family, user.id);
    return { authToken: signJwt(access, options.secret), refreshToken: signJwt(refresh, options.secret) };
  }

  function authenticate(req: IncomingMessage): { user: DemoUser; claims: JwtClaims } {
    const header = req.headers['auth-token'];
    const token = typeof header === 'string' ? header : undefined;
    const claims = token ? verifyJwt(token, options.secret) : null;
    const usable = claims && claims.typ !== 'refresh' && !store.isRevoked(claims.jti) && !store.isFamilyRevoked(String(claims.fam));
    const user = usable ? store.userById(claims.sub) : undefined;
    if (!claims || !user) throw new HttpError(401, 'unauthorized', 'A valid auth-token header is required.');
    return { user, claims };
  }

  /**
   * Refresh-token rotation with reuse detection: each refresh token is exchanged once; presenting one
   * again (after the grace period) is taken as theft and revokes its whole family.
   */
  function refresh(token: unknown) {
    const claims = typeof token === 'string' ? verifyJwt(token, options.secret) : null;
    const record = claims?.typ === 'refresh' ? store.refreshRecord(claims.jti) : undefined;
    const user = record ? store.userById(record.userId) : undefined;
    if (!claims || !record || !user || store.isFamilyRevoked(record.family)) {
      throw new HttpError(401, 'invalid_grant', 'The refresh token is not valid.');
    }
    if (record.usedAt !== undefined) {
      if (graceMs > 0 && Date.now() - record.usedAt <= graceMs) return record.successor;
      store.revokeFamily(record.family);
      log(`[demo-api] refresh token reused: family revoked`);
      throw new HttpError(401, 'invalid_grant', 'The refresh token was already used.');
    }
    const tokens = issueTokens(user, record.family);
    store.markRefreshTokenUsed(claims.jti, tokens);
    return tokens;
  }

  async function route(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const route = `${req.method ?? 'GET'} ${path}`;
    switch (route) {
      case 'POST /login': {
        const body = await readJson(req);
        const user =
          typeof body.email === 'string' && typeof body.password === 'string' ? store.findUser(body.email, body.password) : undefined;
        if (!user) throw new HttpError(401, 'invalid_credentials', 'Wrong email or password.');
        return sendJson(res, 200, { ...issueTokens(user, randomUUID()), user: publicUser(user) });
      }
      case 'POST /refresh': {
        const body = await readJson(req);
        return sendJson(res, 200, refresh(body.refreshToken));
      }
      case 'GET /me':
        return sendJson(res, 200, { user: publicUser(authenticate(req).user) });
      case 'GET /items':
        return sendJson(res, 200, { items: store.listItems(authenticate(req).user.id) });
      case 'POST /items': {
        const { user } = authenticate(req);
        const body = await readJson(req);
        const title = typeof body.title === 'string' ? body.title.trim() : '';
        if (title.length === 0 || title.length > 200)
          throw new HttpError(400, 'bad_title', 'An item needs a title of 1 to 200 characters.');
        return sendJson(res, 201, { item: store.addItem(user.id, title) });
      }
      case 'POST /upload': {
        authenticate(req);
        let bytes = 0;
        for await (const chunk of req as AsyncIterable<Buffer>) bytes += chunk.length;
        return sendJson(res, 200, { bytes });
      }
      case 'POST /logout': {
        // The whole family goes, from whichever token is sent: the access token's, and the refresh
        // token's (JSON `refreshToken`), which is all a client has left once its access token expired.
        const body = req.headers['content-type']?.startsWith('application/json') ? await readJson(req) : (req.resume(), {});
        const refreshClaims = typeof body.refreshToken === 'string' ? verifyJwt(body.refreshToken, options.secret) : null;
        const record = refreshClaims?.typ === 'refresh' ? store.refreshRecord(refreshClaims.jti) : undefined;
        const header = req.headers['auth-token'];
        const accessClaims = typeof header === 'string' ? verifyJwt(header, options.secret) : null;
        if (!record && (!accessClaims || accessClaims.typ === 'refresh'))
          throw new HttpError(401, 'unauthorized', 'A valid token is required.');
        if (record) store.revokeFamily(record.family);
        if (accessClaims && accessClaims.typ !== 'refresh') {
          store.revoke(accessClaims.jti);
          store.revokeFamily(String(accessClaims.fam));
        }
        return sendJson(res, 200, { loggedOut: true });
      }
      default:
        throw new HttpError(404, 'not_found', 'No such endpoint.');
    }
  }

  return http.createServer((req, res) => {
    const started = process.hrtime.bigint();
    // The path only: a query string may carry something private.
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log(`[demo-api] ${req.method} ${path} ${res.statusCode} ${ms.toFixed(1)}ms`);
    });
    route(req, res, path).catch((err: unknown) => {
      const error = err instanceof HttpError ? err : new HttpError(500, 'internal', 'Internal error.');
      if (!(err instanceof HttpError)) log(`[demo-api] internal error: ${err instanceof Error ? err.name : 'unknown'}`);
      if (res.headersSent) return void res.destroy();
      // The body may be unread (an early 401): drain it so the connection can be reused.
      req.resume();
      sendJson(res, error.status, { error: { code: error.code, message: error.message } });
    });
  });
}
