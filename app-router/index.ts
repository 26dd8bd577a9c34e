// The App Router entry (`next-bff-proxy/app`).
export { createRouteHandlers, type RouteHandler, type RouteHandlers } from './route-handlers';
export { defaultOptions, type ApiProxyOptions, type ProxyLogger } from '../proxy/options';
export { ProxyConfigError } from '../proxy/resolve-options';
export type { ProxyErrorCode } from '../proxy/errors';
