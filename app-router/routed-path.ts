/** What Next passes a route handler beside the request: the dynamic segments it routed (a promise since Next 15). */
export interface RouteContext {
  params?: Promise<Record<string, string | string[] | undefined>> | Record<string, string | string[] | undefined>;
}

/** The catch-all's segments (`[...path]` or `[[...path]]`, whatever the name), decoded by Next. */
function catchAllSegments(params: Record<string, string | string[] | undefined>): string[] {
  for (const value of Object.values(params)) if (Array.isArray(value)) return value;
  return [];
}

function decodesTo(rawSegments: string[], segments: string[]): boolean {
  if (rawSegments.length !== segments.length) return false;
  try {
    return rawSegments.every((raw, i) => decodeURIComponent(raw) === segments[i]);
  } catch {
    return false;
  }
}

/**
 * The request target to forward: the path Next routed to this handler, with the query string. A route
 * handler's `request.url` is the URL the client asked for, *before* a `next.config.js` rewrite: a
 * rewrite that fences `/api/internal/*` off would be walked past, and one leading `/backend/*` into
 * `/api/*` would miss the prefix. The routed path is in the catch-all's params. When they name the same
 * segments as the URL (no rewrite), the URL's own encoding is kept; otherwise the path is rebuilt from
 * them, each segment percent-encoded (a `/` inside one becomes `%2F`, which the policy then refuses).
 */
export async function routedTarget(urlTarget: string, pathPrefix: string, context: RouteContext | undefined): Promise<string> {
  if (context?.params === undefined) return urlTarget;
  const segments = catchAllSegments(await context.params);
  const queryStart = urlTarget.indexOf('?');
  const urlPath = queryStart === -1 ? urlTarget : urlTarget.slice(0, queryStart);
  const query = queryStart === -1 ? '' : urlTarget.slice(queryStart);
  const rest = urlPath.startsWith(`${pathPrefix}/`)
    ? urlPath.slice(pathPrefix.length + 1).split('/')
    : urlPath === pathPrefix
      ? []
      : undefined;
  if (rest !== undefined && decodesTo(rest, segments)) return urlTarget;
  const path = segments.length === 0 ? pathPrefix : `${pathPrefix}/${segments.map(encodeURIComponent).join('/')}`;
  return (path === '' ? '/' : path) + query;
}
