import type { IncomingMessage } from 'node:http';
import type { ResolvedOptions } from './options';
import { getRequestHost, isSecureRequest } from './request-info';

// RFC 9110 §9.2.1: the methods that must not change state; everything else is checked.
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The app's own origin: the configured one (APP_ORIGIN), or the one the request was made to. Deriving it
 * from the request is safe against a browser (a page cannot choose the Host its victim's browser sends)
 * but depends on Host and, with trustProxy, X-Forwarded-Host/-Proto being what the browser used.
 */
function appOrigin(req: IncomingMessage, options: ResolvedOptions): string | undefined {
  if (options.csrf.appOrigin) return options.csrf.appOrigin;
  const host = getRequestHost(req, options.trustProxy);
  return host ? `${isSecureRequest(req, options.trustProxy) ? 'https' : 'http'}://${host.toLowerCase()}` : undefined;
}

function originOf(url: string): string | undefined {
  try {
    const origin = new URL(url).origin;
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
}

/**
 * True when the request may have been forged by another site (OWASP CSRF Prevention: Fetch Metadata,
 * then the Origin/Referer check). Checked for unsafe methods that carry the session, and always for
 * login and logout; with `csrf.requireHeader`, every request must also carry that header.
 */
export function isCrossSiteRequest(
  req: IncomingMessage,
  options: ResolvedOptions,
  context: {
    hasSession: boolean;
    isSessionRoute: boolean;
    /** A server action: posted by Next's own client (or a plain form), which no custom header can ride on. */
    isServerAction?: boolean;
  },
): boolean {
  const { csrf } = options;
  if (!csrf.enabled) return false;
  if (csrf.requireHeader && !context.isServerAction && single(req.headers[csrf.requireHeader.name]) !== csrf.requireHeader.value)
    return true;

  const method = (req.method ?? 'GET').toUpperCase();
  if (!context.isSessionRoute && (SAFE_METHODS.has(method) || !context.hasSession)) return false;

  const site = single(req.headers['sec-fetch-site'])?.toLowerCase();
  if (site !== undefined) {
    // 'same-origin' and 'none' (the user's own navigation) pass; 'same-site' is a sibling subdomain.
    // Any other value (a future one, a typo, a forgery) fails closed, as 'cross-site' does.
    return !(site === 'same-origin' || site === 'none' || (site === 'same-site' && csrf.trustSameSite));
  }
  const expected = appOrigin(req, options);
  const origin = single(req.headers.origin);
  if (origin !== undefined) return expected === undefined || origin.toLowerCase() !== expected;
  const referer = single(req.headers.referer);
  if (referer !== undefined) return expected === undefined || originOf(referer) !== expected;
  // None of the three: no browser request of the last decade looks like this.
  return true;
}
