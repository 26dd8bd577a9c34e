import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { ResolvedOptions } from './options';
import type { Upstream } from './upstream';
import { applySessionToAnswer, type RefreshedSession } from './refresh';
import { sendError, type ProxyErrorCode } from './errors';
import { upstreamAuthHeader } from './headers';
import { answerLogin } from './login';
import { isSessionStoreError } from '../session-store/types';
import { clearedSessionCookies } from './session-cookie';
import { streamResponse } from './stream-response';
import type { ResolvedRoute } from './routes';

export interface ExchangeOptions {
  isLogin: boolean;
  /** Resolves on the response's 'close' (one shared listener: Next itself puts many on `res`). */
  closed: Promise<void>;
  /** The request's tokens (access, refresh): never passed on in a response header. */
  secrets: Array<string | undefined>;
  /** The request went upstream with the user's token: its answer is personal (see keepPersonalAnswerPrivate). */
  sentToken: boolean;
  /** True once a logout has ended the request's session (a refresh's new cookies must not go out then). */
  sessionEnded?: () => boolean;
  /** An idempotent request without a body: safe to send again on a fresh connection. */
  replayable: boolean;
  /** The client framed a body (Content-Length over 0, or chunked). */
  hasBody: boolean;
  /** Set when the body stream may end before its Content-Length: a short body is refused, not left for the upstream to wait on. */
  declaredLength?: number;
  /**
   * Set when an upstream 401 may be answered by one refresh and one retry: the request has no body to
   * replay, a refresh token is there, and no refresh happened for this request yet.
   */
  refreshAfter401?: () => Promise<RefreshedSession>;
  /** The route table's entry the request went by: its upstream's URLs in the answer are mapped back to it. */
  route?: ResolvedRoute;
}

/**
 * Forwards one request (headers and URL already rewritten) and answers the client exactly once:
 * with the upstream's streamed response, the captured login, or a JSON error.
 */
export function runExchange(
  req: IncomingMessage,
  res: ServerResponse,
  options: ResolvedOptions,
  upstream: Upstream,
  exchange: ExchangeOptions,
): void {
  let proxyReq: ClientRequest | undefined;
  let proxyRes: IncomingMessage | undefined;
  // Set once the client's answer is decided; later events only clean up.
  let settled = false;
  let timedOut = false;
  let retried = false;
  let staleSocketRetried = false;

  const abortUpstream = () => {
    proxyReq?.destroy();
    proxyRes?.destroy();
  };
  const fail = (code: ProxyErrorCode, detail: string, headers: Record<string, string> = {}) => {
    clearTimeout(timer);
    if (settled) return;
    settled = true;
    options.logger.error(`[next-bff-proxy] ${code} (${req.method ?? '?'} request): ${detail}`);
    abortUpstream();
    if (req.complete) return sendError(res, code, headers);
    // An answer before the request's body is all in: the connection ends with it (the rest of the body
    // is read and dropped so the client can read the answer, for at most `timeoutMs`, then cut).
    sendError(res, code, { ...headers, connection: 'close' });
    req.unpipe();
    req.resume();
    const cut = setTimeout(() => req.socket.destroy(), options.timeoutMs);
    cut.unref();
    req.once('end', () => clearTimeout(cut));
  };

  // One timer until the answer's headers: it restarts with every request-body chunk, so it measures the
  // client's silence while the body is still coming (408: a trickled body holds no sockets forever) and
  // the upstream's once the body is in (504).
  const timer = setTimeout(() => {
    timedOut = true;
    // A body held back because the upstream does not read it (backpressure) is the upstream's silence.
    const clientSilent = exchange.hasBody && !req.complete && !proxyReq?.writableNeedDrain;
    if (clientSilent) fail('request_timeout', `no request body byte for ${options.timeoutMs} ms`);
    else fail('upstream_timeout', `no answer within ${options.timeoutMs} ms`);
  }, options.timeoutMs);

  // 'close' without a finished response: the client went away. Whatever is in flight upstream is
  // abandoned (http-proxy's own 'aborted' watch no longer fires reliably since Node 15.5).
  void exchange.closed.then(() => {
    clearTimeout(timer);
    if (!res.writableFinished) {
      settled = true;
      abortUpstream();
    }
  });

  const retryAfterRefresh = (refresh: () => Promise<RefreshedSession>) => {
    retried = true;
    refresh().then(
      (session) => {
        if (settled) return;
        const applied = applySessionToAnswer(res, session, true);
        if (applied.kind === 'stop') return fail(applied.code, 'refresh after 401 did not renew the session', applied.headers);
        exchange.secrets.push(applied.accessToken);
        Object.assign(req.headers, upstreamAuthHeader(options, applied.accessToken ?? ''));
        upstream.forward(req, res, listeners, { replayEmptyBody: true });
      },
      (err: unknown) =>
        isSessionStoreError(err) ? fail('session_store_unavailable', err.reason) : fail('internal_error', 'refresh after 401 threw'),
    );
  };

  const listeners = {
    onUpstreamRequest(request: ClientRequest) {
      proxyReq = request;
      if (settled) request.destroy();
    },
    onUpstreamError(err: NodeJS.ErrnoException) {
      // A kept-alive socket the upstream closed just as it was reused: the request never got an answer.
      // Node's advice for this race is one retry of an idempotent request, on a fresh connection.
      const stale = proxyReq?.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
      if (stale && exchange.replayable && !staleSocketRetried && !settled && !timedOut) {
        staleSocketRetried = true;
        proxyReq = undefined;
        upstream.forward(req, res, listeners, { replayEmptyBody: true });
        return;
      }
      fail(timedOut ? 'upstream_timeout' : 'upstream_unavailable', err.code ?? 'connection failed');
    },
    onUpstreamResponse(response: IncomingMessage) {
      proxyRes = response;
      if (settled) {
        response.destroy();
        return;
      }
      const status = response.statusCode ?? 0;
      // Node's client takes any three digits (`099`, `000`, a final `1xx`); Node's server would throw
      // on writing them, inside a socket event, out of every try: a crash, or a client left hanging.
      if (status < 200 || status > 999) return fail('bad_upstream_response', `upstream status ${status}`);
      if (status === 401 && exchange.refreshAfter401 && !retried) {
        // The 401's body is of no use; reading it keeps the upstream connection reusable.
        response.resume();
        retryAfterRefresh(exchange.refreshAfter401);
        return;
      }
      if (exchange.isLogin) {
        // The login answer is buffered, so the timer keeps running until it is read.
        answerLogin(req, res, response, options, exchange.secrets).then(
          (outcome) => {
            clearTimeout(timer);
            if (outcome !== 'sent') fail(timedOut ? 'upstream_timeout' : outcome.code, outcome.detail);
            else settled = true;
          },
          (err: unknown) => fail('internal_error', err instanceof Error ? err.name : 'login failed'),
        );
        return;
      }
      clearTimeout(timer);
      settled = true;
      try {
        // A logout while this request was upstream: the new session cookies it carries are replaced by
        // cleared ones, or the browser would be signed back in.
        if (res.hasHeader('set-cookie') && exchange.sessionEnded?.()) res.setHeader('set-cookie', clearedSessionCookies(req, options));
        streamResponse(response, res, options, exchange.secrets, exchange.sentToken, exchange.route);
      } catch (err) {
        // Whatever went wrong here, it must not escape into the socket's event handler.
        settled = false;
        fail('internal_error', err instanceof Error ? err.name : 'stream failed');
      }
    },
  };
  upstream.forward(req, res, listeners);
  // Added after http-proxy's pipe is in place, so no chunk flows before it.
  if (exchange.hasBody) req.on('data', () => timer.refresh());

  const declared = exchange.declaredLength;
  if (declared !== undefined) {
    let received = 0;
    req.on('data', (chunk: Buffer) => (received += chunk.length));
    req.once('end', () => {
      if (received < declared) fail('bad_request', `request body ended after ${received} of ${declared} bytes`, { connection: 'close' });
    });
  }

  // Counted beside http-proxy's pipe (added after it, so no chunk flows before the pipe is in place):
  // a body without Content-Length, or longer than it said, is cut off at the limit.
  const limit = options.maxRequestBodyBytes;
  if (limit !== undefined) {
    let received = 0;
    const count = (chunk: Buffer) => {
      received += chunk.length;
      if (received <= limit) return;
      req.off('data', count);
      req.unpipe();
      req.resume();
      fail('payload_too_large', `body over ${limit} bytes`, { connection: 'close' });
    };
    req.on('data', count);
  }
}
