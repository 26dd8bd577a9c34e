import type { OutgoingHttpHeaders } from 'node:http';
import type { ResolvedOptions } from './options';
import { matchRoute, type ResolvedRoute } from './routes';

// `//host`, `\\host`, `/\host`, `\/host`: browsers read a backslash as a slash in http(s) URLs.
const NETWORK_PATH = /^[/\\]{2}/;
const SCHEME = /^[a-z][a-z0-9+.-]*:/i;
const URL_IGNORED = /[\t\n\r]/g;

/** Routes whose upstream path maps to one place in the app: API_URL's (fallback), and each route with its own `url`. */
const mountLists = new WeakMap<ResolvedOptions, ResolvedRoute[]>();

function mountsOf(options: ResolvedOptions): ResolvedRoute[] {
  let mounts = mountLists.get(options);
  if (!mounts) {
    mounts = [options.routes.fallback, ...options.routes.table.filter((route) => route.strip !== '')];
    mountLists.set(options, mounts);
  }
  return mounts;
}

/** Two routes that send the same path to the same place upstream (a route without `url` is API_URL's). */
function sameMount(a: ResolvedRoute, b: ResolvedRoute): boolean {
  return a.strip === b.strip && a.basePath === b.basePath && a.upstream.origin === b.upstream.origin;
}

/** `url` (on `mount`'s upstream) as a path in the app, when it is under the mount's base path and the table sends that path back there. */
function mapOnto(url: URL, mount: ResolvedRoute, options: ResolvedOptions): string | undefined {
  const base = mount.basePath;
  if (url.pathname !== base && !url.pathname.startsWith(`${base}/`)) return undefined;
  const path = mount.strip + url.pathname.slice(base.length);
  // `/api/billing/admin/…` may be a longer route's, on another upstream: no link to it from here.
  if (options.routes.table.length > 0 && !sameMount(matchRoute(options.routes, path), mount)) return undefined;
  return `${options.pathPrefix}${path || '/'}${url.search}${url.hash}`;
}

/**
 * Where an upstream URL is in the app: the base path of the upstream it is on becomes the route prefix
 * (`http://10.0.0.5/v1/items/5` → `/api/items/5`; on a route's own `url`, `/api/{route}/…`). `route`:
 * the route the answer came by (a relative reference is on its upstream). `undefined`: a URL on any
 * configured upstream's host (any scheme, any port) that the proxy cannot reach, which is dropped rather
 * than shown: it names an internal address. URLs on other hosts (an identity provider's login page, say)
 * and relative references outside the base path pass unchanged.
 */
const withoutRootDot = (hostname: string) => hostname.replace(/\.$/, '');

export function toClientUrl(value: string, options: ResolvedOptions, route: ResolvedRoute = options.routes.fallback): string | undefined {
  // The WHATWG URL parser, as browsers run it, removes every tab and newline first: `ht\ttp://host`.
  const trimmed = value.replace(URL_IGNORED, '').trim();
  const absolute = SCHEME.test(trimmed) || NETWORK_PATH.test(trimmed);
  if (!absolute && !trimmed.startsWith('/') && !trimmed.startsWith('\\')) return value;
  let url: URL;
  try {
    url = new URL(trimmed, route.upstream);
  } catch {
    return absolute ? undefined : value;
  }
  if (!absolute) return mapOnto(url, mountsOf(options).find((mount) => sameMount(mount, route)) ?? route, options) ?? value;
  // On an upstream's host, whatever the scheme and port (an upstream told `X-Forwarded-Proto: https`
  // builds `https://` URLs to itself): the route's own upstream first, then one on the same port.
  // A host name with its root dot (`api.internal.`) is the same host to DNS, and to the URL parser's eyes another.
  const host = withoutRootDot(url.hostname);
  const onHost = mountsOf(options).filter((mount) => withoutRootDot(mount.upstream.hostname) === host);
  if (onHost.length === 0) return value;
  const ranked = [
    ...onHost.filter((mount) => sameMount(mount, route)),
    ...onHost.filter((mount) => mount.upstream.host === url.host),
    ...onHost,
  ];
  for (const mount of ranked) {
    const mapped = mapOnto(url, mount, options);
    if (mapped !== undefined) return mapped;
  }
  return undefined;
}

/** The elements of a Link header (RFC 8288 §3): commas inside `<…>` or quotes do not separate. */
function linkElements(value: string): string[] {
  const elements: string[] = [];
  let start = 0;
  let inUrl = false;
  let inQuote = false;
  for (let i = 0; i < value.length; i++) {
    const char = value[i];
    if (inQuote) {
      if (char === '\\') i++;
      else if (char === '"') inQuote = false;
    } else if (char === '"' && !inUrl) inQuote = true;
    else if (char === '<') inUrl = true;
    else if (char === '>') inUrl = false;
    else if (char === ',' && !inUrl) {
      elements.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  elements.push(value.slice(start).trim());
  return elements.filter((element) => element !== '');
}

/** `<url>; rel=next, …`, each target placed in the app; an element that cannot be is dropped alone. */
function toClientLinks(value: string, options: ResolvedOptions, route: ResolvedRoute | undefined): string | undefined {
  const kept: string[] = [];
  for (const element of linkElements(value)) {
    let lost = false;
    const rewritten = element.replace(/<([^>]*)>/g, (_, url: string) => {
      const mapped = toClientUrl(url, options, route);
      if (mapped === undefined) lost = true;
      return `<${mapped ?? ''}>`;
    });
    if (!lost) kept.push(rewritten);
  }
  return kept.length === 0 ? undefined : kept.join(', ');
}

/**
 * `Refresh: 5; url=http://10.0.0.5/v1/next`, parsed as HTML does (the URL may follow `;`, `,` or white
 * space, with or without `url=`, quoted or not), its URL placed in the app or the header dropped.
 */
function toClientRefresh(value: string, options: ResolvedOptions, route: ResolvedRoute | undefined): string | undefined {
  const match = /^(\s*\d*(?:\.[\d.]*)?)([\s;,]*(?:url\s*=\s*)?)(.*)$/is.exec(value);
  if (!match) return undefined;
  let target = (match[3] ?? '').trim();
  const quote = target[0] === '"' || target[0] === "'" ? target[0] : '';
  if (quote) target = target.slice(1, target.indexOf(quote, 1) === -1 ? undefined : target.indexOf(quote, 1));
  if (target === '') return value;
  const mapped = toClientUrl(target, options, route);
  return mapped === undefined ? undefined : `${match[1] ?? ''}; url=${mapped}`;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

// What may follow a host name in a header value without making it another name (`api` in `api.example.org`,
// `api-auth`, `myapi` is not the upstream `api`).
// A root dot (`api.internal.`) is still the same host.
const AFTER_HOST = String.raw`(?=\.?(?:$|[:/?#\\\s,;"'<>)\]]))`;

// One pattern per upstream (options are resolved once): the tests below, compiled once.
const hostPatterns = new WeakMap<ResolvedOptions, RegExp>();

/**
 * The forms in which a header value names an upstream (API_URL, or a route's `url`): as a URL's authority
 * (`//host`, `\\host`, `/\host`, `\/host`, `user@host`), as `host:port` (its port, or the scheme's default
 * when the URL has none), and, for an IP address, the address alone (`Via: 1.1 10.0.0.5`). Each with a
 * boundary after the host.
 */
function hostAlternatives({ hostname, protocol, port }: URL): string[] {
  const bare = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  const isIpv6 = bare.includes(':');
  const forms = isIpv6 ? [`\\[${escapeRegExp(bare)}\\]`, escapeRegExp(bare)] : [escapeRegExp(bare)];
  const hostForms = `(?:${forms.join('|')})`;
  const defaultPort = protocol === 'https:' ? '443' : '80';
  const alternatives = [
    String.raw`(?:\/\/|\\\\|\/\\|\\\/|@)${hostForms}${AFTER_HOST}`,
    String.raw`(?:^|[^a-z0-9._-])${hostForms}\.?:(?:${escapeRegExp(port || defaultPort)})(?![0-9])`,
  ];
  if (isIpv6 || IPV4.test(bare)) alternatives.push(String.raw`(?:^|[^a-z0-9._:-])${hostForms}(?![a-z0-9_-])(?!\.[a-z0-9_-])`);
  return alternatives;
}

/** One pattern for every upstream the options name (see hostAlternatives), compiled once. */
function upstreamHostPattern(options: ResolvedOptions): RegExp {
  let pattern = hostPatterns.get(options);
  if (pattern) return pattern;
  const upstreams = new Map<string, URL>();
  for (const url of [options.upstream, ...options.routes.table.map((route) => route.upstream)]) upstreams.set(url.host, url);
  pattern = new RegExp([...upstreams.values()].flatMap(hostAlternatives).join('|'), 'i');
  hostPatterns.set(options, pattern);
  return pattern;
}

/** A value that still names the upstream (see upstreamHostPattern), tabs and newlines ignored as URL parsers do. */
function namesUpstreamHost(value: string, options: ResolvedOptions): boolean {
  const text = value.replace(URL_IGNORED, '');
  // Percent-encoded too (`api%2Einternal`, `10%2E0%2E0%2E5`): URL parsers decode a host before using it.
  const decoded = text.replace(/%([0-9a-f]{2})/gi, (escape, hex: string) => {
    const code = parseInt(hex, 16);
    return code >= 0x21 && code < 0x7f ? String.fromCharCode(code) : escape;
  });
  const pattern = upstreamHostPattern(options);
  return pattern.test(text) || (decoded !== text && pattern.test(decoded));
}

const URL_HEADERS = ['location', 'content-location', 'refresh', 'link'] as const;

/**
 * Rewrites (or drops) the response headers that can carry an upstream URL: SECURITY.md's promise that
 * the upstream's address never reaches a client. Whatever a header still says of the upstream's host
 * after the rewrite (an `anchor=` parameter, two headers Node joined into one) drops it.
 */
export function rewriteUpstreamUrls(headers: OutgoingHttpHeaders, options: ResolvedOptions, route?: ResolvedRoute): void {
  for (const name of URL_HEADERS) {
    const value = headers[name];
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(', ') : String(value);
    const mapped =
      name === 'link'
        ? toClientLinks(text, options, route)
        : name === 'refresh'
          ? toClientRefresh(text, options, route)
          : toClientUrl(text, options, route);
    if (mapped === undefined || namesUpstreamHost(mapped, options)) delete headers[name];
    else headers[name] = mapped;
  }
  // Any other header naming the upstream (an `X-Upstream-Url`, a `Via` with its address) has no mapping
  // to offer: it is dropped. (A bare host name that is not an IP address is too common a word to look for.)
  for (const name of Object.keys(headers)) {
    if ((URL_HEADERS as readonly string[]).includes(name)) continue;
    const value = headers[name];
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(', ') : String(value);
    if (namesUpstreamHost(text, options)) {
      delete headers[name];
      options.logger.warn(`[next-bff-proxy] dropped the upstream response header "${name}": it named the upstream's address`);
    }
  }
}
