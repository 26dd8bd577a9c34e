import type { ResolvedOptions } from './options';
import type { ResolvedRoute } from './routes';
import { createUpstream, type Upstream } from './upstream';

export interface RouteUpstreams {
  /** API_URL's: login, logout, the session endpoint and refreshes go there. */
  main: Upstream;
  /** The upstream a route's requests go to. */
  of(route: ResolvedRoute): Upstream;
}

/**
 * One Upstream per origin the options name (API_URL and each route's `url`), made once when the proxy
 * is created, never per request; each sends through its origin's shared keep-alive agent.
 */
export function createRouteUpstreams(options: ResolvedOptions, traits: { viaHttpProxy: boolean }): RouteUpstreams {
  const main = createUpstream(options, { ...traits, target: options.upstream });
  const byOrigin = new Map<string, Upstream>([[options.upstream.origin, main]]);
  for (const route of options.routes.table) {
    const { origin } = route.upstream;
    if (!byOrigin.has(origin)) byOrigin.set(origin, createUpstream(options, { ...traits, target: route.upstream }));
  }
  return { main, of: (route) => byOrigin.get(route.upstream.origin) ?? main };
}
