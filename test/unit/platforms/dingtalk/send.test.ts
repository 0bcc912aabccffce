import { PlatformApiError } from '#core/errors';
import { createDingTalkPlatform, DINGTALK_PART_LIMIT_CHARS } from '#platforms/dingtalk/index';
import type { ChatPlatform, OutgoingReply, ReplyHandle } from '#platforms/types';
import { createDingTalkEmulator } from '../../../../sandbox/platform-emulator/dingtalk';
import { startTestServer, type TestResponse, type TestServer } from '../../../helpers/http-test-server';
import { CREDENTIALS, emulatorContext, type Fault, NOW, recordingDeps, toRaw } from './helpers';

const { appKey, appSecret } = CREDENTIALS.dingtalk;

interface Harness {
  server: TestServer;
  ctx: ReturnType<typeof emulatorContext>;
  platform: ChatPlatform;
  deps: ReturnType<typeof recordingDeps>;
  clock: { now: number };
}

let harness: Harness;

/** A real server on 127.0.0.1 serving the DingTalk emulator, with scripted faults and optional raw overrides. */
async function start(
  faults: Fault[] = [],
  override?: (path: string) => TestResponse | undefined,
  replyLimits?: { maxChars: number; maxMessages: number },
): Promise<Harness> {
  const emulator = createDingTalkEmulator();
  const clock = { now: NOW };
  let ctx: ReturnType<typeof emulatorContext> | undefined;
  const server = await startTestServer(async (req) => {
    const raw = override?.(req.path);
    if (raw) return raw;
    return emulator.handleApi(req, ctx!);
  });
  ctx = emulatorContext(server.url, { now: () => clock.now, faults });
  const deps = recordingDeps(() => clock.now);
  const platform = createDingTalkPlatform(
    {
      appKey,
      appSecret,
      apiBaseUrl: server.url,
      replyUrls: { origins: [], insecureOrigins: [server.url] },
      ...(replyLimits ? { replyLimits } : {}),
    },
    deps,
  );
  return { server, ctx, platform, deps, clock };
}

afterEach(async () => {
  await harness?.server.close();
});

function handleFromEvent(h: Harness, chatId = 'cid-sales'): ReplyHandle {
  const event = createDingTalkEmulator().buildMessageEvent({ chatId, userId: 'zhangsan', text: 'hi' }, h.ctx);
  const result = h.platform.parse(toRaw(event), NOW);
  if (result.kind !== 'message') throw new Error('expected message');
  return result.message.replyHandle;
}

function reply(handle: ReplyHandle, text = '你好 👋', format: 'text' | 'markdown' = 'text'): OutgoingReply {
  return { handle, text, format, mentionUserId: 'zhangsan', idempotencyKey: 'evt-1' };
}

const paths = (h: Harness) => h.server.requests.map((r) => r.path);

describe('DingTalk send via sessionWebhook', () => {
  it('posts text with the @-mention and records one delivery', async () => {
    harness = await start();
    const result = await harness.platform.send(reply(handleFromEvent(harness)));
    expect(result.messageIds).toEqual(['evt-1#0']);
    expect(harness.ctx.deliveries).toEqual([expect.objectContaining({ chatId: 'cid-sales', text: '你好 👋' })]);
    const sent = JSON.parse(harness.server.requests[0]!.body.toString('utf8'));
    expect(sent).toEqual({
      msgtype: 'text',
      text: { content: '你好 👋' },
      at: { atUserIds: ['zhangsan'], isAtAll: false },
    });
    expect(paths(harness)).toEqual(['/robot/sendBySession']);
  });

  it('sends markdown with a title', async () => {
    harness = await start();
    await harness.platform.send(reply(handleFromEvent(harness), '## 总结\n- 一\n- 二', 'markdown'));
    const sent = JSON.parse(harness.server.requests[0]!.body.toString('utf8'));
    expect(sent.markdown).toEqual({ title: '总结', text: '## 总结\n- 一\n- 二' });
  });

  it('honours 429 Retry-After and delivers exactly once', async () => {
    harness = await start(['429']);
    await harness.platform.send(reply(handleFromEvent(harness)));
    expect(harness.deps.sleeps).toEqual([1000]);
    expect(harness.ctx.deliveries).toHaveLength(1);
    expect(paths(harness)).toEqual(['/robot/sendBySession', '/robot/sendBySession']);
  });

  it('retries an errcode 130101 (sent too fast) answered with HTTP 200, delivering once', async () => {
    let throttled = false;
    harness = await start([], () => {
      if (throttled) return undefined;
      throttled = true;
      return { statusCode: 200, body: JSON.stringify({ errcode: 130101, errmsg: 'send too fast' }) };
    });
    await harness.platform.send(reply(handleFromEvent(harness)));
    expect(harness.ctx.deliveries).toHaveLength(1);
    expect(harness.server.requests).toHaveLength(2);
  });

  it('falls back to the robot API once the sessionWebhook is about to expire', async () => {
    harness = await start();
    const handle = handleFromEvent(harness);
    harness.clock.now = NOW + 90 * 60_000 - 30_000;
    await harness.platform.send(reply(handle));
    expect(paths(harness)).toEqual(['/v1.0/oauth2/accessToken', '/v1.0/robot/groupMessages/send']);
    expect(harness.ctx.deliveries).toEqual([expect.objectContaining({ chatId: 'cid-sales', text: '你好 👋' })]);
  });
});

describe('DingTalk send via the robot group-message API', () => {
  const apiHandle: ReplyHandle = { platform: 'dingtalk', conversationId: 'cid-ops', robotCode: appKey };

  it('buys a token, sends sampleText and reuses the cached token', async () => {
    harness = await start();
    const first = await harness.platform.send(reply(apiHandle));
    await harness.platform.send(reply(apiHandle, 'second'));
    expect(first.messageIds).toHaveLength(1);
    expect(paths(harness)).toEqual([
      '/v1.0/oauth2/accessToken',
      '/v1.0/robot/groupMessages/send',
      '/v1.0/robot/groupMessages/send',
    ]);
    const sent = JSON.parse(harness.server.requests[1]!.body.toString('utf8'));
    expect(sent).toEqual({
      robotCode: appKey,
      openConversationId: 'cid-ops',
      msgKey: 'sampleText',
      msgParam: JSON.stringify({ content: '你好 👋' }),
    });
    expect(harness.server.requests[1]!.headers['x-acs-dingtalk-access-token']).toMatch(/^dt-/);
    expect(harness.ctx.deliveries.map((d) => d.text)).toEqual(['你好 👋', 'second']);
  });

  it('refreshes an expired token once and delivers exactly once', async () => {
    harness = await start(['expired-token']);
    await harness.platform.send(reply(apiHandle));
    expect(paths(harness)).toEqual([
      '/v1.0/oauth2/accessToken',
      '/v1.0/robot/groupMessages/send',
      '/v1.0/oauth2/accessToken',
      '/v1.0/robot/groupMessages/send',
    ]);
    expect(harness.ctx.deliveries).toHaveLength(1);
  });

  it('retries a 5xx with backoff and delivers exactly once', async () => {
    harness = await start(['5xx']);
    await harness.platform.send(reply(apiHandle));
    expect(harness.deps.sleeps).toHaveLength(1);
    expect(harness.ctx.deliveries).toHaveLength(1);
  });

  it('treats HTTP 403 QpsLimit as a throttle and retries it', async () => {
    let limited = false;
    harness = await start([], (path) => {
      if (path !== '/v1.0/robot/groupMessages/send' || limited) return undefined;
      limited = true;
      return {
        statusCode: 403,
        headers: { 'retry-after': '2' },
        body: '{"code":"Forbidden.AccessDenied.QpsLimitForApi"}',
      };
    });
    await harness.platform.send(reply(apiHandle));
    expect(harness.deps.sleeps).toEqual([2000]);
    expect(harness.ctx.deliveries).toHaveLength(1);
  });

  it('gives up with PlatformApiError after repeated expiry, without delivering', async () => {
    harness = await start(['expired-token', 'expired-token']);
    await expect(harness.platform.send(reply(apiHandle))).rejects.toBeInstanceOf(PlatformApiError);
    expect(harness.ctx.deliveries).toHaveLength(0);
  });

  it('splits a long reply into parts within the limit, mentioning only in the first', async () => {
    // Splitting is under test here, not the answer cap: limits high enough that all ~12,000 characters go out.
    harness = await start([], undefined, { maxChars: 50_000, maxMessages: 20 });
    const paragraph = `${'长'.repeat(3000)}\n\n`;
    const text = paragraph.repeat(4).trim();
    const result = await harness.platform.send(reply(handleFromEvent(harness), text));
    expect(result.messageIds.length).toBeGreaterThan(1);
    expect(harness.ctx.deliveries.map((d) => d.text).join('\n\n')).toBe(text);
    for (const d of harness.ctx.deliveries) expect([...d.text].length).toBeLessThanOrEqual(DINGTALK_PART_LIMIT_CHARS);
    const bodies = harness.server.requests.map((r) => JSON.parse(r.body.toString('utf8')));
    expect(bodies[0].at).toBeDefined();
    expect(bodies.slice(1).every((b: { at?: unknown }) => b.at === undefined)).toBe(true);
  });
});
