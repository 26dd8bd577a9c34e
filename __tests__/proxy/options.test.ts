import { ProxyConfigError, defaultOptions } from '../../proxy/index';
import { resolveOptions } from '../../proxy/resolve-options';

describe('resolveOptions', () => {
  const env = { ...process.env };
  afterEach(() => {
    process.env = { ...env };
  });

  it('applies the documented defaults', () => {
    delete process.env.API_TIMEOUT_MS;
    delete process.env.TRUST_PROXY;
    const resolved = resolveOptions({ apiUrl: 'https://api.example.com/v1/' });
    expect(resolved.upstream.href).toBe('https://api.example.com/v1/');
    expect(resolved.upstreamBasePath).toBe('/v1');
    expect(resolved.pathPrefix).toBe('/api');
    expect(resolved.authHeader).toBe('auth-token');
    expect(resolved.cookie).toEqual({ name: 'auth-token', hostPrefix: true, sameSite: 'lax', secure: 'auto', maxAgeSeconds: undefined });
    expect(resolved.login).toEqual({
      path: '/login',
      tokenField: ['authToken'],
      expiresInField: ['expires_in'],
      maxResponseBytes: 65536,
      passwordGrant: false,
    });
    expect(resolved.logout).toEqual({ path: '/logout', upstream: undefined, method: 'POST', perform: undefined });
    expect(resolved.refresh).toMatchObject({ dialect: 'json', endpoint: { target: undefined, path: '/refresh' }, method: 'POST' });
    expect(resolved.oauth2).toBeUndefined();
    expect(resolved.timeoutMs).toBe(30000);
    expect(resolved.trustProxy).toBe(false);
    expect(defaultOptions.timeoutMs).toBe(30000);
  });

  it('reads API_TIMEOUT_MS and TRUST_PROXY from the environment; options win over them', () => {
    process.env.API_TIMEOUT_MS = '1500';
    process.env.TRUST_PROXY = 'true';
    expect(resolveOptions({ apiUrl: 'http://a.test' })).toMatchObject({ timeoutMs: 1500, trustProxy: true });
    expect(resolveOptions({ apiUrl: 'http://a.test', timeoutMs: 10, trustProxy: false })).toMatchObject({
      timeoutMs: 10,
      trustProxy: false,
    });
  });

  it.each([
    [{ apiUrl: 'http://user:pw@a.test' }, /credentials/],
    [{ apiUrl: 'http://a.test/?x=1' }, /query/],
    [{ apiUrl: 'http://a.test', cookie: { name: 'bad name' } }, /cookie.name/],
    [{ apiUrl: 'http://a.test', cookie: { sameSite: 'none' as 'lax' } }, /sameSite/],
    [{ apiUrl: 'http://a.test', cookie: { maxAgeSeconds: -1 } }, /maxAgeSeconds/],
    [{ apiUrl: 'http://a.test', timeoutMs: 0 }, /timeoutMs/],
    [{ apiUrl: 'http://a.test', login: { tokenField: 'a..b' } }, /tokenField/],
    [{ apiUrl: 'http://a.test', login: { path: 'login' } }, /login.path/],
    [{ apiUrl: 'http://a.test', pathPrefix: 'api' }, /pathPrefix/],
    [{ apiUrl: 'http://a.test', authHeader: 'basic' as 'bearer' }, /authHeader/],
  ])('rejects %j with a ProxyConfigError that says which option', (options, message) => {
    expect(() => resolveOptions(options)).toThrow(ProxyConfigError);
    expect(() => resolveOptions(options)).toThrow(message);
  });

  it.each(['abc', '1e99x'])('rejects API_TIMEOUT_MS=%s naming the variable', (value) => {
    process.env.API_TIMEOUT_MS = value;
    expect(() => resolveOptions({ apiUrl: 'http://a.test' })).toThrow(/API_TIMEOUT_MS/);
  });
});
