import { defaultOptions, type ApiProxyOptions, type ResolvedOAuth2, type ResolvedOptions, type UpstreamEndpoint } from './options';
import { isValidCookieName } from './session-cookie';
import { ProxyConfigError } from './config-error';
import { parseUpstreamUrl } from './parse-upstream-url';
import { resolveSessionStore } from '../session-store/resolve-store';
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

/** An endpoint the proxy calls itself: a path on API_URL, or an absolute URL elsewhere. */
function parseEndpoint(name: string, value: string): UpstreamEndpoint {
  if (typeof value !== 'string') throw new ProxyConfigError(`${name} must be a path or an absolute URL`);
  if (value.startsWith('/')) {
    const path = checkPath(name, value);
    return { target: undefined, path, label: path };
  }
  const target = parseUpstreamUrl(name, value);
  return { target, path: '', label: target.href };
}

function checkMethod<M extends string>(name: string, value: string, allowed: readonly M[]): M {
  const method = typeof value === 'string' ? value.toUpperCase() : '';
  if (!(allowed as readonly string[]).includes(method)) throw new ProxyConfigError(`${name} must be one of ${allowed.join(', ')}`);
  return method as M;
}

function checkOneOf<V extends string>(name: string, value: V, allowed: readonly V[]): V {
  if (!allowed.includes(value)) throw new ProxyConfigError(`${name} must be one of ${allowed.map((v) => `'${v}'`).join(', ')}`);
  return value;
}

function checkFunction<F>(name: string, value: F | undefined): F | undefined {
  if (value !== undefined && typeof value !== 'function') throw new ProxyConfigError(`${name} must be a function`);
  return value;
}

const VSCHARS = /^[\x20-\x7e]+$/;
// RFC 6749 §3.3: scope-token *( SP scope-token ), scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/;

/**
 * The client's credentials go only to the authorization server: its token endpoint's origin. A
 * revocation or logout endpoint elsewhere (say, a path on API_URL) would hand the secret to the API.
 */
function checkCredentialsStayHome(oauth2: ResolvedOAuth2, upstream: URL, name: string, endpoint: UpstreamEndpoint | undefined): void {
  if (endpoint === undefined || oauth2.clientAuth === 'none') return;
  const home = (oauth2.token.target ?? upstream).origin;
  if ((endpoint.target ?? upstream).origin !== home) {
    throw new ProxyConfigError(`${name} must be on the same origin as oauth2.tokenUrl: the client's credentials are sent there`);
  }
}

function resolveOAuth2(oauth2: ApiProxyOptions['oauth2']): ResolvedOAuth2 | undefined {
  if (oauth2 === undefined) return undefined;
  if (typeof oauth2 !== 'object' || oauth2 === null) throw new ProxyConfigError('oauth2 must be an object with tokenUrl and clientId');
  if (typeof oauth2.tokenUrl !== 'string' || oauth2.tokenUrl === '') throw new ProxyConfigError('oauth2.tokenUrl is required');
  if (typeof oauth2.clientId !== 'string' || oauth2.clientId === '') throw new ProxyConfigError('oauth2.clientId is required');
  // RFC 6749 Appendix A: client_id and client_secret are VSCHARs (printable ASCII).
  if (!VSCHARS.test(oauth2.clientId)) throw new ProxyConfigError('oauth2.clientId must be printable ASCII');
  if ('clientSecret' in oauth2 && (typeof oauth2.clientSecret !== 'string' || oauth2.clientSecret.trim() === '')) {
    // `clientSecret: process.env.X` with X unset must not quietly turn a confidential client into a public one.
    throw new ProxyConfigError(
      "oauth2.clientSecret is empty (is its environment variable set?); a public client leaves it out and sets clientAuth: 'none'",
    );
  }
  const secret = oauth2.clientSecret;
  if (secret !== undefined && !VSCHARS.test(secret)) throw new ProxyConfigError('oauth2.clientSecret must be printable ASCII');
  if (oauth2.revokeAccessToken !== undefined && typeof oauth2.revokeAccessToken !== 'boolean') {
    throw new ProxyConfigError('oauth2.revokeAccessToken must be true or false');
  }
  const clientAuth = checkOneOf('oauth2.clientAuth', oauth2.clientAuth ?? (secret ? 'client_secret_basic' : 'none'), [
    'client_secret_basic',
    'client_secret_post',
    'none',
  ]);
  if (clientAuth !== 'none' && secret === undefined) {
    throw new ProxyConfigError(`oauth2.clientSecret is required for oauth2.clientAuth '${clientAuth}' (is its environment variable set?)`);
  }
  if (oauth2.scope !== undefined && (typeof oauth2.scope !== 'string' || !SCOPE.test(oauth2.scope))) {
    throw new ProxyConfigError('oauth2.scope must be a space-separated list of scopes');
  }
  return {
    token: parseEndpoint('oauth2.tokenUrl', oauth2.tokenUrl),
    revocation: oauth2.revocationUrl === undefined ? undefined : parseEndpoint('oauth2.revocationUrl', oauth2.revocationUrl),
    clientId: oauth2.clientId,
    clientSecret: secret,
    clientAuth,
    scope: oauth2.scope,
    revokeAccessToken: oauth2.revokeAccessToken === true,
  };
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
  const oauth2 = resolveOAuth2(options.oauth2);
  // With oauth2, its field names and header are the defaults; anything set explicitly still wins.
  const dialect = oauth2 ? defaultOptions.oauth2 : undefined;
  const cookie = { ...defaultOptions.cookie, ...options.cookie };
  const login = {
    ...defaultOptions.login,
    ...(dialect && { tokenField: dialect.tokenField }),
    ...options.login,
  };
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
  const authHeader = options.authHeader ?? dialect?.authHeader ?? defaultOptions.authHeader;
  if (authHeader !== 'auth-token' && authHeader !== 'bearer') {
    throw new ProxyConfigError(`authHeader must be 'auth-token' or 'bearer'`);
  }
  const tokenField = parseFieldPath('login.tokenField', login.tokenField);
  const refresh =
    options.refresh === false
      ? undefined
      : {
          ...defaultOptions.refresh,
          ...(dialect && { dialect: 'oauth2' as const, tokenField: dialect.refreshTokenField }),
          ...options.refresh,
        };
  if (refresh) {
    checkOneOf('refresh.dialect', refresh.dialect, ['json', 'oauth2', 'cookie', 'bearer']);
    if (refresh.dialect === 'oauth2' && !oauth2)
      throw new ProxyConfigError(`refresh.dialect 'oauth2' needs the oauth2 option (tokenUrl, clientId)`);
    checkFunction('refresh.perform', refresh.perform);
    if (
      String(refresh.method).toUpperCase() === 'GET' &&
      (refresh.dialect === 'json' || refresh.dialect === 'oauth2') &&
      !refresh.perform
    ) {
      throw new ProxyConfigError(
        `refresh.method 'GET' cannot carry the '${refresh.dialect}' dialect's body: use POST, or the cookie or bearer dialect`,
      );
    }
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
    if (!isValidCookieName(refresh.upstreamCookieName)) {
      throw new ProxyConfigError(`refresh.upstreamCookieName "${refresh.upstreamCookieName}" is not a valid cookie name`);
    }
  }
  checkFunction('logout.perform', logout.perform);
  const logoutEndpoint = logout.upstreamPath === undefined ? undefined : parseEndpoint('logout.upstreamPath', logout.upstreamPath);
  if (oauth2) {
    checkCredentialsStayHome(oauth2, upstream, 'oauth2.revocationUrl', oauth2.revocation);
    if (refresh?.dialect === 'oauth2') checkCredentialsStayHome(oauth2, upstream, 'logout.upstreamPath', logoutEndpoint);
  }
  const passwordGrant = oauth2 !== undefined && (options.oauth2?.login ?? dialect?.login) === 'password';
  if (options.oauth2?.login !== undefined && options.oauth2.login !== 'password' && options.oauth2.login !== false) {
    throw new ProxyConfigError(`oauth2.login must be 'password' or false`);
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
      expiresInField: parseFieldPath('login.expiresInField', login.expiresInField),
      userIdField: login.userIdField === undefined ? undefined : parseFieldPath('login.userIdField', login.userIdField),
      maxResponseBytes: checkPositive('login.maxResponseBytes', login.maxResponseBytes),
      passwordGrant,
    },
    logout: {
      path: checkPath('logout.path', logout.path).toLowerCase(),
      everywherePath: checkPath('logout.everywherePath', logout.everywherePath).toLowerCase(),
      upstream: logoutEndpoint,
      method: checkMethod('logout.upstreamMethod', logout.upstreamMethod, ['POST', 'DELETE', 'PUT', 'PATCH', 'GET']),
      perform: logout.perform,
    },
    session:
      options.session === false
        ? undefined
        : { path: checkPath('session.path', options.session?.path ?? defaultOptions.session.path).toLowerCase() },
    refresh: refresh && {
      dialect: refresh.dialect,
      // With oauth2 and no path of its own, refresh goes to the token endpoint.
      endpoint:
        oauth2 && (options.refresh || undefined)?.path === undefined && refresh.dialect === 'oauth2'
          ? oauth2.token
          : parseEndpoint('refresh.path', refresh.path),
      method: checkMethod('refresh.method', refresh.method, ['POST', 'PUT', 'PATCH', 'GET']),
      perform: refresh.perform,
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
    oauth2,
    // A refresh lock outlives a refresh that takes the whole timeout; renewed meanwhile, so a lost holder frees it soon after.
    sessionStore: resolveSessionStore(options.sessionStore, options.logger ?? console, Math.max(5_000, Math.ceil(timeoutMs / 3))),
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
