import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type OAuth2Server from '@node-oauth/oauth2-server';

// The in-memory model behind the OAuth fixture: what @node-oauth/oauth2-server calls for the password and
// refresh_token grants and for `authenticate` (getClient, getUser, saveToken, getAccessToken, getRefreshToken,
// revokeToken). No generateAccessToken/generateRefreshToken: the library's own 32-byte hex tokens are used.

export interface OAuthClientConfig {
  id: string;
  secret: string;
  grants: string[];
}

export interface OAuthUserConfig {
  username: string;
  password: string;
  id: string;
}

/** The user as the library carries it around: never the password. */
export interface GrantUser {
  id: string;
  username: string;
}

/** One issued pair, under both of its tokens. `grant`: the login it descends from (kept across rotations). */
export interface StoredToken extends OAuth2Server.Token {
  user: GrantUser;
  grant: string;
}

type Model = OAuth2Server.PasswordModel & OAuth2Server.RefreshTokenModel;

/** Compares secrets without leaking their length or content through timing. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

export class OAuthStore {
  readonly accessTokens = new Map<string, StoredToken>();
  readonly refreshTokens = new Map<string, StoredToken>();
  /**
   * The grant of a user object the store handed out. The refresh grant passes getRefreshToken's `user`
   * back to saveToken unchanged, so this is how a rotated pair stays in its login's grant (needed to
   * revoke a whole grant, RFC 7009 §2.1) without the library knowing.
   */
  private readonly grantOfUser = new WeakMap<object, string>();

  constructor(
    private readonly clients: readonly OAuthClientConfig[],
    private readonly users: readonly OAuthUserConfig[],
  ) {}

  /** The client with this id and secret; with no secret (a grant not requiring client auth), by id alone. */
  findClient(clientId: string, clientSecret: string | undefined): OAuth2Server.Client | null {
    const client = this.clients.find((candidate) => candidate.id === clientId);
    if (!client || (clientSecret !== undefined && !sameSecret(clientSecret, client.secret))) return null;
    return { id: client.id, grants: [...client.grants] };
  }

  isAccessTokenValid(token: string): boolean {
    const stored = this.accessTokens.get(token);
    return stored?.accessTokenExpiresAt !== undefined && stored.accessTokenExpiresAt > new Date();
  }

  /** Removes every token of the grant (all rotations of one login). */
  revokeGrant(grant: string): void {
    for (const [token, stored] of this.accessTokens) if (stored.grant === grant) this.accessTokens.delete(token);
    for (const [token, stored] of this.refreshTokens) if (stored.grant === grant) this.refreshTokens.delete(token);
  }

  model(): Model {
    return {
      getClient: async (clientId, clientSecret) => this.findClient(clientId, clientSecret),
      getUser: async (username, password) => {
        const user = this.users.find((candidate) => candidate.username === username && sameSecret(password, candidate.password));
        return user ? { id: user.id, username: user.username } : null;
      },
      saveToken: async (token, client, user) => {
        const grant = this.grantOfUser.get(user) ?? randomUUID();
        const owner: GrantUser = { id: String(user.id), username: String(user.username) };
        this.grantOfUser.set(owner, grant);
        const stored: StoredToken = { ...token, client, user: owner, grant };
        this.accessTokens.set(stored.accessToken, stored);
        if (stored.refreshToken) this.refreshTokens.set(stored.refreshToken, stored);
        return stored;
      },
      // Expiry is judged by the library (accessTokenExpiresAt / refreshTokenExpiresAt must be Dates).
      getAccessToken: async (accessToken) => this.accessTokens.get(accessToken) ?? null,
      getRefreshToken: async (refreshToken) => {
        const stored = this.refreshTokens.get(refreshToken);
        return stored?.refreshToken ? { ...stored, refreshToken: stored.refreshToken } : null;
      },
      // Called by the refresh grant before it issues the new pair (alwaysIssueNewRefreshToken). Answering
      // false for a token already gone makes the library refuse a concurrent second use with invalid_grant.
      revokeToken: async (token) => this.refreshTokens.delete(token.refreshToken),
    };
  }
}
