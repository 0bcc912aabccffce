import { PlatformApiError } from '#core/errors';
import { createSlackPlatform } from '#platforms/slack/index';
import type { ChatPlatform } from '#platforms/types';
import { EMULATED_DIRECTORY } from '../../../../sandbox/platform-emulator/directory';
import { createSlackEmulator } from '../../../../sandbox/platform-emulator/slack';
import type { EmulatorContext } from '../../../../sandbox/platform-emulator/types';
import { startTestServer, type TestServer } from '../../../helpers/http-test-server';
import { config, emulatorContext, NOW } from './helpers';

/** `lookupMember`: Slack's `users.info` over real HTTP against the emulator, its title and its refusals. */
describe('Slack directory lookup (users.info)', () => {
  let server: TestServer;
  let ctx: EmulatorContext;
  let fault: 'none' | '5xx' | 'expired-token' = 'none';
  const platformWith = (overrides: Partial<typeof config> = {}): ChatPlatform =>
    createSlackPlatform(
      { ...config, apiBaseUrl: server.url, ...overrides },
      { fetch, now: () => NOW, sleep: async () => {} },
    );

  beforeEach(async () => {
    const emulator = createSlackEmulator();
    fault = 'none';
    server = await startTestServer(async (req) => emulator.handleApi(req, { ...ctx, fault: () => fault }));
    ctx = emulatorContext({ apiBaseUrl: server.url });
  });
  afterEach(() => server.close());

  it('returns the profile title as the directory holds it, and nothing for a member without one', async () => {
    EMULATED_DIRECTORY.set('slack:U0DIRECTOR', { title: 'Director of Platform' });
    try {
      await expect(platformWith().lookupMember?.('T1', 'U0DIRECTOR')).resolves.toEqual({
        title: 'Director of Platform',
      });
      await expect(platformWith().lookupMember?.('T1', 'U0NOBODY')).resolves.toEqual({});
    } finally {
      EMULATED_DIRECTORY.delete('slack:U0DIRECTOR');
    }
  });

  it.each([
    ['a refused token', 'xoxb-wrong', 'none', /users\.info failed: invalid_auth/],
    ['a server error', config.botToken, '5xx', /users\.info failed: internal_error/],
  ] as const)(
    'throws a PlatformApiError for %s (the caller answers without it)',
    async (_name, botToken, f, message) => {
      fault = f;
      const lookup = platformWith({ botToken }).lookupMember?.('T1', 'U0ALICE');
      await expect(lookup).rejects.toBeInstanceOf(PlatformApiError);
      await expect(lookup).rejects.toThrow(message);
    },
  );
});
