import { PlatformApiError } from '#core/errors';
import { createFeishuPlatform } from '#platforms/feishu/index';
import type { ChatPlatform, OutgoingReply, ReplyHandle } from '#platforms/types';
import { createFeishuEmulator } from '../../../../sandbox/platform-emulator/feishu';
import type { EmulatorContext, PlatformEmulator } from '../../../../sandbox/platform-emulator/types';
import { startTestServer, type TestServer } from '../../../helpers/http-test-server';
import { config, emulatorContext, NOW, toRaw } from './helpers';

type Fault = ReturnType<NonNullable<EmulatorContext['fault']>>;

describe('Feishu send against the emulator on a real local HTTP server', () => {
  let server: TestServer;
  let emulator: PlatformEmulator;
  let ctx: ReturnType<typeof emulatorContext>;
  let faults: Fault[];
  let sleeps: number[];
  let platform: ChatPlatform;

  beforeEach(async () => {
    emulator = createFeishuEmulator();
    faults = [];
    sleeps = [];
    ctx = emulatorContext({ fault: () => faults.shift() ?? 'none' });
    server = await startTestServer((req) => emulator.handleApi(req, ctx));
    platform = createFeishuPlatform(
      { ...config, apiBaseUrl: server.url },
      { fetch, now: () => NOW, sleep: async (ms) => void sleeps.push(ms) },
    );
  });
  afterEach(() => server.close());

  function inboundHandle(text = '你好'): ReplyHandle {
    const result = platform.parse(
      toRaw(emulator.buildMessageEvent({ chatId: 'oc_g', userId: 'ou_a', text }, ctx)),
      NOW,
    );
    if (result.kind !== 'message') throw new Error('expected a message');
    return result.message.replyHandle;
  }

  const paths = () => server.requests.map((r) => r.path.replace(/om_\w+/, '{id}'));
  const reply = (handle: ReplyHandle, overrides: Partial<OutgoingReply> = {}): OutgoingReply => ({
    handle,
    text: '答案：42 ✅',
    format: 'text',
    idempotencyKey: 'feishu#evt-1',
    ...overrides,
  });

  it('survives 429 with Retry-After, then 5xx, then an expired token, and delivers exactly once', async () => {
    const handle = inboundHandle();
    faults = ['429', '5xx', 'expired-token'];
    const result = await platform.send(reply(handle, { mentionUserId: 'ou_a' }));

    expect(ctx.deliveries).toHaveLength(1);
    expect(ctx.deliveries[0]).toMatchObject({
      chatId: 'oc_g',
      text: '@ou_a 答案：42 ✅',
      messageId: result.messageIds[0],
    });
    expect(paths()).toEqual([
      '/open-apis/auth/v3/tenant_access_token/internal',
      '/open-apis/im/v1/messages/{id}/reply',
      '/open-apis/im/v1/messages/{id}/reply',
      '/open-apis/im/v1/messages/{id}/reply',
      '/open-apis/auth/v3/tenant_access_token/internal',
      '/open-apis/im/v1/messages/{id}/reply',
    ]);
    expect(sleeps[0]).toBe(1000);
    const [first, , , refreshed] = server.requests.filter((r) => r.path.endsWith('/reply'));
    expect(first?.headers.authorization).not.toBe(refreshed?.headers.authorization);
    const body = JSON.parse(refreshed?.body.toString('utf8') ?? '{}') as Record<string, unknown>;
    expect(body).toMatchObject({ msg_type: 'text', reply_in_thread: false });
    expect(String(body.uuid).length).toBeLessThanOrEqual(50);
  });

  it('reuses the cached token across sends and shares one fetch between concurrent sends', async () => {
    const handle = inboundHandle();
    await Promise.all([
      platform.send(reply(handle, { idempotencyKey: 'a' })),
      platform.send(reply(handle, { idempotencyKey: 'b' })),
    ]);
    await platform.send(reply(handle, { idempotencyKey: 'c' }));
    expect(paths().filter((p) => p.includes('tenant_access_token'))).toHaveLength(1);
    expect(ctx.deliveries).toHaveLength(3);
  });

  it('a repeated send with the same idempotency key is not delivered twice (Feishu uuid)', async () => {
    const handle = inboundHandle();
    const first = await platform.send(reply(handle));
    const again = await platform.send(reply(handle));
    expect(again.messageIds).toEqual(first.messageIds);
    expect(ctx.deliveries).toHaveLength(1);
  });

  it('splits a long markdown reply into post parts, mentions once, and keeps code fences whole', async () => {
    const handle = inboundHandle();
    const code = Array.from({ length: 900 }, (_, i) => `print("第${i}行")`).join('\n');
    const text = `说明如下：\n\n\`\`\`python\n${code}\n\`\`\`\n\n完毕。`;
    // Splitting is under test here, not the answer cap: limits high enough that all ~16,000 characters go out.
    const roomy = createFeishuPlatform(
      { ...config, apiBaseUrl: server.url, replyLimits: { maxChars: 50_000, maxMessages: 20 } },
      { fetch, now: () => NOW, sleep: async (ms) => void sleeps.push(ms) },
    );
    const result = await roomy.send(reply(handle, { text, format: 'markdown', mentionUserId: 'ou_a' }));
    expect(result.messageIds.length).toBeGreaterThan(1);
    expect(ctx.deliveries).toHaveLength(result.messageIds.length);
    const texts = ctx.deliveries.map((d) => d.text);
    expect(texts[0]?.startsWith('@ou_a 说明如下')).toBe(true);
    expect(texts.slice(1).every((t) => !t.includes('@ou_a'))).toBe(true);
    for (const part of texts.slice(1, -1)) {
      expect(part.startsWith('```python\n')).toBe(true);
      expect(part.endsWith('\n```')).toBe(true);
    }
    const uuids = server.requests
      .filter((r) => r.path.endsWith('/reply'))
      .map((r) => (JSON.parse(r.body.toString('utf8')) as { uuid: string; msg_type: string }).uuid);
    expect(new Set(uuids).size).toBe(uuids.length);
    for (const r of server.requests.filter((req) => req.path.endsWith('/reply'))) {
      expect(r.body.length).toBeLessThan(150 * 1024);
    }
  });

  it('retries a rejected token only once', async () => {
    const handle = inboundHandle();
    faults = ['expired-token', 'expired-token'];
    const error = await platform.send(reply(handle)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlatformApiError);
    expect(error).toMatchObject({ status: 400 });
    expect(JSON.parse((error as PlatformApiError).body)).toMatchObject({ code: 99991663 });
    expect(ctx.deliveries).toHaveLength(0);
  });

  it('does not retry a refused token request (wrong app secret)', async () => {
    const handle = inboundHandle();
    const wrong = createFeishuPlatform(
      { ...config, appSecret: 'wrong', apiBaseUrl: server.url },
      { fetch, now: () => NOW, sleep: async () => {} },
    );
    await expect(wrong.send(reply(handle))).rejects.toMatchObject({ status: 400 });
    expect(paths()).toEqual(['/open-apis/auth/v3/tenant_access_token/internal']);
  });

  it('gives up after the bounded attempts when the API keeps failing', async () => {
    const handle = inboundHandle();
    faults = ['5xx', '5xx', '5xx', '5xx', '5xx'];
    await expect(platform.send(reply(handle))).rejects.toMatchObject({ status: 500 });
    expect(paths().filter((p) => p.endsWith('/reply'))).toHaveLength(4);
    expect(ctx.deliveries).toHaveLength(0);
  });
});
