import type { ServerResponse } from 'node:http';
import { createRequestHandler, type TransportTraits } from '../proxy/create-api-proxy';
import type { ApiProxyOptions } from '../proxy/options';
import { defaultOptions } from '../proxy/options';
import { pathAndQuery, toNodeRequest } from './node-request';
import { routedTarget, type RouteContext } from './routed-path';
import { WebResponseWriter } from './web-response';

/** A Next route handler: a Web `Request` (and Next's route context) in, a streamed Web `Response` out. */
export type RouteHandler = (request: Request, context?: RouteContext) => Promise<Response>;

export interface RouteHandlers {
  GET: RouteHandler;
  HEAD: RouteHandler;
  POST: RouteHandler;
  PUT: RouteHandler;
  PATCH: RouteHandler;
  DELETE: RouteHandler;
  OPTIONS: RouteHandler;
}

// Next's route handlers drop the answer's Content-Length, Content-Encoding and Transfer-Encoding, and
// never read the body of a GET or HEAD (measured on Next 16.4). The upstream request is made with
// `node:http` and the shared keep-alive agent: `fetch` (undici) buffered a streamed 1 GiB upload whole.
const ROUTE_HANDLER_TRANSPORT: TransportTraits = { identityEncoding: true, dropsGetBody: true, viaHttpProxy: false, bodyMayEndShort: true };

/**
 * The App Router's catch-all route (`app/api/[...path]/route.ts`): the same request policy as the Pages
 * route (`createApiProxy`), with the same options, the same `API_URL` and the same answers. Bodies stream
 * both ways; a client that goes away (`request.signal`) abandons the upstream request.
 */
export function createRouteHandlers(options: ApiProxyOptions = {}): RouteHandlers {
  const handle = createRequestHandler(options, ROUTE_HANDLER_TRANSPORT);
  // As resolveOptions reads it; a prefix it refuses makes every answer a config_error anyway.
  const prefix = (options.pathPrefix ?? defaultOptions.pathPrefix).replace(/^\/$/, '');
  const route: RouteHandler = async (request, context) => {
    const res = new WebResponseWriter(request.method === 'HEAD');
    const cut = () => res.destroy();
    const req = toNodeRequest(request, await routedTarget(pathAndQuery(request.url), prefix, context), cut);
    if (request.signal.aborted) cut();
    else request.signal.addEventListener('abort', cut, { once: true });
    res.once('close', () => request.signal.removeEventListener('abort', cut));
    void handle(req, res as unknown as ServerResponse);
    return res.response;
  };
  return { GET: route, HEAD: route, POST: route, PUT: route, PATCH: route, DELETE: route, OPTIONS: route };
}
