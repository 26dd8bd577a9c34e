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
// RFC 3986 §2.3: a percent-encoded unreserved character (`%69` for `i`) equals the character itself, and
// `;` starts matrix parameters that servlet containers and Spring cut off. Next matches rewrites on the
// literal form, so `/api/%69nternal/x` and `/api/internal;x/y` walked past a rewrite fencing
// `/api/internal/*` off, to upstreams that read them as `/internal/…`. No client needs either form.
const ENCODED_UNRESERVED = /%(?:3[0-9]|4[1-9a-f]|5[0-9af]|6[1-9a-f]|7[0-9ae]|2[de]|3b)/i;

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

  if (FORBIDDEN_RAW.test(rawTarget) || path.includes('//') || path.includes(';') || ENCODED_UNRESERVED.test(path)) return 'bad_path';
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
    // `..;x` is `..` to servlet containers (matrix parameters are cut before dot segments are resolved);
    // `...`, `.. ` and `．．` (fullwidth, `..` after NFKC) are `..` to upstreams that trim or normalise.
    if (isDotSegment(decoded.split(';')[0] ?? '') || FORBIDDEN_DECODED.test(decoded) || isLookAlike(decoded)) return 'bad_path';
    decodedSegments.push(decoded);
  }
  const decoded = decodedSegments.length === 0 ? '' : '/' + decodedSegments.join('/');
  return { path, query, routeKey: toRouteKey(decoded) };
}

/**
 * A segment another spelling of which some upstream reads as a different name: a trailing dot or white
 * space (trimmed by Windows and some routers: `internal.` is `internal`), or a compatibility character
 * NFKC folds away (fullwidth `ｉｎｔｅｒｎａｌ` is `internal` to an upstream that normalises). Next matches
 * rewrites on the literal form, so these walked past a rewrite fencing `/api/internal/*` off.
 */
function isLookAlike(segment: string): boolean {
  if (/[\s.]$/.test(segment)) return true;
  return /[^\x00-\x7f]/.test(segment) && segment.normalize('NFKC') !== segment;
}

/** A segment of nothing but dots and white space, once NFKC-normalised: a dot segment to some upstream. */
function isDotSegment(segment: string): boolean {
  const normalized = segment.normalize('NFKC');
  return normalized.includes('.') && /^[\s.]+$/.test(normalized);
}

/** The segment without trailing dots and white space (a loop: a regex without a start anchor is quadratic here). */
function trimTrailingDotsAndSpaces(segment: string): string {
  let end = segment.length;
  while (end > 0 && /[\s.]/.test(segment[end - 1] ?? '')) end--;
  return segment.slice(0, end);
}

/** `login.json` → `login`: a final `.ext` of letters and digits dropped. */
function withoutExtension(segment: string): string {
  const dot = segment.lastIndexOf('.');
  return dot !== -1 && /^[A-Za-z0-9]*$/.test(segment.slice(dot + 1)) ? segment.slice(0, dot) : segment;
}

/**
 * `/LOGIN`, `/login/`, `/login;x`, `/%6cogin`, `/login.json` and `/login%20` all name the login route
 * for some lenient upstream, so routes are recognised on a key that drops case, matrix parameters,
 * a file extension, trailing dots, spaces and slashes. The key is never sent anywhere.
 */
function toRouteKey(decodedPath: string): string {
  const key = decodedPath
    .split('/')
    .map((segment) => trimTrailingDotsAndSpaces(withoutExtension(trimTrailingDotsAndSpaces(segment.split(';')[0] ?? ''))))
    .join('/')
    // Java's equalsIgnoreCase (and other full case folds) reads `logın` and `ſession` as `login` and `session`.
    .replace(/ı/g, 'i')
    .replace(/ſ/g, 's')
    .toLowerCase()
    .replace(/\/+$/, '');
  return key === '' ? '/' : key;
}

/** The path and query sent upstream: API_URL's base path, then the proxied path and query unchanged. */
export function buildUpstreamPath(basePath: string, target: ProxiedTarget): string {
  const path = basePath + target.path;
  return (path === '' ? '/' : path) + target.query;
}
