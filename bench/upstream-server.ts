import http from 'node:http';

// The bench's upstream, as its own process so it does not share an event loop with the load generator.
const port = Number(process.env.BENCH_UPSTREAM_PORT ?? 0);
const ITEM = JSON.stringify({ id: 1, name: 'bench item', tags: ['a', 'b'] });
const CHUNK = Buffer.alloc(64 * 1024, 0x62);

const server = http.createServer((req, res) => {
  const [path, query = ''] = (req.url ?? '/').split('?');
  if (path === '/item') {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(ITEM) });
    res.end(ITEM);
    return;
  }
  if (path === '/login' || path === '/upload') {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      const body = path === '/login' ? JSON.stringify({ authToken: `bench-token-${bytes}`, user: { id: 1 } }) : JSON.stringify({ bytes });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    return;
  }
  if (path === '/download') {
    let remaining = Number(new URLSearchParams(query).get('bytes') ?? 0);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': remaining });
    const pump = () => {
      while (remaining > 0) {
        const chunk = remaining >= CHUNK.length ? CHUNK : CHUNK.subarray(0, remaining);
        remaining -= chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
    return;
  }
  res.writeHead(404).end();
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  console.log(`bench upstream listening on ${typeof address === 'object' && address ? address.port : port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
