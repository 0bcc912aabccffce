import { createDecipheriv, createHash } from 'node:crypto';
import { MalformedEventError } from '#core/errors';
import { timingSafeEqualValues } from '#platforms/shared/timing-safe';

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

export function isValidFeishuSignature(
  signature: string,
  timestamp: string,
  nonce: string,
  encryptKey: string,
  rawBody: Buffer,
): boolean {
  return timingSafeEqualValues(signature.toLowerCase(), feishuSignature(timestamp, nonce, encryptKey, rawBody));
}

/** AES-256 key Feishu derives from the app's Encrypt Key. */
export function feishuAesKey(encryptKey: string): Buffer {
  return createHash('sha256').update(encryptKey, 'utf8').digest();
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decrypts the `encrypt` field: base64 of IV (16 bytes) followed by AES-256-CBC ciphertext with PKCS#7 padding.
 * @returns the plaintext as bytes (decoded by the caller with a strict UTF-8 decoder).
 * @throws MalformedEventError for non-base64 input, a truncated blob, or a padding/key failure.
 */
export function decryptFeishu(encrypt: string, encryptKey: string): Buffer {
  if (!BASE64.test(encrypt)) {
    throw new MalformedEventError('Feishu `encrypt` is not base64');
  }
  const blob = Buffer.from(encrypt, 'base64');
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
