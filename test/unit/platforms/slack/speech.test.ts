import { PlatformApiError } from '#core/errors';
import { createSlackPlatform } from '#platforms/slack/index';
import { SLACK_SPEECH_TITLE } from '#platforms/slack/upload-audio';
import type { ChatPlatform, ReplyTarget, SpokenReply } from '#platforms/types';
import { createLocalTts } from '#voice/local-tts';
import { createSlackEmulator, SLACK_UPLOAD_LIMIT_BYTES } from '../../../../sandbox/platform-emulator/slack';
import type { PlatformEmulator } from '../../../../sandbox/platform-emulator/types';
import { startTestServer, type TestResponse, type TestServer } from '../../../helpers/http-test-server';
import { config, emulatorContext, NOW } from './helpers';

/**
 * A spoken answer on Slack (docs/VOICE.md): the Ogg/Opus espeak-ng writes is shared as `answer.ogg` with the external
 * upload (`files.getUploadURLExternal`, the bytes to `upload_url`, `files.completeUploadExternal`) into the reply's
 * channel and thread, through the real adapter against the emulator on a local HTTP server.
 */
jest.setTimeout(30_000);

describe('Slack sendSpeech', () => {
  let server: TestServer;
  let emulator: PlatformEmulator;
  let ctx: ReturnType<typeof emulatorContext>;
  let override: ((path: string) => TestResponse | undefined) | undefined;
  let platform: ChatPlatform;
  let speech: SpokenReply;

  beforeAll(async () => {
    const audio = await createLocalTts({ maxChars: 200 }).synthesize('the answer is forty two', {
      language: 'en-US',
      format: 'ogg_opus',
    });
    speech = { bytes: audio.bytes, durationSeconds: audio.durationSeconds };
  });

  beforeEach(async () => {
    emulator = createSlackEmulator();
    override = undefined;
    server = await startTestServer(async (req) => override?.(req.path) ?? (await emulator.handleApi(req, ctx)));
    ctx = emulatorContext({ apiBaseUrl: server.url });
    platform = createSlackPlatform(
      { ...config, apiBaseUrl: server.url },
      { fetch, now: () => NOW, sleep: async () => undefined },
    );
  });
  afterEach(() => server.close());

  const target = (handle: Partial<Extract<ReplyTarget['handle'], { platform: 'slack' }>> = {}): ReplyTarget => ({
    handle: { platform: 'slack', channel: 'C0GROUP', threadTs: '1714550000.000100', ...handle },
    format: 'markdown',
    idempotencyKey: 'slack#Ev1',
  });
  const calls = () => server.requests.map((r) => r.path.replace(/\/upload\/v1\/\w+$/, '/upload'));

  it('shares answer.ogg in the reply thread; the emulator records it as an audio message', async () => {
    const id = await platform.sendSpeech?.(target(), speech);
    expect(id).toMatch(/^F[0-9A-F]+$/);
    expect(calls()).toEqual(['/api/files.getUploadURLExternal', '/upload', '/api/files.completeUploadExternal']);
    const [ticket, upload, complete] = server.requests;
    expect(Object.fromEntries(new URLSearchParams(ticket?.body.toString()))).toEqual({
      filename: 'answer.ogg',
      length: String(speech.bytes.byteLength),
    });
    expect(upload?.headers.authorization).toBeUndefined();
    expect(new Uint8Array(upload?.body ?? [])).toEqual(new Uint8Array(speech.bytes));
    expect(JSON.parse(complete?.body.toString() ?? '')).toEqual({
      files: [{ id, title: SLACK_SPEECH_TITLE }],
      channel_id: 'C0GROUP',
      thread_ts: '1714550000.000100',
    });
    expect(ctx.deliveries).toHaveLength(1);
    expect(ctx.deliveries[0]).toMatchObject({
      chatId: 'C0GROUP',
      threadId: '1714550000.000100',
      text: SLACK_SPEECH_TITLE,
      messageId: id,
      audio: { mediaType: 'audio/ogg', data: Buffer.from(speech.bytes).toString('base64') },
    });
    // The emulator reads the duration from the Ogg headers, as the sandbox page shows it.
    expect(ctx.deliveries[0]?.audio?.durationMs).toBe(Math.round(speech.durationSeconds * 1000));
  });

  it('in a DM without a thread the file goes to the channel itself', async () => {
    await platform.sendSpeech?.(target({ channel: 'D0DM', threadTs: undefined, direct: true }), speech);
    const complete = JSON.parse(server.requests.at(-1)?.body.toString() ?? '{}');
    expect(complete.channel_id).toBe('D0DM');
    expect(complete.thread_ts).toBeUndefined();
    expect(ctx.deliveries[0]?.audio).toBeDefined();
  });

  it('a file over the workspace limit is refused by Slack (file_upload_size_restricted): nothing is shared', async () => {
    const sent = platform.sendSpeech?.(target(), {
      bytes: new Uint8Array(SLACK_UPLOAD_LIMIT_BYTES + 1),
      durationSeconds: 9,
    });
    await expect(sent).rejects.toThrow(
      new PlatformApiError('Slack files.getUploadURLExternal failed: file_upload_size_restricted', 200, ''),
    );
    expect(calls()).toEqual(['/api/files.getUploadURLExternal']);
    expect(ctx.deliveries).toEqual([]);
  });

  it('an empty file is refused (missing_argument) and a missing files:write scope is named', async () => {
    await expect(platform.sendSpeech?.(target(), { bytes: new Uint8Array(0), durationSeconds: 0 })).rejects.toThrow(
      'Slack files.getUploadURLExternal failed: missing_argument',
    );
    override = (path) =>
      path === '/api/files.getUploadURLExternal'
        ? { statusCode: 200, body: '{"ok":false,"error":"missing_scope","needed":"files:write"}' }
        : undefined;
    await expect(platform.sendSpeech?.(target(), speech)).rejects.toThrow(
      'Slack files.getUploadURLExternal failed: missing_scope',
    );
    expect(ctx.deliveries).toEqual([]);
  });

  it('an upload URL that answers 500 every time gives up after the retries, naming no upload path', async () => {
    override = (path) => (path.startsWith('/upload/') ? { statusCode: 500, body: 'upstream error' } : undefined);
    const sent = platform.sendSpeech?.(target(), speech);
    await expect(sent).rejects.toBeInstanceOf(PlatformApiError);
    await expect(sent).rejects.not.toThrow('/upload/v1/');
    expect(calls().filter((p) => p === '/upload')).toHaveLength(4);
    expect(calls()).not.toContain('/api/files.completeUploadExternal');
    expect(ctx.deliveries).toEqual([]);
  });

  it('refuses a handle of another platform', async () => {
    const feishu: ReplyTarget = {
      handle: { platform: 'feishu', chatId: 'oc_1', messageId: 'om_1', inThread: false },
      format: 'markdown',
      idempotencyKey: 'k',
    };
    await expect(platform.sendSpeech?.(feishu, speech)).rejects.toThrow(TypeError);
    expect(server.requests).toEqual([]);
  });
});
