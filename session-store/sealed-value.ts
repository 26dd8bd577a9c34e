import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

// Tokens at rest, optionally sealed with AES-256-GCM (NIST SP 800-38D): a 96-bit random IV per value,
// a 128-bit tag, and the store key as additional data, so a sealed value moved under another session's
// key does not open. Several keys may be given: the first seals, any opens (rotation: add the new key
// first, keep the old one until the sessions it sealed have expired).
const PREFIX = 'gcm1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface SealingKey {
  /** A short fingerprint of the key, stored with each value so the right key is tried. */
  id: string;
  key: Buffer;
}

/** Keys from their base64 (or base64url) text: 32 bytes each. Throws naming the problem, never the key. */
export function parseSealingKeys(texts: readonly string[], name: string): SealingKey[] {
  return texts.map((text, i) => {
    const key = Buffer.from(text.trim(), 'base64');
    if (key.length !== 32)
      throw new Error(`${name}[${i}] must be 32 bytes in base64 (e.g. openssl rand -base64 32), got ${key.length} bytes`);
    return { id: createHash('sha256').update(key).digest('base64url').slice(0, 8), key };
  });
}

export function seal(plain: string, keys: readonly SealingKey[], context: string): string {
  const first = keys[0];
  if (!first) return plain;
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', first.key, iv);
  cipher.setAAD(Buffer.from(context));
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return `${PREFIX}.${first.id}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
}

/**
 * The plain value, or undefined when it cannot be opened (no key of that id, tampered, or sealed for
 * another key). A plain value is returned as it is while no key is configured, and refused once keys
 * are: a store written before encryption was turned on must not be trusted to hold what it says.
 */
export function open(stored: string, keys: readonly SealingKey[], context: string): string | undefined {
  if (!stored.startsWith(`${PREFIX}.`)) return keys.length === 0 ? stored : undefined;
  const [, id, packed] = stored.split('.');
  const key = keys.find((candidate) => candidate.id === id);
  if (!key || packed === undefined) return undefined;
  const bytes = Buffer.from(packed, 'base64url');
  if (bytes.length < IV_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.key, bytes.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
