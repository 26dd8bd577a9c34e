/** A cookie as Next's cookie store takes it (`cookies().set(...)`, `response.cookies.set(...)`). */
export interface CookieToSet {
  name: string;
  value: string;
  path: string;
  httpOnly: boolean;
  secure: boolean;
  sameSite: 'lax' | 'strict';
  maxAge?: number;
}

/**
 * Reads back a Set-Cookie value this library wrote (session-cookie.ts: `name=value; Path=/; HttpOnly;
 * SameSite=…[; Secure][; Max-Age=n]`), so the App Router's cookie store can set the same cookie. Only
 * our own output is read here, never an upstream's.
 */
export function parseOwnSetCookie(header: string): CookieToSet {
  const [pair = '', ...attributes] = header.split('; ');
  const eq = pair.indexOf('=');
  // Our values are percent-encoded (session-cookie.ts); Next's store encodes the value it is given.
  const cookie: CookieToSet = {
    name: pair.slice(0, eq),
    value: decodeURIComponent(pair.slice(eq + 1)),
    path: '/',
    httpOnly: false,
    secure: false,
    sameSite: 'lax',
  };
  for (const attribute of attributes) {
    const [key = '', value = ''] = attribute.split('=');
    switch (key.toLowerCase()) {
      case 'path':
        cookie.path = value;
        break;
      case 'httponly':
        cookie.httpOnly = true;
        break;
      case 'secure':
        cookie.secure = true;
        break;
      case 'samesite':
        cookie.sameSite = value.toLowerCase() === 'strict' ? 'strict' : 'lax';
        break;
      case 'max-age':
        cookie.maxAge = Number(value);
        break;
    }
  }
  return cookie;
}

/** The request's Cookie header with these Set-Cookie values applied (a Max-Age=0 one removes its cookie), as the browser would send it next. */
export function applyToCookieHeader(cookieHeader: string | undefined, setCookies: readonly string[]): string {
  const pairs = (cookieHeader ?? '')
    .split(';')
    .map((pair) => pair.trim())
    .filter((pair) => pair !== '');
  let result = pairs;
  for (const header of setCookies) {
    const cookie = parseOwnSetCookie(header);
    result = result.filter((pair) => pair.slice(0, Math.max(0, pair.indexOf('='))).trim() !== cookie.name);
    if (cookie.maxAge !== 0 && cookie.value !== '') result.push(`${cookie.name}=${encodeURIComponent(cookie.value)}`);
  }
  return result.join('; ');
}
