import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { ConfigError, MalformedEventError, SignatureError } from '#core/errors';
import { decodeUtf8, timingSafeEqualValues } from '#platforms/shared/index';

/**
 * The "WXBizMsgCrypt" callback scheme, shared by WeCom (every callback kind, AI bots included) and DingTalk's
 * event-subscription callbacks (DingCallbackCrypto):
 * - signature = hex(SHA-1(sorted([token, timestamp, nonce, encrypt]).join('')));
 * - AES-256-CBC, key = base64decode(encodingAesKey + '='), IV = key[0..16], PKCS#7 padding to a multiple of 32;
 * - plaintext = random16 | uint32 big-endian length | msg | receiveId (WeCom corp id or '' for AI bots; DingTalk's
 *   "ownerKey", the corp id or app key).
 */

const BLOCK = 32;
const RANDOM_BYTES = 16;
const LENGTH_BYTES = 4;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
/** A 43-character base64 key decodes to exactly 32 bytes once '=' is appended. */
const ENCODING_AES_KEY = /^[A-Za-z0-9+/]{43}$/;

/**
 * Decodes the 43-character `EncodingAESKey` (WeCom) / `aes_key` (DingTalk) into the 32-byte AES key.
 * @throws ConfigError when the key is not 43 base64 characters.
 */
export function deriveAesKey(encodingAesKey: string, settingName: string): Buffer {
  if (!ENCODING_AES_KEY.test(encodingAesKey)) {
    throw new ConfigError([`${settingName} must be 43 base64 characters`]);
  }
  return Buffer.from(`${encodingAesKey}=`, 'base64');
}

/** hex SHA-1 over the lexicographically sorted parts, concatenated. */
export function computeMsgSignature(token: string, timestamp: string, nonce: string, encrypt: string): string {
  return createHash('sha1').update([token, timestamp, nonce, encrypt].sort().join(''), 'utf8').digest('hex');
}

export interface SignedCiphertext {
  readonly signature: string | undefined;
  readonly timestamp: string | undefined;
  readonly nonce: string | undefined;
  readonly encrypt: string | undefined;
}

/**
 * Checks the SHA-1 signature in constant time.
 * @returns the verified parts, now known to be present.
 * @throws SignatureError when a part is missing or the signature does not match.
 */
export function verifyMsgSignature(
  token: string,
  parts: SignedCiphertext,
): { timestamp: string; nonce: string; encrypt: string } {
  const { signature, timestamp, nonce, encrypt } = parts;
  if (!signature || timestamp === undefined || nonce === undefined || !encrypt) {
    throw new SignatureError('Missing signature, timestamp, nonce or ciphertext');
  }
  const expected = computeMsgSignature(token, timestamp, nonce, encrypt);
  if (!timingSafeEqualValues(expected, signature.toLowerCase())) {
    throw new SignatureError('Callback signature does not match');
  }
  return { timestamp, nonce, encrypt };
}

/**
 * Decrypts a verified ciphertext and checks the trailing receive id.
 * @param expectedReceiveId compared exactly with the decrypted receive id.
 * @returns the message as text (strict UTF-8).
 * @throws MalformedEventError when the ciphertext is not block-aligned base64 or the message is not UTF-8;
 *   SignatureError when it does not decrypt under this key (padding, length field) or names another receive id.
 */
export function decryptMessage(key: Buffer, encrypt: string, expectedReceiveId: string): string {
  const ciphertext = decodeCiphertext(encrypt);
  const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16));
  decipher.setAutoPadding(false);
  const plain = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  const body = stripPadding(plain);
  if (body.length < RANDOM_BYTES + LENGTH_BYTES) {
    throw new SignatureError('Decrypted payload is shorter than its header');
  }
  const length = body.readUInt32BE(RANDOM_BYTES);
  const start = RANDOM_BYTES + LENGTH_BYTES;
  if (length > body.length - start) {
    throw new SignatureError('Decrypted length field exceeds the payload');
  }
  const receiveId = body.subarray(start + length).toString('utf8');
  if (!timingSafeEqualValues(receiveId, expectedReceiveId)) {
    throw new SignatureError('Decrypted receive id does not match the configured one');
  }
  return decodeUtf8(body.subarray(start, start + length));
}

/**
 * Encrypts a message the way the platform does (used for passive replies, handshake answers and emulators).
 * @param random the 16 leading random bytes; fixed only in tests that reproduce a published vector.
 */
export function encryptMessage(
  key: Buffer,
  message: string,
  receiveId: string,
  random: Buffer = randomBytes(16),
): string {
  const msg = Buffer.from(message, 'utf8');
  const length = Buffer.alloc(LENGTH_BYTES);
  length.writeUInt32BE(msg.length);
  const body = Buffer.concat([random, length, msg, Buffer.from(receiveId, 'utf8')]);
  const pad = BLOCK - (body.length % BLOCK);
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(Buffer.concat([body, Buffer.alloc(pad, pad)])), cipher.final()]).toString(
    'base64',
  );
}

function decodeCiphertext(encrypt: string): Buffer {
  if (!BASE64.test(encrypt) || encrypt.length % 4 !== 0) {
    throw new MalformedEventError('Ciphertext is not base64');
  }
  const bytes = Buffer.from(encrypt, 'base64');
  if (bytes.length === 0 || bytes.length % 16 !== 0) {
    throw new MalformedEventError(`Ciphertext length ${bytes.length} is not a whole number of AES blocks`);
  }
  return bytes;
}

/** PKCS#7 with a 32-byte block: the last byte n is in 1..32 and the last n bytes all equal n. */
function stripPadding(plain: Buffer): Buffer {
  const pad = plain.at(-1) ?? 0;
  if (pad < 1 || pad > BLOCK || pad > plain.length) {
    throw new SignatureError('Invalid padding: the ciphertext does not decrypt under the configured key');
  }
  for (let i = plain.length - pad; i < plain.length; i++) {
    if (plain[i] !== pad) {
      throw new SignatureError('Invalid padding: the ciphertext does not decrypt under the configured key');
    }
  }
  return plain.subarray(0, plain.length - pad);
}
