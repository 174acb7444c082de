/**
 * Encryption of stored secrets (TAP secrets, mail-provider credentials) with AES-256-GCM.
 *
 * The key comes from `TAP_MDR_SECRET_KEY` (32 bytes, base64) or from `<dataDir>/secret.key`,
 * created with mode 0600 on first use. Each ciphertext is bound to its reference through the
 * GCM additional data, so a ciphertext copied to another reference fails to decrypt.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const FORMAT = 'v1';

/** Raised for a missing or malformed key, or a ciphertext that fails authentication. */
export class SecretError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'SecretError';
    this.code = code;
  }
}

/**
 * Loads the secret key: from `TAP_MDR_SECRET_KEY` when set, else from `<dataDir>/secret.key`,
 * which is created (mode 0600) when it does not exist.
 */
export function loadSecretKey(dataDir: string, env = process.env): Buffer {
  const fromEnv = env.TAP_MDR_SECRET_KEY;
  if (fromEnv) return decodeKey(fromEnv, 'TAP_MDR_SECRET_KEY');

  const path = join(dataDir, 'secret.key');
  try {
    const mode = statSync(path).mode & 0o777;
    if (mode & 0o077) {
      throw new SecretError(
        'TAP_MDR_SECRET_KEY_PERMISSIONS',
        `key file ${path} has mode ${mode.toString(8)}; restrict it with: chmod 600 ${path}`,
      );
    }
    return decodeKey(readFileSync(path, 'utf8').trim(), path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }

  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(KEY_BYTES);
  // 'wx' fails if another process created the file in the meantime; read theirs instead.
  try {
    writeFileSync(path, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return decodeKey(readFileSync(path, 'utf8').trim(), path);
  }
}

function decodeKey(encoded: string, source: string): Buffer {
  const key = Buffer.from(encoded, 'base64');
  if (key.length !== KEY_BYTES) {
    throw new SecretError(
      'TAP_MDR_SECRET_KEY_INVALID',
      `secret key from ${source} is ${key.length} bytes; expected ${KEY_BYTES} bytes, base64-encoded ` +
        `(generate one with: openssl rand -base64 32)`,
    );
  }
  return key;
}

/** Encrypts `plaintext` for storage under `ref`. */
export function sealSecret(plaintext: string, ref: string, key: Buffer): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(ref, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [FORMAT, iv.toString('base64'), cipher.getAuthTag().toString('base64'), ciphertext.toString('base64')].join(
    ':',
  );
}

/** Decrypts a value from {@link sealSecret}; throws {@link SecretError} when the key or reference is wrong. */
export function openSecret(sealed: string, ref: string, key: Buffer): string {
  const [format, iv, tag, ciphertext] = sealed.split(':');
  if (format !== FORMAT || !iv || !tag || ciphertext === undefined) {
    throw new SecretError('TAP_MDR_SECRET_FORMAT', `stored secret ${ref} is not in the ${FORMAT} format`);
  }

  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
  decipher.setAAD(Buffer.from(ref, 'utf8'));
  decipher.setAuthTag(Buffer.from(tag, 'base64'));
  try {
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64')), decipher.final()]).toString('utf8');
  } catch {
    throw new SecretError(
      'TAP_MDR_SECRET_DECRYPT_FAILED',
      `stored secret ${ref} failed authentication: the secret key differs from the one it was stored with`,
    );
  }
}
