import type { OutgoingHttpHeaders } from 'node:http';
import type { ResolvedOAuth2 } from './options';

/** A form body (application/x-www-form-urlencoded, as RFC 6749 §4.3.2, §6 and RFC 7009 §2.1 ask). */
export function formBody(fields: Record<string, string | undefined>): string {
  const form = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) form.append(name, value);
  return form.toString();
}

// RFC 6749 §2.3.1: for HTTP Basic, the client id and secret are each form-urlencoded first, then joined
// with ':' and base64-encoded. (A secret with ':' or '%' sent raw is read wrongly by a strict server.)
function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

/**
 * The request to an OAuth 2.0 endpoint (token or revocation): the form with the client's credentials
 * where `clientAuth` puts them, and the headers. The secret never goes anywhere else.
 */
export function oauth2Request(
  oauth2: ResolvedOAuth2,
  fields: Record<string, string | undefined>,
): { headers: OutgoingHttpHeaders; body: string } {
  const headers: OutgoingHttpHeaders = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
    'accept-encoding': 'identity',
  };
  const form = { ...fields };
  if (oauth2.clientAuth === 'client_secret_basic') {
    const credentials = `${formEncode(oauth2.clientId)}:${formEncode(oauth2.clientSecret ?? '')}`;
    headers.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
  } else {
    form.client_id = oauth2.clientId;
    if (oauth2.clientAuth === 'client_secret_post') form.client_secret = oauth2.clientSecret;
  }
  return { headers, body: formBody(form) };
}

/** RFC 6749 §5.2's error codes (and RFC 7009 §2.2.1's): anything else an upstream says is not repeated. */
const REGISTERED_ERRORS = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'unsupported_token_type',
]);

/** RFC 6749 §5.2 error codes that say the client (our configuration) is wrong, not the user's grant. */
const CLIENT_ERRORS = new Set(['invalid_client', 'unauthorized_client', 'unsupported_grant_type']);

/**
 * The `error` of an RFC 6749 §5.2 error answer, if the body is one and the code is a registered one:
 * an upstream's own words (which may echo what it was sent: a password, the client's credentials) are
 * never passed on or logged.
 */
export function readOAuthError(body: Buffer): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    const error = typeof parsed === 'object' && parsed !== null ? (parsed as { error?: unknown }).error : undefined;
    return typeof error === 'string' && REGISTERED_ERRORS.has(error) ? error : undefined;
  } catch {
    return undefined;
  }
}

/** What the client's own authentication puts on the wire (its secret, its Basic credentials): never to be echoed anywhere. */
export function clientSecrets(oauth2: ResolvedOAuth2): string[] {
  if (oauth2.clientSecret === undefined) return [];
  const basic = oauth2Request(oauth2, {}).headers.authorization;
  return [oauth2.clientSecret, ...(typeof basic === 'string' ? [basic.slice('Basic '.length)] : [])];
}

/** True when a token endpoint's refusal is about the client's credentials or grants: the proxy is misconfigured. */
export function isClientError(error: string | undefined): boolean {
  return error !== undefined && CLIENT_ERRORS.has(error);
}
