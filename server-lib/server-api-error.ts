export type ServerApiErrorCode =
  | 'unauthorized'
  | 'upstream_error'
  | 'upstream_unavailable'
  | 'upstream_timeout'
  | 'bad_upstream_response'
  | 'refresh_unavailable'
  | 'session_store_unavailable'
  | 'bad_path'
  | 'csrf'
  | 'config_error'
  | 'internal_error';

const MESSAGE: Record<ServerApiErrorCode, string> = {
  unauthorized: 'The API did not accept the session.',
  upstream_error: 'The API answered with an error.',
  upstream_unavailable: 'The API is unavailable.',
  upstream_timeout: 'The API did not answer in time.',
  bad_upstream_response: 'The API sent a response that cannot be read.',
  refresh_unavailable: 'The session cannot be renewed right now: try again shortly.',
  session_store_unavailable: 'Sessions are unavailable right now: try again shortly.',
  bad_path: 'The API path cannot be built from this input.',
  csrf: 'The request was refused as a possible cross-site request forgery.',
  config_error: 'The API client is not configured.',
  internal_error: 'Internal error.',
};

/**
 * What a server-side API call throws: a stable `code`, the upstream `status` when there was one, and a
 * generic message. Upstream bodies, addresses and tokens are never in it, so nothing of them can reach
 * the HTML of Next's error page.
 */
export class ServerApiError extends Error {
  /**
   * For `unauthorized`: true when the session is over (no refresh token, or the upstream refused it) and
   * its cookies are being cleared; false when a still-valid refresh token was kept.
   */
  readonly sessionEnded: boolean;

  constructor(
    readonly code: ServerApiErrorCode,
    /** The upstream's HTTP status, or 502/503/504/500 when the call itself failed. */
    readonly status: number,
    details: { sessionEnded?: boolean } = {},
  ) {
    super(MESSAGE[code]);
    this.name = 'ServerApiError';
    this.sessionEnded = details.sessionEnded ?? code === 'unauthorized';
  }

  /** A call that got no usable answer: 504 for a timeout, 503 for a refresh to retry, 502 otherwise (as the proxy route answers). */
  static forFailedCall(
    code: 'upstream_unavailable' | 'upstream_timeout' | 'bad_upstream_response' | 'refresh_unavailable',
  ): ServerApiError {
    return new ServerApiError(code, code === 'upstream_timeout' ? 504 : code === 'refresh_unavailable' ? 503 : 502);
  }
}
