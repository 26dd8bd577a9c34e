import http from 'node:http';

/**
 * A text/event-stream answer must reach the client event by event: the upstream here sends its first
 * event and then waits until the client has it (bounded) before sending the rest. A proxy that
 * buffered would deliver nothing until the upstream gave up.
 */
export async function expectEventByEvent(
  url: string,
  signal: { clientGotFirst: () => void; upstreamDone: () => boolean },
  headers: http.OutgoingHttpHeaders = {},
) {
  const seen = await new Promise<{ events: string[]; upstreamDoneAtFirst: boolean; encoding: string | undefined }>((resolve, reject) => {
    http
      .get(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
        let buffer = '';
        const events: string[] = [];
        let upstreamDoneAtFirst = true;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let end;
          while ((end = buffer.indexOf('\n\n')) !== -1) {
            events.push(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
            if (events.length === 1) {
              upstreamDoneAtFirst = signal.upstreamDone();
              signal.clientGotFirst();
            }
          }
        });
        res.on('end', () => resolve({ events, upstreamDoneAtFirst, encoding: res.headers['content-encoding'] }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
  expect(seen.events).toEqual(['data: first', 'data: second']);
  expect(seen.upstreamDoneAtFirst).toBe(false);
  expect(seen.encoding).toBeUndefined();
}

/** The upstream side: one event, then wait (at most 3 s) for the client to have it, then the rest. */
export function eventStreamUpstream() {
  let release!: () => void;
  let done = false;
  const clientHasFirst = new Promise<void>((resolve) => (release = resolve));
  const handler: http.RequestListener = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write('data: first\n\n');
    const timeout = setTimeout(release, 3_000);
    void clientHasFirst.then(() => {
      clearTimeout(timeout);
      res.end('data: second\n\n');
      done = true;
    });
  };
  return { handler, signal: { clientGotFirst: () => release(), upstreamDone: () => done } };
}
