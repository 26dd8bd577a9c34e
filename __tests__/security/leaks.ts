import type { ProxyLogger } from '../../proxy/index';

/** The token appears in no response body (or header other than Set-Cookie) and in no log line. */
export function expectNoTokenLeak(
  token: string,
  logger: ProxyLogger & { lines: string[] },
  ...responses: Array<{ text?: string; body?: unknown; headers?: Record<string, unknown> }>
): void {
  for (const response of responses) {
    const text = response.text ?? (Buffer.isBuffer(response.body) ? response.body.toString() : JSON.stringify(response.body ?? ''));
    expect(text).not.toContain(token);
    for (const [name, value] of Object.entries(response.headers ?? {})) {
      if (name !== 'set-cookie') expect(String(value)).not.toContain(token);
    }
  }
  expect(logger.lines.join('\n')).not.toContain(token);
}
