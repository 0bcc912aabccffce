import type { ReplyImage } from '#core/reply-image';
import { renderBarChart } from '#data-analysis/chart';
import { createSlackPlatform } from '#platforms/slack/index';
import type { ChatPlatform, OutgoingReply } from '#platforms/types';
import { createSlackEmulator } from '../../../../sandbox/platform-emulator/slack';
import type { PlatformEmulator } from '../../../../sandbox/platform-emulator/types';
import { startTestServer, type TestResponse, type TestServer } from '../../../helpers/http-test-server';
import { config, emulatorContext, NOW } from './helpers';

/**
 * A reply's chart on Slack, against the emulator on a real local HTTP server: the text with `chat.postMessage`, then
 * the external upload (`files.getUploadURLExternal`, the bytes to `upload_url`, `files.completeUploadExternal` into
 * the reply's channel and thread). A failing upload never fails or repeats the text.
 */

const chart: ReplyImage = {
  mediaType: 'image/png',
  data: renderBarChart([5, 3, 8]),
  alt: 'Bar chart of units by region',
  width: 108,
  height: 220,
};

describe('Slack reply images against the emulator', () => {
  let server: TestServer;
  let emulator: PlatformEmulator;
  let ctx: ReturnType<typeof emulatorContext>;
  let override: ((path: string) => TestResponse | undefined) | undefined;
  let platform: ChatPlatform;

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

  const reply = (overrides: Partial<OutgoingReply> = {}): OutgoingReply => ({
    handle: { platform: 'slack', channel: 'C0GROUP', threadTs: '1714550000.000100' },
    text: '| region | units |',
    format: 'markdown',
    idempotencyKey: 'slack#Ev1',
    images: [chart],
    ...overrides,
  });
  const calls = () => server.requests.map((r) => r.path.replace(/\/upload\/v1\/\w+$/, '/upload'));

  it('posts the text, then uploads the chart and shares it in the same thread', async () => {
    const sent = await platform.send(reply());
    expect(calls()).toEqual([
      '/api/chat.postMessage',
      '/api/files.getUploadURLExternal',
      '/upload',
      '/api/files.completeUploadExternal',
    ]);
    const [ticket, upload, complete] = server.requests.slice(1);
    expect(ticket?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(ticket?.body.toString()))).toEqual({
      filename: 'chart-1.png',
      length: String(chart.data.byteLength),
      alt_txt: chart.alt,
    });
    // The upload URL is the credential: the bot token is never sent to it.
    expect(upload?.headers.authorization).toBeUndefined();
    expect(new Uint8Array(upload?.body ?? [])).toEqual(new Uint8Array(chart.data));
    expect(JSON.parse(complete?.body.toString() ?? '')).toMatchObject({
      channel_id: 'C0GROUP',
      thread_ts: '1714550000.000100',
      files: [{ title: chart.alt }],
    });
    expect(ctx.deliveries).toHaveLength(2);
    expect(ctx.deliveries[1]).toMatchObject({
      chatId: 'C0GROUP',
      threadId: '1714550000.000100',
      text: chart.alt,
      messageId: sent.messageIds[1],
      image: { mediaType: 'image/png', data: Buffer.from(chart.data).toString('base64'), width: 108, height: 220 },
    });
    expect(sent.messageIds).toEqual([ctx.deliveries[0]?.messageId, expect.stringMatching(/^F[0-9A-F]+$/)]);
    expect(sent.imageFailures).toBeUndefined();
  });

  it('an upload URL that answers 500 every time: the text is delivered once, the image reported', async () => {
    override = (path) => (path.startsWith('/upload/') ? { statusCode: 500, body: 'upstream error' } : undefined);
    const sent = await platform.send(reply());
    expect(calls().filter((p) => p === '/api/chat.postMessage')).toHaveLength(1);
    expect(calls().filter((p) => p === '/upload')).toHaveLength(4);
    expect(calls()).not.toContain('/api/files.completeUploadExternal');
    expect(ctx.deliveries.map((d) => d.text)).toEqual(['| region | units |']);
    expect(sent.messageIds).toHaveLength(1);
    expect(sent.imageFailures).toEqual([{ index: 0, reason: 'Gave up after 4 attempts; last status 500' }]);
  });

  it('a 429 on files.getUploadURLExternal is retried after Retry-After and the image still arrives', async () => {
    let throttled = false;
    override = (path) => {
      if (path !== '/api/files.getUploadURLExternal' || throttled) return undefined;
      throttled = true;
      return { statusCode: 429, headers: { 'retry-after': '1' }, body: '{"ok":false,"error":"ratelimited"}' };
    };
    const sent = await platform.send(reply());
    expect(sent.messageIds).toHaveLength(2);
    expect(ctx.deliveries.filter((d) => d.image)).toHaveLength(1);
    expect(calls().filter((p) => p === '/api/chat.postMessage')).toHaveLength(1);
  });

  it('a refused upload (files:write missing) is reported with Slack’s error, the text is out', async () => {
    override = (path) =>
      path === '/api/files.getUploadURLExternal'
        ? { statusCode: 200, body: '{"ok":false,"error":"missing_scope","needed":"files:write"}' }
        : undefined;
    const sent = await platform.send(reply());
    expect(sent.imageFailures).toEqual([
      { index: 0, reason: 'Slack files.getUploadURLExternal failed: missing_scope' },
    ]);
    expect(ctx.deliveries).toHaveLength(1);
  });

  it('a refused upload names the upload URL’s origin only: its path is the upload’s credential', async () => {
    override = (path) => (path.startsWith('/upload/') ? { statusCode: 403, body: 'forbidden' } : undefined);
    const sent = await platform.send(reply());
    const secretPath = server.requests.find((r) => r.path.startsWith('/upload/'))?.path ?? '';
    expect(secretPath).toMatch(/^\/upload\/v1\/\w+$/);
    expect(sent.imageFailures).toEqual([
      { index: 0, reason: `Slack upload to ${new URL(server.url).origin} answered 403; not posted` },
    ]);
    expect(JSON.stringify(sent)).not.toContain(secretPath);
    expect(ctx.deliveries.map((d) => d.text)).toEqual(['| region | units |']);
  });

  it('an upload_url on another host is refused before any byte is sent to it', async () => {
    override = (path) =>
      path === '/api/files.getUploadURLExternal'
        ? { statusCode: 200, body: '{"ok":true,"upload_url":"http://169.254.169.254/upload/v1/x","file_id":"F1"}' }
        : undefined;
    const sent = await platform.send(reply());
    expect(sent.imageFailures).toEqual([
      { index: 0, reason: 'Slack upload_url on http://169.254.169.254 is not a Slack host; not posted' },
    ]);
    expect(calls()).toEqual(['/api/chat.postMessage', '/api/files.getUploadURLExternal']);
  });

  it('a streamed reply gets its chart after the stream is stopped, in the stream’s thread', async () => {
    const session = await platform.openReply(
      {
        handle: {
          platform: 'slack',
          channel: 'C0GROUP',
          threadTs: '1714550000.000100',
          userId: 'U0ALICE',
          teamId: 'T0SANDBOX',
        },
        format: 'markdown',
        idempotencyKey: 'slack#Ev2',
      },
      { stream: true },
    );
    await session.update('| region |');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const sent = await session.finish('| region | units |', { images: [chart] });
    expect(calls().slice(-3)).toEqual([
      '/api/files.getUploadURLExternal',
      '/upload',
      '/api/files.completeUploadExternal',
    ]);
    expect(ctx.deliveries.at(-1)).toMatchObject({ threadId: '1714550000.000100', image: { width: 108 } });
    expect(sent.messageIds).toHaveLength(2);
  });
});

describe('Slack emulator: the upload methods refuse what Slack refuses', () => {
  const api = async (method: string, body: string, type = 'application/x-www-form-urlencoded', token = 'xoxb') => {
    const emulator = createSlackEmulator();
    const ctx = emulatorContext({ apiBaseUrl: 'http://127.0.0.1:9' });
    const auth: Record<string, string> =
      token === 'xoxb' ? { authorization: `Bearer ${ctx.credentials.slack.botToken}` } : {};
    const answer = await emulator.handleApi(
      {
        method: 'POST',
        path: `/api/${method}`,
        query: {},
        headers: { ...auth, 'content-type': type },
        body: Buffer.from(body),
      },
      ctx,
    );
    return JSON.parse(answer.body) as { ok: boolean; error?: string; upload_url?: string };
  };

  it.each([
    ['no token', 'files.getUploadURLExternal', 'filename=a.png&length=3', 'none', 'not_authed'],
    ['a length of 0', 'files.getUploadURLExternal', 'filename=a.png&length=0', 'xoxb', 'missing_argument'],
    ['no filename', 'files.getUploadURLExternal', 'length=10', 'xoxb', 'missing_argument'],
    [
      'an alt_txt over 1,000 characters',
      'files.getUploadURLExternal',
      `filename=a.png&length=3&alt_txt=${'a'.repeat(1001)}`,
      'xoxb',
      'alt_txt_too_large',
    ],
    [
      'an unknown file id',
      'files.completeUploadExternal',
      'files=[{"id":"F0NOPE"}]&channel_id=C1',
      'xoxb',
      'file_not_found',
    ],
    [
      'files that are not a list',
      'files.completeUploadExternal',
      'files=F0NOPE&channel_id=C1',
      'xoxb',
      'invalid_arguments',
    ],
  ])('%s', async (_, method, body, token, error) => {
    expect(await api(method, body, undefined, token)).toEqual({ ok: false, error });
  });

  it('answers an upload URL on its own origin for a valid form or JSON request', async () => {
    expect(await api('files.getUploadURLExternal', 'filename=a.png&length=3')).toMatchObject({
      ok: true,
      upload_url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:9\/upload\/v1\/[0-9a-f]+$/),
    });
    expect(
      await api('files.getUploadURLExternal', '{"filename":"a.png","length":3}', 'application/json'),
    ).toMatchObject({ ok: true });
  });
});
