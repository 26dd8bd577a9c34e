// The App Router entry (`next-bff-proxy/app`): the catch-all route handlers, the server helpers for
// server components and server actions, and the proxy.ts session refresh.
export { createRouteHandlers, type RouteHandler, type RouteHandlers } from './route-handlers';
export { getServerApi, getSession, requireSession, redirectToLogin, type AppServerApi, type RequireSessionOptions } from './server';
export { login, logout, type LoginResult } from './actions';
export { createSessionProxy, type SessionProxy } from './session-proxy';
export { ServerApiError, type ServerApiErrorCode } from '../server-lib/server-api-error';
export type { ServerApiResponse } from '../server-lib/server-api';
export type { SessionInfo } from '../proxy/session-endpoint';
export { defaultOptions, type ApiProxyOptions, type ProxyLogger, type SessionStoreOptions } from '../proxy/options';
export { ProxyConfigError } from '../proxy/resolve-options';
export type { ProxyErrorCode } from '../proxy/errors';
export type { HookHeaders, HookRequest, ProxyErrorContext, ProxyHooks, ProxyReqContext, ProxyResContext } from '../proxy/hooks';
export type { ProxyRoute, RouteTokenPolicy } from '../proxy/routes';
export { endUserSessions } from '../server-lib/end-user-sessions';
export { SessionStoreError, type SessionLock, type SessionStore, type StoredSession } from '../session-store/types';
