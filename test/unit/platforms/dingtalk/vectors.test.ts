import { ReplayError } from '#core/errors';
import {
  computeRobotSign,
  decryptDingTalkCallback,
  encryptDingTalkResponse,
  verifyRobotSign,
} from '#platforms/dingtalk/index';
import { computeMsgSignature, deriveAesKey } from '#platforms/wecom/index';
import vectors from '../../../fixtures/platform-vectors.json';

const HOUR = 3_600_000;

describe.each([
  ['D1', vectors.dingtalk.D1_callback_crypto],
  ['D2', vectors.dingtalk.D2_callback_crypto],
])('DingTalk callback crypto vector %s', (_name, v) => {
  const keys = { token: v.token, aesKey: deriveAesKey(v.aesKey, 'aesKey'), ownerKey: v.ownerKey };
  const callback = { signature: v.msgSignature, timestamp: v.timestamp, nonce: v.nonce, encrypt: v.encrypt };

  it('computes the published signature', () => {
    expect(computeMsgSignature(v.token, v.timestamp, v.nonce, v.encrypt)).toBe(v.msgSignature);
  });

  it('verifies and decrypts to the published plaintext', () => {
    expect(decryptDingTalkCallback(callback, keys, Number(v.timestamp), HOUR)).toBe(v.plaintext);
  });

  it('round-trips its plaintext through encryptDingTalkResponse', () => {
    const sealed = encryptDingTalkResponse(v.plaintext, keys, v.timestamp, v.nonce);
    const reopened = {
      signature: sealed.msg_signature,
      timestamp: sealed.timeStamp,
      nonce: sealed.nonce,
      encrypt: sealed.encrypt,
    };
    expect(decryptDingTalkCallback(reopened, keys, Number(v.timestamp), HOUR)).toBe(v.plaintext);
  });

  it('rejects the vector once it is older than the window', () => {
    expect(() => decryptDingTalkCallback(callback, keys, Number(v.timestamp) + HOUR + 1, HOUR)).toThrow(ReplayError);
  });
});

describe('DingTalk robot sign vector Dd', () => {
  const v = vectors.dingtalk.Dd_robot_sign;

  it('computes the derived sign', () => {
    expect(computeRobotSign(v.appSecret, v.timestamp)).toBe(v.sign);
  });

  it('accepts it at the edges of the 1-hour window and rejects it just outside', () => {
    const headers = { timestamp: v.timestamp, sign: v.sign };
    const t = Number(v.timestamp);
    expect(() => verifyRobotSign(headers, v.appSecret, t + HOUR, HOUR)).not.toThrow();
    expect(() => verifyRobotSign(headers, v.appSecret, t - HOUR, HOUR)).not.toThrow();
    expect(() => verifyRobotSign(headers, v.appSecret, t + HOUR + 1, HOUR)).toThrow(ReplayError);
    expect(() => verifyRobotSign(headers, v.appSecret, t - HOUR - 1, HOUR)).toThrow(ReplayError);
  });
});
