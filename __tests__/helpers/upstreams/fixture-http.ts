import http, { type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// Plumbing shared by the upstream fixtures: bounded bodies, JSON answers, and a server on 127.0.0.1:0.
// Nothing here logs: the fixtures handle real-looking tokens, and test output is often kept.

/** Largest request body any fixture reads; a bigger one is answered 413 without reading it all. */
export const MAX_BODY_BYTES = 16 * 1024;

/** An answer decided mid-request; the fixture's own error shape is in `body` (undefined: no body). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string | string[]> = {}): void {
  // 204 must not carry Content-Length (RFC 9110 §8.6); the others say "no body" with 0.
  res.writeHead(status, status === 204 ? headers : { ...headers, 'content-length': 0 });
  res.end();
}

/**
 * The whole body, at most `limit` bytes. `tooLarge` is thrown for a bigger one (the declared length is
 * checked first, so a huge upload is refused before it is read).
 */
export async function readBody(req: IncomingMessage, tooLarge: HttpError, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The media type without parameters, lower-cased (`application/json; charset=utf-8` → `application/json`). */
export function mediaType(req: IncomingMessage): string | undefined {
  return req.headers['content-type']?.split(';')[0]?.trim().toLowerCase() || undefined;
}

/** A JSON object body; anything else (wrong type, bad JSON, an array) is `malformed`. */
export async function readJsonObject(req: IncomingMessage, malformed: HttpError, tooLarge: HttpError): Promise<Record<string, unknown>> {
  if (mediaType(req) !== 'application/json') throw malformed;
  const raw = await readBody(req, tooLarge);
  try {
    const value: unknown = JSON.parse(raw.toString('utf8'));
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw malformed;
}

/** The token of `Authorization: Bearer <token>` (scheme case-insensitive, RFC 9110 §11.1), or undefined. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(req.headers.authorization ?? '');
  return match?.[1];
}

/** One cookie's value from the Cookie header, or undefined (a name sent twice: the first, as browsers order them). */
export function cookieValue(req: IncomingMessage, name: string): string | undefined {
  for (const pair of (req.headers.cookie ?? '').split(';')) {
    const at = pair.indexOf('=');
    if (at !== -1 && pair.slice(0, at).trim() === name) return pair.slice(at + 1).trim() || undefined;
  }
  return undefined;
}

/** The path of the request target, without the query (which may carry something private). */
export function pathOf(req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0] ?? '/';
}

export interface Listening {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves `route` on 127.0.0.1 and a free port. An HttpError it throws becomes that answer; anything else a
 * bare 500 (no message: it could hold a token). An unread body is drained, or the connection closed when
 * it was refused for its size, so a keep-alive client's next request is not read from its leftovers.
 */
export async function listenLocal(route: (req: IncomingMessage, res: ServerResponse) => Promise<void>): Promise<Listening> {
  const handler: RequestListener = (req, res) => {
    route(req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      const error = err instanceof HttpError ? err : new HttpError(500, { error: 'internal' });
      const headers = error.status === 413 ? { ...error.headers, connection: 'close' } : error.headers;
      if (error.status !== 413) req.resume();
      if (error.body === undefined) sendEmpty(res, error.status, headers);
      else sendJson(res, error.status, error.body, headers);
    });
  };
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
