import { ProxyConfigError } from './config-error';

/**
 * An upstream's address, as `API_URL` and a route's `url` are given: http(s), with an optional base
 * path, never credentials (they would travel in every request and every log line) nor a query or
 * fragment (the client's own query is appended to the path). `name` is what the error names.
 */
export function parseUpstreamUrl(name: string, raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ProxyConfigError(`${name} is not a valid URL: expected e.g. https://api.example.com/v1`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ProxyConfigError(`${name} must start with http:// or https://`);
  }
  if (url.username || url.password) {
    throw new ProxyConfigError(`${name} must not carry credentials`);
  }
  if (url.search || url.hash) {
    throw new ProxyConfigError(`${name} must not carry a query string or fragment`);
  }
  return url;
}
