import fc from 'fast-check';
import {
  attempt,
  EQUIVALENT_CASES,
  expectEquivalentCase,
  expectedUpstreamFraming,
  expectMatrixCase,
  expectOnlyTheVictimUpstream,
  expectOwnAnswer,
  expectRefusal,
  followUpRequest,
  framingHeaders,
  MALFORMED_CASES,
  MATRIX,
  METHODS,
  PROBE_PATH,
  PROBE_UPSTREAM_URL,
  received,
  REFUSED_BY,
  runMatrixCase,
  runSingleRequest,
  sendVictimRequest,
  SETTLE_MS,
  SMUGGLED_BODY,
  VICTIM_TOKEN,
  waitFor,
  type Method,
} from '../helpers/framing-cases';
import { CRLF, delay, headerOf, hostOf, jsonOf, RawConnection, type RawHttpResponse } from '../helpers/raw-http';
import { startRecordingUpstream, type RecordingUpstream, type UpstreamRequest } from '../helpers/recording-upstream';
import { startProxy } from '../helpers/servers';

// Request smuggling regression (http-proxy's `deleteLength` pass re-framed a chunked DELETE/OPTIONS body
// as `Content-Length: 0` and sent the body anyway: the upstream read it as the next request on the
// pooled keep-alive connection). Raw sockets on both sides of the proxy: what the client frames is
// byte for byte what the tests wrote, and the upstream records every request its parser sees.

type Proxy = Awaited<ReturnType<typeof startProxy>>;

describe('request framing through the proxy on node:http', () => {
  let upstream: RecordingUpstream;
  let proxy: Proxy;
  beforeAll(async () => {
    upstream = await startRecordingUpstream();
    proxy = await startProxy({ apiUrl: upstream.url });
  });
  afterAll(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  describe('every method × framing, the body being an unfinished POST /notes request', () => {
    it.each(MATRIX)(
      '%s with %s framing: one upstream request with the same body bytes and framing; then a victim connection and the same connection each get their own answer, and the upstream sees nothing else',
      async (method, framing) => {
        expectMatrixCase(await runMatrixCase(proxy.url, upstream, method, framing), method, framing);
      },
    );
  });

  describe('malformed framings', () => {
    it.each(MALFORMED_CASES.map((c) => [c.name, REFUSED_BY[c.plain], c] as const))(
      '%s: refused by %s, the connection closed; the upstream receives nothing from it, the victim gets its own answer',
      async (_name, _by, malformed) => {
        const observed = await runSingleRequest(proxy.url, upstream, malformed.bytes(hostOf(proxy.url)));
        expectRefusal(observed.response, observed.closed, malformed.plain);
        expectOnlyTheVictimUpstream(observed);
      },
    );

    it.each(EQUIVALENT_CASES.map((c) => [c.name, c] as const))(
      '%s: forwarded as one request with the body "hello", the connection kept open; the victim gets its own answer',
      async (_name, equivalent) => {
        expectEquivalentCase(
          await runSingleRequest(proxy.url, upstream, equivalent.bytes(hostOf(proxy.url)), { closeWithinMs: 100 }),
          equivalent,
        );
      },
    );
  });

  describe('bodies that do not end where the framing says', () => {
    it('chunk data longer than its size line: Node answers 400 after the 3 declared bytes went upstream; that one upstream request is cut off and nothing else arrives', async () => {
      const host = hostOf(proxy.url);
      const observed = await runSingleRequest(
        proxy.url,
        upstream,
        `POST ${PROBE_PATH} HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n`,
      );
      expectRefusal(observed.response, observed.closed, 'node-400');
      expect(observed.requests.map((r) => `${r.method} ${r.url} ${r.state}`)).toEqual([
        `POST ${PROBE_UPSTREAM_URL} aborted`,
        'GET /me complete',
      ]);
      expect(observed.requests[0]?.body.toString('latin1')).toBe('hel');
      // The upstream's parser saw the connection end inside a chunk: the cut, not a second message.
      expect(observed.parseErrors).toEqual(['HPE_INVALID_EOF_STATE']);
      expectOwnAnswer(received(observed.victim, "the victim's request"), observed.requests[1], {
        method: 'GET',
        url: '/me',
        body: '',
        authToken: VICTIM_TOKEN,
      });
    });

    it("a Content-Length shorter than the body: the upstream gets the declared 3 bytes; the rest is the client's own next request (POST /notes), answered 404 not_found by the proxy and never sent upstream", async () => {
      upstream.clear();
      const client = await RawConnection.open(proxy.url);
      try {
        client.write(`POST ${PROBE_PATH} HTTP/1.1\r\nHost: ${hostOf(proxy.url)}\r\nContent-Length: 3\r\n\r\nabc${SMUGGLED_BODY}`);
        const first = await client.readResponse();
        const second = await client.readResponse();
        const victim = await sendVictimRequest(proxy.url);
        await delay(SETTLE_MS);
        expect(upstream.requests.map((r) => `${r.method} ${r.url} ${r.state}`)).toEqual([
          `POST ${PROBE_UPSTREAM_URL} complete`,
          'GET /me complete',
        ]);
        expect(upstream.parseErrors).toEqual([]);
        expect(framingHeaders(upstream.requests[0])).toEqual({ 'content-length': '3' });
        expectOwnAnswer(first, upstream.requests[0], { method: 'POST', url: PROBE_UPSTREAM_URL, body: 'abc', authToken: null });
        expect(second.status).toBe(404);
        expect(jsonOf(second)).toEqual({ error: { code: 'not_found', message: 'Not found.' } });
        expectOwnAnswer(victim, upstream.requests[1], { method: 'GET', url: '/me', body: '', authToken: VICTIM_TOKEN });
      } finally {
        client.destroy();
      }
    });

    it('a Content-Length larger than the body sent: no answer while the rest may come; the upstream holds the bytes so far in one request, cut off when the client goes; the victim gets its own answer', async () => {
      upstream.clear();
      const client = await RawConnection.open(proxy.url);
      try {
        client.write(`DELETE ${PROBE_PATH} HTTP/1.1\r\nHost: ${hostOf(proxy.url)}\r\nContent-Length: 100\r\n\r\n${SMUGGLED_BODY}`);
        await waitFor(() => upstream.requests[0]?.body.length === SMUGGLED_BODY.length, 2_000, 'the body so far at the upstream');
        await delay(SETTLE_MS);
        expect(client.unread.length).toBe(0);
        expect(client.isClosed).toBe(false);
        client.destroy();
        await waitFor(() => upstream.requests[0]?.state !== 'receiving', 2_000, 'the upstream request to end');
        const victim = await sendVictimRequest(proxy.url);
        await delay(SETTLE_MS);
        expect(upstream.requests.map((r) => `${r.method} ${r.url} ${r.state}`)).toEqual([
          `DELETE ${PROBE_UPSTREAM_URL} aborted`,
          'GET /me complete',
        ]);
        expect(upstream.requests[0]?.body.toString('latin1')).toBe(SMUGGLED_BODY);
        expect(framingHeaders(upstream.requests[0])).toEqual({ 'content-length': '100' });
        expect(upstream.parseErrors).toEqual(['HPE_INVALID_EOF_STATE']);
        expectOwnAnswer(victim, upstream.requests[1], { method: 'GET', url: '/me', body: '', authToken: VICTIM_TOKEN });
      } finally {
        client.destroy();
      }
    });

    // Node does not refuse ffffffffffffffff (it fits in 64 bits; 17 hex digits overflow and are refused):
    // it is one chunk of 2^64-1 bytes, so everything after it is body data, not a message boundary.
    it('a chunk size of 2^64-1 (ffffffffffffffff): what follows is body data inside the one upstream request; the proxy answers 408 request_timeout at timeoutMs, closes the connection and cuts that request off', async () => {
      const shortUpstream = await startRecordingUpstream();
      const shortProxy = await startProxy({ apiUrl: shortUpstream.url, timeoutMs: 300 });
      const client = await RawConnection.open(shortProxy.url);
      try {
        const afterSizeLine = `${SMUGGLED_BODY}\r\n0\r\n\r\n`;
        client.write(
          `DELETE ${PROBE_PATH} HTTP/1.1\r\nHost: ${hostOf(shortProxy.url)}\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n${afterSizeLine}`,
        );
        const response = await client.readResponse({ timeoutMs: 3_000 });
        expect(response.status).toBe(408);
        expect(headerOf(response, 'connection')).toBe('close');
        expect(jsonOf(response)).toEqual({ error: { code: 'request_timeout', message: 'The request body did not arrive in time.' } });
        await waitFor(() => shortUpstream.requests[0]?.state !== 'receiving', 2_000, 'the upstream request to end');
        const victim = await sendVictimRequest(shortProxy.url);
        await delay(SETTLE_MS);
        expect(shortUpstream.requests.map((r) => `${r.method} ${r.url} ${r.state}`)).toEqual([
          `DELETE ${PROBE_UPSTREAM_URL} aborted`,
          'GET /me complete',
        ]);
        expect(shortUpstream.requests[0]?.body.toString('latin1')).toBe(afterSizeLine);
        expect(framingHeaders(shortUpstream.requests[0])).toEqual({ 'transfer-encoding': 'chunked' });
        expect(shortUpstream.parseErrors).toEqual(['HPE_INVALID_EOF_STATE']);
        expectOwnAnswer(victim, shortUpstream.requests[1], { method: 'GET', url: '/me', body: '', authToken: VICTIM_TOKEN });
      } finally {
        client.destroy();
        await shortProxy.close();
        await shortUpstream.close();
      }
    });
  });
});

// ---- Property: random framings ---------------------------------------------------------------------

/** How the generated request frames its body. */
type FramingSpec =
  | { kind: 'none' }
  | { kind: 'length'; offset: number }
  | { kind: 'chunked'; sizes: number[]; extensions: string[]; hex: 'lower' | 'upper' | 'zeros'; lastExtension: string; trailer: string }
  | { kind: 'cl-and-te'; teFirst: boolean }
  | { kind: 'bare-lf'; framing: 'length' | 'chunked'; where: 'everywhere' | 'header-end' | 'chunk-lines' }
  | { kind: 'obs-fold'; lines: readonly string[] }
  | { kind: 'te-coding'; value: string }
  | { kind: 'huge-chunk'; size: string };

interface GeneratedCase {
  method: Method;
  body: Buffer;
  framing: FramingSpec;
  /** Where the bytes are cut into separate writes (per mille of their length). */
  cuts: number[];
}

/**
 * What must happen. 'forwarded': one complete upstream request with `body`, answered, connection kept.
 * 'leftover': `body` (the declared prefix) is forwarded; the rest is the client's own next request.
 * 'incomplete': no answer; the upstream holds `body` so far, and is cut off when the client goes.
 * 'refused': a 400 and a closed connection; nothing reaches the upstream.
 */
type Expected = { outcome: 'forwarded' | 'leftover' | 'incomplete'; body: Buffer; contentLength?: string } | { outcome: 'refused' };

function chunkSize(size: number, hex: 'lower' | 'upper' | 'zeros'): string {
  const text = size.toString(16);
  return hex === 'upper' ? text.toUpperCase() : hex === 'zeros' ? text.padStart(6, '0') : text;
}

function encodeChunked(body: Buffer, spec: Extract<FramingSpec, { kind: 'chunked' }>): string {
  let out = '';
  let offset = 0;
  let index = 0;
  const latin1 = body.toString('latin1');
  while (offset < body.length) {
    const size = Math.min(spec.sizes[index % Math.max(1, spec.sizes.length)] ?? body.length, body.length - offset);
    out += `${chunkSize(size, spec.hex)}${spec.extensions[index % spec.extensions.length] ?? ''}${CRLF}${latin1.slice(offset, offset + size)}${CRLF}`;
    offset += size;
    index += 1;
  }
  return `${out}0${spec.lastExtension}${CRLF}${spec.trailer}${CRLF}`;
}

/** The request's bytes and what must come of them. */
function frame(host: string, generated: GeneratedCase): { bytes: string; expected: Expected } {
  const { method, body, framing } = generated;
  const latin1 = body.toString('latin1');
  const head = (lines: readonly string[]) => [`${method} ${PROBE_PATH} HTTP/1.1`, `Host: ${host}`, ...lines].join(CRLF) + CRLF + CRLF;
  const simpleChunked = (data: string) => (data.length > 0 ? `${data.length.toString(16)}${CRLF}${data}${CRLF}` : '') + `0${CRLF}${CRLF}`;
  switch (framing.kind) {
    case 'none':
      return { bytes: head([]), expected: { outcome: 'forwarded', body: Buffer.alloc(0) } };
    case 'length': {
      const declared = Math.max(0, body.length + framing.offset);
      const lines = [`Content-Length: ${declared}`];
      if (declared === body.length)
        return { bytes: head(lines) + latin1, expected: { outcome: 'forwarded', body, contentLength: String(declared) } };
      if (declared < body.length)
        return {
          bytes: head(lines) + latin1,
          expected: { outcome: 'leftover', body: body.subarray(0, declared), contentLength: String(declared) },
        };
      return { bytes: head(lines) + latin1, expected: { outcome: 'incomplete', body, contentLength: String(declared) } };
    }
    case 'chunked':
      return { bytes: head(['Transfer-Encoding: chunked']) + encodeChunked(body, framing), expected: { outcome: 'forwarded', body } };
    case 'cl-and-te': {
      const chunked = simpleChunked(latin1);
      const lines = [`Content-Length: ${chunked.length}`, 'Transfer-Encoding: chunked'];
      return { bytes: head(framing.teFirst ? lines.reverse() : lines) + chunked, expected: { outcome: 'refused' } };
    }
    case 'bare-lf': {
      const framed =
        framing.framing === 'length'
          ? head([`Content-Length: ${body.length}`]) + latin1
          : head(['Transfer-Encoding: chunked']) + simpleChunked(latin1);
      const headEnd = framed.indexOf(CRLF + CRLF) + 4;
      const [headPart, bodyPart] = [framed.slice(0, headEnd), framed.slice(headEnd)];
      let bytes: string;
      if (framing.where === 'everywhere')
        bytes = headPart.replaceAll(CRLF, '\n') + (framing.framing === 'chunked' ? bodyPart.replaceAll(CRLF, '\n') : bodyPart);
      else if (framing.where === 'header-end') bytes = headPart.slice(0, -4) + '\r\n\n' + bodyPart;
      // Only the chunk framing's own line ends (the body's own CRLFs are data, and cannot be told apart
      // after replacing, so the body is built without them here).
      else bytes = head(['Transfer-Encoding: chunked']) + simpleChunked(latin1.replaceAll(CRLF, '..')).replaceAll(CRLF, '\n');
      return { bytes, expected: { outcome: 'refused' } };
    }
    case 'obs-fold':
      return { bytes: head(framing.lines) + simpleChunked(latin1), expected: { outcome: 'refused' } };
    case 'te-coding': {
      const chunkedLast = /chunked\s*$/i.test(framing.value);
      return {
        bytes: head([`Transfer-Encoding: ${framing.value}`]) + (chunkedLast ? simpleChunked(latin1) : latin1),
        expected: { outcome: 'refused' },
      };
    }
    case 'huge-chunk': {
      const afterSizeLine = `${latin1}${CRLF}0${CRLF}${CRLF}`;
      const bytes = head(['Transfer-Encoding: chunked']) + `${framing.size}${CRLF}${afterSizeLine}`;
      // Up to 64 bits of size Node takes it as one (endless) chunk; more hex digits overflow: refused.
      const fits = BigInt(`0x${framing.size}`) < 2n ** 64n;
      return { bytes, expected: fits ? { outcome: 'incomplete', body: Buffer.from(afterSizeLine, 'latin1') } : { outcome: 'refused' } };
    }
  }
}

const BODY_PIECES = [
  'POST /notes HTTP/1.1\r\n',
  'GET /admin HTTP/1.1\r\n',
  'DELETE /users/1 HTTP/1.1\r\n',
  'Host: x\r\n',
  'Content-Length: 500\r\n',
  'Content-Length: 0\r\n',
  'Transfer-Encoding: chunked\r\n',
  '\r\n',
  '\r\n\r\n',
  '0\r\n\r\n',
  '5\r\nhello\r\n',
  'note=',
  '\n',
  '\r',
];
/** Request lines that may appear inside a body: an upstream request with one of these targets was smuggled. */
const SMUGGLED_TARGETS = ['/notes', '/admin', '/users/1'];

const bodyArb = fc
  .array(
    fc.oneof(
      fc.constantFrom(...BODY_PIECES),
      fc.uint8Array({ minLength: 1, maxLength: 12 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
    ),
    { maxLength: 8 },
  )
  .map((pieces) => Buffer.from(pieces.join(''), 'latin1'));

const framingArb: fc.Arbitrary<FramingSpec> = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.record({
    kind: fc.constant('length' as const),
    offset: fc.oneof(fc.constant(0), fc.integer({ min: -40, max: -1 }), fc.integer({ min: 1, max: 600 })),
  }),
  fc.record({
    kind: fc.constant('chunked' as const),
    sizes: fc.array(fc.integer({ min: 1, max: 24 }), { maxLength: 5 }),
    extensions: fc.array(fc.constantFrom('', ';a', ';a=1', ';name="v 1"', ';x;y=z', ';q="a\\"b"'), { minLength: 1, maxLength: 4 }),
    hex: fc.constantFrom('lower' as const, 'upper' as const, 'zeros' as const),
    lastExtension: fc.constantFrom('', ';end'),
    trailer: fc.constantFrom('', 'X-Trailer: 1\r\n'),
  }),
  fc.record({ kind: fc.constant('cl-and-te' as const), teFirst: fc.boolean() }),
  fc.record({
    kind: fc.constant('bare-lf' as const),
    framing: fc.constantFrom('length' as const, 'chunked' as const),
    where: fc.constantFrom('everywhere' as const, 'header-end' as const, 'chunk-lines' as const),
  }),
  fc.record({
    kind: fc.constant('obs-fold' as const),
    lines: fc.constantFrom(
      ['Transfer-Encoding:', ' chunked'],
      ['Transfer-Encoding: gzip', ' , chunked'],
      ['Transfer-Encoding: chunked', '\tx'],
      ['X-A: a', ' Transfer-Encoding: chunked'],
    ),
  }),
  fc.record({
    kind: fc.constant('te-coding' as const),
    value: fc.constantFrom('gzip, chunked', 'identity', 'xchunked', 'deflate', 'chunked, chunked', 'chunked;q=1'),
  }),
  fc.record({
    kind: fc.constant('huge-chunk' as const),
    size: fc.constantFrom('ffffffffffffffff', 'FFFFFFFFFFFFFFFF', '0ffffffffffffffff', '10000000000000000', 'fffffffffffffffff'),
  }),
);

const caseArb: fc.Arbitrary<GeneratedCase> = fc.record({
  method: fc.constantFrom(...METHODS),
  body: bodyArb,
  framing: framingArb,
  cuts: fc.array(fc.integer({ min: 1, max: 999 }), { maxLength: 2 }),
});

/** Writes `bytes` in the pieces `cuts` makes, a moment apart, so the parser meets them in separate reads. */
async function writeInPieces(client: RawConnection, bytes: string, cuts: readonly number[]): Promise<void> {
  const positions = [...new Set(cuts.map((cut) => Math.floor((bytes.length * cut) / 1000)))]
    .filter((p) => p > 0 && p < bytes.length)
    .sort((a, b) => a - b);
  let start = 0;
  for (const position of [...positions, bytes.length]) {
    client.write(bytes.slice(start, position));
    start = position;
    if (position < bytes.length) await delay(2);
  }
}

/** Responses until the connection closes or none arrives for `quietMs`; `headFirst`: the first answers a HEAD. */
async function readRemaining(client: RawConnection, quietMs: number, headFirst: boolean): Promise<RawHttpResponse[]> {
  const responses: RawHttpResponse[] = [];
  for (;;) {
    let response: RawHttpResponse | undefined;
    try {
      response = await client.nextResponse({ timeoutMs: quietMs, head: headFirst && responses.length === 0 });
    } catch (err) {
      if (err instanceof Error && err.message.includes('no complete response within') && client.unread.length === 0) return responses;
      throw err;
    }
    if (!response) return responses;
    responses.push(response);
  }
}

function describeRecords(requests: readonly UpstreamRequest[]): string[] {
  return requests.map((r) => `${r.method} ${r.url} ${r.state}`);
}

/** Runs one generated case against a fresh upstream and proxy, asserting the property. */
async function checkCase(generated: GeneratedCase): Promise<void> {
  const upstream = await startRecordingUpstream();
  const proxy = await startProxy({ apiUrl: upstream.url });
  const client = await RawConnection.open(proxy.url);
  try {
    const { bytes, expected } = frame(hostOf(proxy.url), generated);
    const head = generated.method === 'HEAD';
    await writeInPieces(client, bytes, generated.cuts);
    const responses: RawHttpResponse[] = [];
    let followUp: RawHttpResponse | undefined;

    if (expected.outcome === 'forwarded') {
      responses.push(await client.readResponse({ head }));
      client.write(followUpRequest(proxy.url));
      followUp = await client.readResponse();
    } else if (expected.outcome === 'incomplete') {
      if (expected.body.length > 0)
        await waitFor(() => upstream.requests[0]?.body.length === expected.body.length, 2_000, 'the body so far at the upstream');
      await delay(SETTLE_MS);
      // Nothing is answered while the rest of the body may still come.
      expect(client.unread.length).toBe(0);
      expect(client.isClosed).toBe(false);
      client.destroy();
      if (upstream.requests.length > 0)
        await waitFor(() => upstream.requests[0]?.state !== 'receiving', 2_000, 'the upstream request to end');
    } else {
      responses.push(...(await readRemaining(client, expected.outcome === 'leftover' ? 150 : 2_000, head)));
    }
    // Before our own destroy() (which also marks the connection closed).
    const closedByServer = client.isClosed;
    client.destroy();
    const victim = await attempt(sendVictimRequest(proxy.url, 2_000));
    await delay(SETTLE_MS);

    const requests = [...upstream.requests];
    const probes = requests.filter((r) => r.url === PROBE_UPSTREAM_URL);
    const probe = probes[0];
    // Never a request whose method or target came from inside a body; never more than one per client request.
    const foreign = requests.filter(
      (r) => !((r.url === PROBE_UPSTREAM_URL && r.method === generated.method) || (r.url === '/me' && r.method === 'GET')),
    );
    expect(describeRecords(foreign)).toEqual([]);
    expect(describeRecords(requests.filter((r) => SMUGGLED_TARGETS.some((target) => r.url.startsWith(target))))).toEqual([]);
    expect(probes.length).toBeLessThanOrEqual(1);
    // The upstream's parser only ever complains about a request the proxy cut off: a close mid-request
    // (HPE_INVALID_EOF_STATE) or, as the proxy destroys its socket, a reset (ECONNRESET; seen in CI). Bytes
    // from inside a body would be another code (HPE_INVALID_METHOD, ...).
    if (upstream.parseErrors.length > 0) {
      expect(upstream.parseErrors).toHaveLength(1);
      expect(['HPE_INVALID_EOF_STATE', 'ECONNRESET']).toContain(upstream.parseErrors[0]);
      expect(probe?.state).toBe('aborted');
    }
    // No 5xx, and a 2xx only as the upstream's answer to the client's one request.
    expect(responses.map((r) => r.status).filter((status) => status !== 200 && (status < 400 || status >= 500))).toEqual([]);

    if (expected.outcome === 'refused') {
      expect(responses.map((r) => r.status)).toEqual([400]);
      expect(headerOf(responses[0] as RawHttpResponse, 'connection')).toBe('close');
      expect(closedByServer).toBe(true);
      expect(describeRecords(requests)).toEqual(['GET /me complete']);
    } else if (expected.outcome === 'forwarded') {
      expect(describeRecords(requests)).toEqual([
        `${generated.method} ${PROBE_UPSTREAM_URL} complete`,
        'GET /me complete',
        'GET /me complete',
      ]);
      expect(probe?.body.toString('latin1')).toBe(expected.body.toString('latin1'));
      const framing = generated.framing.kind === 'chunked' ? 'chunked' : generated.framing.kind === 'length' ? 'length' : 'none';
      expect(framingHeaders(probe)).toEqual(expectedUpstreamFraming(generated.method, framing, expected.body.length));
      expectOwnAnswer(responses[0] as RawHttpResponse, probe, {
        method: generated.method,
        url: PROBE_UPSTREAM_URL,
        body: expected.body,
        authToken: null,
      });
      expectOwnAnswer(followUp as RawHttpResponse, requests[1], { method: 'GET', url: '/me', body: '', authToken: null });
    } else if (expected.outcome === 'incomplete') {
      // Nothing, or the one request with the bytes so far, cut off.
      if (expected.body.length > 0) {
        expect(describeRecords(requests)).toEqual([`${generated.method} ${PROBE_UPSTREAM_URL} aborted`, 'GET /me complete']);
        expect(probe?.body.toString('latin1')).toBe(expected.body.toString('latin1'));
      } else {
        expect(describeRecords(requests)).toEqual(['GET /me complete']);
      }
      if (expected.contentLength !== undefined && probe)
        expect(framingHeaders(probe)).toEqual({ 'content-length': expected.contentLength });
    } else {
      // The declared prefix went upstream and was answered; or Node's 400 for the leftover (the client's
      // own next request) came first and closed the connection, cutting the exchange off.
      const first = responses[0];
      expect(first).toBeDefined();
      if (first?.status === 200) {
        expect(probe?.state).toBe('complete');
        expect(probe?.body.toString('latin1')).toBe(expected.body.toString('latin1'));
        expect(framingHeaders(probe)).toEqual({ 'content-length': expected.contentLength });
        expectOwnAnswer(first, probe, { method: generated.method, url: PROBE_UPSTREAM_URL, body: expected.body, authToken: null });
        expect(
          responses
            .slice(1)
            .map((r) => r.status)
            .filter((status) => status < 400 || status >= 500),
        ).toEqual([]);
      } else {
        expect(first?.status).toBe(400);
        expect(closedByServer).toBe(true);
        if (probe) expect(expected.body.subarray(0, probe.body.length).toString('latin1')).toBe(probe.body.toString('latin1'));
      }
    }
    // The victim, on its own connection, always gets its own answer, and it was the last upstream request.
    const victimRecord = requests[requests.length - 1];
    expect(victimRecord?.headers['auth-token']).toBe(VICTIM_TOKEN);
    expectOwnAnswer(received(victim, "the victim's request"), victimRecord, {
      method: 'GET',
      url: '/me',
      body: '',
      authToken: VICTIM_TOKEN,
    });
  } finally {
    client.destroy();
    await proxy.close();
    await upstream.close();
  }
}

describe('random framings (property-based)', () => {
  it('each request arrives upstream as exactly one request with the bytes the client framed, or is refused with a 4xx with nothing (or its one request, cut off) upstream; no request ever comes from inside a body; the victim always gets its own answer', async () => {
    await fc.assert(fc.asyncProperty(caseArb, checkCase), { numRuns: 60 });
  }, 60_000);
});
