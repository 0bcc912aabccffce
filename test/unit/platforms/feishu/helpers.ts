import type { FeishuConfig } from '#platforms/feishu/index';
import { credentials } from '../emulator-fixture';

export { credentials, emulatorContext, NOW, toRaw } from '../emulator-fixture';

export const config: FeishuConfig = { ...credentials.feishu };
