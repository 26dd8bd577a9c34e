const MAX_DATE_SECONDS = 8.64e12;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]*$/;

/**
 * The `exp` claim (seconds since the epoch) of a token that is a JWT, or undefined for anything else.
 * The signature is not checked: the proxy only uses `exp` to choose the cookie's lifetime, and the
 * upstream API stays the judge of the token.
 */
export function readJwtExpiry(token: string): number | undefined {
  const match = JWT_SHAPE.exec(token);
  if (!match?.[1]) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(match[1], 'base64url').toString('utf8'));
    if (typeof payload !== 'object' || payload === null) return undefined;
    const exp = (payload as { exp?: unknown }).exp;
    // ECMA-262 §21.4.1.1: a Date holds ±8.64e15 ms. An `exp` past that (1e13 s, say) is no date at
    // all, and `new Date(exp * 1000).toISOString()` would throw: read as unknown.
    return typeof exp === 'number' && Math.abs(exp) <= MAX_DATE_SECONDS ? exp : undefined;
  } catch {
    return undefined;
  }
}
