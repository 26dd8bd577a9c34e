import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { ResolvedOptions } from './options';
import { getRequestHost, isSecureRequest } from './request-info';

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

/** Removes hop-by-hop headers and every header the `Connection` header names, in place. */
export function stripHopByHopHeaders(headers: IncomingHttpHeaders, { keepFraming }: { keepFraming: boolean }): void {
  for (const name of connectionListedNames(headers.connection)) delete headers[name];
  for (const name of Object.keys(headers)) {
    if (HOP_BY_HOP_HEADERS.has(name) || name.startsWith('proxy-')) {
      if (keepFraming && name === 'transfer-encoding') continue;
      delete headers[name];
    }
  }
}

/**
 * Rewrites the client's headers, in place on `req.headers`, into the ones sent upstream. This runs
 * before `proxy.web` (not in a `proxyReq` listener, which http-proxy skips for requests with `Expect`).
 */
export function setUpstreamRequestHeaders(req: IncomingMessage, options: ResolvedOptions, token: string | undefined, isLogin: boolean): void {
  const headers = req.headers;
  const secure = isSecureRequest(req, options.trustProxy);
  const host = getRequestHost(req, options.trustProxy);
  const clientAddress = req.socket.remoteAddress;
  const priorForwardedFor = options.trustProxy ? headers['x-forwarded-for'] : undefined;

  // Transfer-Encoding stays: it is how Node's client frames the streamed body it forwards.
  stripHopByHopHeaders(headers, { keepFraming: true });
  for (const name of Object.keys(headers)) {
    if (NEXT_INTERNAL_HEADER.test(name)) delete headers[name];
  }
  for (const name of FORWARDING_HEADERS) delete headers[name];

  // The browser's cookies stay here, and only the proxy speaks for the session.
  delete headers.cookie;
  delete headers['auth-token'];
  delete headers.authorization;
  // Node already answered `100 Continue` to the client; the upstream gets the body straight away.
  delete headers.expect;

  if (clientAddress) {
    headers['x-forwarded-for'] = priorForwardedFor ? `${String(priorForwardedFor)}, ${clientAddress}` : clientAddress;
  }
  headers['x-forwarded-proto'] = secure ? 'https' : 'http';
  if (host) headers['x-forwarded-host'] = host;

  if (isLogin) {
    // The login answer is read by the proxy: ask for it uncompressed (a compressed one is still decoded).
    headers['accept-encoding'] = 'identity';
  }
  if (token !== undefined) Object.assign(headers, upstreamAuthHeader(options, token));
}

/** The header that carries the token upstream, as the options say. */
export function upstreamAuthHeader(options: ResolvedOptions, token: string): Record<string, string> {
  return options.authHeader === 'bearer' ? { authorization: `Bearer ${token}` } : { 'auth-token': token };
}

// Response headers the proxy never passes on: framing is redone by Node for the client connection,
// CORS grants are not the upstream's to give for this origin (the proxy adds none either), and Next
// reads its internal headers as instructions.
const DROPPED_RESPONSE_HEADERS = new Set(['content-length', 'transfer-encoding']);
const DROPPED_RESPONSE_HEADER = /^(access-control-|x-(middleware|nextjs|invoke|next)-)/;

function cookieName(setCookie: string): string {
  return setCookie.slice(0, Math.max(0, setCookie.indexOf('='))).trim();
}

/**
 * The upstream response headers to send the client: hop-by-hop headers, the ones `Connection` names,
 * CORS and Next-internal headers removed, and `Set-Cookie` only for the cookies the options name
 * (never the session cookie: that one is the proxy's). `Content-Length` is kept when `keepLength`.
 */
export function getClientResponseHeaders(upstream: IncomingHttpHeaders, options: ResolvedOptions, { keepLength }: { keepLength: boolean }): OutgoingHttpHeaders {
  const headers: IncomingHttpHeaders = { ...upstream };
  stripHopByHopHeaders(headers, { keepFraming: false });
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || DROPPED_RESPONSE_HEADER.test(name)) continue;
    if (DROPPED_RESPONSE_HEADERS.has(name) && !(keepLength && name === 'content-length')) continue;
    if (name === 'set-cookie') {
      const passed = (Array.isArray(value) ? value : [value]).filter((cookie) => {
        const name = cookieName(cookie);
        return options.passUpstreamCookies.has(name) && name !== options.cookie.name;
      });
      if (passed.length > 0) out[name] = passed;
      continue;
    }
    out[name] = value;
  }
  return out;
}
