import { NextResponse, type NextRequest } from 'next/server';
import type { ApiProxyOptions } from '../proxy/options';
import { resolveSession } from '../proxy/refresh';
import { isSessionStoreError } from '../session-store/types';
import { getUpstreamContext } from '../server-lib/upstream-context';
import { headersOnlyRequest } from './node-request';
import { applyToCookieHeader } from './set-cookie';

/** A `proxy.ts` (Next 16) or Node-runtime `middleware.ts` (Next 15.5) function. */
export type SessionProxy = (request: NextRequest) => Promise<NextResponse>;

/**
 * For `proxy.ts`: refreshes a session whose access token is about to expire *before* the page renders.
 * Server components cannot set cookies, so this is where a render's refresh reaches the browser: the
 * new cookies go on the response, and into the request the page renders with (`cookies()` and the
 * server API then read the new token in that same request). A refused refresh token clears the cookies
 * both ways, so the page sees no session.
 *
 * It acts on page loads (GET and HEAD) only, and never on the proxy's own `/api/*` routes (they refresh
 * for themselves): a proxy.ts run there would read the whole request body through Next's
 * `proxyClientMaxBodySize` (cut at 10 MiB) and cost throughput. Keep `/api`, and every rewrite source
 * that leads into it, out of the matcher too.
 */
export function createSessionProxy(options?: ApiProxyOptions): SessionProxy {
  return async (request) => {
    let context;
    try {
      context = getUpstreamContext(options);
    } catch {
      return NextResponse.next();
    }
    const { options: resolved, agent } = context;
    const path = request.nextUrl.pathname;
    if (path === resolved.pathPrefix || path.startsWith(`${resolved.pathPrefix}/`)) return NextResponse.next();
    // Page loads only. A server action (a POST) refreshes and sets cookies itself; refreshing for it here
    // would hand it the new tokens, so a logout action racing a page's refresh ended those and left the
    // page's answer carrying them. And a POST rewritten into /api from another path would have its body
    // read through Next's proxyClientMaxBodySize (cut at 10 MiB).
    if (request.method !== 'GET' && request.method !== 'HEAD') return NextResponse.next();
    let session;
    try {
      session = await resolveSession(headersOnlyRequest(request.headers), resolved, agent);
    } catch (err) {
      // The session store is down: the page renders on, and its own calls answer 503 if they need the session.
      if (isSessionStoreError(err)) return NextResponse.next();
      throw err;
    }
    // Nothing to change, or a refresh the upstream could not answer (the page tries again, or shows it).
    if (session.kind === 'none' || session.kind === 'failed' || session.setCookies.length === 0) return NextResponse.next();
    const forwarded = new Headers(request.headers);
    forwarded.set('cookie', applyToCookieHeader(request.headers.get('cookie') ?? undefined, session.setCookies));
    const response = NextResponse.next({ request: { headers: forwarded } });
    for (const cookie of session.setCookies) response.headers.append('set-cookie', cookie);
    // The answer carries a new session: no shared cache may keep it.
    response.headers.set('cache-control', 'private, no-store');
    return response;
  };
}
