import type { PlatformManifest } from '#platforms/manifest';
import { slackCredentials } from './credentials';

/** Slack's deployment facts: every Events API request, the URL check included, is signed and timestamped. */
export const slackManifest: PlatformManifest<'slack', typeof slackCredentials.schema> = {
  name: 'slack',
  credentials: slackCredentials,
  webhook: { methods: ['POST'], requiredHeaders: ['X-Slack-Signature', 'X-Slack-Request-Timestamp'] },
};
