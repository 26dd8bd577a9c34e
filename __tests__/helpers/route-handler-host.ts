import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { RouteHandler } from '../../app-router';

// What Next 16's route-handler host drops from an answer (measured under `next start`).
const DROPPED_ANSWER_HEADERS = new Set(['content-length', 'content-encoding', 'transfer-encoding']);

/**
 * Serves a route handler on a plain node:http server the way Next's route-handler host does (Next 16.4,
 * `NextRequestAdapter.fromNodeNextRequest` and `sendResponse`): the body of a GET or HEAD is never
 * read, the request's signal aborts when the response closes unfinished, the answer's framing headers
 * are dropped and its body is piped with backpressure. The in-process suites run through it with
 * BFF_TEST_TRANSPORT=app; the real Next is tried in __tests__/next/app-router.test.ts.
 */
/** The catch-all's params as Next hands them: the decoded segments after the prefix (undefined: not routed here). */
function catchAllParams(url: URL, prefix: string): { params: Promise<{ path: string[] }> } | undefined {
  if (!url.pathname.startsWith(`${prefix}/`)) return undefined;
  try {
    return {
      params: Promise.resolve({
        path: url.pathname
          .slice(prefix.length + 1)
          .split('/')
          .map(decodeURIComponent),
      }),
    };
  } catch {
    return undefined;
  }
}

export function hostRouteHandler(handler: RouteHandler, prefix = '/api') {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const controller = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    const method = req.method ?? 'GET';
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined) continue;
      for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
    }
    const hasBody = method !== 'GET' && method !== 'HEAD';
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
    const request = new Request(url, {
      method,
      headers,
      signal: controller.signal,
      ...(hasBody ? { body: Readable.toWeb(req) as unknown as ReadableStream<Uint8Array>, duplex: 'half' } : {}),
    } as RequestInit);
    let response: Response;
    try {
      response = await handler(request, catchAllParams(url, prefix));
    } catch {
      res.statusCode = 500;
      res.end();
      return;
    }
    res.statusCode = response.status;
    response.headers.forEach((value, name) => {
      if (DROPPED_ANSWER_HEADERS.has(name) || name === 'set-cookie') return;
      res.setHeader(name, value);
    });
    const cookies = response.headers.getSetCookie();
    if (cookies.length > 0) res.setHeader('set-cookie', cookies);
    if (!response.body) {
      res.end();
      return;
    }
    await pipeline(Readable.fromWeb(response.body as unknown as NodeReadableStream<Uint8Array>), res).catch(() => res.destroy());
  };
}
