import type { ServerResponse } from 'node:http';

/** Resolves on the response's 'close': finished, or abandoned by the client (one listener: Next itself puts many on `res`). */
export function whenClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    if (res.closed) resolve();
    else res.once('close', () => resolve());
  });
}
