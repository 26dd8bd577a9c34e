import type { OutgoingHttpHeaders } from 'node:http';
import type { ResolvedOptions } from './options';

// `//host`, `\\host`, `/\host`, `\/host`: browsers read a backslash as a slash in http(s) URLs.
const NETWORK_PATH = /^[/\\]{2}/;
const SCHEME = /^[a-z][a-z0-9+.-]*:/i;
const URL_IGNORED = /[\t\n\r]/g;

/**
 * Where an upstream URL is in the app: API_URL's base path becomes the route prefix
 * (`http://10.0.0.5/v1/items/5` → `/api/items/5`). `undefined`: a URL on the upstream's host (any
 * scheme, any port) that the proxy cannot reach, which is dropped rather than shown: it names an
 * internal address. URLs on other hosts (an identity provider's login page, say) and relative
 * references pass unchanged.
 */
export function toClientUrl(value: string, options: ResolvedOptions): string | undefined {
  // The WHATWG URL parser, as browsers run it, removes every tab and newline first: `ht\ttp://host`.
  const trimmed = value.replace(URL_IGNORED, '').trim();
  const absolute = SCHEME.test(trimmed) || NETWORK_PATH.test(trimmed);
  if (!absolute && !trimmed.startsWith('/') && !trimmed.startsWith('\\')) return value;
  let url: URL;
  try {
    url = new URL(trimmed, options.upstream);
  } catch {
    return absolute ? undefined : value;
  }
  if (absolute && url.hostname !== options.upstream.hostname) return value;
  // On the upstream's host, whatever the scheme and port: an upstream told `X-Forwarded-Proto: https`
  // builds `https://` URLs to itself.
  const base = options.upstreamBasePath;
  if (url.pathname !== base && !url.pathname.startsWith(`${base}/`)) return absolute ? undefined : value;
  return `${options.pathPrefix}${url.pathname.slice(base.length) || '/'}${url.search}${url.hash}`;
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
function toClientLinks(value: string, options: ResolvedOptions): string | undefined {
  const kept: string[] = [];
  for (const element of linkElements(value)) {
    let lost = false;
    const rewritten = element.replace(/<([^>]*)>/g, (_, url: string) => {
      const mapped = toClientUrl(url, options);
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
function toClientRefresh(value: string, options: ResolvedOptions): string | undefined {
  const match = /^(\s*\d*(?:\.[\d.]*)?)([\s;,]*(?:url\s*=\s*)?)(.*)$/is.exec(value);
  if (!match) return undefined;
  let target = (match[3] ?? '').trim();
  const quote = target[0] === '"' || target[0] === "'" ? target[0] : '';
  if (quote) target = target.slice(1, target.indexOf(quote, 1) === -1 ? undefined : target.indexOf(quote, 1));
  if (target === '') return value;
  const mapped = toClientUrl(target, options);
  return mapped === undefined ? undefined : `${match[1] ?? ''}; url=${mapped}`;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

// What may follow a host name in a header value without making it another name (`api` in `api.example.org`,
// `api-auth`, `myapi` is not the upstream `api`).
const AFTER_HOST = String.raw`(?=$|[:/?#\\\s,;"'<>)\]])`;

// One pattern per upstream (options are resolved once): the tests below, compiled once.
const hostPatterns = new WeakMap<ResolvedOptions, RegExp>();

/**
 * The forms in which a header value names the upstream: as a URL's authority (`//host`, `\\host`, `/\host`,
 * `\/host`, `user@host`), as `host:port` (its port, or the scheme's default when API_URL has none), and, for
 * an IP address, the address alone (`Via: 1.1 10.0.0.5`). Each with a boundary after the host.
 */
function upstreamHostPattern(options: ResolvedOptions): RegExp {
  let pattern = hostPatterns.get(options);
  if (pattern) return pattern;
  const { hostname, protocol, port } = options.upstream;
  const bare = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  const isIpv6 = bare.includes(':');
  const forms = isIpv6 ? [`\\[${escapeRegExp(bare)}\\]`, escapeRegExp(bare)] : [escapeRegExp(bare)];
  const hostForms = `(?:${forms.join('|')})`;
  const defaultPort = protocol === 'https:' ? '443' : '80';
  const alternatives = [
    String.raw`(?:\/\/|\\\\|\/\\|\\\/|@)${hostForms}${AFTER_HOST}`,
    String.raw`(?:^|[^a-z0-9._-])${hostForms}:(?:${escapeRegExp(port || defaultPort)})(?![0-9])`,
  ];
  if (isIpv6 || IPV4.test(bare)) alternatives.push(String.raw`(?:^|[^a-z0-9._:-])${hostForms}(?![a-z0-9._-])`);
  pattern = new RegExp(alternatives.join('|'), 'i');
  hostPatterns.set(options, pattern);
  return pattern;
}

/** A value that still names the upstream (see upstreamHostPattern), tabs and newlines ignored as URL parsers do. */
function namesUpstreamHost(value: string, options: ResolvedOptions): boolean {
  return upstreamHostPattern(options).test(value.replace(URL_IGNORED, ''));
}

const URL_HEADERS = ['location', 'content-location', 'refresh', 'link'] as const;

/**
 * Rewrites (or drops) the response headers that can carry an upstream URL: SECURITY.md's promise that
 * the upstream's address never reaches a client. Whatever a header still says of the upstream's host
 * after the rewrite (an `anchor=` parameter, two headers Node joined into one) drops it.
 */
export function rewriteUpstreamUrls(headers: OutgoingHttpHeaders, options: ResolvedOptions): void {
  for (const name of URL_HEADERS) {
    const value = headers[name];
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(', ') : String(value);
    const mapped =
      name === 'link' ? toClientLinks(text, options) : name === 'refresh' ? toClientRefresh(text, options) : toClientUrl(text, options);
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
