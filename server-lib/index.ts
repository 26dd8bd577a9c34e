export { createServerApi, apiPath, type ServerApi, type ServerApiResponse } from './server-api';
export { ServerApiError, type ServerApiErrorCode } from './server-api-error';
export { withSession, redirectToLogin, type SessionContext, type WithSessionOptions } from './with-session';
export { getSession } from './get-session';
export type { SessionInfo } from '../proxy/session-endpoint';
export { endUserSessions } from './end-user-sessions';
export { SessionStoreError, type SessionLock, type SessionStore, type StoredSession } from '../session-store/types';
