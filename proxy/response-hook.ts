import type { OutgoingHttpHeaders } from 'node:http';
import type { ResolvedOptions } from './options';
import {
  logHookFailure,
  settleHook,
  pickOwned,
  sanitizeHookHeaders,
  type HookRequest,
  type ProxyHooks,
  type ProxyResContext,
} from './hooks';
import { logThrottled } from './log-throttle';
import { carriesSecondCookie } from './upstream-cookies';

// Framing is the proxy's choice (Node frames the client's answer from it), and hop-by-hop fields
// describe a connection the hook does not own.
const PROXY_OWNED_RESPONSE_HEADERS = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'upgrade',
]);

function isOwnedResponseHeader(name: string): boolean {
  return PROXY_OWNED_RESPONSE_HEADERS.has(name) || name.startsWith('proxy-');
}

// RFC 6265bis §4.1.3: `__Host-` and `__Secure-` name the same cookie as far as the proxy's reader goes
// (browsers match the prefixes without regard to case).
const COOKIE_PREFIX = /^__(host|secure)-/i;

/**
 * A Set-Cookie the proxy alone may send: one naming its session or refresh cookie (any prefix), or a
 * nameless one (`=auth-token=x`), which browsers send back as `auth-token=x`.
 */
function isSessionSetCookie(setCookie: string, options: ResolvedOptions): boolean {
  if (carriesSecondCookie(setCookie)) return true;
  const eq = setCookie.indexOf('=');
  const name = eq === -1 ? '' : setCookie.slice(0, eq).trim();
  if (name === '') return true;
  const base = name.replace(COOKIE_PREFIX, '');
  const own = [options.cookie.name, options.refresh?.cookieName];
  return own.some((ownName) => ownName !== undefined && ownName.replace(COOKIE_PREFIX, '') === base);
}

function dropSessionSetCookies(headers: Record<string, string | string[]>, options: ResolvedOptions): void {
  const value = headers['set-cookie'];
  if (value === undefined) return;
  const all = Array.isArray(value) ? value : [value];
  const kept = all.filter((cookie) => !isSessionSetCookie(cookie, options));
  if (kept.length < all.length) {
    logThrottled(
      options.logger,
      'warn',
      'hook-proxyRes-cookie',
      "[next-bff-proxy] on.proxyRes: dropped a Set-Cookie naming the proxy's session",
    );
  }
  if (kept.length === 0) delete headers['set-cookie'];
  else headers['set-cookie'] = kept;
}

/** The status the hook chose, when it is one a client can be sent (a whole number from 200 to 599). */
function checkedStatus(chosen: unknown, upstream: number, options: ResolvedOptions): number {
  if (chosen === upstream) return upstream;
  if (typeof chosen === 'number' && Number.isInteger(chosen) && chosen >= 200 && chosen <= 599) return chosen;
  logThrottled(options.logger, 'warn', 'hook-proxyRes-status', '[next-bff-proxy] on.proxyRes: a status outside 200..599 was ignored');
  return upstream;
}

/**
 * Runs `on.proxyRes` on the client-bound status and headers and returns what to send: the hook's
 * changes, checked, with the proxy's framing put back and no Set-Cookie for its session. Undefined when
 * the hook threw or rejected (logged).
 */
export async function runProxyResHook(
  hook: NonNullable<ProxyHooks['proxyRes']>,
  request: HookRequest,
  status: number,
  headers: OutgoingHttpHeaders,
  options: ResolvedOptions,
): Promise<{ status: number; headers: Record<string, string | string[]> } | undefined> {
  const kept = pickOwned(headers, isOwnedResponseHeader);
  const ctx: ProxyResContext = { method: request.method, path: request.path, route: request.route, status, headers: { ...headers } };
  if (!(await settleHook(options.logger, 'proxyRes', options.timeoutMs, () => hook(ctx)))) return undefined;
  try {
    const out = sanitizeHookHeaders('proxyRes', ctx.headers, kept, isOwnedResponseHeader, options.logger);
    dropSessionSetCookies(out, options);
    const chosen = checkedStatus(ctx.status, status, options);
    // RFC 9110 §8.6: a 204 has no Content-Length (the upstream's, for the body it had, no longer applies).
    if (chosen === 204) delete out['content-length'];
    return { status: chosen, headers: out };
  } catch (err) {
    // What the hook left behind could not be read (a throwing getter): nothing is sent of it.
    logHookFailure(options.logger, 'proxyRes', err);
    return undefined;
  }
}
