import { PLATFORM_CREDENTIAL_ENV } from '#config/env-names';
import type { EmulatorCredentials } from './platform-emulator/types';

/**
 * Sandbox-only credentials: public, made-up values printed at start-up so anyone can sign requests against the
 * sandbox by hand. Each can be overridden by the env variable of the same meaning (ARCHITECTURE §4.2).
 * Never used in AWS, where credentials live in Secrets Manager.
 */
export const SANDBOX_CREDENTIALS: EmulatorCredentials = {
  feishu: {
    appId: 'cli_sandbox_app',
    appSecret: 'sandbox-feishu-app-secret',
    verificationToken: 'sandbox-feishu-verification-token',
    encryptKey: 'sandbox-feishu-encrypt-key',
    botOpenId: 'ou_sandbox_bot',
  },
  slack: {
    signingSecret: 'sandbox-slack-signing-secret',
    botToken: 'xoxb-sandbox-bot-token',
    botUserId: 'UBOTSANDBOX',
    appToken: 'xapp-1-A0SANDBOX-sandbox-app-token',
  },
  dingtalk: { appKey: 'dingsandboxappkey', appSecret: 'sandbox-dingtalk-app-secret', robotCode: 'dingsandboxappkey' },
  wecom: {
    token: 'sandboxwecomtoken',
    encodingAesKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
    botId: 'aibsandbox',
    botSecret: 'sandbox-wecom-bot-secret',
    directoryCorpId: 'wwsandboxcorp',
    directoryCorpSecret: 'sandbox-wecom-directory-secret',
  },
};

/** Sandbox credentials with env overrides applied. */
export function sandboxCredentials(env: Readonly<Record<string, string | undefined>>): EmulatorCredentials {
  const pick = <P extends keyof EmulatorCredentials>(platform: P): EmulatorCredentials[P] => {
    const names = PLATFORM_CREDENTIAL_ENV[platform] as Record<string, string>;
    const base = SANDBOX_CREDENTIALS[platform] as Record<string, string>;
    return Object.fromEntries(
      Object.entries(base).map(([k, v]) => [k, env[names[k] ?? ''] || v]),
    ) as EmulatorCredentials[P];
  };
  return { feishu: pick('feishu'), slack: pick('slack'), dingtalk: pick('dingtalk'), wecom: pick('wecom') };
}

/** The env variables the platform registry reads, from a credentials object. */
export function credentialEnv(credentials: EmulatorCredentials): Record<string, string> {
  const env: Record<string, string> = {};
  for (const platform of Object.keys(PLATFORM_CREDENTIAL_ENV) as (keyof EmulatorCredentials)[]) {
    const names = PLATFORM_CREDENTIAL_ENV[platform] as Record<string, string>;
    for (const [key, value] of Object.entries(credentials[platform] as Record<string, string>)) {
      const name = names[key];
      if (name) env[name] = value;
    }
  }
  return env;
}
