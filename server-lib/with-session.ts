import type { GetServerSideProps, GetServerSidePropsContext, GetServerSidePropsResult } from 'next';
import type { ParsedUrlQuery } from 'node:querystring';
import type { ApiProxyOptions } from '../proxy/options';
import { createServerApi, type ServerApi } from './server-api';
import { ServerApiError } from './server-api-error';
import { getUpstreamContext } from './upstream-context';
import { clearSession, pageCarrier } from './render-session';

export interface WithSessionOptions {
  /** The proxy's options (the same object given to `createApiProxy`). @default the defaults and env */
  apiOptions?: ApiProxyOptions;
  /** Where a visitor without a session is sent; `?next=<current path>` is added. @default '/login' */
  loginPath?: string;
}

export type SessionContext<Q extends ParsedUrlQuery = ParsedUrlQuery> = GetServerSidePropsContext<Q> & { api: ServerApi };

/** The redirect to the login page, carrying the current path so the login can come back to it. */
export function redirectToLogin(resolvedUrl: string, loginPath = '/login'): { redirect: { destination: string; permanent: false } } {
  return { redirect: { destination: `${loginPath}?next=${encodeURIComponent(resolvedUrl)}`, permanent: false } };
}

/**
 * Wraps getServerSideProps for a page that needs a session: without a session cookie, or when the
 * API answers 401 (the stale cookie is then cleared), the visitor is redirected to the login page
 * with `?next=<current path>`. Any other API failure is thrown as a ServerApiError, which Next shows
 * as its error page. The handler gets `ctx.api`; the token itself never reaches it or the props.
 */
export function withSession<P extends Record<string, unknown>, Q extends ParsedUrlQuery = ParsedUrlQuery>(
  handler: (ctx: SessionContext<Q>) => Promise<GetServerSidePropsResult<P>>,
  options: WithSessionOptions = {},
): GetServerSideProps<P, Q> {
  const { loginPath = '/login', apiOptions } = options;
  return async (ctx) => {
    const api = createServerApi(ctx, apiOptions);
    if (!api.hasSession) return redirectToLogin(ctx.resolvedUrl, loginPath);
    try {
      // A session that cannot be refreshed is sent to the login page before the page's own calls.
      if ((await api.sessionToken()) === undefined) return redirectToLogin(ctx.resolvedUrl, loginPath);
      return await handler({ ...ctx, api });
    } catch (err) {
      if (err instanceof ServerApiError && err.code === 'unauthorized') {
        if (err.sessionEnded) clearSession(pageCarrier(ctx), getUpstreamContext(apiOptions).options);
        return redirectToLogin(ctx.resolvedUrl, loginPath);
      }
      throw err;
    }
  };
}
