import type { PlatformManifest } from '#platforms/manifest';
import { feishuCredentials } from './credentials';

/** Feishu's deployment facts. No required header: its `url_verification` without an encrypt key carries no signature. */
export const feishuManifest: PlatformManifest<'feishu', typeof feishuCredentials.schema> = {
  name: 'feishu',
  credentials: feishuCredentials,
  webhook: { methods: ['POST'] },
};
