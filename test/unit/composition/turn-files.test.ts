import { mediaTypeOf, turnFiles } from '#composition/turn-files';
import { createSlackPlatform } from '#platforms/slack/index';
import type { ChatPlatform, MessageAttachment } from '#platforms/types';
import { createSlackEmulator } from '../../../sandbox/platform-emulator/slack';
import type { EmulatorContext, PlatformEmulator } from '../../../sandbox/platform-emulator/types';
import { startTestServer, type TestServer } from '../../helpers/http-test-server';
import { config, emulatorContext, NOW, toRaw } from '../platforms/slack/helpers';

/** The worker's view of a message's files, downloaded through the real Slack adapter from its emulator. */
describe('turnFiles', () => {
  let server: TestServer;
  let emulator: PlatformEmulator;
  let ctx: EmulatorContext;
  let platform: ChatPlatform;

  beforeEach(async () => {
    emulator = createSlackEmulator();
    server = await startTestServer(async (req) => {
      const answer = await emulator.handleApi(req, ctx);
      return { ...answer, body: answer.bytes ?? answer.body };
    });
    ctx = emulatorContext({ apiBaseUrl: server.url });
    platform = createSlackPlatform(
      { ...config, apiBaseUrl: server.url },
      { fetch, now: () => NOW, sleep: async () => {} },
    );
  });
  afterEach(() => server.close());

  function attachmentsOf(files: { name: string; bytes: Buffer }[]): readonly MessageAttachment[] {
    const request = emulator.buildMessageEvent({ chatId: 'C0GROUP', userId: 'U0ALICE', text: '/data', files }, ctx);
    const parsed = platform.parse(toRaw(request), NOW);
    if (parsed.kind !== 'message') throw new Error('expected a message');
    return parsed.message.attachments ?? [];
  }

  const options = { deadline: Date.now() + 10_000, now: Date.now };

  it('downloads nothing until asked, then each file once, typed by its name', async () => {
    const attachments = attachmentsOf([
      { name: 'a.csv', bytes: Buffer.from('x,y\n1,2\n') },
      { name: 'b.xlsx', bytes: Buffer.from('PK') },
    ]);
    const files = turnFiles(platform, attachments, options);
    expect(files?.count).toBe(2);
    expect(server.requests).toHaveLength(0);
    const [first, second] = await Promise.all([files?.fetch(), files?.fetch()]);
    expect(first).toBe(second);
    expect(server.requests).toHaveLength(2);
    expect(first).toEqual({
      ok: true,
      files: [
        { name: 'a.csv', mediaType: 'text/csv', bytes: expect.any(Uint8Array) },
        { name: 'b.xlsx', mediaType: mediaTypeOf('b.xlsx'), bytes: expect.any(Uint8Array) },
      ],
    });
  });

  it('a declared size over what is left of the cap is refused before any download', async () => {
    const attachments = attachmentsOf([{ name: 'big.csv', bytes: Buffer.alloc(2000, 0x61) }]);
    const result = await turnFiles(platform, attachments, { ...options, maxTotalBytes: 1024 })?.fetch();
    expect(result).toMatchObject({ ok: false, reason: 'too_large', message: expect.stringContaining('big.csv') });
    expect(result && !result.ok ? result.message : '').toContain('1 KiB');
    expect(server.requests).toHaveLength(0);
  });

  it('the cap is for all files together: the second file is cut off while reading', async () => {
    const attachments = attachmentsOf([
      { name: 'a.csv', bytes: Buffer.alloc(700, 0x61) },
      { name: 'b.csv', bytes: Buffer.alloc(700, 0x62) },
    ]).map(({ size: _size, ...rest }) => rest);
    const result = await turnFiles(platform, attachments, { ...options, maxTotalBytes: 1024 })?.fetch();
    expect(result).toMatchObject({ ok: false, reason: 'too_large', message: expect.stringContaining('b.csv') });
  });

  it('a platform that cannot download says so; a message without files has none', async () => {
    const attachments = attachmentsOf([{ name: 'a.csv', bytes: Buffer.from('x\n') }]);
    const result = await turnFiles({}, attachments, options)?.fetch();
    expect(result).toMatchObject({ ok: false, reason: 'unsupported' });
    expect(turnFiles(platform, undefined, options)).toBeUndefined();
    expect(turnFiles(platform, [], options)).toBeUndefined();
  });

  it('a voice message is the question, not a file: skills never receive its audio', async () => {
    const attachments = attachmentsOf([
      { name: 'question.ogg', bytes: Buffer.from('OggS') },
      { name: 'a.csv', bytes: Buffer.from('x\n') },
    ]);
    expect(attachments.map((a) => a.kind)).toEqual(['audio', 'file']);
    const files = turnFiles(platform, attachments, options);
    expect(files?.count).toBe(1);
    expect(await files?.fetch()).toMatchObject({ ok: true, files: [{ name: 'a.csv' }] });
    expect(turnFiles(platform, attachments.slice(0, 1), options)).toBeUndefined();
  });

  it.each([
    ['sales.CSV', 'text/csv'],
    ['book.xlsx', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
    ['noext', 'application/octet-stream'],
    ['x.exe', 'application/octet-stream'],
  ])('mediaTypeOf(%s) = %s', (name, type) => {
    expect(mediaTypeOf(name)).toBe(type);
  });
});
