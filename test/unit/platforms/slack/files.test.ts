import { AttachmentError } from '#platforms/shared/download';
import { createSlackPlatform } from '#platforms/slack/index';
import type { ChatPlatform, MessageAttachment, ParseResult } from '#platforms/types';
import { buildSignedSlackRequest, createSlackEmulator } from '../../../../sandbox/platform-emulator/slack';
import type { EmulatorContext, PlatformEmulator } from '../../../../sandbox/platform-emulator/types';
import { startTestServer, type TestServer } from '../../../helpers/http-test-server';
import { config, emulatorContext, NOW, toRaw } from './helpers';

const CSV = Buffer.from('region,units\nEast,3\nWest,5\n', 'utf8');

function expectMessage(result: ParseResult) {
  if (result.kind !== 'message') throw new Error(`expected a message, got ${JSON.stringify(result)}`);
  return result.message;
}

async function expectAttachmentError(call: Promise<unknown>, code: AttachmentError['code']): Promise<AttachmentError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AttachmentError);
  expect((error as AttachmentError).code).toBe(code);
  return error as AttachmentError;
}

describe('Slack files: parse the file_share shapes, download them from the emulator with the bot token', () => {
  let server: TestServer;
  let emulator: PlatformEmulator;
  let ctx: EmulatorContext;
  let platform: ChatPlatform;
  const signal = () => AbortSignal.timeout(5000);

  beforeEach(async () => {
    emulator = createSlackEmulator();
    let base = '';
    server = await startTestServer(async (req) => {
      const answer = await emulator.handleApi(req, ctx);
      return { ...answer, body: answer.bytes ?? answer.body };
    });
    base = server.url;
    ctx = emulatorContext({ apiBaseUrl: base });
    platform = createSlackPlatform({ ...config, apiBaseUrl: base }, { fetch, now: () => NOW, sleep: async () => {} });
  });
  afterEach(() => server.close());

  const share = (extra: Partial<Parameters<PlatformEmulator['buildMessageEvent']>[0]> = {}) =>
    emulator.buildMessageEvent(
      {
        chatId: 'C0GROUP',
        userId: 'U0ALICE',
        text: '/data total units',
        files: [{ name: 'sales.csv', bytes: CSV }],
        ...extra,
      },
      ctx,
    );

  it('an app_mention with a file carries it as an attachment, and the download returns its exact bytes', async () => {
    const request = share();
    const message = expectMessage(platform.parse(toRaw(request), NOW));
    expect(message).toMatchObject({ text: '/data total units', mentionedBot: true, chatType: 'group' });
    expect(message.attachments).toEqual([
      { kind: 'file', name: 'sales.csv', size: CSV.byteLength, ref: expect.stringContaining('/download/sales.csv') },
    ]);
    const [attachment] = message.attachments ?? [];
    const downloaded = await platform.downloadAttachment?.(attachment as MessageAttachment, {
      maxBytes: 1024,
      signal: signal(),
    });
    expect(downloaded?.name).toBe('sales.csv');
    expect(Buffer.from(downloaded?.bytes ?? new Uint8Array()).equals(CSV)).toBe(true);
    expect(server.requests.at(-1)?.headers.authorization).toBe(`Bearer ${config.botToken}`);
  });

  it('an audio file (a clip recorded in Slack) is a voice message: kind audio, downloaded like any file', async () => {
    const clip = Buffer.from('OggS voice bytes');
    const message = expectMessage(
      platform.parse(toRaw(share({ text: '', files: [{ name: 'audio_message.ogg', bytes: clip }] })), NOW),
    );
    expect(message).toMatchObject({ text: '', mentionedBot: true });
    expect(message.attachments).toEqual([
      { kind: 'audio', name: 'audio_message.ogg', size: clip.byteLength, ref: expect.any(String) },
    ]);
    const downloaded = await platform.downloadAttachment?.(message.attachments?.[0] as MessageAttachment, {
      maxBytes: 1024,
      signal: signal(),
    });
    expect(Buffer.from(downloaded?.bytes ?? new Uint8Array()).equals(clip)).toBe(true);
  });

  it('a DM file_share message (no mention) is a direct message with the file', () => {
    const payload = JSON.parse(share({ direct: true }).body.toString('utf8')) as { event: Record<string, unknown> };
    expect(payload.event).toMatchObject({ type: 'message', subtype: 'file_share', channel_type: 'im' });
    const message = expectMessage(platform.parse(toRaw(share({ direct: true })), NOW));
    expect(message.chatType).toBe('direct');
    expect(message.attachments?.[0]?.name).toBe('sales.csv');
  });

  it('a channel file_share that mentions the bot is left to its app_mention (which carries the same files)', () => {
    const payload = JSON.parse(share().body.toString('utf8')) as { event: Record<string, unknown> };
    const asMessage = { ...payload, event: { ...payload.event, type: 'message', subtype: 'file_share' } };
    const result = platform.parse(toRaw(buildSignedSlackRequest(asMessage, ctx)), NOW);
    expect(result).toMatchObject({ kind: 'ignored', reason: 'duplicate_of_app_mention' });
  });

  it('keeps only files Slack gives a download URL for (Slack Connect check_file_info), names cleaned', () => {
    const payload = JSON.parse(share().body.toString('utf8')) as { event: { files: Record<string, unknown>[] } };
    const [file] = payload.event.files;
    const files = [
      { id: 'F0CONNECT', mode: 'file_access', file_access: 'check_file_info' },
      { ...file, name: '../../etc/\u0007passwd.csv' },
    ];
    const request = buildSignedSlackRequest({ ...payload, event: { ...payload.event, files } }, ctx);
    const message = expectMessage(platform.parse(toRaw(request), NOW));
    expect(message.attachments).toHaveLength(1);
    expect(message.attachments?.[0]?.name).toBe('passwd.csv');
  });

  it('a message without files has no attachments field', () => {
    const message = expectMessage(platform.parse(toRaw(share({ files: [] })), NOW));
    expect(message.attachments).toBeUndefined();
  });

  it('a file over the cap is too_large, declared or not, and the rest is not read', async () => {
    const [attachment] = expectMessage(platform.parse(toRaw(share()), NOW)).attachments ?? [];
    const error = await expectAttachmentError(
      platform.downloadAttachment?.(attachment as MessageAttachment, { maxBytes: 10, signal: signal() }) ??
        Promise.resolve(),
      'too_large',
    );
    expect(error.message).toContain('sales.csv');
  });

  it('a deleted file is gone (404); a refused token is forbidden (Slack redirects to its sign-in page)', async () => {
    const [attachment] = expectMessage(platform.parse(toRaw(share()), NOW)).attachments ?? [];
    const deleted = {
      ...(attachment as MessageAttachment),
      ref: attachment?.ref.replace(/-F[A-Z0-9]+\//, '-F0GONE/') ?? '',
    };
    await expectAttachmentError(
      platform.downloadAttachment?.(deleted, { maxBytes: 1024, signal: signal() }) ?? Promise.resolve(),
      'gone',
    );
    const wrongToken = createSlackPlatform(
      { ...config, botToken: 'xoxb-revoked', apiBaseUrl: server.url },
      { fetch, now: () => NOW, sleep: async () => {} },
    );
    const refused = await expectAttachmentError(
      wrongToken.downloadAttachment?.(attachment as MessageAttachment, { maxBytes: 1024, signal: signal() }) ??
        Promise.resolve(),
      'forbidden',
    );
    expect(refused.message).not.toContain('xoxb');
  });

  it('never sends the bot token to an origin other than files.slack.com or the configured API', async () => {
    const before = server.requests.length;
    const elsewhere: MessageAttachment = {
      kind: 'file',
      name: 'x.csv',
      ref: 'https://evil.example/files-pri/x/download/x.csv',
    };
    await expectAttachmentError(
      platform.downloadAttachment?.(elsewhere, { maxBytes: 1024, signal: signal() }) ?? Promise.resolve(),
      'unsupported',
    );
    const userinfo: MessageAttachment = { ...elsewhere, ref: 'https://files.slack.com@evil.example/x' };
    await expectAttachmentError(
      platform.downloadAttachment?.(userinfo, { maxBytes: 1024, signal: signal() }) ?? Promise.resolve(),
      'unsupported',
    );
    expect(server.requests.length).toBe(before);
  });

  it('an unreachable server is unavailable, not a crash', async () => {
    const [attachment] = expectMessage(platform.parse(toRaw(share()), NOW)).attachments ?? [];
    await server.close();
    await expectAttachmentError(
      platform.downloadAttachment?.(attachment as MessageAttachment, { maxBytes: 1024, signal: signal() }) ??
        Promise.resolve(),
      'unavailable',
    );
    server = await startTestServer(() => ({ statusCode: 200 }));
  });
});
