import type http from 'node:http';
import type { ApiProxyOptions, ResolvedOptions } from '../proxy/options';
import { resolveOptions, ProxyConfigError } from '../proxy/resolve-options';
import { sharedAgent } from '../proxy/upstream';
import { ServerApiError } from './server-api-error';

export interface UpstreamContext {
  options: ResolvedOptions;
  agent: http.Agent;
}

// One resolved configuration and one keep-alive agent per options object, made on first use: pages
// share connections the way the proxy route does, and options are validated once.
const contexts = new WeakMap<ApiProxyOptions, UpstreamContext | ProxyConfigError>();
const DEFAULT_OPTIONS: ApiProxyOptions = {};

/** The resolved options and agent for `options`; a configuration mistake is a ServerApiError('config_error'). */
export function getUpstreamContext(options: ApiProxyOptions = DEFAULT_OPTIONS): UpstreamContext {
  let context = contexts.get(options);
  if (context === undefined) {
    try {
      const resolved = resolveOptions(options);
      context = { options: resolved, agent: sharedAgent(resolved.upstream) };
    } catch (err) {
      if (!(err instanceof ProxyConfigError)) throw err;
      (options.logger ?? console).error(`[next-bff-proxy] config_error: ${err.message}`);
      context = err;
    }
    contexts.set(options, context);
  }
  if (context instanceof ProxyConfigError) throw new ServerApiError('config_error', 500);
  return context;
}
