import type { IncomingMessage, ServerResponse } from 'node:http';
import Cookies from 'cookies';
import type { ResolvedOptions } from './options';
import { packToken, tokenExpiry, unpackToken } from './token-expiry';
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

/** The Secure attribute for this request's cookies: configured, or (`'auto'`) whether it came over HTTPS. */
function isSecureCookie(req: IncomingMessage, options: ResolvedOptions): boolean {
  return options.cookie.secure === 'auto' ? isSecureRequest(req, options.trustProxy) : options.cookie.secure;
}

/**
 * The cookie names for this request. A name left at its default gets the `__Host-` prefix whenever the
 * cookie is Secure (RFC 6265bis §4.1.3.2): a browser then refuses the same name from a sibling subdomain
 * or a plain-HTTP page, so another host cannot plant a session. A configured name is used as given.
 */
export function sessionCookieNames(req: IncomingMessage, options: ResolvedOptions): { access: string; refresh: string | undefined } {
  const secure = isSecureCookie(req, options);
  const named = (base: string, hostPrefix: boolean) => (hostPrefix && secure ? `__Host-${base}` : base);
  return {
    access: named(options.cookie.name, options.cookie.hostPrefix),
    refresh: options.refresh && named(options.refresh.cookieName, options.refresh.hostPrefix),
  };
}

/** The request's session cookies. `conflict`: a name came more than once, so neither token is used. */
export interface SessionCookies {
  access: string | undefined;
  /** The access token's expiry when its login or refresh answer told it (`expires_in`) and the token cannot (not a JWT). */
  accessExpiresAt: number | undefined;
  refresh: string | undefined;
  conflict: boolean;
}

// `name=` at the start of a cookie-pair (RFC 6265 §5.4: pairs are separated by ';' and optional spaces).
function countCookie(header: string, name: string): number {
  let count = 0;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq !== -1 && pair.slice(0, eq).trim() === name) count++;
  }
  return count;
}

/**
 * A cookie's value, lenient when reading: missing, empty or garbled reads as undefined, never as an
 * exception. A name sent twice is 'conflict': browsers order same-name cookies by path length and age,
 * not by who set them, so `auth-token=A; auth-token=B` may carry a cookie a sibling subdomain planted
 * (cookie tossing). Neither is trusted.
 */
function readCookie(req: IncomingMessage, header: string, name: string): string | undefined | 'conflict' {
  if (!header.includes(name)) return undefined;
  if (countCookie(header, name) > 1) return 'conflict';
  let value: string | undefined;
  try {
    // Values are percent-encoded when written (below), as Next's cookie store writes them too.
    const raw = new Cookies(req, undefined as unknown as ServerResponse).get(name);
    value = raw === undefined ? undefined : decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  return value;
}

/** A stored token, or undefined when the value could not be one. */
function asToken(value: string | undefined): string | undefined {
  return value !== undefined && isCookieSafeToken(value) ? value : undefined;
}

const NO_COOKIES: SessionCookies = { access: undefined, accessExpiresAt: undefined, refresh: undefined, conflict: false };

/** The session (access) and refresh tokens from the request's cookies. */
export function readSessionCookies(req: IncomingMessage, options: ResolvedOptions): SessionCookies {
  const header = req.headers.cookie;
  if (!header) return NO_COOKIES;
  const names = sessionCookieNames(req, options);
  const access = readCookie(req, header, names.access);
  const refresh = names.refresh === undefined ? undefined : readCookie(req, header, names.refresh);
  if (access === 'conflict' || refresh === 'conflict') return { ...NO_COOKIES, conflict: true };
  const stored = access === undefined ? undefined : unpackToken(access);
  const token = asToken(stored?.token);
  return {
    access: token,
    accessExpiresAt: token === undefined ? undefined : stored?.expiresAt,
    refresh: asToken(refresh),
    conflict: false,
  };
}

function serializeCookie(
  req: IncomingMessage,
  options: ResolvedOptions,
  name: string,
  value: string,
  maxAgeSeconds: number | undefined,
  expiresAt?: number,
): string {
  // Strict when writing: a value that could break the header never reaches it.
  if (value !== '' && !isCookieSafeToken(value)) throw new UnstorableTokenError('unsafe_token');
  value = packToken(value, expiresAt);
  // Percent-encoded (RFC 6265 §4.1.1 allows `%`), as Next's `cookies().set` writes values: a token set by
  // a server action and one set by the route read back the same (`+/=` of base64 tokens included). A
  // JWT or any base64url token is unchanged by it.
  const encoded = encodeURIComponent(value);
  if (name.length + encoded.length > MAX_COOKIE_NAME_VALUE_BYTES) throw new UnstorableTokenError('unsafe_token');
  let header = `${name}=${encoded}; Path=/; HttpOnly; SameSite=${options.cookie.sameSite === 'strict' ? 'Strict' : 'Lax'}`;
  if (isSecureCookie(req, options)) header += '; Secure';
  if (maxAgeSeconds !== undefined) header += `; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`;
  return header;
}

/** A token's cookie lifetime: its expiry when known (JWT `exp`, or `expires_in`), else the configured lifetime (or a session cookie). */
function tokenMaxAge(token: string, fallback: number | undefined, expiresAt?: number): number | undefined {
  const exp = tokenExpiry(token, expiresAt);
  if (exp === undefined) return fallback;
  const remaining = Math.floor(exp - Date.now() / 1000);
  // An `expires_in` of 1 s, rounded down to the second, can leave 0: still a live token (a JWT's own
  // `exp` that has passed is not).
  if (remaining <= 0 && !(exp === expiresAt && remaining === 0)) throw new UnstorableTokenError('expired_token');
  return Math.max(1, remaining);
}

// Configurations already warned about: the warning is said once, not once per login.
const warnedInsecure = new WeakSet<ResolvedOptions>();

export interface SessionTokens {
  access: string;
  /** The access token's expiry (epoch seconds) from its answer's `expires_in`, kept with it when the token cannot tell. */
  accessExpiresAt?: number | undefined;
  /** A new refresh token to store; undefined keeps the one the browser has; null clears it. */
  refresh?: string | null | undefined;
}

/**
 * The Set-Cookie values that store the session: the access token, and the refresh token when there is
 * a new one. Throws UnstorableTokenError when a token cannot be a cookie.
 */
export function sessionCookies(req: IncomingMessage, options: ResolvedOptions, tokens: SessionTokens): string[] {
  const names = sessionCookieNames(req, options);
  const cookies = [
    serializeCookie(
      req,
      options,
      names.access,
      tokens.access,
      tokenMaxAge(tokens.access, options.cookie.maxAgeSeconds, tokens.accessExpiresAt),
      tokens.accessExpiresAt,
    ),
  ];
  if (names.refresh !== undefined && options.refresh && tokens.refresh !== undefined) {
    const refresh =
      tokens.refresh === null
        ? (['', 0] as const)
        : ([tokens.refresh, tokenMaxAge(tokens.refresh, options.refresh.maxAgeSeconds)] as const);
    cookies.push(serializeCookie(req, options, names.refresh, ...refresh));
  }
  if (process.env.NODE_ENV === 'production' && !cookies[0]?.includes('; Secure') && !warnedInsecure.has(options)) {
    warnedInsecure.add(options);
    options.logger.warn(
      '[next-bff-proxy] the session cookie is being set without Secure in production: serve the app over HTTPS, and behind a TLS-terminating proxy set TRUST_PROXY=true (or cookie.secure: true)',
    );
  }
  return cookies;
}

/** With a session store: the cookie holding the session's id, for `maxAgeSeconds` (the session's own lifetime). */
export function sessionIdCookie(req: IncomingMessage, options: ResolvedOptions, id: string, maxAgeSeconds: number): string {
  return serializeCookie(req, options, sessionCookieNames(req, options).access, id, maxAgeSeconds);
}

/**
 * The Set-Cookie values that clear the session (and refresh) cookies: same name, path and attributes,
 * Max-Age=0. Where the names carry the `__Host-` prefix, the unprefixed cookies of earlier versions go too.
 */
export function clearedSessionCookies(req: IncomingMessage, options: ResolvedOptions): string[] {
  const names = sessionCookieNames(req, options);
  const all = [names.access, ...(names.refresh === undefined ? [] : [names.refresh])];
  if (names.access !== options.cookie.name) all.push(options.cookie.name);
  if (options.refresh && names.refresh !== options.refresh.cookieName) all.push(options.refresh.cookieName);
  return all.map((name) => serializeCookie(req, options, name, '', 0));
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
