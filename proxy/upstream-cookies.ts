/**
 * The value of the cookie `name` among an upstream's Set-Cookie headers, or undefined. Used to take a
 * refresh token the upstream sets as a cookie; the header itself never reaches the browser.
 */
export function readSetCookieValue(setCookie: string | string[] | undefined, name: string): string | undefined {
  for (const header of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
    const pair = header.split(';', 1)[0] ?? '';
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) {
      const value = pair.slice(eq + 1).trim();
      return value === '' ? undefined : value;
    }
  }
  return undefined;
}
