import type { IncomingMessage, ServerResponse } from 'node:http';
import { appendSetCookie, clearedSessionCookies, type ResolvedOptions } from '../proxy';

// Responses whose session cookies are already being cleared: the clearing is sent once.
const cleared = new WeakSet<ServerResponse>();

/** Sets the cookies that end the session (access and refresh) on the page's response, once. */
export function clearSessionOn(ctx: { req: IncomingMessage; res: ServerResponse }, options: ResolvedOptions): void {
  if (cleared.has(ctx.res) || ctx.res.headersSent) return;
  cleared.add(ctx.res);
  appendSetCookie(ctx.res, ...clearedSessionCookies(ctx.req, options));
}
