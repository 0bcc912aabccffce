import { SignatureError } from '#core/errors';
import type { RawRequest } from '#platforms/types';
import {
  computeMsgSignature,
  createWeComPlatform,
  decryptMessage,
  deriveAesKey,
  encryptMessage,
} from '#platforms/wecom/index';
import vectors from '../../../fixtures/platform-vectors.json';

const { common } = vectors.wecom;
const key = deriveAesKey(common.encodingAesKey, 'encodingAesKey');
const deps = { fetch, now: () => 0, sleep: async () => {} };
const corpApp = createWeComPlatform(
  { token: common.token, encodingAesKey: common.encodingAesKey, receiveId: common.receiveId },
  deps,
);
const aiBot = createWeComPlatform({ token: common.token, encodingAesKey: common.encodingAesKey }, deps);
const seconds = (timestamp: string) => Number(timestamp) * 1000;

describe('WeCom W1 URL verification', () => {
  const v = vectors.wecom.W1_url_verification;
  const request: RawRequest = {
    method: 'GET',
    headers: {},
    query: {
      msg_signature: v.msgSignature,
      timestamp: v.timestamp,
      nonce: v.nonce,
      echostr: decodeURIComponent(v.echostrUrlEncoded),
    },
    body: Buffer.alloc(0),
  };

  it('answers the decrypted echostr as plain text', () => {
    expect(corpApp.parse(request, seconds(v.timestamp))).toEqual({
      kind: 'handshake',
      response: { statusCode: 200, headers: { 'content-type': 'text/plain' }, body: v.expectedResponse },
    });
  });

  it('the URL-encoded echostr decodes to the published one', () => {
    expect(decodeURIComponent(v.echostrUrlEncoded)).toBe(v.echostr);
  });

  it('refuses it when the receive id does not match (AI-bot receiveId "")', () => {
    expect(() => aiBot.parse(request, seconds(v.timestamp))).toThrow(SignatureError);
  });
});

describe('WeCom W2 legacy XML callback', () => {
  const v = vectors.wecom.W2_xml_decrypt;

  it('verifies the signature and decrypts to the published XML', () => {
    expect(computeMsgSignature(common.token, v.timestamp, v.nonce, v.encrypt)).toBe(v.msgSignature);
    expect(decryptMessage(key, v.encrypt, common.receiveId)).toBe(v.plaintext);
  });

  it('is accepted through parse and ignored as a non-AI-bot callback', () => {
    const body = `<xml><ToUserName><![CDATA[${common.receiveId}]]></ToUserName><Encrypt><![CDATA[${v.encrypt}]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>`;
    const request: RawRequest = {
      method: 'POST',
      headers: { 'content-type': 'text/xml' },
      query: { msg_signature: v.msgSignature, timestamp: v.timestamp, nonce: v.nonce },
      body: Buffer.from(body, 'utf8'),
    };
    expect(corpApp.parse(request, seconds(v.timestamp))).toEqual({
      kind: 'ignored',
      reason: 'legacy XML callback (self-built app), not an AI bot message',
    });
  });
});

describe('WeCom W3 JSON callback', () => {
  const v = vectors.wecom.W3_json_decrypt;

  it('verifies the signature and decrypts to the published JSON', () => {
    expect(computeMsgSignature(common.token, v.timestamp, v.nonce, v.body.encrypt)).toBe(v.msgSignature);
    expect(decryptMessage(key, v.body.encrypt, common.receiveId)).toBe(v.plaintext);
  });

  it('passes signature and decryption in parse, then rejects the non-AI-bot payload shape', () => {
    const request: RawRequest = {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      query: { msg_signature: v.msgSignature, timestamp: v.timestamp, nonce: v.nonce },
      body: Buffer.from(JSON.stringify(v.body), 'utf8'),
    };
    // The self-built-app JSON has MsgType/Content, not the AI bot's msgtype/text: a typed 400, never a crash.
    expect(() => corpApp.parse(request, seconds(v.timestamp))).toThrow('Message has no msgtype');
  });
});

describe('WeCom Wd AI-bot encryption', () => {
  const v = vectors.wecom.Wd_aibot_encrypt;

  it('reproduces the published ciphertext and signature with the fixed random16', () => {
    const encrypt = encryptMessage(key, v.msg, v.receiveId, Buffer.from(v.random16, 'utf8'));
    expect(encrypt).toBe(v.encrypt);
    expect(computeMsgSignature(common.token, v.timestamp, v.nonce, encrypt)).toBe(v.msgSignature);
  });

  it('decrypts back with receiveId ""', () => {
    expect(decryptMessage(key, v.encrypt, '')).toBe(v.msg);
  });

  it('passes verification and decryption in parse, then lacks msgid: a typed 400', () => {
    const request: RawRequest = {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      query: { msg_signature: v.msgSignature, timestamp: v.timestamp, nonce: v.nonce },
      body: Buffer.from(JSON.stringify({ encrypt: v.encrypt }), 'utf8'),
    };
    expect(() => aiBot.parse(request, seconds(v.timestamp))).toThrow('Message has no msgid');
  });
});
