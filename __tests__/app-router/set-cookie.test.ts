import { applyToCookieHeader, parseOwnSetCookie } from '../../app-router/set-cookie';

// The App Router sets the library's cookies through Next's cookie store, which percent-encodes values:
// what the library wrote is read back decoded, so the store writes the same bytes the route would.
describe("the library's own Set-Cookie values, read back for the App Router", () => {
  it('parses name, decoded value and attributes', () => {
    expect(parseOwnSetCookie('__Host-refresh-token=rt%2FAbC%2Bxyz%3D%3D; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=60')).toEqual({
      name: '__Host-refresh-token',
      value: 'rt/AbC+xyz==',
      path: '/',
      httpOnly: true,
      secure: true,
      sameSite: 'strict',
      maxAge: 60,
    });
  });

  it('applies new cookies to a Cookie header, encoded as the browser will send them, and drops cleared ones', () => {
    const header = applyToCookieHeader('theme=dark; auth-token=old; refresh-token=r1', [
      'auth-token=op%2Faque%2B%3D; Path=/; HttpOnly; SameSite=Lax; Max-Age=600',
      'refresh-token=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0',
    ]);
    expect(header).toBe('theme=dark; auth-token=op%2Faque%2B%3D');
  });
});
