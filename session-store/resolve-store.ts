import { ProxyConfigError } from '../proxy/config-error';
import { defaultOptions, type ProxyLogger, type ResolvedSessionStore, type SessionStoreOptions } from '../proxy/options';
import { createRedisStore } from './redis-store';
import { parseSealingKeys } from './sealed-value';
import type { SessionStore } from './types';

// One store per Redis URL, key prefix and key list in the process, on globalThis: Next bundles the
// Pages route, the route handlers and the pages apart, and they must share one connection.
const STORES = Symbol.for('next-bff-proxy.session-stores');

function sharedStore(id: string, make: () => SessionStore): SessionStore {
  const scope = globalThis as { [STORES]?: Map<string, SessionStore> };
  const stores = (scope[STORES] ??= new Map());
  let store = stores.get(id);
  if (store === undefined) {
    store = make();
    stores.set(id, store);
  }
  return store;
}

/** Closes every store this process opened (tests; a server's shutdown). The next use opens them again. */
export async function closeSessionStores(): Promise<void> {
  const scope = globalThis as { [STORES]?: Map<string, SessionStore> };
  const stores = [...(scope[STORES]?.values() ?? [])];
  scope[STORES]?.clear();
  await Promise.all(stores.map((store) => store.close?.()));
}

function checkSeconds(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 60)
    throw new ProxyConfigError(`${name} must be a whole number of seconds, at least 60, got ${value}`);
  return value;
}

/** The session store the options (or SESSION_STORE_URL) ask for, or undefined for cookie sessions. */
export function resolveSessionStore(
  option: false | SessionStoreOptions | undefined,
  logger: ProxyLogger,
  lockTtlMs: number,
): ResolvedSessionStore | undefined {
  if (option === false) return undefined;
  const envUrl = process.env.SESSION_STORE_URL || undefined;
  if (option === undefined && envUrl === undefined) return undefined;
  const settings = { ...defaultOptions.sessionStore, ...option };
  const url = settings.url ?? envUrl;
  if (settings.store === undefined) {
    if (url === undefined) throw new ProxyConfigError('sessionStore needs a url (or SESSION_STORE_URL) or a store');
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ProxyConfigError('SESSION_STORE_URL (sessionStore.url) is not a valid URL: expected e.g. redis://127.0.0.1:6379');
    }
    if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
      throw new ProxyConfigError('SESSION_STORE_URL (sessionStore.url) must start with redis:// or rediss://');
    }
  } else if (typeof settings.store.get !== 'function' || typeof settings.store.lock !== 'function') {
    throw new ProxyConfigError(
      'sessionStore.store must implement the SessionStore interface (get, set, update, delete, keysOfUser, deleteUser, lock)',
    );
  }
  if (!Number.isFinite(settings.timeoutMs) || settings.timeoutMs <= 0) {
    throw new ProxyConfigError(`sessionStore.timeoutMs must be a positive number, got ${settings.timeoutMs}`);
  }
  if (settings.keyPrefix.length === 0 || /[\s]/.test(settings.keyPrefix))
    throw new ProxyConfigError('sessionStore.keyPrefix must be non-empty, without spaces');
  const keyTexts = settings.encryptionKeys ?? (process.env.SESSION_STORE_KEYS ? process.env.SESSION_STORE_KEYS.split(',') : []);
  let sealingKeys;
  try {
    sealingKeys = parseSealingKeys(keyTexts, 'SESSION_STORE_KEYS (sessionStore.encryptionKeys)');
  } catch (err) {
    throw new ProxyConfigError((err as Error).message);
  }
  const idleTimeoutSeconds = checkSeconds('sessionStore.idleTimeoutSeconds', settings.idleTimeoutSeconds);
  const absoluteTimeoutSeconds = checkSeconds('sessionStore.absoluteTimeoutSeconds', settings.absoluteTimeoutSeconds);
  const given = settings.store;
  const storeId = `${url ?? ''} ${settings.keyPrefix} ${sealingKeys.map((key) => key.id).join(',')}`;
  return {
    get: () =>
      given ??
      sharedStore(storeId, () =>
        createRedisStore({ url: url ?? '', keyPrefix: settings.keyPrefix, timeoutMs: settings.timeoutMs, sealingKeys, logger }),
      ),
    idleTimeoutSeconds,
    absoluteTimeoutSeconds,
    lockTtlMs,
  };
}
