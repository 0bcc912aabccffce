import type { SlackConfig } from '../../../../functions/platforms/slack';
import { credentials } from '../emulator-fixture';

export { credentials, emulatorContext, NOW, toRaw } from '../emulator-fixture';

export const config: SlackConfig = { ...credentials.slack };
