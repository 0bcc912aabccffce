import { PlatformApiError } from '#core/errors';
import { sendWithRetry, TRUNCATION_NOTE } from '#platforms/shared/index';
import type { OutgoingReply } from '#platforms/types';
import { type RecordedRequest, startTestServer, type TestServer } from '../../helpers/http-test-server';
import { askerPrefix, CASES, fakeApi, liveMentions, NOW } from './outbound-harness';

/**
 * Hostile model outputs: each tries to make the bot's reply @-mention someone other than the asker (or everyone).
 * The same list is the bad-input corpus for replies (see the report of issue 13).
 */
const HOSTILE = [
  '<at user_id="all">所有人</at> 请注意',
  '<at user_id="ou_123">x</at> 你好',
  '<at id=all></at>',
  '<at open_id=ou_evil></at>',
  '<at ids=ou_1,ou_2></at>',
  '<AT USER_ID="all"></AT>',
  '< at user_id="all">所有人</at>',
  '<\u200Bat user_id="all"></at>',
  '<a\u200Bt id=all></at>',
  '&lt;at id=all&gt;&lt;/at&gt;',
  '&#60;at user_id="all"&#62;&#60;/at&#62;',
  '<\u0000at user_id="all"></at>',
  '@all 开会了',
  '@所有人 开会了',
  '请@all看',
  '@ALL',
  '＠all',
  '@\u200Ball',
  '@a\u200Bll',
  '@\u2060所有人',
  '@\u0000all',
  '<@U012ABC> 看这里',
  '<!channel>',
  '<!here|here>',
  '<!everyone>',
  '<!subteam^S0123|@team>',
  '<@zhangsan> 看这里',
  '<@all>',
  '<＠all>',
  '< @wangwu>',
  '&lt;@lisi&gt;',
  '@here @channel @everyone',
];

/** Everything the adapter sent, as text, for assertions that must hold anywhere in the request. */
const rawBodies = (requests: readonly RecordedRequest[]) => requests.map((r) => r.body.toString('utf8')).join('\n');

describe.each(CASES)('$name outbound replies', (c) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(fakeApi);
  });
  afterAll(() => server.close());
  beforeEach(() => {
    server.requests.length = 0;
  });

  const reply = (text: string, overrides: Partial<OutgoingReply> = {}): OutgoingReply => ({
    handle: c.handle(server.url),
    text,
    format: 'markdown',
    mentionUserId: c.asker,
    idempotencyKey: 'evt-1',
    ...overrides,
  });

  /** Sent texts with the adapter's own asker mention checked and removed from the first one. */
  function sentWithoutAskerPrefix(): string[] {
    const texts = c.sentTexts(server.requests);
    const prefix = askerPrefix(c.name, c.asker);
    expect(texts[0]?.startsWith(prefix)).toBe(true);
    return texts.map((t, i) => (i === 0 ? t.slice(prefix.length) : t));
  }

  describe.each(['markdown', 'text'] as const)('as %s', (format) => {
    it.each(HOSTILE)('no live mention but the asker’s for %j', async (hostile) => {
      await c.create(server.url).send(reply(`前言 ${hostile} 结尾`, { format }));
      const texts = sentWithoutAskerPrefix();
      expect(texts).toHaveLength(1);
      expect(liveMentions(c.name, texts[0] ?? '')).toEqual([]);
      // The readable content survives: the reply still says what the model said, just inert.
      expect(texts[0]).toMatch(/^前言 .+ 结尾$/s);
      const raw = rawBodies(server.requests);
      expect(raw).not.toMatch(/"isAtAll":\s*true|mentioned_list|mentioned_mobile_list|atMobiles|link_names/);
      if (c.name === 'dingtalk') {
        const body = JSON.parse(server.requests[0]?.body.toString('utf8') ?? '{}') as { at?: unknown };
        expect(body.at).toEqual({ atUserIds: [c.asker], isAtAll: false });
      }
    });
  });

  it.each(['all', 'ALL', '所有人', 'ou_a"></at><at user_id="all', 'U0A> <!channel', 'zhangsan lisi'])(
    'adds no mention at all for an asker id that is a broadcast name or malformed: %j',
    async (bad) => {
      await c.create(server.url).send(reply('答案', { mentionUserId: bad }));
      const [text] = c.sentTexts(server.requests);
      expect(text).toBe('答案');
      const raw = rawBodies(server.requests);
      expect(raw).not.toContain('atUserIds');
      expect(raw).not.toContain('<at');
      expect(raw).not.toContain('<!');
    },
  );

  it('turns a 5 MB answer into a bounded number of messages ending with the truncation note', async () => {
    const huge = `${'这是一个非常长的回答，模型停不下来了。'.repeat(100)}\n\n`.repeat(2_800);
    expect(huge.length).toBeGreaterThan(5_000_000);
    await c.create(server.url).send(reply(huge));
    const sends = server.requests.filter((r) => r.path === c.sendPath);
    expect(sends.length).toBeGreaterThanOrEqual(1);
    expect(sends.length).toBeLessThanOrEqual(c.name === 'wecom' ? 1 : 4);
    const texts = sentWithoutAskerPrefix();
    expect(texts.at(-1)?.endsWith(TRUNCATION_NOTE)).toBe(true);
    expect(texts.reduce((n, t) => n + [...t].length, 0)).toBeLessThanOrEqual(8_000);
  });

  it('keeps to maxMessages even when maxChars would allow many more parts', async () => {
    const long = `${'第一段落的内容很多很多。'.repeat(50)}\n\n`.repeat(400);
    await c.create(server.url, { maxChars: 100_000, maxMessages: 4 }).send(reply(long));
    const texts = sentWithoutAskerPrefix();
    expect(texts).toHaveLength(c.name === 'wecom' ? 1 : 4);
    expect(texts.filter((t) => t.includes(TRUNCATION_NOTE))).toHaveLength(1);
    expect(texts.at(-1)?.endsWith(TRUNCATION_NOTE)).toBe(true);
  });

  it('honours a configured maxChars', async () => {
    await c.create(server.url, { maxChars: 500 }).send(reply('长'.repeat(2_000)));
    const texts = sentWithoutAskerPrefix();
    expect(texts).toHaveLength(1);
    expect([...(texts[0] ?? '')].length).toBeLessThanOrEqual(500);
    expect(texts[0]?.endsWith(TRUNCATION_NOTE)).toBe(true);
  });

  it.each([
    ['NUL, BEL, ESC, DEL and CRLF', 'a\u0000b\u0007c\r\nd\u001b[0me\u007ff', 'abc\nd[0mef'],
    ['a run of U+FFFD', '乱码\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD结束', '乱码\uFFFD结束'],
    ['C1 controls and a lone CR', 'x\u0085y\rz\u009b', 'xy\nz'],
    ['a lone surrogate next to U+FFFD', 'p\uD83D\uFFFDq', 'p\uFFFDq'],
  ])('strips %s', async (_, input, expected) => {
    await c.create(server.url).send(reply(input, { format: 'text' }));
    expect(sentWithoutAskerPrefix()).toEqual([expected]);
  });
});

describe.each(CASES)('$name outbound sends do not follow redirects', (c) => {
  let elsewhere: TestServer;
  let api: TestServer;
  let redirectPath: string;
  let redirectStatus: number;

  beforeEach(async () => {
    elsewhere = await startTestServer(fakeApi);
    redirectStatus = 302;
    api = await startTestServer((req) =>
      req.path === redirectPath
        ? { statusCode: redirectStatus, headers: { location: `${elsewhere.url}${req.path}?stolen=1` }, body: '' }
        : fakeApi(req),
    );
  });
  afterEach(async () => {
    await api.close();
    await elsewhere.close();
  });

  const reply = (): OutgoingReply => ({
    handle: c.handle(api.url),
    text: '答案',
    format: 'text',
    mentionUserId: c.asker,
    idempotencyKey: 'evt-r',
  });

  it.each([301, 302, 303, 307, 308])(
    'a %d on the message call fails once, and the other host gets nothing',
    async (status) => {
      redirectPath = c.sendPath;
      redirectStatus = status;
      const error = await c
        .create(api.url)
        .send(reply())
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PlatformApiError);
      expect(error).toMatchObject({ status });
      expect((error as Error).message).toMatch(/redirects are not followed/);
      expect((error as Error).message).toContain(elsewhere.url);
      expect(elsewhere.requests).toHaveLength(0);
      expect(api.requests.filter((r) => r.path === c.sendPath)).toHaveLength(1);
    },
  );

  const tokenPaths: Partial<Record<typeof c.name, string>> = {
    feishu: '/open-apis/auth/v3/tenant_access_token/internal',
    dingtalk: '/v1.0/oauth2/accessToken',
  };
  const tokenPath = tokenPaths[c.name];
  // Slack (bot token) and WeCom (response_url) make no token call, so the case exists for Feishu and DingTalk only.
  const onTokenCall = (name: string, fn: () => Promise<void>) => (tokenPath ? it(name, fn) : undefined);
  onTokenCall('a redirect on the token call is not followed either', async () => {
    redirectPath = tokenPath ?? '';
    // DingTalk buys a token only on the group-message path (no sessionWebhook).
    const handle =
      c.name === 'dingtalk' ? { platform: 'dingtalk' as const, conversationId: 'cid1' } : c.handle(api.url);
    await expect(c.create(api.url).send({ ...reply(), handle })).rejects.toMatchObject({ status: 302 });
    expect(elsewhere.requests).toHaveLength(0);
    expect(api.requests.map((r) => r.path)).toEqual([tokenPath]);
  });
});

describe('sendWithRetry and redirects', () => {
  it('reports an opaque redirect (status 0, as a browser-style fetch returns it) as a failed send', async () => {
    const opaque = { status: 0, type: 'opaqueredirect', headers: new Headers(), text: async () => '' };
    const calls: RequestInit[] = [];
    const recording = (async (_url: string | URL | Request, init?: RequestInit) => {
      calls.push(init ?? {});
      return opaque as unknown as Response;
    }) as typeof fetch;
    await expect(
      sendWithRetry(() => ({ url: 'https://api.example.com/x', method: 'POST', headers: {} }), {
        fetch: recording,
        now: () => NOW,
        sleep: async () => {},
      }),
    ).rejects.toThrow(/redirects are not followed/);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.redirect).toBe('manual');
  });
});
