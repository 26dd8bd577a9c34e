import type { ProxyErrorCode } from './errors';
import type { ProxyLogger } from './options';
import { logHookFailure, type HookRequest, type ProxyHooks } from './hooks';

/** What the hooks are told of one request; filled in as the proxy learns it (the path once read, the route once matched). */
export interface TrackedRequest {
  method: string;
  path: string;
  route: string | undefined;
}

interface Tracking {
  request: TrackedRequest;
  hooks: ProxyHooks;
  logger: ProxyLogger;
  errorReported: boolean;
}

// Keyed by the response: the one object every answer of a request goes through (sendError included),
// and gone with it. Filled only when `on.proxyRes` or `on.error` is set.
const tracked = new WeakMap<object, Tracking>();

export function trackRequest(res: object, hooks: ProxyHooks, logger: ProxyLogger, request: TrackedRequest): TrackedRequest {
  tracked.set(res, { request, hooks, logger, errorReported: false });
  return request;
}

/** The request a response answers, as the hooks see it. */
export function trackedRequest(res: object): HookRequest {
  return tracked.get(res)?.request ?? { method: 'GET', path: '', route: undefined };
}

/**
 * Tells `on.error` that the proxy answered `res` with an error: once per request, with nothing from
 * inside (no token, no address, no upstream message). What the hook throws is logged and swallowed.
 */
export function reportProxyError(res: object, code: ProxyErrorCode, status: number): void {
  const tracking = tracked.get(res);
  const hook = tracking?.hooks.error;
  if (!tracking || !hook || tracking.errorReported) return;
  tracking.errorReported = true;
  const { method, path } = tracking.request;
  const fail = (err: unknown) => logHookFailure(tracking.logger, 'error', err);
  try {
    const result = hook({ code, status, method, path });
    if (result !== undefined) Promise.resolve(result).catch(fail);
  } catch (err) {
    fail(err);
  }
}
