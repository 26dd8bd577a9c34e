import type { IncomingMessage, ServerResponse } from 'node:http';
import Cookies from 'cookies';
import type { ResolvedOptions } from './options';
import { isSecureRequest } from './request-info';

// RFC 6265 §4.1.1: cookie-name is a token (RFC 9110 tchar).
const COOKIE_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// RFC 6265 §4.1.1: cookie-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
// (no whitespace, DQUOTE, comma, semicolon or backslash).
const COOKIE_VALUE = /^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]+$/;
// RFC 6265bis §5.6: a user agent ignores a cookie whose name and value together exceed 4096 octets.
export const MAX_COOKIE_NAME_VALUE_BYTES = 4096;

export function isValidCookieName(name: string): boolean {
  return COOKIE_NAME.test(name);
}

/** A token we can put in a cookie and a header as it is. */
export function isCookieSafeToken(token: string): boolean {
  return COOKIE_VALUE.test(token);
}

/**
 * The session token from the request's cookie, or undefined. Lenient when reading:
 * a missing, empty or garbled cookie reads as "no session", never as an exception.
 */
export function readSessionToken(req: IncomingMessage, options: ResolvedOptions): string | undefined {
  if (!req.headers.cookie) return undefined;
  let value: string | undefined;
  try {
    value = new Cookies(req, undefined as unknown as ServerResponse).get(options.cookie.name);
  } catch {
    return undefined;
  }
  return value !== undefined && isCookieSafeToken(value) ? value : undefined;
}

interface CookieAttributes {
  maxAgeSeconds: number | undefined;
}

function serializeCookie(req: IncomingMessage, options: ResolvedOptions, value: string, attrs: CookieAttributes): string {
  // Strict when writing: a value that could break the header never reaches it.
  if (value !== '' && !isCookieSafeToken(value)) throw new TypeError('cookie value has characters a cookie cannot hold');
  const { cookie } = options;
  let header = `${cookie.name}=${value}; Path=/; HttpOnly; SameSite=${cookie.sameSite === 'strict' ? 'Strict' : 'Lax'}`;
  const secure = cookie.secure === 'auto' ? isSecureRequest(req, options.trustProxy) : cookie.secure;
  if (secure) header += '; Secure';
  if (attrs.maxAgeSeconds !== undefined) header += `; Max-Age=${Math.max(0, Math.floor(attrs.maxAgeSeconds))}`;
  return header;
}

// Configurations already warned about: the warning is said once, not once per login.
const warnedInsecure = new WeakSet<ResolvedOptions>();

/** The Set-Cookie value that stores the token. Throws TypeError when the token cannot be a cookie. */
export function sessionCookie(req: IncomingMessage, options: ResolvedOptions, token: string, maxAgeSeconds: number | undefined): string {
  if (options.cookie.name.length + token.length > MAX_COOKIE_NAME_VALUE_BYTES) throw new TypeError('cookie too large');
  const cookie = serializeCookie(req, options, token, { maxAgeSeconds });
  if (process.env.NODE_ENV === 'production' && !cookie.includes('; Secure') && !warnedInsecure.has(options)) {
    warnedInsecure.add(options);
    options.logger.warn(
      '[next-bff-proxy] the session cookie is being set without Secure in production: serve the app over HTTPS, and behind a TLS-terminating proxy set TRUST_PROXY=true (or cookie.secure: true)',
    );
  }
  return cookie;
}

/** The Set-Cookie value that clears the session: same name, path and attributes, Max-Age=0. */
export function clearedSessionCookie(req: IncomingMessage, options: ResolvedOptions): string {
  return serializeCookie(req, options, '', { maxAgeSeconds: 0 });
}

/** Adds a Set-Cookie header to what the response already has, never replacing it. */
export function appendSetCookie(res: ServerResponse, cookie: string): void {
  const existing = res.getHeader('set-cookie');
  const list = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
  res.setHeader('set-cookie', [...list, cookie]);
}
