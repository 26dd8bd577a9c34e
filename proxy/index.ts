// The Pages Router entry (`next-bff-proxy/proxy`): the route handler factory and its options.
export { createApiProxy, type ApiProxyHandler } from './create-api-proxy';
export { defaultOptions, type ApiProxyOptions, type ProxyLogger, type SessionStoreOptions } from './options';
export { ProxyConfigError } from './resolve-options';
export type { ProxyErrorCode } from './errors';
export type { HookHeaders, HookRequest, ProxyErrorContext, ProxyHooks, ProxyReqContext, ProxyResContext } from './hooks';
export type { ProxyRoute, RouteTokenPolicy } from './routes';
export type { SessionInfo } from './session-endpoint';
export { SessionStoreError, type SessionLock, type SessionStore, type StoredSession } from '../session-store/types';
