import http, { type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
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

function createAgent(upstream: URL): http.Agent {
  const agentOptions = { keepAlive: true, timeout: IDLE_SOCKET_MS, scheduling: 'lifo' as const };
  return upstream.protocol === 'https:' ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
}

// On globalThis: Next bundles the Pages route, the route handlers and the pages apart, each with its
// own copy of this module, and they should share one pool of upstream connections.
const AGENTS = Symbol.for('next-bff-proxy.agents');

/** The keep-alive agent for an upstream origin, one per process. */
export function sharedAgent(upstream: URL): http.Agent {
  const scope = globalThis as { [AGENTS]?: Map<string, http.Agent> };
  const agents = (scope[AGENTS] ??= new Map());
  let agent = agents.get(upstream.origin);
  if (agent === undefined) {
    agent = createAgent(upstream);
    agents.set(upstream.origin, agent);
  }
  return agent;
}

const EXCHANGE = Symbol('next-bff-proxy.exchange');

/** What one forward of a request needs, kept on the request itself (a symbol-keyed property). */
interface Forwarding {
  listeners: ExchangeListeners;
  /** Send an empty body instead of piping `req` (a retry: the request's stream has already ended). */
  replayEmptyBody: boolean;
}
type ForwardedRequest = IncomingMessage & { [EXCHANGE]?: Forwarding };

/** An http-proxy web pass: called with the request, the response, the proxy's options, the head, the proxy and the callback. */
type WebPass = (
  req: IncomingMessage,
  res: ServerResponse,
  options: unknown,
  head: unknown,
  server: unknown,
  callback?: (err: Error) => void,
) => void;

/**
 * One upstream origin of a proxy (`target`: API_URL unless a route names another). `viaHttpProxy`: the
 * Pages route sends through http-proxy (with the one web pass below); the route handlers' transport
 * calls that pass itself, as http-proxy adds nothing to it.
 */
export function createUpstream(
  options: ResolvedOptions,
  { viaHttpProxy, target = options.upstream }: { viaHttpProxy: boolean; target?: URL } = { viaHttpProxy: true },
): Upstream {
  const agent = sharedAgent(target);
  const { protocol, hostname, port } = target;
  const bareHostname = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  const transport = protocol === 'https:' ? https : http;

  const proxy = httpProxy.createProxyServer({
    target: { protocol, hostname: bareHostname, host: bareHostname, port },
    agent,
    // The response is written by the proxy's own code (header hygiene, login capture, errors).
    selfHandleResponse: true,
    toProxy: true,
    prependPath: false,
    xfwd: false,
    changeOrigin: false,
    ws: false,
  });

  /**
   * The one web pass: sends `req` upstream exactly as the proxy prepared it. http-proxy's own passes are
   * replaced, for two measured reasons:
   * - `deleteLength` sets `Content-Length: 0` on a DELETE or OPTIONS without one and drops
   *   `Transfer-Encoding`, yet still pipes the body: the upstream reads that body as the next request on
   *   the pooled connection (request smuggling; node-http-proxy #1720). The proxy owns framing: the
   *   headers it built carry the client's own framing (readBodyFraming), and nothing rewrites them.
   * - `stream` copies the headers with `util._extend`, deprecated at run time since Node 22 (DEP0060):
   *   every app printed a DeprecationWarning at its first proxied request (fixed upstream, never released).
   * `timeout` and `XHeaders` do nothing with these options. Per-request state lives on the request, so
   * no listener on the shared proxy can fire for another request's response.
   */
  const sendUpstream: WebPass = (req, _res, _options, _head, _server, callback) => {
    const forwarding = (req as ForwardedRequest)[EXCHANGE];
    if (!forwarding) return;
    const { listeners } = forwarding;
    const proxyReq = transport.request({
      protocol,
      hostname: bareHostname,
      port,
      method: req.method,
      path: req.url,
      headers: req.headers,
      agent,
    });
    const onError = (err: NodeJS.ErrnoException) => (callback ? callback(err) : listeners.onUpstreamError(err));
    proxyReq.on('socket', () => listeners.onUpstreamRequest(proxyReq));
    proxyReq.on('error', onError);
    proxyReq.on('response', (proxyRes) => listeners.onUpstreamResponse(proxyRes));
    if (forwarding.replayEmptyBody) {
      proxyReq.end();
      return;
    }
    // A client connection that fails mid-body: the upstream request is abandoned (the exchange answers).
    req.on('error', onError);
    req.pipe(proxyReq);
  };
  (proxy as unknown as { webPasses: WebPass[] }).webPasses = [sendUpstream];
  // Without a listener, an 'error' event would crash the process; every call passes a callback, so
  // this only guards against a path of http-proxy's we did not foresee.
  proxy.on('error', (err: NodeJS.ErrnoException, req: IncomingMessage) => {
    (req as ForwardedRequest)[EXCHANGE]?.listeners.onUpstreamError(err);
  });

  // http-proxy takes the callback in the options' place; @types/http-proxy does not say so.
  const web = proxy.web.bind(proxy) as unknown as (
    req: IncomingMessage,
    res: ServerResponse,
    callback: (err: NodeJS.ErrnoException) => void,
  ) => void;

  return {
    agent,
    forward(req, res, listeners, forwardOptions = {}) {
      (req as ForwardedRequest)[EXCHANGE] = { listeners, replayEmptyBody: forwardOptions.replayEmptyBody === true };
      const callback = (err: NodeJS.ErrnoException) => listeners.onUpstreamError(err);
      // No per-request options object: http-proxy would copy its options with `util._extend` (DEP0060).
      if (viaHttpProxy) web(req, res, callback);
      else sendUpstream(req, res, undefined, undefined, undefined, callback);
    },
  };
}
