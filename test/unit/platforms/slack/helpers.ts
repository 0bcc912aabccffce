import type { SlackConfig } from '#platforms/slack/index';
import { credentials } from '../emulator-fixture';

export { credentials, emulatorContext, NOW, toRaw } from '../emulator-fixture';

export const config: SlackConfig = { ...credentials.slack };
