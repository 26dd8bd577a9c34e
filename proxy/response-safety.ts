import type { OutgoingHttpHeaders } from 'node:http';
import type { ResolvedOptions } from './options';

// Types a browser runs as a document on the app's origin, with the session: HTML, XHTML, SVG and XML
// (XSLT, XML with an HTML namespace), and multipart/x-mixed-replace, which can carry any of them.
const ACTIVE_CONTENT =
  /^(text\/(html|xml|xsl)|application\/(xhtml\+xml|xml|xslt\+xml)|image\/svg\+xml|[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]*\+xml|multipart\/x-mixed-replace)$/;
const MEDIA_TYPE = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/;

function isActiveContent(contentType: unknown): boolean {
  const type =
    String(contentType ?? '')
      .split(';')[0]
      ?.trim()
      .toLowerCase() ?? '';
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
  dropSharedCacheInstructions(headers);
  headers['cache-control'] = 'private, no-store';
}

function dropSharedCacheInstructions(headers: OutgoingHttpHeaders): void {
  for (const name of Object.keys(headers)) if (SHARED_CACHE_HEADER.test(name)) delete headers[name];
  delete headers.expires;
}

const TOKEN_HEADERS = new Set(['auth-token', 'authorization']);
const EXPLICITLY_SHAREABLE_OR_PRIVATE = /(^|,)\s*(public|private|no-store|must-revalidate|s-maxage\s*=\s*"?\d+"?)\s*(,|$)/i;

/**
 * An answer to a request that carried the user's token is personal. RFC 9111 §3.5 keeps a shared cache
 * from reusing answers to requests with `Authorization` unless they say so; behind the proxy the
 * browser's request carries only a Cookie, and a `Vary: auth-token` (or `Authorization`) names a header
 * a cache in front of the app never sees, so every user would get the first user's answer. Here `Vary`
 * on the token header becomes `Vary: Cookie`, and an answer that does not explicitly allow sharing
 * (`public`, `s-maxage`, `must-revalidate`) is marked `private` and loses `Expires` and CDN-specific
 * caching headers.
 */
export function keepPersonalAnswerPrivate(headers: OutgoingHttpHeaders): void {
  const vary = headers.vary;
  if (vary !== undefined) {
    const names = (Array.isArray(vary) ? vary.join(',') : String(vary))
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean);
    if (names.some((name) => TOKEN_HEADERS.has(name.toLowerCase()))) {
      const rewritten = names.map((name) => (TOKEN_HEADERS.has(name.toLowerCase()) ? 'Cookie' : name));
      headers.vary = [...new Set(rewritten)].join(', ');
    }
  }
  const cacheControl = headers['cache-control'] === undefined ? '' : String(headers['cache-control']);
  if (EXPLICITLY_SHAREABLE_OR_PRIVATE.test(cacheControl)) return;
  headers['cache-control'] = cacheControl ? `private, ${cacheControl}` : 'private';
  // A CDN that reads its own header (RFC 9213 CDN-Cache-Control, Surrogate-Control) ignores Cache-Control,
  // and `Expires` lets an old cache treat the answer as fresh for everyone.
  dropSharedCacheInstructions(headers);
}
