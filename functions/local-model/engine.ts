import type { ChatMessage } from '#model/chat-completions';

/**
 * What the model routes (`model-routes.ts`: the sandbox's model server and the fallback function) need from a model:
 * generate one chat completion, streaming text as it comes, and count tokens with the model's own tokenizer. Two
 * implementations: the real node-llama-cpp engine (`llama-engine.ts`) and the sandbox's `instant` echo stand-in
 * (`sandbox/model/instant-engine.ts`).
 */
export interface GenerateParams {
  messages: readonly ChatMessage[];
  maxTokens: number;
  temperature: number;
  signal: AbortSignal;
  onText?: (text: string) => void;
}

export interface GenerateResult {
  content: string;
  /** `length` when `maxTokens` cut the answer short. */
  finishReason: 'stop' | 'length';
  promptTokens: number;
  completionTokens: number;
}

export interface ModelEngine {
  /** Shown in logs and responses' `model` field. */
  readonly name: string;
  /** How many generations may run at once; the server queues the rest. */
  readonly concurrency: number;
  generate(params: GenerateParams): Promise<GenerateResult>;
  close(): Promise<void>;
}

/**
 * The context size of a local engine unless told otherwise, tokens. The sandbox tells the pipeline the same window
 * (`MODEL_CONTEXT_WINDOW`), so the prompts it builds (history, skills' sources) fit the model that answers them.
 */
export const DEFAULT_CONTEXT_SIZE = 2048;
