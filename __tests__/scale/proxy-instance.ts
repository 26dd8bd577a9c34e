import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApiProxy } from '../../proxy/index';

// One instance of the proxy in a process of its own (API_URL, SESSION_STORE_URL, API_TIMEOUT_MS from the
// environment): separate processes share nothing but the store, as separate servers do.
const proxy = createApiProxy({ refresh: { skewSeconds: 1 }, logger: { warn: () => undefined, error: () => undefined } });
const server = http.createServer((req, res) => void proxy(req, res));
server.listen(0, '127.0.0.1', () => console.log(`listening ${(server.address() as AddressInfo).port}`));
process.on('SIGTERM', () => process.exit(0));
