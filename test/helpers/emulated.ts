import type { APIGatewayProxyEvent } from 'aws-lambda';
import { buildProxyEvent } from '../../sandbox/api-gateway';
import { SANDBOX_CREDENTIALS } from '../../sandbox/defaults';
import { noWebhook, patchDelivery } from '../../sandbox/platform-emulator/delivery-log';
import type { EmulatedRequest, EmulatorContext, PlatformEmulator } from '../../sandbox/platform-emulator/types';

/** An emulator context for tests: sandbox credentials, a fixed API base URL, deliveries collected in an array. */
export function testEmulatorContext(apiBaseUrl = 'http://127.0.0.1:9/_emulator', now: () => number = Date.now) {
  const deliveries: Parameters<EmulatorContext['record']>[0][] = [];
  const ctx: EmulatorContext = {
    apiBaseUrl,
    credentials: SANDBOX_CREDENTIALS,
    now,
    clockScale: 1,
    record: (d) => {
      deliveries.push(d);
    },
    update: (platform, messageId, patch) => patchDelivery(deliveries, platform, messageId, patch) !== undefined,
    postWebhook: noWebhook,
  };
  return { ctx, deliveries };
}

/** The API Gateway proxy event the deployed REST API would pass the webhook Lambda for this request. */
export function proxyEventOf(request: EmulatedRequest): APIGatewayProxyEvent {
  const qs = new URLSearchParams(request.query).toString();
  const platform = request.path.split('/').pop() ?? '';
  return buildProxyEvent(
    {
      method: request.method,
      url: qs ? `${request.path}?${qs}` : request.path,
      headers: Object.entries(request.headers),
      body: request.body,
    },
    { resource: '/webhook/{platform}', pathParameters: { platform } },
  );
}

export function withBody(request: EmulatedRequest, body: Buffer): EmulatedRequest {
  return { ...request, body };
}

export function withHeader(request: EmulatedRequest, name: string, value: string | undefined): EmulatedRequest {
  const headers = Object.fromEntries(
    Object.entries(request.headers).filter(([k]) => k.toLowerCase() !== name.toLowerCase()),
  );
  if (value !== undefined) headers[name] = value;
  return { ...request, headers };
}

export type { PlatformEmulator };
