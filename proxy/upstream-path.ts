export interface ProxiedTarget {
  /** The path after the route prefix, as the client sent it: '' or starting with '/'. */
  path: string;
  /** The query string as the client sent it, with its '?', or ''. */
  query: string;
  /** A normalised form used only to recognise the login and logout routes. */
  routeKey: string;
}

export type PathProblem = 'not_found' | 'bad_path';

// Characters that have no business in a request target we forward: controls (NUL, CR, LF, ...), space,
// DEL, the backslash that some servers treat as '/', and '#', which starts a fragment (never part of a
// request target, RFC 9112 §3.2): `/%2e.#` would otherwise reach a URL parser as `/..`.
const FORBIDDEN_RAW = /[\x00-\x20\x7f\\#]/;
// What a segment must not become once the upstream decodes it: a separator, or a control character.
const FORBIDDEN_DECODED = /[\x00-\x1f\x7f/\\]/;

/**
 * Splits the client's request target into the proxied path and query, or says why it cannot be forwarded.
 * The upstream host is always API_URL's: a path that could be read as another host (`//host`, `scheme:`)
 * is refused, as are dot segments and encoded separators that could climb out of API_URL's base path.
 */
export function parseProxiedTarget(rawTarget: string, pathPrefix: string): ProxiedTarget | PathProblem {
  const queryStart = rawTarget.indexOf('?');
  const rawPath = queryStart === -1 ? rawTarget : rawTarget.slice(0, queryStart);
  const query = queryStart === -1 ? '' : rawTarget.slice(queryStart);

  if (!rawPath.startsWith('/')) return 'bad_path';
  if (!rawPath.startsWith(pathPrefix)) return 'not_found';
  const path = rawPath.slice(pathPrefix.length);
  if (path !== '' && !path.startsWith('/')) return 'not_found';

  if (FORBIDDEN_RAW.test(rawTarget) || path.includes('//')) return 'bad_path';
  // http-proxy rewrites 'http:/' inside a path, and a `scheme:/` segment invites an upstream to read
  // the rest as an absolute URL.
  if (/\/[a-z][a-z0-9+.-]*:\//i.test(path)) return 'bad_path';

  const decodedSegments: string[] = [];
  for (const segment of path.split('/').slice(1)) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return 'bad_path';
    }
    // `..;x` is `..` to servlet containers (matrix parameters are cut before dot segments are resolved).
    const dots = decoded.split(';')[0];
    if (dots === '.' || dots === '..' || FORBIDDEN_DECODED.test(decoded)) return 'bad_path';
    decodedSegments.push(decoded);
  }
  const decoded = decodedSegments.length === 0 ? '' : '/' + decodedSegments.join('/');
  return { path, query, routeKey: toRouteKey(decoded) };
}

/**
 * `/LOGIN`, `/login/`, `/login;x`, `/%6cogin`, `/login.json` and `/login%20` all name the login route
 * for some lenient upstream, so routes are recognised on a key that drops case, matrix parameters,
 * a file extension, trailing dots, spaces and slashes. The key is never sent anywhere.
 */
function toRouteKey(decodedPath: string): string {
  const key = decodedPath
    .split('/')
    .map((segment) => (segment.split(';')[0] ?? '').replace(/(\.[A-Za-z0-9]*)?[\s.]*$/, '').replace(/[\s.]+$/, ''))
    .join('/')
    .toLowerCase()
    .replace(/\/+$/, '');
  return key === '' ? '/' : key;
}

/** The path and query sent upstream: API_URL's base path, then the proxied path and query unchanged. */
export function buildUpstreamPath(basePath: string, target: ProxiedTarget): string {
  const path = basePath + target.path;
  return (path === '' ? '/' : path) + target.query;
}
