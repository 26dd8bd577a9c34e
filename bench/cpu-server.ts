import http from 'node:http';
import httpProxy from 'http-proxy';
import { createApiProxy } from '../proxy/index';

// One variant of a proxy on a plain node:http server, for `bench/cpu-per-request.ts`:
// BENCH_MODE=proxy (this project's handler) or minimal (http-proxy with a keep-alive agent, nothing else).
const upstream = process.env.BENCH_UPSTREAM_URL ?? '';
const port = Number(process.env.BENCH_PORT ?? 0);
let handler: http.RequestListener;
if (process.env.BENCH_MODE === 'minimal') {
  const proxy = httpProxy.createProxyServer({ target: upstream, agent: new http.Agent({ keepAlive: true }) });
  handler = (req, res) => {
    req.url = (req.url ?? '/').replace(/^\/api/, '');
    proxy.web(req, res, {}, () => res.destroy());
  };
} else {
  const proxy = createApiProxy({ apiUrl: upstream, logger: { warn() {}, error() {} } });
  handler = (req, res) => void proxy(req, res);
}
http.createServer(handler).listen(port, '127.0.0.1', () => console.log('ready'));
process.on('SIGTERM', () => process.exit(0));
