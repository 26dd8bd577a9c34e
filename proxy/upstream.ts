import http, { type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import httpProxy from 'http-proxy';
import type { ResolvedOptions } from './options';

/** What one proxied request wants to hear about; lives with the request, never on the shared proxy. */
export interface ExchangeListeners {
  /** The upstream request, once it has a socket: kept so a timeout or client abort can destroy it. */
  onUpstreamRequest(proxyReq: ClientRequest): void;
  /** The upstream's response headers have arrived; the body is still unread. */
  onUpstreamResponse(proxyRes: IncomingMessage): void;
  /** The upstream request failed before a response arrived (refused, reset, destroyed). */
  onUpstreamError(err: NodeJS.ErrnoException): void;
}

export interface Upstream {
  /** http(s) agent with keep-alive, shared by every request of this proxy. */
  readonly agent: http.Agent;
  /**
   * Streams `req` to the upstream; `req.url` and `req.headers` must already be the upstream's.
   * `replayEmptyBody` sends the request again with an empty body (a retry of a body-less request,
   * whose stream has already ended).
   */
  forward(req: IncomingMessage, res: ServerResponse, listeners: ExchangeListeners, options?: { replayEmptyBody?: boolean }): void;
}

// Sockets idle longer than this are closed by us before a typical upstream (Node's default keep-alive
// timeout is 5 s) closes them under a request we are about to send. Node shortens it further when
// the upstream announces `Keep-Alive: timeout=N`.
const IDLE_SOCKET_MS = 4_000;

export function createAgent(upstream: URL): http.Agent {
  const agentOptions = { keepAlive: true, timeout: IDLE_SOCKET_MS, scheduling: 'lifo' as const };
  return upstream.protocol === 'https:' ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
}

const EXCHANGE = Symbol('next-bff-proxy.exchange');

export function createUpstream(options: ResolvedOptions): Upstream {
  const agent = createAgent(options.upstream);
  const { protocol, hostname, port } = options.upstream;
  const bareHostname = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;

  const proxy = httpProxy.createProxyServer({
    target: { protocol, hostname: bareHostname, host: bareHostname, port },
    agent,
    // The response is written by the proxy's own code (header hygiene, login capture, errors).
    selfHandleResponse: true,
    // `req.url` is already the full upstream path; `toProxy` keeps http-proxy from re-parsing it
    // (url.parse escapes and rewrites characters, which would break signed URLs).
    toProxy: true,
    prependPath: false,
    xfwd: false,
    changeOrigin: false,
    ws: false,
  });

  // http-proxy's `deleteLength` pass sets `Content-Length: 0` on a DELETE or OPTIONS without one and
  // drops `Transfer-Encoding`, yet still pipes the body: the upstream reads that body as the next request
  // on the pooled connection (request smuggling; node-http-proxy #1720). The proxy owns framing: the
  // headers it builds carry the client's own framing, and no pass rewrites them.
  const passes = proxy as unknown as { webPasses: Array<{ name: string }> };
  passes.webPasses = passes.webPasses.filter((pass) => pass.name !== 'deleteLength');
  if (passes.webPasses.map((pass) => pass.name).join() !== 'timeout,XHeaders,stream') {
    throw new Error('next-bff-proxy: unexpected http-proxy web passes; refusing to forward with unknown request rewrites');
  }

  // Per-request state lives on the request itself (a symbol-keyed property): one listener per event for
  // the life of the proxy. A once-listener per request on the shared proxy would fire for whichever response came next
  // under concurrency. (A WeakMap would do too, but its ephemeron entries cost the GC on every request:
  // measured as the largest share of this proxy's own per-request cost.)
  const exchanges = {
    get: (req: IncomingMessage) => (req as IncomingMessage & { [EXCHANGE]?: ExchangeListeners })[EXCHANGE],
    set: (req: IncomingMessage, listeners: ExchangeListeners) => {
      (req as IncomingMessage & { [EXCHANGE]?: ExchangeListeners })[EXCHANGE] = listeners;
    },
  };
  proxy.on('proxyReq', (proxyReq: ClientRequest, req: IncomingMessage) => {
    const listeners = exchanges.get(req);
    if (listeners) listeners.onUpstreamRequest(proxyReq);
    else proxyReq.destroy();
  });
  proxy.on('proxyRes', (proxyRes: IncomingMessage, req: IncomingMessage) => {
    const listeners = exchanges.get(req);
    if (listeners) listeners.onUpstreamResponse(proxyRes);
    else proxyRes.destroy();
  });
  // http-proxy emits this (instead of calling back) when the client's socket is already gone.
  proxy.on('econnreset', () => {});
  // Every call passes a callback, so this only guards against an http-proxy path we did not foresee:
  // without a listener, an 'error' event would crash the process.
  proxy.on('error', (err: NodeJS.ErrnoException, req: IncomingMessage) => {
    exchanges.get(req)?.onUpstreamError(err);
  });

  return {
    agent,
    forward(req, res, listeners, forwardOptions = {}) {
      exchanges.set(req, listeners);
      // http-proxy pipes `buffer` instead of `req` when given one.
      const perRequest = forwardOptions.replayEmptyBody ? { buffer: Readable.from([]) } : {};
      proxy.web(req, res, perRequest, (err: NodeJS.ErrnoException) => listeners.onUpstreamError(err));
    },
  };
}
