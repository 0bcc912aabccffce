import type { InvocationUsage } from './cost-model';

/**
 * How the model that answered a call is paid for; every model client states its own, and every answer carries the
 * answering model's, so the ledger prices the model that did the work (a fallback's answer is never priced as
 * SageMaker time).
 *
 * - `sagemaker`: a provisioned endpoint billed per instance-hour; a call is charged the endpoint time it held.
 * - `free`: nothing to charge per call (a stand-in, or capacity already paid for elsewhere).
 *
 * A per-token backend (an OpenAI-compatible API) joins this union together with the cost-model line that prices it;
 * adding the variant first would make its calls silently cost $0, so it waits for that issue.
 */
export type ModelBilling = { readonly kind: 'sagemaker'; readonly instanceType: string } | { readonly kind: 'free' };

/** What `sagemakerUsageOf` needs of an answer (`ModelAnswer` fits). */
export interface BilledAnswer {
  readonly billing: ModelBilling;
  /** The answering model's call, which is the endpoint time it held. */
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
    case 'free':
      return null;
    default:
      return unreachable(billing);
  }
}

function unreachable(billing: never): never {
  throw new Error(`Unknown model billing ${JSON.stringify(billing)}`);
}
