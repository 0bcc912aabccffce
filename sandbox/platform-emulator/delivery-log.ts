import type { PlatformName } from '#platforms/types';
import type {
  DeliveryPatch,
  EmulatedApiResponse,
  EmulatedDelivery,
  EmulatorContext,
  EmulatorCredentials,
} from './types';

type Patchable = Pick<EmulatedDelivery, 'platform' | 'messageId' | 'text' | 'stream' | 'updates' | 'updatedAt'>;

/**
 * Applies a change to the recorded delivery with this `messageId` in place (`EmulatorContext.update`). Returns the
 * changed delivery, or undefined when none has that id.
 */
export function patchDelivery<D extends Patchable>(
  deliveries: D[],
  platform: PlatformName,
  messageId: string,
  patch: DeliveryPatch,
  at: Date = new Date(),
): D | undefined {
  const index = deliveries.findIndex((d) => d.platform === platform && d.messageId === messageId);
  const current = deliveries[index];
  if (!current) return undefined;
  const next: D = {
    ...current,
    ...(patch.text === undefined ? {} : { text: patch.text }),
    ...(patch.stream === undefined ? {} : { stream: patch.stream }),
    updates: (current.updates ?? 0) + 1,
    updatedAt: at.toISOString(),
  };
  deliveries[index] = next;
  return next;
}

/** For contexts with no webhook to call back (unit tests, benchmarks): every post answers 503. */
export async function noWebhook(): Promise<EmulatedApiResponse> {
  return { statusCode: 503, headers: {}, body: '{"error":"no webhook in this context"}' };
}

/**
 * A context that only builds requests (benchmarks, request corpora): nothing is recorded, no webhook is called back,
 * platform time runs at its real pace.
 */
export function requestOnlyContext(
  apiBaseUrl: string,
  credentials: EmulatorCredentials,
  now: () => number,
): EmulatorContext {
  return {
    apiBaseUrl,
    credentials,
    now,
    clockScale: 1,
    record: () => undefined,
    update: () => false,
    postWebhook: noWebhook,
  };
}
