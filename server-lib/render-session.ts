import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResolvedOptions } from '../proxy/options';
import { appendSetCookie, clearedSessionCookies, readSessionCookies } from '../proxy/session-cookie';
import { refreshSession, resolveSession, type SessionState } from '../proxy/refresh';
import { isEnded } from '../proxy/refresh-memory';
import { readSession, type LoadedSession } from '../proxy/session-source';
import { isSessionStoreError } from '../session-store/types';
import { hasExpired } from '../proxy/token-expiry';
import { whenClosed } from '../proxy/when-closed';
import { ServerApiError } from './server-api-error';

/**
 * Where a server render's session lives and where its new cookies go: a Pages response (`ctx.res`), or
 * the App Router's cookie store (which a server component cannot write). The one place a refresh result
 * is applied for server rendering, whichever router renders.
 */
export interface SessionCarrier {
  /** The request whose cookies hold the session (headers only). */
  readonly req: IncomingMessage;
  /** Adds Set-Cookie values to the answer; false when it cannot carry them (headers sent, a server component). */
  setCookies(cookies: string[]): boolean;
  /** Resolves when the answer carrying new cookies is finished or abandoned: until then, a rotation stays reachable. */
  whenDone(): Promise<void>;
  /** After a rotation: a logout of `refreshToken` landing before the answer's headers go out must clear the new cookies. */
  watchRotation?(refreshToken: string, options: ResolvedOptions): void;
  /**
   * The answer cannot carry cookies (a server component). A refresh there would use up the browser's
   * refresh token for one render (the rotation reaches the browser only through the reuse window), so
   * an access token that has not expired yet is used as it is, even within the refresh skew.
   */
  readonly readOnly?: boolean;
}

// Carriers whose session cookies are already being cleared: the clearing is sent once.
const cleared = new WeakSet<SessionCarrier>();

/** Sets the cookies that end the session (access and refresh) on the answer, once. */
export function clearSession(carrier: SessionCarrier, options: ResolvedOptions): void {
  if (cleared.has(carrier)) return;
  if (carrier.setCookies(clearedSessionCookies(carrier.req, options))) cleared.add(carrier);
}

export type RenderSession = Exclude<SessionState, { kind: 'failed' }>;

/** Applies a session to the answer: new cookies set, or cleared when it ended; a failure thrown. */
function applySession(carrier: SessionCarrier, options: ResolvedOptions, session: SessionState): RenderSession {
  if (session.kind === 'failed') throw ServerApiError.forFailedCall(session.code);
  if (session.kind === 'expired') clearSession(carrier, options);
  if (session.kind === 'active' && session.setCookies.length > 0 && carrier.setCookies(session.setCookies) && session.rotated) {
    const { refresh } = readSessionCookies(carrier.req, options);
    if (refresh !== undefined) carrier.watchRotation?.(refresh, options);
  }
  return session;
}

/**
 * The render's session, refreshed when needed, with what that means for the answer already done: new
 * cookies set, or the session cleared when the refresh token was refused. A refresh the upstream could
 * not answer is thrown as a ServerApiError.
 */
export async function resolveRenderSession(carrier: SessionCarrier, options: ResolvedOptions, agent: http.Agent): Promise<RenderSession> {
  return withStore(async () => {
    if (carrier.readOnly) {
      const { access, accessExpiresAt: expiresAt, conflict } = await readSession(carrier.req, options);
      if (!conflict && access !== undefined && !hasExpired(access, expiresAt))
        return { kind: 'active', accessToken: access, expiresAt, setCookies: [] };
    }
    return applySession(carrier, options, await resolveSession(carrier.req, options, agent, () => carrier.whenDone()));
  });
}

/** A session store that cannot answer is a ServerApiError (503 `session_store_unavailable`) for the page, as any failed call is. */
export async function withStore<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isSessionStoreError(err)) throw new ServerApiError('session_store_unavailable', 503);
    throw err;
  }
}

/** Refreshes with `refreshToken` (after an upstream 401), applied to the answer the same way. */
export async function refreshRenderSession(
  carrier: SessionCarrier,
  options: ResolvedOptions,
  agent: http.Agent,
  refreshToken: string,
  /** With a store: the session as the render read it (a refresh another instance finished since is used, not repeated). */
  loaded?: LoadedSession,
): Promise<RenderSession> {
  return withStore(async () =>
    applySession(carrier, options, await refreshSession(carrier.req, options, agent, refreshToken, () => carrier.whenDone(), loaded)),
  );
}

// One carrier per Pages response, however many server-lib calls the page makes.
const pageCarriers = new WeakMap<ServerResponse, SessionCarrier>();

/** The carrier of a Pages render (getServerSideProps' `ctx`). */
export function pageCarrier(ctx: { req: IncomingMessage; res: ServerResponse }): SessionCarrier {
  const known = pageCarriers.get(ctx.res);
  if (known) return known;
  let watched = false;
  const carrier: SessionCarrier = {
    req: ctx.req,
    setCookies(cookies) {
      if (ctx.res.headersSent) return false;
      appendSetCookie(ctx.res, ...cookies);
      return true;
    },
    whenDone: () => whenClosed(ctx.res),
    /**
     * A logout may land while the page renders, after its new cookies were set: they are checked once
     * more when the headers are written (Node writes them through `writeHead`, also from `end()`), and
     * cleared if that session has ended meanwhile (appended after them, so the browser keeps the cleared
     * ones), as the proxy route does for its answers.
     */
    watchRotation(refreshToken, options) {
      if (watched) return;
      watched = true;
      const writeHead = ctx.res.writeHead;
      ctx.res.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse['writeHead']>) {
        ctx.res.writeHead = writeHead;
        if (isEnded(options, refreshToken)) clearSession(carrier, options);
        return writeHead.apply(this, args);
      } as ServerResponse['writeHead'];
    },
  };
  pageCarriers.set(ctx.res, carrier);
  return carrier;
}
