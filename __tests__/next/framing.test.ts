import {
  attempt,
  EQUIVALENT_CASES,
  expectEquivalentCase,
  expectMatrixCase,
  expectOnlyTheVictimUpstream,
  expectOwnAnswer,
  expectRefusal,
  framingHeaders,
  MALFORMED_CASES,
  MATRIX,
  received,
  REFUSED_BY,
  runMatrixCase,
  runSingleRequest,
  sendVictimRequest,
  SETTLE_MS,
  VICTIM_TOKEN,
} from '../helpers/framing-cases';
import { buildNextApp, startNextApp, type NextApp } from '../helpers/next-app';
import { buildRequest, delay, hostOf, RawConnection } from '../helpers/raw-http';
import { startRecordingUpstream, type RecordingUpstream } from '../helpers/recording-upstream';

// The request-smuggling regression through the real route adapter (`pages/api/[...path].ts`) under
// `next build` + `next start`: Next's own HTTP server parses the client's bytes, the proxy forwards to a
// recording upstream (API_URL, no base path) over its pooled keep-alive connections.
const DIST = '.next-jest-framing';
let upstream: RecordingUpstream;
let app: NextApp;

beforeAll(async () => {
  upstream = await startRecordingUpstream();
  buildNextApp(DIST);
  app = await startNextApp(DIST, { API_URL: upstream.url });
}, 300_000);

afterAll(async () => {
  await app?.stop();
  await upstream?.close();
});

describe('request framing under next start', () => {
  it("the reported attack: a DELETE whose chunked body is an unfinished POST /notes does not capture the next user's request; the victim gets its own answer and the upstream never receives a /notes request", async () => {
    upstream.clear();
    // What the attacker wants the upstream to read as a request of its own, completed by the victim's bytes.
    const note = 'POST /notes HTTP/1.1\r\nHost: api\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 500\r\n\r\nnote=';
    const attacker = await RawConnection.open(app.url);
    try {
      attacker.write(
        buildRequest(hostOf(app.url), { method: 'DELETE', target: '/api/items/42', framing: 'chunked', body: note, chunkSizes: [16, 16] }),
      );
      const attackerAnswer = await attempt(attacker.readResponse({ timeoutMs: 2_000 }));
      const victim = await attempt(sendVictimRequest(app.url, 2_000));
      await delay(SETTLE_MS);

      const requests = [...upstream.requests];
      expect(requests.map((r) => `${r.method} ${r.url} ${r.state}`)).toEqual(['DELETE /items/42 complete', 'GET /me complete']);
      expect(requests.some((r) => r.url.startsWith('/notes'))).toBe(false);
      expect(upstream.parseErrors).toEqual([]);
      // The note stayed the DELETE's body, chunked as sent; the victim's token went only with its own request.
      expect(requests[0]?.body.toString('latin1')).toBe(note);
      expect(framingHeaders(requests[0])).toEqual({ 'transfer-encoding': 'chunked' });
      expect(requests.filter((r) => r.body.toString('latin1').includes(VICTIM_TOKEN))).toEqual([]);
      expect(requests[1]?.headers['auth-token']).toBe(VICTIM_TOKEN);
      expectOwnAnswer(received(attackerAnswer, "the attacker's DELETE"), requests[0], {
        method: 'DELETE',
        url: '/items/42',
        body: note,
        authToken: null,
      });
      expectOwnAnswer(received(victim, "the victim's request"), requests[1], {
        method: 'GET',
        url: '/me',
        body: '',
        authToken: VICTIM_TOKEN,
      });
    } finally {
      attacker.destroy();
    }
  });

  describe('every method × framing, the body being an unfinished POST /notes request', () => {
    it.each(MATRIX)(
      '%s with %s framing: one upstream request with the same body bytes and framing; then a victim connection and the same connection each get their own answer, and the upstream sees nothing else',
      async (method, framing) => {
        expectMatrixCase(await runMatrixCase(app.url, upstream, method, framing), method, framing);
      },
    );
  });

  describe('malformed framings', () => {
    it.each(MALFORMED_CASES.map((c) => [c.name, REFUSED_BY[c.next], c] as const))(
      '%s: refused by %s, the connection closed; the upstream receives nothing from it, the victim gets its own answer',
      async (_name, _by, malformed) => {
        const observed = await runSingleRequest(app.url, upstream, malformed.bytes(hostOf(app.url)));
        expectRefusal(observed.response, observed.closed, malformed.next);
        expectOnlyTheVictimUpstream(observed);
      },
    );

    it.each(EQUIVALENT_CASES.map((c) => [c.name, c] as const))(
      '%s: forwarded as one request with the body "hello", the connection kept open; the victim gets its own answer',
      async (_name, equivalent) => {
        expectEquivalentCase(
          await runSingleRequest(app.url, upstream, equivalent.bytes(hostOf(app.url)), { closeWithinMs: 100 }),
          equivalent,
        );
      },
    );
  });
});
