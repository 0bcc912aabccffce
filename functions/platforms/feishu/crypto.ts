import { createDecipheriv, createHash, timingSafeEqual } from 'node:crypto';
import { MalformedEventError } from '#core/errors';

/**
 * `X-Lark-Signature` = hex(SHA-256(timestamp + nonce + encryptKey + body)), a plain hash (not an HMAC) over the
 * exact body bytes. The body is never decoded to text here: a codec round-trip would change non-ASCII bytes.
 */
export function feishuSignature(timestamp: string, nonce: string, encryptKey: string, rawBody: Buffer): string {
  return createHash('sha256')
    .update(Buffer.from(timestamp + nonce + encryptKey, 'utf8'))
    .update(rawBody)
    .digest('hex');
}

const SIGNATURE_HEX = /^[0-9a-fA-F]{64}$/;

/**
 * Both sides are 32-byte SHA-256 digests, so they are compared directly in constant time (no re-hashing to equalise
 * lengths). A header that is not 64 hex characters cannot be a signature and is refused before any hashing; its
 * length and alphabet are no secret.
 */
export function isValidFeishuSignature(
  signature: string,
  timestamp: string,
  nonce: string,
  encryptKey: string,
  rawBody: Buffer,
): boolean {
  if (!SIGNATURE_HEX.test(signature)) return false;
  const expected = createHash('sha256').update(`${timestamp}${nonce}${encryptKey}`, 'utf8').update(rawBody).digest();
  return timingSafeEqual(Buffer.from(signature, 'hex'), expected);
}

let derived: { readonly encryptKey: string; readonly aesKey: Buffer } | undefined;

/** AES-256 key Feishu derives from the app's Encrypt Key: SHA-256 of it, derived once per key, not per event. */
export function feishuAesKey(encryptKey: string): Buffer {
  if (derived?.encryptKey !== encryptKey) {
    derived = { encryptKey, aesKey: createHash('sha256').update(encryptKey, 'utf8').digest() };
  }
  return derived.aesKey;
}

/**
 * The decoded size of well-formed padded base64 of `text`'s length. Node's decoder skips characters outside the
 * alphabet, so a blob of another size proves a malformed string; checked after decoding instead of with a regex over
 * the whole string, which cost as much as the AES decryption itself on the webhook's hot path.
 */
function base64Size(text: string): number {
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return (text.length / 4) * 3 - padding;
}

/**
 * Decrypts the `encrypt` field: base64 of IV (16 bytes) followed by AES-256-CBC ciphertext with PKCS#7 padding.
 * @returns the plaintext as bytes (decoded by the caller with a strict UTF-8 decoder).
 * @throws MalformedEventError for non-base64 input, a truncated blob, or a padding/key failure.
 */
export function decryptFeishu(encrypt: string, encryptKey: string): Buffer {
  const blob = Buffer.from(encrypt, 'base64');
  // Node also reads the base64url alphabet (`-`, `_`) as base64: refused here, as the strict alphabet requires.
  const urlAlphabet = encrypt.includes('-') || encrypt.includes('_');
  if (encrypt.length % 4 !== 0 || urlAlphabet || blob.length !== base64Size(encrypt)) {
    throw new MalformedEventError('Feishu `encrypt` is not base64');
  }
  if (blob.length < 32 || blob.length % 16 !== 0) {
    throw new MalformedEventError('Feishu `encrypt` is truncated (not IV + whole AES blocks)');
  }
  try {
    const decipher = createDecipheriv('aes-256-cbc', feishuAesKey(encryptKey), blob.subarray(0, 16));
    return Buffer.concat([decipher.update(blob.subarray(16)), decipher.final()]);
  } catch (cause) {
    throw new MalformedEventError('Feishu `encrypt` did not decrypt (wrong key or bad padding)', { cause });
  }
}
