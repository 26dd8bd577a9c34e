import {
  buildRequest,
  DEFAULT_TIMEOUT_MS,
  delay,
  headerOf,
  hostOf,
  jsonOf,
  RawConnection,
  type RawHttpResponse,
  type RequestFraming,
} from './raw-http';
import { sha256, type RecordingUpstream, type UpstreamAnswer, type UpstreamRequest } from './recording-upstream';

// The request-smuggling regression cases shared by the plain node:http proxy and `next start`: the
// proxy's API_URL is the recording upstream (no base path), so `/api/x` arrives there as `/x`.

export const METHODS = ['GET', 'HEAD', 'DELETE', 'OPTIONS', 'POST', 'PUT', 'PATCH'] as const;
export type Method = (typeof METHODS)[number];
export const FRAMINGS = ['none', 'length', 'chunked', 'chunked-ext'] as const satisfies readonly RequestFraming[];
export type Framing = (typeof FRAMINGS)[number];
/** Every method with every framing. */
export const MATRIX: Array<[Method, Framing]> = METHODS.flatMap((method) =>
  FRAMINGS.map((framing): [Method, Framing] => [method, framing]),
);

/** A body that is itself the start of a request: re-framed as no body, the upstream would read it as the next request. */
export const SMUGGLED_BODY = 'POST /notes HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\nnote=';
export const VICTIM_TOKEN = 'victim-token-123';
/** Where the test requests go (through the proxy) and where they arrive (at the upstream). */
export const PROBE_PATH = '/api/probe';
export const PROBE_UPSTREAM_URL = '/probe';
/** Time given to anything still in flight (a smuggled request would be parsed within it) before counting. */
export const SETTLE_MS = 50;

/** Resolves once `condition` holds; throws after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(5);
  }
}

/** The victim's request: a signed-in user's plain GET, sent as a browser on the app's own page would. */
export function victimRequest(baseUrl: string): Buffer {
  return buildRequest(hostOf(baseUrl), {
    method: 'GET',
    target: '/api/me',
    framing: 'none',
    headers: [
      ['Cookie', `auth-token=${VICTIM_TOKEN}`],
      ['Sec-Fetch-Site', 'same-origin'],
    ],
  });
}

/** A second, anonymous request sent on the same connection after the first one's answer. */
export function followUpRequest(baseUrl: string): Buffer {
  return buildRequest(hostOf(baseUrl), { method: 'GET', target: '/api/me', framing: 'none' });
}

/** Sends the victim's request on a connection of its own and reads its answer. */
export async function sendVictimRequest(baseUrl: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<RawHttpResponse> {
  const victim = await RawConnection.open(baseUrl);
  try {
    victim.write(victimRequest(baseUrl));
    return await victim.readResponse({ timeoutMs });
  } finally {
    victim.destroy();
  }
}

/** The value, or the error it failed with: a missing answer is reported after the upstream's record is checked. */
export async function attempt<T>(promise: Promise<T>): Promise<T | Error> {
  try {
    return await promise;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** The response, or a test failure naming which one never came. */
export function received(value: RawHttpResponse | Error, what: string): RawHttpResponse {
  if (value instanceof Error) throw new Error(`${what}: ${value.message}`);
  return value;
}

/** How long a matrix step waits for an answer (all of them come within milliseconds when nothing is wrong). */
const ANSWER_TIMEOUT_MS = 2_000;

/** Content-Length and Transfer-Encoding as the upstream received them (absent ones undefined). */
export function framingHeaders(record: UpstreamRequest | undefined): { 'content-length'?: string; 'transfer-encoding'?: string } {
  return { 'content-length': record?.headers['content-length'], 'transfer-encoding': record?.headers['transfer-encoding'] };
}

/** Methods for which Node's http client writes `Content-Length: 0` when the forwarded request has no body at all. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** The framing header the upstream must see for a client request of this kind. */
export function expectedUpstreamFraming(
  method: string,
  framing: RequestFraming,
  bodyLength: number,
): { 'content-length'?: string; 'transfer-encoding'?: string } {
  if (framing === 'length') return { 'content-length': String(bodyLength) };
  if (framing === 'chunked' || framing === 'chunked-ext') return { 'transfer-encoding': 'chunked' };
  // No framing is no body: Node's client says so with `Content-Length: 0` for methods it would
  // otherwise chunk (POST, PUT, PATCH), and with nothing for the others. Both mean zero bytes.
  return BODY_METHODS.has(method) ? { 'content-length': '0' } : {};
}

/**
 * `response` is the upstream's answer to exactly `record`: status 200, the record's sequence number
 * (header, and body unless HEAD), and the method, URL, body digest and token the upstream saw.
 */
export function expectOwnAnswer(
  response: RawHttpResponse,
  record: UpstreamRequest | undefined,
  expected: { method: string; url: string; body: Buffer | string; authToken: string | null },
): void {
  expect(record).toBeDefined();
  if (!record) return;
  const body = typeof expected.body === 'string' ? Buffer.from(expected.body, 'latin1') : expected.body;
  const answer: UpstreamAnswer = {
    seq: record.seq,
    method: expected.method,
    url: expected.url,
    bytes: body.length,
    sha256: sha256(body),
    authToken: expected.authToken,
  };
  expect(response.status).toBe(200);
  expect(headerOf(response, 'x-upstream-seq')).toBe(String(record.seq));
  if (expected.method === 'HEAD') {
    // Read as bodiless (any body bytes sent anyway would break the next response on the connection);
    // the length the upstream declared for its JSON comes through.
    expect(headerOf(response, 'content-length')).toBe(String(Buffer.byteLength(JSON.stringify(answer))));
  } else {
    expect(jsonOf<UpstreamAnswer>(response)).toEqual(answer);
  }
}

export interface MatrixObservation {
  /** The answer to the framed request (or why none came). */
  first: RawHttpResponse | Error;
  /** The victim's answer, from another connection. */
  victim: RawHttpResponse | Error;
  /** The answer to a second request on the first connection. */
  again: RawHttpResponse | Error;
  requests: UpstreamRequest[];
  parseErrors: string[];
}

/**
 * One method × framing case: the framed request (body: SMUGGLED_BODY, or nothing for 'none'), then a
 * victim's GET /api/me from another connection, then a GET /api/me on the first connection (keep-alive).
 */
export async function runMatrixCase(
  baseUrl: string,
  upstream: RecordingUpstream,
  method: Method,
  framing: Framing,
): Promise<MatrixObservation> {
  upstream.clear();
  const body = framing === 'none' ? '' : SMUGGLED_BODY;
  const client = await RawConnection.open(baseUrl);
  try {
    client.write(buildRequest(hostOf(baseUrl), { method, target: PROBE_PATH, framing, body }));
    const first = await attempt(client.readResponse({ head: method === 'HEAD', timeoutMs: ANSWER_TIMEOUT_MS }));
    const victim = await attempt(sendVictimRequest(baseUrl, ANSWER_TIMEOUT_MS));
    let again: RawHttpResponse | Error = new Error('not sent: the first request got no answer');
    if (!(first instanceof Error)) {
      client.write(followUpRequest(baseUrl));
      again = await attempt(client.readResponse({ timeoutMs: ANSWER_TIMEOUT_MS }));
    }
    await delay(SETTLE_MS);
    return { first, victim, again, requests: [...upstream.requests], parseErrors: [...upstream.parseErrors] };
  } finally {
    client.destroy();
  }
}

/** The assertions every matrix case must pass (see runMatrixCase). */
export function expectMatrixCase(observed: MatrixObservation, method: Method, framing: Framing): void {
  const body = framing === 'none' ? '' : SMUGGLED_BODY;
  // Exactly one upstream request per client request, in order, each complete; nothing else parsed.
  expect(observed.requests.map((r) => `${r.method} ${r.url} ${r.state}`)).toEqual([
    `${method} ${PROBE_UPSTREAM_URL} complete`,
    'GET /me complete',
    'GET /me complete',
  ]);
  expect(observed.parseErrors).toEqual([]);
  const [probe, victimRecord, againRecord] = observed.requests;
  // The same body bytes, framed the same way.
  expect(probe?.body.toString('latin1')).toBe(body);
  expect(framingHeaders(probe)).toEqual(expectedUpstreamFraming(method, framing, body.length));
  // Each answer is the upstream's answer to that very request.
  expectOwnAnswer(received(observed.first, 'the framed request'), probe, { method, url: PROBE_UPSTREAM_URL, body, authToken: null });
  expectOwnAnswer(received(observed.victim, "the victim's request"), victimRecord, {
    method: 'GET',
    url: '/me',
    body: '',
    authToken: VICTIM_TOKEN,
  });
  expectOwnAnswer(received(observed.again, 'the next request on the same connection'), againRecord, {
    method: 'GET',
    url: '/me',
    body: '',
    authToken: null,
  });
}

// ---- Malformed framings ---------------------------------------------------------------------------

/**
 * How a malformed request is refused. 'node-400': Node's own parser, before any handler sees the
 * request (`HTTP/1.1 400 Bad Request`, `Connection: close`, no body). 'proxy-400': the proxy's
 * `bad_request` JSON with `Connection: close` (Node accepted the message, readBodyFraming did not).
 */
export type Refusal = 'node-400' | 'proxy-400';

/** For test names. */
export const REFUSED_BY: Record<Refusal, string> = {
  'node-400': "Node's parser (bare 400 Bad Request)",
  'proxy-400': 'the proxy (400 bad_request JSON)',
};

export interface MalformedCase {
  name: string;
  /** The whole request; `host` is the Host header's value. */
  bytes: (host: string) => string;
  /** Refusal under a plain node:http server and under `next start` (they differ only in timing, see below). */
  plain: Refusal;
  next: Refusal;
}

/** A POST to PROBE_PATH with these header lines (CRLF everywhere) and this body. */
function post(headerLines: readonly string[], body: string): (host: string) => string {
  return (host) => [`POST ${PROBE_PATH} HTTP/1.1`, `Host: ${host}`, ...headerLines].join('\r\n') + '\r\n\r\n' + body;
}

const CHUNKED_HELLO = '5\r\nhello\r\n0\r\n\r\n';

// `Transfer-Encoding: identity` or `xchunked` (a coding that is not chunked): llhttp flags the request
// only after its headers, so a synchronous handler (the proxy on node:http) has already answered with
// its JSON 400 and Node just closes; under Next, whose routing is asynchronous, Node's 400 comes first.
export const MALFORMED_CASES: readonly MalformedCase[] = [
  {
    name: 'Content-Length then Transfer-Encoding: chunked',
    bytes: post(['Content-Length: 5', 'Transfer-Encoding: chunked'], CHUNKED_HELLO),
    plain: 'node-400',
    next: 'node-400',
  },
  {
    name: 'Transfer-Encoding: chunked then Content-Length',
    bytes: post(['Transfer-Encoding: chunked', 'Content-Length: 5'], CHUNKED_HELLO),
    plain: 'node-400',
    next: 'node-400',
  },
  {
    name: 'Transfer-Encoding: identity with Content-Length',
    bytes: post(['Transfer-Encoding: identity', 'Content-Length: 5'], 'hello'),
    plain: 'node-400',
    next: 'node-400',
  },
  {
    name: 'Transfer-Encoding: gzip, chunked',
    bytes: post(['Transfer-Encoding: gzip, chunked'], CHUNKED_HELLO),
    plain: 'proxy-400',
    next: 'proxy-400',
  },
  { name: 'Transfer-Encoding: identity', bytes: post(['Transfer-Encoding: identity'], 'hello'), plain: 'proxy-400', next: 'node-400' },
  {
    name: 'Transfer-Encoding: xchunked',
    bytes: post(['Transfer-Encoding: xchunked'], CHUNKED_HELLO),
    plain: 'proxy-400',
    next: 'node-400',
  },
  {
    name: 'Transfer-Encoding: chunked, chunked',
    bytes: post(['Transfer-Encoding: chunked, chunked'], CHUNKED_HELLO),
    plain: 'node-400',
    next: 'node-400',
  },
  {
    name: 'two Transfer-Encoding: chunked lines',
    bytes: post(['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'], CHUNKED_HELLO),
    plain: 'node-400',
    next: 'node-400',
  },
  {
    name: 'Transfer-Encoding with obs-fold (value on the next line)',
    bytes: post(['Transfer-Encoding:', ' chunked'], CHUNKED_HELLO),
    plain: 'node-400',
    next: 'node-400',
  },
  {
    name: 'Transfer-Encoding with obs-fold (gzip, then ", chunked" folded)',
    bytes: post(['Transfer-Encoding: gzip', ' , chunked'], CHUNKED_HELLO),
    plain: 'node-400',
    next: 'node-400',
  },
  {
    name: 'a Transfer-Encoding line folded into another header',
    bytes: post(['X-A: a', ' Transfer-Encoding: chunked'], CHUNKED_HELLO),
    plain: 'node-400',
    next: 'node-400',
  },
  {
    name: 'Transfer-Encoding with a space before the colon',
    bytes: post(['Transfer-Encoding : chunked'], CHUNKED_HELLO),
    plain: 'node-400',
    next: 'node-400',
  },
  {
    name: 'two Content-Length lines with different values',
    bytes: post(['Content-Length: 5', 'Content-Length: 6'], 'hello!'),
    plain: 'node-400',
    next: 'node-400',
  },
  {
    name: 'two Content-Length lines with the same value',
    bytes: post(['Content-Length: 5', 'Content-Length: 5'], 'hello'),
    plain: 'node-400',
    next: 'node-400',
  },
  { name: 'Content-Length: 5, 5', bytes: post(['Content-Length: 5, 5'], 'hello'), plain: 'node-400', next: 'node-400' },
  { name: 'Content-Length: -1', bytes: post(['Content-Length: -1'], 'hello'), plain: 'node-400', next: 'node-400' },
  { name: 'Content-Length: abc', bytes: post(['Content-Length: abc'], 'hello'), plain: 'node-400', next: 'node-400' },
  { name: 'Content-Length: +5', bytes: post(['Content-Length: +5'], 'hello'), plain: 'node-400', next: 'node-400' },
  { name: 'Content-Length: 0x5', bytes: post(['Content-Length: 0x5'], 'hello'), plain: 'node-400', next: 'node-400' },
  { name: 'Content-Length: 5 5', bytes: post(['Content-Length: 5 5'], 'hello'), plain: 'node-400', next: 'node-400' },
  { name: 'Content-Length over 2^64', bytes: post(['Content-Length: 99999999999999999999'], 'hello'), plain: 'node-400', next: 'node-400' },
  {
    name: 'bare LF line endings everywhere (Content-Length)',
    bytes: (host) => `POST ${PROBE_PATH} HTTP/1.1\nHost: ${host}\nContent-Length: 5\n\nhello`,
    plain: 'node-400',
    next: 'node-400',
  },
  {
    name: 'bare LF line endings everywhere (chunked)',
    bytes: (host) => `POST ${PROBE_PATH} HTTP/1.1\nHost: ${host}\nTransfer-Encoding: chunked\n\n5\nhello\n0\n\n`,
    plain: 'node-400',
    next: 'node-400',
  },
  {
    name: 'bare LF in the chunk lines only',
    bytes: post(['Transfer-Encoding: chunked'], '5\nhello\n0\n\n'),
    plain: 'node-400',
    next: 'node-400',
  },
  {
    name: 'bare LF ending the header section',
    bytes: (host) => `POST ${PROBE_PATH} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 5\r\n\nhello`,
    plain: 'node-400',
    next: 'node-400',
  },
  {
    name: 'bare CR between header lines',
    bytes: (host) => `POST ${PROBE_PATH} HTTP/1.1\r\nHost: ${host}\rContent-Length: 5\r\n\r\nhello`,
    plain: 'node-400',
    next: 'node-400',
  },
  {
    name: 'chunk size over 2^64 (10000000000000000)',
    bytes: post(['Transfer-Encoding: chunked'], '10000000000000000\r\nhello\r\n0\r\n\r\n'),
    plain: 'node-400',
    next: 'node-400',
  },
  {
    name: 'chunk size with 17 hex digits (fffffffffffffffff)',
    bytes: post(['Transfer-Encoding: chunked'], 'fffffffffffffffff\r\nhello\r\n0\r\n\r\n'),
    plain: 'node-400',
    next: 'node-400',
  },
  { name: 'chunk size 5x', bytes: post(['Transfer-Encoding: chunked'], '5x\r\nhello\r\n0\r\n\r\n'), plain: 'node-400', next: 'node-400' },
  { name: 'chunk size -5', bytes: post(['Transfer-Encoding: chunked'], '-5\r\nhello\r\n0\r\n\r\n'), plain: 'node-400', next: 'node-400' },
  { name: 'chunk size 0x5', bytes: post(['Transfer-Encoding: chunked'], '0x5\r\nhello\r\n0\r\n\r\n'), plain: 'node-400', next: 'node-400' },
  {
    name: 'chunk size followed by a space',
    bytes: post(['Transfer-Encoding: chunked'], '5 \r\nhello\r\n0\r\n\r\n'),
    plain: 'node-400',
    next: 'node-400',
  },
  {
    name: 'chunk extension after a space (5 ;a)',
    bytes: post(['Transfer-Encoding: chunked'], '5 ;a\r\nhello\r\n0\r\n\r\n'),
    plain: 'node-400',
    next: 'node-400',
  },
  {
    name: 'chunk extension with spaces around = (5;a = 1)',
    bytes: post(['Transfer-Encoding: chunked'], '5;a = 1\r\nhello\r\n0\r\n\r\n'),
    plain: 'node-400',
    next: 'node-400',
  },
  {
    name: 'chunk extension containing a bare LF',
    bytes: post(['Transfer-Encoding: chunked'], '5;a\nb\r\nhello\r\n0\r\n\r\n'),
    plain: 'node-400',
    next: 'node-400',
  },
];

/** Malformed-looking framings that mean exactly one thing: forwarded as one request with the same bytes. */
export interface EquivalentCase {
  name: string;
  bytes: (host: string) => string;
  /** The framing header the upstream receives. */
  upstreamFraming: { 'content-length'?: string; 'transfer-encoding'?: string };
}

export const EQUIVALENT_CASES: readonly EquivalentCase[] = [
  {
    name: 'Transfer-Encoding: CHUNKED (upper case)',
    bytes: post(['Transfer-Encoding: CHUNKED'], CHUNKED_HELLO),
    upstreamFraming: { 'transfer-encoding': 'chunked' },
  },
  {
    name: 'Transfer-Encoding:<TAB>chunked',
    bytes: post(['Transfer-Encoding:\tchunked'], CHUNKED_HELLO),
    upstreamFraming: { 'transfer-encoding': 'chunked' },
  },
  { name: 'Content-Length: 05 (leading zero)', bytes: post(['Content-Length: 05'], 'hello'), upstreamFraming: { 'content-length': '05' } },
  {
    name: 'chunk size with leading zeros (00000005)',
    bytes: post(['Transfer-Encoding: chunked'], '00000005\r\nhello\r\n0\r\n\r\n'),
    upstreamFraming: { 'transfer-encoding': 'chunked' },
  },
  {
    name: 'quoted chunk extension with an escaped quote',
    bytes: post(['Transfer-Encoding: chunked'], '5;a="q\\"v"\r\nhello\r\n0;end=1\r\n\r\n'),
    upstreamFraming: { 'transfer-encoding': 'chunked' },
  },
  {
    name: 'a trailer section after the last chunk',
    bytes: post(['Transfer-Encoding: chunked'], '5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n'),
    upstreamFraming: { 'transfer-encoding': 'chunked' },
  },
];

export interface SingleRequestObservation {
  /** The first response on the connection, or undefined when it closed without one. */
  response: RawHttpResponse | undefined;
  /** The server closed the connection afterwards (within 2 s). */
  closed: boolean;
  victim: RawHttpResponse | Error;
  requests: UpstreamRequest[];
  parseErrors: string[];
}

/** Sends `bytes` on a connection, reads the first response, sees whether the connection closes, then runs the victim. */
export async function runSingleRequest(
  baseUrl: string,
  upstream: RecordingUpstream,
  bytes: string,
  { closeWithinMs = 2_000 } = {},
): Promise<SingleRequestObservation> {
  upstream.clear();
  const client = await RawConnection.open(baseUrl);
  try {
    client.write(bytes);
    const response = await client.nextResponse();
    const closed = await client.waitForClose(closeWithinMs);
    const victim = await attempt(sendVictimRequest(baseUrl, ANSWER_TIMEOUT_MS));
    await delay(SETTLE_MS);
    return { response, closed, victim, requests: [...upstream.requests], parseErrors: [...upstream.parseErrors] };
  } finally {
    client.destroy();
  }
}

export const BAD_REQUEST_BODY = { error: { code: 'bad_request', message: 'The request is malformed.' } };

/** The response is the refusal named, and the connection was closed. */
export function expectRefusal(response: RawHttpResponse | undefined, closed: boolean, refusal: Refusal): void {
  expect(response).toBeDefined();
  if (!response) return;
  expect(response.status).toBe(400);
  expect(headerOf(response, 'connection')).toBe('close');
  if (refusal === 'node-400') {
    // Node's canned answer: `HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n`.
    expect(response.reason).toBe('Bad Request');
    expect(response.headers).toEqual({ connection: ['close'] });
    expect(response.body.length).toBe(0);
  } else {
    expect(headerOf(response, 'content-type')).toBe('application/json; charset=utf-8');
    expect(jsonOf(response)).toEqual(BAD_REQUEST_BODY);
  }
  expect(closed).toBe(true);
}

/** The upstream received nothing but the victim's request, and the victim got its own answer. */
export function expectOnlyTheVictimUpstream(observed: {
  victim: RawHttpResponse | Error;
  requests: UpstreamRequest[];
  parseErrors: string[];
}): void {
  expect(observed.requests.map((r) => `${r.method} ${r.url} ${r.state}`)).toEqual(['GET /me complete']);
  expect(observed.parseErrors).toEqual([]);
  expectOwnAnswer(received(observed.victim, "the victim's request"), observed.requests[0], {
    method: 'GET',
    url: '/me',
    body: '',
    authToken: VICTIM_TOKEN,
  });
}

/** One request upstream with the body "hello" and the framing header expected, answered; the connection stays open. */
export function expectEquivalentCase(observed: SingleRequestObservation, equivalent: EquivalentCase): void {
  expect(observed.requests.map((r) => `${r.method} ${r.url} ${r.state}`)).toEqual([
    `POST ${PROBE_UPSTREAM_URL} complete`,
    'GET /me complete',
  ]);
  expect(observed.parseErrors).toEqual([]);
  const [probe, victim] = observed.requests;
  expect(probe?.body.toString('latin1')).toBe('hello');
  expect(framingHeaders(probe)).toEqual(equivalent.upstreamFraming);
  expect(observed.response).toBeDefined();
  if (observed.response)
    expectOwnAnswer(observed.response, probe, { method: 'POST', url: PROBE_UPSTREAM_URL, body: 'hello', authToken: null });
  expect(observed.closed).toBe(false);
  expectOwnAnswer(received(observed.victim, "the victim's request"), victim, {
    method: 'GET',
    url: '/me',
    body: '',
    authToken: VICTIM_TOKEN,
  });
}
