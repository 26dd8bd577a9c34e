import net from 'node:net';

// Raw HTTP/1.1 over a socket: requests are written byte for byte as the test frames them (no client
// library normalises or refuses anything), and responses are read back by a small parser that knows
// Content-Length, chunked and close-delimited bodies, and that a response to HEAD has none.

export const CRLF = '\r\n';

/** How a test request frames its body. `chunked-ext` puts a chunk extension on every chunk. */
export type RequestFraming = 'none' | 'length' | 'chunked' | 'chunked-ext';

export interface RawHttpResponse {
  status: number;
  reason: string;
  /** Header names lower-cased; every value as received, in order. */
  headers: Record<string, string[]>;
  body: Buffer;
  /** How the body was delimited ('none': HEAD, 1xx, 204, 304). */
  bodyFraming: 'none' | 'length' | 'chunked' | 'close';
}

/** One header's value; several lines of it are joined with ', '. */
export function headerOf(response: RawHttpResponse, name: string): string | undefined {
  return response.headers[name.toLowerCase()]?.join(', ');
}

/** The body as JSON (the caller says what it expects to find). */
export function jsonOf<T>(response: RawHttpResponse): T {
  return JSON.parse(response.body.toString('utf8')) as T;
}

/**
 * A chunked body: `sizes` splits `body` (the last chunk takes whatever is left), `extensions[i]` is
 * appended to chunk i's size line as is (e.g. `;ext=1`).
 */
export function chunkedBody(body: Buffer, sizes: readonly number[] = [], extensions: readonly string[] = []): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  let index = 0;
  while (offset < body.length) {
    const size = Math.max(1, Math.min(sizes[index] ?? body.length, body.length - offset));
    parts.push(
      Buffer.from(`${size.toString(16)}${extensions[index] ?? ''}${CRLF}`, 'latin1'),
      body.subarray(offset, offset + size),
      Buffer.from(CRLF, 'latin1'),
    );
    offset += size;
    index += 1;
  }
  parts.push(Buffer.from(`0${CRLF}${CRLF}`, 'latin1'));
  return Buffer.concat(parts);
}

export interface RawRequest {
  method: string;
  target: string;
  /** Sent after Host, in this order, exactly as given. */
  headers?: ReadonlyArray<readonly [string, string]>;
  body?: Buffer | string;
  framing: RequestFraming;
  /** Chunk sizes for the chunked framings (default: two chunks when the body has two bytes or more). */
  chunkSizes?: readonly number[];
}

/** The bytes of a well-formed HTTP/1.1 request; `host` goes in the Host header. */
export function buildRequest(host: string, request: RawRequest): Buffer {
  const body = typeof request.body === 'string' ? Buffer.from(request.body, 'latin1') : (request.body ?? Buffer.alloc(0));
  const lines = [
    `${request.method} ${request.target} HTTP/1.1`,
    `Host: ${host}`,
    ...(request.headers ?? []).map(([name, value]) => `${name}: ${value}`),
  ];
  let framedBody: Buffer = Buffer.alloc(0);
  if (request.framing === 'length') {
    lines.push(`Content-Length: ${body.length}`);
    framedBody = body;
  } else if (request.framing === 'chunked' || request.framing === 'chunked-ext') {
    lines.push('Transfer-Encoding: chunked');
    const sizes = request.chunkSizes ?? (body.length >= 2 ? [Math.floor(body.length / 2)] : []);
    const extensions =
      request.framing === 'chunked-ext'
        ? sizes.concat(body.length).map((_, i) => (i % 2 === 0 ? `;ext=${i + 1}` : `;name="v ${i}";x`))
        : [];
    framedBody = chunkedBody(body, sizes, extensions);
  } else if (body.length > 0) {
    throw new Error('buildRequest: a body needs a framing');
  }
  return Buffer.concat([Buffer.from(lines.join(CRLF) + CRLF + CRLF, 'latin1'), framedBody]);
}

/** `host:port` of a base URL, for the Host header. */
export function hostOf(baseUrl: string): string {
  return new URL(baseUrl).host;
}

type Parsed = { response: RawHttpResponse; consumed: number } | undefined;

function parseChunked(buffer: Buffer, start: number): { body: Buffer; end: number } | undefined {
  const parts: Buffer[] = [];
  let pos = start;
  for (;;) {
    const lineEnd = buffer.indexOf(CRLF, pos, 'latin1');
    if (lineEnd === -1) return undefined;
    const sizeText = (buffer.toString('latin1', pos, lineEnd).split(';')[0] ?? '').trim();
    if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText))
      throw new Error(`raw-http: bad chunk size line ${JSON.stringify(buffer.toString('latin1', pos, lineEnd))}`);
    const size = parseInt(sizeText, 16);
    pos = lineEnd + 2;
    if (size === 0) {
      // Trailer section: header lines until an empty one.
      for (;;) {
        const trailerEnd = buffer.indexOf(CRLF, pos, 'latin1');
        if (trailerEnd === -1) return undefined;
        const empty = trailerEnd === pos;
        pos = trailerEnd + 2;
        if (empty) return { body: Buffer.concat(parts), end: pos };
      }
    }
    if (buffer.length < pos + size + 2) return undefined;
    parts.push(buffer.subarray(pos, pos + size));
    if (buffer.toString('latin1', pos + size, pos + size + 2) !== CRLF) throw new Error('raw-http: chunk data not followed by CRLF');
    pos += size + 2;
  }
}

/** Parses one response from the start of `buffer`; undefined while it is incomplete. Throws on garbage. */
export function parseResponse(buffer: Buffer, isHeadResponse: boolean, peerEnded: boolean): Parsed {
  const headEnd = buffer.indexOf(CRLF + CRLF, 0, 'latin1');
  if (headEnd === -1) {
    if (peerEnded && buffer.length > 0)
      throw new Error(`raw-http: connection closed inside a response head: ${JSON.stringify(buffer.toString('latin1'))}`);
    return undefined;
  }
  const [statusLine = '', ...headerLines] = buffer.toString('latin1', 0, headEnd).split(CRLF);
  const statusMatch = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!statusMatch) throw new Error(`raw-http: bad status line ${JSON.stringify(statusLine)}`);
  const status = Number(statusMatch[1]);
  const headers: Record<string, string[]> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`raw-http: bad header line ${JSON.stringify(line)}`);
    const name = line.slice(0, colon).toLowerCase();
    (headers[name] ??= []).push(line.slice(colon + 1).trim());
  }
  const bodyStart = headEnd + 4;
  const base = { status, reason: statusMatch[2] ?? '', headers };
  if (isHeadResponse || (status >= 100 && status < 200) || status === 204 || status === 304) {
    return { response: { ...base, body: Buffer.alloc(0), bodyFraming: 'none' }, consumed: bodyStart };
  }
  const transferEncoding = headers['transfer-encoding']?.join(', ');
  if (transferEncoding !== undefined) {
    if (!/(^|,)\s*chunked\s*$/i.test(transferEncoding)) throw new Error(`raw-http: response Transfer-Encoding ${transferEncoding}`);
    const chunked = parseChunked(buffer, bodyStart);
    if (!chunked) {
      if (peerEnded) throw new Error('raw-http: connection closed inside a chunked response body');
      return undefined;
    }
    return { response: { ...base, body: chunked.body, bodyFraming: 'chunked' }, consumed: chunked.end };
  }
  const contentLength = headers['content-length'];
  if (contentLength !== undefined) {
    if (contentLength.length !== 1 || !/^\d+$/.test(contentLength[0] ?? ''))
      throw new Error(`raw-http: response Content-Length ${JSON.stringify(contentLength)}`);
    const end = bodyStart + Number(contentLength[0]);
    if (buffer.length < end) {
      if (peerEnded) throw new Error('raw-http: connection closed inside a Content-Length response body');
      return undefined;
    }
    return { response: { ...base, body: buffer.subarray(bodyStart, end), bodyFraming: 'length' }, consumed: end };
  }
  if (!peerEnded) return undefined;
  return { response: { ...base, body: buffer.subarray(bodyStart), bodyFraming: 'close' }, consumed: buffer.length };
}

export const DEFAULT_TIMEOUT_MS = 5_000;

/** A client connection that writes raw bytes and reads responses one by one; every wait is bounded. */
export class RawConnection {
  private received = Buffer.alloc(0);
  private peerEnded = false;
  private closed = false;
  private readonly waiters = new Set<() => void>();
  /** Socket errors seen (a reset after the server refused, for instance): recorded, never thrown. */
  readonly errors: string[] = [];

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.notify();
    });
    socket.on('end', () => {
      this.peerEnded = true;
      this.notify();
    });
    socket.on('close', () => {
      this.peerEnded = true;
      this.closed = true;
      this.notify();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.errors.push(err.code ?? err.message);
    });
  }

  /** Connects to the host and port of `baseUrl`. */
  static open(baseUrl: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<RawConnection> {
    const { hostname, port } = new URL(baseUrl);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: hostname, port: Number(port) });
      const fail = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      const timer = setTimeout(() => fail(new Error(`raw-http: no connection to ${baseUrl} within ${timeoutMs} ms`)), timeoutMs);
      socket.once('error', fail);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeListener('error', fail);
        resolve(new RawConnection(socket));
      });
    });
  }

  private notify(): void {
    for (const wake of [...this.waiters]) wake();
  }

  /** Resolves once something happens on the socket (data, end, close) or after `ms`. */
  private waitForEvent(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, Math.max(0, ms));
      this.waiters.add(wake);
    });
  }

  /** Writes bytes (ignored once the socket is gone: a server that refused may already have closed it). */
  write(bytes: Buffer | string): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /** Half-closes: the server sees the end of the client's bytes and can still answer. */
  end(): void {
    if (!this.socket.destroyed) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** The server has closed (or reset) the connection. */
  get isClosed(): boolean {
    return this.peerEnded;
  }

  /** Received bytes not yet read as a response. */
  get unread(): Buffer {
    return this.received;
  }

  /**
   * The next response, or undefined when the server closed the connection with nothing more sent.
   * `head`: the response answers a HEAD request, so it has no body whatever its headers say.
   * Throws on a malformed or truncated response, and after `timeoutMs` without a whole response.
   */
  async nextResponse({ head = false, timeoutMs = DEFAULT_TIMEOUT_MS }: { head?: boolean; timeoutMs?: number } = {}): Promise<
    RawHttpResponse | undefined
  > {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.received.length === 0 && this.peerEnded) return undefined;
      const parsed = parseResponse(this.received, head, this.peerEnded);
      if (parsed) {
        this.received = this.received.subarray(parsed.consumed);
        // An interim response (100 Continue): the real one follows.
        if (parsed.response.status >= 100 && parsed.response.status < 200 && parsed.response.status !== 101) continue;
        return parsed.response;
      }
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `raw-http: no complete response within ${timeoutMs} ms; received ${JSON.stringify(this.received.toString('latin1').slice(0, 500))}`,
        );
      await this.waitForEvent(left);
    }
  }

  /** The next response; throws if the server closed without one. */
  async readResponse(options: { head?: boolean; timeoutMs?: number } = {}): Promise<RawHttpResponse> {
    const response = await this.nextResponse(options);
    if (!response) throw new Error('raw-http: the server closed the connection without a response');
    return response;
  }

  /** True once the server has closed the connection, false if it is still open after `timeoutMs`. */
  async waitForClose(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.peerEnded) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await this.waitForEvent(left);
    }
    return true;
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
