import { AttachmentError } from '#platforms/shared/download';
import type { ChatPlatform, MessageAttachment, ParseResult } from '#platforms/types';
import { deriveAesKey } from '#platforms/wecom/biz-msg-crypt';
import { decryptWeComFile, encryptWeComFile, WECOM_FILE_URL_LIFETIME_MS } from '#platforms/wecom/files';
import { createWeComPlatform } from '#platforms/wecom/index';
import type { PlatformEmulator } from '../../../../sandbox/platform-emulator/types';
import { createWeComEmulator } from '../../../../sandbox/platform-emulator/wecom';
import { startTestServer, type TestServer } from '../../../helpers/http-test-server';
import { CREDENTIALS, emulatorContext, NOW, recordingDeps, toRaw } from '../dingtalk/helpers';

const { token, encodingAesKey } = CREDENTIALS.wecom;
const KEY = deriveAesKey(encodingAesKey, 'test');
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

describe('WeCom files: file messages and quotes of files, their encrypted 5-minute URLs', () => {
  let server: TestServer;
  let emulator: PlatformEmulator;
  let ctx: ReturnType<typeof emulatorContext>;
  let platform: ChatPlatform;
  const clock = { now: NOW };
  const options = (maxBytes = 1024) => ({ maxBytes, signal: AbortSignal.timeout(5000) });

  beforeEach(async () => {
    clock.now = NOW;
    emulator = createWeComEmulator();
    server = await startTestServer(async (req) => {
      const answer = await emulator.handleApi(req, ctx);
      return { ...answer, body: answer.bytes ?? answer.body };
    });
    ctx = emulatorContext(server.url, { now: () => clock.now });
    platform = createWeComPlatform(
      { token, encodingAesKey, replyUrls: { origins: [], insecureOrigins: [server.url] } },
      recordingDeps(() => clock.now),
    );
  });
  afterEach(() => server.close());

  const parse = (text: string, direct: boolean) =>
    expectMessage(
      platform.parse(
        toRaw(
          emulator.buildMessageEvent(
            { chatId: 'wr-team', userId: 'zhangsan', text, direct, files: [{ name: 'sales.csv', bytes: CSV }] },
            ctx,
          ),
        ),
        NOW,
      ),
    );

  it('"@bot /data …" quoting a file in a group: downloaded and decrypted to the exact bytes', async () => {
    const message = parse('/data units by region', false);
    expect(message).toMatchObject({ chatType: 'group', text: '/data units by region', mentionedBot: true });
    expect(message.attachments).toEqual([{ kind: 'file', name: 'file', ref: expect.stringContaining('/_files/') }]);
    const downloaded = await platform.downloadAttachment?.(message.attachments?.[0] as MessageAttachment, options());
    expect(Buffer.from(downloaded?.bytes ?? []).equals(CSV)).toBe(true);
    // What travelled was ciphertext, not the file.
    expect(server.requests.at(-1)?.headers.authorization).toBeUndefined();
  });

  it('a file message in a 1:1 chat: the file, no text', async () => {
    const message = parse('', true);
    expect(message).toMatchObject({ chatType: 'direct', text: '' });
    const downloaded = await platform.downloadAttachment?.(message.attachments?.[0] as MessageAttachment, options());
    expect(Buffer.from(downloaded?.bytes ?? []).toString('utf8')).toBe(CSV.toString('utf8'));
  });

  it('a URL read after its 5 minutes is gone: the member is asked to share the file again', async () => {
    const message = parse('/data x', false);
    clock.now += WECOM_FILE_URL_LIFETIME_MS;
    const error = await (
      platform.downloadAttachment?.(message.attachments?.[0] as MessageAttachment, options()) ?? Promise.resolve()
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'gone', message: expect.stringContaining('share it again') });
  });

  it('too_large past the cap; a URL outside https and the listed origins is never fetched', async () => {
    const message = parse('/data x', false);
    expect(await codeOf(platform.downloadAttachment?.(message.attachments?.[0] as MessageAttachment, options(4)))).toBe(
      'too_large',
    );
    const before = server.requests.length;
    const plain: MessageAttachment = { kind: 'file', name: 'file', ref: 'http://169.254.169.254/latest/meta-data/' };
    expect(await codeOf(platform.downloadAttachment?.(plain, options()))).toBe('unsupported');
    expect(server.requests.length).toBe(before);
  });

  it('a file encrypted under another key does not decrypt: unavailable, never garbage', async () => {
    const other = createWeComPlatform(
      { token, encodingAesKey: 'a'.repeat(43), replyUrls: { origins: [], insecureOrigins: [server.url] } },
      recordingDeps(() => clock.now),
    );
    const message = parse('/data x', false);
    const error = await (
      other.downloadAttachment?.(message.attachments?.[0] as MessageAttachment, options()) ?? Promise.resolve()
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AttachmentError);
  });

  it('round-trips the documented scheme: AES-256-CBC, IV = key[0..16], PKCS#7 to 32 bytes', () => {
    for (const size of [0, 1, 31, 32, 33, 1000]) {
      const bytes = Buffer.alloc(size, 7);
      const encrypted = encryptWeComFile(KEY, bytes);
      expect(encrypted.byteLength % 32).toBe(0);
      expect(Buffer.from(decryptWeComFile(KEY, encrypted) ?? []).equals(bytes)).toBe(true);
    }
    expect(decryptWeComFile(KEY, Buffer.alloc(15))).toBeUndefined();
  });
});
