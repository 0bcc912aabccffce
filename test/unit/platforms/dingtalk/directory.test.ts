import { PlatformApiError } from '#core/errors';
import { createDingTalkPlatform } from '#platforms/dingtalk/index';
import type { AdapterDeps } from '#platforms/types';
import { createDingTalkEmulator, dingtalkSenderId } from '../../../../sandbox/platform-emulator/dingtalk';
import { DIRECTORY_ERRCODES, EMULATED_DIRECTORY } from '../../../../sandbox/platform-emulator/directory';
import { startTestServer, type TestServer } from '../../../helpers/http-test-server';
import { CREDENTIALS, emulatorContext, type Fault, recordingDeps } from './helpers';

/**
 * `lookupMember`: `topapi/v2/user/get` then `topapi/v2/department/get` on the legacy host, over real HTTP against the
 * emulator, with the adapter's access token; every error DingTalk can answer maps to a PlatformApiError or to "the
 * directory knows nothing", never to a crash.
 */
const { appKey, appSecret } = CREDENTIALS.dingtalk;
const entries = {
  'dingtalk:mgr01': { title: '研发经理', department: 'Engineering' },
  'dingtalk:eng02': { title: 'Backend engineer', department: '研发部' },
  'dingtalk:gone03': { errcode: DIRECTORY_ERRCODES.dingtalk.noSuchMember },
  'dingtalk:hidden04': { errcode: DIRECTORY_ERRCODES.dingtalk.noPermission },
} as const;

describe('DingTalk directory lookup (topapi/v2/user/get, department/get)', () => {
  let server: TestServer;
  let ctx: ReturnType<typeof emulatorContext>;
  /** The emulator's next answers fail so, in order (then it answers normally). */
  const failNext = (...faults: Fault[]) => {
    ctx = emulatorContext(server.url, { faults });
  };

  const lookup = (userId: string, deps: Partial<AdapterDeps> = {}) => {
    const platform = createDingTalkPlatform(
      { appKey, appSecret, apiBaseUrl: server.url },
      { ...recordingDeps(), ...deps },
    );
    if (!platform.lookupMember) throw new Error('the DingTalk adapter has no lookupMember');
    return platform.lookupMember('dingsandboxcorp', userId);
  };
  const directoryCalls = () => server.requests.filter((r) => r.path.startsWith('/topapi/'));

  beforeAll(() => {
    for (const [key, entry] of Object.entries(entries)) EMULATED_DIRECTORY.set(key, entry);
  });
  afterAll(() => {
    for (const key of Object.keys(entries)) EMULATED_DIRECTORY.delete(key);
  });
  beforeEach(async () => {
    const emulator = createDingTalkEmulator();
    server = await startTestServer(async (req) => emulator.handleApi(req, ctx));
    ctx = emulatorContext(server.url);
  });
  afterEach(() => server.close());

  it('returns the title and the first department’s name, with the token in the query', async () => {
    await expect(lookup('mgr01')).resolves.toEqual({ title: '研发经理', department: 'Engineering' });
    await expect(lookup('eng02')).resolves.toEqual({ title: 'Backend engineer', department: '研发部' });
    const [user, department] = directoryCalls();
    expect(user?.path).toBe('/topapi/v2/user/get');
    expect(JSON.parse(user?.body.toString('utf8') ?? '')).toEqual({ userid: 'mgr01' });
    expect(user?.query.access_token).toMatch(/^dt-/);
    expect(department?.path).toBe('/topapi/v2/department/get');
  });

  it('a member without title sits in the organisation; a member the directory lacks is an empty entry', async () => {
    await expect(lookup('plain05')).resolves.toEqual({ department: 'GroupGate Sandbox' });
    await expect(lookup('gone03')).resolves.toEqual({});
  });

  it('skips an opaque senderId without asking DingTalk (it takes staff ids only)', async () => {
    const entry = await lookup(dingtalkSenderId('mgr01'));
    expect(entry.skipped).toMatch(/senderStaffId/);
    expect(entry.title).toBeUndefined();
    expect(server.requests).toEqual([]);
  });

  it('maps a refusal (no permission) to a PlatformApiError naming the errcode, never the token', async () => {
    const error = await lookup('hidden04').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlatformApiError);
    const { message, body } = error as PlatformApiError;
    expect(message).toBe('DingTalk topapi/v2/user/get answered errcode 60011: 应用尚未开通所需的权限');
    const token = directoryCalls()[0]?.query.access_token ?? '';
    expect(token).not.toBe('');
    expect(`${message}${body}`).not.toContain(token);
  });

  it('refreshes a rejected token once, then answers', async () => {
    failNext('expired-token');
    await expect(lookup('mgr01')).resolves.toEqual({ title: '研发经理', department: 'Engineering' });
    expect(server.requests.filter((r) => r.path === '/v1.0/oauth2/accessToken')).toHaveLength(2);
  });

  it('makes one attempt: a 5xx, a 429 or no answer is a PlatformApiError for the retry window', async () => {
    failNext('5xx');
    await expect(lookup('mgr01')).rejects.toMatchObject({ name: 'PlatformApiError', status: 500 });
    expect(directoryCalls()).toHaveLength(1);
    failNext('429');
    await expect(lookup('mgr01')).rejects.toBeInstanceOf(PlatformApiError);
    expect(directoryCalls()).toHaveLength(2);
    const timedOut: typeof fetch = async (input, init) =>
      String(input).includes('/topapi/')
        ? Promise.reject(new DOMException('timed out', 'TimeoutError'))
        : fetch(input, init);
    await expect(lookup('mgr01', { fetch: timedOut })).rejects.toMatchObject({ status: 0 });
  });

  it('reads dept_id_list written as a string, and refuses an unreadable answer', async () => {
    const rewrite =
      (change: (body: Record<string, unknown>) => unknown): typeof fetch =>
      async (input, init) => {
        const response = await fetch(input, init);
        if (!String(input).includes('/topapi/v2/user/get')) return response;
        return new Response(JSON.stringify(change((await response.json()) as Record<string, unknown>)), {
          status: 200,
        });
      };
    const asString = rewrite((body) => ({ ...body, result: { title: 'Lead', dept_id_list: '[4,2]' } }));
    await expect(lookup('mgr01', { fetch: asString })).resolves.toEqual({ title: 'Lead', department: '研发部' });
    const broken = rewrite(() => ({ errcode: 0, result: 'not a record' }));
    await expect(lookup('mgr01', { fetch: broken })).rejects.toThrow('DingTalk topapi/v2/user/get: unreadable answer');
  });
});
