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

/**
 * The request target exactly as the client sent it. Next re-serialises `req.url`'s query string in API
 * routes (`?b=%20x` arrives as `?b=+x`, `?a` as `?a=`), which breaks signed URLs; Next keeps the original
 * as the request meta `initURL` (an absolute URL or a path), so that is preferred when present.
 */
export function getRawRequestTarget(req: IncomingMessage): string {
  const meta = (req as unknown as Record<symbol, { initURL?: unknown } | undefined>)[NEXT_REQUEST_META];
  const initURL = meta?.initURL;
  if (typeof initURL === 'string' && initURL !== '') {
    if (initURL.startsWith('/')) return initURL;
    const schemeEnd = initURL.indexOf('://');
    if (schemeEnd !== -1) {
      const pathStart = initURL.indexOf('/', schemeEnd + 3);
      return pathStart === -1 ? '/' : initURL.slice(pathStart);
    }
  }
  return req.url ?? '/';
}
