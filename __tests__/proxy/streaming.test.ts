import { createHash } from 'node:crypto';
import http from 'node:http';
import { listen, startProxy, type RunningServer } from '../helpers/servers';

const SIZE = 100 * 1024 * 1024;
const CHUNK = 64 * 1024;

/** A deterministic chunk: different for each index, so reordering or loss changes the hash. */
function chunkAt(index: number): Buffer {
  const chunk = Buffer.alloc(CHUNK, index % 251);
  chunk.writeUInt32BE(index, 0);
  return chunk;
}

function expectedDigest(): string {
  const hash = createHash('sha256');
  for (let i = 0; i < SIZE / CHUNK; i++) hash.update(chunkAt(i));
  return hash.digest('hex');
}

/** Writes all chunks to a writable stream, respecting backpressure. */
async function writeAll(target: NodeJS.WritableStream): Promise<void> {
  for (let i = 0; i < SIZE / CHUNK; i++) {
    if (!target.write(chunkAt(i))) await new Promise((resolve) => target.once('drain', resolve));
  }
  target.end();
}

describe('streaming 100 MB each way', () => {
  let upstream: RunningServer;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  const digest = expectedDigest();

  beforeAll(async () => {
    upstream = await listen((req, res) => {
      if (req.url === '/upload') {
        const hash = createHash('sha256');
        let bytes = 0;
        req.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          hash.update(chunk);
        });
        req.on('end', () => {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ bytes, sha256: hash.digest('hex'), chunked: req.headers['transfer-encoding'] ?? null }));
        });
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      void writeAll(res);
    });
    proxy = await startProxy({ apiUrl: upstream.url });
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
  });

  it('delivers a 100 MB chunked upload byte-complete', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const req = http.request(
        `${proxy.url}/api/upload`,
        { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' } },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve(text));
        },
      );
      req.on('error', reject);
      void writeAll(req);
    });
    expect(JSON.parse(answer)).toEqual({ bytes: SIZE, sha256: digest, chunked: 'chunked' });
  }, 60_000);

  it('delivers a 100 MB download byte-complete', async () => {
    const result = await new Promise<{ status: number; bytes: number; sha256: string }>((resolve, reject) => {
      http
        .get(`${proxy.url}/api/download`, (res) => {
          const hash = createHash('sha256');
          let bytes = 0;
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            hash.update(chunk);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, sha256: hash.digest('hex') }));
          res.on('error', reject);
        })
        .on('error', reject);
    });
    expect(result).toEqual({ status: 200, bytes: SIZE, sha256: digest });
  }, 60_000);
});
