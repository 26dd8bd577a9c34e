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

// `, name=` inside one Set-Cookie value: Next's route handlers (send-response.js, splitCookiesString) and
// other servers that fold Set-Cookie split it there into a second cookie, which no name check on the
// first one ever saw (`pref=1, auth-token=X` plants a session). An Expires date's comma is followed by
// a day number and a space, never by `name=`.
const SECOND_COOKIE = /,\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+\s*=/;

/** True when a Set-Cookie value would be read as two cookies by a server that splits on commas. */
export function carriesSecondCookie(setCookie: string): boolean {
  return SECOND_COOKIE.test(setCookie);
}
