import { defaultOptions, type ApiProxyOptions, type ResolvedOptions } from './options';
import { isValidCookieName } from './session-cookie';
import { ProxyConfigError } from './config-error';
import { parseUpstreamUrl } from './parse-upstream-url';
import { resolveHooks } from './hooks';
import { resolveRoutes } from './routes';

// In its own file so the option sections resolved elsewhere (hooks, routes) can throw it too.
export { ProxyConfigError };

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
  return parseUpstreamUrl('API_URL', raw);
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

function checkPolicy(policy: string | false | undefined): string | undefined {
  if (policy === false) return undefined;
  if (policy === undefined) return defaultOptions.activeContentPolicy;
  if (typeof policy !== 'string' || policy.trim() === '' || /[\r\n\0]/.test(policy)) {
    throw new ProxyConfigError('activeContentPolicy must be a Content-Security-Policy string or false');
  }
  return policy;
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
    if (!Number.isInteger(refresh.maxConcurrent) || refresh.maxConcurrent < 1) {
      throw new ProxyConfigError(`refresh.maxConcurrent must be a whole number of at least 1, got ${refresh.maxConcurrent}`);
    }
    if (refresh.bodyField === '') throw new ProxyConfigError('refresh.bodyField must not be empty');
  }

  const pathPrefix = checkPath('pathPrefix', options.pathPrefix ?? defaultOptions.pathPrefix);
  const csrf = options.csrf === false ? undefined : { ...defaultOptions.csrf, ...options.csrf };
  const requireHeader = csrf?.requireHeader;
  if (requireHeader && (!isValidCookieName(requireHeader.name) || typeof requireHeader.value !== 'string' || requireHeader.value === '')) {
    throw new ProxyConfigError('csrf.requireHeader needs a header name and a non-empty value');
  }
  const appOrigin = csrf?.appOrigin ?? (process.env.APP_ORIGIN || undefined);
  const ownCookies = [
    cookie.name,
    `__Host-${cookie.name}`,
    ...(refresh ? [refresh.cookieName, `__Host-${refresh.cookieName}`, refresh.upstreamCookieName] : []),
  ];
  const clash = options.passUpstreamCookies?.find((name) => ownCookies.includes(name));
  if (clash !== undefined) {
    throw new ProxyConfigError(`passUpstreamCookies must not name the session or refresh cookie "${clash}"`);
  }
  const timeoutMs = checkPositive('timeoutMs', options.timeoutMs ?? readEnvNumber('API_TIMEOUT_MS') ?? defaultOptions.timeoutMs);
  const checkedOrigin = appOrigin === undefined ? undefined : parseOrigin(appOrigin);
  const appUrl = checkedOrigin === undefined ? undefined : new URL(checkedOrigin);
  const maxRequestBodyBytes = options.maxRequestBodyBytes;
  if (maxRequestBodyBytes !== undefined) checkPositive('maxRequestBodyBytes', maxRequestBodyBytes);
  return {
    upstream,
    upstreamBasePath: upstream.pathname.replace(/\/+$/, ''),
    pathPrefix: pathPrefix === '/' ? '' : pathPrefix,
    authHeader,
    cookie: {
      name: cookie.name,
      hostPrefix: options.cookie?.name === undefined,
      sameSite: cookie.sameSite,
      secure: cookie.secure,
      maxAgeSeconds: cookie.maxAgeSeconds,
    },
    login: {
      path: checkPath('login.path', login.path).toLowerCase(),
      tokenField,
      maxResponseBytes: checkPositive('login.maxResponseBytes', login.maxResponseBytes),
    },
    logout: {
      path: checkPath('logout.path', logout.path).toLowerCase(),
      upstreamPath: logout.upstreamPath === undefined ? undefined : checkPath('logout.upstreamPath', logout.upstreamPath),
    },
    session:
      options.session === false
        ? undefined
        : { path: checkPath('session.path', options.session?.path ?? defaultOptions.session.path).toLowerCase() },
    refresh: refresh && {
      path: checkPath('refresh.path', refresh.path),
      bodyField: refresh.bodyField,
      tokenField: parseFieldPath('refresh.tokenField', refresh.tokenField),
      upstreamCookieName: refresh.upstreamCookieName,
      cookieName: refresh.cookieName,
      hostPrefix: !(options.refresh && options.refresh.cookieName !== undefined),
      maxConcurrent: refresh.maxConcurrent,
      maxAgeSeconds: refresh.maxAgeSeconds,
      skewSeconds: refresh.skewSeconds,
      reuseWindowSeconds: refresh.reuseWindowSeconds,
    },
    timeoutMs,
    idleTimeoutMs: checkPositive('idleTimeoutMs', options.idleTimeoutMs ?? timeoutMs),
    eventStreamIdleTimeoutMs:
      options.eventStreamIdleTimeoutMs === false
        ? undefined
        : checkPositive('eventStreamIdleTimeoutMs', options.eventStreamIdleTimeoutMs ?? defaultOptions.eventStreamIdleTimeoutMs),
    trustProxy: options.trustProxy ?? readEnvBoolean('TRUST_PROXY') ?? defaultOptions.trustProxy,
    csrf: {
      enabled: csrf !== undefined,
      trustSameSite: csrf?.trustSameSite ?? false,
      requireHeader: requireHeader ? { name: requireHeader.name.toLowerCase(), value: requireHeader.value } : undefined,
      appOrigin: checkedOrigin,
    },
    allow: options.allow?.map((rule, i) => ({
      pathPrefix: checkPath(`allow[${i}].pathPrefix`, rule.pathPrefix),
      methods: rule.methods ? new Set(rule.methods.map((method) => method.toUpperCase())) : undefined,
    })),
    passUpstreamCookies: new Set(options.passUpstreamCookies ?? defaultOptions.passUpstreamCookies),
    maxRequestBodyBytes,
    activeContentPolicy: checkPolicy(options.activeContentPolicy),
    appAddress: appUrl && { proto: appUrl.protocol.slice(0, -1), host: appUrl.host },
    logger: options.logger ?? console,
    on: resolveHooks(options.on),
    routes: resolveRoutes(
      options.routes,
      { upstream, basePath: upstream.pathname.replace(/\/+$/, '') },
      {
        'login.path': login.path,
        'logout.path': logout.path,
        'session.path': options.session === false ? undefined : (options.session?.path ?? defaultOptions.session.path),
      },
    ),
  };
}
