import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { ResolvedOptions } from './options';
import { getRequestHost, isSecureRequest } from './request-info';
import { rewriteUpstreamUrls } from './upstream-urls';
import { carriesSecondCookie } from './upstream-cookies';
import type { ResolvedRoute } from './routes';

// RFC 9110 §7.6.1: hop-by-hop fields, plus the ones that older intermediaries still send.
const HOP_BY_HOP_HEADERS = new Set([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'trailers',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
]);

// Message framing: a `Connection` list naming these must not strip them, or the body's length is lost.
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding']);

// Set by Next (or by a client pretending to be Next's router); meaningless and unsafe upstream.
const NEXT_INTERNAL_HEADER = /^x-(middleware|nextjs|invoke|next)-/;

// The proxy sets these from what it knows; a client's copies are believed only with trustProxy.
const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-real-ip'];

/** The names a message's `Connection` header lists (RFC 9110 §7.6.1), lower-cased. */
function connectionListedNames(connection: string | string[] | undefined): string[] {
  if (connection === undefined) return [];
  const joined = Array.isArray(connection) ? connection.join(',') : connection;
  return joined
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '' && !FRAMING_HEADERS.has(name));
}

// Never copied from the client: the session is the proxy's to speak for (cookie, auth headers), Node
// already answered `100 Continue` (expect), and the forwarding headers are set by the proxy itself.
const DROPPED_REQUEST_HEADERS = new Set(['cookie', 'auth-token', 'authorization', 'expect', 'host', ...FORWARDING_HEADERS]);

// CGI, WSGI and PHP read `auth_token` and `auth-token` as one variable (HTTP_AUTH_TOKEN), and may keep
// the last: a client's (or a hook's) underscore twin of a header the proxy owns would stand in for it.
function isUnderscoreTwin(name: string): boolean {
  return name.includes('_') && DROPPED_REQUEST_HEADERS.has(name.replace(/_/g, '-'));
}

// Headers upstream frameworks read as "the real method / URL / client": Express's method-override,
// Symfony and Laravel (X-HTTP-Method-Override), ASP.NET (X-HTTP-Method), IIS URL Rewrite
// (X-Original-URL, X-Rewrite-URL)... A client's copy would reach a method or path the allowlist refused,
// or pose as another client or origin. The proxy speaks for the client here; none is passed on.
const OVERRIDE_HEADER =
  /^x-(http-method-override|http-method|method-override|original-url|original-uri|rewrite-url|original-method|original-host|forwarded-server|forwarded-prefix|forwarded-path|forwarded-uri|forwarded-scheme|forwarded-ssl|url-scheme|host|client-ip|cluster-client-ip|original-forwarded-for)$|^(true-client-ip|cf-connecting-ip|fastly-client-ip|front-end-https)$/;

/**
 * Replaces `req.headers` with the headers sent upstream (see buildUpstreamRequestHeaders), the token
 * added. This runs before `proxy.web` (not in a `proxyReq` listener, which http-proxy skips for requests
 * with `Expect`).
 */
export function setUpstreamRequestHeaders(
  req: IncomingMessage,
  options: ResolvedOptions,
  token: string | undefined,
  { identity }: { identity: boolean },
): void {
  req.headers = withUpstreamToken(buildUpstreamRequestHeaders(req, options, { identity, host: options.upstream.host }), options, token);
}

/**
 * The headers sent upstream, without the token (`on.proxyReq` runs between the two), built in one pass
 * (deleting keys one by one would push V8 into slow dictionary objects on every request). `host`: the
 * upstream's.
 */
export function buildUpstreamRequestHeaders(
  req: IncomingMessage,
  options: ResolvedOptions,
  { identity, host: upstreamHost }: { identity: boolean; host: string },
): IncomingHttpHeaders {
  const source = req.headers;
  const listed = source.connection === undefined ? undefined : new Set(connectionListedNames(source.connection));
  const headers: IncomingHttpHeaders = { host: upstreamHost };
  for (const name of Object.keys(source)) {
    if (
      DROPPED_REQUEST_HEADERS.has(name) ||
      isUnderscoreTwin(name) ||
      NEXT_INTERNAL_HEADER.test(name) ||
      OVERRIDE_HEADER.test(name) ||
      listed?.has(name)
    )
      continue;
    if (name === 'transfer-encoding') {
      // The body stays chunked (checked by readBodyFraming): Node's client re-chunks it, with the same bytes.
      headers[name] = 'chunked';
      continue;
    }
    if (HOP_BY_HOP_HEADERS.has(name) || name.startsWith('proxy-')) continue;
    headers[name] = source[name];
  }

  // A route handler has no socket to ask: Next's own X-Forwarded-For is then the only address, and it
  // is the client's own claim whenever the client sent one, so it is passed on only with trustProxy.
  const clientAddress = req.socket?.remoteAddress;
  const prior = options.trustProxy ? source['x-forwarded-for'] : undefined;
  if (clientAddress) headers['x-forwarded-for'] = prior ? `${String(prior)}, ${clientAddress}` : clientAddress;
  else if (prior) headers['x-forwarded-for'] = prior;
  // With APP_ORIGIN set, the app's address is known: a client's Host header cannot choose what the
  // upstream puts in the links and redirects it builds.
  const app = options.appAddress;
  headers['x-forwarded-proto'] = app ? app.proto : isSecureRequest(req, options.trustProxy) ? 'https' : 'http';
  const host = app ? app.host : getRequestHost(req, options.trustProxy);
  if (host) headers['x-forwarded-host'] = host;
  // The login answer is read by the proxy, and a route handler's answer loses its Content-Encoding:
  // ask for it uncompressed (a compressed one is still decoded).
  if (identity) headers['accept-encoding'] = 'identity';
  return headers;
}

/** The headers with the token's header added (the session's, never a hook's: it is set last). */
export function withUpstreamToken(headers: IncomingHttpHeaders, options: ResolvedOptions, token: string | undefined): IncomingHttpHeaders {
  if (token !== undefined) Object.assign(headers, upstreamAuthHeader(options, token));
  return headers;
}

/** The header that carries the token upstream, as the options say. */
export function upstreamAuthHeader(options: ResolvedOptions, token: string): Record<string, string> {
  return options.authHeader === 'bearer' ? { authorization: `Bearer ${token}` } : { 'auth-token': token };
}

// Response headers the proxy never passes on: framing is redone by Node for the client connection,
// CORS grants are not the upstream's to give for this origin (the proxy adds none either), and Next
// reads its internal headers as instructions.
const DROPPED_RESPONSE_HEADERS = new Set(['content-length', 'transfer-encoding']);

// Headers a browser applies to the whole origin (or its registrable domain), not to one answer: an
// upstream speaking for the app's origin could wipe the session cookies (Clear-Site-Data), have every
// request's URL reported to a third party for a year (NEL, Report-To), let script under /api register a
// service worker for the whole site (Service-Worker-Allowed), pin HSTS or alternative services, or ask for
// client hints. They are the app's to send, never the upstream's.
const ORIGIN_WIDE_HEADERS = new Set([
  'clear-site-data',
  'nel',
  'report-to',
  'reporting-endpoints',
  'service-worker-allowed',
  'strict-transport-security',
  'alt-svc',
  'accept-ch',
  'critical-ch',
  'origin-agent-cluster',
]);
const DROPPED_RESPONSE_HEADER = /^(access-control-|x-(middleware|nextjs|invoke|next)-)/;

// Shorter "tokens" would match ordinary header values by chance; real tokens are far longer.
const MIN_SCRUBBED_TOKEN_LENGTH = 8;

function carriesToken(value: string | string[], tokens: readonly string[]): boolean {
  const text = Array.isArray(value) ? value.join('\n') : value;
  return tokens.some((token) => text.includes(token));
}

function nameOfCookie(setCookie: string): string {
  return setCookie.slice(0, Math.max(0, setCookie.indexOf('='))).trim();
}

/**
 * The upstream response headers to send the client: hop-by-hop headers, the ones `Connection` names,
 * CORS and Next-internal headers removed, and `Set-Cookie` only for the cookies the options name
 * (never the session cookie: that one is the proxy's). `Content-Length` is kept when `keepLength`.
 */
export function getClientResponseHeaders(
  upstream: IncomingHttpHeaders,
  options: ResolvedOptions,
  { keepLength, secrets = [], route }: { keepLength: boolean; secrets?: readonly (string | undefined)[]; route?: ResolvedRoute },
): OutgoingHttpHeaders {
  const listed = upstream.connection === undefined ? undefined : new Set(connectionListedNames(upstream.connection));
  // Tokens the proxy holds for this request: an upstream that echoes one in a response header (a debug
  // header, an echoed Authorization) would hand it to JavaScript, which can read response headers.
  const tokens = secrets.filter((secret): secret is string => secret !== undefined && secret.length >= MIN_SCRUBBED_TOKEN_LENGTH);
  const out: OutgoingHttpHeaders = {};
  for (const name of Object.keys(upstream)) {
    const value = upstream[name];
    if (
      value === undefined ||
      HOP_BY_HOP_HEADERS.has(name) ||
      name.startsWith('proxy-') ||
      listed?.has(name) ||
      DROPPED_RESPONSE_HEADER.test(name) ||
      ORIGIN_WIDE_HEADERS.has(name)
    )
      continue;
    if (tokens.length > 0 && carriesToken(value, tokens)) {
      options.logger.warn(`[next-bff-proxy] dropped the upstream response header "${name}": it carried the session token`);
      continue;
    }
    if (DROPPED_RESPONSE_HEADERS.has(name) && !(keepLength && name === 'content-length')) continue;
    if (name === 'set-cookie') {
      const passed = (Array.isArray(value) ? value : [value]).filter((cookie) => {
        if (carriesSecondCookie(cookie)) return false;
        const cookieName = nameOfCookie(cookie);
        return options.passUpstreamCookies.has(cookieName) && cookieName !== options.cookie.name;
      });
      if (passed.length > 0) out[name] = passed;
      continue;
    }
    out[name] = value;
  }
  rewriteUpstreamUrls(out, options, route);
  return out;
}
