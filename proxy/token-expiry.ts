import { readJwtExpiry } from './jwt';

// An access token's expiry, when the token cannot tell it (not a JWT with `exp`) but the answer that
// brought it did (`expires_in`), rides in its cookie after a comma: `<token>,<epoch seconds>`. A comma
// can never be part of a stored token (RFC 6265 §4.1.1 cookie-octet excludes it), so the two cannot be
// confused, and the pair stays one cookie: token and expiry are written, sent and dropped together.
const PACKED = /^(.+),(\d{1,12})$/;

// RFC 6749 §5.1 gives no ceiling; a lifetime past ten years is a unit mistake (milliseconds), not a plan.
const MAX_EXPIRES_IN_SECONDS = 10 * 365 * 24 * 3600;

/** The stored form of an access token: with its expiry when only the answer knew it. */
export function packToken(token: string, expiresAt: number | undefined): string {
  if (expiresAt === undefined || readJwtExpiry(token) !== undefined) return token;
  return `${token},${Math.floor(expiresAt)}`;
}

/** A stored access token and the expiry kept with it (undefined for a plain token). */
export function unpackToken(value: string): { token: string; expiresAt: number | undefined } {
  const match = PACKED.exec(value);
  if (!match?.[1] || !match[2]) return { token: value, expiresAt: undefined };
  return { token: match[1], expiresAt: Number(match[2]) };
}

/** When a token expires (epoch seconds): its JWT `exp`, else what its answer said, else unknown. */
export function tokenExpiry(token: string, expiresAt: number | undefined): number | undefined {
  return readJwtExpiry(token) ?? expiresAt;
}

/**
 * `expires_in` from a token answer (RFC 6749 §5.1: lifetime in seconds) as an absolute time. A number
 * or a string of digits (some servers, Entra ID v1 among them, send a string); anything else is unknown.
 */
export function expiresAtFrom(expiresIn: unknown, now = Date.now() / 1000): number | undefined {
  const seconds = typeof expiresIn === 'string' && /^\d{1,10}$/.test(expiresIn) ? Number(expiresIn) : expiresIn;
  // Under a second says nothing usable (a token "already expired" at issue): read as unknown, not as a
  // reason to refuse the login.
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 1 || seconds > MAX_EXPIRES_IN_SECONDS) return undefined;
  return Math.floor(now + seconds);
}

/** True when the token's known expiry (see tokenExpiry) has passed; a token of unknown expiry is not known to have expired. */
export function hasExpired(token: string, expiresAt: number | undefined): boolean {
  const exp = tokenExpiry(token, expiresAt);
  return exp !== undefined && exp <= Date.now() / 1000;
}
