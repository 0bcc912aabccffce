import type { InvocationUsage, LambdaInvocation } from './cost-model';

/**
 * How the model that answered a call is paid for; every model client states its own, and every answer carries the
 * answering model's, so the ledger prices the model that did the work (a fallback's answer is never priced as
 * SageMaker time).
 *
 * - `sagemaker`: a provisioned endpoint billed per instance-hour; a call is charged the endpoint time it held.
 * - `lambda`: a model served by a Lambda function (the CPU fallback behind a function URL); a call is charged one
 *   request and the GB-seconds of `memoryMb` for its duration (`lambdaUsageOf`, priced by the cost model's Lambda line).
 * - `free`: nothing to charge per call: a stand-in, or capacity already paid for elsewhere, such as the team's own
 *   OpenAI-compatible server (`MODEL_API=openai`: vLLM, TGI, Ollama), whose instances are billed to what runs them.
 *
 * A per-token hosted API (a vendor charging per token) would join this union together with the cost-model line that
 * prices it; adding the variant first would make its calls silently cost $0.
 */
export type ModelBilling =
  | { readonly kind: 'sagemaker'; readonly instanceType: string }
  | { readonly kind: 'lambda'; readonly memoryMb: number; readonly architecture: LambdaInvocation['arch'] }
  | { readonly kind: 'free' };

/** A model server the team runs (an OpenAI-compatible primary or fallback): no model cost in the ledger. */
export const SELF_HOSTED_BILLING: ModelBilling = { kind: 'free' };

/** What `sagemakerUsageOf` and `lambdaUsageOf` need of an answer (`ModelAnswer` fits). */
export interface BilledAnswer {
  readonly billing: ModelBilling;
  /** The answering model's call, which is the endpoint (or function) time it held. */
  readonly latencyMs: number;
}

/**
 * The ledger's `usage.sagemaker` for one invocation: the answering model's instance type and the time its call took,
 * or null when no model answered (cache hit, command, blocked, model error) or the answering model is not billed
 * by SageMaker time.
 */
export function sagemakerUsageOf(answer: BilledAnswer | undefined): InvocationUsage['sagemaker'] {
  if (answer === undefined) return null;
  const { billing } = answer;
  switch (billing.kind) {
    case 'sagemaker':
      return { instanceType: billing.instanceType, busyMs: answer.latencyMs };
    case 'lambda':
    case 'free':
      return null;
    default:
      return unreachable(billing);
  }
}

/**
 * The ledger's `usage.lambda` entries of the answering model's own function (`fn: 'model'`): one invocation of
 * `memoryMb` for the call's latency in whole milliseconds (Lambda bills duration in 1 ms steps, at least 1). The
 * latency is the caller's round trip, so it bounds the function's billed duration from above (network time, and the
 * back-off between retries, are counted too; each retry's request charge is not). Empty when no model answered or the
 * answering model is not a Lambda function.
 */
export function lambdaUsageOf(answer: BilledAnswer | undefined): LambdaInvocation[] {
  if (answer === undefined) return [];
  const { billing } = answer;
  switch (billing.kind) {
    case 'lambda':
      return [
        {
          fn: 'model',
          memoryMb: billing.memoryMb,
          billedMs: Math.max(1, Math.ceil(answer.latencyMs)),
          arch: billing.architecture,
        },
      ];
    case 'sagemaker':
    case 'free':
      return [];
    default:
      return unreachable(billing);
  }
}

function unreachable(billing: never): never {
  throw new Error(`Unknown model billing ${JSON.stringify(billing)}`);
}
