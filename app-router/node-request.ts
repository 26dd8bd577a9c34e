import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';

/**
 * The request's headers as Node would give them: lower-case names, one string each. (Web `Headers`
 * joins repeated fields with `, `; Node joins `Cookie` with `; `, and Next hands route handlers the
 * already-joined value, so the two agree.)
 */
function readHeaders(headers: Headers): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  headers.forEach((value, name) => {
    out[name] = value;
  });
  return out;
}

/** A stream with nothing in it (cheaper than `Readable.from([])`, which runs an async iterator). */
function endedReadable(): Readable {
  const body = new Readable({ read() {} });
  body.push(null);
  return body;
}

/** The path and query of an absolute URL (`request.url` is always one, already parsed by Next). */
export function pathAndQuery(url: string): string {
  const schemeEnd = url.indexOf('://');
  const pathStart = schemeEnd === -1 ? -1 : url.indexOf('/', schemeEnd + 3);
  if (pathStart === -1) return '/';
  const hash = url.indexOf('#', pathStart);
  return hash === -1 ? url.slice(pathStart) : url.slice(pathStart, hash);
}

/**
 * Presents a Web `Request` to the request policy as a Node `IncomingMessage`: a Readable over the
 * request's body stream (pulled as the upstream reads, never buffered), with the method, the path and
 * query, and the headers. There is no socket: `remoteAddress` is unknown (see setUpstreamRequestHeaders),
 * the connection is never TLS from Next's point of view, and "destroying the socket" cancels the body.
 */
export function toNodeRequest(request: Request, target: string, onCut: () => void): IncomingMessage {
  const body = request.body
    ? Readable.fromWeb(request.body as unknown as NodeReadableStream<Uint8Array>, { highWaterMark: 64 * 1024 })
    : endedReadable();
  const req = asNodeRequest(body, request.method, target, request.headers, () => {
    body.destroy();
    onCut();
  });
  body.once('end', () => (req.complete = true));
  // A client that goes away mid-body errors the stream: the exchange learns it from the response's
  // close, so the error itself must not go unheard (an 'error' without a listener ends the process).
  body.on('error', () => {});
  return req;
}

/**
 * A request with headers only (a server component's, a server action's, proxy.ts'): enough for the
 * session (cookies, whether the app is served over HTTPS), with no body and no socket.
 */
export function headersOnlyRequest(headers: Headers): IncomingMessage {
  return asNodeRequest(endedReadable(), 'GET', '/', headers, () => {});
}

/** `body` dressed as an `IncomingMessage`, with a stand-in socket (no address, never TLS) whose destroy is `cut`. */
function asNodeRequest(
  body: Readable,
  method: string,
  url: string,
  headers: Headers,
  cut: () => void,
): IncomingMessage & { complete: boolean } {
  const req = body as unknown as IncomingMessage & { complete: boolean };
  req.method = method;
  req.url = url;
  req.headers = readHeaders(headers);
  req.httpVersion = '1.1';
  req.complete = false;
  Object.defineProperty(req, 'socket', { value: { remoteAddress: undefined, encrypted: false, destroy: cut } });
  return req;
}
