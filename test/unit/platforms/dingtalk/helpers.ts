import { createCipheriv } from 'node:crypto';
import type { AdapterDeps, RawRequest } from '#platforms/types';
import { noWebhook, patchDelivery } from '../../../../sandbox/platform-emulator/delivery-log';
import type {
  EmulatedDelivery,
  EmulatedRequest,
  EmulatorContext,
  EmulatorCredentials,
} from '../../../../sandbox/platform-emulator/types';

export const NOW = 1_700_000_000_000;

export const CREDENTIALS: EmulatorCredentials = {
  feishu: { appId: 'cli_x', appSecret: 's', verificationToken: 'v', encryptKey: 'e', botOpenId: 'ou_bot' },
  slack: { signingSecret: 's', botToken: 'xoxb-x', botUserId: 'UBOT' },
  dingtalk: { appKey: 'dingq1w2e3r4t5y6u7i8', appSecret: 'SECtestsecret', robotCode: 'dingq1w2e3r4t5y6u7i8' },
  wecom: { token: 'QDG6eK', encodingAesKey: 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C', botId: 'aibSandbox01' },
};

export type Fault = 'none' | '429' | '5xx' | 'expired-token';

/** An emulator context whose deliveries are collected and whose faults are taken from a script, then 'none'. */
export function emulatorContext(
  apiBaseUrl: string,
  options: { now?: () => number; faults?: Fault[] } = {},
): EmulatorContext & { deliveries: Omit<EmulatedDelivery, 'at'>[] } {
  const deliveries: Omit<EmulatedDelivery, 'at'>[] = [];
  const faults = [...(options.faults ?? [])];
  return {
    apiBaseUrl,
    credentials: CREDENTIALS,
    now: options.now ?? (() => NOW),
    clockScale: 1,
    record: (delivery) => {
      deliveries.push(delivery);
    },
    update: (platform, messageId, patch) => patchDelivery(deliveries, platform, messageId, patch) !== undefined,
    postWebhook: noWebhook,
    fault: () => faults.shift() ?? 'none',
    deliveries,
  };
}

export function toRaw(request: EmulatedRequest): RawRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value;
  return { method: request.method, headers, query: request.query, body: request.body };
}

/** Adapter deps over real fetch; sleeps are recorded, not slept. */
export function recordingDeps(now: () => number = () => NOW): AdapterDeps & { sleeps: number[] } {
  const sleeps: number[] = [];
  return {
    fetch,
    now,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    sleeps,
  };
}

/** AES-256-CBC without automatic padding, for ciphertexts with deliberately broken structure. */
export function rawEncrypt(key: Buffer, plaintext: Buffer): string {
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(plaintext), cipher.final()]).toString('base64');
}

/** random16 | uint32 BE length | msg | receiveId, without padding. */
export function framedPlaintext(message: string, receiveId: string, declaredLength?: number): Buffer {
  const msg = Buffer.from(message, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(declaredLength ?? msg.length);
  return Buffer.concat([Buffer.alloc(16, 7), length, msg, Buffer.from(receiveId, 'utf8')]);
}

/** PKCS#7 to a multiple of 32 bytes. */
export function pad32(body: Buffer): Buffer {
  const pad = 32 - (body.length % 32);
  return Buffer.concat([body, Buffer.alloc(pad, pad)]);
}
