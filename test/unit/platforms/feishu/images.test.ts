import type { ReplyImage } from '#core/reply-image';
import { renderBarChart } from '#data-analysis/chart';
import { createFeishuPlatform } from '#platforms/feishu/index';
import type { ChatPlatform, OutgoingReply, ReplyHandle } from '#platforms/types';
import { createFeishuEmulator, FEISHU_IMAGE_PREVIEW } from '../../../../sandbox/platform-emulator/feishu';
import type { EmulatorContext, PlatformEmulator } from '../../../../sandbox/platform-emulator/types';
import { startTestServer, type TestResponse, type TestServer } from '../../../helpers/http-test-server';
import { config, emulatorContext, NOW, toRaw } from './helpers';

/**
 * A reply's chart on Feishu, against the emulator on a real local HTTP server: the text reply, then
 * `im/v1/images` (multipart, `image_type=message`) and an `image` reply threaded like the text, with its own `uuid`.
 * A failing upload never fails or repeats the text.
 */

type Fault = ReturnType<NonNullable<EmulatorContext['fault']>>;

const chart: ReplyImage = {
  mediaType: 'image/png',
  data: renderBarChart([5, 3]),
  alt: 'Bar chart of units by region',
  width: 76,
  height: 220,
};

describe('Feishu reply images against the emulator', () => {
  let server: TestServer;
  let emulator: PlatformEmulator;
  let ctx: ReturnType<typeof emulatorContext>;
  let faults: Fault[];
  let override: ((path: string) => TestResponse | undefined) | undefined;
  let platform: ChatPlatform;

  beforeEach(async () => {
    emulator = createFeishuEmulator();
    faults = [];
    override = undefined;
    ctx = emulatorContext({ fault: () => faults.shift() ?? 'none' });
    server = await startTestServer(async (req) => override?.(req.path) ?? (await emulator.handleApi(req, ctx)));
    platform = createFeishuPlatform(
      { ...config, apiBaseUrl: server.url },
      { fetch, now: () => NOW, sleep: async () => undefined },
    );
  });
  afterEach(() => server.close());

  function inboundHandle(threadId?: string): ReplyHandle {
    const event = emulator.buildMessageEvent(
      { chatId: 'oc_g', userId: 'ou_a', text: '/data sales', ...(threadId ? { threadId } : {}) },
      ctx,
    );
    const result = platform.parse(toRaw(event), NOW);
    if (result.kind !== 'message') throw new Error('expected a message');
    return result.message.replyHandle;
  }
  const reply = (handle: ReplyHandle): OutgoingReply => ({
    handle,
    text: '| region | units |',
    format: 'markdown',
    idempotencyKey: 'feishu#evt-1',
    images: [chart],
  });
  const paths = () => server.requests.map((r) => r.path.replace(/om_\w+/, '{id}'));

  it('replies with the text, uploads the chart as a message image, and replies with it', async () => {
    const sent = await platform.send(reply(inboundHandle()));
    expect(paths()).toEqual([
      '/open-apis/auth/v3/tenant_access_token/internal',
      '/open-apis/im/v1/messages/{id}/reply',
      '/open-apis/im/v1/images',
      '/open-apis/im/v1/messages/{id}/reply',
    ]);
    const upload = server.requests[2];
    expect(upload?.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    const form = await new Response(new Uint8Array(upload?.body ?? []), {
      headers: { 'content-type': upload?.headers['content-type'] ?? '' },
    }).formData();
    expect(form.get('image_type')).toBe('message');
    const file = form.get('image');
    expect(file && typeof file !== 'string' && new Uint8Array(await file.arrayBuffer())).toEqual(
      new Uint8Array(chart.data),
    );
    const imageReply = JSON.parse(server.requests[3]?.body.toString() ?? '');
    const textReply = JSON.parse(server.requests[1]?.body.toString() ?? '');
    expect(imageReply).toMatchObject({ msg_type: 'image', reply_in_thread: false });
    expect(JSON.parse(imageReply.content)).toEqual({ image_key: expect.stringMatching(/^img_v3_/) });
    expect(imageReply.uuid).not.toBe(textReply.uuid);
    expect(ctx.deliveries).toHaveLength(2);
    expect(ctx.deliveries[1]).toMatchObject({
      chatId: 'oc_g',
      text: FEISHU_IMAGE_PREVIEW,
      messageId: sent.messageIds[1],
      image: { mediaType: 'image/png', width: 76, height: 220, data: Buffer.from(chart.data).toString('base64') },
    });
  });

  it('a repeated send (worker retry) posts neither the text nor the image twice: both carry uuids', async () => {
    const handle = inboundHandle();
    const first = await platform.send(reply(handle));
    const second = await platform.send(reply(handle));
    expect(second.messageIds).toEqual(first.messageIds);
    expect(ctx.deliveries).toHaveLength(2);
  });

  it('an upload that answers 500 every time: the text is delivered once, the image reported', async () => {
    override = (path) =>
      path === '/open-apis/im/v1/images' ? { statusCode: 500, body: '{"code":1500,"msg":"internal"}' } : undefined;
    const sent = await platform.send(reply(inboundHandle()));
    expect(paths().filter((p) => p.endsWith('/reply'))).toHaveLength(1);
    expect(ctx.deliveries.map((d) => d.text)).toEqual(['| region | units |']);
    expect(sent.messageIds).toHaveLength(1);
    expect(sent.imageFailures).toEqual([{ index: 0, reason: 'Gave up after 4 attempts; last status 500' }]);
  });

  it('429 and an expired token on the upload are retried and refreshed: text once, image once', async () => {
    const handle = inboundHandle();
    // The text reply takes no fault; the upload then meets a 429 and an expired token.
    faults = ['none', '429', 'expired-token'];
    const sent = await platform.send(reply(handle));
    expect(sent.messageIds).toHaveLength(2);
    expect(sent.imageFailures).toBeUndefined();
    expect(ctx.deliveries.map((d) => d.text)).toEqual(['| region | units |', FEISHU_IMAGE_PREVIEW]);
  });

  it('in a thread, the image goes into the thread like the text', async () => {
    await platform.send(reply(inboundHandle('om_root')));
    expect(ctx.deliveries.map((d) => d.threadId)).toEqual(['om_root', 'om_root']);
  });
});

describe('Feishu emulator: im/v1/images refuses what Feishu refuses', () => {
  async function upload(form: FormData | undefined, token: 'valid' | 'none' = 'valid') {
    const emulator = createFeishuEmulator();
    const ctx = emulatorContext();
    const issued = await emulator.handleApi(
      {
        method: 'POST',
        path: '/open-apis/auth/v3/tenant_access_token/internal',
        query: {},
        headers: {},
        body: Buffer.from(JSON.stringify({ app_id: config.appId, app_secret: config.appSecret })),
      },
      ctx,
    );
    const bearer = (JSON.parse(issued.body) as { tenant_access_token: string }).tenant_access_token;
    const request = new Request('http://x/', { method: 'POST', body: form ?? 'plain' });
    const answer = await emulator.handleApi(
      {
        method: 'POST',
        path: '/open-apis/im/v1/images',
        query: {},
        headers: {
          'content-type': request.headers.get('content-type') ?? '',
          ...(token === 'valid' ? { authorization: `Bearer ${bearer}` } : {}),
        },
        body: Buffer.from(await request.arrayBuffer()),
      },
      ctx,
    );
    return { status: answer.statusCode, body: JSON.parse(answer.body) as { code: number } };
  }
  const form = (fields: Record<string, string | Blob>) => {
    const data = new FormData();
    for (const [name, value] of Object.entries(fields)) data.append(name, value);
    return data;
  };
  const png = new Blob([chart.data], { type: 'image/png' });

  it.each([
    ['no token', form({ image_type: 'message', image: png }), 'none', 400, 99991661],
    ['not multipart', undefined, 'valid', 400, 234001],
    ['no image_type', form({ image: png }), 'valid', 400, 234001],
    ['another image_type', form({ image_type: 'banner', image: png }), 'valid', 400, 234001],
    ['no image', form({ image_type: 'message' }), 'valid', 400, 234001],
    ['an empty file', form({ image_type: 'message', image: new Blob([]) }), 'valid', 400, 234010],
    ['a file that is not an image', form({ image_type: 'message', image: new Blob(['a,b']) }), 'valid', 400, 234001],
  ] as const)('%s', async (_, body, token, status, code) => {
    expect(await upload(body, token)).toEqual({ status, body: expect.objectContaining({ code }) });
  });

  it('a PNG gets an image key', async () => {
    expect(await upload(form({ image_type: 'message', image: png }))).toMatchObject({
      status: 200,
      body: { code: 0, data: { image_key: expect.stringMatching(/^img_v3_/) } },
    });
  });
});
