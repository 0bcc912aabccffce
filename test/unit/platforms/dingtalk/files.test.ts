import { createDingTalkPlatform } from '#platforms/dingtalk/index';
import { AttachmentError } from '#platforms/shared/download';
import type { ChatPlatform, MessageAttachment, ParseResult } from '#platforms/types';
import {
  buildSignedDingTalkRequest,
  createDingTalkEmulator,
  DINGTALK_DOWNLOAD_URL_LIFETIME_MS,
  dingtalkMessageBody,
} from '../../../../sandbox/platform-emulator/dingtalk';
import type { PlatformEmulator } from '../../../../sandbox/platform-emulator/types';
import { startTestServer, type TestServer } from '../../../helpers/http-test-server';
import { CREDENTIALS, emulatorContext, NOW, recordingDeps, toRaw } from './helpers';

const CSV = Buffer.from('region,units\n华东,3\n', 'utf8');
const { appKey, appSecret } = CREDENTIALS.dingtalk;

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

describe('DingTalk files: a 1:1 file message, downloaded through messageFiles/download and its temporary link', () => {
  let server: TestServer;
  let emulator: PlatformEmulator;
  let ctx: ReturnType<typeof emulatorContext>;
  let platform: ChatPlatform;
  const clock = { now: NOW };
  const options = (maxBytes = 1024) => ({ maxBytes, signal: AbortSignal.timeout(5000) });

  beforeEach(async () => {
    clock.now = NOW;
    emulator = createDingTalkEmulator();
    server = await startTestServer(async (req) => {
      const answer = await emulator.handleApi(req, ctx);
      return { ...answer, body: answer.bytes ?? answer.body };
    });
    ctx = emulatorContext(server.url, { now: () => clock.now });
    platform = createDingTalkPlatform(
      { appKey, appSecret, apiBaseUrl: server.url },
      recordingDeps(() => clock.now),
    );
  });
  afterEach(() => server.close());

  const fileMessage = () =>
    expectMessage(
      platform.parse(
        toRaw(
          emulator.buildMessageEvent(
            { chatId: 'cid_dm', userId: 'alice', text: '', direct: true, files: [{ name: 'sales.csv', bytes: CSV }] },
            ctx,
          ),
        ),
        NOW,
      ),
    );

  it('parses msgtype file into an attachment with no text, and downloads the exact bytes', async () => {
    const message = fileMessage();
    expect(message).toMatchObject({ chatType: 'direct', text: '', mentionedBot: false });
    expect(message.attachments).toEqual([{ kind: 'file', name: 'sales.csv', ref: expect.any(String) }]);
    const downloaded = await platform.downloadAttachment?.(message.attachments?.[0] as MessageAttachment, options());
    expect(downloaded?.name).toBe('sales.csv');
    expect(Buffer.from(downloaded?.bytes ?? []).equals(CSV)).toBe(true);
    const calls = server.requests.map((r) => `${r.method} ${r.path}`);
    expect(calls).toEqual([
      'POST /v1.0/oauth2/accessToken',
      'POST /v1.0/robot/messageFiles/download',
      expect.stringMatching(/^GET \/_files\/[0-9a-f]+$/),
    ]);
    expect(JSON.parse(server.requests[1]?.body.toString('utf8') ?? '{}')).toEqual({
      downloadCode: expect.stringMatching(/^dc_/),
      robotCode: CREDENTIALS.dingtalk.robotCode,
    });
    expect(server.requests[1]?.headers['x-acs-dingtalk-access-token']).toMatch(/^dt-/);
  });

  it('a group file never reaches the robot: the @-mention is an ordinary text message', () => {
    const message = expectMessage(
      platform.parse(
        toRaw(
          emulator.buildMessageEvent(
            { chatId: 'cid_g', userId: 'alice', text: '/data x', files: [{ name: 'a.csv', bytes: CSV }] },
            ctx,
          ),
        ),
        NOW,
      ),
    );
    expect(message.attachments).toBeUndefined();
  });

  it('an unknown download code is gone; a file over the cap too_large; a foreign ref unsupported', async () => {
    const message = fileMessage();
    const attachment = message.attachments?.[0] as MessageAttachment;
    const ref = JSON.parse(attachment.ref) as { c: string; r: string };
    expect(
      await codeOf(
        platform.downloadAttachment?.({ ...attachment, ref: JSON.stringify({ ...ref, c: 'dc_unknown' }) }, options()),
      ),
    ).toBe('gone');
    expect(await codeOf(platform.downloadAttachment?.(attachment, options(5)))).toBe('too_large');
    expect(await codeOf(platform.downloadAttachment?.({ ...attachment, ref: 'nonsense' }, options()))).toBe(
      'unsupported',
    );
  });

  it('a temporary link that expired before it was read is gone (storage answers 403 "Request has expired")', async () => {
    // The link outlives the call in DingTalk; here the clock jumps past its life between the two steps.
    const slow = createDingTalkPlatform(
      { appKey, appSecret, apiBaseUrl: server.url },
      {
        ...recordingDeps(() => clock.now),
        fetch: async (input, init) => {
          const response = await fetch(input, init);
          if (String(input).endsWith('/messageFiles/download')) clock.now += DINGTALK_DOWNLOAD_URL_LIFETIME_MS;
          return response;
        },
      },
    );
    const attachment = fileMessage().attachments?.[0] as MessageAttachment;
    const error = await (slow.downloadAttachment?.(attachment, options()) ?? Promise.resolve()).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AttachmentError);
    expect(error).toMatchObject({ code: 'gone', message: expect.stringContaining('share it again') });
  });

  it('a file message without a download code is ignored like any other non-text message', () => {
    const body = {
      ...dingtalkMessageBody({ chatId: 'cid', userId: 'a', text: '', direct: true }, ctx),
      msgtype: 'file',
      content: { fileName: 'x.csv' },
    };
    expect(platform.parse(toRaw(buildSignedDingTalkRequest(body, ctx)), NOW)).toMatchObject({ kind: 'ignored' });
  });
});
