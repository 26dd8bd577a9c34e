import { validateHeaderValue, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { ResolvedOptions } from './options';
import { sendError } from './errors';
import { getClientResponseHeaders } from './headers';
import { mergeSetCookieHeader } from './session-cookie';
import { addContentSafetyHeaders, keepOutOfSharedCaches, keepPersonalAnswerPrivate } from './response-safety';
import { runProxyResHook } from './response-hook';
import { trackedRequest } from './request-scope';
import type { ResolvedRoute } from './routes';

/**
 * Server-sent events must reach the browser event by event. Next compresses responses (the `compression`
 * middleware buffers inside gzip) unless told `Cache-Control: no-transform`; nginx-style proxies in front
 * buffer unless told `X-Accel-Buffering: no`.
 */
function keepEventStreamUnbuffered(headers: Record<string, unknown>): void {
  const cacheControl = String(headers['cache-control'] ?? '');
  if (!/(^|,)\s*no-transform\s*(,|$)/i.test(cacheControl))
    headers['cache-control'] = cacheControl ? `${cacheControl}, no-transform` : 'no-transform';
  headers['x-accel-buffering'] ??= 'no';
}

/**
 * Passes the upstream response on as a stream, with hop-by-hop headers and upstream cookies removed.
 * `secrets`: the request's tokens, never passed on in a header; `sentToken`: the answer is personal;
 * `route`: the route table's entry the request went by (default: API_URL's).
 */
export function streamResponse(
  proxyRes: IncomingMessage,
  res: ServerResponse,
  options: ResolvedOptions,
  secrets: readonly (string | undefined)[],
  sentToken: boolean,
  route?: ResolvedRoute,
): void {
  const headers = getClientResponseHeaders(proxyRes.headers, options, { keepLength: true, secrets, route });
  try {
    // http-proxy would throw from inside its response handler on a header Node refuses to send
    // (node-http-proxy #1394); checked here first, so no header is half-written. (Names need no check:
    // Node's parser only accepts token characters in them.)
    for (const name of Object.keys(headers)) {
      const value = headers[name];
      if (Array.isArray(value)) for (const item of value) validateHeaderValue(name, item);
      else validateHeaderValue(name, String(value));
    }
  } catch {
    proxyRes.destroy();
    options.logger.error('[next-bff-proxy] bad_upstream_response: a response header Node cannot send');
    sendError(res, 'bad_upstream_response');
    return;
  }
  const hook = options.on.proxyRes;
  const status = proxyRes.statusCode ?? 502;
  if (hook === undefined) return writeStreamedAnswer(proxyRes, res, options, status, headers, sentToken);
  void runProxyResHook(hook, trackedRequest(res), status, headers, options).then(
    (answer) => {
      // The client went away while the hook ran (the exchange has already abandoned the upstream).
      if (res.destroyed || res.headersSent) return void proxyRes.destroy();
      if (answer === undefined) {
        proxyRes.destroy();
        return sendError(res, 'internal_error');
      }
      if (proxyRes.destroyed) {
        options.logger.error('[next-bff-proxy] upstream_unavailable: the upstream answer broke off while on.proxyRes ran');
        return sendError(res, 'upstream_unavailable');
      }
      try {
        writeStreamedAnswer(proxyRes, res, options, answer.status, answer.headers, sentToken);
      } catch (err) {
        // Outside the exchange's try by now: nothing may escape into a promise nobody awaits.
        proxyRes.destroy();
        options.logger.error(`[next-bff-proxy] internal_error: ${err instanceof Error ? err.name : 'stream failed'}`);
        sendError(res, 'internal_error');
      }
    },
    () => {
      proxyRes.destroy();
      sendError(res, 'internal_error');
    },
  );
  // An upstream that fails while the hook runs must not be an unhandled 'error' event.
  proxyRes.on('error', () => undefined);
}

/** Writes the head (the proxy's safety headers added last, so no hook removes them) and pipes the body. */
function writeStreamedAnswer(
  proxyRes: IncomingMessage,
  res: ServerResponse,
  options: ResolvedOptions,
  status: number,
  headers: OutgoingHttpHeaders,
  sentToken: boolean,
): void {
  addContentSafetyHeaders(headers, options);
  mergeSetCookieHeader(res, headers);
  if (res.hasHeader('set-cookie')) keepOutOfSharedCaches(headers);
  else if (sentToken) keepPersonalAnswerPrivate(headers);
  const isEventStream = String(headers['content-type'] ?? '')
    .toLowerCase()
    .startsWith('text/event-stream');
  if (isEventStream) keepEventStreamUnbuffered(headers);
  res.writeHead(status, headers);
  // An upstream that dies mid-body cuts the client's connection at once: a truncated response, not a
  // hang. (A client that goes away is handled by the exchange, which destroys `proxyRes`.) `pipe`,
  // not `pipeline`: it puts fewer listeners on `res`, where Next already keeps many.
  proxyRes.on('error', () => res.destroy());
  cutWhenIdle(proxyRes, res, isEventStream ? options.eventStreamIdleTimeoutMs : options.idleTimeoutMs);
  proxyRes.pipe(res);
}

/**
 * An upstream that sends headers and part of a body, then nothing, would hold the client's socket and
 * its own for as long as the client waits. No byte for `idleMs`: both connections are cut (the client
 * sees a truncated answer, as for an upstream that died).
 */
function cutWhenIdle(proxyRes: IncomingMessage, res: ServerResponse, idleMs: number | undefined): void {
  if (idleMs === undefined || proxyRes.complete) return;
  const timer = setTimeout(() => {
    // Paused because the client reads slowly (backpressure): the upstream is not the silent one.
    if (res.writableNeedDrain) return void timer.refresh();
    proxyRes.destroy();
    res.destroy();
  }, idleMs);
  proxyRes.on('data', () => timer.refresh());
  proxyRes.once('end', () => clearTimeout(timer));
  proxyRes.once('close', () => clearTimeout(timer));
}
