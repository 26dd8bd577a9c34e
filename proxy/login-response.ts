export class LoginResponseError extends Error {
  constructor(readonly reason: 'not_json' | 'no_token') {
    super(`login response rejected: ${reason}`);
    this.name = 'LoginResponseError';
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: Json | undefined): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Drops every string (value or key) that contains the token, wherever the upstream put a copy of it. */
function withoutToken(value: Json, token: string): Json | undefined {
  if (typeof value === 'string') return value.includes(token) ? undefined : value;
  if (Array.isArray(value)) {
    return value.map((item) => withoutToken(item, token)).filter((item): item is Json => item !== undefined);
  }
  if (isObject(value)) {
    // A null prototype: a "__proto__" key from the upstream stays a plain key.
    const out = Object.create(null) as { [key: string]: Json };
    for (const [key, item] of Object.entries(value)) {
      if (key.includes(token)) continue;
      const kept = withoutToken(item, token);
      if (kept !== undefined) out[key] = kept;
    }
    return out;
  }
  return value;
}

function readField(root: { [key: string]: Json }, fieldPath: readonly string[]): Json | undefined {
  let holder: Json | undefined = root;
  for (const key of fieldPath) holder = isObject(holder) && Object.hasOwn(holder, key) ? holder[key] : undefined;
  return holder;
}

function takeField(root: { [key: string]: Json }, fieldPath: readonly string[]): Json | undefined {
  let holder: Json | undefined = root;
  for (const key of fieldPath.slice(0, -1)) holder = isObject(holder) ? holder[key] : undefined;
  const last = fieldPath[fieldPath.length - 1] ?? '';
  if (!isObject(holder) || !Object.hasOwn(holder, last)) return undefined;
  const value = holder[last];
  delete holder[last];
  return value;
}

/**
 * Parses a login (or refresh) answer and takes the tokens out of it: the access token (required), the
 * refresh token (when `refreshPath` is given and present), and the JSON body left without either.
 */
export function takeTokensFromBody(
  raw: Buffer,
  fields: {
    access: readonly string[];
    /** Where the refresh token is: taken out too when present. */
    refresh?: readonly string[] | undefined;
    /** Where the access token's lifetime in seconds is (`expires_in`); it stays in the body. */
    expiresIn?: readonly string[] | undefined;
    /** Where the user's id is; it stays in the body. */
    userId?: readonly string[] | undefined;
  },
  /** Other tokens to remove wherever they appear (the ones the request's cookies held). */
  otherSecrets: readonly (string | undefined)[] = [],
): { token: string; refreshToken: string | undefined; expiresIn: unknown; userId: string | undefined; body: string } {
  let parsed: Json;
  try {
    parsed = JSON.parse(raw.toString('utf8')) as Json;
  } catch {
    throw new LoginResponseError('not_json');
  }
  if (!isObject(parsed)) throw new LoginResponseError('not_json');

  const expiresIn = fields.expiresIn ? readField(parsed, fields.expiresIn) : undefined;
  const id = fields.userId ? readField(parsed, fields.userId) : undefined;
  const userId = typeof id === 'string' && id !== '' ? id : typeof id === 'number' && Number.isFinite(id) ? String(id) : undefined;
  const token = takeField(parsed, fields.access);
  if (typeof token !== 'string' || token === '') throw new LoginResponseError('no_token');
  const refresh = fields.refresh ? takeField(parsed, fields.refresh) : undefined;
  const refreshToken = typeof refresh === 'string' && refresh !== '' ? refresh : undefined;

  let rest = withoutToken(parsed, token);
  // Short strings would match ordinary values by chance; real tokens are far longer.
  for (const secret of [refreshToken, ...otherSecrets])
    if (secret !== undefined && secret.length >= 8 && rest !== undefined) rest = withoutToken(rest, secret);
  return { token, refreshToken, expiresIn, userId, body: JSON.stringify(rest) };
}
