import { createFeishuPlatform } from '#platforms/feishu/index';
import { AttachmentError } from '#platforms/shared/download';
import type { ChatPlatform, MessageAttachment, ParseResult } from '#platforms/types';
import { buildSignedFeishuRequest, createFeishuEmulator } from '../../../../sandbox/platform-emulator/feishu';
import type { EmulatorContext, PlatformEmulator } from '../../../../sandbox/platform-emulator/types';
import { startTestServer, type TestServer } from '../../../helpers/http-test-server';
import { config, emulatorContext, NOW, toRaw } from './helpers';

const CSV = Buffer.from('region,units\n华东,3\n', 'utf8');

function expectMessage(result: ParseResult) {
  if (result.kind !== 'message') throw new Error(`expected a message, got ${JSON.stringify(result)}`);
  return result.message;
}

async function codeOf(call: Promise<unknown> | undefined): Promise<string> {
  const error = await (call ?? Promise.resolve()).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AttachmentError);
  return (error as AttachmentError).code;
}

describe('Feishu files: file messages and replies to them, downloaded from the emulator with the tenant token', () => {
  let server: TestServer;
  let emulator: PlatformEmulator;
  let ctx: EmulatorContext;
  let platform: ChatPlatform;
  const options = () => ({ maxBytes: 1024, signal: AbortSignal.timeout(5000) });

  beforeEach(async () => {
    emulator = createFeishuEmulator();
    server = await startTestServer(async (req) => {
      const answer = await emulator.handleApi(req, ctx);
      return { ...answer, body: answer.bytes ?? answer.body };
    });
    ctx = emulatorContext({ apiBaseUrl: server.url });
    platform = createFeishuPlatform(
      { ...config, apiBaseUrl: server.url },
      { fetch, now: () => NOW, sleep: async () => {} },
    );
  });
  afterEach(() => server.close());

  const event = (text: string, extra: { direct?: boolean } = {}) =>
    emulator.buildMessageEvent(
      { chatId: 'oc_group', userId: 'ou_alice', text, files: [{ name: 'sales.csv', bytes: CSV }], ...extra },
      ctx,
    );

  it('"@bot /data …" replying to a file: the file is found through the parent message and downloaded', async () => {
    const message = expectMessage(platform.parse(toRaw(event('/data units by region')), NOW));
    expect(message).toMatchObject({ text: '/data units by region', mentionedBot: true, chatType: 'group' });
    expect(message.attachments).toEqual([
      { kind: 'file', name: 'the file replied to', ref: expect.any(String), quoted: true },
    ]);
    const downloaded = await platform.downloadAttachment?.(message.attachments?.[0] as MessageAttachment, options());
    expect(downloaded?.name).toBe('sales.csv');
    expect(Buffer.from(downloaded?.bytes ?? []).equals(CSV)).toBe(true);
    const paths = server.requests.map((r) => `${r.method} ${r.path}`);
    expect(paths).toEqual([
      'POST /open-apis/auth/v3/tenant_access_token/internal',
      expect.stringMatching(/^GET \/open-apis\/im\/v1\/messages\/om_\w+$/),
      expect.stringMatching(/^GET \/open-apis\/im\/v1\/messages\/om_\w+\/resources\/file_v3_\w+$/),
    ]);
    expect(server.requests.at(-1)?.query).toEqual({ type: 'file' });
    expect(server.requests.at(-1)?.headers.authorization).toMatch(/^Bearer t-emu-/);
  });

  it('a file message in a 1:1 chat: the file itself, with no text and no mention', async () => {
    const message = expectMessage(platform.parse(toRaw(event('', { direct: true })), NOW));
    expect(message).toMatchObject({ text: '', mentionedBot: false, chatType: 'direct' });
    expect(message.attachments).toEqual([{ kind: 'file', name: 'sales.csv', ref: expect.any(String) }]);
    const downloaded = await platform.downloadAttachment?.(message.attachments?.[0] as MessageAttachment, options());
    expect(Buffer.from(downloaded?.bytes ?? []).toString('utf8')).toBe(CSV.toString('utf8'));
  });

  it('a voice message (`audio`, {file_key, duration}): its audio, fetched through the resource API (type=file)', async () => {
    const clip = Buffer.from('OggS not really a clip');
    const request = emulator.buildMessageEvent(
      { chatId: 'oc_dm', userId: 'ou_alice', text: '', direct: true, files: [{ name: 'voice.ogg', bytes: clip }] },
      ctx,
    );
    const body = JSON.parse(request.body.toString('utf8')) as { encrypt?: string };
    expect(body.encrypt).toEqual(expect.any(String));
    const message = expectMessage(platform.parse(toRaw(request), NOW));
    expect(message).toMatchObject({ text: '', mentionedBot: false, chatType: 'direct' });
    expect(message.attachments).toEqual([{ kind: 'audio', name: 'voice message', ref: expect.any(String) }]);
    const downloaded = await platform.downloadAttachment?.(message.attachments?.[0] as MessageAttachment, options());
    expect(Buffer.from(downloaded?.bytes ?? []).equals(clip)).toBe(true);
    expect(server.requests.at(-1)?.path).toMatch(/^\/open-apis\/im\/v1\/messages\/om_\w+\/resources\/file_v3_\w+$/);
    expect(server.requests.at(-1)?.query).toEqual({ type: 'file' });
  });

  it('a reply to a text message holds no file (no_file); a recalled parent is gone', async () => {
    const plain = expectMessage(
      platform.parse(toRaw(emulator.buildMessageEvent({ chatId: 'oc_group', userId: 'ou_a', text: 'hi' }, ctx)), NOW),
    );
    const reply = expectMessage(
      platform.parse(
        toRaw(
          emulator.buildMessageEvent(
            { chatId: 'oc_group', userId: 'ou_a', text: '/data x', threadId: plain.messageId },
            ctx,
          ),
        ),
        NOW,
      ),
    );
    expect(await codeOf(platform.downloadAttachment?.(reply.attachments?.[0] as MessageAttachment, options()))).toBe(
      'no_file',
    );
    const recalled: MessageAttachment = {
      kind: 'file',
      name: 'x',
      ref: JSON.stringify({ m: 'om_recalled' }),
      quoted: true,
    };
    expect(await codeOf(platform.downloadAttachment?.(recalled, options()))).toBe('gone');
  });

  it('a key that is not the message’s is gone; an oversized file too_large; a foreign ref unsupported', async () => {
    const message = expectMessage(platform.parse(toRaw(event('', { direct: true })), NOW));
    const ref = JSON.parse(message.attachments?.[0]?.ref ?? '{}') as { m: string; k: string };
    const wrongKey = {
      ...(message.attachments?.[0] as MessageAttachment),
      ref: JSON.stringify({ ...ref, k: 'file_v3_other' }),
    };
    expect(await codeOf(platform.downloadAttachment?.(wrongKey, options()))).toBe('gone');
    expect(
      await codeOf(
        platform.downloadAttachment?.(message.attachments?.[0] as MessageAttachment, { ...options(), maxBytes: 5 }),
      ),
    ).toBe('too_large');
    expect(
      await codeOf(platform.downloadAttachment?.({ kind: 'file', name: 'x', ref: 'https://x/y' }, options())),
    ).toBe('unsupported');
  });

  it('an app whose secret is wrong cannot sign in: the download is unavailable, never a crash', async () => {
    const wrong = createFeishuPlatform(
      { ...config, appSecret: 'wrong', apiBaseUrl: server.url },
      { fetch, now: () => NOW, sleep: async () => {} },
    );
    const message = expectMessage(wrong.parse(toRaw(event('', { direct: true })), NOW));
    expect(await codeOf(wrong.downloadAttachment?.(message.attachments?.[0] as MessageAttachment, options()))).toBe(
      'unavailable',
    );
  });

  it.each(['file', 'audio'])('a %s message whose content is not one is ignored as an unsupported message', (type) => {
    const broken = {
      schema: '2.0',
      header: {
        event_id: 'ev1',
        event_type: 'im.message.receive_v1',
        tenant_key: 't',
        token: config.verificationToken,
      },
      event: {
        sender: { sender_id: { open_id: 'ou_a' }, sender_type: 'user' },
        message: {
          message_id: 'om_1',
          chat_id: 'oc_1',
          chat_type: 'p2p',
          message_type: type,
          content: '{"oops":1}',
          create_time: String(NOW),
        },
      },
    };
    const result = platform.parse(toRaw(buildSignedFeishuRequest(broken, ctx)), NOW);
    expect(result).toMatchObject({ kind: 'ignored', reason: `unsupported_message_type:${type}` });
  });
});
