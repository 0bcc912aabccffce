import { PlatformApiError } from '#core/errors';
import { createFeishuPlatform } from '#platforms/feishu/index';
import type { ChatPlatform, ReplyTarget } from '#platforms/types';
import { createLocalTts } from '#voice/local-tts';
import { createFeishuEmulator, FEISHU_AUDIO_PREVIEW } from '../../../../sandbox/platform-emulator/feishu';
import type { EmulatedDelivery, EmulatorContext, PlatformEmulator } from '../../../../sandbox/platform-emulator/types';
import { startTestServer, type TestServer } from '../../../helpers/http-test-server';
import { config, emulatorContext, NOW } from './helpers';

/**
 * A spoken answer on Feishu (docs/VOICE.md): the Ogg/Opus espeak-ng writes is uploaded as an `opus` file and posted as
 * an `audio` reply to the member's message, through the real adapter against the emulator.
 */
jest.setTimeout(30_000);

describe('Feishu sendSpeech', () => {
  let server: TestServer;
  let emulator: PlatformEmulator;
  let ctx: EmulatorContext;
  let platform: ChatPlatform;
  let delivered: EmulatedDelivery[];

  beforeEach(async () => {
    emulator = createFeishuEmulator();
    delivered = [];
    server = await startTestServer(async (req) => {
      const answer = await emulator.handleApi(req, ctx);
      return { ...answer, body: answer.bytes ?? answer.body };
    });
    ctx = { ...emulatorContext({ apiBaseUrl: server.url }), record: (d) => delivered.push({ ...d, at: '' }) };
    platform = createFeishuPlatform(
      { ...config, apiBaseUrl: server.url },
      { fetch, now: () => NOW, sleep: async () => {} },
    );
  });
  afterEach(() => server.close());

  function targetOf(): ReplyTarget {
    const { messageId } = emulator.buildMessageEvent({ chatId: 'oc_group', userId: 'ou_alice', text: 'hi' }, ctx);
    if (messageId === undefined) throw new Error('no message id');
    return {
      handle: { platform: 'feishu', chatId: 'oc_group', messageId, inThread: false },
      format: 'markdown',
      idempotencyKey: 'ev-speech',
    };
  }

  it('uploads the Ogg/Opus as an opus file and replies with an audio message, once per idempotency key', async () => {
    const speech = await createLocalTts({ maxChars: 200 }).synthesize('the answer is forty two', {
      language: 'en-US',
      format: 'ogg_opus',
    });
    const target = targetOf();
    const id = await platform.sendSpeech?.(target, { bytes: speech.bytes, durationSeconds: speech.durationSeconds });
    expect(id).toMatch(/^om_/);
    expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /open-apis/auth/v3/tenant_access_token/internal',
      'POST /open-apis/im/v1/files',
      `POST /open-apis/im/v1/messages/${target.handle.platform === 'feishu' ? target.handle.messageId : ''}/reply`,
    ]);
    expect(JSON.parse(server.requests.at(-1)?.body.toString('utf8') ?? '{}')).toMatchObject({ msg_type: 'audio' });
    expect(delivered).toHaveLength(1);
    expect(delivered[0]?.text).toBe(FEISHU_AUDIO_PREVIEW);
    expect(Buffer.from(delivered[0]?.audio?.data ?? '', 'base64').equals(Buffer.from(speech.bytes))).toBe(true);
    expect(delivered[0]?.audio?.durationMs).toBe(Math.round(speech.durationSeconds * 1000));
    // The same event's speech again (a retried call): Feishu drops the repeated uuid, nothing new is shown.
    await platform.sendSpeech?.(target, { bytes: speech.bytes, durationSeconds: speech.durationSeconds });
    expect(delivered).toHaveLength(1);
  });

  it('a file Feishu refuses (not Ogg) is a PlatformApiError and posts nothing', async () => {
    const target = targetOf();
    const sent = platform.sendSpeech?.(target, { bytes: new Uint8Array([1, 2, 3, 4, 5]), durationSeconds: 1 });
    await expect(sent).rejects.toBeInstanceOf(PlatformApiError);
    expect(delivered).toEqual([]);
  });
});
