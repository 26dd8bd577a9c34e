export { createApiProxy, type ApiProxyHandler } from './create-api-proxy';
export { defaultOptions, resolveOptions, ProxyConfigError, type ApiProxyOptions, type ResolvedOptions, type ProxyLogger } from './options';
export { readSessionToken, sessionCookie, clearedSessionCookie, appendSetCookie } from './session-cookie';
export { callUpstream, UpstreamCallError, type UpstreamCall, type UpstreamReply } from './upstream-call';
export { upstreamAuthHeader } from './headers';
export { createAgent } from './upstream';
export { parseProxiedTarget } from './upstream-path';
export type { ProxyErrorCode } from './errors';
