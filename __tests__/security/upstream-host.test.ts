import { resolveOptions } from '../../proxy/resolve-options';
import { rewriteUpstreamUrls } from '../../proxy/upstream-urls';

// Which response header values name the upstream (dropped) and which only look alike (kept): the third
// outside pass found the check off on default ports and blind to userinfo and IPv6, and dropping
// `api.example.org` for an upstream called `api`.
describe('a response header value naming the upstream', () => {
  it.each([
    ['http://api:8080', 'http://api:8080/x', false],
    ['http://api:8080', '1.1 api:8080', false],
    ['http://127.0.0.1', '1.1 127.0.0.1:80', false],
    ['http://127.0.0.1', '127.0.0.1', false],
    ['http://127.0.0.1', 'http://svc@127.0.0.1/x', false],
    ['http://[::1]:4310', '::1:4310', false],
    ['http://[::1]:4310', '[::1]:4310', false],
    ['https://10.0.0.5', '10.0.0.5:443', false],
    ['http://api:8080', 'https://api.example.org/oauth/authorize', true],
    ['http://api:8080', '<https://api.github.com/p2>; rel="next"', true],
    ['http://api:8080', 'connect-src https://api.example.org', true],
    ['http://api:8080', 'myapi:8080', true],
    ['http://backend:3000', 'https://backend-auth.example.com/login', true],
    ['http://127.0.0.1', '10.127.0.0.19', true],
    ['http://10.0.0.5', 'version 110.0.0.55', true],
  ])('API_URL %s, value %j: kept %s', (apiUrl, value, kept) => {
    const options = resolveOptions({ apiUrl, logger: { warn() {}, error() {} } });
    const headers: Record<string, string> = { 'x-value': value };
    rewriteUpstreamUrls(headers, options);
    expect(headers['x-value']).toBe(kept ? value : undefined);
  });
});
