import type { StoredSession } from './types';

const isText = (value: unknown): value is string => typeof value === 'string' && value !== '';
const isTime = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0;

/** A stored session from its JSON, checked field by field (a garbled or foreign value reads as none, never as an exception). */
export function readStoredSession(json: string | undefined): StoredSession | undefined {
  if (json === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (!isText(v.accessToken) || !isTime(v.createdAt) || !isTime(v.lastSeenAt)) return undefined;
  if (v.refreshToken !== undefined && !isText(v.refreshToken)) return undefined;
  if (v.userId !== undefined && !isText(v.userId)) return undefined;
  if (v.accessExpiresAt !== undefined && !isTime(v.accessExpiresAt)) return undefined;
  return {
    accessToken: v.accessToken,
    accessExpiresAt: v.accessExpiresAt as number | undefined,
    refreshToken: v.refreshToken as string | undefined,
    userId: v.userId as string | undefined,
    createdAt: v.createdAt,
    lastSeenAt: v.lastSeenAt,
  };
}
