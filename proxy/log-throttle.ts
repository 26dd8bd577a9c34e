import type { ProxyLogger } from './options';

const WINDOW_MS = 10_000;
const seen = new Map<string, { until: number; suppressed: number }>();

/**
 * Logs a line at most once per 10 s per kind, saying how many like it were held back. A client that
 * can make the proxy log (junk refresh cookies, a flood of refusals) must not be able to flood the log.
 */
export function logThrottled(logger: ProxyLogger, level: 'warn' | 'error', kind: string, message: string): void {
  const now = Date.now();
  const entry = seen.get(kind);
  if (entry && entry.until > now) {
    entry.suppressed += 1;
    return;
  }
  const held = entry && entry.suppressed > 0 ? ` (and ${entry.suppressed} more like it in the previous ${WINDOW_MS / 1000} s)` : '';
  seen.set(kind, { until: now + WINDOW_MS, suppressed: 0 });
  logger[level](message + held);
}
