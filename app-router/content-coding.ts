// What the route-handler transport does with an answer compressed although `identity` was asked for:
// Next drops `Content-Encoding` from route-handler answers, so the body must reach it decoded.
import zlib from 'node:zlib';

export type Decoder = zlib.Gunzip | zlib.Inflate | zlib.InflateRaw | zlib.BrotliDecompress;
export type Coding = 'gzip' | 'deflate' | 'br';

/** The coding of a `Content-Encoding` the upstream used although asked for `identity`; null: one we cannot decode. */
export function codingOf(encoding: string): Coding | null | undefined {
  const coding = encoding.trim().toLowerCase();
  if (coding === '' || coding === 'identity') return undefined;
  if (coding === 'gzip' || coding === 'x-gzip') return 'gzip';
  if (coding === 'deflate' || coding === 'br') return coding;
  return null;
}

/**
 * The decoder for a coding, chosen on the body's first bytes: `deflate` is the zlib format (RFC 9110
 * §8.4.1.2), yet some servers send raw deflate under that name and browsers read both. A zlib stream
 * starts with a header whose method nibble is 8 and whose two bytes are a multiple of 31 (RFC 1950 §2.2).
 */
export function decoderFor(coding: Coding, first: Buffer): Decoder {
  if (coding === 'gzip') return zlib.createGunzip();
  if (coding === 'br') return zlib.createBrotliDecompress();
  const [cmf = 0, flg = 0] = first;
  const zlibWrapped = (cmf & 0x0f) === 8 && (first.length < 2 || ((cmf << 8) | flg) % 31 === 0);
  return zlibWrapped ? zlib.createInflate() : zlib.createInflateRaw();
}
