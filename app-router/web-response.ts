import type { OutgoingHttpHeader, OutgoingHttpHeaders } from 'node:http';
import { Writable } from 'node:stream';
import { codingOf, decoderFor, type Coding, type Decoder } from './content-coding';

// Fetch's null body statuses: a Response with one of these cannot carry a body (the constructor throws).
const NULL_BODY_STATUS = new Set([204, 205, 304]);

// Framing is Next's to do for a route handler's answer (it drops these, measured on Next 16.4);
// `keep-alive` belongs to Next's own connection. (`Connection: close` is kept: an error answered
// before a request body was read asks Node to end the connection after it.)
const TRANSPORT_HEADERS = new Set(['content-length', 'transfer-encoding', 'keep-alive']);

const CUT = new Error('the answer was cut');

/**
 * The other half of the route-handler transport: a Node `Writable` shaped like `ServerResponse` (status,
 * headers, `writeHead`, `end`, `destroy`), which the request policy writes to exactly as it writes to a
 * Pages response, and whose bytes come out as the body of a Web `Response`.
 *
 * - Backpressure crosses over: a write is acknowledged only while the Web stream wants more, so a slow
 *   client slows the upstream down instead of filling memory.
 * - `response` resolves when the head is written; `close` is emitted when the body is done (all of it
 *   taken by Next) or abandoned (the client went away: Next cancels the stream).
 * - An upstream answer compressed although `identity` was asked for is decoded here: Next drops
 *   `Content-Encoding` from route-handler answers, and compresses on its own.
 */
export class WebResponseWriter extends Writable {
  statusCode = 200;
  statusMessage = '';
  headersSent = false;
  readonly response: Promise<Response>;
  private resolveResponse!: (response: Response) => void;
  /** The Response has been handed to Next (it may wait for a decoder's first byte). */
  private responded = false;
  /** A decoded answer, held until its first byte decodes: a body that fails at once becomes a 502. */
  private heldResponse?: Response;
  private readonly fields = new Map<string, OutgoingHttpHeader>();
  private controller?: ReadableStreamDefaultController<Uint8Array>;
  private discardBody = false;
  private decoder?: Decoder;
  /** The coding to decode; its decoder is made on the body's first bytes (or at its end, when empty). */
  private coding?: Coding;
  /** A write's callback held back until the Web stream asks for more. */
  private held?: () => void;
  /** The decoder is paused because the Web stream wants no more. */
  private decoderHeld = false;

  constructor(private readonly isHead: boolean) {
    super({ highWaterMark: 64 * 1024 });
    this.response = new Promise((resolve) => (this.resolveResponse = resolve));
    // A write after the client went away fails; that is expected, and nobody else listens for it.
    this.on('error', () => {});
  }

  setHeader(name: string, value: OutgoingHttpHeader): this {
    // After the client went away, nothing is sent: setting a header is no error (a refresh may land then).
    if (this.destroyed) return this;
    if (this.headersSent) throw new Error('headers already sent');
    this.fields.set(name.toLowerCase(), value);
    return this;
  }

  getHeader(name: string): OutgoingHttpHeader | undefined {
    return this.fields.get(name.toLowerCase());
  }

  hasHeader(name: string): boolean {
    return this.fields.has(name.toLowerCase());
  }

  removeHeader(name: string): void {
    if (this.destroyed) return;
    if (this.headersSent) throw new Error('headers already sent');
    this.fields.delete(name.toLowerCase());
  }

  getHeaders(): OutgoingHttpHeaders {
    return Object.fromEntries(this.fields);
  }

  writeHead(status: number, reasonOrHeaders?: string | OutgoingHttpHeaders, maybeHeaders?: OutgoingHttpHeaders): this {
    if (this.headersSent) throw new Error('headers already sent');
    const headers = typeof reasonOrHeaders === 'object' ? reasonOrHeaders : maybeHeaders;
    for (const [name, value] of Object.entries(headers ?? {})) if (value !== undefined) this.fields.set(name.toLowerCase(), value);
    this.statusCode = status;
    this.headersSent = true;
    const response = this.buildResponse(status);
    if (this.coding) this.heldResponse = response;
    else this.respond(response);
    return this;
  }

  private respond(response: Response): void {
    if (this.responded) return;
    this.responded = true;
    this.resolveResponse(response);
  }

  private buildResponse(status: number): Response {
    // Fetch's Response takes 200-599 only (the policy already refused anything under 200).
    if (status > 599) return this.refuse(`upstream status ${status}`);
    const headers = new Headers();
    let encoding = '';
    try {
      for (const [name, value] of this.fields) {
        if (TRANSPORT_HEADERS.has(name) || (name === 'connection' && String(value).toLowerCase() !== 'close')) continue;
        if (name === 'content-encoding') {
          encoding = String(value);
          continue;
        }
        for (const item of Array.isArray(value) ? value : [value]) headers.append(name, String(item));
      }
    } catch {
      return this.refuse('a response header fetch cannot carry');
    }
    this.discardBody = this.isHead || NULL_BODY_STATUS.has(status);
    if (!this.discardBody) {
      const coding = codingOf(encoding);
      if (coding === null) return this.refuse('an answer in a content coding the proxy cannot decode');
      if (coding) this.coding = coding;
    }
    const body = this.discardBody
      ? null
      : new ReadableStream<Uint8Array>({
          start: (controller) => {
            this.controller = controller;
          },
          pull: () => this.release(),
          cancel: () => {
            this.destroy(CUT);
          },
        });
    return new Response(body, { status, headers });
  }

  /**
   * An answer that cannot become a Web response: the client gets a 502 and the upstream's answer is
   * dropped. Session cookies already set (a refresh before forwarding) still go out with it, as the
   * Pages route's error answers carry them: the browser must not keep a refresh token just rotated.
   */
  private refuse(reason: string): Response {
    this.discardBody = true;
    queueMicrotask(() => this.destroy(new Error(reason)));
    const headers = new Headers({ 'cache-control': 'private, no-store', 'x-content-type-options': 'nosniff' });
    const cookies = this.fields.get('set-cookie');
    for (const cookie of Array.isArray(cookies) ? cookies : cookies === undefined ? [] : [String(cookies)])
      headers.append('set-cookie', cookie);
    return Response.json(
      { error: { code: 'bad_upstream_response', message: 'The API sent a response that cannot be passed on.' } },
      { status: 502, headers },
    );
  }

  private attachDecoder(coding: Coding, first: Buffer): Decoder {
    const decoder = decoderFor(coding, first);
    this.decoder = decoder;
    decoder.on('data', (chunk: Buffer) => {
      this.releaseHeldResponse();
      if (!this.enqueue(chunk)) {
        this.decoderHeld = true;
        decoder.pause();
      }
    });
    decoder.once('end', () => {
      this.releaseHeldResponse();
      this.closeBody();
    });
    decoder.once('error', (err) => {
      // Nothing decoded yet: the client gets a 502 (with the session cookies already set) instead of a
      // 200 that breaks off. Later, the answer is cut, as for an upstream that died mid-body.
      if (this.heldResponse) {
        this.heldResponse = undefined;
        this.respond(this.refuse('a compressed answer that does not decode'));
      }
      this.destroy(err);
    });
    return decoder;
  }

  private releaseHeldResponse(): void {
    const held = this.heldResponse;
    if (!held) return;
    this.heldResponse = undefined;
    this.respond(held);
  }

  /** Hands a chunk to the Web stream; false when it wants no more for now. */
  private enqueue(chunk: Uint8Array): boolean {
    if (!this.controller) return false;
    try {
      this.controller.enqueue(chunk);
    } catch {
      return false;
    }
    return (this.controller.desiredSize ?? 0) > 0;
  }

  private release(): void {
    this.decoderHeld = false;
    this.decoder?.resume();
    const held = this.held;
    this.held = undefined;
    held?.();
  }

  private closeBody(): void {
    try {
      this.controller?.close();
    } catch {
      // Already cancelled by the client.
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (!this.headersSent) this.writeHead(this.statusCode);
    if (this.discardBody) return callback();
    const decoder = this.decoder ?? (this.coding ? this.attachDecoder(this.coding, chunk) : undefined);
    if (decoder) {
      if (decoder.write(chunk)) callback();
      else decoder.once('drain', () => callback());
      return;
    }
    if (this.enqueue(chunk)) callback();
    else this.held = () => callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.headersSent) this.writeHead(this.statusCode);
    // A compressed answer with no body at all: nothing to decode.
    if (this.coding && !this.decoder && !this.discardBody) {
      this.releaseHeldResponse();
      this.closeBody();
      return callback();
    }
    if (this.decoder) {
      this.decoder.once('end', () => callback());
      this.decoder.end();
      return;
    }
    this.closeBody();
    callback();
  }

  /** A write held back for the Web stream is backpressure, whatever its size (see below). */
  isHeldBack(): boolean {
    return this.held !== undefined || this.decoderHeld;
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.decoder?.destroy();
    this.headersSent = true;
    if (!this.responded) {
      // Abandoned before any answer (the client went away, the upstream died before a compressed body's
      // first byte decoded, or the connection is being cut): a 502 that still carries the session cookies
      // already set, as the Pages route's answers do. Not a body that fails, which Next logs as an error.
      this.heldResponse = undefined;
      this.respond(this.refuse('abandoned before an answer'));
    } else if (this.controller) {
      try {
        this.controller.error(error ?? CUT);
      } catch {
        // Already closed or cancelled.
      }
    }
    const held = this.held;
    this.held = undefined;
    held?.();
    callback(error);
  }
}

// The policy's idle timer asks `writableNeedDrain` to tell a slow reader from a silent upstream: a write
// held back for the Web stream counts, whatever its size. (Defined once on the prototype: a property
// defined per instance would cost every response a slow object.)
const needDrain = Object.getOwnPropertyDescriptor(Writable.prototype, 'writableNeedDrain');
Object.defineProperty(WebResponseWriter.prototype, 'writableNeedDrain', {
  get(this: WebResponseWriter) {
    return this.isHeldBack() || Boolean(needDrain?.get?.call(this));
  },
});
