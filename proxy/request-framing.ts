import type { IncomingHttpHeaders } from 'node:http';

/** How the client framed its request body (RFC 9112 §6.3). */
export type BodyFraming = 'none' | 'length' | 'chunked';

const DECIMAL_LENGTH = /^\d+$/;
const CHUNKED_ONLY = /^[ \t]*chunked[ \t]*$/i;

/**
 * The framing of a request body, or 'invalid' when the proxy cannot forward it framed exactly as the
 * client framed it. RFC 9112 §6.1: a request with both Transfer-Encoding and Content-Length is a
 * smuggling attempt ("ought to be handled as an error"); a transfer coding other than plain `chunked`
 * (`gzip, chunked`, `identity`) would change meaning on the way. Node's parser refuses most of these
 * already; this holds for a server started with `insecureHTTPParser` as well.
 */
export function readBodyFraming(headers: IncomingHttpHeaders): BodyFraming | 'invalid' {
  const transferEncoding = headers['transfer-encoding'];
  const contentLength = headers['content-length'];
  if (transferEncoding !== undefined) {
    if (contentLength !== undefined || !CHUNKED_ONLY.test(transferEncoding)) return 'invalid';
    return 'chunked';
  }
  if (contentLength !== undefined) return DECIMAL_LENGTH.test(contentLength) ? 'length' : 'invalid';
  return 'none';
}
