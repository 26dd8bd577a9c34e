import http from 'node:http';
import https from 'node:https';

export interface BrowserAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  setCookies: string[];
}

/**
 * A browser's cookie jar for one app, as far as these tests need it: Set-Cookie values kept (a Max-Age=0
 * or empty one removes its cookie), sent back on every request with `Sec-Fetch-Site: same-origin`.
 */
export class BrowserSession {
  readonly cookies = new Map<string, string>();

  constructor(
    private readonly origin: string,
    /** `ca`: the certificate an https origin is trusted by; `headers`: sent on every request (a proxy's X-Forwarded-Proto, say). */
    private readonly extra: { ca?: string; headers?: Record<string, string> } = {},
  ) {}

  request(method: string, path: string, body?: { json?: unknown; form?: string }): Promise<BrowserAnswer> {
    const payload = body?.json !== undefined ? JSON.stringify(body.json) : body?.form;
    const headers: http.OutgoingHttpHeaders = { 'sec-fetch-site': 'same-origin', ...this.extra.headers };
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    if (payload !== undefined) {
      headers['content-type'] = body?.json !== undefined ? 'application/json' : 'application/x-www-form-urlencoded';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    return new Promise((resolve, reject) => {
      const secure = this.origin.startsWith('https:');
      const send = secure ? https.request : http.request;
      const req = send(`${this.origin}${path}`, { method, headers, ...(secure ? { ca: this.extra.ca, agent: false } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const setCookies = res.headers['set-cookie'] ?? [];
          for (const header of setCookies) this.keep(header);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), setCookies });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  private keep(header: string): void {
    const [pair = ''] = header.split(';', 1);
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    if (value === '' || /;\s*max-age=0(;|$)/i.test(header)) this.cookies.delete(name);
    else this.cookies.set(name, value);
  }
}
