import type { FeishuConfig } from '../../../../functions/platforms/feishu';
import { credentials } from '../emulator-fixture';

export { credentials, emulatorContext, NOW, toRaw } from '../emulator-fixture';

export const config: FeishuConfig = { ...credentials.feishu };
