/** The message an API error body carries (`{"error":{"message"}}` or `{"error":"..."}`), or a fallback. */
export async function readErrorMessage(res: Response, fallback: string): Promise<string> {
  try {
    const body = (await res.json()) as { error?: string | { message?: unknown } };
    if (typeof body.error === 'string') return body.error;
    if (typeof body.error?.message === 'string') return body.error.message;
  } catch {
    // not JSON: the fallback says enough
  }
  return fallback;
}

/**
 * fetch for the app's own /api routes: same-origin credentials, JSON in and out, and an `X-CSRF: 1`
 * header (a simple request cannot carry it cross-site), so the app also works when the proxy requires it.
 */
export function apiFetch(path: string, init: { method?: string; json?: unknown } = {}): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json', 'x-csrf': '1' };
  if (init.json !== undefined) headers['content-type'] = 'application/json';
  return fetch(path, {
    method: init.method ?? 'GET',
    credentials: 'same-origin',
    headers,
    body: init.json === undefined ? undefined : JSON.stringify(init.json),
  });
}
