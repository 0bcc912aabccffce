import { SELF_HOSTED_BILLING } from '#core/cost/model-billing';
import type { CircuitBreakerOptions } from './circuit-breaker';
import type { InvokeOptions, ModelClient } from './model-client';
import { createOpenAiClient } from './openai-client';
import { createSageMakerClient } from './sagemaker-client';

/**
 * The fallback model's client: a server speaking the SageMaker runtime contract at `endpointUrl` (the sandbox's
 * second engine; in AWS a Lambda function URL serving a CPU model), with its own circuit breaker, retries and
 * timeouts. Its answers are billed as GB-seconds of the function's `memoryMb` (arm64), never as SageMaker time,
 * and each call gets at most `timeoutMs`, whatever the caller's deadline: the time `withFallback` keeps back for it.
 * A function URL (`https://<id>.lambda-url.<region>.on.aws`, AWS_IAM auth) is signed for service `lambda`; any other
 * server speaking the contract, for `sagemaker`, as the SDK signs by default.
 */
export interface FallbackClientOptions {
  readonly endpointUrl: string;
  /**
   * Set when the fallback is an OpenAI-compatible server (`endpointUrl` is its `/v1` root): the team's own, billed
   * to whatever runs it, so its answers carry no model cost. Otherwise it is the SageMaker contract.
   */
  readonly openAi?: {
    readonly model: string;
    readonly apiKey?: () => Promise<string>;
    readonly onKeyRefused?: () => void;
  };
  /** The name in its invocation paths (`/endpoints/<name>/invocations`). */
  readonly endpointName: string;
  readonly region: string;
  /** Logical model id recorded with its answers; must differ from the primary's. */
  readonly modelId: string;
  /** Memory of the fallback's Lambda function, which prices its answers. */
  readonly memoryMb: number;
  /** Budget of one call (its retries included), and the socket inactivity timeout of one attempt. */
  readonly timeoutMs: number;
  /** Its own circuit breaker's settings. */
  readonly breaker?: CircuitBreakerOptions;
  /** @default Date.now */
  readonly now?: () => number;
  /** Back-off between retries. @default setTimeout-based */
  readonly sleep?: (ms: number) => Promise<void>;
}

export function createFallbackClient(options: FallbackClientOptions): ModelClient {
  const now = options.now ?? Date.now;
  const common = {
    modelId: options.modelId,
    timeouts: { requestTimeoutMs: options.timeoutMs },
    ...(options.breaker ? { breaker: options.breaker } : {}),
    now,
    ...(options.sleep ? { sleep: options.sleep } : {}),
  };
  const { openAi } = options;
  const inner = openAi
    ? createOpenAiClient({
        ...common,
        baseUrl: options.endpointUrl,
        model: openAi.model,
        ...(openAi.apiKey ? { apiKey: openAi.apiKey } : {}),
        ...(openAi.onKeyRefused ? { onKeyRefused: openAi.onKeyRefused } : {}),
        billing: SELF_HOSTED_BILLING,
      })
    : createSageMakerClient({
        ...common,
        endpointName: options.endpointName,
        endpointUrl: options.endpointUrl,
        region: options.region,
        instanceType: 'none', // not a SageMaker endpoint: `billing` prices its answers
        ...(isFunctionUrl(options.endpointUrl) ? { signingService: 'lambda' } : {}),
        billing: { kind: 'lambda', memoryMb: options.memoryMb, architecture: 'arm64' },
      });
  const within = (invoke: InvokeOptions): InvokeOptions => ({
    ...invoke,
    deadline: Math.min(invoke.deadline, now() + options.timeoutMs),
  });

  return {
    id: inner.id,
    billing: inner.billing,
    circuitState: () => inner.circuitState(),
    invoke: (request, invoke) => inner.invoke(request, within(invoke)),
    invokeStream: (request, invoke) => inner.invokeStream(request, within(invoke)),
  };
}

/** Whether `url` is a Lambda function URL, whose IAM auth wants SigV4 for service `lambda`. */
export function isFunctionUrl(url: string): boolean {
  try {
    return /^[a-z0-9]+\.lambda-url\.[a-z0-9-]+\.on\.aws$/.test(new URL(url).hostname);
  } catch {
    return false;
  }
}
