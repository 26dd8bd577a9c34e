import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResolvedOptions } from '../proxy/options';
import { appendSetCookie, clearedSessionCookies, readSessionCookies } from '../proxy/session-cookie';
import { refreshSession, resolveSession, type SessionState } from '../proxy/refresh';
import { isEnded } from '../proxy/refresh-memory';
import { ServerApiError } from './server-api-error';

type PageContext = { req: IncomingMessage; res: ServerResponse };

// Responses whose session cookies are already being cleared: the clearing is sent once.
const cleared = new WeakSet<ServerResponse>();

/** Sets the cookies that end the session (access and refresh) on the page's response, once. */
export function clearSessionOn(ctx: PageContext, options: ResolvedOptions): void {
  if (cleared.has(ctx.res) || ctx.res.headersSent) return;
  cleared.add(ctx.res);
  appendSetCookie(ctx.res, ...clearedSessionCookies(ctx.req, options));
}

type PageSession = Exclude<SessionState, { kind: 'failed' }>;

/** Applies a session to the page's response: new cookies set, or cleared when it ended; a failure thrown. */
function applyToPage(ctx: PageContext, options: ResolvedOptions, session: SessionState): PageSession {
  if (session.kind === 'failed') throw ServerApiError.forFailedCall(session.code);
  if (session.kind === 'expired') clearSessionOn(ctx, options);
  if (session.kind === 'active' && !ctx.res.headersSent) {
    appendSetCookie(ctx.res, ...session.setCookies);
    if (session.rotated) clearIfEndedBeforeHeaders(ctx, options);
  }
  return session;
}

// Responses already watched: one wrapper per response, however many refreshes the page made.
const watched = new WeakSet<ServerResponse>();

/**
 * A logout may land while the page renders, after its new cookies were set: they are checked once more
 * when the headers are written (Node writes them through `writeHead`, also from `end()`), and cleared
 * if that session has ended meanwhile (appended after them, so the browser keeps the cleared ones), as
 * the proxy route does for its answers.
 */
function clearIfEndedBeforeHeaders(ctx: PageContext, options: ResolvedOptions): void {
  if (watched.has(ctx.res)) return;
  watched.add(ctx.res);
  const { refresh } = readSessionCookies(ctx.req, options);
  if (refresh === undefined) return;
  const writeHead = ctx.res.writeHead;
  ctx.res.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse['writeHead']>) {
    ctx.res.writeHead = writeHead;
    if (isEnded(options, refresh)) clearSessionOn(ctx, options);
    return writeHead.apply(this, args);
  } as ServerResponse['writeHead'];
}

/**
 * The page request's session, refreshed when needed, with what that means for the page's response
 * already done: new cookies set, or the session cleared when the refresh token was refused. A refresh
 * the upstream could not answer is thrown as a ServerApiError.
 */
export async function resolvePageSession(ctx: PageContext, options: ResolvedOptions, agent: http.Agent): Promise<PageSession> {
  return applyToPage(ctx, options, await resolveSession(ctx.req, options, agent, () => whenDone(ctx.res)));
}

/** Refreshes with `refreshToken` (after an upstream 401), applied to the page's response the same way. */
export async function refreshPageSession(ctx: PageContext, options: ResolvedOptions, agent: http.Agent, refreshToken: string): Promise<PageSession> {
  return applyToPage(ctx, options, await refreshSession(ctx.req, options, agent, refreshToken, () => whenDone(ctx.res)));
}

/** Resolves when the page's response is finished or abandoned: until then, its new cookies are held. */
function whenDone(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    if (res.closed) resolve();
    else res.once('close', () => resolve());
  });
}
