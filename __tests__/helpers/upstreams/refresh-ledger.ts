// Strict refresh-token rotation for the JSON-API fixtures: each refresh token is exchanged once, and
// the check and the marking happen in one synchronous step, so of two concurrent uses exactly one wins.

interface RefreshRecord {
  userId: string;
  /** One login and all its rotations. */
  session: string;
  expiresAt: number;
  usedAt: number | undefined;
  revoked: boolean;
}

export type ConsumeResult =
  { ok: true; userId: string; session: string } | { ok: false; reason: 'unknown' | 'expired' | 'reused' | 'revoked' };

export class RefreshLedger {
  private readonly records = new Map<string, RefreshRecord>();

  issue(token: string, userId: string, session: string, lifetimeSeconds: number): void {
    this.records.set(token, { userId, session, expiresAt: Date.now() + lifetimeSeconds * 1000, usedAt: undefined, revoked: false });
  }

  /** Exchanges `token` once: the first call gets its owner, every later one `reused`. */
  consume(token: string): ConsumeResult {
    const record = this.records.get(token);
    if (!record) return { ok: false, reason: 'unknown' };
    if (record.revoked) return { ok: false, reason: 'revoked' };
    if (record.usedAt !== undefined) return { ok: false, reason: 'reused' };
    if (record.expiresAt <= Date.now()) return { ok: false, reason: 'expired' };
    record.usedAt = Date.now();
    return { ok: true, userId: record.userId, session: record.session };
  }

  /** The owner of a token that could still be exchanged, or undefined. */
  live(token: string): { userId: string; session: string } | undefined {
    const record = this.records.get(token);
    if (!record || record.revoked || record.usedAt !== undefined || record.expiresAt <= Date.now()) return undefined;
    return { userId: record.userId, session: record.session };
  }

  /** Revokes the still-unused tokens that match; returns them. */
  revokeWhere(matches: (userId: string, session: string) => boolean): string[] {
    const revoked: string[] = [];
    for (const [token, record] of this.records) {
      if (record.revoked || record.usedAt !== undefined || !matches(record.userId, record.session)) continue;
      record.revoked = true;
      revoked.push(token);
    }
    return revoked;
  }
}
