import type { ResolvedOptions } from './options';
import type { UpstreamCall } from './upstream-call';
import { oauth2Request } from './oauth2';

type RefreshOptions = NonNullable<ResolvedOptions['refresh']>;

/** The headers and body that present a refresh token, in the upstream's dialect. */
function presentRefreshToken(
  options: ResolvedOptions,
  refresh: RefreshOptions,
  refreshToken: string,
): Pick<UpstreamCall, 'headers' | 'body'> {
  const accept = { accept: 'application/json', 'accept-encoding': 'identity' };
  switch (refresh.dialect) {
    case 'oauth2':
      // RFC 6749 §6: no scope asked, so the new token has the scope the user granted.
      return options.oauth2 ? oauth2Request(options.oauth2, { grant_type: 'refresh_token', refresh_token: refreshToken }) : {};
    case 'cookie':
      return { headers: { ...accept, cookie: `${refresh.upstreamCookieName}=${refreshToken}` } };
    case 'bearer':
      return { headers: { ...accept, authorization: `Bearer ${refreshToken}` } };
    case 'json':
      return {
        headers: { ...accept, 'content-type': 'application/json' },
        body: JSON.stringify({ [refresh.bodyField]: refreshToken }),
      };
  }
}

/** The upstream call that exchanges `refreshToken` for new tokens, as `refresh.dialect`, `path` and `method` say. */
export function buildRefreshCall(options: ResolvedOptions, refresh: RefreshOptions, refreshToken: string): UpstreamCall {
  const { headers, body } = presentRefreshToken(options, refresh, refreshToken);
  const hasBody = refresh.method !== 'GET';
  return {
    method: refresh.method,
    path: refresh.endpoint.path,
    target: refresh.endpoint.target,
    headers,
    // A POST without a body still says so (Content-Length: 0); a GET carries none.
    body: hasBody ? (body ?? '') : undefined,
    maxResponseBytes: options.login.maxResponseBytes,
  };
}
