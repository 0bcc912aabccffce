import { PlatformApiError } from '#core/errors';
import { createDingTalkPlatform } from '#platforms/dingtalk/index';
import { DINGTALK_VOICE_MAX_BYTES, DINGTALK_VOICE_MAX_SECONDS } from '#platforms/dingtalk/upload-audio';
import type { ChatPlatform, ReplyHandle, ReplyTarget, SpokenReply } from '#platforms/types';
import { createLocalTts } from '#voice/local-tts';
import { createDingTalkEmulator, DINGTALK_AUDIO_PREVIEW } from '../../../../sandbox/platform-emulator/dingtalk';
import type { PlatformEmulator } from '../../../../sandbox/platform-emulator/types';
import { startTestServer, type TestResponse, type TestServer } from '../../../helpers/http-test-server';
import { CREDENTIALS, emulatorContext, type Fault, NOW, recordingDeps, toRaw } from './helpers';

/**
 * A spoken answer on DingTalk (docs/VOICE.md), through the real adapter against the emulator on a local HTTP server:
 * `media/upload?type=voice` (multipart `media`, the Ogg/Opus espeak-ng writes), then a robot `sampleAudio` message
 * `{"mediaId", "duration": "<ms>"}` — in a group `groupMessages/send`, in a 1:1 chat `oToMessages/batchSend`. Answers
 * over DingTalk's voice limits are refused before anything is uploaded. Also: a voice message without DingTalk's
 * recognition text, whose audio the adapter downloads for the worker to transcribe.
 */
jest.setTimeout(30_000);

const { appKey, appSecret } = CREDENTIALS.dingtalk;

let server: TestServer;
let emulator: PlatformEmulator;
let ctx: ReturnType<typeof emulatorContext>;
let override: ((path: string) => TestResponse | undefined) | undefined;
let speech: SpokenReply;

beforeAll(async () => {
  const audio = await createLocalTts({ maxChars: 200 }).synthesize('the answer is forty two', {
    language: 'en-US',
    format: 'ogg_opus',
  });
  speech = { bytes: audio.bytes, durationSeconds: audio.durationSeconds };
});

async function start(faults: Fault[] = []): Promise<ChatPlatform> {
  emulator = createDingTalkEmulator();
  override = undefined;
  server = await startTestServer(async (req) => {
    const forced = override?.(req.path);
    if (forced) return forced;
    const answer = await emulator.handleApi(req, ctx);
    return { ...answer, body: answer.bytes ?? answer.body };
  });
  ctx = emulatorContext(server.url, { faults });
  return createDingTalkPlatform(
    { appKey, appSecret, apiBaseUrl: server.url, replyUrls: { origins: [], insecureOrigins: [server.url] } },
    recordingDeps(),
  );
}
afterEach(() => server.close());

function targetFor(platform: ChatPlatform, input: { chatId: string; userId: string; direct?: boolean }): ReplyTarget {
  const event = emulator.buildMessageEvent({ ...input, text: 'what is the answer' }, ctx);
  const result = platform.parse(toRaw(event), NOW);
  if (result.kind !== 'message') throw new Error('expected a message');
  return { handle: result.message.replyHandle, format: 'markdown', idempotencyKey: 'dingtalk#msg-1' };
}
const paths = () => server.requests.map((r) => r.path);
const bodyOf = (path: string) => JSON.parse(server.requests.find((r) => r.path === path)?.body.toString() ?? '{}');

describe('DingTalk sendSpeech against the emulator', () => {
  it('group: uploads answer.ogg as type=voice, then a sampleAudio with the media id and the duration in ms', async () => {
    const platform = await start();
    const key = await platform.sendSpeech?.(targetFor(platform, { chatId: 'cid-sales', userId: 'zhangsan' }), speech);
    expect(paths()).toEqual(['/v1.0/oauth2/accessToken', '/media/upload', '/v1.0/robot/groupMessages/send']);
    const upload = server.requests[1];
    expect(upload?.query).toEqual({ access_token: expect.stringMatching(/^dt-/), type: 'voice' });
    const form = await new Response(new Uint8Array(upload?.body ?? []), {
      headers: { 'content-type': upload?.headers['content-type'] ?? '' },
    }).formData();
    const file = form.get('media');
    if (!file || typeof file === 'string') throw new Error('no media file');
    expect(file.name).toBe('answer.ogg');
    expect(file.type).toBe('audio/ogg');
    expect(new Uint8Array(await file.arrayBuffer())).toEqual(new Uint8Array(speech.bytes));
    const message = bodyOf('/v1.0/robot/groupMessages/send');
    expect(message).toEqual({
      robotCode: appKey,
      openConversationId: 'cid-sales',
      msgKey: 'sampleAudio',
      msgParam: expect.any(String),
    });
    const durationMs = Math.round(speech.durationSeconds * 1000);
    expect(JSON.parse(message.msgParam)).toEqual({
      mediaId: expect.stringMatching(/^@lAL/),
      duration: String(durationMs),
    });
    expect(ctx.deliveries).toEqual([
      expect.objectContaining({
        chatId: 'cid-sales',
        text: DINGTALK_AUDIO_PREVIEW,
        messageId: key,
        audio: { mediaType: 'audio/ogg', data: Buffer.from(speech.bytes).toString('base64'), durationMs },
      }),
    ]);
  });

  it('1:1 chat: the voice message goes to the sender by oToMessages/batchSend', async () => {
    const platform = await start();
    await platform.sendSpeech?.(targetFor(platform, { chatId: 'cid-dm-lisi', userId: 'lisi', direct: true }), speech);
    expect(paths().at(-1)).toBe('/v1.0/robot/oToMessages/batchSend');
    expect(bodyOf('/v1.0/robot/oToMessages/batchSend')).toMatchObject({
      robotCode: appKey,
      userIds: ['lisi'],
      msgKey: 'sampleAudio',
    });
    expect(ctx.deliveries.map((d) => [d.chatId, d.text])).toEqual([['cid-dm-lisi', DINGTALK_AUDIO_PREVIEW]]);
  });

  it.each([
    [
      'over 2 MB',
      { bytes: new Uint8Array(DINGTALK_VOICE_MAX_BYTES + 1), durationSeconds: 30 },
      `DingTalk voice message is ${DINGTALK_VOICE_MAX_BYTES + 1} bytes; DingTalk takes at most ${DINGTALK_VOICE_MAX_BYTES}; not posted`,
    ],
    [
      'longer than 60 s',
      { bytes: new Uint8Array(1000), durationSeconds: DINGTALK_VOICE_MAX_SECONDS + 0.5 },
      'DingTalk voice message is 60.5 s; DingTalk plays at most 60 s (lower VOICE_MAX_SPEECH_CHARS); not posted',
    ],
    ['empty', { bytes: new Uint8Array(0), durationSeconds: 0 }, 'DingTalk voice message is empty; not posted'],
  ])('an answer %s is refused with its reason before anything is uploaded', async (_label, spoken, reason) => {
    const platform = await start();
    const target = targetFor(platform, { chatId: 'cid-sales', userId: 'zhangsan' });
    const sent = platform.sendSpeech?.(target, spoken);
    await expect(sent).rejects.toBeInstanceOf(PlatformApiError);
    await expect(sent).rejects.toThrow(reason);
    expect(server.requests).toEqual([]);
    expect(ctx.deliveries).toEqual([]);
  });

  it('a 1:1 handle without the sender’s staff id is refused before the upload', async () => {
    const platform = await start();
    const handle: ReplyHandle = { platform: 'dingtalk', conversationId: 'cid-dm-x', conversationType: 'direct' };
    await expect(platform.sendSpeech?.({ handle, format: 'markdown', idempotencyKey: 'k' }, speech)).rejects.toThrow(
      'DingTalk 1:1 voice message needs the sender’s staff id (none in the event); not posted',
    );
    expect(server.requests).toEqual([]);
  });

  it('a file DingTalk refuses (not Ogg: errcode 40005) is a PlatformApiError naming the errcode; nothing is posted', async () => {
    const platform = await start();
    const target = targetFor(platform, { chatId: 'cid-sales', userId: 'zhangsan' });
    await expect(
      platform.sendSpeech?.(target, { bytes: new Uint8Array([1, 2, 3, 4]), durationSeconds: 1 }),
    ).rejects.toThrow('DingTalk media/upload answered errcode 40005: 不合法的文件类型');
    expect(paths()).not.toContain('/v1.0/robot/groupMessages/send');
    expect(ctx.deliveries).toEqual([]);
  });

  it('a refused token on the upload (errcode 40014) is refreshed once and the voice message posted once', async () => {
    const platform = await start(['expired-token']);
    await platform.sendSpeech?.(targetFor(platform, { chatId: 'cid-sales', userId: 'zhangsan' }), speech);
    expect(paths().filter((p) => p === '/v1.0/oauth2/accessToken')).toHaveLength(2);
    expect(paths().filter((p) => p === '/media/upload')).toHaveLength(2);
    expect(ctx.deliveries.map((d) => d.text)).toEqual([DINGTALK_AUDIO_PREVIEW]);
  });

  it('a sampleAudio the robot API refuses (an unknown media id) is a PlatformApiError', async () => {
    const platform = await start();
    const target = targetFor(platform, { chatId: 'cid-sales', userId: 'zhangsan' });
    override = (path) =>
      path === '/media/upload'
        ? { statusCode: 200, body: '{"errcode":0,"errmsg":"ok","media_id":"@lALunknown"}' }
        : undefined;
    await expect(platform.sendSpeech?.(target, speech)).rejects.toThrow(/groupMessages\/send answered 400$/);
    expect(ctx.deliveries).toEqual([]);
  });
});

describe('DingTalk voice messages without recognition text', () => {
  it('the adapter downloads the audio through robot/messageFiles/download', async () => {
    const platform = await start();
    const event = emulator.buildMessageEvent(
      {
        chatId: 'cid-dm-wang',
        userId: 'wangwu',
        text: '',
        direct: true,
        files: [{ name: 'voice.ogg', bytes: Buffer.from(speech.bytes) }],
      },
      ctx,
    );
    const body = JSON.parse(event.body.toString('utf8'));
    // DingTalk's voice message shape, without `recognition`: the emulator recognises nothing.
    expect(body).toMatchObject({
      msgtype: 'audio',
      content: { duration: Math.round(speech.durationSeconds * 1000), downloadCode: expect.any(String) },
    });
    expect(body.content.recognition).toBeUndefined();
    const result = platform.parse(toRaw(event), NOW);
    if (result.kind !== 'message') throw new Error(`expected a message, got ${result.kind}`);
    const [audio] = result.message.attachments ?? [];
    if (!audio) throw new Error('no attachment');
    expect(audio).toMatchObject({ kind: 'audio', name: 'voice message' });
    const downloaded = await platform.downloadAttachment?.(audio, {
      maxBytes: 1024 * 1024,
      signal: AbortSignal.timeout(10_000),
    });
    expect(downloaded?.bytes).toEqual(new Uint8Array(speech.bytes));
    expect(paths()).toEqual([
      '/v1.0/oauth2/accessToken',
      '/v1.0/robot/messageFiles/download',
      expect.stringMatching(/^\/_files\//),
    ]);
  });
});
