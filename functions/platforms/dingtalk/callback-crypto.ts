import { assertWithinWindow, parseEpochHeader } from '#platforms/shared/index';
import {
  computeMsgSignature,
  decryptMessage,
  encryptMessage,
  verifyMsgSignature,
} from '#platforms/wecom/biz-msg-crypt';

/** Keys of DingTalk's event-subscription callback crypto (DingCallbackCrypto). */
export interface DingTalkCallbackKeys {
  readonly token: string;
  /** The 32-byte AES key (`deriveAesKey(aesKey)`). */
  readonly aesKey: Buffer;
  /** Ends every plaintext: the corp id or app key the subscription belongs to. */
  readonly ownerKey: string;
}

/** The query parameters and body field of one encrypted callback. */
export interface DingTalkEncryptedCallback {
  readonly signature: string | undefined;
  /** Epoch ms, as DingTalk sends it. */
  readonly timestamp: string | undefined;
  readonly nonce: string | undefined;
  readonly encrypt: string | undefined;
}

/** The JSON DingTalk expects back from an event-subscription callback. */
export interface DingTalkEncryptedResponse {
  readonly msg_signature: string;
  readonly timeStamp: string;
  readonly nonce: string;
  readonly encrypt: string;
}

/**
 * Verifies the SHA-1 signature, checks the timestamp window and decrypts.
 * @throws SignatureError, ReplayError or MalformedEventError.
 */
export function decryptDingTalkCallback(
  callback: DingTalkEncryptedCallback,
  keys: DingTalkCallbackKeys,
  now: number,
  windowMs: number,
): string {
  const verified = verifyMsgSignature(keys.token, callback);
  assertWithinWindow(parseEpochHeader(verified.timestamp, 'milliseconds'), now, windowMs);
  return decryptMessage(keys.aesKey, verified.encrypt, keys.ownerKey);
}

/** Encrypts and signs a callback answer (e.g. "success" for `check_url`). */
export function encryptDingTalkResponse(
  message: string,
  keys: DingTalkCallbackKeys,
  timestamp: string,
  nonce: string,
  random?: Buffer,
): DingTalkEncryptedResponse {
  const encrypt = encryptMessage(keys.aesKey, message, keys.ownerKey, random);
  return {
    msg_signature: computeMsgSignature(keys.token, timestamp, nonce, encrypt),
    timeStamp: timestamp,
    nonce,
    encrypt,
  };
}
