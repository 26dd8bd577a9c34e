import type { OutgoingHttpHeaders } from 'node:http';
import type { ResolvedOptions } from './options';

/**
 * Where an upstream URL is in the app: API_URL's base path becomes the route prefix
 * (`http://10.0.0.5/v1/items/5` → `/api/items/5`). `undefined`: a URL on the upstream's host that the
 * proxy cannot reach, which is dropped rather than shown (it names an internal address). URLs on other
 * hosts (an identity provider's login page, say) and relative references pass unchanged.
 */
export function toClientUrl(value: string, options: ResolvedOptions): string | undefined {
  const trimmed = value.trim();
  const absolute = /^[a-z][a-z0-9+.-]*:/i.test(trimmed) || trimmed.startsWith('//');
  if (!absolute && !trimmed.startsWith('/')) return value;
  let url: URL;
  try {
    url = new URL(trimmed, options.upstream);
  } catch {
    return absolute ? undefined : value;
  }
  if (absolute && url.origin !== options.upstream.origin) return value;
  const base = options.upstreamBasePath;
  if (url.pathname !== base && !url.pathname.startsWith(`${base}/`)) return absolute ? undefined : value;
  return `${options.pathPrefix}${url.pathname.slice(base.length) || '/'}${url.search}${url.hash}`;
}

/** `Link: <url>; rel=next, …` with each URL placed in the app; undefined when one cannot be. */
function toClientLinks(value: string, options: ResolvedOptions): string | undefined {
  let lost = false;
  const rewritten = value.replace(/<([^>]*)>/g, (_, url: string) => {
    const mapped = toClientUrl(url, options);
    if (mapped === undefined) lost = true;
    return `<${mapped ?? ''}>`;
  });
  return lost ? undefined : rewritten;
}

const URL_HEADERS = ['location', 'content-location'];

/** `Refresh: 5; url=http://10.0.0.5/v1/next` (HTML's refresh header, which browsers follow). */
function toClientRefresh(value: string, options: ResolvedOptions): string | undefined {
  const match = /^(\s*\d+(?:\.\d*)?\s*[;,]\s*(?:url\s*=\s*)?)(['"]?)(.*?)\2\s*$/i.exec(value);
  if (!match) return value;
  const mapped = toClientUrl(match[3] ?? '', options);
  return mapped === undefined ? undefined : `${match[1] ?? ''}${match[2] ?? ''}${mapped}${match[2] ?? ''}`;
}

/** Rewrites (or drops) the response headers that can carry an upstream URL (Location, Content-Location, Refresh, Link): SECURITY.md's promise. */
export function rewriteUpstreamUrls(headers: OutgoingHttpHeaders, options: ResolvedOptions): void {
  for (const name of URL_HEADERS) {
    const value = headers[name];
    if (typeof value !== 'string') continue;
    const mapped = toClientUrl(value, options);
    if (mapped === undefined) delete headers[name];
    else headers[name] = mapped;
  }
  const refresh = headers.refresh;
  if (typeof refresh === 'string') {
    const mapped = toClientRefresh(refresh, options);
    if (mapped === undefined) delete headers.refresh;
    else headers.refresh = mapped;
  }
  const link = headers.link;
  if (link !== undefined) {
    const links = (Array.isArray(link) ? link : [String(link)]).map((value) => toClientLinks(value, options));
    const kept = links.filter((value): value is string => value !== undefined);
    if (kept.length === 0) delete headers.link;
    else headers.link = kept;
  }
}

// Types a browser runs as a document on the app's origin, with the session: HTML, XHTML, SVG and XML
// (XSLT, XML with an HTML namespace), and multipart/x-mixed-replace, which can carry any of them.
const ACTIVE_CONTENT = /^(text\/(html|xml|xsl)|application\/(xhtml\+xml|xml|xslt\+xml)|image\/svg\+xml|[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]*\+xml|multipart\/x-mixed-replace)$/;
const MEDIA_TYPE = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/;

function isActiveContent(contentType: unknown): boolean {
  const type = String(contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  // No type, or one a browser cannot parse: it would sniff, so it is treated as the worst case.
  return !MEDIA_TYPE.test(type) || ACTIVE_CONTENT.test(type);
}

/**
 * Proxied answers are served from the app's origin. `nosniff` keeps a browser from guessing a script
 * or a page out of a JSON or text answer; an active type (HTML, SVG, XML) gets a sandboxing CSP, added
 * beside any the upstream sent (a browser enforces every policy it gets), so it cannot run script there.
 */
export function addContentSafetyHeaders(headers: OutgoingHttpHeaders, options: ResolvedOptions): void {
  headers['x-content-type-options'] = 'nosniff';
  const policy = options.activeContentPolicy;
  if (policy === undefined || !isActiveContent(headers['content-type'])) return;
  const existing = headers['content-security-policy'];
  const all: string[] = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
  // Typed as one string in @types/node; Node sends an array as one header line per policy.
  (headers as Record<string, string | string[]>)['content-security-policy'] = all.length === 0 ? policy : [...all, policy];
}

// Caching instructions for CDNs and surrogates, which act on them whatever Cache-Control says.
const SHARED_CACHE_HEADER = /^(surrogate-control|([a-z0-9-]+-)?cdn-cache-control|edge-control|x-accel-expires)$/;

/**
 * A response that sets cookies (new tokens, cleared ones) must never be stored by a shared cache,
 * whatever the upstream asked for: `Cache-Control: private, no-store`, CDN-specific instructions dropped.
 */
export function keepOutOfSharedCaches(headers: OutgoingHttpHeaders): void {
  for (const name of Object.keys(headers)) if (SHARED_CACHE_HEADER.test(name)) delete headers[name];
  delete headers.expires;
  headers['cache-control'] = 'private, no-store';
}

const TOKEN_HEADERS = new Set(['auth-token', 'authorization']);
const EXPLICITLY_SHAREABLE_OR_PRIVATE = /(^|,)\s*(public|private|no-store|must-revalidate|s-maxage\s*=\s*"?\d+"?)\s*(,|$)/i;

/**
 * An answer to a request that carried the user's token is personal. RFC 9111 §3.5 keeps a shared cache
 * from reusing answers to requests with `Authorization` unless they say so; behind the proxy the
 * browser's request carries only a Cookie, and a `Vary: auth-token` (or `Authorization`) names a header
 * a cache in front of the app never sees, so every user would get the first user's answer. Here `Vary`
 * on the token header becomes `Vary: Cookie`, and an answer that does not explicitly allow sharing
 * (`public`, `s-maxage`, `must-revalidate`) is marked `private`.
 */
export function keepPersonalAnswerPrivate(headers: OutgoingHttpHeaders): void {
  const vary = headers.vary;
  if (vary !== undefined) {
    const names = (Array.isArray(vary) ? vary.join(',') : String(vary)).split(',').map((name) => name.trim()).filter(Boolean);
    if (names.some((name) => TOKEN_HEADERS.has(name.toLowerCase()))) {
      const rewritten = names.map((name) => (TOKEN_HEADERS.has(name.toLowerCase()) ? 'Cookie' : name));
      headers.vary = [...new Set(rewritten)].join(', ');
    }
  }
  const cacheControl = headers['cache-control'] === undefined ? '' : String(headers['cache-control']);
  if (!EXPLICITLY_SHAREABLE_OR_PRIVATE.test(cacheControl)) headers['cache-control'] = cacheControl ? `private, ${cacheControl}` : 'private';
}
