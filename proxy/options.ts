import type { SessionStore } from '../session-store/types';
import type { ProxyHooks } from './hooks';
import type { ProxyRoute, ResolvedRoutes } from './routes';

/** Server-side sessions: where they are kept and for how long. */
export interface SessionStoreOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://`: Redis, Valkey or a compatible server. @default process.env.SESSION_STORE_URL */
  url?: string;
  /** Another store instead of Redis (the SessionStore interface). */
  store?: SessionStore;
  /** Prefix of the store's keys (several apps on one Redis). @default 'bff:' */
  keyPrefix?: string;
  /** The longest one store command may take; past it (or with the store down) requests get 503 `session_store_unavailable`. @default 1000 */
  timeoutMs?: number;
  /**
   * AES-256-GCM keys (32 bytes each, base64) sealing the tokens in the store; the first seals, any
   * opens (rotation). @default process.env.SESSION_STORE_KEYS (comma-separated), else stored unsealed
   */
  encryptionKeys?: string[];
  /** A session unused this long ends. @default 86400 (a day) */
  idleTimeoutSeconds?: number;
  /** A session ends this long after its login, however much it is used. @default 604800 (7 days) */
  absoluteTimeoutSeconds?: number;
}

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
    /** Where the token sits in the upstream's JSON answer; a dotted path is allowed. @default 'authToken' ('access_token' with oauth2) */
    tokenField?: string;
    /**
     * Where the access token's lifetime in seconds sits in login and refresh answers (a dotted path). It
     * is how an opaque (non-JWT) token's expiry is known: kept with the session, it drives proactive
     * refresh, the cookie's lifetime and `/api/session`'s `expiresAt`. A JWT's own `exp` wins over it.
     * @default 'expires_in' (RFC 6749 §5.1's name)
     */
    expiresInField?: string;
    /** The most bytes of login answer read (decoded). @default 65536 */
    maxResponseBytes?: number;
    /**
     * With a session store: where the user's id is in the login answer (a dotted path), so "sign out
     * everywhere" finds all of a user's sessions. Unset: the access token's JWT `sub`.
     * @default undefined
     */
    userIdField?: string;
  };
  logout?: {
    /** The path after the prefix that the proxy answers itself (POST only). @default '/logout' */
    path?: string;
    /**
     * If set, the proxy also tells the API: `{upstreamMethod} {apiUrl}{upstreamPath}` (or an absolute
     * URL) with the access token in the auth header and the refresh token presented as `refresh.dialect`
     * presents it (a JSON body, the upstream's cookie; not for 'bearer', whose header holds the access token).
     * @default undefined
     */
    upstreamPath?: string;
    /**
     * With a session store: `POST` here ends every session of the signed-in user ("sign out
     * everywhere"), answered by the proxy. @default '/logout/everywhere'
     */
    everywherePath?: string;
    /** @default 'POST' */
    upstreamMethod?: 'POST' | 'DELETE' | 'PUT' | 'PATCH' | 'GET';
    /**
     * The escape hatch: ends the session upstream your way, given the session's newest tokens. A throw
     * or rejection is logged; the cookies are cleared whatever happens. Runs instead of `upstreamPath`.
     * @default undefined
     */
    perform?: (tokens: { accessToken: string | undefined; refreshToken: string | undefined }) => Promise<void>;
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
        /**
         * How the refresh token is presented to the upstream:
         * - `'json'`: `{"<bodyField>": "<refresh token>"}` as the JSON body;
         * - `'oauth2'`: RFC 6749 §6, `grant_type=refresh_token&refresh_token=…` form-encoded, with the
         *   `oauth2` client's authentication (the default when `oauth2` is set);
         * - `'cookie'`: as the upstream's own cookie, `Cookie: <upstreamCookieName>=<refresh token>`;
         * - `'bearer'`: `Authorization: Bearer <refresh token>`, no body.
         * @default 'json' ('oauth2' with oauth2)
         */
        dialect?: 'json' | 'oauth2' | 'cookie' | 'bearer';
        /** The refresh endpoint: a path on API_URL or an absolute URL. @default '/refresh' (oauth2.tokenUrl with oauth2) */
        path?: string;
        /** @default 'POST' */
        method?: 'POST' | 'PUT' | 'PATCH' | 'GET';
        /** The JSON field of the refresh request body (dialect 'json'). @default 'refreshToken' */
        bodyField?: string;
        /** Where the refresh token sits in login and refresh answers; a dotted path is allowed. @default 'refreshToken' ('refresh_token' with oauth2) */
        tokenField?: string;
        /** The upstream's refresh cookie: taken from its Set-Cookie, presented back by dialect 'cookie'. @default 'refreshToken' */
        upstreamCookieName?: string;
        /**
         * The escape hatch: performs the refresh your way. Resolve with the new tokens (`expiresIn` in
         * seconds, for an opaque access token), `null` when the refresh token was refused (the session
         * ends), or throw for a failure that may pass (the session is kept, the client gets 502). It is
         * bounded by `timeoutMs` (`signal` aborts then), and runs once per refresh token however many
         * requests ask (single flight), like the built-in dialects.
         * @default undefined
         */
        perform?: (
          refreshToken: string,
          context: { signal: AbortSignal },
        ) => Promise<{ accessToken: string; refreshToken?: string; expiresIn?: number } | null>;
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
   * An OAuth 2.0 authorization server (RFC 6749) in front of the API: Keycloak, Entra ID, Cognito, Auth0,
   * Spring Authorization Server, `@node-oauth/oauth2-server`... Setting it changes the defaults to that
   * dialect: `POST /api/login` becomes the password grant at `tokenUrl` (the browser posts
   * `{"username","password"}`, the client secret never leaves the server), refresh uses the refresh
   * token grant, tokens are read from `access_token`/`refresh_token`/`expires_in`, the token goes
   * upstream as `Authorization: Bearer`, and logout revokes at `revocationUrl` (RFC 7009).
   * @default undefined
   */
  oauth2?: {
    /** The token endpoint: an absolute URL, or a path on API_URL. */
    tokenUrl: string;
    clientId: string;
    /** Needed for `client_secret_basic` and `client_secret_post`. Keep it in an environment variable. */
    clientSecret?: string;
    /**
     * How the client authenticates (RFC 6749 §2.3.1): HTTP Basic, or `client_id`/`client_secret` in the
     * form; `'none'` sends only `client_id` (a public client).
     * @default 'client_secret_basic' with a clientSecret, else 'none'
     */
    clientAuth?: 'client_secret_basic' | 'client_secret_post' | 'none';
    /** The `scope` asked for at login (space-separated). @default undefined */
    scope?: string;
    /** RFC 7009 revocation endpoint (absolute URL or a path on API_URL): logout revokes the refresh token there. @default undefined */
    revocationUrl?: string;
    /** Also revoke the access token at logout (servers that support it; RFC 7009 §2.1 leaves it optional). @default false */
    revokeAccessToken?: boolean;
    /** `'password'`: `POST /api/login` is turned into the password grant. `false`: forwarded to the API as usual. @default 'password' */
    login?: 'password' | false;
  };
  /**
   * Server-side sessions (several instances): the cookie holds only a random session id, and the tokens
   * live in a shared store, Redis by default. Unset: `SESSION_STORE_URL` turns it on; without either,
   * the tokens live in the cookies (nothing to run). `false`: cookies, whatever the environment says.
   * @default SESSION_STORE_URL ? { url: SESSION_STORE_URL } : undefined
   */
  sessionStore?: false | SessionStoreOptions;
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

/** An endpoint the proxy calls itself: `path` after `target`'s base path, or after API_URL's when `target` is unset. */
export interface UpstreamEndpoint {
  target: URL | undefined;
  path: string;
  /** What it is called in keys and logs (never sent anywhere). */
  label: string;
}

export interface ResolvedOAuth2 {
  token: UpstreamEndpoint;
  revocation: UpstreamEndpoint | undefined;
  clientId: string;
  clientSecret: string | undefined;
  clientAuth: 'client_secret_basic' | 'client_secret_post' | 'none';
  scope: string | undefined;
  revokeAccessToken: boolean;
}

export interface ResolvedSessionStore {
  /** The store, made on first use (never during `next build`): one per process for one Redis URL and key prefix. */
  get(): SessionStore;
  idleTimeoutSeconds: number;
  absoluteTimeoutSeconds: number;
  /** How long a refresh lock lives before it is renewed (a third of it) or, its holder gone, expires. */
  lockTtlMs: number;
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
  login: {
    path: string;
    tokenField: string[];
    expiresInField: string[];
    userIdField: string[] | undefined;
    maxResponseBytes: number;
    passwordGrant: boolean;
  };
  logout: {
    path: string;
    everywherePath: string;
    /** Where the upstream logout goes: a path on API_URL (target undefined) or on another origin. */
    upstream: UpstreamEndpoint | undefined;
    method: string;
    perform: NonNullable<NonNullable<ApiProxyOptions['logout']>['perform']> | undefined;
  };
  session: { path: string } | undefined;
  refresh:
    | {
        dialect: 'json' | 'oauth2' | 'cookie' | 'bearer';
        endpoint: UpstreamEndpoint;
        method: string;
        perform: NonNullable<Exclude<ApiProxyOptions['refresh'], false>>['perform'];
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
  oauth2: ResolvedOAuth2 | undefined;
  sessionStore: ResolvedSessionStore | undefined;
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
  login: { path: '/login', tokenField: 'authToken', expiresInField: 'expires_in', userIdField: undefined, maxResponseBytes: 64 * 1024 },
  logout: { path: '/logout', everywherePath: '/logout/everywhere', upstreamPath: undefined, upstreamMethod: 'POST', perform: undefined },
  sessionStore: { keyPrefix: 'bff:', timeoutMs: 1000, idleTimeoutSeconds: 86_400, absoluteTimeoutSeconds: 604_800 },
  session: { path: '/session' },
  refresh: {
    dialect: 'json',
    path: '/refresh',
    method: 'POST',
    perform: undefined,
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
  /** What `oauth2` changes in the defaults above, unless set explicitly. */
  oauth2: {
    authHeader: 'bearer',
    tokenField: 'access_token',
    refreshTokenField: 'refresh_token',
    login: 'password',
  },
  trustProxy: false,
  csrf: { trustSameSite: false, requireHeader: undefined, appOrigin: undefined },
  allow: undefined,
  passUpstreamCookies: [],
  maxRequestBodyBytes: undefined,
  activeContentPolicy: "default-src 'none'; sandbox",
  on: {},
  routes: [],
} as const;
