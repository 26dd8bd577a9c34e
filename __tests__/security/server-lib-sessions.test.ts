import http from 'node:http';
import net from 'node:net';
import nock from 'nock';
import type { GetServerSidePropsContext } from 'next';
import type { ApiProxyOptions, ProxyLogger } from '../../proxy/index';
import { createServerApi, getSession, ServerApiError, withSession } from '../../server-lib';
import { setupNock } from '../helpers/nock';
import { fakeJwt, rawRequest, recordingLogger, startProxy } from '../helpers/servers';
import { expectNoTokenLeak } from './leaks';

// server-lib keeps sessions the way the proxy route does: a 401 gets one refresh and one retry, and a
// refresh token that still works is never cleared.

const API = 'http://api.test';
const CLEARED = ['auth-token=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0', 'refresh-token=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0'];

let serial = 0;
/** A token no other test uses: single flight and the reuse window are per process, keyed by token. */
const unique = (label: string) => `${label}-${++serial}-${process.pid}`;

setupNock();

function fakeContext(cookie?: string, resolvedUrl = '/profile'): GetServerSidePropsContext {
  const req = new http.IncomingMessage(new net.Socket());
  req.headers = cookie ? { cookie, host: 'app.test' } : { host: 'app.test' };
  const res = new http.ServerResponse(req);
  return { req, res, query: {}, resolvedUrl } as unknown as GetServerSidePropsContext;
}

/** Fresh options (server-lib keeps one resolved configuration per options object) with their own log. */
function freshOptions(): ApiProxyOptions & { logger: ReturnType<typeof recordingLogger> } {
  return { apiUrl: API, logger: recordingLogger() };
}

const setCookiesOn = (ctx: GetServerSidePropsContext) => ctx.res.getHeader('set-cookie') as string[] | undefined;

/** No token in the log or in what the page got (the result, or the error's message). */
function expectNotLeaked(tokens: string[], logger: ProxyLogger & { lines: string[] }, output: unknown) {
  for (const token of tokens) expectNoTokenLeak(token, logger, output instanceof Error ? { text: output.message } : { body: output });
}

describe('getSession with a JWT exp outside the range of a date', () => {
  it.each([1e13, -1e13, 1e300])('exp %d: resolves {authenticated: true, expiresAt: null}, sets no cookie', async (exp) => {
    const ctx = fakeContext(`auth-token=${fakeJwt({ sub: 'u', exp })}`);
    await expect(getSession(ctx, freshOptions())).resolves.toEqual({ authenticated: true, expiresAt: null });
    expect(setCookiesOn(ctx) ?? []).toEqual([]);
  });
});

describe('duplicate session cookies in server-lib', () => {
  it('getSession answers {authenticated: false, expiresAt: null} and clears both cookies, calling nothing', async () => {
    const ctx = fakeContext('auth-token=tossed-token-a; auth-token=tossed-token-b');
    await expect(getSession(ctx, freshOptions())).resolves.toEqual({ authenticated: false, expiresAt: null });
    expect(setCookiesOn(ctx)).toEqual(CLEARED);
  });

  it('withSession redirects to the login page and clears both cookies once, calling nothing', async () => {
    const handler = withSession(async ({ api }) => ({ props: { data: (await api.get('/me')).data } }), { apiOptions: freshOptions() });
    const ctx = fakeContext('refresh-token=tossed-refresh-1; refresh-token=tossed-refresh-2');
    await expect(handler(ctx)).resolves.toEqual({ redirect: { destination: '/login?next=%2Fprofile', permanent: false } });
    expect(setCookiesOn(ctx)).toEqual(CLEARED);
  });
});

describe('createServerApi after an upstream 401', () => {
  it.each([
    ['GET', undefined],
    ['DELETE', undefined],
    ['POST', { title: 'a' }],
    ['PUT', { title: 'b' }],
  ] as Array<['GET' | 'DELETE' | 'POST' | 'PUT', { title: string } | undefined]>)(
    '%s: refreshes once, retries once with the new token, and sets both new cookies on ctx.res',
    async (method, body) => {
      const [stale, refresh, fresh, next] = [unique('opaque-stale'), unique('refresh'), unique('opaque-fresh'), unique('refresh-next')];
      const path = method === 'POST' ? '/items' : '/items/1';
      nock(API).intercept(path, method, body).matchHeader('auth-token', stale).reply(401, { error: 'expired' });
      nock(API).post('/refresh', { refreshToken: refresh }).reply(200, { authToken: fresh, refreshToken: next });
      nock(API).intercept(path, method, body).matchHeader('auth-token', fresh).reply(200, { ok: true });
      const options = freshOptions();
      const ctx = fakeContext(`auth-token=${stale}; refresh-token=${refresh}`);
      const api = createServerApi(ctx, options);
      const call =
        method === 'GET'
          ? api.get(path)
          : method === 'DELETE'
            ? api.delete(path)
            : method === 'POST'
              ? api.post(path, body)
              : api.put(path, body);
      const result = await call;
      expect(result).toEqual({ status: 200, data: { ok: true } });
      expect(setCookiesOn(ctx)).toEqual([
        `auth-token=${fresh}; Path=/; HttpOnly; SameSite=Lax`,
        `refresh-token=${next}; Path=/; HttpOnly; SameSite=Lax`,
      ]);
      expectNotLeaked([stale, refresh, fresh, next], options.logger, result);
    },
  );

  it('refreshes at most once per page request: a later 401 is thrown, and the refresh cookie is kept', async () => {
    const [stale, refresh, fresh, next] = [unique('opaque-stale'), unique('refresh'), unique('opaque-fresh'), unique('refresh-next')];
    nock(API).get('/a').matchHeader('auth-token', stale).reply(401);
    nock(API).post('/refresh', { refreshToken: refresh }).once().reply(200, { authToken: fresh, refreshToken: next });
    nock(API).get('/a').matchHeader('auth-token', fresh).reply(200, { a: 1 });
    nock(API).get('/b').matchHeader('auth-token', fresh).reply(401);
    const ctx = fakeContext(`auth-token=${stale}; refresh-token=${refresh}`);
    const api = createServerApi(ctx, freshOptions());
    await expect(api.get('/a')).resolves.toEqual({ status: 200, data: { a: 1 } });
    const error = await api.get('/b').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ServerApiError);
    expect(error).toMatchObject({ code: 'unauthorized', status: 401, sessionEnded: false });
    expect(setCookiesOn(ctx)).toEqual([
      `auth-token=${fresh}; Path=/; HttpOnly; SameSite=Lax`,
      `refresh-token=${next}; Path=/; HttpOnly; SameSite=Lax`,
    ]);
  });

  it('an opaque access token refused twice with a refresh token the upstream accepts: unauthorized, sessionEnded false, the refresh cookie never cleared', async () => {
    const [stale, refresh, fresh, next] = [unique('opaque-stale'), unique('refresh'), unique('opaque-fresh'), unique('refresh-next')];
    nock(API).get('/me').matchHeader('auth-token', stale).reply(401);
    nock(API).post('/refresh', { refreshToken: refresh }).reply(200, { authToken: fresh, refreshToken: next });
    nock(API).get('/me').matchHeader('auth-token', fresh).reply(401);
    const options = freshOptions();
    const ctx = fakeContext(`auth-token=${stale}; refresh-token=${refresh}`);
    const error = await createServerApi(ctx, options)
      .get('/me')
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ServerApiError);
    expect(error).toMatchObject({ code: 'unauthorized', status: 401, sessionEnded: false });
    const cookies = setCookiesOn(ctx) ?? [];
    expect(cookies).toEqual([
      `auth-token=${fresh}; Path=/; HttpOnly; SameSite=Lax`,
      `refresh-token=${next}; Path=/; HttpOnly; SameSite=Lax`,
    ]);
    expect(cookies.filter((cookie) => cookie.includes('Max-Age=0'))).toEqual([]);
    expectNotLeaked([stale, refresh, fresh, next], options.logger, error);
  });

  it('a refresh the upstream cannot answer now (429) is thrown as refresh_unavailable (503), with no cookie set or cleared', async () => {
    const [stale, refresh] = [unique('opaque-stale'), unique('refresh')];
    nock(API).get('/me').matchHeader('auth-token', stale).reply(401);
    nock(API).post('/refresh', { refreshToken: refresh }).reply(429, {}, { 'retry-after': '30' });
    const ctx = fakeContext(`auth-token=${stale}; refresh-token=${refresh}`);
    await expect(createServerApi(ctx, freshOptions()).get('/me')).rejects.toMatchObject({
      name: 'ServerApiError',
      code: 'refresh_unavailable',
      status: 503,
    });
    expect(setCookiesOn(ctx) ?? []).toEqual([]);
  });
});

describe('withSession after an upstream 401', () => {
  const page = (options: ApiProxyOptions) =>
    withSession(
      async ({ api }) => {
        const { data } = await api.get<{ name: string }>('/me');
        return { props: { name: data.name } };
      },
      { apiOptions: options },
    );

  it('gives the page its props after one refresh and one retry, with the new cookies on ctx.res', async () => {
    const [stale, refresh, fresh, next] = [unique('opaque-stale'), unique('refresh'), unique('opaque-fresh'), unique('refresh-next')];
    nock(API).get('/me').matchHeader('auth-token', stale).reply(401);
    nock(API).post('/refresh', { refreshToken: refresh }).reply(200, { authToken: fresh, refreshToken: next });
    nock(API).get('/me').matchHeader('auth-token', fresh).reply(200, { name: 'Ada' });
    const options = freshOptions();
    const ctx = fakeContext(`auth-token=${stale}; refresh-token=${refresh}`);
    const result = await page(options)(ctx);
    expect(result).toEqual({ props: { name: 'Ada' } });
    expect(setCookiesOn(ctx)).toEqual([
      `auth-token=${fresh}; Path=/; HttpOnly; SameSite=Lax`,
      `refresh-token=${next}; Path=/; HttpOnly; SameSite=Lax`,
    ]);
    expectNotLeaked([stale, refresh, fresh, next], options.logger, result);
  });

  it('redirects to the login page without clearing the cookies when the retry also gets 401 but the refresh token was good', async () => {
    const [stale, refresh, fresh, next] = [unique('opaque-stale'), unique('refresh'), unique('opaque-fresh'), unique('refresh-next')];
    nock(API).get('/me').matchHeader('auth-token', stale).reply(401);
    nock(API).post('/refresh', { refreshToken: refresh }).reply(200, { authToken: fresh, refreshToken: next });
    nock(API).get('/me').matchHeader('auth-token', fresh).reply(401);
    const ctx = fakeContext(`auth-token=${stale}; refresh-token=${refresh}`);
    await expect(page(freshOptions())(ctx)).resolves.toEqual({ redirect: { destination: '/login?next=%2Fprofile', permanent: false } });
    expect(setCookiesOn(ctx)).toEqual([
      `auth-token=${fresh}; Path=/; HttpOnly; SameSite=Lax`,
      `refresh-token=${next}; Path=/; HttpOnly; SameSite=Lax`,
    ]);
  });

  it('redirects and clears both cookies, once, when the upstream refuses the refresh token after the 401', async () => {
    const [stale, refresh] = [unique('opaque-stale'), unique('refresh')];
    nock(API).get('/me').matchHeader('auth-token', stale).reply(401);
    nock(API).post('/refresh', { refreshToken: refresh }).reply(401, { error: 'invalid_grant' });
    const ctx = fakeContext(`auth-token=${stale}; refresh-token=${refresh}`);
    await expect(page(freshOptions())(ctx)).resolves.toEqual({ redirect: { destination: '/login?next=%2Fprofile', permanent: false } });
    expect(setCookiesOn(ctx)).toEqual(CLEARED);
  });
});

describe('server-side rendering racing a logout', () => {
  /** Renews `refresh` on the page, runs `during` (a logout) at the given moment, then writes the headers as Next does. */
  async function renderWithLogout(
    moment: 'while the page renders' | 'after getServerSideProps returned' | 'on a createServerApi page without withSession',
  ) {
    const [refresh, fresh, next] = [unique('race-refresh'), unique('race-fresh'), unique('race-next')];
    nock(API).post('/refresh', { refreshToken: refresh }).reply(200, { authToken: fresh, refreshToken: next });
    nock(API).get('/me').matchHeader('auth-token', fresh).reply(200, { name: 'Ada' });
    const options = freshOptions();
    const proxy = await startProxy({ apiUrl: API });
    // Another tab signs out, still presenting the old refresh token.
    const logout = async () =>
      expect(
        (await rawRequest(proxy.url, 'POST', '/api/logout', { 'sec-fetch-site': 'same-origin', cookie: `refresh-token=${refresh}` }))
          .status,
      ).toBe(200);
    try {
      const ctx = fakeContext(`refresh-token=${refresh}`);
      if (moment === 'on a createServerApi page without withSession') {
        const api = createServerApi(ctx, options);
        expect((await api.get<{ name: string }>('/me')).data).toEqual({ name: 'Ada' });
        await logout();
      } else {
        const page = withSession(
          async ({ api }) => {
            const { data } = await api.get<{ name: string }>('/me');
            if (moment === 'while the page renders') await logout();
            return { props: { name: data.name } };
          },
          { apiOptions: options },
        );
        await expect(page(ctx)).resolves.toEqual({ props: { name: 'Ada' } });
        if (moment === 'after getServerSideProps returned') await logout();
      }
      ctx.res.writeHead(200);
      return { ctx, fresh, next };
    } finally {
      await proxy.close();
    }
  }

  it.each(['while the page renders', 'after getServerSideProps returned', 'on a createServerApi page without withSession'] as const)(
    'a page that renewed the session clears the new cookies when its headers are written, if a logout of that session landed %s',
    async (moment) => {
      const { ctx, fresh, next } = await renderWithLogout(moment);
      expect(setCookiesOn(ctx)).toEqual([
        `auth-token=${fresh}; Path=/; HttpOnly; SameSite=Lax`,
        `refresh-token=${next}; Path=/; HttpOnly; SameSite=Lax`,
        ...CLEARED,
      ]);
    },
  );

  it('without a logout, the renewed page keeps its new cookies when its headers are written', async () => {
    const [refresh, fresh, next] = [unique('calm-refresh'), unique('calm-fresh'), unique('calm-next')];
    nock(API).post('/refresh', { refreshToken: refresh }).reply(200, { authToken: fresh, refreshToken: next });
    const ctx = fakeContext(`refresh-token=${refresh}`);
    await expect(getSession(ctx, freshOptions())).resolves.toEqual({ authenticated: true, expiresAt: null });
    ctx.res.writeHead(200);
    expect(setCookiesOn(ctx)).toEqual([
      `auth-token=${fresh}; Path=/; HttpOnly; SameSite=Lax`,
      `refresh-token=${next}; Path=/; HttpOnly; SameSite=Lax`,
    ]);
  });
});
