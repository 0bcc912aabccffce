import { PlatformApiError } from '#core/errors';
import { TRUNCATION_NOTE } from '#platforms/shared/index';
import type { ChatPlatform, OutgoingReply, ReplyHandle } from '#platforms/types';
import { createWeComPlatform, WECOM_REPLY_LIMIT_BYTES } from '#platforms/wecom/index';
import { createWeComEmulator } from '../../../../sandbox/platform-emulator/wecom';
import { startTestServer, type TestServer } from '../../../helpers/http-test-server';
import { CREDENTIALS, emulatorContext, type Fault, NOW, recordingDeps, toRaw } from '../dingtalk/helpers';

const { token, encodingAesKey } = CREDENTIALS.wecom;

interface Harness {
  server: TestServer;
  ctx: ReturnType<typeof emulatorContext>;
  platform: ChatPlatform;
  deps: ReturnType<typeof recordingDeps>;
  clock: { now: number };
  handle: ReplyHandle;
}

let harness: Harness;

/** A real server on 127.0.0.1 serving the WeCom emulator, and a reply handle from an emulator-built event. */
async function start(faults: Fault[] = []): Promise<Harness> {
  const emulator = createWeComEmulator();
  const clock = { now: NOW };
  let ctx: ReturnType<typeof emulatorContext> | undefined;
  const server = await startTestServer((req) => emulator.handleApi(req, ctx!));
  ctx = emulatorContext(server.url, { now: () => clock.now, faults });
  const deps = recordingDeps(() => clock.now);
  const platform = createWeComPlatform(
    { token, encodingAesKey, replyUrls: { origins: [], insecureOrigins: [server.url] } },
    deps,
  );
  const event = emulator.buildMessageEvent({ chatId: 'wr-team', userId: 'zhangsan', text: '你好' }, ctx);
  const parsed = platform.parse(toRaw(event), NOW);
  if (parsed.kind !== 'message') throw new Error('expected message');
  return { server, ctx, platform, deps, clock, handle: parsed.message.replyHandle };
}

afterEach(async () => {
  await harness?.server.close();
});

const reply = (h: Harness, text = '**答复** 👍', format: 'text' | 'markdown' = 'markdown'): OutgoingReply => ({
  handle: h.handle,
  text,
  format,
  idempotencyKey: 'evt-9',
});

describe('WeCom send via response_url', () => {
  it('posts markdown once and records the delivery against the chat', async () => {
    harness = await start();
    const result = await harness.platform.send(reply(harness));
    expect(result.messageIds).toEqual(['evt-9']);
    expect(JSON.parse(harness.server.requests[0]!.body.toString('utf8'))).toEqual({
      msgtype: 'markdown',
      markdown: { content: '**答复** 👍' },
    });
    expect(harness.ctx.deliveries).toEqual([expect.objectContaining({ chatId: 'wr-team', text: '**答复** 👍' })]);
  });

  it('posts plain text as msgtype text', async () => {
    harness = await start();
    await harness.platform.send(reply(harness, 'plain', 'text'));
    expect(JSON.parse(harness.server.requests[0]!.body.toString('utf8'))).toEqual({
      msgtype: 'text',
      text: { content: 'plain' },
    });
  });

  it('honours 429 Retry-After and delivers exactly once', async () => {
    harness = await start(['429']);
    await harness.platform.send(reply(harness));
    expect(harness.deps.sleeps).toEqual([1000]);
    expect(harness.server.requests).toHaveLength(2);
    expect(harness.ctx.deliveries).toHaveLength(1);
  });

  it('retries 5xx and delivers exactly once', async () => {
    harness = await start(['5xx', '5xx']);
    await harness.platform.send(reply(harness));
    expect(harness.server.requests).toHaveLength(3);
    expect(harness.ctx.deliveries).toHaveLength(1);
  });

  it('fails with PlatformApiError when WeCom says the response_url expired, delivering nothing', async () => {
    harness = await start(['expired-token']);
    await expect(harness.platform.send(reply(harness))).rejects.toBeInstanceOf(PlatformApiError);
    expect(harness.server.requests).toHaveLength(1);
    expect(harness.ctx.deliveries).toHaveLength(0);
  });

  it('cannot use a response_url twice', async () => {
    harness = await start();
    await harness.platform.send(reply(harness));
    await expect(harness.platform.send(reply(harness, 'again'))).rejects.toBeInstanceOf(PlatformApiError);
    expect(harness.ctx.deliveries).toHaveLength(1);
  });

  it('refuses an hour-old response_url without calling it', async () => {
    harness = await start();
    harness.clock.now = NOW + 3_600_000;
    await expect(harness.platform.send(reply(harness))).rejects.toThrow(/expired/);
    expect(harness.server.requests).toHaveLength(0);
  });

  it('refuses a handle whose URL is not on the allowlist without calling it', async () => {
    harness = await start();
    const handle = { ...harness.handle, responseUrl: 'https://evil.example.com/hook' } as ReplyHandle;
    await expect(harness.platform.send({ ...reply(harness), handle })).rejects.toThrow(/not on the allowlist/);
    expect(harness.server.requests).toHaveLength(0);
  });

  it('shortens an over-long reply to one message within 20480 bytes, marked as cut', async () => {
    harness = await start();
    const text = `${'答'.repeat(4000)}\n\n`.repeat(3);
    await harness.platform.send(reply(harness, text));
    const delivered = harness.ctx.deliveries[0]!.text;
    expect(Buffer.byteLength(delivered, 'utf8')).toBeLessThanOrEqual(WECOM_REPLY_LIMIT_BYTES);
    // The shared truncation note (it replaced WeCom's own bare "\n\n…" so every platform marks a cut the same way).
    expect(delivered.endsWith(TRUNCATION_NOTE)).toBe(true);
    expect(text.startsWith(delivered.slice(0, -TRUNCATION_NOTE.length))).toBe(true);
  });
});
