import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

function firstHeaderValue(value: string | string[] | undefined): string | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  const first = raw?.split(',')[0]?.trim();
  return first === '' ? undefined : first;
}

/** True when the client reached us over HTTPS, directly or (if trusted) through a reverse proxy. */
export function isSecureRequest(req: IncomingMessage, trustProxy: boolean): boolean {
  if ((req.socket as TLSSocket | undefined)?.encrypted) return true;
  return trustProxy && firstHeaderValue(req.headers['x-forwarded-proto'])?.toLowerCase() === 'https';
}

/** The host the client asked for (X-Forwarded-Host only when trusted). */
export function getRequestHost(req: IncomingMessage, trustProxy: boolean): string | undefined {
  return (trustProxy ? firstHeaderValue(req.headers['x-forwarded-host']) : undefined) ?? req.headers.host;
}

const NEXT_REQUEST_META = Symbol.for('NextInternalRequestMeta');

interface NextRequestMeta {
  initURL?: unknown;
  rewrittenPathname?: unknown;
}

/** The path and query of a request target that may be an absolute URL. */
function pathAndQuery(target: string): string | undefined {
  if (target.startsWith('/')) return target;
  const schemeEnd = target.indexOf('://');
  if (schemeEnd === -1) return undefined;
  const pathStart = target.indexOf('/', schemeEnd + 3);
  return pathStart === -1 ? '/' : target.slice(pathStart);
}

/**
 * The request target to forward: the path Next routed to this handler, with the query string exactly
 * as the client sent it.
 * - Next re-serialises `req.url`'s query string in API routes (`?b=%20x` arrives as `?b=+x`, `?a` as
 *   `?a=`), which breaks signed URLs; the original is the request meta `initURL`.
 * - A `next.config.js` rewrite leaves `req.url` and `initURL` at what the client sent; the path Next
 *   routed is `rewrittenPathname` (still percent-encoded). Forwarding the sent path would ignore a rewrite
 *   that fences `/api/internal/*` off, and miss the prefix on one that leads `/backend/*` into `/api/*`.
 *   (A proxy.ts/middleware rewrite changes `initURL` itself.) A rewrite's own query parameters are not
 *   added: the client's query string is forwarded as it was sent.
 */
export function getRawRequestTarget(req: IncomingMessage): string {
  const meta = (req as unknown as Record<symbol, NextRequestMeta | undefined>)[NEXT_REQUEST_META];
  const sent = (typeof meta?.initURL === 'string' && meta.initURL !== '' ? pathAndQuery(meta.initURL) : undefined) ?? req.url ?? '/';
  const routed = meta?.rewrittenPathname;
  if (typeof routed !== 'string' || !routed.startsWith('/')) return sent;
  const queryStart = sent.indexOf('?');
  return queryStart === -1 ? routed : routed + sent.slice(queryStart);
}
