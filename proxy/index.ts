// The Pages Router entry (`next-bff-proxy/proxy`): the route handler factory and its options.
export { createApiProxy, type ApiProxyHandler } from './create-api-proxy';
export { defaultOptions, type ApiProxyOptions, type ProxyLogger } from './options';
export { ProxyConfigError } from './resolve-options';
export type { ProxyErrorCode } from './errors';
export type { SessionInfo } from './session-endpoint';
