import type { ProxyHooks } from './hooks';
import type { ProxyRoute, ResolvedRoutes } from './routes';

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
    /**
     * The session cookie's name. Left unset, it is `auth-token`, written as `__Host-auth-token` whenever
     * the cookie is Secure (a sibling subdomain cannot set or shadow a `__Host-` cookie). A name given
     * here is used exactly as given.
     * @default 'auth-token' ('__Host-auth-token' when Secure)
     */
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
        /** The proxy's httpOnly cookie for it; `__Host-` prefixed when Secure and left unset. @default 'refresh-token' */
        cookieName?: string;
        /** Lifetime of a refresh token that is not a JWT with `exp`; unset: a session cookie. @default undefined */
        maxAgeSeconds?: number;
        /** Refresh when the access token expires within this many seconds. @default 30 */
        skewSeconds?: number;
        /** How long the result of a rotation is reused for requests still holding the old refresh token. @default 10 */
        reuseWindowSeconds?: number;
        /**
         * The most refreshes this process runs at once (distinct refresh tokens; requests sharing one join
         * the same refresh), for refresh tokens it issued and, separately, for tokens it never saw. Past it,
         * refreshes wait in line (first come, first served; 4 per slot, for at most `timeoutMs`), and past
         * the line get 503 `refresh_unavailable` with `Retry-After: 1`: a flood of junk refresh cookies
         * cannot turn the proxy into a hammer on the token endpoint, nor starve real renewals.
         * @default 32
         */
        maxConcurrent?: number;
      };
  /**
   * No upstream answer within this time after the request's last byte gives 504; a request body that
   * stops arriving for this long gives 408.
   * @default Number(process.env.API_TIMEOUT_MS) || 30000
   */
  timeoutMs?: number;
  /**
   * A streamed answer that stays silent this long (no byte from the upstream) is cut: both connections
   * are closed. (A request body silent for `timeoutMs` before any answer gets 408 `request_timeout`.)
   * @default timeoutMs
   */
  idleTimeoutMs?: number;
  /**
   * The same for `text/event-stream` answers, which may idle between events; `false`: never cut.
   * @default 300000
   */
  eventStreamIdleTimeoutMs?: number | false;
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
   * 403 `path_not_allowed`. Unset: every path. Login, logout and the session endpoint are always allowed.
   * @default undefined
   */
  allow?: Array<{ pathPrefix: string; methods?: string[] }>;
  /** Upstream `Set-Cookie` headers are dropped, except for cookies with these names. @default [] */
  passUpstreamCookies?: string[];
  /** The largest request body forwarded; past it, 413 `payload_too_large`. Unset: no limit. @default undefined */
  maxRequestBodyBytes?: number;
  /**
   * The Content-Security-Policy added to proxied answers of an active type (HTML, XHTML, SVG, XML, or no
   * type at all), so an upstream page cannot run script on the app's origin with the session. Every
   * proxied answer also gets `X-Content-Type-Options: nosniff`. `false`: no policy added (only for an
   * upstream whose pages you trust as much as the app's own).
   * @default "default-src 'none'; sandbox"
   */
  activeContentPolicy?: string | false;
  /** @default console */
  logger?: ProxyLogger;
  /**
   * Hooks, as http-proxy-middleware's `on`: `proxyReq` may add headers to the upstream request (a
   * request id), `proxyRes` may change the answer's status and headers, `error` hears of every error
   * answer (logs, metrics). None of them can see or set the session: see SECURITY.md.
   * @default {}
   */
  on?: ProxyHooks;
  /**
   * Several APIs, or another token policy for some paths: `[{ pathPrefix: '/billing', url: BILLING_URL }]`
   * sends `/api/billing/…` to `{url}/…`. The longest matching prefix wins; paths no entry takes go to
   * API_URL with the session's token, as without a table. `allow` is checked first; login, logout and
   * the session endpoint are the proxy's before any route.
   * @default []
   */
  routes?: ProxyRoute[];
}

export interface ResolvedOptions {
  upstream: URL;
  /** API_URL's path without its trailing slash: '' or '/v1'. */
  upstreamBasePath: string;
  pathPrefix: string;
  authHeader: 'auth-token' | 'bearer';
  cookie: {
    name: string;
    /** The name was left at its default: it gets the `__Host-` prefix when the cookie is Secure. */
    hostPrefix: boolean;
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
        hostPrefix: boolean;
        maxAgeSeconds: number | undefined;
        skewSeconds: number;
        reuseWindowSeconds: number;
        maxConcurrent: number;
      }
    | undefined;
  timeoutMs: number;
  idleTimeoutMs: number;
  eventStreamIdleTimeoutMs: number | undefined;
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
  activeContentPolicy: string | undefined;
  /** APP_ORIGIN's scheme and host, when set: what the upstream is told in X-Forwarded-Proto/-Host. */
  appAddress: { proto: string; host: string } | undefined;
  logger: ProxyLogger;
  on: ProxyHooks;
  routes: ResolvedRoutes;
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
    maxConcurrent: 32,
  },
  timeoutMs: 30_000,
  eventStreamIdleTimeoutMs: 300_000,
  trustProxy: false,
  csrf: { trustSameSite: false, requireHeader: undefined, appOrigin: undefined },
  allow: undefined,
  passUpstreamCookies: [],
  maxRequestBodyBytes: undefined,
  activeContentPolicy: "default-src 'none'; sandbox",
  on: {},
  routes: [],
} as const;
