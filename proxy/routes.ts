import { ProxyConfigError } from './config-error';
import { parseUpstreamUrl } from './parse-upstream-url';
import type { ProxiedTarget } from './upstream-path';

/**
 * What a route sends upstream (Duende BFF's token types): `'user'`, the session's token when there is
 * one (refreshed when needed, one refresh and retry after a 401); `'none'`, never a token (no refresh
 * either); `'required'`, the session's token, and without a usable session 401 `unauthenticated`
 * before the upstream is asked.
 */
export type RouteTokenPolicy = 'user' | 'none' | 'required';

/** One entry of the route table (`routes`): the paths under `pathPrefix` and where they go. */
export interface ProxyRoute {
  /** After the route prefix: `/billing` takes `/api/billing` and `/api/billing/…`, not `/api/billingx`. */
  pathPrefix: string;
  /**
   * Another upstream (http or https, may carry a base path): `/api/billing/invoices?x=1` goes to
   * `{url}/invoices?x=1`, the route's prefix stripped. Unset: API_URL, the path unchanged.
   */
  url?: string;
  /** @default 'user' */
  token?: RouteTokenPolicy;
}

export interface ResolvedRoute {
  /** The table entry's prefix; undefined for everything the table does not name (API_URL, 'user'). */
  pathPrefix: string | undefined;
  upstream: URL;
  /** The upstream's path without its trailing slash: '' or '/v1'. */
  basePath: string;
  /** What is cut from the path before it goes upstream: the prefix of a route with its own `url`, else ''. */
  strip: string;
  token: RouteTokenPolicy;
}

export interface ResolvedRoutes {
  /** Longest prefix first: the first match is the one that wins. */
  table: ResolvedRoute[];
  /** API_URL, the path unchanged, policy 'user': today's behaviour for every path the table leaves alone. */
  fallback: ResolvedRoute;
}

const TOKEN_POLICIES: readonly string[] = ['user', 'none', 'required'];

// Segments the proxied path can hold (parseProxiedTarget refuses `;`, `//`, dot segments and encodings
// of unreserved characters): a prefix outside this could never match, so it is a mistake to report.
const ROUTE_PREFIX = /^(\/[A-Za-z0-9_~!$&'()*+,=:@.-]+)+\/*$/;

function checkPrefix(name: string, value: unknown): string {
  if (typeof value !== 'string' || !ROUTE_PREFIX.test(value) || value.split('/').some((segment) => /^\.+$/.test(segment))) {
    throw new ProxyConfigError(`${name} must be a path below the route prefix such as "/billing", got ${JSON.stringify(value)}`);
  }
  return value.replace(/\/+$/, '');
}

/**
 * The route table, checked: prefixes well formed, none twice and none naming the proxy's own login,
 * logout or session route (matched before the table: a route there would never be reached), known token
 * policies, and upstream addresses as strict as API_URL.
 */
export function resolveRoutes(
  routes: unknown,
  fallback: { upstream: URL; basePath: string },
  ownRoutes: Record<string, string | undefined>,
): ResolvedRoutes {
  const resolved: ResolvedRoutes = { table: [], fallback: { pathPrefix: undefined, ...fallback, strip: '', token: 'user' } };
  if (routes === undefined) return resolved;
  if (!Array.isArray(routes)) throw new ProxyConfigError('routes must be an array of { pathPrefix, url?, token? }');
  const seen = new Map<string, number>();
  routes.forEach((route: unknown, i) => {
    if (typeof route !== 'object' || route === null)
      throw new ProxyConfigError(`routes[${i}] must be an object { pathPrefix, url?, token? }`);
    const { pathPrefix: rawPrefix, url, token = 'user' } = route as Record<string, unknown>;
    const pathPrefix = checkPrefix(`routes[${i}].pathPrefix`, rawPrefix);
    // Matched without regard to ASCII case (below): `/Billing` and `/billing` are one prefix.
    const earlier = seen.get(asciiLower(pathPrefix));
    if (earlier !== undefined) throw new ProxyConfigError(`routes[${i}].pathPrefix "${pathPrefix}" repeats routes[${earlier}].pathPrefix`);
    seen.set(asciiLower(pathPrefix), i);
    for (const [option, path] of Object.entries(ownRoutes)) {
      // As routeOf compares them: lower case, no trailing slash.
      if (path !== undefined && pathPrefix.toLowerCase() === path.replace(/\/+$/, '').toLowerCase()) {
        throw new ProxyConfigError(`routes[${i}].pathPrefix "${pathPrefix}" is ${option}, which the proxy answers before the route table`);
      }
    }
    if (typeof token !== 'string' || !TOKEN_POLICIES.includes(token)) {
      throw new ProxyConfigError(`routes[${i}].token must be 'user', 'none' or 'required', got ${JSON.stringify(token)}`);
    }
    if (url !== undefined && typeof url !== 'string') throw new ProxyConfigError(`routes[${i}].url must be a URL string`);
    const upstream = url === undefined ? undefined : parseUpstreamUrl(`routes[${i}].url`, url);
    resolved.table.push({
      pathPrefix,
      upstream: upstream ?? fallback.upstream,
      basePath: upstream ? upstream.pathname.replace(/\/+$/, '') : fallback.basePath,
      strip: upstream ? pathPrefix : '',
      token: token as RouteTokenPolicy,
    });
  });
  resolved.table.sort((a, b) => (b.pathPrefix?.length ?? 0) - (a.pathPrefix?.length ?? 0));
  return resolved;
}

/** The route for a path after the route prefix (as the client sent it, as `allow` matches it): the longest prefix that matches. */
export function matchRoute(routes: ResolvedRoutes, path: string): ResolvedRoute {
  if (routes.table.length === 0) return routes.fallback;
  // Without regard to ASCII case: `/api/Account/x` must not skip a 'required' (or 'none') route for an
  // upstream that reads paths without case (ASP.NET, IIS, some Spring setups). Length-preserving, so the
  // prefix is cut by its length from the path as sent.
  const folded = asciiLower(path);
  for (const route of routes.table) {
    const prefix = asciiLower(route.pathPrefix ?? '');
    if (folded === prefix || (folded.startsWith(prefix) && folded[prefix.length] === '/')) return route;
  }
  return routes.fallback;
}

function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (letter) => letter.toLowerCase());
}

/** The target as the route's upstream sees it: the route's prefix cut when it has its own `url`. */
export function targetOnRoute(route: ResolvedRoute, target: ProxiedTarget): ProxiedTarget {
  return route.strip === '' ? target : { ...target, path: target.path.slice(route.strip.length) };
}
