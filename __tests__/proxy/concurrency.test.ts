import http from 'node:http';
import { listen, readBody, startProxy, type RunningServer } from '../helpers/servers';

// The original pattern registered `proxy.once('proxyRes')` per request on a shared proxy: under
// concurrency each listener fired for whichever response came next (hung logins, one request's body
// appended to another's). Here 200 logins by distinct users race 200 GETs, answered out of order.
const LOGINS = 200;
const GETS = 200;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function send(agent: http.Agent, url: string, method: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = body ? { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' } : {};
    const req = http.request(url, { method, agent, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('under concurrency', () => {
  let upstream: RunningServer;
  let proxy: Awaited<ReturnType<typeof startProxy>>;

  beforeAll(async () => {
    upstream = await listen(async (req, res) => {
      const body = await readBody(req);
      // Answer in a shuffled order so responses do not come back in request order.
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 40)));
      res.setHeader('content-type', 'application/json');
      if (req.url === '/login') {
        const { email } = JSON.parse(body.toString()) as { email: string };
        res.end(JSON.stringify({ authToken: `token-for-${email.replace(/[^a-z0-9]/g, '')}`, user: { email } }));
        return;
      }
      res.end(JSON.stringify({ item: req.url, padding: 'x'.repeat(Number(req.url?.split('/').pop()) % 997) }));
    });
    proxy = await startProxy({ apiUrl: upstream.url });
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
  });

  it('gives every login its own cookie and every GET exactly its own body, with none hanging', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 100 });
    try {
      const logins = Array.from({ length: LOGINS }, (_, i) =>
        send(agent, `${proxy.url}/api/login`, 'POST', JSON.stringify({ email: `user${i}@example.com`, password: 'pw' })).then((answer) => ({
          i,
          answer,
        })),
      );
      const gets = Array.from({ length: GETS }, (_, i) =>
        send(agent, `${proxy.url}/api/items/${i}`, 'GET').then((answer) => ({ i, answer })),
      );
      const [loginResults, getResults] = await Promise.all([Promise.all(logins), Promise.all(gets)]);

      for (const { i, answer } of loginResults) {
        expect(answer.status).toBe(200);
        expect(answer.headers['set-cookie']).toEqual([
          `auth-token=token-for-user${i}examplecom; Path=/; HttpOnly; SameSite=Lax`,
          'refresh-token=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0',
        ]);
        expect(answer.body).toBe(JSON.stringify({ user: { email: `user${i}@example.com` } }));
      }
      for (const { i, answer } of getResults) {
        expect(answer.status).toBe(200);
        expect(answer.body).toBe(JSON.stringify({ item: `/items/${i}`, padding: 'x'.repeat(i % 997) }));
      }
    } finally {
      agent.destroy();
    }
  });

  it('raises no MaxListenersExceededWarning over a burst of 300 requests', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 50 });
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      await Promise.all(Array.from({ length: 300 }, (_, i) => send(agent, `${proxy.url}/api/items/${i}`, 'GET')));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      agent.destroy();
    }
  });
});
