import nock from 'nock';
import request from 'supertest';
import { setupNock } from '../helpers/nock';
import { listen, startProxy } from '../helpers/servers';

const API = 'http://api.test';
// Both the session cookie and the refresh-token cookie are cleared.
const CLEARED = ['auth-token=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0', 'refresh-token=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0'];

setupNock();

describe('logout', () => {
  it('is answered by the proxy: 200 {"loggedOut":true}, the cookie cleared, private, no-store', async () => {
    const proxy = await startProxy({ apiUrl: API });
    try {
      const res = await request(proxy.url).post('/api/logout').set('sec-fetch-site', 'same-origin').set('cookie', 'auth-token=t1');
      expect(res.status).toBe(200);
      expect(res.text).toBe('{"loggedOut":true}');
      expect(res.headers['set-cookie']).toEqual(CLEARED);
      expect(res.headers['cache-control']).toBe('private, no-store');
    } finally {
      await proxy.close();
    }
  });

  it('clears with the same attributes the cookie was set with', async () => {
    const proxy = await startProxy({ apiUrl: API, cookie: { name: 'sid', sameSite: 'strict', secure: true } });
    try {
      const res = await request(proxy.url).post('/api/logout').set('sec-fetch-site', 'same-origin');
      // The refresh cookie's name is the default, so it is __Host- prefixed when Secure; the unprefixed one
      // of earlier versions is cleared too.
      expect(res.headers['set-cookie']).toEqual([
        'sid=; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=0',
        '__Host-refresh-token=; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=0',
        'refresh-token=; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=0',
      ]);
    } finally {
      await proxy.close();
    }
  });

  it.each(['GET', 'PUT', 'DELETE'])('answers %s with 405 and Allow: POST', async (method) => {
    const proxy = await startProxy({ apiUrl: API });
    try {
      const res = await request(proxy.url)[method.toLowerCase() as 'get']('/api/logout');
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('POST');
      expect(res.headers['set-cookie']).toBeUndefined();
    } finally {
      await proxy.close();
    }
  });

  it('tells the upstream, with the token, when logout.upstreamPath is set', async () => {
    const proxy = await startProxy({ apiUrl: `${API}/v1`, logout: { upstreamPath: '/session/end' } });
    try {
      const told = nock(API)
        .post('/v1/session/end')
        .matchHeader('auth-token', 't1')
        .matchHeader('cookie', (value) => value === undefined)
        .reply(204);
      const res = await request(proxy.url).post('/api/logout').set('sec-fetch-site', 'same-origin').set('cookie', 'auth-token=t1');
      expect(res.status).toBe(200);
      expect(res.headers['set-cookie']).toEqual(CLEARED);
      expect(told.isDone()).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('does not call the upstream when there is no session', async () => {
    const proxy = await startProxy({ apiUrl: API, logout: { upstreamPath: '/logout' } });
    try {
      const res = await request(proxy.url).post('/api/logout').set('sec-fetch-site', 'same-origin');
      expect(res.status).toBe(200);
      expect(res.headers['set-cookie']).toEqual(CLEARED);
    } finally {
      await proxy.close();
    }
  });

  it('clears the cookie even when the upstream logout fails', async () => {
    const proxy = await startProxy({ apiUrl: API, logout: { upstreamPath: '/logout' } });
    try {
      nock(API).post('/logout').reply(500, 'boom');
      const failed = await request(proxy.url).post('/api/logout').set('sec-fetch-site', 'same-origin').set('cookie', 'auth-token=t1');
      expect(failed.status).toBe(200);
      expect(failed.headers['set-cookie']).toEqual(CLEARED);
      expect(proxy.logger.lines.join('\n')).not.toContain('t1');
    } finally {
      await proxy.close();
    }
  });

  it('clears the cookie even when the upstream is down', async () => {
    const down = await listen(() => {});
    const address = down.url;
    await down.close();
    const proxy = await startProxy({ apiUrl: address, logout: { upstreamPath: '/logout' } });
    try {
      const res = await request(proxy.url).post('/api/logout').set('sec-fetch-site', 'same-origin').set('cookie', 'auth-token=t1');
      expect(res.status).toBe(200);
      expect(res.headers['set-cookie']).toEqual(CLEARED);
      expect(proxy.logger.lines).toEqual([expect.stringContaining('upstream logout failed')]);
    } finally {
      await proxy.close();
    }
  });
});
