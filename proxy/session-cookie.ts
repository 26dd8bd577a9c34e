import type { IncomingMessage, ServerResponse } from 'node:http';
import Cookies from 'cookies';
import type { ResolvedOptions } from './options';
import { readJwtExpiry } from './jwt';
import { isSecureRequest } from './request-info';

// RFC 6265 §4.1.1: cookie-name is a token (RFC 9110 tchar).
const COOKIE_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// RFC 6265 §4.1.1: cookie-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
// (no whitespace, DQUOTE, comma, semicolon or backslash).
const COOKIE_VALUE = /^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]+$/;
// RFC 6265bis §5.6: a user agent ignores a cookie whose name and value together exceed 4096 octets.
const MAX_COOKIE_NAME_VALUE_BYTES = 4096;

export function isValidCookieName(name: string): boolean {
  return COOKIE_NAME.test(name);
}

/** A token we can put in a cookie and a header as it is. */
export function isCookieSafeToken(token: string): boolean {
  return COOKIE_VALUE.test(token);
}

/** Why a token cannot be stored: characters a cookie cannot hold, too large, or already expired. */
export class UnstorableTokenError extends Error {
  constructor(readonly reason: 'unsafe_token' | 'expired_token') {
    super(`token cannot be stored: ${reason}`);
    this.name = 'UnstorableTokenError';
  }
}

/**
 * A cookie's value from the request, or undefined. Lenient when reading: a missing, empty or garbled
 * cookie reads as "no session", never as an exception.
 */
function readCookie(req: IncomingMessage, name: string): string | undefined {
  if (!req.headers.cookie) return undefined;
  let value: string | undefined;
  try {
    value = new Cookies(req, undefined as unknown as ServerResponse).get(name);
  } catch {
    return undefined;
  }
  return value !== undefined && isCookieSafeToken(value) ? value : undefined;
}

/** The access token from the session cookie, or undefined. */
export function readSessionToken(req: IncomingMessage, options: ResolvedOptions): string | undefined {
  return readCookie(req, options.cookie.name);
}

/** The refresh token from its cookie (when refresh is on), or undefined. */
export function readRefreshToken(req: IncomingMessage, options: ResolvedOptions): string | undefined {
  return options.refresh ? readCookie(req, options.refresh.cookieName) : undefined;
}

function serializeCookie(req: IncomingMessage, options: ResolvedOptions, name: string, value: string, maxAgeSeconds: number | undefined): string {
  // Strict when writing: a value that could break the header never reaches it.
  if (value !== '' && !isCookieSafeToken(value)) throw new UnstorableTokenError('unsafe_token');
  if (name.length + value.length > MAX_COOKIE_NAME_VALUE_BYTES) throw new UnstorableTokenError('unsafe_token');
  const { cookie } = options;
  let header = `${name}=${value}; Path=/; HttpOnly; SameSite=${cookie.sameSite === 'strict' ? 'Strict' : 'Lax'}`;
  const secure = cookie.secure === 'auto' ? isSecureRequest(req, options.trustProxy) : cookie.secure;
  if (secure) header += '; Secure';
  if (maxAgeSeconds !== undefined) header += `; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`;
  return header;
}

/** A token's cookie lifetime: its JWT `exp` when it has one, else the configured lifetime (or a session cookie). */
function tokenMaxAge(token: string, fallback: number | undefined): number | undefined {
  const exp = readJwtExpiry(token);
  if (exp === undefined) return fallback;
  const remaining = Math.floor(exp - Date.now() / 1000);
  if (remaining <= 0) throw new UnstorableTokenError('expired_token');
  return remaining;
}

// Configurations already warned about: the warning is said once, not once per login.
const warnedInsecure = new WeakSet<ResolvedOptions>();

export interface SessionTokens {
  access: string;
  /** A new refresh token to store; undefined keeps the one the browser has. */
  refresh?: string | undefined;
}

/**
 * The Set-Cookie values that store the session: the access token, and the refresh token when there is
 * a new one. Throws UnstorableTokenError when a token cannot be a cookie.
 */
export function sessionCookies(req: IncomingMessage, options: ResolvedOptions, tokens: SessionTokens): string[] {
  const cookies = [serializeCookie(req, options, options.cookie.name, tokens.access, tokenMaxAge(tokens.access, options.cookie.maxAgeSeconds))];
  if (tokens.refresh !== undefined && options.refresh) {
    cookies.push(serializeCookie(req, options, options.refresh.cookieName, tokens.refresh, tokenMaxAge(tokens.refresh, options.refresh.maxAgeSeconds)));
  }
  if (process.env.NODE_ENV === 'production' && !cookies[0]?.includes('; Secure') && !warnedInsecure.has(options)) {
    warnedInsecure.add(options);
    options.logger.warn(
      '[next-bff-proxy] the session cookie is being set without Secure in production: serve the app over HTTPS, and behind a TLS-terminating proxy set TRUST_PROXY=true (or cookie.secure: true)',
    );
  }
  return cookies;
}

/** The Set-Cookie values that clear the session (and refresh) cookies: same name, path and attributes, Max-Age=0. */
export function clearedSessionCookies(req: IncomingMessage, options: ResolvedOptions): string[] {
  const cookies = [serializeCookie(req, options, options.cookie.name, '', 0)];
  if (options.refresh) cookies.push(serializeCookie(req, options, options.refresh.cookieName, '', 0));
  return cookies;
}

/**
 * Moves a `set-cookie` entry out of headers about to be written with `writeHead` and appends it to
 * the response instead: `writeHead` would otherwise replace the session cookies already set.
 */
export function mergeSetCookieHeader(res: ServerResponse, headers: Record<string, unknown>): void {
  const passed = headers['set-cookie'];
  if (passed === undefined) return;
  delete headers['set-cookie'];
  appendSetCookie(res, ...(Array.isArray(passed) ? passed.map(String) : [String(passed)]));
}

/** Adds Set-Cookie headers to what the response already has, never replacing it. */
export function appendSetCookie(res: ServerResponse, ...cookies: string[]): void {
  const existing = res.getHeader('set-cookie');
  const list = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
  res.setHeader('set-cookie', [...list, ...cookies]);
}
