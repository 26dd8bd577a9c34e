import { isValidCookieName } from './session-cookie';

/** Where log lines go. Lines never carry a token, a cookie value or a request body. */
export interface ProxyLogger {
  warn(message: string): void;
  error(message: string): void;
}

export interface ApiProxyOptions {
  /**
   * The upstream API. May carry a base path (`https://api.example.com/v1`).
   * @default process.env.API_URL
   */
  apiUrl?: string;
  /**
   * The route prefix stripped before forwarding: `/api/me` goes to `{apiUrl}/me`.
   * @default '/api'
   */
  pathPrefix?: string;
  /**
   * How the token is sent upstream: an `auth-token: <token>` header, or `Authorization: Bearer <token>`.
   * @default 'auth-token'
   */
  authHeader?: 'auth-token' | 'bearer';
  cookie?: {
    /** @default 'auth-token' */
    name?: string;
    /** @default 'lax' */
    sameSite?: 'lax' | 'strict';
    /**
     * `'auto'`: Secure when the request came over HTTPS (or a trusted `X-Forwarded-Proto: https`).
     * @default 'auto'
     */
    secure?: boolean | 'auto';
    /**
     * Lifetime of a cookie holding a token that is not a JWT with `exp`.
     * Unset: a session cookie (gone when the browser closes).
     * @default undefined
     */
    maxAgeSeconds?: number;
  };
  login?: {
    /** The path after the prefix that is treated as the login call (POST only). @default '/login' */
    path?: string;
    /** Where the token sits in the upstream's JSON answer; a dotted path is allowed. @default 'authToken' */
    tokenField?: string;
    /** The most bytes of login answer read (decoded). @default 65536 */
    maxResponseBytes?: number;
  };
  logout?: {
    /** The path after the prefix that the proxy answers itself (POST only). @default '/logout' */
    path?: string;
    /** If set, the proxy also calls `POST {apiUrl}{upstreamPath}` with the token. @default undefined */
    upstreamPath?: string;
  };
  /**
   * `GET /api/session`, answered by the proxy: `{"authenticated", "expiresAt"}`, refreshing when needed.
   * `false` forwards `/session` upstream like any other path.
   */
  session?: false | { /** The path after the prefix. @default '/session' */ path?: string };
  /**
   * Refresh tokens: captured at login into a second httpOnly cookie and used to renew the access token
   * before it expires (or once after an upstream 401). `false` turns it off.
   */
  refresh?:
    | false
    | {
        /** Upstream refresh endpoint (POST). @default '/refresh' */
        path?: string;
        /** The JSON field of the refresh request body. @default 'refreshToken' */
        bodyField?: string;
        /** Where the refresh token sits in login and refresh answers; a dotted path is allowed. @default 'refreshToken' */
        tokenField?: string;
        /** The upstream's refresh cookie, if it sends the refresh token as a Set-Cookie. @default 'refreshToken' */
        upstreamCookieName?: string;
        /** The proxy's httpOnly cookie for it. @default 'refresh-token' */
        cookieName?: string;
        /** Lifetime of a refresh token that is not a JWT with `exp`; unset: a session cookie. @default undefined */
        maxAgeSeconds?: number;
        /** Refresh when the access token expires within this many seconds. @default 30 */
        skewSeconds?: number;
        /** How long the result of a rotation is reused for requests still holding the old refresh token. @default 10 */
        reuseWindowSeconds?: number;
      };
  /**
   * No upstream answer within this time gives 504.
   * @default Number(process.env.API_TIMEOUT_MS) || 30000
   */
  timeoutMs?: number;
  /**
   * Believe `X-Forwarded-Proto`, `X-Forwarded-Host` and `X-Forwarded-For` from the client.
   * Only true behind a reverse proxy that sets them.
   * @default process.env.TRUST_PROXY === 'true' || '1'
   */
  trustProxy?: boolean;
  /**
   * Cross-site request forgery defence, on by default. `false` turns it off (only for an API that
   * defends itself, e.g. with its own tokens).
   */
  csrf?:
    | false
    | {
        /** Accept `Sec-Fetch-Site: same-site` (sibling subdomains you trust). @default false */
        trustSameSite?: boolean;
        /**
         * Also require this header on every proxied request, e.g. `{ name: 'x-csrf', value: '1' }`.
         * A cross-site page cannot send a custom header without a CORS preflight the proxy never grants.
         * @default undefined
         */
        requireHeader?: { name: string; value: string };
        /**
         * The app's origin that `Origin`/`Referer` must match, e.g. `https://app.example.com`.
         * Unset: derived from the request's Host (and, with trustProxy, X-Forwarded-Host/-Proto).
         * @default process.env.APP_ORIGIN
         */
        appOrigin?: string;
      };
  /**
   * Only these upstream paths (prefixes, after the route prefix) and methods are forwarded; others get
   * 403 `path_not_allowed`. Unset: every path. Login and logout are always allowed.
   * @default undefined
   */
  allow?: Array<{ pathPrefix: string; methods?: string[] }>;
  /** Upstream `Set-Cookie` headers are dropped, except for cookies with these names. @default [] */
  passUpstreamCookies?: string[];
  /** The largest request body forwarded; past it, 413 `payload_too_large`. Unset: no limit. @default undefined */
  maxRequestBodyBytes?: number;
  /** @default console */
  logger?: ProxyLogger;
}

export interface ResolvedOptions {
  upstream: URL;
  /** API_URL's path without its trailing slash: '' or '/v1'. */
  upstreamBasePath: string;
  pathPrefix: string;
  authHeader: 'auth-token' | 'bearer';
  cookie: {
    name: string;
    sameSite: 'lax' | 'strict';
    secure: boolean | 'auto';
    maxAgeSeconds: number | undefined;
  };
  login: { path: string; tokenField: string[]; maxResponseBytes: number };
  logout: { path: string; upstreamPath: string | undefined };
  session: { path: string } | undefined;
  refresh:
    | {
        path: string;
        bodyField: string;
        tokenField: string[];
        upstreamCookieName: string;
        cookieName: string;
        maxAgeSeconds: number | undefined;
        skewSeconds: number;
        reuseWindowSeconds: number;
      }
    | undefined;
  timeoutMs: number;
  trustProxy: boolean;
  csrf: {
    enabled: boolean;
    trustSameSite: boolean;
    requireHeader: { name: string; value: string } | undefined;
    appOrigin: string | undefined;
  };
  allow: Array<{ pathPrefix: string; methods: Set<string> | undefined }> | undefined;
  passUpstreamCookies: Set<string>;
  maxRequestBodyBytes: number | undefined;
  logger: ProxyLogger;
}

export const defaultOptions = {
  pathPrefix: '/api',
  authHeader: 'auth-token',
  cookie: { name: 'auth-token', sameSite: 'lax', secure: 'auto', maxAgeSeconds: undefined },
  login: { path: '/login', tokenField: 'authToken', maxResponseBytes: 64 * 1024 },
  logout: { path: '/logout', upstreamPath: undefined },
  session: { path: '/session' },
  refresh: {
    path: '/refresh',
    bodyField: 'refreshToken',
    tokenField: 'refreshToken',
    upstreamCookieName: 'refreshToken',
    cookieName: 'refresh-token',
    maxAgeSeconds: undefined,
    skewSeconds: 30,
    reuseWindowSeconds: 10,
  },
  timeoutMs: 30_000,
  trustProxy: false,
  csrf: { trustSameSite: false, requireHeader: undefined, appOrigin: undefined },
  allow: undefined,
  passUpstreamCookies: [],
  maxRequestBodyBytes: undefined,
} as const;

/** A configuration mistake, found when the proxy is created. `code` is stable. */
export class ProxyConfigError extends Error {
  readonly code = 'config_error';
  constructor(message: string) {
    super(message);
    this.name = 'ProxyConfigError';
  }
}

function readEnvNumber(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new ProxyConfigError(`${name} must be a number of milliseconds, got "${raw}".`);
  return value;
}

function readEnvBoolean(name: string): boolean | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  if (/^(1|true|yes)$/i.test(raw)) return true;
  if (/^(0|false|no)$/i.test(raw)) return false;
  throw new ProxyConfigError(`${name} must be true or false, got "${raw}".`);
}

function parseApiUrl(raw: string | undefined): URL {
  if (raw === undefined || raw.trim() === '') {
    throw new ProxyConfigError('API_URL is not set: set it to the upstream API, e.g. API_URL=https://api.example.com/v1');
  }
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ProxyConfigError('API_URL is not a valid URL: expected e.g. https://api.example.com/v1');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ProxyConfigError('API_URL must start with http:// or https://');
  }
  if (url.username || url.password) {
    throw new ProxyConfigError('API_URL must not carry credentials');
  }
  if (url.search || url.hash) {
    throw new ProxyConfigError('API_URL must not carry a query string or fragment');
  }
  return url;
}

function parseFieldPath(name: string, value: string): string[] {
  const parts = value.split('.');
  if (parts.some((part) => part === '')) throw new ProxyConfigError(`${name} "${value}" is not a field path`);
  return parts;
}

function parseOrigin(raw: string): string {
  try {
    const url = new URL(raw);
    if ((url.protocol === 'http:' || url.protocol === 'https:') && (url.pathname === '/' || url.pathname === '')) return url.origin;
  } catch {
    // reported below
  }
  throw new ProxyConfigError(`APP_ORIGIN (csrf.appOrigin) must be an origin such as https://app.example.com, got "${raw}"`);
}

function checkPath(name: string, value: string): string {
  if (!/^\/[A-Za-z0-9._~!$&'()*+,;=:@/-]*$/.test(value) || value.includes('//')) {
    throw new ProxyConfigError(`${name} must be a path starting with "/", got "${value}"`);
  }
  return value.length > 1 ? value.replace(/\/+$/, '') : value;
}

function checkPositive(name: string, value: number, { allowZero = false } = {}): number {
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new ProxyConfigError(`${name} must be a positive number, got ${value}`);
  }
  return value;
}

/** Merges options over the defaults and the environment; throws ProxyConfigError on a mistake. */
export function resolveOptions(options: ApiProxyOptions = {}): ResolvedOptions {
  const upstream = parseApiUrl(options.apiUrl ?? process.env.API_URL);
  const cookie = { ...defaultOptions.cookie, ...options.cookie };
  const login = { ...defaultOptions.login, ...options.login };
  const logout = { ...defaultOptions.logout, ...options.logout };

  if (!isValidCookieName(cookie.name)) throw new ProxyConfigError(`cookie.name "${cookie.name}" is not a valid cookie name`);
  // RFC 6265bis §4.1.3: a browser keeps a __Secure- cookie only with Secure, and a __Host- cookie only
  // with Secure, Path=/ and no Domain (the proxy always writes Path=/ and never a Domain).
  if (/^__(host|secure)-/i.test(cookie.name) && cookie.secure !== true) {
    throw new ProxyConfigError(`cookie.name "${cookie.name}" has a prefix that needs cookie.secure: true`);
  }
  if (cookie.sameSite !== 'lax' && cookie.sameSite !== 'strict') {
    throw new ProxyConfigError(`cookie.sameSite must be 'lax' or 'strict'`);
  }
  if (cookie.secure !== true && cookie.secure !== false && cookie.secure !== 'auto') {
    throw new ProxyConfigError(`cookie.secure must be true, false or 'auto'`);
  }
  if (cookie.maxAgeSeconds !== undefined) checkPositive('cookie.maxAgeSeconds', cookie.maxAgeSeconds);
  const authHeader = options.authHeader ?? defaultOptions.authHeader;
  if (authHeader !== 'auth-token' && authHeader !== 'bearer') {
    throw new ProxyConfigError(`authHeader must be 'auth-token' or 'bearer'`);
  }
  const tokenField = parseFieldPath('login.tokenField', login.tokenField);
  const refresh = options.refresh === false ? undefined : { ...defaultOptions.refresh, ...options.refresh };
  if (refresh) {
    if (!isValidCookieName(refresh.cookieName) || refresh.cookieName === cookie.name) {
      throw new ProxyConfigError(`refresh.cookieName "${refresh.cookieName}" must be a valid cookie name other than cookie.name`);
    }
    if (/^__(host|secure)-/i.test(refresh.cookieName) && cookie.secure !== true) {
      throw new ProxyConfigError(`refresh.cookieName "${refresh.cookieName}" has a prefix that needs cookie.secure: true`);
    }
    if (refresh.maxAgeSeconds !== undefined) checkPositive('refresh.maxAgeSeconds', refresh.maxAgeSeconds);
    checkPositive('refresh.skewSeconds', refresh.skewSeconds, { allowZero: true });
    checkPositive('refresh.reuseWindowSeconds', refresh.reuseWindowSeconds, { allowZero: true });
    if (refresh.bodyField === '') throw new ProxyConfigError('refresh.bodyField must not be empty');
  }

  const pathPrefix = checkPath('pathPrefix', options.pathPrefix ?? defaultOptions.pathPrefix);
  const csrf = options.csrf === false ? undefined : { ...defaultOptions.csrf, ...options.csrf };
  const requireHeader = csrf?.requireHeader;
  if (requireHeader && (!isValidCookieName(requireHeader.name) || typeof requireHeader.value !== 'string' || requireHeader.value === '')) {
    throw new ProxyConfigError('csrf.requireHeader needs a header name and a non-empty value');
  }
  const appOrigin = csrf?.appOrigin ?? (process.env.APP_ORIGIN || undefined);
  const ownCookies = [cookie.name, ...(refresh ? [refresh.cookieName, refresh.upstreamCookieName] : [])];
  const clash = options.passUpstreamCookies?.find((name) => ownCookies.includes(name));
  if (clash !== undefined) {
    throw new ProxyConfigError(`passUpstreamCookies must not name the session or refresh cookie "${clash}"`);
  }
  const maxRequestBodyBytes = options.maxRequestBodyBytes;
  if (maxRequestBodyBytes !== undefined) checkPositive('maxRequestBodyBytes', maxRequestBodyBytes);
  return {
    upstream,
    upstreamBasePath: upstream.pathname.replace(/\/+$/, ''),
    pathPrefix: pathPrefix === '/' ? '' : pathPrefix,
    authHeader,
    cookie: { name: cookie.name, sameSite: cookie.sameSite, secure: cookie.secure, maxAgeSeconds: cookie.maxAgeSeconds },
    login: {
      path: checkPath('login.path', login.path).toLowerCase(),
      tokenField,
      maxResponseBytes: checkPositive('login.maxResponseBytes', login.maxResponseBytes),
    },
    logout: {
      path: checkPath('logout.path', logout.path).toLowerCase(),
      upstreamPath: logout.upstreamPath === undefined ? undefined : checkPath('logout.upstreamPath', logout.upstreamPath),
    },
    session: options.session === false ? undefined : { path: checkPath('session.path', options.session?.path ?? defaultOptions.session.path).toLowerCase() },
    refresh: refresh && {
      path: checkPath('refresh.path', refresh.path),
      bodyField: refresh.bodyField,
      tokenField: parseFieldPath('refresh.tokenField', refresh.tokenField),
      upstreamCookieName: refresh.upstreamCookieName,
      cookieName: refresh.cookieName,
      maxAgeSeconds: refresh.maxAgeSeconds,
      skewSeconds: refresh.skewSeconds,
      reuseWindowSeconds: refresh.reuseWindowSeconds,
    },
    timeoutMs: checkPositive('timeoutMs', options.timeoutMs ?? readEnvNumber('API_TIMEOUT_MS') ?? defaultOptions.timeoutMs),
    trustProxy: options.trustProxy ?? readEnvBoolean('TRUST_PROXY') ?? defaultOptions.trustProxy,
    csrf: {
      enabled: csrf !== undefined,
      trustSameSite: csrf?.trustSameSite ?? false,
      requireHeader: requireHeader ? { name: requireHeader.name.toLowerCase(), value: requireHeader.value } : undefined,
      appOrigin: appOrigin === undefined ? undefined : parseOrigin(appOrigin),
    },
    allow: options.allow?.map((rule, i) => ({
      pathPrefix: checkPath(`allow[${i}].pathPrefix`, rule.pathPrefix),
      methods: rule.methods ? new Set(rule.methods.map((method) => method.toUpperCase())) : undefined,
    })),
    passUpstreamCookies: new Set(options.passUpstreamCookies ?? defaultOptions.passUpstreamCookies),
    maxRequestBodyBytes,
    logger: options.logger ?? console,
  };
}
