import { GroupGateError } from '#core/errors';
import { createFeishuPlatform } from '#platforms/feishu/index';
import { EMULATED_DIRECTORY } from '../../../../sandbox/platform-emulator/directory';
import { createFeishuEmulator } from '../../../../sandbox/platform-emulator/feishu';
import type { EmulatorContext } from '../../../../sandbox/platform-emulator/types';
import { startTestServer, type TestServer } from '../../../helpers/http-test-server';
import { config, emulatorContext, NOW } from './helpers';

/** `lookupMember`: the contact API's user over real HTTP against the emulator, with the app's tenant token. */
describe('Feishu directory lookup (contact/v3/users)', () => {
  let server: TestServer;
  let ctx: EmulatorContext;
  const platformWith = (overrides: Partial<typeof config> = {}) =>
    createFeishuPlatform(
      { ...config, apiBaseUrl: server.url, ...overrides },
      { fetch, now: () => NOW, sleep: async () => {} },
    );

  beforeEach(async () => {
    const emulator = createFeishuEmulator();
    server = await startTestServer(async (req) => emulator.handleApi(req, ctx));
    ctx = emulatorContext({ apiBaseUrl: server.url });
  });
  afterEach(() => server.close());

  it('returns the job title, and nothing for a member without one', async () => {
    EMULATED_DIRECTORY.set('feishu:ou_manager', { title: '研发经理' });
    try {
      await expect(platformWith().lookupMember?.('tenant', 'ou_manager')).resolves.toEqual({ title: '研发经理' });
      await expect(platformWith().lookupMember?.('tenant', 'ou_nobody')).resolves.toEqual({});
    } finally {
      EMULATED_DIRECTORY.delete('feishu:ou_manager');
    }
  });

  it('throws (the caller answers without it) when the app cannot sign in', async () => {
    await expect(platformWith({ appSecret: 'wrong' }).lookupMember?.('tenant', 'ou_x')).rejects.toBeInstanceOf(
      GroupGateError,
    );
  });
});
