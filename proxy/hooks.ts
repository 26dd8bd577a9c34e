import { validateHeaderValue } from 'node:http';
import type { ProxyErrorCode } from './errors';
import type { ProxyLogger } from './options';
import { ProxyConfigError } from './config-error';
import { logThrottled } from './log-throttle';

/** Headers as a hook sees and writes them: lower-case names. */
export type HookHeaders = Record<string, string | string[] | number | undefined>;

/** What every hook is told of the request. */
export interface HookRequest {
  readonly method: string;
  /** The path after the route prefix, with its query, as the client sent it: `/billing/invoices?x=1`. */
  readonly path: string;
  /** The route table's `pathPrefix` that matched, or undefined (API_URL's own paths, the login). */
  readonly route: string | undefined;
}

export interface ProxyReqContext extends HookRequest {
  /**
   * The headers about to go upstream. Never the session: no `Cookie`, no `Authorization`, no
   * `auth-token`. Whatever is set here in their place, or in `Host` or a framing or hop-by-hop header,
   * is put back as the proxy had it; the token is added after the hook.
   */
  headers: HookHeaders;
}

export interface ProxyResContext extends HookRequest {
  /** The upstream's status; may be set to another whole number from 200 to 599. */
  status: number;
  /**
   * The headers about to go to the client, already filtered. A `Set-Cookie` naming the proxy's session
   * or refresh cookie is dropped, and framing headers are put back as the proxy had them.
   */
  headers: HookHeaders;
}

export interface ProxyErrorContext {
  readonly code: ProxyErrorCode;
  readonly status: number;
  readonly method: string;
  /** As in HookRequest; for a target refused before it could be read (`bad_path`, `not_found`), as received. */
  readonly path: string;
}

/** http-proxy-middleware's `on: { proxyReq, proxyRes, error }`, for the app's own headers, logs and metrics. */
export interface ProxyHooks {
  /** Before the upstream request of a proxied request, a login, or a server-lib call. */
  proxyReq?: (ctx: ProxyReqContext) => void | Promise<void>;
  /** When the upstream answer's head arrives, before anything is written (for a login: its headers only). */
  proxyRes?: (ctx: ProxyResContext) => void | Promise<void>;
  /** When the proxy answers a request with one of its JSON errors; at most once per request. Errors it throws are logged and ignored. */
  error?: (ctx: ProxyErrorContext) => void | Promise<void>;
}

const HOOK_NAMES = ['proxyReq', 'proxyRes', 'error'] as const;

/** `on`, checked: an object whose present members are functions. */
export function resolveHooks(on: unknown): ProxyHooks {
  if (on === undefined) return {};
  if (typeof on !== 'object' || on === null || Array.isArray(on)) {
    throw new ProxyConfigError('on must be an object such as { proxyReq, proxyRes, error } of functions');
  }
  const hooks: ProxyHooks = {};
  for (const [name, hook] of Object.entries(on)) {
    if (!(HOOK_NAMES as readonly string[]).includes(name)) {
      throw new ProxyConfigError(`on.${name} is not a hook: expected proxyReq, proxyRes or error`);
    }
    if (hook === undefined) continue;
    if (typeof hook !== 'function') throw new ProxyConfigError(`on.${name} must be a function`);
    Object.assign(hooks, { [name]: hook });
  }
  return hooks;
}

/** The log line for a hook that threw: its error's name only, as its message could hold anything (a token, an address). */
/** An error's class name for a log line, whatever the thrown value is (a getter that throws included). */
export function errorName(err: unknown): string {
  try {
    const name = err instanceof Error ? err.name : typeof err;
    return typeof name === 'string' && /^[\w$.-]{1,64}$/.test(name) ? name : 'Error';
  } catch {
    return 'unnameable';
  }
}

/**
 * Runs a hook, bounded by `timeoutMs` (a hook that never settles must not hold the client's and the
 * upstream's sockets forever). Resolves true when it finished, false when it threw, rejected or timed out
 * (logged).
 */
export async function settleHook(
  logger: ProxyLogger,
  name: 'proxyReq' | 'proxyRes',
  timeoutMs: number,
  run: () => unknown,
): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const outcome = await Promise.race([Promise.resolve().then(run), timeout]);
    if (outcome === 'timeout') {
      logger.error(`[next-bff-proxy] on.${name} hook failed: did not settle within timeoutMs`);
      return false;
    }
    return true;
  } catch (err) {
    logHookFailure(logger, name, err);
    return false;
  } finally {
    clearTimeout(timer);
  }
}

export function logHookFailure(logger: ProxyLogger, hook: 'proxyReq' | 'proxyRes' | 'error', err: unknown): void {
  const message = `[next-bff-proxy] on.${hook} hook failed: ${errorName(err)}`;
  // The error hook runs on every refusal a client can provoke: its failures must not flood the log.
  if (hook === 'error') logThrottled(logger, 'error', 'hook-error', message);
  else logger.error(message);
}

// RFC 9110 §5.1: a field name is a token.
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function isSendable(name: string, value: string): boolean {
  try {
    // Node's own rule (no CR, LF, NUL or other control character): what it would throw on later, mid-request.
    validateHeaderValue(name, value);
    return true;
  } catch {
    return false;
  }
}

/** The value as Node sends it, or undefined when it cannot be sent. */
function sendableValue(name: string, value: unknown): string | string[] | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'string') return isSendable(name, value) ? value : undefined;
  if (Array.isArray(value) && value.every((item) => typeof item === 'string' && isSendable(name, item))) return value as string[];
  return undefined;
}

/**
 * What a hook wrote, made safe to send: names lower-cased and checked, values checked (one that cannot be
 * sent is dropped with a warning, never thrown mid-request), and the fields `isOwned` names replaced by
 * `kept`, the proxy's own values (absent there: absent here).
 */
export function sanitizeHookHeaders(
  hook: 'proxyReq' | 'proxyRes',
  written: unknown,
  kept: HookHeaders,
  isOwned: (name: string) => boolean,
  logger: ProxyLogger,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const entries = typeof written === 'object' && written !== null ? Object.entries(written) : [];
  for (const [rawName, value] of entries) {
    if (value === undefined) continue;
    const name = rawName.toLowerCase();
    if (isOwned(name)) continue;
    if (!FIELD_NAME.test(name)) {
      logThrottled(logger, 'warn', `hook-${hook}-name`, `[next-bff-proxy] on.${hook}: dropped a header whose name is not a token`);
      continue;
    }
    const sendable = sendableValue(name, value);
    if (sendable === undefined) {
      logThrottled(
        logger,
        'warn',
        `hook-${hook}-value`,
        `[next-bff-proxy] on.${hook}: dropped the header "${name}": its value cannot be sent`,
      );
      continue;
    }
    out[name] = sendable;
  }
  for (const [name, value] of Object.entries(kept)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value : String(value);
  }
  return out;
}

/** The fields of `headers` that `isOwned` names: what the proxy puts back after a hook. */
export function pickOwned(headers: HookHeaders, isOwned: (name: string) => boolean): HookHeaders {
  const kept: HookHeaders = {};
  for (const name of Object.keys(headers)) if (isOwned(name)) kept[name] = headers[name];
  return kept;
}
