import type { IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import zlib from 'node:zlib';

/** Why a body could not be read: over the cap, an encoding we cannot decode, or the stream was cut. */
export class BodyReadError extends Error {
  constructor(readonly reason: 'too_large' | 'bad_encoding' | 'cut_off') {
    super(`body not read: ${reason}`);
    this.name = 'BodyReadError';
  }
}

function decoderFor(contentEncoding: string | undefined): zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | null | 'unsupported' {
  const encoding = (contentEncoding ?? 'identity').trim().toLowerCase();
  if (encoding === 'identity' || encoding === '') return null;
  if (encoding === 'gzip' || encoding === 'x-gzip') return zlib.createGunzip();
  if (encoding === 'deflate') return zlib.createInflate();
  if (encoding === 'br') return zlib.createBrotliDecompress();
  return 'unsupported';
}

/**
 * Reads a response body into memory, decoded, refusing more than `maxBytes` of decoded bytes:
 * the cap holds for a compressed bomb as much as for a plain flood, and the upstream stream is
 * destroyed as soon as it is crossed.
 */
export async function readBoundedBody(res: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const decoder = decoderFor(res.headers['content-encoding']);
  if (decoder === 'unsupported') {
    res.destroy();
    throw new BodyReadError('bad_encoding');
  }
  const chunks: Buffer[] = [];
  let total = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      total += chunk.length;
      if (total > maxBytes) return done(new BodyReadError('too_large'));
      chunks.push(chunk);
      done();
    },
  });
  try {
    await (decoder ? pipeline(res, decoder, sink) : pipeline(res, sink));
  } catch (err) {
    if (err instanceof BodyReadError) throw err;
    // The upstream went away before the end, or the compressed bytes were not what they claimed.
    throw new BodyReadError(res.complete ? 'bad_encoding' : 'cut_off');
  }
  return Buffer.concat(chunks, total);
}
