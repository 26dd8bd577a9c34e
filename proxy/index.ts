// The Pages Router entry (`next-bff-proxy/proxy`): the route handler factory and its options.
export { createApiProxy, type ApiProxyHandler } from './create-api-proxy';
export { defaultOptions, type ApiProxyOptions, type ProxyLogger } from './options';
export { ProxyConfigError } from './resolve-options';
export type { ProxyErrorCode } from './errors';
export type { HookHeaders, HookRequest, ProxyErrorContext, ProxyHooks, ProxyReqContext, ProxyResContext } from './hooks';
export type { ProxyRoute, RouteTokenPolicy } from './routes';
export type { SessionInfo } from './session-endpoint';
