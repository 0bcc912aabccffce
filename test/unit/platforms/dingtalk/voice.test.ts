import { MalformedEventError } from '#core/errors';
import { createDingTalkPlatform } from '#platforms/dingtalk/index';
import type { ParseResult } from '#platforms/types';
import { buildSignedDingTalkRequest, dingtalkMessageBody } from '../../../../sandbox/platform-emulator/dingtalk';
import { CREDENTIALS, emulatorContext, NOW, recordingDeps, toRaw } from './helpers';

/**
 * A DingTalk voice message (`msgtype: audio`) carries DingTalk's own transcript in `content.recognition`
 * (field names as the DingTalk Stream SDKs model the robot message: `duration`, `downloadCode`, `recognition`):
 * that transcript is the member's text, through the same pipeline as typed text. Without one, the audio
 * (`downloadCode`) is attached and the worker transcribes it.
 */
const { appKey, appSecret } = CREDENTIALS.dingtalk;
const ctx = emulatorContext('http://127.0.0.1:9', { now: () => NOW });
const platform = createDingTalkPlatform({ appKey, appSecret }, recordingDeps());

function audioMessage(content: unknown): ParseResult {
  const { text: _text, ...body } = dingtalkMessageBody(
    { chatId: 'cid_dm', userId: 'alice', text: '', direct: true },
    ctx,
  );
  return platform.parse(toRaw(buildSignedDingTalkRequest({ ...body, msgtype: 'audio', content }, ctx)), NOW);
}

describe('DingTalk voice messages', () => {
  it('take the platform recognition as the member text', () => {
    const result = audioMessage({ duration: 4000, downloadCode: 'dc-1', recognition: '今天的会议几点开始' });
    if (result.kind !== 'message') throw new Error(`expected a message, got ${result.kind}`);
    expect(result.message).toMatchObject({ platform: 'dingtalk', chatType: 'direct', text: '今天的会议几点开始' });
    expect(result.message.attachments).toBeUndefined();
  });

  it('without recognition text carry their audio (downloadCode) for the worker to transcribe', () => {
    for (const content of [
      { duration: 900, downloadCode: 'dc-2', recognition: '  ' },
      { duration: 1200, downloadCode: 'dc-3' },
    ]) {
      const result = audioMessage(content);
      if (result.kind !== 'message') throw new Error(`expected a message, got ${result.kind}`);
      expect(result.message.text).toBe('');
      expect(result.message.attachments).toEqual([
        {
          kind: 'audio',
          name: 'voice message',
          ref: JSON.stringify({ c: content.downloadCode, r: CREDENTIALS.dingtalk.robotCode }),
        },
      ]);
    }
  });

  it('are ignored, with the reason, when they carry neither recognition text nor an audio file', () => {
    for (const content of [{ duration: 900, recognition: '' }, { downloadCode: '' }, 'not an object']) {
      expect(audioMessage(content)).toMatchObject({
        kind: 'ignored',
        reason: 'audio message without recognition text or audio file',
      });
    }
  });

  it('still refuses a text message without text', () => {
    const { text: _text, ...body } = dingtalkMessageBody(
      { chatId: 'cid_dm', userId: 'alice', text: '', direct: true },
      ctx,
    );
    expect(() => platform.parse(toRaw(buildSignedDingTalkRequest(body, ctx)), NOW)).toThrow(MalformedEventError);
  });
});
