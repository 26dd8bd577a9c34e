import http, { type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApiProxy, type ApiProxyOptions, type ProxyLogger } from '../../proxy/index';
import { createRouteHandlers } from '../../app-router';
import { hostRouteHandler } from './route-handler-host';

/** Which route the in-process suites try: the Pages route (default) or the App Router's route handlers. */
export const TRANSPORT: 'pages' | 'app' = process.env.BFF_TEST_TRANSPORT === 'app' ? 'app' : 'pages';

export interface RunningServer {
  server: http.Server;
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts a real HTTP server on 127.0.0.1 and a free port. */
export async function listen(handler: RequestListener): Promise<RunningServer> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A logger that keeps every line, so tests can assert what was (and was not) logged. */
export function recordingLogger(): ProxyLogger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    warn: (message: string) => void lines.push(message),
    error: (message: string) => void lines.push(message),
  };
}

/** The proxy on a plain node:http server, as a user without Next would run it. */
export async function startProxy(options: ApiProxyOptions): Promise<RunningServer & { logger: ReturnType<typeof recordingLogger> }> {
  const logger = recordingLogger();
  const handler =
    TRANSPORT === 'app'
      ? hostRouteHandler(createRouteHandlers({ logger, ...options }).GET, options.pathPrefix)
      : createApiProxy({ logger, ...options });
  const running = await listen((req: IncomingMessage, res: ServerResponse) => void handler(req, res));
  return { ...running, logger };
}

/** Reads a request body fully. */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** A fake JWT (unsigned is fine: the proxy reads `exp`, the upstream judges the signature). */
export function fakeJwt(payload: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part(payload)}.c2lnbmF0dXJl`;
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A request whose target is sent exactly as given (no URL parsing or re-encoding on the way). */
export function rawRequest(
  baseUrl: string,
  method: string,
  target: string,
  headers: http.OutgoingHttpHeaders = {},
  body?: Buffer | string,
): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, method, path: target, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
