import type { IncomingHttpHeaders } from 'node:http';
import type { ProxyLogger } from './options';
import {
  logHookFailure,
  settleHook,
  pickOwned,
  sanitizeHookHeaders,
  type HookRequest,
  type ProxyHooks,
  type ProxyReqContext,
} from './hooks';

// The session is the proxy's to speak for: a hook that could set these would forge one (or ride on the
// session of whoever's request it copies from). The token is added after the hook, for the same reason.
const SESSION_HEADERS = ['cookie', 'authorization', 'auth-token'];

// Never the hook's either: the upstream's Host, and the message's framing and hop-by-hop fields (the
// transport owns framing, DESIGN.md: a hook's Content-Length over a chunked body is request smuggling).
const PROXY_OWNED_REQUEST_HEADERS = new Set([
  ...SESSION_HEADERS,
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);

function isOwnedRequestHeader(name: string): boolean {
  // `auth_token` too: CGI-style upstreams read it as `auth-token` (see headers.ts).
  return PROXY_OWNED_REQUEST_HEADERS.has(name) || PROXY_OWNED_REQUEST_HEADERS.has(name.replace(/_/g, '-')) || name.startsWith('proxy-');
}

/**
 * Runs `on.proxyReq` on the headers built for the upstream (before the token is added) and returns the
 * headers to send: the hook's changes, checked, with the proxy's own fields as they were. `alsoKept`:
 * more fields the hook may not change for this request (`accept-encoding` where the transport needs
 * `identity`). Undefined when the hook threw or rejected (logged): the request must not go on.
 */
export async function runProxyReqHook(
  hook: NonNullable<ProxyHooks['proxyReq']>,
  request: HookRequest,
  headers: IncomingHttpHeaders,
  logger: ProxyLogger,
  timeoutMs: number,
  alsoKept: readonly string[] = [],
): Promise<Record<string, string | string[]> | undefined> {
  const isOwned = alsoKept.length === 0 ? isOwnedRequestHeader : (name: string) => isOwnedRequestHeader(name) || alsoKept.includes(name);
  const kept = pickOwned(headers, isOwned);
  const seen = { ...headers };
  for (const name of SESSION_HEADERS) delete seen[name];
  const ctx: ProxyReqContext = { method: request.method, path: request.path, route: request.route, headers: seen };
  if (!(await settleHook(logger, 'proxyReq', timeoutMs, () => hook(ctx)))) return undefined;
  try {
    return sanitizeHookHeaders('proxyReq', ctx.headers, kept, isOwned, logger);
  } catch (err) {
    // What the hook left behind could not even be read (a throwing getter): the request must not go on.
    logHookFailure(logger, 'proxyReq', err);
    return undefined;
  }
}
