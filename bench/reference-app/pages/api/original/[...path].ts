// The original pattern this project grew from, kept as the bench's baseline: http-proxy without a
// keep-alive agent, and per-request `once` listeners on one shared proxy (which misroute responses under
// concurrency). Never use this outside the bench.
import type { IncomingMessage, ServerResponse } from 'node:http';
import Cookies from 'cookies';
import httpProxy from 'http-proxy';
import type { NextApiResponse } from 'next';

const API_URL = process.env.API_URL;
const proxy = httpProxy.createProxyServer();

export const config = { api: { bodyParser: false } };

export default function handler(req: IncomingMessage, res: NextApiResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    const pathname = (req.url ?? '').split('?')[0];
    const isLogin = pathname === '/api/original/login';
    const cookies = new Cookies(req, res);
    const authToken = cookies.get('auth-token');

    req.url = (req.url ?? '').replace(/^\/api\/original/, '');
    req.headers.cookie = '';
    if (authToken) req.headers['auth-token'] = authToken;

    if (isLogin) proxy.once('proxyRes', interceptLoginResponse);
    proxy.once('error', reject);
    proxy.web(req, res, { target: API_URL, autoRewrite: false, selfHandleResponse: isLogin });

    function interceptLoginResponse(proxyRes: IncomingMessage, _req: IncomingMessage, response: ServerResponse) {
      let body = '';
      proxyRes.on('data', (chunk: Buffer) => (body += chunk));
      proxyRes.on('end', () => {
        try {
          const { authToken: token } = JSON.parse(body) as { authToken: string };
          new Cookies(req, response).set('auth-token', token, { httpOnly: true, sameSite: 'lax' });
          (response as NextApiResponse).status(200).json({ loggedIn: true });
          resolve();
        } catch (err) {
          reject(err);
        }
      });
    }
  });
}
