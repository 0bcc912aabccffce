import type { ModelBilling } from '#core/cost/model-billing';
import { ModelError } from '#core/errors';
import type { ChatRequest, TokenUsage } from '#model/chat-completions';
import type { CircuitState } from '#model/circuit-breaker';
import type { InvokeOptions, ModelClient, ModelResult } from '#model/model-client';

/** What `invoke` resolves to: a result that always carries token usage. */
export type ModelReply = ModelResult & { usage: TokenUsage };

export const TEST_MODEL_ID = 'test-model';
export const TEST_MODEL_BILLING: ModelBilling = { kind: 'sagemaker', instanceType: 'ml.g4dn.xlarge' };

/** A complete answer (`stop`, 28 tokens, one attempt) from the test model, with any field replaced. */
export function modelReply(content: string, overrides: Partial<ModelReply> = {}): ModelReply {
  return {
    content,
    finishReason: 'stop',
    usage: { promptTokens: 20, completionTokens: 8, totalTokens: 28 },
    latencyMs: 40,
    attempts: 1,
    modelId: TEST_MODEL_ID,
    billing: TEST_MODEL_BILLING,
    ...overrides,
  };
}

/** One call the fake received; `stream` tells `invokeStream` from `invoke`. */
export interface ModelCall {
  readonly request: ChatRequest;
  readonly options: InvokeOptions;
  readonly stream: boolean;
}

export type ModelResponder = (request: ChatRequest, options: InvokeOptions) => ModelReply | Promise<ModelReply>;

/** A scripted step: answer with this text, answer with this result, or throw this error. */
export type ModelStep = string | Partial<ModelReply> | Error;

export interface FakeModel extends ModelClient {
  /** Every call, in order (failed ones too). */
  readonly calls: ModelCall[];
  /** Answers every call no step is queued for; replace it to change the model between cases. */
  respond: ModelResponder;
  /** What `circuitState()` reports. */
  circuit: CircuitState;
  /** Queues what the next calls do, one step per call, before `respond` takes over again. */
  next(...steps: ModelStep[]): FakeModel;
}

export interface FakeModelOptions {
  /** @default TEST_MODEL_ID */
  readonly id?: string;
  /** @default TEST_MODEL_BILLING */
  readonly billing?: ModelBilling;
  /** The text every unscripted call answers with, under the fake's id and billing. @default 'ok' */
  readonly answer?: string;
  /** Replaces `answer` when a call's result depends on its request, or should fail. */
  readonly respond?: ModelResponder;
  /** Streamed through `onDelta` before each call answers or fails. */
  readonly deltas?: readonly string[];
  /** @default 'closed' */
  readonly circuit?: CircuitState;
}

/**
 * A `ModelClient` that records its calls and answers from a script: `respond` for every call, or queued `next`
 * steps first. Text steps and the default answer carry the fake's own `id` and `billing`, as a real client's
 * results name the model that answered. No jest dependency, so benches can use it too.
 */
export function fakeModel(options: FakeModelOptions = {}): FakeModel {
  const id = options.id ?? TEST_MODEL_ID;
  const billing = options.billing ?? TEST_MODEL_BILLING;
  const queued: ModelStep[] = [];
  const own = (content: string, overrides: Partial<ModelReply> = {}) =>
    modelReply(content, { modelId: id, billing, ...overrides });
  const call = async (stream: boolean, request: ChatRequest, invokeOptions: InvokeOptions): Promise<ModelReply> => {
    model.calls.push({ request, options: invokeOptions, stream });
    for (const delta of options.deltas ?? []) invokeOptions.onDelta?.(delta);
    const step = queued.shift();
    if (step === undefined) return model.respond(request, invokeOptions);
    if (step instanceof Error) throw step;
    return typeof step === 'string' ? own(step) : own(step.content ?? 'ok', step);
  };
  const model: FakeModel = {
    id,
    billing,
    calls: [],
    respond: options.respond ?? (() => own(options.answer ?? 'ok')),
    circuit: options.circuit ?? 'closed',
    invoke: (request, invokeOptions) => call(false, request, invokeOptions),
    invokeStream: (request, invokeOptions) => call(true, request, invokeOptions),
    circuitState: () => model.circuit,
    next(...steps) {
      queued.push(...steps);
      return model;
    },
  };
  return model;
}

/** The `ModelError` a call rejects with; fails the test if it resolves or rejects with anything else. */
export async function modelError(p: Promise<unknown>): Promise<ModelError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ModelError)) throw new Error(`expected a ModelError, got ${String(err)}`);
  return err;
}
