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
  timeoutMs: number;
  trustProxy: boolean;
  logger: ProxyLogger;
}

export const defaultOptions = {
  pathPrefix: '/api',
  authHeader: 'auth-token',
  cookie: { name: 'auth-token', sameSite: 'lax', secure: 'auto', maxAgeSeconds: undefined },
  login: { path: '/login', tokenField: 'authToken', maxResponseBytes: 64 * 1024 },
  logout: { path: '/logout', upstreamPath: undefined },
  timeoutMs: 30_000,
  trustProxy: false,
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
  const tokenField = login.tokenField.split('.');
  if (tokenField.some((part) => part === '')) throw new ProxyConfigError(`login.tokenField "${login.tokenField}" is not a field path`);

  const pathPrefix = checkPath('pathPrefix', options.pathPrefix ?? defaultOptions.pathPrefix);
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
    timeoutMs: checkPositive('timeoutMs', options.timeoutMs ?? readEnvNumber('API_TIMEOUT_MS') ?? defaultOptions.timeoutMs),
    trustProxy: options.trustProxy ?? readEnvBoolean('TRUST_PROXY') ?? defaultOptions.trustProxy,
    logger: options.logger ?? console,
  };
}
