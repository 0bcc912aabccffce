import type { PlatformManifest } from '#platforms/manifest';
import { dingtalkCredentials } from './credentials';

/** DingTalk's deployment facts: every robot callback carries its `timestamp` and `sign` headers. */
export const dingtalkManifest: PlatformManifest<'dingtalk', typeof dingtalkCredentials.schema> = {
  name: 'dingtalk',
  credentials: dingtalkCredentials,
  webhook: { methods: ['POST'], requiredHeaders: ['timestamp', 'sign'] },
};
