import type { ReplyImage } from '#core/reply-image';
import { renderBarChart } from '#data-analysis/chart';
import { createDingTalkPlatform, dingtalkOutTrackId } from '#platforms/dingtalk/index';
import type { ChatPlatform, OutgoingReply, ReplyHandle } from '#platforms/types';
import {
  createDingTalkEmulator,
  DINGTALK_EMULATED_CARD_TEMPLATE,
  DINGTALK_IMAGE_PREVIEW,
} from '../../../../sandbox/platform-emulator/dingtalk';
import type { EmulatedApiRequest, PlatformEmulator } from '../../../../sandbox/platform-emulator/types';
import { startTestServer, type TestResponse, type TestServer } from '../../../helpers/http-test-server';
import { CREDENTIALS, emulatorContext, type Fault, NOW, recordingDeps, toRaw } from './helpers';

/**
 * A reply's chart on DingTalk, against the emulator on a real local HTTP server: the text (sessionWebhook or robot
 * API), then `media/upload` (multipart `media`, `type=image`, the app's access token in the query) and a robot
 * `sampleImageMsg` whose `photoURL` is the upload's `media_id` — in a group `groupMessages/send`, in a 1:1 chat
 * `oToMessages/batchSend`. A failing image never fails or repeats the text.
 */

const chart: ReplyImage = {
  mediaType: 'image/png',
  data: renderBarChart([5, 3]),
  alt: 'Bar chart of units by region',
  width: 76,
  height: 220,
};
const { appKey, appSecret } = CREDENTIALS.dingtalk;

let server: TestServer;
let emulator: PlatformEmulator;
let ctx: ReturnType<typeof emulatorContext>;
let override: ((path: string) => TestResponse | undefined) | undefined;

async function start(options: { faults?: Fault[]; card?: boolean } = {}): Promise<ChatPlatform> {
  emulator = createDingTalkEmulator();
  override = undefined;
  server = await startTestServer(async (req) => override?.(req.path) ?? (await emulator.handleApi(req, ctx)));
  ctx = emulatorContext(server.url, { faults: options.faults ?? [] });
  return createDingTalkPlatform(
    {
      appKey,
      appSecret,
      apiBaseUrl: server.url,
      replyUrls: { origins: [], insecureOrigins: [server.url] },
      ...(options.card ? { cardTemplateId: DINGTALK_EMULATED_CARD_TEMPLATE.id } : {}),
    },
    recordingDeps(),
  );
}

function handleFor(platform: ChatPlatform, input: { chatId: string; userId: string; direct?: boolean }): ReplyHandle {
  const event = emulator.buildMessageEvent({ ...input, text: '/sql sales' }, ctx);
  const result = platform.parse(toRaw(event), NOW);
  if (result.kind !== 'message') throw new Error('expected a message');
  return result.message.replyHandle;
}
const reply = (handle: ReplyHandle, images: readonly ReplyImage[] = [chart]): OutgoingReply => ({
  handle,
  text: '| region | units |',
  format: 'markdown',
  idempotencyKey: 'dingtalk#msg-1',
  images,
});
const paths = () => server.requests.map((r) => r.path);
const bodyOf = (path: string) => JSON.parse(server.requests.find((r) => r.path === path)?.body.toString() ?? '{}');

describe('DingTalk reply images against the emulator', () => {
  afterEach(() => server.close());

  it('group: the text by sessionWebhook, then media/upload and a sampleImageMsg with the media id', async () => {
    const platform = await start();
    const sent = await platform.send(reply(handleFor(platform, { chatId: 'cid-sales', userId: 'zhangsan' })));
    expect(paths()).toEqual([
      '/robot/sendBySession',
      '/v1.0/oauth2/accessToken',
      '/media/upload',
      '/v1.0/robot/groupMessages/send',
    ]);
    const upload = server.requests[2];
    expect(upload?.query).toEqual({ access_token: expect.stringMatching(/^dt-/), type: 'image' });
    const form = await new Response(new Uint8Array(upload?.body ?? []), {
      headers: { 'content-type': upload?.headers['content-type'] ?? '' },
    }).formData();
    const file = form.get('media');
    expect(file && typeof file !== 'string' && new Uint8Array(await file.arrayBuffer())).toEqual(
      new Uint8Array(chart.data),
    );
    const message = bodyOf('/v1.0/robot/groupMessages/send');
    expect(message).toEqual({
      robotCode: appKey,
      openConversationId: 'cid-sales',
      msgKey: 'sampleImageMsg',
      msgParam: expect.any(String),
    });
    // The emulator resolves the photoURL only to a media id it handed out (the delivery below carries its image).
    expect(JSON.parse(message.msgParam)).toEqual({ photoURL: expect.stringMatching(/^@lAL/) });
    expect(ctx.deliveries.map((d) => d.text)).toEqual(['| region | units |', DINGTALK_IMAGE_PREVIEW]);
    expect(ctx.deliveries[1]).toMatchObject({
      chatId: 'cid-sales',
      messageId: sent.messageIds[1],
      image: { mediaType: 'image/png', width: 76, height: 220, data: Buffer.from(chart.data).toString('base64') },
    });
    expect(sent.messageIds).toHaveLength(2);
    expect(sent.imageFailures).toBeUndefined();
  });

  it('1:1 chat: the image goes to the sender by oToMessages/batchSend', async () => {
    const platform = await start();
    const sent = await platform.send(
      reply(handleFor(platform, { chatId: 'cid-dm-lisi', userId: 'lisi', direct: true })),
    );
    expect(paths().at(-1)).toBe('/v1.0/robot/oToMessages/batchSend');
    expect(bodyOf('/v1.0/robot/oToMessages/batchSend')).toMatchObject({
      robotCode: appKey,
      userIds: ['lisi'],
      msgKey: 'sampleImageMsg',
    });
    expect(ctx.deliveries.map((d) => [d.chatId, d.text])).toEqual([
      ['cid-dm-lisi', '| region | units |'],
      ['cid-dm-lisi', DINGTALK_IMAGE_PREVIEW],
    ]);
    expect(sent.imageFailures).toBeUndefined();
  });

  it('an upload that answers 500 every time: the text is delivered once, the image reported without the token', async () => {
    const platform = await start();
    override = (path) => (path === '/media/upload' ? { statusCode: 500, body: '{"errcode":-1}' } : undefined);
    const sent = await platform.send(reply(handleFor(platform, { chatId: 'cid-sales', userId: 'zhangsan' })));
    expect(paths().filter((p) => p === '/robot/sendBySession')).toHaveLength(1);
    expect(paths().filter((p) => p === '/media/upload')).toHaveLength(4);
    expect(paths()).not.toContain('/v1.0/robot/groupMessages/send');
    expect(ctx.deliveries.map((d) => d.text)).toEqual(['| region | units |']);
    expect(sent.messageIds).toHaveLength(1);
    expect(sent.imageFailures).toEqual([{ index: 0, reason: 'Gave up after 4 attempts; last status 500' }]);
  });

  it('a refused token on the upload (errcode 40014) is refreshed once: text once, image once', async () => {
    // The sessionWebhook takes no fault; the upload then meets a rejected token.
    const platform = await start({ faults: ['none', 'expired-token'] });
    const sent = await platform.send(reply(handleFor(platform, { chatId: 'cid-sales', userId: 'zhangsan' })));
    expect(paths().filter((p) => p === '/v1.0/oauth2/accessToken')).toHaveLength(2);
    expect(paths().filter((p) => p === '/media/upload')).toHaveLength(2);
    expect(ctx.deliveries.map((d) => d.text)).toEqual(['| region | units |', DINGTALK_IMAGE_PREVIEW]);
    expect(sent.imageFailures).toBeUndefined();
  });

  it('an upload answered without media_id, or a refused image message, is reported with DingTalk’s answer', async () => {
    const platform = await start();
    const handle = handleFor(platform, { chatId: 'cid-sales', userId: 'zhangsan' });
    override = (path) =>
      path === '/media/upload' ? { statusCode: 200, body: '{"errcode":0,"errmsg":"ok"}' } : undefined;
    const first = await platform.send(reply(handle));
    expect(first.imageFailures).toEqual([{ index: 0, reason: 'DingTalk media/upload answered no media_id' }]);
    override = (path) =>
      path === '/media/upload'
        ? { statusCode: 200, body: '{"errcode":0,"errmsg":"ok","media_id":"@unknown"}' }
        : undefined;
    const second = await platform.send(reply(handle));
    expect(second.imageFailures).toEqual([
      { index: 0, reason: expect.stringMatching(/groupMessages\/send answered 400$/) },
    ]);
    expect(ctx.deliveries.map((d) => d.text)).toEqual(['| region | units |', '| region | units |']);
  });

  it('a 1:1 handle without the sender’s staff id: the text goes out, the image is reported, nothing uploaded', async () => {
    const platform = await start();
    const handle: ReplyHandle = { platform: 'dingtalk', conversationId: 'cid-dm-x', conversationType: 'direct' };
    const sent = await platform.send(reply(handle));
    expect(paths()).not.toContain('/media/upload');
    expect(ctx.deliveries.map((d) => d.text)).toEqual(['| region | units |']);
    expect(sent.imageFailures).toEqual([
      { index: 0, reason: 'DingTalk 1:1 image needs the sender’s staff id (none in the event); not posted' },
    ]);
  });

  it('a streamed reply gets its chart after the card is finished', async () => {
    const platform = await start({ card: true });
    const handle = handleFor(platform, { chatId: 'cid-sales', userId: 'zhangsan' });
    const session = await platform.openReply(
      { handle, format: 'markdown', idempotencyKey: 'dingtalk#msg-2', mentionUserId: 'zhangsan' },
      { stream: true },
    );
    await session.update('| region |');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const sent = await session.finish('| region | units |', { images: [chart] });
    expect(paths().slice(-2)).toEqual(['/media/upload', '/v1.0/robot/groupMessages/send']);
    expect(sent.messageIds).toEqual([dingtalkOutTrackId('dingtalk#msg-2'), expect.any(String)]);
    expect(ctx.deliveries.map((d) => [d.text, d.stream])).toEqual([
      ['| region | units |', 'finished'],
      [DINGTALK_IMAGE_PREVIEW, undefined],
    ]);
    expect(session.platformCalls).toBe(paths().length - 1);
  });
});

describe('DingTalk emulator: media/upload and sampleImageMsg refuse what DingTalk refuses', () => {
  async function token(emu: PlatformEmulator, c: ReturnType<typeof emulatorContext>): Promise<string> {
    const issued = await emu.handleApi(
      {
        method: 'POST',
        path: '/v1.0/oauth2/accessToken',
        query: {},
        headers: {},
        body: Buffer.from(JSON.stringify({ appKey, appSecret })),
      },
      c,
    );
    return (JSON.parse(issued.body) as { accessToken: string }).accessToken;
  }
  const emu = createDingTalkEmulator();
  const c = emulatorContext('http://127.0.0.1:0');
  async function upload(file: Blob | undefined, query: { token?: 'valid' | 'bad'; type?: string } = {}) {
    const form = new FormData();
    if (file) form.append('media', file, 'chart.png');
    const request = new Request('http://x/', { method: 'POST', body: form });
    const answer = await emu.handleApi(
      {
        method: 'POST',
        path: '/media/upload',
        query: {
          access_token: query.token === 'bad' ? 'dt-0-forged' : await token(emu, c),
          type: query.type ?? 'image',
        },
        headers: { 'content-type': request.headers.get('content-type') ?? '' },
        body: Buffer.from(await request.arrayBuffer()),
      } satisfies EmulatedApiRequest,
      c,
    );
    return { status: answer.statusCode, body: JSON.parse(answer.body) as { errcode: number; media_id?: string } };
  }
  async function postImage(photoURL: unknown) {
    const answer = await emu.handleApi(
      {
        method: 'POST',
        path: '/v1.0/robot/groupMessages/send',
        query: {},
        headers: { 'x-acs-dingtalk-access-token': await token(emu, c) },
        body: Buffer.from(
          JSON.stringify({
            robotCode: CREDENTIALS.dingtalk.robotCode,
            openConversationId: 'cid-sales',
            msgKey: 'sampleImageMsg',
            msgParam: JSON.stringify({ photoURL }),
          }),
        ),
      },
      c,
    );
    return { status: answer.statusCode, body: JSON.parse(answer.body) as Record<string, unknown> };
  }
  const png = new Blob([chart.data], { type: 'image/png' });

  it.each([
    ['a forged token', png, { token: 'bad' as const }, 40014],
    ['type=file', png, { type: 'file' }, 40004],
    ['no media field', undefined, {}, 40005],
    ['a file that is not a PNG', new Blob(['a,b']), {}, 40005],
    ['a truncated PNG', new Blob([chart.data.subarray(0, 60)]), {}, 40005],
  ] as const)('%s → HTTP 200 with its errcode', async (_, file, query, errcode) => {
    expect(await upload(file, query)).toEqual({ status: 200, body: expect.objectContaining({ errcode }) });
  });

  it('a PNG gets a media id that a sampleImageMsg can show; an unknown media id or a URL is refused', async () => {
    const uploaded = await upload(png);
    expect(uploaded).toMatchObject({ status: 200, body: { errcode: 0, media_id: expect.stringMatching(/^@lAL/) } });
    const before = c.deliveries.length;
    expect(await postImage(uploaded.body.media_id)).toEqual({
      status: 200,
      body: { processQueryKey: expect.any(String) },
    });
    expect(c.deliveries.slice(before)).toEqual([
      expect.objectContaining({
        chatId: 'cid-sales',
        text: DINGTALK_IMAGE_PREVIEW,
        image: expect.objectContaining({ height: 220 }),
      }),
    ]);
    for (const photoURL of ['@lALunknown', 'https://example.com/chart.png', 42]) {
      expect(await postImage(photoURL)).toEqual({
        status: 400,
        body: expect.objectContaining({ code: 'invalidParameter.photoURL' }),
      });
    }
    expect(c.deliveries).toHaveLength(before + 1);
  });
});
