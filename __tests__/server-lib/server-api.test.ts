import http from 'node:http';
import net from 'node:net';
import nock from 'nock';
import type { GetServerSidePropsContext } from 'next';
import { apiPath, createServerApi, ServerApiError, withSession } from '../../server-lib';
import { setupNock } from '../helpers/nock';
import { listen, recordingLogger } from '../helpers/servers';

const API = 'http://api.test';
const TOKEN = 'ssr-token-77';
const options = { apiUrl: `${API}/v1`, logger: recordingLogger() };

function fakeContext(cookie?: string, resolvedUrl = '/profile'): GetServerSidePropsContext {
  const req = new http.IncomingMessage(new net.Socket());
  req.headers = cookie ? { cookie, host: 'app.test' } : { host: 'app.test' };
  const res = new http.ServerResponse(req);
  return { req, res, query: {}, resolvedUrl } as unknown as GetServerSidePropsContext;
}

setupNock();

describe('createServerApi', () => {
  it("calls API_URL directly with the cookie's token as auth-token, and no cookie", async () => {
    nock(API)
      .get('/v1/me')
      .matchHeader('auth-token', TOKEN)
      .matchHeader('cookie', (value) => value === undefined)
      .reply(200, { user: { name: 'Ada' } });
    const api = createServerApi(fakeContext(`theme=dark; auth-token=${TOKEN}`), options);
    expect(api.hasSession).toBe(true);
    await expect(api.get('/me')).resolves.toEqual({ status: 200, data: { user: { name: 'Ada' } } });
  });

  it('sends JSON bodies for post, put and patch, and answers null for an empty body', async () => {
    nock(API).post('/v1/items', { title: 'a' }).matchHeader('content-type', 'application/json').reply(201, { id: 1 });
    nock(API).put('/v1/items/1', { title: 'b' }).reply(200, { id: 1 });
    nock(API).patch('/v1/items/1', { done: true }).reply(204);
    nock(API).delete('/v1/items/1').reply(204);
    const api = createServerApi(fakeContext(`auth-token=${TOKEN}`), options);
    await expect(api.post('/items', { title: 'a' })).resolves.toEqual({ status: 201, data: { id: 1 } });
    await expect(api.put('/items/1', { title: 'b' })).resolves.toEqual({ status: 200, data: { id: 1 } });
    await expect(api.patch('/items/1', { done: true })).resolves.toEqual({ status: 204, data: null });
    await expect(api.delete('/items/1')).resolves.toEqual({ status: 204, data: null });
  });

  it('uses the Bearer format and a custom cookie name when the options say so', async () => {
    nock(API).get('/me').matchHeader('authorization', `Bearer ${TOKEN}`).reply(200, {});
    const api = createServerApi(fakeContext(`sid=${TOKEN}`), { apiUrl: API, authHeader: 'bearer', cookie: { name: 'sid' } });
    await expect(api.get('/me')).resolves.toEqual({ status: 200, data: {} });
  });

  it('sends no auth header without a session', async () => {
    nock(API)
      .get('/v1/public')
      .matchHeader('auth-token', (value) => value === undefined)
      .reply(200, []);
    const api = createServerApi(fakeContext(), options);
    expect(api.hasSession).toBe(false);
    await expect(api.get('/public')).resolves.toEqual({ status: 200, data: [] });
  });

  it.each([
    [401, 'unauthorized'],
    [403, 'upstream_error'],
    [404, 'upstream_error'],
    [500, 'upstream_error'],
  ])('throws a ServerApiError for %i (%s) with a generic message, not the upstream body', async (status, code) => {
    nock(API).get('/v1/me').reply(status, { error: 'secret internal detail at db-7.internal' });
    const error = await createServerApi(fakeContext(`auth-token=${TOKEN}`), options)
      .get('/me')
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ServerApiError);
    expect(error).toMatchObject({ code, status });
    expect((error as Error).message).not.toMatch(/secret|db-7|ssr-token/);
  });

  it('throws bad_upstream_response for a 2xx that is not JSON', async () => {
    nock(API).get('/v1/me').reply(200, '<html>');
    await expect(createServerApi(fakeContext(), options).get('/me')).rejects.toMatchObject({ code: 'bad_upstream_response', status: 502 });
  });

  it('throws upstream_unavailable (502) when the API is down, without its address', async () => {
    const down = await listen(() => {});
    await down.close();
    const error = await createServerApi(fakeContext(), { apiUrl: down.url, logger: recordingLogger() })
      .get('/me')
      .catch((err: unknown) => err);
    expect(error).toMatchObject({ code: 'upstream_unavailable', status: 502 });
    expect((error as Error).message).not.toContain(String(down.port));
  });

  it.each(['../admin', '..', '.', 'a/b', 'a\\b'])('apiPath keeps the param %j inside its segment: refused, never sent', async (param) => {
    const api = createServerApi(fakeContext(`auth-token=${TOKEN}`), options);
    await expect(api.get(apiPath`/items/${param}`)).rejects.toMatchObject({ code: 'bad_path', status: 400 });
  });

  it('apiPath turns an encoded-looking param into a literal segment', async () => {
    nock(API).get('/v1/items/%252e%252e').reply(200, { literal: true });
    const api = createServerApi(fakeContext(`auth-token=${TOKEN}`), options);
    await expect(api.get(apiPath`/items/${'%2e%2e'}`)).resolves.toEqual({ status: 200, data: { literal: true } });
  });

  it('apiPath encodes ordinary values', () => {
    expect(apiPath`/users/${'ada lovelace'}/items/${42}?x=1`).toBe('/users/ada%20lovelace/items/42?x=1');
  });
});

describe('withSession', () => {
  const handler = withSession(
    async ({ api }) => {
      const { data } = await api.get<{ user: { name: string } }>('/me');
      return { props: { name: data.user.name } };
    },
    { apiOptions: options },
  );

  it('redirects to /login?next=<current path> without a session cookie, calling nothing', async () => {
    await expect(handler(fakeContext(undefined, '/profile?tab=items'))).resolves.toEqual({
      redirect: { destination: '/login?next=%2Fprofile%3Ftab%3Ditems', permanent: false },
    });
  });

  it('gives the page its props, and never the token', async () => {
    nock(API)
      .get('/v1/me')
      .matchHeader('auth-token', TOKEN)
      .reply(200, { user: { name: 'Ada' } });
    const result = await handler(fakeContext(`auth-token=${TOKEN}`));
    expect(result).toEqual({ props: { name: 'Ada' } });
    expect(JSON.stringify(result)).not.toContain(TOKEN);
  });

  it('redirects and clears the stale cookie when the API answers 401', async () => {
    nock(API).get('/v1/me').reply(401, { error: 'expired' });
    const ctx = fakeContext(`auth-token=${TOKEN}`);
    await expect(handler(ctx)).resolves.toEqual({ redirect: { destination: '/login?next=%2Fprofile', permanent: false } });
    expect(ctx.res.getHeader('set-cookie')).toEqual([
      'auth-token=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0',
      'refresh-token=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0',
    ]);
  });

  it('lets other failures through as a ServerApiError (Next shows its error page)', async () => {
    nock(API).get('/v1/me').reply(503, 'down for maintenance at 10.0.0.7');
    await expect(handler(fakeContext(`auth-token=${TOKEN}`))).rejects.toMatchObject({
      name: 'ServerApiError',
      code: 'upstream_error',
      status: 503,
    });
  });

  it('honours a custom login path', async () => {
    const custom = withSession(async () => ({ props: {} }), { apiOptions: options, loginPath: '/signin' });
    await expect(custom(fakeContext(undefined, '/x'))).resolves.toEqual({
      redirect: { destination: '/signin?next=%2Fx', permanent: false },
    });
  });
});
