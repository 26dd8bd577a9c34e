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
      userIdField: undefined,
      maxResponseBytes: 65536,
      passwordGrant: false,
    });
    expect(resolved.logout).toEqual({
      path: '/logout',
      everywherePath: '/logout/everywhere',
      upstream: undefined,
      method: 'POST',
      perform: undefined,
    });
    expect(resolved.sessionStore).toBeUndefined();
    expect(resolved.login.userIdField).toBeUndefined();
    expect(resolved.refresh).toMatchObject({ dialect: 'json', endpoint: { target: undefined, path: '/refresh' }, method: 'POST' });
    expect(resolved.oauth2).toBeUndefined();
    expect(resolved.timeoutMs).toBe(30000);
    expect(resolved.trustProxy).toBe(false);
    expect(defaultOptions.timeoutMs).toBe(30000);
  });

  it('takes the OAuth 2.0 dialect as the default for every field oauth2 changes, explicit options still winning', () => {
    const oauth2 = { tokenUrl: 'https://auth.test/realms/r/token', clientId: 'bff', clientSecret: 's' };
    const resolved = resolveOptions({ apiUrl: 'http://a.test/v1', oauth2 });
    expect(resolved.authHeader).toBe('bearer');
    expect(resolved.login).toMatchObject({ tokenField: ['access_token'], expiresInField: ['expires_in'], passwordGrant: true });
    expect(resolved.refresh).toMatchObject({
      dialect: 'oauth2',
      tokenField: ['refresh_token'],
      endpoint: { path: '', label: oauth2.tokenUrl },
    });
    expect(resolved.refresh?.endpoint.target?.href).toBe(oauth2.tokenUrl);
    expect(resolved.oauth2).toMatchObject({ clientAuth: 'client_secret_basic', revocation: undefined, revokeAccessToken: false });
    const explicit = resolveOptions({
      apiUrl: 'http://a.test',
      oauth2: { ...oauth2, login: false },
      authHeader: 'auth-token',
      refresh: { path: '/own-refresh', tokenField: 'rt' },
    });
    expect(explicit).toMatchObject({ authHeader: 'auth-token', login: { passwordGrant: false } });
    expect(explicit.refresh).toMatchObject({
      dialect: 'oauth2',
      endpoint: { target: undefined, path: '/own-refresh' },
      tokenField: ['rt'],
    });
    expect(resolveOptions({ apiUrl: 'http://a.test', oauth2: { tokenUrl: '/t', clientId: 'spa' } }).oauth2?.clientAuth).toBe('none');
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
    [{ apiUrl: 'http://a.test', oauth2: { tokenUrl: '/token', clientId: '' } }, /oauth2\.clientId is required/],
    [{ apiUrl: 'http://a.test', oauth2: { tokenUrl: '', clientId: 'c' } }, /oauth2\.tokenUrl is required/],
    [{ apiUrl: 'http://a.test', oauth2: { tokenUrl: 'token', clientId: 'c' } }, /oauth2\.tokenUrl is not a valid URL/],
    [
      { apiUrl: 'http://a.test', oauth2: { tokenUrl: 'https://u:p@auth.test/token', clientId: 'c' } },
      /oauth2\.tokenUrl must not carry credentials/,
    ],
    [
      { apiUrl: 'http://a.test', oauth2: { tokenUrl: '/t', clientId: 'c', clientAuth: 'client_secret_basic' as const } },
      /oauth2\.clientSecret is required/,
    ],
    [
      { apiUrl: 'http://a.test', oauth2: { tokenUrl: '/t', clientId: 'c', clientAuth: 'jwt' as 'none' } },
      /oauth2\.clientAuth must be one of/,
    ],
    [
      { apiUrl: 'http://a.test', oauth2: { tokenUrl: '/t', clientId: 'c', revocationUrl: 'ftp://x/r' } },
      /oauth2\.revocationUrl must start with http/,
    ],
    [
      { apiUrl: 'http://a.test', oauth2: { tokenUrl: '/t', clientId: 'c', login: 'code' as 'password' } },
      /oauth2\.login must be 'password' or false/,
    ],
    [{ apiUrl: 'http://a.test', refresh: { dialect: 'oauth2' as const } }, /refresh\.dialect 'oauth2' needs the oauth2 option/],
    [{ apiUrl: 'http://a.test', refresh: { dialect: 'form' as 'json' } }, /refresh\.dialect must be one of/],
    [{ apiUrl: 'http://a.test', refresh: { method: 'DELETE' as 'POST' } }, /refresh\.method must be one of/],
    [{ apiUrl: 'http://a.test', refresh: { path: 'https://auth.test/r?x=1' } }, /refresh\.path must not carry a query/],
    [{ apiUrl: 'http://a.test', refresh: { perform: 'yes' as unknown as undefined } }, /refresh\.perform must be a function/],
    [{ apiUrl: 'http://a.test', refresh: { upstreamCookieName: 'a b' } }, /refresh\.upstreamCookieName/],
    [{ apiUrl: 'http://a.test', refresh: { dialect: 'json' as const, method: 'GET' as const } }, /refresh\.method 'GET' cannot carry/],
    [{ apiUrl: 'http://a.test', logout: { upstreamMethod: 'HEAD' as 'GET' } }, /logout\.upstreamMethod must be one of/],
    [{ apiUrl: 'http://a.test', logout: { upstreamPath: '//evil.test/x' } }, /logout\.upstreamPath/],
    [{ apiUrl: 'http://a.test', logout: { perform: {} as unknown as undefined } }, /logout\.perform must be a function/],
    [{ apiUrl: 'http://a.test', login: { expiresInField: '' } }, /login\.expiresInField/],
    [
      { apiUrl: 'http://a.test', oauth2: { tokenUrl: '/t', clientId: 'c', clientSecret: undefined } },
      /oauth2\.clientSecret is empty \(is its environment variable set\?\)/,
    ],
    [{ apiUrl: 'http://a.test', oauth2: { tokenUrl: '/t', clientId: 'c', clientSecret: '  ' } }, /oauth2\.clientSecret is empty/],
    [
      { apiUrl: 'http://a.test', oauth2: { tokenUrl: '/t', clientId: 'c', clientSecret: 's\r\nx' } },
      /oauth2\.clientSecret must be printable ASCII/,
    ],
    [{ apiUrl: 'http://a.test', oauth2: { tokenUrl: '/t', clientId: 'c\r\n' } }, /oauth2\.clientId must be printable ASCII/],
    [{ apiUrl: 'http://a.test', oauth2: { tokenUrl: '/t', clientId: 'c', scope: '' } }, /oauth2\.scope/],
    [{ apiUrl: 'http://a.test', oauth2: { tokenUrl: '/t', clientId: 'c', scope: 'a  b' } }, /oauth2\.scope/],
    [
      { apiUrl: 'http://a.test', oauth2: { tokenUrl: '/t', clientId: 'c', revokeAccessToken: 'yes' as unknown as boolean } },
      /revokeAccessToken/,
    ],
    [
      { apiUrl: 'http://a.test', oauth2: { tokenUrl: 'https://auth.test/t', clientId: 'c', clientSecret: 's', revocationUrl: '/revoke' } },
      /oauth2\.revocationUrl must be on the same origin as oauth2\.tokenUrl/,
    ],
    [
      {
        apiUrl: 'http://a.test',
        oauth2: { tokenUrl: 'https://auth.test/t', clientId: 'c', clientSecret: 's' },
        logout: { upstreamPath: '/logout' },
      },
      /logout\.upstreamPath must be on the same origin as oauth2\.tokenUrl/,
    ],
  ])('rejects %j with a ProxyConfigError that says which option', (options, message) => {
    expect(() => resolveOptions(options)).toThrow(ProxyConfigError);
    expect(() => resolveOptions(options)).toThrow(message);
  });

  it.each(['abc', '1e99x'])('rejects API_TIMEOUT_MS=%s naming the variable', (value) => {
    process.env.API_TIMEOUT_MS = value;
    expect(() => resolveOptions({ apiUrl: 'http://a.test' })).toThrow(/API_TIMEOUT_MS/);
  });
});
