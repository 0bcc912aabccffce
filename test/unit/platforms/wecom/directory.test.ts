import { ConfigError, PlatformApiError } from '#core/errors';
import type { AdapterDeps } from '#platforms/types';
import { createWeComPlatform, type WeComConfig } from '#platforms/wecom/index';
import { DIRECTORY_ERRCODES, EMULATED_DIRECTORY } from '../../../../sandbox/platform-emulator/directory';
import { createWeComEmulator } from '../../../../sandbox/platform-emulator/wecom';
import { startTestServer, type TestServer } from '../../../helpers/http-test-server';
import { CREDENTIALS, emulatorContext, type Fault, NOW, recordingDeps } from '../dingtalk/helpers';

/**
 * `lookupMember` with the optional directory app: `gettoken` (cached), `user/get` then `department/get`, over real
 * HTTP against the emulator. Without the directory credentials the adapter has no `lookupMember`; every error WeCom
 * can answer maps to a PlatformApiError or to "the directory knows nothing", never with the secret or the token.
 */
const DIRECTORY = { directoryCorpId: 'wwtestcorp', directoryCorpSecret: 'test-directory-secret' } as const;
const credentials = { ...CREDENTIALS, wecom: { ...CREDENTIALS.wecom, ...DIRECTORY } };
const entries = {
  'wecom:zhangsan': { title: '产品经理', department: 'Sales' },
  'wecom:lisi': { title: 'SRE' },
  'wecom:gone': { errcode: DIRECTORY_ERRCODES.wecom.noSuchMember },
  'wecom:outside': { errcode: DIRECTORY_ERRCODES.wecom.noPermission },
  'wecom:anywhere': { errcode: DIRECTORY_ERRCODES.wecom.untrustedIp },
} as const;

describe('WeCom directory lookup (gettoken, user/get, department/get)', () => {
  let server: TestServer;
  let ctx: ReturnType<typeof emulatorContext>;
  const failNext = (...faults: Fault[]) => {
    ctx = { ...emulatorContext(server.url, { faults }), credentials };
  };
  const platformWith = (config: Partial<WeComConfig> = DIRECTORY, deps: Partial<AdapterDeps> = {}) =>
    createWeComPlatform({ ...CREDENTIALS.wecom, apiBaseUrl: server.url, ...config }, { ...recordingDeps(), ...deps });
  const lookup = (userId: string, config?: Partial<WeComConfig>, deps?: Partial<AdapterDeps>) => {
    const platform = platformWith(config, deps);
    if (!platform.lookupMember) throw new Error('no lookupMember');
    return platform.lookupMember('corp', userId);
  };
  const calls = (path: string) => server.requests.filter((r) => r.path === path);

  beforeAll(() => {
    for (const [key, entry] of Object.entries(entries)) EMULATED_DIRECTORY.set(key, entry);
  });
  afterAll(() => {
    for (const key of Object.keys(entries)) EMULATED_DIRECTORY.delete(key);
  });
  beforeEach(async () => {
    const emulator = createWeComEmulator();
    server = await startTestServer(async (req) => emulator.handleApi(req, ctx));
    ctx = { ...emulatorContext(server.url), credentials };
  });
  afterEach(() => server.close());

  it('returns the position and the first department’s name; one token serves every lookup of the adapter', async () => {
    const platform = platformWith();
    await expect(platform.lookupMember?.('corp', 'zhangsan')).resolves.toEqual({
      title: '产品经理',
      department: 'Sales',
    });
    await expect(platform.lookupMember?.('corp', 'lisi')).resolves.toEqual({
      title: 'SRE',
      department: 'GroupGate Sandbox',
    });
    expect(calls('/cgi-bin/gettoken')).toHaveLength(1);
    expect(calls('/cgi-bin/gettoken')[0]?.query).toEqual({ corpid: 'wwtestcorp', corpsecret: 'test-directory-secret' });
    expect(calls('/cgi-bin/user/get')[0]?.query).toEqual({
      access_token: expect.stringMatching(/^wc-/),
      userid: 'zhangsan',
    });
    expect(calls('/cgi-bin/department/get')[0]?.query.id).toBe('3');
  });

  it('has no lookupMember without both directory credentials; one without the other fails at creation', () => {
    expect(platformWith({}).lookupMember).toBeUndefined();
    expect(() => platformWith({ directoryCorpId: 'wwtestcorp' })).toThrow(ConfigError);
    expect(() => platformWith({ directoryCorpSecret: 'secret' })).toThrow(/directoryCorpId is required/);
  });

  it('a member the directory lacks is an empty entry', async () => {
    await expect(lookup('gone')).resolves.toEqual({});
  });

  it.each([
    ['outside', 'errcode 60011'],
    ['anywhere', 'errcode 60020'],
  ])('maps a refusal (%s) to a PlatformApiError naming the errcode, never the token', async (userId, code) => {
    const error = await lookup(userId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlatformApiError);
    const { message, body } = error as PlatformApiError;
    expect(message).toContain(`WeCom cgi-bin/user/get answered ${code}`);
    const token = calls('/cgi-bin/user/get')[0]?.query.access_token ?? '';
    expect(`${message}${body}`).not.toContain(token);
  });

  it('a wrong secret fails the lookup without naming it', async () => {
    const error = await lookup('zhangsan', { ...DIRECTORY, directoryCorpSecret: 'wrong-secret' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PlatformApiError);
    expect((error as PlatformApiError).message).toBe('WeCom gettoken answered errcode 40001: invalid credential');
    expect(JSON.stringify(error)).not.toContain('wrong-secret');
  });

  it('refreshes a rejected token once, then answers', async () => {
    failNext('expired-token');
    await expect(lookup('lisi')).resolves.toEqual({ title: 'SRE', department: 'GroupGate Sandbox' });
    expect(calls('/cgi-bin/gettoken')).toHaveLength(2);
  });

  it('makes one attempt: a 5xx, a 429 or no answer is a PlatformApiError for the retry window', async () => {
    failNext('5xx');
    await expect(lookup('lisi')).rejects.toMatchObject({ status: 500 });
    failNext('429');
    await expect(lookup('lisi')).rejects.toMatchObject({ status: 429 });
    expect(calls('/cgi-bin/user/get')).toHaveLength(2);
    const timedOut: typeof fetch = async (input, init) =>
      String(input).includes('/user/get')
        ? Promise.reject(new DOMException('timed out', 'TimeoutError'))
        : fetch(input, init);
    await expect(lookup('lisi', DIRECTORY, { fetch: timedOut, now: () => NOW })).rejects.toMatchObject({ status: 0 });
  });

  it('refuses an answer without errcode or with a malformed record', async () => {
    const rewrite =
      (body: string): typeof fetch =>
      async (input, init) =>
        String(input).includes('/user/get') ? new Response(body, { status: 200 }) : fetch(input, init);
    await expect(lookup('lisi', DIRECTORY, { fetch: rewrite('<html>busy</html>') })).rejects.toThrow(
      'WeCom cgi-bin/user/get answered no errcode (unreadable answer)',
    );
    await expect(
      lookup('lisi', DIRECTORY, { fetch: rewrite('{"errcode":0,"position":42,"department":"x"}') }),
    ).rejects.toThrow('WeCom cgi-bin/user/get: unreadable answer');
  });
});
