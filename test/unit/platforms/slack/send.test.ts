import { PlatformApiError } from '#core/errors';
import { createSlackPlatform } from '#platforms/slack/index';
import type { ChatPlatform, OutgoingReply } from '#platforms/types';
import { createSlackEmulator } from '../../../../sandbox/platform-emulator/slack';
import type { EmulatorContext, PlatformEmulator } from '../../../../sandbox/platform-emulator/types';
import { startTestServer, type TestResponse, type TestServer } from '../../../helpers/http-test-server';
import { config, emulatorContext, NOW } from './helpers';

type Fault = ReturnType<NonNullable<EmulatorContext['fault']>>;

describe('Slack send against the emulator on a real local HTTP server', () => {
  let server: TestServer;
  let emulator: PlatformEmulator;
  let ctx: ReturnType<typeof emulatorContext>;
  let faults: Fault[];
  let override: ((n: number) => TestResponse | undefined) | undefined;
  let sleeps: number[];
  let platform: ChatPlatform;

  beforeEach(async () => {
    emulator = createSlackEmulator();
    faults = [];
    sleeps = [];
    override = undefined;
    ctx = emulatorContext({ fault: () => faults.shift() ?? 'none' });
    server = await startTestServer(
      async (req) => override?.(server.requests.length) ?? (await emulator.handleApi(req, ctx)),
    );
    platform = createSlackPlatform(
      { ...config, apiBaseUrl: server.url },
      { fetch, now: () => NOW, sleep: async (ms) => void sleeps.push(ms) },
    );
  });
  afterEach(() => server.close());

  const reply = (overrides: Partial<OutgoingReply> = {}): OutgoingReply => ({
    handle: { platform: 'slack', channel: 'C0GROUP', threadTs: '1714550000.000100' },
    text: '答案：42 ✅ (a < b & c)',
    format: 'markdown',
    idempotencyKey: 'slack#Ev1',
    ...overrides,
  });

  it('survives 429 + Retry-After, a 5xx and an HTTP 200 ratelimited, and posts exactly once', async () => {
    faults = ['429', '5xx'];
    override = (n) =>
      n === 3
        ? { statusCode: 200, headers: { 'retry-after': '2' }, body: '{"ok":false,"error":"ratelimited"}' }
        : undefined;
    const result = await platform.send(reply({ mentionUserId: 'U0ALICE' }));
    expect(server.requests).toHaveLength(4);
    expect(ctx.deliveries).toHaveLength(1);
    expect(ctx.deliveries[0]).toMatchObject({
      chatId: 'C0GROUP',
      threadId: '1714550000.000100',
      text: '<@U0ALICE> 答案：42 ✅ (a < b & c)',
      messageId: result.messageIds[0],
    });
    expect(sleeps[0]).toBe(1000);
    expect(sleeps[2]).toBe(2000);
    const sent = JSON.parse(server.requests[3]?.body.toString('utf8') ?? '{}') as Record<string, unknown>;
    expect(sent).toEqual({
      channel: 'C0GROUP',
      text: '<@U0ALICE> 答案：42 ✅ (a &lt; b &amp; c)',
      thread_ts: '1714550000.000100',
      mrkdwn: true,
    });
    expect(server.requests[3]?.headers.authorization).toBe('Bearer xoxb-test-token');
  });

  it('does not retry an expired or invalid token (ok:false is final)', async () => {
    faults = ['expired-token'];
    const error = await platform.send(reply()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlatformApiError);
    expect((error as PlatformApiError).body).toContain('token_expired');
    expect(server.requests).toHaveLength(1);

    const wrong = createSlackPlatform(
      { ...config, botToken: 'xoxb-wrong', apiBaseUrl: server.url },
      { fetch, now: () => NOW, sleep: async () => {} },
    );
    await expect(wrong.send(reply())).rejects.toThrow(/invalid_auth/);
    expect(ctx.deliveries).toHaveLength(0);
  });

  it('gives up after the bounded attempts on repeated 429s', async () => {
    faults = ['429', '429', '429', '429', '429'];
    await expect(platform.send(reply())).rejects.toMatchObject({ status: 429 });
    expect(server.requests).toHaveLength(4);
    expect(ctx.deliveries).toHaveLength(0);
  });

  it('splits a long reply at 3,900 characters, in thread, mentioning only in the first part', async () => {
    const text = Array.from({ length: 400 }, (_, i) => `第${i}段：这是一个很长的回答，包含 emoji 🎉。`).join('\n\n');
    // Splitting is under test here, not the answer cap: limits high enough that all ~12,000 characters go out.
    const roomy = createSlackPlatform(
      { ...config, apiBaseUrl: server.url, replyLimits: { maxChars: 50_000, maxMessages: 20 } },
      { fetch, now: () => NOW, sleep: async (ms) => void sleeps.push(ms) },
    );
    const result = await roomy.send(reply({ text, mentionUserId: 'U0ALICE', format: 'text' }));
    expect(result.messageIds.length).toBeGreaterThan(1);
    expect(ctx.deliveries).toHaveLength(result.messageIds.length);
    for (const delivery of ctx.deliveries) {
      expect([...delivery.text].length).toBeLessThanOrEqual(3_900 + '<@U0ALICE> '.length);
      expect(delivery.threadId).toBe('1714550000.000100');
    }
    expect(ctx.deliveries.filter((d) => d.text.includes('<@U0ALICE>'))).toHaveLength(1);
    expect(ctx.deliveries.map((d) => d.text.replace('<@U0ALICE> ', '')).join('\n\n')).toBe(text);
    const first = JSON.parse(server.requests[0]?.body.toString('utf8') ?? '{}') as { mrkdwn: boolean };
    expect(first.mrkdwn).toBe(false);
  });
});
