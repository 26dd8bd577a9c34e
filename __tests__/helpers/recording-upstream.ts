import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { listen, type RunningServer } from './servers';

/** One request as the upstream received it. */
export interface UpstreamRequest {
  /** 1, 2, 3… in order of arrival over the upstream's life. */
  seq: number;
  /** Which TCP connection it came on (1, 2, 3… in order of accept). */
  connection: number;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** Header lines as sent, names in their original case. */
  rawHeaders: string[];
  /** The body bytes received so far (all of them once `state` is 'complete'). */
  body: Buffer;
  /** 'receiving' until the body ends ('complete') or the connection goes first ('aborted'). */
  state: 'receiving' | 'complete' | 'aborted';
}

/** What the upstream answers to every request (JSON, and `X-Upstream-Seq` for HEAD's sake). */
export interface UpstreamAnswer {
  seq: number;
  method: string;
  url: string;
  bytes: number;
  sha256: string;
  authToken: string | null;
}

export interface RecordingUpstream extends RunningServer {
  /** Every request, recorded as soon as its headers arrive (before its body). */
  readonly requests: UpstreamRequest[];
  /** Bytes the upstream's own HTTP parser refused (a smuggled fragment would typically land here). */
  readonly parseErrors: string[];
  /** Forgets what was recorded so far (sequence numbers keep counting). */
  clear(): void;
}

export function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A keep-alive upstream on 127.0.0.1 that records each request and answers once its body has ended. */
export async function startRecordingUpstream(): Promise<RecordingUpstream> {
  const requests: UpstreamRequest[] = [];
  const parseErrors: string[] = [];
  let seq = 0;
  let connections = 0;
  const connectionIds = new WeakMap<object, number>();
  const running = await listen((req, res) => {
    const record: UpstreamRequest = {
      seq: ++seq,
      connection: connectionIds.get(req.socket) ?? 0,
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      body: Buffer.alloc(0),
      state: 'receiving',
    };
    requests.push(record);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      record.body = Buffer.concat(chunks);
    });
    req.on('error', () => {});
    req.on('close', () => {
      if (record.state === 'receiving') record.state = 'aborted';
    });
    req.on('end', () => {
      record.state = 'complete';
      const answer: UpstreamAnswer = {
        seq: record.seq,
        method: record.method,
        url: record.url,
        bytes: record.body.length,
        sha256: sha256(record.body),
        authToken: typeof req.headers['auth-token'] === 'string' ? req.headers['auth-token'] : null,
      };
      const text = JSON.stringify(answer);
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
        'x-upstream-seq': String(record.seq),
      });
      res.end(text);
    });
  });
  running.server.on('connection', (socket) => connectionIds.set(socket, ++connections));
  running.server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    parseErrors.push(err.code ?? err.message);
    socket.destroy();
  });
  return {
    ...running,
    requests,
    parseErrors,
    clear: () => {
      requests.length = 0;
      parseErrors.length = 0;
    },
  };
}
