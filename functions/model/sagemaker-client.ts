import {
  InvokeEndpointCommand,
  InvokeEndpointWithResponseStreamCommand,
  type ResponseStream,
  SageMakerRuntimeClient,
} from '@aws-sdk/client-sagemaker-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AwsCredentialIdentity, HttpAuthSchemeParameters, HttpAuthSchemeProvider } from '@smithy/types';
import type { ModelBilling } from '#core/cost/model-billing';
import { ModelError } from '#core/errors';
import { createCallRunner, linkAbort, type ModelCallOptions } from './call-runner';
import { type ChatRequest, parseChatCompletion, toRequestBody } from './chat-completions';
import { classifyModelError } from './classify-error';
import type { ModelClient } from './model-client';
import { createStreamAccumulator } from './stream-parser';

/**
 * The `ModelClient` of a SageMaker endpoint (or a server speaking its runtime API at `endpointUrl`): bounded retries
 * with full jitter inside the caller's deadline, a circuit breaker, and every failure classified as a `ModelError`.
 * Its answers are billed as endpoint time on `instanceType`, unless `billing` says otherwise (a server speaking the
 * contract that is not a SageMaker endpoint, such as the fallback function).
 */
export interface SageMakerClientOptions extends ModelCallOptions {
  /** SageMaker endpoint name (`MODEL_ENDPOINT_NAME`). */
  endpointName: string;
  /** The endpoint's inference component, named in every call (`MODEL_INFERENCE_COMPONENT`). @default none */
  inferenceComponentName?: string;
  /** Override of the runtime URL, e.g. the sandbox's local model server (`MODEL_ENDPOINT_URL`). */
  endpointUrl?: string;
  region: string;
  /** Logical model id recorded with every result (cost ledger, cache keys); not sent to the endpoint. */
  modelId: string;
  /** The endpoint's instance type, which prices its answers (`MODEL_INSTANCE_TYPE`). */
  instanceType: string;
  /** How its answers are paid for, when not as SageMaker time on `instanceType`. */
  billing?: ModelBilling;
  /** Only for non-AWS targets; in Lambda the default provider chain is used. */
  credentials?: AwsCredentialIdentity;
  /**
   * SigV4 signing name when the server is not a SageMaker endpoint: `lambda` for a Lambda function URL with AWS_IAM
   * auth (the fallback function). @default 'sagemaker'
   */
  signingService?: string;
  timeouts?: {
    /** Socket inactivity timeout of one HTTP attempt. @default 70_000 */
    requestTimeoutMs?: number;
    /** @default 3_000 */
    connectionTimeoutMs?: number;
  };
}

type Attempt<T> = (signal: AbortSignal, attemptStart: number) => Promise<T>;

const JSON_TYPE = 'application/json';

export function createSageMakerClient(options: SageMakerClientOptions): ModelClient {
  const runner = createCallRunner({ ...options, circuitOpenMessage: 'Model endpoint circuit is open; failing fast' });
  const { now, breaker } = runner;
  const sdk = new SageMakerRuntimeClient({
    region: options.region,
    // Retries are ours (bounded by the caller's deadline, counted, jittered), so the SDK must not add its own.
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({
      requestTimeout: options.timeouts?.requestTimeoutMs ?? 70_000,
      connectionTimeout: options.timeouts?.connectionTimeoutMs ?? 3_000,
    }),
    ...(options.endpointUrl ? { endpoint: options.endpointUrl } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    ...(options.signingService ? { httpAuthSchemeProvider: sigV4For(options.signingService) } : {}),
  });

  async function withinDeadline<T>(
    signalBudgetMs: number,
    attempt: Attempt<T>,
    attemptStart: number,
    external: AbortSignal | undefined,
  ): Promise<T> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), signalBudgetMs);
    const unlink = linkAbort(controller, external);
    try {
      return await attempt(controller.signal, attemptStart);
    } catch (err) {
      // Mid-stream aborts surface as assorted stream errors; our own deadline firing is what they mean.
      if (controller.signal.aborted && !(err instanceof ModelError)) {
        throw new ModelError('Model call exceeded its deadline', 'timeout', { cause: err });
      }
      throw err;
    } finally {
      clearTimeout(timer);
      unlink();
    }
  }

  const run = <T>(deadline: number, attempt: Attempt<T>, mayRetry: () => boolean, signal?: AbortSignal) =>
    runner.run(
      deadline,
      (budget, started) => withinDeadline(budget, attempt, started, signal),
      () => mayRetry() && !signal?.aborted,
      classifyModelError,
    );

  const body = (request: ChatRequest, stream: boolean): Uint8Array =>
    new TextEncoder().encode(JSON.stringify(toRequestBody(request, stream)));

  const component = options.inferenceComponentName ? { InferenceComponentName: options.inferenceComponentName } : {};
  const billing: ModelBilling = options.billing ?? { kind: 'sagemaker', instanceType: options.instanceType };
  const answeredBy = { modelId: options.modelId, billing };

  return {
    id: options.modelId,
    billing,
    circuitState: () => breaker.state(),

    async invoke(request, { deadline }) {
      const callStart = now();
      const { value, attempts } = await run(
        deadline,
        async (abortSignal) => {
          const out = await sdk.send(
            new InvokeEndpointCommand({
              EndpointName: options.endpointName,
              ...component,
              ContentType: JSON_TYPE,
              Accept: JSON_TYPE,
              Body: body(request, false),
            }),
            { abortSignal },
          );
          if (!out.Body) throw new ModelError('Model response has no body', 'bad_response');
          return parseChatCompletion(out.Body);
        },
        () => true,
      );
      const latencyMs = now() - callStart;
      // A whole-answer call delivers its first token with its last, so the wait for the first words is its latency.
      return { ...value, latencyMs, timeToFirstTokenMs: latencyMs, attempts, ...answeredBy };
    },

    async invokeStream(request, { deadline, onDelta, signal }) {
      const callStart = now();
      let delivered = false;
      const { value, attempts } = await run(
        deadline,
        async (abortSignal, attemptStart) => {
          const out = await sdk.send(
            new InvokeEndpointWithResponseStreamCommand({
              EndpointName: options.endpointName,
              ...component,
              ContentType: JSON_TYPE,
              Body: body(request, true),
            }),
            { abortSignal },
          );
          if (!out.Body) throw new ModelError('Model stream has no body', 'bad_response');
          const acc = createStreamAccumulator({ startedAt: attemptStart, now });
          for await (const event of out.Body) {
            for (const delta of acc.push(payloadOf(event))) {
              delivered = true;
              onDelta?.(delta);
            }
          }
          return acc.finish();
        },
        () => !delivered,
        signal,
      );
      return { ...value, latencyMs: now() - callStart, attempts, ...answeredBy };
    },
  };
}

/**
 * The client's auth scheme, as the SDK's default builds it (`aws.auth#sigv4` with the client's config and context),
 * signed for `service`. The SDK's signer reads the name from `signingName` (`name` alone, the key of the default
 * option, is ignored: the test in test/unit/model/fallback-signing.test.ts fails without `signingName`).
 */
function sigV4For(service: string): HttpAuthSchemeProvider<HttpAuthSchemeParameters & { region?: string }> {
  return ({ region }) => [
    {
      schemeId: 'aws.auth#sigv4',
      signingProperties: { name: service, signingName: service, region },
      propertiesExtractor: (config, context) => ({ signingProperties: { config, context } }),
    },
  ];
}

function payloadOf(event: ResponseStream): Uint8Array {
  if (event.PayloadPart) return event.PayloadPart.Bytes ?? new Uint8Array();
  if (event.ModelStreamError) {
    throw new ModelError(`Model stream error: ${event.ModelStreamError.Message ?? 'unknown'}`, 'server_error');
  }
  if (event.InternalStreamFailure) {
    throw new ModelError(`Model stream failure: ${event.InternalStreamFailure.Message ?? 'unknown'}`, 'server_error');
  }
  return new Uint8Array();
}
