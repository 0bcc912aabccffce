import type { InvocationUsage } from '#core/cost/cost-model';

/** A typical webhook → SQS → worker → SageMaker invocation; override what a test is about. */
export function usage(overrides: Partial<InvocationUsage> = {}): InvocationUsage {
  return {
    apiGatewayRequests: 1,
    lambda: [
      { fn: 'webhook', memoryMb: 512, billedMs: 45, arch: 'arm64' },
      { fn: 'worker', memoryMb: 1024, billedMs: 2300, arch: 'arm64' },
    ],
    sqsPayloadBytes: 1800,
    sqsRequests: { send: 1, receive: 1, delete: 1 },
    dynamodb: { readRequestUnits: 3.5, writeRequestUnits: 6 },
    logBytes: 12_000,
    sagemaker: { instanceType: 'ml.g4dn.xlarge', busyMs: 1850 },
    tokens: { prompt: 420, completion: 96 },
    ...overrides,
  };
}
