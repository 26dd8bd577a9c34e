// The Pages Router entry (`next-bff-proxy/pages`): the catch-all API route and the getServerSideProps
// helpers in one import. (`next-bff-proxy/proxy` and `next-bff-proxy/server-lib` stay, for apps that
// import them already.)
export { createApiProxy, type ApiProxyHandler } from '../proxy/create-api-proxy';
export { createServerApi, apiPath, type ServerApi, type ServerApiResponse } from '../server-lib/server-api';
export { withSession, redirectToLogin, type SessionContext, type WithSessionOptions } from '../server-lib/with-session';
export { getSession } from '../server-lib/get-session';
export { ServerApiError, type ServerApiErrorCode } from '../server-lib/server-api-error';
export type { SessionInfo } from '../proxy/session-endpoint';
export { defaultOptions, type ApiProxyOptions, type ProxyLogger, type SessionStoreOptions } from '../proxy/options';
export { ProxyConfigError } from '../proxy/resolve-options';
export type { ProxyErrorCode } from '../proxy/errors';
export type { HookHeaders, HookRequest, ProxyErrorContext, ProxyHooks, ProxyReqContext, ProxyResContext } from '../proxy/hooks';
export type { ProxyRoute, RouteTokenPolicy } from '../proxy/routes';
export { endUserSessions } from '../server-lib/end-user-sessions';
export { SessionStoreError, type SessionLock, type SessionStore, type StoredSession } from '../session-store/types';
