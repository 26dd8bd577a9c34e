import http, { type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { ResolvedOptions } from './options';
import { readBoundedBody } from './bounded-body';
import { sharedAgent } from './upstream';

export interface UpstreamCall {
  method: string;
  /** Path and query after the target's base path, starting with '/'. */
  path: string;
  /** Another upstream than API_URL (a token endpoint, a routed API): its origin and base path. @default options.upstream */
  target?: URL;
  headers?: OutgoingHttpHeaders;
  body?: string | Buffer;
  /** The most response bytes read. @default 1 MiB */
  maxResponseBytes?: number;
}

export interface UpstreamReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A direct upstream call that did not produce a reply. `code` is stable; the message is for logs. */
export class UpstreamCallError extends Error {
  constructor(
    readonly code: 'upstream_unavailable' | 'upstream_timeout' | 'bad_upstream_response',
    message: string,
  ) {
    super(message);
    this.name = 'UpstreamCallError';
  }
}

/**
 * Calls the upstream directly (no hop through the proxy route): used by logout and by server-lib.
 * Bounded in time (`timeoutMs`, covering the whole exchange) and in response size.
 */
export function callUpstream(options: ResolvedOptions, agent: http.Agent, call: UpstreamCall): Promise<UpstreamReply> {
  const upstream = call.target ?? options.upstream;
  const basePath = call.target ? call.target.pathname.replace(/\/+$/, '') : options.upstreamBasePath;
  const transport = upstream.protocol === 'https:' ? https : http;
  const body = call.body === undefined ? undefined : Buffer.from(call.body);
  return new Promise<UpstreamReply>((resolve, reject) => {
    const request = transport.request({
      protocol: upstream.protocol,
      hostname: upstream.hostname.replace(/^\[|\]$/g, ''),
      port: upstream.port,
      method: call.method,
      path: basePath + call.path,
      agent: call.target ? sharedAgent(call.target) : agent,
      headers: { ...call.headers, host: upstream.host, ...(body ? { 'content-length': body.length } : {}) },
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      request.destroy();
    }, options.timeoutMs);
    const fail = (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        timedOut
          ? new UpstreamCallError('upstream_timeout', `no answer within ${options.timeoutMs} ms`)
          : new UpstreamCallError('upstream_unavailable', err.code ?? 'connection failed'),
      );
    };
    request.on('error', fail);
    request.on('response', (response) => {
      readBoundedBody(response, call.maxResponseBytes ?? 1024 * 1024).then(
        (buffer) => {
          clearTimeout(timer);
          resolve({ status: response.statusCode ?? 502, headers: response.headers, body: buffer });
        },
        (err: NodeJS.ErrnoException) => {
          clearTimeout(timer);
          reject(
            timedOut
              ? new UpstreamCallError('upstream_timeout', 'answer not finished in time')
              : new UpstreamCallError('bad_upstream_response', err.message),
          );
        },
      );
    });
    request.end(body);
  });
}
