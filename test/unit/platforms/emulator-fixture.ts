import type { RawRequest } from '#platforms/types';
import { noWebhook, patchDelivery } from '../../../sandbox/platform-emulator/delivery-log';
import type {
  EmulatedDelivery,
  EmulatedRequest,
  EmulatorContext,
  EmulatorCredentials,
} from '../../../sandbox/platform-emulator/types';

/** Shared fixture of the adapter unit tests that drive a platform emulator: a fixed clock and test credentials. */
export const NOW = Date.parse('2024-05-01T08:00:00Z');

export const credentials: EmulatorCredentials = {
  feishu: {
    appId: 'cli_test_app',
    appSecret: 'feishu-app-secret',
    verificationToken: 'feishu-verification-token',
    encryptKey: 'feishu-encrypt-key',
    botOpenId: 'ou_bot_groupgate',
  },
  slack: { signingSecret: 'slack-signing-secret', botToken: 'xoxb-test-token', botUserId: 'U0BOT' },
  dingtalk: { appKey: 'unused', appSecret: 'unused', robotCode: 'unused' },
  wecom: { token: 'unused', encodingAesKey: 'unused', botId: 'unused' },
};

export function emulatorContext(
  overrides: Partial<Pick<EmulatorContext, 'apiBaseUrl' | 'fault' | 'now' | 'clockScale' | 'postWebhook'>> = {},
): EmulatorContext & { deliveries: EmulatedDelivery[] } {
  const deliveries: EmulatedDelivery[] = [];
  return {
    apiBaseUrl: 'http://127.0.0.1:0',
    credentials,
    now: () => NOW,
    clockScale: 1,
    record: (delivery) => deliveries.push({ ...delivery, at: new Date(NOW).toISOString() }),
    update: (platform, messageId, patch) =>
      patchDelivery(deliveries, platform, messageId, patch, new Date(NOW)) !== undefined,
    postWebhook: noWebhook,
    deliveries,
    ...overrides,
  };
}

/** What the webhook hands the adapter: header names lower-cased, as `RawRequest` promises. */
export function toRaw(request: EmulatedRequest): RawRequest {
  return {
    method: request.method,
    query: request.query,
    body: request.body,
    headers: Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v])),
  };
}
